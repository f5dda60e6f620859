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
  let offData = 0;
  let offFetch = 0;
  let m = 0;
  let i = 0;
  // record.ts's layout by hand: kind lo & 3, offset (lo >>> 2) & 4095, page hi:(lo >>> 14), hi < 2^17.
  // One run per turn of the outer loop; the inner loops take the rest of the run, one for fetch
  // runs (every record kind 0) and one for data runs (kinds 1..3), each with only its own sums.
  while (i < n) {
    const lo = rec[2 * i];
    const hi = rec[2 * i + 1];
    if (hi >= 131072) break; // not a record: its address is at or beyond 2^47
    const end = Math.min(n, i + 16384 /* RUN_MAX */);
    let j = i + 1;
    let offs = (lo >>> 2) & 4095;
    let w = lo & 2; // 2 when a store or modify is among the records
    if ((lo & 3) === 0) {
      for (; j < end; j++) {
        const l = rec[2 * j];
        // the same page (and high word), a fetch
        if (rec[2 * j + 1] !== hi || (l ^ lo) >>> 14 !== 0 || (l & 3) !== 0) break;
        offs += (l >>> 2) & 4095;
      }
      fetches += j - i;
      offFetch += offs;
    } else {
      let wr = w >> 1;
      let mo = lo & (lo >>> 1) & 1;
      for (; j < end; j++) {
        const l = rec[2 * j];
        // the same page (and high word), data
        if (rec[2 * j + 1] !== hi || (l ^ lo) >>> 14 !== 0 || (l & 3) === 0) break;
        offs += (l >>> 2) & 4095;
        wr += (l >>> 1) & 1;
        mo += l & (l >>> 1) & 1;
      }
      writes += wr;
      modifies += mo;
      offData += offs;
      w = wr > 0 ? 2 : 0;
    }
    out[2 * m] = lo;
    out[2 * m + 1] = (hi | ((j - i - 1) << 17) | (w << 30)) >>> 0;
    m++;
    i = j;
  }
  totals[0] += fetches;
  totals[1] += i - fetches - writes;
  totals[2] += writes - modifies;
  totals[3] += modifies;
  totals[4] += offData;
  totals[5] += offFetch;
  totals[6] += i;
  return m;
}
