/**
 * What the user address-space code shares (Linux: mm/internal.h): the
 * context every function of mm/ takes (`MmContext`: the kernel's services in
 * `env`, the vm.* settings, the THP counters, the huge zero page), the hooks
 * into page reclaim, the errno values of the system calls and the results of
 * the fault handler.
 *
 * The modules of mm/ import one another as a DAG, lowest first:
 *
 *     swapfile <- internal <- pgtable <- huge_memory <- memory <- mmu_gather
 *       <- {filemap, shmem, swap_state, fork, rmap} <- {fault, mmap}
 *       <- {mprotect, mremap, mlock, madvise} <- userMm <- vmscan <-> swap
 *
 * (each imports only from files to its left; rmap needs only huge_memory,
 * mmap only memory and shmem). khugepaged_slots (which mms khugepaged
 * scans) needs nothing but internal and is imported by huge_memory, fork,
 * mmap and madvise; khugepaged (the scan and the collapse) sits with
 * swap_state's followers and is imported by madvise and userMm. userMm.ts is the facade the rest of the
 * kernel holds; vmscan (reclaim) holds it too and calls rmap.
 */
import type { PhysMem } from "../../hw/PhysMem.ts";
import type { FileObject } from "../fs/file.ts";
import type { Pgtable, TlbFlush } from "./arch.ts";
import type { BuddyAllocator } from "./buddy.ts";
import type { CacheFlush } from "./cacheflush.ts";
import type { HState } from "./hugetlb_vma.ts";
import type { KsmState } from "./ksm_state.ts";
import type { AnonVmas, MmStruct } from "./MmStruct.ts";
import type { MthpState } from "./mthp_state.ts";
import type { PageDescTable } from "./PageDesc.ts";
import type { PageCache } from "./pagecache.ts";
import type { PfnSetLike } from "./pfnset.ts";
import type { DeferredSplitQueue } from "./split_queue.ts";
import type { LruAddBatches } from "./swap.ts";
import type { SwapArea } from "./swapfile.ts";
import type { TlbUnmapBatch } from "./tlbbatch.ts";
import type { ShmemObject, Vma } from "./vma.ts";

/** Linux errno values returned (negated) by the system calls. */
export const enum Errno {
  EPERM = 1,
  ENOENT = 2,
  ESRCH = 3,
  EIO = 5,
  EBADF = 9,
  EAGAIN = 11,
  ENOMEM = 12,
  EACCES = 13,
  EFAULT = 14,
  EBUSY = 16,
  EEXIST = 17,
  EINVAL = 22,
  ENODEV = 19,
  EFBIG = 27,
  ENOSPC = 28,
  ENOSYS = 38,
  EOPNOTSUPP = 95,
  /** the kernel-internal 524 (include/linux/errno.h), which 6.12's do_mmap returns for MAP_DROPPABLE on 32-bit */
  ENOTSUPP = 524,
  EIDRM = 43,
}

/** Results of the fault handler (Linux: VM_FAULT_*). */
export const enum VmFault {
  OK = 0,
  OOM = 1,
  SIGBUS = 2,
  SIGSEGV = 4,
  MAJOR = 8,
  /**
   * Not a fault result: get_user_pages' check_vma_flags refused the VMA before
   * any fault (always with SIGSEGV: __get_user_pages' -EFAULT; MADV_POPULATE_*
   * turns it into -EINVAL). Linux: mm/gup.c check_vma_flags.
   */
  GUP_REFUSED = 16,
}

