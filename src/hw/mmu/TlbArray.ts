import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import { filterBitsLog, filterClearSet, filterHash, filterMix, filterWord } from "./tlbFilter.ts";
import { markBasePages } from "./tlbMarks.ts";
import { moveWaysDown } from "./tlbWays.ts";

/** Size codes of x86-64's pages (a size code is the leaf level of the page). */
export const enum SizeCode {
  K4 = 0,
  M2 = 1,
  G1 = 2,
}
/** Base pages per page of each size code for 4K/2M/1G (x86-64, ARM64 4K granule, RISC-V Sv39): the default geometry. */
export const PAGES_PER = [1, 512, 262144] as const;
export const SIZE_NAMES = ["4K", "2M", "1G"] as const;

/**
 * One TLB entry's metadata, packed in an Int32 (read: `(meta >>> S) & mask`),
 * wide enough for every architecture vmlab models:
 *
 *   bits 0..15  ASID the entry was created under (x86 PCID: 12 bits; ARM64 and RISC-V: 16)
 *   bits 16..21 rights, canonical (Perm in PagingFormat.ts: user r/w/x, privileged r/w/x)
 *   bit  22     D: the page was dirty when cached (a write through a clean entry walks again)
 *   bit  23     G: global (matches every ASID)
 *   bits 24..26 size code of the page the translation came from (its leaf level; a
 *               large page cached in a base-page array is "fractured": its size here)
 *   bits 27..29 size code of the entry itself (set by insert)
 *
 * Architecture attributes that are not rights (x86 protection key and memory
 * type, ARM64 AttrIndx) are kept beside it in `attrs`.
 */
export const enum Meta {
  ASID_MASK = 0xffff,
  RIGHTS_SHIFT = 16,
  RIGHTS_MASK = 63 << 16,
  D = 1 << 22,
  G = 1 << 23,
  SRC_SIZE_SHIFT = 24,
  HELD_SIZE_SHIFT = 27,
  HELD_SIZE_MASK = 7 << 27,
}

/** Offset-in-page masks of the low half of a linear address, by x86-64 size code. */
export const OFFSET_MASK = [0xfff, 0x1fffff, 0x3fffffff] as const;

/**
 * Insertions into any TlbArray so far (insert, insertMissed): Tlb.knownMiss's proof that no entry
 * has been added since a lookup missed everywhere. One serial for every array (conservative).
 */
let insertSerial = 0;

/** The insertions into any TlbArray so far. */
export function tlbInsertSerial(): number {
  return insertSerial;
}

/**
 * A set-associative array of translations with true LRU replacement within a
 * set, as typed arrays indexed by `set * ways + way`:
 *
 *   keys[i]   tag * 8 + sizeCode, where tag = vpn / pagesPer[size] (vpn in base pages); -1 = invalid
 *   pfns[i]   first base frame of the cached page (for the tag's size)
 *   metas[i]  packed metadata (see Meta)
 *   attrs[i]  architecture attributes (see Meta)
 *
 * Ways are kept in recency order within a set (way 0 most recent; invalid
 * ways last). An array holds one or more page sizes (`sizeMask` bit
 * `1 << size`); the set of a translation is `tag & (sets - 1)`, probed once
 * per size held. `pagesPer` gives the base pages of each size code (x86-64's
 * 1, 512, 262144 unless the architecture says otherwise).
 *
 * Page and frame numbers here are plain numbers, not base/units.ts's `Vpn`
 * and `Pfn`: the paging-structure caches are TlbArrays too, keyed by the
 * page number of a higher level and holding a table's physical address in
 * `pfns`. The TLB hierarchy (Tlb) takes `Vpn` and `Pfn`.
 */
export class TlbArray {
  readonly sets: number;
  private readonly setMask: number;
  keys: Float64Array; // (these four not readonly: relocate moves them)
  pfns: Float64Array;
  metas: Int32Array;
  attrs: Int32Array;
  evictions = 0;
  /** base pages per page of each size code */
  readonly pagesPer: readonly number[];
  /** the largest size code held, +1 */
  private readonly sizeEnd: number;

  /**
   * an entry with non-zero attributes has been inserted: until then `attrs`
   * is all zeros and is not moved with the other arrays (most translations
   * carry none: no protection key, write-back memory)
   */
  private hasAttrs = false;

