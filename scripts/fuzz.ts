/**
 * Mutation fuzzing of vmlab's inputs (docs/fuzzing.md):
 *
 *   npm run fuzz -- --target scenario|image|trace|ops [--seeds A..B] [--seconds N]
 *                   [--timeout MS] [--jobs N] [--max-mb N] [--out DIR]
 *
 * Each seed mutates one input of the corpus (examples/**\/*.vm for
 * `scenario`, examples/images/*.json for `image`, test/fuzz/corpus and
 * examples/traces for `trace`; for `ops` the parameters of one run of the
 * model-based process fuzz) deterministically, runs it as a child process
 * (`vmlab run FILE`, `vmlab walk --image FILE ...`, `vmlab trace FILE ...`,
 * scripts/fuzz-ops.ts FILE) with a timeout, and classifies the try:
 *
 * - accepted: exit 0 or 1 (1: an expectation failed), no stack trace;
 * - error: exit 2 with a message and no stack trace (a good error);
 * - crash: a stack trace, or an exit status other than 0, 1, 2 (3 is
 *   vmlab's "internal error"), or death by a signal;
 * - hang: still running at the timeout (killed).
 *
 * Every child reports its peak resident memory (scripts/fuzz-preload.mjs);
 * a try above --max-mb is counted as over memory. Crashes, hangs and tries
 * over memory are offenders: each is saved in the output folder (the input,
 * and a .txt with the command, status and stderr). The summary prints the
 * counts, the seeds run, the memory peak and the folder. Exit status 1 when
 * there is an offender, else 0.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Rng } from "../src/base/rng.ts";

const ROOT = resolve(import.meta.dirname, "..");
const PRELOAD = pathToFileURL(join(import.meta.dirname, "fuzz-preload.mjs")).href;
const BIN = join(ROOT, "bin", "vmlab.mjs");

/** What to fuzz: a corpus, a mutation, and the command a mutated input runs. */
export interface FuzzTarget {
  name: string;
  /** the file extension of an input */
  ext: string;
  /** the files mutations start from */
  corpus(): string[];
  /** how inputs are read and written: utf8 text, or latin1 (byte for byte: binary traces) */
  encoding?: "utf8" | "latin1";
  mutate(text: string, rng: Rng): string;
  /** node's arguments for one try over the input saved at `file` */
  command(file: string, rng: Rng): string[];
}

export type Outcome = "accepted" | "error" | "crash" | "hang";

export interface FuzzOptions {
  seeds: [number, number];
  /** stop starting tries after this many seconds */
  seconds: number;
  /** each try's limit, in milliseconds */
  timeoutMs: number;
  jobs: number;
  /** a try whose peak resident memory is above this is an offender */
  maxMb: number;
  /** where offenders go (created if missing) */
  out: string;
  /** progress lines; the summary is returned */
  log?: (line: string) => void;
}

export interface TryResult {
  seed: number;
  outcome: Outcome;
  code: number | null;
  signal: string | null;
  peakKb: number;
  ms: number;
  stderr: string;
}

export interface FuzzSummary {
  target: string;
  counts: Record<Outcome, number>;
  overMemory: number;
  /** tries that ran past the timeout once and were run again with three times as long */
  hangsRetried: number;
  /** the seeds run: first..last (the time budget may stop before the end) */
  ran: number;
  firstSeed: number;
  lastSeed: number;
  peakKb: number;
  peakSeed: number;
  offenders: { seed: number; outcome: string; file: string }[];
  out: string;
  tries: TryResult[];
}

/** A stack trace line, as Node prints an uncaught exception's. */
const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

/** The class of one try, from how its process ended. */
export function classify(r: {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
}): Outcome {
  if (r.timedOut) return "hang";
  if (r.signal !== null || STACK.test(r.stderr)) return "crash";
  if (r.code === 0 || r.code === 1) return "accepted";
  if (r.code === 2 && r.stderr.trim() !== "") return "error";
  return "crash";
}

// ---- mutation ----

const pick = <T>(rng: Rng, a: readonly T[]): T => a[rng.below(a.length)];

