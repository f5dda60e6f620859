/**
 * Memory aborts on arm64, run on the machine's CPUs (arch/arm64/mm/fault.c
 * do_mem_abort, do_page_fault, __do_kernel_fault, die_kernel_fault;
 * arch/arm64/kernel/traps.c die): the decisions and the oops text are
 * fault.ts's; this file takes the abort from the CPU (ESR_EL1, FAR_EL1),
 * calls the generic fault handling, and delivers the signal or the oops.
 *
 * A user access runs at EL0. A plain kernel dereference runs at EL1 with
 * PSTATE.PAN set: a user address then takes a permission fault, and
 * do_page_fault dies with "access to user memory outside uaccess
 * routines". The user-access routines use LDTR/STTR (an EL0 permission
 * check at EL1, PAN left set), so their faults reach do_page_fault with an
 * exception-table entry.
 */

import { assert } from "../../../base/assert.ts";
import { fromBig } from "../../../base/u64.ts";
import { Access, Mode } from "../../../hw/access.ts";
import { Arm64Cpu, WalkRecord } from "../../../hw/arch/arm64/Cpu.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import { HwFaultKind } from "../../../hw/mmu/PagingFormat.ts";
import type { KernelAccessResult, KernelCore } from "../../core/core.ts";
import { dumpStackInfo } from "../../core/dump_stack.ts";
import { faultAddr, kernelModeAccess, oopsEnd } from "../../core/entry.ts";
import { lockMmAndFindVma } from "../../core/findvma.ts";
import { accountFault } from "../../core/gup.ts";
import { pagefaultOutOfMemory } from "../../core/oom.ts";
import { contextTask } from "../../core/sched.ts";
import type { SigInfo } from "../../core/signal.ts";
import type { Task } from "../../core/task.ts";
import { faultDirtySharedPage } from "../../core/writeback.ts";
import { VmFault } from "../../mm/userMm.ts";
import { Ec, esrFscIsPermissionFault, esrFscIsTranslationFault } from "./esr.ts";
import {
  dieKernelFault,
  doKernelFault,
  doMemAbortEl1,
  type El1AbortVerdict,
  esrToFaultInfo,
  faultVmFlags,
  internalError,
  isTtbr0Addr,
  isTtbr0AddrOf,
  type ShowPteContext,
  untaggedAddr,
  userFaultSignal,
} from "./fault.ts";

/** An ARM64 CPU of the kernel's machine. */
export function arm64Cpu(cpu: Mmu): Arm64Cpu {
  assert(cpu instanceof Arm64Cpu, "arm64: the machine's CPU is not an ARM64 CPU");
  return cpu;
}

/** The machine's CPUs. */
export function arm64Cpus(machine: Machine): Arm64Cpu[] {
  return machine.cpus.map(arm64Cpu);
}

/**
 * do_page_fault's part after the EL1 checks, for a user address: the VMA
 * (lock_mm_and_find_vma), its rights against the fault's vm_flags, then
 * handle_mm_fault. Returns null when resolved (retry), else the signal.
 * `vaHi`/`vaLo`, when given, are va's halves: the page is found from them
 * without bigint arithmetic (an EL0 abort's), and `va` may then be null
 * (made from them for a signal: faultAddr).
 */