  /** a base-page entry of a larger page has been inserted (INVLPG must then look for all pieces) */
  private mayHoldFractured = false;
  /** Whether a base-page piece of a larger page may be held (invalidatePage then looks for every piece). */
  get mayHoldPieces(): boolean {
    return this.mayHoldFractured;
  }
  /**
   * valid entries (an invalidation of an empty array has nothing to look at; Tlb.invalidatePage
   * reads it to skip an empty array without the call). Written by this class only.
   */
  valid = 0;
  /**
   * The occupancy mask of the Tlb this array is in (Tlb.occupied: one Int32), and this array's bit
   * in it (0: none, as for a walk cache): the bit is set while `valid` is above 0, so that
   * Tlb.invalidatePage visits only the arrays that hold something. Set at each change of `valid`
   * from or to 0 (the fills into an invalid way, remove, clear, countFills).
   */
  private occupied: Int32Array = new Int32Array(1);
  private occupiedBit = 0;
  /**
   * valid entries by size code: a lookup or an invalidation does not probe
   * for a size none is held of (an STLB of 4K and 2M entries holding no 2M
   * page misses its 2M probe for certain)
   */
  private readonly bySize = new Int32Array(8);

  /**
   * Per set, 64 bits of the keys it may hold (src/hw/mmu/tlbFilter.ts): a key whose bit is 0 is
   * not in the set, and its invalidation skips the scan. null once relocate has handed the
   * entries to the WebAssembly hit loop (which fills ways itself): every invalidation then scans.
   */
  private filter: Int32Array | null;
  /** a key's bit is filterHash(key) >>> filterShift; a set's words start at set << filterSetShift */
  private readonly filterShift: number;
  private readonly filterSetShift: number;

  /** Bounds of the keys held (insert widens, an insertRun of every way sets): for markCovered (not after relocate) */
  private keyLo = Number.POSITIVE_INFINITY;
  private keyHi = Number.NEGATIVE_INFINITY;

  constructor(
    readonly entries: number,
    readonly ways: number,
    /** bit `1 << size code` for each page size this array holds */
    readonly sizeMask: number,
    /** 1 = data accesses, 2 = instruction fetches, 3 = both */
    readonly kindMask: number,
    readonly name: string,
    pagesPer: readonly number[] = PAGES_PER,
  ) {
    if (!Number.isInteger(entries) || entries <= 0)
      throw new InputError(`TLB ${name}: entries must be a positive integer, not ${entries}`);
    if (!Number.isInteger(ways) || ways <= 0)
      throw new InputError(`TLB ${name}: ways must be a positive integer, not ${ways}`);
    if (entries % ways !== 0)
      throw new InputError(`TLB ${name}: ${entries} entries is not a multiple of ${ways} ways`);
    const sets = entries / ways;
    if ((sets & (sets - 1)) !== 0)
      throw new InputError(`TLB ${name}: ${entries}/${ways} = ${sets} sets is not a power of two`);
    if (entries > 1 << 20)
      throw new InputError(`TLB ${name}: ${entries} entries is more than vmlab models (1M)`);
    assert(sizeMask > 0 && sizeMask < 1 << Math.min(pagesPer.length, 8), "TlbArray: size mask");
    this.sets = sets;
    this.setMask = sets - 1;
    this.keys = new Float64Array(entries).fill(-1);
    this.pfns = new Float64Array(entries);
    this.metas = new Int32Array(entries);
    this.attrs = new Int32Array(entries);
    this.pagesPer = pagesPer;
    this.sizeEnd = 32 - Math.clz32(sizeMask);
    const bits = filterBitsLog(ways);
    this.filterShift = 32 - bits;
    this.filterSetShift = bits - 5;
    this.filter = new Int32Array(sets << this.filterSetShift);
  }

  /**
   * Moves the entries, as they are, into `buffer` from `byteOffset` (a
   * multiple of 8): keys, pfns, metas, attrs one after the other. Returns the
   * bytes taken. For a WebAssembly loop that looks up and reorders the
   * entries in its own memory (analysis/trace/machineMode.ts, wasm/hits.ts);
   * nothing else changes. The arrays are read through the fields on every
   * use, so no one holds the old ones.
   */
  relocate(buffer: ArrayBuffer, byteOffset: number): number {
    assert(byteOffset % 8 === 0, "TlbArray.relocate: offset not 8-aligned");
    const n = this.entries;
    const keys = new Float64Array(buffer, byteOffset, n);
    const pfns = new Float64Array(buffer, byteOffset + 8 * n, n);
    const metas = new Int32Array(buffer, byteOffset + 16 * n, n);
    const attrs = new Int32Array(buffer, byteOffset + 20 * n, n);
    keys.set(this.keys);
    pfns.set(this.pfns);
    metas.set(this.metas);
    attrs.set(this.attrs);
    this.keys = keys;
    this.pfns = pfns;
    this.metas = metas;
    this.attrs = attrs;
    this.filter = null; // the WebAssembly loop fills ways without setting their bits
    return 24 * n;
  }

