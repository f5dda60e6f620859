/**
 * get_user_pages from the scenario language (extensions; docs/uaccess.md):
 * one process reading or writing another's memory, `P: VAR = syscall
 * process_vm_readv|process_vm_writev|proc_mem_read|proc_mem_write Q LOCAL
 * REMOTE SIZE`, and a driver's pins, `kernel[@N]: VAR = pin_user_pages P
 * ADDR N [write] [longterm]` and `kernel[@N]: [VAR =] unpin_user_pages PINS`.
 */
import type { PinnedPages, RemoteHow } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import {
  argWords,
  type CompileContext,
  kernelCpuOf,
  processOf,
  type Run,
  type Runtime,
} from "../runtime/context.ts";
import { errnoName, faultSummary } from "../runtime/format.ts";

/** The remote calls `syscall` knows, and what each does for the note. */
export const REMOTE_CALLS: ReadonlyMap<string, string> = new Map([
  ["process_vm_readv", "read from"],
  ["process_vm_writev", "written to"],
  ["proc_mem_read", "read from"],
  ["proc_mem_write", "written to"],
]);

/**
 * `P: VAR = syscall process_vm_readv|process_vm_writev Q LOCAL REMOTE SIZE` (process_vm_readv(2)
 * with one iovec each side) and `P: VAR = syscall proc_mem_read|proc_mem_write Q LOCAL REMOTE SIZE`
 * (pread/pwrite of /proc/Q/mem at offset REMOTE): P's buffer at LOCAL, Q's memory at REMOTE.
 * VAR is the bytes moved or -errno; the note counts the faults P was charged (its own buffer's and
 * those GUP took in Q) and the pages GUP took in Q.
 */
export function remoteSyscall(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  const call = args[0].ident!;
  const usage = `syscall ${call} Q LOCAL REMOTE SIZE`;
  if (args.length !== 5) c.fail(usage, args[5]?.pos ?? args[args.length - 1].pos);
  const qw = args[1];
  if (qw.ident === null || !c.procs.has(qw.ident)) c.fail(`${usage}: Q is a process`, qw.pos);
  if (c.procs.get(qw.ident) !== "user") c.fail(`'${qw.ident}' has no user memory`, qw.pos);
  const qname = qw.ident;
  const [localE, remoteE, sizeE] = c.exprArgs(args.slice(2));
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const q = c.liveProc(rt, qname, qw.pos);
    const cpu = c.runOn(rt, t);
    const len = c.value(sizeE, rt, "the size");
    if (len > 1n << 32n) c.fail(`syscall ${call}: size ${len} is larger than vmlab models (4G)`, sizeE.pos);
    const min0 = t.minFlt;
    const maj0 = t.majFlt;
    const r = rt.kernel.remoteRw(
      cpu,
      q,
      c.value(localE, rt, "the local buffer"),
      c.value(remoteE, rt, "the remote address"),
      Number(len),
      call as RemoteHow,
    );
    const faults = faultSummary(t.minFlt - min0, t.majFlt - maj0);
    const took = `${r.pages} page${r.pages === 1 ? "" : "s"} of ${qname} taken by GUP`;
    const note =
      r.ret < 0
        ? `(${errnoName(BigInt(r.ret))}; ${took})`
        : `(bytes ${REMOTE_CALLS.get(call)} ${qname}; ${faults} charged to ${name}; ${took})`;
    c.assign(s, rt, BigInt(r.ret), note);
  };
}

/** The pins each run holds, by the variable pin_user_pages set (a driver's pages[]). */
const pinsOf = new WeakMap<Runtime, Map<string, PinnedPages>>();

/**
 * `kernel[@N]: VAR = pin_user_pages P ADDR N [write] [longterm] [fast]`: pin_user_pages in P's context
 * (CPU N switches to P first if needed), FOLL_WRITE and FOLL_LONGTERM as named, pin_user_pages_fast
 * with `fast`; VAR is the pages
 * pinned or -errno, and names the pins for `unpin_user_pages VAR`.
 * `kernel[@N]: [VAR =] unpin_user_pages PINS`: unpin_user_pages_dirty_lock of them (dirty for a
 * write pin); VAR is the pages unpinned (0 if they already were).
 */
