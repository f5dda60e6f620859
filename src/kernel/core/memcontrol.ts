/**
 * The memory limit on user memory (mm/memcontrol.c, one cgroup over every
 * process): a user page is charged before it is allocated, and at the limit
 * the charge reclaims first (try_charge -> try_to_free_mem_cgroup_pages),
 * then kills within the limit (mem_cgroup_oom).
 */

import { Gfp } from "../mm/gfp.ts";
import { MlockFbatches, MlockOp } from "../mm/mlock_fbatch.ts";
import { PAGE_ALLOC_COSTLY_ORDER } from "../mm/page_alloc_pcp.ts";
import { SWAP_CLUSTER_MAX } from "../mm/vmscan.ts";
import { MAX_RECLAIM_RETRIES } from "../mm/vmscan_balance.ts";
import type { KernelCore } from "./core.ts";
import { outOfMemory } from "./oom.ts";
import { oomCurrent } from "./oom_report.ts";
import { memcgReclaim } from "./reclaim.ts";
import type { Task } from "./task.ts";

/**
 * The pages charged to the memory limit (its page_counter's usage): every folio Linux charges at
 * allocation and uncharges at its free, each page once however many processes map it
 * (mem_cgroup_charge: anonymous and shmem pages, page-cache pages mapped or not, swap-cache
 * pages), which in vmlab is every page on the LRU lists (the swap cache's and the page cache's
 * included), plus those still waiting in a per-CPU LRU add batch (order-0 folios only: a large
 * folio moves its batch at once) and the new mlocked folios waiting in an mlock batch for the
 * unevictable list; and the kernel memory charged with __GFP_ACCOUNT (MEMCG_KMEM): the user page
 * tables below the PGD (GFP_PGTABLE_USER; buddy.ts memcgKmem) and the PGD where pgd_alloc
 * takes it as GFP_PGTABLE_USER pages (chargeKmem). Slab and kernel stacks, which cgroup v2 charges
 * too, are left out.
 * Linux: mm/memcontrol.c mem_cgroup_charge, __memcg_kmem_charge_page, page_counter_read(&memcg->memory)
 */
function userMemoryUsed(k: KernelCore): number {
  const v = k.vmscan;
  let n =
    v.size[1] + v.size[2] + v.size[3] + v.size[4] + v.size[5] + v.fbatches.pending() + k.buddy.memcgKmem;
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
 * The memory limit's charge of one more user page (try_charge_memcg for one page with GFP_KERNEL,
 * as do_anonymous_page, wp_page_copy and the swap-in charge ask): it may block and retry.
 * Returns whether the page was charged.
 * Linux: mm/memory.c do_anonymous_page (mem_cgroup_charge(folio, vma->vm_mm, GFP_KERNEL))
 */
export function chargeUserPage(k: KernelCore): boolean {
  return tryChargeMemcg(k, 1, Gfp.KERNEL);
}

/**
 * The charge of a user page table just allocated at `pfn` (pte_alloc_one, pmd_alloc_one,
 * __pud_alloc_one and preallocate_pmds allocate with GFP_PGTABLE_USER, whose __GFP_ACCOUNT makes
 * __alloc_pages charge the page to current's memory cgroup: __memcg_kmem_charge_page ->
 * obj_cgroup_charge_pages -> try_charge_memcg, with the allocation's gfp: it reclaims and may end
 * in mem_cgroup_oom like a user page's). Charged, it counts in MEMCG_KMEM (memory.stat kernel) and,
 * `pagetable` (pagetable_pte_ctor, _pmd_ctor, _pud_ctor), NR_PAGETABLE (memory.stat pagetables);
 * refused, the caller frees it and fails (__pte_alloc's -ENOMEM: VM_FAULT_OOM). The page's free
 * uncharges it (buddy.ts free: __memcg_kmem_uncharge_page).
 * Linux: mm/page_alloc.c __alloc_pages_noprof, mm/memcontrol.c __memcg_kmem_charge_page
 */
