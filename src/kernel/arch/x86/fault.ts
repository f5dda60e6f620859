import { fromBig } from "../../../base/u64.ts";
import { pfnUnchecked } from "../../../base/units.ts";
import { type Access, Mode } from "../../../hw/access.ts";
import type { I386Cpu } from "../../../hw/arch/i386/Cpu.ts";
import { type Cpu, WalkRecord } from "../../../hw/arch/x86_64/Cpu.ts";
import { Outcome, PfErr } from "../../../hw/arch/x86_64/fault.ts";
import { Pte } from "../../../hw/arch/x86_64/pte.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import { HwFaultKind } from "../../../hw/mmu/PagingFormat.ts";
import type { KernelAccessResult, KernelCore } from "../../core/core.ts";
import { dumpStackInfo } from "../../core/dump_stack.ts";
import { faultAddr, kernelModeAccess } from "../../core/entry.ts";
import { lockMmAndFindVma } from "../../core/findvma.ts";
import { accountFault } from "../../core/gup.ts";
import { pagefaultOutOfMemory } from "../../core/oom.ts";
import { contextTask } from "../../core/sched.ts";
import type { SigInfo } from "../../core/signal.ts";
import type { Task } from "../../core/task.ts";
import { px } from "../../core/vaddr.ts";
import { faultDirtySharedPage } from "../../core/writeback.ts";
import { VmFault } from "../../mm/userMm.ts";
import { VmFlag, vmaPkey } from "../../mm/vma.ts";
import { x86Cpu } from "./cpu.ts";
import { oopsEnd } from "./dumpstack.ts";
import { oopsReport } from "./oops.ts";
import { pkruAllows } from "./pkeys.ts";

/**
 * A fault a user-mode access (CPL 3) took: a #GP (a non-canonical
 * address) is SIGSEGV SI_KERNEL; a #PF goes to do_user_addr_fault. Null
 * when resolved (the access is retried: entry.ts userModeRange).
 */
export function userFault(
  k: KernelCore,
  cpu: Mmu,
  task: Task,
  outcome: number,
  va: bigint | null,
  vaHi: number,
  vaLo: number,
): SigInfo | null {
  if (outcome === Outcome.GP) return { signal: "SIGSEGV", code: "SI_KERNEL", addr: 0n };
  const c = x86Cpu(cpu);
  return doUserAddrFault(k, task, va, c.errorCode, c.pkru, vaHi, vaLo);
}

/**
 * do_user_addr_fault for a fault taken in user mode, or in the kernel's
 * user-access routines: find the VMA (growing a VM_GROWSDOWN stack down to
 * its rlimit, keeping stack_guard_gap from the VMA below), check
 * access_error, then handle_mm_fault. Returns null when resolved (retry),
 * else the signal. `vaHi`/`vaLo`, when given, are va's halves: the page is
 * found from them without bigint arithmetic (user mode's faults, x86-64's
 * and i386's: the kernel-half test is the Vaddr's, bit 63 or PAGE_OFFSET),
 * and `va` may then be null (made from them for a signal: faultAddr).
 */