/** Pieces that reach the corners of the scenario language. */
const SCENARIO_WORDS = [
  "machine ram=32M",
  "machine ram=64G swap=64G",
  "machine cpus=64",
  "spawn A",
  "A: m = mmap 16T",
  "A: m = mmap 4K",
  "A: write m 4M",
  "A: read 0xffffffffffffffff 2",
  "A: munmap m 1T",
  "kernel: read 0",
  "expect rss(A, m 16T) >= 0",
  "expect present(kernel, 0 0xffffffffffffffff) >= 0",
  "file f size=1T cached",
  "file g size=1T fs=tmpfs",
  "let x = 1",
  "pfn(A, ",
  "rss(",
  ")",
  "(",
  ",",
  "+",
  "-",
  "=",
  "==",
  ">=",
  ":",
  "@",
  "16T",
  "0x",
  "0xffffffffffffffff",
  "18446744073709551616",
  "1p",
  "4KiB",
  "_",
  '"',
  '"x y"',
  "#",
  "\t",
  "\r",
  "\u0000",
  "\u001b[2J",
  "é",
  "\u{1f642}",
  "\ud800",
];

function mutateText(text: string, rng: Rng, words: readonly string[]): string {
  let t = text;
  const n = 1 + rng.below(4);
  for (let k = 0; k < n; k++) {
    const at = rng.below(t.length + 1);
    switch (rng.below(9)) {
      case 0: // delete a span
        t = t.slice(0, at) + t.slice(at + rng.below(40));
        break;
      case 1: // insert a word
        t = `${t.slice(0, at)}${pick(rng, words)}${t.slice(at)}`;
        break;
      case 2: // insert a line
        t = `${t.slice(0, at)}\n${pick(rng, words)}\n${t.slice(at)}`;
        break;
      case 3: // a word repeated many times (long chains, deep nesting, long tokens)
        t = `${t.slice(0, at)}${pick(rng, words).repeat(1 + rng.below(20_000))}${t.slice(at)}`;
        break;
      case 4: // a random character
        t = `${t.slice(0, at)}${String.fromCharCode(rng.below(0x80))}${t.slice(at + 1)}`;
        break;
      case 5: {
        // a number made extreme
        const m = /[0-9]+[KMGTp]?/g;
        const nums = [...t.matchAll(m)];
        if (nums.length === 0) break;
        const x = pick(rng, nums);
        const extreme = pick(rng, [
          "0",
          "1",
          "4095",
          "16T",
          "0xffffffffffffffff",
          "99999999999999999999",
          "1p",
          "64G",
        ]);
        t = t.slice(0, x.index) + extreme + t.slice(x.index + x[0].length);
        break;
      }
      case 6: {
        // two lines swapped
        const lines = t.split("\n");
        const i = rng.below(lines.length);
        const j = rng.below(lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        t = lines.join("\n");
        break;
      }
      case 7: // a span duplicated
        t = t.slice(0, at) + t.slice(at, at + rng.below(200)).repeat(2 + rng.below(50)) + t.slice(at);
        break;
      default: // truncated
        t = t.slice(0, at);
    }
  }
  return t;
}

/** Values that reach the corners of the image reader. */
function wildValue(rng: Rng): unknown {
  switch (rng.below(12)) {
    case 0:
      return "f".repeat(rng.below(200_000));
    case 1:
      return 2 ** 64;
    case 2:
      return -1;
    case 3:
      return 0.5;
    case 4:
      return null;
    case 5:
      return JSON.parse('{"__proto__": {"cr3": 1}}');
    case 6:
      return pick(rng, [
        "0xffffffffffffffff",
        "0x1ffffffffffffffff",
        `0x${"0".repeat(1000)}1`,
        "",
        "0x",
        "-0x1",
      ]);
    case 7:
      return "67".repeat(rng.below(5000)) + pick(rng, ["", "6", "zz", " \n", "\u0000"]);
    case 8:
      return [];
    case 9:
      return {};
    case 10:
      return pick(rng, ["x86_64", "x86_64-la57", "arm64", "i386", "riscv-sv39", ""]);
    default:
      return rng.below(64);
  }
}

const DEEP = "@@fuzz-deep@@";

function mutateJson(text: string, rng: Rng): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return mutateText(text, rng, ["[", "]", "{", "}", ",", ":", '"', "null", "1e999", "\\u0000"]);
  }
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        nodes.push({ parent: v, key: i });
        walk(x);
      });
    } else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        nodes.push({ parent: o, key: k });
        walk(o[k]);
      }
    }
  };
  walk(doc);
  const n = 1 + rng.below(3);
  for (let k = 0; k < n && nodes.length > 0; k++) {
    const { parent, key } = pick(rng, nodes);
    const at = parent as Record<string | number, unknown>;
    switch (rng.below(10)) {
      case 0:
      case 5:
      case 6:
        at[key] = wildValue(rng);
        break;
      case 1:
      case 8:
      case 9:
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete at[key];
        break;
      case 2:
        if (!Array.isArray(parent))
          at[pick(rng, ["__proto__", "constructor", "toString", "regs", "memory", "x"])] = wildValue(rng);
        break;
      case 3:
        if (Array.isArray(parent)) {
          // many copies of the first item, at most about 4 MB of them
          const one = JSON.stringify(parent[0] ?? 0).length + 1;
          for (let r = Math.min(rng.below(20_000), Math.floor(4e6 / one)); r > 0; r--)
            parent.push(structuredClone(parent[0] ?? 0));
        }
        break;
      case 4:
        at[key] = DEEP; // nested arrays, put in the text below (JSON.stringify would recurse)
    }
  }
  const depth = 1 + (rng.below(3) ? rng.below(64) : rng.below(10_000));
  const out = JSON.stringify(doc, null, rng.below(2) ? 2 : undefined).replaceAll(
    JSON.stringify(DEEP),
    `${"[".repeat(depth)}${"]".repeat(depth)}`,
  );
  // sometimes, text damage on top (deep nesting, truncation)
  return rng.below(3) === 0
    ? mutateText(out, rng, ["[", "]", "{", "}", ",", ":", '"', "[[[[[[[[[[", "\\ud800"])
    : out;
}

