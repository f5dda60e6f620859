/**
 * QueryWorkingSet (psapi.h; NtQueryVirtualMemory MemoryWorkingSetInformation,
 * the WRK's mm/queryvm.c MiGetWorkingSetInfo): the working-set list as a
 * PSAPI_WORKING_SET_INFORMATION, NumberOfEntries (the working set's size,
 * Vm.WorkingSetSize) and one PSAPI_WORKING_SET_BLOCK per valid WSLE, in
 * the list's order, as the Win32 "PSAPI_WORKING_SET_BLOCK union" page lays
 * its bits out:
 *
 * - Protection (bits 0-4): the page's MM_* protection, five bits ("1
 *   Read-only", "4 Read/write", "5 Copy-on-write", 8 and up the
 *   non-cacheable, 16 and up the guard, 24 and up the non-cacheable guard
 *   (write-combine) forms). MiGetWorkingSetInfo: a private page's is its
 *   PFN's OriginalPte protection (MI_GET_PROTECTION_FROM_SOFT_PTE); a
 *   shared one's the WSLE's Protection when VirtualProtect gave it one
 *   (not MM_ZERO_ACCESS), else the OriginalPte's: the prototype's.
 * - ShareCount (bits 5-7): "The number of processes that share this page.
 *   The maximum value of this member is 7": a private page 0
 *   (`PrototypePte == 0`), a section's frame its PFN ShareCount (mapcount
 *   here) capped at 7.
 * - Shared (bit 8): "If this bit is 1, the page is sharable": the frame's
 *   PrototypePte (a section's frame, not a private copy-on-write copy).
 * - Reserved (bits 9-11; the kernel's MEMORY_WORKING_SET_BLOCK Node): 0
 *   (one node).
 * - VirtualPage (bits 12-31 on 32-bit Windows, 12-63 on 64-bit): "The
 *   address of the page in the virtual address space": the WSLE's
 *   VirtualPageNumber, so the block's value masked with ~0xFFF is the
 *   page's address.
 *
 * The order: the WSLEs below FirstDynamic (the pages VirtualLock locked)
 * come first, then the others in the order they entered the list (vmlab's
 * list is ordered by arrival; the WRK's by WSLE index, which a free slot's
 * reuse breaks). Not in the list, as on Windows: large pages (a PDE that
 * maps one has no WSLE). Not modelled: the page-table pages and the
 * working-set list's own pages, which Windows charges to the process's
 * working set and lists here (vmlab keeps them outside it): NumberOfEntries
 * counts the user pages only.
 *
 * The buffer's size `cb` (bytes; default: large enough): below
 * sizeof(ULONG_PTR) NtQueryVirtualMemory refuses it before it writes
 * anything (STATUS_INFO_LENGTH_MISMATCH, NumberOfEntries not written: 0
 * here); below sizeof(MEMORY_WORKING_SET_INFORMATION) + (WorkingSetSize -
 * 1) * sizeof(ULONG_PTR) MiGetWorkingSetInfo writes NumberOfEntries and
 * fails with STATUS_INFO_LENGTH_MISMATCH, no block written (the QueryWorkingSet
 * page: "the function fails with ERROR_BAD_LENGTH ... NumberOfEntries ...
 * is set to the required number of entries"). Either way FALSE with
 * GetLastError ERROR_BAD_LENGTH (24, RtlNtStatusToDosError's). ULONG_PTR is
 * 8 bytes on x64, 4 on x86 (PAE too); an empty list (which Windows never
 * has: its page tables are in it) needs the structure's size, two ULONG_PTRs.
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import type { WinMm } from "./commit.ts";
import { win32Protection } from "./mmpte.ts";
import { pageState, sharedFrame } from "./pages.ts";
import type { WinProcess } from "./process.ts";

/** One PSAPI_WORKING_SET_BLOCK, decoded, with its Flags word (a ULONG_PTR). */
export interface WorkingSetBlock {
  flags: bigint;
  protection: number;
  /** the protection as PAGE_* (what VirtualQuery would say; not a field of the block) */
  win32Protection: number;
  shareCount: number;
  shared: boolean;
  virtualPage: number;
}

/** PSAPI_WORKING_SET_INFORMATION, and what QueryWorkingSet returned. */
export interface WorkingSetInformation {
  /** TRUE, or FALSE with GetLastError ERROR_BAD_LENGTH (the buffer too small; no block written) */
  ok: boolean;
  numberOfEntries: number;
  workingSetInfo: WorkingSetBlock[];
}

/** ERROR_BAD_LENGTH (winerror.h): RtlNtStatusToDosError(STATUS_INFO_LENGTH_MISMATCH). */
export const ERROR_BAD_LENGTH = 24;

/** NtQueryVirtualMemory(MemoryWorkingSetInformation) and MiGetWorkingSetInfo over p's working-set list, into cb bytes. */
export function queryWorkingSet(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  cb = Number.POSITIVE_INFINITY,
): WorkingSetInformation {
  // sizeof(ULONG_PTR): 8 with x64's four-level tables, 4 on x86 (two levels, or three with PAE)
  const ulongPtr = w.k.arch.pgtable.levels >= 4 ? 8 : 4;
  if (cb < ulongPtr) {
    p.lastError = ERROR_BAD_LENGTH;
    return { ok: false, numberOfEntries: 0, workingSetInfo: [] };
  }
  // Info->NumberOfEntries = WsSize, then the length check: sizeof(MEMORY_WORKING_SET_INFORMATION) +
  // (WsSize - 1) * sizeof(ULONG_PTR), the structure holding one block already
  const size = p.ws.size;
  if (cb < ulongPtr * (1 + Math.max(size, 1))) {
    p.lastError = ERROR_BAD_LENGTH;
    return { ok: false, numberOfEntries: size, workingSetInfo: [] };
  }
  const order: number[] = [];
  for (const vpn of p.ws) if (p.locked.has(vpn)) order.push(vpn);
  for (const vpn of p.ws) if (!p.locked.has(vpn)) order.push(vpn);
  const workingSetInfo = order.map((vpn): WorkingSetBlock => {
    const vad = p.vads.locate(vpn)!;
    const s = pageState(w.k, w.db, mm, vad, vpn);
    const shared = sharedFrame(w.k, vad, s.pfn);
    const shareCount = shared ? Math.min(7, w.k.pages.mapcount[s.pfn]) : 0;
    const protection = s.protection & 0x1f;
    const flags = BigInt(protection | (shareCount << 5) | (shared ? 1 << 8 : 0)) | (BigInt(vpn) << 12n);
    return {
      flags,
      protection,
      win32Protection: win32Protection(protection),
      shareCount,
      shared,
      virtualPage: vpn,
    };
  });
  return { ok: true, numberOfEntries: workingSetInfo.length, workingSetInfo };
}
