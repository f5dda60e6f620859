/**
 * The reading thread alone (issue #20, goal 1): a trace read through readSlots as machine mode reads
 * it (raw slots with their records' totals, in a ringMemory), nothing simulated. Prints the reading
 * thread's CPU seconds per run, their min and median, and the totals (every tree must give alike).
 *
 *   node --import tsx bench/readslots.bench.ts FILE [RUNS]
 */
import { lastRingWaits, readSlots, ringMemory } from "../src/workloads/trace/worker.ts";

const file = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
const cpus: number[] = [];
let before = 0;
let sums: number[] = [];
for (let r = 0; r < runs; r++) {
  const memory = ringMemory();
  const t = [0, 0, 0, 0, 0, 0, 0];
  for await (const { m } of readSlots(file, "zstd", false, process.env.TOTALS !== "0", memory)) {
    if (m.error !== undefined) throw new Error(m.error);
    if (m.totals !== undefined) for (let k = 0; k < 7; k++) t[k] += m.totals[k];
  }
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
    totals: sums,
  }),
);
