/**
 * RV32 Linux (`riscv-sv32`, CONFIG_32BIT) booted on Sv32 harts: the
 * pgtable.h layout for 32-bit, pgtable-32.h's two levels of 4-byte PTEs,
 * setup_bootmem's 1 GiB memory_limit (no HIGHMEM on RISC-V), the rv32 swap
 * entry, 9-bit ASIDs, no THP, vmalloc_fault. Figures derived by hand from
 * the headers (see layout.ts).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import type { KernelConfig } from "../../core/config.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { mmapArgs } from "../../mm/mmap.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { anonPages as anon, accessOk as ok, settled } from "../../mm.testkit.ts";
import { lowmemEndPfn32 } from "./init32.ts";
import { riscv32LayoutConsts } from "./layout.ts";
import type { RiscvPgtable } from "./pgtable.ts";
import type { RiscvTlb } from "./tlb.ts";

function boot(cfg: Partial<KernelConfig> = {}): Kernel<RiscvCpu, RiscvTlb> {
  return new Kernel<RiscvCpu, RiscvTlb>({
    arch: "riscv-sv32",
    ramBytes: 64 << 20,
    cpus: 2,
    checkCoherence: true,
    ...cfg,
  });
}

describe("RV32's layout (pgtable.h, CONFIG_32BIT)", () => {
  it("TASK_SIZE = FIXADDR_START, then PCI io, vmemmap, vmalloc (= modules), PAGE_OFFSET 0xc0000000", () => {
    const c = riscv32LayoutConsts();
    // KERN_VIRT_SIZE = (1024 / 2 * 4M) / 2 = 1G; VMALLOC_SIZE = 512M below PAGE_OFFSET
    expect(c.kernVirtSize).toBe(1n << 30n);
    expect([c.vmallocStart, c.vmallocEnd]).toEqual([0xa000_0000n, 0xc000_0000n]);
    expect([c.modulesVaddr, c.modulesEnd]).toEqual([0xa000_0000n, 0xc000_0000n]);
    // VMEMMAP_SIZE = 2^(32 - 12 - 1 + 6) = 32M; PCI_IO_SIZE 16M; FIXADDR_SIZE = PGDIR_SIZE + FIX_FDT_SIZE = 8M
    expect(c.vmemmapStart).toBe(0x9e00_0000n);
    expect([c.pciIoStart, c.pciIoEnd]).toEqual([0x9d00_0000n, 0x9e00_0000n]);
    expect([c.fixaddrStart, c.fixaddrTop]).toEqual([0x9c80_0000n, 0x9d00_0000n]);
    expect(c.taskSize).toBe(0x9c80_0000n);
  });
});

describe("the kernel on RV32", () => {
  it("boots: satp MODE Sv32 (bit 31) on swapper_pg_dir, 2 levels, __va(pa) = pa + 0xc0000000", () => {
    const k = boot();
    const cpu = k.machine.cpus[0] as RiscvCpu;
    expect(cpu.vaSize).toBe(32);
    expect(cpu.satpLo >>> 31).toBe(1);
    expect(cpu.rootPa).toBe(k.rootPfn * 4096);
    expect(k.levels).toBe(2);
    const r = k.kernelAccess(0, 0xc012_3456n, Access.Read);
    expect(r.ok && r.pa).toBe(0x12_3456);
    // the image (16 MiB) through the linear map: no separate kernel mapping on 32-bit
    const img = k.kernelAccess(0, 0xc100_0010n, Access.Read);
    expect(img.ok && img.pa).toBe((16 << 20) + 0x10);
    expect(k.config.thp).toBe("never");
    settled(k);
  });

  it("pgtable-32.h: 1024 4-byte entries, USER_PTRS_PER_PGD 626, the rv32 swap entry", () => {
    const k = boot();
    const pt = k.arch.pgtable as RiscvPgtable;
    expect([pt.levels, pt.ptrsPerTable, pt.entryBytes, pt.hpagePmdNr]).toEqual([2, 1024, 4, 1024]);
    // TASK_SIZE / PGDIR_SIZE = 0x9c800000 >> 22 = 626
    expect(pt.userPgtablesCeiling).toBe(626 * 1024);
    expect(pt.hugetlbPud).toBe(false);
    expect(pt.hugePmdShare).toBe(false);
    // __swp_entry(0, 5) = 5 << 12; pte_swp_mkexclusive sets bit 6
    expect([pt.mkSwapHi(5, true), pt.mkSwapLo(5, true)]).toEqual([0, 0x5040]);
    // the largest offset: bits 31..12
    expect(pt.swapOffset(0, pt.mkSwapLo(0xfffff, false))).toBe(0xfffff);
  });

  it("demand paging and COW in a 2-level table, a process's PGD has the kernel's entries 626..1023", () => {
    const k = boot();
    const p = k.spawn("parent") as Task;
    k.switchTo(0, p);
    const a = anon(k, p, 4);
    expect(a < 0x9c80_0000n).toBe(true);
    const w = k.userAccess(0, p, a + 5n, Access.Write, 0x5a);
    expect(w.ok && w.faults).toBe(1);
    const c = k.fork(p, "child") as Task;
    k.switchTo(1, c);
    expect(ok(k.userAccess(1, c, a + 5n, Access.Read))).toBe(0x5a);
    const cw = k.userAccess(1, c, a + 5n, Access.Write, 0x11);
    expect(cw.ok && cw.faults).toBe(1);
    expect(ok(k.userAccess(0, p, a + 5n, Access.Read))).toBe(0x5a);
    const phys = k.machine.phys;
    const pgd = p.mm!.pgdPfn * 4096;
    // the linear map's first entry (768: 0xc0000000 >> 22) is the kernel's, 4 bytes each
    expect(phys.read32(pgd + 768 * 4)).toBe(phys.read32(k.rootPfn * 4096 + 768 * 4));
    expect(phys.read32(pgd + 768 * 4)).not.toBe(0);
    // the user entry of `a` (index a >> 22) is below 626
    expect(Number(a >> 22n)).toBeLessThan(626);
    settled(k);
  });

  it("setup_bootmem: RAM above 1 GiB (memory_limit = KERN_VIRT_SIZE) and the page under -PAGE_SIZE stay unused", () => {
    const k = boot({ ramBytes: 2 * 2 ** 30, cpus: 1 });
    // 1 GiB = 262144 frames; the last one (PA 0x3ffff000, mapped at 0xfffff000) is reserved
    expect(lowmemEndPfn32(k.machine.phys.nrFrames)).toBe(262143);
    const zone = k.buddy.zones[2];
    expect(zone.name).toBe("Normal");
    expect(zone.managed).toBeLessThan(262143);
    expect(k.buddy.zones[0].managed + k.buddy.zones[1].managed).toBe(0);
    expect(k.pages.kind[262143]).toBe(PageKind.Reserved);
    expect(k.pages.kind[262144]).toBe(PageKind.Reserved);
    expect(k.pages.kind[400000]).toBe(PageKind.Reserved);
    const top = k.kernelAccess(0, 0xffff_f000n, Access.Read);
    expect(top.ok && top.pa).toBe(0x3fff_f000);
  });

  it("ZONE_DMA and ZONE_DMA32 are not built (ZONE_DMA32 if 64BIT): no view shows them", () => {
    const k = boot({ cpus: 1 });
    expect(k.view.zoneinfo().map((z) => z.name)).toEqual(["Normal"]);
    // lowmem_reserve over the configured zones only: Normal's own, 0
    expect(k.view.zoneinfo()[0].protection).toEqual([0]);
    const names = Object.keys(k.view.vmstat());
    expect(names.filter((n) => /_dma(32)?$/.test(n))).toEqual([]);
    expect(names).toContain("pgalloc_normal");
    // an x86-64 kernel has them
    const x = new Kernel({ arch: "x86_64", ramBytes: 64 << 20, cpus: 1 });
    expect(x.view.zoneinfo().map((z) => z.name)).toEqual(["DMA", "DMA32", "Normal"]);
    expect(Object.keys(x.view.vmstat())).toContain("pgalloc_dma32");
  });

  it("asids_init: 9 ASID bits on an RV32 hart, 512 ASIDs", () => {
    const k = boot({ cpus: 1 });
    expect(k.tlbMgr.asids.numAsids).toBe(512);
    expect(k.tlbMgr.asids.versionStep).toBe(512);
    const p = k.spawn("a") as Task;
    k.switchTo(0, p);
    const cpu = k.machine.cpus[0] as RiscvCpu;
    expect(cpu.asid).toBeGreaterThan(0);
    expect(cpu.asid).toBe((cpu.satpLo >>> 22) & 0x1ff);
  });

  it("refuses what RV32 Linux lacks: svnapot, THP, more than 4G of swap", () => {
    expect(() => boot({ svnapot: true })).toThrow(/svnapot: Svnapot is RV64-only/);
    expect(() => boot({ thp: "always" })).toThrow(/thp: RV32 Linux has no transparent huge pages/);
    expect(() => boot({ swapBytes: 2 ** 33 })).toThrow(/swap: an RV32 swap entry/);
  });

  it("madvise_behavior_valid without CONFIG_TRANSPARENT_HUGEPAGE: MADV_HUGEPAGE, NOHUGEPAGE, COLLAPSE are -EINVAL", () => {
    const k = boot();
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(4 << 20));
    for (const advice of ["hugepage", "nohugepage", "collapse"])
      expect(k.madvise(t, a, 4n << 20n, advice)).toBe(-22n);
    // the other advices are valid: MADV_DONTNEED of the range is 0
    expect(k.madvise(t, a, 4n << 20n, "dontneed")).toBe(0n);
    // RV64's kernel has THP: MADV_HUGEPAGE is 0 there
    const k64 = new Kernel({ arch: "riscv-sv39", ramBytes: 64 << 20, cpus: 1 });
    const t64 = k64.spawn("A")!;
    k64.switchTo(0, t64);
    const b = k64.mmap(t64, mmapArgs(4 << 20));
    expect(k64.madvise(t64, b, 4n << 20n, "hugepage")).toBe(0n);
  });

  it("vmalloc_fault: a vmalloc PGD entry made after fork reaches the process's PGD at its first use", () => {
    const k = boot();
    const p = k.spawn("p") as Task;
    k.switchTo(0, p);
    const v = k.vmalloc(8192);
    expect(v).toBe(0xa000_0000n);
    const pgd = p.mm!.pgdPfn * 4096 + 640 * 4; // 0xa0000000 >> 22
    expect(k.machine.phys.read32(pgd)).toBe(0);
    const r = k.kernelAccess(0, v, Access.Read);
    expect(r.ok).toBe(true);
    expect(k.vmallocFaults).toBe(1);
    expect(k.machine.phys.read32(pgd)).toBe(k.machine.phys.read32(k.rootPfn * 4096 + 640 * 4));
    // an address vmalloc space holds nothing at: no_context, an oops
    const bad = k.kernelAccess(0, 0xa080_0000n, Access.Read);
    expect(bad.ok).toBe(false);
    expect(k.vmallocFaults).toBe(1);
    // die_kernel_fault and die in RV32's words: REG_FMT "%08lx", sstatus with no UXL (SPP, SPIE), scause 13
    const oops = bad.ok ? [] : bad.oops;
    expect(oops).toContain("Unable to handle kernel paging request at virtual address a0800000");
    expect(oops).toContain("epc : c100c2a0");
    expect(oops).toContain("status: 00000120 badaddr: a0800000 cause: 0000000d");
  });
});
