/**
 * The fold of resident runs on arm64 (src/hw/mmu/runFold.ts, ./runFold.ts) against the per-access
 * loop of Mmu.accessRun: twin machines run the same random sequence, one with `runFold.enabled`
 * off. Runs of 1..3000 loads or stores (stride 1, 2, 3 or 7 pages, from EL0 or EL1) over 4 leaf
 * tables' worth of pages across an L0 boundary (TTBR0's range, or TTBR1's), some of them a 2M block
 * instead, with holes, read-only, UXN, global (nG = 0), DBM writable-clean, AF-clear and AttrIndx
 * pages, contiguous-bit pages, output addresses beyond the 40-bit output size, reserved (01) L3
 * descriptors, APTable/UXNTable/PXNTable on the tables above, pages mapped onto page-table frames
 * or outside RAM, scattered single accesses, ASID switches with and without TLBI ASIDE1, TLBI
 * VAE1, TCR_EL1.HA/HD, PSTATE.PAN, SCTLR_EL1.WXN; skylake, tiny and small TLBs. After every run:
 * the count, outcome, ESR/FAR, counters and walk record; every few ops every TLB entry in order,
 * and the bytes of every table and data frame.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn, toVpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { mmuCounters, mmuState, walkRecord } from "../../mmu/fastMiss.testkit.ts";
import { type Arm64Cpu, TTBR1_VPN } from "./Cpu.ts";
import { Desc, DescHi } from "./format.ts";
import { bareArm64 } from "./testkit.ts";

/** the run area: 4 leaf tables' worth of pages, 1024 of them below an L0 entry's boundary */
const NP = 2048;
const L0_PAGES = 2 ** 27;
/** data frames: page p's at DATA + p; a 2M chunk's at BIG + 512 * chunk */
const DATA = 0x1000;
const BIG = 0x2000;
const RAM_FRAMES = 16384;

type Flags = {
  writable: boolean;
  user: boolean;
  nx: boolean;
  global: boolean;
  dbm: boolean;
  dirty: boolean;
  accessed: boolean;
  attrIndx: number;
};
type Op =
  | {
      op: "run";
      page: number;
      count: number;
      step: number;
      off: number;
      access: Access;
      value: number;
      el: 0 | 1;
    }
  | ({ op: "map"; page: number; frame: number } & Flags)
  | { op: "unmap"; page: number }
  | ({ op: "mapEvery"; page: number; len: number; every: number; unmap: boolean } & Flags)
  | { op: "touch"; page: number; access: Access }
  | { op: "age"; page: number; clean: boolean }
  | { op: "poison"; page: number; kind: number }
  | { op: "tableBits"; page: number; level: number; bits: number }
  | { op: "asid"; asid: number; flush: boolean }
  | { op: "tlbi"; page: number }
  | { op: "tcr"; ha: boolean; hd: boolean }
  | { op: "pan"; pan: boolean; wxn: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  dbm: fc.constantFrom(false, true, true),
  dirty: fc.boolean(),
  accessed: fc.constantFrom(true, true, true, false),
  attrIndx: fc.constantFrom(0, 0, 0, 4),
};
const pageArb = fc.nat(NP - 1);
const rwFlags: Flags = {
  writable: true,
  user: true,
  nx: false,
  global: false,
  dbm: false,
  dirty: false,
  accessed: true,
  attrIndx: 0,
};
const w = <T>(arbitrary: fc.Arbitrary<T>, weight: number) => ({ arbitrary, weight });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  w(
    fc.record({
      op: fc.constant("run" as const),
      page: pageArb,
      count: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3000 })),
      step: fc.constantFrom(1, 1, 1, 1, 2, 3, 7),
      off: fc.constantFrom(0, 8, 0x123, 0xfff),
      access: fc.constantFrom(Access.Write, Access.Read, Access.Read),
      value: fc.nat(255),
      el: fc.constantFrom(0 as const, 0 as const, 0 as const, 1 as const),
    }),
    10,
  ),
  w(
    fc.record({
      op: fc.constant("map" as const),
      page: pageArb,
      // its own frame, another data frame, a page table's, or one outside RAM
      frame: fc.oneof(
        fc.integer({ min: DATA, max: DATA + NP - 1 }),
        fc.integer({ min: 256, max: 270 }),
        fc.constant(RAM_FRAMES + 5),
      ),
      ...flagsArb,
    }),
    3,
  ),
  w(fc.record({ op: fc.constant("unmap" as const), page: pageArb }), 2),
  w(
    fc.record({
      op: fc.constant("mapEvery" as const),
      page: pageArb,
      len: fc.integer({ min: 1, max: 300 }),
      every: fc.integer({ min: 1, max: 9 }),
      unmap: fc.constantFrom(false, false, false, true),
      ...flagsArb,
      nx: fc.boolean(),
    }),
    4,
  ),
  w(
    fc.record({
      op: fc.constant("touch" as const),
      page: pageArb,
      access: fc.constantFrom(Access.Read, Access.Write),
    }),
    6,
  ),
  w(fc.record({ op: fc.constant("age" as const), page: pageArb, clean: fc.boolean() }), 2),
  // kind 0: output address bit 47 (beyond 40 bits); 1: bits[1:0] = 01 (reserved at L3); 2: the
  // Contiguous bit toggled (a 64K translation); 3: the Contiguous bit on 16 aligned pages
  w(fc.record({ op: fc.constant("poison" as const), page: pageArb, kind: fc.nat(3) }), 2),
  w(
    fc.record({
      op: fc.constant("tableBits" as const),
      page: pageArb,
      level: fc.integer({ min: 1, max: 3 }),
      bits: fc.nat(15),
    }),
    1,
  ),
  w(fc.record({ op: fc.constant("asid" as const), asid: fc.nat(2), flush: fc.boolean() }), 1),
  w(fc.record({ op: fc.constant("tlbi" as const), page: pageArb }), 1),
  w(
    fc.record({ op: fc.constant("tcr" as const), ha: fc.constantFrom(true, true, false), hd: fc.boolean() }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("pan" as const),
      pan: fc.boolean(),
      wxn: fc.constantFrom(false, false, true),
    }),
    1,
  ),
);

