/**
 * Touching memory: a process's `read`, `write` and `exec` of a range
 * (through its page tables and the fault path, signals as results), and
 * the kernel's plain `read` and `write` dereferences (`kernel[@N]:`, an
 * oops when nobody fixes the fault). Ranges take `stride=` and `order=`.
 */
import { Access, accessName } from "../../../hw/access.ts";
import { EXCEPTION_CODES } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import { type CompileContext, kernelCpuOf, processOf, type Run, type Runtime } from "../runtime/context.ts";
import { faultSummary } from "../runtime/format.ts";

/** `P: read RANGE`, `P: write RANGE [value=N]`, `P: exec ADDR` (`stride=N`, `order=asc|desc|random`) */
export function userAccess(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  const access = s.verb === "write" ? Access.Write : s.verb === "exec" ? Access.Exec : Access.Read;
  const o = c.opts(
    s,
    access === Access.Write
      ? ["stride", "order", "value"]
      : access === Access.Read
        ? ["stride", "order"]
        : [],
  );
  const [addr, size] = c.args(
    s,
    1,
    access === Access.Exec ? 1 : 2,
    access === Access.Exec ? "an address" : "an address and an optional size",
  );
  const strideW = o.get("stride");
  const orderW = o.get("order");
  if (orderW && !["asc", "desc", "random"].includes(orderW.ident ?? ""))
    c.fail("order= must be asc, desc or random", orderW.valuePos);
  const valueW = o.get("value");
  for (const w of [strideW, valueW]) if (w?.value) c.useVars(w.value);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const cpu = c.runOn(rt, t);
    const value = valueW ? c.numOpt(valueW, rt)! & 0xff : 0x5a;
    const min0 = t.minFlt;
    const maj0 = t.majFlt;
    const k = rt.kernel;
    const rec = k.lastAccess;
    // one kernel call per run of evenly spaced addresses; order=random, one per address
    const runs = c.touchRangeRuns(rt, addr, size, strideW, orderW);
    const points = runs === null ? c.touchRange(rt, addr, size, strideW, orderW) : null;
    let total = 0;
    let stopped = false;
    if (runs !== null) {
      total = runs.total;
      for (const run of runs.runs) {
        const first = BigInt.asUintN(64, run.first);
        const hi = Number(first >> 32n);
        const lo = Number(first & 0xffffffffn);
        if (k.userAccessRange(cpu, t, hi, lo, run.count, run.stride, access, value) < run.count) {
          stopped = true;
          break;
        }
      }
    } else {
      total = points!.length;
      for (const va of points!)
        if (!k.userAccess(cpu, t, va, access, value).ok) {
          stopped = true;
          break;
        }
    }
    if (stopped) {
      if (t.minFlt + t.majFlt > min0 + maj0)
        rt.out.push(`${t.minFlt + t.majFlt - min0 - maj0} page faults resolved first`);
      const code = EXCEPTION_CODES[rec.signal];
      rt.out.push(
        rec.signal === ""
          ? stuck(name, rec.siCode)
          : code === undefined
            ? `${rec.signal} (${rec.siCode}) at 0x${rec.siAddr.toString(16)}: ${rec.killed ? `${name} killed` : "caught; the access is abandoned"}`
            : // profile=windows: an exception; unhandled, it ends the process with the code as its exit status
              `exception 0x${code.toString(16).toUpperCase()} ${rec.signal}: ${rec.siCode} of 0x${rec.siAddr.toString(16)}; ${rec.killed ? `unhandled: ${name} terminated (exit code 0x${code.toString(16).toUpperCase()})` : "handled by __except; the access is abandoned"}`,
      );
      if (rec.killed) rt.deaths.set(name, s.pos.line);
      return;
    }
    const resolved = t.minFlt - min0;
    const major = t.majFlt - maj0;
    const what = `${accessName(access)} ${total} ${total === 1 ? "page" : "pages"}`;
    const detail =
      total === 1 ? `: pa 0x${rec.pa.toString(16)}, byte 0x${rec.value.toString(16).padStart(2, "0")}` : "";
    rt.out.push(`${what}${detail}; ${faultSummary(resolved, major)}`);
  };
}

/**
 * A run that stopped with no signal (kernel/core/oom.ts pagefaultOutOfMemory): the machine
 * panicked in the fault, or the fault ended in VM_FAULT_OOM again and again with nothing left
 * to kill (Linux retries it forever: the task stays in its fault).
 */