export function chargePageTable(k: KernelCore, pfn: number, pagetable: boolean): boolean {
  if (!tryChargeMemcg(k, 1, Gfp.PGTABLE_USER)) return false;
  k.buddy.memcgKmemCharge(pfn, pagetable);
  return true;
}

/**
 * The charge of `nr` kernel pages just allocated at `pfn` with __GFP_ACCOUNT as one block (pgd_alloc:
 * x86's __get_free_pages(GFP_PGTABLE_USER, PGD_ALLOCATION_ORDER), arm64's __get_free_page): one
 * try_charge_memcg of the block's pages with GFP_PGTABLE_USER, counted in MEMCG_KMEM (memory.stat
 * kernel) and not NR_PAGETABLE (6.12's pgd_alloc has no page-table constructor).
 * Linux: mm/page_alloc.c __alloc_pages_noprof, mm/memcontrol.c __memcg_kmem_charge_page
 */
export function chargeKmem(k: KernelCore, pfn: number, nr: number): boolean {
  if (!tryChargeMemcg(k, nr, Gfp.PGTABLE_USER)) return false;
  for (let i = 0; i < nr; i++) k.buddy.memcgKmemCharge(pfn + i, false);
  return true;
}

/**
 * The charge of a transparent huge page, 512 pages at once (an mTHP folio: its nr pages), with
 * the allocation's gfp (vma_thp_gfp_mask; khugepaged's GFP_TRANSHUGE): without
 * __GFP_DIRECT_RECLAIM (GFP_TRANSHUGE_LIGHT, defrag=madvise outside MADV_HUGEPAGE) it fails at
 * once over the limit, reclaiming nothing; with it, try_charge_memcg's rounds, and as the order is
 * costly no OOM kill (mem_cgroup_oom's OOM_SKIPPED): the fault falls back to 4K pages.
 * Linux: mm/huge_memory.c vma_alloc_anon_folio_pmd, mm/memory.c alloc_anon_folio,
 * mm/khugepaged.c alloc_charge_folio
 */
export function chargeHugePage(
  k: KernelCore,
  nr = 512,
  gfp: number = Gfp.TRANSHUGE_LIGHT | Gfp.DIRECT_RECLAIM,
): boolean {
  return tryChargeMemcg(k, nr, gfp);
}

/**
 * The memory cgroup's memory.events counters vmlab keeps beside reclaimCtx's (memcg_failcnt,
 * memcg_reclaims, memcg_oom_kills): `max`, each time a charge found the limit reached and
 * reclaimed (memcg_memory_event(MEMCG_MAX), once per reclaim round as try_charge_memcg raises
 * it), and `oom`, each mem_cgroup_oom past its costly-order check (MEMCG_OOM, killed or not).
 * Linux: mm/memcontrol.c memcg_memory_event, memory_events_show
 */
export interface MemcgEvents {
  max: number;
  oom: number;
  /**
   * memory.peak: the page counter's watermark, the highest usage a charge left it at
   * (page_counter_try_charge and page_counter_charge raise it; vmlab has no charge stock, so
   * without Linux's batch of 64 pages charged ahead).
   * Linux: mm/page_counter.c page_counter_try_charge, mm/memcontrol.c memory_peak_show
   */
  watermark: number;
  /** memory.events high: each reclaim_high round that found the usage above memory.high (MEMCG_HIGH) */
  high: number;
  /**
   * mem_cgroup_handle_over_high's sleeps (schedule_timeout_killable(penalty_jiffies)), which take
   * no time in vmlab: how many, and their jiffies (vmlab's own counters)
   */
  highThrottled: number;
  highDelayJiffies: number;
  /** pages charged but not yet on the LRU while a charge's own over-high reclaim runs */
  inflight: number;
}

const events = new WeakMap<KernelCore, MemcgEvents>();

