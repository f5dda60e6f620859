import { describe, expect, it } from "vitest";
import { toBig } from "../../../base/u64.ts";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { formatStaleUse } from "../../mmu/CoherenceChecker.ts";
import type { HwEvent } from "./Cpu.ts";
import { Outcome, PfErr } from "./fault.ts";
import { Mapper } from "./Mapper.ts";
import { X86Machine as Machine } from "./machine.ts";
import { Pte } from "./pte.ts";
import { bareMachine, va, vpnOf } from "./testkit.ts";

const USER_RW = { writable: true, user: true };

function tr(
  cpu: ReturnType<typeof bareMachine>["cpu"],
  v: bigint,
  access: Access = Access.Read,
): number | string {
  const a = va(v);
  const out = cpu.translate(a.hi, a.lo, access);
  if (out === Outcome.OK) return cpu.pa;
  if (out === Outcome.GP) return "#GP";
  return `#PF ${cpu.errorCode}`;
}

describe("the page walk", () => {
  it("translates 4K, 2M and 1G pages and keeps the offset", () => {
    const { cpu, mapper, root } = bareMachine();
    mapper.map(root, vpnOf(0x400000n), toPfn(0x1234), 0, USER_RW);
    mapper.map(root, vpnOf(0x40000000n), toPfn(0x200 * 3), 1, USER_RW);
    mapper.map(root, vpnOf(0x7f0000000000n), toPfn(262144 * 2), 2, USER_RW);
    expect(tr(cpu, 0x400abcn)).toBe(0x1234abc);
    expect(tr(cpu, 0x4012_3456n)).toBe(0x200 * 3 * 4096 + 0x123456);
    expect(tr(cpu, 0x7f00_1234_5678n)).toBe(2 * 2 ** 30 + 0x1234_5678);
    expect(cpu.walks).toBe(3);
  });

  it("sets A on every level it uses, and D on the leaf only for writes", () => {
    const { m, cpu, mapper, root } = bareMachine();
    const vpn = vpnOf(0x1000n);
    mapper.map(root, vpn, toPfn(0x500), 0, USER_RW);
    // clear A on every level so the walk has to set them
    for (let level = 3; level >= 0; level--) {
      const e = mapper.entryAt(root, vpn, level)!;
      m.phys.write32(e.entryPa, (e.lo & ~Pte.A) >>> 0);
    }
    expect(tr(cpu, 0x1000n)).toBe(0x500000);
    for (let level = 3; level >= 0; level--) {
      const e = mapper.entryAt(root, vpn, level)!;
      expect(e.lo & Pte.A, `level ${level}`).toBe(Pte.A);
    }
    expect(mapper.lookup(root, vpn)!.lo & Pte.D).toBe(0);
    expect(cpu.adWrites).toBe(4);
    expect(tr(cpu, 0x1000n, Access.Write)).toBe(0x500000);
    expect(mapper.lookup(root, vpn)!.lo & Pte.D).toBe(Pte.D);
    expect(cpu.dirtyAssists).toBe(1); // the write hit a clean TLB entry and walked again
  });

  it("does not set the leaf's A or D when the access faults, but does set the upper levels'", () => {
    const { m, cpu, mapper, root } = bareMachine();
    const vpn = vpnOf(0x2000n);
    mapper.map(root, vpn, toPfn(0x600), 0, { writable: false, user: true });
    for (let level = 3; level >= 0; level--) {
      const e = mapper.entryAt(root, vpn, level)!;
      m.phys.write32(e.entryPa, (e.lo & ~Pte.A) >>> 0);
    }
    cpu.cpl = 3;
    expect(tr(cpu, 0x2000n, Access.Write)).toBe(`#PF ${PfErr.P | PfErr.WR | PfErr.US}`);
    expect(mapper.lookup(root, vpn)!.lo & (Pte.A | Pte.D)).toBe(0);
    expect(mapper.entryAt(root, vpn, 1)!.lo & Pte.A).toBe(Pte.A);
  });

  it("faults on a missing level with P = 0 and CR2 = the address", () => {
    const { cpu } = bareMachine();
    cpu.cpl = 3;
    expect(tr(cpu, 0x7fff_dead_b000n, Access.Write)).toBe(`#PF ${PfErr.WR | PfErr.US}`);
    expect(toBig(cpu.cr2Hi, cpu.cr2Lo)).toBe(0x7fff_dead_b000n);
    expect(cpu.walkRec.count).toBe(1); // stopped at the empty PML4 entry
  });

  it("reports I/D only when NXE or SMEP is on", () => {
    const { cpu } = bareMachine();
    cpu.setNxe(false);
    expect(tr(cpu, 0x5000n, Access.Exec)).toBe("#PF 0");
    cpu.setNxe(true);
    expect(tr(cpu, 0x5000n, Access.Exec)).toBe(`#PF ${PfErr.ID}`);
  });

  it("gives #GP, not #PF, for non-canonical addresses (4-level and LA57)", () => {
    const four = bareMachine().cpu;
    expect(tr(four, 0x0000_8000_0000_0000n)).toBe("#GP");
    expect(tr(four, 0xffff_7fff_ffff_f000n)).toBe("#GP");
    expect(tr(four, 0xffff_8000_0000_0000n)).toBe("#PF 0");
    expect(four.gpFaults).toBe(2);
    const five = bareMachine({ la57: true });
    expect(tr(five.cpu, 0x0000_8000_0000_0000n)).toBe("#PF 0"); // canonical with 57 bits
    expect(tr(five.cpu, 0x0100_0000_0000_0000n)).toBe("#GP");
    expect(tr(five.cpu, 0xff00_0000_0000_0000n)).toBe("#PF 0");
    expect(tr(five.cpu, 0xfe00_0000_0000_0000n)).toBe("#GP");
  });

  it("walks five levels with LA57 and maps a 57-bit address", () => {
    const { cpu, mapper, root } = bareMachine({ la57: true });
    const addr = 0x00ab_cdef_1234_5000n;
    expect(mapper.map(root, vpnOf(addr, true), toPfn(0x777), 0, USER_RW).ok).toBe(true);
    expect(tr(cpu, addr + 0x10n)).toBe(0x777010);
    expect(cpu.walkRec.count).toBe(5);
    expect(cpu.walkRec.level[0]).toBe(4);
    expect(cpu.walkRec.index[0]).toBe(Number((addr >> 48n) & 511n));
  });

  it("faults with RSVD for reserved bits: above MAXPHYADDR, PS in a PML4E, bits 20:13 of a 2M PDE, XD without NXE", () => {
    const { m, cpu, mapper, root } = bareMachine({ maxPhyAddr: 36 });
    const rsvd = `#PF ${PfErr.P | PfErr.RSVD}`;
    const vpn = vpnOf(0x200000n);
    mapper.map(root, vpn, toPfn(0x400), 0, USER_RW);
    const pte = mapper.lookup(root, vpn)!;
    m.phys.write32(pte.entryPa + 4, 1 << 4); // address bit 36 >= MAXPHYADDR
    expect(tr(cpu, 0x200000n)).toBe(rsvd);
    m.phys.write32(pte.entryPa + 4, 0);
    expect(tr(cpu, 0x200000n)).toBe(0x400000);
    const pml4e = mapper.entryAt(root, vpn, 3)!;
    m.phys.write32(pml4e.entryPa, (pml4e.lo | Pte.PS) >>> 0);
    cpu.invlpg(0, 0x200000);
    expect(tr(cpu, 0x200000n)).toBe(rsvd);
    m.phys.write32(pml4e.entryPa, pml4e.lo);
    mapper.map(root, vpnOf(0x4000_0000n), toPfn(512), 1, USER_RW);
    const pde = mapper.lookup(root, vpnOf(0x4000_0000n))!;
    m.phys.write32(pde.entryPa, (pde.lo | (1 << 13)) >>> 0);
    expect(tr(cpu, 0x4000_0000n)).toBe(rsvd);
    m.phys.write32(pde.entryPa, pde.lo);
    mapper.protect(root, vpn, { ...USER_RW, nx: true });
    cpu.setNxe(false);
    cpu.invlpg(0, 0x200000);
    expect(tr(cpu, 0x200000n)).toBe(rsvd);
    expect(cpu.faultsByKind.reserved).toBe(4);
  });
});

