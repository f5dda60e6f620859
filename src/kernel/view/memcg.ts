/**
 * The memory cgroup's files (cgroup v2; the one cgroup over every process that
 * `machine memory_max` limits, kernel/core/memcontrol.ts): memory.current (the page counter's
 * usage: user pages and the user page tables, kernel/core/memcontrol.ts), memory.max,
 * memory.events, memory.stat (every line 6.12's memory_stat_format prints, in its order), and the
 * counter's failcnt (cgroup v1's memory.failcnt; v2 shows none).
 * Linux: mm/memcontrol.c memory_current_read, memory_max_show, memory_events_show, memory_stat_format
 */
import type { KernelCore } from "../core/core.ts";
import { memcgEvents, memcgUsage } from "../core/memcontrol.ts";
import { meminfo, vmstat } from "./proc.ts";

/** The memory cgroup's state in bytes and counts (formatMemcg prints it). */
export interface MemcgInfo {
  /** memory.current in bytes */
  current: number;
  /** memory.max in bytes, null for "max" (no limit) */
  max: number | null;
  /** memory.peak in bytes: the highest memory.current a charge reached */
  peak: number;
  /** memory.events: low, high, max, oom, oom_kill, oom_group_kill */
  events: Record<string, number>;
  /** memory.stat, in memory_stat_format's order (memcgStat) */
  stat: Record<string, number>;
  failcnt: number;
}

export function memcgInfo(k: KernelCore): MemcgInfo {
  const limit = k.config.userMemoryPages;
  const e = memcgEvents(k);
  const ctx = k.vmscan.reclaimCtx;
  const m = meminfo(k);
  return {
    current: memcgUsage(k) * 4096,
    max: limit === null || limit === undefined ? null : limit * 4096,
    // without memory_max the fault's fast paths (anon_fault.ts doAnonymousRun, faultfold.ts)
    // charge nothing, so the watermark misses their pages: at least the usage now
    peak: Math.max(e.watermark, memcgUsage(k)) * 4096,
    // memory.low and memory.high are not modelled (0 and max): their events stay 0. oom_kill counts
    // every OOM kill of a task in the cgroup, the whole machine's OOM's too (__oom_kill_process:
    // memcg_memory_event_mm(mm, MEMCG_OOM_KILL)): every process is in vmlab's one cgroup, so all
    // of OOM_KILL (k.oomKills), not only the cgroup's own OOMs (vmstat.memcg_oom_kills)
    events: { low: 0, high: 0, max: e.max, oom: e.oom, oom_kill: k.oomKills, oom_group_kill: 0 },
    stat: memcgStat(k, m),
    failcnt: ctx.memcgFailcnt,
  };
}

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
function memcgStat(k: KernelCore, m: Record<string, number>): Record<string, number> {
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
  "workingset_refault_anon",
  "workingset_refault_file",
  "workingset_activate_anon",
  "workingset_activate_file",
  "workingset_restore_anon",
  "workingset_restore_file",
  "workingset_nodereclaim",
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

/** One line a value, the file's name first: `memory.events max 20`. */
export function formatMemcg(m: MemcgInfo): string[] {
  const out = [`memory.current ${m.current}`, `memory.max ${m.max ?? "max"}`, `memory.peak ${m.peak}`];
  for (const [key, n] of Object.entries(m.events)) out.push(`memory.events ${key} ${n}`);
  for (const [key, n] of Object.entries(m.stat)) out.push(`memory.stat ${key} ${n}`);
  out.push(`memory.failcnt ${m.failcnt}`);
  return out;
}
