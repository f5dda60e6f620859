/**
 * Page faults on RISC-V, run on the machine's harts (Linux v6.12
 * arch/riscv/mm/fault.c handle_page_fault, access_error, bad_area,
 * no_context, mm_fault_error, die_kernel_fault;
 * arch/riscv/kernel/traps.c die, do_trap_*_fault; pgtable.h
 * update_mmu_cache).
 *
 * The trap gives scause (12 instruction, 13 load, 15 store/AMO page fault;
 * 1, 5, 7 access faults) and stval (the address). A user fault goes to
 * lock_mm_and_find_vma, access_error and handle_mm_fault; a resolved
 * fault ends with update_mmu_cache, a local SFENCE.VMA of the address
 * (a hart keeps a stale entry after a fault, so this is what lets the
 * retry see the new PTE). A kernel fault on a user address with
 * sstatus.SUM clear (outside __enable_user_access) is an oops at once,
 * mapped or not: "access to user memory without uaccess routines". The
 * user-access routines set SUM around their ordinary loads and stores, so
 * their faults take the user path, with an exception-table fixup.
 */

import { assert } from "../../../base/assert.ts";
import { fromBig } from "../../../base/u64.ts";
import type { Access } from "../../../hw/access.ts";
import { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import { Scause } from "../../../hw/arch/riscv/fault.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { KernelAccessResult, KernelCore } from "../../core/core.ts";
import { dumpStackInfo } from "../../core/dump_stack.ts";
import { faultAddr, kernelModeAccess, oopsEnd } from "../../core/entry.ts";
import { lockMmAndFindVma } from "../../core/findvma.ts";
import { accountFault } from "../../core/gup.ts";
import { pagefaultOutOfMemory } from "../../core/oom.ts";
import { contextTask } from "../../core/sched.ts";
import type { SigInfo } from "../../core/signal.ts";
import type { Task } from "../../core/task.ts";
import { px } from "../../core/vaddr.ts";
import { faultDirtySharedPage } from "../../core/writeback.ts";
import { VmFault } from "../../mm/userMm.ts";
import { VmFlag } from "../../mm/vma.ts";
import { isVmallocFault32, vmallocFault32 } from "./fault32.ts";
import { KERNEL_LINK_ADDR } from "./layout.ts";
import { PageBit, pteToPfn } from "./pgtable.ts";

/** A RISC-V hart of the kernel's machine. */
export function riscvCpu(cpu: Mmu): RiscvCpu {
  assert(cpu instanceof RiscvCpu, "riscv: the machine's CPU is not a RISC-V hart");
  return cpu;
}

export function riscvCpus(machine: Machine): RiscvCpu[] {
  return machine.cpus.map(riscvCpu);
}

/** access_error: the VMA lacks the right the fault's cause needs (a load: read or write; write implies read). */
export function accessError(cause: number, vmFlags: number): boolean {
  if (cause === Scause.INSTRUCTION_PAGE_FAULT) return (vmFlags & VmFlag.EXEC) === 0;
  if (cause === Scause.STORE_PAGE_FAULT) return (vmFlags & VmFlag.WRITE) === 0;
  return (vmFlags & (VmFlag.READ | VmFlag.WRITE)) === 0;
}

/** An access fault (a PMA check failed), not a page fault. */
function isAccessFault(cause: number): boolean {
  return (
    cause === Scause.INSTRUCTION_ACCESS_FAULT ||
    cause === Scause.LOAD_ACCESS_FAULT ||
    cause === Scause.STORE_ACCESS_FAULT
  );
}

/** do_trap_*_fault's names (traps.c DO_ERROR_INFO) */
function accessFaultName(cause: number): string {
  return cause === Scause.INSTRUCTION_ACCESS_FAULT
    ? "instruction access fault"
    : cause === Scause.LOAD_ACCESS_FAULT
      ? "load access fault"
      : "store (or AMO) access fault";
}

/**
 * handle_page_fault after its kernel-mode checks, for the task's mm:
 * lock_mm_and_find_vma, access_error, handle_mm_fault, and on success
 * update_mmu_cache (local_flush_tlb_page: SFENCE.VMA va, x0 on the hart).
 * Returns null when resolved (retry), else the signal (bad_area: SIGSEGV;
 * mm_fault_error: SIGBUS BUS_ADRERR, SIGSEGV SEGV_MAPERR, or the OOM kill).
 * `vaHi`/`vaLo`, when given, are va's halves: the page and the flush are
 * found from them without bigint arithmetic (a U-mode fault's), and `va`
 * may then be null (made from them for a signal: faultAddr).
 */
export function doPageFault(
  k: KernelCore,
  task: Task,
  va: bigint | null,
  cause: number,
  cpu: RiscvCpu,
  vaHi = -1,
  vaLo = 0,
): SigInfo | null {
  const mm = task.mm;
  // faulthandler_disabled() || !mm: no_context (from user mode: bad_area, SEGV_MAPERR)
  const kernelAddr = va !== null ? va >= k.layout.userEnd : !belowUserEnd(k, vaHi, vaLo);
  if (mm === null || task.pagefaultDisabled > 0 || kernelAddr)
    return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: faultAddr(va, vaHi, vaLo) };
  const vpn = vaHi >= 0 ? k.va.vpnOf(vaHi, vaLo) : k.va.vpn(va!);
  const vma = lockMmAndFindVma(k.userMm, mm, task, vpn);
  if (vma === null) return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: faultAddr(va, vaHi, vaLo) };
  if (accessError(cause, vma.vmFlags))
    return { signal: "SIGSEGV", code: "SEGV_ACCERR", addr: faultAddr(va, vaHi, vaLo) };
  k.faultingMm = mm;
  const res = k.userMm.handleMmFault(mm, vma, vpn, cause === Scause.STORE_PAGE_FAULT);
  k.faultingMm = null;
  faultDirtySharedPage(k, task); // fault_dirty_shared_page: a shared file page made dirty
  // the OOM killer's SIGKILL, pending since it chose this task: delivered on the way out
  if (task.oomKilled) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  const r = res & ~accountFault(task, res);
  if (r === VmFault.OK) {
    // update_mmu_cache -> local_flush_tlb_page(address)
    if (vaHi >= 0) cpu.flushPage(vaHi, vaLo);
    else {
      const { hi, lo } = fromBig(va!);
      cpu.flushPage(hi, lo);
    }
    return null;
  }
  // mm_fault_error: in S-mode (a uaccess: no halves given) no_context, the caller's fixup; VM_FAULT_OOM
  // from U-mode: pagefault_out_of_memory (the OOM killer's SIGKILL if it chose this task, else a retry)
  if (r & VmFault.OOM)
    return vaHi >= 0
      ? pagefaultOutOfMemory(k, task, vpn)
      : { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: faultAddr(va, vaHi, vaLo) };
  return r & VmFault.SIGBUS
    ? { signal: "SIGBUS", code: "BUS_ADRERR", addr: faultAddr(va, vaHi, vaLo) }
    : { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: faultAddr(va, vaHi, vaLo) };
}

