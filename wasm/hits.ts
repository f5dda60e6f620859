/**
 * AssemblyScript source of machine mode's hit loop over runs, the
 * WebAssembly twin of the common path of MachineMode.feedRuns
 * (src/analysis/trace/machineMode.ts): per run, the front-entry memo of its
 * first-level set, then the set itself (TlbArray.lookup over the array's
 * own typed arrays, which live in this module's memory), with the counters
 * kept here. Anything else (a first-level miss: the second level, the walk,
 * a fault) goes back to JavaScript, which stays the authority for it.
 * Built by scripts/build-wasm.mjs into src/analysis/trace/hitsWasm.ts
 * (docs/wasm.md).
 *
 * Layouts, all addresses into the imported memory:
 *   a run       lo = its first record's low word (kind 0..1, offset 2..13, page bits 14..31);
 *               hi = high word (0..16) | count - 1 (17..30) | a write (31)   (runs.ts)
 *   the memo    per set: i32 page bits, i32 high word, i32 frame (MachineMode's memoLo/Hi/PfnsD)
 *   memo 1      the same for the set's second way (way 1), this module's own: a hit there swaps
 *               ways 0 and 1 (TlbArray.lookup's move to the front) without a lookup
 *   flip bits   NEAR layout only (memo, memo 1, then these, each NEAR apart): u32 per set, 1 when
 *               takeRecords swapped the set's memos on a way-1 hit and not yet its ways (flipD)
 *   the array   TlbArray: f64 keys (vpn * 8 + size code, -1 invalid), f64 pfns, i32 metas,
 *               i32 attrs, `ways` ways per set in recency order (way 0 most recent)
 *   frames      u8 reference bit and u8 dirty flag per frame
 */

// Meta.G and Meta.ASID_MASK (hw/mmu/TlbArray.ts)
const GLOBAL: u32 = 1 << 23;
const ASID_MASK: u32 = 0xffff;

/**
 * The distance between the data side's memo arrays (page bits, high word, frame) when
 * HitLoop places them so (up to 1,024 sets): takeRecords' front-page loop then addresses
 * the three from one base with constant offsets (one value fewer to keep in a register).
 */
const NEAR: usize = 4096;

/** Per side (D: data; I: fetches): the memo's three arrays, its set mask, the array's four, its ways. */
let memoLoD: usize = 0;
let memoHiD: usize = 0;
let memoPfnD: usize = 0;
let setMaskD: u32 = 0;
let keysD: usize = 0;
let pfnsD: usize = 0;
let metasD: usize = 0;
let attrsD: usize = 0;
let waysD: u32 = 0;
let memoLoI: usize = 0;
let memoHiI: usize = 0;
let memoPfnI: usize = 0;
let setMaskI: u32 = 0;
let keysI: usize = 0;
let pfnsI: usize = 0;
let metasI: usize = 0;
let attrsI: usize = 0;
let waysI: u32 = 0;
/**
 * Per side: the memo of each set's way 1 (its page bits, high word and frame; page bits -1:
 * not known), kept as the memo of way 0 is: when valid, way 1 of the set holds that page for
 * this address space. JavaScript empties it (memo1's page bits to -1) whenever it changes the
 * first level itself (HitLoop.forgetSecond).
 */
let memo1LoD: usize = 0;
let memo1HiD: usize = 0;
let memo1PfnD: usize = 0;
let memo1LoI: usize = 0;
let memo1HiI: usize = 0;
let memo1PfnI: usize = 0;
/** Per side: the second level's one 4K array (ways 0: none, or not taken here), as the first's. */
let keys2D: usize = 0;
let pfns2D: usize = 0;
let metas2D: usize = 0;
let attrs2D: usize = 0;
let ways2D: u32 = 0;
let setMask2D: u32 = 0;
let keys2I: usize = 0;
let pfns2I: usize = 0;
let metas2I: usize = 0;
let attrs2I: usize = 0;
let ways2I: u32 = 0;
let setMask2I: u32 = 0;
/**
 * i32 counts for JavaScript to apply (and zero) after each call: [0] second-level hits,
 * [1] [2] the data side's first-level fills into an invalid way and evictions, [3] [4] the fetch side's;
 * [5] 1 when the run or record the call stopped at missed both the first level's array and the
 * second's (nothing of either changed: HitLoop.missedBoth), else left 0
 */
