/**
 * The expression compiler of `let` and `expect`: integers, `+` and `-`,
 * variables, symbols (SIGSEGV, none), machine metrics (oops, meminfo.X,
 * vmstat.X, tlb.hits(cpu=N), ...), process metrics (P.rss, P.signal, ...),
 * range metrics (rss(P, ADDR SIZE), pfn(kernel, ADDR), table(P, ADDR,
 * LEVEL), ...) and file calls (cached(FILE), file_byte(FILE, OFFSET)).
 *
 * Names, functions and arguments are checked at compile time; what they
 * read is read at run time, through the kernel's view (KernelView) only. A chain of `+` and `-`
 * compiles without recursion into a postfix program, so its length is not
 * bounded by the stack; operands are evaluated left to right and the first
 * symbolic operand fails at its operator, as a tree walk would.
 */

import type { PagingInfo, TaskHandle } from "../../../kernel/Kernel.ts";
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import type { CpuInfo, PageInfo } from "../../../kernel/view/types.ts";
import type { Expr, Pos } from "../lang/ast.ts";
import type { CompileContext, Runtime } from "./context.ts";
import type { Value } from "./format.ts";

/** A compiled expression. */
export type Eval = (rt: Runtime) => Value;

/**
 * Page-table levels by name, for table(P, ADDR, LEVEL) (level 0 is the
 * leaf table): the architecture's own names, and Linux's generic ones,
 * where a folded level answers the level it folds into (on a 4-level
 * machine p4d is the pgd).
 */
const RISCV = ["riscv-sv39", "riscv-sv48", "riscv-sv57"];
/** RV32's Sv32: two levels, L1 and L0 */
const RISCV_ALL = ["riscv-sv32", ...RISCV];
const ARCH_LEVELS: Record<string, { arches: readonly string[]; level: number }[]> = {
  pt: [{ arches: ["x86_64", "x86_64-la57", "i386", "i386-pae"], level: 0 }],
  pd: [{ arches: ["x86_64", "x86_64-la57", "i386", "i386-pae"], level: 1 }],
  pdpt: [{ arches: ["x86_64", "x86_64-la57", "i386-pae"], level: 2 }],
  pml4: [{ arches: ["x86_64", "x86_64-la57"], level: 3 }],
  pml5: [{ arches: ["x86_64-la57"], level: 4 }],
  // arm64 numbers its levels from the top (Arm ARM D8: level 0 is the first of a 48-bit walk);
  // RISC-V from the leaf, as the privileged spec's `i` does (level 0 is the last table of every mode)
  l4: [{ arches: ["riscv-sv57"], level: 4 }],
  l3: [
    { arches: ["arm64"], level: 0 },
    { arches: ["riscv-sv48", "riscv-sv57"], level: 3 },
  ],
  l2: [
    { arches: ["arm64"], level: 1 },
    { arches: RISCV, level: 2 },
  ],
  l1: [
    { arches: ["arm64"], level: 2 },
    { arches: RISCV_ALL, level: 1 },
  ],
  l0: [
    { arches: ["arm64"], level: 3 },
    { arches: RISCV_ALL, level: 0 },
  ],
};
const GENERIC_LEVELS: Record<string, number> = { pte: 0, pmd: 1, pud: 2, p4d: 3, pgd: 99 };
const LEVEL_NAMES = [...Object.keys(ARCH_LEVELS), ...Object.keys(GENERIC_LEVELS)];

/** The level `name` means on this machine, or why it means none. */
function resolveLevel(name: string, arch: string, levels: number): number | string {
  if (name in GENERIC_LEVELS) return Math.min(GENERIC_LEVELS[name], levels - 1);
  const a = ARCH_LEVELS[name].find((x) => x.arches.includes(arch));
  if (a !== undefined) return a.level;
  const own = Object.keys(ARCH_LEVELS).filter((n) => ARCH_LEVELS[n].some((x) => x.arches.includes(arch)));
  return `${arch} has no level '${name}' (its levels: ${own.join(", ")}; or pgd, p4d, pud, pmd, pte)`;
}

