/**
 * `show layout|buddyinfo|pagetypeinfo|extfrag|zoneinfo|slabinfo|meminfo|memcg|frames|vmstat|stats|tlb [cpu=N]`
 * and `show P maps|smaps|pagetable [ADDR]`: the machine's and a process's
 * state as text: the kernel's view (KernelView) read, its data put in
 * words by the kernel's own /proc formatters (kernel/view/proc.ts, procfs.ts).
 */

import { Ipt } from "../../../hw/mmu/inverted/Ipt.ts";
import { formatPagemap } from "../../../kernel/view/crash.ts";
import { formatExtfrag } from "../../../kernel/view/extfrag.ts";
import { formatHugepages } from "../../../kernel/view/hugepages.ts";
import { formatKsm, formatKsmStat } from "../../../kernel/view/ksm.ts";
import { formatLimits } from "../../../kernel/view/limits.ts";
import { formatMemcg } from "../../../kernel/view/memcg.ts";
import { formatPageTypes } from "../../../kernel/view/pageTypes.ts";
import {
  formatBuddyinfo,
  formatFrames,
  formatLayout,
  formatMeminfo,
  formatPagetypeinfo,
  formatSlabinfo,
  formatZoneinfo,
} from "../../../kernel/view/proc.ts";
import { formatMappings, formatMaps, formatSmaps, formatWalk } from "../../../kernel/view/procfs.ts";
import { formatSmapsRollup, formatStatm, formatStatus } from "../../../kernel/view/procstatus.ts";
import { formatIpcs, formatSysvipcShm } from "../../../kernel/view/sysvipc.ts";
import { formatTask, formatTasks } from "../../../kernel/view/tasks.ts";
import { formatThp } from "../../../kernel/view/thp.ts";
import { formatWinLayout } from "../../../kernel/view/windows.ts";
import type { AddrExpr, Pos, Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, type Run } from "../runtime/context.ts";
import { showPfnLists } from "./winkernel.ts";
import { winMaps } from "./winsection.ts";
import { showPfn, showPte, showSystemView, showVad, showVmmap } from "./winviews.ts";

const SHOW_WHAT = [
  "layout",
  "buddyinfo",
  "pagetypeinfo",
  "extfrag",
  "zoneinfo",
  "slabinfo",
  "meminfo",
  "frames",
  "stats",
  "vmstat",
  "memcg",
  "thp",
  "ksm",
  "hugepages",
  "tlb",
  "tasks",
  "kpageflags",
  "pagetables",
  "pfnlists",
  "pfn",
  "poolused",
  "rammap",
  "ipcs",
  "shm",
  "sysvipc",
];

