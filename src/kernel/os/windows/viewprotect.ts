/**
 * VirtualProtect of a mapped view (NtProtectVirtualMemory on a VAD that is
 * not private memory: WRK mm/protect.c MiProtectVirtualMemory and
 * MiSetProtectionOnSection), and the protection VirtualAlloc MEM_COMMIT
 * gives the pages it commits in a view (WRK mm/allocvm.c calls
 * MiSetProtectionOnSection on the range).
 *
 * The VirtualProtect page: "For mapped views, this value must be compatible
 * with the access protection specified when the view was mapped (see
 * MapViewOfFile, MapViewOfFileEx, and MapViewOfFileExNuma)". What
 * compatible means is the WRK's (MiIsPteProtectionCompatible and the
 * MmCompatibleProtectionMask table, mm/mmsup.c): by the view's protection,
 * - PAGE_READONLY (FILE_MAP_READ): PAGE_NOACCESS, PAGE_READONLY, PAGE_WRITECOPY;
 * - PAGE_READWRITE (FILE_MAP_WRITE): those and PAGE_READWRITE;
 * - PAGE_WRITECOPY (FILE_MAP_COPY): PAGE_NOACCESS, PAGE_READONLY, PAGE_WRITECOPY;
 * - PAGE_EXECUTE_READ: PAGE_NOACCESS, PAGE_READONLY, PAGE_WRITECOPY, PAGE_EXECUTE, PAGE_EXECUTE_READ;
 * - PAGE_EXECUTE_READWRITE: every protection;
 * - PAGE_EXECUTE_WRITECOPY: every one but PAGE_READWRITE and PAGE_EXECUTE_READWRITE;
 * each with PAGE_GUARD. Anything else is STATUS_SECTION_PROTECTION
 * (ERROR_INVALID_PARAMETER, 87). An image's view is not checked: its pages
 * may take any protection, PAGE_READWRITE becoming PAGE_WRITECOPY and
 * PAGE_EXECUTE_READWRITE PAGE_EXECUTE_WRITECOPY (as in a FILE_MAP_COPY
 * view): a write then makes a private copy (MiCopyOnWrite), which is how a
 * debugger patches code. PAGE_NOCACHE and PAGE_WRITECOMBINE are refused on
 * any view (STATUS_INVALID_PARAMETER_4: 87). Every page of the range must be
 * committed (a SEC_RESERVE section's: STATUS_NOT_COMMITTED, 487).
 *
 * Where each page's protection is kept (MiSetProtectionOnSection):
 * - a page not valid in the process (its PTE zero or an MMPTE_PROTOTYPE)
 *   gets an MI_PTE_LOOKUP_NEEDED PTE holding the protection (mmpte.ts
 *   mkProtoLookup); the prototype PTE is not changed (the other processes
 *   mapping the section keep their own protections);
 * - a valid page mapping the section's frame keeps the frame: the WSLE
 *   holds the protection (WinProcess.wsProtection) and the PTE is remade
 *   with it; PAGE_NOACCESS or PAGE_GUARD, which no valid PTE can express,
 *   take it out of the working set (MiRemovePageFromWorkingSet) and leave
 *   the MI_PTE_LOOKUP_NEEDED PTE;
 * - a private copy (a page written through copy-on-write) is private
 *   memory: the protection goes into its PFN's OriginalPte (pages.ts
 *   setProtection), copy-on-write meaning nothing for it (PAGE_WRITECOPY
 *   becomes PAGE_READWRITE).
 *
 * Commit: a shared page that may be copied holds one page of commit, as a
 * FILE_MAP_COPY view's pages are charged when it is mapped; setting a
 * copy-on-write protection charges each shared page that had none
 * (STATUS_COMMITMENT_LIMIT, 1455, before anything changes), and setting
 * another returns it. The WRK's MiSetProtectionOnSection charges a page
 * whose PTE is zero whatever the view's protection and never returns that
 * charge; vmlab counts by the page's protection, so that a view's charge
 * is always its copy-on-write shared pages plus its private copies.
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import { ptePa } from "../../mm/pgtable.ts";
import { charge, uncharge, WinError, type WinMm } from "./commit.ts";
import {
  isGuard,
  MmProt,
  makeProtectionMask,
  mkProtoLookup,
  mmRights,
  PageProt,
  SoftKind,
  win32Protection,
} from "./mmpte.ts";
import { pageRuns, setProtection, sharedFrame, validPte, viewPageProtection } from "./pages.ts";
import { releaseShared } from "./paging.ts";
import { getPte, setPte, type WinProcess, widePtes } from "./process.ts";
import { type Vad, VadType } from "./vad.ts";

/** MmCompatibleProtectionMask (WRK mm/mmsup.c): the Win32 protections a page of each MM_* base protection may take. */
const COMPATIBLE = [
  PageProt.NOACCESS,
  PageProt.NOACCESS | PageProt.READONLY | PageProt.WRITECOPY,
  PageProt.NOACCESS | PageProt.EXECUTE,
  PageProt.NOACCESS | PageProt.READONLY | PageProt.WRITECOPY | PageProt.EXECUTE | PageProt.EXECUTE_READ,
  PageProt.NOACCESS | PageProt.READONLY | PageProt.WRITECOPY | PageProt.READWRITE,
  PageProt.NOACCESS | PageProt.READONLY | PageProt.WRITECOPY,
  PageProt.NOACCESS |
    PageProt.READONLY |
    PageProt.WRITECOPY |
    PageProt.READWRITE |
    PageProt.EXECUTE |
    PageProt.EXECUTE_READ |
    PageProt.EXECUTE_READWRITE |
    PageProt.EXECUTE_WRITECOPY,
  PageProt.NOACCESS |
    PageProt.READONLY |
    PageProt.WRITECOPY |
    PageProt.EXECUTE |
    PageProt.EXECUTE_READ |
    PageProt.EXECUTE_WRITECOPY,
];