/** a page number's VA halves (TTBR1's sign-extended) */
const halves = (vpn: number) => {
  const ttbr1 = vpn >= TTBR1_VPN;
  const low = vpn % TTBR1_VPN;
  return {
    hi: ((ttbr1 ? 0xffff0000 : 0) | Math.floor(low / 1048576)) >>> 0,
    lo: ((low % 1048576) * 4096) >>> 0,
  };
};

interface Twin {
  cpu: Arm64Cpu;
  tables: () => [number, number];
  apply(o: Op): string;
}

/** One machine: the run area (TTBR1's range when `high`) mapped, chunk c of 512 pages a 2M block where big[c]. */
function machine(tlb: string, big: boolean[], high: boolean, fold: boolean, ramFrames = RAM_FRAMES): Twin {
  const { cpu, mapper, root0, root1, frames, m } = bareArm64({
    tlb,
    ramBytes: ramFrames * 4096,
    paBits: 40,
  });
  cpu.runFold!.enabled = fold;
  cpu.setTcr({ a1: true, ha: true, hd: true });
  const R = (high ? TTBR1_VPN : 0) + L0_PAGES - 1024;
  const root = high ? root1 : root0;
  const rw = { writable: true, user: true, dbm: true };
  const isBig = (p: number) => big[p >> 9];
  for (let c = 0; c < big.length; c++)
    if (big[c]) mapper.map(root, toVpn(R + 512 * c), toPfn(BIG + 512 * c), 1, rw);
  for (let p = 0; p < NP; p++) if (!isBig(p)) mapper.map(root, toVpn(R + p), toPfn(DATA + p), 0, rw);
  cpu.el = 0;
  const leaf = (page: number) => (isBig(page) ? null : mapper.entryAt(root, toVpn(R + page), 0));
  const apply = (o: Op): string => {
    switch (o.op) {
      case "run": {
        cpu.el = o.el;
        const count = Math.min(o.count, Math.floor((NP + 600 - o.page - 1) / o.step) + 1);
        const { hi, lo } = halves(R + o.page);
        const done = cpu.accessRun(hi, lo + o.off, count, o.step * 4096, o.access, o.value);
        cpu.el = 0;
        return `${done}:${cpu.runOutcome}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}:${cpu.esr}:${cpu.farHi}:${cpu.farLo}`;
      }
      case "map": {
        if (isBig(o.page)) return "";
        mapper.unmap(root, toVpn(R + o.page));
        const { frame, page: _p, op: _o, ...flags } = o;
        return String(mapper.map(root, toVpn(R + o.page), toPfn(frame), 0, flags).ok);
      }
      case "unmap":
        if (!isBig(o.page)) mapper.unmap(root, toVpn(R + o.page));
        return "";
      case "mapEvery": {
        const { page, len, every, unmap, op: _o, ...flags } = o;
        for (let p = page; p < Math.min(page + len, NP); p += every) {
          if (isBig(p)) continue;
          mapper.unmap(root, toVpn(R + p));
          if (!unmap) mapper.map(root, toVpn(R + p), toPfn(DATA + p), 0, flags);
        }
        return "";
      }
      case "touch": {
        const { hi, lo } = halves(R + o.page);
        return String(o.access === Access.Write ? cpu.store8(hi, lo, 7) : cpu.load8(hi, lo));
      }
      case "age": {
        // AF cleared (ptep_test_and_clear_young), or a DBM page made clean again (AP[2] set)
        const e = leaf(o.page);
        if (e === null || (e.lo & Desc.VALID) === 0) return "";
        const lo = o.clean ? ((e.hi & DescHi.DBM) !== 0 ? e.lo | Desc.AP2 : e.lo) : e.lo & ~Desc.AF;
        m.phys.write32(e.entryPa, lo >>> 0);
        return "aged";
      }
      case "poison": {
        if (o.kind === 3) {
          const first = o.page - (o.page % 16);
          for (let p = first; p < first + 16; p++) {
            const e = leaf(p);
            if (e !== null && (e.lo & Desc.VALID) !== 0)
              m.phys.write32(e.entryPa + 4, (e.hi | DescHi.CONT) >>> 0);
          }
          return "cont16";
        }
        const e = leaf(o.page);
        if (e === null || (e.lo & Desc.VALID) === 0) return "";
        if (o.kind === 0) m.phys.write32(e.entryPa + 4, (e.hi | (1 << 15)) >>> 0);
        else if (o.kind === 1) m.phys.write32(e.entryPa, (e.lo & ~Desc.TABLE_OR_PAGE) >>> 0);
        else m.phys.write32(e.entryPa + 4, (e.hi ^ DescHi.CONT) >>> 0);
        return "poisoned";
      }
      case "tableBits": {
        // APTable/UXNTable/PXNTable on a table descriptor above the page
        const e = mapper.entryAt(root, toVpn(R + o.page), o.level);
        if (e === null || (e.lo & 3) !== 3) return "";
        m.phys.write32(e.entryPa + 4, ((e.hi & ~(15 << 27)) | (o.bits << 27)) >>> 0);
        return "bits";
      }
      case "asid":
        if (o.flush) cpu.loadUserRoot(root0, o.asid);
        else cpu.switchTtbr0(pfnToPa(root0), o.asid);
        return String(cpu.currentAsid);
      case "tlbi": {
        const { hi, lo } = halves(R + o.page);
        return String(cpu.tlbi("vae1", hi, lo, cpu.asid));
      }
      case "tcr":
        cpu.setTcr({ ha: o.ha, hd: o.hd });
        return "";
      case "pan":
        cpu.setPan(o.pan);
        cpu.setWxn(o.wxn);
        return "";
    }
  };
  return { cpu, tables: () => [256, frames.next], apply };
}

