/**
 * VirtualAlloc's flAllocationType as NtAllocateVirtualMemory checks it
 * before anything else (WRK mm/allocvm.c, "Check the AllocationType for
 * correctness"), then the call it names: MEM_RESET or MEM_RESET_UNDO
 * (reset.ts) or a reservation and/or commit (virtual.ts), MEM_TOP_DOWN
 * placing a reservation with no address from the top down
 * (MiFindEmptyAddressRangeDown).
 *
 * - A bit NtAllocateVirtualMemory does not know is STATUS_INVALID_PARAMETER_5
 *   (87): MEM_RESERVE_PLACEHOLDER and MEM_REPLACE_PLACEHOLDER are
 *   VirtualAlloc2's (NtAllocateVirtualMemoryEx) and refused here (Wine's
 *   dlls/ntdll/tests/virtual.c test_NtAllocateVirtualMemory and
 *   test_NtAllocateVirtualMemoryEx, measured on Windows 10: "MEM_RESERVE |
 *   MEM_RESERVE_PLACEHOLDER" is STATUS_INVALID_PARAMETER; AT_ROUND_TO_PAGE
 *   is too). MEM_PHYSICAL (AWE) is not modelled: it is refused as unknown.
 * - MEM_LARGE_PAGES: "Large page address spaces must be committed and cannot
 *   be combined with physical, reset or write watch": without MEM_COMMIT,
 *   or with MEM_WRITE_WATCH, 87 (a reset is refused with any other bit
 *   anyway); then largepage.ts. With MEM_COMMIT alone at an address (no
 *   MEM_RESERVE) the WRK takes the commit path, which ignores the bit.
 * - "One of MEM_COMMIT, MEM_RESET or MEM_RESERVE must be set": else 87.
 * - "MEM_RESET may not be used with any other flag" (the VirtualAlloc page:
 *   "This value cannot be used with any other value"): 87, MEM_RESET_UNDO
 *   likewise (vmlab: the page names no rule for it; Windows 8 added it
 *   beside MEM_RESET).
 * - MEM_WRITE_WATCH without MEM_RESERVE: 87 (virtual.ts).
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import { fail, WinError, type WinMm } from "./commit.ts";
import { allocLargePages, ERROR_PRIVILEGE_NOT_HELD } from "./largepage.ts";
import type { WinProcess } from "./process.ts";
import { memReset } from "./reset.ts";
import { virtualAlloc } from "./virtual.ts";

/** flAllocationType's bits (winnt.h MEM_*). */
export const enum MemType {
  COMMIT = 0x1000,
  RESERVE = 0x2000,
  REPLACE_PLACEHOLDER = 0x4000,
  RESERVE_PLACEHOLDER = 0x40000,
  RESET = 0x80000,
  TOP_DOWN = 0x100000,
  WRITE_WATCH = 0x200000,
  RESET_UNDO = 0x1000000,
  LARGE_PAGES = 0x20000000,
}

/** VirtualAlloc(addr, size, type, protect): the base, or 0 with GetLastError. */
export function virtualAllocType(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  type: number,
  protect: number,
): bigint {
  const known =
    MemType.COMMIT |
    MemType.RESERVE |
    MemType.RESET |
    MemType.RESET_UNDO |
    MemType.TOP_DOWN |
    MemType.WRITE_WATCH |
    MemType.LARGE_PAGES;
  if ((type & ~known) !== 0) return fail(p, WinError.INVALID_PARAMETER);
  if ((type & (MemType.COMMIT | MemType.RESERVE | MemType.RESET | MemType.RESET_UNDO)) === 0)
    return fail(p, WinError.INVALID_PARAMETER);
  if (type & (MemType.RESET | MemType.RESET_UNDO)) {
    if (type !== MemType.RESET && type !== MemType.RESET_UNDO) return fail(p, WinError.INVALID_PARAMETER);
    return memReset(w, p, mm, addr, size, protect, type === MemType.RESET_UNDO);
  }
  if (type & MemType.LARGE_PAGES) {
    if ((type & MemType.COMMIT) === 0 || type & MemType.WRITE_WATCH)
      return fail(p, WinError.INVALID_PARAMETER);
    if ((type & MemType.RESERVE) !== 0 || addr === 0n)
      return allocLargePages(w, p, mm, addr, size, protect, (type & MemType.TOP_DOWN) !== 0);
    // the commit path: SeLockMemoryPrivilege is checked before it, the bit ignored in it
    if (!p.lockMemoryPrivilege) return fail(p, ERROR_PRIVILEGE_NOT_HELD);
  }
  return virtualAlloc(
    w,
    p,
    mm,
    addr,
    size,
    (type & MemType.RESERVE) !== 0,
    (type & MemType.COMMIT) !== 0,
    protect,
    (type & MemType.WRITE_WATCH) !== 0,
    (type & MemType.TOP_DOWN) !== 0,
  );
}
