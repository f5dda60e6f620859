/**
 * VirtualAlloc MEM_LARGE_PAGES (WRK mm/allocvm.c NtAllocateVirtualMemory's
 * large-page path, MiAllocateLargePages and MiFreeLargePages; the
 * "Large-Page Support" Win32 page; Windows Internals 7th ed., Part 1, ch. 5
 * "Large and small pages"):
 *
 * - NtAllocateVirtualMemory first checks the type: MEM_LARGE_PAGES needs
 *   MEM_COMMIT and refuses MEM_WRITE_WATCH, MEM_RESET, MEM_PHYSICAL
 *   (STATUS_INVALID_PARAMETER_5: 87; alloctype.ts); then the base and
 *   size; then SeLockMemoryPrivilege ("check for privilege before
 *   attaching"): STATUS_PRIVILEGE_NOT_HELD, ERROR_PRIVILEGE_NOT_HELD (1314).
 * - A reservation (MEM_RESERVE, or no address): the size must be a multiple
 *   of MM_MINIMUM_VA_FOR_LARGE_PAGE, GetLargePageMinimum() (2 MB on x64 and
 *   PAE, 4 MB on 32-bit paging: a PDE's span), else
 *   STATUS_INVALID_PARAMETER_4 (87): with no address after ROUND_TO_PAGES
 *   (0x1FF001 bytes is 2 MB), with one the size as given (0x1FFFFF is 87); the base is aligned down to it
 *   (MI_ALIGN_TO_SIZE), or a free range aligned to it is found. The VAD is
 *   VadLargePages, MemCommit, charged its pages.
 * - MiAllocateLargePages: physically contiguous, naturally aligned runs of
 *   a large page each, zeroed, mapped by PDEs with the PS bit (MI_MAKE_PDE_MAP_LARGE_PAGE:
 *   no page table below), dirty and accessed. None to be had:
 *   STATUS_INSUFFICIENT_RESOURCES, ERROR_NO_SYSTEM_RESOURCES (1450), the VAD
 *   removed. The frames are nonpageable: in no working-set list (no trim, no
 *   working-set manager takes them), on no page list.
 * - MEM_COMMIT inside the VAD, MEM_DECOMMIT of it (STATUS_MEMORY_NOT_ALLOCATED)
 *   and VirtualProtect to another protection (protect.c: "These regions are
 *   always the same protection throughout") are ERROR_INVALID_ADDRESS
 *   (487); VirtualProtect to the same protection succeeds. MEM_RELEASE of the
 *   whole VAD frees the frames (MiFreeLargePages).
 *
 * The PDE takes the VAD's protection, as the later MiAllocateLargePages
 * (ProtectionMask, MI_MAKE_VALID_PTE) has it (the Server 2003 WRK's writes
 * MM_READWRITE whatever was asked), and is always valid: PAGE_NOACCESS
 * (MM_PTE_NOACCESS 0, "not expressable") maps read-only; PAGE_NOCACHE sets
 * its PCD and PAGE_WRITECOMBINE its PWT (mmpte.ts cacheBits). PAGE_GUARD is
 * taken, as the WRK takes it (no check on this path; the Win32 pages
 * document no error for it): the VAD and VirtualQuery say PAGE_GUARD, but
 * the PDE is valid, so no access ever raises STATUS_GUARD_PAGE_VIOLATION.
 *
 * Contiguous memory (MiAllocateLargeZeroPages): a free block of the buddy
 * allocator (Linux's allocator stands for the free list), else a run of
 * free, zeroed and standby frames (MiFindLargePageMemory), else the same
 * after MmEmptyAllWorkingSets and MiFlushAllPages (takeLargePage). vmlab's
 * differences: no retry with smaller chunks (each chunk is one large page),
 * no wait between the retries.
 */
import { pfnUnchecked } from "../../../base/units.ts";
import type { KernelCore } from "../../core/core.ts";
import { MAX_ORDER } from "../../mm/buddy.ts";
import { Gfp } from "../../mm/gfp.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PageFlag, PageKind } from "../../mm/PageDesc.ts";
import { VmFlag } from "../../mm/vma.ts";
import { charge, fail, uncharge, WinError, type WinMm } from "./commit.ts";
import { cacheBits, makeProtectionMask, mmRights } from "./mmpte.ts";
import { PfnList } from "./pfn.ts";
import type { WinProcess } from "./process.ts";
import { SHARED_USER_DATA_VPN } from "./shared.ts";
import { Vad } from "./vad.ts";

