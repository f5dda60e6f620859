/**
 * The virtual-memory system services: NtAllocateVirtualMemory,
 * NtFreeVirtualMemory, NtProtectVirtualMemory, NtQueryVirtualMemory, as
 * the Win32 VirtualAlloc, VirtualFree, VirtualProtect and VirtualQuery
 * pages document them (learn.microsoft.com, "VirtualAlloc function
 * (memoryapi.h)" and its siblings), with the failure codes GetLastError
 * returns (winerror.h; RtlNtStatusToDosError of the NTSTATUS).
 *
 * Addresses are bytes as bigints at the edge, page numbers inside.
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import { freePgtables } from "../../mm/memory.ts";
import { MmuGather } from "../../mm/mmu_gather.ts";
import { mmPgtablesPages, ptePa, userHalfEnd } from "../../mm/pgtable.ts";
import { charge, fail, uncharge, WinError, type WinMm } from "./commit.ts";
import { releaseLargePages } from "./largepage.ts";
import { GRANULARITY_PAGES, X64K } from "./layout.ts";
import {
  isGuard,
  MmProt,
  makeProtectionMask,
  mkDemandZero,
  mmRights,
  PageProt,
  pageFileOffset,
  SoftKind,
  win32Protection,
} from "./mmpte.ts";
import { commitPage, decommitPage, type PageState, pageRuns, setProtection, sharedFrame } from "./pages.ts";
import { releaseShared } from "./paging.ts";
import { getPte, type WinProcess, widePtes } from "./process.ts";
import { protoCommitted, writeProto } from "./section.ts";
import { SHARED_USER_DATA_VPN } from "./shared.ts";
import { Vad, VadType } from "./vad.ts";
import { compatibleProtection, protectView, sectionProtection, setViewProtection } from "./viewprotect.ts";

export type { CommitBook, WinMm } from "./commit.ts";
export { charge, fail, uncharge, WinError } from "./commit.ts";

/** MEMORY_BASIC_INFORMATION's State and Type values (winnt.h). */
export const enum MemState {
  COMMIT = 0x1000,
  RESERVE = 0x2000,
  FREE = 0x10000,
  PRIVATE = 0x20000,
  MAPPED = 0x40000,
  IMAGE = 0x1000000,
}

/** MEMORY_BASIC_INFORMATION. */
export interface MemoryBasicInformation {
  baseAddress: bigint;
  allocationBase: bigint;
  allocationProtect: number;
  regionSize: bigint;
  state: number;
  protect: number;
  type: number;
}

const PAGE = 4096n;

/** Flushes the TLB entries of [startVpn, startVpn + n) on every CPU using mm. */
function flush(w: WinMm, mm: MmStruct, startVpn: number, n: number): void {
  w.k.tlbMgr.flushTlbMmRange(mm, startVpn, n, w.k.runningCpu);
}

/** Does [startVpn, endVpn] include KUSER_SHARED_DATA's page (inside the VAD range on x64 only)? */
export function overSharedPage(startVpn: number, endVpn: number): boolean {
  return startVpn <= SHARED_USER_DATA_VPN && endVpn >= SHARED_USER_DATA_VPN;
}

