/**
 * The working-set manager under memory pressure (MmWorkingSetManager, run
 * by the balance set manager; Windows Internals 7th ed., Part 1, ch. 5
 * "Balance set manager and swapper" and "Working sets"; the WRK's
 * mm/wsmanage.c).
 *
 * The balance set manager wakes once a second or when the memory manager
 * signals it (the free lists too small); vmlab has no clock, so the
 * signal is the only wake-up: after each fault that took a page
 * (workingset.ts wsAdded) the available pages (MmAvailablePages: the
 * zeroed, free and standby lists) are compared with MmPlentyFreePages
 * (MiCheckAndSetSystemTrimCriteria). At or below it the manager trims:
 *
 * - the candidates are the working sets above their minimum, the biggest
 *   first (MiRearrangeWorkingSetExpansionList); none is trimmed below its
 *   minimum (MiDetermineWsTrimAmount's MaxTrim);
 * - pages go by the WSLE's age: passes with trim ages 2, 1, 1, 1
 *   (MI_PASS0_TRIM_AGE..MI_PASS3_TRIM_AGE) and a last one once NumPasses
 *   reaches MI_MAX_TRIM_PASSES (4): trim age 1 again, or, when the
 *   available pages are below MM_HIGH_LIMIT + 64, trim age 0
 *   (MI_PASS4_TRIM_AGE: any page, accessed or not) with aging, a quarter of
 *   each working set above its minimum (MiDetermineWsTrimAmount's default
 *   case); a pass's
 *   MiTrimWorkingSet takes only pages not accessed and at least that old,
 *   the lower page priority first among them (trimWorkingSet), each to the
 *   standby list of its priority or the modified list; after the first
 *   pass's trim each working set is aged (ageWorkingSet: accessed pages
 *   lose the bit and go back to age 0, the others get older), so pages
 *   become trimmable after one aging unaccessed (Windows Internals 6th
 *   ed., Part 2, ch. 10 "Working set management": "if the accessed bit is
 *   clear the next time the working set manager examines the page, it
 *   knows that the page hasn't been accessed since the last time");
 * - it stops when the available pages exceed the goal, MmPlentyFreePages
 *   and a half (Criteria->DesiredFreeGoal), or after its passes
 *   (MiCheckSystemTrimEndCriteria); between passes (not after the last) the modified page
 *   writer gets to run (the manager waits for it), and after trimming it is
 *   signalled when the available pages are below MmMinimumFreePages or the
 *   modified list holds MmModifiedPageMaximum pages.
 *
 * Simplified: no claims or estimates of each working set's unused pages
 * (MiAgeAndEstimateAvailableInWorkingSet's estimate): each pass may take a
 * working set down to its minimum; no once-a-second aging when memory is
 * plentiful (vmlab has no clock: the working sets age only when the
 * manager runs under pressure); aging walks the whole list; the system's
 * own working sets (the paged pool, `trim kernel`) are not candidates; the
 * faulting page is never the one taken (it is being made valid). The hard
 * maximum's replacement and SetProcessWorkingSetSize's trim keep the
 * second-chance scan (trimOne).
 *
 * This file also has the trimming every path shares (workingset.ts uses
 * it): one page out of a working set, and the aging scan.
 */
import { assert } from "../../../base/assert.ts";
import type { KernelCore } from "../../core/core.ts";
import { PteFlag } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import type { WinKernelMemory } from "./kmem.ts";
import { mkProtoLookup } from "./mmpte.ts";
import { type PageState, pageState, sharedFrame } from "./pages.ts";
import { modifiedPageWriter, releaseShared, trimPage } from "./paging.ts";
import type { PfnDatabase } from "./pfn.ts";
import { getPte, setPte, WinProcess, widePtes, winProcess } from "./process.ts";
import { protoPointer } from "./section.ts";
import type { Vad } from "./vad.ts";

/** What trimming needs of the system. */
export interface WsHost {
  readonly k: KernelCore;
  readonly db: PfnDatabase;
  readonly kmem: WinKernelMemory;
}

