/**
 * The Windows profile's sections, thread stacks and working-set sizes
 * (vmlab extensions of the 1.2 Windows forms; docs/windows.md):
 * `CreateFileMapping`, `MapViewOfFile`, `UnmapViewOfFile`, `CloseHandle`,
 * `CreateThread`, `SetProcessWorkingSetSize`. Each prints its return value
 * and, on failure, GetLastError's code by name.
 */
import { MemState, PageProt, protName, QuotaLimits, type TaskHandle } from "../../../kernel/Kernel.ts";
import type { AddrExpr, Pos, Stmt } from "../lang/ast.ts";
import {
  argWords,
  type CompileContext,
  type Kv,
  processOf,
  type Run,
  type Runtime,
} from "../runtime/context.ts";
import { boolResult, errorName, windowsOnly as windowsOnlyAt, winProt } from "./windows.ts";

/** The profile must be windows (known once the machine has booted): windows.ts's check at the verb. */
export function windowsOnly(c: CompileContext, rt: Runtime, s: Stmt) {
  return windowsOnlyAt(c, rt, s.verb, s.verbPos);
}

/** An optional size or address option's value at run time (`dflt` when absent). */
export function optValue(c: CompileContext, rt: Runtime, w: Kv | undefined, dflt: bigint): bigint {
  return w ? c.value(w.value!, rt, `${w.key}=`) : dflt;
}

/** Checks that a `key=` option holds an expression whose variables are defined. */
export function exprOpt(c: CompileContext, w: Kv | undefined): void {
  if (!w) return;
  if (w.value === null) c.fail(`${w.key}= needs a size or an address`, w.valuePos);
  c.useVars(w.value);
}

const CREATE_USAGE =
  "CreateFileMapping SIZE [prot=r|rw|writecopy|rx|rwx|execute_writecopy] [reserve] [file=NAME [image text=SIZE data=SIZE]]";

/**
 * `P: H = CreateFileMapping SIZE [prot=PROT] [reserve] [file=NAME] [image text=SIZE data=SIZE]`:
 * a section backed by the paging file, a file (SIZE 0: the file's size) or
 * an image; `reserve` is SEC_RESERVE; H is its handle (every process may
 * use it), or 0.
 */
export function createFileMapping(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["prot", "file", "text", "data"]);
  const args = argWords(s);
  if (args.length < 1 || args.length > 2 || args[0].expr === null)
    c.fail(CREATE_USAGE, args[0]?.pos ?? s.verbPos);
  const reserve = args.length === 2 && args[1].ident === "reserve";
  const image = args.length === 2 && !reserve;
  if (image && args[1].ident !== "image")
    c.fail(`expected 'image' or 'reserve', not '${args[1].ident ?? "?"}'`, args[1].pos);
  const sizeE: AddrExpr = args[0].expr!;
  c.useVars(sizeE);
  const fileW = o.get("file");
  if (fileW && (fileW.ident === null || !c.files.has(fileW.ident)))
    c.fail(
      `file '${fileW.ident ?? "?"}' does not exist (create it with 'file NAME size=...')`,
      fileW.valuePos,
    );
  if (image && !fileW) c.fail("an image section needs file=NAME (the executable)", args[1].pos);
  const textW = o.get("text");
  const dataW = o.get("data");
  for (const w of [textW, dataW]) {
    if (w && !image)
      c.fail(`${w.key}= is an image's (CreateFileMapping ... image text=SIZE data=SIZE)`, w.pos);
    exprOpt(c, w);
  }
  if (image && (!textW || !dataW)) c.fail("an image section needs text=SIZE and data=SIZE", s.verbPos);
  const protect = winProt(c, o.get("prot") ?? undefined);
  if (!s.target)
    c.fail("CreateFileMapping returns a handle: write 'P: H = CreateFileMapping ...'", s.verbPos);
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const size = c.value(sizeE, rt, "the size");
    if (size > 1n << 30n) c.fail("CreateFileMapping: a section of up to 1G here", sizeE.pos);
    const file = fileW ? rt.files.get(fileW.ident!)! : null;
    const pages = (v: bigint) => Number((v + 4095n) / 4096n);
    const layout = image
      ? { textPages: pages(optValue(c, rt, textW, 0n)), dataPages: pages(optValue(c, rt, dataW, 0n)) }
      : null;
    const h = rt.kernel.createFileMapping(
      t,
      size,
      image ? PageProt.READONLY : protect,
      file,
      layout,
      reserve,
    );
    if (h === 0) {
      c.assign(s, rt, 0n, `(NULL: GetLastError ${errorName(w.process(t)!.lastError)})`);
      return;
    }
    const sec = w.section(h)!;
    const what = image
      ? `SEC_IMAGE of ${file!.name}`
      : file
        ? `backed by ${file.name}`
        : `backed by the paging file${reserve ? ", SEC_RESERVE" : ""}`;
    c.assign(
      s,
      rt,
      BigInt(h),
      `(section handle; ${sec.pages} page${sec.pages === 1 ? "" : "s"} ${what}; commit charge ${w.commit().total} pages)`,
    );
  };
}

