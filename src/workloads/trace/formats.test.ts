/** Trace readers: every format and compression to the same records; bad input stops with where it is bad. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../base/errors.ts";
import type { WasmMemory } from "../../base/wasm.ts";
import {
  formatOfName,
  readRecordsRaw,
  readRuns,
  readTrace,
  sniffFormat,
  type TraceFormat,
} from "./formats.ts";
import { openTrace } from "./input.ts";
import { foldRuns, RUN_TOTALS } from "./runs.ts";
import { lastRingWaits, RING_BYTES, ringMemory } from "./worker.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-trace-"));
const zstd = createRequire(import.meta.url)("zstd-napi") as { compress(b: Buffer): Buffer };

/** Records as [vaddr, kind] pairs. */
async function read(path: string, format: TraceFormat | "auto" = "auto", stdin?: Buffer) {
  const out: [number, number][] = [];
  const stats = await readTrace(
    openTrace(path, stdin ? Readable.from([stdin]) : undefined),
    format,
    (w, n) => {
      for (let i = 0; i < n; i++) {
        const rec = w[2 * i + 1] * 4294967296 + w[2 * i];
        out.push([Math.floor(rec / 4), rec % 4]);
      }
    },
  );
  return { out, stats };
}

async function failure(
  path: string,
  format: TraceFormat | "auto" = "auto",
): Promise<{ e: InputError; seen: number }> {
  let seen = 0;
  try {
    await readTrace(openTrace(path), format, (_w, n) => {
      seen += n;
    });
  } catch (e) {
    if (e instanceof InputError) return { e, seen };
    throw e;
  }
  throw new Error("expected an InputError");
}

function binRecords(recs: [number, number][]): Buffer {
  const b = Buffer.alloc(recs.length * 8);
  recs.forEach(([va, kind], i) => {
    b.writeBigUInt64LE(BigInt(va) * 4n + BigInt(kind), i * 8);
  });
  return b;
}

