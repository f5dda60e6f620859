/**
 * get_user_pages with pages returned (FOLL_GET, FOLL_PIN, FOLL_LONGTERM,
 * FOLL_FORCE), one page at a time as __get_user_pages takes them, and the
 * remote accesses built on it: process_vm_readv/writev (mm/process_vm_access.c)
 * and /proc/PID/mem (fs/proc/base.c mem_rw -> access_remote_vm). Faults a
 * GUP takes in another mm are counted against the caller (mm_account_fault
 * with regs NULL: current->min_flt/maj_flt), pgfault in /proc/vmstat.
 * Linux: mm/gup.c __get_user_pages, check_vma_flags, follow_page_pte,
 * can_follow_write_pte, gup_must_unshare, faultin_page, try_grab_folio,
 * gup_put_folio, unpin_user_pages_dirty_lock
 */

import { GUP_PIN_COUNTING_BIAS, largeFolioHead } from "../mm/gup.ts";
import { splitPmd } from "../mm/huge_memory.ts";
import { hugetlbUnshare } from "../mm/hugetlb.ts";
import { Errno, VmFault } from "../mm/internal.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { doWpPage, putPage } from "../mm/memory.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { type Vma, VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { accountFault, folioMarkDirty, touchPage } from "./gup.ts";
import { pkeyAccessPermitted } from "./pkeys.ts";
import type { Task } from "./task.ts";
import { faultDirtySharedPage } from "./writeback.ts";

/** gup_flags (include/linux/mm_types.h FOLL_*, mm/internal.h's internal ones); vmlab's own values. */
export const enum Foll {
  WRITE = 1 << 0,
  GET = 1 << 1,
  FORCE = 1 << 3,
  LONGTERM = 1 << 8,
  TOUCH = 1 << 16,
  REMOTE = 1 << 18,
  PIN = 1 << 19,
}

/**
 * is_cow_mapping: private and may be written (VM_MAYWRITE without VM_SHARED).
 * Linux: include/linux/mm.h is_cow_mapping
 */
function isCowMapping(f: number): boolean {
  return (f & (VmFlag.SHARED | VmFlag.MAYWRITE)) === VmFlag.MAYWRITE;
}

/** vma_is_anonymous: no vm_ops (no file, no shmem object) */
function vmaIsAnonymous(vma: Vma): boolean {
  return vma.file === null && vma.shmem === null;
}

/**
 * check_vma_flags: may a GUP with `foll` use this VMA at all? -EFAULT for
 * VM_IO/VM_PFNMAP; a write to a VMA without VM_WRITE needs FOLL_FORCE, and
 * then a COW mapping (VM_MAYWRITE, not VM_SHARED: a shared read-only mapping
 * is refused, whatever the file's mode) that is not HugeTLB; FOLL_LONGTERM
 * writes refuse a shared mapping of a file that needs dirty tracking (a disk
 * file: writable_file_mapping_allowed); a read of a VMA without VM_READ needs
 * FOLL_FORCE and VM_MAYREAD. Protection keys are checked for a GUP of the
 * caller's own mm only (arch_vma_access_permitted: x86 lets a foreign access
 * through). Returns 0 or -errno.
 * Linux: mm/gup.c check_vma_flags, writable_file_mapping_allowed
 */
export function checkVmaFlags(k: KernelCore, caller: Task, vma: Vma, foll: number): number {
  const f = vma.vmFlags;
  const write = (foll & Foll.WRITE) !== 0;
  if (f & (VmFlag.IO | VmFlag.PFNMAP)) return -Errno.EFAULT;
  if (write) {
    // writable_file_mapping_allowed: FOLL_LONGTERM on a shared file mapping with writeback
    if (foll & Foll.LONGTERM && !vmaIsAnonymous(vma) && f & VmFlag.SHARED && vma.file?.fs === "disk")
      return -Errno.EFAULT;
    if (!(f & VmFlag.WRITE)) {
      if (!(foll & Foll.FORCE)) return -Errno.EFAULT;
      if (f & VmFlag.HUGETLB) return -Errno.EFAULT; // hugetlb does not support FOLL_FORCE|FOLL_WRITE
      if (!isCowMapping(f)) return -Errno.EFAULT;
    }
  } else if (!(f & VmFlag.READ)) {
    if (!(foll & Foll.FORCE)) return -Errno.EFAULT;
    if (!(f & VmFlag.MAYREAD)) return -Errno.EFAULT;
  }
  if (!(foll & Foll.REMOTE) && !pkeyAccessPermitted(k, caller, f, write)) return -Errno.EFAULT;
  return 0;
}

/**
 * can_follow_write_pte: a FOLL_WRITE GUP may use a present PTE that is
 * writable; or, with FOLL_FORCE, a read-only PTE in a private VMA with
 * VM_MAYWRITE but not VM_WRITE whose page is an exclusive anonymous page:
 * the COW was broken (by faultin_page's write fault) and the page is ours
 * alone, so the write cannot reach the file or another process's page (the
 * Dirty COW fix, 5535be309971 / 6.0's PageAnonExclusive form).
 * Linux: mm/gup.c can_follow_write_pte
 */
function canFollowWritePte(k: KernelCore, writable: boolean, pfn: number, vma: Vma, foll: number): boolean {
  if (writable) return true;
  if (!(foll & Foll.FORCE)) return false;
  const f = vma.vmFlags;
  if (f & VmFlag.SHARED) return false; // FOLL_FORCE has no effect on shared mappings
  if (!(f & VmFlag.MAYWRITE)) return false; // ... or read-only private ones
  if (f & VmFlag.WRITE) return false; // ... or writable ones that just need a write fault
  const pages = k.pages;
  return (
    pfn >= 0 && pages.kind[pfn] === PageKind.UserAnon && (pages.flags[pfn] & PageFlag.AnonExclusive) !== 0
  );
}

/**
 * gup_must_unshare: a read-only FOLL_PIN of an anonymous page not known to
 * be exclusive (shared with a fork's child or parent) must first unshare it,
 * so that the pin and the page tables cannot diverge after a later COW; a
 * FOLL_LONGTERM read pin of a page that is not anonymous (a file page, the
 * zero page) in a COW mapping too (break COW early).
 * Linux: mm/internal.h gup_must_unshare
 */
function gupMustUnshare(k: KernelCore, vma: Vma, foll: number, pfn: number): boolean {
  if ((foll & (Foll.WRITE | Foll.PIN)) !== Foll.PIN) return false;
  const pages = k.pages;
  // a HugeTLB folio: PageAnon and PageAnonExclusive of its head (hugetlb_add_new_anon_rmap)
  const h = vma.htlb?.h;
  if (h !== undefined && pfn >= 0) pfn -= pfn % 2 ** h.order;
  const anon = h !== undefined ? h.anon.has(pfn) : pfn >= 0 && pages.kind[pfn] === PageKind.UserAnon;
  // !PageAnon (the zero page, pfn -1, too: follow_page_pte asks for it as for any page)
  if (!anon) return (foll & Foll.LONGTERM) !== 0 && isCowMapping(vma.vmFlags);
  return (pages.flags[pfn] & PageFlag.AnonExclusive) === 0;
}

/** A page __get_user_pages grabbed: its frame, and its large folio's head (-1: small; the zero page: -2). */
export interface GupPage {
  pfn: number;
  head: number;
  /** taken by gup_fast (pin_user_pages_fast), not by the slow path */
  fast?: true;
}

/**
 * try_grab_folio: FOLL_GET takes a reference; FOLL_PIN takes
 * GUP_PIN_COUNTING_BIAS on a small folio, 1 and a _pincount on a large one,
 * and counts NR_FOLL_PIN_ACQUIRED; the zero page takes neither.
 * Linux: mm/gup.c try_grab_folio
 */
function tryGrabFolio(k: KernelCore, pfn: number, head: number, foll: number): void {
  if (head === -2) return; // is_zero_folio: no reference, no count
  const pages = k.pages;
  // folio_ref_add: vmlab counts a THP's or mTHP's references page by page, a HugeTLB folio's on its head
  const ref = pages.kind[pfn] === PageKind.Hugetlb ? head : pfn;
  if (foll & Foll.GET) {
    pages.refcount[ref]++;
    return;
  }
  if (!(foll & Foll.PIN)) return;
  const held = k.userMm.pinnedRefs;
  held.set(ref, (held.get(ref) ?? 0) + (head >= 0 ? 1 : GUP_PIN_COUNTING_BIAS));
  if (head >= 0) {
    pages.refcount[ref]++;
    k.userMm.pincount.set(head, (k.userMm.pincount.get(head) ?? 0) + 1);
  } else pages.refcount[pfn] += GUP_PIN_COUNTING_BIAS;
  k.userMm.follPinAcquired++;
}

/**
 * gup_put_folio: drop what tryGrabFolio took (FOLL_PIN: NR_FOLL_PIN_RELEASED,
 * the bias or the _pincount); the last reference frees the page (folio_put),
 * as when the mapping went away while the page was pinned.
 * Linux: mm/gup.c gup_put_folio, unpin_user_page
 */
export function gupPutFolio(k: KernelCore, p: GupPage, foll: number): void {
  if (p.head === -2) return;
  const pages = k.pages;
  if (foll & Foll.PIN) {
    k.userMm.follPinReleased++;
    const ref = pages.kind[p.pfn] === PageKind.Hugetlb ? p.head : p.pfn;
    const held = k.userMm.pinnedRefs;
    const left = (held.get(ref) ?? 0) - (p.head >= 0 ? 1 : GUP_PIN_COUNTING_BIAS);
    if (left > 0) held.set(ref, left);
    else held.delete(ref);
    if (p.head >= 0) {
      const n = (k.userMm.pincount.get(p.head) ?? 1) - 1;
      if (n > 0) k.userMm.pincount.set(p.head, n);
      else k.userMm.pincount.delete(p.head);
    } else pages.refcount[p.pfn] -= GUP_PIN_COUNTING_BIAS - 1;
  }
  putPage(k.userMm, pages.kind[p.pfn] === PageKind.Hugetlb ? p.head : p.pfn); // folio_put_refs
}

/**
 * unpin_user_pages_dirty_lock: with make_dirty, each page not yet dirty is
 * made so (folio_mark_dirty_lock; vmlab: PG_dirty of an anonymous page or a
 * shmem folio, core/gup.ts folioMarkDirty), then unpinned.
 * Linux: mm/gup.c unpin_user_pages_dirty_lock
 */
export function unpinUserPagesDirtyLock(k: KernelCore, pages: readonly GupPage[], makeDirty: boolean): void {
  for (const p of pages) {
    if (makeDirty && p.head !== -2) folioMarkDirty(k, p.pfn);
    gupPutFolio(k, p, Foll.PIN);
  }
}

/** What __get_user_pages did to one page: the page, or -errno. */
export type GupResult = GupPage | number;

/**
 * __get_user_pages for the page at `vpn` of `mm` on behalf of `caller`:
 * the VMA (find_vma; none: -EFAULT), check_vma_flags, then follow_page_mask
 * and faultin_page until the page can be taken: a missing or swapped page,
 * a write the PTE does not allow (can_follow_write_pte) fault in with
 * handle_mm_fault (FAULT_FLAG_WRITE for FOLL_WRITE, FAULT_FLAG_REMOTE), a
 * read pin of a shared anonymous page unshares it (-EMLINK: a
 * FAULT_FLAG_UNSHARE fault, do_wp_page's unshare: the page copied, or
 * marked exclusive, the PTE left read-only). Each fault is counted against
 * the caller (mm_account_fault, regs NULL). The page is grabbed
 * (try_grab_folio) and touched (FOLL_TOUCH: marked accessed, made dirty for a
 * write through a clean PTE). A special PTE (no struct page) is -EFAULT;
 * the zero page is returned without a reference. A fault that fails:
 * -ENOMEM for VM_FAULT_OOM, -EFAULT otherwise (faultin_page).
 * Linux: mm/gup.c __get_user_pages, follow_page_pte, faultin_page
 */
export function getUserPage(k: KernelCore, caller: Task, mm: MmStruct, vpn: number, foll: number): GupResult {
  // __get_user_pages_locked: mm_set_has_pinned_flag before any VMA is looked at (a pin that
  // fails, even at an unmapped address, leaves MMF_HAS_PINNED set)
  if (foll & Foll.PIN) mm.hasPinned = true;
  const vma = mm.vmaAt(vpn);
  if (vma === null) return -Errno.EFAULT;
  const err = checkVmaFlags(k, caller, vma, foll);
  if (err < 0) return err;
  const write = (foll & Foll.WRITE) !== 0;
  const pt = k.arch.pgtable;
  for (let attempt = 0; attempt < 4; attempt++) {
    const leaf = k.userMm.leafFor(mm, vpn);
    let unshare = false;
    if (leaf !== null && pt.present(leaf.hi, leaf.lo)) {
      const pfn = leaf.pfn;
      const special = leaf.level === 0 && pt.special(leaf.hi, leaf.lo);
      const zero =
        pfn === k.zeroPfn ||
        (leaf.level === pt.pmdLevel && pfn - (vpn % pt.hpagePmdNr) === k.userMm.hugeZeroPfn);
      const writable = pt.write(leaf.hi, leaf.lo);
      if (!write || canFollowWritePte(k, writable, zero || special ? -1 : pfn, vma, foll)) {
        if (special && !zero) return -Errno.EFAULT; // vm_normal_page NULL: follow_pfn_pte
        // a HugeTLB folio too (follow_huge_pmd/follow_huge_pud, then hugetlb_wp's unshare);
        // the zero page too (follow_page_pte, follow_huge_pmd): a FOLL_LONGTERM read pin of it in a
        // COW mapping unshares it into a zeroed anonymous page (wp_page_copy of the zero pfn)
        if (!writable && gupMustUnshare(k, vma, foll, zero ? -1 : pfn)) unshare = true;
        else {
          const head = zero
            ? -2
            : vma.htlb !== null
              ? pfn - (pfn % 2 ** vma.htlb.h.order) // a HugeTLB folio (PMD, PUD or contiguous PTEs)
              : leaf.level > 0
                ? pfn - (pfn % pt.ptrsPerTable ** leaf.level)
                : largeFolioHead(k.userMm, pfn);
          const page = { pfn, head };
          tryGrabFolio(k, pfn, head, foll);
          if (foll & Foll.TOUCH) touchPage(k, mm, vpn, write);
          return page;
        }
      }
    }
    const r = faultinPage(k, caller, mm, vma, vpn, write, unshare);
    if (r & VmFault.OOM) return -Errno.ENOMEM;
    if (r & (VmFault.SIGBUS | VmFault.SIGSEGV)) return -Errno.EFAULT;
  }
  return -Errno.EFAULT;
}

/**
 * faultin_page: handle_mm_fault with FAULT_FLAG_WRITE for FOLL_WRITE (or
 * FAULT_FLAG_UNSHARE), FAULT_FLAG_REMOTE, regs NULL: counted in pgfault and
 * against the caller's min_flt/maj_flt (mm_account_fault counts current's).
 * A shared file page made dirty balances the caller's dirty pages.
 * Linux: mm/gup.c faultin_page; mm/memory.c handle_mm_fault, mm_account_fault
 */
function faultinPage(
  k: KernelCore,
  caller: Task,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  write: boolean,
  unshare: boolean,
): VmFault {
  k.faultingMm = mm;
  let r: VmFault;
  if (unshare) {
    k.userMm.pgfault++;
    r = unshareFault(k, mm, vma, vpn);
  } else r = k.userMm.handleMmFault(mm, vma, vpn, write);
  k.faultingMm = null;
  faultDirtySharedPage(k, caller);
  accountFault(caller, r);
  return r & ~VmFault.MAJOR;
}

/**
 * handle_mm_fault with FAULT_FLAG_UNSHARE on a present read-only entry: a
 * huge PMD whose folio is ours alone (PageAnonExclusive, or every page
 * mapped once with no other reference) is only marked exclusive; else the
 * PMD is split (VM_FAULT_FALLBACK) and the PTE's do_wp_page unshares the
 * 4K page: reused and marked exclusive, or copied into a read-only, clean page. A HugeTLB
 * entry goes to hugetlb_wp with unshare: an anonymous folio mapped once is marked exclusive,
 * anything else copied into a new folio mapped read-only and clean (make_huge_pte(!unshare)).
 * Linux: mm/huge_memory.c do_huge_pmd_wp_page; mm/memory.c do_wp_page, wp_page_copy; mm/hugetlb.c hugetlb_wp
 */
function unshareFault(k: KernelCore, mm: MmStruct, vma: Vma, vpn: number): VmFault {
  if (vma.htlb !== null) return hugetlbUnshare(k.userMm, mm, vma, vpn); // hugetlb_fault: hugetlb_wp
  const pt = k.arch.pgtable;
  let leaf = k.userMm.leafFor(mm, vpn)!;
  if (leaf.level === pt.pmdLevel) {
    const nr = pt.hpagePmdNr;
    const base = leaf.pfn - (vpn % nr);
    const pages = k.pages;
    // do_huge_pmd_wp_page: the huge zero page goes to fallback (split, then the PTE's unshare)
    let mine = base !== k.userMm.hugeZeroPfn && (pages.flags[base] & PageFlag.AnonExclusive) !== 0;
    if (!mine && base !== k.userMm.hugeZeroPfn) {
      mine = true;
      for (let i = 0; i < nr && mine; i++)
        mine = pages.mapcount[base + i] === 1 && pages.refcount[base + i] === 1;
    }
    if (mine) {
      for (let i = 0; i < nr; i++) pages.flags[base + i] |= PageFlag.AnonExclusive;
      return VmFault.OK;
    }
    splitPmd(k.userMm, mm, vpn);
    leaf = k.userMm.leafFor(mm, vpn)!;
  }
  return doWpPage(k.userMm, mm, vma, vpn, leaf.pa, leaf.hi, leaf.lo, true);
}

/**
 * pin_user_pages / pin_user_pages_remote: FOLL_PIN (| FOLL_TOUCH, |
 * FOLL_REMOTE for another mm) of `n` pages from `vpn`; stops at the first
 * page it cannot take. Returns the pages pinned, or -errno when none was
 * (the first page's error). Linux: mm/gup.c pin_user_pages_remote, __gup_longterm_locked
 */
export function pinUserPages(
  k: KernelCore,
  caller: Task,
  mm: MmStruct,
  vpn: number,
  n: number,
  foll: number,
): GupPage[] | number {
  const got: GupPage[] = [];
  for (let i = 0; i < n; i++) {
    const r = getUserPage(k, caller, mm, vpn + i, foll | Foll.PIN | Foll.TOUCH);
    if (typeof r === "number") {
      if (got.length === 0) return r;
      break;
    }
    got.push(r);
  }
  return got;
}

/**
 * gup_fast for the page at `vpn` (gup_fast_pte_range, or gup_fast_pmd_leaf / gup_fast_pud_leaf for
 * a huge leaf: a PMD-mapped THP, a HugeTLB PMD or PUD; an arm64/RISC-V contiguous HugeTLB run is
 * PTEs to gup_fast): taken straight from its entry, no VMA looked at, no fault, no FOLL_TOUCH (not
 * folio_mark_accessed, not dirtied, a huge PMD not made young: folio_set_referenced only,
 * PG_referenced, so reclaim's folio_check_references activates it if its PTE is young); null when
 * gup_fast stops there for the slow path: no present accessible entry (pte_protnone/pmd_protnone,
 * or pte/pmd_access_permitted refusing the access, arm64's execute-only entry without PTE_USER,
 * or the protection key), a special PTE (the zero page's too), a write through a read-only entry,
 * a FOLL_LONGTERM write pin of a page-cache folio that is neither shmem nor HugeTLB
 * (gup_fast_folio_allowed), or a read pin gup_must_unshare(NULL, ...) refuses (an anonymous folio
 * whose head page is not exclusive; a FOLL_LONGTERM one of a folio that is not anonymous).
 * try_grab_folio_fast pins a large folio by its _pincount (one per page taken: record_subpages'
 * refs), a small one by GUP_PIN_COUNTING_BIAS; folio_is_longterm_pinnable
 * holds for every folio (no ZONE_MOVABLE nor CMA in vmlab). The huge zero page is left to the slow
 * path. Linux: mm/gup.c gup_fast_pte_range, gup_fast_pmd_leaf, gup_fast_pud_leaf,
 * try_grab_folio_fast, gup_fast_folio_allowed; mm/internal.h gup_must_unshare
 */
function gupFastPage(
  k: KernelCore,
  caller: Task,
  mm: MmStruct,
  vpn: number,
  foll: number,
  left: number,
): GupPage | null {
  const pt = k.arch.pgtable;
  const leaf = k.userMm.leafFor(mm, vpn);
  if (leaf === null || !pt.present(leaf.hi, leaf.lo) || !pt.accessible(leaf.hi, leaf.lo)) return null;
  // pte_access_permitted: arm64's PTE_USER too (an execute-only entry goes to the slow path)
  if (pt.userAccessPermitted !== undefined && !pt.userAccessPermitted(leaf.hi, leaf.lo)) return null;
  if (leaf.level === 0 && pt.special(leaf.hi, leaf.lo)) return null;
  const write = (foll & Foll.WRITE) !== 0;
  const writable = pt.write(leaf.hi, leaf.lo);
  if (write && !writable) return null;
  const vma = mm.vmaAt(vpn); // the entry's protection key (pte_access_permitted), not a VMA walk
  if (vma === null || !pkeyAccessPermitted(k, caller, vma.vmFlags, write)) return null;
  const pfn = leaf.pfn;
  if (pfn === k.zeroPfn) return null; // the zero page's PTE is special (do_anonymous_page: pte_mkspecial)
  const h = vma.htlb?.h;
  const head =
    h !== undefined
      ? pfn - (pfn % 2 ** h.order) // a HugeTLB folio (pmd_page/pud_page, or a contiguous run's)
      : leaf.level > 0
        ? pfn - (pfn % pt.ptrsPerTable ** leaf.level)
        : largeFolioHead(k.userMm, pfn);
  if (leaf.level > 0 && head === k.userMm.hugeZeroPfn) return null;
  const pages = k.pages;
  const anon = h !== undefined ? h.anon.has(head) : pages.kind[pfn] === PageKind.UserAnon;
  const shmem = pages.kind[pfn] === PageKind.PageCache && (pages.flags[pfn] & PageFlag.SwapBacked) !== 0;
  const pinLongWrite = Foll.PIN | Foll.LONGTERM | Foll.WRITE;
  // past this point try_grab_folio_fast has pinned the pages (record_subpages: a leaf's up to the
  // range's end), counting NR_FOLL_PIN_ACQUIRED; a refusal puts them back (gup_put_folio: RELEASED)
  const span = leaf.level > 0 ? pt.ptrsPerTable ** leaf.level : 1;
  const refs = Math.min(left, span - (vpn % span));
  // gup_fast_folio_allowed: "hugetlb neither requires dirty-tracking nor can be secretmem"
  if ((foll & pinLongWrite) === pinLongWrite && !anon && !shmem && h === undefined)
    return gupFastRefused(k, refs);
  if (!writable && (foll & (Foll.WRITE | Foll.PIN)) === Foll.PIN) {
    // gup_must_unshare with no VMA; a large folio's PageAnonExclusive of &folio->page on a huge leaf
    const exclusive = pages.flags[leaf.level > 0 || h !== undefined ? head : pfn] & PageFlag.AnonExclusive;
    if (anon ? !exclusive : (foll & Foll.LONGTERM) !== 0) return gupFastRefused(k, refs);
  }
  tryGrabFolio(k, pfn, head, foll); // try_grab_folio_fast
  // folio_set_referenced: PG_referenced only (not folio_mark_accessed's activation); vmlab keeps
  // it under the linux policy (mm/swap.ts), a THP's on its head's LRU entry; HugeTLB is on no LRU
  const v = k.vmscan;
  if (v.env.policy === "linux" && h === undefined) v.referenced[head >= 0 && v.large[head] ? head : pfn] = 1;
  return { pfn, head, fast: true };
}

/**
 * gup_fast_pte_range / gup_fast_pmd_leaf refusing a folio after try_grab_folio_fast took it
 * (gup_fast_folio_allowed, gup_must_unshare): gup_put_folio gives the `refs` pins back, so
 * nr_foll_pin_acquired and nr_foll_pin_released both count them. Linux: mm/gup.c gup_put_folio
 */
function gupFastRefused(k: KernelCore, refs: number): null {
  k.userMm.follPinAcquired += refs;
  k.userMm.follPinReleased += refs;
  return null;
}

/**
 * pin_user_pages_fast: MMF_HAS_PINNED, then gup_fast from `vpn` up to the first page it cannot
 * take, and the slow path (__gup_longterm_locked with FOLL_TOUCH) for the rest. Returns the
 * pages pinned, or -errno when none was. Linux: mm/gup.c pin_user_pages_fast, gup_fast_fallback
 */
export function pinUserPagesFast(
  k: KernelCore,
  caller: Task,
  mm: MmStruct,
  vpn: number,
  n: number,
  foll: number,
): GupPage[] | number {
  mm.hasPinned = true; // gup_fast_fallback: mm_set_has_pinned_flag
  const got: GupPage[] = [];
  for (let i = 0; i < n; i++) {
    const p = gupFastPage(k, caller, mm, vpn + i, foll | Foll.PIN, n - i);
    if (p === null) break;
    got.push(p);
  }
  if (got.length === n) return got;
  const rest = pinUserPages(k, caller, mm, vpn + got.length, n - got.length, foll);
  if (typeof rest === "number") return got.length > 0 ? got : rest;
  return got.concat(rest);
}
