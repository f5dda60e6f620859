/**
 * What the runFold property tests (src/hw/arch/{x86_64,i386,arm64,riscv}/runFold.property.test.ts)
 * share: the run area (NP pages from an architecture's first page R, 4 leaf tables' worth, chunk c
 * of 512 pages one large page where big[c]), the ops every architecture has (runs, maps, unmaps,
 * remaps of every n-th page, single accesses) with their arbitraries, the state twin machines must
 * agree on, and the three properties: a random op sequence on a machine with the fold and one
 * without, runs over a pattern of leaf flags that must stop where the per-access loop faults, and
 * runs whose stores land in the page tables they walk (expectTableStoresAgree).
 */
import fc from "fast-check";
import { expect } from "vitest";
import { type Pfn, toPfn, toVpn, type Vpn } from "../../base/units.ts";
import { Access } from "../access.ts";
import { mmuCounters, mmuState, walkRecord } from "./fastMiss.testkit.ts";
import type { MapFlags, MapResult, PageTableMapper } from "./Mapper.ts";
import type { Mmu } from "./Mmu.ts";

/** pages of the run area */
export const NP = 2048;
/** data frames: page p's at DATA + p; a large page's (chunk c) at BIG + 512 * c */
export const DATA = 0x1000;
export const BIG = 0x2000;
export const RAM_FRAMES = 16384;

/** A run of `count` accesses from page `page` (+off), `step` pages apart; `mode` is the architecture's privilege (CPL, EL, U/S). */
export type RunOp<Mode> = {
  op: "run";
  page: number;
  count: number;
  step: number;
  off: number;
  access: Access;
  value: number;
  mode: Mode;
};
/** The ops every architecture's test has; F the leaf flags its mapper takes. */
export type CommonOp<F, Mode> =
  | RunOp<Mode>
  | ({ op: "map"; page: number; frame: number } & F)
  | { op: "unmap"; page: number }
  | ({ op: "mapEvery"; page: number; len: number; every: number; unmap: boolean } & F)
  | { op: "touch"; page: number; access: Access };

type Arbs<F> = { [K in keyof F]: fc.Arbitrary<F[K]> };
const w = <T>(arbitrary: fc.Arbitrary<T>, weight: number) => ({ arbitrary, weight });

/** The weighted arbitraries of the common ops: a map's frame its own, another data frame, a page table's, or one outside RAM. */
export function commonOpArbs<F extends { nx: boolean }, Mode>(
  flags: Arbs<F>,
  mode: fc.Arbitrary<Mode>,
): fc.WeightedArbitrary<CommonOp<F, Mode>>[] {
  const page = fc.nat(NP - 1);
  const f = flags as unknown as Record<string, fc.Arbitrary<unknown>>;
  const arbs = [
    w(
      fc.record({
        op: fc.constant("run" as const),
        page,
        count: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3000 })),
        step: fc.constantFrom(1, 1, 1, 1, 2, 3, 7),
        off: fc.constantFrom(0, 8, 0x123, 0xfff),
        access: fc.constantFrom(Access.Write, Access.Read, Access.Read),
        value: fc.nat(255),
        mode,
      }),
      10,
    ),
    w(
      fc.record({
        op: fc.constant("map" as const),
        page,
        frame: fc.oneof(
          fc.integer({ min: DATA, max: DATA + NP - 1 }),
          fc.integer({ min: 256, max: 270 }),
          fc.constant(RAM_FRAMES + 5),
        ),
        ...f,
      }),
      3,
    ),
    w(fc.record({ op: fc.constant("unmap" as const), page }), 2),
    w(
      // every `every`-th page of a stretch remapped (its own frame) with the flags, or unmapped
      fc.record({
        op: fc.constant("mapEvery" as const),
        page,
        len: fc.integer({ min: 1, max: 300 }),
        every: fc.integer({ min: 1, max: 9 }),
        unmap: fc.constantFrom(false, false, false, true),
        ...f,
        nx: fc.boolean(),
      }),
      4,
    ),
    w(
      fc.record({
        op: fc.constant("touch" as const),
        page,
        access: fc.constantFrom(Access.Read, Access.Write),
      }),
      6,
    ),
  ];
  return arbs as unknown as fc.WeightedArbitrary<CommonOp<F, Mode>>[];
}

