/**
 * The compile context every statement handler shares, and the runtime its
 * run closures see.
 *
 * A handler (`Handler`, one per statement verb, in stmts/*.ts; the table is
 * compile.ts) checks its statement against the context at compile time:
 * the variables, processes, files and devices defined by the lines before
 * it, its options and arguments. Every check comes first; then it returns
 * the closure that runs the statement on a booted machine (`Runtime`). The
 * helpers here are the ones several handlers use: `fail` (InputError at
 * FILE:LINE:COL), option and argument parsing, values of address
 * expressions at run time, the process a statement runs as and the context
 * switch to it, and the addresses a range touches.
 *
 * Statements change the kernel through its facade (`rt.kernel`: spawn,
 * mmap, userAccess, ...) and read it through its view only (`rt.view`,
 * kernel/view/KernelView.ts: plain data, never a live kernel object).
 */
import { dirname } from "node:path";
import { assert } from "../../../base/assert.ts";
import { InputError, tidyMessage } from "../../../base/errors.ts";
import { Rng } from "../../../base/rng.ts";
import type { FileHandle, Kernel, TaskHandle } from "../../../kernel/Kernel.ts";
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import type { AddrExpr, Pos, Stmt, Word } from "../lang/ast.ts";
import { formatValue } from "./format.ts";

/** One `expect` statement's outcome. */
export interface ExpectResult {
  line: number;
  text: string;
  ok: boolean;
  actual: string;
  expected: string;
}

/** At most this many touches in one statement (ranges, replays). */
export const MAX_TOUCHES = 1_000_000;

/** A `key=value` word. */
export type Kv = Word & { kind: "kv" };
/** A positional word. */
export type Arg = Word & { kind: "arg" };

/** The runtime a compiled step sees. */
export class Runtime {
  readonly vars = new Map<string, bigint>();
  readonly procs = new Map<string, TaskHandle>();
  /** the files `file` statements created, by name */
  readonly files = new Map<string, FileHandle>();
  /** where each process died, for error messages */
  readonly deaths = new Map<string, number>();
  readonly rng: Rng;
  /** the kernel's state, read-only */
  readonly view: KernelView;
  out: string[] = [];
  /** a view statement's data for `vmlab run --json` (the statement's `view`), else undefined */
  data: unknown = undefined;

  constructor(
    readonly kernel: Kernel,
    seed: number,
  ) {
    this.rng = new Rng(seed);
    this.view = kernel.view;
  }
}

/** A compiled statement: runs it on the booted machine. */
export type Run = (rt: Runtime) => void;

/** Checks one statement (everything first) and returns the closure that runs it. */
export type Handler = (c: CompileContext, s: Stmt) => Run;

/** The positional words of a statement. */
export function argWords(s: Stmt): Arg[] {
  return s.words.filter((w) => w.kind === "arg") as Arg[];
}

/** The process a `P:` statement names, and where. */
export function processOf(s: Stmt): { name: string; pos: Pos } {
  assert(s.prefix?.kind === "process", "processOf: not a process statement");
  return { name: s.prefix.name, pos: s.prefix.pos };
}

/** The CPU of a `kernel[@N]:` statement. */
export function kernelCpuOf(s: Stmt): number {
  assert(s.prefix?.kind === "kernel", "kernelCpuOf: not a kernel statement");
  return s.prefix.cpu;
}

/** What the lines compiled so far have defined, and the helpers every handler uses. */
export class CompileContext {
  /** variables defined so far */
  readonly defined = new Set<string>();
  /** processes and kernel threads named so far, with their kind */
  readonly procs = new Map<string, "user" | "kthread">();
  /** files created so far (names checked at compile time) */
  readonly files = new Set<string>();
  /** devices registered so far */
  readonly devices = new Set<string>();
  expectations: ExpectResult[] = [];

  /**
   * The directories the scenario may read files from (replay): its own (the
   * current one for a scenario without a file), then those the user allowed.
   */
  readonly readDirs: string[];