/** The memory cgroup's memory.events counters (zeros until a charge finds the limit). */
export function memcgEvents(k: KernelCore): MemcgEvents {
  let e = events.get(k);
  if (e === undefined) {
    e = { max: 0, oom: 0, watermark: 0, high: 0, highThrottled: 0, highDelayJiffies: 0, inflight: 0 };
    events.set(k, e);
  }
  return e;
}

/** memory.current in pages: page_counter_read(&memcg->memory) (userMemoryUsed). */
export function memcgUsage(k: KernelCore): number {
  return userMemoryUsed(k) + memcgEvents(k).inflight;
}

/** The task whose read(2) or write(2) runs (vfs.ts fileIo), by kernel: current for chargeFolio outside a fault. */
const syscallTasks = new WeakMap<KernelCore, Task | null>();

/** Marks `task` as the one whose system call charges page-cache folios now (null: none). */
export function memcgSyscallTask(k: KernelCore, task: Task | null): void {
  syscallTasks.set(k, task);
}

/**
 * mem_cgroup_charge(folio, NULL, gfp) of a new page-cache or shmem folio of `nr` pages
 * (filemap_add_folio, shmem_alloc_and_add_folio): try_charge_memcg with the caller's gfp
 * (readahead's readahead_gfp_mask gives up after the drain, __GFP_NORETRY; a fault's, write's or
 * read(2)'s own page charges fully and may end in mem_cgroup_oom). The charging task is current:
 * a fault's, or outside one the task whose system call allocates (read(2), write(2)), which an
 * OOM kill of its own only marks (SIGKILL pending: the charge then fails with -ENOMEM once its
 * retries are spent, and the task dies returning to user space: vfs.ts).
 * Linux: mm/memcontrol.c mem_cgroup_charge, try_charge_memcg; mm/filemap.c filemap_add_folio
 */
export function chargeFolio(k: KernelCore, nr: number, gfp: number): boolean {
  const limit = k.config.userMemoryPages;
  if ((limit === null || limit === undefined) && k.config.memoryHighPages == null)
    return charged(k, nr, gfp, false);
  if (k.faultingMm !== null) return tryChargeMemcg(k, nr, gfp);
  const cur = syscallTasks.get(k) ?? null;
  if (cur === null || !cur.alive || cur.mm === null) return tryChargeMemcg(k, nr, gfp);
  k.faultingMm = cur.mm; // current->mm: oom_kill_process only marks the charging task
  try {
    return tryChargeMemcg(k, nr, gfp);
  } finally {
    k.faultingMm = null;
  }
}

/**
 * try_charge_memcg of `nr` pages with `gfp`: under the limit they are charged; at it, unless the
 * charge may not block (!gfpflags_allow_blocking: -ENOMEM at once), the limit's reclaim
 * (try_to_free_mem_cgroup_pages of max(nr, SWAP_CLUSTER_MAX) pages, one call) runs and the
 * margin is checked; once a charge it drains the per-CPU stocks (drain_all_stock) and tries the
 * whole charge again; then __GFP_NORETRY gives up; the charge is tried again while reclaim makes
 * progress (orders up to PAGE_ALLOC_COSTLY_ORDER only), then MAX_RECLAIM_RETRIES more times;
 * after that the memory cgroup's OOM killer (mem_cgroup_oom, skipped for a costly order) chooses
 * a victim among the limit's tasks and the retries start over; when it has none to kill the
 * charge fails (-ENOMEM: the fault's VM_FAULT_OOM); when the victim is the charging task, the
 * retries run once more and then the charge fails (it dies of the pending SIGKILL as its fault
 * returns). Inside reclaim (PF_MEMALLOC) a page is forced over the limit; a huge page is refused.
 * Linux: mm/memcontrol.c try_charge_memcg, mem_cgroup_oom
 */