describe("the TLB", () => {
  it("hits after a walk, and checks rights on the hit: a user access to a supervisor page faults without walking", () => {
    const { cpu, mapper, root } = bareMachine();
    mapper.map(root, vpnOf(0x9000n), toPfn(0x900), 0, { writable: true, user: false });
    expect(tr(cpu, 0x9000n)).toBe(0x900000);
    expect(tr(cpu, 0x9008n)).toBe(0x900008);
    expect(cpu.walks).toBe(1);
    expect(cpu.tlb.hits[0]).toBe(1);
    cpu.cpl = 3;
    const walks = cpu.walks;
    expect(tr(cpu, 0x9000n)).toBe(`#PF ${PfErr.P | PfErr.US}`);
    expect(cpu.walks).toBe(walks);
  });

  it("uses a stale entry after a PTE change without invalidation, and the new one after INVLPG", () => {
    const { cpu, mapper, root } = bareMachine();
    const vpn = vpnOf(0xa000n);
    mapper.map(root, vpn, toPfn(0xa00), 0, USER_RW);
    expect(tr(cpu, 0xa000n)).toBe(0xa00000);
    const r = mapper.unmap(root, vpn);
    expect(r).toEqual({ ok: true, flush: { vpn, size: 0, required: true } });
    mapper.map(root, vpn, toPfn(0xb00), 0, USER_RW);
    expect(tr(cpu, 0xa000n)).toBe(0xa00000); // stale, as hardware would
    cpu.invlpg(0, 0xa000);
    expect(tr(cpu, 0xa000n)).toBe(0xb00000);
  });

  it("never caches a not-present translation: a page mapped after a fault is used at once", () => {
    const { cpu, mapper, root } = bareMachine();
    expect(tr(cpu, 0xc000n)).toBe("#PF 0");
    mapper.map(root, vpnOf(0xc000n), toPfn(0xc00), 0, USER_RW);
    expect(tr(cpu, 0xc000n)).toBe(0xc00000);
  });

  it("takes a spurious fault at most once after rights are added without a flush", () => {
    const { cpu, mapper, root } = bareMachine();
    const vpn = vpnOf(0xd000n);
    mapper.map(root, vpn, toPfn(0xd00), 0, { writable: false, user: true });
    cpu.cpl = 3;
    expect(tr(cpu, 0xd000n)).toBe(0xd00000);
    const r = mapper.protect(root, vpn, USER_RW);
    expect(r.ok && r.flush?.required).toBe(false);
    expect(tr(cpu, 0xd000n, Access.Write)).toBe(`#PF ${PfErr.P | PfErr.WR | PfErr.US}`); // from the cached read-only entry
    expect(tr(cpu, 0xd000n, Access.Write)).toBe(0xd00000); // the fault dropped the entry
  });

  it("keeps entries per PCID and keeps global entries across CR3 writes", () => {
    const { m, cpu, mapper, root, frames } = bareMachine();
    cpu.movToCr4({ pcide: true, pge: true });
    const root2 = toPfn(mapper.newRoot());
    // a global kernel page in both address spaces, a private page in each
    for (const r of [root, root2])
      mapper.map(r, vpnOf(0xffff_8880_0000_0000n), toPfn(0x100), 0, { writable: true, global: true });
    mapper.map(root, vpnOf(0x10000n), toPfn(0x111), 0, USER_RW);
    mapper.map(root2, vpnOf(0x10000n), toPfn(0x222), 0, USER_RW);
    expect(cpu.movToCr3(0, root * 4096 + 1)).toBe(Outcome.OK);
    expect(tr(cpu, 0x10000n)).toBe(0x111000);
    expect(tr(cpu, 0xffff_8880_0000_0000n)).toBe(0x100000);
    cpu.movToCr3(0, root2 * 4096 + 2);
    expect(tr(cpu, 0x10000n)).toBe(0x222000);
    const walks = cpu.walks;
    expect(tr(cpu, 0xffff_8880_0000_0000n)).toBe(0x100000); // global: no walk
    expect(cpu.walks).toBe(walks);
    // back to PCID 1 without flushing: its entry is still there
    cpu.movToCr3(0x80000000, root * 4096 + 1);
    expect(tr(cpu, 0x10000n)).toBe(0x111000);
    expect(cpu.walks).toBe(walks);
    // and with a flushing write it is gone
    cpu.movToCr3(0, root * 4096 + 1);
    expect(tr(cpu, 0x10000n)).toBe(0x111000);
    expect(cpu.walks).toBe(walks + 1);
    expect(frames.next).toBeGreaterThan(0);
    expect(m.cpus.length).toBe(1);
  });

  it("flushes non-global entries on MOV to CR3 without PCIDs, and everything on a CR4.PGE toggle", () => {
    const { cpu, mapper, root } = bareMachine();
    cpu.movToCr4({ pge: true });
    mapper.map(root, vpnOf(0x20000n), toPfn(0x20), 0, USER_RW);
    mapper.map(root, vpnOf(0xffff_8880_0000_1000n), toPfn(0x21), 0, { writable: true, global: true });
    tr(cpu, 0x20000n);
    tr(cpu, 0xffff_8880_0000_1000n);
    expect(cpu.walks).toBe(2);
    cpu.movToCr3(0, root * 4096);
    tr(cpu, 0x20000n);
    tr(cpu, 0xffff_8880_0000_1000n);
    expect(cpu.walks).toBe(3); // only the non-global one walked again
    cpu.movToCr4({ pge: false });
    tr(cpu, 0xffff_8880_0000_1000n);
    expect(cpu.walks).toBe(4);
  });

  it("implements INVPCID types 0-3", () => {
    const { cpu, mapper, root } = bareMachine();
    cpu.movToCr4({ pcide: true, pge: true });
    mapper.map(root, vpnOf(0x30000n), toPfn(0x30), 0, USER_RW);
    mapper.map(root, vpnOf(0x31000n), toPfn(0x31), 0, USER_RW);
    mapper.map(root, vpnOf(0xffff_8880_0000_2000n), toPfn(0x32), 0, { writable: true, global: true });
    const warm = () => {
      for (const a of [0x30000n, 0x31000n, 0xffff_8880_0000_2000n]) tr(cpu, a);
    };
    const walked = (f: () => void) => {
      const w = cpu.walks;
      f();
      warm();
      return cpu.walks - w;
    };
    cpu.movToCr3(0, root * 4096 + 7);
    warm();
    expect(walked(() => cpu.invpcid(0, 7, 0, 0x30000))).toBe(1);
    expect(walked(() => cpu.invpcid(0, 7, 0xffff8880, 0x2000))).toBe(0); // type 0 keeps globals
    expect(walked(() => cpu.invpcid(0, 8, 0, 0x30000))).toBe(0); // another PCID
    expect(walked(() => cpu.invpcid(1, 7))).toBe(2);
    expect(walked(() => cpu.invpcid(3, 0))).toBe(2);
    expect(walked(() => cpu.invpcid(2, 0))).toBe(3);
    expect(cpu.invpcid(4, 0)).toBe(Outcome.GP);
    expect(cpu.invpcid(0, 4096)).toBe(Outcome.GP);
    expect(cpu.invpcid(0, 7, 0x8000, 0)).toBe(Outcome.GP);
  });

  it("INVLPG invalidates only the current PCID: the same tables cached under another PCID stay stale", () => {
    const { cpu, mapper, root } = bareMachine();
    cpu.movToCr4({ pcide: true });
    const vpn = vpnOf(0x3_0000n);
    mapper.map(root, vpn, toPfn(0x30), 0, USER_RW);
    cpu.movToCr3(0x80000000, root * 4096 + 1);
    expect(tr(cpu, 0x3_0000n)).toBe(0x30000);
    cpu.movToCr3(0x80000000, root * 4096 + 2);
    mapper.unmap(root, vpn);
    cpu.invlpg(0, 0x3_0000);
    expect(tr(cpu, 0x3_0000n)).toBe("#PF 0");
    cpu.movToCr3(0x80000000, root * 4096 + 1);
    expect(tr(cpu, 0x3_0000n)).toBe(0x30000); // PCID 1 still has it
    expect(cpu.invpcid(0, 1, 0, 0x3_0000)).toBe(Outcome.OK);
    expect(tr(cpu, 0x3_0000n)).toBe("#PF 0");
  });

  it("INVLPG drops the global entry too, and a 2M entry containing the address", () => {
    const { cpu, mapper, root } = bareMachine();
    cpu.movToCr4({ pge: true });
    mapper.map(root, vpnOf(0x4000_0000n), toPfn(1024), 1, { writable: true, global: true });
    tr(cpu, 0x4010_0000n);
    const w = cpu.walks;
    cpu.invlpg(0, 0x401f_f000);
    tr(cpu, 0x4010_0000n);
    expect(cpu.walks).toBe(w + 1);
  });

  it("rejects CR3 values with reserved bits, and CR4.PCIDE with a non-zero CR3[11:0]", () => {
    const { cpu, root } = bareMachine();
    expect(cpu.movToCr3(1 << 14, root * 4096)).toBe(Outcome.GP); // bit 46 with MAXPHYADDR 46
    cpu.movToCr3(0, root * 4096 + 0x18); // PWT/PCD bits are fine without PCIDs
    expect(cpu.movToCr4({ pcide: true })).toBe(Outcome.GP);
  });

  it("fractures a 2M page into 4K entries where a level has no 2M array", () => {
    const { cpu, mapper, root } = bareMachine({ tlb: "vmref" });
    mapper.map(root, vpnOf(0x20_0000n), toPfn(512), 1, USER_RW);
    expect(tr(cpu, 0x20_0000n)).toBe(512 * 4096);
    expect(tr(cpu, 0x20_1000n)).toBe(513 * 4096); // another 4K piece: another walk
    expect(cpu.walks).toBe(2);
    expect(tr(cpu, 0x20_1008n)).toBe(513 * 4096 + 8);
    expect(cpu.walks).toBe(2);
  });

  it("replaces the least recently used way of a set", () => {
    const { cpu, mapper, root } = bareMachine({ tlb: [{ name: "L1", arrays: [{ entries: 2, ways: 2 }] }] });
    for (let i = 1; i <= 3; i++) mapper.map(root, toVpn(i), toPfn(i + 100), 0, USER_RW);
    tr(cpu, 0x1000n);
    tr(cpu, 0x2000n);
    tr(cpu, 0x1000n); // 1 is now most recent
    tr(cpu, 0x3000n); // evicts 2
    const w = cpu.walks;
    tr(cpu, 0x1000n);
    expect(cpu.walks).toBe(w);
    tr(cpu, 0x2000n);
    expect(cpu.walks).toBe(w + 1);
  });

  it("rejects TLB geometries that do not divide", () => {
    expect(() => new Machine({ ramBytes: 1 << 20, tlb: "65x4" })).toThrow(/not a multiple of 4 ways/);
    expect(() => new Machine({ ramBytes: 1 << 20, tlb: "48x4" })).toThrow(/not a power of two/);
    expect(() => new Machine({ ramBytes: 1 << 20, tlb: "banana" })).toThrow(/bad TLB spec/);
    expect(() => new Machine({ ramBytes: 1 << 20, maxPhyAddr: 60 })).toThrow(/MAXPHYADDR/);
    expect(() => new Machine({ ramBytes: 2 ** 37, maxPhyAddr: 36 })).toThrow(/does not fit/);
  });
});

