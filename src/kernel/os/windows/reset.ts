/**
 * VirtualAlloc MEM_RESET and MEM_RESET_UNDO (NtAllocateVirtualMemory's
 * MiResetVirtualMemory, WRK mm/allocvm.c; the VirtualAlloc page).
 *
 * MEM_RESET: "data in the memory range ... is no longer of interest. The
 * pages should not be read from or written to the paging file. However,
 * the memory block will be used again later, so it should not be
 * decommitted. This value cannot be used with any other value"; "does not
 * guarantee that the range ... will contain zeros"; "the VirtualAlloc
 * function ignores the value of flProtect. However, you must still set
 * flProtect to a valid protection value"; "VirtualAlloc returns an error
 * if you use MEM_RESET and the range of memory is mapped to a file. A
 * shared view is only acceptable if it is mapped to a paging file". The
 * WRK, page by page (its comment: "if the pages are in a paging file, they
 * are discarded and if referenced later, pages of zeroes are materialized.
 * If the pages are in memory and modified, they are marked as not modified
 * so they will not be written out to the paging file. The contents are NOT
 * zeroed"):
 *
 * - the range is rounded inwards, "so good data is not reset": from the
 *   first page boundary at or above the address to the last one at or
 *   below its end; less than a page is STATUS_CONFLICTING_ADDRESSES (487),
 *   as is a range not inside one VAD; a view of a file (or an image) is
 *   STATUS_USER_MAPPED_FILE (1224 ERROR_USER_MAPPED_FILE);
 * - a valid page stays in the working set, its PTE's dirty and accessed
 *   bits cleared (the accessed bit so that it is the first to be trimmed:
 *   an accessed page's WSLE goes to age 3, MI_MAXIMUM_AGE);
 *   if only this process maps it its PFN loses Modified and its paging-file
 *   copy: trimmed, it goes to the standby list, not the modified list, and
 *   the modified page writer never writes it;
 * - a transition page on the modified list (mapped by no one) loses
 *   Modified and moves to the standby list;
 * - a page in the paging file: the copy is released and the PTE becomes
 *   demand-zero (PageFileHigh 0): the next touch reads zeros;
 * - a view's page through its prototype PTE (MMPTE_PROTOTYPE in the
 *   process): the prototype PTE is treated the same way;
 * - a standby page with no copy whose frame is reused becomes demand-zero
 *   (pfn.ts repurpose): until then a touch gets the old bytes back (a
 *   soft fault).
 *
 * vmlab also puts a valid page's dirty bit into the write-watch bitmap
 * before clearing it (the WRK clears it without), so GetWriteWatch still
 * reports the write.
 *
 * MEM_RESET_UNDO (Windows 8 and later, not in the WRK; the VirtualAlloc
 * page): "should only be called on an address range to which MEM_RESET
 * was successfully applied earlier ... attempts to reverse the effects of
 * MEM_RESET. If the function succeeds, that means all data in the
 * specified address range is intact. If the function fails, at least some
 * of the data in the address range has been replaced with zeroes." vmlab:
 * the same range rules as MEM_RESET; each page still in memory is marked
 * Modified again (a standby page with no copy goes back to the modified
 * list), so it will be written before its frame is reused; a page whose
 * frame was reused (WinProcess.resetLost) makes the call fail. The page
 * does not name the error: vmlab returns ERROR_INVALID_ADDRESS (487).
 */

import { PteFlag } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { fail, WinError } from "./commit.ts";
import { X64K } from "./layout.ts";
import {
  makeProtectionMask,
  mkDemandZero,
  pageFileOffset,
  SoftKind,
  softKind,
  softProtection,
  transitionPfn,
} from "./mmpte.ts";
import { pageRuns } from "./pages.ts";
import { PfnList } from "./pfn.ts";
import { getPte, setPte, type WinProcess, widePtes, winProcess } from "./process.ts";
import { readProto, writeProto } from "./section.ts";
import type { Vad } from "./vad.ts";
import type { WinMm } from "./virtual.ts";
import { MI_MAXIMUM_AGE } from "./wsmanager.ts";

const PAGE = 4096n;

/** ERROR_USER_MAPPED_FILE: STATUS_USER_MAPPED_FILE (winerror.h). */
export const ERROR_USER_MAPPED_FILE = 1224;

/**
 * VirtualAlloc(addr, size, MEM_RESET or MEM_RESET_UNDO, protect): the
 * base of the pages reset (the address rounded up to a page), or 0 with
 * GetLastError.
 */
export function memReset(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  protect: number,
  undo: boolean,
): bigint {
  // the protection is ignored, but must be valid (STATUS_INVALID_PAGE_PROTECTION)
  if (makeProtectionMask(protect) < 0) return fail(p, WinError.INVALID_PARAMETER);
  const vadEnd = BigInt(w.layout.vadEndVpn) * PAGE;
  if (size === 0n || addr < BigInt(X64K) || addr >= vadEnd || vadEnd - addr < size)
    return fail(p, WinError.INVALID_PARAMETER);
  // rounded inwards, "so good data is not reset"
  const startVpn = Number((addr + PAGE - 1n) / PAGE);
  const endVpn = Number((addr + size) / PAGE) - 1;
  if (startVpn > endVpn) return fail(p, WinError.INVALID_ADDRESS);
  const vad = p.vads.conflicting(startVpn, endVpn);
  if (vad === null || startVpn < vad.startVpn || endVpn > vad.endVpn)
    return fail(p, WinError.INVALID_ADDRESS);
  // "Only page file backed sections can be reset"
  if (vad.view !== null && vad.view.section.file !== null) return fail(p, ERROR_USER_MAPPED_FILE);
  let lost = false;
  for (const r of pageRuns(w.k, w.db, mm, vad, startVpn, endVpn)) {
    if (r.n > 1) continue; // no page table: every PTE zero, nothing to reset
    if (undo) lost = undoPage(w, p, mm, r.vpn) || lost;
    else {
      // a new reset: only a reuse after it counts against MEM_RESET_UNDO
      p.resetLost.delete(r.vpn);
      resetPage(w, mm, vad, r.vpn);
    }
  }
  if (lost) return fail(p, WinError.INVALID_ADDRESS);
  return BigInt(startVpn) * PAGE;
}

