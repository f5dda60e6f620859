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
import type { MmStruct } from "../../mm/MmStruct.ts";
import { pageRuns } from "./pages.ts";
import { winProcess } from "./process.ts";
import {
  PASS_TRIM_AGE,
  trimOne,
  trimWorkingSet,
  trimWsPage,
  type WsHost,
  workingSetManager,
} from "./wsmanager.ts";

export type { WsHost } from "./wsmanager.ts";

/** The smallest minimum and maximum SetProcessWorkingSetSize accepts, in pages (its page: 20 and 13). */
export const WS_MIN_FLOOR = 20;
export const WS_MAX_FLOOR = 13;
/**
 * MM_FLUID_WORKING_SET (WRK mm/mi.h): the pages a working set keeps free of
 * locked ones (VirtualLock's "small overhead"; lock.ts).
 */
export const MM_FLUID_WORKING_SET = 8;

/** `trim P` (EmptyWorkingSet): every page of the working set trimmed. Pages trimmed. */
export function trimProcess(h: WsHost, mm: MmStruct): number {
  const p = winProcess(mm);
  let n = 0;
  for (const vad of p.vads.list())
    for (const r of pageRuns(h.k, h.db, mm, vad, vad.startVpn, vad.endVpn)) {
      // pages locked in the working set (below FirstDynamic) are never trimmed (lock.ts)
      if (!r.s.valid || p.locked.has(r.vpn)) continue;
      trimWsPage(h, mm, vad, r.vpn, r.s);
      n++;
    }
  return n;
}

/**
 * A page just entered the working set (a fault made its PTE valid):
 * with a hard maximum, pages go until the set fits it again
 * (MiReplaceWorkingSetEntry).
 */
export function wsAdded(h: WsHost, mm: MmStruct, vpn: number): void {
  const p = winProcess(mm);
  p.ws.add(vpn);
  // a new WSLE starts at age 0 (MiAllocateWsle)
  p.wsAge.delete(vpn);
  while (p.wsHardMax && p.ws.size > p.wsMax) {
    if (!trimOne(h, mm, p, vpn)) break;
    p.wsReplaced++;
  }
  // the fault took a page: the working-set manager runs when available pages are low (wsmanager.ts)
  workingSetManager(h, mm, vpn);
}

/** SetProcessWorkingSetSizeEx's Flags (winnt.h QUOTA_LIMITS_HARDWS_*). */
export const QuotaLimits = {
  HARDWS_MIN_ENABLE: 0x1,
  HARDWS_MIN_DISABLE: 0x2,
  HARDWS_MAX_ENABLE: 0x4,
  HARDWS_MAX_DISABLE: 0x8,
} as const;
const QUOTA_LIMITS_ALL = 0xf;

/**
 * SetProcessWorkingSetSizeEx (SetProcessWorkingSetSize is it with Flags
 * 0): sizes in bytes; both -1 empties the working set (its limits and
 * flags unchanged: MmAdjustWorkingSetSize "the working set is purged, but
 * the default sizes are not changed"), once Flags passed the checks below
 * (PspSetQuotaLimits checks them first). The page's rules: the minimum
 * "must be greater than zero but less than or equal to the maximum", "if
 * the value is greater than zero but less than 20 pages, the minimum
 * value is set to 20 pages"; the maximum "must be greater than or equal
 * to 13 pages"; a Flags word with both QUOTA_LIMITS_HARDWS_MIN_ENABLE and
 * _MIN_DISABLE ("This flag cannot be used with ..."), both _MAX_ one, or
 * another bit. Otherwise ERROR_INVALID_PARAMETER (87), as is a maximum
 * that the locked pages (VirtualLock) plus MM_FLUID_WORKING_SET would
 * reach (WRK MmAdjustWorkingSetSizeEx), and, when a hard limit is being
 * enabled or already is and not being disabled (either the minimum or
 * the maximum), a maximum less than MM_FLUID_WORKING_SET (8) pages above
 * the minimum, the minimum taken after its raise to 20 pages (WRK
 * wslist.c MmAdjustWorkingSetSizeEx: "If hard working set limits are
 * being enabled (or are already enabled), then make sure the minimum and
 * maximum will not starve this process": 20/20 and 20/28 are refused,
 * 20/29 is the smallest). Flags 0 keeps the enforcement as it is; an
 * enable or disable bit sets or clears MMSUPPORT_FLAGS
 * MinimumWorkingSetHard / MaximumWorkingSetHard (MmAdjustWorkingSetSizeEx's
 * `if (Flags != 0)`). A maximum below the current size trims the working
 * set down to it (locked pages stay), the oldest pages first:
 * MiTrimWorkingSet at MI_PASS0_TRIM_AGE, then each age down to 0. Returns 0 (TRUE) or the error code.
 *
 * The hard minimum: the WRK's only use of MinimumWorkingSetHard outside
 * this check is MiDetermineWsTrimAmount's, where it keeps an outswapped
 * process (PS_PROCESS_FLAGS_OUTSWAP_ENABLED) from being trimmed below its
 * minimum; vmlab swaps no process out and the working-set manager never
 * trims one below its minimum anyway, so the flag changes nothing else.
 */