describe("paging-structure caches", () => {
  it("skip the upper levels of a walk, and are dropped by INVLPG", () => {
    const { cpu, mapper, root } = bareMachine({ psc: true, tlb: "none" });
    mapper.map(root, vpnOf(0x40_0000n), toPfn(0x40), 0, USER_RW);
    mapper.map(root, vpnOf(0x40_1000n), toPfn(0x41), 0, USER_RW);
    tr(cpu, 0x40_0000n);
    expect(cpu.walkRefs).toBe(4);
    tr(cpu, 0x40_1000n); // same PT: the PDE cache gives the table, one read
    expect(cpu.walkRefs).toBe(5);
    expect(cpu.walkRec.pscLevel).toBe(1);
    expect(cpu.pscHits[1]).toBe(1);
    cpu.invlpg(0, 0x12345000); // any address: drops every PSC entry of the PCID
    tr(cpu, 0x40_1000n);
    expect(cpu.walkRefs).toBe(9);
  });

  it("can make a walk use a stale upper-level entry", () => {
    const { m, cpu, mapper, root } = bareMachine({ psc: true, tlb: "none" });
    const vpn = vpnOf(0x60_0000n);
    mapper.map(root, vpn, toPfn(0x60), 0, USER_RW);
    tr(cpu, 0x60_0000n);
    const pde = mapper.entryAt(root, vpn, 1)!;
    m.phys.write64(pde.entryPa, 0, 0); // remove the page table, no flush
    expect(tr(cpu, 0x60_0000n)).toBe(0x60000); // the PDE cache still points at it
    cpu.invlpg(0, 0x60_0000);
    expect(tr(cpu, 0x60_0000n)).toBe("#PF 0");
  });
});

