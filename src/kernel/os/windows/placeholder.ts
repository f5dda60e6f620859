/**
 * Placeholders (Windows 10 version 1803 and later): address space reserved
 * with VirtualAlloc2 MEM_RESERVE | MEM_RESERVE_PLACEHOLDER that VirtualFree
 * splits (MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) and coalesces
 * (MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS), and that a private allocation
 * (VirtualAlloc2 MEM_REPLACE_PLACEHOLDER) or a mapped view (MapViewOfFile3
 * MEM_REPLACE_PLACEHOLDER: view.ts) replaces in place; VirtualFree
 * MEM_PRESERVE_PLACEHOLDER and UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER
 * give the range back as a placeholder.
 *
 * The rules are the Win32 pages' (learn.microsoft.com "VirtualAlloc2
 * function", "VirtualFree function", "MapViewOfFile3 function",
 * "UnmapViewOfFile2 function"): "To create a placeholder, call VirtualAlloc2
 * with MEM_RESERVE | MEM_RESERVE_PLACEHOLDER and PageProtection set to
 * PAGE_NOACCESS"; "When you replace a placeholder, BaseAddress and Size
 * must exactly match those of the placeholder"; "To split a placeholder
 * into two placeholders, specify MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER";
 * "When you coalesce placeholders, lpAddress and dwSize must exactly match
 * the overall range of the placeholders to be merged"; "A placeholder is a
 * type of reserved memory region" (VirtualQuery: MEM_RESERVE, MEM_PRIVATE,
 * AllocationProtect PAGE_NOACCESS; a touch is an access violation).
 *
 * The pages name no error codes. The codes here are the NTSTATUS values
 * Windows returns as Wine's conformance tests record them on Windows 10 and
 * 11 (dlls/ntdll/tests/virtual.c test_NtAllocateVirtualMemoryEx,
 * dlls/kernelbase/tests/process.c test_VirtualAlloc2), mapped by
 * RtlNtStatusToDosError: STATUS_INVALID_PARAMETER(_3/_4) -> 87
 * ERROR_INVALID_PARAMETER; STATUS_CONFLICTING_ADDRESSES,
 * STATUS_MEMORY_NOT_ALLOCATED -> 487 ERROR_INVALID_ADDRESS
 * (STATUS_UNABLE_TO_FREE_VM is 87: Wine's dlls/ntdll/error.c table).
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import { charge, fail, WinError, type WinMm } from "./commit.ts";
import { MmProt, makeProtectionMask, mmRights, PageProt } from "./mmpte.ts";
import type { WinProcess } from "./process.ts";
import { Vad } from "./vad.ts";
import { releaseVad, virtualAlloc, virtualFree } from "./virtual.ts";

const PAGE = 4096n;

/** A placeholder VAD over [startVpn, endVpn] (PAGE_NOACCESS, reserved). */
export function newPlaceholder(startVpn: number, endVpn: number): Vad {
  const v = new Vad(startVpn, endVpn, MmProt.NOACCESS, false);
  v.placeholder = true;
  return v;
}

/** The allocation types of VirtualAlloc2 this module adds (winnt.h MEM_*). */
export interface Alloc2Type {
  reserve: boolean;
  commit: boolean;
  /** MEM_RESERVE_PLACEHOLDER (0x40000) */
  reservePlaceholder: boolean;
  /** MEM_REPLACE_PLACEHOLDER (0x4000) */
  replacePlaceholder: boolean;
  writeWatch: boolean;
  /** MEM_TOP_DOWN (0x100000): a reservation with no address placed from the top (virtual.ts) */
  topDown?: boolean;
}

/**
 * VirtualAlloc2 (NtAllocateVirtualMemoryEx). Without a placeholder flag it
 * is VirtualAlloc. MEM_RESERVE_PLACEHOLDER needs MEM_RESERVE, no MEM_COMMIT
 * and PAGE_NOACCESS (else STATUS_INVALID_PARAMETER: 87); the placeholder is
 * placed as a reservation is (64 KB aligned). MEM_REPLACE_PLACEHOLDER needs
 * MEM_RESERVE (87) and an address and size that are exactly a placeholder's
 * (else STATUS_CONFLICTING_ADDRESSES: 487); the placeholder's VAD becomes a
 * private allocation with the protection asked, committed whole with
 * MEM_COMMIT (charged: 1455 past the commit limit, the placeholder left).
 * Returns the base, or 0 with GetLastError.
 */