/** What the fault paths tell page reclaim (mm/vmscan.ts implements it). */
export interface LruHooks {
  /** a new anonymous page at linear index `index` of anon_vma `anonVma` joins the inactive anon list, or, for a VMA that mlocks (`vmFlags`), the unevictable one (folio_add_lru_vma); `shadow`: the shadow a swap-in replaced (workingset_refault may activate it) */
  addAnon(pfn: number, index: number, anonVma: number, vmFlags?: number, shadow?: number): void;
  /** addAnon of pages pfns[0..n) one after the other, at linear indexes index, index + step, ... (no shadow, a VMA that does not mlock): do_anonymous_page's batch */
  addAnonRun(pfns: Float64Array, n: number, index: number, step: number, anonVma: number): void;
  /** a new transparent huge page (512 frames from `head`) joins it as one folio */
  addAnonHuge(head: number, index: number, anonVma: number, vmFlags?: number): void;
  /** a huge page's PMD was split: its 512 pages join the lists one by one (vmlab's LRU keeps a PTE-mapped folio's pages apart; the folio stays whole) */
  splitFolio(head: number): void;
  /** split_folio of a whole anonymous THP (mm/deferred_split.ts splitHugePage): false if it could not be split */
  splitHugePage(head: number): boolean;
  /** a new page of a shmem object or tmpfs file (at page offset `index`) joins the inactive anon list: it is swap-backed */
  addShmem(pfn: number, obj: ShmemObject | FileObject, index: number, shadow?: number): void;
  /** __folio_set_anon: a swap-cache page read ahead for no one (swap_cluster_readahead) gets its anon_vma and index when mapped */
  setAnonRmap(pfn: number, index: number, anonVma: number): void;
  /** a freed page leaves the lists */
  del(pfn: number): void;
  /** the list each page is on (0: none; folio_test_lru is false, e.g. while it waits in an LRU add batch) */
  readonly lru: Uint8Array;
  /** the per-CPU LRU add batches (mm/swap.c cpu_fbatches.lru_add): lru_add_drain, lru_add_drain_all */
  readonly fbatches: LruAddBatches;
  /** pages a fault holds while it allocates; reclaim leaves them alone */
  readonly pinned: PfnSetLike;
  /** reclaims one page now (its whole mTHP folio may go with it: the pages that went, 0 if none), whatever its accessed bits (reclaim_pages for MADV_PAGEOUT); index: its linear index, anonVma: an anon_vma every VMA mapping it is linked to (0: the one it has) */
  reclaimPage(pfn: number, index: number, anonVma?: number): number;
  /** the end of reclaim_pages' shrink_folio_list: try_to_unmap_flush of what reclaimPage deferred */
  endFolioList(): void;
  /** folio_mark_accessed (mm/swap.c; mm/swap.ts folioMarkAccessed): read(2) of a cached page (filemap_read) */
  markAccessed(pfn: number): void;
  /** folio_mark_lazyfree: a clean anonymous page MADV_FREE made lazily freeable is queued in the lru_lazyfree batch, which moves it to the inactive file list (swap.ts) */
  markLazyfree(pfn: number): boolean;
}

