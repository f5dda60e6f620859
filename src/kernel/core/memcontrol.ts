/**
 * The memory limit on user memory (mm/memcontrol.c, one cgroup over every
 * process): a user page is charged before it is allocated, and at the limit
 * the charge reclaims first (try_charge -> try_to_free_mem_cgroup_pages),
 * then kills within the limit (mem_cgroup_oom).
 */

import { MlockFbatches, MlockOp } from "../mm/mlock_fbatch.ts";
import { MAX_RECLAIM_RETRIES } from "../mm/vmscan_balance.ts";
import { Reclaimer } from "../mm/vmscan_stat.ts";
import type { KernelCore } from "./core.ts";
import { outOfMemory } from "./oom.ts";
import { oomCurrent } from "./oom_report.ts";
import { reclaim } from "./reclaim.ts";

/**
 * The pages charged to the memory limit (its page_counter's usage): every folio Linux charges at
 * allocation and uncharges at its free, each page once however many processes map it
 * (mem_cgroup_charge: anonymous and shmem pages, page-cache pages mapped or not, swap-cache
 * pages), which in vmlab is every page on the LRU lists (the swap cache's and the page cache's
 * included), plus those still waiting in a per-CPU LRU add batch (order-0 folios only: a large
 * folio moves its batch at once) and the new mlocked folios waiting in an mlock batch for the
 * unevictable list. Kernel memory (slab, page tables), which cgroup v2 charges too, is left out.
 * Linux: mm/memcontrol.c mem_cgroup_charge, page_counter_read(&memcg->memory)
 */
function userMemoryUsed(k: KernelCore): number {
  const v = k.vmscan;
  let n = v.size[1] + v.size[2] + v.size[3] + v.size[4] + v.size[5] + v.fbatches.pending();
  const m = v.fbatches.mlock;
  if (m.total > 0)
    for (let c = 0; c < m.nrCpus; c++)
      for (let i = 0; i < m.count[c]; i++) {
        const at = c * MlockFbatches.SIZE + i;
        if (m.ops[at] === MlockOp.NewFolio) n += v.large[m.folios[at]] ? v.hpageNr : 1;
      }
  return n;
}

/**
 * The memory limit's charge of one more user page (try_charge_memcg for one page, with
 * GFP_HIGHUSER_MOVABLE: it may block and retry): under the limit it is charged; at it, the
 * limit's reclaim (try_to_free_mem_cgroup_pages) runs, the charge is tried again once after
 * drain_all_stock, then again while reclaim makes progress, then MAX_RECLAIM_RETRIES more times; after that the memory cgroup's
 * OOM killer chooses a victim among the limit's tasks (mem_cgroup_oom), and the retries start
 * over; when it has none to kill the charge fails (-ENOMEM: the fault's VM_FAULT_OOM); when the
 * victim is the charging task, the retries run once more and then the charge fails (it dies of
 * the pending SIGKILL as its fault returns). Returns whether the page was charged.
 * Linux: mm/memcontrol.c try_charge_memcg, mem_cgroup_oom
 */
export function chargeUserPage(k: KernelCore): boolean {
  const limit = k.config.userMemoryPages;
  if (limit === null || limit === undefined || k.reclaiming) return true;
  let retries = MAX_RECLAIM_RETRIES;
  let failed = false;
  let passedOom = false;
  let drained = false;
  for (;;) {
    const used = userMemoryUsed(k);
    if (used < limit) return true; // page_counter_try_charge
    if (!failed) k.vmscan.reclaimCtx.memcgFailcnt++; // the counter's failcnt, once per charge here
    failed = true;
    k.vmscan.reclaimCtx.cgroupReclaims++;
    const got = reclaim(k, used - limit + 1, Reclaimer.Direct, true);
    if (userMemoryUsed(k) < limit) return true; // mem_cgroup_margin(mem_over_limit) >= nr_pages
    // drain_all_stock(mem_over_limit) once per charge, then the whole charge again (vmlab has no
    // per-CPU stock, so the drain frees nothing: it is one more reclaim round, as in Linux)
    if (!drained) {
      drained = true;
      continue;
    }
    if (got > 0) continue; // nr_reclaimed && nr_pages <= (1 << PAGE_ALLOC_COSTLY_ORDER)
    if (retries-- > 0) continue;
    // `passed_oom && task_is_dying()`: the charging task is the victim: -ENOMEM, its fault returns
    if (passedOom && k.faultingMm !== null && oomCurrent(k).oomKilled) return false;
    // mem_cgroup_oom -> mem_cgroup_out_of_memory: a victim among the limit's tasks, killed; the
    // charging task chosen only gets its SIGKILL pending (core/oom.ts), and Linux's out_of_memory
    // still returns true: the charge retries MAX_RECLAIM_RETRIES more times before the -ENOMEM
    // above. None to kill: -ENOMEM at once (the fault's VM_FAULT_OOM, retried: pagefault_out_of_memory)
    const killed = outOfMemory(k, 0, {
      limit,
      usage: userMemoryUsed(k),
      failcnt: k.vmscan.reclaimCtx.memcgFailcnt,
    });
    if (!killed && !(k.faultingMm !== null && oomCurrent(k).oomKilled)) return false;
    passedOom = true;
    retries = MAX_RECLAIM_RETRIES;
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
