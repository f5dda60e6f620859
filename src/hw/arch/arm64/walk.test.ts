/**
 * The walk of AArch64.S1Translate on the 4 KiB granule: table controls, the
 * Access flag and dirty state, fault kinds and levels with their ESR_EL1,
 * TTBR selection, VA sizes, TBI, EPD, address-size faults.
 */
import { describe, expect, it } from "vitest";
import { type Pfn, pfnToPa, toPfn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { WalkRecord } from "./Cpu.ts";
import { describeEsr, esrOf } from "./fault.ts";
import { Desc, DescHi } from "./format.ts";
import { bareArm64, va, vpnOf } from "./testkit.ts";

const R = Access.Read;
const W = Access.Write;
const X = Access.Exec;
const USER = 0x400000n;
const KERNEL = 0xffff_8000_0010_0000n;

/** ESR_EL1 by hand: EC, IL, WnR, FSC. */
const esr = (ec: number, fsc: number, wnr = false) => ec * 2 ** 26 + 2 ** 25 + (wnr ? 0x40 : 0) + fsc;

function setup(vaBits = 48) {
  const k = bareArm64({}, vaBits);
  const tr = (v: bigint, access: Access, el = 0) => {
    k.cpu.el = el;
    const a = va(v);
    return k.cpu.translate(a.hi, a.lo, access);
  };
  return { ...k, tr };
}

describe("ESR_EL1 values", () => {
  it("match the Arm ARM's encodings (EC, IL, WnR, DFSC/IFSC by kind and level)", () => {
    // Linux's familiar values: EL0 read translation fault at L3, EL1 write permission fault at L3, EL1 fetch
    expect(esrOf(1, 3, R, 0)).toBe(0x92000007);
    expect(esrOf(2, 3, W, 1)).toBe(0x9600004f);
    expect(esrOf(2, 3, X, 1)).toBe(0x8600000f);
    expect(esrOf(2, 2, X, 0)).toBe(0x8200000e);
    for (let level = 0; level < 4; level++) {
      expect(esrOf(1, level, R, 1)).toBe(esr(0x25, 0x04 + level));
      expect(esrOf(5, level, W, 0)).toBe(esr(0x24, 0x08 + level, true));
      expect(esrOf(2, level, X, 0)).toBe(esr(0x20, 0x0c + level));
      expect(esrOf(6, level, R, 0)).toBe(esr(0x24, 0x00 + level));
    }
    expect(describeEsr(0x9600004f)).toBe(
      "EC = 0x25: DABT (current EL), IL = 1, WnR = 1 (write), DFSC = 0x0f: permission fault, level 3",
    );
  });

  it("a translation fault is reported at the level of the invalid descriptor, FAR = the VA", () => {
    const { cpu, mapper, root0, tr } = setup();
    expect(tr(USER, R)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x04)); // L0[0] is invalid
    mapper.ensureTable(root0, vpnOf(USER), 2);
    expect(tr(USER + 0x123n, W, 1)).toBe(0x25);
    expect(cpu.esr).toBe(esr(0x25, 0x05, true)); // L1 table present, L1[0] invalid
    expect([cpu.farHi, cpu.farLo]).toEqual([0, 0x400123]);
    mapper.ensureTable(root0, vpnOf(USER), 0);
    expect(tr(USER, X, 0)).toBe(0x20);
    expect(cpu.esr).toBe(esr(0x20, 0x07));
  });
});