/** What the address-space code needs from the rest of the kernel. */
export interface MmEnv {
  readonly phys: PhysMem;
  readonly pages: PageDescTable;
  readonly buddy: BuddyAllocator;
  /** the architecture's page tables: entries, geometry, PGDs (mm/arch.ts) */
  readonly pgtable: Pgtable;
  /** init_mm's PGD, whose kernel half every new PGD copies */
  readonly kernelRootPfn: number;
  /** empty_zero_page */
  readonly zeroPfn: number;
  /** Kernel Samepage Merging (mm/ksm.ts; absent in bare test contexts: a kernel without CONFIG_KSM) */
  readonly ksm?: KsmState;
  /** first vpn above user space (TASK_SIZE) */
  readonly taskSizeVpn: number;
  /** DEFAULT_MAP_WINDOW as a vpn: the stack's top and the default top of mmap's search (x86 LA57: 2^47 - 4K) */
  readonly mapWindowVpn: number;
  /** NR_PAGETABLE accounting */
  countPageTables(delta: number): void;
  /**
   * called before a user page is allocated: a memory limit reclaims here, and kills within the
   * limit when reclaim cannot make room (mem_cgroup charge); false: not charged (-ENOMEM)
   */
  chargeUserPage?(): boolean;
  /** the charge of a huge folio of `nr` pages with the allocation's `gfp` (mem_cgroup_charge: core/memcontrol.ts); false: over the limit */
  chargeHugePage?(nr: number, gfp: number): boolean;
  /**
   * __GFP_ACCOUNT's charge of a user page table just allocated at `pfn` (GFP_PGTABLE_USER:
   * __memcg_kmem_charge_page), `pagetable` when NR_PAGETABLE counts it too; false: not charged
   * (the caller frees the page: -ENOMEM, a fault's VM_FAULT_OOM). Its free uncharges it (buddy.ts).
   */
  chargePageTable?(pfn: number, pagetable: boolean): boolean;
  /**
   * __GFP_ACCOUNT's charge of `nr` kernel pages just allocated at `pfn` (pgd_alloc's
   * GFP_PGTABLE_USER block: __memcg_kmem_charge_page of 1 << order pages, MEMCG_KMEM only, no
   * page-table constructor); false: not charged (the caller frees them and fails). Their free
   * uncharges them (buddy.ts).
   */
  chargeKmem?(pfn: number, nr: number): boolean;
  /**
   * Runs `fn` as a kernel thread with no mm (khugepaged's wake-up): current is the kthread, not
   * the task last current (memcontrol.ts memcgKthread: a charge over memory.high leaves no debt).
   */
  kthreadRun?<T>(fn: () => T): T;
  /**
   * kmap_local_page / kunmap_local around the kernel's own touch of a user
   * page's contents (clear_user_highpage, copy_user_highpage): on 32-bit x86
   * a highmem frame has no kernel address until it is mapped in a fixmap
   * slot. Returns the token kunmap takes. Absent: every frame is in the
   * direct map (64-bit).
   */
  kmapLocal?(pfn: number): bigint;
  kunmapLocal?(va: bigint): void;
  /**
   * fput of a VMA's file as the VMA goes (remove_vma: fput(vma->vm_file)): `mapping` is the
   * VMA's file (a tmpfs or disk file, or a hugetlbfs inode); the kernel frees an unlinked
   * inode (a memfd) whose last reference this was (core/memfd.ts memfdRelease). Absent: never.
   */
  fput?(mapping: object): void;
  /**
   * flush_tlb_mm_range on every CPU that has mm loaded; called before freed pages are reused.
   * `stride`: the pages one invalidation covers (an mmu_gather's tlb_get_unmap_shift: 1, or a
   * PMD's or PUD's pages when only huge entries were cleared); 1 by default
   */
  flushTlbMmRange(mm: MmStruct, startVpn: number, nrPages: number, kind?: TlbFlush, stride?: number): void;
  /**
   * reclaim's batched unmap flush (current->tlb_ubc, mm/tlbbatch.ts) where
   * the architecture has one (CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH);
   * absent: try_to_unmap flushes each page at once
   */
  readonly tlbUbc?: TlbUnmapBatch;
  /** the page cache of the file system */
  readonly pageCache: PageCache;
  /** the swap area, or null without swap */
  readonly swap: SwapArea | null;
  /** the LRU lists of page reclaim (set once the kernel has built them) */
  lru: LruHooks | null;
  /** the data caches' maintenance calls (mm/cacheflush.ts; no-ops without a cache that needs them) */
  readonly cache: CacheFlush;
  /** the node's deferred split queue of anonymous THPs (mm/split_queue.ts; absent: none is kept) */
  readonly deferredSplit?: DeferredSplitQueue;
  /** the mTHP knobs, counters and live folios below the PMD order (mm/mthp.ts; absent: none) */
  readonly mthp?: MthpState;
}

/**
 * What page-table changes need of an mmu_gather: a range owed a flush, and
 * pages to free only after it (mm/mmu_gather.ts implements it).
 * Linux: include/asm-generic/tlb.h tlb_flush_pte_range, __tlb_remove_page
 */
export interface TlbGather {
  /** the mm whose entries the gather flushes (mmu_gather.mm; contpte's break-before-make flushes there too) */
  readonly mm?: MmStruct;
  /** tlb_start_vma: the VMA [startVpn, endVpn) is about to change (its lines leave the data cache) */
  startVma?(startVpn: number, endVpn: number): void;
  /**
   * tlb_flush_pte_range and its kin: pages [vpn, vpn+nr) need a flush, from an entry at `level`
   * (0: a PTE, the default; pmdLevel: a huge PMD, tlb_flush_pmd_range; above: PUD, P4D)
   */
  flushRange(vpn: number, nr: number, level?: number): void;
  removePage(pfn: number): void;
  /**
   * pte_free_tlb and its kin: a page-table page unlinked at `vpn` from an entry at `level` (the
   * PMD's, pte_free_tlb's, by default), freed after the flush
   */
  removeTable(pfn: number, vpn: number, level?: number): void;
  /** tlb_flush_mmu_tlbonly: the owed flush now (absent: a gather that flushes at once) */
  flushTlbOnly?(): void;
}

