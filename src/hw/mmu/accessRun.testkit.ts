/**
 * What the accessRun property tests (src/hw/arch/{x86_64,i386,arm64,riscv}/accessRun.property.test.ts)
 * share: random runs of user loads or stores through Mmu.accessRun (whose fast walks start from
 * the levels above the leaf table the run's last walk read: WalkMemo) against one load8/store8 per
 * access on a twin machine, over 64 pages that cross a leaf-table boundary (and more above it),
 * between unmaps, accessed/dirty state cleared at every level, pages remapped onto the page
 * tables' own frames (stores into them change the entries later walks read: the memo must be
 * dropped), single-page and full flushes. After every run both must agree on how many accesses
 * completed, the outcome, the address and byte, the counters and the walk record; every few ops on
 * every TLB entry and the bytes of every table and data frame.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { toPfn } from "../../base/units.ts";
import { Access, Mode } from "../access.ts";
import { mmuCounters, mmuState, walkRecord } from "./fastMiss.testkit.ts";
import type { Mmu } from "./Mmu.ts";
import { WalkRecord } from "./WalkRecord.ts";

/** pages of the run area */
export const NP = 64;
/** the data frames: DATA .. DATA + NP - 1, page p's at first */
export const DATA = 0x800;

/** A bare machine of one architecture with the NP pages mapped (page p to frame DATA + p), in user mode. */
export interface RunMachine {
  cpu: Mmu;
  /** page p's address as halves */
  hi(p: number): number;
  lo(p: number): number;
  /** maps page p (a user read-write 4K page) to frame pfn; false when the mapper refuses */
  map(p: number, pfn: number): boolean;
  unmap(p: number): void;
  /** the frames the page tables were taken from: [first, end) */
  tables(): [number, number];
  /** the bits that hold an entry's accessed state, and with `dirty` its dirty state, at `level` */
  ageMask(level: number, dirty: boolean): number;
  /** a flush of every non-global entry (x86 MOV to CR3, TLBI ASIDE1, SFENCE.VMA with an ASID) */
  flushAll(): void;
}

/** The first page of every architecture's run machine: 32 pages below a 512 GiB boundary (an L0 / PML4 entry's, so a leaf table's too). */
export const FIRST = 0x7f0000000 - 32;

/**
 * A RunMachine from an architecture's parts: pages FIRST..FIRST+NP-1 mapped to frames DATA.., the
 * CPU in user mode, the address halves of page p.
 */
export function runMachine(
  parts: Omit<RunMachine, "hi" | "lo"> & { cpu: Mmu & { setUserMode(on: boolean): void } },
): RunMachine {
  for (let p = 0; p < NP; p++) parts.map(p, DATA + p);
  parts.cpu.setUserMode(true);
  return {
    ...parts,
    hi: (p) => Math.floor((FIRST + p) / 1048576),
    lo: (p) => ((FIRST + p) % 1048576) * 4096,
  };
}

type Op =
  | { op: "run"; page: number; count: number; off: number; back: boolean; access: Access; value: number }
  | { op: "unmap"; page: number }
  | { op: "alias"; page: number; of: number; entry: number }
  | { op: "age"; page: number; entry: number; dirty: boolean }
  | { op: "invalidate"; page: number }
  | { op: "flush" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("run" as const),
      page: fc.nat(NP - 1),
      count: fc.integer({ min: 1, max: NP }),
      off: fc.constantFrom(0, 8, 0x123, 0xff8),
      back: fc.constantFrom(false, false, false, true),
      access: fc.constantFrom(Access.Write, Access.Write, Access.Read),
      value: fc.nat(255),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ op: fc.constant("unmap" as const), page: fc.nat(NP - 1) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("alias" as const),
      page: fc.nat(NP - 1),
      of: fc.nat(NP - 1),
      entry: fc.nat(4),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("age" as const),
      page: fc.nat(NP - 1),
      entry: fc.nat(4),
      dirty: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant("invalidate" as const), page: fc.nat(NP - 1) }), weight: 1 },
  { arbitrary: fc.constant({ op: "flush" as const }), weight: 1 },
);

