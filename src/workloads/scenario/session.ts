/**
 * Running a scenario: `runScenario` (a whole file: parse, check every
 * statement, boot, execute, finish) and `Session` (the same a line at a
 * time, for the REPL), with the results they return (RunResult,
 * StatementResult, ExpectResult) and their options (RunOptions).
 */
import { ModelBug } from "../../base/assert.ts";
import { HostMemoryError, InputError } from "../../base/errors.ts";
import { type FileHandle, Kernel, type TaskHandle } from "../../kernel/Kernel.ts";
import { compileStatement } from "./compile.ts";
import type { Stmt } from "./lang/ast.ts";
import { parseLine, parseScenario } from "./lang/parser.ts";
import { machineSettings } from "./machineConfig.ts";
import { CompileContext, type ExpectResult, type Run, Runtime } from "./runtime/context.ts";
import { formatEvent, formatValue, mib } from "./runtime/format.ts";

export type { ExpectResult };

/** What one statement did. */
export interface StatementResult {
  line: number;
  text: string;
  /** what happened, one or more lines (oops reports, show output, values) */
  output: string[];
  /**
   * A view statement's data (`show P vtop|pagemap|pte|vmmap|vad`, `show
   * kpageflags|pfn|poolused|rammap`): what `output` prints, as JSON values
   * (addresses and 64-bit entries as "0x..." strings); `vmlab run --json`
   * prints it. Absent for other statements.
   */
  view?: unknown;
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
  /** the kernel log (dmesg) at the end of the run: its lines appear in the statements' output as the kernel printed them */
  log: string[];
  exitCode: 0 | 1;
}

