/**
 * The record layout of record.ts, and the loops that decode records by hand
 * (foldRuns, MachineMode.feed and feedRuns, KernelMode.feed) held to it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KernelMode } from "../../analysis/trace/kernelMode.ts";
import { MachineMode } from "../../analysis/trace/machineMode.ts";
import { Access } from "../../hw/access.ts";
import { decodeAll } from "./formats.ts";
import {
  ADDR_LIMIT,
  HI_LIMIT,
  isFetch,
  isRecordHi,
  isWrite,
  kindOfLetter,
  pageAt,
  recordKind,
  recordOffset,
  recordPage,
  recordVaHi,
  recordVaLo,
  recordValue,
  setRecord,
} from "./record.ts";
import { foldRuns, RUN_TOTALS, runHigh, runLength, runWrites } from "./runs.ts";

/** An access: [vaddr, kind]. */
type Acc = [number, number];

/** Records of the accesses, written by setRecord. */
function records(accesses: Acc[]): Uint32Array {
  const w = new Uint32Array(2 * accesses.length);
  accesses.forEach(([vaddr, kind], i) => {
    setRecord(w, i, vaddr, kind);
  });
  return w;
}

const anyAccess = fc.tuple(fc.integer({ min: 0, max: ADDR_LIMIT - 1 }), fc.integer({ min: 0, max: 3 }));

/**
 * Pages that a slip in the decoding would merge or move: neighbours, pages
 * whose low 18 bits (the record's low word) are equal or whose high words
 * are, the last page below 2^47; then more, far apart.
 */
const PAGES = [
  0x400,
  0x401,
  0x402,
  0x403,
  0x400 + 2 ** 17,
  0x400 + 2 ** 18,
  0x401 + 2 ** 18,
  0x400 + 2 ** 19,
  2 ** 35 - 1,
  2 ** 35 - 2,
  2 ** 34,
  2 ** 34 - 1,
];

/** Accesses to at most `pages` pages, any kind and offset. */
const fewPages = (pages: number) =>
  fc
    .array(
      fc.tuple(
        fc.integer({ min: 0, max: pages - 1 }),
        fc.integer({ min: 0, max: 4095 }),
        fc.integer({ min: 0, max: 3 }),
      ),
      { maxLength: 400, size: "medium" },
    )
    .map((xs) => xs.map(([p, off, kind]): Acc => [(PAGES[p] ?? p * 0x3_0000_1 + 0x400) * 4096 + off, kind]));

/** MachineMode's figures, fed record by record and as runs, against the accesses read through record.ts. */
function checkMachineMode(accesses: Acc[], dataOnly: boolean): void {
  const w = records(accesses);
  const n = accesses.length;
  // enough frames: frame k is the k-th page touched first, so phys_sum is known
  const frameOf = new Map<number, number>();
  const kinds = [0, 0, 0, 0];
  let sum = 0n;
  for (let i = 0; i < n; i++) {
    const lo = w[2 * i];
    if (dataOnly && isFetch(lo)) continue;
    kinds[recordKind(lo)]++;
    const page = pageAt(w, i);
    if (!frameOf.has(page)) frameOf.set(page, frameOf.size);
    sum += BigInt(frameOf.get(page)! * 4096 + recordOffset(lo));
  }
  const byRecord = new MachineMode({ frames: 64, tlb: "vmref", policy: "clock", dataOnly });
  byRecord.feed(w, n);
  const asRuns = new MachineMode({ frames: 64, tlb: "vmref", policy: "clock", dataOnly });
  const out = new Uint32Array(2 * n);
  const totals = new Float64Array(RUN_TOTALS);
  asRuns.feedRuns(out, foldRuns(w, n, out, totals), totals);
  // the runs decoded by hand as well: the same figures as record by record
  expect(asRuns.result()).toEqual(byRecord.result());
  for (const r of [byRecord.result(), asRuns.result()]) {
    expect([r.instr, r.load, r.store, r.modify]).toEqual(kinds);
    expect(r.skipped_instr).toBe(dataOnly ? accesses.filter(([, k]) => k === 0).length : 0);
    expect(r.faults_first_touch).toBe(frameOf.size);
    expect(r.phys_sum).toBe(sum.toString());
  }
}