/** vm.* settings that shape mmap. */
export interface MmSettings {
  /** transparent huge pages for anonymous memory: never, madvise (VM_HUGEPAGE only), always */
  thp: "never" | "madvise" | "always";
  /** map the huge zero page on read faults (transparent_hugepage/use_zero_page) */
  thpZeroPage: boolean;
  /** .../transparent_hugepage/shrink_underused (split_underused_thp; absent: on) */
  thpShrinkUnderused?: boolean;
  /** .../transparent_hugepage/khugepaged/max_ptes_none (absent: HPAGE_PMD_NR - 1) */
  thpMaxPtesNone?: number;
  /** fault_around_bytes / 4096 (default 16) */
  faultAroundPages: number;
  /** vm.page-cluster: swap readahead reads 2^page_cluster pages (default 3) */
  pageCluster: number;
  /** the backing device's read-ahead, in pages (default 32): sizes mmap read-around */
  readaheadPages: number;
  mmapMinAddr: number;
  /** vm.max_map_count (absent: DEFAULT_MAX_MAP_COUNT, 65530; mm/map_count.ts) */
  maxMapCount?: number;
  /** abi.tagged_addr_disabled (arm64; absent: 0): PR_SET_TAGGED_ADDR_CTRL may not enable the ABI (core/mman.ts) */
  taggedAddrDisabled?: boolean;
  /** vm.overcommit_memory (the `sysctl` statement writes it and the four below) */
  overcommit: "heuristic" | "always" | "never";
  /** vm.overcommit_ratio, percent of RAM in CommitLimit (default 50; writing overcommit_kbytes zeroes it) */
  overcommitRatio: number;
  /** vm.overcommit_kbytes: CommitLimit's RAM part when not 0 (writing overcommit_ratio zeroes it) */
  overcommitKbytes: number;
  /** vm.admin_reserve_kbytes: kept from a process without CAP_SYS_ADMIN (init_admin_reserve) */
  adminReserveKbytes: number;
  /** vm.user_reserve_kbytes: kept from a process, up to its total_vm / 32 (init_user_reserve) */
  userReserveKbytes: number;
  /** pages shmem inodes hold in vm_committed_as (shmem_acct_size, shmem_acct_blocks) */
  shmemCommitted: number;
  /** the ignore_rlimit_data boot option (absent: off): may_expand_vm only warns past RLIMIT_DATA */
  ignoreRlimitData?: boolean;
  /** may_expand_vm's pr_warn_once for a data mapping past RLIMIT_DATA (VmData it would reach, the limit; absent: none) */
  warnDataRlimit?: (bytes: number, limit: number, ignored: boolean) => void;
  /** __vm_enough_memory's rate-limited warning for a refused request of `bytes` (absent: none) */
  warnNotEnough?: (bytes: number) => void;
  totalRamPages: () => number;
  totalSwapPages: () => number;
  /** vm_committed_as: every mm's accounted VMAs and shmemCommitted */
  committedPages: () => number;
}

/** /proc/vmstat THP counters */
export interface ThpStats {
  thp_fault_alloc: number;
  thp_fault_fallback: number;
  thp_fault_fallback_charge: number;
  /** khugepaged or MADV_COLLAPSE allocated a huge page to collapse into (THP_COLLAPSE_ALLOC, mm/khugepaged.ts) */
  thp_collapse_alloc: number;
  /** ... and found no free PMD-order block (THP_COLLAPSE_ALLOC_FAILED) */
  thp_collapse_alloc_failed: number;
  thp_split_pmd: number;
  /** khugepaged's scan stopped at max_ptes_none empty or zero-page PTEs (THP_SCAN_EXCEED_NONE_PTE) */
  thp_scan_exceed_none_pte: number;
  /** ... at max_ptes_swap swap entries (THP_SCAN_EXCEED_SWAP_PTE) */
  thp_scan_exceed_swap_pte: number;
  /** ... at max_ptes_shared pages mapped elsewhere too (THP_SCAN_EXCEED_SHARED_PTE) */
  thp_scan_exceed_share_pte: number;
  thp_split_page: number;
  /** split_huge_page_to_list_to_order of a PMD-size folio failed (can_split_folio: extra references) */
  thp_split_page_failed: number;
  /** deferred_split_folio: a PMD-size folio became partially mapped (THP_DEFERRED_SPLIT_PAGE) */
  thp_deferred_split_page: number;
  /** deferred_split_scan split a fully mapped folio thp_underused found mostly zero (THP_UNDERUSED_SPLIT_PAGE) */
  thp_underused_split_page: number;
  thp_swpout: number;
  thp_swpout_fallback: number;
  thp_zero_page_alloc: number;
  /** page-cache folios mapped by a PMD (do_set_pmd) */
  thp_file_mapped: number;
}