describe("descriptors", () => {
  it("maps 4K pages, 2M and 1G blocks; a block at L0 and bits[1:0] = 01 at L3 are translation faults", () => {
    const { cpu, mapper, root0, tr } = setup();
    expect(mapper.map(root0, vpnOf(0x4000_0000n), toPfn(0x80000), 2, { user: true }).ok).toBe(true);
    expect(tr(0x4012_3456n, R)).toBe(0);
    expect(cpu.pa).toBe(0x8012_3456);
    expect(mapper.map(root0, vpnOf(0x20_0000n), toPfn(0x400), 1, { user: true }).ok).toBe(true);
    expect(tr(0x2f_0001n, R)).toBe(0);
    expect(cpu.pa).toBe(0x4f_0001);
    // L3 with bits[1:0] = 01
    mapper.map(root0, vpnOf(USER), toPfn(0x900), 0, { user: true });
    const e = mapper.lookup(root0, vpnOf(USER))!;
    mapper.setEntryRaw(root0, vpnOf(USER), 0, e.hi, e.lo & ~Desc.TABLE_OR_PAGE);
    cpu.tlbi("vmalle1");
    expect(tr(USER, R)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x07));
    // a block descriptor at L0
    mapper.setEntryRaw(root0, vpnOf(0x80_0000_0000n), 3, 0, 0x401);
    expect(tr(0x80_0000_0000n, R)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x04));
  });

  it("hierarchical APTable, UXNTable and PXNTable restrict every page below", () => {
    const { cpu, mapper, root0, tr } = setup();
    mapper.map(root0, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true, nx: false });
    const l2 = mapper.entryAt(root0, vpnOf(USER), 1)!; // the L2 table descriptor pointing to the L3 table
    const withTable = (bits: number) => {
      mapper.setEntryRaw(root0, vpnOf(USER), 1, l2.hi | bits, l2.lo);
      cpu.tlbi("vmalle1");
    };
    withTable(0);
    expect([tr(USER, W, 0), tr(USER, X, 0)]).toEqual([0, 0]);
    withTable(DescHi.AP_TABLE1); // no writes below
    expect(tr(USER, W, 0)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x0f, true));
    expect(tr(USER, W, 1)).toBe(0x25);
    expect(tr(USER, R, 0)).toBe(0);
    withTable(DescHi.AP_TABLE0); // no EL0 access below
    expect(tr(USER, R, 0)).toBe(0x24);
    expect(tr(USER, R, 1)).toBe(0); // and so no longer EL0-writable: EL1 may execute (no implied PXN, PXN = 1 though)
    withTable(DescHi.UXN_TABLE);
    expect(tr(USER, X, 0)).toBe(0x20);
    expect(tr(USER, R, 0)).toBe(0);
    // a kernel page under PXNTable
    mapper.map(root0, vpnOf(0x20_0000n), toPfn(0xa00), 0, { nx: false });
    const k2 = mapper.entryAt(root0, vpnOf(0x20_0000n), 1)!;
    expect(tr(0x20_0000n, X, 1)).toBe(0);
    mapper.setEntryRaw(root0, vpnOf(0x20_0000n), 1, k2.hi | DescHi.PXN_TABLE, k2.lo);
    cpu.tlbi("vmalle1");
    expect(tr(0x20_0000n, X, 1)).toBe(0x21);
    expect(cpu.esr).toBe(esr(0x21, 0x0f));
  });
});