/** What RunArea needs of an architecture's mapper (PageTableMapper with its own flags). */
export type AreaMapper<F> = Pick<PageTableMapper, "unmap" | "entryPaAt"> & {
  map(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: F): MapResult;
};

/** The run area of one machine: pages R.. of `root`, chunk c a large page where big[c]. */
export class RunArea<F extends MapFlags = MapFlags> {
  constructor(
    readonly mapper: AreaMapper<F>,
    readonly root: number,
    readonly R: number,
    readonly big: boolean[],
    rw = { writable: true, user: true } as F,
  ) {
    for (let c = 0; c < big.length; c++)
      if (big[c]) mapper.map(toPfn(root), toVpn(R + 512 * c), toPfn(BIG + 512 * c), 1, rw);
    for (let p = 0; p < NP; p++)
      if (!this.isBig(p)) mapper.map(toPfn(root), toVpn(R + p), toPfn(DATA + p), 0, rw);
  }

  /** R is 512-aligned: chunk c is one leaf table's pages */
  isBig(p: number): boolean {
    return this.big[p >> 9];
  }

  /** The physical address of page p's entry at `level` (0: its leaf), or -1 (the walk stops above it). */
  entryPa(p: number, level: number): number {
    return this.mapper.entryPaAt(toPfn(this.root), toVpn(this.R + p), level);
  }

  /** How many of a run's accesses stay inside the area and 600 pages past it. */
  count(o: RunOp<unknown>): number {
    return Math.min(o.count, Math.floor((NP + 600 - o.page - 1) / o.step) + 1);
  }

  /** A map, unmap or mapEvery op (large pages left alone); undefined for any other op. */
  apply(o: CommonOp<F, unknown>): string | undefined {
    const vpn = (p: number) => toVpn(this.R + p);
    const root = toPfn(this.root);
    switch (o.op) {
      case "map": {
        const { frame, page, op: _o, ...flags } = o;
        if (this.isBig(page)) return "";
        this.mapper.unmap(root, vpn(page));
        return String(this.mapper.map(root, vpn(page), toPfn(frame), 0, flags as unknown as F).ok);
      }
      case "unmap":
        if (!this.isBig(o.page)) this.mapper.unmap(root, vpn(o.page));
        return "";
      case "mapEvery": {
        const { page, len, every, unmap, op: _o, ...flags } = o;
        for (let p = page; p < Math.min(page + len, NP); p += every) {
          if (this.isBig(p)) continue;
          this.mapper.unmap(root, vpn(p));
          if (!unmap) this.mapper.map(root, vpn(p), toPfn(DATA + p), 0, flags as unknown as F);
        }
        return "";
      }
    }
    return undefined;
  }
}

/** One machine of a twin pair: its MMU (with a fold), its table frames [first, end), and how it applies an op. */
export interface FoldTwin<O> {
  cpu: Mmu & { readonly faultsByKind?: Record<string, number> };
  tables(): [number, number];
  apply(o: O): string;
}

/** Everything twins must agree on, with the data frames' bytes. */
export function foldState(t: FoldTwin<never>): unknown {
  const data: number[] = [];
  for (let f = DATA; f < BIG + 2048; f += 1) {
    const words = t.cpu.phys.frameWords(toPfn(f));
    data.push(words === null ? 0 : words.reduce((a, x, i) => (a * 31 + x + i) % 1000000007, 0));
  }
  return {
    ...mmuState(t.cpu, t.tables()),
    data,
    faults: t.cpu.faultsByKind === undefined ? null : { ...t.cpu.faultsByKind },
    stray: t.cpu.phys.strayAccesses,
  };
}

/**
 * The random-sequence property: for each setup and op sequence, a machine with the fold and one
 * without apply every op; after each run the results, counters and walk record agree, every six
 * ops and at the end the whole state. Across all runs the fold must have run (over 100 spans,
 * 20,000 pages) and never on the machine without it.
 */
