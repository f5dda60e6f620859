/**
 * The walk of "Virtual Address Translation Process" on Sv39, Sv48 and
 * Sv57: superpages at every level, misaligned superpages, reserved
 * encodings, invalid (non-canonical) addresses, Svade against Svadu, G on
 * pointers, access faults for PTEs outside RAM, satp's MODE/ASID/PPN and
 * its WARL rule, Bare mode.
 */
import { describe, expect, it } from "vitest";
import { type Pfn, pfnToPa, toPfn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { HwFaultKind } from "../../mmu/PagingFormat.ts";
import { Priv, SatpMode, WalkRecord } from "./Cpu.ts";
import { describeScause, scauseName } from "./fault.ts";
import { Pte, PteHi, pteFlagNames } from "./format.ts";
import { vpnHalves } from "./Mapper.ts";
import { bareRiscv, va, vpnOf } from "./testkit.ts";

const R = Access.Read;
const W = Access.Write;
const X = Access.Exec;
const USER = 0x40_0000n;

function setup(
  vaBits: 39 | 48 | 57 = 39,
  ext: { svadu?: boolean; svnapot?: boolean; svpbmt?: boolean } = {},
) {
  const k = bareRiscv({ vaBits, ...ext });
  const tr = (v: bigint, access: Access, priv: Priv = Priv.U) => {
    k.cpu.priv = priv;
    const a = va(v);
    return k.cpu.translate(a.hi, a.lo, access);
  };
  /** Rewrites the PTE of v at `level` (keeping the PPN) with other flag bits. */
  const patch = (v: bigint, level: number, f: (hi: number, lo: number) => [number, number]) => {
    const e = k.mapper.entryAt(k.root, vpnOf(v, vaBits), level)!;
    const [hi, lo] = f(e.hi, e.lo);
    k.mapper.setEntryRaw(k.root, vpnOf(v, vaBits), level, hi, lo);
    k.cpu.sfenceVma(null, null);
  };
  return { ...k, tr, patch };
}

describe("scause and stval", () => {
  it("name the spec's exception codes; a fault sets scause by access and stval to the VA", () => {
    expect([12, 13, 15, 1, 5, 7].map(scauseName)).toEqual([
      "instruction-page-fault",
      "load-page-fault",
      "store-page-fault",
      "instruction-access-fault",
      "load-access-fault",
      "store-access-fault",
    ]);
    expect(describeScause(15)).toBe("scause 15: store/AMO page fault");
    const { cpu, tr } = setup();
    expect([tr(USER + 0x123n, R), tr(USER, W), tr(USER, X)]).toEqual([13, 15, 12]);
    expect(cpu.scause).toBe(12);
    cpu.priv = Priv.U;
    expect(tr(USER + 0x123n, R)).toBe(13);
    expect([cpu.stvalHi, cpu.stvalLo]).toEqual([0, 0x400123]);
    expect(cpu.faultsByCause).toEqual({ pageFault: 4, accessFault: 0 });
    // the trace names the trap as the spec does
    const texts: string[] = [];
    cpu.tracer = (e) => {
      if (e.type === "fault" || e.type === "state") texts.push(e.text);
    };
    cpu.setSum(true);
    expect(tr(USER + 0x123n, W)).toBe(15);
    expect(texts).toEqual(["sstatus.SUM <- 1", "scause 15: store/AMO page fault, stval 0x400123"]);
  });
});

describe("pages and superpages", () => {
  for (const vaBits of [39, 48, 57] as const) {
    it(`Sv${vaBits}: a 4K page walks ${(vaBits - 12) / 9} levels; a superpage at every level maps its size`, () => {
      const { cpu, mapper, root, tr } = setup(vaBits);
      const levels = (vaBits - 12) / 9;
      expect(mapper.map(root, vpnOf(USER, vaBits), toPfn(0x900), 0, { user: true }).ok).toBe(true);
      expect(tr(USER + 0xabcn, R)).toBe(0);
      expect(cpu.pa).toBe(0x900abc);
      expect(cpu.walkRec.count).toBe(levels);
      for (let level = 1; level < levels; level++) {
        // the second page of this level's size, mapped to frame 0x0 + one page of that size
        const size = 1n << BigInt(12 + 9 * level);
        const v = size * 3n;
        const pfn = 2 ** (9 * level);
        expect(
          mapper.map(root, vpnOf(v, vaBits), pfn as Pfn, level, { user: true }).ok,
          `level ${level}`,
        ).toBe(true);
        expect(tr(v + size - 8n, R), `level ${level}`).toBe(0);
        expect(cpu.pa, `level ${level}`).toBe(pfn * 4096 + Number(size) - 8);
        expect(cpu.walkRec.count, `level ${level}`).toBe(levels - level);
        expect(cpu.walkRec.size).toBe(level);
      }
    });
  }

  it("a superpage whose PPN is not aligned to its size is a page fault (step 6)", () => {
    const { cpu, mapper, root, tr, patch } = setup();
    expect(mapper.map(root, vpnOf(0x20_0000n), toPfn(0x200), 1, { user: true }).ok).toBe(true);
    expect(tr(0x20_0000n, R)).toBe(0);
    patch(0x20_0000n, 1, (hi, lo) => [hi, lo + (1 << Pte.PPN_SHIFT)]); // PPN 0x201
    expect(tr(0x20_0000n, R)).toBe(13);
    expect(cpu.faultKind).toBe(HwFaultKind.Misaligned);
    expect(cpu.faultLevel).toBe(1);
    expect(pteFlagNames(0, 0x201 * 1024 + 0xd7, 1, cpu.format)).toContain("misaligned");
    // a gigapage with PPN[1] set
    expect(mapper.map(root, vpnOf(0x4000_0000n), toPfn(0x40000), 2, { user: true }).ok).toBe(true);
    patch(0x4000_0000n, 2, (hi, lo) => [hi, lo + (0x200 << Pte.PPN_SHIFT)]);
    expect(tr(0x4000_0000n, W)).toBe(15);
    expect(cpu.faultKind).toBe(HwFaultKind.Misaligned);
  });
});

describe("reserved encodings (step 3 and 4) are page faults", () => {
  const cases: [string, (hi: number, lo: number) => [number, number], number][] = [
    ["W without R", (hi, lo) => [hi, lo & ~Pte.R], 0],
    ["bit 54 (reserved)", (hi, lo) => [hi | (1 << 22), lo], 0],
    ["bit 60 (reserved)", (hi, lo) => [hi | (1 << 28), lo], 0],
    ["PBMT without Svpbmt", (hi, lo) => [hi | (1 << PteHi.PBMT_SHIFT), lo], 0],
    ["N without Svnapot", (hi, lo) => [(hi | PteHi.N) >>> 0, lo], 0],
    ["D in a pointer", (hi, lo) => [hi, lo | Pte.D], 1],
    ["A in a pointer", (hi, lo) => [hi, lo | Pte.A], 2],
    ["U in a pointer", (hi, lo) => [hi, lo | Pte.U], 1],
    ["a pointer at level 0", (hi, lo) => [hi, lo & ~(Pte.R | Pte.W | Pte.X)], 0],
  ];
  for (const [name, f, level] of cases) {
    it(name, () => {
      const { cpu, mapper, root, tr, patch } = setup();
      mapper.map(root, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true });
      expect(tr(USER, W)).toBe(0);
      patch(USER, level, f);
      expect(tr(USER, W)).toBe(15);
      expect(tr(USER, R)).toBe(13);
      expect(cpu.faultLevel).toBe(level);
      expect(cpu.faultKind).toBe(
        name.startsWith("a pointer") ? HwFaultKind.Translation : HwFaultKind.Reserved,
      );
      const e = mapper.entryAt(root, vpnOf(USER), level)!;
      expect(pteFlagNames(e.hi, e.lo, level, cpu.format)).toContain(
        name.startsWith("a pointer") ? "pointer at level 0" : "reserved",
      );
    });
  }

  it("Svpbmt: PBMT NC and IO are memory types (cached as attributes); 3 is reserved; in a pointer reserved", () => {
    const { cpu, mapper, root, tr, patch } = setup(39, { svpbmt: true });
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, { user: true, pbmt: 2 });
    expect(tr(USER, R)).toBe(0);
    expect(cpu.walkRec.attrs).toBe(2);
    expect(cpu.describeAttrs(cpu.walkRec.attrs)).toBe("PBMT IO");
    patch(USER, 0, (hi, lo) => [hi | PteHi.PBMT_MASK, lo]);
    expect(tr(USER, R)).toBe(13);
    patch(USER, 0, (hi, lo) => [hi & ~PteHi.PBMT_MASK, lo]);
    patch(USER, 1, (hi, lo) => [hi | (1 << PteHi.PBMT_SHIFT), lo]);
    expect(tr(USER, R)).toBe(13);
    expect(cpu.faultLevel).toBe(1);
  });

  it("Svnapot: a 64 KiB NAPOT page (N = 1, PPN[3:0] = 1000) maps VPN[0][3:0]; other encodings are reserved", () => {
    const { cpu, mapper, root, tr, patch } = setup(39, { svnapot: true });
    const base = 0x41_0000n; // 64 KiB aligned
    for (let i = 0; i < 16; i++)
      mapper.map(root, vpnOf(base + BigInt(i) * 0x1000n), toPfn(0x908), 0, { user: true });
    for (let i = 0; i < 16; i++) patch(base + BigInt(i) * 0x1000n, 0, (hi, lo) => [(hi | PteHi.N) >>> 0, lo]);
    expect(tr(base + 0x5123n, R)).toBe(0);
    expect(cpu.pa).toBe(0x905123);
    expect(tr(base + 0xf000n, R)).toBe(0);
    expect(cpu.pa).toBe(0x90f000);
    // PPN[3:0] other than 1000
    patch(base, 0, (hi, lo) => [hi, lo + (1 << Pte.PPN_SHIFT)]);
    expect(tr(base, R)).toBe(13);
    expect(cpu.faultKind).toBe(HwFaultKind.Reserved);
    // N on a megapage
    mapper.map(root, vpnOf(0x20_0000n), toPfn(0x200), 1, { user: true });
    patch(0x20_0000n, 1, (hi, lo) => [(hi | PteHi.N) >>> 0, lo]);
    expect(tr(0x20_0000n, R)).toBe(13);
  });
});