const PAGE = 4096n;
/** ERROR_PRIVILEGE_NOT_HELD: STATUS_PRIVILEGE_NOT_HELD */
export const ERROR_PRIVILEGE_NOT_HELD = 1314;
/** ERROR_NO_SYSTEM_RESOURCES: STATUS_INSUFFICIENT_RESOURCES */
export const ERROR_NO_SYSTEM_RESOURCES = 1450;

/** GetLargePageMinimum in pages: what one PDE maps (MM_MINIMUM_VA_FOR_LARGE_PAGE). */
export function largePagePages(k: KernelCore): number {
  return k.arch.pgtable.ptrsPerTable;
}

/** The physical address of the PDE over vpn (its page directory made if `make`), or -1. */
function pdePa(k: KernelCore, mm: MmStruct, vpn: number, make: boolean): number {
  const pt = k.arch.pgtable;
  const m = k.userMm.mapper(mm);
  if (!make) return m.entryPaAt(mm.pgdPfn, vpn as never, pt.pmdLevel);
  const pd = m.ensureTable(mm.pgdPfn, vpn as never, pt.pmdLevel, true);
  if (pd < 0) return -1;
  return pd * 4096 + (Math.floor(vpn / pt.ptrsPerTable) % pt.ptrsPerTable) * pt.entryBytes;
}

/** The frame behind vpn of a large-page VAD (the PDE's large page, plus the offset in it). */
export function largePageFrame(k: KernelCore, mm: MmStruct, vpn: number): number {
  const pt = k.arch.pgtable;
  const pa = pdePa(k, mm, vpn, false);
  if (pa < 0) return -1;
  const e = pt.get(k.machine.phys, pa);
  if (!pt.leaf(e.hi, e.lo, pt.pmdLevel)) return -1;
  return pt.pfn(e.hi, e.lo, pt.pmdLevel) + (vpn % pt.ptrsPerTable);
}

/**
 * VirtualAlloc(addr, size, MEM_RESERVE|MEM_COMMIT|MEM_LARGE_PAGES, protect)
 * (the type checked: alloctype.ts). The base, or 0 with GetLastError.
 */
export function allocLargePages(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  protect: number,
  topDown: boolean,
): bigint {
  const k = w.k;
  const L = w.layout;
  const protection = makeProtectionMask(protect);
  if (protection < 0 || size === 0n) return fail(p, WinError.INVALID_PARAMETER);
  const vadEnd = BigInt(L.vadEndVpn) * PAGE;
  if ((addr !== 0n && addr < 0x10000n) || addr >= vadEnd || vadEnd - addr < size)
    return fail(p, WinError.INVALID_PARAMETER);
  if (!p.lockMemoryPrivilege) return fail(p, ERROR_PRIVILEGE_NOT_HELD);
  // PAGE_WRITECOPY is not valid for private pages (STATUS_INVALID_PAGE_PROTECTION)
  if (mmRights(protection).copy) return fail(p, WinError.INVALID_PARAMETER);
  const large = largePagePages(k);
  // "Ensure the size is a multiple of the minimum large page size": with no
  // address the size is ROUND_TO_PAGES'd first, with one it is checked as given
  const n = Number((size + PAGE - 1n) / PAGE);
  if ((addr === 0n ? n % large : Number(size % (BigInt(large) * PAGE))) !== 0)
    return fail(p, WinError.INVALID_PARAMETER);
  let startVpn: number;
  if (addr !== 0n) {
    startVpn = Number(addr / PAGE) - (Number(addr / PAGE) % large);
    if (p.vads.conflicting(startVpn, startVpn + n - 1) !== null) return fail(p, WinError.INVALID_ADDRESS);
  } else {
    startVpn = topDown
      ? p.vads.findEmptyDown(n, large, L.lowestUserVpn, L.vadEndVpn)
      : p.vads.findEmpty(n, large, L.lowestUserVpn, L.vadEndVpn);
    if (startVpn < 0) return fail(p, WinError.NOT_ENOUGH_MEMORY);
  }
  const endVpn = startVpn + n - 1;
  // (x64) KUSER_SHARED_DATA's page is in no VAD: a large page over it is a conflict
  if (startVpn <= SHARED_USER_DATA_VPN && SHARED_USER_DATA_VPN <= endVpn)
    return fail(p, WinError.INVALID_ADDRESS);
  const vad = new Vad(startVpn, endVpn, protection, true);
  vad.largePages = true;
  if (!charge(w, p, vad, n)) return fail(p, WinError.COMMITMENT_LIMIT);
  p.vads.insert(vad);
  if (!mapLargePages(w, mm, vad)) {
    releaseLargePages(k, mm, vad);
    uncharge(w, p, vad, n);
    p.vads.remove(vad);
    return fail(p, ERROR_NO_SYSTEM_RESOURCES);
  }
  return BigInt(startVpn) * PAGE;
}

