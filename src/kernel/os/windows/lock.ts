/**
 * VirtualLock and VirtualUnlock (NtLockVirtualMemory and
 * NtUnlockVirtualMemory with MAP_PROCESS: WRK mm/lockvm.c; the Win32
 * "VirtualLock function" and "VirtualUnlock function" pages).
 *
 * A locked page is locked in the working set: its WSLE moves below
 * MMWSL.FirstDynamic with LockedInWs set, so no trim (MiTrimWorkingSet,
 * EmptyWorkingSet, the working-set manager, a hard maximum's replacement)
 * ever takes it; WinProcess.locked is that part of the list. The VirtualLock
 * page: "All pages in the specified region must be committed. Memory
 * protected with PAGE_NOACCESS cannot be locked"; "the maximum number of
 * pages that a process can lock is equal to the number of pages in its
 * minimum working set minus a small overhead"; "there is no lock count for
 * virtual pages". The WRK's order:
 *
 * 1. the range in the user part of the address space and not empty, else
 *    STATUS_INVALID_PARAMETER (87);
 * 2. the pages asked plus MM_FLUID_WORKING_SET (8) above the minimum:
 *    STATUS_WORKING_SET_QUOTA (1453 ERROR_WORKING_SET_QUOTA);
 * 3. each page in a VAD (MiLocateAddress), else STATUS_ACCESS_VIOLATION;
 *    the pages already locked counted, and the locked pages after the call
 *    (FirstDynamic + pages - already locked) plus 8 above the minimum: 1453;
 * 4. each page read once inside a __try (`*(volatile ULONG *)Va`): the
 *    fault resolves it (demand-zero, soft, hard, a view's prototype PTE)
 *    or raises: a reserved page, a PAGE_NOACCESS one or a page outside any
 *    VAD raise STATUS_ACCESS_VIOLATION, which the call returns
 *    (RtlNtStatusToDosError: 998 ERROR_NOACCESS); a guard page raises
 *    STATUS_GUARD_PAGE_VIOLATION once and loses its guard (the call fails
 *    with it: GetLastError 0x80000001, which the status table passes
 *    through); a thread stack's guard page grows the stack;
 * 5. each page, made valid again if a later touch replaced it, locked.
 *
 * The exception of step 4 is caught in kernel mode: the process's
 * EXCEPTION_RECORD is left as it was. vmlab's working-set list holds no
 * page-table or working-set-list pages (FirstDynamic starts at 0), so with
 * the default minimum of 50 pages a process locks 42; the WRK counts the
 * pages asked as (EndingAddress - Va) >> PAGE_SHIFT in both checks of steps
 * 2 and 3, one less than the pages, where vmlab counts them all.
 *
 * VirtualUnlock (the VirtualUnlock page: "the range specified need not
 * match a range passed to a previous call to the VirtualLock function, but
 * all pages in the range must be locked. If any of the pages in the
 * specified range are not locked, VirtualUnlock removes such pages from the
 * working set, sets last error to ERROR_NOT_LOCKED, and returns FALSE"):
 * a page outside any VAD ends the scan with STATUS_NOT_LOCKED (158); a page
 * not valid is not locked; a valid page not locked is trimmed from the
 * working set (MiFreeWsle). Only when every page was locked are they
 * unlocked.
 *
 * Elsewhere: VirtualFree (decommit or release) of locked pages unlocks
 * them (MiDeleteVirtualAddresses: FirstDynamic -= 1); VirtualProtect to
 * PAGE_NOACCESS or PAGE_GUARD takes a locked page out of the working set,
 * unlocked (MiRemovePageFromWorkingSet; the call still succeeds:
 * STATUS_WAS_UNLOCKED); SetProcessWorkingSetSize refuses a maximum that the
 * locked pages plus 8 would reach (MmAdjustWorkingSetSize:
 * STATUS_BAD_WORKING_SET_LIMIT, 87); exit unlocks everything.
 */
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { WinError } from "./commit.ts";
import { mmAccessFault, STATUS_GUARD_PAGE_VIOLATION, STATUS_STACK_OVERFLOW } from "./fault.ts";
import { pageState } from "./pages.ts";
import { getPte, pteValid, type WinProcess, winProcess } from "./process.ts";
import type { WinMm } from "./virtual.ts";
import { MM_FLUID_WORKING_SET } from "./workingset.ts";
import { trimWsPage } from "./wsmanager.ts";

/** GetLastError codes of the lock services (winerror.h). */
export const enum LockError {
  /** ERROR_NOT_LOCKED: STATUS_NOT_LOCKED */
  NOT_LOCKED = 158,
  /** ERROR_NOACCESS: STATUS_ACCESS_VIOLATION */
  NOACCESS = 998,
  /** ERROR_STACK_OVERFLOW: STATUS_STACK_OVERFLOW */
  STACK_OVERFLOW = 1001,
  /** ERROR_WORKING_SET_QUOTA: STATUS_WORKING_SET_QUOTA */
  WORKING_SET_QUOTA = 1453,
}

