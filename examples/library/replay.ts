/**
 * Trace replay from TypeScript: one trace file through machine mode (the
 * real MMU, TLBs and a demand pager) at several memory sizes, as `vmlab
 * trace` runs it (the reading thread folds the records into runs). Run with
 *   node --import tsx examples/library/replay.ts [TRACE] [FRAMES...]
 */
import { MachineMode, type MachinePolicy } from "../../src/analysis/trace/machineMode.ts";
import { canReadRuns, readRuns, readTrace } from "../../src/workloads/trace/formats.ts";
import { openTrace } from "../../src/workloads/trace/input.ts";

export interface ReplayRow {
  frames: number;
  accesses: number;
  faults: number;
  walks: number;
  l1Hits: number;
}

export async function replayAtSizes(
  file: string,
  sizes: number[],
  policy: MachinePolicy = "lru",
): Promise<ReplayRow[]> {
  const rows: ReplayRow[] = [];
  for (const frames of sizes) {
    const mm = new MachineMode({ frames, tlb: "skylake", policy });
    if (mm.takesRuns && canReadRuns(file)) await readRuns(file, (w, n, totals) => mm.feedRuns(w, n, totals));
    else await readTrace(openTrace(file), "bin", (w, n) => mm.feed(w, n));
    const r = mm.result();
    rows.push({ frames, accesses: r.simulated, faults: r.faults, walks: r.walks, l1Hits: r.l1_hits });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ?? "examples/traces/hotcold.u64.gz";
  const sizes = process.argv.length > 3 ? process.argv.slice(3).map(Number) : [8, 16, 32, 64, 128];
  for (const r of await replayAtSizes(file, sizes))
    console.log(
      `${String(r.frames).padStart(6)} frames: ${r.faults} faults, ${r.walks} walks, ${r.l1Hits} L1 hits of ${r.accesses}`,
    );
}
