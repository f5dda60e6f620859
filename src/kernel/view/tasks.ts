/**
 * The text of `show tasks` (a ps-like table: pid, ppid, state, mm,
 * active_mm, CPU, name) and `show P task` (task_struct -> mm_struct ->
 * VMAs), made from the view's data (view/types.ts).
 */
import type { MmInfo, TaskInfo, VmaInfo } from "./types.ts";

const hex = (n: number | bigint) => `0x${n.toString(16)}`;
const mmName = (id: number | null) => (id === null ? "-" : `mm#${id}`);

/** One row per task: processes, threads and kernel threads, the idle tasks first. */
export function formatTasks(tasks: TaskInfo[]): string[] {
  const rows = tasks.map((t) => [
    String(t.pid),
    String(t.ppid),
    t.state,
    t.kthread ? "-" : t.alive ? mmName(t.mmId) : "(exited)",
    mmName(t.activeMmId),
    t.cpu >= 0 ? String(t.cpu) : "-",
    t.kthread ? `[${t.comm}]` : t.comm,
  ]);
  const head = ["PID", "PPID", "S", "MM", "ACTIVE_MM", "CPU", "NAME"];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : i < 2 ? c.padStart(width[i]) : c.padEnd(width[i]))).join("  ");
  return [line(head), ...rows.map(line)];
}

/** task_struct -> mm_struct -> the VMAs, as `show P task` prints them. */
export function formatTask(t: TaskInfo, mm: MmInfo | null, vmas: VmaInfo[]): string[] {
  const out = [
    `task_struct: pid ${t.pid}, ppid ${t.ppid}, comm ${t.comm}, state ${t.state}${t.kthread ? ", a kernel thread (PF_KTHREAD)" : ""}${t.cpu >= 0 ? `, current on CPU ${t.cpu}` : ""}`,
    `  mm = ${t.kthread ? "NULL (no user address space)" : mmName(t.mmId)}, active_mm = ${mmName(t.activeMmId)}${t.kthread && t.activeMmId !== null ? " (borrowed: lazy TLB)" : ""}`,
  ];
  if (mm === null || !t.alive) return out;
  out.push(
    `  mm_struct ${mmName(mm.id)}: pgd pfn ${hex(mm.pgdPfn)}, map_count ${mm.mapCount}, total_vm ${mm.totalVm} pages, mm_users ${mm.users}, mm_cpumask {${mm.cpus.join(",")}}`,
    `    rss: anon ${mm.rssAnon}, file ${mm.rssFile}, shmem ${mm.rssShmem} pages; swap entries ${mm.swapEntries}; page tables ${mm.ptPages}`,
    `    mmap_base ${hex(mm.mmapBase)}, start_brk ${hex(mm.startBrk)}, brk ${hex(mm.brk)}, stack top ${hex(mm.stackTop)}`,
  );
  for (const v of vmas)
    out.push(`    vm_area_struct ${hex(v.start)}-${hex(v.end)} ${v.perms}${v.name ? ` ${v.name}` : ""}`);
  return out;
}
