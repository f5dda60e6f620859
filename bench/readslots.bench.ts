/**
 * The reading thread alone (issue #20, goal 1): a trace read through readSlots as machine mode reads
 * it (raw slots with their records' totals, in a ringMemory), nothing simulated. Prints the reading
 * thread's CPU seconds per run, their min and median, and the totals (every tree must give alike).
 *
 * READ=1: the consumer reads every record of a slot (a sum of its words), as the hit loop does, so that
 * the slots' lines go through this core's caches (a slot the reading thread refills was read here).
 *
 * WORK_MS=x: the consumer spins x ms per slot (a simulation's stand-in, the main thread the slower
 * side): then the wall time over the slots' work, and the seconds the main thread waited for a slot,
 * say what the hand-over of a slot costs the main thread.
 *
 *   node --import tsx bench/readslots.bench.ts FILE [RUNS]
 */
import { lastRingWaits, readSlots, ringMemory } from "../src/workloads/trace/worker.ts";

const file = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
const WORK_MS = Number(process.env.WORK_MS ?? 0);
const READ = process.env.READ === "1";
let readSum = 0;
const cpus: number[] = [];
const walls: number[] = [];
const mainWaits: number[] = [];
let before = 0;
let sums: number[] = [];
for (let r = 0; r < runs; r++) {
  const memory = ringMemory();
  const t = [0, 0, 0, 0, 0, 0, 0];
  const t0 = performance.now();
  for await (const { m, view } of readSlots(file, "zstd", false, process.env.TOTALS !== "0", memory)) {
    if (m.error !== undefined) throw new Error(m.error);
    if (READ && view.length >= 4) {
      const w = new Int32Array(view.buffer, view.byteOffset, view.length >> 2);
      let s = 0;
      for (let i = 0; i < w.length; i++) s = (s + w[i]) | 0;
      readSum = (readSum + s) | 0;
    }
    if (m.totals !== undefined) for (let k = 0; k < 7; k++) t[k] += m.totals[k];
    if (WORK_MS > 0 && m.slot !== undefined)
      for (const s0 = performance.now(); performance.now() - s0 < WORK_MS; );
  }
  walls.push((performance.now() - t0) / 1000);
  mainWaits.push(lastRingWaits()?.mainWaited ?? Number.NaN);
  // (the thread's CPU so far: the same thread serves every run, from the pool)
  const now = lastRingWaits()?.readingCpu ?? Number.NaN;
  cpus.push(now - before);
  before = now;
  sums = t;
}
const sorted = [...cpus].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    readingCpu: cpus.map((c) => +c.toFixed(4)),
    min: +sorted[0].toFixed(4),
    median: +sorted[sorted.length >> 1].toFixed(4),
    wallMedian: +[...walls].sort((a, b) => a - b)[walls.length >> 1].toFixed(4),
    mainWaitedMedian: +[...mainWaits].sort((a, b) => a - b)[mainWaits.length >> 1].toFixed(4),
    totals: sums,
    readSum: READ ? readSum : undefined,
    ringUsed: lastRingWaits()?.ringUsed,
  }),
);