/** Everything both must agree on, with the data frames' bytes. */
function state(t: Twin): unknown {
  const data: number[] = [];
  for (let f = DATA; f < BIG + 2048; f += 1) {
    const words = t.cpu.phys.frameWords(toPfn(f));
    data.push(words === null ? 0 : words.reduce((a, x, i) => (a * 31 + x + i) % 1000000007, 0));
  }
  return {
    ...mmuState(t.cpu, t.tables()),
    data,
    faults: { ...t.cpu.faultsByKind },
    stray: t.cpu.phys.strayAccesses,
  };
}

describe("runFold against accessRun's per-access loop, arm64 (fast-check)", () => {
  for (const tlb of ["skylake", "tiny", "16x4,64x8"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      let folded = 0;
      let spans = 0;
      const same = (what: string, x: unknown, y: unknown) => {
        if (JSON.stringify(x) !== JSON.stringify(y)) expect(x, what).toEqual(y);
      };
      fc.assert(
        fc.property(
          fc.array(fc.constantFrom(false, false, false, true), { minLength: 4, maxLength: 4 }),
          fc.constantFrom(false, false, true),
          fc.array(opArb, { minLength: 10, maxLength: 40 }),
          (big, high, ops) => {
            const a = machine(tlb, big, high, true);
            const b = machine(tlb, big, high, false);
            for (let i = 0; i < ops.length; i++) {
              const ra = a.apply(ops[i]);
              const rb = b.apply(ops[i]);
              if (ra !== rb) expect(ra, `op ${i} ${JSON.stringify(ops[i])}`).toBe(rb);
              if (ops[i].op === "run") {
                same(`counters after op ${i}`, mmuCounters(a.cpu), mmuCounters(b.cpu));
                same(`walk record after op ${i}`, walkRecord(a.cpu), walkRecord(b.cpu));
              }
              if (i % 6 === 5) same(`state after op ${i}`, state(a), state(b));
            }
            same("state at the end", state(a), state(b));
            folded += a.cpu.runFold!.pages;
            spans += a.cpu.runFold!.spans;
            expect(b.cpu.runFold!.pages).toBe(0);
          },
        ),
        { numRuns: 40, seed: 0xa64f01d + tlb.length },
      );
      // the fold ran, over many spans
      expect(spans).toBeGreaterThan(100);
      expect(folded).toBeGreaterThan(20000);
    });
});

