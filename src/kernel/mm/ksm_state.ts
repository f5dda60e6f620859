/**
 * Kernel Samepage Merging's state: the mm slots ksmd scans (ksm_mm_head),
 * its cursor (ksm_scan), the rmap_items of each mm, the stable tree (its
 * nodes by KSM page and by content), the unstable tree, the sysfs knobs of
 * /sys/kernel/mm/ksm and its counters. The scan and the merges are
 * mm/ksm.ts's; this file needs nothing but the types, so that fork
 * (ksm_fork), the page allocator's free (a KSM page's stable node goes
 * stale) and the reverse map can reach it.
 * Linux: mm/ksm.c (struct ksm_mm_slot, ksm_scan, ksm_stable_node,
 * ksm_rmap_item, the ksm_pages_* counters), include/linux/ksm.h
 */
import type { MmStruct } from "./MmStruct.ts";
import { type Vma, VmFlag, vmaDroppable, vmFlagsUpdate } from "./vma.ts";

/** rmap_item->address's STABLE_FLAG / UNSTABLE_FLAG: which tree the item is in (0: none) */
export const enum InTree {
  None = 0,
  Unstable = 1,
  Stable = 2,
}

/**
 * struct ksm_rmap_item: one virtual page of a VM_MERGEABLE VMA that ksmd
 * found mapping an anonymous page.
 */
export interface RmapItem {
  readonly mm: MmStruct;
  /** rmap_item->address, as a vpn */
  readonly vpn: number;
  /** calc_checksum at the last visit (0 before the first: alloc_rmap_item's zeroed item) */
  oldchecksum: number;
  /** rmap_item->age and remaining_skips (smart scan: should_skip_rmap_item) */
  age: number;
  remainingSkips: number;
  inTree: InTree;
  /** the unstable tree's pass (ksm_scan.seqnr & SEQNR_MASK) the item was inserted in */
  seq: number;
  /** the unstable tree's key of the item's page when inserted (content hash) */
  key: number;
  /** rmap_item->head: its stable node while in the stable tree */
  node: StableNode | null;
  /** rmap_item->anon_vma: the VMA's anon_vma when merged (rmap_walk_ksm walks its chain) */
  anonVma: number;
}

/**
 * struct ksm_stable_node: a KSM page and the rmap_items of the mappings
 * merged into it (hlist_add_head: newest first). `stale` stands for
 * ksm_get_folio finding folio->mapping no longer the node's: the page was
 * freed (its last mapping gone), and the node waits to be pruned.
 */
export interface StableNode {
  kpfn: number;
  /** the stable tree's key: the content hash of the KSM page */
  readonly key: number;
  readonly items: RmapItem[];
  stale: boolean;
}

/** struct ksm_mm_slot: an mm on ksm_mm_head, its rmap_list in address order, and the mm's KSM counters. */
export interface KsmMm {
  readonly mm: MmStruct;
  readonly list: RmapItem[];
  /** mm->ksm_merging_pages, mm->ksm_rmap_items, mm->ksm_zero_pages */
  mergingPages: number;
  rmapItems: number;
  zeroPages: number;
  /** the slot left ksm_mm_head (the scan found no VM_MERGEABLE VMA, or the mm exited); the counters stay for /proc */
  gone: boolean;
  /** MMF_VM_MERGE_ANY: prctl(PR_SET_MEMORY_MERGE, 1) */
  mergeAny: boolean;
}

/** Everything KSM keeps, one per machine (mm/ksm.c's statics). */
export class KsmState {
  // ---- /sys/kernel/mm/ksm knobs ----
  /** run: 0 stop, 1 merge, 2 unmerge (KSM_RUN_*) */
  run = 0;
  /** pages_to_scan (default 100) */
  pagesToScan = 100;
  /** use_zero_pages (default 0) */
  useZeroPages = 0;
  /** smart_scan (default 1) */
  smartScan = 1;

  // ---- counters ----
  pagesShared = 0;
  pagesSharing = 0;
  pagesUnshared = 0;
  rmapItems = 0;
  pagesScanned = 0;
  pagesSkipped = 0;
  /** ksm_zero_pages: PTEs KSM pointed at the zero page */
  zeroPages = 0;
  /** ksm_scan.seqnr: full scans completed (full_scans) */
  seqnr = 0;
  /** /proc/vmstat cow_ksm: write faults that copied a KSM page (do_wp_page: COW_KSM) */
  cowKsm = 0;

  // ---- lists and trees ----
  /** ksm_mm_head's slots, in list order */
  readonly slots: KsmMm[] = [];
  /** mm_slots_hash: every mm with MMF_VM_MERGEABLE (and those that left, for their counters) */
  readonly byMm = new Map<MmStruct, KsmMm>();
  /** ksm_scan.mm_slot (null: ksm_mm_head, between passes), ksm_scan.address (a vpn), ksm_scan.rmap_list (an index) */
  cursor: KsmMm | null = null;
  address = 0;
  listIdx = 0;
  /** PageKsm: every KSM page, with its stable node (null: just upgraded, stable_tree_insert to come) */
  readonly kpages = new Map<number, StableNode | null>();
  /** the stable tree, by content hash (memcmp_pages decides among the nodes of one hash) */
  readonly stable = new Map<number, StableNode[]>();
  /** the unstable tree of this pass, by content hash */
  readonly unstable = new Map<number, RmapItem[]>();

