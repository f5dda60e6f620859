/**
 * The kernel's side of page reclaim (mm/vmscan.c): try_to_free_pages, the
 * direct reclaim of an allocation that found too little, and kswapd's
 * balance_pgdat. The LRU lists and the scan itself are mm/vmscan.ts; how one
 * reclaim walks the priorities, mm/vmscan_balance.ts.
 */

import { resetIsolationSuitable } from "../mm/compaction_skip.ts";
import { Gfp } from "../mm/gfp.ts";
import { ZONE_MOVABLE } from "../mm/mm_inline.ts";
import type { Zone } from "../mm/mmzone.ts";
import { Lru, SWAP_CLUSTER_MAX } from "../mm/vmscan.ts";
import { MAX_RECLAIM_RETRIES } from "../mm/vmscan_balance.ts";
import { kswapdTarget, pgdatBalanced, pgdatWatermarkBoosted, topZone } from "../mm/vmscan_kswapd.ts";
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
 * try_to_free_mem_cgroup_pages: one do_try_to_free_pages of `nrToReclaim` pages (the charge's
 * max(nr_pages, SWAP_CLUSTER_MAX)) for the memory limit; returns the pages reclaimed.
 * Linux: mm/vmscan.c try_to_free_mem_cgroup_pages
 */
export function memcgReclaim(k: KernelCore, nrToReclaim: number): number {
  return reclaiming(k, Reclaimer.Direct, true, () => k.vmscan.tryToFreePages(nrToReclaim));
}

/**
 * __alloc_pages_direct_reclaim: an allocation of 2^order pages reclaims at
 * least a batch itself (the allocator counted allocstall_<zone> and retries):
 * one try_to_free_pages. vmlab asks for 2^order pages when that is more than
 * SWAP_CLUSTER_MAX, where Linux would have reclaim and compaction work together
 * (should_continue_reclaim). `reclaimIdx`: sc->reclaim_idx, gfp_zone(gfp_mask) (a
 * GFP_HIGHUSER_MOVABLE allocation's ZONE_MOVABLE: every zone).
 */
export function directReclaim(k: KernelCore, order: number, reclaimIdx = ZONE_MOVABLE): number {
  return reclaiming(k, Reclaimer.Direct, false, () =>
    k.vmscan.tryToFreePages(Math.max(SWAP_CLUSTER_MAX, 1 << order), reclaimIdx),
  );
}

/**
 * zone_reclaimable_pages: the zone's pages on the file LRU lists, and on the anon lists when
 * anonymous pages can be reclaimed (can_reclaim_anon_pages: free swap; a large folio's head
 * counts its pages); the zone's free pages when that is none (Linux 6.12: so that a zone with
 * free pages and nothing to reclaim is not passed over). Pages still in a CPU's LRU add batch are
 * on no list yet, as in Linux's NR_ZONE_* counters (the lists' zone counts, mm_inline.ts). For
 * should_reclaim_retry and compaction_zonelist_suitable (mm/page_alloc_slow.ts).
 * Linux: mm/vmscan.c zone_reclaimable_pages
 */
export function zoneReclaimablePages(k: KernelCore, z: Zone): number {
  const zs = k.vmscan.zoneSize; // [list * 3 + zone]: mm_inline.ts
  const id = z.id;
  let n = zs[Lru.InactiveFile * 3 + id] + zs[Lru.ActiveFile * 3 + id];
  if ((k.swap?.freePages ?? 0) > 0) n += zs[Lru.InactiveAnon * 3 + id] + zs[Lru.ActiveAnon * 3 + id];
  return n === 0 ? z.freePages : n;
}

/**
 * wakeup_kswapd from an allocation's slow path (wake_all_kswapds: once for the node), with the
 * allocation's order and highest zone index, or from an allocation in a zone whose watermarks a
 * fallback boosted (order 0, that zone): a node that is hopeless (kswapd_failures at
 * MAX_RECLAIM_RETRIES) or balanced for that order and zone (pgdat_balanced) and not boosted
 * (pgdat_watermark_boosted) is not woken;
 * otherwise kswapd runs balance_pgdat for them at once (vmlab's kswapd runs when it is woken,
 * not later beside the task). Returns pages reclaimed.
 * Linux: mm/vmscan.c wakeup_kswapd
 */
