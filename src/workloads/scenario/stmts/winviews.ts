/**
 * The windows profile's views (issue #21; docs/windows.md "Views"):
 * WinDbg's `show P pte ADDR` (and `show kernel pte ADDR`), `show pfn N`,
 * `show P vad`, `show poolused`, and the Sysinternals tools' `show P
 * vmmap` and `show rammap`. Each prints the tool's layout (the kernel's
 * view formats it: kernel/view/windbg.ts, sysinternals.ts) and hands its
 * data to `vmlab run --json` (Runtime.data).
 */

import { formatRammap, formatVmmap } from "../../../kernel/view/sysinternals.ts";
import { formatPfn, formatPoolUsed, formatPte, formatVadRows } from "../../../kernel/view/windbg.ts";
import type { AddrExpr, Pos, Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { windowsOnly } from "./windows.ts";

/** An address word of a `show` statement (words[i]), checked at compile time. */
function exprWord(c: CompileContext, s: Stmt, i: number, usage: string): AddrExpr {
  const a = s.words[i];
  if (a === undefined) c.fail(usage, s.words[i - 1].pos);
  if (a.kind !== "arg" || a.expr === null) c.fail(usage, a.pos);
  c.useVars(a.expr);
  return a.expr;
}

function noMore(c: CompileContext, s: Stmt, n: number, usage: string): void {
  if (s.words.length > n) c.fail(`too many arguments to '${usage}'`, s.words[n].pos);
}

/** `show P pte ADDR`, `show kernel pte ADDR`: WinDbg's !pte in P's address space or the kernel's tables. */
export function showPte(c: CompileContext, s: Stmt, who: string, pos: Pos): Run {
  const usage = `show ${who} pte ADDR`;
  const addr = exprWord(c, s, 2, usage);
  noMore(c, s, 3, usage);
  return (rt) => {
    const w = windowsOnly(c, rt, `show ${who === "kernel" ? "kernel" : "P"} pte`, s.words[1].pos);
    const t = who === "kernel" ? "kernel" : c.liveProc(rt, who, pos);
    const v = w.pte(t, c.value(addr, rt, "the address"));
    rt.out.push(...formatPte(v));
    rt.data = v;
  };
}

/** `show pfn N`: WinDbg's !pfn of frame N. */
export function showPfn(c: CompileContext, s: Stmt): Run {
  const usage = "show pfn N";
  const n = exprWord(c, s, 1, usage);
  noMore(c, s, 2, usage);
  return (rt) => {
    const w = windowsOnly(c, rt, "show pfn", s.words[0].pos);
    const pfn = c.value(n, rt, "the frame number");
    const frames = rt.view.machine().frames;
    const v = pfn >= 0n && pfn < BigInt(frames) ? w.pfn(Number(pfn)) : null;
    if (v === null)
      c.fail(`frame 0x${pfn.toString(16)} is not in RAM (0..0x${(frames - 1).toString(16)})`, n.pos);
    rt.out.push(...formatPfn(v, w.pagingFormat()));
    rt.data = v;
  };
}

/** `show P vad`: WinDbg's !vad of P's VAD tree. */
export function showVad(c: CompileContext, s: Stmt, name: string, pos: Pos): Run {
  noMore(c, s, 2, `show ${name} vad`);
  return (rt) => {
    const w = windowsOnly(c, rt, "show P vad", s.words[1].pos);
    const rows = w.vadTree(c.liveProc(rt, name, pos));
    rt.out.push(...formatVadRows(rows, w.pagingFormat()));
    rt.data = rows;
  };
}

/** `show P vmmap`: VMMap's summary of P. */
export function showVmmap(c: CompileContext, s: Stmt, name: string, pos: Pos): Run {
  noMore(c, s, 2, `show ${name} vmmap`);
  return (rt) => {
    const w = windowsOnly(c, rt, "show P vmmap", s.words[1].pos);
    const rows = w.vmmap(c.liveProc(rt, name, pos));
    rt.out.push(...formatVmmap(rows));
    rt.data = rows;
  };
}

/** `show poolused` (WinDbg's !poolused) and `show rammap` (RAMMap's Use Counts). */
export function showSystemView(c: CompileContext, s: Stmt, what: "poolused" | "rammap"): Run {
  noMore(c, s, 1, `show ${what}`);
  return (rt) => {
    const w = windowsOnly(c, rt, `show ${what}`, s.words[0].pos);
    if (what === "poolused") {
      const rows = w.poolUsed();
      rt.out.push(...formatPoolUsed(rows));
      rt.data = rows;
    } else {
      const counts = w.rammap();
      rt.out.push(...formatRammap(counts));
      rt.data = counts;
    }
  };
}