export function virtualAlloc2(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  type: Alloc2Type,
  protect: number,
): bigint {
  if (type.reservePlaceholder && type.replacePlaceholder) return fail(p, WinError.INVALID_PARAMETER);
  if (type.reservePlaceholder) {
    if (!type.reserve || type.commit || type.writeWatch || protect !== PageProt.NOACCESS)
      return fail(p, WinError.INVALID_PARAMETER);
    const base = virtualAlloc(w, p, mm, addr, size, true, false, protect, false, type.topDown);
    if (base !== 0n) p.vads.locate(Number(base / PAGE))!.placeholder = true;
    return base;
  }
  if (!type.replacePlaceholder)
    return virtualAlloc(
      w,
      p,
      mm,
      addr,
      size,
      type.reserve,
      type.commit,
      protect,
      type.writeWatch,
      type.topDown,
    );
  // MEM_REPLACE_PLACEHOLDER: with MEM_RESERVE only (MEM_COMMIT alone or nothing: STATUS_INVALID_PARAMETER)
  if (!type.reserve) return fail(p, WinError.INVALID_PARAMETER);
  const protection = makeProtectionMask(protect);
  if (protection < 0 || mmRights(protection).copy || size === 0n) return fail(p, WinError.INVALID_PARAMETER);
  const ph = exactPlaceholder(p, addr, size);
  if (ph === null) return fail(p, WinError.INVALID_ADDRESS);
  const vad = new Vad(ph.startVpn, ph.endVpn, protection, type.commit);
  vad.fromPlaceholder = true;
  if (type.writeWatch) vad.writeWatch = new Set();
  if (type.commit && !charge(w, p, vad, vad.nrPages)) return fail(p, WinError.COMMITMENT_LIMIT);
  p.vads.remove(ph);
  p.vads.insert(vad);
  return BigInt(vad.startVpn) * PAGE;
}

/** The placeholder whose range is exactly [addr, addr + size), else null. */
export function exactPlaceholder(p: WinProcess, addr: bigint, size: bigint): Vad | null {
  if (addr % PAGE !== 0n || size === 0n) return null;
  const v = p.vads.locate(Number(addr / PAGE));
  if (v === null || !v.placeholder || BigInt(v.startVpn) * PAGE !== addr) return null;
  return BigInt(v.nrPages) * PAGE === size ? v : null;
}

/**
 * VirtualFree MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER (NtFreeVirtualMemory).
 * dwSize 0: STATUS_INVALID_PARAMETER_3 (87); a mapped view: 87 (its
 * placeholder comes back through UnmapViewOfFile2). Inside a placeholder,
 * the pages of [addr, addr + size) become a placeholder of their own and
 * what is left on each side another (a split; the whole placeholder, or a
 * range leaving it: STATUS_CONFLICTING_ADDRESSES, 487). A private
 * allocation that replaced a placeholder, named by its exact base and
 * size, is released (its pages, PTEs and commit go, as MEM_RELEASE's) and
 * its range is a placeholder again. Any other range: 487.
 */
