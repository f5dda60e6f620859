/**
 * QueryWorkingSetEx (psapi.h; NtQueryVirtualMemory MemoryWorkingSetExInformation):
 * one PSAPI_WORKING_SET_EX_BLOCK per page asked, as the Win32
 * "PSAPI_WORKING_SET_EX_BLOCK union" page defines its bits:
 *
 * - Valid (bit 0): "If this bit is 1, the subsequent members are valid;
 *   otherwise they should be ignored" — the page is in the working set (a
 *   valid PTE).
 * - ShareCount (bits 1-3): "The number of processes that share this page.
 *   The maximum value of this member is 7": a section frame's mappings
 *   (its PFN ShareCount, `mapcount` here), capped at 7; a private page 0
 *   (WRK mm/queryvm.c MiGetWorkingSetInfoList: "if
 *   (Pfn1->u3.e1.PrototypePte == 0) ShareCount = 0"; Wine's
 *   dlls/psapi/tests/psapi_main.c test_QueryWorkingSetEx, passing on
 *   Windows: a valid page that is not Shared has ShareCount 0).
 * - Win32Protection (bits 4-14): the page's protection (PAGE_*), as
 *   VirtualQuery reports it.
 * - Shared (bit 15): "If this bit is 1, the page can be shared": a view's
 *   page mapping the section's frame (not a private copy-on-write copy).
 * - Node (bits 16-21): the NUMA node: 0 (vmlab has one).
 * - Locked (bit 22): "If this bit is 1, the virtual page is locked in
 *   physical memory": VirtualLock's pages (lock.ts).
 * - LargePage (bit 23): "If this bit is 1, the page is a large page": a
 *   MEM_LARGE_PAGES page (largepage.ts), reported Valid and Locked, its
 *   protection the VAD's, ShareCount 0 (MiGetWorkingSetInfoList: a PDE
 *   that maps a large page has no WSLE; "Locked = 1").
 * - Priority (bits 24-26, in the union's Reserved bits 24-30): the page
 *   priority of its frame (MMPFN.u3.e1.Priority: pfn.ts), 0-7. The Win32
 *   page calls bits 24-30 Reserved; the kernel's own
 *   MEMORY_WORKING_SET_EX_BLOCK (NtQueryVirtualMemory
 *   MemoryWorkingSetExInformation, which QueryWorkingSetEx returns as is;
 *   System Informer's phnt ntmmapi.h, from the kernel's symbols) has
 *   `Priority : 3` there, after LargePage. A large page's Priority is its
 *   frame's too (MiGetWorkingSetInfoList: MI_GET_PFN_PRIORITY of the frame
 *   at the address), the page priority of the thread whose VirtualAlloc
 *   allocated it (largepage.ts).
 * - Bad (bit 31): "the page is has been reported as bad": 0.
 *
 * A page not in the working set has Valid 0 and the Invalid layout: the
 * Win32 page gives Shared (bit 15) and Bad (bit 31); Shared is 1 for a
 * view's page that would map the section's frame (its PTE zero, a
 * prototype pointer or MI_PTE_LOOKUP_NEEDED), 0 for private memory and for
 * a trimmed private copy. The kernel's layout (phnt) has more in the
 * Reserved bits, and vmlab fills them for the page's own PTE:
 * Location (bits 22-23, MEMORY_WORKING_SET_EX_LOCATION): 1
 * MemoryLocationResident for a transition PTE (the frame still in memory:
 * on the standby or modified list, or held by VirtualProtect's
 * PAGE_NOACCESS/PAGE_GUARD), 2 MemoryLocationPagefile for a paging-file
 * PTE, else 0; Priority (bits 24-26) of a resident frame; ModifiedList
 * (bit 27) when that frame is on the modified list. PageTable (bit 21),
 * SharedOriginal (bit 30) and, for a view's page, where the section's
 * frame is (its prototype PTE) are not modelled: 0. On 64-bit Windows the
 * upper 32 bits are 0.
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import type { WinMm } from "./commit.ts";
import { largePageFrame } from "./largepage.ts";
import { SoftKind, win32Protection } from "./mmpte.ts";
import { pageState, sharedFrame } from "./pages.ts";
import { PfnList } from "./pfn.ts";
import type { WinProcess } from "./process.ts";

/** PSAPI_WORKING_SET_EX_BLOCK, decoded, with its Flags word. */
export interface WorkingSetExBlock {
  flags: number;
  valid: boolean;
  shareCount: number;
  win32Protection: number;
  shared: boolean;
  node: number;
  locked: boolean;
  largePage: boolean;
  /** the page priority (bits 24-26): a valid page's, or a resident invalid page's */
  priority: number;
  /** Invalid.Location (bits 22-23): 0 invalid, 1 resident (transition), 2 in the paging file */
  location: number;
  /** Invalid.ModifiedList (bit 27): the resident frame is on the modified list */
  modifiedList: boolean;
  bad: boolean;
}

