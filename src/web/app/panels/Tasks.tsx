/**
 * Tasks (kernel.view.tasks) and each address space's VMAs as /proc/PID/maps
 * prints them; under profile=windows, each process's VADs and VMMap's
 * summary instead (Windows.tsx), as Windows has no /proc.
 */
import { formatMaps } from "../../../kernel/view/procfs.ts";
import { stepper, tick } from "../model/state.ts";
import { WinProcess } from "./Windows.tsx";

export function Tasks() {
  tick.value;
  const k = stepper.value?.session.kernel;
  if (!k) return null;
  const view = k.view;
  const tasks = view.tasks();
  const windows = view.windows() !== null;
  // the task tree: each task under its parent (pstree), children in pid order
  const byParent = new Map<number, typeof tasks>();
  for (const t of tasks) {
    const parent = t.pid === t.ppid || !tasks.some((p) => p.pid === t.ppid) ? -1 : t.ppid;
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent)!.push(t);
  }
  const ordered: { t: (typeof tasks)[number]; depth: number }[] = [];
  const visit = (parent: number, depth: number) => {
    for (const t of byParent.get(parent) ?? []) {
      ordered.push({ t, depth });
      if (t.pid !== parent) visit(t.pid, depth + 1);
    }
  };
  visit(-1, 0);
  return (
    <div data-testid="tasks">
      <table class="tasks">
        <thead>
          <tr>
            <th>pid</th>
            <th>ppid</th>
            <th>comm</th>
            <th>state</th>
            <th>cpu</th>
            <th>min_flt</th>
            <th>maj_flt</th>
            <th>signal</th>
          </tr>
        </thead>
        <tbody>
          {ordered.map(({ t, depth }) => (
            <tr key={t.pid} class={t.alive ? "" : "dead"}>
              <td>{t.pid}</td>
              <td>{t.ppid}</td>
              <td class="comm">
                {depth > 0 ? `${"  ".repeat(depth - 1)}└ ` : ""}
                {t.kthread ? `[${t.comm}]` : t.comm}
              </td>
              <td>
                {t.state}
                {t.alive ? "" : ` (${t.exitReason})`}
              </td>
              <td>{t.cpu >= 0 ? t.cpu : ""}</td>
              <td data-testid={`minflt-${t.comm}`}>{t.minFlt}</td>
              <td>{t.majFlt}</td>
              <td>{t.signal === "none" ? "" : `${t.signal} ${t.siCode}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {tasks
        .filter((t) => t.alive && t.hasMm)
        .map((t) => {
          if (windows) return <WinProcess key={t.pid} t={t} />;
          const h = view.taskHandle(t.pid)!;
          const lines = formatMaps(view.vmas(h));
          return (
            <div key={t.pid}>
              <div class="pt-head">
                /proc/{t.pid}/maps ({t.comm})
              </div>
              <pre class="maps" data-testid={`maps-${t.comm}`}>
                {lines.join("\n") || "(no VMAs)"}
              </pre>
            </div>
          );
        })}
    </div>
  );
}
