/**
 * The Windows profile's paging and kernel-memory statements
 * (docs/windows.md): `trim P|kernel [pageout]`, `modified_writer`,
 * `kernel: VAR = pool_alloc paged|nonpaged SIZE`, `kernel: pool_free VAR`,
 * `kernel: irql passive|apc|dispatch`, and `show pfnlists`.
 */
import { formatPfnLists } from "../../../kernel/view/windows.ts";
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, kernelCpuOf, type Run, type Runtime } from "../runtime/context.ts";

/** The profile must be windows (known once the machine has booted). */
function windowsOnly(c: CompileContext, rt: Runtime, verb: string, s: Stmt) {
  const w = rt.view.windows();
  if (w === null) c.fail(`'${verb}' is the windows profile's (machine profile=windows)`, s.verbPos);
  return w;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** `trim P|kernel [pageout]`: the working set (P's, or the paged pool's) onto the page lists. */
export function trim(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  c.opts(s, []);
  const args = argWords(s);
  const who = args[0]?.ident;
  if (!who || args.length > 2) c.fail("trim P|kernel [pageout]", args[0]?.pos ?? s.verbPos);
  if (who !== "kernel" && !c.procs.has(who)) c.fail(`process '${who}' does not exist`, args[0].pos);
  if (args[1] && args[1].ident !== "pageout")
    c.fail("the only word after 'trim P' is 'pageout'", args[1].pos);
  const pageout = args.length === 2;
  return (rt) => {
    const w = windowsOnly(c, rt, "trim", s);
    const t = who === "kernel" ? null : c.liveProc(rt, who, args[0].pos);
    const before = w.paging();
    const r = rt.kernel.trim(t, pageout);
    const after = w.paging();
    const what = who === "kernel" ? "the paged pool" : `${who}'s working set`;
    // without pageout the lists' growth is the trim's; with it, the writer and the purge moved them on
    const lists = pageout
      ? "transition PTEs, onto the standby and modified lists"
      : `transition PTEs: ${after.standby - before.standby} to standby, ${after.modified - before.modified} to modified`;
    const lines = [`${what}: ${plural(r.trimmed, "page")} trimmed (${lists})`];
    if (pageout)
      lines.push(
        `modified page writer: ${plural(r.written, "page")} written to the paging file; ${plural(r.repurposed, "standby page")} repurposed (paging-file PTEs left behind)`,
      );
    lines.push(
      `lists: zeroed ${after.zeroed}, standby ${after.standby}, modified ${after.modified}; paging file ${after.pagefileInUse}/${after.pagefilePages} pages`,
    );
    rt.out.push(...lines);
  };
}

/** `modified_writer`: MiModifiedPageWriter, the modified list to the paging file and the standby list. */
export function modifiedWriter(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  c.opts(s, []);
  c.args(s, 0, 0, "nothing");
  return (rt) => {
    const w = windowsOnly(c, rt, "modified_writer", s);
    const n = rt.kernel.modifiedPageWriter();
    const p = w.paging();
    const left = p.modified
      ? `; ${plural(p.modified, "page")} stay modified (the paging file is full or absent)`
      : "";
    rt.out.push(
      `modified page writer: ${plural(n, "page")} written to the paging file, now on standby${left}`,
    );
  };
}

/** `kernel[@N]: VAR = pool_alloc paged|nonpaged SIZE [tag=TAG]` */
export function poolAlloc(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  const o = c.opts(s, ["tag"]);
  // ExAllocatePoolWithTag's Tag: four ASCII characters (a shorter one padded with spaces, as 'Irp ')
  const tagW = o.get("tag");
  if (tagW && !/^[A-Za-z][A-Za-z0-9_]{0,3}$/.test(tagW.ident ?? ""))
    c.fail("tag= is one to four letters or digits, starting with a letter (a pool tag)", tagW.valuePos);
  const tag = tagW ? tagW.ident!.padEnd(4) : undefined;
  const args = argWords(s);
  if (args.length !== 2 || (args[0].ident !== "paged" && args[0].ident !== "nonpaged"))
    c.fail("pool_alloc paged|nonpaged SIZE", args[0]?.pos ?? s.verbPos);
  const paged = args[0].ident === "paged";
  const sizeW = args[1];
  if (sizeW.expr === null) c.fail(`expected a size, not '${sizeW.ident}'`, sizeW.pos);
  c.useVars(sizeW.expr);
  c.define(s);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const w = windowsOnly(c, rt, "pool_alloc", s);
    const size = Number(c.value(sizeW.expr!, rt, "the size"));
    if (!(size >= 1 && size <= 4 << 20)) c.fail("pool_alloc: a size of 1 byte .. 4M", sizeW.pos);
    const va = rt.kernel.poolAlloc(cpuId, paged, size, tag);
    if (typeof va === "string") c.fail(va, s.verbPos);
    const p = w.paging();
    const pool = paged ? "PagedPool" : "NonPagedPool";
    c.assign(
      s,
      rt,
      va,
      va === 0n
        ? "(NULL: no memory or commit)"
        : `(${pool}; ${paged ? `${p.poolPagedBytes} bytes in ${plural(p.poolPagedPages, "page")}` : `${p.poolNonpagedBytes} bytes in ${plural(p.poolNonpagedPages, "page")}`})`,
    );
  };
}