/**
 * VirtualAlloc (NtAllocateVirtualMemory). `addr` 0 lets the system choose
 * (bottom-up, the first free 64 KB-aligned range). Returns the base, or 0
 * with lastError set. The VirtualAlloc page's rules:
 * - "If the memory is being reserved, the specified address is rounded down
 *   to the nearest multiple of the allocation granularity"; "if the memory
 *   is already reserved and is being committed, the address is rounded down
 *   to the next page boundary"; the region is "all pages containing one or
 *   more bytes in the range from lpAddress to lpAddress+dwSize".
 * - "Attempting to commit a specific address range by specifying MEM_COMMIT
 *   without MEM_RESERVE and a non-NULL lpAddress fails unless the entire
 *   range has already been reserved. The resulting error code is
 *   ERROR_INVALID_ADDRESS." MEM_COMMIT with a NULL address reserves too.
 * - "An attempt to commit a page that is already committed does not cause
 *   the function to fail" (its protection becomes the new one).
 * - PAGE_WRITECOPY and PAGE_EXECUTE_WRITECOPY are refused for private
 *   memory (the memory-protection-constants page: "not supported by the
 *   VirtualAlloc or VirtualAllocEx functions"): ERROR_INVALID_PARAMETER;
 *   committing pages of a view may ask for them (WRK mm/allocvm.c refuses
 *   them only after the view's branch: "PAGE_WRITECOPY is not valid for
 *   private pages").
 * - MEM_WRITE_WATCH (`writeWatch`) needs MEM_RESERVE (writewatch.ts).
 * - MEM_TOP_DOWN (`topDown`): with no address, the highest free 64 KB-aligned
 *   range below MM_HIGHEST_VAD_ADDRESS (MiFindEmptyAddressRangeDown); with
 *   an address it changes nothing. alloctype.ts checks the flags' mix.
 * - Below MM_LOWEST_USER_ADDRESS (the first 64 KB) and above
 *   MM_HIGHEST_VAD_ADDRESS NtAllocateVirtualMemory returns
 *   STATUS_INVALID_PARAMETER_2 (WRK mm/allocvm.c): ERROR_INVALID_PARAMETER.
 */