/** MiIsPteProtectionCompatible: may a page of a view with MM_* protection `viewProt` take Win32 `protect`? */
export function compatibleProtection(viewProt: number, protect: number): boolean {
  const mask = COMPATIBLE[viewProt & 7] | PageProt.GUARD | PageProt.NOCACHE | PageProt.WRITECOMBINE;
  return (mask | protect) === mask;
}

/**
 * MiSetProtectionOnSection's first step: in an image's view or a
 * FILE_MAP_COPY one, a writable protection is copy-on-write.
 */
export function sectionProtection(vad: Vad, protect: number): number {
  if (vad.type !== VadType.Image && !mmRights(vad.protection).copy) return protect;
  let p = protect;
  if (p & PageProt.READWRITE) p = (p & ~PageProt.READWRITE) | PageProt.WRITECOPY;
  if (p & PageProt.EXECUTE_READWRITE) p = (p & ~PageProt.EXECUTE_READWRITE) | PageProt.EXECUTE_WRITECOPY;
  return p;
}

/**
 * VirtualProtect of [startVpn, endVpn] inside view `vad` (the caller found
 * the VAD and checked the range is in it and the protection valid).
 * Returns the first page's old protection (Win32), or -1 with lastError.
 */
export function protectView(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  startVpn: number,
  endVpn: number,
  protect: number,
): number {
  const fail = (code: number) => {
    p.lastError = code;
    return -1;
  };
  // the no-cache and write-combined attributes: not for views (STATUS_INVALID_PARAMETER_4)
  if (protect & (PageProt.NOCACHE | PageProt.WRITECOMBINE)) return fail(WinError.INVALID_PARAMETER);
  // STATUS_SECTION_PROTECTION (not checked for an image)
  if (vad.type !== VadType.Image && !compatibleProtection(vad.protection, protect))
    return fail(WinError.INVALID_PARAMETER);
  // every prototype PTE committed (a SEC_RESERVE section's may not be: STATUS_NOT_COMMITTED)
  const runs = [...pageRuns(w.k, w.db, mm, vad, startVpn, endVpn)];
  if (runs.some((r) => !r.s.committed)) return fail(WinError.INVALID_ADDRESS);
  const old = runs[0].s.protection;
  const r = setViewProtection(
    w,
    p,
    mm,
    vad,
    startVpn,
    endVpn,
    makeProtectionMask(sectionProtection(vad, protect)),
  );
  if (r !== 0) return fail(r);
  return win32Protection(old);
}

