/**
 * One page of a reservation as the memory manager sees it: committed or
 * not, its protection, and its frame, read from the PTE and the VAD
 * (Windows Internals 7th ed., Part 1, ch. 5 "Reserving and committing pages",
 * "Invalid PTEs"); and the edits VirtualAlloc, VirtualFree and
 * VirtualProtect make to it.
 */
import { vpnUnchecked } from "../../../base/units.ts";
import type { KernelCore } from "../../core/core.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { VmFlag } from "../../mm/vma.ts";
import { largePageFrame } from "./largepage.ts";
import {
  cacheBits,
  isGuard,
  MmProt,
  mkDecommitted,
  mkDemandZero,
  mkPageFile,
  mkTransition,
  mmRights,
  pageFileOffset,
  protoLookupProtection,
  SoftKind,
  softKind,
  softProtection,
  transitionPfn,
} from "./mmpte.ts";
import type { PfnDatabase } from "./pfn.ts";
import { getPte, pteValid, setPte, type WinProcess, widePtes, winProcess } from "./process.ts";
import { protoCommitted } from "./section.ts";
import { type Vad, VadType } from "./vad.ts";

/**
 * The MM_* protection of page vpn of a mapped view (what the view grants a
 * shared page): an image's page protection (from its section headers),
 * else the view's (MapViewOfFile's access).
 */
export function viewPageProtection(vad: Vad, vpn: number): number {
  const v = vad.view!;
  return vad.type === VadType.Image
    ? v.section.protectionOf(v.firstPage + vpn - vad.startVpn)
    : vad.protection;
}

/**
 * A page of a mapped view: committed when its prototype PTE is (every page
 * but a SEC_RESERVE section's not yet committed ones). Its protection
 * (WRK mm/protect.c MiGetPageProtection): a valid PTE maps a section frame
 * (the WSLE's protection if VirtualProtect set one, else the view's) or,
 * after a copy-on-write, a private one (its own, in the PFN's
 * OriginalPte); an MI_PTE_LOOKUP_NEEDED PTE holds it itself; an all-zero
 * or MMPTE_PROTOTYPE PTE leaves it to the view; a trimmed private copy is
 * a transition or paging-file PTE, as private memory's.
 */
function viewPageState(
  k: KernelCore,
  db: PfnDatabase,
  mm: MmStruct,
  vad: Vad,
  vpn: number,
  hi: number,
  lo: number,
): PageState {
  const prot = viewPageProtection(vad, vpn);
  if (pteValid(k, hi, lo)) {
    const pfn = k.arch.pgtable.pfn(hi, lo, 0);
    const own = k.pages.kind[pfn] === PageKind.UserAnon;
    return {
      committed: true,
      protection: own ? db.originalProtection[pfn] : (winProcess(mm).wsProtection.get(vpn) ?? prot),
      valid: true,
      pfn,
      kind: -1,
    };
  }
  const wide = widePtes(k);
  const kind = softKind(hi, lo, wide);
  if (kind === SoftKind.Transition || kind === SoftKind.PageFile) return trimmedPage(hi, lo, kind);
  // the prototype PTE decides: a SEC_RESERVE section's page is committed once VirtualAlloc committed it
  const v = vad.view!;
  if (!protoCommitted(k, v.section, v.firstPage + vpn - vad.startVpn))
    return { committed: false, protection: 0, valid: false, pfn: -1, kind };
  const own = kind === SoftKind.Prototype ? protoLookupProtection(hi, lo, wide) : -1;
  return { committed: true, protection: own >= 0 ? own : prot, valid: false, pfn: -1, kind };
}

/** Is a valid PTE's frame a section's (shared) rather than the process's own (a private page or copy)? */
export function sharedFrame(k: KernelCore, vad: Vad, pfn: number): boolean {
  return vad.view !== null && k.pages.kind[pfn] !== PageKind.UserAnon;
}

/** One page's state. */
export interface PageState {
  committed: boolean;
  /** its MM_* protection (0 when not committed) */
  protection: number;
  /** the PTE is valid (hardware present) */
  valid: boolean;
  /** the frame behind a valid or transition PTE, else -1 */
  pfn: number;
  /** what the invalid PTE is (SoftKind), for a valid one -1 */
  kind: number;
}

/** The state of page vpn of `vad`. */
export function pageState(k: KernelCore, db: PfnDatabase, mm: MmStruct, vad: Vad, vpn: number): PageState {
  // a large page: valid, its frame in the PDE's large page (largepage.ts)
  if (vad.largePages)
    return {
      committed: true,
      protection: vad.protection,
      valid: true,
      pfn: largePageFrame(k, mm, vpn),
      kind: -1,
    };
  const { hi, lo } = getPte(k, mm, vpn);
  if (vad.view !== null) return viewPageState(k, db, mm, vad, vpn, hi, lo);
  if (pteValid(k, hi, lo)) {
    const pfn = k.arch.pgtable.pfn(hi, lo, 0);
    return { committed: true, protection: db.originalProtection[pfn], valid: true, pfn, kind: -1 };
  }
  const kind = softKind(hi, lo, widePtes(k));
  switch (kind) {
    case SoftKind.Zero:
      // an all-zero PTE: the VAD says (MemCommit: committed with the VAD's protection)
      return {
        committed: vad.memCommit,
        protection: vad.memCommit ? vad.protection : 0,
        valid: false,
        pfn: -1,
        kind,
      };
    case SoftKind.Decommitted:
      return { committed: false, protection: 0, valid: false, pfn: -1, kind };
    default:
      return trimmedPage(hi, lo, kind);
  }
}

