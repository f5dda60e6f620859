/**
 * The kernel's side of page reclaim (mm/vmscan.c): try_to_free_pages, the
 * direct reclaim of an allocation that found too little, and kswapd's
 * balance_pgdat. The LRU lists and the scan itself are mm/vmscan.ts; how one
 * reclaim walks the priorities, mm/vmscan_balance.ts.
 */

import { SWAP_CLUSTER_MAX } from "../mm/vmscan.ts";
import { MAX_RECLAIM_RETRIES } from "../mm/vmscan_balance.ts";
import { Reclaimer } from "../mm/vmscan_stat.ts";
import type { KernelCore } from "./core.ts";

/** Runs `fn` as one reclaim under `reclaimer` (vmscan_stat.ts counts its pages under it); 0 if one is under way. */
function reclaiming(k: KernelCore, reclaimer: Reclaimer, cgroup: boolean, fn: () => number): number {
  if (k.reclaiming) return 0;
  k.reclaiming = true;
  const ctx = k.vmscan.reclaimCtx;
  ctx.reclaimer = reclaimer;
  ctx.cgroup = cgroup;
  try {
    return fn();
  } finally {
    k.reclaiming = false;
    ctx.reclaimer = Reclaimer.Direct;
    ctx.cgroup = false;
  }
}

/**
 * Reclaims up to `pages` pages: try_to_free_pages (try_to_free_mem_cgroup_pages with `cgroup`)
 * for what is still missing, again while it makes progress, and up to three times in a row
 * when one reclaimed nothing (as the charge and the caller retry); returns how many.
 */
export function reclaim(k: KernelCore, pages: number, reclaimer = Reclaimer.Direct, cgroup = false): number {
  return reclaiming(k, reclaimer, cgroup, () => {
    let total = 0;
    let idle = 0;
    while (total < pages && idle < 3) {
      const n = k.vmscan.tryToFreePages(pages - total);
      idle = n === 0 ? idle + 1 : 0;
      total += n;
    }
    return total;
  });
}

/**
 * __alloc_pages_direct_reclaim: an allocation of 2^order pages reclaims at
 * least a batch itself (the allocator counted allocstall_<zone> and retries):
 * one try_to_free_pages. vmlab asks for 2^order pages when that is more than
 * SWAP_CLUSTER_MAX, where Linux would have reclaim and compaction work together
 * (should_continue_reclaim).
 */
export function directReclaim(k: KernelCore, order: number): number {
  return reclaiming(k, Reclaimer.Direct, false, () =>
    k.vmscan.tryToFreePages(Math.max(SWAP_CLUSTER_MAX, 1 << order)),
  );
}

/**
 * kswapd's balance_pgdat: reclaim until free memory is back above the high
 * watermark (vmlab's pgdat_balanced: the zones' free pages against their high
 * watermarks summed), or the priorities run out. vmlab runs it at once when an
 * allocation wakes it; after MAX_RECLAIM_RETRIES runs in a row that reclaimed nothing it is
 * not woken until some reclaim frees a page again. Returns pages reclaimed.
 */
export function kswapd(k: KernelCore): number {
  // wakeup_kswapd: a hopeless node (kswapd_failures at MAX_RECLAIM_RETRIES) is left to direct reclaim
  if (k.reclaiming || k.vmscan.kswapdFailures >= MAX_RECLAIM_RETRIES) return 0;
  k.vmscan.stats.pageoutrun++; // balance_pgdat: count_vm_event(PAGEOUTRUN)
  const buddy = k.buddy;
  const balanced = () => buddy.freePages() >= buddy.highWmarkPages();
  if (balanced()) return 0;
  // set_reclaim_active / clear_reclaim_active: while kswapd balances, frees keep fewer pages on pcp lists
  for (const z of buddy.zones) z.reclaimActive = z.managed > 0;
  try {
    return reclaiming(k, Reclaimer.Kswapd, false, () =>
      k.vmscan.balancePgdat(balanced, () => buddy.kswapdTarget(), buddy.highWmarkPages() - buddy.freePages()),
    );
  } finally {
    for (const z of buddy.zones) z.reclaimActive = false;
    // prepare_kswapd_sleep on a balanced node: clear_pgdat_congested (PGDAT_DIRTY among them)
    if (k.vmscan.writeback !== null && balanced()) k.vmscan.writeback.pgdatDirty = false;
  }
}