export function doPageFault(
  k: KernelCore,
  task: Task,
  va: bigint | null,
  esr: number,
  vaHi = -1,
  vaLo = 0,
): SigInfo | null {
  const mm = task.mm;
  // faulthandler_disabled() || !mm: no_context (a user-mode fault: do_bad_area)
  if (mm === null || task.pagefaultDisabled > 0 || !ttbr0(va, vaHi, vaLo))
    return badmap(esr, faultAddr(va, vaHi, vaLo));
  // "If EPAN is absent then exec implies read": ARM64_HAS_EPAN is system-wide (SCTLR_EL1.EPAN on every CPU)
  const { vmFlags, write } = faultVmFlags(esr, arm64Cpu(k.machine.cpus[0]).epan);
  const vpn = vaHi >= 0 ? k.va.vpnOf(vaHi, vaLo) : k.va.vpn(va!);
  const vma = lockMmAndFindVma(k.userMm, mm, task, vpn);
  if (vma === null) return badmap(esr, faultAddr(va, vaHi, vaLo));
  if (!(vma.vmFlags & vmFlags))
    return { ...userFaultSignal(esr, "badaccess"), addr: faultAddr(va, vaHi, vaLo) };
  k.faultingMm = mm;
  const res = k.userMm.handleMmFault(mm, vma, vpn, write);
  k.faultingMm = null;
  faultDirtySharedPage(k, task); // fault_dirty_shared_page: a shared file page made dirty
  // the OOM killer's SIGKILL, pending since it chose this task: delivered on the way out
  if (task.oomKilled) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  const r = res & ~accountFault(task, res);
  if (r === VmFault.OK) return null;
  // bad_area: from EL1 (a uaccess) no_context, the caller's fixup; VM_FAULT_OOM from EL0:
  // pagefault_out_of_memory (the OOM killer's SIGKILL if it chose this task, else a retry)
  if (r & VmFault.OOM)
    return fromEl0(esr) ? pagefaultOutOfMemory(k, task, vpn) : badmap(esr, faultAddr(va, vaHi, vaLo));
  const sig = userFaultSignal(esr, r & VmFault.SIGBUS ? "sigbus" : "badmap");
  return { ...sig, addr: faultAddr(va, vaHi, vaLo) };
}

/** user_mode(regs): the abort came from EL0 (ESR_ELx's EC: ESR_ELx_EC_DABT_LOW 0x24, ESR_ELx_EC_IABT_LOW 0x20) */
function fromEl0(esr: number): boolean {
  const ec = esr >>> 26;
  return ec === 0x24 || ec === 0x20;
}

/** is_ttbr0_addr of the caller's bigint, else of the halves (an EL0 abort's) */
function ttbr0(va: bigint | null, vaHi: number, vaLo: number): boolean {
  return va !== null ? isTtbr0Addr(va) : isTtbr0AddrOf(vaHi, vaLo);
}

/** do_bad_area's signal for a fault with no mapping (a function: no closure made per fault). */
function badmap(esr: number, va: bigint): SigInfo {
  return { ...userFaultSignal(esr, "badmap"), addr: va };
}

/**
 * do_mem_abort for an abort from EL0: fault_info[FSC]'s handler.
 * do_translation_fault sends a kernel address to do_bad_area (SIGSEGV,
 * SEGV_MAPERR); do_page_fault handles the rest; other handlers raise
 * fault_info's signal.
 */
function doMemAbortEl0(
  k: KernelCore,
  task: Task,
  va: bigint | null,
  esr: number,
  vaHi: number,
  vaLo: number,
): SigInfo | null {
  const inf = esrToFaultInfo(esr);
  if (inf.fn === "do_page_fault" || (inf.fn === "do_translation_fault" && ttbr0(va, vaHi, vaLo)))
    return doPageFault(k, task, va, esr, vaHi, vaLo);
  return { signal: inf.sig, code: inf.code, addr: faultAddr(va, vaHi, vaLo) };
}

/**
 * An abort a load or store at EL0 took: it enters the kernel at EL1 and
 * do_mem_abort decides: resolved (null: the access is retried, entry.ts
 * userModeRange), or a signal (caught: abandoned; uncaught: the task dies).
 */
export function userFault(
  k: KernelCore,
  cpu: Mmu,
  task: Task,
  _outcome: number,
  va: bigint | null,
  vaHi: number,
  vaLo: number,
): SigInfo | null {
  // do_mem_abort's addr = untagged_addr(far): under TCR_EL1.TBI0 (which __cpu_setup sets) the
  // walk ignored a TTBR0 address's top byte, and so do is_ttbr0_addr, the VMA lookup and
  // si_addr: do_page_fault raises the signal with far itself, and get_signal hides the tag
  // (hide_si_addr_tag_bits: arch_untagged_si_addr) unless the handler has SA_EXPOSE_TAGBITS
  if ((vaHi & 0x00800000) === 0 && vaHi >>> 24 !== 0) {
    const far = faultAddr(va, vaHi, vaLo);
    vaHi = vaHi & 0x00ffffff;
    if (va !== null) va = untaggedAddr(va);
    const sig = doMemAbortEl0(k, task, va, arm64Cpu(cpu).esr, vaHi, vaLo);
    if (sig !== null && sig.signal !== "SIGKILL" && task.exposeTagbits.has(sig.signal)) sig.addr = far;
    return sig;
  }
  return doMemAbortEl0(k, task, va, arm64Cpu(cpu).esr, vaHi, vaLo);
}

