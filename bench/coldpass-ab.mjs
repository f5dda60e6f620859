#!/usr/bin/env node
// bench/coldpass.bench.ts for two trees, one fresh process per sample, alternating (issue #20,
// goal 3: the first faulting pass of a cold process, JIT warm-up included). THIS's
// bench/coldpass.bench.ts is copied into each tree's bench/.build/ and bundled there (each side runs
// its own sources), then PAIRS= (5) pairs of processes run one after the other, the order swapped
// every pair. Prints, per side, min and median of: the first pass (wall, CPU and main-thread CPU ms;
// CPU above main is V8's compile threads; main is the steadiest on a loaded machine), its first chunk, the passes after it, all passes (touches/s); the
// ratios THIS/BASE of the medians and the median of the per-pair ratios; whether the counters are
// equal. BENCH_TRACE_OPT=1 runs the children with --trace-opt and adds, per side, the optimized
// compiles and their summed time (V8's three phases, ms), the biggest ones, and the deopts.
// Usage: node bench/coldpass-ab.mjs BASE THIS (trees with node_modules). Env: MIB, CHUNKS, PASSES,
// ARCH as coldpass.bench.ts.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./bundle.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const [baseTree, thisTree] = process.argv.slice(2).map((p) => resolve(p));
if (thisTree === undefined) {
  console.error("usage: node bench/coldpass-ab.mjs BASE THIS");
  process.exit(2);
}
const PAIRS = Number(process.env.PAIRS ?? 5);
const TRACE = process.env.BENCH_TRACE_OPT === "1";
const src = readFileSync(join(here, "coldpass.bench.ts"), "utf8")
  .replaceAll('"../src/', '"../../src/')
  .replaceAll('"./benchEnv.ts"', '"../benchEnv.ts"');
const files = {};
for (const [side, tree] of [
  ["base", baseTree],
  ["this", thisTree],
]) {
  const dir = join(tree, "bench", ".build");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "coldpass.bench.ts"), src);
  files[side] = join(dir, `coldpass-${side}.mjs`);
  await bundle(join(dir, "coldpass.bench.ts"), files[side], tree);
}

/** --trace-opt's lines: compiles (name, target, ms summed over the three phases) and deopts. */
function traceOpt(text) {
  const compiles = [];
  let deopts = 0;
  for (const l of text.split("\n")) {
    const m =
      /^\[completed compiling .*<JSFunction (\S*) .*\(target (\w+)\)( - OSR)? - took ([\d.]+), ([\d.]+), ([\d.]+) ms\]/.exec(
        l,
      );
    if (m)
      compiles.push({ name: m[1] + (m[3] ? " (OSR)" : ""), ms: Number(m[4]) + Number(m[5]) + Number(m[6]) });
    if (l.startsWith("[bailout (kind: deopt")) deopts++;
  }
  return { compiles, deopts };
}

const runs = { base: [], this: [] };
const traces = { base: [], this: [] };
for (let p = 0; p < PAIRS; p++) {
  for (const side of p & 1 ? ["this", "base"] : ["base", "this"]) {
    const args = TRACE ? ["--trace-opt", "--trace-deopt", files[side]] : [files[side]];
    const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) {
      console.error(`${side}: exit ${r.status}\n${r.stderr}`);
      process.exit(1);
    }
    const lines = r.stdout.trim().split("\n");
    // the figures' line: the last JSON line (--trace-opt may print after it)
    runs[side].push(JSON.parse(lines.findLast((l) => l.startsWith('{"arch"'))));
    if (TRACE) traces[side].push(traceOpt(r.stdout));
  }
}

const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const sum = (a) => a.reduce((x, y) => x + y, 0);
const figures = {
  "first pass wall ms": (r) => r.passWall[0],
  "first pass CPU ms": (r) => r.passCpu[0],
  "first pass main ms": (r) => r.passMain[0],
  "first chunk main ms": (r) => r.chunkMain[0],
  "first chunk wall ms": (r) => r.chunkWall[0],
  "chunks 2-4 wall ms": (r) => sum(r.chunkWall.slice(1, 4)),
  "later passes wall ms": (r) => sum(r.passWall.slice(1)),
  "all passes wall ms": (r) => sum(r.passWall),
  "all passes CPU ms": (r) => sum(r.passCpu),
  "all passes main ms": (r) => sum(r.passMain),
};
const b0 = runs.base[0];
console.log(
  `coldpass A/B, ${PAIRS} pairs of fresh processes: ${b0.arch}, ${b0.mib} MiB, first pass in ${b0.chunkWall.length} chunks, then ${b0.passWall.length - 1} passes`,
);
for (const [what, f] of Object.entries(figures)) {
  const b = runs.base.map(f);
  const t = runs.this.map(f);
  const pair = t.map((x, i) => x / b[i]);
  console.log(
    `  ${what.padEnd(22)} base min ${Math.min(...b).toFixed(1)} med ${med(b).toFixed(1)}; this min ${Math.min(...t).toFixed(1)} med ${med(t).toFixed(1)}; this/base min ${(Math.min(...t) / Math.min(...b)).toFixed(3)} med ${(med(t) / med(b)).toFixed(3)}, per pair med ${med(pair).toFixed(3)}`,
  );
}
const touches = (r) => (r.passWall.length * b0.mib * 256) / (sum(r.passWall) / 1000);
for (const side of ["base", "this"])
  console.log(
    `  ${side} touches/s (all passes, wall): median ${(med(runs[side].map(touches)) / 1e6).toFixed(2)} M, best ${(Math.max(...runs[side].map(touches)) / 1e6).toFixed(2)} M; chunk medians (wall ms) ${runs[side][0].chunkWall.map((_, i) => med(runs[side].map((r) => r.chunkWall[i])).toFixed(1)).join(" ")}`,
  );
if (TRACE)
  for (const side of ["base", "this"]) {
    const t = traces[side];
    const by = new Map();
    for (const x of t) for (const c of x.compiles) by.set(c.name, (by.get(c.name) ?? 0) + c.ms / t.length);
    const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log(
      `  ${side} --trace-opt: compiles median ${med(t.map((x) => x.compiles.length))}, compile ms median ${med(t.map((x) => sum(x.compiles.map((c) => c.ms)))).toFixed(0)}, deopts median ${med(t.map((x) => x.deopts))}; biggest (mean ms): ${top.map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join(", ")}`,
    );
  }
const key = (r) => JSON.stringify(r.counters);
const all = [...runs.base, ...runs.this].map(key);
console.log(
  all.every((k) => k === all[0]) ? `  counters equal: ${all[0]}` : `  COUNTERS DIFFER\n${all.join("\n")}`,
);
