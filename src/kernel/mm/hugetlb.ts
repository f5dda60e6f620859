/**
 * HugeTLB pages: the reservations of the pools (one struct hstate per huge
 * page size: mm/hugetlb_pool.ts), and HugeTLB mappings (MAP_HUGETLB on the
 * internal hugetlbfs mount): the fault, the copy-on-write, fork's copy,
 * mprotect, mremap and the unmap. Linux: mm/hugetlb.c (6.12; the host's
 * 6.18 behaves alike for everything here: 6.14 renamed
 * alloc_hugetlb_folio's avoid_reserve to cow_from_owner, which differs only
 * with a hugetlbfs subpool, and the internal mount has none),
 * fs/hugetlbfs/inode.c (hugetlb_get_unmapped_area, hugetlbfs_file_mmap,
 * hugetlbfs_evict_inode).
 *
 * The default huge page size is the PMD's (HPAGE_SIZE, default_hstate):
 * 2 MiB on x86-64 (a PMD with PS, arch/x86/mm/hugetlbpage.c), arm64 with 4K
 * pages (a level-2 block, arch/arm64/mm/hugetlbpage.c), RISC-V (a leaf at
 * level 1, arch/riscv/mm/hugetlbpage.c) and i386 with PAE; 4 MiB on i386
 * without PAE (a PSE page-directory entry: HPAGE_SHIFT = 22). 1 GiB pages
 * (PUD_SIZE, a gigantic hstate) are mapped by one PUD-level leaf
 * (huge_pte_alloc's pud_alloc): x86-64 with GBPAGES (a PDPTE with PS),
 * arm64 (a level-1 block), RISC-V Sv39/48/57 (a leaf at level 2); i386 has
 * none. arm64's contiguous 64K (CONT_PTE) and 32M (CONT_PMD) and RISC-V's
 * Svnapot 64K are runs of 16 entries (HState.ncontig), each read and written
 * through the architecture's huge_pte helpers (mm/hugetlb_cont.ts).
 * A VMA's size is its hstate_vma (vma.htlb.h); MAP_HUGE_SHIFT picks it.
 *
 * Modelling choices: a folio's references and mappings are counted on its
 * first frame (folio_ref_count, folio_mapcount: a HugeTLB folio is mapped
 * whole, by one entry); its other frames stay at zero. The pool is one
 * node's. PMD sharing is mm/hugetlb_pmd_share.ts. hugetlbfs subpools,
 * cgroups, migration and poisoning are not modelled.
 */
