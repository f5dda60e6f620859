/**
 * MmAccessFault for faults from user mode (Windows Internals 7th ed.,
 * Part 1, ch. 5 "Page fault handling": the trap handler calls MmAccessFault
 * with the faulting address, the kind of access and the previous mode).
 *
 * In order:
 * 1. A user-mode access at or above MM_USER_PROBE_ADDRESS (the no-access
 *    64 KB at the top of user space, or system space: every kernel page has
 *    U/S clear, so the CPU refused it on a TLB hit as on a walk) is an access
 *    violation.
 * 2. No VAD contains the address: access violation.
 * 3. The PTE (decoded by mmpte.ts, the one place the software formats are
 *    read) gives the page's state and protection; a reserved page that is
 *    not committed, or a decommitted one, is an access violation.
 * 4. MiAccessCheck: the protection must allow the access (DEP: an execute of
 *    a valid page without execute rights raises an access violation with
 *    ExceptionInformation[0] = 8, where the CPU has NX: x64 and PAE; a page
 *    not valid yet is resolved as for a read first, its guard page
 *    violation raised first: the execute check is the valid PTE's); then a
 *    guard page raises STATUS_GUARD_PAGE_VIOLATION once and loses its
 *    guard (the "one-shot alarm" of the VirtualAlloc/Creating Guard Pages
 *    page), unless it is a thread stack's guard page: then
 *    MiCheckForUserStackOverflow grows the stack (no exception) or raises
 *    STATUS_STACK_OVERFLOW at the reservation's end (stack.ts).
 * 5. The PTE is resolved: a demand-zero page gets a zeroed frame
 *    (MiResolveDemandZeroFault), a transition page its frame back
 *    (MiResolveTransitionFault, a soft fault), a paging-file page a new
 *    frame and an in-page read (MiResolvePageFileFault, a hard fault), a
 *    view page its section's frame through the prototype PTE
 *    (MiResolveProtoPteFault, view.ts), a write to a copy-on-write page a
 *    private copy (MiCopyOnWrite); the page joins the working set
 *    (workingset.ts: a hard maximum may replace another) and the access is
 *    retried.
 *
 * EXCEPTION_ACCESS_VIOLATION's ExceptionInformation: [0] 0 read, 1 write,
 * 8 execute (DEP); [1] the address (the EXCEPTION_RECORD page).
 */
import type { Access } from "../../../hw/access.ts";
import type { KernelCore } from "../../core/core.ts";
import type { SigInfo } from "../../core/signal.ts";
import type { Task } from "../../core/task.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import {
  isGuard,
  MmProt,
  mkDemandZero,
  mkPageFile,
  mkProtoLookup,
  mkTransition,
  mmRights,
  pageFileOffset,
  protName,
  SoftKind,
  win32Protection,
} from "./mmpte.ts";
import { type PageState, pageState, validPte } from "./pages.ts";
import { resolvePageFile, resolveTransition } from "./paging.ts";
import { MEMORY_PRIORITY_NORMAL } from "./pfn.ts";
import { getPte, pagePriority, setPte, type WinProcess, widePtes, winProcess } from "./process.ts";
import { checkForUserStackOverflow, StackCheck } from "./stack.ts";
import type { Vad } from "./vad.ts";
import { copyOnWrite, protoPteFault } from "./view.ts";
import type { WinMm } from "./virtual.ts";
import { wsAdded } from "./workingset.ts";

/** NTSTATUS exception codes (ntstatus.h). */
export const STATUS_ACCESS_VIOLATION = 0xc0000005;
export const STATUS_GUARD_PAGE_VIOLATION = 0x80000001;
export const STATUS_STACK_OVERFLOW = 0xc00000fd;

/** ExceptionInformation[0] of each access (Access.Read 0, Write 1, Exec 2). */
const RW = [0, 1, 8];
const RW_NAMES = ["read", "write", "execute"];

/** The exception codes by name (ntstatus.h). */
export const EXCEPTION_CODES: Readonly<Record<string, number>> = {
  STATUS_ACCESS_VIOLATION,
  STATUS_GUARD_PAGE_VIOLATION,
  STATUS_STACK_OVERFLOW,
};

/** Names of the exception codes, for messages (ntstatus.h). */
export function exceptionName(code: number): string {
  if (code === STATUS_ACCESS_VIOLATION) return "STATUS_ACCESS_VIOLATION";
  if (code === STATUS_GUARD_PAGE_VIOLATION) return "STATUS_GUARD_PAGE_VIOLATION";
  if (code === STATUS_STACK_OVERFLOW) return "STATUS_STACK_OVERFLOW";
  return `0x${code.toString(16)}`;
}