/** Per-CPU counters: one CPU's with cpu=N, else the sum over all CPUs. */
const CPU_METRICS = new Map<string, (c: CpuInfo) => number>([
  ["tlb.hits", (c) => c.tlbHits],
  ["tlb.misses", (c) => c.tlbMisses],
  ["tlb.flushes", (c) => c.fullFlushes],
  // invalidations of one page or range by address: x86 INVLPG, arm64 TLBI by VA (a range TLBI once), RISC-V SFENCE.VMA by address
  ["tlb.page_invalidations", (c) => c.pageInvalidations],
  ["shootdowns", (c) => c.shootdownsReceived],
  ["context_switches", (c) => c.contextSwitches],
  ["cr3_writes", (c) => c.rootWrites],
  ["pti.cr3_switches", (c) => c.ptiCr3Writes],
  ["pti.user_flushes", (c) => c.ptiUserFlushes],
  // the page faults the MMU raised (x86 #PF, arm64 aborts of a translation or permission), whoever took them
  ["page_faults", (c) => c.pageFaults],
  // the L1 data caches (cache=; 0 without one): docs/caches.md
  ["cache.hits", (c) => c.cache?.hits ?? 0],
  ["cache.misses", (c) => c.cache?.misses ?? 0],
  ["cache.flushes", (c) => c.cache?.flushes ?? 0],
  ["cache.stale_reads", (c) => c.cache?.staleReads ?? 0],
  ["cache.range_flushes", (c) => c.cache?.rangeFlushes ?? 0],
  ["cache.page_flushes", (c) => c.cache?.pageFlushes ?? 0],
  ["cache.writebacks", (c) => c.cache?.writebacks ?? 0],
]);

/**
 * The page-table metrics (KernelView.pageTableMetrics): the radix tables'
 * bytes, and the inverted page table's counters (0 on a radix machine).
 */
const PAGETABLE_METRICS = [
  "pagetable.bytes",
  "ipt.bytes",
  "ipt.entries",
  "ipt.chains",
  "ipt.longest_chain",
  "ipt.lookups",
  "ipt.hits",
  "ipt.misses",
  "ipt.refs",
  "ipt.hash_faults",
  "ipt.reloads",
  "ipt.steals",
  "ipt.invalidations",
];

/** The functions of the calls that are per-CPU metrics (`tlb.hits(cpu=1)`), in the order the checks try them. */
const CPU_CALLS = [
  "tlb.hits",
  "tlb.misses",
  "tlb.flushes",
  "tlb.page_invalidations",
  "context_switches",
  "shootdowns",
  "cr3_writes",
  "pti.cr3_switches",
  "pti.user_flushes",
  "page_faults",
  "cache.hits",
  "cache.misses",
  "cache.flushes",
  "cache.stale_reads",
  "cache.range_flushes",
  "cache.page_flushes",
  "cache.writebacks",
];

/** Range metrics: FN(P, ADDR [SIZE]) (and table's LEVEL). */
const RANGE_FNS = [
  "pfn",
  "present",
  "table",
  "byte",
  "rss",
  "swapped",
  "anon",
  "dirty",
  // an extension: present pages whose entry has the accessed bit (x86 A, arm64 AF, RISC-V A)
  "young",
  "mapcount",
  "anon_huge",
  // pages mapped by HugeTLB entries (MAP_HUGETLB; smaps' Shared_Hugetlb + Private_Hugetlb)
  "hugetlb",
  "locked",
  "lazyfree",
  "swapcache",
  // an extension: pages mincore(2) reports resident (page cache and swap cache answers included)
  "incore",
  "vmas",
  "guard",
  // profile=windows: pages committed, and pages inside a reservation (VAD), committed or not
  "committed",
  "reserved",
];

/** Range metrics that count pages of a process's range. */
const PAGE_COUNTS = new Map<string, (p: PageInfo) => boolean>([
  ["present", (p) => p.present],
  ["rss", (p) => p.present && !p.zeroPage && p.hugetlb !== true],
  ["hugetlb", (p) => p.hugetlb === true],
  ["anon", (p) => p.anon],
  ["dirty", (p) => p.present && !p.zeroPage && p.hugetlb !== true && p.dirty],
  ["young", (p) => p.present && p.young],
  ["locked", (p) => p.present && p.inLockedVma],
  ["guard", (p) => p.guard],
  ["lazyfree", (p) => p.anon && !p.dirty && p.lazyfree],
  // language 1.2: pages whose swap slot has a page in the swap cache (mapped or not)
  ["swapcache", (p) => p.swapCache],
  ["anon_huge", (p) => p.huge && p.anon],
  ["swapped", (p) => p.swapSlot >= 0],
]);

/**
 * Pages of vpn .. vpn+n of a task that match: only pages that hold an
 * entry can (every predicate needs one), so a sparse walk finds them and a
 * range of terabytes is as quick as the tables are small.
 */
function countPages(
  v: KernelView,
  t: TaskHandle,
  vpn: number,
  n: number,
  pred: (p: PageInfo) => boolean,
): number {
  let c = 0;
  for (const p of v.entryPages(t, vpn, n)) if (pred(p)) c++;
  return c;
}