export function virtualAlloc(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  reserve: boolean,
  commit: boolean,
  protect: number,
  writeWatch = false,
  topDown = false,
): bigint {
  const L = w.layout;
  if (!reserve && !commit) return fail(p, WinError.INVALID_PARAMETER);
  // MEM_WRITE_WATCH: only with MEM_RESERVE (WRK mm/allocvm.c: STATUS_INVALID_PARAMETER_5)
  if (writeWatch && !reserve) return fail(p, WinError.INVALID_PARAMETER);
  const protection = makeProtectionMask(protect);
  // PAGE_WRITECOPY: only for committing pages of a view (below)
  const copy = mmRights(protection).copy;
  if (protection < 0 || (copy && (reserve || addr === 0n))) return fail(p, WinError.INVALID_PARAMETER);
  if (size === 0n) return fail(p, WinError.INVALID_PARAMETER);
  const vadEnd = BigInt(L.vadEndVpn) * PAGE; // MM_HIGHEST_VAD_ADDRESS + 1
  if (addr !== 0n && addr < BigInt(X64K)) return fail(p, WinError.INVALID_PARAMETER);
  if (addr >= vadEnd) return fail(p, WinError.INVALID_PARAMETER);
  if (vadEnd - addr < size) return fail(p, WinError.INVALID_PARAMETER);
  if (reserve || addr === 0n) {
    let startVpn: number;
    let endVpn: number;
    if (addr !== 0n) {
      startVpn = Number((addr - (addr % BigInt(X64K))) / PAGE);
      endVpn = Number((addr + size - 1n) / PAGE);
      if (p.vads.conflicting(startVpn, endVpn) !== null || overSharedPage(startVpn, endVpn))
        return fail(p, WinError.INVALID_ADDRESS);
    } else {
      const n = Number((size + PAGE - 1n) / PAGE);
      if (topDown) {
        // MEM_TOP_DOWN: MiFindEmptyAddressRangeDown from MM_HIGHEST_VAD_ADDRESS
        startVpn = p.vads.findEmptyDown(n, GRANULARITY_PAGES, L.lowestUserVpn, L.vadEndVpn);
        // (x64) a free range over KUSER_SHARED_DATA: the next one below it
        if (startVpn >= 0 && overSharedPage(startVpn, startVpn + n - 1))
          startVpn = p.vads.findEmptyDown(n, GRANULARITY_PAGES, L.lowestUserVpn, SHARED_USER_DATA_VPN);
      } else {
        startVpn = p.vads.findEmpty(n, GRANULARITY_PAGES, L.lowestUserVpn, L.vadEndVpn);
        // (x64) a free range over KUSER_SHARED_DATA: the next one above it
        if (startVpn >= 0 && overSharedPage(startVpn, startVpn + n - 1))
          startVpn = p.vads.findEmpty(n, GRANULARITY_PAGES, SHARED_USER_DATA_VPN + 1, L.vadEndVpn);
      }
      if (startVpn < 0) return fail(p, WinError.NOT_ENOUGH_MEMORY);
      endVpn = startVpn + n - 1;
    }
    const vad = new Vad(startVpn, endVpn, protection, commit);
    // the bitmap package handles 32 bits (WRK: STATUS_INSUFFICIENT_RESOURCES, 1450 ERROR_NO_SYSTEM_RESOURCES)
    if (writeWatch && vad.nrPages >= 2 ** 32) return fail(p, 1450);
    if (writeWatch) vad.writeWatch = new Set();
    if (commit && !charge(w, p, vad, vad.nrPages)) return fail(p, WinError.COMMITMENT_LIMIT);
    p.vads.insert(vad);
    return BigInt(startVpn) * PAGE;
  }
  // commit inside an existing reservation
  const startVpn = Number(addr / PAGE);
  const endVpn = Number((addr + size - 1n) / PAGE);
  const vad = p.vads.locate(startVpn);
  if (copy && vad?.view == null) return fail(p, WinError.INVALID_PARAMETER);
  // a placeholder is never committed: only replaced (placeholder.ts; STATUS_CONFLICTING_ADDRESSES)
  // a large-page VAD is committed whole, never again (WRK allocvm.c: VadLargePages, STATUS_CONFLICTING_ADDRESSES)
  if (vad === null || endVpn > vad.endVpn || vad.placeholder || vad.largePages)
    return fail(p, WinError.INVALID_ADDRESS);
  if (vad.view !== null) {
    // "Only page file backed sections can be committed" (WRK mm/allocvm.c): STATUS_ALREADY_COMMITTED
    if (vad.view.section.file !== null) return fail(p, WinError.ACCESS_DENIED);
    return commitView(w, p, mm, vad, startVpn, endVpn, protect);
  }
  let needed = 0;
  // the runs whose PTEs change: not committed yet, or committed with another protection
  const writes: { vpn: number; n: number }[] = [];
  for (const r of pageRuns(w.k, w.db, mm, vad, startVpn, endVpn)) {
    if (!r.s.committed) needed += r.n;
    if (!r.s.committed || r.s.protection !== protection) writes.push({ vpn: r.vpn, n: r.n });
  }
  if (!charge(w, p, vad, needed)) return fail(p, WinError.COMMITMENT_LIMIT);
  // the page tables first (MiMakePdeExistAndMakeValid), so that committing cannot fail half-way
  const ptrs = w.k.arch.pgtable.ptrsPerTable;
  for (const r of writes)
    for (let vpn = r.vpn; vpn < r.vpn + r.n; vpn += ptrs - (vpn % ptrs))
      if (ptePa(w.k.userMm, mm, vpn, true) < 0) {
        uncharge(w, p, vad, needed);
        return fail(p, WinError.NOT_ENOUGH_MEMORY);
      }
  let flushOwed = false;
  for (const run of writes)
    for (let vpn = run.vpn; vpn < run.vpn + run.n; vpn++) {
      const r = commitPage(w.k, w.db, p, mm, vad, vpn, protection);
      flushOwed ||= r.flush;
    }
  if (flushOwed) flush(w, mm, startVpn, endVpn - startVpn + 1);
  return BigInt(startVpn) * PAGE;
}

/**
 * VirtualAlloc MEM_COMMIT inside a view of a paging-file-backed section
 * (NtAllocateVirtualMemory on a VAD that is not private memory, WRK
 * mm/allocvm.c): the pages are committed in the segment, for every view
 * of it (the CreateFileMapping page, SEC_RESERVE: "Reserved pages can be
 * committed to subsequent calls to the VirtualAlloc function"): each zero
 * prototype PTE in the range becomes a demand-zero one with the section's
 * protection, charged to the commit limit as the section's (given back
 * with the segment); pages already committed are left as they are. The
 * protection asked must be one the view allows, by VirtualProtect's rule
 * (MiIsPteProtectionCompatible, STATUS_SECTION_PROTECTION:
 * ERROR_INVALID_PARAMETER; the WRK's allocvm.c makes no such check
 * itself: vmlab refuses here what VirtualProtect would). The view's pages
 * in the range then take the protection asked, in this process only
 * (allocvm.c calls MiSetProtectionOnSection: viewprotect.ts), a
 * copy-on-write one charged as VirtualProtect charges it.
 */