/** Raises an exception in the process: its EXCEPTION_RECORD, and the SigInfo entry.ts delivers. */
function raise(p: WinProcess, code: number, access: Access, va: bigint): SigInfo {
  p.exception.code = code;
  p.exception.rw = RW[access];
  p.exception.address = va;
  return { signal: exceptionName(code), code: RW_NAMES[access], addr: va };
}

/**
 * A #GP in user mode (x64: a non-canonical address): no page fault, so no
 * MmAccessFault; KiGeneralProtectionFault raises STATUS_ACCESS_VIOLATION
 * with ExceptionInformation[1] = 0xFFFFFFFFFFFFFFFF, the address unknown
 * (a debugger's "Attempt to read from address ffffffffffffffff").
 */
export function generalProtection(task: Task, access: Access): SigInfo {
  return raise(winProcess(task.mm!), STATUS_ACCESS_VIOLATION, access, 0xffff_ffff_ffff_ffffn);
}

/** What MmAccessFault decides for a fault (steps 1 to 5 of the header). */
export const enum Verdict {
  SystemSpace = 0,
  NoVad = 1,
  NotCommitted = 2,
  Protection = 3,
  Guard = 4,
  CopyOnWrite = 5,
  Retry = 6,
  Transition = 7,
  DemandZero = 8,
  NotYet = 9,
  /** a paging-file PTE: a hard fault (paging.ts) */
  PageFile = 10,
  /** a view page whose PTE is zero or points to its prototype PTE (view.ts) */
  ProtoPte = 11,
}

/** The decision, changing nothing (MmAccessFault acts on it; `explain` puts it in words). */
export function decide(
  w: WinMm,
  mm: MmStruct,
  va: bigint,
  access: Access,
): { verdict: Verdict; vad: Vad | null; s: PageState | null } {
  const p = winProcess(mm);
  // 1. system space (or the top 64 KB of user space) from user mode
  if (va >= w.layout.userProbeAddress) return { verdict: Verdict.SystemSpace, vad: null, s: null };
  const vpn = Number(va / 4096n);
  // 2. the VAD (MiLocateAddress)
  const vad = p.vads.locate(vpn);
  if (vad === null) return { verdict: Verdict.NoVad, vad, s: null };
  // 3. the PTE
  const s = pageState(w.k, w.db, mm, vad, vpn);
  if (!s.committed) return { verdict: Verdict.NotCommitted, vad, s };
  // 4. MiAccessCheck: the rights, then the guard. It knows reads and writes only: the execute right
  // is checked on a valid PTE ("Ensure execute access is enabled in the PTE", WRK mmfault.c), so a
  // fetch from a page not yet valid resolves it first (or hits its guard), and the retried fetch
  // takes the DEP access violation on the valid, no-execute PTE
  const r = mmRights(s.protection);
  const write = access === 1;
  if (!r.r || (write && !r.w) || (access === 2 && s.valid && !r.x))
    return { verdict: Verdict.Protection, vad, s };
  if (isGuard(s.protection)) return { verdict: Verdict.Guard, vad, s };
  // 5. how the PTE is resolved
  if (s.valid) return { verdict: write && r.copy ? Verdict.CopyOnWrite : Verdict.Retry, vad, s };
  if (s.kind === SoftKind.Transition) return { verdict: Verdict.Transition, vad, s };
  if (vad.view !== null && (s.kind === SoftKind.Zero || s.kind === SoftKind.Prototype))
    return { verdict: Verdict.ProtoPte, vad, s };
  if (s.kind === SoftKind.Zero || s.kind === SoftKind.DemandZero)
    return { verdict: Verdict.DemandZero, vad, s };
  if (s.kind === SoftKind.PageFile) return { verdict: Verdict.PageFile, vad, s };
  // prototype PTEs: no sections or mapped views yet
  return { verdict: Verdict.NotYet, vad, s };
}

/**
 * MmAccessFault for a fault taken in user mode. Null: resolved, retry the
 * access; else the exception (its name as the SigInfo's signal). The
 * frames it takes get the faulting thread's page priority (Windows
 * Internals 7th ed., Part 1, ch. 5 "Page priority": "A page's priority
 * usually reflects the page priority of the thread that first causes its
 * allocation").
 */