describe("runFold's leaf checks page by page, arm64 (fast-check)", () => {
  it("stops where the per-access loop faults: every descriptor bit, HA/HD, PAN, WXN, EL, reads and writes", () => {
    let stops = 0;
    const flagArb = fc.record({
      ...flagsArb,
      nx: fc.boolean(),
      present: fc.constantFrom(true, true, true, false),
      poison: fc.constantFrom(-1, -1, -1, -1, 0, 1, 2),
    });
    fc.assert(
      fc.property(
        fc.array(flagArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.record({ ha: fc.boolean(), hd: fc.boolean() }),
        fc.record({ pan: fc.boolean(), wxn: fc.boolean() }),
        fc.array(
          fc.record({
            page: fc.nat(700),
            count: fc.integer({ min: 1, max: 900 }),
            write: fc.boolean(),
            el: fc.constantFrom(0 as const, 0 as const, 1 as const),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (pattern, spacing, tcr, pan, runs) => {
          const twins = [true, false].map((fold) => {
            const t = machine("skylake", [false, false, false, false], false, fold);
            t.apply({ op: "tcr", ...tcr });
            t.apply({ op: "pan", ...pan });
            // page p (p % spacing === 0) gets pattern[(p / spacing) % length]'s flags
            for (let p = 0; p < NP; p += spacing) {
              const { present, poison, ...flags } = pattern[(p / spacing) % pattern.length];
              t.apply({ op: "unmap", page: p });
              if (present) t.apply({ op: "map", page: p, frame: DATA + p, ...flags });
              if (present && poison >= 0) t.apply({ op: "poison", page: p, kind: poison });
            }
            return t;
          });
          for (const r of runs) {
            const o: Op = {
              op: "run",
              page: r.page,
              count: r.count,
              step: 1,
              off: 0x10,
              access: r.write ? Access.Write : Access.Read,
              value: 9,
              el: r.el,
            };
            const [ra, rb] = twins.map((t) => t.apply(o));
            expect(ra).toBe(rb);
            expect(walkRecord(twins[0].cpu)).toEqual(walkRecord(twins[1].cpu));
            expect(mmuCounters(twins[0].cpu)).toEqual(mmuCounters(twins[1].cpu));
            if (twins[0].cpu.runOutcome !== 0 && twins[0].cpu.runFold!.pages > 0) stops++;
          }
          const [sa, sb] = twins.map((t) => state(t));
          expect(sa).toEqual(sb);
        },
      ),
      { numRuns: 150, seed: 0x1eaf64 },
    );
    expect(stops).toBeGreaterThan(50);
  });
});

describe("runFold and an output address above TCR_EL1.IPS's size inside RAM, arm64 (fast-check)", () => {
  it("stops at each such page (an Address size fault at level 3), as the per-access loop does", () => {
    const FOUR_GIB = 1048576; // frames
    let stops = 0;
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(false, false, false, true), { minLength: 1, maxLength: 9 }),
        fc.array(
          fc.record({ page: fc.nat(700), count: fc.integer({ min: 1, max: 900 }), write: fc.boolean() }),
          { minLength: 1, maxLength: 4 },
        ),
        (pattern, runs) => {
          const twins = [true, false].map((fold) => {
            // 8 GiB of RAM (materialised as written), a 32-bit output size (IPS = 0)
            const t = machine("skylake", [false, false, false, false], false, fold, 2 * FOUR_GIB);
            t.cpu.setTcr({ ips: 0 });
            for (let p = 0; p < NP; p++)
              if (pattern[p % pattern.length]) {
                t.apply({ op: "unmap", page: p });
                t.apply({ op: "map", page: p, frame: FOUR_GIB + DATA + p, ...rwFlags });
              }
            return t;
          });
          for (const r of runs) {
            const o: Op = {
              op: "run",
              page: r.page,
              count: r.count,
              step: 1,
              off: 0x10,
              access: r.write ? Access.Write : Access.Read,
              value: 9,
              el: 0,
            };
            const [ra, rb] = twins.map((t) => t.apply(o));
            expect(ra).toBe(rb);
            expect(mmuCounters(twins[0].cpu)).toEqual(mmuCounters(twins[1].cpu));
            if (twins[0].cpu.faultsByKind.addressSize > 0 && twins[0].cpu.runFold!.pages > 0) stops++;
          }
          const [sa, sb] = twins.map((t) => state(t));
          expect(sa).toEqual(sb);
        },
      ),
      { numRuns: 40, seed: 0x1a5 },
    );
    expect(stops).toBeGreaterThan(10);
  });
});
