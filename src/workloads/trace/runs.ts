/**
 * Runs: consecutive records of a u64-addr2kind stream that touch the same
 * 4 KiB page on the same side (instruction fetch, or data), folded into
 * one item. A run is two 32-bit words:
 *
 *   lo  the first record's low word (its kind, offset and low page bits)
 *   hi  bits 0..16   the records' high word (below 2^17 in a valid record)
 *       bits 17..30  records in the run, minus one (a run holds 1..16384)
 *       bit  31      a store or modify among them
 *
 * and a batch of runs comes with its records' totals (trace-pure figures
 * that need no per-record work downstream): RUN_TOTALS numbers, the count
 * of each kind (0..3), the sum of the page offsets of the data records and
 * of the fetches, and the number of records.
 *
 * An MMU model can take a run as its first access followed by count-1
 * accesses to a page that is then the front entry of its first-level TLB
 * set: they hit, and change nothing but counters (see MachineMode.feedRuns).
 */

export const RUN_TOTALS = 7;
/** Records in a run at most (14 bits of count). */
export const RUN_MAX = 16384;

/** The records' high word, from a run's second word `w`. */
export function runHigh(w: number): number {
  return w & 0x1ffff;
}

/** The records in the run (1..RUN_MAX), from its second word `w`. */
export function runLength(w: number): number {
  return ((w >>> 17) & 0x3fff) + 1;
}

/** 1 when a store or modify is among the run's records, else 0, from its second word `w`. */
export function runWrites(w: number): number {
  return w >>> 31;
}

/**
 * (It runs in the reading thread too, sent as source text: it may use
 * nothing from outside its body, RUN_MAX included. So it decodes the
 * records by hand, as record.ts lays them out: keep it in sync with
 * record.ts, as record.test.ts checks.)
 *
 * Folds `n` records of `rec` into runs in `out` (room for n runs), adding
 * the records' totals to `totals`. Returns the number of runs. It stops
 * before a record that cannot be u64-addr2kind (its high word at or above
 * 2^17, an address at or beyond 2^47): totals[6] says how many it took.
 */
export function foldRuns(rec: Uint32Array, n: number, out: Uint32Array, totals: Float64Array): number {
  let fetches = 0;
  let writes = 0; // stores and modifies
  let modifies = 0;
  let offAll = 0;
  let offFetch = 0;
  let m = -1;
  let page = -1;
  let high = -1;
  let side = -1;
  let len = 0;
  let i = 0;
  // record.ts's layout by hand: kind lo & 3, offset (lo >>> 2) & 4095, page hi:(lo >>> 14), hi < 2^17
  for (; i < n; i++) {
    const lo = rec[2 * i];
    const hi = rec[2 * i + 1];
    if (hi >= 131072) break; // not a record: its address is at or beyond 2^47
    const kind = lo & 3;
    const fetch = (kind - 1) >>> 31; // 1 for kind 0
    const w = kind >> 1;
    fetches += fetch;
    writes += w;
    modifies += w & kind;
    const off = (lo >>> 2) & 4095;
    offAll += off;
    offFetch += off & -fetch;
    const p = lo >>> 14;
    if (p === page && hi === high && fetch === side && len < 16384 /* RUN_MAX */) {
      len++;
      out[2 * m + 1] = (out[2 * m + 1] + 131072) | (w << 31);
    } else {
      m++;
      page = p;
      high = hi;
      side = fetch;
      len = 1;
      out[2 * m] = lo;
      out[2 * m + 1] = hi | (w << 31);
    }
  }
  totals[0] += fetches;
  totals[1] += i - fetches - writes;
  totals[2] += writes - modifies;
  totals[3] += modifies;
  totals[4] += offAll - offFetch;
  totals[5] += offFetch;
  totals[6] += i;
  return m + 1;
}