let counts: usize = 0;
let refBits: usize = 0;
let dirtyFlags: usize = 0;
/** fetches have their own first level (else both sides are the data side's) */
let split = false;
/** fetches are skipped (--data-only) */
let dataOnly = false;

/** L1 hits counted here (the MMU's translations and first-level hits) */
let repeats: i64 = 0;
/** sum over the simulated records of their frame, mod 2^64 */
let frameSum: i64 = 0;

/** Sets one side's tables (side 0: data; 1: fetches, when split). */
export function side(
  s: i32,
  lo: usize,
  hi: usize,
  pfn: usize,
  mask: u32,
  k: usize,
  p: usize,
  m: usize,
  a: usize,
  w: u32,
): void {
  if (s === 0) {
    memoLoD = lo;
    memoHiD = hi;
    memoPfnD = pfn;
    setMaskD = mask;
    keysD = k;
    pfnsD = p;
    metasD = m;
    attrsD = a;
    waysD = w;
  } else {
    memoLoI = lo;
    memoHiI = hi;
    memoPfnI = pfn;
    setMaskI = mask;
    keysI = k;
    pfnsI = p;
    metasI = m;
    attrsI = a;
    waysI = w;
  }
}

/** Sets one side's memo of way 1 (side 0: data; 1: fetches, when split). */
export function memo1(s: i32, lo: usize, hi: usize, pfn: usize): void {
  if (s === 0) {
    memo1LoD = lo;
    memo1HiD = hi;
    memo1PfnD = pfn;
  } else {
    memo1LoI = lo;
    memo1HiI = hi;
    memo1PfnI = pfn;
  }
}

/** Sets one side's second-level array (ways 0: none) and the counts' address. */
export function second(s: i32, k: usize, p: usize, m: usize, a: usize, w: u32, mask: u32, c: usize): void {
  if (s === 0) {
    keys2D = k;
    pfns2D = p;
    metas2D = m;
    attrs2D = a;
    ways2D = w;
    setMask2D = mask;
  } else {
    keys2I = k;
    pfns2I = p;
    metas2I = m;
    attrs2I = a;
    ways2I = w;
    setMask2I = mask;
  }
  counts = c;
}

/** Sets the frames' tables and the mode. */
export function frames(ref: usize, dirty: usize, isSplit: bool, isDataOnly: bool): void {
  refBits = ref;
  dirtyFlags = dirty;
  split = isSplit;
  dataOnly = isDataOnly;
}

/** The hits counted since the last call (and zeroes them). */
export function takeRepeats(): f64 {
  const r = repeats;
  repeats = 0;
  return <f64>r;
}

/** The frame sum since the last call, mod 2^64 (and zeroes it). */
export function takeFrameSum(): i64 {
  const r = frameSum;
  frameSum = 0;
  return r;
}

/** Loop.miss for the data side's first level (and a unified one's). Kept out of the loops. */
function missD(lo: u32, hi: u32, write: u32, asid: u32): i32 {
  return Loop.miss(lo, hi, write, false, asid);
}

/** Loop.miss for the fetch side's first level, when it is its own. Kept out of the loops. */
function missI(lo: u32, hi: u32, write: u32, asid: u32): i32 {
  return Loop.miss(lo, hi, write, true, asid);
}

/**
 * The loops inlined where they are used (V8 inlines no WebAssembly call),
 * and the steps of a first-level memo miss, inlined into missD and missI
 * with their side `s` a constant (each `s ? fetch's : data's` table address
 * then one global, not a select of two): a class only so that they can
 * carry @inline (biome parses no decorator on a function).
 */