/**
 * A fault in a user-access routine (LDTR/STTR at EL1, with an
 * exception-table entry): do_mem_abort's EL1 path with the routine's
 * fixup available. True when do_page_fault resolved it (retry); false
 * when the fixup runs.
 */
export function uaccessFault(k: KernelCore, task: Task, cpu: Mmu, far: bigint): boolean {
  const c = arm64Cpu(cpu);
  if (task.mm === null) return false;
  // do_mem_abort: addr = untagged_addr(far) (a tagged buffer under the tagged address ABI)
  const va = untaggedAddr(far);
  const v = doMemAbortEl1(va, c.esr, { pan: c.pan, epan: c.epan, inUaccess: true, hasMm: true });
  if (v.action !== "do_page_fault") return false;
  return doPageFault(k, task, va, c.esr) === null;
}

/** is_spurious_el1_translation_fault's probe (AT S1E1R): scratch */
const rec = new WalkRecord();

/** VM_READ, VM_WRITE, VM_EXEC by bit */
const VM_FLAG_NAMES = ["VM_READ", "VM_WRITE", "VM_EXEC"];

/**
 * Why PSTATE.PAN refused an EL1 load or store of a user page, in the Arm ARM's words (D8.4
 * "Privileged access never"): EL0 may read it (AP[1] = 1), or, with FEAT_PAN3's SCTLR_EL1.EPAN,
 * EL0 may execute it (UXN = 0: an execute-only page, AP[2:1] = 0b10, Linux's PAGE_EXECONLY).
 */
function panCause(cpu: Arm64Cpu, hi: number, lo: number): string[] {
  if (cpu.probe(hi, lo, Access.Read, Mode.User, rec) === 0)
    return [
      "PSTATE.PAN=1 and EL0 may read the page (AP[1]=1): an EL1 load or store of it is a permission fault",
    ];
  if (cpu.epan && cpu.probe(hi, lo, Access.Exec, Mode.User, rec) === 0)
    return [
      "PSTATE.PAN=1 and SCTLR_EL1.EPAN=1 (FEAT_PAN3): EL0 may execute the page (UXN=0, AP[2:1]=10: execute-only), so an EL1 load or store of it is a permission fault, as if EL0 could read it",
    ];
  return [];
}

/**
 * is_spurious_el1_translation_fault after its checks of the ESR: AT S1E1R of the address (PSTATE.PAN
 * not applied), spurious when PAR_EL1.F is clear ("we now have a valid translation") or PAR_EL1.FST
 * is not a translation fault ("a different type of fault from the AT instruction").
 * Linux: arch/arm64/mm/fault.c is_spurious_el1_translation_fault
 */
export function atSaysSpurious(cpu: Arm64Cpu, hi: number, lo: number): boolean {
  return cpu.atS1e1r(hi, lo, rec) === 0 || rec.faultKind !== HwFaultKind.Translation;
}

/**
 * A plain kernel dereference (no exception-table entry) on `cpuId` at EL1
 * in its current task's context: the byte, or the oops.
 */
