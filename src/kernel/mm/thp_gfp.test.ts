/**
 * A THP fault's allocation flags (vma_thp_gfp_mask with the default defrag=madvise): a VMA that did
 * not ask for huge pages gets GFP_TRANSHUGE_LIGHT (no reclaim, no kswapd wake-up), one that did
 * (MADV_HUGEPAGE) adds __GFP_DIRECT_RECLAIM only; both are movable allocations. Shown on a machine
 * whose free memory is all single pages: no order-9 block anywhere.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { MAX_ORDER } from "./buddy.ts";
import { PageKind } from "./PageDesc.ts";
import { mmapArgs } from "./userMm.ts";

const MiB = 2 ** 20;

/** Takes every page the allocator gives without reclaim, then frees every other one. */
function fragment(k: Kernel): void {
  const held: number[] = [];
  for (const gfp of [0, 1 /* __GFP_DMA */])
    for (;;) {
      const p = k.buddy.alloc(0, gfp, PageKind.KernelPages);
      if (p < 0) break;
      held.push(p);
    }
  held.sort((a, b) => a - b);
  for (let i = 0; i < held.length; i += 2) expect(k.buddy.free(held[i], 0)).toBeNull();
  k.buddy.pcp!.drainAllPages();
  for (const z of k.buddy.zones) for (let o = 9; o <= MAX_ORDER; o++) expect(z.nrFree[o]).toBe(0);
}

describe("a THP fault's gfp (vma_thp_gfp_mask, defrag=madvise)", () => {
  it("neither reclaims nor wakes kswapd for a VMA without MADV_HUGEPAGE; falls back to a 4K page", () => {
    const k = new Kernel({ ramBytes: 128 * MiB, cpus: 1, thp: "always", overcommit: "always" });
    const t = k.spawn("a")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(4 * MiB));
    fragment(k);
    const wakeups = k.buddy.kswapdWakeups;
    const stalls = k.buddy.allocStalls;
    const fallback = k.userMm.thpStats.thp_fault_fallback;
    expect(k.userAccess(0, t, a, Access.Write, 1).ok).toBe(true);
    expect(k.userMm.thpStats.thp_fault_fallback).toBe(fallback + 1);
    expect(k.buddy.kswapdWakeups).toBe(wakeups);
    expect(k.buddy.allocStalls).toBe(stalls);
  });

  it("reclaims directly, without waking kswapd, for a MADV_HUGEPAGE VMA", () => {
    const k = new Kernel({
      ramBytes: 128 * MiB,
      cpus: 1,
      thp: "madvise",
      swapBytes: 64 * MiB,
      overcommit: "always",
    });
    const t = k.spawn("a")!;
    k.switchTo(0, t);
    // anonymous pages that reclaim can swap out
    const b = k.mmap(t, mmapArgs(8 * MiB));
    for (let off = 0; off < 8 * MiB; off += 4096) k.userAccess(0, t, b + BigInt(off), Access.Write, 2);
    const a = k.mmap(t, mmapArgs(4 * MiB));
    expect(k.madvise(t, a, BigInt(4 * MiB), "hugepage")).toBe(0n);
    fragment(k);
    const wakeups = k.buddy.kswapdWakeups;
    const stalls = k.buddy.allocStalls;
    expect(k.userAccess(0, t, a, Access.Write, 1).ok).toBe(true);
    expect(k.buddy.kswapdWakeups).toBe(wakeups);
    expect(k.buddy.allocStalls).toBeGreaterThan(stalls);
  });
});
