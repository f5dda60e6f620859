/**
 * The memory cgroup's files (cgroup v2; the one cgroup over every process that
 * `machine memory_max` limits, kernel/core/memcontrol.ts): memory.current (the page counter's
 * usage: user pages and the user page tables, kernel/core/memcontrol.ts), memory.high, memory.max,
 * memory.events, memory.stat (every line 6.12's memory_stat_format prints, in its order), and the
 * counter's failcnt (cgroup v1's memory.failcnt; v2 shows none).
 * Linux: mm/memcontrol.c memory_current_read, memory_high_show, memory_max_show, memory_events_show, memory_stat_format
 */
import type { KernelCore } from "../core/core.ts";
import { memcgEvents, memcgUsage } from "../core/memcontrol.ts";
import { memcgStat } from "./memcg_stat.ts";
import { meminfo } from "./proc.ts";

/** The memory cgroup's state in bytes and counts (formatMemcg prints it). */
export interface MemcgInfo {
  /** memory.current in bytes */
  current: number;
  /** memory.max in bytes, null for "max" (no limit) */
  max: number | null;
  /** memory.high in bytes, null for "max" */
  high: number | null;
  /**
   * vmlab's own: mem_cgroup_handle_over_high's sleeps (no clock: counted, not slept) and their
   * jiffies (memory.high_throttled, memory.high_delay_jiffies as scenario metrics)
   */
  highThrottled: number;
  highDelayJiffies: number;
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
  const high = k.config.memoryHighPages;
  const e = memcgEvents(k);
  const ctx = k.vmscan.reclaimCtx;
  const m = meminfo(k);
  return {
    current: memcgUsage(k) * 4096,
    max: limit === null || limit === undefined ? null : limit * 4096,
    high: high === null || high === undefined ? null : high * 4096,
    highThrottled: e.highThrottled,
    highDelayJiffies: e.highDelayJiffies,
    // without memory_max the fault's fast paths (anon_fault.ts doAnonymousRun, faultfold.ts)
    // charge nothing, so the watermark misses their pages: at least the usage now
    peak: Math.max(e.watermark, memcgUsage(k)) * 4096,
    // memory.low is not modelled (0): its event stays 0; high counts reclaim_high's rounds over
    // memory.high (memcontrol.ts reclaimHigh). oom_kill counts
    // every OOM kill of a task in the cgroup, the whole machine's OOM's too (__oom_kill_process:
    // memcg_memory_event_mm(mm, MEMCG_OOM_KILL)): every process is in vmlab's one cgroup, so all
    // of OOM_KILL (k.oomKills), not only the cgroup's own OOMs (vmstat.memcg_oom_kills)
    events: { low: 0, high: e.high, max: e.max, oom: e.oom, oom_kill: k.oomKills, oom_group_kill: 0 },
    stat: memcgStat(k, m),
    failcnt: ctx.memcgFailcnt,
  };
}

/** One line a value, the file's name first: `memory.events max 20`. */
export function formatMemcg(m: MemcgInfo): string[] {
  const out = [
    `memory.current ${m.current}`,
    `memory.high ${m.high ?? "max"}`,
    `memory.max ${m.max ?? "max"}`,
    `memory.peak ${m.peak}`,
  ];
  for (const [key, n] of Object.entries(m.events)) out.push(`memory.events ${key} ${n}`);
  for (const [key, n] of Object.entries(m.stat)) out.push(`memory.stat ${key} ${n}`);
  out.push(`memory.failcnt ${m.failcnt}`);
  return out;
}