/** The buddy allocator's flags here: no reclaim (Linux's reclaim is not Windows'). */
const LARGE_GFP = Gfp.HIGHUSER & ~(Gfp.DIRECT_RECLAIM | Gfp.KSWAPD_RECLAIM);

/**
 * The frames of one large page (2^order), or -1: MiAllocateLargeZeroPages.
 * A free block of the buddy allocator first; else MiFindLargePageMemory
 * (below); and when that finds none, MmEmptyAllWorkingSets and
 * MiFlushAllPages (every working set trimmed, the modified pages written
 * to the paging file, so they wait on the standby list) and the search
 * once more (its retry loop's cases 3 to 1; case 0 halves the chunk, which
 * is one large page here already).
 */
function takeLargePage(w: WinMm, order: number): number {
  const pfn = w.k.buddy.alloc(order, LARGE_GFP, PageKind.UserAnon);
  if (pfn >= 0) return pfn;
  const found = findLargePageMemory(w, order);
  if (found >= 0) return found;
  w.emptyAllWorkingSets();
  return findLargePageMemory(w, order);
}

/**
 * MiFindLargePageMemory: the first naturally aligned run of 2^order frames
 * each of which is free, zeroed or on the standby list (MMPFN PageLocation
 * <= StandbyPageList, no reference); its standby pages are repurposed
 * (MiRestoreTransitionPte: their owners' PTEs become paging-file PTEs) and
 * its zeroed pages taken off the zeroed list (MiUnlinkFreeOrZeroedPage),
 * the run then one free block. A frame in a working set, on the modified
 * list or the kernel's disqualifies the run. -1: no run.
 */
function findLargePageMemory(w: WinMm, order: number): number {
  const k = w.k;
  const db = w.db;
  const n = 1 << order;
  const kind = k.pages.kind;
  const takeable = (f: number) =>
    kind[f] === PageKind.Free || db.list[f] === PfnList.Zeroed || db.list[f] === PfnList.Standby;
  for (let start = 0; start + n <= k.pages.nrFrames; start += n) {
    let ok = true;
    for (let f = start; f < start + n && ok; f++) ok = takeable(f);
    if (!ok) continue;
    for (let f = start; f < start + n; f++) {
      if (db.list[f] === PfnList.Standby) db.repurpose(k, f);
      else if (db.list[f] === PfnList.Zeroed) {
        db.zeroed.splice(db.zeroed.indexOf(f), 1);
        db.list[f] = PfnList.Active;
        k.buddy.free(f, 0);
      }
    }
    // the freed frames sit on the per-CPU lists until drained (Linux's buddy allocator stands for the free list)
    k.buddy.pcp?.drainAllPages();
    if (takeRun(w.k, start, order)) return start;
  }
  return -1;
}

/**
 * The free run [start, start + 2^order) out of the buddy allocator's lists,
 * as alloc_contig_range takes one: the free block holding it taken, the
 * rest of that block given back; the run's head gets the order (as an
 * allocation of that order, for MiFreeLargePages' free). False: the run is
 * not one free block (a frame in it is not free).
 */