export function expectFoldAgrees<S, O extends { op: string }>(p: {
  setup: fc.Arbitrary<S>;
  ops: fc.Arbitrary<O>;
  machine(setup: S, fold: boolean): FoldTwin<O>;
  seed: number;
}): void {
  let folded = 0;
  let spans = 0;
  const same = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) expect(x, what).toEqual(y);
  };
  fc.assert(
    fc.property(p.setup, fc.array(p.ops, { minLength: 10, maxLength: 40 }), (setup, ops) => {
      const a = p.machine(setup, true);
      const b = p.machine(setup, false);
      for (let i = 0; i < ops.length; i++) {
        const ra = a.apply(ops[i]);
        const rb = b.apply(ops[i]);
        if (ra !== rb) expect(ra, `op ${i} ${JSON.stringify(ops[i])}`).toBe(rb);
        if (ops[i].op === "run" || ops[i].op === "frun") {
          same(`counters after op ${i}`, mmuCounters(a.cpu), mmuCounters(b.cpu));
          same(`walk record after op ${i}`, walkRecord(a.cpu), walkRecord(b.cpu));
        }
        if (i % 6 === 5) same(`state after op ${i}`, foldState(a), foldState(b));
      }
      same("state at the end", foldState(a), foldState(b));
      folded += a.cpu.runFold!.pages;
      spans += a.cpu.runFold!.spans;
      expect(b.cpu.runFold!.pages).toBe(0);
    }),
    { numRuns: 40, seed: p.seed },
  );
  expect(spans).toBeGreaterThan(100);
  expect(folded).toBeGreaterThan(20000);
}

/**
 * Runs on twins (fold on, fold off) already set up alike: each run's result, walk record and
 * counters agree, then the whole state. Returns how many runs stopped (`stopped`) after the fold
 * had folded pages.
 */
export function expectRunsAgree<O>(
  twins: FoldTwin<O>[],
  runs: O[],
  stopped: (cpu: FoldTwin<O>["cpu"]) => boolean = (cpu) => cpu.runOutcome !== 0,
): number {
  let stops = 0;
  for (const o of runs) {
    const [ra, rb] = twins.map((t) => t.apply(o));
    expect(ra).toBe(rb);
    expect(walkRecord(twins[0].cpu)).toEqual(walkRecord(twins[1].cpu));
    expect(mmuCounters(twins[0].cpu)).toEqual(mmuCounters(twins[1].cpu));
    if (stopped(twins[0].cpu) && twins[0].cpu.runFold!.pages > 0) stops++;
  }
  const [sa, sb] = twins.map((t) => foldState(t as FoldTwin<never>));
  expect(sa).toEqual(sb);
  return stops;
}

/** The stop test's runs: from `page`, `count` pages, stride 1, a load or a store of 9 at +0x10, in `mode`. */
export const stopRunArb = <Mode>(mode: fc.Arbitrary<Mode>) =>
  fc.array(
    fc.record({ page: fc.nat(700), count: fc.integer({ min: 1, max: 900 }), write: fc.boolean(), mode }),
    { minLength: 1, maxLength: 6 },
  );

/** One of stopRunArb's runs as a run op. */
export const stopRun = <Mode>(r: {
  page: number;
  count: number;
  write: boolean;
  mode: Mode;
}): RunOp<Mode> => ({
  op: "run",
  page: r.page,
  count: r.count,
  step: 1,
  off: 0x10,
  access: r.write ? Access.Write : Access.Read,
  value: 9,
  mode: r.mode,
});

/**
 * The stop tests' leaf pattern on one twin: page p (p % spacing === 0) unmapped, then, where its
 * pattern entry (pattern[(p / spacing) % length]) is present, mapped to its own frame with that
 * entry's flags and given the architecture's `poison` op of that kind (kind >= 0).
 */
export function applyPattern<F extends object>(
  t: { apply(o: never): string },
  pattern: readonly (F & { present: boolean; poison?: number })[],
  spacing: number,
): void {
  const twin = t as unknown as { apply(o: object): string };
  for (let p = 0; p < NP; p += spacing) {
    const { present, poison, ...flags } = pattern[(p / spacing) % pattern.length];
    twin.apply({ op: "unmap", page: p });
    if (!present) continue;
    twin.apply({ op: "map", page: p, frame: DATA + p, ...flags });
    if (poison !== undefined && poison >= 0) twin.apply({ op: "poison", page: p, kind: poison });
  }
}