/** One valid page out of its process's working set (MiTrimWorkingSet's work on one WSLE). */
export function trimWsPage(h: WsHost, mm: MmStruct, vad: Vad, vpn: number, s: PageState): void {
  const k = h.k;
  const p = winProcess(mm);
  const { hi, lo } = getPte(k, mm, vpn);
  const dirty = k.arch.pgtable.dirty(hi, lo);
  if (sharedFrame(k, vad, s.pfn)) {
    const v = vad.view!;
    const index = v.firstPage + vpn - vad.startVpn;
    releaseShared(k, h.db, v.section, index, s.pfn, dirty);
    // the WSLE's protection, if it has one, goes into the PTE (MI_PTE_LOOKUP_NEEDED); else the PTE points at the prototype
    const own = p.wsProtection.get(vpn);
    const e = own !== undefined ? mkProtoLookup(own, widePtes(k)) : protoPointer(k, h.kmem, v.section, index);
    p.wsProtection.delete(vpn);
    setPte(k, mm, vpn, e.hi, e.lo);
  } else {
    // MEM_WRITE_WATCH: the dirty bit goes into the VAD's bitmap as the PTE stops being valid (writewatch.ts)
    if (dirty && vad.writeWatch !== null) vad.writeWatch.add(vpn - vad.startVpn);
    trimPage(k, h.db, s.pfn, dirty, { mm, vpn, protection: s.protection });
  }
  p.ws.delete(vpn);
  p.wsAge.delete(vpn);
  k.tlbMgr.flushTlbMmRange(mm, vpn, 1, k.runningCpu);
}

/**
 * The aging scan: the first page of the list not accessed since the last
 * look is trimmed; accessed ones lose their accessed bit (no TLB flush:
 * MiReplaceWorkingSetEntry's MI_SET_ACCESSED_IN_PTE) and go to the end
 * of the list. `keep` (the page a fault just added) is never chosen.
 * False when nothing could be trimmed.
 */
export function trimOne(h: WsHost, mm: MmStruct, p: WinProcess, keep: number): boolean {
  const k = h.k;
  const pt = k.arch.pgtable;
  // two passes at most: the first may only clear accessed bits
  for (let budget = p.ws.size * 2; budget > 0; budget--) {
    const vpn = firstOf(p, keep);
    if (vpn < 0) return false;
    const vad = p.vads.locate(vpn)!;
    const s = pageState(k, h.db, mm, vad, vpn);
    assert(s.valid, `trimOne: vpn 0x${vpn.toString(16)} is in the working set but not valid`);
    const pte = getPte(k, mm, vpn);
    if (pt.young(pte.hi, pte.lo)) {
      // MI_SET_ACCESSED_IN_PTE (PointerPte, 0), as the aging's: the PTE only, no TLB flush (WRK mm/wslist.c
      // MiReplaceWorkingSetEntry); a page then used through a cached TLB entry looks unused to the next scan
      const e = pt.modify(pte.hi, pte.lo, 0, PteFlag.YOUNG);
      setPte(k, mm, vpn, e.hi, e.lo);
      p.ws.delete(vpn);
      p.ws.add(vpn);
      p.wsAge.delete(vpn);
      continue;
    }
    trimWsPage(h, mm, vad, vpn, s);
    return true;
  }
  return false;
}

/** The oldest entry of the working-set list other than `skip`, past the locked ones (FirstDynamic), or -1. */
function firstOf(p: WinProcess, skip: number): number {
  for (const vpn of p.ws) if (vpn !== skip && !p.locked.has(vpn)) return vpn;
  return -1;
}

/** The WSLE's largest age (WRK mm/mi.h MI_INC_WSLE_AGE: a two-bit counter stops at 3). */
export const MI_MAXIMUM_AGE = 3;
/**
 * The trim age of each pass of the working-set manager (WRK mm/wsmanage.c
 * MI_PASS0_TRIM_AGE .. MI_PASS3_TRIM_AGE, MI_MAX_TRIM_PASSES 4): the first
 * takes only pages aged 2 or more, the others pages aged 1 or more.
 */
export const PASS_TRIM_AGE = [2, 1, 1, 1] as const;
/** MI_MAX_TRIM_PASSES (WRK mm/wsmanage.c). */
export const MI_MAX_TRIM_PASSES = 4;
/** MI_PASS4_TRIM_AGE: the last pass's trim age when memory is low (MiDetermineWsTrimAmount's default case). */
export const MI_PASS4_TRIM_AGE = 0;

/**
 * MiAgeAndEstimateAvailableInWorkingSet's aging (DoAging): each entry past
 * the locked ones (FirstDynamic) whose PTE's accessed bit is set loses it
 * and goes back to age 0 (MI_SET_ACCESSED_IN_PTE 0, MI_RESET_WSLE_AGE);
 * one not accessed since the last look gets a year older
 * (MI_INC_WSLE_AGE). Simplified: the whole list each time (the WRK walks
 * (WorkingSetSize - FirstDynamic) >> MiAgingShift entries a second from
 * NextAgingSlot).
 *
 * No TLB flush: MI_SET_ACCESSED_IN_PTE is a plain store to the PTE
 * (WRK amd64/i386 mi.h: `((PPTE)->u.Hard.Accessed = ACCESSED)`), and the
 * aging loop flushes nothing before or after. A CPU that still holds the
 * page's translation in its TLB keeps using it without walking the
 * tables, and so without setting the accessed bit again (SDM Vol. 3A
 * §4.8: the processor sets A when it walks to the entry, not on a TLB
 * hit): such a page ages as if unused until its TLB entry goes (a flush,
 * a context switch without PCID, an eviction) — the imprecision the WRK
 * accepts in exchange for no flush a page.
 */
