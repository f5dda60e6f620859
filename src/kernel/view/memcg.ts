/**
 * The memory cgroup's files (cgroup v2; the one cgroup over every process that
 * `machine memory_max` limits, kernel/core/memcontrol.ts): memory.current (the page counter's
 * usage: user pages only, vmlab charges no kernel memory), memory.max, memory.events, memory.stat's
 * anon, file, shmem and swapcached, and the counter's failcnt (cgroup v1's memory.failcnt; v2
 * shows none).
 * Linux: mm/memcontrol.c memory_current_read, memory_max_show, memory_events_show, memory_stat_format
 */
import type { KernelCore } from "../core/core.ts";
import { memcgEvents, memcgUsage } from "../core/memcontrol.ts";
import { meminfo } from "./proc.ts";

/** The memory cgroup's state in bytes and counts (formatMemcg prints it). */
export interface MemcgInfo {
  /** memory.current in bytes */
  current: number;
  /** memory.max in bytes, null for "max" (no limit) */
  max: number | null;
  /** memory.events: low, high, max, oom, oom_kill, oom_group_kill */
  events: Record<string, number>;
  /**
   * memory.stat: anon (NR_ANON_MAPPED), file (the memcg's NR_FILE_PAGES: page cache and shmem,
   * not the swap cache, which add_to_swap_cache counts in NR_FILE_PAGES on the node only,
   * __node_stat_mod_folio, and in the memcg's NR_SWAPCACHE), shmem (NR_SHMEM), swapcached
   * (NR_SWAPCACHE). Linux: mm/memcontrol.c memory_stats, mm/swap_state.c add_to_swap_cache
   */
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
    // memory.low and memory.high are not modelled (0 and max): their events stay 0. oom_kill counts
    // every OOM kill of a task in the cgroup, the whole machine's OOM's too (__oom_kill_process:
    // memcg_memory_event_mm(mm, MEMCG_OOM_KILL)): every process is in vmlab's one cgroup, so all
    // of OOM_KILL (k.oomKills), not only the cgroup's own OOMs (vmstat.memcg_oom_kills)
    events: { low: 0, high: 0, max: e.max, oom: e.oom, oom_kill: k.oomKills, oom_group_kill: 0 },
    stat: { anon: m.AnonPages, file: m.Cached, shmem: m.Shmem, swapcached: m.SwapCached },
    failcnt: ctx.memcgFailcnt,
  };
}

/** One line a value, the file's name first: `memory.events max 20`. */
export function formatMemcg(m: MemcgInfo): string[] {
  const out = [`memory.current ${m.current}`, `memory.max ${m.max ?? "max"}`];
  for (const [key, n] of Object.entries(m.events)) out.push(`memory.events ${key} ${n}`);
  for (const [key, n] of Object.entries(m.stat)) out.push(`memory.stat ${key} ${n}`);
  out.push(`memory.failcnt ${m.failcnt}`);
  return out;
}
