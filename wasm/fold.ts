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
 * the records themselves (MachineMode.feedRecords). Eight records a step in
 * 128-bit lanes (two vectors of four low words, each shuffled from two
 * loads); it does not look for a record that cannot be one (the consumer
 * does, and counts the records before it itself).
 *
 * Per lane it sums only what takes one operation each: the low 14 bits
 * (offset << 2 | kind), the kind, the kind's bit 0, and the low 14 bits of
 * fetches (kind 0: offset << 2), and counts fetches; the rest follows. With
 * a reads (kind 1), b writes (2) and c modifies (3) among the non-fetches:
 * sum(kind) = a + 2b + 3c and sum(bit 0) = a + c, so writes (b + c) =
 * (sum(kind) - sum(bit 0)) / 2, b = records - fetches - sum(bit 0), c =
 * writes - b; offsets = (sum(low 14) - sum(kind)) >> 2.
 */
export function totals(rec: usize, n: i32, totals: usize): void {
  const THREE = i32x4.splat(3);
  const ONE = i32x4.splat(1);
  const LOW14 = i32x4.splat(0x3fff);
  const ZERO = i32x4.splat(0);
  let fetches: i64 = 0;
  let kindSum: i64 = 0;
  let bit0Sum: i64 = 0;
  let low14Sum: i64 = 0;
  let low14Fetch: i64 = 0;
  const octs = n >> 3;
  // 32K steps (256K records) at a time: a lane's sums stay below 2^31 (the low 14 bits below 2^14)
  for (let q0 = 0; q0 < octs; q0 += 32768) {
    const q1 = min(octs, q0 + 32768);
    let fe = ZERO;
    let k3 = ZERO;
    let b0 = ZERO;
    let l14 = ZERO;
    let l14F = ZERO;
    for (let q = q0; q < q1; q++) {
      const at = rec + ((<usize>q) << 6);
      const loA = v128.shuffle<i32>(v128.load(at), v128.load(at, 16), 0, 2, 4, 6);
      const loB = v128.shuffle<i32>(v128.load(at, 32), v128.load(at, 48), 0, 2, 4, 6);
      const kA = v128.and(loA, THREE);
      const kB = v128.and(loB, THREE);
      const wA = v128.and(loA, LOW14);
      const wB = v128.and(loB, LOW14);
      const fA = i32x4.eq(kA, ZERO);
      const fB = i32x4.eq(kB, ZERO);
      fe = i32x4.sub(i32x4.sub(fe, fA), fB);
      k3 = i32x4.add(k3, i32x4.add(kA, kB));
      b0 = i32x4.add(b0, i32x4.add(v128.and(loA, ONE), v128.and(loB, ONE)));
      l14 = i32x4.add(l14, i32x4.add(wA, wB));
      l14F = i32x4.add(l14F, i32x4.add(v128.and(wA, fA), v128.and(wB, fB)));
    }
    fetches += sumLanes(fe);
    kindSum += sumLanes(k3);
    bit0Sum += sumLanes(b0);
    low14Sum += sumLanes(l14);
    low14Fetch += sumLanes(l14F);
  }
  const whole: i64 = (<i64>octs) << 3;
  let writes: i64 = (kindSum - bit0Sum) >> 1;
  let modifies: i64 = writes - (whole - fetches - bit0Sum);
  let offAll: i64 = (low14Sum - kindSum) >> 2;
  let offFetch: i64 = low14Fetch >> 2;
  for (let i = octs << 3; i < n; i++) {
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
