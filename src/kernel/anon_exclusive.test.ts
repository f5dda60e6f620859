/**
 * PageAnonExclusive and the swap PTE's exclusive marker, as Linux 6.12
 * keeps them (mm/memory.c do_swap_page, do_wp_page / wp_can_reuse_anon_folio,
 * copy_present_pte, copy_nonpresent_pte; mm/rmap.c try_to_unmap_one;
 * mm/mprotect.c can_change_pte_writable), seen through fault counts and PTEs.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { Pte } from "../hw/arch/x86_64/pte.ts";
import { isSwapPte } from "./arch/x86/pgtable.ts";
import type { Task } from "./core/task.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { PageFlag } from "./mm/PageDesc.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";

const PAGE = 4096n;
const N = 8;
const RO = { r: true, w: false, x: false };
const RW = { r: true, w: true, x: false };

function boot() {
  return new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 1 << 20, pageCluster: 0 });
}

function touch(k: Kernel, t: Task, va: bigint, write = false, value = 0): number {
  k.switchTo(0, t);
  const r = k.userAccess(0, t, va, write ? Access.Write : Access.Read, value);
  expect(r.ok).toBe(true);
  return r.ok ? r.value : -1;
}

/** Faults (minor + major) taken by `fn`. */
function faults(t: Task, fn: () => void): number {
  const f0 = t.minFlt + t.majFlt;
  fn();
  return t.minFlt + t.majFlt - f0;
}

function setup(k: Kernel, pages = N): { t: Task; a: bigint } {
  const t = k.spawn("P")!;
  k.switchTo(0, t);
  const a = k.mmap(t, mmapArgs(pages * 4096));
  for (let i = 0; i < pages; i++) touch(k, t, a + BigInt(i) * PAGE, true, 0x10 + i);
  return { t, a };
}

const writeAll = (k: Kernel, t: Task, a: bigint, pages = N) => {
  for (let i = 0; i < pages; i++) touch(k, t, a + BigInt(i) * PAGE, true, 0x60 + i);
};
const pte = (k: Kernel, t: Task, va: bigint) => k.userMm.readPte(t.mm!, Number(va / PAGE))!;
const exclusive = (k: Kernel, t: Task, va: bigint) => {
  const e = pte(k, t, va);
  return (k.pages.flags[k.arch.pgtable.pfn(e.hi, e.lo, 0)] & PageFlag.AnonExclusive) !== 0;
};

