/**
 * The arm64 memory-abort path of Linux v6.12 (arch/arm64/mm/fault.c) as pure
 * decisions and text: the fault_info[] table do_mem_abort dispatches on,
 * do_page_fault's and __do_kernel_fault's choices for a fault taken at EL1,
 * the vm_flags a fault needs, set_thread_esr's sanitising, and the oops
 * (die_kernel_fault: "Unable to handle kernel ...", mem_abort_decode,
 * data_abort_decode, show_pte, __die's "Internal error" line).
 *
 * Nothing here reads hardware: the caller passes the ESR (its low 32 bits,
 * and ISS2 where printed), the faulting address, PSTATE.PAN, whether the
 * faulting instruction has an exception-table entry, and a reader of
 * page-table entries for show_pte.
 */
import { hex64 } from "../../../base/u64.ts";
import {
  Ec,
  Esr,
  esrClassString,
  esrEc,
  esrFsc,
  esrFscIsPermissionFault,
  esrFscIsTranslationFault,
  esrIsDataAbort,
  Fsc,
  Iss2,
  isEl0InstructionAbort,
  isEl1DataAbort,
  isEl1InstructionAbort,
  isWriteAbort,
} from "./esr.ts";

/** The handlers of fault_info[] (their Linux names). */
export type FaultFn =
  | "do_bad"
  | "do_translation_fault"
  | "do_page_fault"
  | "do_sea"
  | "do_tag_check_fault"
  | "do_alignment_fault";

/** One row of fault_info[]: the handler, and the signal, si_code and name for a fault nobody fixes. */
export interface FaultInfo {
  readonly fn: FaultFn;
  readonly sig: "SIGKILL" | "SIGSEGV" | "SIGBUS";
  readonly code: "SI_KERNEL" | "SEGV_MAPERR" | "SEGV_ACCERR" | "SEGV_MTESERR" | "BUS_OBJERR" | "BUS_ADRALN";
  readonly name: string;
}

const bad = (name: string): FaultInfo => ({ fn: "do_bad", sig: "SIGKILL", code: "SI_KERNEL", name });
const unknown = (n: number): FaultInfo => bad(`unknown ${n}`);
const sea = (name: string, sig: "SIGKILL" | "SIGBUS" = "SIGKILL"): FaultInfo => ({
  fn: "do_sea",
  sig,
  code: sig === "SIGBUS" ? "BUS_OBJERR" : "SI_KERNEL",
  name,
});
const levels = (f: (l: number) => FaultInfo): FaultInfo[] => [0, 1, 2, 3].map(f);

/** fault_info[64], indexed by the fault status code (esr_to_fault_info). */
export const FAULT_INFO: readonly FaultInfo[] = [
  bad("ttbr address size fault"),
  bad("level 1 address size fault"),
  bad("level 2 address size fault"),
  bad("level 3 address size fault"),
  ...levels((l) => ({
    fn: "do_translation_fault",
    sig: "SIGSEGV",
    code: "SEGV_MAPERR",
    name: `level ${l} translation fault`,
  })),
  ...levels((l) => ({
    fn: "do_page_fault",
    sig: "SIGSEGV",
    code: "SEGV_ACCERR",
    name: `level ${l} access flag fault`,
  })),
  ...levels((l) => ({
    fn: "do_page_fault",
    sig: "SIGSEGV",
    code: "SEGV_ACCERR",
    name: `level ${l} permission fault`,
  })),
  sea("synchronous external abort", "SIGBUS"), // 16
  { fn: "do_tag_check_fault", sig: "SIGSEGV", code: "SEGV_MTESERR", name: "synchronous tag check fault" },
  unknown(18),
  sea("level -1 (translation table walk)"),
  ...levels((l) => sea(`level ${l} (translation table walk)`)), // 20..23
  sea("synchronous parity or ECC error", "SIGBUS"), // 24, reserved when RAS is implemented
  unknown(25),
  unknown(26),
  sea("level -1 synchronous parity error (translation table walk)"),
  ...levels((l) => sea(`level ${l} synchronous parity error (translation table walk)`)), // 28..31
  unknown(32),
  { fn: "do_alignment_fault", sig: "SIGBUS", code: "BUS_ADRALN", name: "alignment fault" }, // 33
  ...[34, 35, 36, 37, 38, 39, 40].map(unknown),
  bad("level -1 address size fault"), // 41
  unknown(42),
  { fn: "do_translation_fault", sig: "SIGSEGV", code: "SEGV_MAPERR", name: "level -1 translation fault" }, // 43
  ...[44, 45, 46, 47].map(unknown),
  bad("TLB conflict abort"), // 48
  bad("Unsupported atomic hardware update fault"),
  unknown(50),
  unknown(51),
  bad("implementation fault (lockdown abort)"), // 52
  { fn: "do_bad", sig: "SIGBUS", code: "BUS_OBJERR", name: "implementation fault (unsupported exclusive)" },
  ...[54, 55, 56, 57, 58, 59, 60].map(unknown),
  bad("section domain fault"), // 61
  bad("page domain fault"),
  unknown(63),
];

