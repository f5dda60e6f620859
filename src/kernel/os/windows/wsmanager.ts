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
 * - pages go by the accessed bit (the WSLE's age: workingset.ts trimOne
 *   clears a set bit and moves on, removes the first page found clear), to
 *   the standby or modified list as any trim does;
 * - it stops when the available pages exceed the goal, MmPlentyFreePages
 *   and a half (Criteria->DesiredFreeGoal), or after its passes
 *   (MiCheckSystemTrimEndCriteria); between passes the modified page
 *   writer gets to run (the manager waits for it), and after trimming it is
 *   signalled when the available pages are below MmMinimumFreePages or the
 *   modified list holds MmModifiedPageMaximum pages.
 *
 * Simplified: no claims or estimates of each working set's unused pages
 * (MiAgeAndEstimateAvailableInWorkingSet): each pass may take a working
 * set down to its minimum; the system's own working sets (the paged pool,
 * `trim kernel`) are not candidates; the faulting page is never the one
 * taken (it is being made valid).
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
  k.tlbMgr.flushTlbMmRange(mm, vpn, 1, k.runningCpu);
}

/**
 * The aging scan: the first page of the list not accessed since the last
 * look is trimmed; accessed ones lose their accessed bit and go to the end
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
      const e = pt.modify(pte.hi, pte.lo, 0, PteFlag.YOUNG);
      setPte(k, mm, vpn, e.hi, e.lo);
      k.tlbMgr.flushTlbMmRange(mm, vpn, 1, k.runningCpu);
      p.ws.delete(vpn);
      p.ws.add(vpn);
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

/** MmPlentyFreePages (WRK mm/wsmanage.c): at or below it the manager trims. */
export const MM_PLENTY_FREE_PAGES = 400;
/** Criteria->DesiredFreeGoal: MmPlentyFreePages + MmPlentyFreePages / 2 (MiCheckAndSetSystemTrimCriteria). */
export const DESIRED_FREE_GOAL = MM_PLENTY_FREE_PAGES + MM_PLENTY_FREE_PAGES / 2;
/** MmMinimumFreePages (WRK mm/mminit.c): below it the modified page writer is signalled. */
export const MM_MINIMUM_FREE_PAGES = 26;
/** MmModifiedPageMaximum (WRK mm/mminit.c, a small system's value): a modified list this long wakes the writer. */
export const MM_MODIFIED_PAGE_MAXIMUM = 100;
/** Trim passes before the manager gives up (vmlab's count; the WRK's MI_MAX_TRIM_PASSES plays this part). */
const TRIM_PASSES = 4;

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
  for (let pass = 0; pass < TRIM_PASSES; pass++) {
    // the working-set expansion list: processes above their minimum, the biggest first
    const candidates = expansionList(h).sort((a, b) => winProcess(b).ws.size - winProcess(a).ws.size);
    // the pages short of the goal, taken from the candidates in order (a trimmed page is available
    // at once if clean, after the modified page writer if not)
    let need = DESIRED_FREE_GOAL + 1 - availablePages(h);
    for (const mm of candidates) {
      if (need <= 0) break;
      const p = winProcess(mm);
      const keep = mm === faultMm ? keepVpn : -1;
      for (let take = Math.min(need, p.ws.size - p.wsMin); take > 0; take--) {
        if (!trimOne(h, mm, p, keep)) break;
        n++;
        need--;
      }
    }
    // MiCheckSystemTrimEndCriteria: enough, or wait for the modified page writer and go again
    if (availablePages(h) > DESIRED_FREE_GOAL || db.modifiedList.size === 0) break;
    if (modifiedPageWriter(h.k, db) === 0) break; // nothing can be written (no paging file, or a full one)
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
