/**
 * The pieces of the reverse map's random runs (mm/rmap_reuse, rmap_direct and rmap_leaf tests):
 * a run under memory pressure picks a task and an operation each step, and logs what it saw; two
 * runs, one with a host shortcut and one without, must log the same. These are the operations and
 * the end-of-run summary the three share.
 */
import type { Rng } from "../base/rng.ts";
import { pfnUnchecked } from "../base/units.ts";
import { Access } from "../hw/access.ts";
import type { Mmu } from "../hw/mmu/Mmu.ts";
import type { Task } from "./core/task.ts";
import type { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";

const PAGE = 4096n;

/** One mapped region of a run (`file`: a shared file mapping). */
export interface RunRegion {
  t: Task;
  va: bigint;
  pages: number;
  file?: boolean;
}

/** A run's tasks (p0 first, current on CPU 0) and regions, and its log. */
export class RandomRun {
  readonly log: string[] = [];
  readonly tasks: Task[];
  readonly regions: RunRegion[] = [];

  constructor(
    readonly k: Kernel,
    readonly rng: Rng,
    readonly cpus: 1 | 2,
  ) {
    this.tasks = [k.spawn("p0")!];
    k.switchTo(0, this.tasks[0]);
  }

  /** A step's task, a live one at random switched to on a CPU at random, and its regions; null when none lives. */
  pick(): { t: Task; cpu: number; mine: RunRegion[] } | null {
    const live = this.tasks.filter((t) => t.alive);
    if (live.length === 0) return null;
    const t = this.rng.pick(live);
    const cpu = this.cpus === 2 ? this.rng.below(2) : 0;
    this.k.switchTo(cpu, t);
    return { t, cpu, mine: this.regions.filter((r) => r.t === t) };
  }

  /** An anonymous mapping of min + rng.below(span) pages for `t`. */
  mmapAnon(t: Task, min: number, span: number): string {
    const pages = min + this.rng.below(span);
    const va = this.k.mmap(t, mmapArgs(pages * 4096));
    if (va > 0n) this.regions.push({ t, va, pages, file: false });
    return `mmap ${va}`;
  }
}

/** FNV-1a over every word of RAM: equal runs leave equal memory, page tables included. */
export function ramHash(k: Kernel): number {
  const phys = k.machine.phys;
  let h = 0x811c9dc5;
  for (let pfn = 0; pfn < phys.nrFrames; pfn++) {
    const w = phys.frameWords(pfnUnchecked(pfn));
    if (w === null) continue;
    h = Math.imul(h ^ pfn, 16777619);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) h = Math.imul(h ^ w[i] ^ i, 16777619);
  }
  return h >>> 0;
}

/** Writes or reads `r` every 1..strideSpan pages while `t` runs on `cpu`: the log line (the values' sum). */
export function touchRegion(
  k: Kernel,
  rng: Rng,
  cpu: number,
  t: Task,
  r: RunRegion,
  write: boolean,
  step: number,
  strideSpan: number,
): string {
  let sum = 0;
  for (let i = 0; i < r.pages && t.alive && k.current[cpu] === t; i += 1 + rng.below(strideSpan)) {
    const a = k.userAccess(
      cpu,
      t,
      r.va + BigInt(i) * PAGE,
      write ? Access.Write : Access.Read,
      (i + step) & 0xff,
    );
    sum += a.ok ? a.value : 1000;
  }
  return `${write ? "write" : "read"} ${sum}`;
}

/** fork of `t` (while fewer than four tasks): the child shares `mine`'s regions. */
export function forkTask(k: Kernel, t: Task, tasks: Task[], mine: RunRegion[], regions: RunRegion[]): string {
  const c = k.fork(t, `c${tasks.length}`);
  if (c !== null) {
    tasks.push(c);
    for (const r of mine) regions.push({ ...r, t: c });
  }
  return `fork ${c !== null}`;
}

/** MADV_PAGEOUT of one of `mine`, picked at random. */
export function pageoutRegion(k: Kernel, rng: Rng, t: Task, mine: RunRegion[]): string {
  const r = rng.pick(mine);
  return `pageout ${k.madvise(t, r.va, BigInt(r.pages) * PAGE, "pageout")} ${k.lastPageout}`;
}

/** mremap of `r` to a fixed new place, 16 pages longer: the PTE tables move (move_pgt_entry). */
export function mremapRegion(k: Kernel, t: Task, r: RunRegion, regions: RunRegion[], step: number): string {
  const at = 0x60000000n + BigInt(step) * 0x1000000n;
  const to = k.mremap(t, r.va, BigInt(r.pages) * PAGE, BigInt(r.pages + 16) * PAGE, true, at);
  if (to > 0n) {
    for (const x of regions) if (x.t === t && x.va === r.va) x.va = to;
    r.pages += 16;
  }
  return `mremap ${to === at}`;
}

/** munmap of the last of `mine`: free_pgtables frees the tables it alone used. */
export function munmapLast(k: Kernel, t: Task, mine: RunRegion[], regions: RunRegion[]): string {
  const r = mine[mine.length - 1];
  regions.splice(regions.indexOf(r), 1);
  return `munmap ${k.munmap(t, r.va, BigInt(r.pages) * PAGE)}`;
}

/** The end of a run's log: reclaim's counters, shootdowns, each CPU's TLB figures, each task's memory. */
export function runSummary(k: Kernel, tasks: Task[]): string[] {
  const log = [JSON.stringify(k.vmscan.stats), `shootdowns ${k.tlbMgr.shootdowns}`];
  for (const c of k.machine.cpus as unknown as Mmu[])
    log.push(`cpu walks ${c.walks} inv ${c.pageInvalidations} full ${c.fullFlushes} faults ${c.pageFaults}`);
  for (const t of tasks) log.push(`${t.comm} ${t.alive} ${t.mm?.rssAnon} ${t.mm?.rssFile} ${t.mm?.swapEnts}`);
  return log;
}