function commitView(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  startVpn: number,
  endVpn: number,
  protect: number,
): bigint {
  const protection = makeProtectionMask(protect);
  const v = vad.view!;
  const sec = v.section;
  // "The no cache option is not allowed for sections" (WRK mm/allocvm.c: STATUS_INVALID_PAGE_PROTECTION)
  if ((protection & (MmProt.GUARD_PAGE | MmProt.NOCACHE)) === MmProt.NOCACHE)
    return fail(p, WinError.INVALID_PARAMETER);
  if (!compatibleProtection(vad.protection, protect)) return fail(p, WinError.INVALID_PARAMETER);
  const first = v.firstPage + startVpn - vad.startVpn;
  const last = v.firstPage + endVpn - vad.startVpn;
  let needed = 0;
  for (let i = first; i <= last; i++) if (!protoCommitted(w.k, sec, i)) needed++;
  if (w.commit.total + needed > w.commit.limit) return fail(p, WinError.COMMITMENT_LIMIT);
  const asked = makeProtectionMask(sectionProtection(vad, protect));
  const err = setViewProtection(w, p, mm, vad, startVpn, endVpn, asked);
  if (err !== 0) return fail(p, err);
  for (let i = first; i <= last; i++) {
    if (protoCommitted(w.k, sec, i)) continue;
    const e = mkDemandZero(sec.protection);
    writeProto(w.k, sec, i, e.hi, e.lo);
  }
  sec.commitCharge += needed;
  w.commit.total += needed;
  w.commit.peak = Math.max(w.commit.peak, w.commit.total);
  return BigInt(startVpn) * PAGE;
}

/**
 * VirtualFree (NtFreeVirtualMemory). The VirtualFree page: with MEM_RELEASE
 * "dwSize must be 0 (zero)" and lpAddress "must be the base address returned
 * by the VirtualAlloc function when the region is reserved"; the whole
 * reservation goes, its committed pages decommitted. With MEM_DECOMMIT "if
 * dwSize is 0 and lpAddress is the base address of the region allocated by
 * VirtualAlloc, the function decommits the entire region"; otherwise the
 * pages containing [lpAddress, lpAddress+dwSize), all in one reservation;
 * decommitting an uncommitted page does not fail. True, or false with
 * lastError. The WRK's order (mm/freevm.c): no VAD at the page of
 * lpAddress is STATUS_MEMORY_NOT_ALLOCATED (487); a range past the VAD's
 * end STATUS_UNABLE_TO_FREE_VM (87: RtlNtStatusToDosError); a view
 * STATUS_UNABLE_TO_DELETE_SECTION (87); with dwSize 0 "the base address"
 * is compared as a page number (MI_VA_TO_VPN (CapturedBase) !=
 * Vad->StartingVpn: STATUS_FREE_VM_NOT_AT_BASE, 487), so any address in
 * the reservation's first page names it (Wine's ntdll test_NtAllocateVirtualMemory,
 * measured on Windows: base + 0xfff releases, base + 0xffe decommits the whole region).
 */