/** Words that reach the corners of the text trace readers (latin1 only: the trace target is byte for byte). */
const TRACE_WORDS = [
  "I  0401ab70,3",
  " L 1fff000768,8",
  " S ffffffffffffffff,8",
  " M 0,4096",
  " L 1fff000768,",
  " L ,8",
  " X 1000,8",
  "==1== ",
  "0xffffffffffffffff W",
  "0x1ffffffffffffffff",
  "99999999999999999999",
  "-1",
  "0x",
  "R",
  "W X",
  "#",
  ",",
  ",,,,",
  "1e9",
  "\t",
  "\r",
  "\u0000",
  "\u00ff\u00fe",
  "\u001f\u008b\u0008",
  "(\u00b5/\u00fd",
];

/** A binary trace damaged: bytes flipped, records made extreme, spans cut, repeated or truncated mid-record. */
function mutateBytes(bytes: string, rng: Rng): string {
  let b = bytes;
  const n = 1 + rng.below(4);
  for (let k = 0; k < n; k++) {
    const at = rng.below(b.length + 1);
    switch (rng.below(7)) {
      case 0: // one byte changed (in a compressed stream: its header, data or checksum)
        b = `${b.slice(0, at)}${String.fromCharCode(rng.below(256))}${b.slice(at + 1)}`;
        break;
      case 1: // a record made extreme: all ones, or zero
        b = `${b.slice(0, at - (at % 8))}${(rng.below(2) ? "\u00ff" : "\u0000").repeat(8)}${b.slice(at - (at % 8) + 8)}`;
        break;
      case 2: // truncated, mostly not on a record boundary
        b = b.slice(0, at);
        break;
      case 3: // a span deleted
        b = b.slice(0, at) + b.slice(at + rng.below(64));
        break;
      case 4: // a span repeated many times (a long trace, or garbage after the end)
        b = b.slice(0, at) + b.slice(at, at + 1 + rng.below(64)).repeat(1 + rng.below(20_000)) + b.slice(at);
        break;
      case 5: // random bytes inserted
        b =
          b.slice(0, at) +
          Array.from({ length: 1 + rng.below(32) }, () => String.fromCharCode(rng.below(256))).join("") +
          b.slice(at);
        break;
      default: // a text trace's words in a binary one
        b = `${b.slice(0, at)}${pick(rng, TRACE_WORDS)}\n${b.slice(at)}`;
    }
  }
  return b;
}

/** The parameters of one run of the random-operation fuzz (test/fuzz/processModel.ts), drawn from the seed. */
function mutateOps(text: string, rng: Rng): string {
  const base = JSON.parse(text) as Record<string, unknown>;
  const pressure = rng.below(3) === 0;
  return JSON.stringify({
    ...base,
    seed: rng.below(0x7fffffff),
    steps: 100 + rng.below(pressure ? 200 : 500),
    pcid: rng.below(2) === 0,
    thp: rng.below(4) === 0,
    pressure,
    policy: pressure ? pick(rng, ["linux", "mglru", "clock", "fifo", "lru", "random"]) : "linux",
    pti: rng.below(4) === 0,
  });
}

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, ext));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

