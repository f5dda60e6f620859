/**
 * RunFold.faultRun's and span's count of uncovered pages (runFold.ts `uncovered`: the marks read
 * once a marking, the last scan's range kept) against the scan from the page it replaced, read
 * afresh at every call: random marks of a leaf table (512 or 1024 pages, none to most covered),
 * runs of 1, 2, 3 or 7 pages a step over it, each marked at its start as missesAll marks before
 * faultRun's first call, asked at the run's uncovered pages in order (the pages a per-access fault
 * took in between skipped), some with the table marked again between two calls (a fault that kept
 * the memo but not the marks). Every answer equal.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Mode } from "../access.ts";
import { RunFold, type RunFoldHost } from "./runFold.ts";
import type { WalkMemo } from "./WalkMemo.ts";

/** A fold whose leaves do nothing: only the marks and their scan are used. */
class ScanFold extends RunFold {
  protected leafOk(_vpn: number, _write: boolean, _mode: Mode): boolean {
    return false;
  }
  protected leaves(): number {
    return 0;
  }
}

/** the private steps the test drives (TypeScript's `private`: still there at run time) */
type Inner = {
  mark(key: number): void;
  uncovered(vpn: number, step: number, max: number, first: number): number;
  inTable(v: number, key: number, left: number, step: number): number;
  covered: Uint8Array;
  coveredAny: boolean;
};

/** the TLB's marks markCovered gives: `marks` (page indices of the table) */
function foldOver(tablePages: number, marks: { current: number[] }): Inner {
  const tlb = {
    markCovered(_first: number, _n: number, covered: Uint8Array): boolean {
      for (const m of marks.current) covered[m] = 1;
      return marks.current.length > 0;
    },
  };
  const host = { tlb } as unknown as RunFoldHost;
  const fold = new ScanFold(host, {} as WalkMemo, new Uint8Array(16), () => false, tablePages, 8);
  return fold as unknown as Inner;
}

/** faultRun's and span's scan as it was: from vpn's own page to the first covered one, max at most */
function scan(f: Inner, vpn: number, step: number, max: number, first: number): number {
  if (!f.coveredAny) return max;
  let n = 0;
  while (n < max && f.covered[vpn + n * step - first] === 0) n++;
  return n;
}

const marksArb = (tablePages: number) =>
  fc.oneof(
    fc.constant([] as number[]),
    fc.uniqueArray(fc.nat(tablePages - 1), { maxLength: 12 }),
    fc.uniqueArray(fc.nat(tablePages - 1), { minLength: 100, maxLength: tablePages }),
  );

describe("RunFold.faultRun's and span's uncovered pages", () => {
  it("equal the scan from each fault's page, call after call", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(512, 1024).chain((tablePages) =>
          fc.record({
            tablePages: fc.constant(tablePages),
            key: fc.nat(1 << 20),
            runs: fc.array(
              fc.record({
                marks: marksArb(tablePages),
                remarks: fc.array(marksArb(tablePages), { maxLength: 3 }),
                start: fc.nat(tablePages - 1),
                step: fc.constantFrom(1, 1, 2, 3, 7),
                count: fc.integer({ min: 1, max: 1500 }),
                // per page: 0 asked (faultRun: an uncovered page), 1 left to the per-access path, 2 the table
                // marked again first, 3 asked even when covered (span's first page)
                choices: fc.array(fc.constantFrom(0, 0, 0, 1, 2, 3), { minLength: 1, maxLength: 200 }),
              }),
              { minLength: 1, maxLength: 6 },
            ),
          }),
        ),
        ({ tablePages, key, runs }) => {
          const marks = { current: [] as number[] };
          const f = foldOver(tablePages, marks);
          const first = key * tablePages;
          let asked = 0;
          for (const run of runs) {
            marks.current = run.marks;
            f.mark(key); // missesAll's, at the run's first fault in the table
            let remark = 0;
            for (let i = 0, c = 0; i < run.count; i++) {
              const vpn = first + run.start + i * run.step;
              if (vpn >= first + tablePages) break;
              const choice = run.choices[c++ % run.choices.length];
              if (f.covered[vpn - first] !== 0 && choice !== 3) continue; // missesAll: not this page; span's: any
              if (choice === 1) continue;
              if (choice === 2 && remark < run.remarks.length) {
                marks.current = run.remarks[remark++];
                f.mark(key);
                if (f.covered[vpn - first] !== 0) continue;
              }
              const max = Math.min(f.inTable(vpn, key, run.count - i, run.step), 4096);
              expect(f.uncovered(vpn, run.step, max, first)).toBe(scan(f, vpn, run.step, max, first));
              asked++;
            }
          }
          return asked >= 0;
        },
      ),
      { numRuns: 300 },
    );
  });
});