export interface RunOptions {
  file?: string;
  /** record every access, TLB lookup and walk step in the statements' output */
  trace?: boolean;
  /** run the invariant checker after every statement (a broken invariant is a vmlab bug) */
  checkInvariants?: boolean;
  /** directories a `replay` may read besides the scenario's own (docs/scenarios.md, "Files a scenario reads") */
  allowRead?: readonly string[];
  /**
   * The most host memory the simulated RAM may hold (bytes; unlimited by
   * default): a statement that writes past it stops the run with an error
   * at its line (`vmlab run --max-host-memory`).
   */
  maxHostMemory?: number;
}

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
  const steps = stmts.filter((s) => s !== machineStmt).map((s) => ({ stmt: s, run: session.compile(s) }));
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
  readonly file: string;
  /** what the statements compiled so far defined */
  private readonly context: CompileContext;
  private rt: Runtime | null = null;
  /** why the machine cannot go on (host memory ran out in a statement), or null */
  private exhausted: string | null = null;
  readonly result: RunResult;

  constructor(private readonly opts: RunOptions = {}) {
    this.file = opts.file ?? "<scenario>";
    this.context = new CompileContext(this.file, opts.allowRead);
    this.result = {
      file: this.file,
      machine: {},
      statements: [],
      expectations: [],
      passed: 0,
      failed: 0,
      halted: null,
      metrics: {},
      log: [],
      exitCode: 0,
    };
    this.context.expectations = this.result.expectations;
  }

  get kernel(): Kernel | null {
    return this.rt?.kernel ?? null;
  }

  /** The scenario's variables and processes by name, as the statements run so far left them (empty before boot). */
  get variables(): ReadonlyMap<string, bigint> {
    return this.rt?.vars ?? new Map();
  }

  get processes(): ReadonlyMap<string, TaskHandle> {
    return this.rt?.procs ?? new Map();
  }

  /** The files the statements run so far created (`file`, `memfd`), by name (empty before boot). */
  get files(): ReadonlyMap<string, FileHandle> {
    return this.rt?.files ?? new Map();
  }

  get booted(): boolean {
    return this.rt !== null;
  }

  /** Checks one statement against the ones compiled before it; returns what runs it. */
  compile(stmt: Stmt): Run {
    return compileStatement(this.context, stmt);
  }

  /** Boots the machine of a `machine` statement (or the defaults). */
  boot(machineStmt: Stmt | null): StatementResult | null {
    const settings = machineSettings(machineStmt, this.file);
    const kernel = new Kernel(settings.kernel);
    if (this.opts.maxHostMemory !== undefined)
      kernel.machine.phys.hostLimitFrames = Math.max(
        kernel.machine.phys.materialized,
        Math.floor(this.opts.maxHostMemory / 4096),
      );
    const rt = new Runtime(kernel, settings.seed);
    this.rt = rt;
    this.result.machine = settings.effective;
    if (this.opts.trace) kernel.setTracer((e) => rt.out.push(`  trace: ${formatEvent(e)}`));
    if (!machineStmt) return null;
    const m = rt.view.meminfo();
    const r = {
      line: machineStmt.pos.line,
      text: machineStmt.text.trim(),
      output: [
        `booted: ${mib(settings.kernel.ramBytes)} RAM, ${settings.kernel.cpus} CPU${settings.kernel.cpus === 1 ? "" : "s"}, ${rt.view.machine().levels}-level paging; MemTotal ${mib(m.MemTotal)}, MemFree ${mib(m.MemFree)}`,
      ],
    };
    this.result.statements.push(r);
    return r;
  }

  /** Runs a compiled statement. Returns false when the machine has halted (nothing more runs). */
  execute(stmt: Stmt, run: Run): boolean {
    const rt = this.rt!;
    const view = rt.view;
    const before = view.counters();
    if (before.panic !== null) {
      this.result.halted = `Kernel panic - not syncing: ${before.panic}`;
      return false;
    }
    rt.out = [];
    rt.data = undefined;
    rt.kernel.tagChecker(`line ${stmt.pos.line}`);
    if (this.exhausted !== null) throw new InputError(this.exhausted, { file: this.file, ...stmt.pos });
    try {
      run(rt);
    } catch (e) {
      // the statement stopped part way: the machine is not fit to go on
      if (e instanceof HostMemoryError) {
        this.exhausted = `the run stopped at line ${stmt.pos.line}: ${e.message}`;
        throw new InputError(`${e.message}; give a larger --max-host-memory, or a smaller range or machine`, {
          file: this.file,
          ...stmt.pos,
        });
      }
      // bad input the kernel found (a freed memfd named again, say: fileOf) knows no place: the statement's
      if (e instanceof InputError && e.where === undefined)
        throw new InputError(e.message, { file: this.file, ...stmt.pos });
      throw e;
    }
    // the OOM killer's reports, as the kernel logs them, before what the statement printed
    const after = view.counters();
    if (after.oomReports > before.oomReports) rt.out.unshift(...view.oomReports(before.oomReports));
    // check_tlb=on: every use of a stale TLB entry during the statement, with the write that made it stale
    if (after.staleTlbUses > before.staleTlbUses)
      for (const lines of view.staleTlbUses(before.staleTlbUses))
        rt.out.push(...lines.map((l) => `checker: ${l}`));
    this.result.statements.push({
      line: stmt.pos.line,
      text: stmt.text.trim(),
      output: rt.out,
      ...(rt.data === undefined ? {} : { view: jsonValue(rt.data) }),
    });
    if (this.opts.checkInvariants) {
      const problems = view.invariants();
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
    const run = this.compile(stmt);
    if (!this.booted) this.boot(null);
    const panicked = this.kernel!.view.counters().panic;
    if (panicked !== null)
      throw new InputError(`the machine has halted: Kernel panic - not syncing: ${panicked}`, {
        file: this.file,
        ...stmt.pos,
      });
    this.execute(stmt, run);
    return this.result.statements.at(-1)!;
  }

  /** Final counts and metrics. */
  finish(): RunResult {
    const result = this.result;
    const { kernel, view } = this.rt!;
    const panicked = view.counters().panic;
    if (panicked !== null) result.halted = `Kernel panic - not syncing: ${panicked}`;
    kernel.setTracer(null);
    result.passed = result.expectations.filter((e) => e.ok).length;
    result.failed = result.expectations.length - result.passed;
    result.exitCode = result.failed > 0 ? 1 : 0;
    const m = view.meminfo();
    const cpus = view.cpus();
    result.metrics = {
      oops: String(view.counters().oopses),
      "meminfo.MemTotal": String(m.MemTotal),
      "meminfo.MemFree": String(m.MemFree),
      "meminfo.Slab": String(m.Slab),
      "meminfo.VmallocUsed": String(m.VmallocUsed),
      "tlb.hits": String(cpus.reduce((n, c) => n + c.tlbHits, 0)),
      // every page walk, the dirty-bit walks included
      "tlb.misses": String(cpus.reduce((n, c) => n + c.walks, 0)),
    };
    // with a data cache (cache=): its counters, summed over the CPUs
    if (cpus[0]?.cache) {
      const sum = (f: (c: NonNullable<(typeof cpus)[0]["cache"]>) => number) =>
        String(cpus.reduce((n, c) => n + f(c.cache!), 0));
      result.metrics["cache.hits"] = sum((c) => c.hits);
      result.metrics["cache.misses"] = sum((c) => c.misses);
      result.metrics["cache.flushes"] = sum((c) => c.flushes);
      result.metrics["cache.stale_reads"] = sum((c) => c.staleReads);
    }
    for (const [k, v] of this.rt!.vars) result.metrics[k] = formatValue(v);
    result.log = view.log(0);
    return result;
  }
}

/** A view's data as plain JSON: bigints (addresses, entries) as "0x..." strings. */
function jsonValue(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x)));
}