class Loop {
  /**
   * A hit on way 1 of `set` (its memo1 holds the page): TlbArray.lookup's move to
   * the front for way 1, that is ways 0 and 1 swapped (keys, frames, metas,
   * attributes), and the two memos swapped with them. Kept out of the loops.
   */
  // @ts-expect-error: decorator
  @inline
  static front1(s: bool, set: u32): void {
    Loop.swap01(s, set);
    const at: usize = (<usize>set) << 2;
    const lo0 = (s ? memoLoI : memoLoD) + at;
    const hi0 = (s ? memoHiI : memoHiD) + at;
    const pf0 = (s ? memoPfnI : memoPfnD) + at;
    const lo1 = (s ? memo1LoI : memo1LoD) + at;
    const hi1 = (s ? memo1HiI : memo1HiD) + at;
    const pf1 = (s ? memo1PfnI : memo1PfnD) + at;
    const l = load<u32>(lo0);
    const h = load<u32>(hi0);
    const f = load<u32>(pf0);
    store<u32>(lo0, load<u32>(lo1));
    store<u32>(hi0, load<u32>(hi1));
    store<u32>(pf0, load<u32>(pf1));
    store<u32>(lo1, l);
    store<u32>(hi1, h);
    store<u32>(pf1, f);
  }

  /**
   * TlbArray.lookup's move to the front for way 1 of `set`: ways 0 and 1 swapped (keys, frames,
   * metas, attributes). The memos are the caller's.
   */
  // @ts-expect-error: decorator
  @inline
  static swap01(s: bool, set: u32): void {
    const nw: usize = s ? waysI : waysD;
    const b: usize = <usize>set * nw;
    const k = (s ? keysI : keysD) + (b << 3);
    const p = (s ? pfnsI : pfnsD) + (b << 3);
    const m = (s ? metasI : metasD) + (b << 2);
    const a = (s ? attrsI : attrsD) + (b << 2);
    const k0 = load<f64>(k);
    store<f64>(k, load<f64>(k, 8));
    store<f64>(k, k0, 8);
    const p0 = load<f64>(p);
    store<f64>(p, load<f64>(p, 8));
    store<f64>(p, p0, 8);
    const m0 = load<u32>(m);
    store<u32>(m, load<u32>(m, 4));
    store<u32>(m, m0, 4);
    const a0 = load<u32>(a);
    store<u32>(a, load<u32>(a, 4));
    store<u32>(a, a0, 4);
  }