  /**
   * The bookkeeping insert does for `added` base-page entries filled into an
   * invalid way and `evicted` that pushed the set's last out, when the
   * copies themselves were made outside (the WebAssembly hit loop,
   * wasm/hits.ts, which mirrors insert for 4K entries of a 4K-only array).
   */
  countFills(added: number, evicted: number): void {
    this.filter = null; // (after relocate: already off)
    if (this.valid === 0 && added > 0) this.occupied[0] |= this.occupiedBit;
    this.valid += added;
    this.bySize[0] += added;
    this.evictions += evicted;
  }

  /** Makes this array keep bit `bit` of occupied[0] set while it holds an entry (Tlb's constructor). */
  attachOccupied(occupied: Int32Array, bit: number): void {
    this.occupied = occupied;
    this.occupiedBit = bit;
    if (this.valid > 0) occupied[0] |= bit;
    else occupied[0] &= ~bit;
  }

  /**
   * Slot of a valid entry translating vpn for `asid` (or global), or -1.
   * A hit becomes the most recently used way of its set: the slot returned
   * is that way's.
   */
  lookup(vpn: number, asid: number): number {
    if (this.valid === 0) return -1; // an array that holds nothing (a 2M or 1G array before any large page)
    const keys = this.keys;
    const ways = this.ways;
    if (this.bySize[0] === this.valid) {
      // the common case: only base-page entries held (key = vpn * 8 + 0), as in an array of base pages
      // only or an STLB without a large page now. Every way compared: an invalid one (-1) never
      // matches, and a full set (a sweep's) is then scanned without a second compare per way.
      const key = vpn * 8;
      const base = (vpn & this.setMask) * ways;
      for (let i = base, end = base + ways; i < end; i++) {
        if (keys[i] === key) {
          const meta = this.metas[i];
          if ((meta & Meta.G) !== 0 || (meta & Meta.ASID_MASK) === asid) {
            if (i !== base) this.toFront(base, i);
            return base;
          }
        }
      }
      return -1;
    }
    for (let size = 0; size < this.sizeEnd; size++) {
      if ((this.sizeMask & (1 << size)) === 0 || this.bySize[size] === 0) continue;
      const tag = size === 0 ? vpn : Math.floor(vpn / this.pagesPer[size]);
      const key = tag * 8 + size;
      const base = (tag & this.setMask) * ways;
      for (let i = base, end = base + ways; i < end; i++) {
        const k = keys[i];
        if (k === key) {
          const meta = this.metas[i];
          if ((meta & Meta.G) !== 0 || (meta & Meta.ASID_MASK) === asid) {
            if (i !== base) this.toFront(base, i);
            return base;
          }
        } else if (k === -1) break;
      }
    }
    return -1;
  }

  /** Moves way i of the set at base to the front, shifting the ways before it down. */
  private toFront(base: number, i: number): void {
    const keys = this.keys;
    const pfns = this.pfns;
    const metas = this.metas;
    const k = keys[i];
    const p = pfns[i];
    const m = metas[i];
    for (let j = i; j > base; j--) {
      keys[j] = keys[j - 1];
      pfns[j] = pfns[j - 1];
      metas[j] = metas[j - 1];
    }
    keys[base] = k;
    pfns[base] = p;
    metas[base] = m;
    if (this.hasAttrs) {
      const attrs = this.attrs;
      const a = attrs[i];
      for (let j = i; j > base; j--) attrs[j] = attrs[j - 1];
      attrs[base] = a;
    }
  }

  /** Removes way i of the set at base, the later valid ways shifted up (invalid ways, last, keep their -1 key). */
  private remove(base: number, i: number): void {
    const keys = this.keys;
    const pfns = this.pfns;
    const metas = this.metas;
    const last = base + this.ways - 1;
    this.bySize[(metas[i] >>> Meta.HELD_SIZE_SHIFT) & 7]--; // the key's size code (keys[i] % 8, without a float modulo)
    let j = i;
    for (; j < last && keys[j + 1] !== -1; j++) {
      keys[j] = keys[j + 1];
      pfns[j] = pfns[j + 1];
      metas[j] = metas[j + 1];
    }
    keys[j] = -1;
    if (--this.valid === 0) this.occupied[0] &= ~this.occupiedBit;
    if (this.hasAttrs) {
      const attrs = this.attrs;
      for (let k = i; k < j; k++) attrs[k] = attrs[k + 1];
    }
  }