export const TARGETS: Record<string, FuzzTarget> = {
  scenario: {
    name: "scenario",
    ext: ".vm",
    corpus: () => files(join(ROOT, "examples"), ".vm"),
    mutate: (text, rng) => mutateText(text, rng, SCENARIO_WORDS),
    command: (file) => [BIN, "run", file],
  },
  image: {
    name: "image",
    ext: ".json",
    corpus: () => files(join(ROOT, "examples", "images"), ".json"),
    mutate: mutateJson,
    command: (file, rng) => [
      BIN,
      "walk",
      "--image",
      file,
      "--va",
      pick(rng, [
        "0x400000",
        "0x401000",
        "0",
        "0xffffffffffffffff",
        "0xffff888000001000",
        "0x1ffffffffffffffff",
        "x",
      ]),
      "--access",
      pick(rng, ["read", "write", "exec", "read-unpriv", "jump"]),
      "--json",
    ],
  },
  trace: {
    name: "trace",
    ext: ".trace",
    encoding: "latin1",
    corpus: () =>
      [
        ...files(join(ROOT, "test", "fuzz", "corpus"), ""),
        join(ROOT, "examples", "traces", "hotcold.u64.gz"),
      ].filter((f) => !f.endsWith(".json")),
    mutate: (bytes, rng) =>
      /^[\t\n\r -~]*$/.test(bytes.slice(0, 512)) && rng.below(4) !== 0
        ? mutateText(bytes, rng, TRACE_WORDS)
        : mutateBytes(bytes, rng),
    command: (file, rng) => [
      BIN,
      "trace",
      file,
      "--format",
      rng.below(4) === 0 ? pick(rng, ["bin", "lackey", "text", "refs"]) : "auto",
      ...pick(rng, [
        ["--frames", "64"],
        ["--mode", "policy", "--policy", pick(rng, ["opt", "arc", "lirs", "lru", "clock"]), "--frames", "8"],
        ["--pager", "linux", "--frames", "64"],
        ["--frames", "16", "--mrc"],
        ["--page", "2m", "--frames", "1024"],
        ["--frames", "64", "--data-only", "--tlb", "tiny"],
      ]),
    ],
  },
  ops: {
    name: "ops",
    ext: ".json",
    corpus: () => [join(ROOT, "test", "fuzz", "corpus", "ops.json")],
    mutate: mutateOps,
    command: (file) => ["--import", "tsx", join(ROOT, "scripts", "fuzz-ops.ts"), file],
  },
};

// ---- running ----

function runOne(
  args: string[],
  timeoutMs: number,
): Promise<{
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
  peakKb: number;
  ms: number;
}> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--import", PRELOAD, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      if (stderr.length < 1 << 20) stderr += s;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      let peakKb = 0;
      stderr = stderr.replace(/\n@@fuzz-maxrss-kb (\d+)\n/g, (_, kb: string) => {
        peakKb = Math.max(peakKb, Number(kb));
        return "";
      });
      done({ code, signal: timedOut ? null : signal, timedOut, stderr, peakKb, ms: performance.now() - t0 });
    });
  });
}