  /**
   * A first-level miss looked up in the second level (MachineMode.l2Hit): on
   * a hit there, the entry copied into the first level's set at `base1` as
   * TlbArray.insert copies it (each way takes the one before it, down to an
   * invalid way, the same entry, or the last, which leaves), the fill or
   * eviction counted for JavaScript; the frame, or -1 (a miss, or an entry
   * JavaScript must copy itself: attributes, a fractured page; nothing of
   * the first level changed).
   */
  // @ts-expect-error: decorator
  @inline
  static secondHit(s: bool, page: u32, hi: u32, key: f64, base1: usize, asid: u32): i32 {
    const nw2: usize = s ? ways2I : ways2D;
    if (nw2 === 0) return -1;
    const k2 = s ? keys2I : keys2D;
    const p2 = s ? pfns2I : pfns2D;
    const m2 = s ? metas2I : metas2D;
    const a2 = s ? attrs2I : attrs2D;
    const set2: usize = (page | (hi << 18)) & (s ? setMask2I : setMask2D);
    const at = Loop.lookup(k2, p2, m2, a2, set2 * nw2, nw2, key, asid);
    if (at < 0) {
      store<i32>(counts, 1, 20); // a miss of both arrays: the call stops here (HitLoop.missedBoth)
      return -1;
    }
    const slot2 = <usize>at;
    const meta = load<u32>(m2 + (slot2 << 2));
    // a large page's piece, attributes: TlbArray.insert's other bookkeeping, left to JavaScript
    if (((meta >>> 24) & 63) !== 0 || load<u32>(a2 + (slot2 << 2)) !== 0) return -1;
    const pfn = load<f64>(p2 + (slot2 << 3));
    store<i32>(counts, load<i32>(counts) + 1);
    const k = s ? keysI : keysD;
    const p = s ? pfnsI : pfnsD;
    const m = s ? metasI : metasD;
    const nw: usize = s ? waysI : waysD;
    const last = base1 + nw - 1;
    let ck = key;
    let cp = pfn;
    let cm = meta; // held size 0: a 4K entry
    for (let from = base1; ; from++) {
      const kk = load<f64>(k + (from << 3));
      const pp = load<f64>(p + (from << 3));
      const mm = load<u32>(m + (from << 2));
      store<f64>(k + (from << 3), ck);
      store<f64>(p + (from << 3), cp);
      store<u32>(m + (from << 2), cm);
      if (kk === -1.0) {
        const c = counts + (s ? 12 : 4);
        store<i32>(c, load<i32>(c) + 1);
        break;
      }
      if (kk === key && ((mm ^ meta) & (ASID_MASK | GLOBAL)) === 0) break;
      if (from === last) {
        const c = counts + (s ? 16 : 8);
        store<i32>(c, load<i32>(c) + 1);
        break;
      }
      ck = kk;
      cp = pp;
      cm = mm;
    }
    return <i32>pfn;
  }

  /**
   * A run or record whose first-level set's memo does not hold its page (its
   * first record's low word `lo`, its high word `hi`, `write` 1 when a store
   * or modify is among its records; `s`: the fetch side's first level): TlbArray.lookup of a
   * base-page array (the set's ways in recency order, invalid ones last),
   * else the second level (secondHit), then the memo, reference bit and dirty
   * flag as a front-entry hit leaves them. Returns the frame times 2, plus 1
   * when the first record missed the first level (a second-level hit, counted
   * apart); or -1, a miss of both (nothing done). Kept out of take's loop so
   * that the loop's few values stay in registers.
   */
  // @ts-expect-error: decorator
  @inline
  static miss(lo: u32, hi: u32, write: u32, s: bool, asid: u32): i32 {
    const page = lo >>> 14;
    const set = page & (s ? setMaskI : setMaskD);
    const at1 = (<usize>set) << 2;
    if (
      load<u32>((s ? memo1LoI : memo1LoD) + at1) === page &&
      load<u32>((s ? memo1HiI : memo1HiD) + at1) === hi
    ) {
      // way 1 (its memo): moved to the front as TlbArray.lookup moves it, without the lookup
      const f = load<u32>((s ? memo1PfnI : memo1PfnD) + at1);
      Loop.front1(s, set);
      store<u8>(refBits + f, 1);
      const d1 = dirtyFlags + f;
      store<u8>(d1, load<u8>(d1) | <u8>write);
      return <i32>(f << 1);
    }
    const key: f64 = (<f64>hi * 262144.0 + <f64>page) * 8.0;
    const nw: usize = s ? waysI : waysD;
    const base: usize = <usize>set * nw;
    const p = s ? pfnsI : pfnsD;
    let pfn: u32;
    let second = 0;
    if (
      Loop.lookup(s ? keysI : keysD, p, s ? metasI : metasD, s ? attrsI : attrsD, base, nw, key, asid) >= 0
    ) {
      pfn = <u32>(<i32>load<f64>(p + (base << 3)));
    } else {
      const got = Loop.secondHit(s, page, hi, key, base, asid);
      if (got < 0) return -1;
      pfn = <u32>got;
      second = 1;
    }
    const at = (<usize>set) << 2;
    // way 1 now holds what way 0 held (the hit was past the front, or the second level's entry was
    // put in front): the memo of way 0 becomes that of way 1 (when way 0 was not known, neither is way 1)
    const lo0 = (s ? memoLoI : memoLoD) + at;
    const hi0 = (s ? memoHiI : memoHiD) + at;
    const pf0 = (s ? memoPfnI : memoPfnD) + at;
    store<u32>((s ? memo1LoI : memo1LoD) + at, load<u32>(lo0));
    store<u32>((s ? memo1HiI : memo1HiD) + at, load<u32>(hi0));
    store<u32>((s ? memo1PfnI : memo1PfnD) + at, load<u32>(pf0));
    store<u32>(lo0, page);
    store<u32>(hi0, hi);
    store<u32>(pf0, pfn);
    store<u8>(refBits + pfn, 1);
    const d = dirtyFlags + pfn;
    store<u8>(d, load<u8>(d) | <u8>write);
    return <i32>((pfn << 1) | second);
  }

