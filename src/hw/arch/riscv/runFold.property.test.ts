/**
 * The fold of resident runs on RISC-V Sv48 (src/hw/mmu/runFold.ts, ./runFold.ts) against the
 * per-access loop of Mmu.accessRun: twin machines run the same random sequence, one with
 * `runFold.enabled` off. Runs of 1..3000 loads or stores (stride 1, 2, 3 or 7 pages, from U or S
 * mode) over 4 leaf tables' worth of pages across a level-3 PTE's boundary, some of them a 2M
 * superpage, with holes, read-only, no-execute, global, A/D-clear, PBMT pages, reserved bits,
 * W without R, PBMT = 3, Svnapot N bits, G on a pointer above, pages mapped onto page-table frames
 * or outside RAM, scattered single accesses, ASID switches with and without SFENCE.VMA, SFENCE.VMA
 * of a page, Svadu on and off, sstatus.SUM/MXR; skylake, tiny and small TLBs. After every run: the
 * count, outcome, counters and walk record; every few ops every TLB entry in order, and the bytes
 * of every table and data frame.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn, toVpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { mmuCounters, mmuState, walkRecord } from "../../mmu/fastMiss.testkit.ts";
import type { RiscvCpu } from "./Cpu.ts";
import { Pte, PteHi } from "./format.ts";
import { bareRiscv } from "./testkit.ts";

const NP = 2048;
/** the run area: 1024 pages below a level-3 PTE's boundary (512 GiB) */
const R = 2 ** 27 - 1024;
const DATA = 0x1000;
const BIG = 0x2000;
const RAM_FRAMES = 16384;