/** MEMORY_WORKING_SET_EX_LOCATION (phnt ntmmapi.h). */
export const enum WsExLocation {
  Invalid = 0,
  Resident = 1,
  Pagefile = 2,
}

/** The block of the page holding `addr` (PSAPI_WORKING_SET_EX_INFORMATION.VirtualAttributes). */
export function queryWorkingSetEx(w: WinMm, p: WinProcess, mm: MmStruct, addr: bigint): WorkingSetExBlock {
  const vpn = Number(addr / 4096n);
  const vad = p.vads.locate(vpn);
  const b: WorkingSetExBlock = {
    flags: 0,
    valid: false,
    shareCount: 0,
    win32Protection: 0,
    shared: false,
    node: 0,
    locked: false,
    largePage: false,
    priority: 0,
    location: WsExLocation.Invalid,
    modifiedList: false,
    bad: false,
  };
  if (vad === null) return b;
  const s = pageState(w.k, w.db, mm, vad, vpn);
  if (vad.largePages) {
    // MiGetWorkingSetInfoList: a PDE mapping a large page: Valid, LargePage, Locked, the VAD's protection,
    // Shared from the frame's PrototypePte (a private large page: 0, ShareCount 0), Node the frame's colour,
    // Priority MI_GET_PFN_PRIORITY of the 4K frame at the address (PDE frame + MiGetPteOffset)
    b.valid = b.locked = b.largePage = true;
    b.win32Protection = win32Protection(s.protection);
    b.priority = w.db.priority[largePageFrame(w.k, mm, vpn)];
    b.flags = (1 | (b.win32Protection << 4) | (1 << 22) | (1 << 23) | (b.priority << 24)) >>> 0;
    return b;
  }
  if (s.valid && p.ws.has(vpn)) {
    b.valid = true;
    b.shared = sharedFrame(w.k, vad, s.pfn);
    b.shareCount = b.shared ? Math.min(7, w.k.pages.mapcount[s.pfn]) : 0;
    b.win32Protection = win32Protection(s.protection);
    b.locked = p.locked.has(vpn);
    b.priority = w.db.priority[s.pfn];
    b.flags =
      (1 |
        (b.shareCount << 1) |
        (b.win32Protection << 4) |
        (b.shared ? 1 << 15 : 0) |
        (b.locked ? 1 << 22 : 0) |
        (b.priority << 24)) >>>
      0;
    return b;
  }
  // Invalid: a view's page still backed by the section (not a trimmed private copy) can be shared
  b.shared = vad.view !== null && s.kind !== SoftKind.Transition && s.kind !== SoftKind.PageFile;
  if (s.kind === SoftKind.Transition && s.pfn >= 0) {
    b.location = WsExLocation.Resident;
    b.priority = w.db.priority[s.pfn];
    b.modifiedList = w.db.list[s.pfn] === PfnList.Modified;
  } else if (s.kind === SoftKind.PageFile) b.location = WsExLocation.Pagefile;
  b.flags =
    ((b.shared ? 1 << 15 : 0) | (b.location << 22) | (b.priority << 24) | (b.modifiedList ? 1 << 27 : 0)) >>>
    0;
  return b;
}
