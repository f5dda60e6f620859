/**
 * Where a mapping lands (Linux 6.12 mm/mmap.c __get_unmapped_area, mm/huge_memory.c
 * __thp_get_unmapped_area): a private anonymous one without a hint whose length is a multiple
 * of PMD_SIZE is placed on a PMD boundary, 64-bit only; with a hint the ordinary search is used,
 * the hint taken when it is free. An ext4 file's mapping (thp_get_unmapped_area is ext4's
 * f_op->get_unmapped_area) is placed so that address and file offset agree modulo PMD_SIZE.
 */
import { describe, expect, it } from "vitest";
import type { FileObject } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";

const MB2 = 2n << 20n;

function proc(arch: "x86_64" | "i386-pae" = "x86_64") {
  const k = new Kernel({ arch, ramBytes: 256 << 20, overcommit: "always" });
  const t = k.spawn("A")!;
  // a 4K mapping first: the next top-down area ends 4K below a PMD boundary
  expect(k.mmap(t, mmapArgs(4096)) > 0n).toBe(true);
  return { k, t };
}

describe("__get_unmapped_area's THP alignment of anonymous mappings", () => {
  it("no hint, 4 MiB: PMD-aligned", () => {
    const { k, t } = proc();
    const a = k.mmap(t, mmapArgs(4 << 20));
    expect(a > 0n && a % MB2).toBe(0n);
  });

  it("an unusable hint: the ordinary search, not aligned", () => {
    const { k, t } = proc();
    const hint = 0x300000001000;
    expect(k.mmap(t, { ...mmapArgs(4 << 20), addr: hint })).toBe(BigInt(hint));
    // the hint's range is taken now: the top-down search from mmap_base, below the 4K mapping
    const b = k.mmap(t, { ...mmapArgs(4 << 20), addr: hint });
    expect(b > 0n).toBe(true);
    expect(b).not.toBe(BigInt(hint));
    expect(b % MB2).not.toBe(0n);
    // without the hint the same request is aligned
    expect(k.mmap(t, mmapArgs(4 << 20)) % MB2).toBe(0n);
  });

  it("a free hint is taken as is", () => {
    const { k, t } = proc();
    const hint = 0x300000001000;
    expect(k.mmap(t, { ...mmapArgs(4 << 20), addr: hint })).toBe(BigInt(hint));
  });

  it("32-bit (i386 PAE): no alignment (__thp_get_unmapped_area returns 0 without CONFIG_64BIT)", () => {
    const { k, t } = proc("i386-pae");
    const a = k.mmap(t, mmapArgs(4 << 20));
    expect(a > 0n).toBe(true);
    expect(a % MB2).not.toBe(0n);
  });
});

describe("thp_get_unmapped_area of an ext4 file (f_op->get_unmapped_area), by the file offset", () => {
  const MB = 1 << 20;
  let files = 0;
  const file = (k: Kernel, fs: "disk" | "tmpfs" = "disk") =>
    k.createFile(`f${files++}`, 16 * MB, fs) as FileObject;

  it("the address agrees with the file offset modulo 2 MiB, shared or private, with a whole aligned 2 MiB of the file", () => {
    for (const shared of [false, true]) {
      for (const offset of [0, 4096, MB, 2 * MB + 12 * 4096]) {
        const { k, t } = proc();
        const f = file(k);
        const a = k.mmap(t, { ...mmapArgs(4 * MB, { shared }), file: f, offset });
        expect(a > 0n, `shared ${shared} offset ${offset}`).toBe(true);
        expect((a - BigInt(offset)) % MB2, `shared ${shared} offset ${offset}`).toBe(0n);
      }
    }
  });

  it("not a multiple of 2 MiB long: aligned all the same when the range holds an aligned 2 MiB of the file", () => {
    const { k, t } = proc();
    const f = file(k);
    const a = k.mmap(t, { ...mmapArgs(3 * MB + 4096), file: f, offset: 4096 });
    // file bytes [4K, 3M + 8K): the first aligned 2 MiB of the file, [2M, 4M), is not all inside
    expect(a % MB2).not.toBe(0n);
    const b = k.mmap(t, { ...mmapArgs(5 * MB), file: f, offset: 4096 });
    expect((b - 4096n) % MB2).toBe(0n);
  });

  it("a range without a whole aligned 2 MiB of the file: the ordinary search", () => {
    const { k, t } = proc();
    const f = file(k);
    // file bytes [1M, 3M): no 2 MiB-aligned 2 MiB inside
    const a = k.mmap(t, { ...mmapArgs(2 * MB), file: f, offset: MB });
    expect(a > 0n).toBe(true);
    expect((a - BigInt(MB)) % MB2).not.toBe(0n);
  });

  it("tmpfs (huge=never) aligns nothing, a free hint is taken, and 32-bit aligns nothing", () => {
    const { k, t } = proc();
    const a = k.mmap(t, { ...mmapArgs(4 * MB), file: file(k, "tmpfs"), offset: 0 });
    expect(a % MB2).not.toBe(0n);
    const hint = 0x300000001000;
    expect(k.mmap(t, { ...mmapArgs(4 * MB), addr: hint, file: file(k), offset: 0 })).toBe(BigInt(hint));
    const p = proc("i386-pae");
    const c = p.k.mmap(p.t, { ...mmapArgs(4 * MB), file: file(p.k), offset: 0 });
    expect(c > 0n).toBe(true);
    expect(c % MB2).not.toBe(0n);
  });
});