function takeRun(k: KernelCore, start: number, order: number): boolean {
  const p = k.pages;
  for (let o = order; o <= MAX_ORDER; o++) {
    const head = start - (start % (1 << o));
    if ((p.flags[head] & PageFlag.Buddy) === 0 || p.order[head] !== o) continue;
    k.buddy.takeFreeBlock(head, o);
    for (let f = head; f < head + (1 << o); f += 1 << order)
      if (f !== start) k.buddy.freeFreshBlock(f, order);
    for (let f = start; f < start + (1 << order); f++) {
      p.kind[f] = PageKind.UserAnon;
      p.refcount[f] = 0;
      p.mapcount[f] = 0;
      p.flags[f] = 0;
      p.priv[f] = -1;
      p.order[f] = -1;
    }
    p.order[start] = order;
    return true;
  }
  return false;
}

/** MiAllocateLargePages: a zeroed large page for each PDE of the VAD. False when one could not be had. */
function mapLargePages(w: WinMm, mm: MmStruct, vad: Vad): boolean {
  const k = w.k;
  const pt = k.arch.pgtable;
  const large = largePagePages(k);
  const order = Math.log2(large);
  const r = mmRights(vad.protection);
  for (let vpn = vad.startVpn; vpn <= vad.endVpn; vpn += large) {
    const pa = pdePa(k, mm, vpn, true);
    if (pa < 0) return false;
    const pfn = takeLargePage(w, order);
    if (pfn < 0) return false;
    for (let f = pfn; f < pfn + large; f++) {
      k.machine.phys.zeroFrame(pfnUnchecked(f));
      // every frame ActiveAndValid with ReferenceCount 1, mapped once (the PDE)
      k.pages.refcount[f] = 1;
      k.pages.mapcount[f] = 1;
      // MMPFN Priority: the page priority of the allocating thread, as for a page its fault allocates
      // (QueryWorkingSetEx reports it: MiGetWorkingSetInfoList's MI_GET_PFN_PRIORITY of the large page's frame)
      w.db.priority[f] = w.db.allocPriority;
    }
    // MI_MAKE_VALID_PTE, MI_SET_PTE_DIRTY, MI_SET_ACCESSED_IN_PTE, MI_MAKE_PDE_MAP_LARGE_PAGE: always
    // valid; PAGE_NOACCESS's MM_PTE_NOACCESS is 0, "not expressable": a valid read-only PDE
    const flags =
      (r.r || (!r.w && !r.x) ? VmFlag.READ : 0) | (r.w ? VmFlag.WRITE : 0) | (r.x ? VmFlag.EXEC : 0);
    const e = pt.mkUser(pfn, pt.pmdLevel, flags, r.w, true, false);
    // PAGE_NOCACHE's PCD, PAGE_WRITECOMBINE's PWT: MI_MAKE_VALID_PTE takes them from the ProtectionMask
    // (MmProtectToPteMask) as for a small page; bits 3 and 4 mean the same in a PDE with PS
    pt.set(k.machine.phys, pa, e.hi, (e.lo | cacheBits(vad.protection)) >>> 0);
  }
  return true;
}

/**
 * MiFreeLargePages: each PDE of the VAD cleared and its large page freed
 * (the tables above it go with the VAD: releaseVad). Returns whether a TLB
 * flush is owed.
 */
export function releaseLargePages(k: KernelCore, mm: MmStruct, vad: Vad): boolean {
  const pt = k.arch.pgtable;
  const large = largePagePages(k);
  let any = false;
  for (let vpn = vad.startVpn; vpn <= vad.endVpn; vpn += large) {
    const pa = pdePa(k, mm, vpn, false);
    if (pa < 0) continue;
    const e = pt.get(k.machine.phys, pa);
    if (!pt.leaf(e.hi, e.lo, pt.pmdLevel)) continue;
    const pfn = pt.pfn(e.hi, e.lo, pt.pmdLevel);
    pt.set(k.machine.phys, pa, 0, 0);
    for (let f = pfn; f < pfn + large; f++) k.pages.mapcount[f] = 0;
    k.buddy.free(pfn, Math.log2(large));
    any = true;
  }
  return any;
}