  constructor(
    readonly file: string,
    allowRead: readonly string[] = [],
  ) {
    this.readDirs = [file.startsWith("<") || file === "-" ? "." : dirname(file), ...allowRead];
  }

  fail(msg: string, pos: Pos): never {
    throw new InputError(tidyMessage(msg), { file: this.file, ...pos });
  }

  // ---- words ----

  /** The statement's `key=value` options, each allowed and given once. */
  opts(s: Stmt, allowed: string[]): Map<string, Kv> {
    const m = new Map<string, Kv>();
    for (const w of s.words) {
      if (w.kind !== "kv") continue;
      if (!allowed.includes(w.key))
        this.fail(
          `'${s.verb}' has no option '${w.key}'${allowed.length ? ` (options: ${allowed.join(", ")})` : ""}`,
          w.pos,
        );
      if (m.has(w.key)) this.fail(`option '${w.key}' given twice`, w.pos);
      m.set(w.key, w as Kv);
    }
    return m;
  }

  /** Positional address/size arguments, each an expression whose variables are defined. */
  exprArgs(ws: Arg[]): AddrExpr[] {
    return ws.map((w) => {
      if (w.expr === null) this.fail("expected an address or size", w.pos);
      this.useVars(w.expr);
      return w.expr;
    });
  }

