import type { Pfn, Vpn } from "../../../base/units.ts";
import { PfErr } from "../../../hw/arch/x86_64/fault.ts";
import { Pte } from "../../../hw/arch/x86_64/pte.ts";
import type { PageTableMapper as Mapper } from "../../../hw/mmu/Mapper.ts";
import { dumpStackInfo } from "../../core/dump_stack.ts";
import { px } from "../../core/vaddr.ts";

/** What the oops report needs to know about the fault. */
export interface OopsInfo {
  address: bigint;
  /** the address's vpn, to read the page tables */
  vpn: Vpn;
  errorCode: number;
  cpu: number;
  pid: number;
  comm: string;
  uid: number;
  /** "#1", "#2": the oops counter */
  serial: number;
  pti: boolean;
  /** the CR3 root used (current page tables) */
  rootPfn: Pfn;
  levels: number;
  smep: boolean;
  /** does the leaf PTE (if present) allow execution / is the PGD entry a user one: for the NX/SMEP lines */
  leafExec: boolean | null;
  pgdUser: boolean;
  /** extra lines printed before the report (e.g. the SMAP note) */
  note?: string;
}

/**
 * The report Linux prints for a kernel page fault nobody can fix
 * (arch/x86/mm/fault.c: show_fault_oops, dump_pagetable; then __die's
 * "Oops:" line and the CPU/PID line of show_regs).
 */
export function oopsReport(info: OopsInfo, mapper: Mapper): string[] {
  const lines: string[] = [];
  const ec = info.errorCode;
  if (info.note) lines.push(info.note);
  if (ec & PfErr.ID && info.leafExec !== null) {
    if (!info.leafExec)
      lines.push(`kernel tried to execute NX-protected page - exploit attempt? (uid: ${info.uid})`);
    if (info.leafExec && info.pgdUser && info.smep)
      lines.push(`unable to execute userspace code (SMEP?) (uid: ${info.uid})`);
  }
  if (info.address < 4096n && info.address >= 0n) {
    lines.push(`BUG: kernel NULL pointer dereference, address: ${px(info.address)}`);
  } else {
    lines.push(`BUG: unable to handle page fault for address: ${px(info.address)}`);
  }
  const what = ec & PfErr.ID ? "instruction fetch" : ec & PfErr.WR ? "write access" : "read access";
  lines.push(`#PF: ${ec & PfErr.US ? "user" : "supervisor"} ${what} in kernel mode`);
  const kind = !(ec & PfErr.P)
    ? "not-present page"
    : ec & PfErr.RSVD
      ? "reserved bit violation"
      : ec & PfErr.PK
        ? "protection keys violation"
        : "permissions violation";
  lines.push(`#PF: error_code(0x${ec.toString(16).padStart(4, "0")}) - ${kind}`);
  lines.push(dumpPagetable(mapper, info.rootPfn, info.vpn, info.levels));
  lines.push(
    `Oops: ${ec.toString(16).padStart(4, "0")} [#${info.serial}] PREEMPT SMP ${info.pti ? "PTI" : "NOPTI"}`,
  );
  lines.push(...dumpStackInfo(info.cpu, info.uid, info.pid, info.comm, info.serial));
  return lines;
}

/**
 * dump_pagetable: each level's raw entry, stopping at the first that is not
 * present or is a large page. With 4-level paging the P4D level is folded
 * into the PGD, so it prints the same value.
 */
export function dumpPagetable(mapper: Mapper, rootPfn: Pfn, vpn: Vpn, levels: number): string {
  const names = levels === 5 ? ["PGD", "P4D", "PUD", "PMD", "PTE"] : ["PGD", "PUD", "PMD", "PTE"];
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const level = levels - 1 - i;
    const e = mapper.entryAt(rootPfn, vpn, level);
    if (e === null) break;
    const val = ((BigInt(e.hi) << 32n) | BigInt(e.lo)).toString(16);
    parts.push(`${names[i]} ${val}`);
    if (levels === 4 && i === 0) parts.push(`P4D ${val}`);
    if (!(e.lo & Pte.P) || (level >= 1 && level <= 2 && e.lo & Pte.PS)) break;
  }
  return parts.join(" ");
}
