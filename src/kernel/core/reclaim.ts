/**
 * The kernel's side of page reclaim (mm/vmscan.c): try_to_free_pages, the
 * direct reclaim of an allocation that found too little, and kswapd's
 * balance_pgdat. The LRU lists and the scan itself are mm/vmscan.ts.
 */

import { Wmark } from "../mm/buddy.ts";
import { SWAP_CLUSTER_MAX } from "../mm/vmscan.ts";
import { Reclaimer } from "../mm/vmscan_stat.ts";
import type { KernelCore } from "./core.ts";

/**
 * Reclaims up to `pages` pages (try_to_free_pages: direct reclaim, unless
 * `reclaimer` or `cgroup` say otherwise; vmscan_stat.ts counts the pages
 * under them); returns how many.
 */
export function reclaim(k: KernelCore, pages: number, reclaimer = Reclaimer.Direct, cgroup = false): number {
  if (k.reclaiming) return 0;
  k.reclaiming = true;
  const ctx = k.vmscan.reclaimCtx;
  ctx.reclaimer = reclaimer;
  ctx.cgroup = cgroup;
  try {
    // shrink_node passes; a pass that only aged pages (cleared accessed bits, moved them
    // between the lists) is retried, up to three in a row, as kswapd and reclaim retries do
    let total = 0;
    let idle = 0;
    while (total < pages && idle < 3) {
      const n = k.vmscan.shrink(Math.min(SWAP_CLUSTER_MAX, pages - total));
      idle = n === 0 ? idle + 1 : 0;
      total += n;
    }
    return total;
  } finally {
    k.reclaiming = false;
    ctx.reclaimer = Reclaimer.Direct;
    ctx.cgroup = false;
  }
}

/**
 * __alloc_pages_direct_reclaim: an allocation of 2^order pages reclaims at
 * least a batch itself (the allocator counted allocstall_<zone>).
 */
export function directReclaim(k: KernelCore, order: number): number {
  if (k.reclaiming) return 0;
  return reclaim(k, Math.max(SWAP_CLUSTER_MAX, 1 << order));
}

/** The sum of the zones' high watermarks: where kswapd stops. */
function highWatermark(k: KernelCore): number {
  return k.buddy.zones.reduce((n, z) => n + (z.managed > 0 ? z.wmark[Wmark.High] : 0), 0);
}

/**
 * kswapd's balance_pgdat: reclaim until free memory is back above the high
 * watermark, or nothing more can be reclaimed. vmlab runs it at once when
 * an allocation wakes it. Returns pages reclaimed.
 */
export function kswapd(k: KernelCore): number {
  if (k.reclaiming) return 0;
  k.vmscan.stats.pageoutrun++; // balance_pgdat: count_vm_event(PAGEOUTRUN)
  const want = highWatermark(k) - k.buddy.freePages();
  if (want <= 0) return 0;
  // set_reclaim_active / clear_reclaim_active: while kswapd balances, frees keep fewer pages on pcp lists
  for (const z of k.buddy.zones) z.reclaimActive = z.managed > 0;
  try {
    return reclaim(k, want, Reclaimer.Kswapd);
  } finally {
    for (const z of k.buddy.zones) z.reclaimActive = false;
    // prepare_kswapd_sleep on a balanced node: clear_pgdat_congested (PGDAT_DIRTY among them)
    if (k.vmscan.writeback !== null && k.buddy.freePages() >= highWatermark(k))
      k.vmscan.writeback.pgdatDirty = false;
  }
}