function tryChargeMemcg(k: KernelCore, nr: number, gfp: number): boolean {
  const limit = k.config.userMemoryPages;
  if (limit === null || limit === undefined) return charged(k, nr, gfp, false);
  // PF_MEMALLOC: over the limit one page is forced (`force`: no memory.high check), a huge page refused
  if (k.reclaiming)
    return userMemoryUsed(k) + nr <= limit
      ? charged(k, nr, gfp, false)
      : nr === 1 && charged(k, nr, gfp, true);
  let retries = MAX_RECLAIM_RETRIES;
  let failed = false;
  let passedOom = false;
  let drained = false;
  for (;;) {
    if (userMemoryUsed(k) + nr <= limit) return charged(k, nr, gfp, false); // page_counter_try_charge
    if (!failed) k.vmscan.reclaimCtx.memcgFailcnt++; // the counter's failcnt, once per charge here
    failed = true;
    if (!(gfp & Gfp.DIRECT_RECLAIM)) return false; // !gfpflags_allow_blocking(gfp_mask): nomem
    k.vmscan.reclaimCtx.cgroupReclaims++;
    memcgEvents(k).max++; // memcg_memory_event(mem_over_limit, MEMCG_MAX)
    const got = memcgReclaim(k, Math.max(nr, SWAP_CLUSTER_MAX));
    if (userMemoryUsed(k) + nr <= limit) return charged(k, nr, gfp, false); // mem_cgroup_margin(mem_over_limit) >= nr_pages
    // drain_all_stock(mem_over_limit) once per charge, then the whole charge again (vmlab has no
    // per-CPU stock, so the drain frees nothing: it is one more reclaim round, as in Linux)
    if (!drained) {
      drained = true;
      continue;
    }
    if (gfp & Gfp.NORETRY) return false;
    if (got > 0 && nr <= 1 << PAGE_ALLOC_COSTLY_ORDER) continue; // nr_reclaimed && nr_pages <= ...
    if (retries-- > 0) continue;
    // `passed_oom && task_is_dying()`: the charging task is the victim: -ENOMEM, its fault returns
    if (passedOom && k.faultingMm !== null && oomCurrent(k).oomKilled) return false;
    // mem_cgroup_oom: "if (order > PAGE_ALLOC_COSTLY_ORDER) return OOM_SKIPPED"
    if (nr > 1 << PAGE_ALLOC_COSTLY_ORDER) return false;
    // mem_cgroup_oom -> mem_cgroup_out_of_memory: a victim among the limit's tasks, killed; the
    // charging task chosen only gets its SIGKILL pending (core/oom.ts), and Linux's out_of_memory
    // still returns true: the charge retries MAX_RECLAIM_RETRIES more times before the -ENOMEM
    // above. None to kill: -ENOMEM at once (the fault's VM_FAULT_OOM, retried: pagefault_out_of_memory)
    memcgEvents(k).oom++; // mem_cgroup_oom: memcg_memory_event(memcg, MEMCG_OOM)
    const killed = outOfMemory(
      k,
      31 - Math.clz32(nr),
      { limit, usage: userMemoryUsed(k), failcnt: k.vmscan.reclaimCtx.memcgFailcnt },
      gfp,
    );
    if (!killed && !(k.faultingMm !== null && oomCurrent(k).oomKilled)) return false;
    passedOom = true;
    retries = MAX_RECLAIM_RETRIES;
  }
}

/**
 * A charge of `nr` pages made (the page counter's usage now userMemoryUsed + nr): its watermark
 * (memory.peak) follows; then, unless forced (try_charge_memcg's `force`, which returns at once),
 * the memory.high check of done_restock: over high, current owes the pages
 * (memcg_nr_pages_over_high += batch, set_notify_resume) and, owing more than MEMCG_CHARGE_BATCH
 * outside reclaim with a gfp that may block, reclaims them at once (mem_cgroup_handle_over_high).
 * vmlab has no charge stock, so the batch is the charge's own pages, not max(64, nr).
 * Linux: mm/memcontrol.c try_charge_memcg (done_restock)
 */
