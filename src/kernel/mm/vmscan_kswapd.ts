/**
 * What kswapd asks of the node's zones (mm/vmscan.c): whether the node is balanced for an
 * allocation (pgdat_balanced) and how much one kswapd_shrink_node step reclaims.
 */
import { type BuddyAllocator, Wmark } from "./buddy.ts";
import { SWAP_CLUSTER_MAX } from "./vmscan_balance.ts";

/**
 * pgdat_balanced: is some managed zone up to `highestZone` above its high watermark for an
 * allocation of 2^order (zone_watermark_ok_safe, its lowmem reserve against `highestZone`
 * included), checked bottom-up as Linux does? A node with no managed zone there is balanced.
 * Linux: mm/vmscan.c pgdat_balanced
 */
export function pgdatBalanced(b: BuddyAllocator, order: number, highestZone: number): boolean {
  let any = false;
  for (let i = 0; i <= highestZone && i < b.zones.length; i++) {
    const z = b.zones[i];
    if (z.managed === 0) continue;
    any = true;
    if (b.watermarkOk(z, order, b.wmark(z, Wmark.High), highestZone, 0)) return true;
  }
  return !any;
}

/**
 * kswapd_shrink_node's nr_to_reclaim: max(high watermark, SWAP_CLUSTER_MAX) of each managed
 * zone up to `highestZone` (sc->reclaim_idx).
 */
export function kswapdTarget(b: BuddyAllocator, highestZone: number): number {
  let n = 0;
  for (const z of b.zones)
    if (z.managed > 0 && z.id <= highestZone) n += Math.max(b.wmark(z, Wmark.High), SWAP_CLUSTER_MAX);
  return n;
}

/**
 * pgdat_watermark_boosted: some managed zone up to `highestZone` has a watermark boost (kswapd
 * then runs even on a balanced node). Linux: mm/vmscan.c
 */
export function pgdatWatermarkBoosted(b: BuddyAllocator, highestZone: number): boolean {
  for (let i = Math.min(highestZone, b.zones.length - 1); i >= 0; i--) {
    const z = b.zones[i];
    if (z.managed > 0 && z.watermarkBoost > 0) return true;
  }
  return false;
}

/** The node's highest zone index (kswapd's highest_zoneidx before any waker set one: MAX_NR_ZONES - 1). */
export function topZone(b: BuddyAllocator): number {
  return b.zones.length - 1;
}