export function ageWorkingSet(h: WsHost, mm: MmStruct, p: WinProcess): void {
  const k = h.k;
  const pt = k.arch.pgtable;
  for (const vpn of p.ws) {
    if (p.locked.has(vpn)) continue;
    const pte = getPte(k, mm, vpn);
    if (pt.young(pte.hi, pte.lo)) {
      // MI_SET_ACCESSED_IN_PTE (PointerPte, 0): the PTE only, the TLB entry (if any) stays
      const e = pt.modify(pte.hi, pte.lo, 0, PteFlag.YOUNG);
      setPte(k, mm, vpn, e.hi, e.lo);
      p.wsAge.delete(vpn);
    } else {
      const age = p.wsAge.get(vpn) ?? 0;
      if (age < MI_MAXIMUM_AGE) p.wsAge.set(vpn, age + 1);
    }
  }
}

/**
 * MiTrimWorkingSet (WRK mm/wsmanage.c): up to `reduction` pages out of the
 * working set, the scan starting where the last one stopped
 * (MMWSL.NextSlot; Windows Internals 6th ed., Part 2, ch. 10 "Working set
 * management": "The next time the working set is trimmed, the scan picks
 * up where it left off last") and going once round the list; where it
 * stops is the next NextSlot (past the last page taken, or where it
 * started when it went round short of `reduction`). A page
 * qualifies when `trimAge` is 0, or when its accessed bit is clear and its
 * age is at least `trimAge`; the trim does not age or clear bits. Among
 * the pages that qualify, those of lower page priority (their frame's
 * MMPFN Priority) go first: "Other factors being equal, pages with lower
 * memory priority are trimmed before pages with higher memory priority"
 * (the MEMORY_PRIORITY_INFORMATION page); in scan order within a priority.
 * Locked pages (below FirstDynamic) and `keep` are passed. Each page goes
 * to the standby list of its priority or the modified list (trimWsPage).
 * Pages trimmed.
 */
export function trimWorkingSet(
  h: WsHost,
  mm: MmStruct,
  p: WinProcess,
  reduction: number,
  trimAge: number,
  keep: number,
): number {
  if (reduction <= 0 || p.ws.size === 0) return 0;
  const k = h.k;
  const pt = k.arch.pgtable;
  const order = [...p.ws];
  const start = Math.max(0, order.indexOf(p.wsNextSlot));
  // the qualifying entries by page priority, each in scan order (index into `order`)
  const byPriority: number[][] = Array.from({ length: 8 }, () => []);
  for (let i = 0; i < order.length; i++) {
    const at = (start + i) % order.length;
    const vpn = order[at];
    if (vpn === keep || p.locked.has(vpn)) continue;
    const vad = p.vads.locate(vpn)!;
    const s = pageState(k, h.db, mm, vad, vpn);
    assert(s.valid, `trimWorkingSet: vpn 0x${vpn.toString(16)} is in the working set but not valid`);
    if (trimAge > 0) {
      const pte = getPte(k, mm, vpn);
      if (pt.young(pte.hi, pte.lo) || (p.wsAge.get(vpn) ?? 0) < trimAge) continue;
    }
    byPriority[h.db.priority[s.pfn]].push(at);
  }
  let n = 0;
  let last = -1;
  for (const list of byPriority)
    for (const at of list) {
      if (n >= reduction) break;
      const vpn = order[at];
      const vad = p.vads.locate(vpn)!;
      trimWsPage(h, mm, vad, vpn, pageState(k, h.db, mm, vad, vpn));
      n++;
      if (
        last < 0 ||
        (at - start + order.length) % order.length > (last - start + order.length) % order.length
      )
        last = at;
    }
  // NextSlot = TryToFree, where the scan stopped: just past the last page taken when the reduction was
  // met; back at StartEntry when it went once round the list short of it (`TryToFree == StartEntry`),
  // whatever it took on the way. A slot whose page was taken is free and the next scan walks on from it
  // to the next valid entry: here the first entry from there, in scan order, still in the list.
  const from = n >= reduction && last >= 0 ? last + 1 : start;
  p.wsNextSlot = -1;
  for (let i = 0; i < order.length; i++) {
    const vpn = order[(from + i) % order.length];
    if (p.ws.has(vpn) && !p.locked.has(vpn)) {
      p.wsNextSlot = vpn;
      break;
    }
  }
  return n;
}