function charged(k: KernelCore, nr: number, gfp: number, forced: boolean): true {
  const usage = userMemoryUsed(k) + nr;
  const e = memcgEvents(k);
  if (usage > e.watermark) e.watermark = usage;
  const high = k.config.memoryHighPages;
  if (forced || high === null || high === undefined || usage <= high) return true;
  // current a kernel thread (khugepaged's collapse, a kworker): what it owes it pays against
  // get_mem_cgroup_from_mm(current->mm = NULL), root_mem_cgroup, whose memory.high is max:
  // nothing is reclaimed, no penalty (and a kthread never returns to user mode)
  if (kthreadRuns.has(k)) return true;
  const cur = oomCurrent(k);
  if (cur.mm === null) return true;
  cur.memcgNrPagesOverHigh += nr;
  if (cur.memcgNrPagesOverHigh > MEMCG_CHARGE_BATCH && !k.reclaiming && gfp & Gfp.DIRECT_RECLAIM) {
    e.inflight += nr; // charged, not yet on the LRU: still in memory.current while it reclaims
    try {
      memcgHandleOverHigh(k, cur); // with the charge's gfp, which may block (memcgReclaim takes none)
    } finally {
      e.inflight -= nr;
    }
  }
  return true;
}

/** Kernels whose charges now run in a kernel thread that is not k.current (memcgKthread). */
const kthreadRuns = new WeakSet<KernelCore>();

/**
 * Runs `fn` as a kernel thread with no mm (khugepaged's wake-up, which vmlab runs on whatever
 * task is current): its charges over memory.high leave no debt on that task (charged).
 * Linux: mm/khugepaged.c khugepaged (a kthread), mm/memcontrol.c get_mem_cgroup_from_mm
 */
export function memcgKthread<T>(k: KernelCore, fn: () => T): T {
  kthreadRuns.add(k);
  try {
    return fn();
  } finally {
    kthreadRuns.delete(k);
  }
}

/** MEMCG_CHARGE_BATCH: the nominal charge batch the over-high debt and penalty are scaled by. */
export const MEMCG_CHARGE_BATCH = 64;
/** MEMCG_DELAY_PRECISION_SHIFT, MEMCG_DELAY_SCALING_SHIFT (mm/memcontrol.c) */
const DELAY_PRECISION_SHIFT = 20n;
const DELAY_SCALING_SHIFT = 14n;

/** CONFIG_HZ of each architecture's defconfig: x86_64_defconfig and i386_defconfig HZ_1000; arm64 and riscv the default HZ_250. */
function hz(k: KernelCore): number {
  const a = k.config.arch;
  return a === "x86_64" || a === "x86_64-la57" || a === "i386" || a === "i386-pae" ? 1000 : 250;
}

/**
 * calculate_overage: how far `usage` is over `high`, in 1/2^20 of high (0 at or below it; a high
 * of 0 counts as 1 page).
 * Linux: mm/memcontrol.c calculate_overage
 */
function calculateOverage(usage: number, high: number): bigint {
  if (usage <= high) return 0n;
  const h = BigInt(Math.max(high, 1));
  return (BigInt(usage - high) << DELAY_PRECISION_SHIFT) / h;
}

/**
 * calculate_high_delay: the jiffies a task that owes `nrPages` sleeps at `maxOverage`: overage^2
 * * HZ scaled down by 2^34, times nr_pages / MEMCG_CHARGE_BATCH, in the kernel's unsigned long
 * (`longBits`, BITS_PER_LONG): the u64 product is cut to it, so on a 32-bit kernel (i386, PAE,
 * RV32) the 34-bit shift leaves 0 whatever the overage, and memory.high never throttles there.
 * Linux: mm/memcontrol.c calculate_high_delay (`unsigned long penalty_jiffies`)
 */
