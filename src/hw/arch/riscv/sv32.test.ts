/**
 * RV32's Sv32 (privileged spec, "Sv32: Page-Based 32-bit Virtual-Memory
 * System" and its "Virtual Address Translation Process"): two levels of
 * 1024 4-byte PTEs, 4 MiB megapages, 22-bit PPNs (34-bit physical
 * addresses), satp with MODE in bit 31, a 9-bit ASID and a 22-bit PPN, no
 * Svnapot or Svpbmt. Every figure below is derived by hand from the spec's
 * bit layouts.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../../base/errors.ts";
import { type Pfn, toPfn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { SatpMode } from "./Cpu.ts";
import { Pte, pteFlagNames } from "./format.ts";
import { RiscvMachine } from "./machine.ts";
import { bareRiscv } from "./testkit.ts";

const R = Access.Read;
const W = Access.Write;
const X = Access.Exec;
const NO_EXT = { svadu: false, svnapot: false, svpbmt: false };

function sv32(ramBytes = 256 << 20, ext: { svadu?: boolean } = {}) {
  const k = bareRiscv({ vaBits: 32, ramBytes, ...ext });
  const tr = (va: number, access: Access, user = true) => {
    k.cpu.setUserMode(user);
    return k.cpu.translate(0, va >>> 0, access);
  };
  return { ...k, tr };
}

describe("Sv32 walks", () => {
  it("a 4K page: two levels of 4-byte PTEs at root + VPN[1]*4 and table + VPN[0]*4", () => {
    const { cpu, mapper, root, tr, m } = sv32();
    // VA 0x00c01abc: VPN[1] = 3, VPN[0] = 1, offset 0xabc
    expect(mapper.map(root, 0xc01 as Vpn, toPfn(0x900), 0, { user: true, writable: true }).ok).toBe(true);
    expect(tr(0x00c01abc, W)).toBe(0);
    expect(cpu.pa).toBe(0x900abc);
    const rec = cpu.walkRec;
    expect(rec.count).toBe(2);
    expect([rec.level[0], rec.index[0], rec.entryPa[0]]).toEqual([1, 3, root * 4096 + 12]);
    const table = m.phys.read32(root * 4096 + 12) >>> 10;
    expect([rec.level[1], rec.index[1], rec.entryPa[1]]).toEqual([0, 1, table * 4096 + 4]);
    // the leaf: PPN 0x900 << 10 | D A U X W R V (0xdf), one word; the next word is the next PTE (empty)
    expect(m.phys.read32(table * 4096 + 4)).toBe(((0x900 << 10) | 0xdf) >>> 0);
    expect(m.phys.read32(table * 4096 + 8)).toBe(0);
    expect(cpu.format.entryBytes).toBe(4);
    expect(cpu.format.name).toBe("riscv-sv32");
  });

  it("a 4 MiB megapage maps 1024 pages with one TLB entry; a misaligned one is a page fault", () => {
    const { cpu, mapper, root, tr } = sv32();
    // VA 0x00800000 (VPN[1] = 2) to PA 0x01000000 (PPN 0x1000, a multiple of 1024)
    expect(mapper.map(root, 0x800 as Vpn, toPfn(0x1000), 1, { user: true }).ok).toBe(true);
    expect(tr(0x00812345, R)).toBe(0);
    expect(cpu.pa).toBe(0x01012345);
    expect(cpu.walkRec.count).toBe(1);
    const walks = cpu.walks;
    expect(tr(0x00bffffc, R)).toBe(0); // the megapage's last word: a TLB hit
    expect(cpu.pa).toBe(0x013ffffc);
    expect(cpu.walks).toBe(walks);
    // step 6: PPN 0x1001 at level 1 has PPN[0] = 1 != 0: misaligned
    mapper.setEntryRaw(root, 0x800 as Vpn, 1, 0, ((0x1001 << 10) | Pte.V | Pte.R | Pte.U | Pte.A) >>> 0);
    cpu.sfenceVma(null, null);
    expect(tr(0x00812345, R)).toBe(13);
    expect(pteFlagNames(0, (0x1001 << 10) | 0x53, 1, NO_EXT, 10)).toEqual([
      "superpage",
      "R",
      "U",
      "A",
      "misaligned",
    ]);
    // 512 frames would align an Sv39 megapage but not an Sv32 one
    mapper.setEntryRaw(root, 0x800 as Vpn, 1, 0, ((0x1200 << 10) | 0x53) >>> 0);
    cpu.sfenceVma(null, null);
    expect(tr(0x00812345, R)).toBe(13);
  });

  it("tables and pages above 4 GiB: 22-bit PPNs make 34-bit physical addresses", () => {
    const m = new RiscvMachine({ ramBytes: 2 ** 34, vaBits: 32, tlb: "none" });
    const cpu = m.cpus[0];
    // root at PA 0x1_0000_0000 (PPN 0x100000), its entry 4 a pointer to PA 0x2_0000_0000 (PPN 0x200000)
    expect(cpu.loadSatp(SatpMode.Sv32, 5, 0x1_0000_0000)).toBe(true);
    expect(cpu.satpLo).toBe((0x80000000 | (5 << 22) | 0x100000) >>> 0);
    m.phys.write32(0x1_0000_0010, ((0x200000 << 10) | Pte.V) >>> 0);
    // the leaf for VA 0x01005000 (VPN[1] = 4, VPN[0] = 5): PPN 0x3fffff, the top frame of 16 GiB, kernel RW
    m.phys.write32(0x2_0000_0014, ((0x3fffff << 10) | 0xc7) >>> 0);
    cpu.setUserMode(false);
    expect(cpu.translate(0, 0x01005678, R)).toBe(0);
    expect(cpu.pa).toBe(0x3_ffff_f678);
    expect(Array.from(cpu.walkRec.entryPa.slice(0, 2))).toEqual([0x1_0000_0010, 0x2_0000_0014]);
    // a root no 22-bit PPN can name
    expect(cpu.loadSatp(SatpMode.Sv32, 0, 2 ** 34)).toBe(false);
  });

  it("reserved encodings, a pointer at level 0, V = 0 and an access fault end the walk", () => {
    const { cpu, mapper, root, tr, m } = sv32();
    expect(mapper.map(root, 0x400 as Vpn, toPfn(0x900), 0, { user: true }).ok).toBe(true);
    const set = (lo: number) => {
      mapper.setEntryRaw(root, 0x400 as Vpn, 0, 0, lo >>> 0);
      cpu.sfenceVma(null, null);
    };
    set((0x900 << 10) | Pte.V | Pte.W | Pte.U | Pte.A | Pte.D); // W without R
    expect(tr(0x400000, R)).toBe(13);
    set((0x900 << 10) | Pte.V); // a pointer at level 0
    expect(tr(0x400000, X)).toBe(12);
    set(0);
    expect(tr(0x400000, W)).toBe(15);
    // the root outside the 256 MiB of RAM: an access fault (step 2's PMA check)
    expect(cpu.loadSatp(SatpMode.Sv32, 0, 0x2000_0000)).toBe(true);
    expect(tr(0x400000, R)).toBe(5);
    expect(cpu.faultsByCause.accessFault).toBe(1);
    expect(m.phys.nrFrames).toBe(65536);
  });
});

describe("Sv32 satp and SFENCE.VMA", () => {
  it("satp is one word: MODE bit 31 (1 = Sv32), ASID 30:22 (9 bits), PPN 21:0", () => {
    const { cpu, mapper, root, tr } = sv32();
    expect(cpu.maxMode).toBe(SatpMode.Sv32);
    expect(cpu.setSatp(0, (0x80000000 | (0x1ff << 22) | root) >>> 0)).toBe(true);
    expect([cpu.satpMode, cpu.asid, cpu.rootPa, cpu.vaSize]).toEqual([1, 0x1ff, root * 4096, 32]);
    expect(cpu.loadSatp(SatpMode.Sv32, 0x3ff, root * 4096)).toBe(true);
    expect(cpu.asid).toBe(0x1ff); // ASIDMAX 9 on RV32
    expect(cpu.loadSatp(SatpMode.Sv39, 1, root * 4096)).toBe(false); // no RV64 MODE on an RV32 hart
    // MODE 0: Bare, the address is the physical address
    expect(cpu.setSatp(0, root)).toBe(true);
    expect(cpu.satpMode).toBe(SatpMode.Bare);
    expect(tr(0x123456, R)).toBe(0);
    expect(cpu.pa).toBe(0x123456);
    // a VA with a high word cannot be formed by an RV32 hart: the page fault of an invalid address
    expect(cpu.loadSatp(SatpMode.Sv32, 1, root * 4096)).toBe(true);
    expect(mapper.map(root, 0x400 as Vpn, toPfn(0x900), 0, { user: true }).ok).toBe(true);
    cpu.setUserMode(true);
    expect(cpu.translate(1, 0x400000, R)).toBe(13);
    expect(cpu.translate(0, 0x400000, R)).toBe(0);
  });

  it("SFENCE.VMA x0, asid takes the 9-bit ASID's non-global entries", () => {
    const { cpu, mapper, root, tr } = sv32();
    expect(cpu.loadSatp(SatpMode.Sv32, 7, root * 4096)).toBe(true);
    expect(mapper.map(root, 0x400 as Vpn, toPfn(0x900), 0, { user: true }).ok).toBe(true);
    expect(tr(0x400000, R)).toBe(0);
    expect(cpu.sfenceVma(null, 6)).toBe(0);
    expect(cpu.sfenceVma(null, 0x207)).toBeGreaterThan(0); // 0x207 & 0x1ff = 7
    const walks = cpu.walks;
    expect(tr(0x400000, R)).toBe(0);
    expect(cpu.walks).toBe(walks + 1);
    expect(cpu.sfenceVma({ hi: 0, lo: 0x400000 }, 0x1007)).toBeGreaterThan(0);
  });
});

describe("Sv32 rights and A/D", () => {
  it("SUM gates S-mode loads of U pages, MXR reads execute-only pages", () => {
    const { cpu, mapper, root, tr } = sv32();
    expect(mapper.map(root, 0x400 as Vpn, toPfn(0x900), 0, { user: true, writable: true, nx: true }).ok).toBe(
      true,
    );
    expect(mapper.map(root, 0x401 as Vpn, toPfn(0x901), 0, { user: true, readable: false }).ok).toBe(true);
    expect(tr(0x400000, R, false)).toBe(13);
    cpu.setSum(true);
    expect(tr(0x400000, W, false)).toBe(0);
    expect(tr(0x401000, X, false)).toBe(12); // never an S-mode fetch from a U page
    expect(tr(0x401000, R)).toBe(13);
    cpu.setMxr(true);
    expect(tr(0x401000, R)).toBe(0);
  });

  it("Svade faults on A = 0 and on D = 0 for a store; Svadu sets them in the 4-byte PTE", () => {
    // a user read-write page at 0x400000 with A and D clear
    const mapClean = (h: ReturnType<typeof sv32>) =>
      expect(
        h.mapper.map(h.root, 0x400 as Vpn, toPfn(0x900), 0, {
          user: true,
          writable: true,
          accessed: false,
          dirty: false,
        }).ok,
      ).toBe(true);
    const ade = sv32();
    mapClean(ade);
    expect(ade.tr(0x400000, R)).toBe(13);
    const adu = sv32(256 << 20, { svadu: true });
    mapClean(adu);
    const e = adu.mapper.lookup(adu.root, 0x400 as Vpn)!;
    expect(e.lo & (Pte.A | Pte.D)).toBe(0);
    expect(adu.tr(0x400000, W)).toBe(0);
    expect(adu.m.phys.read32(e.entryPa)).toBe((e.lo | Pte.A | Pte.D) >>> 0);
    expect(adu.m.phys.read32(e.entryPa + 4)).toBe(0); // the next PTE untouched
    expect(adu.cpu.adWrites).toBe(1);
  });

  it("a G pointer makes its megapage's pages global: SFENCE.VMA x0, asid keeps them", () => {
    const { cpu, mapper, root, tr, m } = sv32();
    expect(mapper.map(root, 0x400 as Vpn, toPfn(0x900), 0, {}).ok).toBe(true);
    const ptr = root * 4096 + 4;
    m.phys.write32(ptr, (m.phys.read32(ptr) | Pte.G) >>> 0);
    expect(tr(0x400000, R, false)).toBe(0);
    expect(cpu.sfenceVma(null, 0)).toBe(0);
    expect(cpu.sfenceVma(null, null)).toBeGreaterThan(0);
  });
});

describe("Sv32 has no Svnapot or Svpbmt", () => {
  it("svnapot=on or svpbmt=on on an Sv32 hart is an input error naming why", () => {
    expect(() => new RiscvMachine({ ramBytes: 1 << 24, vaBits: 32, svnapot: true })).toThrow(InputError);
    expect(() => new RiscvMachine({ ramBytes: 1 << 24, vaBits: 32, svnapot: true })).toThrow(
      /Svnapot is RV64-only .*Sv32's 4-byte PTE has no N bit/,
    );
    expect(() => new RiscvMachine({ ramBytes: 1 << 24, vaBits: 32, svpbmt: true })).toThrow(/no PBMT field/);
    const m = new RiscvMachine({ ramBytes: 1 << 24, vaBits: 32 });
    expect(() => m.cpus[0].setExtensions({ svnapot: true })).toThrow(/RV64-only/);
    expect(m.cpus[0].format.svnapot).toBe(false);
  });

  it("RAM fits below 2^34 bytes", () => {
    expect(() => new RiscvMachine({ ramBytes: 2 ** 35, vaBits: 32 })).toThrow(/2\^?34|17179869184/);
    const p: Pfn = toPfn(0);
    expect(p).toBe(0);
  });
});
