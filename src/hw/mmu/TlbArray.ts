import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";

/** Page-size codes used in TLB keys and metadata: 4 KiB, 2 MiB, 1 GiB. */
export const enum SizeCode {
  K4 = 0,
  M2 = 1,
  G1 = 2,
}
/** 4 KiB pages per page of each size code. */
export const PAGES_PER = [1, 512, 262144] as const;
export const SIZE_NAMES = ["4K", "2M", "1G"] as const;

/**
 * One TLB entry's metadata, packed in an Int32 (read: `(meta >>> S) & mask`):
 *
 *   bits 0..11  PCID the entry was created under
 *   bit  12     W: writes allowed (R/W = 1 at every level)
 *   bit  13     U: user-mode address (U/S = 1 at every level)
 *   bit  14     X: fetches allowed (XD = 0 at every level)
 *   bit  15     D: the leaf's dirty flag was 1 when cached
 *   bit  16     G: global (leaf G = 1 and CR4.PGE = 1)
 *   bits 17..20 protection key
 *   bits 21..22 size code of the page the translation came from (a 2 MiB page
 *               cached in a 4 KiB array is "fractured": size code 1 here)
 *   bits 23..24 size code of the entry itself (set by insert)
 *
 * Bits 12..14 form the rights index used by the MMU's permission table.
 */
export const enum Meta {
  PCID_MASK = 0xfff,
  W = 1 << 12,
  U = 1 << 13,
  X = 1 << 14,
  RIGHTS_SHIFT = 12,
  D = 1 << 15,
  G = 1 << 16,
  PKEY_SHIFT = 17,
  SRC_SIZE_SHIFT = 21,
  HELD_SIZE_SHIFT = 23,
  HELD_SIZE_MASK = 3 << 23,
}

/** Offset-in-page masks of the low half of a linear address, by size code. */
export const OFFSET_MASK = [0xfff, 0x1fffff, 0x3fffffff] as const;

/**
 * A set-associative array of translations with true LRU replacement within a
 * set, as typed arrays indexed by `set * ways + way`:
 *
 *   keys[i]   tag * 4 + sizeCode, where tag = vpn4k / PAGES_PER[size]; -1 = invalid
 *   pfns[i]   first 4 KiB frame of the cached page (for the tag's size)
 *   metas[i]  packed metadata (see Meta)
 *   stamps[i] last use, for LRU
 *
 * An array holds one or more page sizes (`sizeMask` bit `1 << SizeCode`);
 * the set of a translation is `tag & (sets - 1)`, probed once per size held.
 */
export class TlbArray {
  readonly sets: number;
  private readonly setMask: number;
  readonly keys: Float64Array;
  readonly pfns: Float64Array;
  readonly metas: Int32Array;
  evictions = 0;

  /** a 4K entry of a larger page has been inserted (INVLPG must then look for all pieces) */
  private mayHoldFractured = false;

  constructor(
    readonly entries: number,
    readonly ways: number,
    /** bit `1 << SizeCode` for each page size this array holds */
    readonly sizeMask: number,
    /** 1 = data accesses, 2 = instruction fetches, 3 = both */
    readonly kindMask: number,
    readonly name: string,
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
    this.sets = sets;
    this.setMask = sets - 1;
    this.keys = new Float64Array(entries).fill(-1);
    this.pfns = new Float64Array(entries);
    this.metas = new Int32Array(entries);
  }

