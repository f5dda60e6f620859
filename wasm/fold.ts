/**
 * AssemblyScript source of the reading thread's fold (records -> runs),
 * the WebAssembly twin of foldRuns in src/workloads/trace/runs.ts: same
 * layout, same stop at a record that cannot be u64-addr2kind, same totals.
 * Built by scripts/build-wasm.mjs into src/workloads/trace/foldWasm.ts
 * (docs/wasm.md). Its memory is the reading thread's ring (a shared
 * WebAssembly.Memory): the records are read where zstd left them and the
 * runs written into the slot, nothing copied.
 *
 * A record: lo = kind (bits 0..1) | offset (2..13) | page bits (14..31),
 * hi = the address's high bits (below 2^17 in a valid record). A run: lo
 * of its first record; hi | (count - 1) << 17 | a write << 31.
 */

/** The bits of a record that a run's records share: the page and high word (and, for fetches, kind 0). */
const SAME_PAGE: u64 = ~(<u64>0x3fff);
const SAME_FETCH: u64 = ~(<u64>0x3ffc);

/**
 * Folds `n` records at `rec` into runs at `out` (room for n runs), adding
 * the records' totals to the 7 f64 at `totals` (RUN_TOTALS: kinds 0..3,
 * data offsets, fetch offsets, records taken). Returns the runs made.
 */
export function fold(rec: usize, n: i32, out: usize, totals: usize): i32 {
  let fetches: i64 = 0;
  let writes: i64 = 0;
  let modifies: i64 = 0;
  let offData: i64 = 0;
  let offFetch: i64 = 0;
  let m: i32 = 0;
  let i: i32 = 0;
  while (i < n) {
    const first = load<u64>(rec + ((<usize>i) << 3));
    const lo = <u32>first;
    const hi = <u32>(first >> 32);
    if (hi >= 131072) break; // not a record: its address is at or beyond 2^47
    const end = min(n, i + 16384); // RUN_MAX
    let j = i + 1;
    let offs: u32 = (lo >>> 2) & 4095;
    let w: u32 = 0;
    if ((lo & 3) === 0) {
      // a fetch run: the same page and high word, kind 0 (the kind's bits equal lo's: zero)
      for (; j < end; j++) {
        const r = load<u64>(rec + ((<usize>j) << 3));
        if (((r ^ first) & SAME_FETCH) !== 0) break;
        offs += (<u32>r >>> 2) & 4095;
      }
      fetches += j - i;
      offFetch += offs;
    } else {
      // a data run: the same page and high word, kinds 1..3
      let wr: u32 = (lo >>> 1) & 1;
      let mo: u32 = lo & (lo >>> 1) & 1;
      for (; j < end; j++) {
        const r = load<u64>(rec + ((<usize>j) << 3));
        const l = <u32>r;
        if (((r ^ first) & SAME_PAGE) !== 0 || (l & 3) === 0) break;
        offs += (l >>> 2) & 4095;
        wr += (l >>> 1) & 1;
        mo += l & (l >>> 1) & 1;
      }
      writes += wr;
      modifies += mo;
      offData += offs;
      w = wr > 0 ? 0x80000000 : 0;
    }
    const o = out + ((<usize>m) << 3);
    store<u32>(o, lo);
    store<u32>(o, hi | ((<u32>(j - i - 1)) << 17) | w, 4);
    m++;
    i = j;
  }
  const records: i64 = i;
  store<f64>(totals, load<f64>(totals) + <f64>fetches);
  store<f64>(totals, load<f64>(totals, 8) + <f64>(records - fetches - writes), 8);
  store<f64>(totals, load<f64>(totals, 16) + <f64>(writes - modifies), 16);
  store<f64>(totals, load<f64>(totals, 24) + <f64>modifies, 24);
  store<f64>(totals, load<f64>(totals, 32) + <f64>offData, 32);
  store<f64>(totals, load<f64>(totals, 40) + <f64>offFetch, 40);
  store<f64>(totals, load<f64>(totals, 48) + <f64>records, 48);
  return m;
}
