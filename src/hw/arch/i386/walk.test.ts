/**
 * Walks of 32-bit paging (SDM Vol. 3A §4.3) and PAE paging (§4.4): 4 KiB,
 * 4 MiB (PSE, PSE-36) and 2 MiB pages, reserved bits, accessed/dirty
 * updates of 4- and 8-byte entries, the PDPTE registers (loading, #GP,
 * staleness), global pages and invalidation (§4.10.4), the coherence
 * checker.
 */
import { describe, expect, it } from "vitest";
import { type Pfn, pfnToPa, toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { Outcome, WalkRecord } from "./Cpu.ts";
import { Pte, PteHi } from "./pte.ts";
import { bareI386 } from "./testkit.ts";

const R = Access.Read;
const W = Access.Write;
const X = Access.Exec;
const vpn = (va: number) => toVpn(va / 4096);

describe("32-bit paging (§4.3)", () => {
  it("walks PD then PT through 4-byte entries, sets A on both and D on the leaf of a write", () => {
    const { cpu, mapper, root, m } = bareI386();
    expect(mapper.map(root, vpn(0x0804_8000), toPfn(0x1234), 0, { writable: true, user: true }).ok).toBe(
      true,
    );
    const rec = new WalkRecord();
    expect(cpu.probe(0, 0x0804_8abc, W, Mode.User, rec)).toBe(Outcome.OK);
    expect(rec.count).toBe(2);
    expect([rec.level[0], rec.index[0], rec.entryPa[0]]).toEqual([1, 0x20, pfnToPa(root) + 0x20 * 4]);
    expect(rec.index[1]).toBe(0x48);
    const pde = m.phys.read32(rec.entryPa[0]);
    const pteAt = rec.entryPa[1];
    expect(pde & Pte.A).toBe(Pte.A); // the mapper presets A on tables
    expect(m.phys.read32(pteAt) & (Pte.A | Pte.D)).toBe(0); // the probe wrote nothing
    cpu.cpl = 3;
    expect(cpu.translate(0, 0x0804_8abc, R)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x1234abc);
    expect(m.phys.read32(pteAt) & (Pte.A | Pte.D)).toBe(Pte.A);
    expect(m.phys.read32(pteAt + 4)).toBe(0); // a 4-byte entry: the next one is untouched
    expect(cpu.translate(0, 0x0804_8abc, W)).toBe(Outcome.OK); // a write through a clean entry walks again
    expect(m.phys.read32(pteAt) & (Pte.A | Pte.D)).toBe(Pte.A | Pte.D);
    expect(cpu.dirtyAssists).toBe(1);
  });

  it("maps 4 MiB pages with CR4.PSE = 1; with PSE = 0 the PS bit is ignored and the PDE names a PT", () => {
    const { cpu, mapper, root, m } = bareI386();
    expect(mapper.map(root, vpn(0x0040_0000), toPfn(0x1000), 1, { writable: true }).ok).toBe(true);
    expect(cpu.translate(0, 0x0075_4321, W)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x0135_4321);
    const rec = new WalkRecord();
    cpu.probe(0, 0x0075_4321, R, Mode.Supervisor, rec);
    expect([rec.count, rec.size]).toEqual([1, 1]);
    // PSE off: the PDE 0x01000083 points to a page table at 0x01000000 (PS ignored)
    m.phys.write32(0x0100_0000 + 0x354 * 4, 0x0abc_d003);
    cpu.movToCr4({ pse: false });
    cpu.invlpg(0x0075_4321); // the SDM requires no flush for a PSE change: software does it
    expect(cpu.translate(0, 0x0075_4321, R)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x0abc_d321);
    expect(cpu.walkRec.count).toBe(2);
  });

  it("PSE-36: PDE bits 13.. are PA bits 32..; bits 21..M-19 are reserved (Table 4-4)", () => {
    const { cpu, mapper, root } = bareI386();
    // 4 MiB page at PA 0x3_0040_0000 (above 4 GiB)
    expect(mapper.map(root, vpn(0x0080_0000), toPfn(0x30_0400), 1, {}).ok).toBe(true);
    const pde = mapper.entryAt(root, vpn(0x0080_0000), 1)!;
    expect(pde.lo).toBe(0x0040_0000 | (3 << 13) | Pte.P | Pte.PS);
    expect(cpu.translate(0, 0x0080_0010, R)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x3_0040_0010);
    // MAXPHYADDR 36: bit 17 (PA bit 36) is reserved, as is bit 21
    for (const bit of [17, 20, 21]) {
      mapper.setLeafRaw(root, vpn(0x0080_0000), 1, 0, (pde.lo | (1 << bit)) >>> 0);
      cpu.invlpg(0x0080_0000);
      expect(cpu.translate(0, 0x0080_0010, W), `bit ${bit}`).toBe(Outcome.PF);
      expect(cpu.errorCode).toBe(0x0b); // P|W|RSVD
    }
    // MAXPHYADDR 40: bits 13..20 are address bits 32..39; only 21 is reserved
    const k = bareI386({ maxPhyAddr: 40 });
    expect(k.mapper.map(k.root, vpn(0x0080_0000), toPfn(0xff0_0400), 1, {}).ok).toBe(true);
    expect(k.cpu.translate(0, 0x0080_0010, R)).toBe(Outcome.OK);
    expect(k.cpu.pa).toBe(0xff_0040_0010);
    const e = k.mapper.entryAt(k.root, vpn(0x0080_0000), 1)!;
    k.mapper.setLeafRaw(k.root, vpn(0x0080_0000), 1, 0, (e.lo | (1 << 21)) >>> 0);
    k.cpu.invlpg(0x0080_0000);
    expect(k.cpu.translate(0, 0x0080_0010, R)).toBe(Outcome.PF);
    expect(k.cpu.errorCode).toBe(0x09);
    // 4 KiB entries have no reserved bits: a PTE with every ignored bit set still translates
    expect(mapper.map(root, vpn(0x1000), toPfn(0x55), 0, { soft: 7 }).ok).toBe(true);
    expect(cpu.translate(0, 0x1000, R)).toBe(Outcome.OK);
  });

  it("has no execute-disable: a fetch is refused only by SMEP, and then I/D is set", () => {
    const { cpu, mapper, root } = bareI386();
    cpu.setNxe(true); // ignored by 32-bit paging
    mapper.map(root, vpn(0x40_0000), toPfn(0x77), 0, { user: true, nx: true });
    expect(mapper.lookup(root, vpn(0x40_0000))!.hi).toBe(0);
    expect(cpu.translate(0, 0x40_0000, X)).toBe(Outcome.OK);
    cpu.movToCr4({ smep: true });
    expect(cpu.translate(0, 0x40_0000, X)).toBe(Outcome.PF);
    expect(cpu.errorCode).toBe(0x11);
  });

  it("an address with a high half is #GP (linear addresses are 32 bits), CR2 unchanged", () => {
    const { cpu } = bareI386();
    cpu.cr2 = 0x1234;
    expect(cpu.translate(1, 0, R)).toBe(Outcome.GP);
    expect(cpu.cr2).toBe(0x1234);
    expect(cpu.translate(0, 0x5000, R)).toBe(Outcome.PF);
    expect([cpu.errorCode, cpu.cr2]).toEqual([0, 0x5000]);
  });
});

describe("PAE paging (§4.4)", () => {
  it("walks PD then PT through 8-byte entries from the PDPTE register; 2 MiB pages", () => {
    const { cpu, mapper, root, m } = bareI386({ pae: true });
    expect(mapper.map(root, vpn(0xc000_1000), toPfn(0x1234), 0, { writable: true }).ok).toBe(true);
    expect(mapper.map(root, vpn(0x0060_0000), toPfn(0x2200), 1, { user: true }).ok).toBe(true);
    const rec = new WalkRecord();
    expect(cpu.probe(0, 0xc000_1abc, R, Mode.Supervisor, rec)).toBe(Outcome.OK);
    expect(rec.count).toBe(2); // the PDPTE is a register, not read by the walk
    expect([rec.level[0], rec.index[0], rec.level[1], rec.index[1]]).toEqual([1, 0, 0, 1]);
    expect(rec.entryPa[0] - (rec.entryPa[0] % 4096)).toBe(cpu.pdpteLo[3] & 0xfffff000);
    expect(cpu.translate(0, 0xc000_1abc, W)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x1234abc);
    expect(m.phys.read32(rec.entryPa[1]) & (Pte.A | Pte.D)).toBe(Pte.A | Pte.D);
    cpu.cpl = 3;
    expect(cpu.translate(0, 0x0071_2345, R)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x0231_2345);
    expect(cpu.walkRec.size).toBe(1);
  });

  it("reserved bits: 62..M in every entry, 20..13 of a 2 MiB PDE, XD without EFER.NXE", () => {
    const { cpu, mapper, root } = bareI386({ pae: true });
    cpu.setNxe(false);
    mapper.map(root, vpn(0x40_0000), toPfn(0x1234), 0, { writable: true, user: true });
    mapper.map(root, vpn(0x80_0000), toPfn(0x2400), 1, { writable: true, user: true });
    const pte = mapper.lookup(root, vpn(0x40_0000))!;
    const pde2m = mapper.lookup(root, vpn(0x80_0000))!;
    const check = (
      level: number,
      e: { hi: number; lo: number },
      va: number,
      hi: number,
      lo: number,
      code: number,
    ) => {
      mapper.setLeafRaw(root, vpn(va), level, hi >>> 0, lo >>> 0);
      cpu.invlpg(va);
      const o = cpu.translate(0, va, R);
      mapper.setLeafRaw(root, vpn(va), level, e.hi, e.lo);
      cpu.invlpg(va);
      return o === Outcome.OK ? "ok" : cpu.errorCode === code ? "rsvd" : `code ${cpu.errorCode}`;
    };
    expect(check(0, pte, 0x40_0000, pte.hi | (1 << 4), pte.lo, 0x09)).toBe("rsvd"); // bit 36, MAXPHYADDR 36
    expect(check(0, pte, 0x40_0000, pte.hi | (1 << 30), pte.lo, 0x09)).toBe("rsvd"); // bit 62
    expect(check(0, pte, 0x40_0000, pte.hi | (1 << 3), pte.lo, 0x09)).toBe("ok"); // bit 35: an address bit
    expect(check(0, pte, 0x40_0000, pte.hi | PteHi.XD, pte.lo, 0x09)).toBe("rsvd"); // NXE = 0
    expect(check(1, pde2m, 0x80_0000, pde2m.hi, pde2m.lo | (1 << 13), 0x09)).toBe("rsvd");
    expect(check(1, pde2m, 0x80_0000, pde2m.hi, pde2m.lo | Pte.PAT_LARGE, 0x09)).toBe("ok");
    cpu.setNxe(true);
    expect(check(0, pte, 0x40_0000, pte.hi | PteHi.XD, pte.lo, 0x09)).toBe("ok");
    // with MAXPHYADDR 52, bit 51 is an address bit
    const k = bareI386({ pae: true, maxPhyAddr: 52 });
    k.mapper.map(k.root, vpn(0x40_0000), toPfn(0x1234), 0, {});
    const e = k.mapper.lookup(k.root, vpn(0x40_0000))!;
    k.mapper.setLeafRaw(k.root, vpn(0x40_0000), 0, e.hi | (1 << 19), e.lo);
    expect(k.cpu.translate(0, 0x40_0000, R)).toBe(Outcome.OK);
    expect(k.cpu.pa).toBe(2 ** 51 + 0x1234000);
  });

  it("MOV to CR3 loads the four PDPTEs; a reserved bit in a present one is #GP, CR3 and registers unchanged", () => {
    const { cpu, m, mapper, root } = bareI386({ pae: true });
    mapper.map(root, vpn(0x1000), toPfn(0x99), 0, {});
    const before = { cr3: cpu.cr3, lo: Array.from(cpu.pdpteLo) };
    // a second PDPT, 32-byte aligned inside a frame: entry 0 = the first PDPT's PD 0
    const pdpt = 0x0080_0040;
    m.phys.write64(pdpt, 0, cpu.pdpteLo[0]);
    for (const [i, hi, lo] of [
      [1, 0, 0x0090_0003], // bit 1 (reserved in a PDPTE)
      [2, 0, 0x0090_0021], // bit 5
      [3, 0x10, 0x0090_0001], // bit 36, MAXPHYADDR 36
      [1, 0x80000000, 0x0090_0001], // bit 63: reserved whatever NXE
    ] as const) {
      m.phys.write64(pdpt + 8 * i, hi, lo);
      expect(cpu.movToCr3(pdpt), `PDPTE ${i} ${hi}:${lo}`).toBe(Outcome.GP);
      expect({ cr3: cpu.cr3, lo: Array.from(cpu.pdpteLo) }).toEqual(before);
      m.phys.write64(pdpt + 8 * i, hi, lo & ~1); // not present: its reserved bits are not checked
    }
    expect(cpu.cr3Faults).toBe(4);
    expect(cpu.movToCr3(pdpt + 0x1f)).toBe(Outcome.OK); // bits 4..0 are ignored
    expect(cpu.cr3).toBe(pdpt + 0x1f);
    expect(cpu.translate(0, 0x1000, R)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x99000);
    // a PDPTE register with P = 0: #PF not-present, reported at the PDPT level
    cpu.cpl = 3;
    expect(cpu.translate(0, 0x4000_0000, W)).toBe(Outcome.PF);
    expect([cpu.errorCode, cpu.faultLevel, cpu.cr2]).toEqual([0x06, 2, 0x4000_0000]);
  });

  it("keeps using the loaded PDPTEs after the PDPT changes in memory, until MOV to CR3 (stale registers)", () => {
    const { cpu, m, mapper, root, frames } = bareI386({ pae: true });
    mapper.map(root, vpn(0x0010_0000), toPfn(0x111), 0, {});
    // another PD holding a different mapping of the same address
    const other = bareI386({ pae: true }).mapper; // (for its leafEntry only)
    const pd2 = frames.allocFrame() as Pfn;
    const pt2 = frames.allocFrame() as Pfn;
    m.phys.zeroFrame(pd2);
    m.phys.zeroFrame(pt2);
    m.phys.write64(pfnToPa(pd2), 0, (pfnToPa(pt2) | 0x23) >>> 0);
    const leaf = other.leafEntry(toPfn(0x222), 0, {});
    m.phys.write64(pfnToPa(pt2) + 0x100 * 8, leaf.hi, leaf.lo);
    m.phys.write64(pfnToPa(root), 0, (pfnToPa(pd2) | 1) >>> 0); // PDPTE 0 now names pd2, in memory
    cpu.invlpg(0x0010_0000); // INVLPG does not reload PDPTEs
    expect(cpu.translate(0, 0x0010_0000, R)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x111000); // the old PD, through the register
    expect(mapper.lookup(root, vpn(0x0010_0000))!.lo >>> 12).toBe(0x222); // software sees memory
    expect(cpu.movToCr3(pfnToPa(root))).toBe(Outcome.OK);
    expect(cpu.translate(0, 0x0010_0000, R)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x222000);
    // clearing a PDPTE in memory: still mapped until the reload
    m.phys.write64(pfnToPa(root), 0, 0);
    cpu.invlpg(0x0010_0000);
    expect(cpu.translate(0, 0x0010_0000, R)).toBe(Outcome.OK);
    cpu.movToCr3(pfnToPa(root));
    expect(cpu.translate(0, 0x0010_0000, R)).toBe(Outcome.PF);
    expect(cpu.faultLevel).toBe(2);
  });

  it("probes of another address space swap the PDPTE registers in and back out", () => {
    const { cpu, mapper, root } = bareI386({ pae: true });
    const root2 = mapper.newRoot() as Pfn;
    mapper.map(root, vpn(0x1000), toPfn(0x11), 0, { user: true });
    mapper.map(root2, vpn(0x1000), toPfn(0x22), 0, { user: true });
    const rec = new WalkRecord();
    const pa = cpu.probeAsUser(pfnToPa(root2), () =>
      cpu.probe(0, 0x1000, R, Mode.User, rec) === Outcome.OK ? rec.pagePfn : -1,
    );
    expect(pa).toBe(0x22);
    expect(cpu.probe(0, 0x1000, R, Mode.User, rec)).toBe(Outcome.OK);
    expect(rec.pagePfn).toBe(0x11);
  });
});

describe("TLB and invalidation (§4.10)", () => {
  for (const pae of [false, true]) {
    it(`${pae ? "PAE" : "32-bit"}: MOV to CR3 keeps global entries only with CR4.PGE; INVLPG drops them; a PGE toggle flushes all`, () => {
      const { cpu, mapper, root } = bareI386({ pae });
      const page = 0xc010_0000;
      mapper.map(root, vpn(page), toPfn(0x300), 0, { global: true });
      mapper.map(root, vpn(0x1000), toPfn(0x301), 0, {});
      const staleAfter = (op: () => void) => {
        cpu.translate(0, page, R);
        cpu.translate(0, 0x1000, R);
        mapper.unmap(root, vpn(page));
        mapper.unmap(root, vpn(0x1000));
        op();
        const r = [cpu.translate(0, page, R), cpu.translate(0, 0x1000, R)];
        mapper.map(root, vpn(page), toPfn(0x300), 0, { global: true });
        mapper.map(root, vpn(0x1000), toPfn(0x301), 0, {});
        cpu.movToCr4({ pge: !cpu.cr4Pge });
        cpu.movToCr4({ pge: !cpu.cr4Pge });
        return r;
      };
      const reload = () => cpu.movToCr3(pfnToPa(root));
      expect(staleAfter(() => {})).toEqual([Outcome.OK, Outcome.OK]); // no flush: both stale
      expect(staleAfter(reload)).toEqual([Outcome.PF, Outcome.PF]); // PGE = 0: G ignored
      cpu.movToCr4({ pge: true });
      expect(staleAfter(reload)).toEqual([Outcome.OK, Outcome.PF]); // the global entry survives
      expect(staleAfter(() => cpu.invlpg(page))).toEqual([Outcome.PF, Outcome.OK]);
      expect(staleAfter(() => cpu.movToCr4({ pge: false }))).toEqual([Outcome.PF, Outcome.PF]);
    });
  }

  it("the coherence checker reports a stale use and the missing INVLPG", () => {
    for (const pae of [false, true]) {
      const { cpu, mapper, root, m } = bareI386({ pae, checkCoherence: true });
      mapper.map(root, vpn(0x40_0000), toPfn(0x500), 0, { writable: true });
      expect(cpu.translate(0, 0x40_0000, W)).toBe(Outcome.OK);
      const r = mapper.protect(root, vpn(0x40_0000), { writable: false });
      expect(r.ok && r.flush?.required).toBe(true);
      expect(cpu.translate(0, 0x40_0000, W)).toBe(Outcome.OK); // stale: still writable
      const reports = m.checker!.reports;
      expect(reports.length).toBe(1);
      expect(reports[0].differences).toEqual(["writable (memory: read-only)"]);
      expect(reports[0].missing).toBe("INVLPG 0x400000, or a MOV to CR3");
      expect(reports[0].changed[0].level).toBe("PT");
      cpu.invlpg(0x40_0000);
      expect(cpu.translate(0, 0x40_0000, W)).toBe(Outcome.PF);
      expect(cpu.errorCode).toBe(0x03);
      expect(reports.length).toBe(1);
    }
  });
  it("the checker names a cleared page-table frame as the write that made an entry stale", () => {
    const { cpu, mapper, root, m } = bareI386({ pae: false, checkCoherence: true });
    for (const page of [0x40_0000, 0x40_1000])
      mapper.map(root, vpn(page), toPfn(page / 4096 + 0x100), 0, { writable: true });
    expect(cpu.translate(0, 0x40_0000, W)).toBe(Outcome.OK);
    expect(cpu.translate(0, 0x40_1000, W)).toBe(Outcome.OK);
    mapper.protect(root, vpn(0x40_0000), { writable: false });
    expect(cpu.translate(0, 0x40_0000, W)).toBe(Outcome.OK); // stale: reported, naming the PTE's write
    const reports = m.checker!.reports;
    const pt = toPfn(Math.floor(reports[0].changed[0].entryPa / 4096));
    m.checker!.tag = "clear_page";
    m.phys.zeroFrame(pt); // one record for the frame, not 512
    expect(cpu.translate(0, 0x40_1000, W)).toBe(Outcome.OK); // stale again: the whole table is gone
    expect(reports.length).toBe(2);
    expect(reports[1].changed[0].tag).toBe("clear_page");
    expect(reports[1].changed[0].seq).toBeGreaterThan(reports[0].changed[0].seq);
  });
});

describe("as the generic code sees it", () => {
  it("the registry builds i386 and i386-pae machines and mappers; loadUserRoot, flushPage, setUserMode", async () => {
    const { hwArch } = await import("../index.ts");
    const { BumpFrames } = await import("./Mapper.ts");
    for (const [name, large] of [
      ["i386", 4 << 20],
      ["i386-pae", 2 << 20],
    ] as const) {
      const arch = hwArch(name);
      const m = arch.machine({ ramBytes: 64 << 20 });
      const mapper = arch.mapper(m.phys, new BumpFrames(16, m.phys.nrFrames));
      const root = mapper.newRoot() as Pfn;
      expect(mapper.map(root, vpn(large), toPfn(large / 4096), 1, { user: true }).ok, name).toBe(true);
      const cpu = m.cpus[0];
      cpu.loadUserRoot(root, 5);
      cpu.setUserMode(true);
      expect(cpu.translate(0, large + 0x1234, R), name).toBe(0);
      expect(cpu.pa).toBe(large + 0x1234);
      expect(cpu.tlb.levels[0].arrays.some((a) => a.name.includes("L1"))).toBe(true);
      mapper.unmap(root, vpn(large));
      expect(cpu.translate(0, large, R)).toBe(0); // stale until flushed
      cpu.flushPage(0, large);
      expect(cpu.translate(0, large, R)).toBe(Outcome.PF);
    }
  });

  it("a PDPT the MOV to CR3 refuses is a model bug for loadUserRoot", () => {
    const { cpu, m, mapper } = bareI386({ pae: true });
    const root = mapper.newRoot() as Pfn;
    m.phys.write32(pfnToPa(root) + 8, m.phys.read32(pfnToPa(root) + 8) | 2);
    expect(() => cpu.loadUserRoot(root, 0)).toThrow(/loadUserRoot: MOV to CR3 #GP/);
  });

  it("x86-64 TLB presets hold 4 MiB (32-bit) or 2 MiB (PAE) pages in their large-page arrays", () => {
    for (const pae of [false, true]) {
      const { cpu, mapper, root } = bareI386({ pae, tlb: "skylake" });
      const big = pae ? 0x20_0000 : 0x40_0000;
      mapper.map(root, vpn(big), toPfn(big / 4096), 1, {});
      cpu.translate(0, big, R);
      const l1 = cpu.tlb.levels[0].arrays;
      const held = l1.filter((a) => a.occupancy() > 0).map((a) => a.sizeMask);
      expect(held).toEqual([2]); // the large-page array, size code 1
      expect(l1.some((a) => (a.sizeMask & 4) !== 0)).toBe(false); // no 1G arrays
    }
  });
});

describe("trace events", () => {
  it("name the fault in the SDM's words, and the invalidations", () => {
    const { cpu, mapper, root } = bareI386({ pae: true });
    mapper.map(root, vpn(0x1000), toPfn(0x42), 0, {});
    const events: string[] = [];
    cpu.tracer = (e) => {
      if (e.type === "fault") events.push(e.text);
      else if (e.type === "invalidate") events.push(`${e.op} ${e.asidName} ${e.asid} vpn ${e.vpn}`);
      else if (e.type === "walk-step") events.push(`${e.levelName}[${e.index}]`);
    };
    cpu.cpl = 3;
    cpu.translate(0, 0x1234, W);
    cpu.invlpg(0x1000);
    cpu.movToCr3(pfnToPa(root));
    cpu.translate(1, 0, R);
    expect(events).toEqual([
      "PD[0]",
      "PT[1]",
      "#PF error_code 0x7 (P|WR|US: permissions violation) CR2 0x1234",
      "invlpg PCID 0 vpn 1",
      "mov-cr3 PCID 0 vpn -1",
      "#GP(0): 0x100000000 is not a 32-bit address",
    ]);
  });
});