/** One page of MiResetVirtualMemory. */
function resetPage(w: WinMm, mm: MmStruct, vad: Vad, vpn: number): void {
  const k = w.k;
  const pt = k.arch.pgtable;
  const db = w.db;
  const wide = widePtes(k);
  const pte = getPte(k, mm, vpn);
  if (pt.accessible(pte.hi, pte.lo)) {
    const pfn = pt.pfn(pte.hi, pte.lo, 0);
    const dirty = pt.dirty(pte.hi, pte.lo);
    if (dirty && vad.writeWatch !== null) vad.writeWatch.add(vpn - vad.startVpn);
    // an accessed page: the bit cleared "in both the PTE and the WSLE so we know it's more worthwhile to
    // trim" (MI_SET_ACCESSED_IN_PTE 0 below, MmWsle[...].u1.e1.Age = 3); one already clear keeps its age
    // ("it is already getting aged")
    if (pt.young(pte.hi, pte.lo)) winProcess(mm).wsAge.set(vpn, MI_MAXIMUM_AGE);
    // only this process maps it: not modified, its copy discarded
    if (k.pages.mapcount[pfn] <= 1) forgetContents(w, pfn);
    const e = pt.modify(pte.hi, pte.lo, 0, PteFlag.DIRTY | PteFlag.YOUNG);
    setPte(k, mm, vpn, e.hi, e.lo);
    k.tlbMgr.flushTlbMmRange(mm, vpn, 1, k.runningCpu);
    return;
  }
  const kind = softKind(pte.hi, pte.lo, wide);
  if (vad.view !== null && kind === SoftKind.Prototype) {
    // the prototype PTE is evaluated instead (the view of a paging-file section)
    const v = vad.view;
    const index = v.firstPage + vpn - vad.startVpn;
    const proto = readProto(k, v.section, index);
    const pk = pt.accessible(proto.hi, proto.lo) ? -1 : softKind(proto.hi, proto.lo, wide);
    if (pk === SoftKind.Transition) resetTransition(w, transitionPfn(proto.hi, proto.lo));
    else if (pk === SoftKind.PageFile) {
      db.pagefile.release(pageFileOffset(proto.hi, proto.lo, wide));
      const e = mkDemandZero(softProtection(proto.lo));
      writeProto(k, v.section, index, e.hi, e.lo);
    }
    return;
  }
  if (kind === SoftKind.Transition) resetTransition(w, transitionPfn(pte.hi, pte.lo));
  else if (kind === SoftKind.PageFile) {
    // the copy is discarded: the page reads as zeros from now on
    db.pagefile.release(pageFileOffset(pte.hi, pte.lo, wide));
    const e = mkDemandZero(softProtection(pte.lo));
    setPte(k, mm, vpn, e.hi, e.lo);
  }
}

/** A transition page: from the modified list (mapped by no one) to the standby list, not modified. */
function resetTransition(w: WinMm, pfn: number): void {
  const db = w.db;
  // (a page on the modified list is referenced by no valid PTE: ReferenceCount 0 but during I/O)
  if (db.list[pfn] !== PfnList.Modified) return;
  const owner = db.owners.get(pfn)!;
  db.unlink(pfn);
  forgetContents(w, pfn);
  db.enlist(pfn, owner);
}

/** MI_SET_MODIFIED (Pfn, 0) and MiReleasePageFileSpace. */
function forgetContents(w: WinMm, pfn: number): void {
  const db = w.db;
  db.modified[pfn] = 0;
  if (db.pageFileOffset[pfn] > 0) db.pagefile.release(db.pageFileOffset[pfn]);
  db.pageFileOffset[pfn] = 0;
}

/** One page of MEM_RESET_UNDO: true when its data is gone (its frame was reused). */
function undoPage(w: WinMm, p: WinProcess, mm: MmStruct, vpn: number): boolean {
  const k = w.k;
  const db = w.db;
  if (p.resetLost.delete(vpn)) return true;
  const pte = getPte(k, mm, vpn);
  const pt = k.arch.pgtable;
  let pfn = -1;
  if (pt.accessible(pte.hi, pte.lo)) pfn = pt.pfn(pte.hi, pte.lo, 0);
  else if (softKind(pte.hi, pte.lo, widePtes(k)) === SoftKind.Transition) pfn = transitionPfn(pte.hi, pte.lo);
  // a private page still in memory with no copy: of interest again, so modified (written before reuse)
  if (pfn < 0 || db.modified[pfn] === 1 || db.pageFileOffset[pfn] > 0 || k.pages.mapcount[pfn] > 1)
    return false;
  if (db.list[pfn] === PfnList.Standby) {
    const owner = db.owners.get(pfn)!;
    db.unlink(pfn);
    db.modified[pfn] = 1;
    db.enlist(pfn, owner);
  } else db.modified[pfn] = 1;
  return false;
}