describe("the trace record", () => {
  it("decodes what setRecord encodes: kind, offset, page, address, and the check of the high word", () => {
    fc.assert(
      fc.property(anyAccess, ([vaddr, kind]) => {
        const w = records([[vaddr, kind]]);
        const [lo, hi] = [w[0], w[1]];
        expect(recordKind(lo)).toBe(kind);
        expect(isFetch(lo)).toBe(kind === 0);
        expect(isWrite(kind)).toBe(kind >= 2);
        expect(recordOffset(lo)).toBe(vaddr % 4096);
        expect(recordPage(lo, hi)).toBe(Math.floor(vaddr / 4096));
        expect(pageAt(w, 0)).toBe(Math.floor(vaddr / 4096));
        expect(recordVaHi(hi) * 2 ** 32 + recordVaLo(lo, hi)).toBe(vaddr);
        expect(isRecordHi(hi)).toBe(true);
        expect(recordValue(lo, hi)).toBe(BigInt(vaddr) * 4n + BigInt(kind));
      }),
      { numRuns: 500 },
    );
    // the first address that is not one
    const w = new Uint32Array(2);
    w[1] = HI_LIMIT;
    expect(isRecordHi(w[1])).toBe(false);
    expect(recordValue(w[0], w[1])).toBe(2n ** 49n);
    expect(["I", "x", "r", "L", "W", "s", "M", "Q"].map(kindOfLetter)).toEqual([0, 0, 1, 1, 2, 2, 3, -1]);
  });

  it("is folded into runs as record.ts reads it (foldRuns decodes by hand)", () => {
    fc.assert(
      fc.property(fewPages(6), (accesses) => {
        const w = records(accesses);
        const n = accesses.length;
        const out = new Uint32Array(2 * n);
        const totals = new Float64Array(RUN_TOTALS);
        const m = foldRuns(w, n, out, totals);
        const kinds = [0, 1, 2, 3].map((k) => accesses.filter((_, i) => recordKind(w[2 * i]) === k).length);
        let offData = 0;
        let offFetch = 0;
        for (let i = 0; i < n; i++)
          if (isFetch(w[2 * i])) offFetch += recordOffset(w[2 * i]);
          else offData += recordOffset(w[2 * i]);
        expect(Array.from(totals)).toEqual([...kinds, offData, offFetch, n]);
        // each run: its first record's page and side, its length, whether it writes
        let at = 0;
        for (let r = 0; r < m; r++) {
          const lo = out[2 * r];
          const len = runLength(out[2 * r + 1]);
          expect(lo).toBe(w[2 * at]);
          expect(recordPage(lo, runHigh(out[2 * r + 1]))).toBe(pageAt(w, at));
          let writes = 0;
          for (let i = at; i < at + len; i++) {
            expect(pageAt(w, i)).toBe(pageAt(w, at));
            expect(isFetch(w[2 * i])).toBe(isFetch(lo));
            writes |= isWrite(recordKind(w[2 * i])) ? 1 : 0;
          }
          expect(runWrites(out[2 * r + 1])).toBe(writes);
          at += len;
        }
        expect(at).toBe(n);
      }),
      { numRuns: 200 },
    );
  });

  it("is replayed by machine mode as record.ts reads it, record by record and as runs", () => {
    fc.assert(
      fc.property(fewPages(16), fc.boolean(), (accesses, dataOnly) => checkMachineMode(accesses, dataOnly)),
      { numRuns: 60 },
    );
    // every ordered pair of the pages a slip would merge, one after the other
    const pairs: Acc[] = [];
    PAGES.forEach((a, i) => {
      PAGES.forEach((b, j) => {
        if (i !== j) pairs.push([a * 4096 + 8 * i, (i + j) % 4], [b * 4096 + 8 * j, (i * j) % 4]);
      });
    });
    checkMachineMode(pairs, false);
    checkMachineMode(pairs, true);
    // runs up to their longest (RUN_MAX records), on a page with a frame other than 0
    const long: Acc[] = [[PAGES[0] * 4096, 1]];
    for (let i = 0; i < 20000; i++) long.push([PAGES[9] * 4096 + (i % 4096), i % 7 === 0 ? 2 : 1]);
    checkMachineMode(long, false);
  });

  it("is a record to the binary reader and to foldRuns exactly when isRecordHi says so", () => {
    for (const hi of [0, 1, HI_LIMIT - 1, HI_LIMIT, HI_LIMIT + 1, 2 ** 31]) {
      const w = new Uint32Array([5, 0, 9, hi]); // two loads, the second with that high word
      const data = Buffer.from(w.buffer);
      const read = () => decodeAll("x.u64", data, "bin", () => {});
      if (isRecordHi(hi)) expect(read().records).toBe(2);
      else expect(read).toThrow(/record 1: .* is not a u64-addr2kind record/);
      const totals = new Float64Array(RUN_TOTALS);
      foldRuns(w, 2, new Uint32Array(4), totals);
      expect(totals[6]).toBe(isRecordHi(hi) ? 2 : 1);
    }
  });

  it("is replayed by the kernel pager as record.ts reads it", () => {
    // two 1 GiB regions; written pages take a frame, pages only read or fetched map the zero page
    const accesses: Acc[] = [];
    for (let i = 0; i < 60; i++) {
      const region = i % 2 === 0 ? 0x4000_0000 : 0x7_c000_0000;
      accesses.push([region + (i % 7) * 4096 + i, i % 4]);
    }
    const w = records(accesses);
    const written = new Set<number>();
    const regions = new Set<number>();
    for (let i = 0; i < accesses.length; i++) {
      if (isWrite(recordKind(w[2 * i]))) written.add(pageAt(w, i));
      regions.add(
        Math.floor((recordVaHi(w[2 * i + 1]) * 2 ** 32 + recordVaLo(w[2 * i], w[2 * i + 1])) / 2 ** 30),
      );
    }
    for (const dataOnly of [false, true]) {
      const k = new KernelMode({ frames: 256, tlb: "vmref", policy: "linux", dataOnly });
      k.feed(w, accesses.length);
      const r = k.result();
      expect(r.simulated).toBe(
        accesses.length - (dataOnly ? accesses.filter(([, kind]) => kind === 0).length : 0),
      );
      expect(r.regions).toBe(regions.size);
      expect(r.rssPages).toBe(written.size);
      // and at the addresses written: each translates for a write in the task's page tables
      const cpu = k.kernel.machine.cpus[0];
      for (const [vaddr, kind] of accesses)
        if (kind >= 2)
          expect(cpu.translate(Math.floor(vaddr / 2 ** 32), vaddr % 2 ** 32, Access.Write)).toBe(0);
    }
  });
});