  /**
   * TlbArray.lookup of a base-page array: the way holding `key` for `asid`
   * (or global) in the set at `base`, moved to the front (TlbArray.toFront,
   * attributes too), then `base`; or -1.
   */
  // @ts-expect-error: decorator
  @inline
  static lookup(
    k: usize,
    p: usize,
    meta: usize,
    a: usize,
    base: usize,
    nw: usize,
    key: f64,
    asid: u32,
  ): isize {
    let hit: isize = -1;
    for (let x: usize = base; x < base + nw; x++) {
      const kk = load<f64>(k + (x << 3));
      if (kk === key) {
        const mt = load<u32>(meta + (x << 2));
        if ((mt & GLOBAL) !== 0 || (mt & ASID_MASK) === asid) {
          hit = <isize>x;
          break;
        }
      } else if (kk === -1.0) break;
    }
    if (hit < 0) return -1;
    const x = <usize>hit;
    if (x !== base) {
      const kx = load<f64>(k + (x << 3));
      const px = load<f64>(p + (x << 3));
      const mx = load<u32>(meta + (x << 2));
      const ax = load<u32>(a + (x << 2));
      for (let j = x; j > base; j--) {
        store<f64>(k + (j << 3), load<f64>(k + ((j - 1) << 3)));
        store<f64>(p + (j << 3), load<f64>(p + ((j - 1) << 3)));
        store<u32>(meta + (j << 2), load<u32>(meta + ((j - 1) << 2)));
        store<u32>(a + (j << 2), load<u32>(a + ((j - 1) << 2)));
      }
      store<f64>(k + (base << 3), kx);
      store<f64>(p + (base << 3), px);
      store<u32>(meta + (base << 2), mx);
      store<u32>(a + (base << 2), ax);
    }
    return <isize>base;
  }

