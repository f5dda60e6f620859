#!/usr/bin/env node
// bench/touch.bench.ts's passes for two trees in ONE process, alternating (issue #20, goal 3): the
// machine's speed drifts by tens of percent within seconds when other helpers run, so a ratio taken
// from passes interleaved in one process is steadier than one from whole runs alternated.
// Usage: node bench/touch-ab.mjs BASE THIS (trees with node_modules; THIS's bench/touchPasses.ts is
// copied into each tree's bench/.build/ and bundled there, so each side runs its own sources).
// Env: MIB (256), ROUNDS (20 resident passes each), FROUNDS (10 faulting rounds each, FMIB MiB each:
// mmap, write every page, munmap), ARCH (x86_64). Prints CPU ns per touch, per-pass ratios THIS/BASE
// (median and range) and whether the MMU counters (view.cpu(0)) are equal.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const [baseTree, thisTree] = process.argv.slice(2).map((p) => resolve(p));
if (thisTree === undefined) {
  console.error("usage: node bench/touch-ab.mjs BASE THIS");
  process.exit(2);
}
const src = readFileSync(join(here, "touchPasses.ts"), "utf8").replaceAll('"../src/', '"../../src/');
const mods = {};
for (const [side, tree] of [
  ["base", baseTree],
  ["this", thisTree],
]) {
  const dir = join(tree, "bench", ".build");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "touchPasses.ts"), src);
  const out = join(dir, `touchPasses-${side}.mjs`);
  await bundle(join(dir, "touchPasses.ts"), out, tree);
  mods[side] = await import(pathToFileURL(out).href);
}
const MIB = Number(process.env.MIB ?? 256);
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const FROUNDS = Number(process.env.FROUNDS ?? 10);
const FMIB = Number(process.env.FMIB ?? 32);
const ARCH = process.env.ARCH ?? "x86_64";
const ns = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
const m = { base: mods.base.setup(MIB, ARCH), this: mods.this.setup(MIB, ARCH) };
const res = { base: [], this: [] };
const fres = { base: [], this: [] };
const order = (r) => (r & 1 ? ["this", "base"] : ["base", "this"]);
for (const k of ["base", "this"]) m[k].faulting(); // the first write of the resident range (both orders below)
for (let r = 0; r < ROUNDS; r++)
  for (const k of order(r)) {
    const t0 = ns();
    m[k].resident(r >> 1);
    res[k].push((ns() - t0) / m[k].pages);
  }
for (let r = 0; r < FROUNDS; r++)
  for (const k of order(r)) {
    const t0 = ns();
    const undo = m[k].faultRound(FMIB);
    fres[k].push((ns() - t0) / ((FMIB << 20) / 4096));
    undo();
  }
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const line = (what, r) => {
  const ratios = r.this.map((t, i) => t / r.base[i]);
  console.log(
    `${ARCH} ${what}: base median ${med(r.base).toFixed(0)} ns, best ${Math.min(...r.base).toFixed(0)}; this median ${med(r.this).toFixed(0)}, best ${Math.min(...r.this).toFixed(0)}; this/base per pass: median ${med(ratios).toFixed(3)}, ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
  );
};
line(`resident (${ROUNDS} passes each)`, res);
line(`faulting (${FROUNDS} rounds of ${FMIB} MiB each)`, fres);
const cb = m.base.counters();
const ct = m.this.counters();
console.log(cb === ct ? `counters equal: ${cb}` : `COUNTERS DIFFER\nbase ${cb}\nthis ${ct}`);
