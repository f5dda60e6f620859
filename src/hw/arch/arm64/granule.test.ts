/**
 * The 16K and 64K translation granules (granule.ts) against hand-derived walks (Arm ARM D8.2,
 * D8.3; QEMU target/arm/ptw.c get_phys_addr_lpae), and the 4K granule against the CPU model.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseImage } from "../../../workloads/pagetableImage.ts";
import { Access, Mode } from "../../access.ts";
import { HwFaultKind } from "../../mmu/PagingFormat.ts";
import { contiguousSpan, type GranuleRegs, granuleWalk, startLevel } from "./granule.ts";

/** descriptor bits: valid, table/page, AF, AP[1] (EL0 access) */
const TABLE = 3n;
const PAGE = 0x443n;
const BLOCK = 0x441n;
const CONT = 1n << 52n;

function memory() {
  const m = new Map<number, bigint>();
  return {
    set: (pa: number, v: bigint) => m.set(pa, v),
    read64: (pa: number) => {
      const v = m.get(pa) ?? 0n;
      return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
    },
  };
}

function regs(g: number, tsz: number, ttbr: number, more: Partial<GranuleRegs> = {}): GranuleRegs {
  const range = { g, tsz, epd: false, tbi: false, ttbr: BigInt(ttbr) };
  return {
    ranges: [range, { ...range }],
    ips: 5,
    parange: 5,
    ha: false,
    hd: false,
    pan: false,
    wxn: false,
    ...more,
  };
}

const el0Read = (r: GranuleRegs, mem: ReturnType<typeof memory>, va: bigint) =>
  granuleWalk(r, mem.read64, va, Access.Read, 0, Mode.User);

describe("16K granule", () => {
  // T0SZ 16: 48-bit VAs, L0 (bit 47: a 2-entry table), L1 46:36, L2 35:25, L3 24:14, offset 13:0
  const mem = memory();
  mem.set(0x10008, 0x20000n | TABLE); // L0[1]
  mem.set(0x20018, 0x28000n | TABLE); // L1[3]
  mem.set(0x20020, 0x1_0000_0000n | BLOCK); // L1[4]: a block, which the 16K granule has not without DS
  mem.set(0x28028, 0x2c000n | TABLE); // L2[5]
  mem.set(0x28030, 0x4000_0000n | BLOCK); // L2[6]: a 32M block
  mem.set(0x2c038, 0x1234_4000n | PAGE); // L3[7]
  const r = regs(14, 16, 0x10000);

  it("walks a 16K page from L0's 2-entry table", () => {
    const va = (1n << 47n) | (3n << 36n) | (5n << 25n) | (7n << 14n) | 0x1abcn; // 0x80300a01dabc
    expect(va).toBe(0x8030_0a01_dabcn);
    const w = el0Read(r, mem, va);
    expect(w).toMatchObject({ ok: true, pa: 0x1234_5abc, size: 16384, contiguous: 0 });
    expect(w.steps.map((s) => [s.armLevel, s.index, s.entryPa])).toEqual([
      [0, 1, 0x10008],
      [1, 3, 0x20018],
      [2, 5, 0x28028],
      [3, 7, 0x2c038],
    ]);
  });

  it("a level-2 block is 32M; a level-1 block is a level 1 Translation fault", () => {
    const va = (1n << 47n) | (3n << 36n) | (6n << 25n) | 0x123456n;
    expect(el0Read(r, mem, va)).toMatchObject({ ok: true, pa: 0x4012_3456, size: 32 * 2 ** 20 });
    const l1 = el0Read(r, mem, (1n << 47n) | (4n << 36n) | 0x10n);
    // DABT from EL0 (EC 0x24), IL, DFSC 0b000101: translation, level 1
    expect(l1).toMatchObject({ ok: false, kind: HwFaultKind.Translation, armLevel: 1, esr: 0x9200_0005 });
  });

  it("a contiguous page is one of 128 (2M); a contiguous 32M block one of 32 (1G)", () => {
    const m = memory();
    m.set(0x8000 + 0x10 * 8, 0x0084_0000n | PAGE | CONT); // L3[16] of a T0SZ 39 table: page 16 of its run
    m.set(0x8000 + 0x7ff * 8, 0x1000_0000n | PAGE); // L3[0x7ff]
    const r39 = regs(14, 39, 0x8000); // 25-bit VAs: one L3 table of 2048 entries
    expect(startLevel(25, 14)).toBe(3);
    const w = el0Read(r39, m, 0x4_0123n);
    // the run's translation: its first page's frame (0x800000, 2M-aligned) + the VA's offset in the run
    expect(w).toMatchObject({ ok: true, pa: 0x0084_0123, size: 16384, contiguous: 128 });
    expect(el0Read(r39, m, 0x1ff_c010n)).toMatchObject({ ok: true, pa: 0x1000_0010 });
    expect(w.steps[0]).toMatchObject({ armLevel: 3, index: 16, entryPa: 0x8080 });
    mem.set(0x28038, 0x4200_0000n | BLOCK | CONT); // L2[7]
    expect(el0Read(r, mem, (1n << 47n) | (3n << 36n) | (7n << 25n) | 0x42n)).toMatchObject({
      ok: true,
      pa: 0x4200_0042,
      size: 32 * 2 ** 20,
      contiguous: 32,
    });
  });
});

