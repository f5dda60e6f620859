#!/usr/bin/env node
// Instructions per page of a bench, by function, counted by valgrind's callgrind: a figure the
// other helpers' load on this shared machine does not move (CPU time does, by +-30% from one run
// to the next). The bench file is bundled as bench/bundled.mjs bundles it and run twice under
// callgrind, with MIB=SMALL and MIB=LARGE (and the rest of the environment as given): the
// difference of the two counts over the difference of the pages is what one more page costs,
// boot and compilation taken out. JIT-compiled functions are named from V8's perf map
// (--perf-basic-prof), every code object of a name summed; V8 runs with --single-threaded and
// --predictable, so that the counts repeat (within about 1%).
// Usage: node bench/callgrind.mjs bench/X.bench.ts [SMALL=64] [LARGE=320] [TOP=30]
//   e.g. ROUNDS=1 node bench/callgrind.mjs bench/anonfault.bench.ts
//        PASSES=0 node bench/callgrind.mjs bench/touch.bench.ts
//        TIER=1 ...: each JIT function named with its tier (JS:* TurboFan, JS:^ Sparkplug, ...)
// Needs valgrind (callgrind_annotate comes with it). A run of LARGE=320 takes a minute or two.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./bundle.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const [entry, small = "64", large = "320", top = "30"] = process.argv.slice(2);
if (entry === undefined) {
  console.error("usage: node bench/callgrind.mjs bench/X.bench.ts [SMALL] [LARGE] [TOP]");
  process.exit(2);
}
const out = join(ROOT, "bench", ".build", basename(entry).replace(/\.ts$/, ".mjs"));
await bundle(resolve(entry), out);

/** One run under callgrind: instructions by function name (JIT code named from the perf map). */
function count(mib) {
  const cg = join(ROOT, "bench", ".build", `callgrind.${mib}.out`);
  const r = spawnSync(
    "valgrind",
    [
      "--tool=callgrind",
      `--callgrind-out-file=${cg}`,
      "--smc-check=all-non-file",
      process.execPath,
      "--single-threaded",
      "--predictable",
      "--perf-basic-prof",
      // CG_V8_FLAGS: more V8 flags, e.g. "--max-inlined-bytecode-size=0" (no inlining: each
      // function's own count, at the cost of the calls)
      ...(process.env.CG_V8_FLAGS ?? "").split(/\s+/).filter((f) => f.length > 0),
      out,
    ],
    { env: { ...process.env, MIB: String(mib) }, encoding: "utf8" },
  );
  const pid = /^==(\d+)==/m.exec(r.stderr)?.[1];
  if (r.status !== 0 || pid === undefined) throw new Error(`valgrind failed:\n${r.stderr.slice(-2000)}`);
  const mapFile = `/tmp/perf-${pid}.map`;
  const map = existsSync(mapFile)
    ? readFileSync(mapFile, "utf8")
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => {
          const [a, s, ...name] = l.split(" ");
          return {
            start: Number.parseInt(a, 16),
            end: Number.parseInt(a, 16) + Number.parseInt(s, 16),
            name: name.join(" "),
          };
        })
        .sort((x, y) => x.start - y.start)
    : [];
  rmSync(mapFile, { force: true });
  const nameAt = (addr) => {
    let lo = 0;
    let hi = map.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (map[mid].end <= addr) lo = mid + 1;
      else if (map[mid].start > addr) hi = mid - 1;
      else {
        // TIER=1: the tier kept (JS:* TurboFan, JS:+ Maglev, JS:^ Sparkplug, JS:~ the interpreter)
        const name = map[mid].name.replace(/ file:.*$/, "");
        return process.env.TIER === "1" ? name : name.replace(/^JS:[*^~+]?/, "");
      }
    }
    return "(unnamed code)";
  };
  const text = execFileSync("callgrind_annotate", ["--threshold=100", cg], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  rmSync(cg, { force: true });
  const byName = new Map();
  let total = 0;
  for (const line of text.split("\n")) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$/.exec(line);
    if (m === null) continue;
    const n = Number(m[1].replaceAll(",", ""));
    if (m[2].startsWith("PROGRAM TOTALS")) {
      total = n;
      continue;
    }
    const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(m[2]);
    const name = jit
      ? nameAt(Number.parseInt(jit[1], 16))
      : m[2].replace(/\s*\[.*$/, "").replace(/\(.*$/, "");
    byName.set(name, (byName.get(name) ?? 0) + n);
  }
  return { total, byName };
}

const a = count(Number(small));
const b = count(Number(large));
const pages = ((Number(large) - Number(small)) << 20) / 4096;
const rows = [...new Set([...a.byName.keys(), ...b.byName.keys()])]
  .map((name) => ({ name, perPage: ((b.byName.get(name) ?? 0) - (a.byName.get(name) ?? 0)) / pages }))
  .sort((x, y) => y.perPage - x.perPage)
  .slice(0, Number(top));
console.log(`instructions per page (MIB=${small} -> ${large}): ${Math.round((b.total - a.total) / pages)}`);
console.log(`totals: MIB=${small} ${a.total}, MIB=${large} ${b.total}`);
for (const r of rows) console.log(`${r.perPage.toFixed(1).padStart(9)}  ${r.name}`);
