/**
 * Kernel Samepage Merging: MADV_MERGEABLE / MADV_UNMERGEABLE and ksmd's
 * scan, which merges anonymous pages of equal contents into one
 * write-protected KSM page. Linux 6.12: mm/ksm.c (ksm_madvise,
 * vma_ksm_compatible, unmerge_ksm_pages, break_ksm, ksm_do_scan,
 * scan_get_next_rmap_item, get_next_rmap_item, should_skip_rmap_item,
 * cmp_and_merge_page, calc_checksum, stable_tree_search,
 * unstable_tree_search_insert, try_to_merge_two_pages,
 * try_to_merge_with_ksm_page, try_to_merge_one_page, write_protect_page,
 * replace_page, try_to_merge_with_zero_page, stable_tree_append,
 * remove_rmap_item_from_tree, remove_node_from_stable_tree). The state is
 * ksm_state.ts's; rmap_walk_ksm is ksm_rmap.ts's.
 *
 * What vmlab does differently, and why:
 * - The trees are maps keyed by a hash of the page's contents (ksmContentHash),
 *   and memcmp_pages decides among the pages of one hash: the same page is
 *   found as Linux's rb-trees, ordered by memcmp, find it. The hash also
 *   stands for calc_checksum (xxhash of the page): only its equality matters.
 * - ksmd has no clock: a `ksm scan` statement (or Kernel.ksmScan) runs
 *   ksm_do_scan(pages_to_scan) as one wake-up of ksm_scan_thread does.
 * - Pages of large folios (a THP, an mTHP) are not merged (Linux splits them
 *   first: try_to_merge_one_page's split_huge_page); nor pages of VM_LOCKED
 *   VMAs (Linux moves the mlock to the KSM page). One NUMA node, so no
 *   merge_across_nodes and no stable_node chains (max_page_sharing 256 is
 *   never reached by a scenario's pages: a node takes every sharer).
 */
import { PteFlag } from "./arch.ts";
import { Errno, type MmContext, VmFault } from "./internal.ts";
import {
  type InTree,
  type KsmMm,
  type KsmState,
  ksmEnter,
  type RmapItem,
  type StableNode,
  vmaKsmCompatible,
} from "./ksm_state.ts";
import { type MmStruct, vmaParts } from "./MmStruct.ts";
import { doWpPage, putPage } from "./memory.ts";
import { setFlags } from "./mmap.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { ptepClearFlush, readPte, setPteAt } from "./pgtable.ts";
import { type Vma, VmFlag, vmFlagsUpdate } from "./vma.ts";

// ---- contents ----

const bufA = new Uint32Array(1024);
const bufB = new Uint32Array(1024);

/** The page's words into buf (frameWords' copy may be overwritten by the next call). */
function readFrame(ctx: MmContext, pfn: number, buf: Uint32Array): void {
  const w = ctx.env.phys.frameWords(pfn as never);
  if (w === null) buf.fill(0);
  else buf.set(w);
}

/**
 * calc_checksum (xxhash of the page, mm/ksm.c) and the trees' key: a 32-bit
 * hash of the page's 1024 words (FNV-1a over words with a final mix).
 */