const PAGE = 4096n;

function failed(p: WinProcess, code: number): false {
  p.lastError = code;
  return false;
}

/** The pages [startVpn, endVpn] of a lock or unlock, or null (87) for a range outside user space or empty. */
function lockRange(w: WinMm, addr: bigint, size: bigint): { startVpn: number; endVpn: number } | null {
  const highest = w.layout.highestUserAddress;
  if (addr > highest || highest - addr < size || size === 0n) return null;
  return { startVpn: Number(addr / PAGE), endVpn: Number((addr + size - 1n) / PAGE) };
}

function isValid(w: WinMm, mm: MmStruct, vpn: number): boolean {
  const { hi, lo } = getPte(w.k, mm, vpn);
  return pteValid(w.k, hi, lo);
}

/**
 * `*(volatile ULONG *)Va` inside a __try: 0 once the page is valid, else
 * the Win32 code of the exception (the process's EXCEPTION_RECORD restored).
 */
function touch(w: WinMm, task: Task, p: WinProcess, mm: MmStruct, vpn: number): number {
  // a stack's guard page grows the stack and the read is retried: a few rounds at most
  for (let round = 0; round < 4; round++) {
    if (isValid(w, mm, vpn)) return 0;
    const saved = { ...p.exception };
    const sig = mmAccessFault(w, task, BigInt(vpn) * PAGE, Access.Read);
    if (sig === null) continue;
    const code = p.exception.code;
    Object.assign(p.exception, saved);
    if (sig.signal === "SIGKILL") return WinError.NOT_ENOUGH_MEMORY;
    if (code === STATUS_GUARD_PAGE_VIOLATION) return STATUS_GUARD_PAGE_VIOLATION;
    if (code === STATUS_STACK_OVERFLOW) return LockError.STACK_OVERFLOW;
    return LockError.NOACCESS;
  }
  return isValid(w, mm, vpn) ? 0 : LockError.NOACCESS;
}

/** VirtualLock: TRUE, or FALSE with GetLastError. */
export function virtualLock(w: WinMm, task: Task, addr: bigint, size: bigint): boolean {
  const mm = task.mm!;
  const p = winProcess(mm);
  const r = lockRange(w, addr, size);
  if (r === null) return failed(p, WinError.INVALID_PARAMETER);
  const n = r.endVpn - r.startVpn + 1;
  if (n + MM_FLUID_WORKING_SET > p.wsMin) return failed(p, LockError.WORKING_SET_QUOTA);
  let already = 0;
  for (let vpn = r.startVpn; vpn <= r.endVpn; vpn++) {
    if (p.vads.locate(vpn) === null) return failed(p, LockError.NOACCESS);
    if (p.locked.has(vpn)) already++;
  }
  if (p.wsMin < p.locked.size + n + MM_FLUID_WORKING_SET - already)
    return failed(p, LockError.WORKING_SET_QUOTA);
  for (let vpn = r.startVpn; vpn <= r.endVpn; vpn++) {
    const err = touch(w, task, p, mm, vpn);
    if (err !== 0) return failed(p, err);
  }
  for (let vpn = r.startVpn; vpn <= r.endVpn; vpn++) {
    // a later touch may have replaced an earlier page (a hard maximum): made valid again first
    const err = touch(w, task, p, mm, vpn);
    if (err !== 0) return failed(p, err);
    p.locked.add(vpn);
  }
  return true;
}

/** VirtualUnlock: TRUE, or FALSE with GetLastError (the pages not locked left the working set). */
export function virtualUnlock(w: WinMm, p: WinProcess, mm: MmStruct, addr: bigint, size: bigint): boolean {
  const r = lockRange(w, addr, size);
  if (r === null) return failed(p, WinError.INVALID_PARAMETER);
  let notLocked = false;
  for (let vpn = r.startVpn; vpn <= r.endVpn; vpn++) {
    const vad = p.vads.locate(vpn);
    if (vad === null) {
      notLocked = true;
      break;
    }
    if (p.locked.has(vpn)) continue;
    notLocked = true;
    // a valid page that is not locked leaves the working set (MiFreeWsle)
    const s = pageState(w.k, w.db, mm, vad, vpn);
    if (s.valid) trimWsPage(w, mm, vad, vpn, s);
  }
  if (notLocked) return failed(p, LockError.NOT_LOCKED);
  for (let vpn = r.startVpn; vpn <= r.endVpn; vpn++) p.locked.delete(vpn);
  return true;
}