export function doUserAddrFault(
  k: KernelCore,
  task: Task,
  va: bigint | null,
  errorCode: number,
  pkru = 0,
  vaHi = -1,
  vaLo = 0,
): SigInfo | null {
  const mm = task.mm;
  // faulthandler_disabled() || !mm: bad_area_nosemaphore; fault_in_kernel_space (bit 63)
  const kernelHalf = vaHi >= 0 ? k.va.isKernelOf(vaHi, vaLo) : k.va.isKernel(va!);
  if (mm === null || task.pagefaultDisabled > 0 || kernelHalf)
    return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: faultAddr(va, vaHi, vaLo) };
  const vpn = vaHi >= 0 ? k.va.vpnOf(vaHi, vaLo) : k.va.vpn(va!);
  const vma = lockMmAndFindVma(k.userMm, mm, task, vpn);
  if (vma === null) return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: faultAddr(va, vaHi, vaLo) };
  // access_error
  const write = (errorCode & PfErr.WR) !== 0;
  // the key denied it (X86_PF_PK), or would deny it once the page is mapped
  // (arch_vma_access_permitted: __pkru_allows_pkey(vma_pkey(vma), write) for a data
  // access): bad_area_access_error -> bad_area_access_from_pkeys, SEGV_PKUERR with si_pkey
  if (
    errorCode & PfErr.PK ||
    (k.config.pku && !(errorCode & PfErr.ID) && !pkruAllows(pkru, vmaPkey(vma.vmFlags), write))
  )
    return {
      signal: "SIGSEGV",
      code: "SEGV_PKUERR",
      addr: faultAddr(va, vaHi, vaLo),
      pkey: vmaPkey(vma.vmFlags),
    };
  if (
    write
      ? !(vma.vmFlags & VmFlag.WRITE)
      : errorCode & PfErr.P || !(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))
  ) {
    return { signal: "SIGSEGV", code: "SEGV_ACCERR", addr: faultAddr(va, vaHi, vaLo) };
  }
  k.faultingMm = mm;
  const res = k.userMm.handleMmFault(mm, vma, vpn, write);
  k.faultingMm = null;
  faultDirtySharedPage(k, task); // fault_dirty_shared_page: a shared file page made dirty
  // the OOM killer's SIGKILL, pending since it chose this task: delivered on the way out
  if (task.oomKilled) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  const r = res & ~accountFault(task, res);
  if (r === VmFault.OK) return null;
  // VM_FAULT_OOM: in kernel mode (a uaccess) kernelmode_fixup_or_oops (the caller's fixup), else
  // pagefault_out_of_memory: the OOM killer's SIGKILL if it chose this task, else a retry
  if (r & VmFault.OOM)
    return errorCode & PfErr.US
      ? pagefaultOutOfMemory(k, task, vpn)
      : { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: faultAddr(va, vaHi, vaLo) };
  // mm_fault_error: VM_FAULT_SIGBUS -> BUS_ADRERR; VM_FAULT_SIGSEGV (a guard marker) -> bad_area_nosemaphore, SEGV_MAPERR
  return {
    signal: r & VmFault.SIGBUS ? "SIGBUS" : "SIGSEGV",
    code: r & VmFault.SIGBUS ? "BUS_ADRERR" : "SEGV_MAPERR",
    addr: faultAddr(va, vaHi, vaLo),
  };
}

/**
 * A fault in a user-access routine (copy_to_user and the rest, in kernel
 * mode on a user address): do_user_addr_fault with the #PF's error code.
 * A #GP (a non-canonical address) is never resolved. True when resolved.
 */
export function uaccessFault(k: KernelCore, task: Task, cpu: Mmu, va: bigint): boolean {
  if (cpu.faultKind === HwFaultKind.NonCanonical || task.mm === null) return false;
  return doUserAddrFault(k, task, va, x86Cpu(cpu).errorCode, x86Cpu(cpu).pkru) === null;
}

/**
 * A plain kernel dereference (no exception-table entry) of one address on
 * `cpuId`, in the context of its current task. On success returns the
 * byte read (or written). A fault nobody can fix is an oops: the report
 * is logged, the task is killed, and with panic_on_oops the machine stops.
 */
export function kernelAccess(
  k: KernelCore,
  cpuId: number,
  va: bigint,
  access: Access,
  value: number,
): KernelAccessResult {
  return kernelModeAccess(
    k,
    cpuId,
    va,
    access,
    value,
    (c, task, out) => {
      const cpu = x86Cpu(c);
      if (out === Outcome.GP) {
        return oopsEnd(k, cpu, task, [
          `general protection fault, probably for non-canonical address 0x${px(va)}: 0000 [#${k.oopses.length + 1}] PREEMPT SMP ${k.config.pti ? "PTI" : "NOPTI"}`,
          ...dumpStackInfo(cpu.id, task.uid, task.pid, task.comm, k.oopses.length + 1),
        ]);
      }
      if (spuriousKernelFault(k, cpu, va, access)) return null;
      if (userAddrFault(k, cpu, task, va)) return null;
      return pageFaultOops(k, cpu, task, va, cpu.errorCode);
    },
    (c, task) => pageFaultOops(k, x86Cpu(c), task, va, x86Cpu(c).errorCode),
  );
}

