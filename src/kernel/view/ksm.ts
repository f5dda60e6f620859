/**
 * /sys/kernel/mm/ksm (the 6.12 files: run, pages_to_scan, use_zero_pages,
 * smart_scan, pages_scanned, pages_shared, pages_sharing, pages_unshared,
 * pages_volatile, pages_skipped, full_scans, ksm_zero_pages,
 * general_profit), /proc/vmstat's cow_ksm, and /proc/PID/ksm_stat with
 * /proc/PID/ksm_merging_pages.
 * Linux: mm/ksm.c (the *_show functions), fs/proc/base.c proc_pid_ksm_stat, proc_pid_ksm_merging_pages
 */
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import { ksmInfo as info, ksmMmStat } from "../mm/ksm_sysfs.ts";

/** sizeof(struct ksm_rmap_item): 64 bytes where a long is 8, 36 where it is 4 */
function rmapItemBytes(k: KernelCore): number {
  return (k.arch.longBytes ?? 8) === 8 ? 64 : 36;
}

/** The sysfs files of /sys/kernel/mm/ksm by name, and cow_ksm; empty without KSM. */
export function ksmInfo(k: KernelCore): Record<string, number> {
  const ksm = k.userMm.env.ksm;
  return ksm === undefined ? {} : info(ksm, rmapItemBytes(k));
}

/** /proc/PID/ksm_stat's fields, ksm_merging_pages among them (null: no address space). */
export function ksmStatInfo(k: KernelCore, t: Task): Record<string, number> | null {
  const ksm = k.userMm.env.ksm;
  if (t.mm === null || ksm === undefined) return null;
  return ksmMmStat(ksm, t.mm, rmapItemBytes(k));
}

/** `show ksm`: one "file value" line each, as `grep . /sys/kernel/mm/ksm/*` would print them. */
export function formatKsm(i: Record<string, number>): string[] {
  return Object.entries(i).map(([n, v]) => (n === "cow_ksm" ? `vmstat/cow_ksm ${v}` : `${n} ${v}`));
}

/** /proc/PID/ksm_stat as 6.12 prints it (6.13 added ksm_merge_any and ksm_mergeable) */
export function formatKsmStat(i: Record<string, number>): string[] {
  return [
    `ksm_rmap_items ${i.ksm_rmap_items}`,
    `ksm_zero_pages ${i.ksm_zero_pages}`,
    `ksm_merging_pages ${i.ksm_merging_pages}`,
    `ksm_process_profit ${i.ksm_process_profit}`,
  ];
}
