/**
 * MADV_GUARD_INSTALL and MADV_GUARD_REMOVE (Linux 6.13's mm/madvise.c; 6.12's madvise_behavior_valid
 * refuses them: docs/processes.md): guard markers in the PTEs of a range.
 */
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { zapRange } from "./memory.ts";
import { MmuGather } from "./mmu_gather.ts";
import { ptePa, readPte, setPteAt } from "./pgtable.ts";

/**
 * MADV_GUARD_INSTALL: zap the range and put a guard marker in every PTE.
 * Linux: mm/madvise.c madvise_guard_install
 */
export function guardInstall(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  mm.updateHiwaterRss(); // zap_page_range_single (madvise_guard_install, 6.13 and later): update_hiwater_rss
  const tlb = new MmuGather(ctx, mm);
  zapRange(ctx, tlb, mm, start, end, true);
  tlb.finish();
  const pt = ctx.env.pgtable;
  for (let vpn = start; vpn < end; vpn++) {
    const pa = ptePa(ctx, mm, vpn, true);
    if (pa < 0) return -Errno.ENOMEM;
    setPteAt(ctx, pa, pt.guard.hi, pt.guard.lo);
  }
  return 0;
}

/**
 * MADV_GUARD_REMOVE: clear the guard markers of the range (pages stay as they are).
 * Linux: mm/madvise.c madvise_guard_remove
 */
export function guardRemove(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  const pt = ctx.env.pgtable;
  for (let vpn = start; vpn < end; vpn++) {
    const pte = readPte(ctx, mm, vpn);
    if (pte !== null && pt.isGuard(pte.hi, pte.lo)) setPteAt(ctx, pte.pa, 0, 0);
  }
}