/**
 * do_user_addr_fault for a plain kernel access (no exception-table entry)
 * to a user address: an instruction fetch (X86_PF_INSTR without
 * X86_PF_USER: kernel code executing user memory) is an oops at once,
 * present or not, SMEP or not, no VMA looked up; with SMAP on and RFLAGS.AC
 * clear any other access is an oops at once, mapped or not; else, as for any fault in the current mm, the VMA,
 * access_error and handle_mm_fault, and the access retries ("it would work
 * more often than not"). A kernel thread (no mm), pagefault_disable
 * (faulthandler_disabled) or no VMA: bad_area_nosemaphore, and with no
 * fixup to run, kernelmode_fixup_or_oops oopses. True when resolved. The
 * windows profile's kernel-mode faults on user addresses are its own.
 * Linux: arch/x86/mm/fault.c do_user_addr_fault.
 */
export function userAddrFault(k: KernelCore, cpu: Cpu | I386Cpu, task: Task, va: bigint): boolean {
  const ec = cpu.errorCode;
  if (k.os !== null || k.va.isKernel(va) || ec & (PfErr.ID | PfErr.RSVD)) return false;
  if (cpu.cr4Smap && !cpu.rflagsAc) return false;
  return doUserAddrFault(k, task, va, ec) === null;
}

/** explain's words for do_user_addr_fault's first check: a kernel-mode instruction fetch from a user address. */
export const USER_FETCH_STORY =
  "do_user_addr_fault: X86_PF_INSTR without X86_PF_USER: kernel code trying to execute user memory is unrecoverable: page_fault_oops at once, present or not, no VMA looked up, no exception-table entry searched";

/** explain's words for do_user_addr_fault on a plain kernel access to a user address the SMAP check let through. */
export function userAddrStory(task: Task, smap: string): string {
  if (task.mm === null)
    return `do_user_addr_fault: a user address with ${smap}, but ${task.comm} is a kernel thread (no mm): bad_area_nosemaphore, no exception-table entry, so`;
  if (task.pagefaultDisabled > 0)
    return `do_user_addr_fault: a user address with ${smap}, but ${task.comm} is in pagefault_disable (faulthandler_disabled()): bad_area_nosemaphore, no exception-table entry, so`;
  return `do_user_addr_fault: a user address with ${smap}: find ${task.comm}'s VMA, handle_mm_fault maps the page if the VMA allows it, and the access retries; with no VMA (or no right), bad_area: no exception-table entry, so`;
}

/** the walk record of spuriousKernelFault's probe (scratch; the probe's result is all it needs) */
const rec = new WalkRecord();

/**
 * spurious_kernel_fault: a write or fetch protection fault on a kernel
 * address whose page tables now allow the access (a stale TLB entry, e.g.
 * after permissions were relaxed without a flush). The fault already
 * dropped the entry, so retrying succeeds.
 */
function spuriousKernelFault(k: KernelCore, cpu: Cpu, va: bigint, access: Access): boolean {
  const ec = cpu.errorCode;
  if (ec !== (PfErr.WR | PfErr.P) && ec !== (PfErr.ID | PfErr.P)) return false;
  if (!k.va.isKernel(va)) return false;
  const { hi, lo } = fromBig(va);
  return cpu.probe(hi, lo, access, Mode.Supervisor, rec) === Outcome.OK;
}

