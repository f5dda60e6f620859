/**
 * The kernel's side of balance_dirty_pages (mm/page_writeback.ts DirtyThrottle): what the dirty
 * limits read of the machine, and the calls a dirtier makes, with the task and CPU Linux finds
 * as `current`: generic_perform_write after each page of a write(2), fault_dirty_shared_page
 * after a write fault on a shared mapping of a disk file, do_exit's leak.
 * Linux: mm/page-writeback.c, mm/memory.c fault_dirty_shared_page, mm/filemap.c generic_perform_write
 */
import type { BuddyAllocator } from "../mm/buddy.ts";
import { Wmark } from "../mm/buddy.ts";
import { backgroundWriteback, DirtyThrottle } from "../mm/page_writeback.ts";
import type { PageCache } from "../mm/pagecache.ts";
import type { UserMm } from "../mm/userMm.ts";
import { Lru, type Vmscan } from "../mm/vmscan.ts";
import type { KernelCore } from "./core.ts";
import type { Task } from "./task.ts";

/**
 * calculate_totalreserve_pages: each zone's largest lowmem_reserve plus its high watermark, at
 * most its managed pages. Linux: mm/page_alloc.c
 */
export function totalreservePages(buddy: BuddyAllocator): number {
  let n = 0;
  for (const z of buddy.zones)
    n += Math.min(z.managed, Math.max(0, ...z.lowmemReserve) + z.wmark[Wmark.High]);
  return n;
}

/** The dirty throttle of a Linux machine, its limits set as page_writeback_init sets them. */
export function newDirtyThrottle(
  buddy: BuddyAllocator,
  pageCache: PageCache,
  vmscan: Vmscan,
  userMm: UserMm,
  nrCpus: number,
): DirtyThrottle {
  const l = buddy.layout;
  const t = new DirtyThrottle(
    {
      freePages: () => buddy.freePages(),
      totalreservePages: () => totalreservePages(buddy),
      fileLruPages: () => vmscan.size[Lru.InactiveFile] + vmscan.size[Lru.ActiveFile],
      // highmem_dirtyable_memory: the highmem zone's free pages above its high watermark and its
      // file LRU pages (NR_ZONE_INACTIVE_FILE + NR_ZONE_ACTIVE_FILE)
      highmemDirtyable: () => {
        if (l.highmem === l.normal) return 0;
        const z = buddy.zones[l.highmem];
        let n = z.freePages - Math.min(z.freePages, buddy.wmark(z, Wmark.High));
        for (const f of pageCache.files.values()) {
          if (f.fs !== "disk") continue;
          for (const pfn of f.cache.values()) {
            const list = vmscan.lru[pfn];
            if ((list === Lru.InactiveFile || list === Lru.ActiveFile) && buddy.zoneOf(pfn) === z)
              n += vmscan.large[pfn] ? userMm.env.pgtable.hpagePmdNr : 1;
          }
        }
        return n;
      },
    },
    () => pageCache.acct.nrDirty,
    (chunk, over) => backgroundWriteback(userMm, chunk, over),
    nrCpus,
  );
  t.setRatelimit();
  pageCache.dirtyThrottle = t;
  return t;
}

/** The task and CPU a dirtier runs as: `task` on the CPU it is current on (else the running one). */
function cpuFor(k: KernelCore, task: Task): number {
  const cpu = k.current.indexOf(task);
  return cpu >= 0 ? cpu : k.runningCpu;
}

/**
 * balance_dirty_pages_ratelimited for `task`, which has just dirtied `nr` pages of a disk file
 * (folio_account_dirtied's nr_dirtied and bdp_ratelimits, then the ratelimit check).
 */
export function balanceDirtyPagesRatelimited(k: KernelCore, task: Task | null, nr: number): void {
  const t = k.dirtyThrottle;
  if (t === null || task === null) return;
  const cpu = cpuFor(k, task);
  if (nr > 0) t.accountDirtied(task, cpu, nr);
  t.ratelimited(task, cpu);
}

/**
 * fault_dirty_shared_page, after handle_mm_fault returned for `task`: a write fault on a shared
 * mapping of a disk file (do_shared_fault, wp_page_shared: ext4 has page_mkwrite) balances, with
 * the pages the fault dirtied.
 */
export function faultDirtySharedPage(k: KernelCore, task: Task): void {
  const mm = k.userMm;
  if (!mm.faultDirtyShared) return;
  mm.faultDirtyShared = false;
  balanceDirtyPagesRatelimited(k, task, mm.faultDirtied);
}

/** do_exit: the pages the task dirtied and never balanced join its CPU's dirty_throttle_leaks. */
export function exitDirtyLeak(k: KernelCore, task: Task): void {
  k.dirtyThrottle?.exitTask(task, cpuFor(k, task));
  task.nrDirtied = 0;
}