/**
 * A committed page out of the working set, its protection in the software
 * PTE: a transition PTE names its frame (on the standby or modified list),
 * a paging-file PTE none (MiResolveTransitionFault, MiResolvePageFileFault).
 */
function trimmedPage(hi: number, lo: number, kind: number): PageState {
  const pfn = kind === SoftKind.Transition ? transitionPfn(hi, lo) : -1;
  return { committed: true, protection: softProtection(lo), valid: false, pfn, kind };
}

/**
 * The first vpn at or after `vpn` whose PTE may be non-zero: `vpn` itself
 * when its page table exists, else the end of the span a missing table
 * would have covered (every PTE in it reads as zero). Lets a walk over a
 * reservation of terabytes cost what its page tables hold.
 */
export function emptySpanEnd(k: KernelCore, mm: MmStruct, vpn: number): number {
  const pt = k.arch.pgtable;
  const m = k.userMm.mapper(mm);
  for (let level = pt.levels - 1; level >= 1; level--) {
    const e = m.entryAt(mm.pgdPfn, vpnUnchecked(vpn), level);
    if (e === null || !pt.table(e.hi, e.lo, level)) {
      const span = pt.ptrsPerTable ** level;
      return (Math.floor(vpn / span) + 1) * span;
    }
  }
  return vpn;
}

/**
 * The pages [startVpn, endVpn] (inclusive, inside `vad`) as runs: one page
 * at a time where a page table exists, a whole run of all-zero PTEs where
 * none does.
 */
export function* pageRuns(
  k: KernelCore,
  db: PfnDatabase,
  mm: MmStruct,
  vad: Vad,
  startVpn: number,
  endVpn: number,
): Generator<{ vpn: number; n: number; s: PageState }> {
  let vpn = startVpn;
  while (vpn <= endVpn) {
    const end = emptySpanEnd(k, mm, vpn);
    // an image's pages differ in protection: one at a time
    if (end > vpn && vad.type !== VadType.Image && !vad.view?.section.reserve) {
      const n = Math.min(end, endVpn + 1) - vpn;
      const committed = vad.memCommit || vad.view !== null;
      yield {
        vpn,
        n,
        s: {
          committed,
          protection: committed ? vad.protection : 0,
          valid: false,
          pfn: -1,
          kind: SoftKind.Zero,
        },
      };
      vpn += n;
      continue;
    }
    yield { vpn, n: 1, s: pageState(k, db, mm, vad, vpn) };
    vpn++;
  }
}

/** The VM_* rights a valid PTE with this MM_* protection gets (Pgtable.mkUser's vmFlags). */
export function vmFlagsOf(protection: number): number {
  const r = mmRights(protection);
  return (r.r ? VmFlag.READ : 0) | (r.w ? VmFlag.WRITE : 0) | (r.x ? VmFlag.EXEC : 0);
}

/**
 * A valid PTE for `pfn` under `protection` (MI_MAKE_VALID_PTE): writable
 * only if the protection writes and is not copy-on-write; dirty on a write;
 * PAGE_NOCACHE's PCD or PAGE_WRITECOMBINE's PWT (mmpte.ts cacheBits).
 */
export function validPte(k: KernelCore, pfn: number, protection: number, dirty: boolean) {
  const r = mmRights(protection);
  const e = k.arch.pgtable.mkUser(pfn, 0, vmFlagsOf(protection), r.w && !r.copy, dirty, false);
  const cache = cacheBits(protection);
  return cache === 0 ? e : { hi: e.hi, lo: (e.lo | cache) >>> 0 };
}

/**
 * Commits page vpn with `protection` (MiCommit: a demand-zero PTE); an
 * already-committed page gets the protection (setProtection). False: no
 * memory for a page table.
 */
export function commitPage(
  k: KernelCore,
  db: PfnDatabase,
  p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  vpn: number,
  protection: number,
): { ok: boolean; flush: boolean } {
  const s = pageState(k, db, mm, vad, vpn);
  if (s.committed) return setProtection(k, db, p, mm, vad, vpn, protection);
  const e = mkDemandZero(protection);
  return { ok: setPte(k, mm, vpn, e.hi, e.lo), flush: false };
}

/**
 * VirtualProtect of one committed page: a valid page keeps its frame with
 * new rights, unless the new protection is PAGE_NOACCESS or has PAGE_GUARD,
 * which the hardware cannot express: the page leaves the working set as a
 * transition PTE (MiProtectPrivateMemory removes it, the frame stays).
 * Returns whether a TLB flush is owed.
 */
