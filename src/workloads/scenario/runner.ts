import { dirname, isAbsolute, join } from "node:path";
import { ModelBug } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { Access, accessName } from "../../hw/access.ts";
import type { HwEvent } from "../../hw/x86_64/Cpu.ts";
import { Pte } from "../../hw/x86_64/pte.ts";
import { coreDump, DEFAULT_COREDUMP_FILTER } from "../../kernel/coredump.ts";
import { explainAccess } from "../../kernel/explain.ts";
import { checkInvariants } from "../../kernel/invariants.ts";
import { Kernel, kindName } from "../../kernel/Kernel.ts";
import { formatLayout } from "../../kernel/layout.ts";
import { Gfp, parseGfp } from "../../kernel/mm/gfp.ts";
import { PageFlag, PageKind } from "../../kernel/mm/PageDesc.ts";
import { KMALLOC_MAX_CACHE_SIZE, kmallocIndex } from "../../kernel/mm/slab.ts";
import { PTE_GUARD } from "../../kernel/mm/userMm.ts";
import { formatFrames, formatMeminfo, meminfo } from "../../kernel/proc.ts";
import {
  countPages,
  lockedPages,
  pageState,
  pagetableLines,
  procMaps,
  procSmaps,
} from "../../kernel/procfs.ts";
import type { Task } from "../../kernel/task.ts";
import { px } from "../../kernel/vaddr.ts";
import { decodeAll, TRACE_FORMATS, type TraceFormat } from "../trace/formats.ts";
import { readTraceFileSync } from "../trace/input.ts";
import type { AddrExpr, Expr, Pos, Stmt, Word } from "./ast.ts";
import { machineSettings } from "./machineConfig.ts";
import { parseLine, parseScenario } from "./parser.ts";

/** What one statement did. */
export interface StatementResult {
  line: number;
  text: string;
  /** what happened, one or more lines (oops reports, show output, values) */
  output: string[];
}

export interface ExpectResult {
  line: number;
  text: string;
  ok: boolean;
  actual: string;
  expected: string;
}

export interface RunResult {
  file: string;
  machine: Record<string, string>;
  statements: StatementResult[];
  expectations: ExpectResult[];
  passed: number;
  failed: number;
  /** set when the machine panicked: statements after it did not run */
  halted: string | null;
  metrics: Record<string, string>;
  exitCode: 0 | 1;
}

export interface RunOptions {
  file?: string;
  /** record every access, TLB lookup and walk step in the statements' output */
  trace?: boolean;
  /** run the invariant checker after every statement (a broken invariant is a vmlab bug) */
  checkInvariants?: boolean;
}

type Value = bigint | string;

/** Statements of the language that later versions of vmlab add. */
const LATER = new Set([
  "spawn",
  "fork",
  "exit",
  "kthread",
  "switch",
  "mmap",
  "munmap",
  "mprotect",
  "madvise",
  "mlock",
  "munlock",
  "brk",
  "mremap",
  "VirtualAlloc",
  "VirtualFree",
  "VirtualProtect",
  "exec",
  "catch",
  "setuid",
  "explain",
]);

const MADVICE = [
  "dontneed",
  "free",
  "willneed",
  "pageout",
  "cold",
  "random",
  "sequential",
  "normal",
  "hugepage",
  "nohugepage",
  "dontfork",
  "dofork",
  "wipeonfork",
  "keeponfork",
  "dontdump",
  "dodump",
  "guard_install",
  "guard_remove",
  "populate_read",
  "populate_write",
];

/** At most this many touches in one statement (ranges, replays). */
const MAX_TOUCHES = 1_000_000;

const KERNEL_VERBS = new Set([
  "kmalloc",
  "kfree",
  "vmalloc",
  "vfree",
  "alloc_pages",
  "free_pages",
  "read",
  "write",
  "copy_from_user",
  "copy_to_user",
  "clear_user",
  "get_user",
  "put_user",
  "strncpy_from_user",
]);
/** uaccess statements: the arguments after P, as the usage line names them */
const UACCESS_ARGS: Record<string, string> = {
  copy_from_user: "BUF SIZE",
  copy_to_user: "BUF SIZE",
  clear_user: "BUF SIZE",
  get_user: "ADDR",
  put_user: "ADDR VALUE",
  strncpy_from_user: "SRC COUNT",
};
const SHOW_WHAT = ["layout", "buddyinfo", "slabinfo", "meminfo", "frames", "stats", "vmstat", "tlb"];
const LEVELS: Record<string, number> = {
  pt: 0,
  pd: 1,
  pdpt: 2,
  pml4: 3,
  pml5: 4,
  pte: 0,
  pmd: 1,
  pud: 2,
  p4d: 3,
  pgd: 4,
};

/** The runtime a compiled step sees. */
class Runtime {
  readonly vars = new Map<string, bigint>();
  readonly procs = new Map<string, Task>();
  /** where each process died, for error messages */
  readonly deaths = new Map<string, number>();
  readonly rng: Rng;
  out: string[] = [];

  constructor(
    readonly kernel: Kernel,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }
}

type Eval = (rt: Runtime) => Value;

/**
 * Runs a scenario: parses it all, checks every statement (syntax, known
 * statements and options, variables defined before use), boots the machine,
 * then executes. Invalid input throws InputError (FILE:LINE:COL) before
 * anything runs; a failed expectation does not stop the run.
 */
export function runScenario(source: string, opts: RunOptions = {}): RunResult {
  const file = opts.file ?? "<scenario>";
  const stmts = parseScenario(source, file);
  const machineStmt = stmts.find((s) => s.verb === "machine" && s.prefix === null) ?? null;
  if (machineStmt && stmts[0] !== machineStmt)
    throw new InputError("'machine' must come before any other statement", { file, ...machineStmt.pos });
  const session = new Session(opts);
  // every statement is checked before anything runs
  const steps = stmts
    .filter((s) => s !== machineStmt)
    .map((s) => ({ stmt: s, run: session.compiler.compile(s) }));
  session.boot(machineStmt);
  for (const step of steps) {
    if (!session.execute(step.stmt, step.run)) break;
  }
  return session.finish();
}

/**
 * A running scenario: the machine, the variables and processes, the
 * results so far. `vmlab run` compiles a whole file first, then executes;
 * the REPL compiles and executes one line at a time (`feed`).
 */
export class Session {
  readonly compiler: Compiler;
  readonly file: string;
  private rt: Runtime | null = null;
  readonly result: RunResult;

  constructor(private readonly opts: RunOptions = {}) {
    this.file = opts.file ?? "<scenario>";
    this.compiler = new Compiler(this.file);
    this.result = {
      file: this.file,
      machine: {},
      statements: [],
      expectations: [],
      passed: 0,
      failed: 0,
      halted: null,
      metrics: {},
      exitCode: 0,
    };
    this.compiler.expectations = this.result.expectations;
  }

  get kernel(): Kernel | null {
    return this.rt?.kernel ?? null;
  }

  get booted(): boolean {
    return this.rt !== null;
  }

  /** Boots the machine of a `machine` statement (or the defaults). */
  boot(machineStmt: Stmt | null): StatementResult | null {
    const settings = machineSettings(machineStmt, this.file);
    const kernel = new Kernel(settings.kernel);
    const rt = new Runtime(kernel, settings.seed);
    this.rt = rt;
    this.result.machine = settings.effective;
    if (this.opts.trace) {
      for (const cpu of kernel.machine.cpus) cpu.tracer = (e) => rt.out.push(`  trace: ${formatEvent(e)}`);
    }
    if (!machineStmt) return null;
    const m = meminfo(kernel);
    const r = {
      line: machineStmt.pos.line,
      text: machineStmt.text.trim(),
      output: [
        `booted: ${mib(settings.kernel.ramBytes)} RAM, ${settings.kernel.cpus} CPU${settings.kernel.cpus === 1 ? "" : "s"}, ${kernel.levels}-level paging; MemTotal ${mib(m.MemTotal)}, MemFree ${mib(m.MemFree)}`,
      ],
    };
    this.result.statements.push(r);
    return r;
  }

  /** Runs a compiled statement. Returns false when the machine has halted (nothing more runs). */
  execute(stmt: Stmt, run: (rt: Runtime) => void): boolean {
    const rt = this.rt!;
    const kernel = rt.kernel;
    if (kernel.panicked !== null) {
      this.result.halted = `Kernel panic - not syncing: ${kernel.panicked}`;
      return false;
    }
    rt.out = [];
    if (kernel.machine.checker) kernel.machine.checker.tag = `line ${stmt.pos.line}`;
    const ooms = kernel.oomReports.length;
    run(rt);
    // the OOM killer's reports, as the kernel logs them, before what the statement printed
    if (kernel.oomReports.length > ooms) rt.out.unshift(...kernel.oomReports.slice(ooms));
    this.result.statements.push({ line: stmt.pos.line, text: stmt.text.trim(), output: rt.out });
    if (this.opts.checkInvariants) {
      const problems = checkInvariants(kernel);
      if (problems.length)
        throw new ModelBug(
          `invariants broken after line ${stmt.pos.line}: ${problems.slice(0, 5).join("; ")}`,
        );
    }
    return true;
  }

  /**
   * The REPL's step: parse, check and run one line. Returns what it did
   * (null for a blank line); an invalid line throws InputError and changes
   * nothing that ran.
   */
  feed(text: string, line: number): StatementResult | null {
    const stmt = parseLine(text, this.file, line);
    if (stmt === null) return null;
    if (stmt.verb === "machine" && stmt.prefix === null) {
      if (this.booted)
        throw new InputError("the machine is already running ('machine' must be the first statement)", {
          file: this.file,
          ...stmt.pos,
        });
      return this.boot(stmt);
    }
    const run = this.compiler.compile(stmt);
    if (!this.booted) this.boot(null);
    if (this.kernel!.panicked !== null)
      throw new InputError(`the machine has halted: Kernel panic - not syncing: ${this.kernel!.panicked}`, {
        file: this.file,
        ...stmt.pos,
      });
    this.execute(stmt, run);
    return this.result.statements.at(-1)!;
  }

  /** Final counts and metrics. */
  finish(): RunResult {
    const result = this.result;
    const kernel = this.rt!.kernel;
    if (kernel.panicked !== null) result.halted = `Kernel panic - not syncing: ${kernel.panicked}`;
    for (const cpu of kernel.machine.cpus) cpu.tracer = null;
    result.passed = result.expectations.filter((e) => e.ok).length;
    result.failed = result.expectations.length - result.passed;
    result.exitCode = result.failed > 0 ? 1 : 0;
    const m = meminfo(kernel);
    result.metrics = {
      oops: String(kernel.oopses.length),
      "meminfo.MemTotal": String(m.MemTotal),
      "meminfo.MemFree": String(m.MemFree),
      "meminfo.Slab": String(m.Slab),
      "meminfo.VmallocUsed": String(m.VmallocUsed),
      "tlb.hits": String(sumCpus(kernel, (c) => c.tlb.hits.reduce((a, b) => a + b, 0))),
      "tlb.misses": String(sumCpus(kernel, (c) => c.walks)),
    };
    for (const [k, v] of this.rt!.vars) result.metrics[k] = formatValue(v);
    return result;
  }
}