export function calculateHighDelay(
  hzValue: number,
  nrPages: number,
  maxOverage: bigint,
  longBits: number,
): number {
  if (maxOverage === 0n) return 0;
  const bits = longBits === 32 ? 32 : 64;
  let p = BigInt.asUintN(bits, maxOverage * maxOverage * BigInt(hzValue));
  p >>= DELAY_PRECISION_SHIFT;
  p >>= DELAY_SCALING_SHIFT;
  return Number(BigInt.asUintN(bits, p * BigInt(nrPages)) / BigInt(MEMCG_CHARGE_BATCH));
}

/**
 * reclaim_high for the one cgroup: above memory.high it counts memory.events high and reclaims
 * (try_to_free_mem_cgroup_pages: max(nr, SWAP_CLUSTER_MAX) pages, swapping allowed); at or below
 * it nothing. Returns the pages reclaimed.
 * Linux: mm/memcontrol.c reclaim_high
 */
function reclaimHigh(k: KernelCore, nr: number, high: number): number {
  if (memcgUsage(k) <= high) return 0;
  memcgEvents(k).high++; // memcg_memory_event(memcg, MEMCG_HIGH)
  return memcgReclaim(k, Math.max(nr, SWAP_CLUSTER_MAX));
}

/**
 * mem_cgroup_handle_over_high: `task` pays its debt of pages charged over memory.high, on its way
 * back to user mode (resume_user_mode_work, TIF_NOTIFY_RESUME; entry.ts, vfs.ts) or inside the
 * charge once it owes more than MEMCG_CHARGE_BATCH pages. Unless it is dying, it reclaims the
 * debt (reclaim_high), then SWAP_CLUSTER_MAX at a time while the penalty for the overage left
 * (calculate_high_delay, at most 2 * HZ; no swap.high in vmlab, so no swap overage) is over
 * HZ / 100 jiffies and reclaim makes progress or MAX_RECLAIM_RETRIES allow; still over, it
 * would sleep the penalty (schedule_timeout_killable): vmlab has no clock, so the sleep is only
 * counted (highThrottled, highDelayJiffies).
 * Linux: mm/memcontrol.c mem_cgroup_handle_over_high
 */
export function memcgHandleOverHigh(k: KernelCore, task: Task): void {
  const nrPages = task.memcgNrPagesOverHigh;
  if (nrPages === 0) return;
  task.memcgNrPagesOverHigh = 0;
  const high = k.config.memoryHighPages;
  if (high === null || high === undefined) return;
  const HZ = hz(k);
  const longBits = (k.arch.longBytes ?? 8) * 8; // BITS_PER_LONG
  let retries = MAX_RECLAIM_RETRIES;
  let inRetry = false;
  // vmlab's guard (none in Linux): reclaim that reports progress yet leaves the usage over high
  // would loop; each round reclaims SWAP_CLUSTER_MAX, so this is far more rounds than the excess
  for (let round = 0; round < 1 << 20; round++) {
    if (!task.alive || task.oomKilled) return; // task_is_dying()
    const reclaimed = reclaimHigh(k, inRetry ? SWAP_CLUSTER_MAX : nrPages, high);
    // calculate_high_delay(memcg, nr_pages, mem_find_max_overage(memcg)), clamped to
    // MEMCG_MAX_HIGH_DELAY_JIFFIES (2 * HZ)
    const delay = calculateHighDelay(HZ, nrPages, calculateOverage(memcgUsage(k), high), longBits);
    const penalty = Math.min(delay, 2 * HZ);
    if (penalty <= Math.floor(HZ / 100)) return;
    if (reclaimed > 0 || retries-- > 0) {
      inRetry = true;
      continue;
    }
    const e = memcgEvents(k); // schedule_timeout_killable(penalty_jiffies): no clock, counted
    e.highThrottled++;
    e.highDelayJiffies += penalty;
    return;
  }
}