export function ksmContentHash(ctx: MmContext, pfn: number): number {
  readFrame(ctx, pfn, bufA);
  let h = 0x811c9dc5;
  for (let i = 0; i < 1024; i++) h = Math.imul(h ^ bufA[i], 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** zero_checksum: the checksum of a page of zeros (ksm_init) */
let zeroChecksum = -1;
function zeroSum(): number {
  if (zeroChecksum < 0) {
    let h = 0x811c9dc5;
    for (let i = 0; i < 1024; i++) h = Math.imul(h, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    zeroChecksum = h >>> 0;
  }
  return zeroChecksum;
}

/** pages_identical / memcmp_pages(a, b) === 0 */
function pagesIdentical(ctx: MmContext, a: number, b: number): boolean {
  readFrame(ctx, a, bufA);
  readFrame(ctx, b, bufB);
  for (let i = 0; i < 1024; i++) if (bufA[i] !== bufB[i]) return false;
  return true;
}

// ---- the VMA side: ksm_madvise ----

/**
 * MADV_MERGEABLE / MADV_UNMERGEABLE over the VMAs of [start, end): a
 * compatible VMA gets VM_MERGEABLE (the mm joins ksm_mm_head on the first:
 * __ksm_enter); UNMERGEABLE first breaks every KSM page of the range
 * (unmerge_ksm_pages: an unsharing fault copies each), then clears the flag.
 * Returns 0 or -errno (a split past max_map_count: -EAGAIN, as madvise_update_vma).
 * Linux: mm/ksm.c ksm_madvise, mm/madvise.c madvise_vma_behavior
 */
export function ksmMadvise(ctx: MmContext, mm: MmStruct, start: number, end: number, merge: boolean): number {
  const ksm = ctx.env.ksm;
  if (ksm === undefined) return -Errno.EINVAL; // no CONFIG_KSM
  for (const [v, a, b] of vmaParts(mm, start, end)) {
    const has = (v.vmFlags & VmFlag.MERGEABLE) !== 0;
    if (merge) {
      if (has || !vmaKsmCompatible(v)) continue; // "just ignore the advice"
      ksmEnter(ksm, mm);
      if (setFlags(ctx, mm, a, b, VmFlag.MERGEABLE, 0) < 0) return -Errno.EAGAIN;
    } else {
      if (!has) continue;
      if (v.anonVma !== 0) {
        const err = unmergeKsmPages(ctx, mm, v, a, b);
        if (err < 0) return err;
      }
      if (setFlags(ctx, mm, a, b, 0, VmFlag.MERGEABLE) < 0) return -Errno.EAGAIN;
    }
  }
  return 0;
}

/** is_ksm_zero_pte: the zero page, mapped by KSM (marked dirty by replace_page). */
export function isKsmZeroPte(ctx: MmContext, hi: number, lo: number): boolean {
  const pt = ctx.env.pgtable;
  return pt.present(hi, lo) && pt.pfn(hi, lo, 0) === ctx.env.zeroPfn && pt.dirty(hi, lo);
}

/**
 * unmerge_ksm_pages: break_ksm at every page of [a, b): a KSM page (or a
 * KSM zero page) gets an unsharing fault (FAULT_FLAG_UNSHARE: do_wp_page's
 * copy, mapped read-only and clean). The rmap_items stay for ksmd's next
 * pass to drop. Returns 0 or -ENOMEM (the copy's allocation failed).
 * Linux: mm/ksm.c unmerge_ksm_pages, break_ksm
 */
export function unmergeKsmPages(ctx: MmContext, mm: MmStruct, vma: Vma, a: number, b: number): number {
  const ksm = ctx.env.ksm!;
  const pt = ctx.env.pgtable;
  for (let vpn = a; vpn < b; vpn++) {
    const e = readPte(ctx, mm, vpn);
    if (e === null || !pt.present(e.hi, e.lo)) continue;
    const pfn = pt.pfn(e.hi, e.lo, 0);
    if (!ksm.isKsm(pfn) && !isKsmZeroPte(ctx, e.hi, e.lo)) continue;
    const r = doWpPage(ctx, mm, vma, vpn, e.pa, e.hi, e.lo, true);
    if (r & VmFault.OOM) return -Errno.ENOMEM;
  }
  return 0;
}

// ---- the trees ----

/** remove_node_from_stable_tree: a stale node's items leave the stable tree (counters down) and the node goes. */
export function removeNodeFromStableTree(ksm: KsmState, node: StableNode): void {
  for (let i = node.items.length - 1; i >= 0; i--) {
    const item = node.items[i];
    // hlist order: the last item is the one counted in pages_shared
    if (i > 0) ksm.pagesSharing--;
    else ksm.pagesShared--;
    const s = ksm.byMm.get(item.mm);
    if (s !== undefined) s.mergingPages--;
    item.node = null;
    item.inTree = 0 as InTree;
  }
  node.items.length = 0;
  const bucket = ksm.stable.get(node.key);
  if (bucket !== undefined) {
    const j = bucket.indexOf(node);
    if (j >= 0) bucket.splice(j, 1);
    if (bucket.length === 0) ksm.stable.delete(node.key);
  }
  if (!node.stale && ksm.kpages.get(node.kpfn) === node) ksm.kpages.set(node.kpfn, null);
}

/** ksm_get_folio: the node's page, or -1 when the node is stale (then pruned). */
function ksmGetFolio(ksm: KsmState, node: StableNode): number {
  if (node.stale) {
    removeNodeFromStableTree(ksm, node);
    return -1;
  }
  return node.kpfn;
}

/**
 * remove_rmap_item_from_tree: the item leaves the stable tree (its node's
 * list; pages_sharing or pages_shared down, the mm's ksm_merging_pages) or
 * the unstable tree (pages_unshared down; taken out of the tree only if
 * inserted in this pass: the tree of an earlier one was reset).
 * Linux: mm/ksm.c remove_rmap_item_from_tree
 */
function removeRmapItemFromTree(ksm: KsmState, item: RmapItem): void {
  if (item.inTree === 2) {
    const node = item.node!;
    if (ksmGetFolio(ksm, node) < 0) return; // pruned: the item is out already
    node.items.splice(node.items.indexOf(item), 1);
    if (node.items.length !== 0) ksm.pagesSharing--;
    else ksm.pagesShared--;
    const s = ksm.byMm.get(item.mm);
    if (s !== undefined) s.mergingPages--;
    item.node = null;
    item.anonVma = 0;
    item.inTree = 0 as InTree;
  } else if (item.inTree === 1) {
    if (item.seq === ksm.seqnr) {
      const bucket = ksm.unstable.get(item.key);
      const j = bucket === undefined ? -1 : bucket.indexOf(item);
      if (j >= 0) bucket!.splice(j, 1);
    }
    ksm.pagesUnshared--;
    item.inTree = 0 as InTree;
  }
}

/** stable_tree_append: the item joins the node's list (hlist_add_head); pages_shared for the first, pages_sharing after. */
function stableTreeAppend(ksm: KsmState, item: RmapItem, node: StableNode): void {
  item.node = node;
  item.inTree = 2 as InTree;
  node.items.unshift(item);
  if (node.items.length > 1) ksm.pagesSharing++;
  else ksm.pagesShared++;
  const s = ksm.byMm.get(item.mm);
  if (s !== undefined) s.mergingPages++;
}

/**
 * The anonymous page mapped at vpn (folio_walk_start + folio_test_anon), or
 * -1: none, a special PTE (the zero page), a page of a large folio.
 */
function anonPageAt(ctx: MmContext, mm: MmStruct, vpn: number): number {
  const e = readPte(ctx, mm, vpn);
  const pt = ctx.env.pgtable;
  if (e === null || !pt.present(e.hi, e.lo) || pt.special(e.hi, e.lo)) return -1;
  const pfn = pt.pfn(e.hi, e.lo, 0);
  const env = ctx.env;
  if (pfn >= env.pages.nrFrames || env.pages.kind[pfn] !== PageKind.UserAnon) return -1;
  const nr = pt.hpagePmdNr;
  const head = pfn - (pfn % nr);
  if (env.pages.priv[head] > 0 && env.pages.kind[head] === PageKind.UserAnon) return -1; // a THP's page
  if (env.mthp !== undefined && env.mthp.liveOrders !== 0 && env.mthp.headOf(pfn) >= 0) return -1;
  return pfn;
}

/** find_mergeable_vma: the VMA at vpn if VM_MERGEABLE with an anon_vma. */
function findMergeableVma(mm: MmStruct, vpn: number): Vma | null {
  const v = mm.vmaAt(vpn);
  return v !== null && (v.vmFlags & VmFlag.MERGEABLE) !== 0 && v.anonVma !== 0 ? v : null;
}

/** get_mergeable_page: the anonymous page at the item's address, or -1. */
function getMergeablePage(ctx: MmContext, item: RmapItem): number {
  if (item.mm.dead || findMergeableVma(item.mm, item.vpn) === null) return -1;
  return anonPageAt(ctx, item.mm, item.vpn);
}

/**
 * stable_tree_search: the KSM page with the page's contents, or -1; a KSM
 * page itself is its own answer ("ksm page forked"). Stale nodes met on
 * the way are pruned.
 */
function stableTreeSearch(ctx: MmContext, ksm: KsmState, pfn: number, key: number): number {
  const own = ksm.kpages.get(pfn);
  if (own !== undefined && own !== null) return pfn;
  const bucket = ksm.stable.get(key);
  if (bucket === undefined) return -1;
  for (const node of bucket.slice()) {
    const k = ksmGetFolio(ksm, node);
    if (k >= 0 && pagesIdentical(ctx, pfn, k)) return k;
  }
  return -1;
}

/**
 * unstable_tree_search_insert: an item of this pass whose page has the same
 * contents (its page then), or the item inserted (pages_unshared up). A
 * tree item whose page is gone ends the search (nothing inserted); so does
 * finding the very same page (a page forked: not merged with itself).
 */
function unstableTreeSearchInsert(ctx: MmContext, ksm: KsmState, item: RmapItem, pfn: number, key: number) {
  let bucket = ksm.unstable.get(key);
  if (bucket !== undefined) {
    for (const t of bucket) {
      const tp = getMergeablePage(ctx, t);
      if (tp < 0 || tp === pfn) return null;
      if (pagesIdentical(ctx, pfn, tp)) return { item: t, page: tp };
    }
  } else {
    bucket = [];
    ksm.unstable.set(key, bucket);
  }
  item.inTree = 1 as InTree;
  item.seq = ksm.seqnr;
  item.key = key;
  bucket.push(item);
  ksm.pagesUnshared++;
  return null;
}

// ---- merging ----

/** write_protect_page's result: the PTE after it (orig_pte) */
const orig = { hi: 0, lo: 0 };

/**
 * write_protect_page: a writable, dirty or exclusive PTE is cleared and
 * flushed, the references checked (mapcount + swap cache: anything else,
 * such as a GUP pin or an LRU batch, refuses), PageAnonExclusive dropped
 * (folio_try_share_anon_rmap_pte: refused for a pinned page), the dirty bit
 * moved to the folio, and the PTE put back read-only and clean. False: not merged.
 * Linux: mm/ksm.c write_protect_page
 */
function writeProtectPage(ctx: MmContext, mm: MmStruct, vpn: number, pfn: number): boolean {
  const env = ctx.env;
  const pt = env.pgtable;
  const pages = env.pages;
  const e = readPte(ctx, mm, vpn);
  if (e === null || !pt.present(e.hi, e.lo) || pt.pfn(e.hi, e.lo, 0) !== pfn) return false;
  const exclusive = (pages.flags[pfn] & PageFlag.AnonExclusive) !== 0;
  orig.hi = e.hi;
  orig.lo = e.lo;
  if (pt.write(e.hi, e.lo) || pt.dirty(e.hi, e.lo) || exclusive) {
    const swapped = env.swap?.slotOf.get(pfn) !== undefined ? 1 : 0;
    env.cache.flushCachePage(mm, vpn, pfn);
    const old = ptepClearFlush(ctx, mm, e.pa, vpn, 0);
    // "Check that no O_DIRECT or similar I/O is in progress on the page" (KSM's own reference
    // is not taken in vmlab: its refcount is the mappings' and the swap cache's alone)
    const pinned = (ctx.pinnedRefs?.get(pfn) ?? 0) > 0;
    if (pages.mapcount[pfn] + swapped !== pages.refcount[pfn] || (exclusive && pinned)) {
      setPteAt(ctx, e.pa, old.hi, old.lo, mm, vpn);
      return false;
    }
    if (exclusive) pages.flags[pfn] &= ~PageFlag.AnonExclusive;
    if (pt.dirty(old.hi, old.lo)) pages.flags[pfn] |= PageFlag.Dirty; // folio_mark_dirty
    const w = pt.modify(old.hi, old.lo, 0, PteFlag.WRITE | PteFlag.DIRTY); // pte_mkclean, pte_wrprotect
    setPteAt(ctx, e.pa, w.hi, w.lo, mm, vpn);
    orig.hi = w.hi;
    orig.lo = w.lo;
  }
  return true;
}

/**
 * replace_page: the PTE, still orig_pte, is pointed at kpage (a reference
 * and a mapping more: folio_add_anon_rmap_pte) or, for the zero page, at a
 * special dirty zero-page PTE (ksm_map_zero_page; MM_ANONPAGES down); the
 * old entry cleared and flushed first; the duplicate loses its mapping
 * and reference (freed with its last).
 * Linux: mm/ksm.c replace_page
 */
function replacePage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  page: number,
  kpage: number,
): boolean {
  const env = ctx.env;
  const pt = env.pgtable;
  const pages = env.pages;
  const e = readPte(ctx, mm, vpn);
  if (e === null || e.hi !== orig.hi || e.lo !== orig.lo) return false; // !pte_same
  let n: { hi: number; lo: number };
  if (kpage !== env.zeroPfn) {
    pages.refcount[kpage]++;
    pages.mapcount[kpage]++;
    n = pt.mkUser(kpage, 0, vma.vmFlags, false, false, false); // mk_pte(kpage, vma->vm_page_prot)
  } else {
    const z = pt.mkUser(kpage, 0, vma.vmFlags, false, false, true); // pfn_pte, pte_mkspecial
    n = pt.modify(z.hi, z.lo, PteFlag.DIRTY, 0); // pte_mkdirty: is_ksm_zero_pte
    const ksm = env.ksm!;
    ksm.zeroPages++;
    const s = ksm.byMm.get(mm);
    if (s !== undefined) s.zeroPages++;
    mm.rssAnon--; // dec_mm_counter(mm, MM_ANONPAGES)
  }
  env.cache.flushCachePage(mm, vpn, page);
  ptepClearFlush(ctx, mm, e.pa, vpn, 0);
  setPteAt(ctx, e.pa, n.hi, n.lo, mm, vpn);
  // folio_remove_rmap_pte; !folio_mapped: folio_free_swap; folio_put
  if (--pages.mapcount[page] === 0) {
    const swap = env.swap;
    const slot = swap?.slotOf.get(page);
    if (slot !== undefined && swap!.map[slot] === 0) {
      swap!.removeFromCache(page);
      pages.refcount[page]--;
    }
  }
  putPage(ctx, page);
  return true;
}

/**
 * try_to_merge_one_page: page (mapped at vpn of vma) write-protected, then
 * either upgraded to a KSM page (kpage -1: the first of two; marked
 * accessed and dirty, so that reclaim swaps rather than drops it) or, if
 * identical to kpage, replaced by it. A locked page, a page of a large
 * folio or of a VM_LOCKED VMA (vmlab) is not merged.
 * Linux: mm/ksm.c try_to_merge_one_page
 */
function tryToMergeOnePage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  page: number,
  kpage: number,
): boolean {
  if (page === kpage) return true; // ksm page forked
  const pages = ctx.env.pages;
  if (pages.kind[page] !== PageKind.UserAnon || pages.flags[page] & PageFlag.Locked) return false;
  if (vma.vmFlags & VmFlag.LOCKED) return false;
  if (!writeProtectPage(ctx, mm, vpn, page)) return false;
  if (kpage < 0) {
    ctx.env.ksm!.kpages.set(page, null); // folio_set_stable_node(folio, NULL)
    ctx.env.lru?.markAccessed(page);
    pages.flags[page] |= PageFlag.Dirty;
    return true;
  }
  return pagesIdentical(ctx, page, kpage) && replacePage(ctx, mm, vma, vpn, page, kpage);
}

/** try_to_merge_with_ksm_page: the merge of the item's page; on success the item leaves its tree and keeps the VMA's anon_vma. */
function tryToMergeWithKsmPage(
  ctx: MmContext,
  ksm: KsmState,
  item: RmapItem,
  page: number,
  kpage: number,
): boolean {
  const vma = findMergeableVma(item.mm, item.vpn);
  if (vma === null || item.mm.dead) return false;
  if (!tryToMergeOnePage(ctx, item.mm, vma, item.vpn, page, kpage)) return false;
  removeRmapItemFromTree(ksm, item);
  item.anonVma = vma.anonVma;
  return true;
}

/** break_cow: an unsharing fault at the item's address (a KSM page with one PTE left). */
function breakCow(ctx: MmContext, item: RmapItem): void {
  const vma = findMergeableVma(item.mm, item.vpn);
  if (vma !== null) unmergeKsmPages(ctx, item.mm, vma, item.vpn, item.vpn + 1);
}

/**
 * try_to_merge_with_zero_page: with use_zero_pages, a page whose checksum
 * is a zero page's is merged with the zero page. True: done with the page
 * (merged, or its VMA gone).
 */
function tryToMergeWithZeroPage(ctx: MmContext, ksm: KsmState, item: RmapItem, page: number): boolean {
  if (ksm.useZeroPages === 0 || item.oldchecksum !== zeroSum()) return false;
  const vma = findMergeableVma(item.mm, item.vpn);
  if (vma === null) return true;
  return tryToMergeOnePage(ctx, item.mm, vma, item.vpn, page, ctx.env.zeroPfn);
}

/**
 * cmp_and_merge_page: a KSM page already in this item's node needs nothing;
 * another page leaves its tree, and is passed over while its checksum still
 * changes (volatile); then the zero page (use_zero_pages), the stable tree,
 * and the unstable tree: an identical page there makes both pages one new
 * KSM page in the stable tree.
 * Linux: mm/ksm.c cmp_and_merge_page
 */
function cmpAndMergePage(ctx: MmContext, ksm: KsmState, page: number, item: RmapItem): void {
  const pageNode = ksm.kpages.get(page);
  if (pageNode !== undefined && pageNode !== null) {
    if (item.node === pageNode) return;
  } else {
    removeRmapItemFromTree(ksm, item);
    const checksum = ksmContentHash(ctx, page);
    if (item.oldchecksum !== checksum) {
      item.oldchecksum = checksum;
      return;
    }
    if (tryToMergeWithZeroPage(ctx, ksm, item, page)) return;
  }
  const key = ksmContentHash(ctx, page);
  const kpage = stableTreeSearch(ctx, ksm, page, key);
  if (kpage === page && item.node !== null && item.node === pageNode) return;
  removeRmapItemFromTree(ksm, item);
  if (kpage >= 0) {
    if (tryToMergeWithKsmPage(ctx, ksm, item, page, kpage)) {
      const node = ksm.kpages.get(kpage);
      if (node !== undefined && node !== null) stableTreeAppend(ksm, item, node);
    }
    return;
  }
  const tree = unstableTreeSearchInsert(ctx, ksm, item, page, key);
  if (tree === null) return;
  // try_to_merge_two_pages: this page becomes the KSM page, the tree's is replaced by it
  if (!tryToMergeWithKsmPage(ctx, ksm, item, page, -1)) return;
  if (!tryToMergeWithKsmPage(ctx, ksm, tree.item, tree.page, page)) {
    breakCow(ctx, item);
    return;
  }
  // stable_tree_insert, then both items appended
  const node: StableNode = { kpfn: page, key, items: [], stale: false };
  const bucket = ksm.stable.get(key);
  if (bucket === undefined) ksm.stable.set(key, [node]);
  else bucket.push(node);
  ksm.kpages.set(page, node);
  stableTreeAppend(ksm, tree.item, node);
  stableTreeAppend(ksm, item, node);
}

// ---- the scan ----

/** remove_rmap_item_from_tree and free_rmap_item */
export function freeRmapItem(ksm: KsmState, s: KsmMm, item: RmapItem): void {
  removeRmapItemFromTree(ksm, item);
  ksm.rmapItems--;
  s.rmapItems--;
}

/**
 * get_next_rmap_item: the mm's item for vpn, the items before it in the
 * list that no page matched any more freed; a new item when none.
 */
function getNextRmapItem(ksm: KsmState, s: KsmMm, vpn: number): RmapItem {
  const list = s.list;
  while (ksm.listIdx < list.length) {
    const it = list[ksm.listIdx];
    if (it.vpn === vpn) {
      ksm.listIdx++;
      return it;
    }
    if (it.vpn > vpn) break;
    list.splice(ksm.listIdx, 1);
    freeRmapItem(ksm, s, it);
  }
  const item: RmapItem = {
    mm: s.mm,
    vpn,
    oldchecksum: 0,
    age: 0,
    remainingSkips: 0,
    inTree: 0 as InTree,
    seq: 0,
    key: 0,
    node: null,
    anonVma: 0,
  };
  list.splice(ksm.listIdx, 0, item);
  ksm.listIdx++;
  ksm.rmapItems++;
  s.rmapItems++;
  return item;
}

/** skip_age */
function skipAge(age: number): number {
  if (age <= 3) return 1;
  if (age <= 5) return 2;
  if (age <= 8) return 4;
  return 8;
}

/** should_skip_rmap_item: smart scan passes over pages that have stayed unmerged for several passes. */
function shouldSkipRmapItem(ksm: KsmState, page: number, item: RmapItem): boolean {
  if (ksm.smartScan === 0 || ksm.isKsm(page)) return false;
  const age = item.age;
  if (age !== 255) item.age++;
  if (age < 3) return false;
  if (item.remainingSkips === 0) {
    item.remainingSkips = skipAge(age);
    return false;
  }
  ksm.pagesSkipped++;
  item.remainingSkips--;
  removeRmapItemFromTree(ksm, item);
  return true;
}

/** scan_get_next_rmap_item's answer: the item, and its page */
let nextPage = -1;

/**
 * scan_get_next_rmap_item: the next anonymous page of a VM_MERGEABLE VMA
 * with an anon_vma, mm after mm of ksm_mm_head. A pass starts with
 * lru_add_drain_all and an empty unstable tree; an mm's pass ends by
 * freeing the items past its last page; an mm with no VM_MERGEABLE VMA
 * left (or that exited) leaves the list; the end of the list counts a full
 * scan. Null at the end of a pass.
 * Linux: mm/ksm.c scan_get_next_rmap_item
 */
function scanGetNextRmapItem(ctx: MmContext, ksm: KsmState): RmapItem | null {
  if (ksm.slots.length === 0) return null;
  if (ksm.cursor === null) {
    ctx.env.lru?.fbatches.drainAll();
    ksm.unstable.clear(); // root_unstable_tree = RB_ROOT
    ksm.cursor = ksm.slots[0];
    ksm.address = 0;
    ksm.listIdx = 0;
  }
  for (;;) {
    const s = ksm.cursor!;
    const mm = s.mm;
    if (!mm.dead) {
      for (const vma of mm.vmas.slice()) {
        if (vma.vmEnd <= ksm.address || !(vma.vmFlags & VmFlag.MERGEABLE)) continue;
        if (ksm.address < vma.vmStart) ksm.address = vma.vmStart;
        if (vma.anonVma === 0) ksm.address = vma.vmEnd;
        while (ksm.address < vma.vmEnd) {
          const pfn = anonPageAt(ctx, mm, ksm.address);
          if (pfn >= 0) {
            ctx.env.cache.flushDcachePage(pfn); // flush_anon_page, flush_dcache_page
            const item = getNextRmapItem(ksm, s, ksm.address);
            ksm.address++;
            if (shouldSkipRmapItem(ksm, pfn, item)) continue;
            nextPage = pfn;
            return item;
          }
          ksm.address++;
        }
      }
    } else {
      ksm.address = 0;
      ksm.listIdx = 0;
    }
    // remove_trailing_rmap_items
    while (s.list.length > ksm.listIdx) freeRmapItem(ksm, s, s.list.pop()!);
    const i = ksm.slots.indexOf(s);
    const next = i + 1 < ksm.slots.length ? ksm.slots[i + 1] : null;
    if (ksm.address === 0) {
      // no VM_MERGEABLE VMA (or the mm exited): off the list, MMF_VM_MERGEABLE cleared
      ksm.slots.splice(i, 1);
      s.gone = true;
    }
    ksm.cursor = next;
    if (next === null) break;
    ksm.address = 0;
    ksm.listIdx = 0;
  }
  ksm.seqnr++;
  return null;
}

/**
 * ksm_do_scan(pages_to_scan): one wake-up of ksmd (ksm_scan_thread with
 * run = 1): cmp_and_merge_page for each page scan_get_next_rmap_item
 * gives, up to the end of a pass. Returns the pages scanned.
 * Linux: mm/ksm.c ksm_do_scan
 */
export function ksmDoScan(ctx: MmContext, npages: number): number {
  const ksm = ctx.env.ksm;
  if (ksm === undefined || (ksm.run & 1) === 0) return 0; // ksmd_should_run
  let n = 0;
  while (n < npages) {
    const item = scanGetNextRmapItem(ctx, ksm);
    if (item === null) break;
    cmpAndMergePage(ctx, ksm, nextPage, item);
    ksm.pagesScanned++;
    n++;
  }
  return n;
}

/**
 * prctl(PR_SET_MEMORY_MERGE, arg2): on (ksm_enable_merge_any), the mm enters KSM
 * and gets MMF_VM_MERGE_ANY, every compatible VMA VM_MERGEABLE (ksm_add_vmas) and
 * so every VMA mmap or brk makes later (ksm_add_vma); off (ksm_disable_merge_any),
 * every VM_MERGEABLE VMA is unmerged and loses the flag (ksm_del_vmas) and the
 * flag goes. 0 or -errno.
 * Linux: mm/ksm.c ksm_enable_merge_any, ksm_disable_merge_any, ksm_add_vmas, ksm_del_vmas
 */
export function ksmSetMergeAny(ctx: MmContext, mm: MmStruct, on: boolean): number {
  const ksm = ctx.env.ksm;
  if (ksm === undefined) return -Errno.EINVAL;
  const s = ksm.byMm.get(mm);
  if (on) {
    if (s?.mergeAny) return 0;
    ksmEnter(ksm, mm);
    ksm.byMm.get(mm)!.mergeAny = true;
    for (const v of mm.vmas)
      if (vmaKsmCompatible(v)) v.vmFlags = vmFlagsUpdate(v.vmFlags, VmFlag.MERGEABLE, 0);
    return 0;
  }
  if (s === undefined || !s.mergeAny) return 0;
  for (const v of mm.vmas.slice()) {
    if (!(v.vmFlags & VmFlag.MERGEABLE)) continue;
    if (v.anonVma !== 0) {
      const err = unmergeKsmPages(ctx, mm, v, v.vmStart, v.vmEnd);
      if (err < 0) return err;
    }
    v.vmFlags = vmFlagsUpdate(v.vmFlags, 0, VmFlag.MERGEABLE);
  }
  s.mergeAny = false;
  return 0;
}