  /**
   * Slot of a valid entry translating vpn4k for `pcid` (or global), or -1.
   * A hit becomes the most recently used way of its set: the slot returned
   * is that way's.
   */
  lookup(vpn4k: number, pcid: number): number {
    const keys = this.keys;
    const ways = this.ways;
    if (this.sizeMask === 1) {
      // the common case: an array of 4K entries only (key = vpn4k * 4 + 0)
      const key = vpn4k * 4;
      const base = (vpn4k & this.setMask) * ways;
      for (let i = base, end = base + ways; i < end; i++) {
        const k = keys[i];
        if (k === key) {
          const meta = this.metas[i];
          if ((meta & Meta.G) !== 0 || (meta & Meta.PCID_MASK) === pcid) {
            if (i !== base) this.toFront(base, i);
            return base;
          }
        } else if (k === -1) return -1; // invalid ways are last
      }
      return -1;
    }
    for (let size = 0; size < 3; size++) {
      if ((this.sizeMask & (1 << size)) === 0) continue;
      const tag = size === 0 ? vpn4k : Math.floor(vpn4k / PAGES_PER[size]);
      const key = tag * 4 + size;
      const base = (tag & this.setMask) * ways;
      for (let i = base, end = base + ways; i < end; i++) {
        const k = keys[i];
        if (k === key) {
          const meta = this.metas[i];
          if ((meta & Meta.G) !== 0 || (meta & Meta.PCID_MASK) === pcid) {
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
  }

  /** Removes way i of the set at base, shifting the later ways up; the last way becomes invalid. */
  private remove(base: number, i: number): void {
    const keys = this.keys;
    const pfns = this.pfns;
    const metas = this.metas;
    const last = base + this.ways - 1;
    for (let j = i; j < last; j++) {
      keys[j] = keys[j + 1];
      pfns[j] = pfns[j + 1];
      metas[j] = metas[j + 1];
    }
    keys[last] = -1;
  }

  /** Like lookup, but changes nothing (no recency update): for inspectors. */
  peek(vpn4k: number, pcid: number): number {
    for (let size = 0; size < 3; size++) {
      if ((this.sizeMask & (1 << size)) === 0) continue;
      const tag = size === 0 ? vpn4k : Math.floor(vpn4k / PAGES_PER[size]);
      const key = tag * 4 + size;
      const base = (tag & this.setMask) * this.ways;
      for (let i = base; i < base + this.ways; i++) {
        if (this.keys[i] !== key) continue;
        const meta = this.metas[i];
        if ((meta & Meta.G) !== 0 || (meta & Meta.PCID_MASK) === pcid) return i;
      }
    }
    return -1;
  }

  /** Size code an entry of this array would hold for a page of `srcSize` (fractured to 4K if needed), or -1. */
  holdsSize(srcSize: number): number {
    if ((this.sizeMask & (1 << srcSize)) !== 0) return srcSize;
    return (this.sizeMask & 1) !== 0 ? SizeCode.K4 : -1;
  }

  /**
   * Installs a translation as the most recently used way of its set. `size`
   * must be one this array holds; `pfn` is the first frame of that (possibly
   * fractured) page. An entry with the same key and tag is replaced; else the
   * LRU way (the last) is dropped, counted as an eviction if it was valid.
   */
  insert(vpn4k: number, size: number, pfn: number, meta: number): number {
    assert((this.sizeMask & (1 << size)) !== 0, "TlbArray.insert: size not held");
    const tag = size === 0 ? vpn4k : Math.floor(vpn4k / PAGES_PER[size]);
    const key = tag * 4 + size;
    const base = (tag & this.setMask) * this.ways;
    const keys = this.keys;
    const pfns = this.pfns;
    const metas = this.metas;
    let from = base + this.ways - 1; // the way that leaves: the same entry if cached, else the LRU one
    for (let i = base; i < from; i++) {
      const k = keys[i];
      if (k === -1) {
        from = i;
        break;
      }
      if (k === key && ((metas[i] ^ meta) & (Meta.PCID_MASK | Meta.G)) === 0) {
        from = i;
        break;
      }
    }
    if (
      keys[from] !== -1 &&
      !(keys[from] === key && ((metas[from] ^ meta) & (Meta.PCID_MASK | Meta.G)) === 0)
    ) {
      this.evictions++;
    }
    for (let j = from; j > base; j--) {
      keys[j] = keys[j - 1];
      pfns[j] = pfns[j - 1];
      metas[j] = metas[j - 1];
    }
    keys[base] = key;
    pfns[base] = pfn;
    metas[base] = (meta & ~Meta.HELD_SIZE_MASK) | (size << Meta.HELD_SIZE_SHIFT);
    if (size === 0 && ((meta >>> Meta.SRC_SIZE_SHIFT) & 3) !== 0) this.mayHoldFractured = true;
    return base;
  }

  /** Drops entries for the page containing vpn4k that match the predicate. Returns how many. */
  invalidatePage(vpn4k: number, pcid: number, how: InvalidateHow): number {
    let n = 0;
    // SDM §4.10.4.1: when a large page is cached as several 4K ("fractured") entries,
    // INVLPG of any address in it invalidates all of them
    if (this.mayHoldFractured) n += this.invalidateFractured(vpn4k, pcid, how);
    for (let size = 0; size < 3; size++) {
      if ((this.sizeMask & (1 << size)) === 0) continue;
      const tag = size === 0 ? vpn4k : Math.floor(vpn4k / PAGES_PER[size]);
      const key = tag * 4 + size;
      const base = (tag & this.setMask) * this.ways;
      for (let i = base; i < base + this.ways; ) {
        if (this.keys[i] === key && matches(this.metas[i], pcid, how)) {
          this.remove(base, i);
          n++;
        } else i++;
      }
    }
    return n;
  }

  /** Drops the 4K pieces of any large page that contains vpn4k. */
  private invalidateFractured(vpn4k: number, pcid: number, how: InvalidateHow): number {
    let n = 0;
    const keys = this.keys;
    const metas = this.metas;
    for (let base = 0; base < this.entries; base += this.ways) {
      for (let i = base; i < base + this.ways; ) {
        const k = keys[i];
        const src = (metas[i] >>> Meta.SRC_SIZE_SHIFT) & 3;
        if (
          k !== -1 &&
          k % 4 === 0 &&
          src !== 0 &&
          Math.floor(k / 4 / PAGES_PER[src]) === Math.floor(vpn4k / PAGES_PER[src]) &&
          matches(metas[i], pcid, how)
        ) {
          this.remove(base, i);
          n++;
        } else i++;
      }
    }
    return n;
  }

  /** Drops every entry that matches. Returns how many. */
  invalidateAll(pcid: number, how: InvalidateHow): number {
    let n = 0;
    for (let base = 0; base < this.entries; base += this.ways) {
      for (let i = base; i < base + this.ways; ) {
        if (this.keys[i] !== -1 && matches(this.metas[i], pcid, how)) {
          this.remove(base, i);
          n++;
        } else i++;
      }
    }
    return n;
  }

  /** Number of valid entries. */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) if (this.keys[i] !== -1) n++;
    return n;
  }
}

/** Which entries an invalidation hits (SDM §4.10.4.1). */
export const enum InvalidateHow {
  /** entries of this PCID and global entries (INVLPG) */
  PcidAndGlobal = 0,
  /** entries of this PCID, global ones kept (INVPCID 0/1, MOV to CR3) */
  PcidNonGlobal = 1,
  /** non-global entries of every PCID (INVPCID 3) */
  AllNonGlobal = 2,
  /** everything (INVPCID 2, CR4.PGE toggle) */
  Everything = 3,
}

function matches(meta: number, pcid: number, how: InvalidateHow): boolean {
  const global = (meta & Meta.G) !== 0;
  switch (how) {
    case InvalidateHow.PcidAndGlobal:
      return global || (meta & Meta.PCID_MASK) === pcid;
    case InvalidateHow.PcidNonGlobal:
      return !global && (meta & Meta.PCID_MASK) === pcid;
    case InvalidateHow.AllNonGlobal:
      return !global;
    default:
      return true;
  }
}
