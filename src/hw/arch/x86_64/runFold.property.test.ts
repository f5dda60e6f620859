/**
 * The fold of resident runs (src/hw/mmu/runFold.ts, ./runFold.ts, TlbArray.insertRun) against the
 * per-access loop of Mmu.accessRun: twin machines run the same random sequence, one with
 * `runFold.enabled` off. Runs of 1..3000 loads or stores (stride 1, 2, 3 or 7 pages, from CPL 3 or
 * 0) over 4 leaf tables' worth of pages, some of them one 2M page instead, with holes, read-only,
 * no-execute, global, protection-key and PAT/PCD pages, pages mapped onto page-table frames or
 * outside RAM, accessed/dirty bits cleared, scattered single accesses that leave some of a run's
 * pages at every LRU position of the arrays (4K, 2M, and a 1G page elsewhere), PCID switches with
 * and without flush, INVLPG, CR4.PGE/PKE, EFER.NXE; skylake, tiny and small TLBs. After every run:
 * the count, outcome, registers, counters and walk record; every few ops every TLB entry in order,
 * the evictions, and the bytes of every table and data frame.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { mmuCounters, mmuState, walkRecord } from "../../mmu/fastMiss.testkit.ts";
import { WalkRecord } from "../../mmu/WalkRecord.ts";
import type { Cpu } from "./Cpu.ts";
import { Pte } from "./pte.ts";
import { bareMachine } from "./testkit.ts";

/** the run area: 4 leaf tables' worth of pages from R (a PML4 entry's boundary 1024 pages in) */
const NP = 2048;
const R = 0x7f0000000 - 1024;
/** data frames: page p's at DATA + p; a 2M chunk's at BIG + 512 * chunk */
const DATA = 0x1000;
const BIG = 0x2000;
/** a 1G page elsewhere (its frames outside RAM: loads only, stray reads counted) */
const GIG = 262144 * 5;
const RAM_FRAMES = 16384;

type Flags = { writable: boolean; user: boolean; nx: boolean; global: boolean; pkey: number; pcd: boolean };
type Op =
  | {
      op: "run";
      page: number;
      count: number;
      step: number;
      off: number;
      access: Access;
      value: number;
      cpl: 0 | 3;
    }
  | ({ op: "map"; page: number; frame: number } & Flags)
  | { op: "unmap"; page: number }
  | ({ op: "mapEvery"; page: number; len: number; every: number; unmap: boolean } & Flags)
  | { op: "touch"; page: number; access: Access }
  | { op: "gig"; piece: number }
  | { op: "age"; page: number; level: number }
  | { op: "cr3"; pcid: number; noFlush: boolean }
  | { op: "invlpg"; page: number }
  | { op: "cr4"; pge: boolean; pke: boolean }
  | { op: "nxe"; on: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  pkey: fc.constantFrom(0, 0, 0, 0, 1),
  pcd: fc.constantFrom(false, false, false, true),
};
const pageArb = fc.nat(NP - 1);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("run" as const),
      page: pageArb,
      count: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3000 })),
      step: fc.constantFrom(1, 1, 1, 1, 2, 3, 7),
      off: fc.constantFrom(0, 8, 0x123, 0xfff),
      access: fc.constantFrom(Access.Write, Access.Read, Access.Read),
      value: fc.nat(255),
      cpl: fc.constantFrom(3 as const, 3 as const, 3 as const, 0 as const),
    }),
    weight: 10,
  },
  {
    arbitrary: fc.record({
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
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant("unmap" as const), page: pageArb }), weight: 2 },
  {
    // every `every`-th page of a stretch remapped (its own frame) with the flags, or unmapped
    arbitrary: fc.record({
      op: fc.constant("mapEvery" as const),
      page: pageArb,
      len: fc.integer({ min: 1, max: 300 }),
      every: fc.integer({ min: 1, max: 9 }),
      unmap: fc.constantFrom(false, false, false, true),
      ...flagsArb,
      nx: fc.boolean(),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("touch" as const),
      page: pageArb,
      access: fc.constantFrom(Access.Read, Access.Write),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ op: fc.constant("gig" as const), piece: fc.nat(1000) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("age" as const), page: pageArb, level: fc.nat(3) }), weight: 2 },
  {
    arbitrary: fc.record({ op: fc.constant("cr3" as const), pcid: fc.nat(2), noFlush: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("invlpg" as const), page: pageArb }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("cr4" as const),
      pge: fc.constantFrom(true, true, false),
      pke: fc.constantFrom(false, false, false, true),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("nxe" as const), on: fc.constantFrom(true, true, false) }),
    weight: 1,
  },
);

const hiOf = (vpn: number) => Math.floor(vpn / 1048576);
const loOf = (vpn: number) => (vpn % 1048576) * 4096;

interface Twin {
  cpu: Cpu;
  tables: () => [number, number];
  apply(o: Op): string;
}