type Flags = {
  writable: boolean;
  user: boolean;
  nx: boolean;
  global: boolean;
  accessed: boolean;
  dirty: boolean;
  pbmt: number;
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
      user: boolean;
    }
  | ({ op: "map"; page: number; frame: number } & Flags)
  | { op: "unmap"; page: number }
  | ({ op: "mapEvery"; page: number; len: number; every: number; unmap: boolean } & Flags)
  | { op: "touch"; page: number; access: Access }
  | { op: "age"; page: number; dirtyToo: boolean }
  | { op: "poison"; page: number; kind: number }
  | { op: "globalAbove"; page: number; on: boolean }
  | { op: "asid"; asid: number; flush: boolean }
  | { op: "sfence"; page: number }
  | { op: "svadu"; on: boolean }
  | { op: "sum"; sum: boolean; mxr: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  accessed: fc.constantFrom(true, true, true, false),
  dirty: fc.constantFrom(true, false),
  pbmt: fc.constantFrom(0, 0, 0, 1, 2),
};
const pageArb = fc.nat(NP - 1);
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
      user: fc.constantFrom(true, true, true, false),
    }),
    10,
  ),
  w(
    fc.record({
      op: fc.constant("map" as const),
      page: pageArb,
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
  w(fc.record({ op: fc.constant("age" as const), page: pageArb, dirtyToo: fc.boolean() }), 2),
  // kind 0: a reserved bit (60:54); 1: W without R; 2: the Svnapot N bit toggled; 3: PBMT = 3
  w(fc.record({ op: fc.constant("poison" as const), page: pageArb, kind: fc.nat(3) }), 2),
  w(fc.record({ op: fc.constant("globalAbove" as const), page: pageArb, on: fc.boolean() }), 1),
  w(fc.record({ op: fc.constant("asid" as const), asid: fc.nat(2), flush: fc.boolean() }), 1),
  w(fc.record({ op: fc.constant("sfence" as const), page: pageArb }), 1),
  w(fc.record({ op: fc.constant("svadu" as const), on: fc.constantFrom(true, true, false) }), 1),
  w(fc.record({ op: fc.constant("sum" as const), sum: fc.boolean(), mxr: fc.boolean() }), 1),
);

const hiOf = (vpn: number) => Math.floor(vpn / 1048576);
const loOf = (vpn: number) => (vpn % 1048576) * 4096;

interface Twin {
  cpu: RiscvCpu;
  tables: () => [number, number];
  apply(o: Op): string;
}

function machine(tlb: string, big: boolean[], fold: boolean): Twin {
  const { cpu, mapper, root, frames, m } = bareRiscv(
    { tlb, ramBytes: RAM_FRAMES * 4096, vaBits: 48, svadu: true, svnapot: true, svpbmt: true },
    1,
  );
  cpu.runFold!.enabled = fold;
  const rw = { writable: true, user: true };
  const isBig = (p: number) => big[p >> 9];
  for (let c = 0; c < big.length; c++)
    if (big[c]) mapper.map(root, toVpn(R + 512 * c), toPfn(BIG + 512 * c), 1, rw);
  for (let p = 0; p < NP; p++) if (!isBig(p)) mapper.map(root, toVpn(R + p), toPfn(DATA + p), 0, rw);
  cpu.setUserMode(true);
  const leaf = (page: number) => (isBig(page) ? null : mapper.entryAt(root, toVpn(R + page), 0));
  const apply = (o: Op): string => {
    switch (o.op) {
      case "run": {
        cpu.setUserMode(o.user);
        const count = Math.min(o.count, Math.floor((NP + 600 - o.page - 1) / o.step) + 1);
        const done = cpu.accessRun(
          hiOf(R + o.page),
          loOf(R + o.page) + o.off,
          count,
          o.step * 4096,
          o.access,
          o.value,
        );
        cpu.setUserMode(true);
        return `${done}:${cpu.runOutcome}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}:${cpu.scause}:${cpu.stvalHi}:${cpu.stvalLo}`;
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
        const vpn = R + o.page;
        return String(
          o.access === Access.Write ? cpu.store8(hiOf(vpn), loOf(vpn), 7) : cpu.load8(hiOf(vpn), loOf(vpn)),
        );
      }
      case "age": {
        const e = leaf(o.page);
        if (e === null || (e.lo & Pte.V) === 0) return "";
        m.phys.write32(e.entryPa, (e.lo & ~(Pte.A | (o.dirtyToo ? Pte.D : 0))) >>> 0);
        return "aged";
      }
      case "poison": {
        const e = leaf(o.page);
        if (e === null || (e.lo & Pte.V) === 0) return "";
        if (o.kind === 0) m.phys.write32(e.entryPa + 4, (e.hi | (1 << 22)) >>> 0);
        else if (o.kind === 1) m.phys.write32(e.entryPa, ((e.lo & ~Pte.R) | Pte.W) >>> 0);
        else if (o.kind === 2) m.phys.write32(e.entryPa + 4, (e.hi ^ PteHi.N) >>> 0);
        else m.phys.write32(e.entryPa + 4, (e.hi | PteHi.PBMT_MASK) >>> 0);
        return "poisoned";
      }
      case "globalAbove": {
        // G on the level-1 pointer above the page (a global mapping below it)
        const e = mapper.entryAt(root, toVpn(R + o.page), 1);
        if (e === null || (e.lo & Pte.V) === 0 || (e.lo & (Pte.R | Pte.X)) !== 0) return "";
        m.phys.write32(e.entryPa, (o.on ? e.lo | Pte.G : e.lo & ~Pte.G) >>> 0);
        return "g";
      }
      case "asid":
        if (o.flush) cpu.loadUserRoot(root, o.asid);
        else cpu.loadSatp(cpu.satpMode, o.asid, pfnToPa(root));
        return String(cpu.asid);
      case "sfence":
        return String(cpu.sfenceVmaVa(hiOf(R + o.page), loOf(R + o.page), null));
      case "svadu":
        cpu.setExtensions({ svadu: o.on });
        return "";
      case "sum":
        cpu.setSum(o.sum);
        cpu.setMxr(o.mxr);
        return "";
    }
  };
  return { cpu, tables: () => [256, frames.next], apply };
}

function state(t: Twin): unknown {
  const data: number[] = [];
  for (let f = DATA; f < BIG + 2048; f += 1) {
    const words = t.cpu.phys.frameWords(toPfn(f));
    data.push(words === null ? 0 : words.reduce((a, x, i) => (a * 31 + x + i) % 1000000007, 0));
  }
  return { ...mmuState(t.cpu, t.tables()), data, stray: t.cpu.phys.strayAccesses };
}

describe("runFold against accessRun's per-access loop, RISC-V (fast-check)", () => {
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
          fc.array(opArb, { minLength: 10, maxLength: 40 }),
          (big, ops) => {
            const a = machine(tlb, big, true);
            const b = machine(tlb, big, false);
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
        { numRuns: 40, seed: 0x5c0f01d + tlb.length },
      );
      expect(spans).toBeGreaterThan(100);
      expect(folded).toBeGreaterThan(20000);
    });
});