function sumCpus(k: Kernel, f: (c: Kernel["machine"]["cpus"][number]) => number): number {
  return k.machine.cpus.reduce((n, c) => n + f(c), 0);
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(bytes % 1048576 === 0 ? 0 : 1)} MiB`;
}

export function formatValue(v: Value): string {
  if (typeof v === "string") return v;
  return v < 0n ? String(v) : v >= 0x10000n ? `0x${v.toString(16)}` : String(v);
}

function formatEvent(e: HwEvent): string {
  switch (e.type) {
    case "tlb":
      return `cpu${e.cpu} TLB ${e.hit ? `hit (L${e.level + 1})` : "miss"} vpn 0x${e.vpn.toString(16)} ${accessName(e.access)}`;
    case "walk-step":
      return `cpu${e.cpu}   walk level ${e.level} [${e.index}] entry @0x${e.entryPa.toString(16)} = 0x${e.hi.toString(16).padStart(8, "0")}${e.lo.toString(16).padStart(8, "0")}${e.psc ? " (from the paging-structure cache)" : ""}`;
    case "fault":
      return `cpu${e.cpu} fault vector ${e.vector} error_code 0x${e.errorCode.toString(16)}`;
    case "invalidate":
      return `cpu${e.cpu} ${e.op} pcid ${e.pcid} (${e.entries} entries)`;
    case "ad-write":
      return `cpu${e.cpu}   A/D update @0x${e.entryPa.toString(16)}`;
  }
}

/** Turns statements into steps, checking everything that can be checked before running. */
class Compiler {
  private readonly defined = new Set<string>();
  /** processes and kernel threads named so far, with their kind */
  private readonly procs = new Map<string, "user" | "kthread">();
  /** files created so far (names checked at compile time) */
  private readonly files = new Set<string>();
  /** devices registered so far */
  private readonly devices = new Set<string>();
  expectations: ExpectResult[] = [];

  constructor(private readonly file: string) {}

  private fail(msg: string, pos: Pos): never {
    throw new InputError(msg, { file: this.file, ...pos });
  }

  compile(s: Stmt): (rt: Runtime) => void {
    if (s.verb === "machine") this.fail("'machine' may appear only once, as the first statement", s.verbPos);
    if (s.prefix?.kind === "process") return this.processStmt(s, s.prefix.name, s.prefix.pos);
    if (s.prefix?.kind === "kernel") return this.kernelStmt(s, s.prefix.cpu);
    switch (s.verb) {
      case "spawn":
        return this.spawnStmt(s);
      case "kthread":
        return this.kthreadStmt(s);
      case "switch":
        return this.switchStmt(s);
      case "explain":
        return this.explainStmt(s);
      case "file":
        return this.fileStmt(s);
      case "device":
        return this.deviceStmt(s);
      case "reclaim":
      case "kswapd":
        return this.reclaimStmt(s);
      case "let": {
        const ev = this.expr(s.expr!);
        const name = s.target!.name;
        this.defined.add(name);
        return (rt) => {
          const v = ev(rt);
          if (typeof v !== "bigint") this.fail(`let ${name}: the value '${v}' is not a number`, s.expr!.pos);
          rt.vars.set(name, v);
          rt.out.push(`${name} = ${formatValue(v)}`);
        };
      }
      case "expect":
        return this.expectStmt(s);
      case "show":
        return this.showStmt(s);
    }
    if (KERNEL_VERBS.has(s.verb))
      this.fail(
        `'${s.verb}' needs a prefix: 'kernel: ${s.verb} ...' (or 'P: ${s.verb} ...' for a process)`,
        s.verbPos,
      );
    if (LATER.has(s.verb))
      this.fail(`statement '${s.verb}' is not supported by this version of vmlab yet`, s.verbPos);
    return this.fail(`unknown statement '${s.verb}'`, s.verbPos);
  }

  // ---- words ----

  private opts(s: Stmt, allowed: string[]): Map<string, Word & { kind: "kv" }> {
    const m = new Map<string, Word & { kind: "kv" }>();
    for (const w of s.words) {
      if (w.kind !== "kv") continue;
      if (!allowed.includes(w.key))
        this.fail(
          `'${s.verb}' has no option '${w.key}'${allowed.length ? ` (options: ${allowed.join(", ")})` : ""}`,
          w.pos,
        );
      if (m.has(w.key)) this.fail(`option '${w.key}' given twice`, w.pos);
      m.set(w.key, w as Word & { kind: "kv" });
    }
    return m;
  }

  /** Positional address/size arguments, each an expression whose variables are defined. */
  private exprArgs(ws: (Word & { kind: "arg" })[]): AddrExpr[] {
    return ws.map((w) => {
      if (w.expr === null) this.fail("expected an address or size", w.pos);
      this.useVars(w.expr);
      return w.expr;
    });
  }

  private args(s: Stmt, min: number, max: number, what: string): AddrExpr[] {
    const a = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
    if (a.length < min)
      this.fail(
        `'${s.verb}' needs ${what}`,
        a.length ? a[a.length - 1].pos : { line: s.pos.line, col: s.verbPos.col + s.verb.length + 1 },
      );
    if (a.length > max) this.fail(`too many arguments to '${s.verb}' (expected ${what})`, a[max].pos);
    return a.map((w) => {
      if (w.expr === null) this.fail(`expected an address or size, not '${w.ident}'`, w.pos);
      if (w.expr.base === null && w.expr.offset < 0n)
        this.fail(`a size or address cannot be negative (${w.expr.offset})`, w.pos);
      this.useVars(w.expr);
      return w.expr;
    });
  }

  private useVars(e: AddrExpr): void {
    if (e.base !== null && !this.defined.has(e.base)) this.fail(`undefined variable '${e.base}'`, e.pos);
  }

  private value(e: AddrExpr, rt: Runtime, what: string): bigint {
    const base = e.base === null ? 0n : rt.vars.get(e.base)!;
    const v = base + e.offset;
    if (v < 0n) this.fail(`${what} is negative (${v})`, e.pos);
    if (v >= 1n << 64n) this.fail(`${what} does not fit in 64 bits`, e.pos);
    return v;
  }

  private size(e: AddrExpr, rt: Runtime, what = "the size"): number {
    const v = this.value(e, rt, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is too large`, e.pos);
    return Number(v);
  }

  private numOpt(w: (Word & { kind: "kv" }) | undefined, rt: Runtime): number | null {
    if (!w) return null;
    if (!w.value || (w.value.base !== null && !rt.vars.has(w.value.base)))
      this.fail(`${w.key}= needs a number`, w.valuePos);
    return this.size(w.value, rt, w.key);
  }

  private assign(s: Stmt, rt: Runtime, v: bigint, note: string): void {
    if (s.target) {
      rt.vars.set(s.target.name, v);
      rt.out.push(`${s.target.name} = ${formatValue(v)}${note ? ` ${note}` : ""}`);
    } else rt.out.push(`${formatValue(v)}${note ? ` ${note}` : ""}`);
  }

  // ---- kernel: statements ----

  private kernelStmt(s: Stmt, cpuId: number): (rt: Runtime) => void {
    if (!KERNEL_VERBS.has(s.verb)) {
      if (LATER.has(s.verb))
        this.fail(`kernel statement '${s.verb}' is not supported by this version of vmlab yet`, s.verbPos);
      this.fail(`unknown kernel statement '${s.verb}' (known: ${[...KERNEL_VERBS].join(", ")})`, s.verbPos);
    }
    const needsTarget =
      s.verb === "kmalloc" || s.verb === "vmalloc" || s.verb === "alloc_pages" || s.verb in UACCESS_ARGS;
    if (s.target && !needsTarget) this.fail(`'${s.verb}' returns nothing to assign`, s.target.pos);
    const checkCpu = (rt: Runtime) => {
      if (cpuId >= rt.kernel.machine.cpus.length)
        this.fail(
          `CPU ${cpuId} does not exist (the machine has ${rt.kernel.machine.cpus.length})`,
          s.prefix!.pos,
        );
    };
    const target = s.target?.name;
    const define = () => {
      if (target) this.defined.add(target);
    };
    switch (s.verb) {
      case "kmalloc": {
        const o = this.opts(s, ["gfp"]);
        const [size] = this.args(s, 1, 1, "a size");
        let gfp: number = Gfp.KERNEL;
        const g = o.get("gfp");
        if (g) {
          const parsed = g.ident === null ? null : parseGfp(g.ident);
          if (parsed === null) this.fail("gfp= must be kernel, atomic, nowait, dma or dma32", g.valuePos);
          gfp = parsed;
        }
        define();
        return (rt) => {
          checkCpu(rt);
          const n = this.size(size, rt);
          const va = rt.kernel.kmalloc(n, gfp);
          const k = rt.kernel;
          const pa = k.directPa(va);
          let note = "(NULL: allocation failed)";
          if (va === 16n) note = "(ZERO_SIZE_PTR)";
          else if (pa >= 0) {
            const pfn = Math.floor(pa / 4096);
            note =
              n > KMALLOC_MAX_CACHE_SIZE
                ? `(large kmalloc, order ${k.pages.order[pfn]}: pfn 0x${pfn.toString(16)}..0x${(pfn + 2 ** k.pages.order[pfn] - 1).toString(16)})`
                : `(kmalloc-${sizeName(k.slab.caches[kmallocIndex(n)].objSize)}, pfn 0x${pfn.toString(16)})`;
          }
          this.assign(s, rt, va, note);
        };
      }
      case "vmalloc": {
        this.opts(s, []);
        const [size] = this.args(s, 1, 1, "a size");
        define();
        return (rt) => {
          checkCpu(rt);
          const n = this.size(size, rt);
          const va = rt.kernel.vmalloc(n);
          if (va === 0n) return this.assign(s, rt, 0n, "(NULL: vmalloc failed)");
          const k = rt.kernel;
          const pfns = [];
          for (let i = 0; i < Math.ceil(n / 4096) && i < 8; i++)
            pfns.push(`0x${k.kernelPfn(va + BigInt(i * 4096)).toString(16)}`);
          this.assign(
            s,
            rt,
            va,
            `(${Math.ceil(n / 4096)} pages + guard; pfns ${pfns.join(" ")}${Math.ceil(n / 4096) > 8 ? " ..." : ""})`,
          );
        };
      }
      case "alloc_pages": {
        const o = this.opts(s, ["order", "gfp"]);
        this.args(s, 0, 0, "no positional arguments (order=N)");
        const ow = o.get("order");
        if (!ow) this.fail("alloc_pages needs order=N", s.verbPos);
        if (ow.value) this.useVars(ow.value);
        const g = o.get("gfp");
        const gfp = g ? (g.ident === null ? null : parseGfp(g.ident)) : Gfp.KERNEL;
        if (gfp === null) this.fail("gfp= must be kernel, atomic, nowait, dma or dma32", g!.valuePos);
        define();
        return (rt) => {
          checkCpu(rt);
          const order = this.numOpt(ow, rt)!;
          if (order > 10) this.fail(`alloc_pages: order ${order} is above MAX_PAGE_ORDER (10)`, ow.valuePos);
          const va = rt.kernel.allocPages(order, gfp);
          const pa = rt.kernel.directPa(va);
          this.assign(
            s,
            rt,
            va,
            va === 0n
              ? "(NULL: no free block of that order)"
              : `(pfn 0x${(pa / 4096).toString(16)}, ${2 ** order} page${order ? "s" : ""})`,
          );
        };
      }
      case "copy_from_user":
      case "copy_to_user":
      case "clear_user":
      case "get_user":
      case "put_user":
      case "strncpy_from_user": {
        const verb = s.verb;
        const usage = `${verb} P ${UACCESS_ARGS[verb]}`;
        const sized = verb === "get_user" || verb === "put_user";
        const o = this.opts(s, verb === "copy_to_user" ? ["value"] : sized ? ["size"] : []);
        const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
        const pw = args[0];
        if (pw?.ident == null || !this.procs.has(pw.ident))
          this.fail(`${usage}: P is a process`, pw?.pos ?? s.verbPos);
        if (this.procs.get(pw.ident) !== "user") this.fail(`'${pw.ident}' has no user memory`, pw.pos);
        const pname = pw.ident;
        const nArgs = 1 + UACCESS_ARGS[verb].split(" ").length;
        if (args.length !== nArgs) this.fail(usage, args[nArgs]?.pos ?? s.verbPos);
        const [addrE, secondE] = this.exprArgs(args.slice(1));
        const valueW = o.get("value");
        if (valueW?.value) this.useVars(valueW.value);
        const sizeW = o.get("size");
        let width: 1 | 2 | 4 | 8 = 8;
        if (sizeW) {
          const n =
            sizeW.value !== null && sizeW.value.base === null ? Number(sizeW.value.offset) : Number.NaN;
          if (n !== 1 && n !== 2 && n !== 4 && n !== 8)
            this.fail("size= must be 1, 2, 4 or 8", sizeW.valuePos);
          width = n;
        }
        define();
        return (rt) => {
          checkCpu(rt);
          const t = this.liveProc(rt, pname, pw.pos);
          // the access runs in P's context: CPU N switches to P first if needed
          if (rt.kernel.current[cpuId] !== t) rt.out.push(this.doSwitch(rt, cpuId, t));
          const uva = this.value(addrE, rt, verb === "strncpy_from_user" ? "the source" : "the address");
          const k = rt.kernel;
          const min0 = t.minFlt + t.majFlt;
          const faultNote = (fixedUp: boolean, what: string) => {
            const faults = t.minFlt + t.majFlt - min0;
            return `${faults} page fault${faults === 1 ? "" : "s"} resolved${fixedUp ? `; a fault nobody could resolve: the exception table's fixup ${what}` : ""}`;
          };
          if (sized) {
            const value =
              verb === "put_user" ? BigInt.asUintN(8 * width, this.value(secondE, rt, "the value")) : 0n;
            const r =
              verb === "get_user"
                ? k.uaccess.get(cpuId, uva, width)
                : k.uaccess.put(cpuId, uva, width, value);
            const hex = `0x${r.value.toString(16)}`;
            const why = r.accessOkFailed
              ? "-EFAULT: not a user address; memory untouched"
              : r.ret === 0
                ? `${verb === "get_user" ? `read ${hex}` : `wrote ${hex}`} (${width} byte${width === 1 ? "" : "s"}); ${faultNote(false, "")}`
                : `-EFAULT; ${faultNote(true, verb === "get_user" ? "zeroed the value and returned -EFAULT" : "returned -EFAULT")}`;
            this.assign(s, rt, BigInt(r.ret), `(${why})`);
            return;
          }
          const len = this.value(secondE, rt, verb === "strncpy_from_user" ? "the count" : "the size");
          if (len > 1n << 40n)
            this.fail(`${verb}: size ${len} is larger than any copy vmlab models (1T)`, secondE.pos);
          if (verb === "strncpy_from_user") {
            const r = k.uaccess.strncpy(cpuId, uva, Number(len));
            const text = r.bytes
              .slice(0, Math.max(0, r.ret))
              .map((c) =>
                c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`,
              )
              .join("");
            const why = r.accessOkFailed
              ? "-EFAULT: not a user address"
              : r.ret < 0
                ? `-EFAULT; ${faultNote(true, "returned -EFAULT")}`
                : `${r.ret === Number(len) && !r.bytes.includes(0) ? "no NUL within the count; " : ""}"${text}"; ${faultNote(r.fixedUp, "went on byte at a time")}`;
            this.assign(s, rt, BigInt(r.ret), `(${why})`);
            return;
          }
          const toUser = verb !== "copy_from_user";
          const value = valueW ? this.numOpt(valueW, rt)! & 0xff : 0x5a;
          let first = -1;
          const r =
            verb === "clear_user"
              ? k.uaccess.clear(cpuId, uva, Number(len))
              : k.uaccess.copy(
                  cpuId,
                  uva,
                  Number(len),
                  toUser,
                  () => value,
                  (i, b) => {
                    if (i === 0) first = b;
                  },
                );
          const copied = Number(len) - r.notCopied;
          const how = verb === "clear_user" ? "cleared" : "copied";
          const why = r.accessOkFailed
            ? `access_ok failed: not a user range; nothing ${how}`
            : `${copied} bytes ${how}${!toUser && first >= 0 ? ` (first byte 0x${first.toString(16).padStart(2, "0")})` : ""}; ${faultNote(r.fixedUp, `ended the ${verb === "clear_user" ? "clear" : "copy"}`)}`;
          this.assign(s, rt, BigInt(r.notCopied), `(not ${how}; ${why})`);
        };
      }
      case "kfree":
      case "vfree":
      case "free_pages": {
        const o = this.opts(s, s.verb === "free_pages" ? ["order"] : []);
        const [addr] = this.args(s, 1, 1, "an address");
        const ow = o.get("order");
        if (s.verb === "free_pages" && !ow) this.fail("free_pages needs order=N", s.verbPos);
        if (ow?.value) this.useVars(ow.value);
        return (rt) => {
          checkCpu(rt);
          const va = this.value(addr, rt, "the address");
          const k = rt.kernel;
          const err =
            s.verb === "kfree"
              ? k.kfree(va)
              : s.verb === "vfree"
                ? k.vfree(va)
                : k.freePages(va, this.numOpt(ow, rt)!);
          if (err === null) {
            rt.out.push(`freed 0x${px(va)}`);
            return;
          }
          // the kernel would hit a BUG() here: an oops in the current task's context
          const r = k.bug(
            cpuId,
            err,
            s.verb === "vfree" ? "mm/vmalloc.c" : s.verb === "kfree" ? "mm/slub.c" : "mm/page_alloc.c",
          );
          rt.out.push(...r);
        };
      }
      default: {
        // read / write RANGE
        const access = s.verb === "write" ? Access.Write : Access.Read;
        const o = this.opts(s, access === Access.Write ? ["stride", "order", "value"] : ["stride", "order"]);
        const [addr, size] = this.args(s, 1, 2, "an address and an optional size");
        const strideW = o.get("stride");
        const orderW = o.get("order");
        if (orderW && !["asc", "desc", "random"].includes(orderW.ident ?? ""))
          this.fail("order= must be asc, desc or random", orderW.valuePos);
        const valueW = o.get("value");
        for (const w of [strideW, valueW]) if (w?.value) this.useVars(w.value);
        return (rt) => {
          checkCpu(rt);
          const value = valueW ? this.numOpt(valueW, rt)! & 0xff : 0x5a;
          const points = this.touchRange(rt, addr, size, strideW, orderW);
          const k = rt.kernel;
          let faults = 0;
          let lastPa = -1;
          let lastValue = 0;
          for (const va of points) {
            const r = k.kernelAccess(cpuId, va, access, value);
            if (!r.ok) {
              rt.out.push(...r.oops);
              if (r.panic) rt.out.push(`Kernel panic - not syncing: ${r.panic}`);
              return;
            }
            faults += r.faults;
            lastPa = r.pa;
            lastValue = r.value;
          }
          const one = points.length === 1;
          rt.out.push(
            `${accessName(access)} ${points.length} ${one ? "page" : "pages"}${one ? `: pa 0x${lastPa.toString(16)}, byte 0x${lastValue.toString(16).padStart(2, "0")}` : ""}${faults ? `, ${faults} spurious fault${faults > 1 ? "s" : ""}` : ""}`,
          );
        };
      }
    }
  }

  // ---- processes ----

  private newProcName(s: Stmt, what: string): string {
    const w = s.words[0];
    if (w?.kind !== "arg" || w.ident === null || w.expr?.offset)
      this.fail(`'${what}' needs a name`, w?.pos ?? s.verbPos);
    if (w.ident === "kernel") this.fail("'kernel' is reserved", w.pos);
    if (this.procs.has(w.ident)) this.fail(`'${w.ident}' already exists`, w.pos);
    if (this.defined.has(w.ident)) this.fail(`'${w.ident}' is already a variable`, w.pos);
    return w.ident;
  }

  /** `[VAR =] device NAME size=SIZE`: a character device whose buffer its mmap handler remap_pfn_range()s */
  private deviceStmt(s: Stmt): (rt: Runtime) => void {
    const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
    const nameW = args[0];
    if (nameW?.ident == null || args.length !== 1)
      this.fail("device NAME size=SIZE", (args[1] ?? nameW)?.pos ?? s.verbPos);
    const name = nameW.ident;
    if (this.devices.has(name)) this.fail(`device '${name}' already exists`, nameW.pos);
    const o = this.opts(s, ["size"]);
    const sizeW = o.get("size");
    if (!sizeW) this.fail("device needs size=SIZE", s.verbPos);
    if (!sizeW.value || sizeW.value.base !== null) this.fail("size= is a number", sizeW.valuePos);
    const size = sizeW.value.offset;
    if (size <= 0n || size > 4n << 20n)
      this.fail(`size=${size}: a device buffer is 1 .. 4M bytes (one alloc_pages block)`, sizeW.valuePos);
    this.devices.add(name);
    if (s.target) this.defined.add(s.target.name);
    return (rt) => {
      const va = rt.kernel.registerDevice(name, Number(size));
      const d = rt.kernel.devices.get(name)!;
      const what = `/dev/${name}: ${size} bytes of kernel buffer at pfn 0x${d.pfn.toString(16)}..0x${(d.pfn + d.pages - 1).toString(16)} (alloc_pages order ${d.order})`;
      if (s.target) this.assign(s, rt, va, what);
      else rt.out.push(what);
    };
  }

  /** `reclaim [SIZE]` (try_to_free_pages) and `kswapd` (balance to the high watermark) */
  private reclaimStmt(s: Stmt): (rt: Runtime) => void {
    if (s.target) this.fail(`'${s.verb}' returns nothing to assign`, s.target.pos);
    this.opts(s, []);
    const [size] = this.args(
      s,
      0,
      s.verb === "reclaim" ? 1 : 0,
      s.verb === "reclaim" ? "an optional size" : "nothing",
    );
    if (size) this.useVars(size);
    return (rt) => {
      const k = rt.kernel;
      const out0 = k.swap?.pswpout ?? 0;
      const steal0 = k.vmscan.stats.pgsteal;
      let n: number;
      if (s.verb === "kswapd" || !size) n = k.kswapd();
      else {
        const bytes = this.value(size, rt, "the size");
        if (bytes > 1n << 46n) this.fail("reclaim: more than the machine could ever hold", size.pos);
        n = k.reclaim(Number((bytes + 4095n) / 4096n));
      }
      const swapped = (k.swap?.pswpout ?? 0) - out0;
      rt.out.push(
        `${n} page${n === 1 ? "" : "s"} reclaimed (${swapped} written to swap, ${k.vmscan.stats.pgsteal - steal0 - swapped} from the page cache); free ${k.buddy.freePages()} pages`,
      );
    };
  }

  /** `file NAME size=SIZE [fs=disk|tmpfs] [cached] [folio=SIZE]` */
  private fileStmt(s: Stmt): (rt: Runtime) => void {
    if (s.target) this.fail("'file' returns nothing to assign", s.target.pos);
    const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
    const nameW = args[0];
    if (nameW?.ident == null || nameW.ident === "cached")
      this.fail("file NAME size=SIZE [fs=disk|tmpfs] [cached] [folio=SIZE]", nameW?.pos ?? s.verbPos);
    const name = nameW.ident;
    if (this.files.has(name)) this.fail(`file '${name}' already exists`, nameW.pos);
    let cached = false;
    for (const w of args.slice(1)) {
      if (w.ident !== "cached" || cached)
        this.fail(`unexpected '${w.ident ?? "argument"}' (expected 'cached')`, w.pos);
      cached = true;
    }
    const o = this.opts(s, ["size", "fs", "folio"]);
    const sizeW = o.get("size");
    if (!sizeW) this.fail("file needs size=SIZE", s.verbPos);
    if (!sizeW.value || sizeW.value.base !== null) this.fail("size= is a number", sizeW.valuePos);
    const size = sizeW.value.offset;
    if (size < 0n || size > 1n << 40n)
      this.fail(`size=${size}: a file is 0 .. 1T bytes here`, sizeW.valuePos);
    const fsW = o.get("fs");
    if (fsW && fsW.ident !== "disk" && fsW.ident !== "tmpfs") this.fail("fs= is disk or tmpfs", fsW.valuePos);
    const fs = fsW?.ident === "tmpfs" ? "tmpfs" : "disk";
    if (fs === "tmpfs" && cached)
      this.fail("a tmpfs file is always in memory: 'cached' applies to disk files", s.verbPos);
    const folioW = o.get("folio");
    if (folioW && (folioW.value?.base !== null || folioW.value.offset !== 4096n))
      this.fail(
        "folio sizes above 4K (large folios) are not modelled by this version of vmlab yet",
        folioW.valuePos,
      );
    this.files.add(name);
    return (rt) => {
      const f = rt.kernel.createFile(name, Number(size), fs, cached);
      rt.out.push(
        `${fs} file ${name}: ${size} bytes, ${f.nrPages} pages${f.cache.size ? `, ${f.cache.size} in the page cache` : ", none cached"}`,
      );
    };
  }

  private spawnStmt(s: Stmt): (rt: Runtime) => void {
    const name = this.newProcName(s, "spawn");
    const o = this.opts(s, ["uid", "rlimit_stack"]);
    if (s.words.filter((w) => w.kind === "arg").length > 1) this.fail("spawn takes one name", s.words[1].pos);
    for (const w of o.values()) if (w.value) this.useVars(w.value);
    this.procs.set(name, "user");
    return (rt) => {
      const uid = this.numOpt(o.get("uid"), rt) ?? 0;
      const rlim = this.numOpt(o.get("rlimit_stack"), rt) ?? 8 << 20;
      if (rlim < 4096 * 34)
        this.fail("rlimit_stack must hold the 132 KiB initial stack", o.get("rlimit_stack")!.valuePos);
      const t = rt.kernel.spawn(name, uid, rlim);
      if (t === null) this.fail("spawn: out of memory for the page tables", s.verbPos);
      rt.procs.set(name, t);
      const mm = t.mm!;
      rt.out.push(
        `pid ${t.pid}; PGD at pfn 0x${mm.pgdPfn.toString(16)}; stack 0x${rt.kernel.va.canonical(mm.vmas[0].vmStart).toString(16)}-0x${rt.kernel.va.canonical(mm.stackTop).toString(16)}`,
      );
    };
  }

  private kthreadStmt(s: Stmt): (rt: Runtime) => void {
    const name = this.newProcName(s, "kthread");
    this.opts(s, []);
    this.procs.set(name, "kthread");
    return (rt) => {
      const t = rt.kernel.kthread(name);
      rt.procs.set(name, t);
      rt.out.push(`pid ${t.pid} (kernel thread: no user address space)`);
    };
  }

  private switchStmt(s: Stmt): (rt: Runtime) => void {
    const w = s.words[0];
    if (w?.kind !== "arg" || w.ident === null)
      this.fail("switch needs a process or kernel-thread name", w?.pos ?? s.verbPos);
    const name = w.ident;
    if (!this.procs.has(name)) this.fail(`process '${name}' does not exist`, w.pos);
    const o = this.opts(s, ["cpu"]);
    return (rt) => {
      const t = this.liveProc(rt, name, w.pos);
      const cpu = this.numOpt(o.get("cpu"), rt) ?? 0;
      if (cpu >= rt.kernel.machine.cpus.length)
        this.fail(`CPU ${cpu} does not exist`, o.get("cpu")!.valuePos);
      rt.out.push(this.doSwitch(rt, cpu, t));
    };
  }

  /** A context switch, described. */
  private doSwitch(rt: Runtime, cpuId: number, t: Task): string {
    const k = rt.kernel;
    const cpu = k.machine.cpus[cpuId];
    const before = {
      flushes: cpu.fullFlushes,
      cr3: cpu.cr3Writes,
      switches: k.tlbMgr.states[cpuId].switchFlushes,
    };
    k.switchTo(cpuId, t);
    const st = k.tlbMgr.states[cpuId];
    if (t.mm === null)
      return `cpu${cpuId}: ${t.comm} (kernel thread) runs on the previous mm's page tables: lazy TLB, no CR3 write`;
    const wrote = cpu.cr3Writes > before.cr3;
    const flushed = st.switchFlushes > before.switches;
    return `cpu${cpuId}: ${wrote ? `CR3 <- PGD 0x${(t.mm.pgdPfn * 4096).toString(16)}` : "same mm, no CR3 write"}${k.config.pcid ? ` PCID ${st.loadedAsid + 1}` : ""}${wrote ? (flushed ? " (TLB flushed)" : " (no flush: the ASID's entries are still valid)") : ""}`;
  }

  private liveProc(rt: Runtime, name: string, pos: Pos): Task {
    const t = rt.procs.get(name)!;
    if (!t.alive) this.fail(`process '${name}' is dead (${t.exitReason})`, pos);
    return t;
  }

  /** The CPU a process's statement runs on: where it is current, else CPU 0 after a context switch. */
  private runOn(rt: Runtime, t: Task): number {
    let cpu = rt.kernel.cpuOf(t);
    if (cpu < 0) {
      rt.out.push(this.doSwitch(rt, 0, t));
      cpu = 0;
    }
    return cpu;
  }

  private processStmt(s: Stmt, name: string, pos: Pos): (rt: Runtime) => void {
    const kind = this.procs.get(name);
    if (kind === undefined) this.fail(`process '${name}' does not exist`, pos);
    if (kind === "kthread")
      this.fail(
        `'${name}' is a kernel thread: it has no user address space (use 'kernel:' statements, after 'switch ${name}')`,
        pos,
      );
    const v = s.verb;
    const noTarget = () => {
      if (s.target) this.fail(`'${v}' returns nothing to assign`, s.target.pos);
    };
    switch (v) {
      case "fork": {
        noTarget();
        const child = this.newProcName(s, "fork");
        this.procs.set(child, "user");
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const c = rt.kernel.fork(t, child);
          if (c === null) this.fail("fork: out of memory", s.verbPos);
          rt.procs.set(child, c);
          rt.out.push(
            `child ${child} pid ${c.pid}: ${c.mm!.vmas.length} VMAs, ${c.mm!.rssAnon} pages shared copy-on-write, ${c.mm!.ptPages} page-table pages`,
          );
        };
      }
      case "thread": {
        noTarget();
        const child = this.newProcName(s, "thread");
        this.procs.set(child, "user");
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          const c = rt.kernel.thread(t, child);
          if (c === null) this.fail("thread: no address space to share", s.verbPos);
          rt.procs.set(child, c);
          rt.out.push(`thread ${child} pid ${c.pid} shares ${name}'s address space`);
        };
      }
      case "exit":
        noTarget();
        this.opts(s, []);
        this.args(s, 0, 0, "no arguments");
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          rt.kernel.exit(t, "exit");
          rt.out.push(`pid ${t.pid} exited; its address space is gone`);
        };
      case "setuid": {
        noTarget();
        const [uid] = this.args(s, 1, 1, "a uid");
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          t.uid = this.size(uid, rt, "the uid");
          rt.out.push(`uid ${t.uid}${t.uid === 0 ? "" : " (no capabilities)"}`);
        };
      }
      case "catch": {
        noTarget();
        const w = s.words[0];
        if (w?.kind !== "arg" || (w.ident !== "SIGSEGV" && w.ident !== "SIGBUS"))
          this.fail("catch SIGSEGV or catch SIGBUS", w?.pos ?? s.verbPos);
        const sig = w.ident;
        return (rt) => {
          this.liveProc(rt, name, pos).caught.add(sig);
          rt.out.push(`${sig} will be caught`);
        };
      }
      case "mmap":
        return this.mmapStmt(s, name, pos);
      case "munmap":
      case "mprotect": {
        const o = this.opts(s, v === "mprotect" ? ["prot"] : []);
        const [addr, len] = this.args(s, 2, 2, "an address and a size");
        const prot = v === "mprotect" ? this.prot(o.get("prot"), true) : null;
        if (s.target) this.defined.add(s.target.name);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const a = this.value(addr, rt, "the address");
          const l = this.value(len, rt, "the size");
          const r = v === "munmap" ? rt.kernel.munmap(t, a, l) : rt.kernel.mprotect(t, a, l, prot!);
          this.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
        };
      }
      case "read":
      case "write":
      case "exec":
        return this.userAccessStmt(s, name, pos);
      case "madvise": {
        this.opts(s, []);
        const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
        if (args.length !== 3 || args[2].ident === null)
          this.fail("madvise ADDR SIZE ADVICE", args[args.length - 1]?.pos ?? s.verbPos);
        const advice = args[2].ident;
        if (!MADVICE.includes(advice))
          this.fail(`unknown advice '${advice}' (${MADVICE.join(", ")})`, args[2].pos);
        const [addr, len] = this.exprArgs([args[0], args[1]]);
        if (s.target) this.defined.add(s.target.name);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const f0 = t.minFlt;
          rt.kernel.lastPageout = 0;
          const r = rt.kernel.madvise(
            t,
            this.value(addr, rt, "the address"),
            this.value(len, rt, "the size"),
            advice,
          );
          this.assign(
            s,
            rt,
            r,
            r < 0n
              ? `(${errnoName(r)})`
              : t.minFlt > f0
                ? `(${t.minFlt - f0} pages populated)`
                : advice === "pageout"
                  ? `(${rt.kernel.lastPageout} pages reclaimed)`
                  : "",
          );
        };
      }
      case "syscall": {
        this.opts(s, []);
        const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
        const call = args[0]?.ident;
        if (call !== "read" && call !== "write")
          this.fail("syscall read|write FILE BUF SIZE", args[0]?.pos ?? s.verbPos);
        const fw = args[1];
        if (fw?.ident == null || !this.files.has(fw.ident))
          this.fail(
            `file '${fw?.ident ?? "?"}' does not exist (create it with 'file NAME size=...')`,
            fw?.pos ?? s.verbPos,
          );
        if (args.length !== 4) this.fail("syscall read|write FILE BUF SIZE", args[4]?.pos ?? s.verbPos);
        const [buf, size] = this.exprArgs(args.slice(2));
        const fname = fw.ident;
        if (s.target) this.defined.add(s.target.name);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          const cpu = this.runOn(rt, t);
          const len = this.value(size, rt, "the size");
          if (len > 1n << 40n)
            this.fail(`syscall ${call}: size ${len} is larger than vmlab models (1T)`, size.pos);
          const f0 = t.minFlt;
          const m0 = t.majFlt;
          const r = rt.kernel.fileIo(
            cpu,
            rt.kernel.pageCache.files.get(fname)!,
            this.value(buf, rt, "the buffer"),
            Number(len),
            call === "write",
          );

          this.assign(
            s,
            rt,
            BigInt(r),
            r < 0
              ? `(${errnoName(BigInt(r))})`
              : `(${faultSummary(t.minFlt - f0, t.majFlt - m0)} taken by the kernel's copy)`,
          );
        };
      }
      case "coredump": {
        const o = this.opts(s, ["filter"]);
        this.args(s, 0, 0, "no positional arguments ([filter=N])");
        const fw = o.get("filter");
        if (fw?.value) this.useVars(fw.value);
        if (s.target) this.defined.add(s.target.name);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const filter = fw ? this.numOpt(fw, rt)! : DEFAULT_COREDUMP_FILTER;
          if (filter < 0 || filter > 0x1ff)
            this.fail("filter= is a coredump_filter mask, 0 .. 0x1ff", fw!.valuePos);
          const d = coreDump(rt.kernel, t, filter);
          const hex = (v: bigint) => v.toString(16).padStart(12, "0");
          const lines = d.segments.map(
            (g) =>
              `  ${hex(g.start)}-${hex(g.end)} ${g.perms} ${`${g.dumpBytes / 1024}K`.padStart(8)} dumped, ${String(g.pagesWritten).padStart(4)} written ${String(g.holes).padStart(4)} holes  ${g.why}${g.name ? `  ${g.name}` : ""}`,
          );
          this.assign(
            s,
            rt,
            BigInt(d.bytes),
            `(core of ${t.comm}, coredump_filter 0x${filter.toString(16)}: ${d.segments.length} segments, ${d.bytes / 1024} KiB of memory, ${d.pagesWritten} pages written, ${d.faults} page fault${d.faults === 1 ? "" : "s"} taken)`,
          );
          rt.out.push(...lines);
        };
      }
      case "replay": {
        // a vmlab extension: a trace's accesses as P's own, through its page tables and the fault path
        const o = this.opts(s, ["format", "limit"]);
        const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
        if (args.length !== 1 || args[0].ident === null)
          this.fail(
            'replay "FILE" [format=auto|bin|lackey|text|refs] [limit=N]',
            args[1]?.pos ?? args[0]?.pos ?? s.verbPos,
          );
        const fileW = args[0];
        const fw = o.get("format");
        const format = fw?.ident ?? "auto";
        if (!["auto", ...TRACE_FORMATS].includes(format))
          this.fail(`format= must be auto, ${TRACE_FORMATS.join(", ")}`, fw!.valuePos);
        const lw = o.get("limit");
        if (lw?.value) this.useVars(lw.value);
        if (s.target) this.defined.add(s.target.name);
        // a path relative to the scenario's own directory
        const path =
          isAbsolute(fileW.ident!) || this.file.startsWith("<")
            ? fileW.ident!
            : join(dirname(this.file), fileW.ident!);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          const cpu = this.runOn(rt, t);
          const limit = lw ? this.numOpt(lw, rt)! : MAX_TOUCHES;
          if (limit < 1 || limit > MAX_TOUCHES) this.fail(`limit= must be 1 .. ${MAX_TOUCHES}`, lw!.valuePos);
          let data: Buffer;
          try {
            data = readTraceFileSync(path).data;
          } catch (e) {
            if (e instanceof InputError) this.fail(e.format(), fileW.pos);
            throw e;
          }
          const k = rt.kernel;
          const f0 = t.minFlt;
          const m0 = t.majFlt;
          let done = 0;
          let signal: string | null = null;
          const stop = {};
          try {
            decodeAll(path, data, format as TraceFormat | "auto", (w, n) => {
              for (let i = 0; i < n && done < limit; i++) {
                const rec = BigInt(w[2 * i + 1]) * 4294967296n + BigInt(w[2 * i]);
                const kind = Number(rec & 3n);
                const access = kind >= 2 ? Access.Write : kind === 0 ? Access.Exec : Access.Read;
                const r = k.userAccess(cpu, t, rec >> 2n, access, 0x5a);
                done++;
                if (!r.ok) {
                  signal = `${r.signal} (${r.siCode}) at 0x${r.siAddr.toString(16)}${r.killed ? ": killed" : ": caught, the replay stops"}`;
                  throw stop;
                }
              }
              if (done >= limit) throw stop;
            });
          } catch (e) {
            if (e instanceof InputError) this.fail(e.format(), fileW.pos);
            if (e !== stop) throw e;
          }
          this.assign(
            s,
            rt,
            BigInt(done),
            `(accesses replayed; ${faultSummary(t.minFlt - f0, t.majFlt - m0)}${signal ? `; ${signal}` : ""})`,
          );
        };
      }
      case "msync": {
        this.opts(s, []);
        const [addr, len] = this.args(s, 2, 2, "an address and a size");
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const out0 = rt.kernel.pageCache.pagesOut;
          const r = rt.kernel.msync(t, this.value(addr, rt, "the address"), this.value(len, rt, "the size"));
          const n = rt.kernel.pageCache.pagesOut - out0;
          this.assign(
            s,
            rt,
            r,
            r < 0n ? `(${errnoName(r)})` : `(${n} page${n === 1 ? "" : "s"} written back)`,
          );
        };
      }
      case "mlock":
      case "munlock": {
        this.opts(s, []);
        const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
        const onfault = args.length === 3 && args[2].ident === "onfault" && v === "mlock";
        if (args.length !== 2 && !onfault)
          this.fail(`${v} ADDR SIZE${v === "mlock" ? " [onfault]" : ""}`, args[2]?.pos ?? s.verbPos);
        const [addr, len] = this.exprArgs([args[0], args[1]]);
        if (s.target) this.defined.add(s.target.name);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const f0 = t.minFlt;
          const a = this.value(addr, rt, "the address");
          const l = this.value(len, rt, "the size");
          const r = v === "mlock" ? rt.kernel.mlock(t, a, l, onfault) : rt.kernel.munlock(t, a, l);
          this.assign(
            s,
            rt,
            r,
            r < 0n ? `(${errnoName(r)})` : t.minFlt > f0 ? `(${t.minFlt - f0} pages faulted in)` : "",
          );
        };
      }
      case "brk": {
        this.opts(s, []);
        const [delta] = (s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[]).map(
          (w) => w.expr,
        );
        if (s.words.length !== 1 || !delta || delta.base !== null)
          this.fail("brk +SIZE or brk -SIZE", s.words[0]?.pos ?? s.verbPos);
        if (s.target) this.defined.add(s.target.name);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const r = rt.kernel.brk(t, delta.offset);
          this.assign(
            s,
            rt,
            r,
            r < 0n ? `(${errnoName(r)})` : `(old break; now 0x${(r + delta.offset).toString(16)})`,
          );
        };
      }
      case "mremap": {
        const o = this.opts(s, ["to"]);
        const args = s.words.filter((w) => w.kind === "arg") as (Word & { kind: "arg" })[];
        const mayMove = args.length === 4 && args[3].ident === "maymove";
        if (args.length !== 3 && !mayMove)
          this.fail("mremap ADDR OLDSIZE NEWSIZE [maymove [to=ADDR]]", args[3]?.pos ?? s.verbPos);
        const to = o.get("to");
        if (to && !mayMove) this.fail("to= needs maymove (MREMAP_FIXED needs MREMAP_MAYMOVE)", to.pos);
        if (to?.value) this.useVars(to.value);
        const [addr, oldSize, newSize] = this.exprArgs(args.slice(0, 3));
        if (s.target) this.defined.add(s.target.name);
        return (rt) => {
          const t = this.liveProc(rt, name, pos);
          this.runOn(rt, t);
          const r = rt.kernel.mremap(
            t,
            this.value(addr, rt, "the address"),
            this.value(oldSize, rt, "the old size"),
            this.value(newSize, rt, "the new size"),
            mayMove,
            to ? this.value(to.value!, rt, "to=") : -1n,
          );
          this.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
        };
      }
    }
    if (LATER.has(v)) this.fail(`'${v}' is not supported by this version of vmlab yet`, s.verbPos);
    return this.fail(`unknown process statement '${v}'`, s.verbPos);
  }

  private prot(
    w: (Word & { kind: "kv" }) | undefined,
    required: boolean,
  ): { r: boolean; w: boolean; x: boolean } {
    if (!w) {
      if (required) this.fail("prot= is required", { line: 0, col: 0 });
      return { r: true, w: true, x: false };
    }
    const t = w.ident;
    if (t === "none") return { r: false, w: false, x: false };
    if (t === null || !/^[rwx]+$/.test(t) || new Set(t).size !== t.length)
      this.fail("prot= is none or letters from r, w, x (e.g. rw)", w.valuePos);
    return { r: t.includes("r"), w: t.includes("w"), x: t.includes("x") };
  }

  private mmapStmt(s: Stmt, name: string, pos: Pos): (rt: Runtime) => void {
    const o = this.opts(s, ["prot", "at", "file", "offset", "dev"]);
    const devW = o.get("dev");
    if (devW && (devW.ident === null || !this.devices.has(devW.ident)))
      this.fail(
        `device '${devW.ident ?? "?"}' does not exist (register it with 'device NAME size=...')`,
        devW.valuePos,
      );
    const fileW = o.get("file");
    if (devW && fileW) this.fail("file= or dev=, not both", devW.pos);
    if (fileW && (fileW.ident === null || !this.files.has(fileW.ident)))
      this.fail(
        `file '${fileW.ident ?? "?"}' does not exist (create it with 'file NAME size=...')`,
        fileW.valuePos,
      );
    const offsetW = o.get("offset");
    if (offsetW && !fileW && !devW) this.fail("offset= needs file=NAME or dev=NAME", offsetW.pos);
    if (offsetW?.value) this.useVars(offsetW.value);
    const flags = new Set<string>();
    let size: AddrExpr | null = null;
    for (const w of s.words) {
      if (w.kind !== "arg") continue;
      if (
        w.expr &&
        (w.expr.base === null || this.defined.has(w.expr.base)) &&
        size === null &&
        !["private", "shared", "anon", "populate", "locked", "noreserve", "fixed"].includes(w.ident ?? "")
      ) {
        size = w.expr;
        continue;
      }
      const f = w.ident ?? "";
      if (!["private", "shared", "anon", "populate", "locked", "noreserve", "fixed"].includes(f))
        this.fail(`unknown mmap flag '${f || w.expr?.offset}'`, w.pos);
      if (flags.has(f)) this.fail(`'${f}' given twice`, w.pos);
      flags.add(f);
    }
    if (size === null) this.fail("mmap needs a size", s.verbPos);
    this.useVars(size);
    if (flags.has("private") && flags.has("shared")) this.fail("private or shared, not both", s.verbPos);
    if (flags.has("anon") && fileW) this.fail("anon or file=, not both", fileW.pos);
    if (flags.has("fixed") && !o.has("at")) this.fail("fixed needs at=ADDR", s.verbPos);
    const at = o.get("at");
    if (at?.value) this.useVars(at.value);
    const prot = this.prot(o.get("prot"), false);
    if (!s.target) this.fail("mmap returns an address: write 'P: VAR = mmap SIZE ...'", s.verbPos);
    this.defined.add(s.target.name);
    const sz = size;
    return (rt) => {
      const t = this.liveProc(rt, name, pos);
      this.runOn(rt, t);
      const length = this.value(sz, rt, "the size");
      const addr = at ? this.value(at.value!, rt, "at=") : -1n;
      if (length > 1n << 56n || addr > 1n << 57n) {
        this.assign(s, rt, -12n, "(ENOMEM)");
        return;
      }
      const before = t.minFlt + t.majFlt;
      const offset = offsetW ? this.value(offsetW.value!, rt, "offset=") : 0n;
      if (offset >= 1n << 52n) {
        this.assign(s, rt, -75n, "(EOVERFLOW)");
        return;
      }
      const r = rt.kernel.mmap(t, {
        file: fileW ? rt.kernel.pageCache.files.get(fileW.ident!)! : null,
        device: devW ? rt.kernel.devices.get(devW.ident!)! : null,
        offset: Number(offset),
        length: Number(length),
        prot,
        shared: flags.has("shared"),
        populate: flags.has("populate"),
        locked: flags.has("locked"),
        noreserve: flags.has("noreserve"),
        addr: Number(addr),
        fixed: flags.has("fixed"),
        privileged: t.uid === 0,
      });
      this.assign(
        s,
        rt,
        r,
        r < 0n
          ? `(${errnoName(r)})`
          : t.minFlt + t.majFlt > before
            ? `(${t.minFlt + t.majFlt - before} pages populated)`
            : devW
              ? `(the driver's remap_pfn_range filled ${Number(length + 4095n) >> 12} PTE${length > 4096n ? "s" : ""})`
              : fileW
                ? "(nothing is mapped until first touch)"
                : "(nothing is allocated until first touch)",
      );
    };
  }

  /**
   * The addresses a read/write statement touches: RANGE with stride= (one
   * touch per page by default) in order= (asc, desc, or shuffled by the
   * machine's seed), checked: not empty, not wrapping, at most 1,000,000.
   */
  private touchRange(
    rt: Runtime,
    addr: AddrExpr,
    size: AddrExpr | undefined,
    strideW: (Word & { kind: "kv" }) | undefined,
    orderW: (Word & { kind: "kv" }) | undefined,
  ): bigint[] {
    const start = this.value(addr, rt, "the address");
    const len = size ? this.value(size, rt, "the size") : 1n;
    if (len === 0n) this.fail("the size is 0", size!.pos);
    if (start + len > 1n << 64n) this.fail("the range wraps past the end of the address space", addr.pos);
    const stride = strideW ? BigInt(this.numOpt(strideW, rt)!) : 4096n;
    if (stride === 0n) this.fail("stride=0", strideW!.valuePos);
    const points = touchPoints(start, len, stride);
    if (points.length > MAX_TOUCHES)
      this.fail(`the range touches ${points.length} pages; vmlab caps one statement at 1,000,000`, addr.pos);
    if (orderW?.ident === "desc") points.reverse();
    else if (orderW?.ident === "random") shuffle(points, rt.rng);
    return points;
  }

  private userAccessStmt(s: Stmt, name: string, pos: Pos): (rt: Runtime) => void {
    if (s.target) this.fail(`'${s.verb}' returns nothing to assign`, s.target.pos);
    const access = s.verb === "write" ? Access.Write : s.verb === "exec" ? Access.Exec : Access.Read;
    const o = this.opts(
      s,
      access === Access.Write
        ? ["stride", "order", "value"]
        : access === Access.Read
          ? ["stride", "order"]
          : [],
    );
    const [addr, size] = this.args(
      s,
      1,
      access === Access.Exec ? 1 : 2,
      access === Access.Exec ? "an address" : "an address and an optional size",
    );
    const strideW = o.get("stride");
    const orderW = o.get("order");
    if (orderW && !["asc", "desc", "random"].includes(orderW.ident ?? ""))
      this.fail("order= must be asc, desc or random", orderW.valuePos);
    const valueW = o.get("value");
    for (const w of [strideW, valueW]) if (w?.value) this.useVars(w.value);
    return (rt) => {
      const t = this.liveProc(rt, name, pos);
      const cpu = this.runOn(rt, t);
      const value = valueW ? this.numOpt(valueW, rt)! & 0xff : 0x5a;
      const points = this.touchRange(rt, addr, size, strideW, orderW);
      const min0 = t.minFlt;
      const maj0 = t.majFlt;
      let _faults = 0;
      let last = { pa: 0, value: 0 };
      for (const va of points) {
        const r = rt.kernel.userAccess(cpu, t, va, access, value);
        _faults += r.faults;
        if (!r.ok) {
          if (t.minFlt + t.majFlt > min0 + maj0)
            rt.out.push(`${t.minFlt + t.majFlt - min0 - maj0} page faults resolved first`);
          rt.out.push(
            `${r.signal} (${r.siCode}) at 0x${r.siAddr.toString(16)}: ${r.killed ? `${name} killed` : "caught; the access is abandoned"}`,
          );
          if (r.killed) rt.deaths.set(name, s.pos.line);
          return;
        }
        last = r;
      }
      const resolved = t.minFlt - min0;
      const major = t.majFlt - maj0;
      const what = `${accessName(access)} ${points.length} ${points.length === 1 ? "page" : "pages"}`;
      const detail =
        points.length === 1
          ? `: pa 0x${last.pa.toString(16)}, byte 0x${last.value.toString(16).padStart(2, "0")}`
          : "";
      rt.out.push(`${what}${detail}; ${faultSummary(resolved, major)}`);
    };
  }

  private explainStmt(s: Stmt): (rt: Runtime) => void {
    const w = s.words[0];
    if (w?.kind !== "arg" || w.ident === null)
      this.fail("explain P ADDR [read|write|exec]", w?.pos ?? s.verbPos);
    const name = w.ident;
    if (!this.procs.has(name)) this.fail(`process '${name}' does not exist`, w.pos);
    const args = s.words.slice(1);
    const a = args[0];
    if (a?.kind !== "arg" || a.expr === null) this.fail("explain needs an address", a?.pos ?? s.verbPos);
    this.useVars(a.expr);
    const accW = args[1];
    let access = Access.Read;
    if (accW) {
      if (accW.kind !== "arg" || !["read", "write", "exec"].includes(accW.ident ?? ""))
        this.fail("the access is read, write or exec", accW.pos);
      access = accW.ident === "write" ? Access.Write : accW.ident === "exec" ? Access.Exec : Access.Read;
    }
    if (args.length > 2) this.fail("explain P ADDR [read|write|exec]", args[2].pos);
    const addrExpr = a.expr;
    return (rt) => {
      const t = rt.procs.get(name)!;
      rt.out.push(...explainAccess(rt.kernel, t, this.value(addrExpr, rt, "the address"), access));
    };
  }

  // ---- show ----

  private showStmt(s: Stmt): (rt: Runtime) => void {
    const first = s.words[0];
    if (first?.kind !== "arg" || first.ident === null)
      this.fail(`show what? (${SHOW_WHAT.join(", ")})`, first?.pos ?? s.verbPos);
    const what = first.ident;
    if (this.procs.has(what)) return this.showProc(s, what, first.pos);
    if (!SHOW_WHAT.includes(what)) {
      const second = s.words[1];
      if (second?.kind === "arg" && second.ident !== null)
        this.fail(`process '${what}' does not exist`, first.pos);
      this.fail(`cannot show '${what}' (${SHOW_WHAT.join(", ")})`, first.pos);
    }
    const o = this.opts(s, what === "tlb" ? ["cpu"] : []);
    if (s.words.filter((w) => w.kind === "arg").length > 1)
      this.fail(`too many arguments to 'show ${what}'`, s.words[1].pos);
    return (rt) => {
      const k = rt.kernel;
      switch (what) {
        case "layout":
          rt.out.push(...formatLayout(k.layout));
          return;
        case "buddyinfo":
          rt.out.push(...k.buddy.buddyinfo());
          return;
        case "slabinfo":
          rt.out.push(...k.slab.slabinfo());
          return;
        case "meminfo":
          rt.out.push(...formatMeminfo(meminfo(k)));
          return;
        case "frames":
          rt.out.push(...formatFrames(k));
          return;
        case "vmstat":
          for (const [n, v] of Object.entries(vmstat(k))) rt.out.push(`${n} ${v}`);
          return;
        case "stats":
        case "tlb": {
          const cw = o.get("cpu");
          const only = cw ? this.numOpt(cw, rt)! : -1;
          if (only >= k.machine.cpus.length) this.fail(`CPU ${only} does not exist`, cw!.valuePos);
          for (const c of k.machine.cpus) {
            if (only >= 0 && c.id !== only) continue;
            const levels = c.tlb.levels
              .map((l, i) => `${l.name} ${c.tlb.hits[i]} hits/${c.tlb.misses[i]} misses`)
              .join(", ");
            rt.out.push(
              `cpu${c.id}: ${c.translations} translations; ${levels}; ${c.walks} walks (${c.walkRefs} entries read), ${c.adWrites} A/D writes, ${c.pageFaults} #PF, ${c.gpFaults} #GP, ${c.fullFlushes} full flushes, ${c.invlpgs} INVLPG`,
            );
            if (what === "tlb") {
              for (const l of c.tlb.levels) {
                for (const a of l.arrays)
                  rt.out.push(
                    `  ${a.name}: ${a.entries} entries, ${a.ways}-way, ${a.occupancy()} valid, ${a.evictions} evictions`,
                  );
              }
            }
          }
          if (what === "stats")
            rt.out.push(
              `oopses ${k.oopses.length}, shootdown IPIs ${k.tlbMgr.shootdowns}, tasks ${k.tasks.length}`,
            );
        }
      }
    };
  }

  private showProc(s: Stmt, name: string, pos: Pos): (rt: Runtime) => void {
    const w = s.words[1];
    if (w?.kind !== "arg" || w.ident === null || !["maps", "smaps", "pagetable"].includes(w.ident)) {
      this.fail(`show ${name} maps|smaps|pagetable [ADDR]`, w?.pos ?? pos);
    }
    const what = w.ident;
    if (this.procs.get(name) === "kthread")
      this.fail(`'${name}' is a kernel thread: it has no user address space`, pos);
    let addr: AddrExpr | null = null;
    if (what === "pagetable") {
      const a = s.words[2];
      if (a) {
        if (a.kind !== "arg" || a.expr === null) this.fail("show P pagetable ADDR", a.pos);
        this.useVars(a.expr);
        addr = a.expr;
      }
    }
    if (s.words.length > (what === "pagetable" ? 3 : 2))
      this.fail(`too many arguments to 'show ${name} ${what}'`, s.words[what === "pagetable" ? 3 : 2].pos);
    return (rt) => {
      const t = this.liveProc(rt, name, pos);
      if (what === "maps") rt.out.push(...procMaps(rt.kernel, t));
      else if (what === "smaps") rt.out.push(...procSmaps(rt.kernel, t));
      else rt.out.push(...pagetableLines(rt.kernel, t, addr ? this.value(addr, rt, "the address") : null));
    };
  }

  // ---- expect / let ----

  private expectStmt(s: Stmt): (rt: Runtime) => void {
    const left = this.expr(s.expr!);
    const right = this.expr(s.rhs!);
    const op = s.op!;
    return (rt) => {
      const a = left(rt);
      const b = right(rt);
      let ok: boolean;
      if (typeof a === "bigint" && typeof b === "bigint") {
        ok =
          op === "=="
            ? a === b
            : op === "!="
              ? a !== b
              : op === "<"
                ? a < b
                : op === "<="
                  ? a <= b
                  : op === ">"
                    ? a > b
                    : a >= b;
      } else if (typeof a === "string" && typeof b === "string" && (op === "==" || op === "!=")) {
        ok = (a === b) === (op === "==");
      } else {
        ok = false;
      }
      const actual = formatValue(a);
      const expected = `${op} ${formatValue(b)}`;
      this.expectations.push({ line: s.pos.line, text: s.text.trim(), ok, actual, expected });
      rt.out.push(ok ? `ok (${actual})` : `FAILED: expected ${expected}, got ${actual}`);
    };
  }

  private expr(e: Expr): Eval {
    switch (e.kind) {
      case "num":
        return () => e.value;
      case "bin": {
        const l = this.expr(e.left);
        const r = this.expr(e.right);
        return (rt) => {
          const a = l(rt);
          const b = r(rt);
          if (typeof a !== "bigint" || typeof b !== "bigint")
            this.fail("arithmetic on a symbolic value", e.pos);
          return e.op === "+" ? a + b : a - b;
        };
      }
      case "name":
        return this.name(e.name, e.pos, {});
      case "call":
        return this.call(e);
    }
  }

  private name(name: string, pos: Pos, opts: Record<string, bigint>): Eval {
    if (this.defined.has(name)) return (rt) => rt.vars.get(name)!;
    const cpuOpt = opts.cpu;
    const perCpuState =
      (f: (st: Kernel["tlbMgr"]["states"][number]) => number): Eval =>
      (rt) => {
        const sts = rt.kernel.tlbMgr.states;
        if (cpuOpt !== undefined && cpuOpt >= BigInt(sts.length))
          this.fail(`CPU ${cpuOpt} does not exist`, pos);
        return BigInt(cpuOpt !== undefined ? f(sts[Number(cpuOpt)]) : sts.reduce((n, st) => n + f(st), 0));
      };
    const perCpu =
      (f: (c: Kernel["machine"]["cpus"][number]) => number): Eval =>
      (rt) => {
        const cpus = rt.kernel.machine.cpus;
        if (cpuOpt !== undefined && cpuOpt >= BigInt(cpus.length))
          this.fail(`CPU ${cpuOpt} does not exist`, pos);
        return BigInt(cpuOpt !== undefined ? f(cpus[Number(cpuOpt)]) : cpus.reduce((n, c) => n + f(c), 0));
      };
    if (name.startsWith("meminfo.")) {
      const field = name.slice(8);
      return (rt) => {
        const m = meminfo(rt.kernel);
        if (!(field in m)) this.fail(`unknown /proc/meminfo field '${field}'`, pos);
        return BigInt(m[field]);
      };
    }
    if (name.startsWith("vmstat.")) {
      const field = name.slice(7);
      return (rt) => {
        const v = vmstat(rt.kernel);
        if (!(field in v)) this.fail(`unknown /proc/vmstat counter '${field}'`, pos);
        return BigInt(v[field]);
      };
    }
    switch (name) {
      case "oops":
        return (rt) => BigInt(rt.kernel.oopses.length);
      case "oom_kills":
        return (rt) => BigInt(rt.kernel.oomKills);
      case "tlb.hits":
        return perCpu((c) => c.tlb.hits.reduce((a, b) => a + b, 0));
      case "tlb.misses":
        return perCpu((c) => c.walks - c.dirtyAssists);
      case "tlb.flushes":
        return perCpu((c) => c.fullFlushes);
      case "shootdowns":
        return perCpuState((st) => st.shootdownsReceived);
      case "context_switches":
        return perCpuState((st) => st.contextSwitches);
      case "cr3_writes":
        return perCpu((c) => c.cr3Writes);
      case "pti.cr3_switches":
        return perCpuState((st) => st.ptiCr3Writes);
      case "pti.user_flushes":
        return perCpuState((st) => st.ptiUserFlushes);
      case "panic":
        return (rt) => (rt.kernel.panicked === null ? 0n : 1n);
    }
    if (/^[A-Z][A-Z_0-9]*$/.test(name) || name === "none") return () => name;
    if (name.includes(".")) {
      const [proc, field] = name.split(".");
      if (!this.procs.has(proc)) this.fail(`process '${proc}' does not exist`, pos);
      const getters: Record<string, (t: Task, k: Kernel) => Value> = {
        min_flt: (t) => BigInt(t.minFlt),
        maj_flt: (t) => BigInt(t.majFlt),
        rss: (t) => BigInt(t.alive && t.mm ? t.mm.rss : 0),
        swap: (t) => BigInt(t.alive && t.mm ? t.mm.swapEnts : 0),
        pt_pages: (t) => BigInt(t.alive && t.mm ? t.mm.ptPages : 0),
        stack_start: (t, k) =>
          t.mm ? k.va.canonical(t.mm.vmas.find((v) => v.name === "[stack]")?.vmStart ?? 0) : 0n,
        stack_top: (t, k) => (t.mm ? k.va.canonical(t.mm.stackTop) : 0n),
        signal: (t) => t.signal,
        si_code: (t) => t.siCode,
        si_addr: (t) => t.siAddr,
        alive: (t) => (t.alive ? 1n : 0n),
        pid: (t) => BigInt(t.pid),
      };
      const g = getters[field];
      if (!g) this.fail(`unknown process metric '${field}' (${Object.keys(getters).join(", ")})`, pos);
      return (rt) => g(rt.procs.get(proc)!, rt.kernel);
    }
    return this.fail(`undefined variable or unknown metric '${name}'`, pos);
  }

  /** Range metrics of a process: rss(P, RANGE), present, pfn, anon, dirty, mapcount, vmas, byte, table, ... */
  /**
   * The arguments of a range metric FN(P, ADDR [SIZE] [, LEVEL]): the
   * address and size, the page-table level for `table`, and a reader that
   * checks a value is a 64-bit address.
   */
  private rangeArgs(e: Expr & { kind: "call" }) {
    const fn = e.fn;
    const group = e.args[1];
    const addr = this.expr(group[0]);
    const size = group.length > 1 ? this.expr(group[1]) : null;
    if (group.length > 2) this.fail(`${fn}: expected ADDR [SIZE]`, group[2].pos);
    let level = -1;
    if (fn === "table") {
      const l = e.args[2];
      if (l?.length !== 1 || l[0].kind !== "name" || !(l[0].name in LEVELS))
        this.fail("table(P, ADDR, LEVEL): LEVEL is pml5, pml4, pdpt, pd or pt", e.pos);
      level = LEVELS[l[0].name];
    } else if (e.args.length > 2) this.fail(`${fn} takes two arguments`, e.args[2][0].pos);
    const num = (ev: Eval, rt: Runtime, what: string, p: Pos): bigint => {
      const v = ev(rt);
      if (typeof v !== "bigint" || v < 0n || v >= 1n << 64n) this.fail(`${what} must be a 64-bit address`, p);
      return v;
    };
    return { group, addr, size, level, num };
  }

  private procCall(e: Expr & { kind: "call" }, name: string, pos: Pos): Eval {
    if (!this.procs.has(name)) this.fail(`process '${name}' does not exist`, pos);
    const fn = e.fn;
    const { group, addr, size, level, num } = this.rangeArgs(e);
    return (rt) => {
      const k = rt.kernel;
      const t = rt.procs.get(name)!;
      const va = num(addr, rt, "the address", group[0].pos);
      if (!k.va.isCanonical(va))
        return fn === "pfn" || fn === "byte" || fn === "mapcount" || fn === "table" ? -1n : 0n;
      if (k.va.isKernel(va) && fn !== "table") {
        // the kernel half of every process's page tables is the kernel's own
        const kpfn = t.alive && t.mm ? k.kernelPfn(va) : -1;
        if (fn === "pfn") return BigInt(kpfn);
        if (fn === "byte")
          return kpfn < 0 ? -1n : BigInt(k.machine.phys.read8(kpfn * 4096 + k.va.offset(va)));
        if (fn === "present") return kpfn < 0 ? 0n : 1n;
        return fn === "mapcount" ? -1n : 0n;
      }
      const vpn = k.va.vpn(va);
      const len = size ? num(size, rt, "the size", group[1].pos) : 1n;
      const n = Number((BigInt(k.va.offset(va)) + len + 4095n) / 4096n);
      switch (fn) {
        case "pfn":
          return BigInt(pageState(k, t, vpn).pfn);
        case "byte": {
          const st = pageState(k, t, vpn);
          return st.pfn < 0 ? -1n : BigInt(k.machine.phys.read8(st.pfn * 4096 + k.va.offset(va)));
        }
        case "mapcount": {
          const st = pageState(k, t, vpn);
          return st.pfn < 0 ? -1n : st.zeroPage ? 0n : BigInt(k.pages.mapcount[st.pfn]);
        }
        case "table": {
          if (level >= k.levels) this.fail("this machine has no such level", e.pos);
          if (!t.alive || !t.mm) return -1n;
          if (level === k.levels - 1) return BigInt(t.mm.pgdPfn);
          const parent = k.userMm.mapper(t.mm).entryAt(t.mm.pgdPfn, vpn, level + 1);
          if (parent === null || !(parent.lo & Pte.P) || (level + 1 <= 2 && parent.lo & Pte.PS)) return -1n;
          return BigInt(((parent.hi & 0x3fff) * 4294967296 + ((parent.lo & 0xfffff000) >>> 0)) / 4096);
        }
        case "present":
          return BigInt(countPages(k, t, vpn, n, (st) => st.present));
        case "rss":
          return BigInt(countPages(k, t, vpn, n, (st) => st.present && !st.zeroPage));
        case "anon":
          return BigInt(countPages(k, t, vpn, n, (st) => st.anon));
        case "dirty":
          return BigInt(countPages(k, t, vpn, n, (st) => st.present && !st.zeroPage && st.dirty));
        case "locked":
          return BigInt(lockedPages(k, t, vpn, n));
        case "guard":
          return BigInt(countPages(k, t, vpn, n, (_st, v) => isGuard(k, t, v)));
        case "lazyfree":
          return BigInt(
            countPages(
              k,
              t,
              vpn,
              n,
              (st) => st.anon && !st.dirty && (k.pages.flags[st.pfn] & PageFlag.Lazyfree) !== 0,
            ),
          );
        case "vmas":
          return BigInt(
            t.mm && t.alive ? t.mm.vmas.filter((v) => v.vmStart < vpn + n && v.vmEnd > vpn).length : 0,
          );
        default:
          if (fn === "anon_huge") return BigInt(countPages(k, t, vpn, n, (st) => st.huge && st.anon));
          return BigInt(countPages(k, t, vpn, n, (st) => st.swapSlot >= 0)); // swapped
      }
    };
  }

  /** cached(FILE), file_byte(FILE, OFFSET) */
  private fileCall(e: Expr & { kind: "call" }): Eval {
    const fn = e.fn;
    const g = e.args[0];
    if (g?.length !== 1 || g[0].kind !== "name" || !this.files.has(g[0].name))
      this.fail(`${fn}: the first argument is a file name`, g?.[0]?.pos ?? e.pos);
    const name = g[0].name;
    if (fn === "cached") {
      if (e.args.length !== 1) this.fail("cached(FILE) takes one argument", e.pos);
      return (rt) => BigInt(rt.kernel.pageCache.files.get(name)!.cache.size);
    }
    if (e.args.length !== 2 || e.args[1].length !== 1) this.fail("file_byte(FILE, OFFSET)", e.pos);
    const off = this.expr(e.args[1][0]);
    return (rt) => {
      const f = rt.kernel.pageCache.files.get(name)!;
      const o = off(rt);
      if (typeof o !== "bigint" || o < 0n) this.fail("file_byte: the offset is a non-negative number", e.pos);
      if (o >= BigInt(f.sizeBytes)) return -1n;
      // what read(2) would return: the page cache's copy if cached, else the disk's
      const pfn = f.cache.get(Number(o / 4096n));
      return BigInt(
        pfn !== undefined
          ? rt.kernel.machine.phys.read8(pfn * 4096 + Number(o % 4096n))
          : f.storedByte(Number(o)),
      );
    };
  }

  private call(e: Expr & { kind: "call" }): Eval {
    const fn = e.fn;
    if (
      [
        "tlb.hits",
        "tlb.misses",
        "tlb.flushes",
        "context_switches",
        "shootdowns",
        "cr3_writes",
        "pti.cr3_switches",
        "pti.user_flushes",
      ].includes(fn)
    ) {
      for (const k of Object.keys(e.opts)) if (k !== "cpu") this.fail(`${fn} takes only cpu=N`, e.pos);
      if (e.args.length) this.fail(`${fn} takes only cpu=N`, e.pos);
      return this.name(fn, e.pos, e.opts);
    }
    const rangeFns = [
      "pfn",
      "present",
      "table",
      "byte",
      "rss",
      "swapped",
      "anon",
      "dirty",
      "mapcount",
      "anon_huge",
      "locked",
      "lazyfree",
      "vmas",
      "guard",
    ];
    if (!rangeFns.includes(fn) && fn !== "cached" && fn !== "file_byte")
      this.fail(`unknown function '${fn}'`, e.pos);
    if (fn === "cached" || fn === "file_byte") return this.fileCall(e);
    if (e.args.length < 2) this.fail(`${fn}(P, ...) needs a process (or kernel) and an address`, e.pos);
    const who = e.args[0];
    if (who.length !== 1 || who[0].kind !== "name")
      this.fail(`${fn}: the first argument is a process name or 'kernel'`, who[0].pos);
    if (who[0].name !== "kernel") return this.procCall(e, who[0].name, who[0].pos);
    if (!["pfn", "present", "table", "byte"].includes(fn))
      this.fail(`${fn}(kernel, ...) is not defined: it counts user pages`, e.pos);
    const { group: addrGroup, addr, size, level, num } = this.rangeArgs(e);
    return (rt) => {
      const k = rt.kernel;
      const va = num(addr, rt, "the address", addrGroup[0].pos);
      switch (fn) {
        case "pfn":
          return BigInt(k.kernelPfn(va));
        case "byte": {
          const pfn = k.kernelPfn(va);
          return pfn < 0 ? -1n : BigInt(k.machine.phys.read8(pfn * 4096 + k.va.offset(va)));
        }
        case "table": {
          if (level >= k.levels)
            this.fail(`this machine has no level '${(e.args[2][0] as { name: string }).name}'`, e.pos);
          if (!k.va.isCanonical(va)) return -1n;
          const vpn = k.va.vpn(va);
          if (level === k.levels - 1) return BigInt(k.rootPfn);
          const parent = k.mapper.entryAt(k.rootPfn, vpn, level + 1);
          if (parent === null || !(parent.lo & Pte.P) || (level + 1 <= 2 && parent.lo & Pte.PS)) return -1n;
          return BigInt(((parent.hi & 0x3fff) * 4294967296 + ((parent.lo & 0xfffff000) >>> 0)) / 4096);
        }
        default: {
          // present(kernel, RANGE)
          const len = size ? num(size, rt, "the size", addrGroup[1].pos) : 1n;
          let n = 0n;
          for (const p of touchPoints(va - (va % 4096n), len + (va % 4096n), 4096n))
            if (k.kernelPfn(p) >= 0) n++;
          return n;
        }
      }
    };
  }
}