/** the layout whose TASK_SIZE (layout.userEnd) `userEndHi`/`userEndLo` hold, as unsigned halves */
let userEndOf: object | null = null;
let userEndHi = 0;
let userEndLo = 0;

/** An address given as unsigned halves lies below TASK_SIZE (the user half), compared without a bigint. */
export function belowUserEnd(k: KernelCore, vaHi: number, vaLo: number): boolean {
  if (k.layout !== userEndOf) {
    const { hi, lo } = fromBig(k.layout.userEnd);
    userEndOf = k.layout;
    userEndHi = hi;
    userEndLo = lo;
  }
  const h = vaHi >>> 0;
  return h < userEndHi || (h === userEndHi && vaLo >>> 0 < userEndLo);
}

/** A fault a U-mode access took: a page fault goes to handle_page_fault (null: resolved, retry); an access fault is SIGSEGV SEGV_ACCERR. */
export function userFault(
  k: KernelCore,
  c: Mmu,
  task: Task,
  _outcome: number,
  va: bigint | null,
  vaHi: number,
  vaLo: number,
): SigInfo | null {
  const cpu = riscvCpu(c);
  if (isAccessFault(cpu.scause))
    return { signal: "SIGSEGV", code: "SEGV_ACCERR", addr: faultAddr(va, vaHi, vaLo) };
  return doPageFault(k, task, va, cpu.scause, cpu, vaHi, vaLo);
}

