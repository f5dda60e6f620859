#!/usr/bin/env node
// Starts the CLI from one JavaScript bundle of the TypeScript sources (.build/cli/vmlab.cjs,
// made by esbuild, which tsx already brings): Node 20 cannot strip types, and compiling and
// linking the ~300 source modules through tsx's loader took 1-2 s of every run (issue #20).
// The bundle is made on first use and again whenever one of the sources it was made from
// changed (their list is kept beside it); if it cannot be made (a source that does not
// compile, or no esbuild: it comes with tsx), or VMLAB_TSX=1, the sources run through tsx
// as before, with tsx's messages.
//
// This launcher is CommonJS (package.json's bin; bin/vmlab.mjs only loads it): Node starts a
// CommonJS main module without its ES module loader, 6-8 ms of CPU before the first line of an
// .mjs entry (`node e.cjs` against `node e.mjs`, 15 runs each; issue #20, goal 1). The ES
// module loader is made only if a run imports something (esbuild for a build, tsx, a package
// the bundle imports lazily).
//
// Start-up (issue #20): the bundle is CommonJS, compiled here with vm.Script so that V8's
// code cache can be used (Node 20 has no code cache for ES modules, and no
// module.enableCompileCache): the bytecode of the functions a command ran is kept beside the
// bundle (vmlab.cjs.COMMAND.v8cache, made after the first run of that command without one)
// and given to the next run's compile, which then parses almost nothing. A cache records
// which bundle file it was made from (inode, size, modification time): V8 itself checks only
// the source's length, so a cache is used only with the very file it came from. VMLAB_NO_CACHE=1
// turns the cache off. Sweep threads load sweepTask.mjs (an ES module) as before.
"use strict";
const {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} = require("node:fs");
const { createRequire } = require("node:module");
const { join, resolve } = require("node:path");
const vm = require("node:vm");
const { Worker } = require("node:worker_threads");

// VMLAB_TIMELINE=1: the marks of one run (ms since the process started), printed at its exit
// (src/workloads/trace/timeline.ts; issue #20, goal 1)
const timeline = process.env.VMLAB_TIMELINE === "1" ? [["bin start", performance.now()]] : undefined;
const mark = (name) => timeline?.push([name, performance.now()]);
if (timeline !== undefined) {
  globalThis.__vmlabTimeline = timeline;
  process.on("exit", () => {
    mark("exit");
    const lines = timeline
      .sort((a, b) => a[1] - b[1])
      .map(([name, t]) => `vmlab timeline: ${t.toFixed(1).padStart(8)} ms  ${name}`);
    process.stderr.write(
      `vmlab timeline: origin ${performance.timeOrigin.toFixed(1)}\n${lines.join("\n")}\n`,
    );
  });
}

/**
 * `vmlab trace FILE`: the reading thread (src/workloads/trace/worker.ts) started before the
 * bundle is loaded, so that its ~20 ms of start-up (a Node environment of its own, on the other
 * core) overlap this thread's loading of the CLI instead of following it (issue #20, goal 1). It
 * waits for its body and data in its first message (worker.ts's takePrestarted); unref'd, it
 * keeps no run alive that does not use it (standard input, --help, a bad option).
 */
const PRESTART_SOURCE = `require("node:worker_threads").parentPort.once("message", (m) => new Function("workerRequire", m.body)(require)(m.workerData));`;
/** `vmlab trace FILE ...`'s FILE, when the reading may start before the bundle is loaded (see speculateReading). */
let speculateFile;
{
  const a = process.argv.slice(2);
  if (a[0] === "trace" && a.length > 1 && !a.includes("-") && !a.includes("--help") && !a.includes("-h")) {
    // machine mode (the default) only: policy mode never reads raw slots
    const mode = a.indexOf("--mode");
    if (
      !a[1].startsWith("-") &&
      (mode < 0 || a[mode + 1] === "machine") &&
      !a.some((x) => x.startsWith("--mode=") && x !== "--mode=machine") &&
      process.env.VMLAB_SPECULATE !== "0"
    )
      speculateFile = a[1];
    const w = new Worker(PRESTART_SOURCE, { eval: true });
    w.unref();
    w.on("error", () => {}); // (an adopted thread's failures are reported by its own listeners)
    w.once("exit", () => {
      if (globalThis.__vmlabReader === w) globalThis.__vmlabReader = undefined;
    });
    globalThis.__vmlabReader = w;
    mark("reading thread prestarted");
  }
}

const ROOT = resolve(__dirname, "..");
// two levels below the root, as src/cli/ is: the sources' `new URL("../../...", import.meta.url)` still hold
const OUT = join(ROOT, ".build", "cli");
const BUNDLE = join(OUT, "vmlab.cjs");
const TASK = join(OUT, "sweepTask.mjs");
// src/workloads/trace/speculate.ts alone, for the reading job started before the bundle is loaded
const READER = join(OUT, "reader.cjs");

/**
 * The bundle's first and last characters (esbuild's banner and footer): the function
 * loadBundle calls with what a CommonJS module gets, and the loader of its import() calls.
 */