export function wakeupKswapd(
  k: KernelCore,
  order: number,
  highestZone: number,
  gfp = Gfp.DIRECT_RECLAIM,
): number {
  if (k.reclaiming) return 0;
  if (
    k.vmscan.kswapdFailures >= MAX_RECLAIM_RETRIES ||
    (pgdatBalanced(k.buddy, order, highestZone) && !pgdatWatermarkBoosted(k.buddy, highestZone))
  ) {
    // a hopeless or balanced node: free memory there may be, too fragmented for the order; an
    // allocation that cannot compact itself wakes kcompactd (compaction_suitable decides)
    if (!(gfp & Gfp.DIRECT_RECLAIM)) k.kcompactd?.wake(order, highestZone);
    return 0;
  }
  return balancePgdat(k, order, highestZone);
}

/**
 * kswapd woken by hand (the `kswapd` statement, Kernel.kswapd): balance_pgdat at order 0 for
 * every zone (the kswapd thread's highest_zoneidx when no waker set one), counted in pageoutrun
 * even when the node is balanced already, as balance_pgdat counts it before it looks. After
 * MAX_RECLAIM_RETRIES runs in a row that reclaimed nothing, kswapd is left alone until some
 * reclaim frees a page again. Returns pages reclaimed.
 */
export function kswapd(k: KernelCore): number {
  if (k.reclaiming || k.vmscan.kswapdFailures >= MAX_RECLAIM_RETRIES) return 0;
  return balancePgdat(k, 0, topZone(k.buddy));
}

/**
 * kswapd's balance_pgdat(pgdat, order, highest_zoneidx): PAGEOUTRUN counted, then reclaim until
 * some zone up to highest_zoneidx is above its high watermark for the order (pgdat_balanced:
 * zone_watermark_ok_safe with its lowmem reserve), or the priorities run out; the order drops
 * to 0 once twice the allocation's size is reclaimed (kswapd_shrink_node's compact_gap). Then
 * prepare_kswapd_sleep: a node balanced at the order kswapd finished at clears its congestion
 * flags (clear_pgdat_congested).
 */
function balancePgdat(k: KernelCore, order: number, highestZone: number): number {
  k.vmscan.stats.pageoutrun++; // balance_pgdat: count_vm_event(PAGEOUTRUN)
  const buddy = k.buddy;
  const balanced = (o: number) => pgdatBalanced(buddy, o, highestZone);
  // the reclaim boost: the zones' watermark_boost, left in place while kswapd runs (each zone's
  // kept only when there is one: most runs have none)
  let boost = 0;
  for (const z of buddy.zones) if (z.managed > 0 && z.id <= highestZone) boost += z.watermarkBoost;
  const boosts =
    boost === 0
      ? null
      : buddy.zones.map((z) => (z.managed > 0 && z.id <= highestZone ? z.watermarkBoost : 0));
  if (boost === 0 && balanced(order)) {
    kswapdTryToSleep(k, order, highestZone); // nothing to do: kswapd goes back to sleep
    return 0;
  }
  // set_reclaim_active / clear_reclaim_active: while kswapd balances, frees keep fewer pages on
  // the pcp lists of the zones up to highest_zoneidx
  for (const z of buddy.zones) z.reclaimActive = z.managed > 0 && z.id <= highestZone;
  let reclaimOrder = order;
  try {
    return reclaiming(k, Reclaimer.Kswapd, false, () =>
      k.vmscan.balancePgdat(
        order,
        (o) => {
          reclaimOrder = o;
          return balanced(o);
        },
        () => kswapdTarget(buddy, highestZone),
        buddy.highWmarkPages() - buddy.freePages(),
        boost,
        highestZone,
      ),
    );
  } finally {
    for (const z of buddy.zones) z.reclaimActive = false;
    // balance_pgdat's end: the boosts it started with are spent (new ones may have come since), and
    // kcompactd is woken to defragment the pageblocks the fallbacks mixed
    if (boosts !== null) {
      for (const z of buddy.zones) z.watermarkBoost -= Math.min(z.watermarkBoost, boosts[z.id]);
      k.kcompactd?.wake(buddy.pbOrder, highestZone);
    }
    if (balanced(reclaimOrder)) kswapdTryToSleep(k, order, highestZone);
  }
}

/**
 * kswapd_try_to_sleep after balance_pgdat, the node balanced (prepare_kswapd_sleep):
 * clear_pgdat_congested (PGDAT_DIRTY among them), reset_isolation_suitable (memory was freed:
 * compaction may succeed where it failed, compaction_skip.ts), and kcompactd woken for the
 * order kswapd was woken for.
 */
function kswapdTryToSleep(k: KernelCore, order: number, highestZone: number): void {
  if (k.vmscan.writeback !== null) k.vmscan.writeback.pgdatDirty = false;
  resetIsolationSuitable(k.buddy);
  k.kcompactd?.wake(order, highestZone);
}