  /**
   * take's loop, inlined with constant `sp` (split first levels) and `skip`
   * (fetches skipped) so that each of the three variants keeps only its own
   * side's memo in registers; the same steps in each.
   */
  // @ts-expect-error: decorator
  @inline
  static run(runs: usize, from: i32, count: i32, asid: u32, sp: bool, skip: bool): i32 {
    let rep = repeats;
    let sum = frameSum;
    const dirty = dirtyFlags;
    // the globals in locals: a global is two loads in V8's code, a local a register
    const loD = memoLoD;
    const hiD = memoHiD;
    const pfD = memoPfnD;
    const maskD = setMaskD;
    const loI = sp ? memoLoI : 0;
    const hiI = sp ? memoHiI : 0;
    const pfI = sp ? memoPfnI : 0;
    const maskI = sp ? setMaskI : 0;
    const end = runs + ((<usize>count) << 3);
    for (let r = runs + ((<usize>from) << 3); r < end; r += 8) {
      const lo = load<u32>(r);
      const w = load<u32>(r, 4);
      const kind = lo & 3;
      if (skip && kind === 0) continue;
      const page = lo >>> 14;
      const s = sp && kind === 0;
      const at = (<usize>(page & (s ? maskI : maskD))) << 2;
      const len: i64 = ((w >>> 17) & 0x3fff) + 1;
      let pfn: u32;
      if (load<u32>((s ? loI : loD) + at) === page && load<u32>((s ? hiI : hiD) + at) === (w & 0x1ffff)) {
        // the set's front entry (MachineMode.feedRuns: its reference bit is set already)
        rep += len;
        pfn = load<u32>((s ? pfI : pfD) + at);
        if (w >= 0x80000000) store<u8>(dirty + pfn, 1);
      } else {
        const got = s ? missI(lo, w & 0x1ffff, w >>> 31, asid) : missD(lo, w & 0x1ffff, w >>> 31, asid);
        if (got < 0) {
          repeats = rep;
          frameSum = sum;
          return <i32>((r - runs) >>> 3);
        }
        rep += len - <i64>(got & 1); // a second-level hit: its first record missed the first level
        pfn = <u32>got >>> 1;
      }
      sum += <i64>pfn * len;
    }
    repeats = rep;
    frameSum = sum;
    return count;
  }