import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import { PteFlag, TlbFlush } from "./arch.ts";
import {
  archMakeHugePte,
  hugeModifyProtRun,
  hugePtepClearFlush,
  hugePtepGet,
  hugePtepGetAndClear,
  hugePtepGetAndClearNoFlush,
  hugePtepSetAccessFlags,
  hugePtepSetWrprotect,
  setHugePteAt,
} from "./hugetlb_cont.ts";
import {
  copyUserLargeFolio,
  hugePteOffset,
  hugetlbCopyPinned,
  hugetlbNeedsCowForDma,
  unmapRefPrivate,
} from "./hugetlb_fork.ts";
import {
  adjustRangeIfPmdSharingPossible,
  hugePmdShare,
  hugePmdUnshare,
  pudRange,
  wantPmdShare,
} from "./hugetlb_pmd_share.ts";
import {
  allocSurplusFolio,
  freeHugeFolio,
  hstateOf,
  hstateVma,
  hugetlbFolioPut,
  removePoolFolio,
} from "./hugetlb_pool.ts";
import { type HState, HugetlbFile, HugetlbVma, PrivateResvMap } from "./hugetlb_vma.ts";
import { type MmContext, type TlbGather, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { PageFlag } from "./PageDesc.ts";
import { levelSpan, mapper, ptepModify, upperTablesChanged } from "./pgtable.ts";
import { type Vma, VmFlag } from "./vma.ts";

export { hugetlbFolioPut, setMaxHugePages, setOvercommitHugePages } from "./hugetlb_pool.ts";
export { hugetlbMadviseRefused, hugetlbMaySplit, hugetlbMremapLengths } from "./hugetlb_rules.ts";

// ---- reservations ----

/**
 * gather_surplus_pages: make `delta` more reservations possible, taking
 * surplus folios for what the free list lacks (all or none); then the
 * reservations are counted. False: not enough could be had.
 * Linux: mm/hugetlb.c gather_surplus_pages
 */
function gatherSurplusPages(ctx: MmContext, h: HState, delta: number): boolean {
  const needed = h.resvHugePages + delta - h.freeHugePages;
  if (needed <= 0) {
    h.resvHugePages += delta;
    return true;
  }
  const got: number[] = [];
  for (let i = 0; i < needed; i++) {
    const head = allocSurplusFolio(ctx, h);
    if (head < 0) break;
    got.push(head);
  }
  if (got.length < needed) {
    // not enough: each goes back (free_huge_folio of a surplus folio: to the buddy allocator)
    for (const head of got) {
      ctx.env.pages.refcount[head] = 0;
      freeHugeFolio(ctx, h, head);
    }
    return false;
  }
  h.resvHugePages += delta;
  for (const head of got) {
    ctx.env.pages.refcount[head] = 0;
    h.freeList.push(head); // enqueue_hugetlb_folio
    h.freeHugePages++;
  }
  return true;
}

/**
 * return_unused_surplus_pages: `unused` reservations go, and as many free
 * surplus folios leave the pool.
 * Linux: mm/hugetlb.c return_unused_surplus_pages
 */
function returnUnusedSurplusPages(ctx: MmContext, h: HState, unused: number): void {
  h.resvHugePages -= unused;
  let n = Math.min(unused, h.surplusHugePages);
  while (n-- > 0) if (!removePoolFolio(ctx, h, true)) break;
}

/**
 * hugetlb_acct_memory: reserve `delta` folios (false when the pool and
 * the overcommit cannot cover them: the mmap fails with ENOMEM), or give
 * back -delta.
 * Linux: mm/hugetlb.c hugetlb_acct_memory
 */
export function hugetlbAcctMemory(ctx: MmContext, h: HState, delta: number): boolean {
  if (delta > 0) {
    if (!gatherSurplusPages(ctx, h, delta)) return false;
    // allowed_mems_nr: the free folios of the nodes the task may use
    if (delta > h.freeHugePages) {
      returnUnusedSurplusPages(ctx, h, delta);
      return false;
    }
  } else if (delta < 0) returnUnusedSurplusPages(ctx, h, -delta);
  return true;
}

/** vma_hugecache_offset: the huge-page index of `vpn` in the VMA's file. */
function hugeIndex(h: HState, vma: Vma, vpn: number): number {
  return Math.floor((vma.vmPgoff + (vpn - vma.vmStart)) / h.nrPages);
}

/**
 * The setup of a HugeTLB mapping, as hugetlbfs_file_mmap makes it, of
 * `existing` (a SysV segment's inode: shmat) or else of a new inode on the
 * internal mount (MAP_HUGETLB's hugetlb_file_setup), and the reservation of
 * the VMA's huge pages (hugetlb_reserve_pages): none under VM_NORESERVE or
 * for an S_PRIVATE (SHM_HUGETLB) inode, whose shmget reserved them; a
 * shared mapping reserves the indexes the inode has not reserved yet
 * (region_chg, then region_add); a private one all of them, in a map its
 * creator owns (HPAGE_RESV_OWNER). False: the pool cannot cover them
 * (mmap's ENOMEM), and nothing was changed.
 * Linux: fs/hugetlbfs/inode.c hugetlb_file_setup, hugetlbfs_file_mmap; mm/hugetlb.c hugetlb_reserve_pages
 */
export function hugetlbMmapSetup(ctx: MmContext, vma: Vma, h: HState, existing?: HugetlbFile): boolean {
  const file = existing ?? new HugetlbFile(++hstateOf(ctx).lastIno, h); // get_next_ino: one counter
  const from = hugeIndex(h, vma, vma.vmStart);
  const to = hugeIndex(h, vma, vma.vmEnd);
  const shared = (vma.vmFlags & VmFlag.MAYSHARE) !== 0;
  if (vma.vmFlags & VmFlag.NORESERVE || file.shmfs) {
    vma.htlb = new HugetlbVma(h, file, null);
    return true;
  }
  let chg = 0; // region_chg: the indexes the inode's map lacks (a private mapping: all)
  for (let i = from; i < to; i++) if (!shared || !file.resv.has(i)) chg++;
  if (!hugetlbAcctMemory(ctx, h, chg)) return false;
  if (shared) for (let i = from; i < to; i++) file.resv.add(i); // region_add
  vma.htlb = new HugetlbVma(h, file, shared ? null : new PrivateResvMap());
  return true;
}

/**
 * hugetlb_file_setup for a file of `nrHuge` huge pages not mapped at
 * setup (HUGETLB_SHMFS_INODE: shmget's SHM_HUGETLB segment): a new inode
 * (S_PRIVATE for `shmfs`) holding one reference (the file's), its pages
 * reserved in its map (hugetlb_reserve_pages with no VMA: region_chg and
 * region_add on the inode's resv_map) unless `noreserve` (VM_NORESERVE).
 * Null: the pool cannot cover them (-ENOMEM), nothing changed. HugeTLB is
 * never charged to vm_committed_as.
 * Linux: fs/hugetlbfs/inode.c hugetlb_file_setup; mm/hugetlb.c hugetlb_reserve_pages
 */
export function hugetlbFileSetup(
  ctx: MmContext,
  h: HState,
  nrHuge: number,
  noreserve: boolean,
  shmfs: boolean,
): HugetlbFile | null {
  const file = new HugetlbFile(++hstateOf(ctx).lastIno, h);
  file.shmfs = shmfs;
  file.size = nrHuge * h.nrPages * 4096;
  if (!noreserve) {
    if (!hugetlbAcctMemory(ctx, h, nrHuge)) return null;
    for (let i = 0; i < nrHuge; i++) file.resv.add(i);
  }
  file.refs = 1;
  return file;
}

/**
 * hugetlb_vmtruncate's page-cache half for a new i_size of `size` bytes (a
 * multiple of the huge page size; the caller zapped the mappings past it,
 * hugetlb_vmdelete_list): remove_inode_hugepages drops the folios from the
 * new end on, hugetlb_unreserve_pages gives back the reservations past it
 * that no folio consumed (region_del).
 * Linux: fs/hugetlbfs/inode.c hugetlb_vmtruncate, remove_inode_hugepages; mm/hugetlb.c hugetlb_unreserve_pages
 */
export function hugetlbTruncate(ctx: MmContext, file: HugetlbFile, size: number): void {
  const h = file.h;
  const from = size / (h.nrPages * 4096);
  file.size = size;
  let freed = 0;
  for (const [idx, head] of [...file.pages])
    if (idx >= from) {
      file.pages.delete(idx);
      hugetlbFolioPut(ctx, head);
      freed++;
    }
  let chg = 0;
  for (const i of [...file.resv])
    if (i >= from) {
      file.resv.delete(i);
      chg++;
    }
  if (chg - freed !== 0) hugetlbAcctMemory(ctx, h, -(chg - freed));
}

/**
 * fput of a hugetlbfs file's own reference (a SysV segment destroyed): the
 * last reference evicts the inode (hugetlbfs_evict_inode).
 * Linux: fs/file_table.c fput; fs/hugetlbfs/inode.c hugetlbfs_evict_inode
 */
export function hugetlbFilePut(ctx: MmContext, file: HugetlbFile): void {
  if (--file.refs === 0) evictInode(ctx, file.h, file);
}

/**
 * vma_needs_reservation: 0 when a reservation covers the folio at `idx`
 * (a shared mapping: the inode reserved it; a private owner: not consumed
 * yet), 1 otherwise (a forked child, MAP_NORESERVE).
 * Linux: mm/hugetlb.c __vma_reservation_common (VMA_NEEDS_RESV)
 */
function vmaNeedsReservation(vma: Vma, idx: number): number {
  const hv = vma.htlb!;
  if (vma.vmFlags & VmFlag.MAYSHARE) return hv.file.resv.has(idx) ? 0 : 1;
  if (hv.resv !== null) return hv.resv.consumed.has(idx) ? 1 : 0;
  return 1;
}

/** vma_has_reserves: may this allocation take a reserved folio? Linux: mm/hugetlb.c vma_has_reserves */
function vmaHasReserves(vma: Vma, chg: number): boolean {
  const shared = (vma.vmFlags & VmFlag.MAYSHARE) !== 0;
  if (vma.vmFlags & VmFlag.NORESERVE) return shared && chg === 0;
  if (shared) return chg === 0;
  return vma.htlb!.resv !== null && chg === 0;
}

/**
 * alloc_hugetlb_folio: a folio for index `idx` of the VMA, referenced
 * once: the reserved one when a reservation covers it (resv_huge_pages
 * drops), else a free folio no reservation needs, else a surplus folio
 * within nr_overcommit_hugepages; then the reservation map records it
 * (vma_commit_reservation). `avoidReserve`: the owner's COW, which must not
 * take its reservation. -1: none (-ENOSPC, the fault's SIGBUS).
 * Linux: mm/hugetlb.c alloc_hugetlb_folio, dequeue_hugetlb_folio_vma
 */
export function allocHugetlbFolio(ctx: MmContext, vma: Vma, idx: number, avoidReserve: boolean): number {
  const h = hstateVma(vma);
  const mapChg = vmaNeedsReservation(vma, idx);
  const gblChg = mapChg !== 0 || avoidReserve ? 1 : 0;
  const hasReserves = vmaHasReserves(vma, gblChg);
  let head = -1;
  // dequeue_hugetlb_folio_vma: a child without reserves may not take the reserved folios
  if (hasReserves || h.freeHugePages - h.resvHugePages > 0) {
    head = h.freeList.pop() ?? -1;
    if (head >= 0) {
      h.freeHugePages--;
      if (hasReserves) h.resvHugePages--;
      ctx.env.pages.refcount[head] = 1;
    }
  }
  if (head < 0) {
    // alloc_buddy_hugetlb_folio_with_mpol: a surplus folio
    head = allocSurplusFolio(ctx, h);
    if (head < 0) return -1;
    if (!avoidReserve && hasReserves) h.resvHugePages--;
  }
  h.active.add(head);
  // vma_commit_reservation: region_add
  const hv = vma.htlb!;
  if (vma.vmFlags & VmFlag.MAYSHARE) hv.file.resv.add(idx);
  else if (hv.resv !== null) hv.resv.consumed.add(idx);
  return head;
}

/**
 * hugetlb_vm_op_close, then the file's reference (fput): a private
 * owner's VMA gives back the reservations its range did not consume; the
 * last VMA of the file evicts the inode.
 * Linux: mm/hugetlb.c hugetlb_vm_op_close; fs/hugetlbfs/inode.c hugetlbfs_evict_inode
 */
export function hugetlbVmClose(ctx: MmContext, vma: Vma): void {
  const hv = vma.htlb;
  if (hv === null) return;
  const h = hv.h;
  vma.htlb = null;
  if (hv.resv !== null) {
    const start = hugeIndex(h, vma, vma.vmStart);
    const end = hugeIndex(h, vma, vma.vmEnd);
    let consumed = 0; // region_count
    for (const i of hv.resv.consumed) if (i >= start && i < end) consumed++;
    const reserve = end - start - consumed;
    if (reserve > 0) hugetlbAcctMemory(ctx, h, -reserve);
  }
  if (--hv.file.refs === 0) evictInode(ctx, h, hv.file);
  else hv.file.shmClose?.(); // a SysV segment's VMA: shm_close (ipc/shm.c)
}

/**
 * hugetlbfs_evict_inode: remove_inode_hugepages drops the page cache's
 * reference to each folio (freed when no mapping holds it), then
 * hugetlb_unreserve_pages gives back the reservations no folio consumed.
 * Linux: fs/hugetlbfs/inode.c remove_inode_hugepages; mm/hugetlb.c hugetlb_unreserve_pages
 */
function evictInode(ctx: MmContext, h: HState, file: HugetlbFile): void {
  let freed = 0;
  for (const head of file.pages.values()) {
    hugetlbFolioPut(ctx, head);
    freed++;
  }
  file.pages.clear();
  const chg = file.resv.size; // region_del
  file.resv.clear();
  if (chg - freed !== 0) hugetlbAcctMemory(ctx, h, -(chg - freed));
}

// ---- mapping ----

/**
 * The entry's address for the huge page at `haddr` at the hstate's level
 * (a PMD, or a PUD for 1 GiB), the tables above allocated (huge_pte_alloc:
 * pmd_alloc, or pud_alloc for PUD_SIZE); -1: no memory. For a PMD of a VMA
 * that may share (want_pmd_share) whose PUD entry is none, another mm's PMD
 * table for the same file pages is taken first (huge_pmd_share).
 * Linux: mm/hugetlb.c huge_pte_alloc (the generic one, x86 and RISC-V); arch/arm64/mm/hugetlbpage.c huge_pte_alloc
 */
function hugePteAlloc(ctx: MmContext, mm: MmStruct, vma: Vma | null, haddr: number, level: number): number {
  const pt = ctx.env.pgtable;
  if (level === pt.pmdLevel && vma !== null && wantPmdShare(ctx, vma, haddr)) {
    // pud_alloc, then huge_pmd_share where the PUD entry is none
    const pu = mapper(ctx, mm).ensureTable(mm.pgdPfn, vpnUnchecked(haddr), level + 1, true);
    if (pu < 0) return -1;
    const pud = pu * 4096 + (Math.floor(haddr / levelSpan(ctx, level + 1)) % pt.ptrsPerTable) * pt.entryBytes;
    const e = pt.get(ctx.env.phys, pud);
    if (pt.none(e.hi, e.lo)) hugePmdShare(ctx, mm, vma, haddr, pud);
  }
  const pd = mapper(ctx, mm).ensureTable(mm.pgdPfn, vpnUnchecked(haddr), level, true);
  if (pd < 0) return -1;
  return pd * 4096 + (Math.floor(haddr / levelSpan(ctx, level)) % pt.ptrsPerTable) * pt.entryBytes;
}

/**
 * hugetlb_fault: a fault in a VM_HUGETLB VMA, on its huge page's PMD-level
 * entry. None: hugetlb_no_page; a write to a read-only entry: hugetlb_wp;
 * else the entry becomes young (and dirty).
 * Linux: mm/hugetlb.c hugetlb_fault
 */
export function hugetlbFault(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number, write: boolean): VmFault {
  const h = hstateVma(vma);
  const pt = ctx.env.pgtable;
  const haddr = vpn - (vpn % h.nrPages);
  const pa = hugePteAlloc(ctx, mm, vma, haddr, h.level);
  if (pa < 0) return VmFault.OOM;
  const e = hugePtepGet(ctx, h, pa);
  if (pt.none(e.hi, e.lo)) return hugetlbNoPage(ctx, h, mm, vma, haddr, pa, write);
  if (!pt.accessible(e.hi, e.lo)) return VmFault.SIGSEGV;
  if (write && !pt.write(e.hi, e.lo)) return hugetlbWp(ctx, h, mm, vma, haddr, pa);
  // huge_ptep_set_access_flags (a run's: every entry compared, mm/hugetlb_cont.ts)
  const young = pt.modify(e.hi, e.lo, PteFlag.YOUNG | (write ? PteFlag.DIRTY : 0), 0);
  if (young.hi !== e.hi || young.lo !== e.lo || h.ncontig > 1)
    hugePtepSetAccessFlags(ctx, mm, h, haddr, pa, e, young, write);
  return VmFault.OK;
}

/**
 * make_huge_pte: the leaf for a folio under the VMA's rights, writable (and then dirty) as asked,
 * young, marked by arch_make_huge_pte (a contiguous run's first entry).
 */
function makeHugePte(ctx: MmContext, head: number, vma: Vma, writable: boolean): { hi: number; lo: number } {
  const h = hstateVma(vma);
  return archMakeHugePte(
    ctx,
    h,
    ctx.env.pgtable.mkUser(head, h.level, vma.vmFlags, writable, writable, false),
  );
}

/**
 * hugetlb_no_page: the folio in the inode's page cache is mapped (a
 * private mapping's read-only: a write copies it); else, past i_size, SIGBUS;
 * else a shared mapping allocates it there, a private one a new anonymous
 * folio. A new folio is zeroed (folio_zero_user). The entry is writable
 * only in a writable shared mapping; a private write then makes it
 * writable by hugetlb_wp's reuse. No folio: SIGBUS (VM_FAULT_SIGBUS from
 * -ENOSPC); so is any fault in a VMA whose page its owner's COW took
 * (HPAGE_RESV_UNMAPPED).
 * Linux: mm/hugetlb.c hugetlb_no_page
 */
function hugetlbNoPage(
  ctx: MmContext,
  h: HState,
  mm: MmStruct,
  vma: Vma,
  haddr: number,
  pa: number,
  write: boolean,
): VmFault {
  const env = ctx.env;
  const pages = env.pages;
  const hv = vma.htlb!;
  if (hv.unmapped) {
    h.stats.sigbus++; // "killed due to inadequate hugepage pool"
    return VmFault.SIGBUS;
  }
  const shared = (vma.vmFlags & VmFlag.MAYSHARE) !== 0;
  const idx = hugeIndex(h, vma, haddr);
  // filemap_lock_hugetlb_folio: the inode's page cache, for a private mapping too (a file's)
  let head = hv.file.pages.get(idx) ?? -1;
  if (head < 0 && idx >= Math.ceil(hv.file.size / (h.nrPages * 4096))) {
    h.stats.sigbus++; // past i_size
    return VmFault.SIGBUS;
  }
  if (head >= 0)
    pages.refcount[head]++; // filemap_lock_hugetlb_folio: the mapping's reference
  else {
    if (!shared) mm.anonVmaPrepare(vma); // vmf_anon_prepare
    head = allocHugetlbFolio(ctx, vma, idx, false);
    if (head < 0) {
      h.stats.sigbus++;
      return VmFault.SIGBUS;
    }
    for (let i = 0; i < h.nrPages; i++) env.phys.zeroFrame(pfnUnchecked(head + i)); // folio_zero_user
    if (shared) {
      hv.file.pages.set(idx, head); // hugetlb_add_to_page_cache: the cache's reference
      pages.refcount[head]++;
    } else {
      h.anon.add(head); // hugetlb_add_new_anon_rmap: exclusive
      pages.flags[head] |= PageFlag.AnonExclusive;
    }
  }
  pages.mapcount[head]++;
  h.stats.faults++;
  const e = makeHugePte(ctx, head, vma, shared && (vma.vmFlags & VmFlag.WRITE) !== 0);
  setHugePteAt(ctx, mm, h, haddr, pa, e.hi, e.lo);
  mm.hugetlbUsage += h.nrPages; // hugetlb_count_add
  // "Optimization, do the COW without a second fault"
  if (write && !(vma.vmFlags & VmFlag.SHARED)) return hugetlbWp(ctx, h, mm, vma, haddr, pa);
  return VmFault.OK;
}

/**
 * hugetlb_wp: a write to a read-only entry. A shared mapping's entry
 * becomes writable; an anonymous folio mapped once is reused (exclusive
 * again); else the folio is copied into a new one, allocated without the
 * reservation (the owner consumed it). When none can be had and this VMA
 * owns the reservations, the pages of its forked children at that index are
 * unmapped (unmap_ref_private: their next fault there is SIGBUS) and the
 * folio, now mapped once, reused; anyone else gets SIGBUS.
 * Linux: mm/hugetlb.c hugetlb_wp, unmap_ref_private
 */
function hugetlbWp(
  ctx: MmContext,
  h: HState,
  mm: MmStruct,
  vma: Vma,
  haddr: number,
  pa: number,
  unshare = false,
): VmFault {
  const env = ctx.env;
  const pt = env.pgtable;
  const pages = env.pages;
  const e = hugePtepGet(ctx, h, pa);
  const setWritable = () => {
    const w = pt.modify(e.hi, e.lo, PteFlag.WRITE | PteFlag.DIRTY | PteFlag.YOUNG, 0);
    hugePtepSetAccessFlags(ctx, mm, h, haddr, pa, e, w, true); // set_huge_ptep_writable
    return VmFault.OK;
  };
  if (vma.vmFlags & VmFlag.MAYSHARE) return setWritable();
  const old = pt.pfn(e.hi, e.lo, h.level);
  if (pages.mapcount[old] === 1 && h.anon.has(old)) {
    pages.flags[old] |= PageFlag.AnonExclusive; // folio_move_anon_rmap, SetPageAnonExclusive
    return unshare ? VmFault.OK : setWritable(); // FAULT_FLAG_UNSHARE: the entry stays read-only
  }
  const idx = hugeIndex(h, vma, haddr);
  // cow_from_owner: the owner's copy of a folio that is not the file's page-cache folio
  const outsideReserve = vma.htlb!.resv !== null && vma.htlb!.file.pages.get(idx) !== old;
  const copy = allocHugetlbFolio(ctx, vma, idx, outsideReserve);
  if (copy < 0) {
    if (!outsideReserve) {
      h.stats.sigbus++;
      return VmFault.SIGBUS;
    }
    unmapRefPrivate(ctx, h, vma, old, idx);
    const again = hugePtepGet(ctx, h, pa);
    if (again.hi === e.hi && again.lo === e.lo && pages.mapcount[old] === 1)
      return hugetlbWp(ctx, h, mm, vma, haddr, pa, unshare); // retry_avoidcopy
    return VmFault.OK;
  }
  mm.anonVmaPrepare(vma); // __vmf_anon_prepare
  copyUserLargeFolio(ctx, h, old, copy);
  h.stats.cowCopies++;
  hugePtepClearFlush(ctx, mm, h, pa, haddr); // huge_ptep_clear_flush
  pages.mapcount[old]--; // hugetlb_remove_rmap
  h.anon.add(copy); // hugetlb_add_new_anon_rmap
  pages.flags[copy] |= PageFlag.AnonExclusive;
  pages.mapcount[copy] = 1;
  const n = makeHugePte(ctx, copy, vma, !unshare); // unshare: read-only and clean
  setHugePteAt(ctx, mm, h, haddr, pa, n.hi, n.lo);
  hugetlbFolioPut(ctx, old); // the old mapping's reference
  return VmFault.OK;
}

/** hugetlb_fault with FAULT_FLAG_UNSHARE (a read pin, gup_must_unshare) on a read-only entry: hugetlb_wp's unshare. */
export function hugetlbUnshare(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number): VmFault {
  const h = hstateVma(vma);
  const haddr = vpn - (vpn % h.nrPages);
  return hugetlbWp(ctx, h, mm, vma, haddr, hugePteOffset(ctx, mm, haddr, h.level), true);
}

/**
 * __unmap_hugepage_range: every huge entry of [start, end) in a HugeTLB
 * VMA is cleared under the gather (its flush owed), its folio's mapping
 * dropped, and its reference put after the flush (tlb_remove_page_size).
 * Only whole huge pages go: munmap's range is aligned (hugetlb_vm_op_split),
 * MADV_DONTNEED's end rounded down (madvise_dontneed_free_valid_vma's
 * ALIGN_DOWN: "avoid unexpected data loss"). Under a shared PMD table the
 * mm lets go of the whole table instead (huge_pmd_unshare: its entries stay
 * the other mms'), the 1 GiB range flushed at once.
 * Linux: mm/hugetlb.c __unmap_hugepage_range
 */
export function unmapHugepageRange(
  ctx: MmContext,
  tlb: TlbGather,
  mm: MmStruct,
  start: number,
  end: number,
  vma: Vma,
): void {
  const h = hstateVma(vma);
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  let forceFlush = false;
  for (let haddr = Math.ceil(start / h.nrPages) * h.nrPages; haddr + h.nrPages <= end; haddr += h.nrPages) {
    const pa = hugePteOffset(ctx, mm, haddr, h.level);
    if (pa < 0) continue;
    if (hugePmdUnshare(ctx, mm, vma, haddr, pa)) {
      const [base, span] = pudRange(ctx, haddr);
      tlb.flushRange(base, span, pt.pmdLevel); // tlb_flush_pmd_range(tlb, address & PUD_MASK, PUD_SIZE)
      forceFlush = true;
      haddr = base + span - h.nrPages; // address |= last_addr_mask
      continue;
    }
    const e = pt.get(ctx.env.phys, pa);
    if (pt.none(e.hi, e.lo)) continue;
    hugePtepGetAndClear(ctx, tlb, h, pa, haddr);
    if (!pt.present(e.hi, e.lo)) continue;
    const head = pt.pfn(e.hi, e.lo, h.level);
    mm.hugetlbUsage -= h.nrPages; // hugetlb_count_sub
    pages.mapcount[head]--; // hugetlb_remove_rmap
    tlb.removePage(head);
  }
  // an unshare's flush before the i_mmap lock goes (the table may be freed by its last user then)
  if (forceFlush) tlb.flushTlbOnly?.();
}

/**
 * hugetlb_change_protection of a HugeTLB VMA (2 MiB or 1 GiB pages, the
 * same path: a 2 MiB page is not a THP, change_huge_pmd's reuse of an
 * exclusive anonymous page does not apply): each present entry
 * takes the VMA's new rights (huge_pte_modify with vm_get_page_prot: a
 * private mapping's entries read-only, its next write faulting into
 * hugetlb_wp's reuse or copy; a shared writable one's writable), keeping
 * its dirty bit (huge_ptep_modify_prot_start/commit: no flush of its own); a shared PMD table is
 * let go of instead (huge_pmd_unshare). Then the whole range is flushed at once, whether or not an
 * entry changed (flush_hugetlb_tlb_range); mprotect's gather owes nothing for it.
 * Linux: mm/hugetlb.c hugetlb_change_protection
 */
export function hugetlbChangeProtection(ctx: MmContext, mm: MmStruct, v: Vma): void {
  const h = hstateVma(v);
  const pt = ctx.env.pgtable;
  const writable = (v.vmFlags & VmFlag.SHARED) !== 0 && (v.vmFlags & VmFlag.WRITE) !== 0;
  let sharedPmd = false;
  for (let haddr = v.vmStart; haddr < v.vmEnd; haddr += h.nrPages) {
    const pa = hugePteOffset(ctx, mm, haddr, h.level);
    if (pa < 0) continue;
    if (hugePmdUnshare(ctx, mm, v, haddr, pa)) {
      sharedPmd = true;
      const [base, span] = pudRange(ctx, haddr);
      haddr = base + span - h.nrPages; // address |= last_addr_mask
      continue;
    }
    const e = pt.get(ctx.env.phys, pa);
    if (!pt.present(e.hi, e.lo)) continue;
    const head = pt.pfn(e.hi, e.lo, h.level);
    if (h.ncontig > 1) {
      // huge_ptep_modify_prot_start, huge_pte_modify, arch_make_huge_pte, huge_ptep_modify_prot_commit
      hugeModifyProtRun(ctx, mm, h, haddr, pa, (old) =>
        archMakeHugePte(
          ctx,
          h,
          pt.mkUser(head, h.level, v.vmFlags, writable, pt.dirty(old.hi, old.lo), false),
        ),
      );
      continue;
    }
    const n = pt.mkUser(head, h.level, v.vmFlags, writable, pt.dirty(e.hi, e.lo), false);
    if (n.hi !== e.hi || n.lo !== e.lo) {
      if (h.level > pt.pmdLevel) upperTablesChanged(); // a 1 GiB entry rewritten (pmdPa's memo)
      pt.set(ctx.env.phys, pa, n.hi, n.lo);
    }
  }
  flushHugetlbTlbRange(ctx, mm, h, v.vmStart, v.vmEnd, sharedPmd ? v : null);
}

/**
 * copy_hugetlb_page_range: fork's copy of a private HugeTLB VMA's entries.
 * The child maps the same folios (a reference and a mapping more; an
 * anonymous folio is no longer exclusive); in a COW mapping both entries
 * are write-protected (huge_ptep_set_wrprotect), the parent's flushed at
 * the end of dup_mmap. The child's entry keeps the parent's accessed and
 * dirty bits. A maybe-pinned exclusive folio is copied instead (hugetlb_fork.ts).
 * Linux: mm/hugetlb.c copy_hugetlb_page_range
 */
export function copyHugetlbPageRange(
  ctx: MmContext,
  tlb: TlbGather,
  parent: MmStruct,
  child: MmStruct,
  v: Vma,
): boolean {
  const h = hstateVma(v);
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  const cow = !(v.vmFlags & VmFlag.SHARED) && (v.vmFlags & VmFlag.MAYWRITE) !== 0;
  for (let haddr = v.vmStart; haddr < v.vmEnd; haddr += h.nrPages) {
    const pa = hugePteOffset(ctx, parent, haddr, h.level);
    if (pa < 0) continue;
    // huge_pte_alloc wherever hugetlb_walk found the parent's entry (a none one too), before the
    // page is shared (only private VMAs are copied, vma_needs_copy: none shares a PMD table, so
    // 6.12.y's "pagetables are shared" test, page_count of the table > 1, never holds now)
    const cpa = hugePteAlloc(ctx, child, child.vmaAt(haddr), haddr, h.level);
    if (cpa < 0) return false;
    let e = hugePtepGet(ctx, h, pa);
    if (pt.none(e.hi, e.lo)) continue;
    if (pt.present(e.hi, e.lo)) {
      const head = pt.pfn(e.hi, e.lo, h.level);
      // hugetlb_try_dup_anon_rmap refuses a maybe-pinned exclusive folio: the child's own copy now
      if (hugetlbNeedsCowForDma(ctx, h, parent, v.vmFlags, head)) {
        const cv = child.vmaAt(haddr)!;
        const idx = hugeIndex(h, cv, haddr);
        if (
          !hugetlbCopyPinned(ctx, h, child, cv, haddr, cpa, head, () => allocHugetlbFolio(ctx, cv, idx, true))
        )
          return false;
        continue;
      }
      pages.refcount[head]++; // folio_get
      pages.mapcount[head]++; // hugetlb_try_dup_anon_rmap / hugetlb_add_file_rmap
      pages.flags[head] &= ~PageFlag.AnonExclusive;
      if (cow) {
        // huge_ptep_set_wrprotect (a run's breaks and flushes at once), huge_pte_wrprotect
        hugePtepSetWrprotect(ctx, parent, h, haddr, pa, (w) =>
          ptepModify(ctx, tlb, pa, haddr, h.level, w.hi, w.lo),
        );
        e = pt.modify(e.hi, e.lo, 0, PteFlag.WRITE);
      }
    }
    setHugePteAt(ctx, child, h, haddr, cpa, e.hi, e.lo);
    if (pt.present(e.hi, e.lo)) child.hugetlbUsage += h.nrPages; // hugetlb_count_add
  }
  return true;
}

/** hugetlb_dup_vma_private: a forked child's VMA owns no reservation and is not marked unmapped. */
export function hugetlbDupVmaPrivate(vma: Vma): void {
  if (vma.htlb !== null && !(vma.vmFlags & VmFlag.MAYSHARE)) {
    vma.htlb.resv = null;
    vma.htlb.unmapped = false;
  }
}

/**
 * move_hugetlb_page_tables: mremap's move of a HugeTLB range, huge entry by
 * huge entry (huge_ptep_get_and_clear at the old address, set_huge_pte_at at
 * the new one), then the old range's flush. Returns the pages moved (fewer
 * when a table could not be allocated).
 * Linux: mm/hugetlb.c move_hugetlb_page_tables
 */
export function moveHugetlbPageTables(
  ctx: MmContext,
  mm: MmStruct,
  oldStart: number,
  newStart: number,
  len: number,
): number {
  const vma = mm.vmaAt(oldStart);
  const newVma = mm.vmaAt(newStart);
  const h = vma === null ? hstateOf(ctx) : hstateVma(vma);
  const pt = ctx.env.pgtable;
  let sharedPmd = false;
  let done = 0;
  for (; done < len; done += h.nrPages) {
    const pa = hugePteOffset(ctx, mm, oldStart + done, h.level);
    if (pa < 0) continue;
    const e = pt.get(ctx.env.phys, pa);
    if (pt.none(e.hi, e.lo)) continue;
    if (vma !== null && hugePmdUnshare(ctx, mm, vma, oldStart + done, pa)) {
      // the shared table's entries stay the others': nothing moves for this 1 GiB
      sharedPmd = true;
      const [base, span] = pudRange(ctx, oldStart + done);
      done = base + span - h.nrPages - oldStart; // old_addr |= last_addr_mask (new_addr alike)
      continue;
    }
    const npa = hugePteAlloc(ctx, mm, newVma, newStart + done, h.level);
    if (npa < 0) break;
    const moved = hugePtepGetAndClearNoFlush(ctx, h, pa); // flushed below, before anyone reuses the folio
    setHugePteAt(ctx, mm, h, newStart + done, npa, moved.hi, moved.lo);
  }
  // flush_hugetlb_tlb_range(vma, old_end - len, old_end)
  if (sharedPmd && vma !== null) flushHugetlbTlbRange(ctx, mm, h, oldStart, oldStart + len, vma);
  else if (done > 0) flushHugetlbTlbRange(ctx, mm, h, oldStart, oldStart + done, null);
  return Math.min(done, len);
}

/**
 * flush_hugetlb_tlb_range: flush_tlb_range of a VM_HUGETLB VMA, whose stride is the huge page's
 * (x86 huge_page_shift, arm64 and RISC-V huge_page_size); after a huge_pmd_unshare in `shared`,
 * over the range adjust_range_if_pmd_sharing_possible widens.
 */
function flushHugetlbTlbRange(
  ctx: MmContext,
  mm: MmStruct,
  h: HState,
  start: number,
  end: number,
  shared: Vma | null,
): void {
  const [s, e] = shared !== null ? adjustRangeIfPmdSharingPossible(ctx, shared, start, end) : [start, end];
  // a contiguous size: arm64's __flush_tlb_range(vma, start, end, PAGE_SIZE, false, 0), RISC-V's
  // flush_tlb_range with the stride reset to PAGE_SIZE for NAPOT ("every PTE in a NAPOT region")
  if (h.ncontig > 1) ctx.env.flushTlbMmRange(mm, s, e - s, TlbFlush.Range, 1);
  else
    ctx.env.flushTlbMmRange(
      mm,
      s,
      e - s,
      h.level === ctx.env.pgtable.pmdLevel ? TlbFlush.Pmd : TlbFlush.Range,
      h.nrPages,
    );
}

/**
 * clear_vma_resv_huge_pages: mremap moved a private owner's reservations to
 * the new VMA; the old one, about to be unmapped, gives none back.
 * Linux: mm/hugetlb.c clear_vma_resv_huge_pages
 */
export function clearVmaResvHugePages(vma: Vma): void {
  if (vma.htlb !== null) {
    vma.htlb.resv = null;
    vma.htlb.unmapped = false;
  }
}
