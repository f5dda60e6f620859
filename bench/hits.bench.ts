/**
 * Micro-bench of machine mode's hit loop (issue #20, goal 1): ns per run of
 * MachineMode.feedRuns with its WebAssembly loop (hitLoop.ts, wasm/hits.ts)
 * and with the JavaScript twin, over the same synthetic runs that all hit
 * the first level (a warm working set: front-entry hits and hits past the
 * front), and of the module's `take` alone over runs already in its memory.
 * `bench/hits.c` is the same loop in C (built with gcc -O2 and given the same
 * runs in a file), printed beside them when gcc is there.
 *
 *   node --import tsx bench/hits.bench.ts   (RUNS=4000000 ROUNDS=7 FRONT=1; FRONT=0.9: random,
 *                                            nine runs in ten front-entry hits)
 *   TRACE=/tmp/py-50M.u64 node --import tsx bench/hits.bench.ts   (a real trace's runs instead, e.g.
 *     `zstd -d` of py-50M.u64.zst: feedRuns alone, faults and walks included, over all its runs;
 *     no `take` alone or C, which assume every run hits; and MachineMode.feedRecords over the records
 *     themselves, CPU ns a record, which needs no fold)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HitLoop } from "../src/analysis/trace/hitLoop.ts";
import { HIT_CHUNK } from "../src/analysis/trace/hitLoop.ts";
import { MachineMode } from "../src/analysis/trace/machineMode.ts";
import { foldRuns, RUN_TOTALS } from "../src/workloads/trace/runs.ts";

const RUNS = Number(process.env.RUNS ?? 4_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const PAGES = 48; // within 64x4's 256 entries: every run hits the first level once warm
/** the share of runs on their stream's last page (a front-entry hit); 1: every run, in a fixed cycle */
const FRONT = Number(process.env.FRONT ?? 1);

/** Records (two words each) of a small working set, from a fixed seed. */
function records(n: number): Uint32Array {
  let s = 12345;
  const rnd = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const w = new Uint32Array(2 * n);
  const last = [0, 1, 2, 3];
  for (let i = 0; i < n; i++) {
    // FRONT 1: fetches and data alternating, each cycling through 8 pages in 8 sets
    const kind = FRONT === 1 ? (i & 1) * (1 + ((i >> 1) & 1)) : Math.floor(rnd() * 4);
    const page =
      FRONT === 1
        ? 0x10000 + ((i >> 1) & 7) + 8 * (i & 1)
        : rnd() < FRONT
          ? last[kind]
          : 0x10000 + Math.floor(rnd() * PAGES);
    last[kind] = page;
    const off = Math.floor(rnd() * 512) * 8;
    const r = (page * 4096 + off) * 4 + kind;
    w[2 * i] = r % 2 ** 32;
    w[2 * i + 1] = Math.floor(r / 2 ** 32);
  }
  return w;
}

const TRACE = process.env.TRACE;
function traceRecords(file: string): Uint32Array {
  const buf = readFileSync(file);
  return new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
}
const rec = TRACE ? traceRecords(TRACE) : records(Math.round(RUNS * 1.3));
const runs = new Uint32Array(rec.length);
const totals = new Float64Array(RUN_TOTALS);
const count = foldRuns(rec, rec.length / 2, runs, totals);
const n = TRACE ? count : Math.min(count, RUNS);

const cfg = { frames: 256, tlb: "64x4,1536x12", policy: "clock" as const, seed: 1 };
const wasm = new MachineMode({ ...cfg, wasm: true });
const js = new MachineMode({ ...cfg, wasm: false });
const t0 = new Float64Array(RUN_TOTALS);
// warm: every page faulted in, the TLB holding the working set
wasm.feedRuns(runs, n, t0);
js.feedRuns(runs, n, t0);

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000; // ns
};
function time(f: () => void): number {
  const a = cpu();
  f();
  return (cpu() - a) / n;
}

const hits = (wasm as unknown as { hits: HitLoop }).hits;
const asid = wasm.cpu.asid;
/** `take` alone: the runs copied in beforehand, chunk by chunk, only the calls timed. */
function takeOnly(): number {
  let ns = 0;
  for (let at = 0; at < n; at += HIT_CHUNK) {
    const k = Math.min(HIT_CHUNK, n - at);
    hits.input.set(runs.subarray(2 * at, 2 * (at + k)));
    const a = cpu();
    for (let i = 0; i < k; i++) {
      i = hits.take(hits.inputAt, i, k, asid);
      if (i !== k) throw new Error("hits.bench: a first-level miss in a warm working set");
    }
    ns += cpu() - a;
  }
  hits.takeRepeats();
  hits.takeFrameSum();
  return ns / n;
}

// TRACE: the records themselves too (MachineMode.feedRecords, no fold), CPU ns a record
const nRec = rec.length / 2;
const recs = TRACE ? new MachineMode({ ...cfg, wasm: true }) : null;
recs?.feedRecords(rec, nRec, t0); // (no totals, as feedRuns above: the figures compared are the same)
const best = { wasm: Infinity, js: Infinity, take: Infinity, recs: Infinity };
for (let r = 0; r < ROUNDS; r++) {
  if (recs !== null)
    best.recs = Math.min(best.recs, (time(() => recs.feedRecords(rec, nRec, t0)) * n) / nRec);
  best.wasm = Math.min(
    best.wasm,
    time(() => wasm.feedRuns(runs, n, t0)),
  );
  best.js = Math.min(
    best.js,
    time(() => js.feedRuns(runs, n, t0)),
  );
  if (!TRACE) best.take = Math.min(best.take, takeOnly());
}
if (JSON.stringify(wasm.result()) !== JSON.stringify(js.result()))
  throw new Error("hits.bench: the WebAssembly and JavaScript loops disagree");
if (recs !== null && JSON.stringify(recs.result()) !== JSON.stringify(wasm.result()))
  throw new Error("hits.bench: feedRecords and feedRuns disagree");

let c = "";
if (TRACE) c = "(not run on a trace)";
else
  try {
    const dir = mkdtempSync(join(tmpdir(), "hits-bench-"));
    const exe = join(dir, "hits");
    execFileSync("gcc", ["-O2", "-o", exe, join(import.meta.dirname, "hits.c")]);
    const file = join(dir, "runs.bin");
    writeFileSync(file, runs.subarray(0, 2 * n));
    c = execFileSync(exe, [file, String(ROUNDS)], { encoding: "utf8" }).trim();
  } catch (e) {
    c = `(C loop not run: ${(e as Error).message.split("\n")[0]})`;
  }
console.log(`${n} runs, ${TRACE ? `TRACE=${TRACE}` : `FRONT=${FRONT}`}, best of ${ROUNDS}, CPU ns a run:`);
console.log(`  feedRuns, WebAssembly  ${best.wasm.toFixed(2)}`);
console.log(`  feedRuns, JavaScript   ${best.js.toFixed(2)}`);
console.log(`  take alone (wasm)      ${TRACE ? "(not run on a trace)" : best.take.toFixed(2)}`);
console.log(`  C (gcc -O2)            ${c}`);
if (recs !== null)
  console.log(
    `  feedRecords (wasm)     ${best.recs.toFixed(2)} a record, ${((best.recs * nRec) / n).toFixed(2)} a run's worth (${nRec} records; no fold)`,
  );