function isGuard(k: Kernel, t: Task, vpn: number): boolean {
  if (!t.mm || !t.alive) return false;
  const pte = k.userMm.readPte(t.mm, vpn);
  return pte !== null && pte.lo === PTE_GUARD && pte.hi === 0;
}

/** Addresses a range touches: once per stride, from start, in ascending order. */
function touchPoints(start: bigint, len: bigint, stride: bigint): bigint[] {
  const points: bigint[] = [];
  if (stride === 4096n) {
    // once per page the range covers
    const first = start - (start % 4096n);
    for (let p = first; p < start + len && points.length <= MAX_TOUCHES; p += 4096n)
      points.push(p < start ? start : p);
    return points;
  }
  for (let p = start; p < start + len && points.length <= MAX_TOUCHES; p += stride) points.push(p);
  return points;
}

function shuffle<T>(a: T[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
}

function sizeName(n: number): string {
  return n >= 1024 ? `${n / 1024}k` : String(n);
}

const ERRNO_NAMES: Record<string, string> = {
  "-1": "EPERM",
  "-12": "ENOMEM",
  "-13": "EACCES",
  "-14": "EFAULT",
  "-17": "EEXIST",
  "-22": "EINVAL",
};

function errnoName(r: bigint): string {
  return ERRNO_NAMES[String(r)] ?? `errno ${-r}`;
}

/** /proc/vmstat counters vmlab keeps so far. */
export function vmstat(k: Kernel): Record<string, number> {
  const c = k.pages.countByKind();
  return {
    nr_free_pages: k.buddy.freePages(),
    nr_slab_unreclaimable: k.slab.slabPages(),
    nr_page_table_pages: k.pageTablePages,
    nr_vmalloc: c[PageKind.Vmalloc],
    allocstall_normal: k.buddy.allocStalls,
    pgalloc_failed: k.buddy.failedAllocs,
    kswapd_wakeups: k.buddy.kswapdWakeups,
    nr_kernel_pages: c[PageKind.KernelPages] + c[PageKind.KmallocLarge],
    ...k.userMm.thpStats,
    ...k.vmscan.stats,
    oom_kill: k.oomKills,
    nr_inactive_anon: k.vmscan.size[1],
    nr_active_anon: k.vmscan.size[2],
    nr_inactive_file: k.vmscan.size[3],
    nr_active_file: k.vmscan.size[4],
    pswpin: k.swap?.pswpin ?? 0,
    swap_ra: k.swap?.readahead ?? 0,
    pswpout: k.swap?.pswpout ?? 0,
    pgpgin: k.pageCache.pagesIn * 4,
    pgpgout: k.pageCache.pagesOut * 4,
    pgmajfault: k.tasks.reduce((n, t) => n + t.majFlt, 0),
  };
}

export { kindName };

function faultSummary(minor: number, major: number): string {
  if (minor + major === 0) return "no page fault";
  const n = minor + major;
  const kind = major === 0 ? "minor" : minor === 0 ? "major" : `${minor} minor, ${major} major`;
  return `${n} page fault${n > 1 ? "s" : ""} (${kind})`;
}