/** esr_to_fault_info */
export function esrToFaultInfo(esr: number): FaultInfo {
  return FAULT_INFO[esrFsc(esr)];
}

/** The 48-bit, 4K-page address split (TASK_SIZE, PAGE_OFFSET, PAGE_SIZE). */
const TASK_SIZE = 1n << 48n;
const PAGE_OFFSET = 0xffff_0000_0000_0000n;
const PAGE_SIZE = 4096n;

/**
 * untagged_addr (arch/arm64/include/asm/memory.h): addr & sign_extend64(addr, 55): a TTBR0
 * address (bit 55 clear) loses its top-byte tag (TCR_EL1.TBI0), a TTBR1 one is kept whole.
 */
export function untaggedAddr(addr: bigint): bigint {
  return (addr >> 55n) & 1n ? addr : addr & 0x00ff_ffff_ffff_ffffn;
}

/** is_ttbr0_addr: a user address (below TASK_SIZE) */
export function isTtbr0Addr(addr: bigint): boolean {
  return addr < TASK_SIZE;
}

/** is_ttbr0_addr of an address given as unsigned 32-bit halves (below 2^48: the high half below 2^16) */
export function isTtbr0AddrOf(hi: number, _lo: number): boolean {
  return hi >>> 0 < 0x10000;
}

/** is_ttbr1_addr: a kernel address (PAGE_OFFSET and up) */
export function isTtbr1Addr(addr: bigint): boolean {
  return addr >= PAGE_OFFSET;
}

/**
 * is_el1_permission_fault: an EL1 data or instruction abort that is a
 * permission fault, or, with software PAN (CONFIG_ARM64_SW_TTBR0_PAN: TTBR0
 * points at an empty table), a translation fault on a user address while
 * PAN is set.
 */
export function isEl1PermissionFault(addr: bigint, esr: number, pan: boolean, ttbr0Pan = false): boolean {
  if (!isEl1DataAbort(esr) && !isEl1InstructionAbort(esr)) return false;
  if (esrFscIsPermissionFault(esr)) return true;
  if (isTtbr0Addr(addr) && ttbr0Pan) return esrFscIsTranslationFault(esr) && pan;
  return false;
}

/** VM_READ, VM_WRITE, VM_EXEC */
const VM_READ = 1;
const VM_WRITE = 2;
const VM_EXEC = 4;

/**
 * do_page_fault's vm_flags (one of them must be in the VMA's) and the fault
 * flags for handle_mm_fault: an EL0 instruction abort needs VM_EXEC, a
 * write VM_WRITE, a read VM_READ or VM_WRITE (or VM_EXEC without EPAN: exec
 * implied read before FEAT_EPAN).
 */
export function faultVmFlags(
  esr: number,
  epan = false,
): { vmFlags: number; write: boolean; instruction: boolean } {
  if (isEl0InstructionAbort(esr)) return { vmFlags: VM_EXEC, write: false, instruction: true };
  if (isWriteAbort(esr)) return { vmFlags: VM_WRITE, write: true, instruction: false };
  return { vmFlags: VM_READ | VM_WRITE | (epan ? 0 : VM_EXEC), write: false, instruction: false };
}

/** What the kernel does with a memory abort taken at EL1. */
export type El1AbortVerdict =
  /** do_page_fault: find the VMA, check vmFlags, handle_mm_fault; if that fails, __do_kernel_fault */
  | { action: "do_page_fault"; vmFlags: number; write: boolean }
  /** die_kernel_fault(msg): the oops */
  | { action: "die"; msg: string }
  /** fixup_exception: the uaccess routine returns an error (-EFAULT) */
  | { action: "fixup" }
  /** is_spurious_el1_translation_fault: ignored (with a ratelimited warning) */
  | { action: "spurious" }
  /** do_tag_recovery: MTE tag checking turned off on this CPU, no oops */
  | { action: "tag_recovery" }
  /** arm64_notify_die(inf->name): a synchronous external abort, "Internal error: <name>" */
  | { action: "notify_die"; name: string };