/** The frame of the table at `level` a walk of `va` reaches (the root at the top level), or -1. */
function tableAt(v: KernelView, who: TaskHandle | "kernel", va: bigint, level: number): number {
  return v.walk(who, va).entries.find((e) => e.level === level)?.tablePfn ?? -1;
}

type Step = Eval | { op: "+" | "-"; pos: Pos };

/** Compiles an expression; unknown names, functions and arguments fail here. */
export function compileExpr(c: CompileContext, root: Expr): Eval {
  if (root.kind !== "bin") return leaf(c, root);
  // post-order without recursion: left operand, right operand, operator
  const program: Step[] = [];
  const stack: { e: Expr; operands: boolean }[] = [{ e: root, operands: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    const e = top.e;
    if (e.kind !== "bin") program.push(leaf(c, e));
    else if (top.operands) program.push({ op: e.op, pos: e.pos });
    else stack.push({ e, operands: true }, { e: e.right, operands: false }, { e: e.left, operands: false });
  }
  return (rt) => {
    const values: Value[] = [];
    for (const step of program) {
      if (typeof step === "function") {
        values.push(step(rt));
        continue;
      }
      const b = values.pop()!;
      const a = values.pop()!;
      if (typeof a !== "bigint" || typeof b !== "bigint") c.fail("arithmetic on a symbolic value", step.pos);
      values.push(step.op === "+" ? a + b : a - b);
    }
    return values[0];
  };
}

function leaf(c: CompileContext, e: Exclude<Expr, { kind: "bin" }>): Eval {
  switch (e.kind) {
    case "num":
      return () => e.value;
    case "name":
      return e.quoted ? () => e.name : name(c, e.name, e.pos, {});
    case "call":
      return call(c, e);
  }
}

/** A variable, a machine or process metric, or a symbol. */
function name(c: CompileContext, name: string, pos: Pos, opts: Record<string, bigint>): Eval {
  if (c.defined.has(name)) return (rt) => rt.vars.get(name)!;
  const cpuOpt = opts.cpu;
  if (name.startsWith("meminfo.")) {
    const field = name.slice(8);
    return (rt) => {
      const m = rt.view.meminfo();
      if (!(field in m)) c.fail(`unknown /proc/meminfo field '${field}'`, pos);
      return BigInt(m[field]);
    };
  }
  if (name.startsWith("vmstat.")) {
    const field = name.slice(7);
    return (rt) => {
      const v = rt.view.vmstat();
      if (field in v) return BigInt(v[field]);
      // vmlab's own counters, and the names used before Linux's (docs/swap.md)
      const compat = rt.view.vmstatCompat();
      if (!(field in compat)) c.fail(`unknown /proc/vmstat counter '${field}'`, pos);
      return BigInt(compat[field]);
    };
  }
  if (name.startsWith("memory.")) {
    // the memory cgroup's files as `show memcg` names them (machine memory_max): memory.current,
    // memory.max and memory.high (-1 for "max"), memory.events.X, memory.stat.X, memory.failcnt,
    // memory.high_throttled and memory.high_delay_jiffies (extensions)
    const field = name.slice(7);
    return (rt) => {
      const m = rt.view.memcg();
      const [file, key] = field.split(".", 2);
      const v =
        field === "current"
          ? m.current
          : field === "max"
            ? (m.max ?? -1)
            : field === "high"
              ? (m.high ?? -1)
              : field === "high_throttled"
                ? m.highThrottled
                : field === "high_delay_jiffies"
                  ? m.highDelayJiffies
                  : field === "peak"
                    ? m.peak
                    : field === "failcnt"
                      ? m.failcnt
                      : file === "events"
                        ? m.events[key]
                        : file === "stat"
                          ? m.stat[key]
                          : undefined;
      if (v === undefined) c.fail(`unknown memory cgroup value '${name}' (see show memcg)`, pos);
      return BigInt(v);
    };
  }
  if (name.startsWith("ksm.")) {
    // /sys/kernel/mm/ksm/<file> (kernel/view/ksm.ts): ksm.pages_sharing, ksm.full_scans, ksm.cow_ksm
    const field = name.slice(4);
    return (rt) => {
      const v = rt.view.ksm()[field];
      if (v === undefined) c.fail(`unknown \`show ksm\` field '${field}'`, pos);
      return BigInt(v);
    };
  }
  if (name.startsWith("thp.")) {
    const field = name.slice(4);
    return (rt) => {
      const info = rt.view.thp();
      // the mTHP stats by their file's name (nr_anon, nr_anon_partially_mapped), khugepaged's
      // files by theirs (pages_collapsed, full_scans, max_ptes_swap, ...)
      const v =
        info[field] ??
        info[`khugepaged/${field}`] ??
        // one mTHP size's file: thp.hugepages_64kB_anon_fault_alloc
        info[field.replace(/^hugepages_(\d+kB)_/, "hugepages-$1/stats/")] ??
        info[Object.keys(info).find((n) => n.endsWith(`/stats/${field}`)) ?? ""];
      if (typeof v !== "number") c.fail(`unknown numeric \`show thp\` field '${field}'`, pos);
      return BigInt(v);
    };
  }
  const counter = CPU_METRICS.get(name);
  if (counter !== undefined)
    return (rt) => {
      const cpus = rt.view.cpus();
      if (cpuOpt !== undefined && cpuOpt >= BigInt(cpus.length)) c.fail(`CPU ${cpuOpt} does not exist`, pos);
      if (cpuOpt !== undefined) return BigInt(counter(cpus[Number(cpuOpt)]));
      return BigInt(cpus.reduce((n, cpu) => n + counter(cpu), 0));
    };
  if (PAGETABLE_METRICS.includes(name)) return (rt) => BigInt(rt.view.pageTableMetrics()[name] ?? 0);
  const prio = /^standby_priority_([0-7])$/.exec(name);
  if (prio !== null)
    // profile=windows: the standby list of one page priority (MmStandbyPageListByPriority; docs/windows.md)
    return (rt) => {
      const w = rt.view.windows();
      if (w === null) c.fail(`${name} is the windows profile's (machine profile=windows)`, pos);
      return BigInt(w.paging().standbyByPriority[Number(prio[1])]);
    };
  if (name.startsWith("ipt."))
    return c.fail(
      `unknown inverted-page-table metric '${name}' (${PAGETABLE_METRICS.slice(1).join(", ")})`,
      pos,
    );
  switch (name) {
    case "oops":
      return (rt) => BigInt(rt.view.counters().oopses);
    case "oom_kills":
      return (rt) => BigInt(rt.view.counters().oomKills);
    case "tlb.broadcasts":
      return (rt) => BigInt(rt.view.counters().tlbBroadcasts);
    case "tlb.sbi_fences":
      return (rt) => BigInt(rt.view.counters().tlbSbiFences);
    case "asid_rollovers":
      return (rt) => BigInt(rt.view.counters().asidRollovers);
    case "tlb.stale_uses":
      return (rt) => BigInt(rt.view.counters().staleTlbUses);
    case "vmalloc_faults":
      return (rt) => BigInt(rt.view.counters().vmallocFaults);
    case "system_range_start":
    case "highest_user_address":
      // profile=windows: MmSystemRangeStart and MM_HIGHEST_USER_ADDRESS of this machine and split
      return (rt) => {
        const w = rt.view.windows();
        if (w === null) c.fail(`${name} is the windows profile's (machine profile=windows)`, pos);
        const l = w.layout();
        return name === "system_range_start" ? l.systemRangeStart : l.highestUserAddress;
      };
    case "commit_charge":
    case "commit_limit":
    case "commit_peak":
      // profile=windows: the system's commit charge, its limit (RAM + pagefile) and peak, in pages
      return (rt) => {
        const w = rt.view.windows();
        if (w === null) c.fail(`${name} is the windows profile's (machine profile=windows)`, pos);
        const b = w.commit();
        return BigInt(name === "commit_charge" ? b.total : name === "commit_limit" ? b.limit : b.peak);
      };
    case "transition_faults":
    case "page_reads":
    case "demand_zero_faults":
    case "pages_output":
    case "standby_repurposed":
    case "zero_list":
    case "free_list":
    case "standby_list":
    case "modified_list":
    case "pagefile_used":
    case "pool_paged_bytes":
    case "pool_nonpaged_bytes":
    case "pool_paged_resident_bytes":
    case "bugcheck":
    case "bugcheck_arg1":
    case "bugcheck_arg2":
    case "bugcheck_arg3":
    case "bugcheck_arg4":
    case "write_copies":
    case "available_pages":
    case "ws_manager_trimmed":
      // profile=windows: the Memory performance counters' values, the page lists, the pools, the last bug check
      return (rt) => {
        const w = rt.view.windows();
        if (w === null) c.fail(`${name} is the windows profile's (machine profile=windows)`, pos);
        return winMetric(w.paging(), name);
      };
    case "panic":
      return (rt) => (rt.view.counters().panic === null ? 0n : 1n);
    case "oops_esr":
    case "oops_error_code": {
      // the last oops's hardware code: arm64's ESR_EL1, x86's #PF error code, RISC-V's scause (-1: none, or not a fault)
      const arm = name === "oops_esr";
      return (rt) => {
        const arch = rt.view.machine().arch;
        if ((arch === "arm64") !== arm)
          c.fail(
            arm
              ? `oops_esr is arm64's (ESR_EL1); ${arch} has oops_error_code`
              : `oops_error_code is x86's (the #PF error code); arm64 has oops_esr`,
            pos,
          );
        const last = rt.view.oopses().at(-1);
        return BigInt(last === undefined ? -1 : last.code);
      };
    }
  }
  if (/^[A-Z][A-Z_0-9]*$/.test(name) || name === "none") return () => name;
  if (name.includes(".")) {
    const [proc, field] = name.split(".");
    if (!c.procs.has(proc)) c.fail(`process '${proc}' does not exist`, pos);
    // rss, swap and pt_pages of a dead process are 0; its stack_top is what exit left in its mm
    const live = (v: KernelView, t: TaskHandle) => (v.task(t).alive ? v.mm(t) : null);
    const win = (v: KernelView, t: TaskHandle) => {
      const w = v.windows();
      if (w === null) c.fail(`${name} is the windows profile's (machine profile=windows)`, pos);
      const p = w.process(t);
      if (p === null) c.fail(`${proc} has no Windows address space`, pos);
      return p;
    };
    const getters: Record<string, (t: TaskHandle, v: KernelView) => Value> = {
      min_flt: (t, v) => BigInt(v.task(t).minFlt),
      maj_flt: (t, v) => BigInt(v.task(t).majFlt),
      // profile=windows: a process's resident pages are its working set (Linux's RSS counters stay 0)
      rss: (t, v) => BigInt(v.windows()?.process(t)?.workingSet ?? live(v, t)?.rss ?? 0),
      swap: (t, v) => BigInt(live(v, t)?.swapEntries ?? 0),
      pt_pages: (t, v) => BigInt(live(v, t)?.ptPages ?? 0),
      // /proc/PID/status's VmHWM, VmPeak, VmSize (bytes; 0 for a dead process or a kernel thread) and oom_score
      vm_hwm: (t, v) => BigInt(v.task(t).alive ? (v.status(t).mem?.vmHwm ?? 0) : 0),
      vm_peak: (t, v) => BigInt(v.task(t).alive ? (v.status(t).mem?.vmPeak ?? 0) : 0),
      vm_size: (t, v) => BigInt(v.task(t).alive ? (v.status(t).mem?.vmSize ?? 0) : 0),
      // VmData and VmLck: what RLIMIT_DATA and RLIMIT_MEMLOCK hold (bytes)
      vm_data: (t, v) => BigInt(v.task(t).alive ? (v.status(t).mem?.vmData ?? 0) : 0),
      vm_lck: (t, v) => BigInt(v.task(t).alive ? (v.status(t).mem?.vmLck ?? 0) : 0),
      oom_score: (t, v) => BigInt(v.oomScore(t)),
      // mm->map_count: the VMAs (an extension; vm.max_map_count bounds it)
      map_count: (t, v) => BigInt(live(v, t)?.mapCount ?? 0),
      // /proc/PID/oom_score_adj (-1000..1000)
      oom_score_adj: (t, v) => BigInt(v.oomScoreAdj(t)),
      stack_start: (t, v) => v.vmas(t).find((m) => m.name === "[stack]")?.start ?? 0n,
      stack_top: (t, v) => v.mm(t)?.stackTop ?? 0n,
      signal: (t, v) => v.task(t).signal,
      si_code: (t, v) => v.task(t).siCode,
      si_addr: (t, v) => v.task(t).siAddr,
      si_pkey: (t, v) => BigInt(v.task(t).siPkey),
      // RDPKRU: the live register while P runs, else the copy saved at its last switch (x86-64 pku=on; 0 otherwise)
      pkru: (t, v) => BigInt(v.task(t).pkru),
      alive: (t, v) => (v.task(t).alive ? 1n : 0n),
      pid: (t, v) => BigInt(v.task(t).pid),
      ppid: (t, v) => BigInt(v.task(t).ppid),
      has_mm: (t, v) => (v.task(t).hasMm ? 1n : 0n),
      // profile=windows: the EXCEPTION_RECORD of the last exception, GetLastError, the process's commit charge
      exception: (t, v) => BigInt(win(v, t).exception),
      exception_rw: (t, v) => BigInt(win(v, t).exceptionRw),
      exception_address: (t, v) => win(v, t).exceptionAddress,
      last_error: (t, v) => BigInt(win(v, t).lastError),
      // the thread stack (CreateThread): the TEB's StackBase and StackLimit (0: no stack)
      stack_base: (t, v) => win(v, t).stack?.base ?? 0n,
      stack_limit: (t, v) => win(v, t).stack?.limit ?? 0n,
      commit: (t, v) => BigInt(win(v, t).commitCharge),
      // the pages VirtualLock locked in its working set
      locked: (t, v) => BigInt(win(v, t).locked),
      // its working set: the pages valid PTEs map (Working Set - Private / 4096)
      working_set: (t, v) => {
        win(v, t);
        return BigInt(
          v
            .windows()!
            .vads(t)
            .reduce((n, x) => n + x.residentPages, 0),
        );
      },
    };
    const g = getters[field];
    if (!g) c.fail(`unknown process metric '${field}' (${Object.keys(getters).join(", ")})`, pos);
    return (rt) => g(rt.procs.get(proc)!, rt.view);
  }
  return c.fail(`undefined variable or unknown metric '${name}'`, pos);
}

/**
 * The arguments of a range metric FN(P, ADDR [SIZE] [, LEVEL]): the
 * address and size, the page-table level for `table`, and a reader that
 * checks a value is a 64-bit address.
 */
function rangeArgs(c: CompileContext, e: Expr & { kind: "call" }) {
  const fn = e.fn;
  const group = e.args[1];
  const addr = compileExpr(c, group[0]);
  const size = group.length > 1 ? compileExpr(c, group[1]) : null;
  if (group.length > 2) c.fail(`${fn}: expected ADDR [SIZE]`, group[2].pos);
  let levelName = "";
  if (fn === "table") {
    const l = e.args[2];
    if (l?.length !== 1 || l[0].kind !== "name" || !LEVEL_NAMES.includes(l[0].name))
      c.fail(
        "table(P, ADDR, LEVEL): LEVEL is the architecture's (x86: pml5 pml4 pdpt pd pt; arm64: l0 l1 l2 l3; RISC-V: l4 l3 l2 l1 l0; i386: pd pt; i386-pae: pdpt pd pt) or pgd, p4d, pud, pmd, pte",
        e.pos,
      );
    levelName = l[0].name;
  } else if (e.args.length > 2) c.fail(`${fn} takes two arguments`, e.args[2][0].pos);
  const num = (ev: Eval, rt: Runtime, what: string, p: Pos): bigint => {
    const v = ev(rt);
    if (typeof v !== "bigint" || v < 0n || v >= 1n << 64n) c.fail(`${what} must be a 64-bit address`, p);
    if (v >= 1n << 32n) {
      const arch = rt.view.machine().arch;
      if (arch === "i386" || arch === "i386-pae")
        c.fail(`${what} 0x${v.toString(16)} does not fit in ${arch}'s 32-bit address space`, p);
    }
    return v;
  };
  /** the level `table` names, on the machine that runs */
  const level = (rt: Runtime): number => {
    const m = rt.view.machine();
    const r = resolveLevel(levelName, m.arch, m.levels);
    if (typeof r === "string") c.fail(r, e.pos);
    return r as number;
  };
  return { group, addr, size, level, num };
}

/** A range metric of a process: rss(P, RANGE), present, pfn, anon, dirty, mapcount, vmas, byte, table, ... */
function procCall(c: CompileContext, e: Expr & { kind: "call" }, name: string, pos: Pos): Eval {
  if (!c.procs.has(name)) c.fail(`process '${name}' does not exist`, pos);
  const fn = e.fn;
  const { group, addr, size, level, num } = rangeArgs(c, e);
  const count = PAGE_COUNTS.get(fn);
  return (rt) => {
    const v = rt.view;
    const t = rt.procs.get(name)!;
    const va = num(addr, rt, "the address", group[0].pos);
    if (fn === "committed" || fn === "reserved") {
      const w = v.windows();
      if (w === null) c.fail(`${fn}(P, RANGE) is the windows profile's (machine profile=windows)`, e.pos);
      const len = size ? num(size, rt, "the size", group[1].pos) : 1n;
      const first = va / 4096n;
      const n = Number((va + len + 4095n) / 4096n - first);
      if (first >= 1n << 45n) return 0n;
      return BigInt(w.pages(t, Number(first), n)[fn]);
    }
    const a = v.address(va);
    if (!a.canonical) return fn === "pfn" || fn === "byte" || fn === "mapcount" || fn === "table" ? -1n : 0n;
    if (a.kernelHalf && fn !== "table") {
      // the kernel half of every process's page tables is the kernel's own
      const task = v.task(t);
      const kpfn = task.alive && task.hasMm ? v.kernelPfn(va) : -1;
      if (fn === "pfn") return BigInt(kpfn);
      if (fn === "byte") return kpfn < 0 ? -1n : BigInt(v.physByte(kpfn * 4096 + a.offset));
      if (fn === "present") return kpfn < 0 ? 0n : 1n;
      return fn === "mapcount" ? -1n : 0n;
    }
    const vpn = a.vpn;
    const len = size ? num(size, rt, "the size", group[1].pos) : 1n;
    const n = Number((BigInt(a.offset) + len + 4095n) / 4096n);
    switch (fn) {
      case "pfn":
        return BigInt(v.page(t, vpn).pfn);
      case "byte": {
        const pfn = v.page(t, vpn).pfn;
        return pfn < 0 ? -1n : BigInt(v.physByte(pfn * 4096 + a.offset));
      }
      case "mapcount":
        return BigInt(v.page(t, vpn).mapcount);
      case "incore":
        return BigInt(v.incore(t, vpn, n));
      case "table":
        return BigInt(v.task(t).alive ? tableAt(v, t, va, level(rt)) : -1);
      case "vmas":
        return BigInt(
          v.task(t).alive ? v.vmas(t).filter((m) => m.startVpn < vpn + n && m.endVpn > vpn).length : 0,
        );
      default:
        return BigInt(countPages(v, t, vpn, n, count!));
    }
  };
}

/** cached(FILE), file_byte(FILE, OFFSET), f_blocks(FILE), f_bfree(FILE), f_files(FILE), f_ffree(FILE) */
function fileCall(c: CompileContext, e: Expr & { kind: "call" }): Eval {
  const fn = e.fn;
  const g = e.args[0];
  if (g?.length !== 1 || g[0].kind !== "name" || !c.files.has(g[0].name))
    c.fail(`${fn}: the first argument is a file name`, g?.[0]?.pos ?? e.pos);
  const name = g[0].name;
  const namePos = g[0].pos;
  // a memfd whose last reference went is gone from the page cache (memfdRelease): an error at its name
  const info = (rt: Runtime) => {
    const f = rt.view.file(name);
    if (f === null) c.fail(`${fn}: file ${name}: its last reference went, the memfd is freed`, namePos);
    return f;
  };
  if (fn === "cached") {
    if (e.args.length !== 1) c.fail("cached(FILE) takes one argument", e.pos);
    return (rt) => BigInt(info(rt).cached);
  }
  if (STATFS_FNS.includes(fn)) {
    // statfs(2) of the file's mount (shmem_statfs: the tmpfs size= in pages and what is left,
    // its nr_inodes= and the inodes left)
    if (e.args.length !== 1) c.fail(`${fn}(FILE) takes one argument`, e.pos);
    const field = ({ f_blocks: "fBlocks", f_bfree: "fBfree", f_files: "fFiles", f_ffree: "fFfree" } as const)[
      fn as "f_blocks"
    ];
    return (rt) => BigInt(info(rt)[field]);
  }
  if (e.args.length !== 2 || e.args[1].length !== 1) c.fail("file_byte(FILE, OFFSET)", e.pos);
  const off = compileExpr(c, e.args[1][0]);
  return (rt) => {
    info(rt);
    const o = off(rt);
    if (typeof o !== "bigint" || o < 0n) c.fail("file_byte: the offset is a non-negative number", e.pos);
    return BigInt(rt.view.fileByte(name, o));
  };
}

/** statfs(2)'s fields of a file's mount */
const STATFS_FNS = ["f_blocks", "f_bfree", "f_files", "f_ffree"];

/** A call: a per-CPU metric with cpu=N, a range metric of a process or of the kernel, or a file call. */
function call(c: CompileContext, e: Expr & { kind: "call" }): Eval {
  const fn = e.fn;
  if (CPU_CALLS.includes(fn)) {
    for (const k of Object.keys(e.opts)) if (k !== "cpu") c.fail(`${fn} takes only cpu=N`, e.pos);
    if (e.args.length) c.fail(`${fn} takes only cpu=N`, e.pos);
    return name(c, fn, e.pos, e.opts);
  }
  if (fn === "vm_flags") return vmFlagsCall(c, e);
  if (fn === "slab.objects" || fn === "slab.slabs") {
    // slab(CACHE).objects|slabs (language 1.2): /proc/slabinfo's active_objs (in use) and num_slabs
    const cache = (e.args[0][0] as { name: string }).name;
    const field = fn === "slab.objects" ? "activeObjs" : "numSlabs";
    return (rt) => {
      const s = rt.view.slabinfo().find((x) => x.name === cache);
      if (s === undefined) c.fail(`no slab cache '${cache}' (show slabinfo lists them)`, e.args[0][0].pos);
      return BigInt(s[field]);
    };
  }
  if (fn.startsWith("slab.")) c.fail(`slab(CACHE) has .objects and .slabs, not .${fn.slice(5)}`, e.pos);
  const fileFn = fn === "cached" || fn === "file_byte" || STATFS_FNS.includes(fn);
  if (!RANGE_FNS.includes(fn) && !fileFn) c.fail(`unknown function '${fn}'`, e.pos);
  if (fileFn) return fileCall(c, e);
  if (e.args.length < 2) c.fail(`${fn}(P, ...) needs a process (or kernel) and an address`, e.pos);
  const who = e.args[0];
  if (who.length !== 1 || who[0].kind !== "name")
    c.fail(`${fn}: the first argument is a process name or 'kernel'`, who[0].pos);
  if (who[0].name !== "kernel") return procCall(c, e, who[0].name, who[0].pos);
  if (!["pfn", "present", "table", "byte"].includes(fn))
    c.fail(`${fn}(kernel, ...) is not defined: it counts user pages`, e.pos);
  const { group: addrGroup, addr, size, level, num } = rangeArgs(c, e);
  return (rt) => {
    const v = rt.view;
    const va = num(addr, rt, "the address", addrGroup[0].pos);
    switch (fn) {
      case "pfn":
        return BigInt(v.kernelPfn(va));
      case "byte": {
        const pfn = v.kernelPfn(va);
        return pfn < 0 ? -1n : BigInt(v.physByte(pfn * 4096 + v.address(va).offset));
      }
      case "table":
        return BigInt(tableAt(v, "kernel", va, level(rt)));
      default: {
        // present(kernel, RANGE)
        const len = size ? num(size, rt, "the size", addrGroup[1].pos) : 1n;
        return BigInt(v.kernelPresent(va, len));
      }
    }
  };
}

/** A windows paging metric from the view's PagingInfo (docs/windows.md, "Metrics"). */
function winMetric(p: PagingInfo, name: string): bigint {
  const values: Record<string, number | bigint> = {
    transition_faults: p.transitionFaults,
    page_reads: p.pageReads,
    demand_zero_faults: p.demandZeroFaults,
    pages_output: p.pagesOutput,
    standby_repurposed: p.repurposed,
    zero_list: p.zeroed,
    free_list: p.free,
    standby_list: p.standby,
    modified_list: p.modified,
    pagefile_used: p.pagefileInUse,
    pool_paged_bytes: p.poolPagedBytes,
    pool_nonpaged_bytes: p.poolNonpagedBytes,
    pool_paged_resident_bytes: p.poolPagedResident * 4096,
    bugcheck: p.bugcheck,
    bugcheck_arg1: p.bugcheckParams[0],
    bugcheck_arg2: p.bugcheckParams[1],
    bugcheck_arg3: p.bugcheckParams[2],
    bugcheck_arg4: p.bugcheckParams[3],
    write_copies: p.writeCopies,
    available_pages: p.available,
    ws_manager_trimmed: p.wsManagerTrimmed,
  };
  return BigInt(values[name]);
}

/**
 * vm_flags(P, ADDR) (language 1.2): the flags of the VMA holding ADDR as
 * smaps' VmFlags line spells them (`rd wr mr mw me ac`), a string; "" where
 * no VMA is.
 */
function vmFlagsCall(c: CompileContext, e: Expr & { kind: "call" }): Eval {
  const who = e.args[0];
  if (e.args.length !== 2 || who.length !== 1 || who[0].kind !== "name" || e.args[1].length !== 1)
    c.fail("vm_flags(P, ADDR)", e.pos);
  const proc = who[0].name;
  if (!c.procs.has(proc)) c.fail(`process '${proc}' does not exist`, who[0].pos);
  const addr = compileExpr(c, e.args[1][0]);
  return (rt) => {
    const va = addr(rt);
    if (typeof va !== "bigint") c.fail("vm_flags: the address must be a number", e.args[1][0].pos);
    const t = rt.procs.get(proc)!;
    if (!rt.view.task(t).alive) return "";
    const s = rt.view.smaps(t).find((x) => x.vma.start <= va && va < x.vma.end);
    return s === undefined ? "" : s.mnemonics.join(" ");
  };
}