describe("the Access flag and dirty state", () => {
  it("AF = 0 is an Access flag fault at the leaf's level unless TCR_EL1.HA; with HA hardware sets AF in RAM", () => {
    const { cpu, mapper, root0, tr } = setup();
    mapper.map(root0, vpnOf(USER), toPfn(0x900), 0, { user: true, accessed: false });
    mapper.map(root0, vpnOf(0x20_0000n), toPfn(0x400), 1, { user: true, accessed: false });
    expect(tr(USER, R)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x0b));
    expect(tr(0x20_0000n, W, 1)).toBe(0x25);
    expect(cpu.esr).toBe(esr(0x25, 0x0a, true)); // the AF fault comes before the permission fault
    expect(cpu.faultsByKind.accessFlag).toBe(2);
    // a probe with HA reports success and writes nothing
    cpu.setTcr({ ha: true });
    const rec = new WalkRecord();
    const a = va(USER);
    expect(cpu.probe(a.hi, a.lo, R, Mode.User, rec)).toBe(0);
    expect(mapper.lookup(root0, vpnOf(USER))!.lo & Desc.AF).toBe(0);
    expect(tr(USER, R)).toBe(0);
    expect(mapper.lookup(root0, vpnOf(USER))!.lo & Desc.AF).toBe(Desc.AF);
    expect(cpu.adWrites).toBe(1);
  });

  it("DBM with HA and HD: a write clears AP[2] in RAM; without HD (or without HA) it is a permission fault", () => {
    const { cpu, mapper, root0, tr } = setup();
    mapper.map(root0, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true, dbm: true, dirty: false });
    const ap2 = () => mapper.lookup(root0, vpnOf(USER))!.lo & Desc.AP2;
    expect(ap2()).toBe(Desc.AP2);
    expect(tr(USER, W)).toBe(0x24); // HA = HD = 0: DBM is just a bit, AP[2] = 1 is read-only
    expect(cpu.esr).toBe(esr(0x24, 0x0f, true));
    cpu.setTcr({ hd: true }); // HD without HA: no effect
    cpu.tlbi("vmalle1");
    expect(tr(USER, W)).toBe(0x24);
    cpu.setTcr({ ha: true, hd: true });
    cpu.tlbi("vmalle1");
    expect(tr(USER, R)).toBe(0); // a read leaves it clean, and caches a clean entry
    expect(ap2()).toBe(Desc.AP2);
    const walks = cpu.walks;
    expect(tr(USER, W)).toBe(0); // a write through the clean TLB entry walks again and sets the dirty state
    expect(cpu.walks).toBe(walks + 1);
    expect(ap2()).toBe(0);
    expect(tr(USER, W)).toBe(0);
    expect(cpu.walks).toBe(walks + 1);
    // APTable[1] still forbids the write: no update
    mapper.protect(root0, vpnOf(USER), { user: true, writable: true, dbm: true, dirty: false });
    const l2 = mapper.entryAt(root0, vpnOf(USER), 1)!;
    mapper.setEntryRaw(root0, vpnOf(USER), 1, l2.hi | DescHi.AP_TABLE1, l2.lo);
    cpu.tlbi("vmalle1");
    expect(tr(USER, W)).toBe(0x24);
    expect(ap2()).toBe(Desc.AP2);
  });
});

