/**
 * The 32-bit x86 page-fault paths (Linux: arch/x86/mm/fault.c as built
 * with CONFIG_X86_32): do_user_addr_fault as on x86-64 (fault.ts), the
 * kernel-address side with vmalloc_fault (kernels before 5.8) and
 * arch_sync_kernel_mappings (5.8 and later), and the oops as a 32-bit
 * kernel prints it (show_fault_oops, the 32-bit dump_pagetable's `*pdpt`,
 * `*pde`, `*pte`, then __die and __show_regs' EIP / EAX / CR lines).
 */

import { fromBig } from "../../../base/u64.ts";
import { pfnUnchecked, vpnUnchecked } from "../../../base/units.ts";
import { type Access, Mode } from "../../../hw/access.ts";
import type { I386Cpu } from "../../../hw/arch/i386/Cpu.ts";
import { WalkRecord } from "../../../hw/arch/i386/Cpu.ts";
import { Pte, PteHi } from "../../../hw/arch/i386/pte.ts";
import { Outcome, PfErr } from "../../../hw/arch/x86_64/fault.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import { HwFaultKind } from "../../../hw/mmu/PagingFormat.ts";
import type { KernelAccessResult, KernelCore } from "../../core/core.ts";
import { dumpStackInfo } from "../../core/dump_stack.ts";
import { kernelModeAccess } from "../../core/entry.ts";
import { contextTask } from "../../core/sched.ts";
import type { SigInfo } from "../../core/signal.ts";
import type { Task } from "../../core/task.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { oopsEnd } from "./dumpstack.ts";
import { doUserAddrFault, USER_FETCH_STORY, userAddrFault, userAddrStory } from "./fault.ts";
import { i386Cpu } from "./init_32.ts";
import type { Layout32 } from "./layout_32.ts";
import { pdpteTable } from "./pgtable_32.ts";

/** A 32-bit address as %px prints it on a 32-bit kernel: 8 hex digits. */
export function px32(va: bigint | number): string {
  return (Number(va) >>> 0).toString(16).padStart(8, "0");
}

/** What the 32-bit fault paths need to know beyond the kernel. */
export interface Fault32Config {
  layout: Layout32;
  /** vmalloc_sync=lazy: a kernel before 5.8 (vmalloc_fault) */
  lazy: boolean;
  /** page-table isolation (PAE): each PGD has its own kernel PMD (!SHARED_KERNEL_PMD) */
  pti: boolean;
}

/** A fault a user-mode access (CPL 3) took: do_user_addr_fault on a #PF; null when resolved (retry). */
export function userFault32(
  k: KernelCore,
  cpu: Mmu,
  task: Task,
  outcome: number,
  va: bigint | null,
  vaHi: number,
  vaLo: number,
): SigInfo | null {
  // no PKRU on 32-bit x86 (pkru 0, as doUserAddrFault's default); the page from va's halves
  return outcome === Outcome.GP
    ? { signal: "SIGSEGV", code: "SI_KERNEL", addr: 0n }
    : doUserAddrFault(k, task, va, i386Cpu(cpu).errorCode, 0, vaHi, vaLo);
}

/** A #PF in a user-access routine: do_user_addr_fault; true when resolved. */
export function uaccessFault32(k: KernelCore, task: Task, cpu: Mmu, va: bigint): boolean {
  if (cpu.faultKind === HwFaultKind.NonCanonical || task.mm === null) return false;
  return doUserAddrFault(k, task, va, i386Cpu(cpu).errorCode) === null;
}

/** pgd_index on 2-level paging (one PDE per 4 MiB) */
function pdeIndex(va: number): number {
  return va >>> 22;
}

/**
 * vmalloc_sync_one (arch/x86/mm/fault.c, 2-level): copies init_mm's PDE
 * for `va` into the page directory at `pgdPa` when that one is empty.
 * Returns init_mm's PDE (0 when it has none: nothing to copy).
 */
function vmallocSyncOne(k: KernelCore, pgdPa: number, va: number): number {
  const phys = k.machine.phys;
  if (k.arch.pgtable.entryBytes === 8) return vmallocSyncOnePae(k, pgdPa, va);
  const idx = pdeIndex(va);
  const pdeK = phys.read32(k.rootPfn * 4096 + idx * 4);
  if ((pdeK & Pte.P) === 0) return 0;
  const pde = phys.read32(pgdPa + idx * 4);
  if ((pde & Pte.P) === 0) phys.write32(pgdPa + idx * 4, pdeK); // set_pmd(pmd, *pmd_k)
  return pdeK;
}