  /** Like lookup, but changes nothing (no recency update): for inspectors. */
  peek(vpn: number, asid: number): number {
    for (let size = 0; size < this.sizeEnd; size++) {
      if ((this.sizeMask & (1 << size)) === 0) continue;
      const tag = size === 0 ? vpn : Math.floor(vpn / this.pagesPer[size]);
      const key = tag * 8 + size;
      const base = (tag & this.setMask) * this.ways;
      for (let i = base; i < base + this.ways; i++) {
        if (this.keys[i] !== key) continue;
        const meta = this.metas[i];
        if ((meta & Meta.G) !== 0 || (meta & Meta.ASID_MASK) === asid) return i;
      }
    }
    return -1;
  }

  /** Size code an entry of this array would hold for a page of `srcSize` (fractured to base pages if needed), or -1. */
  holdsSize(srcSize: number): number {
    if ((this.sizeMask & (1 << srcSize)) !== 0) return srcSize;
    return (this.sizeMask & 1) !== 0 ? 0 : -1;
  }

  /**
   * Installs a translation as the most recently used way of its set. `size`
   * must be one this array holds; `pfn` is the first frame of that (possibly
   * fractured) page. An entry with the same key and tag is replaced; else the
   * LRU way (the last) is dropped, counted as an eviction if it was valid.
   */
  insert(vpn: number, size: number, pfn: number, meta: number, attr = 0): number {
    insertSerial++;
    assert((this.sizeMask & (1 << size)) !== 0, "TlbArray.insert: size not held");
    const tag = size === 0 ? vpn : Math.floor(vpn / this.pagesPer[size]);
    const key = tag * 8 + size;
    const base = (tag & this.setMask) * this.ways;
    if (key < this.keyLo) this.keyLo = key;
    if (key > this.keyHi) this.keyHi = key;
    const keys = this.keys;
    const pfns = this.pfns;
    const metas = this.metas;
    const last = base + this.ways - 1;
    // one pass: each way takes the one before it, from the front, until the way that leaves
    // (an invalid way, the same entry if cached, else the LRU one: the last)
    let carryKey = key;
    let carryPfn = pfn;
    let carryMeta = (meta & ~Meta.HELD_SIZE_MASK) | (size << Meta.HELD_SIZE_SHIFT);
    let from = base;
    for (; ; from++) {
      const k = keys[from];
      const p = pfns[from];
      const m = metas[from];
      keys[from] = carryKey;
      pfns[from] = carryPfn;
      metas[from] = carryMeta;
      if (k === -1) {
        if (this.valid++ === 0) this.occupied[0] |= this.occupiedBit;
        break;
      }
      if (k === key && ((m ^ meta) & (Meta.ASID_MASK | Meta.G)) === 0) {
        this.bySize[(m >>> Meta.HELD_SIZE_SHIFT) & 7]--; // replaced by its new copy
        break;
      }
      if (from === last) {
        this.bySize[(m >>> Meta.HELD_SIZE_SHIFT) & 7]--;
        this.evictions++;
        break;
      }
      carryKey = k;
      carryPfn = p;
      carryMeta = m;
    }
    this.bySize[size]++;
    const filter = this.filter;
    if (filter !== null) {
      const h = filterHash(key) >>> this.filterShift;
      filter[filterWord(tag & this.setMask, h, this.filterSetShift)] |= 1 << h;
    }
    if (attr !== 0 || this.hasAttrs) this.insertAttr(base, from, attr);
    if (size === 0 && ((meta >>> Meta.SRC_SIZE_SHIFT) & 7) !== 0) this.mayHoldFractured = true;
    return base;
  }