export function virtualFree(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  release: boolean,
): boolean {
  const k = w.k;
  // above MM_HIGHEST_USER_ADDRESS: STATUS_INVALID_PARAMETER_2; a size past it: _3 (WRK freevm.c); the
  // 64 KB between MM_HIGHEST_VAD_ADDRESS and it holds no VAD: STATUS_MEMORY_NOT_ALLOCATED below
  const highest = w.layout.highestUserAddress;
  if (addr > highest || highest - addr < size) return !!fail(p, WinError.INVALID_PARAMETER);
  const vad = p.vads.locate(Number(addr / PAGE));
  // a mapped view is UnmapViewOfFile's: STATUS_UNABLE_TO_DELETE_SECTION (WRK mm/freevm.c)
  if (vad?.view) return !!fail(p, WinError.INVALID_PARAMETER);
  // the page of lpAddress (MI_VA_TO_VPN: "rounded down to the next host page address boundary")
  const atVpn = Number(addr / PAGE);
  if (release) {
    // kernel32 VirtualFreeEx: MEM_RELEASE with a size is STATUS_INVALID_PARAMETER before the call
    if (size !== 0n) return !!fail(p, WinError.INVALID_PARAMETER);
    if (vad === null || atVpn !== vad.startVpn) return !!fail(p, WinError.INVALID_ADDRESS);
    releaseVad(w, p, mm, vad);
    return true;
  }
  // a large-page VAD is released, never decommitted (freevm.c: STATUS_MEMORY_NOT_ALLOCATED)
  if (vad === null || vad.largePages) return !!fail(p, WinError.INVALID_ADDRESS);
  let startVpn: number;
  let endVpn: number;
  if (size === 0n) {
    // STATUS_FREE_VM_NOT_AT_BASE
    if (atVpn !== vad.startVpn) return !!fail(p, WinError.INVALID_ADDRESS);
    startVpn = vad.startVpn;
    endVpn = vad.endVpn;
  } else {
    startVpn = atVpn;
    endVpn = Number((addr + size - 1n) / PAGE);
    // STATUS_UNABLE_TO_FREE_VM (RtlNtStatusToDosError: ERROR_INVALID_PARAMETER): the range leaves the reservation
    if (endVpn > vad.endVpn) return !!fail(p, WinError.INVALID_PARAMETER);
  }
  // a placeholder has no PTEs to write (docs/windows.md: its MEM_DECOMMIT is untested on Windows)
  if (vad.placeholder) return true;
  // MiDecommitPages: every PDE of the range made to exist first (MiMakePdeExistAndMakeValid), then
  // every PTE of it MM_DECOMMIT. The WRK has no failure there (it waits for memory); vmlab refuses with
  // ERROR_NOT_ENOUGH_MEMORY, nothing changed, a range whose tables the free memory cannot hold (its choice)
  if (!makeTables(w, mm, startVpn, endVpn)) return !!fail(p, WinError.NOT_ENOUGH_MEMORY);
  let returned = 0;
  let flushOwed = false;
  for (let vpn = startVpn; vpn <= endVpn; vpn++) {
    const r = decommitPage(k, w.db, p, mm, vad, vpn);
    if (r.was) returned++;
    flushOwed ||= r.flush;
  }
  uncharge(w, p, vad, returned);
  if (flushOwed) flush(w, mm, startVpn, endVpn - startVpn + 1);
  return true;
}

/**
 * The page tables of [startVpn, endVpn] made (MiMakePdeExistAndMakeValid at
 * each PDE). False when they cannot be: more tables missing than free
 * frames (counted before any is made: every table of every level the range
 * spans, less those the process has), or an allocation failing.
 */
function makeTables(w: WinMm, mm: MmStruct, startVpn: number, endVpn: number): boolean {
  const k = w.k;
  const pt = k.arch.pgtable;
  const ptrs = pt.ptrsPerTable;
  let spans = 0;
  for (let level = 1; level < pt.levels; level++) {
    const span = ptrs ** level;
    spans += Math.floor(endVpn / span) - Math.floor(startVpn / span) + 1;
  }
  if (spans - mmPgtablesPages(k.userMm, mm) > k.buddy.freePages()) return false;
  for (let vpn = startVpn; vpn <= endVpn; vpn += ptrs - (vpn % ptrs))
    if (ptePa(k.userMm, mm, vpn, true) < 0) return false;
  return true;
}

/**
 * MEM_RELEASE of a whole VAD (MiDeleteVirtualAddresses, MiRemoveVad): its
 * pages' frames go back, its PTEs are cleared, its commit charge is
 * returned, and page tables left empty between its neighbours are freed.
 */