export function setWorkingSetSize(
  h: WsHost,
  mm: MmStruct,
  minBytes: bigint,
  maxBytes: bigint,
  flags: number,
): number {
  const p = winProcess(mm);
  // the flags first, the purge request too (ps/psquota.c PspSetQuotaLimits: "All unused flags must be
  // zero", "Disallow both enable and disable bits set", STATUS_INVALID_PARAMETER, before MmAdjustWorkingSetSizeEx)
  const Q = QuotaLimits;
  const both = (on: number, off: number) => (flags & on) !== 0 && (flags & off) !== 0;
  if (
    (flags & ~QUOTA_LIMITS_ALL) !== 0 ||
    both(Q.HARDWS_MIN_ENABLE, Q.HARDWS_MIN_DISABLE) ||
    both(Q.HARDWS_MAX_ENABLE, Q.HARDWS_MAX_DISABLE)
  )
    return 87;
  // (SIZE_T)-1 twice: MmAdjustWorkingSetSizeEx's MiEmptyWorkingSet, the limits and flags left alone
  if (minBytes === -1n && maxBytes === -1n) {
    trimProcess(h, mm);
    return 0;
  }
  const minPages = Number((minBytes + 4095n) / 4096n);
  const maxPages = Number(maxBytes / 4096n);
  if (minBytes <= 0n || maxBytes < minBytes || maxPages < WS_MAX_FLOOR) return 87;
  const wsMin = Math.max(minPages, WS_MIN_FLOOR);
  const wsMax = Math.max(maxPages, wsMin);
  // the locked pages must leave the working set fluid (MmAdjustWorkingSetSize: STATUS_BAD_WORKING_SET_LIMIT)
  if (p.locked.size + MM_FLUID_WORKING_SET >= wsMax) return 87;
  // a hard limit, being enabled or kept, must let the process progress (STATUS_BAD_WORKING_SET_LIMIT,
  // which RtlNtStatusToDosError makes ERROR_INVALID_PARAMETER)
  const hardMin =
    (flags & Q.HARDWS_MIN_ENABLE) !== 0 || (p.wsHardMin && (flags & Q.HARDWS_MIN_DISABLE) === 0);
  const hardMax =
    (flags & Q.HARDWS_MAX_ENABLE) !== 0 || (p.wsHardMax && (flags & Q.HARDWS_MAX_DISABLE) === 0);
  if ((hardMin || hardMax) && wsMin + MM_FLUID_WORKING_SET >= wsMax) return 87;
  p.wsMin = wsMin;
  p.wsMax = wsMax;
  p.wsHardMin = hardMin;
  p.wsHardMax = hardMax;
  // "Attempt to remove the oldest working set pages first": MiTrimWorkingSet from MI_PASS0_TRIM_AGE down to
  // 0 (any page), each time by the pages still above the maximum; no accessed bit cleared, NextSlot kept
  for (let trimAge: number = PASS_TRIM_AGE[0]; p.ws.size > p.wsMax && trimAge >= 0; trimAge--)
    p.wsReplaced += trimWorkingSet(h, mm, p, p.ws.size - p.wsMax, trimAge, -1);
  return 0;
}