describe("valid addresses", () => {
  it("Sv39: bits 63..39 must equal bit 38, else a page fault with stval the whole VA (no walk)", () => {
    const { cpu, mapper, root, tr } = setup();
    const top = 0xffff_ffc0_0000_0000n; // the first address of the upper half
    expect(mapper.map(root, vpnOf(top), toPfn(0xa00), 0, {}).ok).toBe(true);
    expect(tr(top + 0x10n, R, Priv.S)).toBe(0);
    expect(cpu.pa).toBe(0xa00010);
    expect(cpu.walkRec.index[0]).toBe(256); // VPN[2] = VA[38:30]
    const walks = cpu.walks;
    for (const bad of [0x0000_0040_0000_0000n, 0x8000_0000_0040_0000n, 0xffff_ff80_0000_0000n]) {
      expect(tr(bad, W, Priv.S), bad.toString(16)).toBe(15);
      expect(cpu.faultKind).toBe(HwFaultKind.NonCanonical);
      expect([cpu.stvalHi, cpu.stvalLo]).toEqual([va(bad).hi, va(bad).lo]);
      expect(tr(bad, X, Priv.U)).toBe(12);
    }
    expect(cpu.walks).toBe(walks);
    // a probe says the same
    const rec = new WalkRecord();
    expect(cpu.probe(0x40, 0, W, Mode.User, rec)).toBe(15);
    expect(rec.errorCode).toBe(15);
  });

  it("Sv48 and Sv57 widen the range: 0x0000_8000_0000_0000 is invalid in Sv48 and valid in Sv57", () => {
    const a = 0x0000_8000_0000_0000n;
    const s48 = setup(48);
    expect(s48.tr(a, R, Priv.S)).toBe(13);
    expect(s48.cpu.faultKind).toBe(HwFaultKind.NonCanonical);
    const s57 = setup(57);
    expect(s57.tr(a, R, Priv.S)).toBe(13);
    expect(s57.cpu.faultKind).toBe(HwFaultKind.Translation); // valid, just not mapped
    expect(s57.mapper.map(s57.root, vpnOf(a, 57), toPfn(0xa00), 0, {}).ok).toBe(true);
    expect(s57.tr(a, R, Priv.S)).toBe(0);
    expect(vpnHalves(vpnOf(0xff00_0000_0000_0000n, 57), 57)).toEqual(va(0xff00_0000_0000_0000n));
    expect(vpnHalves(vpnOf(0xffff_ffc0_0000_1000n), 39)).toEqual(va(0xffff_ffc0_0000_1000n));
  });
});