  /**
   * insert of a base-page entry that the array holds no entry to replace for
   * (a lookup of the same vpn and ASID just missed: an entry insert would
   * replace has the same key, ASID and G bit, which that lookup matches):
   * the same one pass, without the comparison per way.
   */
  insertMissed(vpn: number, pfn: number, meta: number, attr: number): void {
    insertSerial++;
    const base = (vpn & this.setMask) * this.ways;
    const keys = this.keys;
    const pfns = this.pfns;
    const metas = this.metas;
    const last = base + this.ways - 1;
    let carryKey = vpn * 8;
    let carryPfn = pfn;
    let carryMeta = meta & ~Meta.HELD_SIZE_MASK;
    // stored every time: a store first met late had no type feedback (a deopt in a cold first pass)
    this.keyLo = Math.min(this.keyLo, carryKey);
    this.keyHi = Math.max(this.keyHi, carryKey);
    let from = base;
    for (; ; from++) {
      const k = keys[from];
      const p = pfns[from];
      const m = metas[from];
      keys[from] = carryKey;
      pfns[from] = carryPfn;
      metas[from] = carryMeta;
      if (k === -1) {
        if (this.valid++ === 0) this.occupied[0] |= this.occupiedBit;
        break;
      }
      if (from === last) {
        this.bySize[(m >>> Meta.HELD_SIZE_SHIFT) & 7]--;
        this.evictions++;
        break;
      }
      carryKey = k;
      carryPfn = p;
      carryMeta = m;
    }
    this.bySize[0]++;
    const filter = this.filter;
    if (filter !== null) {
      const lo = vpn | 0; // the tag's low 32 bits (filterHash)
      const h = filterMix(lo) >>> this.filterShift;
      filter[filterWord(lo & this.setMask, h, this.filterSetShift)] |= 1 << h;
    }
    if (attr !== 0 || this.hasAttrs) this.insertAttr(base, from, attr);
    if (((meta >>> Meta.SRC_SIZE_SHIFT) & 7) !== 0) this.mayHoldFractured = true;
  }

  /**
   * Marks marks[vpn - first] = 1 for each page vpn of first .. first + n - 1 that a valid entry of
   * any size, ASID or global bit covers (a lookup of it might hit; one no entry covers misses
   * whatever its ASID); true when it marked any. O(entries) or less (tlbMarks.ts). Linux/SDM: nothing.
   */
  markCovered(first: number, n: number, marks: Uint8Array): boolean {
    if (this.valid === 0) return false;
    let any = false;
    const keys = this.keys;
    const ways = this.ways;
    const end = first + n;
    if (this.bySize[0] === this.valid) {
      // base-page entries only (key vpn * 8; an invalid way's -1 is below every key)
      const lo = first * 8;
      const hi = end * 8;
      if (this.filter !== null) {
        const r = markBasePages(keys, this.setMask, ways, this.keyLo, this.keyHi, first, end, marks);
        if (r >= 0) return r === 1; // the pages the key bounds leave, each in its set (tlbMarks.ts)
      }
      for (let i = 0, e = this.entries; i < e; i++) {
        const k = keys[i];
        if (k >= lo && k < hi) {
          marks[(k - lo) / 8] = 1;
          any = true;
        }
      }
      return any;
    }
    for (let base = 0; base < this.entries; base += ways) {
      for (let i = base, e = base + ways; i < e; i++) {
        const k = keys[i];
        if (k === -1) break; // invalid ways are last
        const size = (this.metas[i] >>> Meta.HELD_SIZE_SHIFT) & 7;
        const per = this.pagesPer[size];
        const a = ((k - size) / 8) * per; // the entry's first page
        if (a >= end || a + per <= first) continue;
        const from = a > first ? a - first : 0;
        const to = a + per < end ? a + per - first : n;
        for (let j = from; j < to; j++) marks[j] = 1;
        any = true; // (from < to: the entry's range meets first .. end - 1)
      }
    }
    return any;
  }