/**
 * MiSetProtectionOnSection: every page of [startVpn, endVpn] (committed)
 * gets MM_* `protection`. Returns 0, or the GetLastError code
 * (ERROR_COMMITMENT_LIMIT when the copy-on-write charge does not fit;
 * ERROR_NOT_ENOUGH_MEMORY when a page table cannot be made).
 */
export function setViewProtection(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  startVpn: number,
  endVpn: number,
  protection: number,
): number {
  const k = w.k;
  const wide = widePtes(k);
  const copy = mmRights(protection).copy;
  // the private copies' protection: copy-on-write means nothing for a private page (ProtectionMaskNotCopy)
  const notCopy = copy
    ? (protection & ~7) |
      ((protection & 7) === MmProt.WRITECOPY ? MmProt.READWRITE : MmProt.EXECUTE_READWRITE)
    : protection;
  const runs = [...pageRuns(k, w.db, mm, vad, startVpn, endVpn)];
  // the charge first, as MiSetProtectionOnSection does (nothing changes when it fails)
  let charged = 0;
  let returned = 0;
  for (const r of runs) {
    if (isPrivate(w, vad, r.s)) continue;
    // a page MEM_COMMIT is committing (SEC_RESERVE) holds what the view's protection holds: a FILE_MAP_COPY
    // view was charged for every page when it was mapped
    const was = mmRights(r.s.committed ? r.s.protection : viewPageProtection(vad, r.vpn)).copy;
    if (copy && !was) charged += r.n;
    if (!copy && was) returned += r.n;
  }
  // the page tables first (MiMakePdeExistAndMakeValid), so that nothing fails half-way
  const ptrs = k.arch.pgtable.ptrsPerTable;
  for (let vpn = startVpn; vpn <= endVpn; vpn += ptrs - (vpn % ptrs))
    if (ptePa(k.userMm, mm, vpn, true) < 0) return WinError.NOT_ENOUGH_MEMORY;
  if (charged > 0 && !charge(w, p, vad, charged)) return WinError.COMMITMENT_LIMIT;
  const hidden = protection === MmProt.NOACCESS || isGuard(protection);
  let flushOwed = false;
  for (const r of runs)
    for (let vpn = r.vpn; vpn < r.vpn + r.n; vpn++) {
      const s = r.s;
      if (isPrivate(w, vad, s)) {
        // a private copy: private memory's VirtualProtect (the PFN's OriginalPte, a transition PTE when hidden)
        const res = setProtection(k, w.db, p, mm, vad, vpn, notCopy);
        flushOwed ||= res.flush;
        continue;
      }
      if (s.valid) {
        const pte = getPte(k, mm, vpn);
        const dirty = k.arch.pgtable.dirty(pte.hi, pte.lo);
        flushOwed = true;
        if (hidden) {
          // MiRemovePageFromWorkingSet: the frame stays with the section; the PTE keeps the protection
          const v = vad.view!;
          releaseShared(k, w.db, v.section, v.firstPage + vpn - vad.startVpn, s.pfn, dirty);
          p.ws.delete(vpn);
          p.wsProtection.delete(vpn);
          p.locked.delete(vpn);
          const e = mkProtoLookup(protection, wide);
          setPte(k, mm, vpn, e.hi, e.lo);
          continue;
        }
        // the WSLE's protection, and the valid PTE remade with it (MiFlushTbAndCapture keeps the dirty bit)
        p.wsProtection.set(vpn, protection);
        const e = validPte(k, s.pfn, protection, dirty);
        setPte(k, mm, vpn, e.hi, e.lo);
        continue;
      }
      // zero, MMPTE_PROTOTYPE or MI_PTE_LOOKUP_NEEDED: the protection in the PTE itself
      const e = mkProtoLookup(protection, wide);
      setPte(k, mm, vpn, e.hi, e.lo);
    }
  if (returned > 0) uncharge(w, p, vad, returned);
  if (flushOwed) k.tlbMgr.flushTlbMmRange(mm, startVpn, endVpn - startVpn + 1, k.runningCpu);
  return 0;
}

/** A page of a view that is the process's own (a private copy: valid on a private frame, or trimmed to a list or the paging file). */
function isPrivate(w: WinMm, vad: Vad, s: { valid: boolean; pfn: number; kind: number }): boolean {
  if (s.valid) return !sharedFrame(w.k, vad, s.pfn);
  return s.kind === SoftKind.Transition || s.kind === SoftKind.PageFile;
}