/** The context of an EL1 abort: what fault.c reads besides ESR and FAR. */
export interface El1AbortContext {
  /** PSTATE.PAN */
  pan: boolean;
  /** search_exception_tables(regs->pc): the instruction is in a uaccess routine */
  inUaccess: boolean;
  /** current->mm is set and faults are allowed (not faulthandler_disabled) */
  hasMm: boolean;
  /**
   * is_spurious_el1_translation_fault's AT S1E1R (PAN not applied) now translates the address,
   * or reports a fault other than a translation fault: the abort is taken as spurious
   */
  atSpurious?: boolean;
  /** system_uses_ttbr0_pan(): software PAN instead of the hardware's */
  ttbr0Pan?: boolean;
  /** FEAT_EPAN */
  epan?: boolean;
}

/**
 * __do_kernel_fault: an exception-table fixup (never for an instruction
 * abort), a spurious translation fault, MTE tag recovery, else the oops
 * with its message.
 */
export function doKernelFault(addr: bigint, esr: number, ctx: El1AbortContext): El1AbortVerdict {
  if (!isEl1InstructionAbort(esr) && ctx.inUaccess) return { action: "fixup" };
  if (isEl1DataAbort(esr) && esrFscIsTranslationFault(esr) && ctx.atSpurious) return { action: "spurious" };
  if (isEl1DataAbort(esr) && esrFsc(esr) === Fsc.MTE) return { action: "tag_recovery" };
  let msg: string;
  if (isEl1PermissionFault(addr, esr, ctx.pan, ctx.ttbr0Pan)) {
    if (esr & Esr.WNR) msg = "write to read-only memory";
    else if (isEl1InstructionAbort(esr)) msg = "execute from non-executable memory";
    else msg = "read from unreadable memory";
  } else if (addr >= 0n && addr < PAGE_SIZE) {
    msg = "NULL pointer dereference";
  } else {
    msg = "paging request";
  }
  return { action: "die", msg };
}

/**
 * do_mem_abort for an abort taken at EL1: fault_info[FSC]'s handler, up to
 * the point where do_page_fault would call handle_mm_fault (the caller does
 * that, and calls doKernelFault when it fails). A user address with an EL1
 * permission fault dies at once unless it comes from a uaccess routine
 * ("access to user memory outside uaccess routines"; a PAN violation), or
 * always for an instruction fetch ("execution of user memory"; PXN).
 */
export function doMemAbortEl1(addr: bigint, esr: number, ctx: El1AbortContext): El1AbortVerdict {
  const inf = esrToFaultInfo(esr);
  switch (inf.fn) {
    case "do_bad":
      return { action: "die", msg: inf.name }; // do_mem_abort: !user_mode -> die_kernel_fault(inf->name)
    case "do_sea":
      return { action: "notify_die", name: inf.name };
    case "do_alignment_fault":
    case "do_tag_check_fault":
      return doKernelFault(addr, esr, ctx); // do_bad_area in kernel mode
    case "do_translation_fault":
      if (!isTtbr0Addr(addr)) return doKernelFault(addr, esr, ctx); // do_bad_area
      break;
    case "do_page_fault":
      break;
  }
  // do_page_fault
  if (!ctx.hasMm) return doKernelFault(addr, esr, ctx); // no_context
  if (isTtbr0Addr(addr) && isEl1PermissionFault(addr, esr, ctx.pan, ctx.ttbr0Pan)) {
    if (isEl1InstructionAbort(esr)) return { action: "die", msg: "execution of user memory" };
    if (!ctx.inUaccess) return { action: "die", msg: "access to user memory outside uaccess routines" };
  }
  if (!isTtbr0Addr(addr)) return doKernelFault(addr, esr, ctx); // no VMA: bad_area, !user_mode -> no_context
  const { vmFlags, write } = faultVmFlags(esr, ctx.epan);
  return { action: "do_page_fault", vmFlags, write };
}

