/**
 * Statements that make, switch and end tasks: `spawn`, `kthread`,
 * `switch`, and a process's `fork`, `thread`, `exit`, `setuid` and
 * `catch`.
 */
import type { Stmt } from "../lang/ast.ts";
import { didYouMean } from "../lang/suggest.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

/** `spawn NAME [uid=N] [rlimit_stack=SIZE]`: an empty address space with its stack VMA */
export function spawn(c: CompileContext, s: Stmt): Run {
  const name = c.newProcName(s, "spawn");
  const o = c.opts(s, ["uid", "rlimit_stack"]);
  if (argWords(s).length > 1) c.fail("spawn takes one name", s.words[1].pos);
  for (const w of o.values()) if (w.value) c.useVars(w.value);
  c.procs.set(name, "user");
  return (rt) => {
    const uid = c.numOpt(o.get("uid"), rt) ?? 0;
    const rlim = c.numOpt(o.get("rlimit_stack"), rt) ?? 8 << 20;
    if (rlim < 4096 * 34)
      c.fail("rlimit_stack must hold the 132 KiB initial stack", o.get("rlimit_stack")!.valuePos);
    const t = rt.kernel.spawn(name, uid, rlim);
    if (t === null) c.fail("spawn: out of memory for the page tables", s.verbPos);
    rt.procs.set(name, t);
    const mm = rt.view.mm(t)!;
    const win = rt.view.windows();
    rt.out.push(
      win !== null
        ? `pid ${t.pid}; page directory at pfn 0x${mm.pgdPfn.toString(16)}; user space 0x${(win.layout().lowestUserVpn * 4096).toString(16)}-0x${win.layout().highestUserAddress.toString(16)}, no VADs yet`
        : `pid ${t.pid}; PGD at pfn 0x${mm.pgdPfn.toString(16)}; stack 0x${rt.view.vmas(t)[0].start.toString(16)}-0x${mm.stackTop.toString(16)}`,
    );
  };
}

/** `kthread NAME`: a kernel thread (no mm) */
export function kthread(c: CompileContext, s: Stmt): Run {
  const name = c.newProcName(s, "kthread");
  c.opts(s, []);
  c.procs.set(name, "kthread");
  return (rt) => {
    const t = rt.kernel.kthread(name);
    rt.procs.set(name, t);
    rt.out.push(`pid ${t.pid} (kernel thread: no user address space)`);
  };
}

/** `switch NAME [cpu=N]`: a context switch */
export function switchTask(c: CompileContext, s: Stmt): Run {
  const w = s.words[0];
  if (w?.kind !== "arg" || w.ident === null)
    c.fail("switch needs a process or kernel-thread name", w?.pos ?? s.verbPos);
  const name = w.ident;
  if (!c.procs.has(name)) c.fail(`process '${name}' does not exist`, w.pos);
  const o = c.opts(s, ["cpu"]);
  return (rt) => {
    const t = c.liveProc(rt, name, w.pos);
    const cpu = c.numOpt(o.get("cpu"), rt) ?? 0;
    if (cpu >= rt.view.machine().cpus) c.fail(`CPU ${cpu} does not exist`, o.get("cpu")!.valuePos);
    rt.out.push(c.doSwitch(rt, cpu, t));
  };
}

/** `P: fork NAME`: a copy-on-write child */
export function fork(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  const child = c.newProcName(s, "fork");
  c.procs.set(child, "user");
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const ch = rt.kernel.fork(t, child);
    if (ch === null) c.fail("fork: out of memory", s.verbPos);
    rt.procs.set(child, ch);
    const mm = rt.view.mm(ch)!;
    // copy_present_page: maybe DMA-pinned pages the child got a copy of, not a share
    const copied = mm.forkCopied > 0 ? `${mm.forkCopied} copied (maybe DMA-pinned), ` : "";
    rt.out.push(
      `child ${child} pid ${ch.pid}: ${mm.mapCount} VMAs, ${mm.rssAnon - mm.forkCopied} pages shared copy-on-write, ${copied}${mm.ptPages} page-table pages`,
    );
  };
}

/** `P: thread NAME`: a task sharing P's address space (clone with CLONE_VM) */
export function thread(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  const child = c.newProcName(s, "thread");
  c.procs.set(child, "user");
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const ch = rt.kernel.thread(t, child);
    if (ch === null) c.fail("thread: no address space to share", s.verbPos);
    rt.procs.set(child, ch);
    rt.out.push(`thread ${child} pid ${ch.pid} shares ${name}'s address space`);
  };
}

/** `P: exit` */
export function exit(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  c.opts(s, []);
  c.args(s, 0, 0, "no arguments");
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    rt.kernel.exit(t, "exit");
    rt.out.push(`pid ${t.pid} exited; its address space is gone`);
  };
}