export function mmAccessFault(w: WinMm, task: Task, va: bigint, access0: Access): SigInfo | null {
  const mm = task.mm;
  if (mm === null) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  const db = w.db;
  db.allocPriority = pagePriority(winProcess(mm), task.pid);
  const sig = accessFault(w, task, mm, va, access0);
  db.allocPriority = MEMORY_PRIORITY_NORMAL;
  return sig;
}

function accessFault(w: WinMm, task: Task, mm: MmStruct, va: bigint, access0: Access): SigInfo | null {
  const k: KernelCore = w.k;
  const access = faultAccess(w, access0);
  const p = winProcess(mm);
  const { verdict, vad, s } = decide(w, mm, va, access);
  const vpn = Number(va / 4096n);
  const write = access === 1;
  switch (verdict) {
    case Verdict.Guard: {
      // the guard goes (a demand-zero or transition PTE keeps the rest of the protection)
      const st = s!;
      const without = st.protection & ~MmProt.GUARD_PAGE;
      if (st.pfn >= 0) w.db.originalProtection[st.pfn] = without;
      // a view's shared page keeps its protection in its MI_PTE_LOOKUP_NEEDED PTE (VirtualProtect's)
      const pte = getPte(k, mm, vpn);
      const e =
        st.pfn >= 0
          ? mkTransition(st.pfn, without)
          : st.kind === SoftKind.PageFile
            ? mkPageFile(pageFileOffset(pte.hi, pte.lo, widePtes(k)), without, widePtes(k))
            : vad!.view !== null && st.kind === SoftKind.Prototype
              ? mkProtoLookup(without, widePtes(k))
              : mkDemandZero(without);
      setPte(k, mm, vpn, e.hi, e.lo);
      // a thread stack's guard page: MiCheckForUserStackOverflow grows the stack (stack.ts)
      const grown = checkForUserStackOverflow(w, p, mm, vpn);
      if (grown === StackCheck.Grown) return null;
      if (grown === StackCheck.Overflow) return raise(p, STATUS_STACK_OVERFLOW, access, va);
      return raise(p, STATUS_GUARD_PAGE_VIOLATION, access, va);
    }
    case Verdict.CopyOnWrite: {
      const sig = copyOnWrite(w, p, mm, vad!, vpn, s!.pfn, s!.protection);
      if (sig === null) task.minFlt++;
      return sig;
    }
    case Verdict.ProtoPte:
      return protoPteFault(w, task, p, mm, vad!, vpn, write, s!.protection);
    case Verdict.Retry:
      // the hardware allows it now (a stale TLB entry was dropped by the fault): retry
      return null;
    case Verdict.Transition: {
      // MiResolveTransitionFault: the frame is still in memory (on the standby or modified list,
      // or held by a protection change); back into the working set: a soft fault (paging.ts)
      resolveTransition(w.db, s!.pfn);
      const r = mmRights(s!.protection);
      const e = validPte(k, s!.pfn, s!.protection, write && r.w && !r.copy);
      setPte(k, mm, vpn, e.hi, e.lo);
      task.minFlt++;
      wsAdded(w, mm, vpn);
      return null;
    }
    case Verdict.PageFile: {
      // MiResolvePageFileFault: a new frame, an in-page read from the paging file (a hard fault)
      const pte = getPte(k, mm, vpn);
      const pfn = resolvePageFile(k, w.db, pageFileOffset(pte.hi, pte.lo, widePtes(k)), s!.protection, false);
      if (pfn < 0) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
      p.privatePages++;
      const r = mmRights(s!.protection);
      const e = validPte(k, pfn, s!.protection, write && r.w && !r.copy);
      setPte(k, mm, vpn, e.hi, e.lo);
      if (write && r.w && !r.copy) dropPageFileCopy(w, pfn);
      task.majFlt++;
      wsAdded(w, mm, vpn);
      return null;
    }
    case Verdict.DemandZero: {
      // MiResolveDemandZeroFault: the hook where the zero page list will feed it
      const pfn = w.db.allocDemandZeroFrame(k, s!.protection);
      if (pfn < 0) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
      p.privatePages++;
      const e = validPte(k, pfn, s!.protection, write && !mmRights(s!.protection).copy);
      setPte(k, mm, vpn, e.hi, e.lo);
      task.minFlt++;
      wsAdded(w, mm, vpn);
      return null;
    }
    default:
      return raise(p, STATUS_ACCESS_VIOLATION, access, va);
  }
}