describe("A and D: Svade or Svadu", () => {
  it("Svade: A = 0 is a page fault on any access, D = 0 on a store; nothing is written", () => {
    const { cpu, mapper, root, tr, patch } = setup();
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, {
      user: true,
      writable: true,
      accessed: false,
      dirty: false,
    });
    expect([tr(USER, R), tr(USER, X)]).toEqual([13, 12]);
    expect(cpu.faultKind).toBe(HwFaultKind.AccessFlag);
    patch(USER, 0, (hi, lo) => [hi, lo | Pte.A]);
    expect(tr(USER, R)).toBe(0);
    expect(tr(USER, W)).toBe(15); // the TLB entry is clean: the store walks again and meets D = 0
    expect(cpu.faultKind).toBe(HwFaultKind.AccessFlag);
    expect(cpu.adWrites).toBe(0);
    expect(mapper.lookup(root, vpnOf(USER))!.lo & (Pte.A | Pte.D)).toBe(Pte.A);
  });

  it("Svadu: hardware sets A on an allowed access and D on an allowed store, in RAM; a probe writes nothing", () => {
    const { cpu, mapper, root, tr } = setup(39, { svadu: true });
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, {
      user: true,
      writable: true,
      accessed: false,
      dirty: false,
    });
    const rec = new WalkRecord();
    const a = va(USER);
    expect(cpu.probe(a.hi, a.lo, W, Mode.User, rec)).toBe(0);
    expect(mapper.lookup(root, vpnOf(USER))!.lo & (Pte.A | Pte.D)).toBe(0);
    expect(tr(USER, X, Priv.S)).toBe(12); // not allowed: nothing written
    expect(mapper.lookup(root, vpnOf(USER))!.lo & (Pte.A | Pte.D)).toBe(0);
    expect(tr(USER, R)).toBe(0);
    expect(mapper.lookup(root, vpnOf(USER))!.lo & (Pte.A | Pte.D)).toBe(Pte.A);
    expect(tr(USER, W)).toBe(0);
    expect(mapper.lookup(root, vpnOf(USER))!.lo & (Pte.A | Pte.D)).toBe(Pte.A | Pte.D);
    expect([cpu.adWrites, cpu.dirtyAssists]).toEqual([2, 1]);
  });
});