describe("PageAnonExclusive", () => {
  it("fork clears it: after the child exits, mprotect RO -> RW leaves the parent's pages read-only, one reuse fault each", () => {
    const k = boot();
    const { t, a } = setup(k);
    expect(exclusive(k, t, a)).toBe(true);
    k.switchTo(0, t);
    const c = k.fork(t, "C")!;
    expect(exclusive(k, t, a)).toBe(false);
    k.exit(c, "exit");
    // the page is the parent's alone again, but not marked exclusive: can_change_pte_writable refuses
    k.switchTo(0, t);
    expect(k.mprotect(t, a, BigInt(N) * PAGE, RO)).toBe(0n);
    expect(k.mprotect(t, a, BigInt(N) * PAGE, RW)).toBe(0n);
    expect(pte(k, t, a).lo & Pte.RW).toBe(0);
    // each write fault reuses the page (wp_can_reuse_anon_folio) and marks it exclusive
    expect(faults(t, () => writeAll(k, t, a))).toBe(N);
    expect(exclusive(k, t, a)).toBe(true);
    // now mprotect keeps them writable: no more faults
    expect(k.mprotect(t, a, BigInt(N) * PAGE, RO)).toBe(0n);
    expect(k.mprotect(t, a, BigInt(N) * PAGE, RW)).toBe(0n);
    expect(faults(t, () => writeAll(k, t, a))).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("mprotect RO -> RW makes an exclusive clean page writable (MADV_FREE cleaned it): no fault on the write", () => {
    const k = boot();
    const { t, a } = setup(k);
    k.switchTo(0, t);
    expect(k.madvise(t, a, BigInt(N) * PAGE, "free")).toBe(0n);
    expect(pte(k, t, a).lo & Pte.D).toBe(0);
    expect(k.mprotect(t, a, BigInt(N) * PAGE, RO)).toBe(0n);
    expect(k.mprotect(t, a, BigInt(N) * PAGE, RW)).toBe(0n);
    const e = pte(k, t, a);
    expect([e.lo & Pte.RW, e.lo & Pte.D]).toEqual([Pte.RW, 0]);
    expect(faults(t, () => writeAll(k, t, a))).toBe(0);
    expect(touch(k, t, a + PAGE)).toBe(0x61);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("the swap PTE's exclusive marker", () => {
  it("try_to_unmap moves exclusivity into the swap PTE; a read swap-in maps the page writable and clean, and the write takes no fault", () => {
    const k = boot();
    const { t, a } = setup(k);
    k.switchTo(0, t);
    expect(k.madvise(t, a, BigInt(N) * PAGE, "pageout")).toBe(0n);
    const s = pte(k, t, a);
    expect(isSwapPte(s.hi, s.lo) && k.arch.pgtable.swapExclusive(s.hi, s.lo)).toBe(true);
    expect(faults(t, () => expect(touch(k, t, a)).toBe(0x10))).toBe(1);
    expect(t.majFlt).toBe(1);
    const e = pte(k, t, a);
    expect([e.lo & Pte.RW, e.lo & Pte.D]).toEqual([Pte.RW, 0]);
    expect(exclusive(k, t, a)).toBe(true);
    expect(faults(t, () => touch(k, t, a, true, 0x99))).toBe(0);
    expect(touch(k, t, a)).toBe(0x99);
    // mprotect RO -> RW keeps it writable (PageAnonExclusive, clean or not)
    k.switchTo(0, t);
    k.mprotect(t, a + PAGE, PAGE, RO);
    expect(faults(t, () => touch(k, t, a + PAGE))).toBe(1); // a read swap-in under PROT_READ: read-only, exclusive
    expect(pte(k, t, a + PAGE).lo & Pte.RW).toBe(0);
    k.mprotect(t, a + PAGE, PAGE, RW);
    expect(pte(k, t, a + PAGE).lo & Pte.RW).toBe(Pte.RW);
    expect(faults(t, () => touch(k, t, a + PAGE, true, 1))).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("fork clears the marker in the parent's swap PTE too: a forked pair's swap-ins map read-only", () => {
    const k = boot();
    const { t, a } = setup(k, 2);
    k.switchTo(0, t);
    k.madvise(t, a, 2n * PAGE, "pageout");
    const c = k.fork(t, "C")!;
    for (const task of [t, c]) {
      const s = pte(k, task, a);
      expect(isSwapPte(s.hi, s.lo) && !k.arch.pgtable.swapExclusive(s.hi, s.lo)).toBe(true);
    }
    // the parent's read: read-only (the child's swap PTE still names the slot)
    touch(k, t, a);
    expect(pte(k, t, a).lo & Pte.RW).toBe(0);
    // the parent writes: a copy; the old page stays in the swap cache for the child's swap PTE
    expect(faults(t, () => touch(k, t, a, true, 0x77))).toBe(1);
    // so the child's read is a minor fault, and maps read-only (not exclusive: the swap cache holds it)
    expect(faults(c, () => expect(touch(k, c, a)).toBe(0x10))).toBe(1);
    expect(c.majFlt).toBe(0);
    expect(pte(k, c, a).lo & Pte.RW).toBe(0);
    // its write then reuses the page (wp_can_reuse_anon_folio frees the swap copy)
    expect(faults(c, () => touch(k, c, a, true, 0x78))).toBe(1);
    expect(exclusive(k, c, a)).toBe(true);
    expect(touch(k, t, a)).toBe(0x77);
    // after the child exits, the parent's second page is still shared with no one, but its swap
    // PTE lost the marker at fork: the read maps it read-only, as Linux does
    k.exit(c, "exit");
    touch(k, t, a + PAGE);
    expect(pte(k, t, a + PAGE).lo & Pte.RW).toBe(0);
    expect(faults(t, () => touch(k, t, a + PAGE, true, 5))).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });
});
