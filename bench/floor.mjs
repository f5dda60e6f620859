#!/usr/bin/env node
// The floor under a whole `vmlab trace` process (issue #20, goal 1): wall-clock time of whole
// processes, spawn to exit as the parent sees it, ROUNDS rounds alternating, medians and ranges:
//   node -e 0; Node with an empty worker thread (started, online, then exit); `vmlab --version`
//   (the bundle loaded, commander); `vmlab trace FILE` (machine mode, vmref's options); vmref;
//   and for a .zst file `zstd -dc FILE` to /dev/null (the same libzstd vmref and the reading thread
//   use: the decode alone, in C). Then the floor of any Node process that decodes the file, node -e 0
//   plus that decode, and vmref over it: the best vmlab/vmref ratio such a process could reach.
//   node bench/floor.mjs FILE [ROUNDS]   (bench/.build/vmref: npm run bench:process builds it)
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const file = process.argv[2];
const rounds = Number(process.argv[3] ?? 10);
const vmlab = resolve(ROOT, "bin", "vmlab.cjs");
const vmref = resolve(ROOT, "bench", ".build", "vmref");
const worker = `const { Worker } = require("node:worker_threads");
new Worker("", { eval: true }).on("online", function () { this.terminate(); });`;
const cases = [
  ["node -e 0", process.execPath, ["-e", "0"]],
  ["node, an empty worker (online, terminated)", process.execPath, ["-e", worker]],
  ["vmlab --version", process.execPath, [vmlab, "--version"]],
  [
    "vmlab trace (machine, clock, 64x4,1536x12, 1024 frames)",
    process.execPath,
    [
      vmlab,
      "trace",
      file,
      "--mode",
      "machine",
      "--policy",
      "clock",
      "--tlb",
      "64x4,1536x12",
      "--frames",
      "1024",
    ],
  ],
];
if (existsSync(vmref)) cases.push(["vmref --frames 1024", vmref, ["--frames", "1024", file]]);
const zstd = file.endsWith(".zst") && spawnSync("zstd", ["--version"]).status === 0;
if (zstd) cases.push(["zstd -dc (the decode alone, C)", "zstd", ["-dc", file]]);

function once(cmd, args) {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { stdio: "ignore" });
    c.on("error", fail);
    c.on("close", (code) =>
      code === 0 ? done(performance.now() - t0) : fail(new Error(`${cmd}: exit ${code}`)),
    );
  });
}

const times = cases.map(() => []);
const medians = [];
for (let r = 0; r < rounds; r++)
  for (let k = 0; k < cases.length; k++) times[k].push(await once(cases[k][1], cases[k][2]));
console.log(`${rounds} rounds, alternating; ${file}`);
for (let k = 0; k < cases.length; k++) {
  const t = times[k].sort((a, b) => a - b);
  const med = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  medians.push(med);
  console.log(
    `  ${med.toFixed(1).padStart(6)} ms median (${t[0].toFixed(1)}-${t[t.length - 1].toFixed(1)})  ${cases[k][0]}`,
  );
}
const at = (name) => medians[cases.findIndex((c) => c[0].startsWith(name))];
if (zstd && existsSync(vmref)) {
  const floor = at("node -e 0") + at("zstd -dc");
  console.log(
    `  floor of a Node process that decodes it: node -e 0 + zstd -dc = ${floor.toFixed(1)} ms; vmref over it ${(at("vmref") / floor).toFixed(2)} (the best vmlab/vmref such a process could reach; vmlab now ${(at("vmref") / at("vmlab trace")).toFixed(2)}, medians)`,
  );
}