describe("64K granule", () => {
  // T0SZ 16: L1 47:42 (a 64-entry table), L2 41:29, L3 28:16, offset 15:0
  const mem = memory();
  mem.set(0x10_0010, 0x11_0000n | TABLE); // L1[2]
  mem.set(0x10_0018, 0x400_0000_0000n | BLOCK); // L1[3]: a 4T block, only with FEAT_LPA
  mem.set(0x11_0018, 0x12_0000n | TABLE); // L2[3]
  mem.set(0x11_0028, 0x6000_0000n | BLOCK); // L2[5]: a 512M block
  mem.set(0x12_0020, 0x5_0003_0000n | PAGE); // L3[4]
  mem.set(0x12_0028, 0x3_1000n | PAGE); // L3[5]: OA[15:12] = 1, OA[51:48] under FEAT_LPA
  const r = regs(16, 16, 0x10_0000);

  it("walks a 64K page through 3 levels, L1 first", () => {
    const va = (2n << 42n) | (3n << 29n) | (4n << 16n) | 0x1234n;
    expect(va).toBe(0x0800_6004_1234n);
    const w = el0Read(r, mem, va);
    expect(w).toMatchObject({ ok: true, pa: 0x5_0003_1234, size: 65536 });
    expect(w.steps.map((s) => [s.armLevel, s.index, s.entryPa])).toEqual([
      [1, 2, 0x10_0010],
      [2, 3, 0x11_0018],
      [3, 4, 0x12_0020],
    ]);
  });

  it("a level-2 block is 512M", () => {
    const va = (2n << 42n) | (5n << 29n) | 0x123_4567n;
    expect(el0Read(r, mem, va)).toMatchObject({ ok: true, pa: 0x6123_4567, size: 512 * 2 ** 20 });
  });

  it("a level-1 block faults unless the PA range is 52 bits (FEAT_LPA)", () => {
    const va = (3n << 42n) | 0x1234_5678n;
    expect(el0Read(r, mem, va)).toMatchObject({ ok: false, kind: HwFaultKind.Translation, armLevel: 1 });
    const lpa = regs(16, 16, 0x10_0000, { parange: 6, ips: 6 });
    expect(el0Read(lpa, mem, va)).toMatchObject({ ok: true, pa: 0x400_1234_5678, size: 2 ** 42 });
  });

  it("OA[51:48] sit in descriptor bits 15:12 with a 52-bit output, are ignored otherwise", () => {
    const va = (2n << 42n) | (3n << 29n) | (5n << 16n) | 0x42n;
    expect(el0Read(r, mem, va)).toMatchObject({ ok: true, pa: 0x3_0042 });
    const lpa = regs(16, 16, 0x10_0000, { parange: 6, ips: 6 });
    expect(el0Read(lpa, mem, va)).toMatchObject({ ok: true, pa: 2 ** 48 + 0x3_0042 });
    // IPS 6 on a 48-bit PA range is 48 bits; 52-bit IPS leaves 4K and 16K at 48 (no DS)
    expect(el0Read(regs(16, 16, 0x10_0000, { ips: 6 }), mem, va)).toMatchObject({ pa: 0x3_0042 });
  });

  it("an output address beyond IPS is an Address size fault of its level", () => {
    const va = (2n << 42n) | (3n << 29n) | (4n << 16n);
    expect(el0Read(regs(16, 16, 0x10_0000, { ips: 0 }), mem, va)).toMatchObject({
      ok: false,
      kind: HwFaultKind.AddressSize,
      armLevel: 3,
      esr: 0x9200_0003,
    });
    // the TTBR's base beyond the output size: level 0
    expect(el0Read(regs(16, 16, 2 ** 33, { ips: 0 }), mem, va)).toMatchObject({
      kind: HwFaultKind.AddressSize,
      armLevel: 0,
    });
  });

  it("contiguous pages are 32 (2M), contiguous level-2 blocks 32 (16G)", () => {
    const m = memory();
    m.set(0x10_0010, 0x11_0000n | TABLE);
    m.set(0x11_0018, 0x12_0000n | TABLE);
    m.set(0x12_0000 + 33 * 8, 0x0061_0000n | PAGE | CONT); // L3[33]: page 1 of the run at 0x600000
    m.set(0x11_0000 + 34 * 8, 0x4_4000_0000n | BLOCK | CONT); // L2[34]
    expect(contiguousSpan(16, 3)).toBe(32);
    const page = el0Read(r, m, (2n << 42n) | (3n << 29n) | (33n << 16n) | 0x10n);
    expect(page).toMatchObject({ ok: true, pa: 0x0061_0010, size: 65536, contiguous: 32 });
    const block = el0Read(r, m, (2n << 42n) | (34n << 29n) | 0x10n);
    expect(block).toMatchObject({ ok: true, pa: 0x4_4000_0010, size: 2 ** 29, contiguous: 32 });
  });
});