/**
 * A fault in a user-access routine (S-mode, SUM set by
 * __enable_user_access, an exception-table entry): handle_page_fault's
 * user path. True when resolved (retry); false when the fixup runs.
 */
export function uaccessFault(k: KernelCore, task: Task, c: Mmu, va: bigint): boolean {
  const cpu = riscvCpu(c);
  if (task.mm === null || isAccessFault(cpu.scause)) return false;
  if (va < k.layout.userEnd && !cpu.sum) return false; // fixup_exception before die_kernel_fault
  return doPageFault(k, task, va, cpu.scause, cpu) === null;
}

/** What handle_page_fault decides for a fault taken in S-mode by a plain access (no exception-table entry). */
type KernelVerdict =
  | { action: "access_fault"; name: string }
  | { action: "die"; msg: string }
  | { action: "do_page_fault" };

function kernelVerdict(k: KernelCore, cpu: RiscvCpu, task: Task, va: bigint, cause: number): KernelVerdict {
  if (isAccessFault(cause)) return { action: "access_fault", name: accessFaultName(cause) };
  // faulthandler_disabled() || !mm: no_context
  if (task.mm === null || task.pagefaultDisabled > 0) return { action: "die", msg: noContextMsg(va) };
  if (va < k.layout.userEnd && !cpu.sum)
    return { action: "die", msg: "access to user memory without uaccess routines" };
  if (va >= k.layout.userEnd) return { action: "die", msg: noContextMsg(va) }; // no VMA: bad_area -> no_context
  return { action: "do_page_fault" };
}

/** no_context's words: a NULL pointer below PAGE_SIZE, else a paging request */
function noContextMsg(va: bigint): string {
  return va < 4096n ? "NULL pointer dereference" : "paging request";
}

/** vmlab's stand-in for the instruction of a plain `kernel: read|write`: an address in the image's text */
export const KERNEL_ACCESS_EPC = KERNEL_LINK_ADDR + 0xc2a0n;
/** the same on RV32, whose image runs in the linear map (PAGE_OFFSET + its 16 MiB physical start) */
const KERNEL_ACCESS_EPC_32 = 0xc100_c2a0n;
const accessEpc = (cpu: RiscvCpu): bigint => (cpu.rv32 ? KERNEL_ACCESS_EPC_32 : KERNEL_ACCESS_EPC);

/** REG_FMT (asm/asm.h): "%016lx", or "%08lx" on RV32 */
function regFmt(cpu: RiscvCpu, v: bigint): string {
  return cpu.rv32
    ? BigInt.asUintN(32, v).toString(16).padStart(8, "0")
    : BigInt.asUintN(64, v).toString(16).padStart(16, "0");
}

/** sstatus as a trap from S-mode saves it: UXL = 2 (64-bit U-mode; RV32's sstatus has no UXL), SPP = 1, SPIE = 1, SUM and MXR as they were */
export function savedStatus(cpu: RiscvCpu): bigint {
  return (cpu.rv32 ? 0n : 2n << 32n) | 0x120n | (cpu.sum ? 1n << 18n : 0n) | (cpu.mxr ? 1n << 19n : 0n);
}

/**
 * show_pte (a later kernel's arch/riscv/mm/fault.c; 6.12's die_kernel_fault prints none, so
 * vmlab's oops leaves it out): the mm's page tables (current->mm, or init_mm for a kernel
 * thread) and the entries down to `addr`, Linux's five names with the
 * levels the mode folds printing the entry they fold into; the walk stops
 * at an entry that is none, bad (not present) or a leaf.
 */
