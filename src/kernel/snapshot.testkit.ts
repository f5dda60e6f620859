/**
 * Everything a kernel's view shows, as plain data (bigints in hex): what the
 * twin-kernel tests compare after the same steps on a fast path and the path
 * it stands for (userAccessRange.test: accessRun against one access at a
 * time; findvma.test: the fault VMA cache against find_vma alone).
 */
import type { KernelImpl as Kernel } from "./KernelImpl.ts";

/** The view's state; `pageCap` bounds the pages listed per VMA (the tables and frames are whole). */
export function kernelSnapshot(k: Kernel, pageCap = Number.POSITIVE_INFINITY): unknown {
  const v = k.view;
  const tasks = v.taskHandles().map((t) => {
    const vmas = v.vmas(t);
    const pages = vmas.flatMap((m) => {
      const first = Number(m.start / 4096n);
      return v.pages(t, first, Math.min(Number(m.end / 4096n) - first, pageCap)).map((p) => ({
        ...p,
        // the page's contents where it has a frame: three bytes of it
        bytes: p.pfn < 0 ? null : [0, 1, 4095].map((off) => v.physByte(p.pfn * 4096 + off)),
      }));
    });
    return { task: v.task(t), mm: v.mm(t), vmas, pages, tables: v.pageTables(t) };
  });
  const all = {
    tasks,
    cpus: v.cpus(),
    tlbs: v.cpus().map((c) => v.tlb(c.id)),
    counters: v.counters(),
    meminfo: v.meminfo(),
    vmstat: v.vmstat(),
    swap: v.swap(),
    reclaim: v.reclaim(),
    frames: v.frames(),
    log: v.log(),
    stale: v.staleTlbUses(),
  };
  return JSON.parse(JSON.stringify(all, (_key, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x)));
}