/** `P: setuid N` */
export function setuid(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  const [uid] = c.args(s, 1, 1, "a uid");
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    rt.kernel.setUid(t, c.size(uid, rt, "the uid"));
    rt.out.push(`uid ${t.uid}${t.uid === 0 ? "" : " (no capabilities)"}`);
  };
}

/**
 * `P: oom_score_adj N` (extension): P writes N to /proc/self/oom_score_adj
 * (its process's signal->oom_score_adj, every thread's; inherited by fork).
 * N outside -1000..1000 is an error at its position (the write's -EINVAL);
 * an unprivileged process lowering it below what a privileged write last set
 * prints -13 EACCES and changes nothing. Prints the result and the value.
 * Linux: fs/proc/base.c oom_score_adj_write, __set_oom_adj; docs/processes.md
 */
export function oomScoreAdj(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  const a = argWords(s);
  if (a.length !== 1 || a[0].expr === null) c.fail("oom_score_adj N (-1000..1000)", a[0]?.pos ?? s.verbPos);
  const e = a[0].expr;
  c.useVars(e);
  const inRange = (v: bigint) => v >= -1000n && v <= 1000n;
  if (e.base === null && !inRange(e.offset))
    c.fail(`oom_score_adj ${e.offset} is outside -1000..1000 (the write would fail with EINVAL)`, a[0].pos);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const v = (e.base === null ? 0n : rt.vars.get(e.base)!) + e.offset;
    if (!inRange(v))
      c.fail(`oom_score_adj ${v} is outside -1000..1000 (the write would fail with EINVAL)`, a[0].pos);
    const r = rt.kernel.setOomScoreAdj(t, Number(v));
    rt.out.push(`${r === 0 ? "0" : `${r} EACCES`}: oom_score_adj ${rt.view.oomScoreAdj(t)}`);
  };
}

/** `P: catch SIGSEGV|SIGBUS [expose_tagbits]`: a handler for the signal (sa_flags SA_EXPOSE_TAGBITS) */
export function catchSig(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  const w = s.words[0];
  if (w?.kind !== "arg" || (w.ident !== "SIGSEGV" && w.ident !== "SIGBUS" && w.ident !== "exceptions"))
    c.fail("catch SIGSEGV or catch SIGBUS (profile=windows: catch exceptions)", w?.pos ?? s.verbPos);
  const sig = w.ident;
  // sa_flags SA_EXPOSE_TAGBITS (an extension): si_addr keeps the tag of a tagged fault address
  const flag = s.words[1];
  if (flag !== undefined && (flag.kind !== "arg" || flag.ident !== "expose_tagbits" || sig === "exceptions"))
    c.fail("catch SIGSEGV|SIGBUS takes one more word, expose_tagbits (SA_EXPOSE_TAGBITS)", flag.pos);
  if (s.words.length > 2) c.fail("catch takes at most two words", s.words[2].pos);
  const expose = flag !== undefined;
  if (sig === "exceptions")
    return (rt) => {
      if (rt.view.windows() === null)
        c.fail("'catch exceptions' is the windows profile's (Linux delivers signals: catch SIGSEGV)", w.pos);
      rt.kernel.catchExceptions(c.liveProc(rt, name, pos));
      rt.out.push("__try { ... } __except (EXCEPTION_EXECUTE_HANDLER): exceptions will be handled");
    };
  return (rt) => {
    if (rt.view.windows() !== null)
      c.fail("the windows profile raises exceptions, not signals: 'catch exceptions'", w.pos);
    rt.kernel.catchSignal(c.liveProc(rt, name, pos), sig, expose);
    rt.out.push(`${sig} will be caught${expose ? " (SA_EXPOSE_TAGBITS: si_addr keeps the tag)" : ""}`);
  };
}

/** personality(2)'s named personas (include/uapi/linux/personality.h); `query` is 0xffffffff */
const PERSONAS: Readonly<Record<string, number>> = {
  linux: 0,
  read_implies_exec: 0x0400000,
  query: 0xffffffff,
};
const PERSONALITY_USAGE = "personality linux|read_implies_exec|query|N (0..0xffffffff)";

/**
 * `P: [VAR =] personality linux|read_implies_exec|query|N`: personality(2)
 * for P's task. READ_IMPLIES_EXEC (0x0400000) makes PROT_READ imply
 * PROT_EXEC in later mmaps, mprotects and heap growth (docs/processes.md);
 * `query` (0xffffffff) only reads. Prints the old persona; fork and
 * threads copy it. Linux: kernel/exec_domain.c SYSCALL_DEFINE1(personality)
 */
