/**
 * `P: [VAR =] replay "FILE" [format=auto|bin|lackey|text|refs] [limit=N]`
 * (extension): every record of a trace is one access of P, a fetch, load
 * or store through P's page tables and the fault path. The replay stops at
 * an access that raises a signal and after `limit` accesses. The trace is
 * read as a stream (readSync.ts), only from a regular file inside the
 * scenario's directory or one the user allowed (c.readDirs).
 */
import { dirname, isAbsolute, join } from "node:path";
import { InputError } from "../../../base/errors.ts";
import { Access } from "../../../hw/access.ts";
import { TRACE_FORMATS, type TraceFormat } from "../../trace/formats.ts";
import { readTraceFileSync } from "../../trace/readSync.ts";
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, MAX_TOUCHES, processOf, type Run } from "../runtime/context.ts";
import { faultSummary } from "../runtime/format.ts";

export function replay(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  // a vmlab extension: a trace's accesses as P's own, through its page tables and the fault path
  const o = c.opts(s, ["format", "limit"]);
  const args = argWords(s);
  if (args.length !== 1 || args[0].ident === null)
    c.fail(
      'replay "FILE" [format=auto|bin|lackey|text|refs] [limit=N]',
      args[1]?.pos ?? args[0]?.pos ?? s.verbPos,
    );
  const fileW = args[0];
  const fw = o.get("format");
  const format = fw?.ident ?? "auto";
  if (!["auto", ...TRACE_FORMATS].includes(format))
    c.fail(`format= must be auto, ${TRACE_FORMATS.join(", ")}`, fw!.valuePos);
  const lw = o.get("limit");
  if (lw?.value) c.useVars(lw.value);
  c.define(s);
  // a path relative to the scenario's own directory
  const path =
    isAbsolute(fileW.ident!) || c.file.startsWith("<") ? fileW.ident! : join(dirname(c.file), fileW.ident!);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const cpu = c.runOn(rt, t);
    const limit = lw ? c.numOpt(lw, rt)! : MAX_TOUCHES;
    if (limit < 1 || limit > MAX_TOUCHES) c.fail(`limit= must be 1 .. ${MAX_TOUCHES}`, lw!.valuePos);
    const k = rt.kernel;
    const f0 = t.minFlt;
    const m0 = t.majFlt;
    let done = 0;
    let signal: string | null = null;
    const stop = {};
    try {
      const sink = (w: Uint32Array, n: number) => {
        for (let i = 0; i < n && done < limit; i++) {
          const rec = BigInt(w[2 * i + 1]) * 4294967296n + BigInt(w[2 * i]);
          const kind = Number(rec & 3n);
          const access = kind >= 2 ? Access.Write : kind === 0 ? Access.Exec : Access.Read;
          const r = k.userAccess(cpu, t, rec >> 2n, access, 0x5a);
          done++;
          if (!r.ok) {
            // no signal: the machine panicked in the fault, or the fault is retried forever (kernel/core/oom.ts)
            signal =
              r.signal === ""
                ? `${r.siCode === "panic" ? "a panic" : "a page fault retried forever (VM_FAULT_OOM)"}: the replay stops`
                : `${r.signal} (${r.siCode}) at 0x${r.siAddr.toString(16)}${r.killed ? ": killed" : ": caught, the replay stops"}`;
            throw stop;
          }
        }
        if (done >= limit) throw stop;
      };
      readTraceFileSync(path, format as TraceFormat | "auto", sink, { allowedDirs: c.readDirs });
    } catch (e) {
      if (e instanceof InputError) c.fail(e.format(), fileW.pos);
      if (e !== stop) throw e;
    }
    c.assign(
      s,
      rt,
      BigInt(done),
      `(accesses replayed; ${faultSummary(t.minFlt - f0, t.majFlt - m0)}${signal ? `; ${signal}` : ""})`,
    );
  };
}
