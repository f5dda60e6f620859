/**
 * The memory cgroup's memory.stat (cgroup v2), which `show memcg` prints and the cgroup's OOM
 * report dumps (mem_cgroup_print_oom_meminfo: "Memory cgroup stats for /:" and
 * memory_stat_format's lines). Linux: mm/memcontrol.c memcg_stat_format
 */
import type { KernelCore } from "../core/core.ts";
import { setMemcgStatLines } from "../core/oom_report.ts";
import { meminfo, vmstat, WORKINGSET_ITEMS } from "./proc.ts";

/**
 * memory.stat as cgroup v2 prints it (memcg_stat_format): memory_stats[]'s items in bytes, `slab`
 * after slab_unreclaimable, the reclaim totals pgscan and pgsteal, then memcg_vm_event_stat's
 * events, of a kernel built with CONFIG_SWAP and CONFIG_TRANSPARENT_HUGEPAGE (not on an
 * architecture without THP: RV32), without CONFIG_ZSWAP, CONFIG_NUMA_BALANCING and
 * CONFIG_MEMCG_V1 (zswap, zswapped, pgpromote_success, numa_*, pgpgin and pgpgout not printed).
 * Every process is in the one cgroup and every user page charged to it, so its lruvec's
 * counters are the node's: anon is NR_ANON_MAPPED (mapped anonymous pages), file the memcg's
 * NR_FILE_PAGES (page cache and shmem, not the swap cache, which add_to_swap_cache counts in
 * NR_FILE_PAGES on the node only, __node_stat_mod_folio, and in the memcg's NR_SWAPCACHE,
 * swapcached); kernel (MEMCG_KMEM) and pagetables (NR_PAGETABLE) are the page tables charged
 * with __GFP_ACCOUNT; no slab, kernel stack, per-CPU, socket or vmalloc memory is charged (0).
 * Linux: mm/memcontrol.c memory_stats, memcg_stat_format, memcg_vm_event_stat
 */
export function memcgStat(k: KernelCore, m: Record<string, number>): Record<string, number> {
  const v = { ...vmstat(k) };
  // shrink_inactive_list counts PGSCAN/PGSTEAL_KSWAPD + reclaimer_offset() in the lruvec's memcg
  // always (__count_memcg_events) and in /proc/vmstat only outside cgroup reclaim: the memory
  // limit's reclaim (the charging task's: reclaimer_offset() is direct) is in the memcg's
  // pgscan_direct and pgsteal_direct. Every reclaim counts PGSCAN_ANON/FILE (reclaim_pages none).
  v.pgscan_direct = v.pgscan_anon + v.pgscan_file - v.pgscan_kswapd - v.pgscan_khugepaged;
  v.pgsteal_direct = v.pgsteal_anon + v.pgsteal_file - v.pgsteal_kswapd - v.pgsteal_khugepaged;
  const pg = 4096;
  const ev = (name: string) => v[name] ?? 0;
  const thp = !k.arch.noTransparentHugepage;
  const s: Record<string, number> = {
    anon: m.AnonPages,
    file: m.Cached,
    kernel: k.buddy.memcgKmem * pg,
    kernel_stack: 0,
    pagetables: k.buddy.memcgPagetables * pg,
    sec_pagetables: 0,
    percpu: 0,
    sock: 0,
    vmalloc: 0,
    shmem: m.Shmem,
    file_mapped: m.Mapped,
    file_dirty: m.Dirty,
    file_writeback: m.Writeback,
    swapcached: m.SwapCached,
  };
  if (thp) {
    s.anon_thp = m.AnonHugePages;
    s.file_thp = m.FileHugePages;
    s.shmem_thp = m.ShmemHugePages;
  }
  s.inactive_anon = m["Inactive(anon)"];
  s.active_anon = m["Active(anon)"];
  s.inactive_file = m["Inactive(file)"];
  s.active_file = m["Active(file)"];
  s.unevictable = m.Unevictable;
  s.slab_reclaimable = 0;
  s.slab_unreclaimable = 0;
  s.slab = 0;
  for (const e of MEMCG_WORKINGSET_EVENTS) s[e] = ev(e);
  s.pgscan = ev("pgscan_kswapd") + ev("pgscan_direct") + ev("pgscan_khugepaged");
  s.pgsteal = ev("pgsteal_kswapd") + ev("pgsteal_direct") + ev("pgsteal_khugepaged");
  for (const e of MEMCG_VM_EVENTS) s[e] = ev(e);
  if (thp) for (const e of MEMCG_THP_EVENTS) s[e] = ev(e);
  return s;
}

/** memory_stats[]'s events after the state items (workingset_*, pgdemote_*) */
const MEMCG_WORKINGSET_EVENTS = [
  ...WORKINGSET_ITEMS,
  "pgdemote_kswapd",
  "pgdemote_direct",
  "pgdemote_khugepaged",
];

/** memcg_vm_event_stat[] (CONFIG_SWAP's swpin_zero and swpout_zero; the THP ones in MEMCG_THP_EVENTS) */
const MEMCG_VM_EVENTS = [
  "pgscan_kswapd",
  "pgscan_direct",
  "pgscan_khugepaged",
  "pgsteal_kswapd",
  "pgsteal_direct",
  "pgsteal_khugepaged",
  "pgfault",
  "pgmajfault",
  "pgrefill",
  "pgactivate",
  "pgdeactivate",
  "pglazyfree",
  "pglazyfreed",
  "swpin_zero",
  "swpout_zero",
];

const MEMCG_THP_EVENTS = ["thp_fault_alloc", "thp_collapse_alloc", "thp_swpout", "thp_swpout_fallback"];

// the cgroup OOM report's "Memory cgroup stats for /:" lines (core/oom_report.ts dumpHeader)
setMemcgStatLines((k) => Object.entries(memcgStat(k, meminfo(k))).map(([name, n]) => `${name} ${n}`));