/** MmPlentyFreePages (WRK mm/wsmanage.c): at or below it the manager trims. */
export const MM_PLENTY_FREE_PAGES = 400;
/** Criteria->DesiredFreeGoal: MmPlentyFreePages + MmPlentyFreePages / 2 (MiCheckAndSetSystemTrimCriteria). */
export const DESIRED_FREE_GOAL = MM_PLENTY_FREE_PAGES + MM_PLENTY_FREE_PAGES / 2;
/** MmMinimumFreePages (WRK mm/mminit.c): below it the modified page writer is signalled. */
export const MM_MINIMUM_FREE_PAGES = 26;
/** MM_HIGH_LIMIT (WRK mm/mi.h): below it plus 64 available pages the manager's last pass takes pages of any age. */
export const MM_HIGH_LIMIT = 128;
/** MmModifiedPageMaximum (WRK mm/mminit.c, a small system's value): a modified list this long wakes the writer. */
export const MM_MODIFIED_PAGE_MAXIMUM = 100;

/** MmAvailablePages: the zeroed, free and standby lists (the buddy allocator's free pages are the free list). */
export function availablePages(h: WsHost): number {
  return h.k.buddy.freePages() + h.db.zeroed.length + h.db.standby.size;
}

/**
 * MmWorkingSetManager, woken after a fault of `faultMm` made `keepVpn`
 * valid. Pages trimmed (0 when the available pages are plenty).
 */
export function workingSetManager(h: WsHost, faultMm: MmStruct, keepVpn: number): number {
  const st = h.db.wsManager;
  // (its own trims take no frames, but the modified page writer's work must not wake it again)
  if (st.active || availablePages(h) > MM_PLENTY_FREE_PAGES) return 0;
  st.active = true;
  const n = trimWorkingSets(h, faultMm, keepVpn);
  st.active = false;
  return n;
}

function trimWorkingSets(h: WsHost, faultMm: MmStruct, keepVpn: number): number {
  const db: PfnDatabase = h.db;
  db.wsManager.runs++;
  let n = 0;
  // passes 0 to MI_MAX_TRIM_PASSES: MiCheckSystemTrimEndCriteria ends the run only once NumPasses has
  // reached MI_MAX_TRIM_PASSES, so a last pass runs after pass 3 (MiDetermineWsTrimAmount's default case)
  for (let pass = 0; pass <= MI_MAX_TRIM_PASSES; pass++) {
    const last = pass === MI_MAX_TRIM_PASSES;
    // the default case: MI_PASS3_TRIM_AGE, or when memory is this low (or MiHardTrim) MI_PASS4_TRIM_AGE 0
    // with aging, each working set's trim then (size - minimum) / 4 (all of it above the minimum if that is 0)
    const hard = last && availablePages(h) < MM_HIGH_LIMIT + 64;
    const trimAge = last ? (hard ? MI_PASS4_TRIM_AGE : PASS_TRIM_AGE[3]) : PASS_TRIM_AGE[pass];
    // the working-set expansion list: processes above their minimum, the biggest first
    const candidates = expansionList(h).sort((a, b) => winProcess(b).ws.size - winProcess(a).ws.size);
    // the pages short of the goal, taken from the candidates in order (a trimmed page is available
    // at once if clean, after the modified page writer if not)
    let need = DESIRED_FREE_GOAL + 1 - availablePages(h);
    for (const mm of candidates) {
      const p = winProcess(mm);
      const keep = mm === faultMm ? keepVpn : -1;
      // MiDetermineWsTrimAmount (never below the minimum) and MiTrimWorkingSet at this pass's age
      if (need > 0) {
        const above = p.ws.size - p.wsMin;
        const got = trimWorkingSet(
          h,
          mm,
          p,
          Math.min(need, hard ? above >> 2 || above : above),
          trimAge,
          keep,
        );
        n += got;
        need -= got;
      }
      // "Aging is only done if the trim pass warrants it (ie: the first pass only)"
      if (pass === 0 || hard) ageWorkingSet(h, mm, p);
    }
    // MiCheckSystemTrimEndCriteria: enough, or wait for the modified page writer and go again
    if (availablePages(h) > DESIRED_FREE_GOAL) break;
    if (!last && db.modifiedList.size > 0) modifiedPageWriter(h.k, db);
  }
  // signal the modified page writer if memory is critical or the modified list is long
  if (availablePages(h) < MM_MINIMUM_FREE_PAGES || db.modifiedList.size >= MM_MODIFIED_PAGE_MAXIMUM)
    modifiedPageWriter(h.k, db);
  db.wsManager.trimmed += n;
  return n;
}

/** The address spaces of the live Windows processes above their working-set minimum (MmWorkingSetExpansionHead). */
function expansionList(h: WsHost): MmStruct[] {
  const out: MmStruct[] = [];
  for (const t of h.k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null || !(mm.osState instanceof WinProcess) || out.includes(mm)) continue;
    if (mm.osState.ws.size > mm.osState.wsMin) out.push(mm);
  }
  return out;
}