export function showPte(k: KernelCore, task: Task, addr: bigint): string[] {
  const mm = task.mm;
  const pgdPa = (mm === null ? k.rootPfn : mm.pgdPfn) * 4096;
  const phys = k.machine.phys;
  const levels = k.levels;
  const lines = [
    `Current ${task.comm} pgtable: 4K pagesize, ${k.va.vaBits}-bit VAs, pgdp=0x${pgdPa.toString(16).padStart(16, "0")}`,
  ];
  const names = ["pgd", "p4d", "pud", "pmd", "pte"];
  const vpn = k.va.vpn(addr);
  let table = pgdPa;
  let parts = `[${px(addr)}]`;
  let hi = 0;
  let lo = 0;
  let readLevel = levels; // the hardware level last read
  for (let i = 0; i < 5; i++) {
    const level = Math.min(levels - 1, 4 - i);
    if (level < readLevel) {
      const pt = k.arch.pgtable; // 512 8-byte entries, RV32's 1024 4-byte ones
      const pa = table + (Math.floor(vpn / pt.ptrsPerTable ** level) % pt.ptrsPerTable) * pt.entryBytes;
      lo = phys.read32(pa);
      hi = pt.entryBytes === 8 ? phys.read32(pa + 4) : 0;
      readLevel = level;
    }
    parts += `${i === 0 ? " " : ", "}${names[i]}=${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}`;
    // the folded levels above the real top never stop the walk (p?d_none, _bad, _leaf are 0 there)
    if (4 - i > levels - 1 || i === 4) continue;
    if ((hi === 0 && lo === 0) || (lo & PageBit.PRESENT) === 0 || (lo & PageBit.LEAF) !== 0) break;
    table = pteToPfn(hi, lo) * 4096;
  }
  lines.push(parts);
  return lines;
}

/**
 * die(regs, str) (traps.c): "<str> [#n]", show_regs' CPU line, epc and the
 * trap registers, then make_task_dead(SIGSEGV) or a panic (oopsEnd).
 */
export function die(
  k: KernelCore,
  cpu: RiscvCpu,
  task: Task,
  report: string[],
  str: string,
  regs: { epc: bigint; badaddr: bigint; cause: number },
): KernelAccessResult {
  const hex = (v: bigint) => regFmt(cpu, v);
  const lines = [
    ...report,
    `${str} [#${k.oopses.length + 1}]`,
    ...dumpStackInfo(cpu.id, task.uid, task.pid, task.comm, k.oopses.length + 1),
    `epc : ${hex(regs.epc)}`,
    `status: ${hex(savedStatus(cpu))} badaddr: ${hex(regs.badaddr)} cause: ${hex(BigInt(regs.cause))}`,
  ];
  return oopsEnd(k, cpu, task, lines, regs.cause, 11);
}

/**
 * die_kernel_fault: "Unable to handle kernel <msg> at virtual address <addr>", then die("Oops").
 * Linux 6.12's prints no page-table walk (arch/riscv/mm/fault.c has no show_pte; the one
 * showPte above mirrors came later).
 */
function dieKernelFault(k: KernelCore, cpu: RiscvCpu, task: Task, msg: string, va: bigint, cause: number) {
  const epc = cause === Scause.INSTRUCTION_PAGE_FAULT ? va : accessEpc(cpu);
  return die(k, cpu, task, [`Unable to handle kernel ${msg} at virtual address ${regFmt(cpu, va)}`], "Oops", {
    epc,
    badaddr: va,
    cause,
  });
}

