/**
 * Mmu.accessRun (a run of user loads or stores as one call, its fast walks starting from the
 * levels above the leaf table the run's last walk read: WalkMemo) against one load8/store8 per
 * access on a twin machine: random runs over 64 pages that cross a leaf-table, a page-directory and
 * a PML4-entry boundary, between random unmaps, accessed/dirty bits cleared at every level, pages
 * remapped onto the page tables' own frames (stores into them change the entries later walks read:
 * the memo must be dropped), INVLPG and CR3 flushes. After every run both machines must agree on
 * how many accesses completed, the outcome, the address, the byte, the fault registers, the
 * counters and the walk record; every few ops on every TLB entry and the bytes of every table and
 * data frame.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { mmuCounters, mmuState, walkRecord } from "../../mmu/fastMiss.testkit.ts";
import { Pte } from "./pte.ts";
import { bareMachine } from "./testkit.ts";

const NP = 64;
/** 32 pages below a 512 GiB boundary (a PML4 entry's, so a page directory's and a leaf table's too) */
const FIRST = 0x7f0000000 - 32;
const DATA = 0x800; // data frames DATA.. DATA + NP - 1
const USER_RW = { writable: true, user: true };

type Op =
  | { op: "run"; page: number; count: number; off: number; back: boolean; access: Access; value: number }
  | { op: "unmap"; page: number }
  | { op: "alias"; page: number; of: number; level: number }
  | { op: "age"; page: number; level: number; dirty: boolean }
  | { op: "invlpg"; page: number }
  | { op: "cr3" };

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
      level: fc.nat(3),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("age" as const),
      page: fc.nat(NP - 1),
      level: fc.nat(3),
      dirty: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant("invlpg" as const), page: fc.nat(NP - 1) }), weight: 1 },
  { arbitrary: fc.constant({ op: "cr3" as const }), weight: 1 },
);

function machine(tlb: string) {
  const b = bareMachine({ tlb, ramBytes: 32 << 20 });
  b.cpu.movToCr4({ pcide: true });
  for (let p = 0; p < NP; p++) b.mapper.map(b.root, toVpn(FIRST + p), toPfn(DATA + p), 0, USER_RW);
  b.cpu.setUserMode(true);
  return b;
}
type M = ReturnType<typeof machine>;

const hiOf = (vpn: number) => Math.floor(vpn / 1048576);
const loOf = (vpn: number) => (vpn % 1048576) * 4096;

/** The run through accessRun (`run`) or one load8/store8 per access: completed, outcome and registers. */
function doRun(m: M, o: Extract<Op, { op: "run" }>, run: boolean): string {
  const { cpu } = m;
  const hi = hiOf(FIRST + o.page);
  const lo = loOf(FIRST + o.page) + o.off;
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
      const h = hi + Math.floor(next / 2 ** 32);
      out =
        o.access === Access.Write ? cpu.store8(h, next >>> 0, o.value) : cpu.load8(h, next >>> 0, o.access);
      if (out !== 0) break;
    }
  return `${done}:${out}:${cpu.pa}:${cpu.data}:${cpu.errorCode}:${cpu.cr2Hi}:${cpu.cr2Lo}:${cpu.faultKind}`;
}

function apply(m: M, o: Op, run: boolean): string {
  const { cpu, mapper, root } = m;
  switch (o.op) {
    case "run":
      return doRun(m, o, run);
    case "unmap":
      return String(mapper.unmap(root, toVpn(FIRST + o.page)).ok);
    case "alias": {
      // the page now maps the frame of a table on another page's walk: stores write its entries
      const e = mapper.entryAt(root, toVpn(FIRST + o.of), o.level);
      if (e === null) return "";
      mapper.unmap(root, toVpn(FIRST + o.page));
      const r = mapper.map(root, toVpn(FIRST + o.page), toPfn(Math.floor(e.entryPa / 4096)), 0, USER_RW);
      return String(r.ok);
    }
    case "age": {
      const e = mapper.entryAt(root, toVpn(FIRST + o.page), o.level);
      if (e === null || (e.lo & Pte.P) === 0) return "";
      m.m.phys.write32(e.entryPa, (e.lo & ~(Pte.A | (o.dirty ? Pte.D : 0))) >>> 0);
      return "aged";
    }
    case "invlpg":
      cpu.invlpg(hiOf(FIRST + o.page), loOf(FIRST + o.page));
      return "";
    case "cr3":
      return String(cpu.movToCr3(0, root * 4096 + 1));
  }
}

/** TLB entries, counters, and the bytes of every table and data frame. */
function state(m: M): unknown {
  const s = mmuState(m.cpu, [m.root, m.frames.next]);
  const data: number[] = [];
  for (let f = DATA; f < DATA + NP; f++) {
    const w = m.m.phys.frameWords(toPfn(f));
    data.push(w === null ? 0 : w.reduce((a, x, i) => (a * 31 + x + i) % 1000000007, 0));
  }
  return { ...s, data };
}

describe("accessRun against one load8/store8 per access (fast-check)", () => {
  for (const tlb of ["skylake", "tiny"]) {
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      let aliasedRuns = 0;
      let completed = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 80, size: "max" }), (ops) => {
          const a = machine(tlb);
          const b = machine(tlb);
          const same = (what: string, x: unknown, y: unknown) => {
            if (JSON.stringify(x) !== JSON.stringify(y)) expect(x, what).toEqual(y);
          };
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
        { numRuns: 60, seed: 0xacc + tlb.length },
      );
      // runs went through pages, and some with a table's frame mapped among them
      expect(completed).toBeGreaterThan(1000);
      expect(aliasedRuns).toBeGreaterThan(50);
    });
  }
});