/**
 * The table-store property: twins (fold on, fold off) whose run area has some pages mapped, writable,
 * onto the frames of the page tables the runs walk (a page's own leaf table; the next leaf table,
 * which a run walks after crossing into it; a table above, `level` 1..levels - 1), then runs from
 * a little before such a page, mostly of stores, at the offset of a later page's leaf entry (its
 * byte `byte`): a store through a page mapped onto its leaf table changes an entry the run reads
 * after it (above: an entry the memo holds). Each run's result, walk record and counters agree,
 * then the whole state. Returns how many runs on the fold twin folded pages and left that later
 * entry's byte the stored value where it was not (a store into the leaf table the run read after).
 */
export function expectTableStoresAgree<O, Mode>(p: {
  /** twins whose ops include CommonOp's map and run (RunOp<Mode>) */
  machine(fold: boolean): FoldTwin<O> & { area: Pick<RunArea, "entryPa"> };
  /** a writable user page's flags (the architecture's map op's) */
  rw: object;
  mode: Mode;
  /** the levels of the area's walk (the leaf 0 .. the root levels - 1) */
  levels: number;
  entryBytes: number;
  /** pages of a leaf table (the next one: that many pages ahead; 32-bit paging's 1024) */
  tablePages?: number;
  seed: number;
}): number {
  let hits = 0;
  const selfArb = fc.record({
    page: fc.nat(NP - 1),
    ahead: fc.constantFrom(0, 0, 0, 1),
    level: fc.oneof(fc.constant(0), fc.constant(0), fc.nat(p.levels - 1)),
  });
  const runArb = fc.record({
    self: fc.nat(), // which self-mapped page the run starts before
    back: fc.nat(60), // run steps from the run's first page to it
    fwd: fc.nat(40), // run steps from it to the page whose leaf entry the stores target
    count: fc.integer({ min: 1, max: 900 }),
    step: fc.constantFrom(1, 1, 1, 2, 3),
    byte: fc.nat(p.entryBytes - 1),
    value: fc.nat(255),
    write: fc.constantFrom(true, true, true, false),
  });
  fc.assert(
    fc.property(
      fc.array(selfArb, { minLength: 1, maxLength: 6 }),
      fc.array(runArb, { minLength: 1, maxLength: 6 }),
      (selfs, runs) => {
        const twins = [true, false].map((fold) => p.machine(fold));
        for (const t of twins)
          for (const s of selfs) {
            const pa = t.area.entryPa(Math.min(s.page + s.ahead * (p.tablePages ?? 512), NP - 1), s.level);
            if (pa >= 0) t.apply({ op: "map", page: s.page, frame: Math.floor(pa / 4096), ...p.rw } as O);
          }
        for (const r of runs) {
          const self = selfs[r.self % selfs.length].page;
          const page = Math.max(0, self - r.back * r.step);
          const target = self + (r.fwd + 1) * r.step;
          // the target entry's address and byte on both twins (a walk outside RAM counts stray reads)
          const entries = twins.map((t) => t.area.entryPa(target, 0));
          const entry = entries[0];
          const off = (entry < 0 ? 0 : entry & 4095) + r.byte;
          const o: RunOp<Mode> = {
            op: "run",
            page,
            count: r.count,
            step: r.step,
            off,
            access: r.write ? Access.Write : Access.Read,
            value: r.value,
            mode: p.mode,
          };
          const byteAt = (t: FoldTwin<unknown>, e: number) =>
            e >= 0 && t.cpu.phys.inRange(e) ? t.cpu.phys.read8(e + r.byte) : -1;
          const before = byteAt(twins[0], entry);
          byteAt(twins[1], entries[1]);
          const folded = twins[0].cpu.runFold!.pages;
          const [ra, rb] = twins.map((t) => t.apply(o as O));
          expect(ra, JSON.stringify(o)).toBe(rb);
          expect(walkRecord(twins[0].cpu)).toEqual(walkRecord(twins[1].cpu));
          expect(mmuCounters(twins[0].cpu)).toEqual(mmuCounters(twins[1].cpu));
          if (
            r.write &&
            before >= 0 &&
            before !== r.value &&
            byteAt(twins[0], entry) === r.value &&
            twins[0].cpu.runFold!.pages > folded
          )
            hits++;
        }
        const [sa, sb] = twins.map((t) => foldState(t as FoldTwin<never>));
        expect(sa).toEqual(sb);
      },
    ),
    { numRuns: 60, seed: p.seed },
  );
  return hits;
}
