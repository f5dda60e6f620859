/**
 * A process's working set: the list of its valid pages (WinProcess.ws, the
 * MMWSL), its minimum and maximum, trimming and replacement (Windows
 * Internals 7th ed., Part 1, ch. 5 "Working sets": "Demand paging",
 * "Working set management", "Balance set manager and swapper"; the Win32
 * SetProcessWorkingSetSize and SetProcessWorkingSetSizeEx pages).
 *
 * - A page leaves the working set as MiTrimWorkingSet takes it: a private
 *   page becomes a transition PTE and its frame goes to the modified or
 *   standby list (paging.ts trimPage); a shared page of a mapped view
 *   (its frame the section's) becomes an MMPTE_PROTOTYPE pointing at its
 *   prototype PTE, and the frame stays with the segment (its share count,
 *   mapcount here, drops by one; at zero a paging-file-backed section's
 *   page goes to the standby or modified list: paging.ts releaseShared).
 * - The order of the list is the order pages entered it. The trimmer ages
 *   pages by their accessed bits (the WSLE's Age): a page accessed since
 *   the last look has the bit cleared and goes to the end; the first page
 *   not accessed is the one removed.
 * - The maximum is soft by default ("the virtual memory manager attempts to
 *   keep no more than this much memory resident ... whenever ... available
 *   memory is low"); with QUOTA_LIMITS_HARDWS_MAX_ENABLE
 *   (SetProcessWorkingSetSizeEx) it is hard: a fault that would grow the
 *   working set past it first removes a page (MiReplaceWorkingSetEntry).
 *   Setting a maximum below the current size trims down to it
 *   (MmAdjustWorkingSetSize).
 */
import { assert } from "../../../base/assert.ts";
import type { KernelCore } from "../../core/core.ts";
import { PteFlag } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import type { WinKernelMemory } from "./kmem.ts";
import { type PageState, pageRuns, pageState, sharedFrame } from "./pages.ts";
import { releaseShared, trimPage } from "./paging.ts";
import type { PfnDatabase } from "./pfn.ts";
import { getPte, setPte, type WinProcess, winProcess } from "./process.ts";
import { protoPointer } from "./section.ts";
import type { Vad } from "./vad.ts";

/** The smallest minimum and maximum SetProcessWorkingSetSize accepts, in pages (its page: 20 and 13). */
export const WS_MIN_FLOOR = 20;
export const WS_MAX_FLOOR = 13;

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
    const e = protoPointer(k, h.kmem, v.section, index);
    setPte(k, mm, vpn, e.hi, e.lo);
  } else trimPage(k, h.db, s.pfn, dirty, { mm, vpn, protection: s.protection });
  p.ws.delete(vpn);
  k.tlbMgr.flushTlbMmRange(mm, vpn, 1, k.runningCpu);
}

/** `trim P` (EmptyWorkingSet): every page of the working set trimmed. Pages trimmed. */
export function trimProcess(h: WsHost, mm: MmStruct): number {
  const p = winProcess(mm);
  let n = 0;
  for (const vad of p.vads.list())
    for (const r of pageRuns(h.k, h.db, mm, vad, vad.startVpn, vad.endVpn)) {
      if (!r.s.valid) continue;
      trimWsPage(h, mm, vad, r.vpn, r.s);
      n++;
    }
  return n;
}

/**
 * The aging scan: the first page of the list not accessed since the last
 * look is trimmed; accessed ones lose their accessed bit and go to the end
 * of the list. `keep` (the page a fault just added) is never chosen.
 * False when nothing could be trimmed.
 */
function trimOne(h: WsHost, mm: MmStruct, p: WinProcess, keep: number): boolean {
  const k = h.k;
  const pt = k.arch.pgtable;
  // two passes at most: the first may only clear accessed bits
  for (let budget = p.ws.size * 2; budget > 0; budget--) {
    const vpn = firstOf(p.ws, keep);
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
    p.wsReplaced++;
    return true;
  }
  return false;
}

function firstOf(ws: Set<number>, skip: number): number {
  for (const vpn of ws) if (vpn !== skip) return vpn;
  return -1;
}

/**
 * A page just entered the working set (a fault made its PTE valid):
 * with a hard maximum, pages go until the set fits it again
 * (MiReplaceWorkingSetEntry).
 */
export function wsAdded(h: WsHost, mm: MmStruct, vpn: number): void {
  const p = winProcess(mm);
  p.ws.add(vpn);
  while (p.wsHardMax && p.ws.size > p.wsMax) if (!trimOne(h, mm, p, vpn)) break;
}

/**
 * SetProcessWorkingSetSizeEx: sizes in bytes; both -1 empties the working
 * set. The page's rules: the minimum "must be greater than zero but less
 * than or equal to the maximum", "if the value is greater than zero but
 * less than 20 pages, the minimum value is set to 20 pages"; the maximum
 * "must be greater than or equal to 13 pages". Otherwise
 * ERROR_INVALID_PARAMETER (87). A maximum below the current size trims
 * the working set down to it. Returns 0 (TRUE) or the error code.
 */
export function setWorkingSetSize(
  h: WsHost,
  mm: MmStruct,
  minBytes: bigint,
  maxBytes: bigint,
  hard: boolean,
): number {
  const p = winProcess(mm);
  if (minBytes === -1n && maxBytes === -1n) {
    trimProcess(h, mm);
    return 0;
  }
  const minPages = Number((minBytes + 4095n) / 4096n);
  const maxPages = Number(maxBytes / 4096n);
  if (minBytes <= 0n || maxBytes < minBytes || maxPages < WS_MAX_FLOOR) return 87;
  p.wsMin = Math.max(minPages, WS_MIN_FLOOR);
  p.wsMax = Math.max(maxPages, p.wsMin);
  p.wsHardMax = hard;
  while (p.ws.size > p.wsMax) if (!trimOne(h, mm, p, -1)) break;
  return 0;
}