/**
 * The access as MmAccessFault's FaultStatus tells it: an instruction fetch
 * is one only where the CPU has NX (x64, PAE): 32-bit paging sets no I/D
 * bit in the #PF error code (SDM Vol. 3A §4.7), so Windows sees a read,
 * and the exception's ExceptionInformation[0] is EXCEPTION_READ_FAULT (0)
 * (Wine's kernel32 test_atl_thunk_emulation: "IsProcessorFeaturePresent(
 * PF_NX_ENABLED) ? EXCEPTION_EXECUTE_FAULT : EXCEPTION_READ_FAULT").
 */
function faultAccess(w: WinMm, access: Access): Access {
  return access === 2 && w.k.arch.pgtable.entryBytes !== 8 ? (0 as Access) : access;
}

/** `explain P ADDR`: what MmAccessFault would do with a fault on this access, in words. */
export function explainAccessFault(w: WinMm, task: Task, va: bigint, access0: Access): string[] {
  const access = faultAccess(w, access0);
  const mm = task.mm;
  if (mm === null) return ["  no address space"];
  const { verdict, vad, s } = decide(w, mm, va, access);
  const av = `STATUS_ACCESS_VIOLATION (0xC0000005), ExceptionInformation ${RW[access]}, 0x${va.toString(16)}`;
  const where = vad
    ? `VAD 0x${(vad.startVpn * 4096).toString(16)}-0x${((vad.endVpn + 1) * 4096).toString(16)}${vad.memCommit ? " (MemCommit)" : ""}`
    : "";
  const prot = s ? protName(win32Protection(s.protection)) : "";
  switch (verdict) {
    case Verdict.SystemSpace:
      return [`  MmAccessFault: a user-mode access at or above MM_USER_PROBE_ADDRESS: ${av}`];
    case Verdict.NoVad:
      return [`  MmAccessFault: no VAD contains the address: ${av}`];
    case Verdict.NotCommitted:
      return [`  MmAccessFault: ${where}: the page is reserved, not committed: ${av}`];
    case Verdict.Protection:
      return [`  MiAccessCheck: ${where}: ${prot} does not allow a ${RW_NAMES[access]}: ${av}`];
    case Verdict.Guard:
      return [
        `  MiAccessCheck: ${where}: a guard page (${prot}): STATUS_GUARD_PAGE_VIOLATION (0x80000001), and the guard is removed`,
      ];
    case Verdict.CopyOnWrite:
      return [`  MiCopyOnWrite: ${where}: a private copy of the page, read-write from then on`];
    case Verdict.Retry:
      return [`  ${where}: the PTE allows it now (${prot}): the access is retried`];
    case Verdict.Transition:
      return [
        `  MiResolveTransitionFault: ${where}: the page is still in memory${s && s.pfn >= 0 ? ` (${LIST_NAMES[w.db.list[s.pfn]]})` : ""}: back into the working set (a soft fault)`,
      ];
    case Verdict.PageFile:
      return [
        `  MiResolvePageFileFault: ${where}: the page is in the paging file: a new frame and an in-page read (a hard fault)`,
      ];
    case Verdict.ProtoPte: {
      const v = vad!.view!;
      const index = v.firstPage + Number(va / 4096n) - vad!.startVpn;
      return [
        `  MiResolveProtoPteFault: ${where}: a view of section 0x${v.section.handle.toString(16)} (page ${index}): the prototype PTE gives the frame; the process PTE maps it ${prot}${access === 1 && mmRights(s!.protection).copy ? "; the write then makes a private copy (MiCopyOnWrite)" : ""}`,
      ];
    }
    case Verdict.DemandZero:
      return [
        `  MiResolveDemandZeroFault: ${where}: committed ${prot}, no frame yet: a zeroed page is mapped`,
      ];
    default:
      return [`  ${where}: an invalid PTE MmAccessFault does not resolve: ${av}`];
  }
}

/** Names of the page lists (PfnList), for explain. */
const LIST_NAMES = ["in no list", "zeroed list", "standby list", "modified list"];

/** A write fault made the page differ from its paging-file copy: the copy goes (MiReleasePageFileSpace). */
function dropPageFileCopy(w: WinMm, pfn: number): void {
  const off = w.db.pageFileOffset[pfn];
  if (off > 0) w.db.pagefile.release(off);
  w.db.pageFileOffset[pfn] = 0;
  w.db.modified[pfn] = 1;
}