  /**
   * takeRecords' loop, inlined with constant `sp` and `skip` as run's: the
   * same steps on a record as run's on a run of one.
   */
  // @ts-expect-error: decorator
  @inline
  static recs(recs: usize, from: i32, count: i32, asid: u32, sp: bool, skip: bool, near: bool): i32 {
    let flips = false;
    let rep = repeats;
    let sum = frameSum;
    const dirty = dirtyFlags;
    const loD = memoLoD;
    const hiD = memoHiD;
    const pfD = memoPfnD;
    const maskD = setMaskD;
    const loI = sp ? memoLoI : 0;
    const hiI = sp ? memoHiI : 0;
    const pfI = sp ? memoPfnI : 0;
    const maskI = sp ? setMaskI : 0;
    const end = recs + ((<usize>count) << 3);
    let r = recs + ((<usize>from) << 3);
    while (r < end) {
      // the records on their set's front page (the memo), in a loop of their own: no call in it,
      // so that its values stay in registers (and no value carried out of it: the record that
      // stops it is read again below, else TurboFan kept its words on the stack every turn)
      const r0 = r;
      // near: four records a turn (one loop test, one stack check, constant offsets from r); the one
      // that misses stops it where it is (at), and the loop below, which would only test it again, is skipped
      let at4: usize = 0;
      if (near) {
        for (; r + 32 <= end; r += 32) {
          const w0 = load<u32>(r, 0);
          const p0 = w0 >>> 14;
          const m0 = loD + ((<usize>(p0 & maskD)) << 2);
          if (((load<u32>(m0) ^ p0) | (load<u32>(m0, NEAR) ^ load<u32>(r, 4))) !== 0) {
            at4 = 8;
            break;
          }
          const f0 = load<u32>(m0, 2 * NEAR);
          if ((w0 & 2) !== 0) store<u8>(dirty + f0, 1);
          sum += <i64>f0;
          const w1 = load<u32>(r, 8);
          const p1 = w1 >>> 14;
          const m1 = loD + ((<usize>(p1 & maskD)) << 2);
          if (((load<u32>(m1) ^ p1) | (load<u32>(m1, NEAR) ^ load<u32>(r, 12))) !== 0) {
            at4 = 16;
            break;
          }
          const f1 = load<u32>(m1, 2 * NEAR);
          if ((w1 & 2) !== 0) store<u8>(dirty + f1, 1);
          sum += <i64>f1;
          const w2 = load<u32>(r, 16);
          const p2 = w2 >>> 14;
          const m2 = loD + ((<usize>(p2 & maskD)) << 2);
          if (((load<u32>(m2) ^ p2) | (load<u32>(m2, NEAR) ^ load<u32>(r, 20))) !== 0) {
            at4 = 24;
            break;
          }
          const f2 = load<u32>(m2, 2 * NEAR);
          if ((w2 & 2) !== 0) store<u8>(dirty + f2, 1);
          sum += <i64>f2;
          const w3 = load<u32>(r, 24);
          const p3 = w3 >>> 14;
          const m3 = loD + ((<usize>(p3 & maskD)) << 2);
          if (((load<u32>(m3) ^ p3) | (load<u32>(m3, NEAR) ^ load<u32>(r, 28))) !== 0) {
            at4 = 32;
            break;
          }
          const f3 = load<u32>(m3, 2 * NEAR);
          if ((w3 & 2) !== 0) store<u8>(dirty + f3, 1);
          sum += <i64>f3;
        }
        r += at4 === 0 ? 0 : at4 - 8;
      }
      if (at4 === 0)
        for (; r < end; r += 8) {
          const lo = load<u32>(r);
          const hi = load<u32>(r, 4);
          const fetch = (lo & 3) === 0;
          if (skip && fetch) {
            if (hi >= 131072) break; // not a record
            continue;
          }
          const page = lo >>> 14;
          const s = sp && fetch;
          const at = (<usize>(page & (s ? maskI : maskD))) << 2;
          // (one test of both words: one branch)
          // (near: the data side's memo words NEAR bytes apart, one base and constant offsets)
          const m = (s ? loI : loD) + at;
          const h = near ? load<u32>(m, NEAR) : load<u32>((s ? hiI : hiD) + at);
          if (((load<u32>(m) ^ page) | (h ^ hi)) !== 0) break;
          if (skip) rep++;
          const pfn = near ? load<u32>(m, 2 * NEAR) : load<u32>((s ? pfI : pfD) + at);
          if ((lo & 2) !== 0) store<u8>(dirty + pfn, 1);
          sum += <i64>pfn;
        }
      if (!skip) rep += <i64>((r - r0) >>> 3); // every record taken above was a hit
      if (r >= end) break;
      const lo = load<u32>(r);
      const hi = load<u32>(r, 4);
      const s = sp && (lo & 3) === 0;
      if (hi >= 131072) break; // not a record: its address is at or beyond 2^47
      // way 1 of the set (its memo), the commonest miss of the front memo (py-50M: 4.0 M of 5.2 M
      // records): moved to the front here as Loop.miss moves it, without the call (whose every
      // live value V8 saves and restores around it)
      const page = lo >>> 14;
      if (near) {
        // the six memo words of the set NEAR bytes apart from one base (way 0's, then way 1's)
        const set = page & maskD;
        const m = loD + ((<usize>set) << 2);
        if (load<u32>(m, 3 * NEAR) === page && load<u32>(m, 4 * NEAR) === hi) {
          const f = load<u32>(m, 5 * NEAR);
          // the array's ways 0 and 1 swapped later (flipD): only the memos now, and the set's flip bit
          store<u32>(m, load<u32>(m, 6 * NEAR) ^ 1, 6 * NEAR);
          flips = true;
          const l = load<u32>(m);
          const h = load<u32>(m, NEAR);
          const f0 = load<u32>(m, 2 * NEAR);
          store<u32>(m, page);
          store<u32>(m, hi, NEAR);
          store<u32>(m, f, 2 * NEAR);
          store<u32>(m, l, 3 * NEAR);
          store<u32>(m, h, 4 * NEAR);
          store<u32>(m, f0, 5 * NEAR);
          store<u8>(refBits + f, 1);
          if ((lo & 2) !== 0) store<u8>(dirty + f, 1);
          rep++;
          sum += <i64>f;
          r += 8;
          continue;
        }
        // the set's ways in their order before the lookup (missD reads and moves them)
        if (load<u32>(m, 6 * NEAR) !== 0) {
          store<u32>(m, 0, 6 * NEAR);
          Loop.swap01(false, set);
        }
        const got = missD(lo, hi, (lo >>> 1) & 1, asid);
        if (got < 0) break;
        rep += 1 - <i64>(got & 1);
        sum += <i64>(<u32>got >>> 1);
        r += 8;
        continue;
      }
      const set = page & (s ? setMaskI : setMaskD);
      const at1 = (<usize>set) << 2;
      if (
        load<u32>((s ? memo1LoI : memo1LoD) + at1) === page &&
        load<u32>((s ? memo1HiI : memo1HiD) + at1) === hi
      ) {
        const f = load<u32>((s ? memo1PfnI : memo1PfnD) + at1);
        Loop.front1(s, set);
        store<u8>(refBits + f, 1);
        if ((lo & 2) !== 0) store<u8>(dirty + f, 1);
        rep++;
        sum += <i64>f;
        r += 8;
        continue;
      }
      const got = s ? missI(lo, hi, (lo >>> 1) & 1, asid) : missD(lo, hi, (lo >>> 1) & 1, asid);
      if (got < 0) break;
      rep += 1 - <i64>(got & 1); // a second-level hit: it missed the first level
      sum += <i64>(<u32>got >>> 1);
      r += 8;
    }
    repeats = rep;
    frameSum = sum;
    if (near && flips) flipD(loD, maskD);
    return <i32>((r - recs) >>> 3);
  }
}