/** `P: V = MapViewOfFile H read|write|copy[+execute] [offset=N] [size=N] [at=ADDR]` */
export function mapViewOfFile(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["offset", "size", "at"]);
  const args = argWords(s);
  const usage = "MapViewOfFile H read|write|copy[+execute] [offset=N] [size=N] [at=ADDR]";
  if (args.length !== 2 || args[0].expr === null) c.fail(usage, args[0]?.pos ?? s.verbPos);
  const hE = args[0].expr!;
  c.useVars(hE);
  const words = (args[1].ident ?? "").split("+");
  const access = words[0];
  if (access !== "read" && access !== "write" && access !== "copy")
    c.fail(
      "the access is read, write or copy (FILE_MAP_READ, FILE_MAP_WRITE, FILE_MAP_COPY), with +execute",
      args[1].pos,
    );
  if (words.length > 2 || (words.length === 2 && words[1] !== "execute"))
    c.fail("the only modifier is +execute (FILE_MAP_EXECUTE)", args[1].pos);
  const execute = words.length === 2;
  for (const k of ["offset", "size", "at"]) exprOpt(c, o.get(k));
  if (!s.target) c.fail("MapViewOfFile returns an address: write 'P: V = MapViewOfFile ...'", s.verbPos);
  c.define(s);
  return mapViewRun(c, s, name, pos, hE, o, access, execute, false);
}

/** `P: [VAR =] UnmapViewOfFile ADDR`, `P: [VAR =] CloseHandle H` */
export function unmapOrClose(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [e] = c.args(s, 1, 1, s.verb === "CloseHandle" ? "a handle" : "an address");
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const v = c.value(e, rt, s.verb === "CloseHandle" ? "the handle" : "the address");
    const before = w.commit().total;
    const ok =
      s.verb === "CloseHandle"
        ? rt.kernel.closeHandle(t, Number(v & 0xffff_ffffn))
        : rt.kernel.unmapViewOfFile(t, v);
    const returned = before - w.commit().total;
    const note = `(${returned} page${returned === 1 ? "" : "s"} of commit returned)`;
    boolResult(c, s, rt, ok, w.process(t)!.lastError, note);
  };
}

/**
 * `P: VAR = CreateThread [stack=SIZE] [commit=SIZE]`: the thread's user
 * stack as RtlCreateUserStack makes it (1M reserved, 4K committed by
 * default, a guard page below); VAR is StackBase, its top.
 */
export function createThread(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["stack", "commit"]);
  c.args(s, 0, 0, "no arguments (stack=SIZE commit=SIZE)");
  for (const k of ["stack", "commit"]) exprOpt(c, o.get(k));
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const reserve = optValue(c, rt, o.get("stack"), 1n << 20n);
    const commit = optValue(c, rt, o.get("commit"), 4096n);
    if (reserve > 1n << 30n) c.fail("CreateThread: a stack of up to 1G here", o.get("stack")!.valuePos);
    const top = rt.kernel.createThreadStack(t, reserve, commit);
    if (top === 0n) {
      c.assign(s, rt, 0n, `(NULL: GetLastError ${errorName(w.process(t)!.lastError)})`);
      return;
    }
    const st = w.process(t)!.stack!;
    const hex = (v: bigint) => `0x${v.toString(16)}`;
    c.assign(
      s,
      rt,
      top,
      `(StackBase; StackLimit ${hex(st.limit)}, guard page ${hex(st.limit - 4096n)}, DeallocationStack ${hex(st.deallocation)})`,
    );
  };
}

/**
 * SetProcessWorkingSetSizeEx's Flags by word: `hard` is
 * QUOTA_LIMITS_HARDWS_MAX_ENABLE (as before), the others each flag by its name.
 */
const WS_FLAG_WORDS: Record<string, number> = {
  hard: QuotaLimits.HARDWS_MAX_ENABLE,
  max_enable: QuotaLimits.HARDWS_MAX_ENABLE,
  max_disable: QuotaLimits.HARDWS_MAX_DISABLE,
  min_enable: QuotaLimits.HARDWS_MIN_ENABLE,
  min_disable: QuotaLimits.HARDWS_MIN_DISABLE,
};

/**
 * `P: [VAR =] SetProcessWorkingSetSize MIN MAX [hard|max_enable|max_disable|min_enable|min_disable ...]`
 * or `SetProcessWorkingSetSize empty`: no word is SetProcessWorkingSetSize
 * (Flags 0: the enforcement kept), words are SetProcessWorkingSetSizeEx's
 * QUOTA_LIMITS_HARDWS_* flags.
 */
