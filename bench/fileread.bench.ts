/**
 * read(2) and file faults (issue rafd: struct file per open, reads marking folios accessed):
 * ROUNDS= (4) fresh machines (256 MiB of RAM, readahead=128K), each reading a MIB= (64) MiB disk
 * file twice in 4K read(2)s through its struct file (filemap_read, readahead, folio_mark_accessed),
 * then faulting a shared read-only mapping of a second file of the same size page by page (read-
 * around through the VMA's vm_file). Prints one JSON line: CPU ns per read and per fault of every
 * round (process.cpuUsage), the medians, and counters that every tree must give alike (pages read
 * from disk, cached pages, minor and major faults, free pages).
 */
import { Access } from "../src/hw/access.ts";
import { taskOf } from "../src/kernel/core/task.ts";
import { KernelImpl as Kernel } from "../src/kernel/KernelImpl.ts";
import { mmapArgs } from "../src/kernel/mm/userMm.ts";
import { cpuNs } from "./benchEnv.ts";

const MIB = Number(process.env.MIB ?? 64);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const PAGES = (MIB << 20) / 4096;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const readNs: number[] = [];
const faultNs: number[] = [];
let counters: Record<string, unknown> = {};
for (let r = 0; r < ROUNDS; r++) {
  const k = new Kernel({ ramBytes: 256 << 20, cpus: 1, readaheadKb: 128 });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const f = k.createFile("f", MIB << 20, "disk", false);
  const g = k.createFile("g", MIB << 20, "disk", false);
  const buf = k.mmap(t, mmapArgs(1 << 16, {}));
  k.userAccess(0, t, buf, Access.Write);
  k.openFile(t, f);
  let t0 = cpuNs();
  let bytes = 0;
  for (let pass = 0; pass < 2; pass++)
    for (let i = 0; i < PAGES; i++)
      bytes += k.fileIo(0, f, buf, 4096, false, pass === 0 ? undefined : i * 4096);
  readNs.push((cpuNs() - t0) / (2 * PAGES));
  const m = k.mmap(t, mmapArgs(MIB << 20, { file: g, shared: true, prot: { r: true, w: false, x: false } }));
  t0 = cpuNs();
  for (let i = 0; i < PAGES; i++) k.userAccess(0, t, m + BigInt(i * 4096), Access.Read);
  faultNs.push((cpuNs() - t0) / PAGES);
  counters = {
    bytes,
    pagesReadF: f.pagesRead,
    pagesReadG: g.pagesRead,
    cachedF: f.cache.size,
    cachedG: g.cache.size,
    minflt: taskOf(t).minFlt,
    majflt: taskOf(t).majFlt,
    memFree: k.view.meminfo().MemFree,
  };
}
console.log(
  JSON.stringify({
    readNs: readNs.map(Math.round),
    faultNs: faultNs.map(Math.round),
    readMedian: Math.round(median(readNs)),
    faultMedian: Math.round(median(faultNs)),
    counters,
  }),
);