/**
 * vmalloc_sync_one on PAE without SHARED_KERNEL_PMD (PTI): the PDPTE of
 * `va` leads to init_mm's kernel PMD and to the PGD's own copy of it; when
 * the two PDEs differ in presence the PGD's gets init_mm's (set_pmd).
 * Returns init_mm's PDE's low word (0 when it has none).
 */
function vmallocSyncOnePae(k: KernelCore, pgdPa: number, va: number): number {
  const phys = k.machine.phys;
  const pdptOff = (va >>> 30) * 8;
  if ((phys.read32(k.rootPfn * 4096 + pdptOff) & Pte.P) === 0) return 0;
  const pdOff = ((va >>> 21) & 511) * 8;
  const kPa = pdpteTable(phys, k.rootPfn * 4096 + pdptOff) * 4096 + pdOff;
  const pa = pdpteTable(phys, pgdPa + pdptOff) * 4096 + pdOff;
  const pdeK = phys.read32(kPa);
  if ((phys.read32(pa) & Pte.P) !== (pdeK & Pte.P)) phys.write64(pa, phys.read32(kPa + 4), pdeK);
  return (pdeK & Pte.P) === 0 ? 0 : pdeK;
}

/** The PDE for `va` in the PGD at `pgdPa` (2-level: the PGD entry; PAE: under the PDPTE), its low word. */
function pdeLo(k: KernelCore, pgdPa: number, va: number): number {
  const phys = k.machine.phys;
  if (k.arch.pgtable.entryBytes === 4) return phys.read32(pgdPa + pdeIndex(va) * 4);
  const pdptPa = pgdPa + (va >>> 30) * 8;
  if ((phys.read32(pdptPa) & Pte.P) === 0) return 0;
  return phys.read32(pdpteTable(phys, pdptPa) * 4096 + ((va >>> 21) & 511) * 8);
}

/** The PTE for `va` under the PDE `pde` (a table), its low word. */
function pteLoUnder(k: KernelCore, pde: number, va: number): number {
  const pae = k.arch.pgtable.entryBytes === 8;
  return k.machine.phys.read32(
    ((pde & Pte.ADDR_LO_MASK) >>> 0) + (pae ? ((va >>> 12) & 511) * 8 : ((va >>> 12) & 1023) * 4),
  );
}

/**
 * vmalloc_fault (Linux 5.7 and before, 32-bit): a not-present supervisor
 * fault on a vmalloc address whose PDE init_mm has and the PGD in CR3
 * lacks. The PDE is copied from swapper_pg_dir, and the access retries if
 * init_mm's PTE is present. True when it is fixed.
 */
export function vmallocFault(k: KernelCore, cpu: I386Cpu, va: number, l: Layout32): boolean {
  if (!(va >= l.vmallocStart32 && va < l.vmallocEnd32)) return false;
  const pgdPa = cpu.rootPa; // read_cr3_pa(): do not trust `current`
  const before = pdeLo(k, pgdPa, va);
  const pdeK = vmallocSyncOne(k, pgdPa, va);
  if (pdeK === 0) return false;
  let ok = true;
  if ((pdeK & Pte.PS) === 0) ok = (pteLoUnder(k, pdeK, va) & Pte.P) !== 0;
  if (ok && cpu.tracer !== null)
    cpu.tracer({
      type: "state",
      cpu: cpu.id,
      text: `vmalloc_fault: 0x${px32(va)} is vmalloc space; ${(before & Pte.P) === 0 ? `PDE ${cpu.pae ? (va >>> 21) & 511 : pdeIndex(va)} copied from swapper_pg_dir${cpu.pae ? "'s kernel PMD" : ""} (0x${px32(pdeK)}) into the PGD${cpu.pae ? "'s own kernel PMD" : ""} at CR3 0x${px32(pgdPa)}` : "the PDE was already there"}: retry`,
    });
  return ok;
}