describe("several CPUs", () => {
  it("have their own TLBs: an INVLPG on one leaves the other stale", () => {
    const { m, mapper, root } = bareMachine({ cpus: 2 });
    const [c0, c1] = m.cpus;
    const vpn = vpnOf(0x70000n);
    mapper.map(root, vpn, toPfn(0x70), 0, USER_RW);
    expect(tr(c0, 0x70000n)).toBe(0x70000);
    expect(tr(c1, 0x70000n)).toBe(0x70000);
    mapper.unmap(root, vpn);
    c0.invlpg(0, 0x70000);
    expect(tr(c0, 0x70000n)).toBe("#PF 0");
    expect(tr(c1, 0x70000n)).toBe(0x70000); // needs a shootdown
  });
});

describe("the coherence checker", () => {
  it("reports a stale use with the PTE that changed and the missing invalidation", () => {
    const { m, cpu, mapper, root } = bareMachine({ checkCoherence: true });
    const checker = m.checker!;
    const vpn = vpnOf(0x80000n);
    mapper.map(root, vpn, toPfn(0x80), 0, USER_RW);
    tr(cpu, 0x80000n);
    tr(cpu, 0x80000n);
    expect(checker.reports).toEqual([]);
    checker.tag = "line 12: mprotect";
    mapper.protect(root, vpn, { writable: false, user: true });
    checker.tag = "";
    tr(cpu, 0x80000n);
    expect(checker.reports.length).toBe(1);
    const r = checker.reports[0];
    expect(r.differences).toEqual(["writable (memory: read-only)"]);
    expect(r.changed).toHaveLength(1);
    expect(r.changed[0]).toMatchObject({
      level: "PT",
      entryPa: mapper.lookup(root, vpn)!.entryPa,
      tag: "line 12: mprotect",
    });
    expect(r.missing).toMatch(/INVLPG 0x80000 in PCID 0/);
    expect(formatStaleUse(r)).toMatch(
      /PT entry at 0x[0-9a-f]+ changed .* at write #\d+ \(line 12: mprotect\)/,
    );
    tr(cpu, 0x80000n);
    expect(checker.reports.length).toBe(1); // reported once
    cpu.invlpg(0, 0x80000);
    tr(cpu, 0x80000n);
    expect(checker.reports.length).toBe(1);
  });

  it("names SDM 4.10.4.3 for an entry with fewer rights than memory (a spurious #PF at worst), and nothing for more", () => {
    const { m, cpu, mapper, root } = bareMachine({ checkCoherence: true });
    const checker = m.checker!;
    const vpn = vpnOf(0x90000n);
    // read-only and NX in the TLB; memory then grants write and execute without an INVLPG
    mapper.map(root, vpn, toPfn(0x90), 0, { writable: false, user: true, nx: true });
    tr(cpu, 0x90000n);
    mapper.protect(root, vpn, { writable: true, user: true, nx: false });
    tr(cpu, 0x90000n);
    expect(checker.reports.map((r) => [r.differences, r.permitted])).toEqual([
      [["read-only (memory: writable)", "no-execute (memory: executable)"], "SDM Vol. 3A 4.10.4.3"],
    ]);
    expect(formatStaleUse(checker.reports[0])).toMatch(
      /permitted \(SDM Vol. 3A 4.10.4.3\): .*spurious page fault/,
    );
    expect(formatStaleUse(checker.reports[0])).not.toMatch(/missing:/);
    // the other way (memory takes write away), or another frame: no rule permits it
    cpu.invlpg(0, 0x90000);
    tr(cpu, 0x90000n);
    mapper.protect(root, vpn, { writable: false, user: true, nx: false });
    tr(cpu, 0x90000n);
    expect(checker.reports.length).toBe(2);
    expect(checker.reports[1].permitted).toBe("");
    expect(formatStaleUse(checker.reports[1])).toMatch(/missing: INVLPG/);
  });

  it("is silent for hardware A/D updates and for a kernel that flushes", () => {
    const { m, cpu, mapper, root } = bareMachine({ checkCoherence: true });
    for (let i = 0; i < 64; i++) mapper.map(root, toVpn(0x100 + i), toPfn(0x200 + i), 0, USER_RW);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 64; i++) {
        const v = BigInt(0x100 + i) * 4096n;
        tr(cpu, v, round === 1 ? Access.Write : Access.Read);
        if (round === 2 && i % 2 === 0) {
          mapper.protect(root, toVpn(0x100 + i), { writable: false, user: true });
          cpu.invlpg(0, Number(v));
          tr(cpu, v);
        }
      }
    }
    expect(m.checker!.reports).toEqual([]);
  });
});