describe("G, access faults, satp", () => {
  it("G on a pointer makes every mapping below global (kept by SFENCE.VMA x0, asid)", () => {
    const { cpu, mapper, root, tr, patch } = setup();
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, { user: true });
    expect(tr(USER, R)).toBe(0);
    expect(cpu.walkRec.meta & (1 << 23)).toBe(0);
    patch(USER, 2, (hi, lo) => [hi, lo | Pte.G]);
    expect(tr(USER, R)).toBe(0);
    expect(cpu.walkRec.meta & (1 << 23)).not.toBe(0);
    cpu.sfenceVma(null, 0);
    const walks = cpu.walks;
    expect(tr(USER, R)).toBe(0);
    expect(cpu.walks).toBe(walks);
  });

  it("a PTE outside RAM is an access fault (scause 1, 5, 7), at the root or below", () => {
    const { cpu, mapper, root, tr, patch } = setup();
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true });
    patch(USER, 1, (hi, lo) => [hi, (lo & 0x3ff) + 0x100000 * 1024]); // PPN 0x100000: 4 GiB, RAM is 256 MiB
    expect([tr(USER, R), tr(USER, W), tr(USER, X)]).toEqual([5, 7, 1]);
    expect(cpu.faultsByCause.accessFault).toBe(3);
    expect([cpu.stvalHi, cpu.stvalLo]).toEqual([0, 0x400000]);
    cpu.loadSatp(SatpMode.Sv39, 0, 2 ** 40);
    expect(tr(USER, R)).toBe(5);
    expect(cpu.walkRec.count).toBe(0);
  });

  it("satp: MODE, ASID, PPN as RV64 lays them out; an unimplemented MODE is a write with no effect", () => {
    const { cpu, root } = bareRiscv({ vaBits: 48 });
    expect(cpu.setSatp(0x9000_0000 | (0x1234 << 12) | 0x1, 0x2000_0000)).toBe(true);
    expect([cpu.satpMode, cpu.asid, cpu.rootPa, cpu.vaSize]).toEqual([
      SatpMode.Sv48,
      0x1234,
      0x1_2000_0000 * 4096,
      48,
    ]);
    expect(cpu.setSatp(0xa000_0000, 0)).toBe(false); // Sv57 on an Sv48 hart
    expect(cpu.setSatp(0x5000_0000, 0)).toBe(false); // a reserved MODE
    expect([cpu.satpMode, cpu.asid]).toEqual([SatpMode.Sv48, 0x1234]);
    // Sv39 on the Sv48 hart: the walk starts at level 2
    expect(cpu.loadSatp(SatpMode.Sv39, 1, pfnToPa(root))).toBe(true);
    expect(cpu.vaSize).toBe(39);
  });

  it("Bare: the address is the physical address for U and S, with no protection; outside RAM an access fault", () => {
    const { cpu, tr } = setup();
    expect(cpu.setSatp(0, 0)).toBe(true);
    expect(tr(0x123_4567n, W, Priv.U)).toBe(0);
    expect(cpu.pa).toBe(0x123_4567);
    expect(tr(0x1_0000_0000n, X, Priv.S)).toBe(1);
    const rec = new WalkRecord();
    expect(cpu.probe(0, 0x5000, R, Mode.User, rec)).toBe(0);
    expect(rec.pagePfn).toBe(5);
  });

  it("names a PTE's flags as the spec does", () => {
    const ext = { svadu: false, svnapot: true, svpbmt: true };
    expect(pteFlagNames(0, 0x900 * 1024 + 0xff, 0, ext)).toEqual(["page", "R", "W", "X", "U", "G", "A", "D"]);
    expect(pteFlagNames(0x2000_0000, 0x900 * 1024 + 0x3c3, 1, ext)).toEqual([
      "superpage",
      "R",
      "A",
      "D",
      "RSW=3",
      "PBMT=NC",
      "misaligned",
    ]);
    expect(pteFlagNames(0, 0x900 * 1024 + 0x1, 2, ext)).toEqual(["pointer"]);
    expect(pteFlagNames(0, 0x900 * 1024 + 0x5, 2, ext)).toEqual(["pointer", "W", "reserved"]);
    expect(pteFlagNames(0, 0, 2, ext)).toEqual(["invalid"]);
  });
});