export function freePreservePlaceholder(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
): boolean {
  if (size === 0n) return !!fail(p, WinError.INVALID_PARAMETER);
  if (addr >= BigInt(w.layout.vadEndVpn) * PAGE) return !!fail(p, WinError.INVALID_PARAMETER);
  const startVpn = Number(addr / PAGE);
  const endVpn = Number((addr + size - 1n) / PAGE);
  const vad = p.vads.locate(startVpn);
  if (vad?.view) return !!fail(p, WinError.INVALID_PARAMETER);
  if (vad === null) return !!fail(p, WinError.INVALID_ADDRESS);
  if (vad.placeholder) {
    if (endVpn > vad.endVpn || (startVpn === vad.startVpn && endVpn === vad.endVpn))
      return !!fail(p, WinError.INVALID_ADDRESS);
    p.vads.remove(vad);
    if (startVpn > vad.startVpn) p.vads.insert(newPlaceholder(vad.startVpn, startVpn - 1));
    p.vads.insert(newPlaceholder(startVpn, endVpn));
    if (endVpn < vad.endVpn) p.vads.insert(newPlaceholder(endVpn + 1, vad.endVpn));
    return true;
  }
  if (!vad.fromPlaceholder || startVpn !== vad.startVpn || endVpn !== vad.endVpn || addr % PAGE !== 0n)
    return !!fail(p, WinError.INVALID_ADDRESS);
  releaseVad(w, p, mm, vad);
  p.vads.insert(newPlaceholder(vad.startVpn, vad.endVpn));
  return true;
}

/**
 * VirtualFree MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS: [addr, addr + size)
 * must be exactly two or more adjacent placeholders, from the first's base
 * to the last's end (else STATUS_CONFLICTING_ADDRESSES: 487; dwSize 0:
 * STATUS_INVALID_PARAMETER_3, 87); they become one.
 */
export function coalescePlaceholders(p: WinProcess, addr: bigint, size: bigint): boolean {
  if (size === 0n) return !!fail(p, WinError.INVALID_PARAMETER);
  const first = p.vads.locate(Number(addr / PAGE));
  if (first === null || !first.placeholder || BigInt(first.startVpn) * PAGE !== addr)
    return !!fail(p, WinError.INVALID_ADDRESS);
  const run: Vad[] = [];
  let bytes = 0n;
  let next: Vad | null = first;
  while (next?.placeholder && bytes < size) {
    run.push(next);
    bytes += BigInt(next.nrPages) * PAGE;
    next = p.vads.locate(next.endVpn + 1);
  }
  if (run.length < 2 || bytes !== size) return !!fail(p, WinError.INVALID_ADDRESS);
  for (const v of run) p.vads.remove(v);
  p.vads.insert(newPlaceholder(first.startVpn, run[run.length - 1].endVpn));
  return true;
}

/** VirtualFree's dwFreeType bits (winnt.h). */
export const enum FreeType {
  COALESCE_PLACEHOLDERS = 0x1,
  PRESERVE_PLACEHOLDER = 0x2,
  DECOMMIT = 0x4000,
  RELEASE = 0x8000,
}

/**
 * VirtualFree with any dwFreeType (NtFreeVirtualMemory): exactly one of
 * MEM_DECOMMIT and MEM_RELEASE; MEM_PRESERVE_PLACEHOLDER or
 * MEM_COALESCE_PLACEHOLDERS (one of them) only with MEM_RELEASE
 * (STATUS_INVALID_PARAMETER_4: 87). TRUE or FALSE with GetLastError.
 */
export function virtualFreeEx(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  freeType: number,
): boolean {
  const release = (freeType & FreeType.RELEASE) !== 0;
  const decommit = (freeType & FreeType.DECOMMIT) !== 0;
  const ph = freeType & (FreeType.COALESCE_PLACEHOLDERS | FreeType.PRESERVE_PLACEHOLDER);
  const known =
    FreeType.RELEASE | FreeType.DECOMMIT | FreeType.COALESCE_PLACEHOLDERS | FreeType.PRESERVE_PLACEHOLDER;
  if (release === decommit || (freeType & ~known) !== 0) return !!fail(p, WinError.INVALID_PARAMETER);
  if (ph === 0) return virtualFree(w, p, mm, addr, size, release);
  if (!release || ph === (FreeType.COALESCE_PLACEHOLDERS | FreeType.PRESERVE_PLACEHOLDER))
    return !!fail(p, WinError.INVALID_PARAMETER);
  return ph === FreeType.COALESCE_PLACEHOLDERS
    ? coalescePlaceholders(p, addr, size)
    : freePreservePlaceholder(w, p, mm, addr, size);
}