export function pinUserPages(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (s.verb === "unpin_user_pages") {
    const pw = args[0];
    if (args.length !== 1 || pw.ident === null) c.fail("unpin_user_pages PINS", args[1]?.pos ?? s.verbPos);
    if (!c.defined.has(pw.ident)) c.fail(`undefined variable '${pw.ident}'`, pw.pos);
    const pins = pw.ident;
    c.define(s);
    return (rt) => {
      const p = pinsOf.get(rt)?.get(pins);
      if (p === undefined) c.fail(`'${pins}' holds no pins (set it with 'pin_user_pages')`, pw.pos);
      const n = rt.kernel.unpinUserPages(p);
      const v = rt.view.vmstat();
      c.assign(
        s,
        rt,
        BigInt(n),
        `(pages unpinned${p.write && n > 0 ? ", marked dirty" : ""}; nr_foll_pin_acquired ${v.nr_foll_pin_acquired}, nr_foll_pin_released ${v.nr_foll_pin_released})`,
      );
    };
  }
  const usage = "VAR = pin_user_pages P ADDR N [write] [longterm] [fast]";
  if (!s.target) c.fail(`${usage}: VAR names the pins`, s.verbPos);
  const pw = args[0];
  if (pw?.ident == null || !c.procs.has(pw.ident)) c.fail(`${usage}: P is a process`, pw?.pos ?? s.verbPos);
  if (c.procs.get(pw.ident) !== "user") c.fail(`'${pw.ident}' has no user memory`, pw.pos);
  const pname = pw.ident;
  if (args.length < 3) c.fail(usage, args[args.length - 1].pos);
  const [addrE, nE] = c.exprArgs(args.slice(1, 3));
  let write = false;
  let longterm = false;
  let fast = false;
  for (const w of args.slice(3)) {
    if (w.ident === "write" && !write) write = true;
    else if (w.ident === "longterm" && !longterm) longterm = true;
    else if (w.ident === "fast" && !fast) fast = true;
    else c.fail(`${usage}: expected 'write', 'longterm' or 'fast'`, w.pos);
  }
  c.define(s);
  const target = s.target;
  const varName = target.name;
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    // a driver's pages[] overwritten while it holds pins: they could never be unpinned
    const held = pinsOf.get(rt)?.get(varName)?.pages.length ?? 0;
    if (held > 0)
      c.fail(
        `'${varName}' still holds ${held} pinned page${held === 1 ? "" : "s"}: unpin_user_pages ${varName} first`,
        target.pos,
      );
    const t = c.liveProc(rt, pname, pw.pos);
    if (rt.view.task(t).cpu !== cpuId) rt.out.push(c.doSwitch(rt, cpuId, t));
    const n = c.value(nE, rt, "the page count");
    if (n < 1n || n > 1n << 20n) c.fail("pin_user_pages: N must be 1 to 1M pages", nE.pos);
    const min0 = t.minFlt;
    const maj0 = t.majFlt;
    const p = rt.kernel.pinUserPages(t, c.value(addrE, rt, "the address"), Number(n), write, longterm, fast);
    let pins = pinsOf.get(rt);
    if (pins === undefined) {
      pins = new Map();
      pinsOf.set(rt, pins);
    }
    pins.set(varName, p);
    const note =
      p.ret < 0
        ? `(${errnoName(BigInt(p.ret))}; nothing pinned)`
        : `(pages pinned${p.pfns.length <= 4 ? `: pfn ${p.pfns.map((x) => `0x${x.toString(16)}`).join(", ")}` : ""}${fast ? `; ${p.fast} by gup_fast` : ""}; ${faultSummary(t.minFlt - min0, t.majFlt - maj0)})`;
    c.assign(s, rt, BigInt(p.ret), note);
  };
}