  /** PageKsm / folio_test_ksm */
  isKsm(pfn: number): boolean {
    return this.kpages.size !== 0 && this.kpages.has(pfn);
  }

  /**
   * A user page was freed: a KSM page's stable node goes stale (folio->mapping
   * cleared by the free; ksm_get_folio finds it so and prunes it later).
   */
  freed(pfn: number): void {
    if (this.kpages.size === 0) return;
    const node = this.kpages.get(pfn);
    if (node === undefined) return;
    this.kpages.delete(pfn);
    if (node !== null) node.stale = true;
  }
}

/**
 * __ksm_enter: the mm joins ksm_mm_head just behind the scan cursor (at the
 * list's tail while the cursor is at the head), and gets MMF_VM_MERGEABLE.
 * Linux: mm/ksm.c __ksm_enter
 */
export function ksmEnter(ksm: KsmState, mm: MmStruct): void {
  const old = ksm.byMm.get(mm);
  if (old !== undefined && !old.gone) return;
  const s: KsmMm = old ?? {
    mm,
    list: [],
    mergingPages: 0,
    rmapItems: 0,
    zeroPages: 0,
    gone: false,
    mergeAny: false,
  };
  s.gone = false;
  ksm.byMm.set(mm, s);
  // KSM_RUN_UNMERGE: at the tail; otherwise list_add_tail before ksm_scan.mm_slot
  const at = ksm.run & 2 || ksm.cursor === null ? -1 : ksm.slots.indexOf(ksm.cursor);
  if (at < 0) ksm.slots.push(s);
  else ksm.slots.splice(at, 0, s);
}

/** test_bit(MMF_VM_MERGEABLE, &mm->flags) */
export function mmMergeable(ksm: KsmState | undefined, mm: MmStruct): boolean {
  const s = ksm?.byMm.get(mm);
  return s !== undefined && !s.gone;
}

/**
 * ksm_fork: a child of an mm with MMF_VM_MERGEABLE enters KSM too (its VMAs
 * keep VM_MERGEABLE: dup_mmap copies vm_flags). Its mappings of KSM pages
 * have no rmap_items yet: rmap_walk_ksm finds them through the anon_vma
 * chains, and ksmd's next pass over the child appends them.
 * Linux: include/linux/ksm.h ksm_fork
 */
export function ksmFork(ksm: KsmState | undefined, child: MmStruct, parent: MmStruct): void {
  if (ksm === undefined) return;
  if (mmMergeable(ksm, parent)) ksmEnter(ksm, child);
  // mm_init's mmf_init_flags keeps MMF_VM_MERGE_ANY (MMF_INIT_MASK)
  const s = ksm.byMm.get(child);
  if (s !== undefined && ksm.byMm.get(parent)?.mergeAny) s.mergeAny = true;
}

/** test_bit(MMF_VM_MERGE_ANY, &mm->flags) */
export function mmMergeAny(ksm: KsmState | undefined, mm: MmStruct): boolean {
  return ksm?.byMm.get(mm)?.mergeAny === true;
}

/**
 * ksm_add_vma: a new VMA of an mm with MMF_VM_MERGE_ANY is VM_MERGEABLE if
 * vma_ksm_compatible. vmlab sets it before the VMA is merged with its
 * neighbours (as Linux since 6.16 does, so that KSM does not keep equal
 * VMAs apart; 6.12's __mmap_region set it after).
 * Linux: mm/ksm.c ksm_add_vma, __ksm_add_vma
 */
export function ksmAddVma(ksm: KsmState | undefined, mm: MmStruct, vma: Vma): void {
  if (mmMergeAny(ksm, mm) && vmaKsmCompatible(vma))
    vma.vmFlags = vmFlagsUpdate(vma.vmFlags, VmFlag.MERGEABLE, 0);
}

/**
 * vma_ksm_compatible: VMAs KSM never merges in (MADV_MERGEABLE ignores
 * them: no error), VM_DROPPABLE's among them (bit 40: vmaDroppable). vmlab
 * has no DAX, VM_SAO, VM_SPARC_ADI or VM_MIXEDMAP mappings.
 * Linux: mm/ksm.c vma_ksm_compatible
 */
export function vmaKsmCompatible(vma: Vma): boolean {
  const refused =
    VmFlag.SHARED | VmFlag.MAYSHARE | VmFlag.PFNMAP | VmFlag.IO | VmFlag.DONTEXPAND | VmFlag.HUGETLB;
  return (vma.vmFlags & refused) === 0 && !vmaDroppable(vma.vmFlags);
}

/**
 * ksm_might_unmap_zero_page: a PTE of the zero page goes (wp_page_copy, zap_present_ptes,
 * khugepaged's __collapse_huge_page_copy_succeeded); one
 * KSM placed (`ksmZero`: is_ksm_zero_pte, the zero page's PTE made dirty by replace_page) takes
 * ksm_zero_pages and the mm's count down.
 * Linux: include/linux/ksm.h ksm_might_unmap_zero_page
 */
export function ksmMightUnmapZeroPage(ksm: KsmState | undefined, mm: MmStruct, ksmZero: boolean): void {
  if (ksm === undefined || ksm.zeroPages === 0 || !ksmZero) return;
  ksm.zeroPages--;
  const s = ksm.byMm.get(mm);
  if (s !== undefined) s.zeroPages--;
}
