#!/usr/bin/env node
// The time line of whole `vmlab trace` processes (issue #20, goal 1): runs
// `node TREE/bin/vmlab.cjs trace FILE ARGS` (package.json's bin) with VMLAB_TIMELINE=1 ROUNDS times
// (alternating the trees when several are given) and prints, per tree, the
// median (and range) of each mark (ms since the process's performance
// timeOrigin), of the time from spawn() to that origin, and from the exit
// event to the parent seeing the process end.
//   node bench/timeline.mjs FILE [--tree DIR]... [--rounds N] [-- vmlab trace options]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const argv = process.argv.slice(2);
const file = argv.shift();
const trees = [];
let rounds = 5;
let extra = ["--mode", "machine", "--policy", "clock", "--tlb", "64x4,1536x12", "--frames", "1024"];
while (argv.length > 0) {
  const a = argv.shift();
  if (a === "--tree") trees.push(resolve(argv.shift()));
  else if (a === "--rounds") rounds = Number(argv.shift());
  else if (a === "--") {
    extra = argv.splice(0);
  }
}
if (trees.length === 0) trees.push(resolve(import.meta.dirname, ".."));

function once(tree) {
  return new Promise((done, fail) => {
    const t0 = performance.timeOrigin + performance.now();
    // the tree's launcher as package.json's bin names it (bin/vmlab.cjs, or bin/vmlab.mjs before it)
    const bin = JSON.parse(readFileSync(`${tree}/package.json`, "utf8")).bin.vmlab;
    const child = spawn(process.execPath, [`${tree}/${bin}`, "trace", file, ...extra], {
      env: { ...process.env, VMLAB_TIMELINE: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s) => {
      err += s;
    });
    child.on("close", (code) => {
      const t1 = performance.timeOrigin + performance.now();
      if (code !== 0) return fail(new Error(`exit ${code}: ${err}`));
      const marks = new Map();
      let origin = Number.NaN;
      for (const line of err.split("\n")) {
        const o = /^vmlab timeline: origin ([\d.]+)/.exec(line);
        if (o) origin = Number(o[1]);
        const m = /^vmlab timeline:\s+([\d.]+) ms {2}(.*)$/.exec(line);
        if (m) marks.set(m[2], Number(m[1]));
      }
      marks.set("(spawn to timeOrigin)", origin - t0);
      marks.set("(exit event to the process's end, seen by the parent)", t1 - origin - marks.get("exit"));
      marks.set("(whole process, spawn to end)", t1 - t0);
      done(marks);
    });
  });
}

const results = trees.map(() => []);
for (let r = 0; r < rounds; r++) for (let k = 0; k < trees.length; k++) results[k].push(await once(trees[k]));
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (let k = 0; k < trees.length; k++) {
  console.log(`${trees[k]}: ${rounds} runs, ${file}`);
  const names = [...results[k][0].keys()];
  const rows = names.map((n) => {
    const xs = results[k].map((m) => m.get(n)).filter((x) => x !== undefined);
    return [n, med(xs), Math.min(...xs), Math.max(...xs)];
  });
  rows.sort((a, b) => (a[0].startsWith("(") ? 1e9 : a[1]) - (b[0].startsWith("(") ? 1e9 : b[1]));
  for (const [n, m, lo, hi] of rows)
    console.log(`  ${m.toFixed(1).padStart(7)} ms (${lo.toFixed(1)}-${hi.toFixed(1)})  ${n}`);
}