export function personality(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const a = argWords(s);
  if (a.length !== 1) c.fail(PERSONALITY_USAGE, a[1]?.pos ?? s.verbPos);
  const w = a[0];
  let persona = -1;
  if (w.ident !== null && Object.hasOwn(PERSONAS, w.ident)) persona = PERSONAS[w.ident];
  else if (w.expr !== null && w.expr.base === null && w.expr.offset >= 0n && w.expr.offset <= 0xffffffffn)
    persona = Number(w.expr.offset);
  else
    c.fail(
      `unknown persona '${w.ident ?? w.expr?.offset ?? "?"}': ${PERSONALITY_USAGE}${didYouMean(w.ident ?? "", Object.keys(PERSONAS))}`,
      w.pos,
    );
  c.define(s);
  return (rt) => {
    const old = rt.kernel.personality(c.liveProc(rt, name, pos), persona);
    const now = persona === 0xffffffff ? old : persona;
    c.assign(s, rt, BigInt(old), `(the old persona; now 0x${now.toString(16)})`);
  };
}

/** prctl(2)'s options the statement names (include/uapi/linux/prctl.h) */
const PRCTL_OPTIONS: Readonly<Record<string, number>> = {
  PR_SET_THP_DISABLE: 41,
  PR_GET_THP_DISABLE: 42,
  PR_SET_TAGGED_ADDR_CTRL: 55,
  PR_GET_TAGGED_ADDR_CTRL: 56,
  PR_SET_MEMORY_MERGE: 67,
  PR_GET_MEMORY_MERGE: 68,
};
const PRCTL_USAGE =
  "prctl PR_SET_THP_DISABLE 1|0 or prctl PR_GET_THP_DISABLE, prctl PR_SET_TAGGED_ADDR_CTRL 1|0 or prctl PR_GET_TAGGED_ADDR_CTRL, prctl PR_SET_MEMORY_MERGE 1|0 or prctl PR_GET_MEMORY_MERGE (then up to 4 more arguments: arg2..arg5)";

/**
 * `P: [VAR =] prctl PR_SET_THP_DISABLE 1|0` and `P: VAR = prctl PR_GET_THP_DISABLE` (extension):
 * prctl(2) for P's process, the option by name or number, then arg2..arg5 (missing ones 0).
 * PR_SET_THP_DISABLE sets or clears MMF_DISABLE_THP (no transparent huge pages for the mm;
 * fork's child inherits it), PR_GET_THP_DISABLE returns it; arm64's PR_SET_TAGGED_ADDR_CTRL 1|0
 * turns the task's tagged address ABI on or off (TIF_TAGGED_ADDR), PR_GET_TAGGED_ADDR_CTRL
 * returns it; a non-zero unused argument is -22 EINVAL.
 * Linux: kernel/sys.c SYSCALL_DEFINE5(prctl), arch/arm64/kernel/process.c set_tagged_addr_ctrl
 */
export function prctl(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const a = argWords(s);
  if (a.length < 1 || a.length > 5) c.fail(PRCTL_USAGE, a[5]?.pos ?? s.verbPos);
  const w = a[0];
  let option = -1;
  if (w.ident !== null && Object.hasOwn(PRCTL_OPTIONS, w.ident)) option = PRCTL_OPTIONS[w.ident];
  else if (w.expr !== null && w.expr.base === null && w.expr.offset >= 0n && w.expr.offset < 1n << 31n)
    option = Number(w.expr.offset);
  else
    c.fail(
      `unknown prctl option '${w.ident ?? "?"}': ${PRCTL_USAGE}${didYouMean(w.ident ?? "", Object.keys(PRCTL_OPTIONS))}`,
      w.pos,
    );
  const args = a.slice(1).map((x) => {
    if (x.expr === null) c.fail(`a number or variable: ${PRCTL_USAGE}`, x.pos);
    c.useVars(x.expr);
    return x.expr;
  });
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const v = [0, 0, 0, 0];
    args.forEach((e, i) => {
      v[i] = Number(c.value(e, rt, `arg${i + 2}`));
    });
    const r = rt.kernel.prctl(t, option, v[0], v[1], v[2], v[3]);
    const note =
      r < 0
        ? `(${errnoName(BigInt(r))})`
        : option === PRCTL_OPTIONS.PR_GET_THP_DISABLE
          ? `(MMF_DISABLE_THP ${r === 1 ? "set: no THP for this mm" : "clear"})`
          : option === PRCTL_OPTIONS.PR_SET_THP_DISABLE
            ? `(MMF_DISABLE_THP ${v[0] !== 0 ? "set: no THP for this mm" : "cleared"})`
            : option === PRCTL_OPTIONS.PR_GET_TAGGED_ADDR_CTRL
              ? `(the tagged address ABI ${r === 1 ? "on: PR_TAGGED_ADDR_ENABLE" : "off"})`
              : option === PRCTL_OPTIONS.PR_SET_TAGGED_ADDR_CTRL
                ? `(TIF_TAGGED_ADDR ${v[0] !== 0 ? "set: system calls take tagged pointers" : "cleared"})`
                : "";
    c.assign(s, rt, BigInt(r), note);
  };
}
