/** The arm64 48-bit layout against memory.rst and memory.h (Linux v6.12). */
import { describe, expect, it } from "vitest";
import { formatLayout } from "../../core/layout.ts";
import {
  directPa,
  directVa,
  FIXADDR_TOT_START,
  KIMAGE_VADDR,
  ARM64_LAYOUT as L,
  PCI_IO_START,
  paSymbol,
} from "./layout.ts";

const TB = 1n << 40n;
const region = (name: string) => {
  const r = L.regions.find((x) => x.name === name);
  if (!r) throw new Error(name);
  return r;
};

describe("ARM64_LAYOUT", () => {
  it("matches memory.rst where memory.rst and memory.h agree", () => {
    // 0000000000000000 0000ffffffffffff 256TB user
    expect([region("user").start, region("user").end - 1n]).toEqual([0n, 0x0000_ffff_ffff_ffffn]);
    expect(region("user").end).toBe(256n * TB);
    // ffff000000000000 ffff7fffffffffff 128TB kernel logical memory map
    expect([region("linear map").start, region("linear map").end - 1n]).toEqual([
      0xffff_0000_0000_0000n,
      0xffff_7fff_ffff_ffffn,
    ]);
    // ffff800000000000 ffff80007fffffff 2GB modules
    expect([L.modulesStart, L.modulesEnd - 1n]).toEqual([0xffff_8000_0000_0000n, 0xffff_8000_7fff_ffffn]);
    // ffff800080000000 ... vmalloc
    expect(L.vmallocStart).toBe(0xffff_8000_8000_0000n);
  });
  it("follows memory.h for what moved in v6.9: vmemmap at the top, vmalloc up to 8M below it", () => {
    expect(L.vmemmap).toBe(0xffff_fdff_c000_0000n); // VMEMMAP_END (-1G) - 2TB
    expect(region("vmemmap").end).toBe(0xffff_ffff_c000_0000n);
    expect(region("vmemmap").end - region("vmemmap").start).toBe(2n * TB);
    expect(L.vmallocEnd).toBe(0xffff_fdff_bf80_0000n);
    expect(PCI_IO_START).toBe(0xffff_ffff_c080_0000n);
    expect(region("PCI I/O").end).toBe(0xffff_ffff_c180_0000n);
    expect(L.fixaddrTop).toBe(0xffff_ffff_ff80_0000n);
    expect(FIXADDR_TOT_START).toBe(0xffff_ffff_ff80_0000n - 978n * 4096n);
  });
  it("puts the kernel image at KIMAGE_VADDR = MODULES_END, the start of vmalloc", () => {
    expect(KIMAGE_VADDR).toBe(0xffff_8000_8000_0000n);
    expect(L.kernelMap).toBe(L.vmallocStart);
  });
  it("its regions are ordered and disjoint, all above the user half", () => {
    const rs = L.regions;
    for (let i = 1; i < rs.length; i++) expect(rs[i].start >= rs[i - 1].end).toBe(true);
    expect(formatLayout(L)[2]).toBe(
      "  0x0000000000000000 0x0000ffffffffffff    256 TB  user: user-space virtual memory, TTBR0 (the mm's own PGD)",
    );
  });
});

describe("__va / __pa over the linear map", () => {
  it("maps pa to PAGE_OFFSET + (pa - PHYS_OFFSET) and back", () => {
    expect(directVa(L, 0x1234_5000)).toBe(0xffff_0000_1234_5000n);
    expect(directPa(L, 0xffff_0000_1234_5000n, 1 << 30)).toBe(0x1234_5000);
    expect(directVa(L, 0x4000_0000, 0x4000_0000)).toBe(0xffff_0000_0000_0000n);
    expect(directPa(L, 0xffff_0000_0000_1000n, 1 << 30, 0x4000_0000)).toBe(0x4000_1000);
  });
  it("refuses addresses outside the linear map or beyond RAM", () => {
    expect(directPa(L, 0xffff_0000_4000_0000n, 1 << 30)).toBe(-1);
    expect(directPa(L, 0xfffe_ffff_ffff_f000n, 1 << 30)).toBe(-1);
    expect(directPa(L, KIMAGE_VADDR, 2 ** 50)).toBe(-1);
  });
  it("__pa_symbol goes through kimage_voffset", () => {
    expect(paSymbol(KIMAGE_VADDR + 0x1000n, 0x4020_0000)).toBe(0x4020_1000);
  });
});