/** page_fault_oops: show_fault_oops and dump_pagetable, then oops_end. */
function pageFaultOops(
  k: KernelCore,
  cpu: Cpu,
  task: Task,
  va: bigint,
  errorCode: number,
): KernelAccessResult {
  const vpn = k.va.vpn(va);
  // show_fault_oops looks up the address in the page tables CR3 points to
  // (lookup_address_in_pgd_attr), with NX accumulated over every level
  const root = pfnUnchecked(cpu.rootPa / 4096);
  const leaf = k.mapper.lookup(root, vpn);
  const pgd = k.mapper.entryAt(root, vpn, k.levels - 1);
  let nx = false;
  for (let level = k.levels - 1; leaf !== null && level >= leaf.level; level--)
    if ((k.mapper.entryAt(root, vpn, level)?.hi ?? 0) & 0x80000000) nx = true;
  const lines = oopsReport(
    {
      address: k.va.unsigned(va),
      vpn,
      errorCode,
      cpu: cpu.id,
      pid: task.pid,
      comm: task.comm,
      uid: task.uid,
      serial: k.oopses.length + 1,
      pti: k.config.pti,
      rootPfn: root,
      levels: k.levels,
      smep: cpu.cr4Smep,
      leafExec: leaf === null ? null : !nx,
      pgdUser: pgd !== null && (pgd.lo & Pte.US) !== 0,
    },
    k.mapper,
  );
  return oopsEnd(k, cpu, task, lines, errorCode);
}

/**
 * A user-mode fault on a kernel address: handle_page_fault sends every address
 * fault_in_kernel_space() accepts to do_kern_addr_fault, whatever the mode;
 * with X86_PF_USER there is no vmalloc fault and no spurious-fault check, and
 * bad_area_nosemaphore signals at once. Linux: arch/x86/mm/fault.c
 * handle_page_fault, do_kern_addr_fault, __bad_area_nosemaphore
 */
export const EXPLAIN_USER_KERNEL_ADDR =
  "do_kern_addr_fault: a kernel address (fault_in_kernel_space), from user mode: no VMA is looked up; bad_area_nosemaphore: SIGSEGV, si_code SEGV_MAPERR";

/**
 * `explain kernel`: what handle_page_fault would make of the #PF `code`
 * that a plain supervisor access to `va` takes on `cpu` (no exception-table
 * entry), changing nothing. Linux: arch/x86/mm/fault.c do_kern_addr_fault,
 * do_user_addr_fault, page_fault_oops, show_fault_oops.
 */
export function explainKernelFault(k: KernelCore, c: Mmu, va: bigint, code: number): string[] {
  const cpu = x86Cpu(c);
  const address = px(va);
  const oops =
    va < 4096n
      ? `page_fault_oops: "BUG: kernel NULL pointer dereference, address: ${address}"`
      : `page_fault_oops: "BUG: unable to handle page fault for address: ${address}"`;
  if (k.va.isKernel(va)) {
    const lines = [
      "do_kern_addr_fault: a kernel address (x86-64 has no vmalloc fault: every PGD shares the kernel's entries)",
    ];
    if (code === (PfErr.WR | PfErr.P) || code === (PfErr.ID | PfErr.P))
      lines.push(
        "spurious_kernel_fault: if the tables allow the access now (a stale TLB entry), it retries; else",
      );
    if (code & PfErr.ID)
      lines.push('show_fault_oops: "kernel tried to execute NX-protected page - exploit attempt?"');
    lines.push(oops);
    return lines;
  }
  if (code & PfErr.ID)
    return [
      USER_FETCH_STORY,
      ...(code & PfErr.P && cpu.cr4Smep
        ? ['show_fault_oops: "unable to execute userspace code (SMEP?)"']
        : []),
      oops,
    ];
  if (code & PfErr.RSVD) return ["do_user_addr_fault: a reserved bit in a user entry: pgtable_bad, an oops"];
  if (cpu.cr4Smap && !(code & PfErr.US) && !cpu.rflagsAc)
    return [
      "do_user_addr_fault: SMAP is on and RFLAGS.AC is clear: a supervisor access to a user address outside the uaccess routines (no STAC) is an oops at once, mapped or not",
      oops,
    ];
  const task = contextTask(k, cpu.id);
  if (code & PfErr.PK)
    return [
      `do_user_addr_fault: X86_PF_PK: the page's protection key is denied by PKRU 0x${cpu.pkru.toString(16).padStart(8, "0")} (${task.comm}'s): access_error, bad_area_nosemaphore, no exception-table entry, so`,
      oops,
    ];
  return [userAddrStory(task, `SMAP ${cpu.cr4Smap ? "lifted (RFLAGS.AC=1)" : "off"}`), oops];
}