const WRAP = "(function (exports, require, module, __filename, __dirname, __vmlab_import) {";
const FOOTER = "\n})";

/** Whether the bundle is missing or older than a source it was made from (or than this file, which says how it is made). */
function stale() {
  let made;
  let inputs;
  try {
    made = Math.min(statSync(BUNDLE).mtimeMs, statSync(TASK).mtimeMs, statSync(READER).mtimeMs);
    inputs = JSON.parse(readFileSync(join(OUT, "inputs.json"), "utf8"));
    if (statSync(__filename).mtimeMs > made) return true;
  } catch {
    return true;
  }
  // (the paths by concatenation: path.join of each, in a process whose code is not yet
  // compiled, took more time than the ~300 stat calls themselves, 6-10 ms of every start)
  const root = `${ROOT}/`;
  for (let i = 0; i < inputs.length; i++) {
    try {
      if (statSync(root + inputs[i]).mtimeMs > made) return true;
    } catch {
      return true; // a source was removed or renamed
    }
  }
  return false;
}

/** Makes the bundles (each file written beside its place, then renamed: runs started together do not clash). */
async function build() {
  const started = Date.now() / 1000;
  const esbuild = await import("esbuild");
  // the sources' numeric constants as literals in every use (a top-level `const` is a `var` in the
  // bundle, whose loads V8 does not fold: `pa / PAGE_SIZE` stayed a load and a division)
  const consts = require("./inlineConsts.cjs").inlineConsts(ROOT);
  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    target: "node20",
    packages: "external", // node_modules stay where they are (zstd-napi and resvg are native)
    outdir: OUT,
    metafile: true,
    write: false,
    logLevel: "silent",
    charset: "ascii", // read back as latin1 below (no UTF-8 decoding)
    // esbuild's minifier puts a constant's value in its uses (with inlineConsts), folds constant
    // expressions and shortens syntax; it renames nothing (names stay in stack traces)
    minifySyntax: true,
    plugins: [consts],
  };
  const [cli, task, reader] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: { vmlab: "src/cli/main.ts" },
      // commander inside the bundle (in its code cache): Node's own loader compiles a package's
      // files from source on every run, and every command loads commander
      packages: undefined,
      external: packagesBut("commander"),
      plugins: [lazyChildProcess, consts],
      format: "cjs",
      outExtension: { ".js": ".cjs" },
      // without the sources' comments and indentation: 1.4 MB instead of 2.3, read and made a string
      // in ~1.9 ms instead of ~2.9 at every start (names are kept: a stack still says which functions;
      // VMLAB_TSX=1 runs the sources themselves, with their lines)
      minifyWhitespace: true,
      // the sources' import.meta: the bundle's own file (import.meta.resolve is used only under tsx)
      define: {
        "import.meta.url": "__vmlab_import_meta_url",
        "import.meta.dirname": "__dirname",
        "import.meta.filename": "__filename",
      },
      // the bundle is the text of one function expression (WRAP ... FOOTER), compiled as it is read:
      // wrapping the bundle's source (2 MB then) in a new string took a copy and 1-2 ms of every start
      banner: {
        js: `${WRAP}var __vmlab_import_meta_url = require("node:url").pathToFileURL(__filename).href;`,
      },
      footer: { js: FOOTER },
    }),
    esbuild.build({
      ...common,
      entryPoints: { sweepTask: "src/cli/sweepTask.ts" },
      format: "esm",
      outExtension: { ".js": ".mjs" },
    }),
    esbuild.build({
      ...common,
      entryPoints: { reader: "src/workloads/trace/speculate.ts" },
      format: "cjs",
      outExtension: { ".js": ".cjs" },
    }),
  ]);
  mkdirSync(OUT, { recursive: true });
  const tmp = `.${process.pid}.tmp`;
  const files = [...cli.outputFiles, ...task.outputFiles, ...reader.outputFiles];
  for (const f of files) {
    writeFileSync(f.path + tmp, f === cli.outputFiles[0] ? dynamicImports(f.text) : f.contents);
    // dated from the start of the build: a source saved during it makes the bundle stale
    utimesSync(f.path + tmp, started, started);
  }
  const inputs = [
    ...new Set([
      ...Object.keys(cli.metafile.inputs),
      ...Object.keys(task.metafile.inputs),
      ...Object.keys(reader.metafile.inputs),
    ]),
    "bin/inlineConsts.cjs", // (how the bundles are made, as this file)
  ].filter((f) => !f.startsWith("vmlab-lazy:") && !f.startsWith("vmlab-const:")); // (the plugins' modules are no files)
  writeFileSync(join(OUT, `inputs.json${tmp}`), JSON.stringify(inputs));
  renameSync(join(OUT, `inputs.json${tmp}`), join(OUT, "inputs.json"));
  for (const f of files) renameSync(f.path + tmp, f.path);
}

