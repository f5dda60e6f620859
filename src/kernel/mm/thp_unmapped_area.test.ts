/**
 * Where an anonymous mapping lands (Linux 6.12 mm/mmap.c __get_unmapped_area): a private one
 * without a hint whose length is a multiple of PMD_SIZE is placed on a PMD boundary
 * (thp_get_unmapped_area, 64-bit only); with a hint the ordinary search is used, the hint
 * taken when it is free.
 */
import { describe, expect, it } from "vitest";
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