  /**
   * insertMissed of the base pages vpn0, vpn0 + step, ... (step > 0, `count` distinct pages, page j
   * with pfns[j], metas[j], attrs[j]), one after the other, when no entry of the array covers any of
   * them (markCovered marks none): in closed form. Each set ends with the run's pages that map
   * to it, most recent first, then its older entries, cut to `ways`; evictions (max(0, old + new -
   * ways) per set), valid, bySize and the insert serial (+count) as the inserts leave them, the
   * entries past a set's `ways` newest never written. For a run of walks (Mmu.accessRun's fold,
   * src/hw/mmu/runFold.ts) and any other batch of misses of distinct base pages (a fault batch).
   * Linux/SDM: nothing (the same state as `count` inserts, SDM §4.10.2's TLB with true LRU).
   * The run visits a cycle of L = sets / gcd(stepSet, sets) sets, each floor(count / L) times, the
   * first count % L once more; page j is placed (at way floor((count - 1 - j) / L)) when it is one
   * of the last min(count, L * ways). `metaOr`, `attrOr`: the OR of metas[0..count) and of
   * attrs[0..count) (what the inserts note of every page, placed or not; Tlb.ts runOr).
   */
  insertRun(
    vpn0: number,
    step: number,
    count: number,
    pfns: Float64Array,
    metas: Int32Array,
    attrs: Int32Array,
    metaOr: number,
    attrOr: number,
  ): void {
    if (count <= 0) return;
    insertSerial += count;
    const ways = this.ways;
    const mask = this.setMask;
    if (attrOr !== 0) this.hasAttrs = true;
    if (((metaOr >>> Meta.SRC_SIZE_SHIFT) & 7) !== 0) this.mayHoldFractured = true;
    const set0 = vpn0 & mask; // the low bits of vpn0 (int32 arithmetic from here)
    const stepSet = step & mask;
    // the cycle's length: sets over stepSet's largest power-of-two factor (sets is a power of two)
    const cycle = stepSet === 0 ? 1 : (mask + 1) / (stepSet & -stepSet);
    const nSets = Math.min(count, cycle);
    const perSet = Math.floor(count / cycle);
    const more = count - perSet * cycle; // the cycle's first `more` sets get perSet + 1
    const moveAttrs = this.hasAttrs;
    const keys = this.keys;
    const pfnArr = this.pfns;
    const metaArr = this.metas;
    const attrArr = this.attrs;
    const filter = this.filter;
    const full = this.valid === this.entries; // every way valid: no set's valid ways counted
    const bySize = this.bySize;
    let evicted = 0;
    let validDelta = 0;
    let droppedBase = 0; // entries dropped while every entry is a base page's (no meta read)
    // each touched set: its older entries after the run's newest `put`, the rest dropped (allBase holds
    // through the loop: a drop counted by its size leaves bySize[0] below valid)
    const allBase = bySize[0] === this.valid;
    for (let t = 0, s = set0; t < nSets; t++, s = (s + stepSet) & mask) {
      const base = Math.imul(s, ways);
      const c = t < more ? perSet + 1 : perSet;
      let old = full ? ways : 0;
      while (old < ways && keys[base + old] !== -1) old++;
      const put = Math.min(c, ways);
      const keep = Math.min(old, ways - put);
      if (allBase) droppedBase += old - keep;
      else for (let i = base + keep; i < base + old; i++) bySize[(metaArr[i] >>> Meta.HELD_SIZE_SHIFT) & 7]--;
      if (old + c > ways) evicted += old + c - ways;
      validDelta += put + keep - old;
      moveWaysDown(keys, pfnArr, metaArr, base, keep, put);
      if (moveAttrs) for (let i = keep - 1; i >= 0; i--) attrArr[base + put + i] = attrArr[base + i];
    }
    bySize[0] -= droppedBase;
    this.evictions += evicted;
    if (this.valid === 0 && validDelta > 0) this.occupied[0] |= this.occupiedBit;
    this.valid += validDelta;
    // the run's last pages, newest first, each at the way of the later pages of its set before it
    const toPlace = Math.min(count, cycle * ways);
    bySize[0] += toPlace;
    const keyStep = step * 8;
    let key = (vpn0 + (count - 1) * step) * 8;
    const firstKey = (vpn0 + (count - toPlace) * step) * 8; // the lowest placed
    if (toPlace === this.entries) {
      this.keyLo = firstKey; // every way replaced: the run's pages are all the array holds
      this.keyHi = key;
    } else {
      if (firstKey < this.keyLo) this.keyLo = firstKey;
      if (key > this.keyHi) this.keyHi = key;
    }
    const { filterShift: fShift, filterSetShift: fSetShift } = this;
    let tag = (key / 8) | 0; // filterHash(key)'s tag bits (low 32), stepped down by the run's step
    const s0 = (set0 + (count - 1) * stepSet) & mask; // each way's first set: the cycle comes back to it
    for (let way = 0, j = count - 1, e = count - toPlace; j >= e; way++)
      for (let left = cycle, s = s0; left > 0 && j >= e; left--, j--) {
        const i = Math.imul(s, ways) + way; // one page in each set of the cycle, then the next way
        keys[i] = key;
        pfnArr[i] = pfns[j];
        metaArr[i] = metas[j] & ~Meta.HELD_SIZE_MASK;
        if (moveAttrs) attrArr[i] = attrs[j];
        if (filter !== null) {
          // the placed key's bit, as insert sets it: the set's later invalidations of other keys
          // (reclaim's flushes of pages long evicted) skip it without a scan
          const h = filterMix(tag) >>> fShift;
          filter[filterWord(s, h, fSetShift)] |= 1 << h;
        }
        tag = (tag - step) | 0;
        s = (s - stepSet) & mask;
        key -= keyStep;
      }
  }