export function show(c: CompileContext, s: Stmt): Run {
  const first = s.words[0];
  if (first?.kind !== "arg" || first.ident === null)
    c.fail(`show what? (${SHOW_WHAT.join(", ")})`, first?.pos ?? s.verbPos);
  const what = first.ident;
  if (c.procs.has(what)) return showProc(c, s, what, first.pos);
  if (what === "kernel" && s.words[1]?.kind === "arg" && s.words[1].ident === "vtop")
    return showKernelVtop(c, s);
  if (what === "kernel" && s.words[1]?.kind === "arg" && s.words[1].ident === "pte")
    return showPte(c, s, "kernel", first.pos);
  if (!SHOW_WHAT.includes(what)) {
    const second = s.words[1];
    if (second?.kind === "arg" && second.ident !== null)
      c.fail(`process '${what}' does not exist`, first.pos);
    c.fail(`cannot show '${what}' (${SHOW_WHAT.join(", ")})`, first.pos);
  }
  if (what === "kpageflags") return showKpageflags(c, s);
  if (what === "pfnlists") return showPfnLists(c, s);
  if (what === "pfn") return showPfn(c, s);
  if (what === "poolused" || what === "rammap") return showSystemView(c, s, what);
  const o = c.opts(s, what === "tlb" ? ["cpu"] : []);
  if (argWords(s).length > 1) c.fail(`too many arguments to 'show ${what}'`, s.words[1].pos);
  return (rt) => {
    const v = rt.view;
    switch (what) {
      case "layout": {
        const win = v.windows();
        if (win !== null) rt.out.push(...formatWinLayout(win.layout(), win.systemCode()));
        rt.out.push(...formatLayout(v.layout()));
        return;
      }
      case "tasks":
        rt.out.push(...formatTasks(v.tasks()));
        return;
      case "buddyinfo":
        rt.out.push(...formatBuddyinfo(v.buddyinfo()));
        return;
      case "pagetypeinfo": {
        const info = v.pagetypeinfo();
        if (info === null)
          c.fail(
            "'show pagetypeinfo' is the linux profile's (its page allocator's migrate types)",
            first.pos,
          );
        rt.out.push(...formatPagetypeinfo(info));
        return;
      }
      case "extfrag":
        rt.out.push(...formatExtfrag(v.buddyinfo()));
        return;
      case "zoneinfo":
        rt.out.push(...formatZoneinfo(v.zoneinfo()));
        return;
      case "slabinfo":
        rt.out.push(...formatSlabinfo(v.slabinfo()));
        return;
      case "meminfo":
        rt.out.push(...formatMeminfo(v.meminfo()));
        return;
      case "memcg":
        rt.out.push(...formatMemcg(v.memcg()));
        return;
      case "ipcs":
      case "shm":
        rt.out.push(...formatIpcs(v.shm()).map((l) => l.trimEnd()));
        return;
      case "sysvipc":
        rt.out.push(...formatSysvipcShm(v.shm()));
        return;
      case "frames":
        rt.out.push(...formatFrames(v.frames()));
        return;
      case "pagetables":
        rt.out.push(
          ...formatPageTableMemory(
            v.machine().pagetable,
            v.meminfo().MemTotal,
            v.machine().frames,
            v.pageTableMetrics(),
          ),
        );
        return;
      case "vmstat":
        for (const [n, x] of Object.entries(v.vmstat())) rt.out.push(`${n} ${x}`);
        return;
      case "thp":
        c.needThp(s, rt, "show thp");
        rt.out.push(...formatThp(v.thp()));
        return;
      case "hugepages":
        rt.out.push(...formatHugepages(v.hugepages()));
        return;
      case "ksm":
        // /sys/kernel/mm/ksm/* (kernel/view/ksm.ts)
        rt.out.push(...formatKsm(v.ksm()));
        return;
      case "stats":
      case "tlb": {
        const cw = o.get("cpu");
        const only = cw ? c.numOpt(cw, rt)! : -1;
        const cpus = v.cpus();
        const w = v.machine().counterNames;
        if (only >= cpus.length) c.fail(`CPU ${only} does not exist`, cw!.valuePos);
        for (const cpu of cpus) {
          if (only >= 0 && cpu.id !== only) continue;
          const levels = cpu.tlbLevels.map((l) => `${l.name} ${l.hits} hits/${l.misses} misses`).join(", ");
          rt.out.push(
            `cpu${cpu.id}: ${cpu.translations} translations; ${levels}; ${cpu.walks} walks (${cpu.walkRefs} entries read), ${cpu.adWrites} A/D writes, ${cpu.pageFaults} ${w.pageFaults}, ${cpu.addressFaults} ${w.addressFaults}, ${cpu.fullFlushes} full flushes, ${cpu.pageInvalidations} ${w.pageInvalidations}`,
          );
          const dc = cpu.cache;
          if (dc !== null)
            rt.out.push(
              `  L1 data cache: ${dc.hits} hits/${dc.misses} misses, ${dc.staleReads} stale reads, ${dc.flushes} flushes (+${dc.rangeFlushes} range, ${dc.pageFlushes} page), ${dc.writebacks} lines written back`,
            );
          if (what === "tlb")
            for (const a of v.tlb(cpu.id).arrays)
              rt.out.push(
                `  ${a.name}: ${a.entries} entries, ${a.ways}-way, ${a.valid} valid, ${a.evictions} evictions`,
              );
        }
        if (what === "stats") {
          const n = v.counters();
          rt.out.push(`oopses ${n.oopses}, shootdown IPIs ${n.shootdownsSent}, tasks ${n.tasks}`);
        }
      }
    }
  };
}