/**
 * khugepaged's state (mm/khugepaged.ts): the mm slots it scans, its scan
 * cursor, the sysfs knobs of /sys/kernel/mm/transparent_hugepage/khugepaged
 * (max_ptes_none is MmSettings.thpMaxPtesNone) and its counters.
 * Linux: mm/khugepaged.c khugepaged_scan, khugepaged_pages_to_scan, khugepaged_max_ptes_*
 */
export interface KhugepagedState {
  /** khugepaged_scan.mm_head: the registered mms (MMF_VM_HUGEPAGE), oldest first */
  readonly slots: MmStruct[];
  /** khugepaged_scan.mm_slot: the mm being scanned (null: at the list head) */
  scanMm: MmStruct | null;
  /** khugepaged_scan.address, as a vpn */
  scanAddress: number;
  /** pages_to_scan (HPAGE_PMD_NR * 8) */
  pagesToScan: number;
  /** max_ptes_swap (HPAGE_PMD_NR / 8) */
  maxPtesSwap: number;
  /** max_ptes_shared (HPAGE_PMD_NR / 2) */
  maxPtesShared: number;
  /** pages_collapsed: PMDs khugepaged collapsed (MADV_COLLAPSE's are not counted) */
  pagesCollapsed: number;
  /** full_scans: passes over every mm slot */
  fullScans: number;
  /** the result (SCAN_*, mm/khugepaged.ts Scan) of the last hpage_collapse_scan_pmd: its trace point's status; -1 before any */
  lastResult: number;
}

/**
 * The context of every address-space function: the kernel's services, the
 * settings, and the state that is the machine's rather than one mm's (the
 * THP counters, the huge zero page). UserMm (mm/userMm.ts) is one.
 */
export interface MmContext {
  readonly env: MmEnv;
  readonly settings: MmSettings;
  /** /proc/vmstat THP counters */
  readonly thpStats: ThpStats;
  /** /proc/vmstat pgreuse: write faults that made a present PTE writable without a copy (wp_page_reuse) */
  pgreuse: number;
  /**
   * /proc/vmstat pgmajfault: count_vm_event(PGMAJFAULT) where a fault waits for a read
   * (do_swap_page's swap-in, filemap_fault's, shmem_swapin_folio's in a fault), whoever faults:
   * khugepaged's swap-ins count too, which no task's maj_flt does
   */
  pgmajfault: number;
  /**
   * the fault under way was a write to a shared mapping of a disk file (do_shared_fault,
   * wp_page_shared): fault_dirty_shared_page balances dirty pages after it (core/writeback.ts)
   */
  faultDirtyShared: boolean;
  /** the huge zero page's first frame, allocated on first use (-1: not yet) */
  hugeZeroPfn: number;
  /** the last mm's ctx_id handed out (x86 last_mm_ctx_id): a machine's own, so that two runs number alike */
  lastCtxId: number;
  /** the machine's anon_vmas (absent in unit tests that build a bare context: the reverse map then scans) */
  readonly anonVmas?: AnonVmas;
  /** khugepaged's mm slots, cursor, knobs and counters (absent: no khugepaged, as in a bare test context) */
  readonly khugepaged?: KhugepagedState;
  /** the HugeTLB pool of the default huge page size (mm/hugetlb.ts; absent in bare test contexts: no HugeTLB) */
  readonly hstate?: HState;
  /** every HugeTLB pool, the default first (absent with `hstate`) */
  readonly hstates?: readonly HState[];
  /** folio->_pincount of pinned large folios by head pfn (mm/gup.ts; absent in bare test contexts: no pins) */
  readonly pincount?: Map<number, number>;
  /** the references FOLL_PIN holds on each pinned page (core/gup_remote.ts try_grab_folio; absent: no pins) */
  readonly pinnedRefs?: Map<number, number>;
}

/** page->index of an anonymous page at vpn of vma. Linux: include/linux/pagemap.h linear_page_index */
export function linearIndex(vma: Vma, vpn: number): number {
  return vma.vmPgoff + (vpn - vma.vmStart);
}