/**
 * arch_sync_kernel_mappings (Linux 5.8+, ARCH_PAGE_TABLE_SYNC_MASK =
 * PGTBL_PMD_MODIFIED: 2-level, and PAE under PTI, where SHARED_KERNEL_PMD
 * is false): once vmalloc made a new page-directory entry in init_mm, it
 * is copied into every PGD on pgd_list at once (PAE: into each PGD's own
 * kernel PMD; the user PDPT's kernel PMD maps no vmalloc space and is not
 * touched), so no process ever faults on it. `vpn` is the page just mapped.
 */
export function syncKernelMappings32(k: KernelCore, vpn: number): void {
  const va = vpn * 4096;
  const mms = new Set<MmStruct>();
  for (const t of k.tasks) if (t.mm !== null && t.mm.pgdPfn >= 0) mms.add(t.mm);
  for (const st of k.tlbMgr.states) if (st.loadedMm !== null && st.loadedMm.pgdPfn >= 0) mms.add(st.loadedMm);
  for (const mm of mms) vmallocSyncOne(k, mm.pgdPfn * 4096, va);
}

/** the walk record of the spurious-fault probe */
const rec = new WalkRecord();

/** A plain kernel dereference on `cpuId`: the byte, a vmalloc fault fixed and retried, or an oops. */
export function kernelAccess32(
  k: KernelCore,
  cfg: Fault32Config,
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
      const cpu = i386Cpu(c);
      if (out === Outcome.GP)
        return oopsEnd(k, cpu, task, [
          `general protection fault: 0000 [#${k.oopses.length + 1}] PREEMPT SMP${cfg.pti ? " PTI" : ""}`,
          ...dumpStackInfo(cpu.id, task.uid, task.pid, task.comm, k.oopses.length + 1),
        ]);
      const ec = cpu.errorCode;
      const addr = Number(va);
      // do_kern_addr_fault: "We can fault-in kernel-space virtual memory on-demand"
      if (
        cfg.lazy &&
        (!cfg.layout.pae || cfg.pti) &&
        k.va.isKernel(va) &&
        (ec & (PfErr.RSVD | PfErr.US | PfErr.P)) === 0 &&
        vmallocFault(k, cpu, addr, cfg.layout)
      ) {
        k.vmallocFaults++;
        return null;
      }
      if (spuriousKernelFault(k, cpu, va, access)) return null;
      if (userAddrFault(k, cpu, task, va)) return null;
      return pageFaultOops32(k, cpu, task, addr, ec);
    },
    (c, task) => pageFaultOops32(k, i386Cpu(c), task, Number(va), i386Cpu(c).errorCode),
  );
}

/** spurious_kernel_fault: a write or fetch protection fault the tables allow now (the fault dropped the stale entry). */
function spuriousKernelFault(k: KernelCore, cpu: I386Cpu, va: bigint, access: Access): boolean {
  const ec = cpu.errorCode;
  if (ec !== (PfErr.WR | PfErr.P) && ec !== (PfErr.ID | PfErr.P)) return false;
  if (!k.va.isKernel(va)) return false;
  const { hi, lo } = fromBig(va);
  return cpu.probe(hi, lo, access, Mode.Supervisor, rec) === Outcome.OK;
}

/**
 * dump_pagetable, 32-bit: `*pdpt = ` (PAE) and `*pde = ` from the PGD in
 * CR3, then `*pte = ` when the PDE points to a table.
 */