/** The entry `entry` (modulo the walk's length) of page p's walk, as a probe reads it, or null. */
function entryOf(m: RunMachine, p: number, entry: number): { pa: number; lo: number; level: number } | null {
  const rec = new WalkRecord();
  m.cpu.probe(m.hi(p), m.lo(p), Access.Read, Mode.User, rec);
  if (rec.count === 0) return null;
  const k = entry % rec.count;
  return { pa: rec.entryPa[k], lo: rec.lo[k], level: rec.level[k] };
}

/** The run through accessRun (`run`) or one load8/store8 per access: completed, outcome and registers. */
function doRun(m: RunMachine, o: Extract<Op, { op: "run" }>, run: boolean): string {
  const { cpu } = m;
  const hi = m.hi(o.page);
  const lo = m.lo(o.page) + o.off;
  const count = o.back ? Math.min(o.count, o.page + 1) : Math.min(o.count, NP - o.page);
  const stride = o.back ? -4096 : 4096;
  let done = 0;
  let out = 0;
  if (run) {
    done = cpu.accessRun(hi, lo, count, stride, o.access, o.value);
    out = cpu.runOutcome;
  } else
    for (; done < count; done++) {
      const next = lo + done * stride;
      const h = (hi + Math.floor(next / 2 ** 32)) >>> 0;
      out =
        o.access === Access.Write ? cpu.store8(h, next >>> 0, o.value) : cpu.load8(h, next >>> 0, o.access);
      if (out !== 0) break;
    }
  return `${done}:${out}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}`;
}

function apply(m: RunMachine, o: Op, run: boolean): string {
  switch (o.op) {
    case "run":
      return doRun(m, o, run);
    case "unmap":
      m.unmap(o.page);
      return "";
    case "alias": {
      // the page now maps the frame of a table on another page's walk: stores write its entries
      const e = entryOf(m, o.of, o.entry);
      if (e === null) return "";
      m.unmap(o.page);
      return String(m.map(o.page, Math.floor(e.pa / 4096)));
    }
    case "age": {
      const e = entryOf(m, o.page, o.entry);
      if (e === null) return "";
      m.cpu.phys.write32(e.pa, (e.lo & ~m.ageMask(e.level, o.dirty)) >>> 0);
      return "aged";
    }
    case "invalidate":
      m.cpu.flushPage(m.hi(o.page), m.lo(o.page));
      return "";
    case "flush":
      m.flushAll();
      return "";
  }
}

/** TLB entries, counters, and the bytes of every table and data frame. */
function state(m: RunMachine): unknown {
  const data: number[] = [];
  for (let f = DATA; f < DATA + NP; f++) {
    const w = m.cpu.phys.frameWords(toPfn(f));
    data.push(w === null ? 0 : w.reduce((a, x, i) => (a * 31 + x + i) % 1000000007, 0));
  }
  return { ...mmuState(m.cpu, m.tables()), data };
}

/**
 * Random op sequences on two machines from `make`: runs through accessRun on one, one
 * load8/store8 per access on the other; every difference fails. Requires the runs to have
 * completed over a thousand accesses, and some to have run with a table's frame mapped among them.
 */
export function checkAccessRuns(make: () => RunMachine, seed: number, numRuns = 60): void {
  let aliasedRuns = 0;
  let completed = 0;
  const same = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) expect(x, what).toEqual(y);
  };
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 20, maxLength: 80, size: "max" }), (ops) => {
      const a = make();
      const b = make();
      let aliased = false;
      for (let i = 0; i < ops.length; i++) {
        const o = ops[i];
        const ra = apply(a, o, true);
        const rb = apply(b, o, false);
        if (ra !== rb) expect(ra, `op ${i} ${JSON.stringify(o)}`).toBe(rb);
        if (o.op === "alias" && ra === "true") aliased = true;
        if (o.op === "run") {
          same(`counters after op ${i}`, mmuCounters(a.cpu), mmuCounters(b.cpu));
          same(`walk record after op ${i}`, walkRecord(a.cpu), walkRecord(b.cpu));
          if (aliased) aliasedRuns++;
          completed += Number(ra.split(":")[0]);
        }
        if (i % 8 === 7) same(`state after op ${i}`, state(a), state(b));
      }
      same("state at the end", state(a), state(b));
    }),
    { numRuns, seed },
  );
  expect(completed).toBeGreaterThan(1000);
  expect(aliasedRuns).toBeGreaterThan(50);
}
