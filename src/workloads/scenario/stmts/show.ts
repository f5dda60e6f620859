/**
 * `show layout|buddyinfo|slabinfo|meminfo|frames|vmstat|stats|tlb [cpu=N]`
 * and `show P maps|smaps|pagetable [ADDR]`: the machine's and a process's
 * state as text, read through kernelReads.ts.
 */
import type { AddrExpr, Pos, Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, type Run } from "../runtime/context.ts";
import {
  buddyinfoLines,
  cpuCount,
  cpuCounters,
  frameLines,
  layoutLines,
  mapsLines,
  meminfoLines,
  oopsCount,
  pagetableText,
  shootdownsSent,
  slabinfoLines,
  smapsLines,
  taskCount,
  tlbArrays,
  vmstat,
} from "../runtime/kernelReads.ts";

const SHOW_WHAT = ["layout", "buddyinfo", "slabinfo", "meminfo", "frames", "stats", "vmstat", "tlb"];

export function show(c: CompileContext, s: Stmt): Run {
  const first = s.words[0];
  if (first?.kind !== "arg" || first.ident === null)
    c.fail(`show what? (${SHOW_WHAT.join(", ")})`, first?.pos ?? s.verbPos);
  const what = first.ident;
  if (c.procs.has(what)) return showProc(c, s, what, first.pos);
  if (!SHOW_WHAT.includes(what)) {
    const second = s.words[1];
    if (second?.kind === "arg" && second.ident !== null)
      c.fail(`process '${what}' does not exist`, first.pos);
    c.fail(`cannot show '${what}' (${SHOW_WHAT.join(", ")})`, first.pos);
  }
  const o = c.opts(s, what === "tlb" ? ["cpu"] : []);
  if (argWords(s).length > 1) c.fail(`too many arguments to 'show ${what}'`, s.words[1].pos);
  return (rt) => {
    const k = rt.kernel;
    switch (what) {
      case "layout":
        rt.out.push(...layoutLines(k));
        return;
      case "buddyinfo":
        rt.out.push(...buddyinfoLines(k));
        return;
      case "slabinfo":
        rt.out.push(...slabinfoLines(k));
        return;
      case "meminfo":
        rt.out.push(...meminfoLines(k));
        return;
      case "frames":
        rt.out.push(...frameLines(k));
        return;
      case "vmstat":
        for (const [n, v] of Object.entries(vmstat(k))) rt.out.push(`${n} ${v}`);
        return;
      case "stats":
      case "tlb": {
        const cw = o.get("cpu");
        const only = cw ? c.numOpt(cw, rt)! : -1;
        const n = cpuCount(k);
        if (only >= n) c.fail(`CPU ${only} does not exist`, cw!.valuePos);
        for (let id = 0; id < n; id++) {
          const cpu = cpuCounters(k, id);
          if (only >= 0 && cpu.id !== only) continue;
          const levels = cpu.levels.map((l) => `${l.name} ${l.hits} hits/${l.misses} misses`).join(", ");
          rt.out.push(
            `cpu${cpu.id}: ${cpu.translations} translations; ${levels}; ${cpu.walks} walks (${cpu.walkRefs} entries read), ${cpu.adWrites} A/D writes, ${cpu.pageFaults} #PF, ${cpu.gpFaults} #GP, ${cpu.fullFlushes} full flushes, ${cpu.invlpgs} INVLPG`,
          );
          if (what === "tlb")
            for (const a of tlbArrays(k, id))
              rt.out.push(
                `  ${a.name}: ${a.entries} entries, ${a.ways}-way, ${a.valid} valid, ${a.evictions} evictions`,
              );
        }
        if (what === "stats")
          rt.out.push(`oopses ${oopsCount(k)}, shootdown IPIs ${shootdownsSent(k)}, tasks ${taskCount(k)}`);
      }
    }
  };
}

function showProc(c: CompileContext, s: Stmt, name: string, pos: Pos): Run {
  const w = s.words[1];
  if (w?.kind !== "arg" || w.ident === null || !["maps", "smaps", "pagetable"].includes(w.ident)) {
    c.fail(`show ${name} maps|smaps|pagetable [ADDR]`, w?.pos ?? pos);
  }
  const what = w.ident;
  if (c.procs.get(name) === "kthread")
    c.fail(`'${name}' is a kernel thread: it has no user address space`, pos);
  let addr: AddrExpr | null = null;
  if (what === "pagetable") {
    const a = s.words[2];
    if (a) {
      if (a.kind !== "arg" || a.expr === null) c.fail("show P pagetable ADDR", a.pos);
      c.useVars(a.expr);
      addr = a.expr;
    }
  }
  if (s.words.length > (what === "pagetable" ? 3 : 2))
    c.fail(`too many arguments to 'show ${name} ${what}'`, s.words[what === "pagetable" ? 3 : 2].pos);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    if (what === "maps") rt.out.push(...mapsLines(rt.kernel, t));
    else if (what === "smaps") rt.out.push(...smapsLines(rt.kernel, t));
    else rt.out.push(...pagetableText(rt.kernel, t, addr ? c.value(addr, rt, "the address") : null));
  };
}