export function dumpPagetable32(k: KernelCore, cpu: I386Cpu, va: number): string {
  const phys = k.machine.phys;
  const pae = cpu.pae;
  const hex64 = (hi: number, lo: number) =>
    `${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;
  const parts: string[] = [];
  if (!pae) {
    const pde = phys.read32(cpu.rootPa + (va >>> 22) * 4);
    parts.push(`*pde = ${px32(pde)}`);
    if ((pde & Pte.P) !== 0 && (pde & Pte.PS) === 0)
      parts.push(`*pte = ${px32(phys.read32(((pde & Pte.ADDR_LO_MASK) >>> 0) + ((va >>> 12) & 1023) * 4))}`);
    return parts.join(" ");
  }
  const pdptePa = cpu.rootPa + (va >>> 30) * 8;
  const pdpteLo = phys.read32(pdptePa);
  parts.push(`*pdpt = ${hex64(phys.read32(pdptePa + 4), pdpteLo)}`);
  if ((pdpteLo & Pte.P) === 0) return parts.join(" ");
  const pdePa = ((pdpteLo & Pte.ADDR_LO_MASK) >>> 0) + ((va >>> 21) & 511) * 8;
  const pdeLo = phys.read32(pdePa);
  const pdeHi = phys.read32(pdePa + 4);
  parts.push(`*pde = ${hex64(pdeHi, pdeLo)}`);
  if ((pdeLo & Pte.P) !== 0 && (pdeLo & Pte.PS) === 0) {
    const ptePa = (pdeHi & 0xf) * 4294967296 + ((pdeLo & Pte.ADDR_LO_MASK) >>> 0) + ((va >>> 12) & 511) * 8;
    parts.push(`*pte = ${hex64(phys.read32(ptePa + 4), phys.read32(ptePa))}`);
  }
  return parts.join(" ");
}

/** CR0 and CR4 as the model has them (PE MP ET NE WP AM PG; PSE PAE PGE OSFXSR OSXMMEXCPT SMEP SMAP). */
function controlRegs(cpu: I386Cpu): string {
  const cr0 = (0x80040033 | (cpu.cr0Wp ? 0x10000 : 0)) >>> 0;
  const cr4 =
    (cpu.cr4Pse ? 0x10 : 0) |
    (cpu.pae ? 0x20 : 0) |
    (cpu.cr4Pge ? 0x80 : 0) |
    0x600 |
    (cpu.cr4Smep ? 0x100000 : 0) |
    (cpu.cr4Smap ? 0x200000 : 0);
  return `CR0: ${px32(cr0)} CR2: ${px32(cpu.cr2)} CR3: ${px32(cpu.cr3)} CR4: ${px32(cr4)}`;
}

/** The kernel text address vmlab reports as the faulting instruction's (a plain dereference: mov (%eax),%al). */
const KERNEL_ACCESS_EIP = 0xc10b_2f4a;

/** page_fault_oops on 32-bit: show_fault_oops, dump_pagetable, __die, __show_regs. */
function pageFaultOops32(
  k: KernelCore,
  cpu: I386Cpu,
  task: Task,
  va: number,
  errorCode: number,
): KernelAccessResult {
  const lines: string[] = [];
  const ec = errorCode;
  if (ec & PfErr.ID) {
    // the leaf as CR3's tables have it: NX (PAE) or a user page under SMEP
    const leaf = k.mapper.lookup(pfnUnchecked(cpu.rootPa / 4096), vpnUnchecked(va >>> 12));
    if (leaf !== null) {
      if (cpu.pae && leaf.hi & PteHi.XD)
        lines.push(`kernel tried to execute NX-protected page - exploit attempt? (uid: ${task.uid})`);
      else if (leaf.lo & Pte.US && cpu.cr4Smep)
        lines.push(`unable to execute userspace code (SMEP?) (uid: ${task.uid})`);
    }
  }
  lines.push(
    va < 4096
      ? `BUG: kernel NULL pointer dereference, address: ${px32(va)}`
      : `BUG: unable to handle page fault for address: ${px32(va)}`,
  );
  const what = ec & PfErr.ID ? "instruction fetch" : ec & PfErr.WR ? "write access" : "read access";
  lines.push(`#PF: ${ec & PfErr.US ? "user" : "supervisor"} ${what} in kernel mode`);
  const kind = !(ec & PfErr.P)
    ? "not-present page"
    : ec & PfErr.RSVD
      ? "reserved bit violation"
      : "permissions violation";
  lines.push(`#PF: error_code(0x${ec.toString(16).padStart(4, "0")}) - ${kind}`);
  lines.push(dumpPagetable32(k, cpu, va));
  // __die_header's " PTI" (CONFIG_MITIGATION_PAGE_TABLE_ISOLATION, PAE only; vmlab's pti=off kernel is built without it)
  const pti = k.config.pti ? " PTI" : "";
  lines.push(`Oops: ${ec.toString(16).padStart(4, "0")} [#${k.oopses.length + 1}] PREEMPT SMP${pti}`);
  lines.push(...dumpStackInfo(cpu.id, task.uid, task.pid, task.comm, k.oopses.length + 1));
  lines.push(`EIP: 0x${px32(ec & PfErr.ID ? va : KERNEL_ACCESS_EIP)}`);
  lines.push(`EAX: ${px32(va)} EBX: 00000000 ECX: 00000000 EDX: 00000000`);
  lines.push(controlRegs(cpu));
  return oopsEnd(k, cpu, task, lines, errorCode);
}

