/**
 * Page-table isolation on 32-bit x86 with PAE (Linux's pti.c with
 * CONFIG_X86_32, pgtable.c's pgd_alloc without SHARED_KERNEL_PMD,
 * entry_32.S's CR3 switches): the 8 KiB PGD pair, the preallocated PMDs,
 * the per-mm kernel PMD and vmalloc's sync into it, what the user PDPT
 * maps of the kernel and with which bits, and the TLB cost of CR3 writes
 * without PCIDs. Invariant and TLB coherence checkers on throughout.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { I386Cpu } from "../../../hw/arch/i386/Cpu.ts";
import { Pte } from "../../../hw/arch/i386/pte.ts";
import { PfErr } from "../../../hw/arch/x86_64/fault.ts";
import type { KernelConfig } from "../../core/config.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { anonPages as anon, kernelReadsWithoutFault, accessOk as ok, settled } from "../../mm.testkit.ts";
import type { I386Arch } from "./i386.ts";
import { pdpteTable } from "./pgtable_32.ts";
import { ceaPages32, ENTRY_TEXT_PAGES_32, ENTRY_TEXT_START_32 } from "./pti_32.ts";
import type { I386Tlb } from "./tlb_32.ts";

function boot(cfg: Partial<KernelConfig> = {}): Kernel<I386Cpu, I386Tlb> {
  return new Kernel<I386Cpu, I386Tlb>({
    arch: "i386-pae",
    ramBytes: 128 << 20,
    cpus: 2,
    pti: true,
    checkCoherence: true,
    ...cfg,
  });
}

const vpn = (va: number | bigint) => Number(BigInt(va) / 4096n) as never;

describe("PTI on i386-pae: the tables", () => {
  it("boots with swapper_pg_dir as an 8 KiB pair whose user PDPT maps only the entry text and the cpu_entry_area", () => {
    const k = boot();
    const phys = k.machine.phys;
    const root = k.rootPfn;
    expect(root % 2).toBe(0); // PGD_ALIGN 2 * PAGE_SIZE
    const user = root + 1;
    // pti_user_pagetable_walk_pmd's set_pud: _KERNPG_TABLE (P RW A D) in init_mm's user PDPTE 3
    expect(phys.read32(user * 4096 + 24) & 0xfff).toBe(Pte.P | Pte.RW | Pte.A | Pte.D);
    for (let i = 0; i < 3; i++) expect(phys.read32(user * 4096 + i * 8)).toBe(0);
    const m = k.mapper;
    // the kernel: non-global under PTI (lowmem's 2M pages, the image's 4K pages, kernel text included)
    for (const va of [0xc0400000, 0xc1000000, 0xc1400000])
      expect(m.lookup(root as never, vpn(va))!.lo & Pte.G, `0x${va.toString(16)}`).toBe(0);
    // none of it from the user PDPT: direct map, image text, rodata, data, vmalloc
    const l = (k.arch as I386Arch).layout;
    for (const va of [0xc0400000, 0xc1000000, 0xc1200000, 0xc1400000, l.vmallocStart32])
      expect(m.lookup(user as never, vpn(va)), `0x${va.toString(16)}`).toBeNull();
    // the entry text: the same PTEs in both, global, supervisor-only, executable (PTI_CLONE_PTE)
    for (let i = 0; i < ENTRY_TEXT_PAGES_32; i++) {
      const v = vpn(ENTRY_TEXT_START_32 + i * 4096);
      const kern = m.lookup(root as never, v)!;
      const usr = m.lookup(user as never, v)!;
      expect(usr).toMatchObject({ hi: kern.hi, lo: kern.lo, level: 0 });
      expect([kern.lo & Pte.G, kern.lo & Pte.US, kern.hi >>> 31]).toEqual([Pte.G, 0, 0]);
    }
    expect(m.lookup(user as never, vpn(ENTRY_TEXT_START_32 + ENTRY_TEXT_PAGES_32 * 4096))).toBeNull();
    // the cpu_entry_area: the PMD entry copied (PTI_CLONE_PMD, _PAGE_GLOBAL set in both), the page table shared
    const cea = l.ceaBase;
    const kPde = m.entryAt(root as never, vpn(cea), 1)!;
    const uPde = m.entryAt(user as never, vpn(cea), 1)!;
    expect([uPde.lo, uPde.hi]).toEqual([kPde.lo, kPde.hi]);
    expect(kPde.lo & Pte.G).toBe(Pte.G);
    // its pages: the RO IDT, then per CPU a writable GDT (a task gate writes it), guard pages unmapped; global
    const idt = m.lookup(user as never, vpn(cea))!;
    expect([idt.lo & Pte.RW, idt.lo & Pte.G]).toEqual([0, Pte.G]);
    const gdt = m.lookup(user as never, vpn(cea + 4096))!;
    expect([gdt.lo & Pte.RW, gdt.lo & Pte.G]).toEqual([Pte.RW, Pte.G]);
    expect(m.lookup(user as never, vpn(cea + 2 * 4096))).toBeNull(); // guard_entry_stack
    expect(m.lookup(user as never, vpn(cea + (ceaPages32(2) - 1) * 4096))).not.toBeNull(); // CPU 1's last TSS page
    settled(k);
  });

  it("gives each mm an order-1 PGD pair and five PMDs: three user ones shared by both PDPTs, a kernel PMD and a user kernel PMD of its own", () => {
    const k = boot();
    const phys = k.machine.phys;
    const before = k.pageTablePages;
    const a = k.spawn("a") as Task;
    // NR_PAGETABLE: the five PMDs (pagetable_pmd_ctor), not the pair (__get_free_pages); pt_pages too
    expect(k.pageTablePages - before).toBe(5);
    expect(a.mm!.ptPages).toBe(5);
    const g = a.mm!.pgdPfn;
    expect(g % 2).toBe(0);
    expect(k.userPgdPfn(a.mm!)).toBe(g + 1);
    const pmds = [0, 8, 16, 24].map((o) => pdpteTable(phys, g * 4096 + o));
    const userKernelPmd = pdpteTable(phys, (g + 1) * 4096 + 24);
    expect(new Set([...pmds, userKernelPmd, g, g + 1]).size).toBe(7);
    // PDPTEs: P alone (pud_populate), the user half mirrored (pti_set_user_pgtbl, no NX: no _PAGE_USER here)
    for (let i = 0; i < 4; i++) {
      expect(phys.read32(g * 4096 + i * 8) & 0xfff).toBe(Pte.P);
      expect(phys.read32((g + 1) * 4096 + i * 8) & 0xfff).toBe(Pte.P);
      expect(phys.read32(g * 4096 + i * 8 + 4)).toBe(0);
    }
    for (let i = 0; i < 3; i++) expect(pdpteTable(phys, (g + 1) * 4096 + i * 8)).toBe(pmds[i]);
    // not SHARED_KERNEL_PMD: a copy of swapper_pg_dir's, entry for entry
    const swapperPmd = pdpteTable(phys, k.rootPfn * 4096 + 24);
    expect(pmds[3]).not.toBe(swapperPmd);
    for (let i = 0; i < 512; i++)
      expect(phys.read32(pmds[3] * 4096 + i * 8)).toBe(phys.read32(swapperPmd * 4096 + i * 8));
    settled(k);
    // a fork makes the same; exit gives all seven pages back (pgd_mop_up_pmds, _pgd_free)
    const b = k.fork(a, "b") as Task;
    expect(k.pageTablePages - before).toBe(2 * 5);
    settled(k);
    k.exit(b, "done");
    expect(k.pageTablePages - before).toBe(5);
    settled(k);
  });

  it("syncs a new vmalloc PDE into every mm's own kernel PMD (arch_sync_kernel_mappings), where without PTI the shared PMD has it", () => {
    for (const pti of [true, false]) {
      const k = boot({ pti });
      const procs = [k.spawn("a") as Task, k.spawn("b") as Task];
      const v = k.vmalloc(8192);
      const pdeOff = ((Number(v) >>> 21) & 511) * 8;
      const phys = k.machine.phys;
      const swapperPde = phys.read32(pdpteTable(phys, k.rootPfn * 4096 + 24) * 4096 + pdeOff);
      expect(swapperPde & Pte.P).toBe(Pte.P);
      for (const t of procs) {
        const own = pdpteTable(phys, t.mm!.pgdPfn * 4096 + 24);
        expect(own === pdpteTable(phys, k.rootPfn * 4096 + 24), `pti=${pti}`).toBe(!pti);
        expect(phys.read32(own * 4096 + pdeOff)).toBe(swapperPde);
        kernelReadsWithoutFault(k, t, v);
      }
      expect(k.vmallocFaults).toBe(0);
      settled(k);
    }
  });

  it("vmalloc_sync=lazy (4.19 to 5.7): each process's kernel PMD lacks the PDE until its vmalloc fault copies it", () => {
    const k = boot({ vmallocSync: "lazy" });
    const procs = [k.spawn("a") as Task, k.spawn("b") as Task, k.spawn("c") as Task];
    const v = k.vmalloc(8192);
    const pdeOff = ((Number(v) >>> 21) & 511) * 8;
    const phys = k.machine.phys;
    const swapperPde = phys.read32(pdpteTable(phys, k.rootPfn * 4096 + 24) * 4096 + pdeOff);
    procs.forEach((t, i) => {
      const own = pdpteTable(phys, t.mm!.pgdPfn * 4096 + 24);
      expect(phys.read32(own * 4096 + pdeOff)).toBe(0);
      k.switchTo(1, t);
      k.machine.cpus[1].invlpg(Number(v)); // (a TLB entry for v is non-global under PTI, but be sure)
      const r = k.kernelAccess(1, v, Access.Read);
      expect(r.ok && r.faults).toBe(1);
      expect(k.machine.cpus[1].errorCode).toBe(0); // a supervisor read of a not-present page
      expect(k.vmallocFaults).toBe(i + 1);
      expect(phys.read32(own * 4096 + pdeOff)).toBe(swapperPde);
      expect(k.kernelAccess(1, v, Access.Read).ok).toBe(true);
      expect(k.vmallocFaults).toBe(i + 1);
      // the user PDPT's kernel PMD never gets vmalloc space
      const userOwn = pdpteTable(phys, (t.mm!.pgdPfn + 1) * 4096 + 24);
      expect(phys.read32(userOwn * 4096 + pdeOff)).toBe(0);
    });
    // a process made now copies the PDE with swapper_pg_dir's kernel PMD
    const d = k.spawn("d") as Task;
    expect(phys.read32(pdpteTable(phys, d.mm!.pgdPfn * 4096 + 24) * 4096 + pdeOff)).toBe(swapperPde);
    settled(k);
  });
});

describe("PTI on i386-pae: entry, exit and the TLB", () => {
  it("writes CR3 at every kernel entry and exit: the user PDPT (bit 12 set) while user code runs", () => {
    const k = boot();
    const a = k.spawn("a") as Task;
    const p = anon(k, a, 4);
    k.switchTo(0, a);
    const st = k.tlbMgr.states[0];
    const cpu = k.machine.cpus[0];
    const w0 = st.ptiCr3Writes;
    for (let i = 0; i < 4; i++) ok(k.userAccess(0, a, p + BigInt(i) * 4096n, Access.Write, i));
    expect(st.ptiCr3Writes - w0).toBe(1 + 4 * 2); // the first return to user, then in and out per fault
    expect(cpu.cr3).toBe((a.mm!.pgdPfn + 1) * 4096);
    const w1 = st.ptiCr3Writes;
    for (let i = 0; i < 4; i++) ok(k.userAccess(0, a, p + BigInt(i) * 4096n, Access.Read));
    expect(st.ptiCr3Writes).toBe(w1);
    k.madvise(a, p, 4096n, "normal"); // a system call: in on the kernel PDPT
    expect(cpu.cr3).toBe(a.mm!.pgdPfn * 4096);
    expect(st.ptiCr3Writes).toBe(w1 + 1);
    expect(st.ptiUserFlushes).toBe(0); // no user PCID to flush later: the CR3 write flushed already
    settled(k);
  });

  it("makes every system call cost the user's TLB entries (no PCIDs), and the kernel's (non-global)", () => {
    const run = (pti: boolean) => {
      const k = boot({ pti });
      const a = k.spawn("a") as Task;
      const p = anon(k, a, 8);
      k.switchTo(0, a);
      k.kernelAccess(0, 0xc0400000n, Access.Read);
      for (let i = 0; i < 8; i++) ok(k.userAccess(0, a, p + BigInt(i) * 4096n, Access.Write, 1));
      const cpu = k.machine.cpus[0];
      let user = 0;
      let kernel = 0;
      for (let round = 0; round < 3; round++) {
        k.madvise(a, p, 4096n, "normal"); // enter and leave the kernel
        const w = cpu.walks;
        k.kernelAccess(0, 0xc0400000n, Access.Read); // a direct-map read in the kernel
        kernel += cpu.walks - w;
        const w2 = cpu.walks;
        for (let i = 0; i < 8; i++) ok(k.userAccess(0, a, p + BigInt(i) * 4096n, Access.Read));
        user += cpu.walks - w2;
      }
      settled(k);
      return { user, kernel };
    };
    expect(run(true)).toEqual({ user: 3 * 8, kernel: 3 });
    expect(run(false)).toEqual({ user: 0, kernel: 0 });
  });

  it("interrupts a CPU running the mm in user mode for a flush: kernel CR3 in, user CR3 out, no stale entry", () => {
    const k = boot();
    const a = k.spawn("a") as Task;
    const p = anon(k, a, 2);
    const a2 = k.thread(a, "a2") as Task;
    k.switchTo(0, a);
    k.switchTo(1, a2);
    ok(k.userAccess(0, a, p, Access.Write, 1));
    ok(k.userAccess(1, a2, p, Access.Read));
    const st1 = k.tlbMgr.states[1];
    expect(st1.inUser).toBe(true);
    const w = st1.ptiCr3Writes;
    expect(k.munmap(a, p, 4096n)).toBe(0n);
    expect(st1.ptiCr3Writes).toBe(w + 2);
    expect(k.machine.cpus[1].cr3).toBe((a.mm!.pgdPfn + 1) * 4096);
    a.caught.add("SIGSEGV");
    expect(k.userAccess(1, a2, p, Access.Read).ok).toBe(false);
    settled(k);
  });

  it("makes a user read of kernel memory a not-present fault (0x4), where without PTI the page is present (0x5)", () => {
    for (const pti of [true, false]) {
      const k = boot({ pti });
      const a = k.spawn("a") as Task;
      k.switchTo(0, a);
      a.caught.add("SIGSEGV");
      const r = k.userAccess(0, a, 0xc0400000n, Access.Read);
      expect(r.ok).toBe(false);
      expect(k.machine.cpus[0].errorCode, `pti=${pti}`).toBe(pti ? PfErr.US : PfErr.US | PfErr.P);
    }
  });

  it("adds no NX to the kernel's view of user memory (a PDPTE has no _PAGE_USER): with SMEP off the kernel can run it, unlike x86-64", () => {
    const k = boot({ smep: false });
    const a = k.spawn("a") as Task;
    k.switchTo(0, a);
    const code = anon(k, a, 1, true);
    ok(k.userAccess(0, a, code, Access.Read));
    const r = k.kernelAccess(0, code, Access.Exec);
    expect(r.ok).toBe(true);
    settled(k);
  });

  it("prints PTI in the oops header", () => {
    const k = boot();
    const r = k.kernelAccess(0, 0xd1234567n, Access.Write, 1);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.oops.some((l) => /^Oops: 0002 \[#1\] PREEMPT SMP PTI$/.test(l))).toBe(true);
  });

  it("is refused without PAE, with Linux's reason, and under the Windows profile", () => {
    expect(() => boot({ arch: "i386" })).toThrow(/needs PAE .*X86_64 \|\| X86_PAE/);
    expect(() => boot({ pti: false, vmallocSync: "lazy" })).toThrow(/vmalloc_sync/);
    expect(() => boot({ profile: "windows" })).toThrow(/KVA Shadow is not modelled/);
  });
});
