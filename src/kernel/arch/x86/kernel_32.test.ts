/**
 * The kernel booted on 32-bit x86 (arch=i386, arch=i386-pae) end to end:
 * the 3G/1G layout, demand paging and COW, the vmalloc fault of
 * vmalloc_sync=lazy (one per process per new vmalloc PDE; none with eager,
 * none on PAE), highmem frames reached through kmap_local_page and kmap,
 * the lowmem limit, swap, the 32-bit oops, and no PCIDs; the invariant
 * checker and the TLB coherence checker on throughout.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { I386Cpu } from "../../../hw/arch/i386/Cpu.ts";
import type { KernelConfig } from "../../core/config.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { mkSwapEntry } from "../../mm/arch.ts";
import { Gfp } from "../../mm/gfp.ts";
import { anonPages as anon, kernelReadsWithoutFault, accessOk as ok, settled } from "../../mm.testkit.ts";
import type { I386Arch } from "./i386.ts";
import { fixToVirt, KM_MAX_IDX } from "./layout_32.ts";

function boot(cfg: Partial<KernelConfig> = {}): Kernel<I386Cpu> {
  return new Kernel<I386Cpu>({ arch: "i386", ramBytes: 128 << 20, cpus: 2, checkCoherence: true, ...cfg });
}

function arch(k: Kernel): I386Arch {
  return k.arch as I386Arch;
}

describe("the kernel on i386 (2-level paging)", () => {
  it("boots: CR4.PSE/PGE, no PCIDs, no NX; lowmem mapped at 0xc0000000 with 4M pages", () => {
    const k = boot();
    const cpu = k.machine.cpus[0];
    expect(cpu.pae).toBe(false);
    expect(cpu.cr4Pse && cpu.cr4Pge).toBe(true);
    expect(cpu.cr3).toBe(k.rootPfn * 4096);
    expect(k.config.pcid).toBe(false);
    // __va(0x123000) = 0xc0123000, through a 4 MiB PDE of swapper_pg_dir
    expect(k.directVa(0x123000)).toBe(0xc0123000n);
    const r = k.kernelAccess(0, 0xc0123000n, Access.Read);
    expect(r.ok && r.pa).toBe(0x123000);
    expect(k.mapper.lookup(k.rootPfn, (0xc0123000 / 4096) as never)?.level).toBe(1);
    // the image's large page is split: text is 4K pages
    expect(k.mapper.lookup(k.rootPfn, (0xc1000000 / 4096) as never)?.level).toBe(0);
    expect(k.layout.userEnd).toBe(0xc0000000n);
    expect(k.layout.vmallocStart).toBe(0xc0000000n + BigInt(128 << 20) + BigInt(8 << 20));
    settled(k);
  });

  it("demand paging, COW after fork, the user half's PDEs own, the kernel's copied", () => {
    const k = boot();
    const a = k.spawn("a") as Task;
    const p = anon(k, a, 4);
    expect(p < 0xc0000000n).toBe(true);
    k.switchTo(0, a);
    ok(k.userAccess(0, a, p, Access.Write, 7));
    const b = k.fork(a, "b") as Task;
    k.switchTo(1, b);
    expect(ok(k.userAccess(1, b, p, Access.Read))).toBe(7);
    ok(k.userAccess(1, b, p, Access.Write, 9));
    expect(ok(k.userAccess(0, a, p, Access.Read))).toBe(7);
    // entries 768..1023 of both page directories are swapper_pg_dir's
    const phys = k.machine.phys;
    for (const i of [768, 772, 1023])
      for (const t of [a, b])
        expect(phys.read32(t.mm!.pgdPfn * 4096 + i * 4)).toBe(phys.read32(k.rootPfn * 4096 + i * 4));
    settled(k);
  });

  it("every switch to another mm writes CR3 and flushes; the kernel's global entries survive", () => {
    const k = boot();
    const a = k.spawn("a") as Task;
    const b = k.spawn("b") as Task;
    const p = anon(k, a, 1);
    const q = anon(k, b, 1);
    k.switchTo(0, a);
    ok(k.userAccess(0, a, p, Access.Write, 1));
    k.kernelAccess(0, 0xc0200000n, Access.Read);
    const cpu = k.machine.cpus[0];
    const before = cpu.rootWrites;
    k.switchTo(0, b);
    expect(cpu.rootWrites).toBe(before + 1);
    ok(k.userAccess(0, b, q, Access.Write, 1));
    k.switchTo(0, a);
    // A's user entry was flushed (a miss), the kernel's global one was not (a hit)
    const walks = cpu.walks;
    ok(k.userAccess(0, a, p, Access.Read));
    expect(cpu.walks).toBe(walks + 1);
    const walks2 = cpu.walks;
    k.kernelAccess(0, 0xc0200000n, Access.Read);
    expect(cpu.walks).toBe(walks2);
    settled(k);
  });

  it("vmalloc_sync=lazy: each existing process takes one vmalloc fault for a new vmalloc PDE", () => {
    const k = boot({ vmallocSync: "lazy" });
    const procs = [k.spawn("a") as Task, k.spawn("b") as Task, k.spawn("c") as Task];
    const v = k.vmalloc(8192);
    const idx = Number(v) >>> 22;
    expect(k.machine.phys.read32(k.rootPfn * 4096 + idx * 4) & 1).toBe(1);
    for (const t of procs) expect(k.machine.phys.read32(t.mm!.pgdPfn * 4096 + idx * 4)).toBe(0);
    procs.forEach((t, i) => {
      k.switchTo(1, t);
      // v's TLB entry is global and would survive the CR3 write (hiding the missing PDE): drop it
      k.machine.cpus[1].invlpg(Number(v));
      const r = k.kernelAccess(1, v, Access.Read);
      expect(r.ok && r.faults).toBe(1);
      expect(k.vmallocFaults).toBe(i + 1);
      expect(k.machine.cpus[1].errorCode).toBe(0); // a supervisor read of a not-present page
      expect(k.machine.phys.read32(t.mm!.pgdPfn * 4096 + idx * 4)).toBe(
        k.machine.phys.read32(k.rootPfn * 4096 + idx * 4),
      );
      // INVLPG: the retry's entry is gone; the PDE now is there: no fault again
      k.machine.cpus[1].invlpg(Number(v));
      expect(k.kernelAccess(1, v, Access.Read).ok).toBe(true);
      expect(k.vmallocFaults).toBe(i + 1);
    });
    // a process forked now copies the PDE in pgd_ctor
    const d = k.spawn("d") as Task;
    expect(k.machine.phys.read32(d.mm!.pgdPfn * 4096 + idx * 4)).not.toBe(0);
    settled(k);
  });

  it("vmalloc_sync=eager (5.8+): arch_sync_kernel_mappings fills every PGD, so no vmalloc fault", () => {
    const k = boot();
    const procs = [k.spawn("a") as Task, k.spawn("b") as Task];
    const v = k.vmalloc(8192);
    const idx = Number(v) >>> 22;
    for (const t of procs) {
      expect(k.machine.phys.read32(t.mm!.pgdPfn * 4096 + idx * 4)).toBe(
        k.machine.phys.read32(k.rootPfn * 4096 + idx * 4),
      );
      kernelReadsWithoutFault(k, t, v);
    }
    expect(k.vmallocFaults).toBe(0);
    settled(k);
  });

  it("a 32-bit oops: 8-digit addresses, *pde, EIP/EAX and CR lines", () => {
    const k = boot({ vmallocSync: "lazy" });
    const r = k.kernelAccess(0, 0xd1234567n, Access.Write, 1);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.oops.slice(0, 4)).toEqual([
      "BUG: unable to handle page fault for address: d1234567",
      "#PF: supervisor write access in kernel mode",
      "#PF: error_code(0x0002) - not-present page",
      "*pde = 00000000",
    ]);
    expect(r.oops).toContain("EAX: d1234567 EBX: 00000000 ECX: 00000000 EDX: 00000000");
    expect(r.oops.at(-1)).toMatch(/^CR0: 80050033 CR2: d1234567 CR3: [0-9a-f]{8} CR4: 00300690$/);
    // vmalloc space with no PDE in swapper_pg_dir either: vmalloc_fault has nothing to copy
    expect(k.vmallocFaults).toBe(0);
  });

  it("2-level swap entries: offset in bits 31..9, type 0 in bits 5..1; the guard marker is type 31", () => {
    const k = boot({ swapBytes: 16 << 20 });
    const pt = k.arch.pgtable;
    for (const off of [1, 2, 3, 0x1234, 0x7fffff]) {
      const e = mkSwapEntry(pt, off, false);
      expect(e).toEqual({ hi: 0, lo: (off << 9) >>> 0 });
      expect(pt.isSwap(e.hi, e.lo)).toBe(true);
      expect(pt.present(e.hi, e.lo) || pt.none(e.hi, e.lo) || pt.isGuard(e.hi, e.lo)).toBe(false);
      expect(pt.swapOffset(e.hi, e.lo)).toBe(off);
    }
    expect(pt.guard).toEqual({ hi: 0, lo: (31 << 1) | (4 << 9) });
    expect(pt.isSwap(pt.guard.hi, pt.guard.lo)).toBe(false);
    // a page swapped out and back in, through the PTE
    const a = k.spawn("a") as Task;
    const p = anon(k, a, 4);
    k.switchTo(0, a);
    for (let i = 0; i < 4; i++) ok(k.userAccess(0, a, p + BigInt(i * 4096), Access.Write, 0x40 + i));
    k.madvise(a, p, 16384n, "pageout");
    expect(a.mm!.swapEnts).toBe(4);
    for (let i = 0; i < 4; i++)
      expect(ok(k.userAccess(0, a, p + BigInt(i * 4096), Access.Read))).toBe(0x40 + i);
    settled(k);
  });

  it("refuses pcid, pti, and more RAM than 4-byte PTEs reach", () => {
    expect(() => boot({ pcid: true })).toThrow(/PCIDs exist only in IA-32e mode/);
    expect(() => boot({ pti: true })).toThrow(
      /^pti: .*needs PAE \(MITIGATION_PAGE_TABLE_ISOLATION depends on X86_64 \|\| X86_PAE\)/,
    );
    expect(() => boot({ ramBytes: 8 * 2 ** 30 })).toThrow(/i386-pae/);
    expect(() => boot({ swapBytes: 2 ** 35 + 4096 })).toThrow(/2\^23 pages/);
    expect(() => boot({ arch: "i386-pae", swapBytes: 2 ** 35 + 4096 })).not.toThrow();
    expect(() => boot({ arch: "i386-pae", vmallocSync: "lazy" })).toThrow(/vmalloc_sync/);
  });
});

describe("highmem (i386, 1 GiB)", () => {
  const big = () => boot({ ramBytes: 1 << 30, cpus: 2 });

  it("lowmem ends at max_low_pfn; frames above have no kernel address; zones DMA, Normal, HighMem", () => {
    const k = big();
    const l = arch(k).layout;
    // MAXMEM = VMALLOC_END - PAGE_OFFSET - 128M, VMALLOC_END = PKMAP_BASE - 2 pages
    expect(l.pkmapBase).toBe(0xff400000);
    expect(l.vmallocEnd32).toBe(0xff3fe000);
    expect(l.maxLowPfn).toBe((0xff3fe000 - 0xc0000000 - (128 << 20)) / 4096);
    expect(l.highMemory).toBe(0xc0000000 + l.maxLowPfn * 4096);
    expect(k.directVa((l.maxLowPfn - 1) * 4096)).toBe(BigInt(l.highMemory - 4096));
    expect(k.directVa(l.maxLowPfn * 4096)).toBe(-1n);
    expect(k.kernelPfn(BigInt(l.highMemory - 4096))).toBe(l.maxLowPfn - 1);
    expect(k.kernelPfn(BigInt(l.highMemory))).toBe(-1);
    expect(k.buddy.zones.map((z) => z.name)).toEqual(["DMA", "Normal", "HighMem"]);
    expect(k.buddy.zones[2].startPfn).toBe(l.maxLowPfn);
    // GFP_KERNEL never gets highmem; GFP_HIGHUSER prefers it
    for (let i = 0; i < 50; i++) expect(k.buddy.alloc(0, Gfp.KERNEL, 7) < l.maxLowPfn).toBe(true);
    expect(k.buddy.alloc(0, Gfp.HIGHUSER, 9) >= l.maxLowPfn).toBe(true);
  });

  it("a user page in a highmem frame, copied through kmap_local: a fixmap slot the kernel reads through", () => {
    const k = big();
    const hm = arch(k).highmem;
    const l = arch(k).layout;
    const a = k.spawn("a") as Task;
    const p = anon(k, a, 1);
    k.switchTo(0, a);
    ok(k.userAccess(0, a, p, Access.Write, 0x5a));
    const pfn = k.mapper.lookup(a.mm!.pgdPfn, Number(p / 4096n) as never)!;
    const frame = (pfn.lo >>> 12) >>> 0;
    expect(frame >= l.maxLowPfn).toBe(true);
    // the fault's clear_user_highpage mapped and unmapped one slot
    expect(hm.localMaps).toBe(1);
    expect(hm.localIdx).toEqual([0, 0]);
    // kmap_local_page on CPU 1: slot FIX_KMAP_BEGIN + KM_MAX_IDX * 1
    const kva = hm.kmapLocalPage(k, 1, frame);
    expect(kva).toBe(BigInt(fixToVirt(l.fixKmapBegin + KM_MAX_IDX)));
    expect(kva >= BigInt(l.fixaddrTotStart)).toBe(true);
    const r = k.kernelAccess(1, kva, Access.Read);
    expect(r.ok && r.value).toBe(0x5a);
    expect(r.ok && r.pa).toBe(frame * 4096);
    // a nested map takes the next slot down
    const kva2 = hm.kmapLocalPage(k, 1, frame);
    expect(kva2).toBe(kva - 4096n);
    hm.kunmapLocal(k, 1, kva2);
    hm.kunmapLocal(k, 1, kva);
    // gone from the tables and from CPU 1's TLB (INVLPG): a read now oopses
    expect(k.kernelPfn(kva)).toBe(-1);
    // a lowmem page needs no slot: its direct-map address
    expect(hm.kmapLocalPage(k, 0, 0x100)).toBe(0xc0100000n);
    // a COW copy maps both highmem pages
    const b = k.fork(a, "b") as Task;
    const before = hm.localMaps;
    k.switchTo(0, b);
    ok(k.userAccess(0, b, p, Access.Write, 0x11));
    expect(hm.localMaps).toBe(before + 3); // the new page cleared, then source and copy mapped
    k.switchTo(0, a);
    expect(ok(k.userAccess(0, a, p, Access.Read))).toBe(0x5a);
    settled(k);
    const after = k.kernelAccess(1, kva, Access.Read);
    expect(after.ok).toBe(false);
  });

  it("kmap: a permanent PKMAP slot, kept after kunmap until the slots wrap (flush_all_zero_pkmaps)", () => {
    const k = big();
    const hm = arch(k).highmem;
    const l = arch(k).layout;
    const pfn = l.maxLowPfn + 5;
    const va = hm.kmap(k, pfn);
    expect(va).toBe(BigInt(l.pkmapBase + 4096)); // last_pkmap_nr starts at 0 and moves on first
    expect(hm.kmap(k, pfn)).toBe(va); // the same page, the same slot
    expect(k.kernelPfn(va)).toBe(pfn);
    hm.kunmap(pfn);
    hm.kunmap(pfn);
    expect(k.kernelPfn(va)).toBe(pfn); // still mapped (count 1): no flush yet
    for (let i = 1; i < l.lastPkmap; i++) {
      const v = hm.kmap(k, l.maxLowPfn + 100 + i);
      hm.kunmap(l.maxLowPfn + 100 + i);
      void v;
    }
    expect(hm.pkmapFlushes).toBe(1);
    expect(k.kernelPfn(va)).toBe(-1);
  });
});

describe("the kernel on i386-pae", () => {
  const pae = (cfg: Partial<KernelConfig> = {}) => boot({ arch: "i386-pae", ...cfg });

  it("boots with PAE and NX; a PGD is the PDPT and its three PMDs, PDPTE 3 the shared kernel PMD", () => {
    const k = pae();
    const cpu = k.machine.cpus[0];
    expect(cpu.pae && cpu.eferNxe).toBe(true);
    const a = k.spawn("a") as Task;
    const b = k.spawn("b") as Task;
    const phys = k.machine.phys;
    for (const t of [a, b]) {
      const g = t.mm!.pgdPfn;
      for (let i = 0; i < 3; i++) expect(phys.read32(g * 4096 + i * 8)).toBe(((g + 1 + i) * 4096 + 1) >>> 0);
      expect(phys.read32(g * 4096 + 24)).toBe(phys.read32(k.rootPfn * 4096 + 24));
    }
    // vmalloc makes a PDE in the shared PMD: every process has it, no fault, lazy or not
    const v = k.vmalloc(8192);
    k.switchTo(1, b);
    const r = k.kernelAccess(1, v, Access.Read);
    expect(r.ok && r.faults).toBe(0);
    expect(k.vmallocFaults).toBe(0);
    // user pages carry NX; a COW fork works on 8-byte entries
    const p = anon(k, a, 2);
    k.switchTo(0, a);
    ok(k.userAccess(0, a, p, Access.Write, 3));
    const e = k.mapper.lookup(a.mm!.pgdPfn, Number(p / 4096n) as never)!;
    expect(e.hi >>> 31).toBe(1);
    const c = k.fork(a, "c") as Task;
    k.switchTo(0, c);
    ok(k.userAccess(0, c, p, Access.Write, 4));
    k.switchTo(0, a);
    expect(ok(k.userAccess(0, a, p, Access.Read))).toBe(3);
    settled(k);
    // the PGD block (order 2) is freed whole at exit: onto the CPU's order-2 per-CPU list
    // (free_unref_page), where NR_FREE_PAGES does not count it, or past high to the buddy lists
    const free = k.buddy.freePages() + k.buddy.pcp!.total();
    const pgfree = k.buddy.pgfree;
    k.exit(c, "done");
    expect(k.buddy.freePages() + k.buddy.pcp!.total() > free).toBe(true);
    expect(k.buddy.pgfree - pgfree).toBeGreaterThanOrEqual(4);
    settled(k);
  });

  it("PAE swap entries: the x86-64 encoding (offset inverted in bits 58..9), round trips", () => {
    const k = pae({ swapBytes: 16 << 20 });
    const pt = k.arch.pgtable;
    for (const off of [1, 2, 0x1234, 0xfffff]) {
      const e = mkSwapEntry(pt, off, false);
      expect(pt.isSwap(e.hi, e.lo)).toBe(true);
      expect(pt.present(e.hi, e.lo)).toBe(false);
      expect(pt.swapOffset(e.hi, e.lo)).toBe(off);
      // bit 63..59 (the type) clear, inverted offset: low bits 9.. are ~off
      expect(((e.lo >>> 9) & 0x7fffff) ^ (off & 0x7fffff)).toBe(0x7fffff);
    }
    const a = k.spawn("a") as Task;
    const p = anon(k, a, 8);
    k.switchTo(0, a);
    for (let i = 0; i < 8; i++) ok(k.userAccess(0, a, p + BigInt(i * 4096), Access.Write, i + 1));
    k.madvise(a, p, 32768n, "pageout");
    expect(a.mm!.swapEnts).toBe(8);
    for (let i = 0; i < 8; i++) expect(ok(k.userAccess(0, a, p + BigInt(i * 4096), Access.Read))).toBe(i + 1);
    settled(k);
  });

  it("a PAE oops prints *pdpt and *pde as 16 digits; an NX fetch says so", () => {
    const k = pae();
    const r = k.kernelAccess(0, 0xc0100000n, Access.Exec);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.oops[0]).toBe("kernel tried to execute NX-protected page - exploit attempt? (uid: 0)");
    expect(r.oops[2]).toBe("#PF: supervisor instruction fetch in kernel mode");
    expect(r.oops[4]).toMatch(/^\*pdpt = [0-9a-f]{16} \*pde = 8000000000[0-9a-f]{6}$/);
  });
});