  /** insert's move of the attribute array (apart: most TLBs never need it). */
  private insertAttr(base: number, from: number, attr: number): void {
    this.hasAttrs = true;
    const attrs = this.attrs;
    for (let j = from; j > base; j--) attrs[j] = attrs[j - 1];
    attrs[base] = attr;
  }

  /**
   * Whether every entry held is a base-page entry of a base page (none of a larger size, no
   * fractured piece): invalidatePage then looks at the one set of the page's 4K key
   * (invalidateBasePage), as its general loop would.
   */
  get baseOnly(): boolean {
    return this.bySize[0] === this.valid && !this.mayHoldFractured;
  }

  /**
   * invalidatePage of an array that holds base-page entries of base pages only (baseOnly): the
   * entries of the page's 4K key in its set that match. Small, for Tlb.invalidatePage to take
   * inline on every INVLPG (every page reclaim unmaps).
   */
  invalidateBasePage(vpn: number, asid: number, how: InvalidateHow): number {
    const key = vpn * 8;
    const set = vpn & this.setMask;
    const filter = this.filter;
    if (filter !== null) {
      const h = filterMix(vpn | 0) >>> this.filterShift; // filterHash(key)
      if ((filter[filterWord(set, h, this.filterSetShift)] & (1 << h)) === 0) return 0; // not in the set (tlbFilter.ts)
    }
    return this.scanSet(set, key, asid, how);
  }

  /** Drops the entries of `key` in set `set` that match; the filter words (tlbFilter.ts) to the keys kept. */
  private scanSet(set: number, key: number, asid: number, how: InvalidateHow): number {
    let n = 0;
    const keys = this.keys; // remove() shifts within these arrays, never replaces them
    const base = set * this.ways;
    let i = base;
    for (const end = base + this.ways; i < end; ) {
      const k = keys[i];
      if (k === -1) break; // invalid ways are last (as lookup relies on)
      if (k === key && matches(this.metas[i], asid, how)) {
        this.remove(base, i); // the next way moves into i
        n++;
      } else i++;
    }
    const filter = this.filter;
    if (filter !== null) {
      // the set's words again: the bits of the keys left (ways base .. i - 1), those gone since cleared
      const shift = this.filterShift;
      const setShift = this.filterSetShift;
      const w0 = filterClearSet(filter, set, setShift);
      for (let j = base; j < i; j++) {
        const h = filterHash(keys[j]) >>> shift;
        filter[w0 | (h >>> 5)] |= 1 << h;
      }
    }
    return n;
  }

  /** Drops entries for the page containing vpn that match the predicate. Returns how many. */
  invalidatePage(vpn: number, asid: number, how: InvalidateHow): number {
    if (this.valid === 0) return 0;
    if (this.baseOnly) return this.invalidateBasePage(vpn, asid, how);
    let n = 0;
    // SDM §4.10.4.1: when a large page is cached as several 4K ("fractured") entries,
    // INVLPG of any address in it invalidates all of them
    if (this.mayHoldFractured) n += this.invalidateFractured(vpn, asid, how);
    for (let size = 0; size < this.sizeEnd; size++) {
      if ((this.sizeMask & (1 << size)) === 0 || this.bySize[size] === 0) continue;
      const tag = size === 0 ? vpn : Math.floor(vpn / this.pagesPer[size]);
      const key = tag * 8 + size;
      const set = tag & this.setMask;
      const filter = this.filter;
      if (filter !== null) {
        const h = filterHash(key) >>> this.filterShift;
        if ((filter[filterWord(set, h, this.filterSetShift)] & (1 << h)) === 0) continue; // not in the set
      }
      n += this.scanSet(set, key, asid, how);
    }
    return n;
  }