/** One machine: the run area mapped (chunk c of 512 pages a 2M page where big[c]), a 1G page elsewhere. */
function machine(tlb: string, big: boolean[], nxe: boolean, fold: boolean): Twin {
  const { cpu, mapper, root, frames } = bareMachine({ tlb, ramBytes: RAM_FRAMES * 4096 });
  cpu.runFold!.enabled = fold;
  cpu.movToCr4({ pcide: true, pge: true });
  cpu.setNxe(nxe); // off: an XD bit is reserved (SDM §4.5), a fault of its own
  const rw = { writable: true, user: true };
  const isBig = (p: number) => big[p >> 9]; // R is 512-aligned: chunk c is one leaf table's pages
  for (let c = 0; c < big.length; c++)
    if (big[c]) mapper.map(root, toVpn(R + 512 * c), toPfn(BIG + 512 * c), 1, rw);
  for (let p = 0; p < NP; p++) if (!isBig(p)) mapper.map(root, toVpn(R + p), toPfn(DATA + p), 0, rw);
  mapper.map(root, toVpn(GIG), toPfn(GIG), 2, { ...rw, writable: false });
  cpu.setUserMode(true);
  let pcid = 0;
  const walkOf = (vpn: number) => {
    const r = new WalkRecord();
    cpu.probe(hiOf(vpn), loOf(vpn), Access.Read, Mode.User, r);
    return r;
  };
  const apply = (o: Op): string => {
    switch (o.op) {
      case "run": {
        cpu.setUserMode(o.cpl === 3);
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
        return `${done}:${cpu.runOutcome}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}:${cpu.cr2Lo}:${cpu.errorCode}`;
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
      case "gig":
        return String(cpu.load8(hiOf(GIG + o.piece), loOf(GIG + o.piece)));
      case "age": {
        const r = walkOf(R + o.page);
        if (r.count === 0) return "";
        const k = o.level % r.count;
        cpu.phys.write32(r.entryPa[k], (r.lo[k] & ~(Pte.A | Pte.D)) >>> 0);
        return "aged";
      }
      case "cr3":
        pcid = o.pcid;
        return String(cpu.loadCr3(root * 4096, pcid, o.noFlush));
      case "invlpg":
        cpu.invlpg(hiOf(R + o.page), loOf(R + o.page));
        return "";
      case "cr4":
        return String(cpu.movToCr4({ pge: o.pge, pke: o.pke }));
      case "nxe":
        cpu.setNxe(o.on);
        return "";
    }
  };
  return { cpu, tables: () => [256, frames.next], apply };
}

/** Everything both must agree on, with the data frames' bytes. */
function state(t: Twin): unknown {
  const data: number[] = [];
  for (let f = DATA; f < BIG + 2048; f += 1) {
    const w = t.cpu.phys.frameWords(toPfn(f));
    data.push(w === null ? 0 : w.reduce((a, x, i) => (a * 31 + x + i) % 1000000007, 0));
  }
  return {
    ...mmuState(t.cpu, t.tables()),
    data,
    faults: { ...t.cpu.faultsByKind },
    stray: t.cpu.phys.strayAccesses,
  };
}

describe("runFold against accessRun's per-access loop, x86-64 (fast-check)", () => {
  for (const tlb of ["skylake", "tiny", "16x4,64x8"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      let folded = 0;
      let spans = 0;
      const same = (what: string, x: unknown, y: unknown) => {
        if (JSON.stringify(x) !== JSON.stringify(y)) expect(x, what).toEqual(y);
      };
      fc.assert(
        fc.property(
          fc.array(fc.constantFrom(false, false, true), { minLength: 4, maxLength: 4 }),
          fc.constantFrom(true, false),
          fc.array(opArb, { minLength: 10, maxLength: 40 }),
          (big, nxe, ops) => {
            const a = machine(tlb, big, nxe, true);
            const b = machine(tlb, big, nxe, false);
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
        { numRuns: 40, seed: 0xf01d + tlb.length },
      );
      // the fold ran, over many spans
      expect(spans).toBeGreaterThan(100);
      expect(folded).toBeGreaterThan(20000);
    });
});

describe("runFold's leaf checks page by page, x86-64 (fast-check)", () => {
  it("stops where the per-access loop faults: every PTE flag, EFER.NXE, CR4.PKE, CPL, reads and writes", () => {
    let stops = 0;
    const flagArb = fc.record({
      ...flagsArb,
      nx: fc.boolean(),
      present: fc.constantFrom(true, true, true, false),
    });
    fc.assert(
      fc.property(
        fc.array(flagArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(
          fc.record({
            page: fc.nat(700),
            count: fc.integer({ min: 1, max: 900 }),
            write: fc.boolean(),
            cpl: fc.constantFrom(3 as const, 3 as const, 0 as const),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (pattern, spacing, nxe, pke, runs) => {
          const twins = [true, false].map((fold) => {
            const t = machine("skylake", [false, false, false, false], nxe, fold);
            t.cpu.movToCr4({ pke });
            // page p (p % spacing === 0) gets pattern[(p / spacing) % length]'s flags
            for (let p = 0; p < NP; p += spacing) {
              const { present, ...flags } = pattern[(p / spacing) % pattern.length];
              t.apply({ op: "unmap", page: p });
              if (present) t.apply({ op: "map", page: p, frame: DATA + p, ...flags });
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
              cpl: r.cpl,
            };
            const [ra, rb] = twins.map((t) => t.apply(o));
            expect(ra).toBe(rb);
            expect(walkRecord(twins[0].cpu)).toEqual(walkRecord(twins[1].cpu));
            if (twins[0].cpu.runOutcome !== 0 && twins[0].cpu.runFold!.pages > 0) stops++;
          }
          const [sa, sb] = twins.map((t) => state(t));
          expect(sa).toEqual(sb);
        },
      ),
      { numRuns: 150, seed: 0x1eaf },
    );
    expect(stops).toBeGreaterThan(50);
  });
});