/**
 * The signal of a user fault do_page_fault could not resolve: SIGBUS
 * BUS_ADRERR for VM_FAULT_SIGBUS; SIGSEGV with SEGV_ACCERR when a VMA was
 * found without the rights, else SEGV_MAPERR; other handlers' faults raise
 * fault_info's signal and code (do_bad_area, do_mem_abort).
 */
export function userFaultSignal(
  esr: number,
  result: "badmap" | "badaccess" | "sigbus" | "sigsegv",
): { signal: string; code: string } {
  const inf = esrToFaultInfo(esr);
  if (inf.fn !== "do_page_fault" && inf.fn !== "do_translation_fault")
    return { signal: inf.sig, code: inf.code };
  if (result === "sigbus") return { signal: "SIGBUS", code: "BUS_ADRERR" };
  return { signal: "SIGSEGV", code: result === "badaccess" ? "SEGV_ACCERR" : "SEGV_MAPERR" };
}

/**
 * set_thread_esr: the ESR a signal frame reports. For a fault on a kernel
 * address only EC, IL, CM and WnR of a data abort (EC and IL of an
 * instruction abort) are kept, as a level 0 translation fault.
 */
export function threadEsr(addr: bigint, esr: number): number {
  if (isTtbr0Addr(addr)) return esr >>> 0;
  const ec = esrEc(esr);
  const ecMask = 0x3f << Esr.EC_SHIFT;
  if (ec === Ec.DABT_LOW) return ((esr & (ecMask | Esr.IL | Esr.CM | Esr.WNR)) | Fsc.FAULT) >>> 0;
  if (ec === Ec.IABT_LOW) return ((esr & (ecMask | Esr.IL)) | Fsc.FAULT) >>> 0;
  return 0;
}

// ---- the oops text ----

const hex16 = (v: bigint) => BigInt.asUintN(64, v).toString(16).padStart(16, "0");
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/**
 * mem_abort_decode and data_abort_decode: the "Mem abort info:" block and,
 * for a data abort, "Data abort info:". `iss2` is ESR bits 55:32.
 */
export function memAbortDecode(esr: number, iss2 = 0): string[] {
  const ec = esrEc(esr);
  const lines = [
    "Mem abort info:",
    `  ESR = ${hex64(iss2 & 0xffffff, esr)}`,
    `  EC = 0x${ec.toString(16).padStart(2, "0")}: ${esrClassString(esr)}, IL = ${esr & Esr.IL ? 32 : 16} bits`,
    `  SET = ${(esr & Esr.SET_MASK) >>> Esr.SET_SHIFT}, FnV = ${(esr & Esr.FNV) >>> Esr.FNV_SHIFT}`,
    `  EA = ${(esr & Esr.EA) >>> Esr.EA_SHIFT}, S1PTW = ${(esr & Esr.S1PTW) >>> Esr.S1PTW_SHIFT}`,
    `  FSC = 0x${esrFsc(esr).toString(16).padStart(2, "0")}: ${esrToFaultInfo(esr).name}`,
  ];
  if (esrIsDataAbort(esr)) lines.push(...dataAbortDecode(esr, iss2));
  return lines;
}

/** data_abort_decode */
export function dataAbortDecode(esr: number, iss2 = 0): string[] {
  const lines = ["Data abort info:"];
  if (esr & Esr.ISV) {
    lines.push(`  Access size = ${1 << ((esr & Esr.SAS) >>> Esr.SAS_SHIFT)} byte(s)`);
    lines.push(
      `  SSE = ${(esr & Esr.SSE) >>> Esr.SSE_SHIFT}, SRT = ${(esr & Esr.SRT_MASK) >>> Esr.SRT_SHIFT}`,
    );
    lines.push(`  SF = ${(esr & Esr.SF) >>> Esr.SF_SHIFT}, AR = ${(esr & Esr.AR) >>> Esr.AR_SHIFT}`);
  } else {
    lines.push(`  ISV = 0, ISS = 0x${hex8(esr & Esr.ISS_MASK)}, ISS2 = 0x${hex8(iss2 & 0xffffff)}`);
  }
  const bit = (v: number, shift: number) => (v >>> shift) & 1;
  lines.push(
    `  CM = ${bit(esr, Esr.CM_SHIFT)}, WnR = ${bit(esr, Esr.WNR_SHIFT)}, TnD = ${bit(iss2, Iss2.TND_SHIFT)}, TagAccess = ${bit(iss2, Iss2.TAGACCESS_SHIFT)}`,
  );
  lines.push(
    `  GCS = ${bit(iss2, Iss2.GCS_SHIFT)}, Overlay = ${bit(iss2, Iss2.OVERLAY_SHIFT)}, DirtyBit = ${bit(iss2, Iss2.DIRTYBIT_SHIFT)}, Xs = ${iss2 & Iss2.XS_MASK}`,
  );
  return lines;
}

