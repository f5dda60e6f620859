#!/usr/bin/env node
// Starts the CLI from one JavaScript bundle of the TypeScript sources (.build/cli/vmlab.mjs,
// made by esbuild, which tsx already brings): Node 20 cannot strip types, and compiling and
// linking the ~300 source modules through tsx's loader took 1-2 s of every run (issue #20).
// The bundle is made on first use and again whenever one of the sources it was made from
// changed (their list is kept beside it); if it cannot be made (a source that does not
// compile, or no esbuild: it comes with tsx), or VMLAB_TSX=1, the sources run through tsx
// as before, with tsx's messages.
import { mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// two levels below the root, as src/cli/ is: the sources' `new URL("../../...", import.meta.url)` still hold
const OUT = join(ROOT, ".build", "cli");
const ENTRIES = { vmlab: "src/cli/main.ts", sweepTask: "src/cli/sweepTask.ts" };

/** Whether the bundle is missing or older than a source it was made from. */
function stale() {
  let made;
  let inputs;
  try {
    made = Math.min(...Object.keys(ENTRIES).map((e) => statSync(join(OUT, `${e}.mjs`)).mtimeMs));
    inputs = JSON.parse(readFileSync(join(OUT, "inputs.json"), "utf8"));
  } catch {
    return true;
  }
  for (const f of inputs) {
    try {
      if (statSync(join(ROOT, f)).mtimeMs > made) return true;
    } catch {
      return true; // a source was removed or renamed
    }
  }
  return false;
}

/** Makes the bundle (each file written beside its place, then renamed: runs started together do not clash). */
async function build() {
  const started = Date.now() / 1000;
  const esbuild = await import("esbuild");
  const r = await esbuild.build({
    entryPoints: ENTRIES,
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external", // node_modules stay where they are (zstd-napi and resvg are native)
    outdir: OUT,
    outExtension: { ".js": ".mjs" },
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  mkdirSync(OUT, { recursive: true });
  const tmp = `.${process.pid}.tmp`;
  for (const f of r.outputFiles) {
    writeFileSync(f.path + tmp, f.contents);
    // dated from the start of the build: a source saved during it makes the bundle stale
    utimesSync(f.path + tmp, started, started);
  }
  writeFileSync(join(OUT, `inputs.json${tmp}`), JSON.stringify(Object.keys(r.metafile.inputs)));
  renameSync(join(OUT, `inputs.json${tmp}`), join(OUT, "inputs.json"));
  for (const f of r.outputFiles) renameSync(f.path + tmp, f.path);
}

let main;
if (process.env.VMLAB_TSX !== "1") {
  try {
    if (stale()) await build();
    ({ main } = await import(pathToFileURL(join(OUT, "vmlab.mjs")).href));
  } catch {
    main = undefined; // tsx below says what is wrong with the sources
  }
}
if (main === undefined) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
