/**
 * The browser view's run of a scenario, one statement at a time: parse and
 * check the whole text (as `vmlab run` does), boot, then execute statements
 * on demand. Going back is exact: the engine is deterministic, so step N is
 * a fresh run of the first N statements. Before each statement the stepper
 * keeps every process's page-table entries, so that the panels can mark
 * what the last statement changed. Runs in the browser and in Node alike
 * (no DOM, no node: modules).
 */
import { InputError } from "../../base/errors.ts";
import type { Stmt } from "../../workloads/scenario/lang/ast.ts";
import { parseScenario } from "../../workloads/scenario/lang/parser.ts";
import type { Run } from "../../workloads/scenario/runtime/context.ts";
import { Session, type StatementResult } from "../../workloads/scenario/session.ts";

/** An error the view shows at its place in the text. */
export interface StepError {
  message: string;
  line: number | null;
  col: number | null;
}

/** The running figures after a step (summed over CPUs and tasks). */
export interface Figures {
  /** page faults the CPUs took (the architecture's page-fault exception) */
  pageFaults: number;
  tlbHits: number;
  /** page walks: TLB misses */
  tlbMisses: number;
  swapOuts: number;
  swapIns: number;
}

/** The figures as the kernel's view has them now. */
export function figures(session: Session): Figures {
  const view = session.kernel!.view;
  const f: Figures = { pageFaults: 0, tlbHits: 0, tlbMisses: 0, swapOuts: 0, swapIns: 0 };
  for (const c of view.cpus()) {
    f.pageFaults += c.pageFaults;
    f.tlbHits += c.tlbHits;
    f.tlbMisses += c.walks;
  }
  const k = view.counters();
  f.swapOuts = k.swapOuts;
  f.swapIns = k.swapIns;
  return f;
}

/** The page-table entries of every live process: entry physical address -> raw value (`hi:lo`). */
export type EntrySnapshot = Map<number, string>;

export class Stepper {
  readonly session: Session;
  /** the statements that run, the `machine` statement aside, in order */
  readonly statements: Stmt[];
  private readonly runs: Run[];
  /** how many statements have run */
  done = 0;
  /** the error that stopped the run (a statement's run-time error), or null */
  error: StepError | null = null;
  /** the machine halted (a panic): nothing more runs */
  halted = false;
  /** the entries before the last statement ran (null when it ran untracked, or before the first) */
  before: EntrySnapshot | null = null;
  /** the figures after boot (index 0) and after each statement */
  readonly history: Figures[];

  /** Parses and checks every statement, then boots; an invalid scenario throws InputError. */
  constructor(
    readonly source: string,
    readonly file = "<scenario>",
  ) {
    const stmts = parseScenario(source, file);
    const machineStmt = stmts.find((s) => s.verb === "machine" && s.prefix === null) ?? null;
    if (machineStmt && stmts[0] !== machineStmt)
      throw new InputError("'machine' must come before any other statement", { file, ...machineStmt.pos });
    this.session = new Session({ file });
    this.statements = stmts.filter((s) => s !== machineStmt);
    this.runs = this.statements.map((s) => this.session.compile(s));
    this.session.boot(machineStmt);
    this.history = [figures(this.session)];
  }

  /** A stepper that has run the first `n` statements of `source` (or as many as ran before an error or a halt). */
  static at(source: string, n: number, file?: string): Stepper {
    const s = new Stepper(source, file);
    s.runTo(n);
    return s;
  }

  /**
   * Runs statements until `n` have run (or the run ends): those before the
   * last untracked, since only the last one's changes are marked (a
   * snapshot of every table per statement would make a long scenario slow).
   */
  runTo(n: number): void {
    const last = Math.min(n, this.statements.length);
    while (this.done < last - 1 && this.step(false)) {}
    if (this.done < last) this.step();
  }

  get finished(): boolean {
    return this.done >= this.statements.length || this.error !== null || this.halted;
  }

  /** The statement that ran last, or null before the first. */
  get current(): Stmt | null {
    return this.done > 0 ? this.statements[this.done - 1] : null;
  }

  /** What the statements printed so far (the boot line first when there is a `machine` statement). */
  get results(): StatementResult[] {
    return this.session.result.statements;
  }

  /** Runs the next statement; false when nothing ran (the end, an error, a halt). `track`: keep the entries before it. */
  step(track = true): boolean {
    if (this.finished) return false;
    const stmt = this.statements[this.done];
    this.before = track ? entrySnapshot(this.session) : null;
    try {
      if (!this.session.execute(stmt, this.runs[this.done])) {
        this.halted = true;
        return false;
      }
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      this.error = {
        message: e.message,
        line: e.where?.line ?? stmt.pos.line,
        col: e.where?.col ?? stmt.pos.col,
      };
      return false;
    }
    this.done++;
    this.history.push(figures(this.session));
    return true;
  }

  /** Entries whose raw value the last statement changed (new ones included), by physical address. */
  changedEntries(): Set<number> {
    const before = this.before;
    // the machine changes only by a step, which replaces `before`: one reading of the tables per step
    if (this.changed !== null && this.changed.before === before && this.changed.done === this.done)
      return this.changed.set;
    const out = new Set<number>();
    if (this.done > 0 && before !== null)
      for (const [pa, v] of entrySnapshot(this.session)) if (before.get(pa) !== v) out.add(pa);
    this.changed = { before, done: this.done, set: out };
    return out;
  }
  private changed: { before: EntrySnapshot | null; done: number; set: Set<number> } | null = null;
}

/** Every non-zero entry of every live process's tables (kernel/view pageTables). */
export function entrySnapshot(session: Session): EntrySnapshot {
  const out: EntrySnapshot = new Map();
  const k = session.kernel;
  if (k === null) return out;
  const view = k.view;
  for (const t of view.tasks()) {
    if (!t.alive || !t.hasMm) continue;
    const h = view.taskHandle(t.pid);
    if (h === null) continue;
    for (const table of view.pageTables(h).tables)
      for (const e of table.entries) out.set(e.entryPa, `${e.hi}:${e.lo}`);
  }
  return out;
}

/** An InputError (or anything thrown while parsing) as the view shows it. */
export function stepError(e: unknown): StepError {
  if (e instanceof InputError)
    return { message: e.message, line: e.where?.line ?? null, col: e.where?.col ?? null };
  return { message: e instanceof Error ? e.message : String(e), line: null, col: null };
}
