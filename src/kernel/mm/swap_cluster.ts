/**
 * The swap cluster allocator's large entries: 2^order consecutive slots,
 * naturally aligned inside one swap cluster, for a large folio swapped out
 * whole. Linux 6.12: mm/swapfile.c get_swap_pages -> scan_swap_map_slots ->
 * cluster_alloc_swap -> cluster_alloc_swap_entry, alloc_swap_scan_cluster,
 * cluster_scan_range, cluster_alloc_range. The host (6.18) has Kairui
 * Song's rework of the allocator (6.14 on: swap tables, clusters for every
 * device); its search order for a large entry was not compared with 6.12's
 * here.
 *
 * vmlab's device is a solid-state block device (SWP_BLKDEV and
 * SWP_SOLIDSTATE: docs/swap.md, it has cluster_info), so 6.12 allocates
 * large entries on it. On a rotating disk, or a swap file, 6.12's
 * scan_swap_map_slots refuses every order > 0 and the folio is split:
 * SwapArea.largeEntries false models that device (the host's swap file on
 * its rotational disk behaves so under 6.18 too).
 *
 * Simplifications, each named: order-0 slots keep vmlab's cursor
 * (swapfile.ts allocSlot: scan_swap_map_slots' cluster_next), so example
 * outputs keep their slot numbers; a cluster still records the order it
 * serves (ci->order) and its count (ci->count) for every slot, so large
 * entries see the clusters order-0 slots took. The free, nonfull and frag
 * lists are looked through in cluster order (Linux: list order, which
 * rotates); one CPU's current cluster per order; a slot whose page sits in
 * the swap cache is busy (Linux reclaims it when vm_swap_full:
 * cluster_reclaim_range); no discard.
 */
import type { SwapArea } from "./swapfile.ts";

/**
 * alloc_swap_scan_cluster: the first aligned run of 2^order free slots in
 * the cluster holding `offset`, from `offset` on; taken (cluster_alloc_range)
 * and its first slot returned, or -1. The order's next offset is left after it
 * (0: the cluster is full or has no run left).
 */
function scanCluster(swap: SwapArea, offset: number, order: number): number {
  const size = swap.clusterPages;
  const nr = 1 << order;
  const c = (offset / size) | 0;
  const start = c * size;
  const end = Math.min(start + size, swap.nrSlots) - nr;
  if (swap.clusterCount[c] + nr > size) return -1;
  for (let s = offset; s <= end; s += nr) {
    let free = true;
    for (let i = 0; i < nr && free; i++) free = swap.isFree(s + i);
    if (!free) continue;
    swap.takeRange(s, nr, order);
    const next = s + nr;
    swap.clusterNext[order] = swap.clusterCount[c] === size || next > end ? 0 : next;
    return s;
  }
  return -1;
}

/**
 * get_swap_pages(1, &entry, order) for order > 0 (folio_alloc_swap of a
 * large folio, via add_to_swap): the order's current cluster first
 * (percpu_cluster->next[order]), then the first free cluster (it becomes
 * the order's, ci->order), then the clusters already serving the order that
 * have room (nonfull_clusters[order], frag_clusters[order]); no stealing from
 * other orders ("if (order) goto done"). Returns the first slot of the run, or
 * -1 (the caller splits the folio: THP_SWPOUT_FALLBACK, MTHP_STAT_SWPOUT_FALLBACK).
 * A run longer than a cluster fails (nr_pages > SWAPFILE_CLUSTER).
 * Linux: mm/swapfile.c get_swap_pages, cluster_alloc_swap_entry
 */
export function allocSwapRange(swap: SwapArea, order: number): number {
  const size = swap.clusterPages;
  const nr = 1 << order;
  // !(si->flags & SWP_BLKDEV) || !si->cluster_info: no large entries; avail_pgs = nr_swap_pages / size
  // folio_alloc_swap: a large folio without CONFIG_THP_SWAP gets no entry
  if (!swap.thpSwap || !swap.largeEntries || nr > size || swap.freePages < nr) return -1;
  const next = swap.clusterNext[order];
  swap.clusterNext[order] = 0;
  if (next > 0) {
    const s = scanCluster(swap, next, order);
    if (s >= 0) return s;
  }
  const nrClusters = swap.clusterCount.length;
  for (let c = 0; c < nrClusters; c++)
    if (swap.clusterCount[c] === 0) {
      const s = scanCluster(swap, c * size, order);
      if (s >= 0) return s;
    }
  for (let c = 0; c < nrClusters; c++) {
    const n = swap.clusterCount[c];
    if (n === 0 || n + nr > size || swap.clusterOrder[c] !== order) continue;
    const s = scanCluster(swap, c * size, order);
    if (s >= 0) return s;
  }
  return -1;
}