/**
 * commander's `require("node:child_process")` (for subcommands that are programs of their own,
 * which vmlab has none of) made lazy: loading node:child_process took ~0.9 ms of every start.
 * The module commander gets loads it at its first use.
 */
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (a) =>
      /[\\/]commander[\\/]/.test(a.importer) ? { path: "child_process", namespace: "vmlab-lazy" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "vmlab-lazy" }, () => ({
      contents:
        'let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= require("node:child_process"))[k] });',
      loader: "js",
      resolveDir: ROOT,
    }));
  },
};

/** package.json's packages but `inside`, and their subpaths: left to Node's loader (native ones among them). */
function packagesBut(inside) {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((n) => n !== inside);
  return names.flatMap((n) => [n, `${n}/*`]);
}

/**
 * The bundle's import() calls (of packages: esbuild bundles the sources' own modules) made
 * calls of the function loadBundle passes in: a script compiled by vm.Script can call
 * import() only through an experimental option of Node 20 that warns on every use.
 */
function dynamicImports(text) {
  const out = text.replace(/\bimport\(("[^"./][^"]*")\)/g, "__vmlab_import($1)");
  if (/\bimport\(/.test(out)) throw new Error("an import() the bundle cannot make"); // tsx then runs the sources
  return out;
}

/** The first 24 bytes of a cache: the bundle file it was made from (inode, size, mtime). */
function identity(st) {
  return Buffer.from(new Float64Array([st.ino, st.size, st.mtimeMs]).buffer);
}

/**
 * Compiles and runs the bundle with the code cache of `command`; returns its exports and
 * a function that writes the cache when there was none fit for use (called after the run,
 * so that the functions the command ran are in it). Null for a bundle not made as build()
 * makes it now (not wrapped in WRAP).
 */
function loadBundle(command) {
  const fd = openSync(BUNDLE, "r");
  let source;
  let id;
  try {
    id = identity(fstatSync(fd));
    source = readFileSync(fd, "latin1");
  } finally {
    closeSync(fd);
  }
  if (!source.startsWith(WRAP)) return null;
  const cacheFile = `${BUNDLE}.${command}.v8cache`;
  let cachedData;
  if (process.env.VMLAB_NO_CACHE !== "1") {
    try {
      const c = readFileSync(cacheFile);
      if (c.length > id.length && c.subarray(0, id.length).equals(id)) cachedData = c.subarray(id.length);
    } catch {
      // none yet
    }
  }
  const script = new vm.Script(source, { filename: BUNDLE, cachedData });
  mark("bundle compiled");
  const module = { exports: {} };
  // packages are found from bin/ as from .build/cli/ (both below the root's node_modules)
  const load = (specifier) => import(specifier);
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, OUT, load);
  mark("bundle run");
  const saveCache = () => {
    if (process.env.VMLAB_NO_CACHE === "1" || (cachedData !== undefined && !script.cachedDataRejected))
      return;
    // (a run that failed early compiled little: only a successful one writes a cache)
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, Buffer.concat([id, script.createCachedData()]));
      renameSync(tmp, cacheFile);
    } catch {
      // a read-only checkout: no cache, as before
    }
  };
  return { main: module.exports.main, saveCache };
}

/**
 * `vmlab trace FILE` in machine mode: the prestarted reading thread is given its body and the
 * job machine mode's raw path will ask for, now, so that zstd runs while this thread loads the
 * bundle and builds the simulation (src/workloads/trace/speculate.ts; issue #20, goal 1). The
 * CLI takes the job up if it asks for that one, else stops it; VMLAB_SPECULATE=0 turns it off.
 */
function speculateReading() {
  const w = globalThis.__vmlabReader;
  if (speculateFile === undefined || w === undefined) return;
  // (the package's own place first: require.resolve's search took ~0.6 ms of this thread)
  let zstd = join(ROOT, "node_modules", "zstd-napi", "binding.js");
  if (!existsSync(zstd))
    try {
      zstd = require.resolve("zstd-napi/binding.js", { paths: [ROOT] });
    } catch {
      zstd = null; // a zstd file is then not started here (nor read on the reading thread)
    }
  try {
    require(READER).speculate(w, speculateFile, zstd);
  } catch {
    // (it posts nothing unless it posts all: the CLI then gives the thread its body as before)
  }
}

/** Builds the bundle if it is stale, loads it (else the sources through tsx) and runs the command. */
async function start() {
  let main;
  let saveCache = () => {};
  if (process.env.VMLAB_TSX !== "1") {
    try {
      if (stale()) await build();
      mark("staleness checked");
      speculateReading();
      const args = process.argv.slice(2);
      // one cache per command (its first word): each holds the functions that command runs
      const command = /^[a-z]{1,16}$/.test(args[0] ?? "") ? args[0] : "other";
      let loaded = loadBundle(command);
      if (loaded === null) {
        await build(); // a bundle of an older launcher's making
        loaded = loadBundle(command);
      }
      ({ main, saveCache } = loaded);
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
  mark("main returned");
  if (process.exitCode === 0) saveCache();
}

// (main reports its own errors; this is for a failure of the launcher's, as an uncaught one)
start().catch((e) => {
  process.exitCode = 1;
  console.error(e);
});
