/**
 * Synthetic traces: reference patterns that textbooks and papers use to
 * show what a policy does, as u64-addr2kind records in batches (the same
 * stream the readers produce), seeded and so repeatable.
 *
 * - `seq`: a cyclic scan over the pages (LRU's and CLOCK's worst case once
 *   it is one page larger than memory);
 * - `random`: pages drawn uniformly;
 * - `zipf`: page k (from 1) drawn with probability proportional to 1/k^s;
 * - `hotcold`: 80% of the references to 20% of the pages.
 * Each reference touches one byte of its page (offsets spread over the
 * page); `writeRatio` of them are stores, the rest loads.
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { BATCH_RECORDS, type BatchSink } from "./formats.ts";
import { LOAD, STORE, setRecord } from "./record.ts";

export const PATTERNS = ["seq", "random", "zipf", "hotcold"] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface GenerateOptions {
  pattern: Pattern;
  /** distinct pages the pattern draws from */
  pages: number;
  /** references to produce */
  refs: number;
  /** the fraction of references that are stores */
  writeRatio?: number;
  /** zipf's exponent (default 1) */
  zipfS?: number;
  seed?: number;
  /** the first page's address (default 0x10000000, 256 MiB: an ordinary user address) */
  base?: number;
}

/** Produces the trace into `sink`, batch by batch. Returns the references written. */
export function generateTrace(o: GenerateOptions, sink: BatchSink): number {
  for (const [w, n] of traceBatches(o)) sink(w, n);
  return o.refs;
}

/**
 * The trace batch by batch, as it is asked for (a writer that waits for its
 * output keeps the memory at one batch). Each batch is the same buffer,
 * refilled: a consumer copies what it keeps. Bad options throw at once.
 */
export function traceBatches(o: GenerateOptions): Generator<[Uint32Array, number]> {
  if (!(PATTERNS as readonly string[]).includes(o.pattern))
    throw new InputError(`pattern must be one of ${PATTERNS.join(", ")}, not '${o.pattern}'`);
  if (!Number.isSafeInteger(o.pages) || o.pages < 1 || o.pages > 2 ** 30)
    throw new InputError(`--pages must be 1 .. 2^30, not ${o.pages}`);
  if (!Number.isSafeInteger(o.refs) || o.refs < 0 || o.refs > 1e12)
    throw new InputError(`--refs must be 0 .. 10^12, not ${o.refs}`);
  const writeRatio = o.writeRatio ?? 0;
  if (!(writeRatio >= 0 && writeRatio <= 1))
    throw new InputError(`--write-ratio must be in [0, 1], not ${writeRatio}`);
  const s = o.zipfS ?? 1;
  if (!(s > 0 && s <= 10)) throw new InputError(`--zipf-s must be in (0, 10], not ${s}`);
  const base = o.base ?? 0x10000000;
  if (!(Number.isSafeInteger(base) && base % 4096 === 0 && base >= 0 && base + o.pages * 4096 <= 2 ** 47))
    throw new InputError("--base must be a page-aligned address that leaves room for the pages below 2^47");
  const rng = new Rng(o.seed ?? 1);
  const next = drawer(o.pattern, o.pages, s, rng);
  return batches(o.refs, next, base, writeRatio, rng);
}

function* batches(
  refs: number,
  next: (i: number) => number,
  base: number,
  writeRatio: number,
  rng: Rng,
): Generator<[Uint32Array, number]> {
  const words = new Uint32Array(BATCH_RECORDS * 2);
  let n = 0;
  for (let i = 0; i < refs; i++) {
    const page = next(i);
    const vaddr = base + page * 4096 + ((i * 64) % 4096);
    setRecord(words, n, vaddr, writeRatio > 0 && rng.float() < writeRatio ? STORE : LOAD);
    if (++n === BATCH_RECORDS) {
      yield [words, n];
      n = 0;
    }
  }
  if (n > 0) yield [words, n];
}

function drawer(pattern: Pattern, pages: number, s: number, rng: Rng): (i: number) => number {
  switch (pattern) {
    case "seq":
      return (i) => i % pages;
    case "random":
      return () => rng.below(pages);
    case "hotcold": {
      const hot = Math.max(1, Math.floor(pages / 5));
      return () => (rng.float() < 0.8 || hot === pages ? rng.below(hot) : hot + rng.below(pages - hot));
    }
    case "zipf": {
      // the cumulative distribution, searched by bisection (pages <= 2^30 would be 8 GiB: cap the table)
      if (pages > 1 << 24) throw new InputError("zipf: at most 16,777,216 pages");
      const cdf = new Float64Array(pages);
      let sum = 0;
      for (let k = 0; k < pages; k++) {
        sum += 1 / (k + 1) ** s;
        cdf[k] = sum;
      }
      return () => {
        const u = rng.float() * sum;
        let lo = 0;
        let hi = pages - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (cdf[mid] < u) lo = mid + 1;
          else hi = mid;
        }
        return lo;
      };
    }
  }
}