/** Runs seeds first..last of a target (or until the time budget ends) and saves the offenders. */
export async function fuzz(target: FuzzTarget, o: FuzzOptions): Promise<FuzzSummary> {
  const encoding = target.encoding ?? "utf8";
  const corpus = target.corpus().map((f) => readFileSync(f, encoding));
  if (corpus.length === 0) throw new Error(`fuzz: the ${target.name} corpus is empty`);
  mkdirSync(o.out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), `vmlab-fuzz-${target.name}-`));
  const s: FuzzSummary = {
    target: target.name,
    counts: { accepted: 0, error: 0, crash: 0, hang: 0 },
    overMemory: 0,
    hangsRetried: 0,
    ran: 0,
    firstSeed: o.seeds[0],
    lastSeed: o.seeds[0] - 1,
    peakKb: 0,
    peakSeed: -1,
    offenders: [],
    out: o.out,
    tries: [],
  };
  const deadline = performance.now() + o.seconds * 1000;
  let next = o.seeds[0];
  const worker = async () => {
    while (next <= o.seeds[1] && performance.now() < deadline) {
      const seed = next++;
      const rng = new Rng(seed);
      let input: string;
      try {
        input = target.mutate(corpus[rng.below(corpus.length)], rng);
      } catch (e) {
        o.log?.(`seed ${seed}: the mutation failed (${(e as Error).message}); skipped`);
        continue;
      }
      const file = join(work, `${seed}${target.ext}`);
      writeFileSync(file, input, encoding);
      const args = target.command(file, rng);
      let r = await runOne(args, o.timeoutMs);
      if (r.timedOut) {
        // a busy machine can stall a try: a hang counts only if it also outlasts three times the limit
        s.hangsRetried++;
        r = await runOne(args, o.timeoutMs * 3);
      }
      const outcome = classify(r);
      const t: TryResult = {
        seed,
        outcome,
        code: r.code,
        signal: r.signal,
        peakKb: r.peakKb,
        ms: r.ms,
        stderr: r.stderr,
      };
      s.tries.push(t);
      s.counts[outcome]++;
      s.ran++;
      s.lastSeed = Math.max(s.lastSeed, seed);
      if (r.peakKb > s.peakKb) {
        s.peakKb = r.peakKb;
        s.peakSeed = seed;
      }
      const over = r.peakKb > o.maxMb * 1024;
      if (over) s.overMemory++;
      if (outcome === "crash" || outcome === "hang" || over) {
        const kind = outcome === "crash" || outcome === "hang" ? outcome : "memory";
        const saved = join(o.out, `${target.name}-${seed}-${kind}${target.ext}`);
        writeFileSync(saved, input, encoding);
        const shown = args.map((a) => (a === file ? saved : a));
        writeFileSync(
          `${saved}.txt`,
          `seed ${seed}: ${kind}\ncommand: node ${shown.map((a) => relative(ROOT, a) || a).join(" ")}\nexit ${r.code} signal ${r.signal} timed out ${r.timedOut} peak ${(r.peakKb / 1024).toFixed(0)} MB ${r.ms.toFixed(0)} ms\n--- stderr (start)\n${r.stderr.slice(0, 4000)}\n`,
        );
        s.offenders.push({ seed, outcome: kind, file: saved });
        o.log?.(`seed ${seed}: ${kind} (saved ${saved})`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  s.tries.sort((a, b) => a.seed - b.seed);
  return s;
}

export function formatSummary(s: FuzzSummary): string {
  const c = s.counts;
  return [
    `fuzz ${s.target}: seeds ${s.firstSeed}..${s.lastSeed} (${s.ran} tries)`,
    `  accepted ${c.accepted}, good errors ${c.error}, crashes ${c.crash}, hangs ${c.hang}, over memory ${s.overMemory}${s.hangsRetried ? ` (${s.hangsRetried} tries past the timeout run again)` : ""}`,
    `  memory peak ${(s.peakKb / 1024).toFixed(0)} MB (seed ${s.peakSeed})`,
    `  offenders: ${s.offenders.length}${s.offenders.length ? ` in ${s.out}` : ""}`,
    ...s.offenders.map((f) => `    seed ${f.seed}: ${f.outcome}: ${f.file}`),
  ].join("\n");
}

function parseArgs(argv: string[]): { target: FuzzTarget; opts: FuzzOptions } {
  const get = (flag: string, dflt: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
  };
  const bad = (msg: string): never => {
    process.stderr.write(`fuzz: ${msg}\n`);
    process.exit(2);
  };
  const name = get("--target", "");
  const target = TARGETS[name] ?? bad(`--target must be ${Object.keys(TARGETS).join(" or ")}, not '${name}'`);
  const m = /^(\d+)\.\.(\d+)$/.exec(get("--seeds", "1..100"));
  if (!m || Number(m[1]) > Number(m[2])) bad("--seeds is A..B, A <= B");
  const num = (flag: string, dflt: string): number => {
    const v = Number(get(flag, dflt));
    return Number.isFinite(v) && v > 0 ? v : bad(`${flag} must be a positive number`);
  };
  return {
    target,
    opts: {
      seeds: [Number(m![1]), Number(m![2])],
      seconds: num("--seconds", "60"),
      timeoutMs: num("--timeout", "10000"),
      jobs: num("--jobs", "1"),
      maxMb: num("--max-mb", "1024"),
      out: resolve(get("--out", join(tmpdir(), `vmlab-fuzz-offenders-${Date.now()}`))),
      log: (line) => process.stderr.write(`${line}\n`),
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { target, opts } = parseArgs(process.argv.slice(2));
  const s = await fuzz(target, opts);
  process.stdout.write(`${formatSummary(s)}\n`);
  process.exitCode = s.offenders.length > 0 ? 1 : 0;
}