function file(name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

// more than one batch (65,536 records), addresses up to just below 2^47
const RECS: [number, number][] = Array.from({ length: 70000 }, (_, i) => [
  (i * 7919 * 4096 + i * 13) % 2 ** 47,
  i % 4,
]);
RECS.push([2 ** 47 - 1, 2]);

describe("trace readers", () => {
  it("read the binary format plain, gzip and zstd, from a file or stdin, to the same records", async () => {
    const raw = binRecords(RECS);
    for (const [name, data] of [
      ["t.u64", raw],
      ["t.u64.gz", gzipSync(raw)],
      ["t.u64.zst", zstd.compress(raw)],
      ["mislabelled.txt", zstd.compress(raw)], // compression comes from the bytes, not the name
    ] as const) {
      const { out, stats } = await read(file(name, data), name.endsWith(".txt") ? "bin" : "auto");
      expect(stats.records, name).toBe(RECS.length);
      expect(out).toEqual(RECS);
    }
    const fromStdin = await read("-", "bin", raw);
    expect(fromStdin.out).toEqual(RECS);
    // compressed input on stdin is decompressed on the main thread; files by a worker thread
    for (const data of [zstd.compress(raw), gzipSync(raw)])
      expect((await read("-", "bin", data)).out).toEqual(RECS);
  });

  it("stop a truncated binary trace at its last whole record, naming the byte offset", async () => {
    const raw = binRecords(RECS.slice(0, 1000));
    const { e, seen } = await failure(file("trunc.u64", raw.subarray(0, 1000 * 8 - 3)));
    expect(seen).toBe(999);
    expect(e.format()).toBe(
      `${join(dir, "trunc.u64")} (byte offset 7992): truncated: 5 bytes after the last whole 8-byte record (999 records read)`,
    );
  });

  it("stop at a record that cannot be an address (beyond 2^47), naming its offset", async () => {
    const raw = binRecords(RECS.slice(0, 100));
    raw.writeBigUInt64LE(0xffff_ffff_ffff_fff1n, 50 * 8);
    const { e, seen } = await failure(file("bad.u64", raw));
    expect(seen).toBe(50);
    expect(e.where?.offset).toBe(400);
    expect(e.message).toMatch(/record 50: 0xfffffffffffffff1 is not a u64-addr2kind record/);
  });

  it("report corrupt or truncated compressed data", async () => {
    const z = zstd.compress(binRecords(RECS.slice(0, 5000)));
    const { e } = await failure(file("cut.u64.zst", z.subarray(0, Math.floor(z.length / 2))));
    expect(e.message).toMatch(/corrupt or truncated zstd data/);
    const g = gzipSync(binRecords(RECS.slice(0, 5000)));
    g[20] ^= 0xff;
    g[40] ^= 0xff;
    const bad = await failure(file("bad.u64.gz", g));
    expect(bad.e.message).toMatch(/corrupt or truncated gzip data/);
    const missing = await failure(join(dir, "no-such.u64"));
    expect(missing.e.format()).toBe(`${join(dir, "no-such.u64")}: no such file`);
  });

  it("read valgrind lackey output, skipping and counting valgrind's and the program's own lines", async () => {
    const text = [
      "==4242== Lackey, an example Valgrind tool",
      "==4242== Command: ./a.out",
      "I  04016f90,3",
      " S 1ffefffe98,8",
      " L 04225a18,8",
      " M 0421b6f8,4",
      "hello from the program",
      "I  0401ab70,15",
      "==4242== ",
    ].join("\n");
    const { out, stats } = await read(file("run.lackey", text));
    expect(out).toEqual([
      [0x04016f90, 0],
      [0x1ffefffe98, 2],
      [0x04225a18, 1],
      [0x0421b6f8, 3],
      [0x0401ab70, 0],
    ]);
    expect([stats.format, stats.lines, stats.skippedLines]).toEqual(["lackey", 9, 4]);
    expect(sniffFormat("x", Buffer.from(text))).toBe("lackey");
    // lackey to lackey.gz: the same
    expect((await read(file("run.lackey.gz", gzipSync(text)))).out).toEqual(out);
  });

  it("name the line and column of a malformed lackey access", async () => {
    const { e, seen } = await failure(file("bad.lackey", "I  04016f90,3\n L 04zz,8\n"));
    expect(seen).toBe(0); // the batch is not handed on: the run stops at the error
    expect(e.format()).toBe(`${join(dir, "bad.lackey")}:2:6: expected ',SIZE' after the address`);
    const big = await failure(file("big.lackey", " S 1000000000000000,8\n"));
    expect(big.e.message).toMatch(/is not below 2\^47/);
    expect(big.e.where?.line).toBe(1);
  });

  it("read text traces (hex or decimal, R/W/X either side, comments) and page lists", async () => {
    const text = "# a comment\n0x1000\n8192 W\nX 0x4000  # fetch\n\n0xdeadbeef r\n";
    const { out, stats } = await read(file("t.txt", text));
    expect(stats.format).toBe("text");
    expect(out).toEqual([
      [0x1000, 1],
      [8192, 2],
      [0x4000, 0],
      [0xdeadbeef, 1],
    ]);
    const bad = await failure(file("bad.txt", "0x1000\n0x2000 Q\n"));
    expect(bad.e.format()).toBe(`${join(dir, "bad.txt")}:2:8: expected R, W or X, not 'Q'`);
    const refs = await read(file("ex.refs", "7,0,1,2\n0 3,\n"));
    expect(refs.out.map(([va]) => va / 4096)).toEqual([7, 0, 1, 2, 0, 3]);
    expect(sniffFormat("x", Buffer.from("1,2,3,4,1,2,5\n"))).toBe("refs");
    // the name first (openSource then decompresses no head): it wins over the bytes, and says nothing of others
    expect(
      ["a.u64.zst", "a.BIN.gz", "a.bin", "p.refs.zst", "run.lackey.gz", "t.txt", "a.u64.zst.txt"].map(
        formatOfName,
      ),
    ).toEqual(["bin", "bin", "bin", "refs", "lackey", null, null]);
    expect(sniffFormat("x.refs", Buffer.from("0x1000 W\n"))).toBe("refs");
    expect(sniffFormat("x.txt", Buffer.from("0x1000 W\n"))).toBe("text");
    const badRef = await failure(file("bad.refs", "1,2,x3\n"), "refs");
    expect(badRef.e.format()).toBe(`${join(dir, "bad.refs")}:1:5: 'x3' is not a page number`);
  });
});

/** A file's runs as readRuns hands them on: [words of the runs, totals] per slot, flattened. */
async function runsOf(path: string, stopAfter = Number.POSITIVE_INFINITY) {
  const runs: number[] = [];
  const totals = new Float64Array(RUN_TOTALS);
  let slots = 0;
  const stats = await readRuns(path, (w, n, t) => {
    if (slots++ >= stopAfter) throw new Error("the consumer stops");
    for (let i = 0; i < 2 * n; i++) runs.push(w[i]);
    for (let k = 0; k < RUN_TOTALS; k++) totals[k] += t[k];
  });
  return { runs, totals: Array.from(totals), stats };
}

/** The same folded on this thread from readTrace's records. */
function folded(recs: [number, number][]) {
  const raw = binRecords(recs);
  const w = new Uint32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const out = new Uint32Array(w.length);
  const totals = new Float64Array(RUN_TOTALS);
  const m = foldRuns(w, recs.length, out, totals);
  return { runs: Array.from(out.subarray(0, 2 * m)), totals: Array.from(totals) };
}

async function runsFailure(path: string): Promise<{ e: InputError; seen: number }> {
  let seen = 0;
  try {
    await readRuns(path, (_w, _n, t) => {
      seen += t[6];
    });
  } catch (e) {
    if (e instanceof InputError) return { e, seen };
    throw e;
  }
  throw new Error("expected an InputError");
}

// runs of a few records each, over more than one slot (2^18 records)
const LONG: [number, number][] = Array.from({ length: 300_000 }, (_, i) => [
  (Math.floor(i / 3) % 5000) * 4096 + (i % 4096),
  i % 7 === 0 ? 0 : 1 + (i % 3),
]);
// over several slots, with runs of 1 to 9 records
const LONGER: [number, number][] = Array.from({ length: 600_000 }, (_, i) => [
  (Math.floor(i / (1 + (i % 9))) % 7000) * 4096 + ((i * 8) % 4096),
  (i >> 4) % 5 === 0 ? 0 : 1 + (i % 3),
]);

// who folds: the reading thread alone, the main thread alone (every slot's records folded by readSlots),
// alternating slots (the switches between staging and shared slots), and as the load decides
describe.each(["worker", "main", "alternate", "auto"])(
  "reading runs on the reading thread (VMLAB_FOLD_SHARE=%s)",
  (share) => {
    beforeEach(() => {
      process.env.VMLAB_FOLD_SHARE = share;
    });
    afterEach(() => {
      delete process.env.VMLAB_FOLD_SHARE;
    });

    it("fold plain, gzip and zstd files to the runs and totals folded here from the records", async () => {
      for (const recs of [RECS, LONGER]) {
        const raw = binRecords(recs);
        const want = folded(recs);
        for (const [name, data] of [
          ["r.u64", raw],
          ["r.u64.gz", gzipSync(raw)],
          ["r.u64.zst", zstd.compress(raw)],
        ] as const) {
          const got = await runsOf(file(name, data));
          expect(got.stats.records, name).toBe(recs.length);
          expect(got.totals, name).toEqual(want.totals);
          // runs may be cut at a slot's end: the records, unfolded, must agree
          expect(unfoldPages(got.runs), name).toEqual(unfoldPages(want.runs));
        }
      }
    });

    it("make the reading thread's own runs word for word, whoever folds them", async () => {
      // runs of three records over several slots: some cross the 64K-record pieces the reading thread folds by
      const threes = Array.from({ length: 600_000 }, (_, i): [number, number] => [
        (Math.floor(i / 3) % 5000) * 4096 + (i % 4096),
        i % 7 === 0 ? 0 : 1 + (i % 3),
      ]);
      const path = file("same-runs.u64.zst", zstd.compress(binRecords(threes)));
      const got = await runsOf(path);
      process.env.VMLAB_FOLD_SHARE = "worker";
      const own = await runsOf(path);
      expect(got.runs.length).toBe(own.runs.length);
      expect(got.runs.every((w, i) => w === own.runs[i])).toBe(true);
      expect(got.totals).toEqual(own.totals);
    });

    it("stop at a bad record in a later slot, after the same records as readTrace", async () => {
      // past the first slot (2^18 records), not at a piece's edge: in the second slot (shared under main
      // and alternate), and in the third (the reading thread's own under alternate, after a shared one)
      for (const at of [262144 + 70000 + 3, 2 * 262144 + 30000 + 5]) {
        const raw = binRecords(LONGER);
        raw.writeBigUInt64LE(0xffff_ffff_ffff_fff1n, at * 8);
        for (const [name, data] of [
          [`bad-${at}.u64`, raw],
          [`bad-${at}.u64.zst`, zstd.compress(raw)],
        ] as const) {
          const x = await runsFailure(file(name, data));
          expect([x.e.where?.offset, x.seen], name).toEqual([at * 8, at]);
          expect(x.e.message).toMatch(
            new RegExp(`record ${at}: 0xfffffffffffffff1 is not a u64-addr2kind record`),
          );
        }
      }
      // and a file that ends inside a record, after more than a slot
      const trunc = file("trunc-later.u64", binRecords(LONGER).subarray(0, LONGER.length * 8 - 5));
      const a = await runsFailure(trunc);
      const b = await failure(trunc);
      expect([a.e.format(), a.seen]).toEqual([b.e.format(), b.seen]);
      expect(a.seen).toBe(LONGER.length - 1);
    });

    it("stop where readTrace stops, with the same messages, after the same records", async () => {
      const raw = binRecords(RECS.slice(0, 1000));
      const trunc = file("trunc-r.u64", raw.subarray(0, 1000 * 8 - 3));
      const a = await runsFailure(trunc);
      const b = await failure(trunc);
      expect([a.e.format(), a.seen]).toEqual([b.e.format(), b.seen]);
      expect(a.seen).toBe(999);
      const badRaw = binRecords(RECS.slice(0, 100));
      badRaw.writeBigUInt64LE(0xffff_ffff_ffff_fff1n, 50 * 8);
      for (const [name, data] of [
        ["bad-r.u64", badRaw],
        ["bad-r.u64.zst", zstd.compress(badRaw)],
      ] as const) {
        const x = await runsFailure(file(name, data));
        expect([x.e.where?.offset, x.seen], name).toEqual([400, 50]);
        expect(x.e.message).toMatch(/record 50: 0xfffffffffffffff1 is not a u64-addr2kind record/);
      }
      const z = zstd.compress(binRecords(RECS.slice(0, 5000)));
      const cut = await runsFailure(file("cut-r.u64.zst", z.subarray(0, Math.floor(z.length / 2))));
      expect(cut.e.message).toMatch(/corrupt or truncated zstd data/);
      const missing = await runsFailure(join(dir, "no-such-r.u64"));
      expect(missing.e.format()).toBe(`${join(dir, "no-such-r.u64")}: no such file`);
    });

    it("stop the reading thread when the consumer stops, and read the next file as well", async () => {
      const path = file("long-r.u64.zst", zstd.compress(binRecords(LONG)));
      await expect(runsOf(path, 1)).rejects.toThrow("the consumer stops");
      const again = await runsOf(path);
      expect(again.stats.records).toBe(LONG.length);
    });
  },
);

/**
 * readRecordsRaw with a consumer that takes records up to a bad one (high
 * word at or above 2^17), as MachineMode.feedRecords does: the records it
 * took, each slot's totals (of its whole records) and its batch sizes.
 */
async function rawOf(path: string, memory: WasmMemory | null = null) {
  const words: number[] = [];
  const totals: number[][] = [];
  const batches: number[] = [];
  let error: InputError | null = null;
  let stats = null;
  try {
    stats = await readRecordsRaw(
      path,
      (w, n, t) => {
        // with the consumer's memory, the slots are in it (worker.ts's ringMemory): a view of its buffer
        if (memory !== null) expect(w.buffer === memory.buffer && w.byteOffset < RING_BYTES).toBe(true);
        let k = 0;
        while (k < n && w[2 * k + 1] < 131072) k++;
        for (let i = 0; i < 2 * k; i++) words.push(w[i]);
        totals.push(Array.from(t));
        batches.push(n);
        return k;
      },
      undefined,
      undefined,
      memory,
    );
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    error = e;
  }
  return { words, totals, batches, error, stats };
}

/** The runs path's batches of LONGER (the same faults-over-time points), each with its records' fold totals. */
function expectLongerBatches(got: { batches: number[]; totals: unknown[] }, name: string): void {
  expect(got.batches, name).toEqual([262144, 262144, LONGER.length - 2 * 262144]);
  let at = 0;
  got.batches.forEach((n, b) => {
    expect(got.totals[b], name).toEqual(folded(LONGER.slice(at, at + n)).totals);
    at += n;
  });
}

describe("reading records raw from the reading thread (readRecordsRaw)", () => {
  it("hands on every record of plain, gzip and zstd files in batches of 2^18, with each batch's fold totals (in the reading thread's ring, or in the consumer's memory)", async () => {
    const raw = binRecords(LONGER);
    for (const [name, data, memory] of [
      ["raw.u64", raw, null],
      ["raw.u64.gz", gzipSync(raw), null],
      ["raw.u64.zst", zstd.compress(raw), null],
      ["raw.u64", raw, ringMemory()],
      ["raw.u64.gz", gzipSync(raw), ringMemory()],
      ["raw.u64.zst", zstd.compress(raw), ringMemory()],
    ] as const) {
      const got = await rawOf(file(name, data), memory);
      expect(got.error, name).toBe(null);
      expect(got.stats?.records, name).toBe(LONGER.length);
      expect(got.words.length, name).toBe(2 * LONGER.length);
      expect(Buffer.from(new Uint32Array(got.words).buffer).equals(raw), name).toBe(true);
      expectLongerBatches(got, name);
    }
  });

  it("stops where readTrace and readRuns stop, with the same messages, after the same records", async () => {
    for (const at of [50, 262144 + 70000 + 3]) {
      const raw = binRecords(LONGER);
      raw.writeBigUInt64LE(0xffff_ffff_ffff_fff1n, at * 8);
      const path = file(`raw-bad-${at}.u64.zst`, zstd.compress(raw));
      const want = await runsFailure(path);
      for (const memory of [null, ringMemory()]) {
        const got = await rawOf(path, memory);
        expect(got.error?.format()).toBe(want.e.format());
        expect(got.words.length / 2).toBe(at);
      }
    }
    const trunc = file("raw-trunc.u64", binRecords(LONGER).subarray(0, LONGER.length * 8 - 5));
    const want = await failure(trunc);
    for (const memory of [null, ringMemory()]) {
      const got = await rawOf(trunc, memory);
      expect([got.error?.format(), got.words.length / 2]).toEqual([want.e.format(), want.seen]);
    }
  });
});

// who counts a raw slot's totals in the consumer's memory: the reading thread, the main thread (readSlots,
// with the same module), every other slot, or as the load decides: the same batches, totals and records
describe.each([
  ["worker", 0],
  ["main", 3],
  ["alternate", 1],
  ["auto", -1],
] as const)("raw slots' totals with VMLAB_FOLD_SHARE=%s", (share, counted) => {
  beforeEach(() => {
    process.env.VMLAB_FOLD_SHARE = share;
  });
  afterEach(() => {
    delete process.env.VMLAB_FOLD_SHARE;
  });

  it("are each batch's fold totals, whoever counts them", async () => {
    const raw = binRecords(LONGER);
    for (const [name, data] of [
      ["share.u64", raw],
      ["share.u64.zst", zstd.compress(raw)],
    ] as const) {
      const got = await rawOf(file(`${share}-${name}`, data), ringMemory());
      expect(got.error, name).toBe(null);
      expect(Buffer.from(new Uint32Array(got.words).buffer).equals(raw), name).toBe(true);
      expectLongerBatches(got, name);
      const w = lastRingWaits()!;
      expect(w.slots, name).toBe(3);
      if (counted >= 0) expect(w.mainCounted, name).toBe(counted);
    }
  });

  it("stop at a bad record after the same records, with the same message", async () => {
    const at = 262144 + 70000 + 3;
    const raw = binRecords(LONGER);
    raw.writeBigUInt64LE(0xffff_ffff_ffff_fff1n, at * 8);
    const path = file(`raw-bad-${share}.u64.zst`, zstd.compress(raw));
    const want = await runsFailure(path);
    const got = await rawOf(path, ringMemory());
    expect(got.error?.format()).toBe(want.e.format());
    expect(got.words.length / 2).toBe(at);
  });
});

describe("the reading thread's ring in the consumer's memory", () => {
  // 12 slots of 2^18 records (fewer than the ring's 16), made fast: the records written as words
  const n = 12 * 262144 + 1000;
  const words = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    words[2 * i] = (((i >>> 3) % 3000) << 14) | ((i & 1023) << 2) | (i % 4);
    words[2 * i + 1] = (i >>> 17) % 7;
  }
  const raw = Buffer.from(words.buffer);

  it("grows only as the consumer holds slots, handing on every record in order either way", async () => {
    const path = file("ring.u64.zst", zstd.compress(raw));
    for (const stall of [0, 400]) {
      let sum = 0;
      let first = true;
      let at = 0;
      let same = true;
      await readRecordsRaw(
        path,
        (w, count) => {
          // the first slot held while the reading thread goes on: it takes a slot not used yet for each next
          if (first && stall > 0) for (const t0 = Date.now(); Date.now() - t0 < stall; );
          first = false;
          for (let i = 0; i < 2 * count; i++) same &&= w[i] === words[at + i];
          at += 2 * count;
          sum += count;
          return count;
        },
        undefined,
        undefined,
        ringMemory(),
      );
      expect([sum, same], `stall ${stall}`).toEqual([n, true]);
      const w = lastRingWaits()!;
      expect(w.ringSlots).toBe(16);
      expect(w.ringUsed).toBeGreaterThanOrEqual(1);
      // (13 slots posted; the next is taken as one is posted, so one more at most)
      expect(w.ringUsed).toBeLessThanOrEqual(14);
      // held for 400 ms, the first slot leaves the thread (~10 ms of zstd here) all 12 others to fill
      if (stall > 0) expect(w.ringUsed).toBeGreaterThanOrEqual(8);
    }
  });
});

/** Runs unfolded to one [page, side, write-in-run] entry per record. */
function unfoldPages(runs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < runs.length; i += 2) {
    const lo = runs[i];
    const hi = runs[i + 1];
    const n = ((hi >>> 17) & 0x3fff) + 1;
    const page = (hi & 0x1ffff) * 262144 + (lo >>> 14);
    for (let k = 0; k < n; k++) out.push(`${page}:${lo & 3 ? "d" : "i"}`);
  }
  return out.join(",");
}