export function kernelAccess(
  k: KernelCore,
  cpuId: number,
  far: bigint,
  access: Access,
  value: number,
): KernelAccessResult {
  // do_mem_abort, do_page_fault: addr = untagged_addr(far), the address every decision and the
  // oops use (TBI0: the walk ignored a TTBR0 address's top byte)
  const va = untaggedAddr(far);
  return kernelModeAccess(
    k,
    cpuId,
    far,
    access,
    value,
    (c, task) => {
      const cpu = arm64Cpu(c);
      const { hi, lo } = fromBig(va);
      const esr = cpu.esr;
      const ctx = {
        pan: cpu.pan,
        epan: cpu.epan,
        inUaccess: false,
        hasMm: task.mm !== null && task.pagefaultDisabled === 0,
        atSpurious: esrFscIsTranslationFault(esr) && atSaysSpurious(cpu, hi, lo),
      };
      let v: El1AbortVerdict = doMemAbortEl1(va, esr, ctx);
      if (v.action === "do_page_fault") {
        // a user address in a VMA: handle_mm_fault may map it (then the retry meets PAN)
        if (doPageFault(k, task, va, esr) === null) return null;
        v = doKernelFault(va, esr, ctx);
      }
      if (v.action === "spurious") return null;
      if (v.action === "notify_die")
        return die(k, cpu, task, [internalError(v.name, esr, k.oopses.length + 1)], esr);
      const msg = v.action === "die" ? v.msg : "paging request";
      return die(
        k,
        cpu,
        task,
        dieKernelFault(msg, va, esr, showPteContext(k, cpu), k.oopses.length + 1),
        esr,
      );
    },
    (c, task) => {
      const cpu = arm64Cpu(c);
      return die(
        k,
        cpu,
        task,
        dieKernelFault("paging request", va, cpu.esr, showPteContext(k, cpu), 0),
        cpu.esr,
      );
    },
  );
}

/** What show_pte reads: the active mm's PGD (TTBR0), swapper_pg_dir (TTBR1), RAM. */
function showPteContext(k: KernelCore, cpu: Arm64Cpu): ShowPteContext {
  const mm = k.tlbMgr.states[cpu.id].loadedMm;
  const phys = k.machine.phys;
  return {
    activeMmIsInitMm: mm === null,
    userPgdPa: mm === null ? 0 : mm.pgdPfn * 4096,
    swapperPgdPa: k.rootPfn * 4096,
    read: (pa) => ({ lo: phys.read32(pa), hi: phys.read32(pa + 4) }),
  };
}

/**
 * die() after the architecture's report (arch/arm64/kernel/traps.c): the
 * CPU line of show_regs, then the task dies (make_task_dead), or the
 * kernel panics (panic_on_oops, the idle task, init).
 */
export function die(k: KernelCore, cpu: Mmu, task: Task, report: string[], esr = -1): KernelAccessResult {
  // make_task_dead(SIGSEGV): init's exit code is 0x0000000b
  const info = dumpStackInfo(cpu.id, task.uid, task.pid, task.comm, k.oopses.length + 1);
  return oopsEnd(k, cpu, task, [...report, ...info], esr, 11);
}

/** ESR of BRK #0x800 (BUG_BRK_IMM), the instruction BUG() is. */
const BUG_ESR = ((Ec.BRK64 << 26) | (1 << 25) | 0x800) >>> 0;

/** BUG(): `kernel BUG at FILE!` then die("Oops - BUG") (arch/arm64/kernel/traps.c bug_brk_handler). */
export function bug(k: KernelCore, cpuId: number, message: string, file: string): string[] {
  const cpu = k.machine.cpus[cpuId];
  const task = contextTask(k, cpuId);
  const r = die(k, cpu, task, [
    message,
    `kernel BUG at ${file}!`,
    internalError("Oops - BUG", BUG_ESR, k.oopses.length + 1),
  ]);
  if (r.ok) return [];
  return r.panic ? [...r.oops, `Kernel panic - not syncing: ${r.panic}`] : r.oops;
}

/**
 * An EL0 abort on a TTBR1 address: a translation fault goes to do_translation_fault, which
 * passes only TTBR0 addresses to do_page_fault and gives the rest to do_bad_area (no VMA is
 * looked up); other aborts (access flag, permission) reach do_page_fault, whose find_vma finds
 * none (undefined: the generic words). Linux: arch/arm64/mm/fault.c do_translation_fault, do_bad_area
 */