/**
 * A plain kernel dereference on `cpuId` in S-mode, in its current task's
 * context: the byte, or the oops. A user address with SUM set goes to
 * handle_mm_fault and retries; S-mode never executes a U page whatever SUM
 * says, so an instruction fetch from one faults again on every retry, and
 * vmlab reports it as the paging request it would end as.
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
    (c, task) => {
      const cpu = riscvCpu(c);
      const cause = cpu.scause;
      // RV32: handle_page_fault's vmalloc_fault, before anything else
      if (!isAccessFault(cause) && isVmallocFault32(k, cpu, va)) {
        if (!vmallocFault32(k, cpu, va)) return dieKernelFault(k, cpu, task, noContextMsg(va), va, cause);
        k.vmallocFaults++;
        return null;
      }
      const v = kernelVerdict(k, cpu, task, va, cause);
      if (v.action === "access_fault")
        return die(k, cpu, task, [], v.name, { epc: accessEpc(cpu), badaddr: va, cause });
      if (v.action === "do_page_fault") {
        if (doPageFault(k, task, va, cause, cpu) === null) return null;
        return dieKernelFault(k, cpu, task, noContextMsg(va), va, cause);
      }
      return dieKernelFault(k, cpu, task, v.msg, va, cause);
    },
    (c, task) => {
      const cpu = riscvCpu(c);
      return dieKernelFault(k, cpu, task, noContextMsg(va), va, cpu.scause);
    },
  );
}

/** BUG(): report_bug's "kernel BUG at FILE!", then die(regs, "Kernel BUG") (traps.c handle_break: an ebreak, cause 3). */
export function bug(k: KernelCore, cpuId: number, message: string, file: string): string[] {
  const cpu = riscvCpu(k.machine.cpus[cpuId]);
  const task = contextTask(k, cpuId);
  const r = die(k, cpu, task, [message, `kernel BUG at ${file}!`], "Kernel BUG", {
    epc: accessEpc(cpu),
    badaddr: 0n,
    cause: 3,
  });
  if (r.ok) return [];
  return r.panic ? [...r.oops, `Kernel panic - not syncing: ${r.panic}`] : r.oops;
}

/**
 * `explain kernel`: what handle_page_fault would make of the fault `cause`
 * that a plain S-mode access to `va` takes on `cpu` (no exception-table
 * entry), changing nothing.
 */
export function explainKernelFault(k: KernelCore, c: Mmu, va: bigint, cause: number): string[] {
  const cpu = riscvCpu(c);
  const task = contextTask(k, cpu.id);
  const where = `at virtual address ${px(va)}`;
  if (!isAccessFault(cause) && isVmallocFault32(k, cpu, va))
    return [
      "handle_page_fault: a vmalloc address on RV32 (!CONFIG_64BIT): vmalloc_fault copies swapper_pg_dir's PGD entry into the PGD in satp; if init_mm maps the page, local_flush_tlb_page and the access retries (counted in vmalloc_faults)",
      `else no_context: die_kernel_fault: the oops "Unable to handle kernel ${noContextMsg(va)} ${where}"`,
    ];
  const v = kernelVerdict(k, cpu, task, va, cause);
  if (v.action === "access_fault")
    return [
      `do_trap_${cause === Scause.INSTRUCTION_ACCESS_FAULT ? "insn" : cause === Scause.LOAD_ACCESS_FAULT ? "load" : "store"}_fault: a PMA check failed: die "${v.name}"`,
    ];
  if (v.action === "die") {
    const why =
      task.mm === null
        ? "handle_page_fault: no mm (a kernel thread): no_context, no exception-table entry, so"
        : task.pagefaultDisabled > 0
          ? "handle_page_fault: faulthandler_disabled() (pagefault_disable): no_context, no exception-table entry, so"
          : v.msg.startsWith("access to user")
            ? "handle_page_fault: a user address with sstatus.SUM=0 (outside __enable_user_access): fixup_exception finds no entry for a plain access, so, mapped or not,"
            : "handle_page_fault: a kernel address: no VMA covers it (64-bit RISC-V has no vmalloc_fault: every PGD carries the kernel's entries), bad_area -> no_context, no exception-table entry, so";
    return [why, `die_kernel_fault: the oops "Unable to handle kernel ${v.msg} ${where}"`];
  }
  const what =
    cause === Scause.STORE_PAGE_FAULT ? "write" : cause === Scause.INSTRUCTION_PAGE_FAULT ? "fetch" : "read";
  const lines = [
    `handle_page_fault: a user address with sstatus.SUM=1: lock_mm_and_find_vma in ${task.comm}'s mm, access_error, handle_mm_fault maps the page if the VMA allows the ${what}, update_mmu_cache fences it on this hart, and the access retries`,
  ];
  if (cause === Scause.INSTRUCTION_PAGE_FAULT)
    lines.push(
      "but S-mode never executes a U page, whatever SUM says: the instruction page fault comes back on every retry",
    );
  lines.push(
    `with no VMA (or no right), bad_area -> no_context: die_kernel_fault: the oops "Unable to handle kernel ${noContextMsg(va)} ${where}"`,
  );
  return lines;
}
