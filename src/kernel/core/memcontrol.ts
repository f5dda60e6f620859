/**
 * The memory limit on user memory (mm/memcontrol.c, one cgroup over every
 * process): a user page is charged before it is allocated, and at the limit
 * the charge reclaims first (try_charge -> try_to_free_mem_cgroup_pages).
 */

import { Reclaimer } from "../mm/vmscan_stat.ts";
import type { KernelCore } from "./core.ts";
import { reclaim } from "./reclaim.ts";

/** The pages charged to the memory limit: every live mm's resident pages plus the swap cache. */
function userMemoryUsed(k: KernelCore): number {
  const mms = new Set(k.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!));
  let n = k.swap?.cache.size ?? 0;
  for (const mm of mms) n += mm.rss;
  return n;
}

/**
 * The memory limit's charge of one more user page: at the limit, reclaim
 * (as mem_cgroup's try_charge does) before the page is allocated. User
 * memory is every live mm's resident pages plus the swap cache.
 */
export function chargeUserPage(k: KernelCore): void {
  const limit = k.config.userMemoryPages;
  if (limit === null || limit === undefined || k.reclaiming) return;
  const used = userMemoryUsed(k);
  if (used >= limit) {
    k.vmscan.reclaimCtx.cgroupReclaims++;
    reclaim(k, used - limit + 1, Reclaimer.Direct, true);
  }
}

/**
 * The charge of a transparent huge page: 512 pages at once (an mTHP folio: its nr pages). Over the limit,
 * one reclaim of what is missing (try_to_free_mem_cgroup_pages), then, as
 * THP allocations are __GFP_NORETRY, the charge fails if the margin is still
 * short and the fault falls back to 4K pages.
 */
export function chargeHugePage(k: KernelCore, nr = 512): boolean {
  const limit = k.config.userMemoryPages;
  if (limit === null || limit === undefined) return true;
  if (k.reclaiming) return false;
  const before = userMemoryUsed(k);
  if (before + nr <= limit) return true;
  k.vmscan.reclaimCtx.cgroupReclaims++;
  reclaim(k, before + nr - limit, Reclaimer.Direct, true);
  return userMemoryUsed(k) + nr <= limit;
}