describe("the event stream", () => {
  it("is off by default, and when on reports the lookup, each walk step with its entry, A/D writes and the fault", () => {
    const { cpu, mapper, root } = bareMachine();
    mapper.map(root, vpnOf(0x5000n), toPfn(0x55), 0, { writable: false, user: true });
    tr(cpu, 0x5000n); // no tracer: nothing to observe, nothing built
    cpu.invlpg(0, 0x5000);
    const events: HwEvent[] = [];
    cpu.tracer = (e) => events.push(e);
    cpu.cpl = 3;
    tr(cpu, 0x5000n);
    tr(cpu, 0x5000n, Access.Write);
    const types = events.map((e) => e.type);
    expect(types).toEqual(["tlb", "walk-step", "walk-step", "walk-step", "walk-step", "tlb", "fault"]);
    const steps = events.filter((e) => e.type === "walk-step");
    expect(steps.map((e) => e.level)).toEqual([3, 2, 1, 0]);
    const leaf = steps[3];
    const pte = mapper.lookup(root, vpnOf(0x5000n))!;
    expect(leaf).toMatchObject({ entryPa: pte.entryPa, lo: pte.lo, hi: pte.hi });
    expect(events[6]).toMatchObject({
      type: "fault",
      vector: 14,
      errorCode: PfErr.P | PfErr.WR | PfErr.US,
      cr2Lo: 0x5000,
    });
    cpu.tracer = null;
  });
});