describe("TxSZ and the initial level", () => {
  it("starts where AArch64.S1StartLevel says, for each granule, T0SZ 16..39", () => {
    const table: [number, number, number][] = [
      // [input bits, granule bits, level]
      [48, 12, 0],
      [40, 12, 0],
      [39, 12, 1],
      [31, 12, 1],
      [30, 12, 2],
      [25, 12, 2],
      [48, 14, 0],
      [47, 14, 1],
      [37, 14, 1],
      [36, 14, 2],
      [26, 14, 2],
      [25, 14, 3],
      [48, 16, 1],
      [43, 16, 1],
      [42, 16, 2],
      [30, 16, 2],
      [29, 16, 3],
      [25, 16, 3],
    ];
    expect(table.map(([bits, g]) => startLevel(bits, g))).toEqual(table.map((t) => t[2]));
  });

  it("a smaller initial table is aligned to its size; VAs beyond the range fault at level 0", () => {
    // 64K, T0SZ 22: 42-bit VAs start at L2 with a full 8192-entry table; T0SZ 39: L3 with 512 entries
    const m = memory();
    m.set(0x20_0000 + 0x1fff * 8, 0x7_0000n | TABLE);
    m.set(0x7_0000 + 8, 0x9_0000n | PAGE);
    const va42 = (0x1fffn << 29n) | (1n << 16n) | 0x5n;
    expect(el0Read(regs(16, 22, 0x20_0000), m, va42)).toMatchObject({ ok: true, pa: 0x9_0005 });
    // TTBR bits below the 4K (512 x 8) initial table are not part of its address (CnP, bit 0, too)
    m.set(0x30_0000 + 0x1ff * 8, 0xa_0000n | PAGE);
    const r39 = regs(16, 39, 0x30_0ff1);
    expect(el0Read(r39, m, 0x1ff_0007n)).toMatchObject({ ok: true, pa: 0xa_0007 });
    expect(el0Read(r39, m, 0x200_0000n)).toMatchObject({
      ok: false,
      kind: HwFaultKind.Translation,
      armLevel: 0,
    });
    expect(el0Read(r39, m, 0x200_0000n).steps).toEqual([]);
  });
});

describe("the 4K granule's walk is the CPU model's", () => {
  it("gives Cpu.probe's answers on examples/images/arm64.json", () => {
    const file = "examples/images/arm64.json";
    const text = readFileSync(file, "utf8");
    const json = JSON.parse(text);
    const mem = memory();
    const bytes = new Map<number, number>();
    for (const { pa, hex } of json.memory)
      for (let i = 0; i < hex.length / 2; i++)
        bytes.set(Number(pa) + i, Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16));
    for (const a of new Set([...bytes.keys()].map((a) => a - (a % 8)))) {
      let v = 0n;
      for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes.get(a + i) ?? 0);
      mem.set(a, v);
    }
    const g = regs(12, 16, 0);
    g.ranges[0].ttbr = BigInt(json.regs.ttbr0_el1);
    g.ranges[1].ttbr = BigInt(json.regs.ttbr1_el1);
    g.pan = json.regs["pstate.pan"] === 1;
    const img = parseImage(text, file);
    const vas = [
      0x400abcn,
      0x401008n,
      0xa01234n,
      0x402000n,
      0xffff800000001234n,
      0xffff7fffffffffffn,
      0x1_0000_0000_0000n,
    ];
    let checked = 0;
    for (const va of vas)
      for (const [access, kind] of [
        [Access.Read, "read"],
        [Access.Write, "write"],
        [Access.Exec, "exec"],
      ] as const)
        for (const el of [0, 1]) {
          const cpu = img.session.walk(va, access, String(el), kind).report as Record<string, unknown>;
          const w = granuleWalk(g, mem.read64, va, access, el, el === 0 ? Mode.User : Mode.Supervisor);
          if (w.ok) expect(cpu).toMatchObject({ ok: true, pa: `0x${w.pa.toString(16)}`, pageSize: w.size });
          else expect(cpu).toMatchObject({ ok: false, level: w.armLevel, esr: `0x${w.esr.toString(16)}` });
          expect((cpu.levels as unknown[]).length).toBe(w.steps.length);
          checked++;
        }
    expect(checked).toBe(42);
  });
});
