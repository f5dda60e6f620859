/**
 * shrink_folio_list's try_to_unmap takes the one mapping folio_referenced
 * just found (rmap.ts reuseOnlyMapping) instead of walking the reverse map
 * again: a host shortcut, which must change nothing. Random runs under
 * memory pressure (writes, reads, forks sharing pages, munmap, MADV_PAGEOUT,
 * on one CPU and on two) give the same counters, the same TLB figures and
 * the same memory with the shortcut and without it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { forkTask, pageoutRegion, RandomRun, runSummary, touchRegion } from "../rmapRuns.testkit.ts";
import { setOnlyMappingShortcut } from "./rmap.ts";

function run(seed: number, cpus: 1 | 2, shortcut: boolean): string[] {
  setOnlyMappingShortcut(shortcut);
  const rng = new Rng(seed);
  const k = new Kernel({ ramBytes: 34 << 20, cpus, swapBytes: 32 << 20, overcommit: "always", pcid: true });
  const run = new RandomRun(k, rng, cpus);
  const { log, tasks, regions } = run;
  for (let step = 0; step < 60; step++) {
    const s = run.pick();
    if (s === null) break;
    const { t, cpu, mine } = s;
    const op = rng.below(8);
    if (op === 0 || mine.length === 0) log.push(run.mmapAnon(t, 256, 2048));
    else if (op === 1 && tasks.length < 4) log.push(forkTask(k, t, tasks, mine, regions));
    else if (op === 2) log.push(pageoutRegion(k, rng, t, mine));
    else log.push(touchRegion(k, rng, cpu, t, rng.pick(mine), op < 6, step, 3));
  }
  log.push(...runSummary(k, tasks));
  return log;
}

describe("try_to_unmap reusing folio_referenced's one mapping changes nothing", () => {
  afterEach(() => setOnlyMappingShortcut(true));
  for (const cpus of [1, 2] as const)
    for (const seed of [1, 2, 3])
      it(`${cpus} CPU(s), seed ${seed}`, () => {
        const a = run(seed, cpus, true);
        const b = run(seed, cpus, false);
        expect(a).toEqual(b);
        // the runs reclaimed: the shortcut was taken
        const stats = JSON.parse(a.find((l) => l.startsWith("{"))!);
        expect(stats.pgsteal_anon + stats.pgsteal_file).toBeGreaterThan(1000);
      });
});
