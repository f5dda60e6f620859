/**
 * A thread's user-mode stack and its growth (Windows Internals 7th ed.,
 * Part 1, ch. 5 "User-mode stacks": "by default, Windows reserves 1 MB of
 * virtual memory for the thread's stack and commits ... the first page ...
 * along with a guard page"; the Win32 "Thread Stack Size" page; WRK
 * rtl/rtlexec.c RtlCreateUserStack and mm/procsup.c
 * MiCheckForUserStackOverflow).
 *
 * The stack is a reservation [DeallocationStack, StackBase): the top pages
 * are committed, the page below them is a guard page (PAGE_READWRITE |
 * PAGE_GUARD), the rest is reserved. A touch of the guard page is a guard
 * page fault that MiCheckForUserStackOverflow turns into growth: the guard
 * goes, the page below is committed as the new guard page, the TEB's
 * StackLimit moves down a page, and the access is retried (no exception
 * reaches the thread). When the new guard page would leave no page between
 * it and the bottom of the reservation, it commits the page just above the
 * bottom instead (without guard), moves StackLimit there, and raises
 * STATUS_STACK_OVERFLOW (0xC00000FD). A touch of the bottom page, never
 * committed, is then an access violation. A new guard page the commit
 * limit refuses is STATUS_STACK_OVERFLOW too, StackLimit already moved to
 * the faulting page (MiCheckForUserStackOverflow writes it first).
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PageProt } from "./mmpte.ts";
import type { WinProcess } from "./process.ts";
import { virtualAlloc, type WinMm } from "./virtual.ts";

/** The default stack reserve and commit (the image header's SizeOfStackReserve / SizeOfStackCommit: 1 MB, a page). */
export const DEFAULT_STACK_RESERVE = 1n << 20n;
export const DEFAULT_STACK_COMMIT = 4096n;

/**
 * RtlCreateUserStack: reserves `reserve` bytes (a multiple of the 64 KB
 * granularity), commits the top `commit` bytes (whole pages) read-write and
 * the page below them as the guard page. Returns StackBase (the top, where
 * the stack pointer starts), or 0n with GetLastError set.
 */
export function createUserStack(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  reserve: bigint,
  commit: bigint,
): bigint {
  const res = ((reserve + 0xffffn) / 0x10000n) * 0x10000n;
  const com = ((commit + 4095n) / 4096n) * 4096n;
  // the commit and its guard page leave at least two pages of the reservation below them
  if (com < 4096n || com + 3n * 4096n > res) {
    p.lastError = 87; // ERROR_INVALID_PARAMETER
    return 0n;
  }
  const base = virtualAlloc(w, p, mm, 0n, res, true, false, PageProt.READWRITE);
  if (base === 0n) return 0n;
  const top = base + res;
  if (
    virtualAlloc(w, p, mm, top - com, com, false, true, PageProt.READWRITE) === 0n ||
    virtualAlloc(w, p, mm, top - com - 4096n, 4096n, false, true, PageProt.READWRITE | PageProt.GUARD) === 0n
  )
    return 0n;
  p.stack = {
    deallocationVpn: Number(base / 4096n),
    baseVpn: Number(top / 4096n),
    stackLimitVpn: Number((top - com) / 4096n),
    overflows: 0,
  };
  return top;
}

/** What MiCheckForUserStackOverflow decided for a guard page fault. */
export const enum StackCheck {
  /** not the stack's guard page: STATUS_GUARD_PAGE_VIOLATION is raised */
  NotStack = 0,
  /** the stack grew a page: the access is retried (STATUS_PAGE_FAULT_GUARD_PAGE) */
  Grown = 1,
  /** no room left: STATUS_STACK_OVERFLOW */
  Overflow = 2,
}

/**
 * MiCheckForUserStackOverflow for a guard page fault at vpn (its guard
 * already removed by the caller).
 */
export function checkForUserStackOverflow(w: WinMm, p: WinProcess, mm: MmStruct, vpn: number): StackCheck {
  const st = p.stack;
  if (st === null || vpn < st.deallocationVpn || vpn >= st.baseVpn) return StackCheck.NotStack;
  const next = vpn - 1;
  const lastError = p.lastError; // the commits below are the kernel's, not the thread's calls
  if (next - 1 <= st.deallocationVpn) {
    // "no more room for expansion": commit the page before the last one, and overflow; StackLimit
    // moves there only if that commit succeeded (NT_SUCCESS (status))
    const page = st.deallocationVpn + 1;
    const ok =
      page >= vpn ||
      virtualAlloc(w, p, mm, BigInt(page) * 4096n, 4096n, false, true, PageProt.READWRITE) !== 0n;
    if (ok) st.stackLimitVpn = Math.min(page, vpn);
    st.overflows++;
    p.lastError = lastError;
    return StackCheck.Overflow;
  }
  // StackLimit moves to the old guard page before the new one is committed (*StackLimit = NextPage +
  // RegionSize, then ZwAllocateVirtualMemory): a commit that fails leaves it moved, and overflows
  st.stackLimitVpn = vpn;
  const ok = virtualAlloc(
    w,
    p,
    mm,
    BigInt(next) * 4096n,
    4096n,
    false,
    true,
    PageProt.READWRITE | PageProt.GUARD,
  );
  p.lastError = lastError;
  if (ok === 0n) {
    // no commit left for the new guard page: STATUS_STACK_OVERFLOW
    st.overflows++;
    return StackCheck.Overflow;
  }
  return StackCheck.Grown;
}