describe("address ranges", () => {
  it("bit 55 picks TTBR0 or TTBR1; other addresses are a translation fault at level 0", () => {
    const { cpu, mapper, root0, root1, tr } = setup();
    mapper.map(root0, vpnOf(USER), toPfn(0x900), 0, { user: true });
    mapper.map(root1, vpnOf(KERNEL), toPfn(0xa00), 0, { global: true });
    expect(tr(USER + 1n, R)).toBe(0);
    expect(cpu.pa).toBe(0x900001);
    expect(tr(KERNEL + 2n, R, 1)).toBe(0);
    expect(cpu.pa).toBe(0xa00002);
    // the same VA[47:0] in the other range is another page
    expect(tr(0xffff_0000_0040_0000n, R, 1)).toBe(0x25);
    expect(cpu.esr).toBe(esr(0x25, 0x04));
    for (const bad of [
      0x0001_0000_0000_0000n,
      0xfffe_8000_0010_0000n,
      0x0080_0000_0040_0000n,
      0x8000_0000_0040_0000n,
    ]) {
      expect(tr(bad, W, 0), bad.toString(16)).toBe(0x24);
      expect(cpu.esr).toBe(esr(0x24, 0x04, true));
      const a = va(bad);
      expect([cpu.farHi, cpu.farLo]).toEqual([a.hi, a.lo]);
    }
  });

  it("T0SZ = 25 (39-bit VAs) starts at L1 with a 512-entry table; T0SZ = 33 at L1 with a 2-entry table aligned to 16 bytes", () => {
    const { cpu, mapper, root0, tr } = setup(39);
    expect(mapper.levels).toBe(3);
    mapper.map(root0, vpnOf(0x40_0000_1000n), toPfn(0x900), 0, { user: true });
    expect(tr(0x40_0000_1234n, R)).toBe(0);
    expect(cpu.pa).toBe(0x900234);
    expect(cpu.walkRec.count).toBe(3);
    expect(cpu.walkRec.level[0]).toBe(2); // L1
    expect(cpu.walkRec.index[0]).toBe(256); // VA[38:30]
    expect(tr(0x80_0000_0000n, R)).toBe(0x24); // beyond 39 bits
    expect(cpu.esr).toBe(esr(0x24, 0x04));
    // 31-bit range: an initial L1 table of 2 entries (16 bytes), aligned to 16 bytes
    const m31 = setup(31);
    expect(m31.mapper.map(m31.root0, vpnOf(0x4000_0000n), toPfn(0x40000), 2, { user: true }).ok).toBe(true);
    expect(m31.tr(0x4000_0010n, R)).toBe(0);
    expect(m31.cpu.walkRec.count).toBe(1);
    // TTBR0 at the table + 8 and CnP set: the low bits are not part of the address
    m31.cpu.loadTtbr0(pfnToPa(m31.root0) + 9, 0);
    m31.cpu.tlbi("vmalle1");
    expect(m31.tr(0x4000_0010n, R)).toBe(0);
    expect(m31.cpu.walkRec.entryPa[0]).toBe(pfnToPa(m31.root0) + 8);
  });

  it("TBI ignores the top byte of data addresses only; EPD refuses walks (TLB hits still work)", () => {
    const { cpu, mapper, root0, tr } = setup();
    mapper.map(root0, vpnOf(USER), toPfn(0x900), 0, { user: true, nx: false });
    const tagged = 0x5a00_0000_0040_0000n;
    expect(tr(tagged, R)).toBe(0x24);
    cpu.setTcr({ tbi0: true });
    expect(tr(tagged, R)).toBe(0);
    expect(tr(tagged, W)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x0f, true));
    expect(tr(tagged, X)).toBe(0x20); // fetches: no top-byte ignore
    expect(cpu.esr).toBe(esr(0x20, 0x04));
    expect(tr(USER, X)).toBe(0);
    // TBI1 does not apply to TTBR0's range
    cpu.setTcr({ tbi0: false, tbi1: true });
    expect(tr(tagged, R)).toBe(0x24);
    // EPD0: a TLB miss in TTBR0's range is a translation fault at level 0; the cached entry still hits
    cpu.setTcr({ epd0: true });
    expect(tr(USER, R)).toBe(0);
    cpu.tlbi("vmalle1");
    expect(tr(USER, R)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x04));
    expect(tr(KERNEL, R, 1)).toBe(0x25); // TTBR1's range is walked (and its table is empty: level 0)
    cpu.setTcr({ epd1: true });
    expect(tr(KERNEL, R, 1)).toBe(0x25);
    expect(cpu.esr).toBe(esr(0x25, 0x04));
  });

  it("address size faults: an output address beyond TCR_EL1.IPS at its level, a TTBR beyond it at level 0", () => {
    const { cpu, mapper, root0, tr } = setup();
    mapper.map(root0, vpnOf(USER), toPfn(0x1_2345_6000 / 4096), 0, { user: true }); // PA above 4 GiB
    expect(tr(USER, R)).toBe(0);
    cpu.setTcr({ ips: 0 }); // 32 bits
    cpu.tlbi("vmalle1");
    expect(tr(USER, R)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x03));
    expect(cpu.faultsByKind.addressSize).toBe(1);
    cpu.setTcr({ ips: 1 }); // 36 bits: 0x1_2345_6000 fits
    expect(tr(USER, R)).toBe(0);
    // a table descriptor beyond the output size: the fault is at that table's level
    const l1 = mapper.entryAt(root0, vpnOf(USER), 2)!;
    mapper.setEntryRaw(root0, vpnOf(USER), 2, l1.hi | 0x10, l1.lo); // bit 36 of the next table's address
    cpu.tlbi("vmalle1");
    expect(tr(USER, R)).toBe(0x24);
    expect(cpu.esr).toBe(esr(0x24, 0x01));
    // TTBR0 beyond 36 bits
    cpu.loadTtbr0(2 ** 40, 0);
    expect(tr(USER, R, 1)).toBe(0x25);
    expect(cpu.esr).toBe(esr(0x25, 0x00));
  });
});

describe("ASIDs", () => {
  it("8-bit ASIDs unless TCR_EL1.AS; TTBR0's ASID tags non-global entries", () => {
    const { cpu, root0 } = setup();
    cpu.loadTtbr0(pfnToPa(root0 as Pfn), 0x1234);
    expect(cpu.currentAsid).toBe(0x1234);
    cpu.setTcr({ as: false });
    expect(cpu.currentAsid).toBe(0x34);
  });
});