/** A 64-bit table entry as show_pte reads it. */
export interface RawEntry {
  hi: number;
  lo: number;
}

/** What show_pte needs to know about the address space. */
export interface ShowPteContext {
  /** current->active_mm is init_mm (a kernel thread that borrowed nothing) */
  activeMmIsInitMm: boolean;
  /** physical addresses of the active mm's PGD and of swapper_pg_dir (mm_to_pgd_phys) */
  userPgdPa: number;
  swapperPgdPa: number;
  /** reads the 8-byte entry at a physical address */
  read(pa: number): RawEntry;
}

const TWO32 = 4294967296;

/**
 * show_pte: which page tables hold the address (TTBR0: the active mm's;
 * TTBR1: swapper_pg_dir), then the entries on the way to it, stopping
 * where Linux's p?d_none / p?d_bad stop (with 4 levels the P4D is the
 * folded PGD: the same value printed twice; a block is "bad" at PUD and
 * PMD level, printed and then the walk stops).
 */
export function showPte(addr: bigint, ctx: ShowPteContext): string[] {
  let pgdPa: number;
  let who: string;
  if (isTtbr0Addr(addr)) {
    if (ctx.activeMmIsInitMm) return [`[${hex16(addr)}] user address but active_mm is swapper`];
    pgdPa = ctx.userPgdPa;
    who = "user";
  } else if (isTtbr1Addr(addr)) {
    pgdPa = ctx.swapperPgdPa;
    who = "swapper";
  } else {
    return [`[${hex16(addr)}] address between user and kernel address ranges`];
  }
  const header = `${who} pgtable: 4k pages, 48-bit VAs, pgdp=${hex16(BigInt(pgdPa))}`;
  const index = (shift: bigint) => Number((addr >> shift) & 511n);
  const val = (e: RawEntry) => hex64(e.hi, e.lo).slice(2);
  const next = (e: RawEntry) => (e.hi & 0x3ffff) * TWO32 + ((e.lo & 0xfffff000) >>> 0); // __p?d_to_phys
  const isTable = (e: RawEntry) => (e.lo & 3) === 3;
  const pgd = ctx.read(pgdPa + index(39n) * 8);
  let line = `[${hex16(addr)}] pgd=${val(pgd)}, p4d=${val(pgd)}`; // pgd_none/pgd_bad are 0 when folded
  if ((pgd.hi !== 0 || pgd.lo !== 0) && (pgd.lo & 2) !== 0) {
    const pud = ctx.read(next(pgd) + index(30n) * 8);
    line += `, pud=${val(pud)}`;
    if ((pud.hi !== 0 || pud.lo !== 0) && isTable(pud)) {
      const pmd = ctx.read(next(pud) + index(21n) * 8);
      line += `, pmd=${val(pmd)}`;
      if ((pmd.hi !== 0 || pmd.lo !== 0) && isTable(pmd)) {
        const pte = ctx.read(next(pmd) + index(12n) * 8);
        line += `, pte=${val(pte)}`;
      }
    }
  }
  return [header, line];
}

/** __die's first line: `Internal error: Oops: <esr> [#n] PREEMPT SMP` (CONFIG_PREEMPT). */
export function internalError(str: string, esr: number, serial: number, iss2 = 0): string {
  return `Internal error: ${str}: ${hex64(iss2 & 0xffffff, esr).slice(2)} [#${serial}] PREEMPT SMP`;
}

/**
 * die_kernel_fault: the report of a kernel fault nobody can fix, as far as
 * the architecture prints it (then die("Oops") with the register dump).
 */
export function dieKernelFault(
  msg: string,
  addr: bigint,
  esr: number,
  pte: ShowPteContext,
  serial: number,
  iss2 = 0,
): string[] {
  return [
    `Unable to handle kernel ${msg} at virtual address ${hex16(addr)}`,
    ...memAbortDecode(esr, iss2),
    ...showPte(addr, pte),
    internalError("Oops", esr, serial, iss2),
  ];
}