export function releaseVad(w: WinMm, p: WinProcess, mm: MmStruct, vad: Vad): void {
  const k = w.k;
  // MiFreeLargePages: the PDEs cleared, the large pages freed
  let flushOwed = vad.largePages && releaseLargePages(k, mm, vad);
  for (const run of vad.largePages ? [] : pageRuns(k, w.db, mm, vad, vad.startVpn, vad.endVpn)) {
    if (run.n > 1 || run.s.kind === SoftKind.Zero) continue; // all-zero PTEs: nothing to free or clear
    const vpn = run.vpn;
    const s = run.s;
    if (s.pfn >= 0 && s.valid && sharedFrame(k, vad, s.pfn)) {
      // a section's frame: this process's mapping of it goes, the frame stays with the segment
      const pte0 = getPte(k, mm, vpn);
      const index = vad.view!.firstPage + vpn - vad.startVpn;
      releaseShared(k, w.db, vad.view!.section, index, s.pfn, k.arch.pgtable.dirty(pte0.hi, pte0.lo));
    } else if (s.pfn >= 0) {
      w.db.releaseFrame(k, s.pfn);
      p.privatePages--;
    }
    if (s.valid) {
      p.ws.delete(vpn);
      p.wsProtection.delete(vpn);
    }
    p.locked.delete(vpn);
    p.resetLost.delete(vpn);
    flushOwed ||= s.valid;
    const pte = getPte(k, mm, vpn);
    // a page in the paging file: its copy is released (MiReleasePageFileSpace)
    if (s.kind === SoftKind.PageFile) w.db.pagefile.release(pageFileOffset(pte.hi, pte.lo, widePtes(k)));
    if (pte.pa >= 0 && (pte.hi !== 0 || pte.lo !== 0)) k.arch.pgtable.set(k.machine.phys, pte.pa, 0, 0);
  }
  uncharge(w, p, vad, vad.commitCharge);
  p.vads.remove(vad);
  if (vad.view !== null) {
    // the view's reference to its section (MiRemoveMappedView); view.ts releaseView deletes a closed section with its last view
    vad.view.section.views--;
  }
  if (flushOwed) flush(w, mm, vad.startVpn, vad.nrPages);
  // the page tables only this reservation used (free_pgd_range between the neighbours)
  const below = p.vads.list().filter((v) => v.endVpn < vad.startVpn);
  const above = p.vads.list().filter((v) => v.startVpn > vad.endVpn);
  let floor = below.length ? below[below.length - 1].endVpn + 1 : 0;
  let ceiling = above.length ? above[0].startVpn : userHalfEnd(k.userMm);
  // KUSER_SHARED_DATA's PTE (no VAD) keeps its page table
  if (SHARED_USER_DATA_VPN >= vad.endVpn + 1 && SHARED_USER_DATA_VPN < ceiling)
    ceiling = SHARED_USER_DATA_VPN;
  if (SHARED_USER_DATA_VPN < vad.startVpn && SHARED_USER_DATA_VPN >= floor) floor = SHARED_USER_DATA_VPN + 1;
  const tlb = new MmuGather(k.userMm, mm, false);
  freePgtables(k.userMm, tlb, mm, vad.startVpn, vad.endVpn + 1, floor, ceiling);
  tlb.finish();
}

/**
 * VirtualProtect (NtProtectVirtualMemory). The VirtualProtect page: the
 * region is every page containing a byte of [lpAddress, lpAddress+dwSize);
 * "all pages in the specified region must be within the same reserved
 * region allocated when calling the VirtualAlloc function using
 * MEM_RESERVE" and must be committed (STATUS_NOT_COMMITTED:
 * ERROR_INVALID_ADDRESS); lpflOldProtect receives "the previous access
 * protection value of the first page in the specified region".
 * PAGE_WRITECOPY on private memory is STATUS_INVALID_PAGE_PROTECTION
 * (ERROR_INVALID_PARAMETER). Returns the old protection (Win32), or -1 with
 * lastError.
 */