function stuck(name: string, why: string): string {
  return why === "panic"
    ? "the machine panicked in the page fault; the access never completed"
    : `${name} is stuck in its page fault: VM_FAULT_OOM, retried with nothing left to kill (Linux retries it forever); the access is abandoned`;
}

/**
 * `kernel[@N]: read RANGE`, `kernel[@N]: write RANGE [value=N]`: dereferences
 * in the current task's context; `kernel[@N]: exec RANGE`: instruction
 * fetches there (SMEP, PXN, NX decide).
 */
export function kernelAccess(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.noTarget(s);
  const access = s.verb === "write" ? Access.Write : s.verb === "exec" ? Access.Exec : Access.Read;
  const o = c.opts(s, access === Access.Write ? ["stride", "order", "value"] : ["stride", "order"]);
  const [addr, size] = c.args(s, 1, 2, "an address and an optional size");
  const strideW = o.get("stride");
  const orderW = o.get("order");
  if (orderW && !["asc", "desc", "random"].includes(orderW.ident ?? ""))
    c.fail("order= must be asc, desc or random", orderW.valuePos);
  const valueW = o.get("value");
  for (const w of [strideW, valueW]) if (w?.value) c.useVars(w.value);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const value = valueW ? c.numOpt(valueW, rt)! & 0xff : 0x5a;
    const points = c.touchRange(rt, addr, size, strideW, orderW);
    const k = rt.kernel;
    let faults = 0;
    let lastPa = -1;
    let lastValue = 0;
    const vmallocFaults0 = rt.view.counters().vmallocFaults;
    // profile=windows: pool pages brought back by a soft (transition) or hard (paging file) fault
    const win0 = rt.view.windows()?.paging();
    // a user address handle_mm_fault mapped (do_user_addr_fault and its peers): counted in the task's min_flt/maj_flt
    const flt0 = taskFaults(rt);
    for (const va of points) {
      const r = k.kernelAccess(cpuId, va, access, value);
      if (!r.ok) {
        rt.out.push(...r.oops);
        if (r.panic) rt.out.push(`Kernel panic - not syncing: ${r.panic}`);
        return;
      }
      faults += r.faults;
      lastPa = r.pa;
      lastValue = r.value;
    }
    const one = points.length === 1;
    // a fault the kernel fixed and retried: a vmalloc fault (32-bit x86, vmalloc_sync=lazy) or a spurious one
    const vf = rt.view.counters().vmallocFaults - vmallocFaults0;
    const win1 = rt.view.windows()?.paging();
    const soft = win0 && win1 ? win1.transitionFaults - win0.transitionFaults : 0;
    const hard = win0 && win1 ? win1.pageReads - win0.pageReads : 0;
    const flt1 = taskFaults(rt);
    const userMinor = flt1.minor - flt0.minor;
    const userMajor = flt1.major - flt0.major;
    const spurious = faults - vf - soft - hard - userMinor - userMajor;
    const userFaults =
      userMinor + userMajor ? `, ${faultSummary(userMinor, userMajor)} handled in the current mm` : "";
    const winFaults = `${soft ? `, ${soft} soft fault${soft > 1 ? "s" : ""} (from the standby/modified list)` : ""}${hard ? `, ${hard} hard fault${hard > 1 ? "s" : ""} (read from the paging file)` : ""}`;
    rt.out.push(
      `${accessName(access)} ${points.length} ${one ? "page" : "pages"}${one ? `: pa 0x${lastPa.toString(16)}, byte 0x${lastValue.toString(16).padStart(2, "0")}` : ""}${vf ? `, ${vf} vmalloc fault${vf > 1 ? "s" : ""} (PDE copied from swapper_pg_dir)` : ""}${winFaults}${userFaults}${spurious ? `, ${spurious} spurious fault${spurious > 1 ? "s" : ""}` : ""}`,
    );
  };
}

/** Every task's resolved faults, summed (min_flt, maj_flt). */
function taskFaults(rt: Runtime): { minor: number; major: number } {
  let minor = 0;
  let major = 0;
  for (const t of rt.view.tasks()) {
    minor += t.minFlt;
    major += t.majFlt;
  }
  return { minor, major };
}