  /**
   * Drops the base-page pieces of any large page that contains vpn. The
   * scan sees every entry: when no piece is left after it, later
   * invalidations skip it until the next fractured insert.
   */
  private invalidateFractured(vpn: number, asid: number, how: InvalidateHow): number {
    let n = 0;
    let left = 0;
    const keys = this.keys;
    const metas = this.metas;
    for (let base = 0; base < this.entries; base += this.ways) {
      for (let i = base; i < base + this.ways; ) {
        const k = keys[i];
        const src = (metas[i] >>> Meta.SRC_SIZE_SHIFT) & 7;
        if (k === -1 || src === 0 || ((metas[i] >>> Meta.HELD_SIZE_SHIFT) & 7) !== 0) {
          i++;
          continue;
        }
        if (
          Math.floor(k / 8 / this.pagesPer[src]) === Math.floor(vpn / this.pagesPer[src]) &&
          matches(metas[i], asid, how)
        ) {
          this.remove(base, i);
          n++;
        } else {
          left++;
          i++;
        }
      }
    }
    if (left === 0) this.mayHoldFractured = false;
    return n;
  }

  /** Drops every entry that matches. Returns how many. */
  invalidateAll(asid: number, how: InvalidateHow): number {
    if (this.valid === 0) return 0;
    if (how === InvalidateHow.Everything) return this.clear();
    let n = 0;
    const keys = this.keys; // remove() shifts within these arrays, never replaces them
    const metas = this.metas;
    const ways = this.ways;
    // every valid entry is looked at once (INVLPG empties the walk caches on every flushed page)
    let left = this.valid;
    for (let base = 0; left > 0 && base < this.entries; base += ways) {
      for (let i = base, end = base + ways; i < end; ) {
        if (keys[i] === -1) break; // invalid ways are last (as lookup relies on)
        left--;
        if (matches(metas[i], asid, how)) {
          this.remove(base, i); // the next way moves into i
          n++;
        } else i++;
      }
    }
    return n;
  }

  /**
   * invalidateAll(_, Everything) without moving a way (SFENCE.VMA x0, x0 of RISC-V's batched
   * unmap flush, arch_tlbbatch_flush; TLBI VMALLE1; INVPCID 2): each valid key set to -1, the
   * sets visited until every valid entry was seen, their filter words cleared. Equal to dropping
   * the entries one by one (remove): that leaves every key at -1 too, and the pfns, metas and
   * attrs left in invalid ways are never read (every reader looks at a way by a key it matched,
   * or stops at a set's first -1; insert writes a way before it is valid again):
   * tlbFilter.property.test.ts compares the two.
   */
  private clear(): number {
    const n = this.valid;
    const keys = this.keys;
    const ways = this.ways;
    const filter = this.filter;
    let left = n;
    for (let set = 0, base = 0; left > 0 && base < this.entries; set++, base += ways) {
      for (let i = base, end = base + ways; i < end && keys[i] !== -1; i++) {
        keys[i] = -1;
        left--;
      }
      if (filter !== null) filterClearSet(filter, set, this.filterSetShift);
    }
    this.valid = 0;
    this.occupied[0] &= ~this.occupiedBit;
    const bySize = this.bySize;
    for (let s = 0; s < 8; s++) bySize[s] = 0;
    return n;
  }

  /** Number of valid entries (of one size code, when given). */
  occupancy(size = -1): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++)
      if (this.keys[i] !== -1 && (size < 0 || this.keys[i] % 8 === size)) n++;
    return n;
  }
}

/**
 * Which entries an invalidation hits. The four predicates every
 * architecture's TLB maintenance is made of (x86 SDM §4.10.4.1; ARM64 TLBI
 * by VA/ASID/all; RISC-V SFENCE.VMA with rs1/rs2).
 */
export const enum InvalidateHow {
  /** entries of this ASID and global entries (INVLPG; TLBI VAAE1; SFENCE.VMA va, x0) */
  PcidAndGlobal = 0,
  /** entries of this ASID, global ones kept (INVPCID 0/1, MOV to CR3; TLBI ASIDE1, VAE1; SFENCE.VMA with an ASID) */
  PcidNonGlobal = 1,
  /** non-global entries of every ASID (INVPCID 3) */
  AllNonGlobal = 2,
  /** everything (INVPCID 2, CR4.PGE toggle; TLBI VMALLE1; SFENCE.VMA x0, x0) */
  Everything = 3,
}

function matches(meta: number, asid: number, how: InvalidateHow): boolean {
  const global = (meta & Meta.G) !== 0;
  switch (how) {
    case InvalidateHow.PcidAndGlobal:
      return global || (meta & Meta.ASID_MASK) === asid;
    case InvalidateHow.PcidNonGlobal:
      return !global && (meta & Meta.ASID_MASK) === asid;
    case InvalidateHow.AllNonGlobal:
      return !global;
    default:
      return true;
  }
}