/** `kernel[@N]: pool_free ADDR` */
export function poolFree(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.noTarget(s);
  c.opts(s, []);
  const [addr] = c.args(s, 1, 1, "an address");
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    windowsOnly(c, rt, "pool_free", s);
    const va = c.value(addr, rt, "the address");
    const err = rt.kernel.poolFree(va);
    if (err !== null) c.fail(`pool_free: ${err} (Windows would bug check BAD_POOL_CALLER)`, addr.pos);
    rt.out.push(`freed 0x${va.toString(16)}`);
  };
}

const IRQLS = ["passive", "apc", "dispatch"];
const IRQL_NAMES = ["PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL"];

/** `kernel[@N]: irql passive|apc|dispatch`: KeRaiseIrql / KeLowerIrql on that CPU. */
export function irql(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.noTarget(s);
  c.opts(s, []);
  const args = argWords(s);
  const level = IRQLS.indexOf(args[0]?.ident ?? "");
  if (args.length !== 1 || level < 0) c.fail("irql passive|apc|dispatch", args[0]?.pos ?? s.verbPos);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    windowsOnly(c, rt, "irql", s);
    const old = rt.kernel.setIrql(cpuId, level);
    rt.out.push(
      `CPU ${cpuId}: ${old < level ? "KeRaiseIrql" : old > level ? "KeLowerIrql" : "IRQL stays"} ${IRQL_NAMES[old]} -> ${IRQL_NAMES[level]}`,
    );
  };
}

/** `show pfnlists` */
export function showPfnLists(c: CompileContext, s: Stmt): Run {
  return (rt) => {
    const w = windowsOnly(c, rt, "show pfnlists", s);
    rt.out.push(...formatPfnLists(w.paging()));
  };
}

const NTSTATUS_NAMES: Record<number, string> = {
  0: "STATUS_SUCCESS",
  2147483650: "STATUS_DATATYPE_MISALIGNMENT",
  3221225477: "STATUS_ACCESS_VIOLATION",
  2147483649: "STATUS_GUARD_PAGE_VIOLATION",
};

/**
 * `kernel[@N]: VAR = ProbeForRead P BUF SIZE [align=N]`, `ProbeForWrite P BUF SIZE [align=N] [value=N]`
 * (extensions): `__try { ProbeForXxx(BUF, SIZE, align); copy } __except (EXCEPTION_EXECUTE_HANDLER)`
 * in P's context; VAR is the NTSTATUS (0, or the exception code the __except caught).
 */
export function probe(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  const write = s.verb === "ProbeForWrite";
  const o = c.opts(s, write ? ["align", "value"] : ["align"]);
  const args = argWords(s);
  const usage = `${s.verb} P BUF SIZE [align=N]`;
  const pw = args[0];
  if (pw?.ident == null || !c.procs.has(pw.ident) || args.length !== 3) c.fail(usage, pw?.pos ?? s.verbPos);
  const pname = pw.ident;
  const [bufE, sizeE] = c.exprArgs(args.slice(1));
  const alignW = o.get("align");
  const valueW = o.get("value");
  for (const w of [alignW, valueW]) if (w?.value) c.useVars(w.value);
  c.define(s);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    windowsOnly(c, rt, s.verb, s);
    const t = c.liveProc(rt, pname, pw.pos);
    if (rt.view.task(t).cpu !== cpuId) rt.out.push(c.doSwitch(rt, cpuId, t));
    const align = alignW ? c.numOpt(alignW, rt)! : 1;
    if (![1, 2, 4, 8, 16].includes(align)) c.fail("align= is 1, 2, 4, 8 or 16", alignW!.valuePos);
    const len = c.value(sizeE, rt, "the size");
    if (len > 1n << 30n) c.fail(`${s.verb}: a size up to 1G`, sizeE.pos);
    const va = c.value(bufE, rt, "the buffer");
    const value = valueW ? c.numOpt(valueW, rt)! & 0xff : 0x5a;
    const r = rt.kernel.probe(cpuId, va, Number(len), write, align, value);
    const name = NTSTATUS_NAMES[r.status] ?? "";
    const why =
      r.raisedBy === ""
        ? `${name}: probed and ${write ? "wrote" : "read"} ${len} bytes`
        : r.raisedBy === "probe"
          ? `${name} raised by ${s.verb}, caught by __except; nothing copied`
          : `${name} raised during the copy, caught by __except; ${r.copied} bytes copied before it`;
    c.assign(s, rt, BigInt(r.status), `(${why})`);
  };
}