export function virtualProtect(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  protect: number,
): number {
  const protection = makeProtectionMask(protect);
  // NtProtectVirtualMemory: above MM_HIGHEST_USER_ADDRESS STATUS_INVALID_PARAMETER_2, a size past it or 0
  // STATUS_INVALID_PARAMETER_3; below it, an address in no VAD is STATUS_CONFLICTING_ADDRESSES (WRK protect.c)
  const highest = w.layout.highestUserAddress;
  if (protection < 0 || size === 0n || addr > highest || highest - addr < size) {
    p.lastError = WinError.INVALID_PARAMETER;
    return -1;
  }
  const startVpn = Number(addr / PAGE);
  const endVpn = Number((addr + size - 1n) / PAGE);
  const vad = p.vads.locate(startVpn);
  // PAGE_WRITECOPY: a mapped view's only (STATUS_INVALID_PARAMETER_4 for private memory)
  if (mmRights(protection).copy && vad?.view == null) {
    p.lastError = WinError.INVALID_PARAMETER;
    return -1;
  }
  if (vad !== null && vad.view !== null && endVpn <= vad.endVpn)
    return protectView(w, p, mm, vad, startVpn, endVpn, protect);
  // large pages: "These regions are always the same protection throughout" (protect.c): the same one
  // succeeds, another is STATUS_CONFLICTING_ADDRESSES
  if (vad?.largePages && endVpn <= vad.endVpn) {
    if (protection === vad.protection) return win32Protection(protection);
    p.lastError = WinError.INVALID_ADDRESS;
    return -1;
  }
  const runs =
    vad === null || endVpn > vad.endVpn ? null : [...pageRuns(w.k, w.db, mm, vad, startVpn, endVpn)];
  if (vad === null || runs === null || runs.some((r) => !r.s.committed)) {
    p.lastError = WinError.INVALID_ADDRESS;
    return -1;
  }
  const old = win32Protection(runs[0].s.protection);
  let flushOwed = false;
  for (const run of runs) {
    const np = keepCaching(run.s.protection, protection);
    if (run.s.protection === np) continue;
    for (let vpn = run.vpn; vpn < run.vpn + run.n; vpn++) {
      const r = setProtection(w.k, w.db, p, mm, vad, vpn, np);
      flushOwed ||= r.flush;
    }
  }
  if (flushOwed) flush(w, mm, startVpn, endVpn - startVpn + 1);
  resetUserStackLimit(w, p, vad, endVpn, protection);
  return old;
}

/**
 * "PAGE_NOCACHE cannot be set per page in recent Windows" (Wine's
 * kernel32 test_VirtualAlloc, measured; the old behaviour is its
 * `broken()`): VirtualProtect of private pages keeps each page's caching
 * (PAGE_NOCACHE or PAGE_WRITECOMBINE, set when it was committed) and drops
 * any it is asked for: a PAGE_READWRITE | PAGE_NOCACHE allocation made
 * PAGE_READONLY is PAGE_READONLY | PAGE_NOCACHE; a plain one asked
 * PAGE_READONLY | PAGE_NOCACHE is PAGE_READONLY. PAGE_NOACCESS and a guard
 * page (whose bit the caching shares) take the protection asked.
 */
function keepCaching(oldMm: number, asked: number): number {
  const MODS = MmProt.GUARD_PAGE | MmProt.NOCACHE;
  // MM_NOACCESS: no access bits, its modifier bits set
  if ((asked & 7) === 0) return asked;
  // NOCACHE or WRITECOMBINE (both bits): the caching asked for goes
  const base = asked & MmProt.NOCACHE ? asked & ~MODS : asked;
  if (base & MmProt.GUARD_PAGE) return base;
  const cache = oldMm & MODS;
  return (oldMm & 7) !== 0 && cache & MmProt.NOCACHE ? base | cache : base;
}

/**
 * _MI_RESET_USER_STACK_LIMIT (WRK mm/protect.c, 64-bit Windows only): "If a
 * guard page is being set above the current stack limit in the caller's
 * thread stack then he may be trying to recover from a user initiated stack
 * probe growth (ie, inside his exception handler). Reset the stack limit
 * for him automatically": StackLimit moves to just above the range, if that
 * is still inside the stack's reservation (what _resetstkoflw relies on).
 */