export function setProtection(
  k: KernelCore,
  db: PfnDatabase,
  _p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  vpn: number,
  protection: number,
): { ok: boolean; flush: boolean } {
  const s = pageState(k, db, mm, vad, vpn);
  if (s.pfn >= 0) {
    db.originalProtection[s.pfn] = protection;
    const hidden = protection === MmProt.NOACCESS || isGuard(protection);
    if (s.valid) {
      // the valid PTE is replaced: its dirty bit goes into the PFN (MI_CAPTURE_DIRTY_BIT_TO_PFN) and the write-watch bitmap
      const old = getPte(k, mm, vpn);
      if (k.arch.pgtable.dirty(old.hi, old.lo)) {
        markModified(db, s.pfn);
        if (vad.writeWatch !== null) vad.writeWatch.add(vpn - vad.startVpn);
      }
    }
    // a locked page taken out of the working set is unlocked (MiRemovePageFromWorkingSet: STATUS_WAS_UNLOCKED)
    if (hidden) _p.locked.delete(vpn);
    // a page on the standby or modified list made valid again leaves its list (the owner's protection follows)
    if (!hidden) db.unlink(s.pfn);
    else if (db.owners.has(s.pfn)) db.owners.get(s.pfn)!.protection = protection;
    // the working-set list follows the PTE: a valid page is in it, a hidden one is not. A page valid
    // before and after keeps its WSLE, age included (MiProtectVirtualMemory rewrites the PTE and leaves
    // the WSLE alone); its new PTE is accessed (MI_MAKE_VALID_PTE: MiDetermineUserGlobalPteMask's
    // "valid and access bits set"), so the next aging takes it back to age 0. A page entering the list
    // gets a new WSLE at age 0.
    if (hidden) _p.ws.delete(vpn);
    else _p.ws.add(vpn);
    if (hidden || !s.valid) _p.wsAge.delete(vpn);
    const e = hidden ? mkTransition(s.pfn, protection) : validPte(k, s.pfn, protection, false);
    return { ok: setPte(k, mm, vpn, e.hi, e.lo), flush: s.valid };
  }
  // a page in the paging file keeps its copy, with the new protection
  const pte = getPte(k, mm, vpn);
  const e =
    s.kind === SoftKind.PageFile
      ? mkPageFile(pageFileOffset(pte.hi, pte.lo, widePtes(k)), protection, widePtes(k))
      : mkDemandZero(protection);
  return { ok: setPte(k, mm, vpn, e.hi, e.lo), flush: false };
}

/**
 * Decommits page vpn (WRK mm/freevm.c MiDecommitPages): its frame goes
 * back and its PTE becomes MM_DECOMMIT (MmDecommittedPte), whatever the
 * page was: committed or not, in a MemCommit VAD or not ("Decommit each
 * page by setting the PTE to be explicitly decommitted": a zero PTE too,
 * MI_INCREMENT_USED_PTES_BY_HANDLE); one already MM_DECOMMIT stays. The
 * caller made the page table (MiMakePdeExistAndMakeValid). Returns whether
 * it was committed (its charge is returned by the caller) and whether a
 * TLB flush is owed.
 */
export function decommitPage(
  k: KernelCore,
  db: PfnDatabase,
  p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  vpn: number,
): { was: boolean; flush: boolean } {
  const s = pageState(k, db, mm, vad, vpn);
  const e = mkDecommitted();
  if (!s.committed) {
    // a reserved page's zero PTE becomes MM_DECOMMIT (CommitReduction += 1: no charge to return)
    if (s.kind === SoftKind.Zero) setPte(k, mm, vpn, e.hi, e.lo);
    return { was: false, flush: false };
  }
  // a locked page is unlocked as it goes (MiDeleteVirtualAddresses: FirstDynamic -= 1)
  p.locked.delete(vpn);
  p.resetLost.delete(vpn);
  if (s.pfn >= 0) {
    db.releaseFrame(k, s.pfn);
    p.privatePages--;
    p.ws.delete(vpn);
  } else if (s.kind === SoftKind.PageFile) {
    // its copy in the paging file goes too (MiReleasePageFileSpace)
    const pte = getPte(k, mm, vpn);
    db.pagefile.release(pageFileOffset(pte.hi, pte.lo, widePtes(k)));
  }
  setPte(k, mm, vpn, e.hi, e.lo);
  return { was: true, flush: s.valid };
}

/**
 * A page's frame differs from its paging-file copy now (a write the valid
 * PTE's dirty bit recorded): Modified set, the copy released
 * (MiReleasePageFileSpace).
 */
export function markModified(db: PfnDatabase, pfn: number): void {
  if (db.modified[pfn] === 1) return;
  db.modified[pfn] = 1;
  if (db.pageFileOffset[pfn] > 0) db.pagefile.release(db.pageFileOffset[pfn]);
  db.pageFileOffset[pfn] = 0;
}