describe("probe mode", () => {
  it("walks without A/D writes or TLB fills", () => {
    const { m, cpu, mapper, root } = bareMachine();
    const vpn = vpnOf(0x90000n);
    mapper.map(root, vpn, toPfn(0x90), 0, USER_RW);
    const e = mapper.lookup(root, vpn)!;
    m.phys.write32(e.entryPa, (e.lo & ~Pte.A) >>> 0);
    const rec = cpu.walkRec;
    expect(cpu.probe(0, 0x90000, Access.Write, Mode.User, rec)).toBe(Outcome.OK);
    expect(rec.pagePfn).toBe(0x90);
    expect(mapper.lookup(root, vpn)!.lo & Pte.A).toBe(0);
    expect(cpu.walks).toBe(0);
    expect(cpu.tlb.levels.flatMap((l) => l.arrays).reduce((n, a) => n + a.occupancy(), 0)).toBe(0);
    expect(Mapper.index(vpn, 0)).toBe(0x90);
  });
});

describe("fractured large pages (SDM §4.10.2.3, §4.10.4.1)", () => {
  it("INVLPG of one address of a 2M page drops every 4K piece a 4K-only TLB holds of it", () => {
    const { cpu, mapper, root } = bareMachine({ tlb: "vmref" });
    const base = 0x40000000n; // 1 GiB: 2M-aligned
    expect(mapper.map(root, vpnOf(base), toPfn(0x200), 1, { writable: true, user: true }).ok).toBe(true);
    cpu.cpl = 3;
    const at = (off: bigint) => va(base + off);
    for (const off of [0x1000n, 0x5000n, 0x1ff000n]) {
      const { hi, lo } = at(off);
      expect(cpu.translate(hi, lo, Access.Read)).toBe(Outcome.OK);
    }
    expect(cpu.walks).toBe(3); // three 4K pieces of the same 2M page, one walk each
    const { hi, lo } = at(0x5000n);
    cpu.invlpg(hi, lo);
    for (const off of [0x1000n, 0x1ff000n]) {
      const a = at(off);
      cpu.translate(a.hi, a.lo, Access.Read);
    }
    expect(cpu.walks).toBe(5); // the other pieces went too
  });

  it("looks for pieces again after an INVLPG found none left, once a new piece is cached", () => {
    const { cpu, mapper, root } = bareMachine({ tlb: "vmref" });
    const base = 0x40000000n;
    expect(mapper.map(root, vpnOf(base), toPfn(0x200), 1, { writable: true, user: true }).ok).toBe(true);
    cpu.cpl = 3;
    const at = (off: bigint) => va(base + off);
    const touch = (off: bigint) => {
      const a = at(off);
      return cpu.translate(a.hi, a.lo, Access.Read);
    };
    expect(touch(0x1000n)).toBe(Outcome.OK);
    cpu.invlpg(at(0x1000n).hi, at(0x1000n).lo); // drops the only piece: nothing fractured is left
    cpu.invlpg(at(0x3000n).hi, at(0x3000n).lo); // (and this one finds nothing)
    expect(touch(0x2000n)).toBe(Outcome.OK); // a new piece
    expect(touch(0x4000n)).toBe(Outcome.OK); // and another
    const w = cpu.walks;
    cpu.invlpg(at(0x2000n).hi, at(0x2000n).lo);
    touch(0x4000n);
    expect(cpu.walks).toBe(w + 1); // the other piece went with it
  });
});