function resetUserStackLimit(w: WinMm, p: WinProcess, vad: Vad, endVpn: number, protection: number): void {
  const st = p.stack;
  if (!w.layout.win64 || st === null || !isGuard(protection)) return;
  if (st.stackLimitVpn > endVpn || st.stackLimitVpn < vad.startVpn || st.stackLimitVpn > vad.endVpn) return;
  if (endVpn + 1 <= vad.endVpn) st.stackLimitVpn = endVpn + 1;
}

/**
 * VirtualQuery (NtQueryVirtualMemory, MemoryBasicInformation): the run of
 * pages from the page of `addr` with the same state and protection, inside
 * one reservation or one free range. Null (ERROR_INVALID_PARAMETER) above
 * the highest user address. WRK mm/queryvm.c: above MM_HIGHEST_VAD_ADDRESS
 * "a reserved area from this point on" (AllocationBase
 * MM_HIGHEST_VAD_ADDRESS + 1, AllocationProtect PAGE_READONLY, MEM_RESERVE,
 * PAGE_NOACCESS, MEM_PRIVATE, to MM_HIGHEST_USER_ADDRESS + 1); a free range
 * with no VAD above it ends at MM_HIGHEST_VAD_ADDRESS + 1.
 */
export function virtualQuery(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
): MemoryBasicInformation | null {
  const L = w.layout;
  if (addr > L.highestUserAddress) {
    p.lastError = WinError.INVALID_PARAMETER;
    return null;
  }
  const vpn = Number(addr / PAGE);
  const vadEnd = BigInt(L.vadEndVpn) * PAGE; // MM_HIGHEST_VAD_ADDRESS + 1
  if (vpn >= L.vadEndVpn && vpn !== SHARED_USER_DATA_VPN)
    return {
      baseAddress: BigInt(vpn) * PAGE,
      allocationBase: vadEnd,
      allocationProtect: PageProt.READONLY,
      regionSize: L.highestUserAddress + 1n - BigInt(vpn) * PAGE,
      state: MemState.RESERVE,
      protect: PageProt.NOACCESS,
      type: MemState.PRIVATE,
    };
  const vad = p.vads.locate(vpn);
  if (vad === null && vpn === SHARED_USER_DATA_VPN)
    // KUSER_SHARED_DATA: one committed read-only page (what VirtualQuery reports for it)
    return {
      baseAddress: BigInt(vpn) * PAGE,
      allocationBase: BigInt(vpn) * PAGE,
      allocationProtect: PageProt.READONLY,
      regionSize: PAGE,
      state: MemState.COMMIT,
      protect: PageProt.READONLY,
      type: MemState.PRIVATE,
    };
  if (vad === null) {
    const above = p.vads.list().find((v) => v.startVpn > vpn);
    let end = above ? BigInt(above.startVpn) * PAGE : vadEnd;
    const shared = BigInt(SHARED_USER_DATA_VPN) * PAGE;
    if (vpn < SHARED_USER_DATA_VPN && shared < end) end = shared;
    return {
      baseAddress: BigInt(vpn) * PAGE,
      allocationBase: 0n,
      allocationProtect: 0,
      regionSize: end - BigInt(vpn) * PAGE,
      state: MemState.FREE,
      protect: PageProt.NOACCESS,
      type: 0,
    };
  }
  let first: PageState | null = null;
  let end = vpn;
  for (const r of pageRuns(w.k, w.db, mm, vad, vpn, vad.endVpn)) {
    first ??= r.s;
    if (r.s.committed !== first.committed || r.s.protection !== first.protection) break;
    end = r.vpn + r.n;
  }
  first = first!;
  return {
    baseAddress: BigInt(vpn) * PAGE,
    allocationBase: BigInt(vad.startVpn) * PAGE,
    allocationProtect: win32Protection(vad.protection),
    regionSize: BigInt(end - vpn) * PAGE,
    state: first.committed ? MemState.COMMIT : MemState.RESERVE,
    protect: first.committed ? win32Protection(first.protection) : 0,
    type:
      vad.type === VadType.Image
        ? MemState.IMAGE
        : vad.type === VadType.Mapped
          ? MemState.MAPPED
          : MemState.PRIVATE,
  };
}