function showProc(c: CompileContext, s: Stmt, name: string, pos: Pos): Run {
  const w = s.words[1];
  if (
    w?.kind !== "arg" ||
    w.ident === null ||
    ![
      ...PROC_SHOW,
      "status",
      "statm",
      "smaps_rollup",
      "oom_score",
      "oom_score_adj",
      "limits",
      "ksm_stat",
    ].includes(w.ident)
  ) {
    c.fail(
      `show ${name} maps|smaps|smaps_rollup|status|statm|oom_score|oom_score_adj|limits|ksm_stat|pagetable [ADDR]|task|vtop ADDR|pagemap ADDR [SIZE]|vad|pte ADDR|vmmap`,
      w?.pos ?? pos,
    );
  }
  const what = w.ident;
  if (what === "ksm_stat") {
    // /proc/PID/ksm_stat (kernel/view/ksm.ts); nothing for a process without an address space
    if (s.words.length > 2) c.fail(`too many arguments to 'show ${name} ksm_stat'`, s.words[2].pos);
    return (rt) => {
      const i = rt.view.ksmStat(c.liveProc(rt, name, pos));
      if (i !== null) rt.out.push(...formatKsmStat(i));
      rt.data = i;
    };
  }
  if (what === "limits") {
    // /proc/PID/limits: the rows of the limits vmlab models (kernel/view/limits.ts)
    if (s.words.length > 2) c.fail(`too many arguments to 'show ${name} limits'`, s.words[2].pos);
    return (rt) => {
      const rows = rt.view.limits(c.liveProc(rt, name, pos));
      rt.out.push(...formatLimits(rows));
      rt.data = rows;
    };
  }
  if (
    what === "status" ||
    what === "statm" ||
    what === "smaps_rollup" ||
    what === "oom_score" ||
    what === "oom_score_adj"
  )
    return showProcStatus(c, s, name, what, pos);
  if (what === "vad") return showVad(c, s, name, pos);
  if (what === "vmmap") return showVmmap(c, s, name, pos);
  if (what === "pte") return showPte(c, s, name, pos);
  if (what === "vtop" || what === "pagemap") return showCrashView(c, s, name, what, pos);
  if (what === "task") {
    if (s.words.length > 2) c.fail(`too many arguments to 'show ${name} task'`, s.words[2].pos);
    return (rt) => {
      const t = rt.procs.get(name)!;
      const v = rt.view;
      const info = v.task(t);
      rt.out.push(
        ...formatTask(info, info.alive ? v.mm(t) : null, info.alive && info.hasMm ? v.vmas(t) : []),
      );
    };
  }
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
    const v = rt.view;
    // profile=windows: the regions VirtualQuery reports (winsection.ts)
    if (what === "maps" && v.windows() !== null) rt.out.push(...winMaps(rt, t));
    else if (what === "maps") rt.out.push(...formatMaps(v.vmas(t)));
    else if (what === "smaps") rt.out.push(...formatSmaps(v.smaps(t)));
    else if (v.task(t).hasMm)
      rt.out.push(
        ...(addr
          ? formatWalk(t.comm, v.walk(t, c.value(addr, rt, "the address")))
          : formatMappings(t.comm, v.mappings(t))),
      );
  };
}

const PROC_SHOW = ["maps", "smaps", "pagetable", "task", "vtop", "pagemap", "vad", "pte", "vmmap"];

/**
 * `show P status|statm|smaps_rollup|oom_score|oom_score_adj`: /proc/PID/status (the lines
 * vmlab models), statm, smaps_rollup, oom_score and oom_score_adj (kernel/view/procstatus.ts).
 * A kernel thread has a status (no memory lines) and an oom_score of 0, no statm or smaps_rollup.
 */
function showProcStatus(
  c: CompileContext,
  s: Stmt,
  name: string,
  what: "status" | "statm" | "smaps_rollup" | "oom_score" | "oom_score_adj",
  pos: Pos,
): Run {
  if (s.words.length > 2) c.fail(`too many arguments to 'show ${name} ${what}'`, s.words[2].pos);
  if ((what === "statm" || what === "smaps_rollup") && c.procs.get(name) === "kthread")
    c.fail(`'${name}' is a kernel thread: it has no user address space`, pos);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const v = rt.view;
    if (what === "status") {
      const st = v.status(t);
      rt.out.push(...formatStatus(st));
      rt.data = st;
    } else if (what === "statm") {
      const st = v.statm(t);
      if (st !== null) rt.out.push(...formatStatm(st));
      rt.data = st;
    } else if (what === "smaps_rollup") {
      const r = v.smapsRollup(t);
      rt.out.push(...formatSmapsRollup(r));
      rt.data = r;
    } else {
      const n = what === "oom_score" ? v.oomScore(t) : v.oomScoreAdj(t);
      rt.out.push(String(n));
      rt.data = n;
    }
  };
}

/** The most pages `show P pagemap` prints (one line each). */
const MAX_PAGEMAP_PAGES = 65_536;

/** An address word of a `show` statement (words[i]), checked at compile time. */
function addrWord(c: CompileContext, s: Stmt, i: number, usage: string): AddrExpr {
  const a = s.words[i];
  if (a === undefined) c.fail(usage, s.words[i - 1].pos);
  if (a.kind !== "arg" || a.expr === null) c.fail(usage, a.pos);
  c.useVars(a.expr);
  return a.expr;
}

