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

/**
 * The totals the fold would add for `n` records at `rec` (RUN_TOTALS, added
 * to the 7 f64 at `totals`), without folding them: for a consumer that takes
 * the records themselves (MachineMode.feedRecords). Four records a step in
 * 128-bit lanes (their low words shuffled into one vector); it does not
 * look for a record that cannot be one (the consumer does, and counts the
 * records before it itself).
 */
export function totals(rec: usize, n: i32, totals: usize): void {
  const THREE = i32x4.splat(3);
  const ONE = i32x4.splat(1);
  const OFF = i32x4.splat(4095);
  const ZERO = i32x4.splat(0);
  let fetches: i64 = 0;
  let writes: i64 = 0;
  let modifies: i64 = 0;
  let offAll: i64 = 0;
  let offFetch: i64 = 0;
  const quads = n >> 2;
  // 64K quads at a time: a lane's sums stay below 2^31 (offsets below 2^12)
  for (let q0 = 0; q0 < quads; q0 += 65536) {
    const q1 = min(quads, q0 + 65536);
    let fe = ZERO;
    let wr = ZERO;
    let mo = ZERO;
    let offA = ZERO;
    let offF = ZERO;
    for (let q = q0; q < q1; q++) {
      const at = rec + ((<usize>q) << 5);
      const lo = v128.shuffle<i32>(v128.load(at), v128.load(at, 16), 0, 2, 4, 6);
      const isF = i32x4.eq(v128.and(lo, THREE), ZERO);
      const off = v128.and(i32x4.shr_u(lo, 2), OFF);
      const w = v128.and(i32x4.shr_u(lo, 1), ONE);
      fe = i32x4.sub(fe, isF);
      wr = i32x4.add(wr, w);
      mo = i32x4.add(mo, v128.and(lo, w));
      offA = i32x4.add(offA, off);
      offF = i32x4.add(offF, v128.and(off, isF));
    }
    fetches += sumLanes(fe);
    writes += sumLanes(wr);
    modifies += sumLanes(mo);
    offAll += sumLanes(offA);
    offFetch += sumLanes(offF);
  }
  for (let i = quads << 2; i < n; i++) {
    const lo = load<u32>(rec + ((<usize>i) << 3));
    const off = (lo >>> 2) & 4095;
    const w = (lo >>> 1) & 1;
    writes += w;
    modifies += lo & w;
    offAll += off;
    if ((lo & 3) === 0) {
      fetches++;
      offFetch += off;
    }
  }
  store<f64>(totals, load<f64>(totals) + <f64>fetches);
  store<f64>(totals, load<f64>(totals, 8) + <f64>(<i64>n - fetches - writes), 8);
  store<f64>(totals, load<f64>(totals, 16) + <f64>(writes - modifies), 16);
  store<f64>(totals, load<f64>(totals, 24) + <f64>modifies, 24);
  store<f64>(totals, load<f64>(totals, 32) + <f64>(offAll - offFetch), 32);
  store<f64>(totals, load<f64>(totals, 40) + <f64>offFetch, 40);
  store<f64>(totals, load<f64>(totals, 48) + <f64>n, 48);
}

/** The sum of a vector's four lanes (each below 2^31; small enough for the optimizer to inline). */
function sumLanes(v: v128): i64 {
  return (
    <i64>i32x4.extract_lane(v, 0) +
    <i64>i32x4.extract_lane(v, 1) +
    <i64>i32x4.extract_lane(v, 2) +
    <i64>i32x4.extract_lane(v, 3)
  );
}
