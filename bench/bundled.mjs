#!/usr/bin/env node
// Runs a bench file as the CLI runs the sources (bin/vmlab.cjs): one esbuild bundle, made into
// bench/.build/ (git-ignored) on every run. Under tsx each module is compiled by itself, so a
// `const enum` imported from another module (Pte, Meta, Access, EntryKind, ...) is not inlined:
// every use is a getter call on the module's exports and a property load, on every touch (a CPU
// profile of bench:reclaim's baseline: about 30% of its time, 2-2.5x its wall time; issue #20).
// Usage: node [node flags] bench/bundled.mjs bench/X.bench.ts [args]; BENCH_TSX=1 runs X through tsx.
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const entry = process.argv[2];
if (entry === undefined) {
  console.error("usage: node bench/bundled.mjs bench/X.bench.ts [args]");
  process.exit(2);
}
process.argv.splice(2, 1); // the bench sees its own arguments where it expects them
if (process.env.BENCH_TSX === "1") {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(resolve(entry)).href);
} else {
  // beside the bench (bench/.build/), so its `new URL("...", import.meta.url)` paths stay one level below the root
  const out = join(ROOT, "bench", ".build", basename(entry).replace(/\.ts$/, ".mjs"));
  await bundle(resolve(entry), out);
  await import(pathToFileURL(out).href);
}