export function setWorkingSetSize(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  const usage =
    "SetProcessWorkingSetSize MIN MAX [hard|max_enable|max_disable|min_enable|min_disable ...], or SetProcessWorkingSetSize empty";
  const empty = args.length === 1 && args[0].ident === "empty";
  if (!empty && (args.length < 2 || args.length > 6)) c.fail(usage, args[0]?.pos ?? s.verbPos);
  let flags = 0;
  const seen = new Set<string>();
  for (const a of empty ? [] : args.slice(2)) {
    const word = a.ident ?? "?";
    const bit = WS_FLAG_WORDS[word];
    if (bit === undefined)
      c.fail(`expected hard, max_enable, max_disable, min_enable or min_disable, not '${word}'`, a.pos);
    if (seen.has(word)) c.fail(`'${word}' twice`, a.pos);
    seen.add(word);
    flags |= bit;
  }
  const sizes = empty ? [] : c.exprArgs(args.slice(0, 2));
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const min = empty ? -1n : c.value(sizes[0], rt, "the minimum");
    const max = empty ? -1n : c.value(sizes[1], rt, "the maximum");
    const before = w.process(t)!.workingSet;
    const err = rt.kernel.setWorkingSetSize(t, min, max, flags);
    const p = w.process(t)!;
    const note = empty
      ? `(working set emptied: ${before} pages trimmed)`
      : `(minimum ${p.wsMin} pages${p.wsHardMin ? " (hard)" : ""}, maximum ${p.wsMax} pages${p.wsHardMax ? " (hard)" : ""}; working set ${p.workingSet} pages)`;
    boolResult(c, s, rt, err === 0, err, note);
  };
}

const STATES: Record<number, string> = {
  [MemState.COMMIT]: "MEM_COMMIT",
  [MemState.RESERVE]: "MEM_RESERVE",
};
const TYPES: Record<number, string> = {
  [MemState.PRIVATE]: "MEM_PRIVATE",
  [MemState.MAPPED]: "MEM_MAPPED",
  [MemState.IMAGE]: "MEM_IMAGE",
};

/**
 * `show P maps` in the windows profile: every region VirtualQuery reports
 * inside P's reservations and views, and KUSER_SHARED_DATA, one a line
 * (what a debugger's `!address` lists; free space left out): start, end
 * (exclusive), pages, State, Protect, Type, the allocation's base.
 */
export function winMaps(rt: Runtime, t: TaskHandle): string[] {
  const w = rt.view.windows()!;
  const hex = (v: bigint) => `0x${v.toString(16).padStart(8, "0")}`;
  const out = [
    "start      end (excl)  pages  State        Protect                     Type         AllocationBase",
  ];
  const line = (q: NonNullable<ReturnType<Runtime["kernel"]["virtualQuery"]>>) =>
    `${hex(q.baseAddress)} ${hex(q.baseAddress + q.regionSize)} ${String(q.regionSize / 4096n).padStart(6)}  ${(STATES[q.state] ?? "").padEnd(11)}  ${(q.state === MemState.COMMIT ? protName(q.protect) : "-").padEnd(26)}  ${(TYPES[q.type] ?? "").padEnd(11)}  ${hex(q.allocationBase)}`;
  const shared = 0x7ffe_0000n;
  let sharedDone = false;
  for (const v of w.vads(t)) {
    if (!sharedDone && shared < v.start) {
      out.push(line(rt.kernel.virtualQuery(t, shared)!));
      sharedDone = true;
    }
    for (let a = v.start; a < v.end; ) {
      const q = rt.kernel.virtualQuery(t, a)!;
      out.push(line(q));
      a += q.regionSize;
    }
  }
  if (!sharedDone) out.push(line(rt.kernel.virtualQuery(t, shared)!));
  return out;
}

/**
 * MapViewOfFile's and MapViewOfFile3's run (`replace`: MEM_REPLACE_PLACEHOLDER):
 * the view's address, or NULL with GetLastError, and what was mapped.
 */
export function mapViewRun(
  c: CompileContext,
  s: Stmt,
  name: string,
  pos: Pos,
  hE: AddrExpr,
  o: Map<string, Kv>,
  access: "read" | "write" | "copy",
  execute: boolean,
  replace: boolean,
): Run {
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const h = c.value(hE, rt, "the handle");
    const base = rt.kernel.mapViewOfFile(
      t,
      Number(h & 0xffff_ffffn),
      access,
      execute,
      optValue(c, rt, o.get("offset"), 0n),
      optValue(c, rt, o.get("size"), 0n),
      optValue(c, rt, o.get("at"), 0n),
      replace,
    );
    if (base === 0n) {
      c.assign(s, rt, 0n, `(NULL: GetLastError ${errorName(w.process(t)!.lastError)})`);
      return;
    }
    const q = rt.kernel.virtualQuery(t, base)!;
    const v = w.vads(t).find((x) => x.start === base)!;
    const pages = Number((v.end - v.start) / 4096n);
    const kind = q.type === MemState.IMAGE ? "MEM_IMAGE" : "MEM_MAPPED";
    c.assign(
      s,
      rt,
      base,
      `(a view of ${pages} page${pages === 1 ? "" : "s"}${replace ? " in the placeholder" : ""}, ${kind} ${protName(v.protect)}; commit charge ${w.commit().total} pages)`,
    );
  };
}