/**
 * The data side's ways 0 and 1 swapped in every set whose flip bit (NEAR layout: the memo's seventh
 * array) is set, and the bits cleared: takeRecords' way-1 hits swap only the memos, and the array is
 * put in its order (TlbArray.lookup's) before anything else reads it. Kept out of the loop.
 */
function flipD(lo: usize, mask: u32): void {
  for (let set: u32 = 0; set <= mask; set++) {
    const f = lo + ((<usize>set) << 2) + 6 * NEAR;
    if (load<u32>(f) !== 0) {
      store<u32>(f, 0);
      Loop.swap01(false, set);
    }
  }
}

/**
 * take over records (u64-addr2kind, record.ts's layout: lo = kind 0..1 |
 * offset 2..13 | page bits 14..31, hi = the address's high bits) rather
 * than runs: records `from`..`count`-1 at `recs`, each as a run of one
 * (a valid record's high word is below 2^17, so its own word is that run's
 * but for the write bit, taken from its kind; the records' totals are the
 * reading thread's, wasm/fold.ts's totals). Stops before a record that
 * misses the first level, or that cannot be u64-addr2kind (its high word at
 * or above 2^17), nothing of it done; returns its index, or `count`.
 */
export function takeRecords(recs: usize, from: i32, count: i32, asid: u32): i32 {
  if (dataOnly) return Loop.recs(recs, from, count, asid, false, true, false);
  if (split) return Loop.recs(recs, from, count, asid, true, false, false);
  if (
    memoHiD === memoLoD + NEAR &&
    memoPfnD === memoLoD + 2 * NEAR &&
    memo1LoD === memoLoD + 3 * NEAR &&
    memo1HiD === memoLoD + 4 * NEAR &&
    memo1PfnD === memoLoD + 5 * NEAR
  )
    return Loop.recs(recs, from, count, asid, false, false, true);
  return Loop.recs(recs, from, count, asid, false, false, false);
}

/**
 * Takes runs `from`..`count`-1 at `runs` while each hits its first-level
 * set (the memo of the set's front, or a way of the set, which then moves
 * to the front as TlbArray.lookup moves it); returns the index of the first
 * run that misses (nothing of it done), or `count`.
 */
export function take(runs: usize, from: i32, count: i32, asid: u32): i32 {
  if (dataOnly) return Loop.run(runs, from, count, asid, false, true);
  if (split) return Loop.run(runs, from, count, asid, true, false);
  return Loop.run(runs, from, count, asid, false, false);
}
