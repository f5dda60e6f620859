/**
 * `explain kernel ADDR`: the story of one plain kernel-mode access (no
 * exception-table entry) on a CPU as it stands: the controls that decide it
 * (x86 SMAP/AC/SMEP/WP, arm64 PAN/WXN), the TLB lookup under the CPU's
 * current tag, each level's entry from the CPU's own root registers, the
 * rights check, and, if it faults, the hardware's code and what the
 * kernel's fault handler makes of it. Changes nothing.
 */
import { fromBig } from "../../base/u64.ts";
import { Access, accessName, Mode } from "../../hw/access.ts";
import { WalkRecord } from "../../hw/mmu/Mmu.ts";
import { entryHex, HwFaultKind, Perm, permText } from "../../hw/mmu/PagingFormat.ts";
import { Meta } from "../../hw/mmu/TlbArray.ts";
import type { KernelCore } from "../core/core.ts";
import { contextTask } from "../core/sched.ts";
import { tlbFrame } from "./explain.ts";

export function explainKernelAccess(k: KernelCore, cpuId: number, va: bigint, access: Access): string[] {
  const hex = (v: number | bigint) => `0x${v.toString(16)}`;
  const view = k.arch.view;
  const cpu = k.machine.cpus[cpuId];
  const task = contextTask(k, cpuId);
  const out = [
    `kernel ${accessName(access)} of ${hex(va)} on cpu${cpuId}, ${view.kernelMode}, in the context of ${task.comm} (pid ${task.pid}):`,
    `  ${view.accessState(cpu)}`,
  ];
  const u = BigInt.asUintN(64, va);
  const { hi, lo } = fromBig(u);
  const verdict = new WalkRecord();
  const outcome = cpu.probe(hi, lo, access, Mode.Supervisor, verdict);
  // arm64 TCR_EL1.TBI0: a data access's tag takes no part in the range check either (explain.ts)
  const untagged = access !== Access.Exec && k.arch.untaggedAddr !== undefined ? k.arch.untaggedAddr(u) : u;
  if (view.badAddressWords !== undefined && !k.va.isCanonical(untagged)) {
    // outside every range: no walk; the architecture's fault, then its handler's story
    out.push(`  ${view.badAddressWords(cpu, u, true, access)}`);
    for (const line of k.arch.explainKernelFault(k, cpu, u, verdict.errorCode)) out.push(`  ${line}`);
    return out;
  }
  if (verdict.faultKind === HwFaultKind.NonCanonical) {
    out.push(
      "  the address is not canonical: a general protection fault (#GP), not a page fault; in kernel mode an oops",
    );
    return out;
  }
  const vpn = k.va.vpn(u);
  // 1. the TLB, under the tag the CPU runs with now
  let found = "";
  const path = access === Access.Exec ? cpu.tlb.instrPath : cpu.tlb.dataPath;
  for (let i = 0; i < cpu.tlb.levels.length; i++) {
    const l = cpu.tlb.levels[i];
    for (const a of path[i]) {
      if (found) break;
      const slot = a.peek(vpn, cpu.asid);
      if (slot >= 0) {
        const m = a.metas[slot];
        found = `hit in ${l.name} (${a.name}): frame ${hex(tlbFrame(cpu, a.pfns[slot], m, vpn))}, cached rights ${permText((m >>> Meta.RIGHTS_SHIFT) & 63)}`;
      }
    }
  }
  out.push(
    `  TLB on cpu${cpuId} (${cpu.asidName} ${cpu.asid}): ${found || "miss: the MMU walks the page tables"}`,
  );
  // 2. the walk from the CPU's own roots
  const rec = new WalkRecord();
  cpu.walk(vpn, access, Mode.Supervisor, false, rec, false);
  const names = cpu.format.levelNames;
  for (let n = 0; n < rec.count; n++) {
    const level = rec.level[n];
    const raw = entryHex(rec.hi[n], rec.lo[n], cpu.format.entryBytes);
    out.push(
      `  ${names[level].padEnd(4)}[${String(rec.index[n]).padStart(3)}] entry @${hex(rec.entryPa[n])} = ${raw}  ${view.entryFlags(rec.hi[n], rec.lo[n], level).join(" ")}`,
    );
  }
  // 3. the rights and the verdict
  if (rec.outcome === 0 && rec.count > 0) {
    const rights = (rec.meta >>> Meta.RIGHTS_SHIFT) & 63;
    out.push(
      `  rights over all levels: ${rights & (Perm.PW | Perm.UW) ? "writable" : "read-only"}, ${rights & Perm.USER ? "a user page" : "a kernel page"}, ${rights & Perm.PX ? "executable in kernel mode" : "not executable in kernel mode"} -> ${outcome === 0 ? "allowed" : "denied"}`,
    );
  }
  if (outcome === 0) {
    const pfn = verdict.pagePfn + (vpn % cpu.geometry.pagesPer[verdict.size]);
    out.push(`  -> pa ${hex(pfn * 4096 + Number(u & 0xfffn))} (frame ${hex(pfn)})`);
    return out;
  }
  const where = verdict.faultLevel >= 0 ? names[verdict.faultLevel] : "the top";
  out.push(
    verdict.faultKind === HwFaultKind.Translation
      ? `  not present at ${where}: ${view.faultText(verdict.errorCode)}`
      : `  ${view.faultText(verdict.errorCode)}`,
  );
  // 4. the kernel's fault handler
  // (profile=windows: its pools' addresses are its own MmAccessFault's)
  const os = k.os?.explainKernelFault?.(k, cpuId, va, access);
  for (const line of os ?? k.arch.explainKernelFault(k, cpu, u, verdict.errorCode)) out.push(`  ${line}`);
  return out;
}