export function explainUserKernelAddr(esr: number): string | undefined {
  return esrFscIsTranslationFault(esr)
    ? "do_translation_fault: a TTBR1 address, from EL0: do_bad_area, no VMA is looked up: SIGSEGV, si_code SEGV_MAPERR"
    : undefined;
}

/**
 * How do_mem_abort's handler for `esr` reaches __do_kernel_fault for an address that is not a
 * user one (is_ttbr0_addr false: the kernel half, or between the halves), in words.
 * Linux: arch/arm64/mm/fault.c do_translation_fault, do_bad_area, do_page_fault
 */
function kernelAddrPath(esr: number, hasMm: boolean, comm: string): string[] {
  const inf = esrToFaultInfo(esr);
  if (inf.fn === "do_translation_fault")
    return [
      "do_translation_fault: not a user address (is_ttbr0_addr is false): do_bad_area, in kernel mode __do_kernel_fault:",
    ];
  if (inf.fn !== "do_page_fault") return [];
  return [
    hasMm
      ? `do_page_fault: lock_mm_and_find_vma finds no VMA of ${comm} at a kernel address: bad_area, in kernel mode no_context, __do_kernel_fault:`
      : `do_page_fault: no mm or faults disabled: no_context, __do_kernel_fault:`,
  ];
}

/**
 * `explain kernel`: what do_mem_abort would make of the abort `esr` that a
 * plain EL1 access to `va` takes on `cpu` (no exception-table entry),
 * changing nothing.
 */
export function explainKernelFault(k: KernelCore, c: Mmu, far: bigint, esr: number): string[] {
  const va = untaggedAddr(far); // do_mem_abort's untagged_addr(far)
  const cpu = arm64Cpu(c);
  const task = contextTask(k, cpu.id);
  const { hi, lo } = fromBig(va);
  const ctx = {
    pan: cpu.pan,
    epan: cpu.epan,
    inUaccess: false,
    hasMm: task.mm !== null && task.pagefaultDisabled === 0,
    atSpurious: esrFscIsTranslationFault(esr) && atSaysSpurious(cpu, hi, lo),
  };
  const out: string[] = [];
  if (isTtbr0Addr(va) && !ctx.hasMm)
    out.push(
      task.mm === null
        ? `do_page_fault: ${task.comm} is a kernel thread (no mm): no_context, __do_kernel_fault:`
        : `do_page_fault: ${task.comm} is in pagefault_disable (faulthandler_disabled()): no_context, __do_kernel_fault:`,
    );
  if (!isTtbr0Addr(va)) out.push(...kernelAddrPath(esr, ctx.hasMm, task.comm));
  else if (esrFscIsPermissionFault(esr) && cpu.pan) out.push(...panCause(cpu, hi, lo));
  let v: El1AbortVerdict = doMemAbortEl1(va, esr, ctx);
  if (v.action === "do_page_fault") {
    const needs = VM_FLAG_NAMES.filter((_, i) => v.action === "do_page_fault" && v.vmFlags & (1 << i));
    out.push(
      `do_page_fault: a user address; handle_mm_fault maps it if a VMA of ${task.comm} has ${needs.join(" or ")}${!v.write && !cpu.epan ? " (no EPAN: exec implies read)" : ""}, and the access retries${cpu.pan ? " (where PSTATE.PAN=1 refuses it: a permission fault)" : ""}; if no VMA allows it, bad_area, in kernel mode no_context, __do_kernel_fault:`,
    );
    v = doKernelFault(va, esr, ctx);
  }
  const where = `at virtual address ${va.toString(16).padStart(16, "0")}`;
  if (v.action === "die") out.push(`die_kernel_fault: the oops "Unable to handle kernel ${v.msg} ${where}"`);
  else if (v.action === "spurious")
    out.push(
      "is_spurious_el1_translation_fault: the tables translate it now (a stale TLB entry): ignored, the access retries",
    );
  else if (v.action === "notify_die") out.push(`arm64_notify_die: "Internal error: ${v.name}"`);
  else if (v.action === "tag_recovery") out.push("do_tag_recovery: MTE tag checks off on this CPU");
  else if (v.action === "fixup")
    out.push("fixup_exception: the routine's exception-table entry returns an error");
  return out;
}