  /** Between min and max positional addresses or sizes (`what` names them for the message). */
  args(s: Stmt, min: number, max: number, what: string): AddrExpr[] {
    const a = argWords(s);
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

  useVars(e: AddrExpr): void {
    if (e.base !== null && !this.defined.has(e.base)) this.fail(`undefined variable '${e.base}'`, e.pos);
  }

  /** `VAR =` before a verb that returns nothing is an error. */
  noTarget(s: Stmt): void {
    if (s.target) this.fail(`'${s.verb}' returns nothing to assign`, s.target.pos);
  }

  /** The statement's `VAR =`, if any, is defined from here on. */
  define(s: Stmt): void {
    if (s.target) this.defined.add(s.target.name);
  }

  /** The name a new process (spawn, fork, thread, kthread) gets: new, not 'kernel', not a variable. */
  newProcName(s: Stmt, what: string): string {
    const w = s.words[0];
    if (w?.kind !== "arg" || w.ident === null || w.expr?.offset)
      this.fail(`'${what}' needs a name`, w?.pos ?? s.verbPos);
    if (w.ident === "kernel") this.fail("'kernel' is reserved", w.pos);
    if (this.procs.has(w.ident)) this.fail(`'${w.ident}' already exists`, w.pos);
    if (this.defined.has(w.ident)) this.fail(`'${w.ident}' is already a variable`, w.pos);
    return w.ident;
  }

  // ---- values at run time ----

  /** A THP statement on a kernel without CONFIG_TRANSPARENT_HUGEPAGE (RV32): an error at its verb. */
  needThp(s: Stmt, rt: Runtime, what = s.verb): void {
    const why = rt.kernel.noThp();
    if (why !== null) this.fail(`'${what}': no /sys/kernel/mm/transparent_hugepage: ${why}`, s.verbPos);
  }

  value(e: AddrExpr, rt: Runtime, what: string): bigint {
    const base = e.base === null ? 0n : rt.vars.get(e.base)!;
    const v = base + e.offset;
    if (v < 0n) this.fail(`${what} is negative (${v})`, e.pos);
    if (v >= 1n << 64n) this.fail(`${what} does not fit in 64 bits`, e.pos);
    if (v >= 1n << 32n && (what.includes("address") || ADDRESS_OPTS.includes(what))) {
      // 32-bit x86 cannot form such an address at all (its linear addresses are 32 bits)
      const arch = rt.view.machine().arch;
      if (arch === "i386" || arch === "i386-pae")
        this.fail(`${what} 0x${v.toString(16)} does not fit in ${arch}'s 32-bit address space`, e.pos);
    }
    return v;
  }

  size(e: AddrExpr, rt: Runtime, what = "the size"): number {
    const v = this.value(e, rt, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is too large`, e.pos);
    return Number(v);
  }

  numOpt(w: Kv | undefined, rt: Runtime): number | null {
    if (!w) return null;
    if (!w.value || (w.value.base !== null && !rt.vars.has(w.value.base)))
      this.fail(`${w.key}= needs a number`, w.valuePos);
    return this.size(w.value, rt, w.key);
  }

  /** Prints a statement's value (and sets its `VAR =`), with a note. */
  assign(s: Stmt, rt: Runtime, v: bigint, note: string): void {
    if (s.target) {
      rt.vars.set(s.target.name, v);
      rt.out.push(`${s.target.name} = ${formatValue(v)}${note ? ` ${note}` : ""}`);
    } else rt.out.push(`${formatValue(v)}${note ? ` ${note}` : ""}`);
  }

  // ---- processes and CPUs at run time ----

  /** The task of a process that must still be alive. */
  liveProc(rt: Runtime, name: string, pos: Pos): TaskHandle {
    const t = rt.procs.get(name)!;
    if (!t.alive) this.fail(`process '${name}' is dead (${t.exitReason})`, pos);
    return t;
  }

  /** The CPU a process's statement runs on: where it is current, else CPU 0 after a context switch. */
  runOn(rt: Runtime, t: TaskHandle): number {
    let cpu = rt.view.task(t).cpu;
    if (cpu < 0) {
      rt.out.push(this.doSwitch(rt, 0, t));
      cpu = 0;
    }
    return cpu;
  }

  /** A context switch, described. */
  doSwitch(rt: Runtime, cpuId: number, t: TaskHandle): string {
    const v = rt.view;
    const before = v.cpu(cpuId);
    rt.kernel.switchTo(cpuId, t);
    const mm = v.mm(t);
    const m = v.machine();
    const reg = m.rootRegister;
    if (mm === null)
      return `cpu${cpuId}: ${t.comm} (kernel thread) runs on the previous mm's page tables: lazy TLB, no ${reg} write`;
    const after = v.cpu(cpuId);
    const wrote = after.rootWrites > before.rootWrites;
    const flushed = after.switchFlushes > before.switchFlushes;
    // the tag the hardware now holds (x86: the PCID in CR3; arm64: the ASID the allocator gave the mm)
    const tag = !m.pcid
      ? ""
      : m.asidRegister !== null && wrote
        ? `, ${m.asidRegister} <- ${after.hwAsid}`
        : ` ${after.asidName} ${after.hwAsid}`;
    const cacheFlushed =
      (after.cache?.flushes ?? 0) > (before.cache?.flushes ?? 0)
        ? "; data cache flushed (untagged VIVT)"
        : "";
    return `cpu${cpuId}: ${wrote ? `${reg} <- PGD 0x${(mm.pgdPfn * 4096).toString(16)}` : `same mm, no ${reg} write`}${tag}${wrote ? (flushed ? " (TLB flushed)" : " (no flush: the ASID's entries are still valid)") : ""}${cacheFlushed}`;
  }

  /** A `kernel@N:` statement's CPU must exist. */
  checkCpu(rt: Runtime, cpuId: number, s: Stmt): void {
    const n = rt.view.machine().cpus;
    if (cpuId >= n) this.fail(`CPU ${cpuId} does not exist (the machine has ${n})`, s.prefix!.pos);
  }

  // ---- ranges ----

  /**
   * The addresses a read/write statement touches: RANGE with stride= (one
   * touch per page by default) in order= (asc, desc, or shuffled by the
   * machine's seed), checked: not empty, not wrapping, at most 1,000,000.
   */
  touchRange(
    rt: Runtime,
    addr: AddrExpr,
    size: AddrExpr | undefined,
    strideW: Kv | undefined,
    orderW: Kv | undefined,
  ): bigint[] {
    const { start, len, stride } = this.rangeOf(rt, addr, size, strideW);
    const points = touchPoints(start, len, stride);
    if (points.length > MAX_TOUCHES)
      this.fail(`the range touches ${points.length} pages; vmlab caps one statement at 1,000,000`, addr.pos);
    if (orderW?.ident === "desc") points.reverse();
    else if (orderW?.ident === "random") shuffle(points, rt.rng);
    return points;
  }

  /**
   * touchRange's addresses as runs of evenly spaced addresses, in the same
   * order (Kernel.userAccessRange: one call per run, not per page), with
   * the same checks and errors; null when they are not such runs
   * (order=random, a negative stride): then touchRange's list.
   */
  touchRangeRuns(
    rt: Runtime,
    addr: AddrExpr,
    size: AddrExpr | undefined,
    strideW: Kv | undefined,
    orderW: Kv | undefined,
  ): TouchRuns | null {
    if (orderW?.ident === "random") return null;
    const { start, len, stride } = this.rangeOf(rt, addr, size, strideW);
    const r = touchRuns(start, len, stride, orderW?.ident === "desc");
    if (r !== null && r.total > MAX_TOUCHES)
      this.fail(
        `the range touches ${MAX_TOUCHES + 1} pages; vmlab caps one statement at 1,000,000`, // touchPoints stops there
        addr.pos,
      );
    return r;
  }

  /** A range statement's address, size and stride=, checked. */
  private rangeOf(
    rt: Runtime,
    addr: AddrExpr,
    size: AddrExpr | undefined,
    strideW: Kv | undefined,
  ): { start: bigint; len: bigint; stride: bigint } {
    const start = this.value(addr, rt, "the address");
    const len = size ? this.value(size, rt, "the size") : 1n;
    if (len === 0n) this.fail("the size is 0", size!.pos);
    if (start + len > 1n << 64n) this.fail("the range wraps past the end of the address space", addr.pos);
    const stride = strideW ? BigInt(this.numOpt(strideW, rt)!) : 4096n;
    if (stride === 0n) this.fail("stride=0", strideW!.valuePos);
    return { start, len, stride };
  }
}

/** touchPoints' addresses (reversed for `desc`) as runs: each `count` addresses from `first`, `stride` bytes apart. */
export interface TouchRuns {
  runs: { first: bigint; count: number; stride: number }[];
  /** the addresses in all runs */
  total: number;
}

/**
 * touchPoints(start, len, stride), reversed when `desc`, as runs of evenly
 * spaced addresses: one run, or two when the range starts inside a page
 * (its first address, then the pages after it). Null for a negative
 * stride or one whose run spans 2^53 bytes or more (the list then).
 */
export function touchRuns(start: bigint, len: bigint, stride: bigint, desc: boolean): TouchRuns | null {
  if (stride < 0n) return null;
  const runs: TouchRuns["runs"] = [];
  if (stride === 4096n) {
    // once per page the range covers: the first address as given, then each page's start
    const first = start - (start % 4096n);
    const total = Number((start + len - first + 4095n) / 4096n);
    const pages = start === first ? total : total - 1; // evenly spaced from a page start
    const from = start === first ? first : first + 4096n;
    const head = start === first ? [] : [{ first: start, count: 1, stride: 0 }];
    if (pages === 0) return { runs: head, total };
    const body = desc
      ? { first: from + BigInt(pages - 1) * 4096n, count: pages, stride: -4096 }
      : { first: from, count: pages, stride: 4096 };
    runs.push(...(desc ? [body, ...head] : [...head, body]));
    return { runs, total };
  }
  const total = Number((len + stride - 1n) / stride);
  if (stride * BigInt(total) >= 2n ** 53n) return null;
  const s = Number(stride);
  runs.push(
    desc
      ? { first: start + BigInt(total - 1) * stride, count: total, stride: -s }
      : { first: start, count: total, stride: s },
  );
  return { runs, total };
}

/** The values `value` reads that are addresses besides "the address": mmap at=, mremap to=, a uaccess buffer. */
const ADDRESS_OPTS = ["at=", "to=", "the buffer"];

/** Addresses a range touches: once per stride, from start, in ascending order (at most MAX_TOUCHES + 1). */
export function touchPoints(start: bigint, len: bigint, stride: bigint): bigint[] {
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