/**
 * `explain kernel`: what the 32-bit fault handler makes of the #PF `code`
 * a plain supervisor access to `va` takes, changing nothing.
 */
export function explainKernelFault32(
  k: KernelCore,
  cfg: Fault32Config,
  c: Mmu,
  va: bigint,
  code: number,
): string[] {
  const cpu = i386Cpu(c);
  const addr = Number(va);
  const l = cfg.layout;
  const oops =
    addr < 4096
      ? `page_fault_oops: "BUG: kernel NULL pointer dereference, address: ${px32(addr)}"`
      : `page_fault_oops: "BUG: unable to handle page fault for address: ${px32(addr)}"`;
  if (k.va.isKernel(va)) {
    const lines: string[] = [];
    const inVmalloc = addr >= l.vmallocStart32 && addr < l.vmallocEnd32;
    if (inVmalloc && !(code & (PfErr.P | PfErr.US | PfErr.RSVD))) {
      if (l.pae && !cfg.pti)
        lines.push(
          "do_kern_addr_fault: no vmalloc fault on PAE: every PGD's PDPTE 3 points to the one kernel PMD (SHARED_KERNEL_PMD), so a PDE vmalloc adds is in every process at once",
        );
      else if (!cfg.lazy && l.pae)
        lines.push(
          "do_kern_addr_fault: no vmalloc fault (Linux 5.8+): under PTI each PGD has its own kernel PMD (SHARED_KERNEL_PMD is false), and arch_sync_kernel_mappings copied each new vmalloc PDE into every one of them on pgd_list when vmalloc made it",
        );
      else if (!cfg.lazy)
        lines.push(
          "do_kern_addr_fault: no vmalloc fault (Linux 5.8+): arch_sync_kernel_mappings copied each new vmalloc PDE into every PGD on pgd_list when vmalloc made it",
        );
      else {
        const pdeK = pdeLo(k, k.rootPfn * 4096, addr);
        const mine = pdeLo(k, cpu.rootPa, addr);
        const idx = l.pae ? (addr >>> 21) & 511 : addr >>> 22;
        lines.push(
          (pdeK & Pte.P) !== 0 && (mine & Pte.P) === 0
            ? `vmalloc_fault: a vmalloc address whose PDE ${idx} swapper_pg_dir has (0x${px32(pdeK)}) and this PGD${l.pae ? "'s own kernel PMD" : ""} lacks: copy it (vmalloc_sync_one) and retry; counted in vmalloc_faults`
            : "vmalloc_fault: swapper_pg_dir has no mapping here either (nothing to copy), so",
        );
        if ((pdeK & Pte.P) !== 0 && (mine & Pte.P) === 0) return lines;
      }
    } else lines.push("do_kern_addr_fault: a kernel address (above PAGE_OFFSET 0xc0000000)");
    if (code === (PfErr.WR | PfErr.P) || code === (PfErr.ID | PfErr.P))
      lines.push(
        "spurious_kernel_fault: if the tables allow the access now (a stale TLB entry), it retries; else",
      );
    if (code & PfErr.ID && cpu.pae)
      lines.push('show_fault_oops: "kernel tried to execute NX-protected page - exploit attempt?"');
    lines.push(oops);
    return lines;
  }
  if (code & PfErr.ID) return [USER_FETCH_STORY, oops];
  if (code & PfErr.RSVD) return ["do_user_addr_fault: a reserved bit in a user entry: pgtable_bad, an oops"];
  if (cpu.cr4Smap && !(code & PfErr.US) && !cpu.rflagsAc)
    return [
      "do_user_addr_fault: SMAP is on and EFLAGS.AC is clear: a supervisor access to a user address outside the uaccess routines (no STAC) is an oops at once, mapped or not",
      oops,
    ];
  const task = contextTask(k, cpu.id);
  return [userAddrStory(task, `SMAP ${cpu.cr4Smap ? "lifted (EFLAGS.AC=1)" : "off"}`), oops];
}