/** `show P vtop ADDR` (crash's vtop in P's context) and `show P pagemap ADDR [SIZE]` (/proc/P/pagemap). */
function showCrashView(c: CompileContext, s: Stmt, name: string, what: "vtop" | "pagemap", pos: Pos): Run {
  const usage = what === "vtop" ? `show ${name} vtop ADDR` : `show ${name} pagemap ADDR [SIZE]`;
  const addr = addrWord(c, s, 2, usage);
  const size = what === "pagemap" && s.words[3] !== undefined ? addrWord(c, s, 3, usage) : null;
  const last = what === "vtop" || size === null ? 3 : 4;
  if (s.words.length > last) c.fail(`too many arguments to '${usage}'`, s.words[last].pos);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const va = c.value(addr, rt, "the address");
    if (what === "vtop") {
      rt.out.push(...rt.view.vtop(t, va));
      rt.data = rt.view.walk(t, va);
      return;
    }
    const bytes = size === null ? 1n : c.value(size, rt, "the size");
    const first = va >> 12n;
    const pages = ((va + bytes + 4095n) >> 12n) - first;
    if (bytes <= 0n || pages > BigInt(MAX_PAGEMAP_PAGES))
      c.fail(
        `show pagemap prints 1 to ${MAX_PAGEMAP_PAGES} pages, not ${bytes <= 0n ? 0n : pages}`,
        s.words[3].pos,
      );
    const entries = rt.view.pagemap(t, Number(first), Number(pages));
    rt.out.push(...formatPagemap(entries));
    rt.data = entries;
  };
}

/** `show kernel vtop ADDR`: crash's vtop of a kernel address, through swapper_pg_dir. */
function showKernelVtop(c: CompileContext, s: Stmt): Run {
  const addr = addrWord(c, s, 2, "show kernel vtop ADDR");
  if (s.words.length > 3) c.fail("too many arguments to 'show kernel vtop ADDR'", s.words[3].pos);
  return (rt) => {
    const va = c.value(addr, rt, "the address");
    rt.out.push(...rt.view.vtop("kernel", va));
    rt.data = rt.view.walk("kernel", va);
  };
}

/** `show kpageflags [PFN [COUNT]]`: tools/mm/page-types' summary of /proc/kpageflags (all frames by default). */
function showKpageflags(c: CompileContext, s: Stmt): Run {
  const usage = "show kpageflags [PFN [COUNT]]";
  const pfn = s.words[1] !== undefined ? addrWord(c, s, 1, usage) : null;
  const count = s.words[2] !== undefined ? addrWord(c, s, 2, usage) : null;
  if (s.words.length > 3) c.fail(`too many arguments to '${usage}'`, s.words[3].pos);
  return (rt) => {
    const frames = rt.view.machine().frames;
    const first = pfn === null ? 0n : c.value(pfn, rt, "the frame number");
    const n = count === null ? BigInt(frames) - first : c.value(count, rt, "the count");
    if (first < 0n || first >= BigInt(frames))
      c.fail(`frame ${first} is not in RAM (0..${frames - 1})`, s.words[1].pos);
    if (n <= 0n) c.fail(`the count must be at least 1, not ${n}`, s.words[2].pos);
    const rows = rt.view.pageTypes(Number(first), Number(n < BigInt(frames) ? n : BigInt(frames)));
    rt.out.push(...formatPageTypes(rows));
    rt.data = rows;
  };
}

/**
 * `show pagetables`: the memory of the page tables side by side: Linux's
 * radix tables (which grow with the address space each process maps) and
 * the inverted table (fixed by RAM: one entry per frame), the one this
 * machine's MMU reads or, on a radix machine, the one it would take.
 */
function formatPageTableMemory(
  kind: string,
  memTotal: number,
  frames: number,
  m: Record<string, number>,
): string[] {
  const kib = (n: number) => `${(n / 1024).toLocaleString("en-US")} KiB`;
  const radix = m["pagetable.bytes"] ?? 0;
  const { iptBytes, hatBytes } = Ipt.sizes(frames);
  const pct = (n: number) => `${((100 * n) / (frames * 4096)).toFixed(2)}% of RAM`;
  const lines = [
    `page tables (pagetable=${kind}, ${frames} frames of RAM, MemTotal ${kib(memTotal)}):`,
    `  radix (Linux's own, per process; grows with the address space mapped): ${radix / 4096} pages = ${kib(radix)}${kind === "inverted" ? " (kept in software: the IPT is refilled from them)" : ""}`,
  ];
  const ipt = `${frames} entries x 16 B = ${kib(iptBytes)} + HAT ${hatBytes / 4} slots x 4 B = ${kib(hatBytes)}: ${kib(iptBytes + hatBytes)}, ${pct(iptBytes + hatBytes)}`;
  if (kind === "inverted")
    lines.push(
      `  inverted (what the MMU reads; fixed by RAM, not by address space): ${ipt}; ${m["ipt.entries"] ?? 0} entries valid, in ${m["ipt.chains"] ?? 0} hash chains (the longest: ${m["ipt.longest_chain"] ?? 0})`,
    );
  else lines.push(`  inverted: none on this machine; for this RAM one would take ${ipt}`);
  return lines;
}
