import { assert } from "../../../base/assert.ts";
import {
  type Pfn,
  type PhysAddr,
  paToPfn,
  pfnToPa,
  pfnUnchecked,
  physAddrUnchecked,
  type Vpn,
} from "../../../base/units.ts";
import {
  type EntryRef,
  type FrameAllocator,
  leafToChange,
  type MapFlags,
  type MapResult,
  mapAtByWalk,
  type PageTableMapper,
} from "../../mmu/Mapper.ts";
import type { WalkRecord } from "../../mmu/WalkRecord.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { leafFlagBits, Pte, PteHi, reservedMasks } from "./pte.ts";

const TWO32 = 4294967296;
const PAGES_PER = [1, 512, 262144];

/**
 * Builds and edits x86-64 page tables in simulated physical memory, so that
 * tests and the kernel never assemble entry bytes by hand. Addresses are
 * given as 4K page numbers of the truncated linear address (48 or 57 bits),
 * frames as pfns.
 *
 * Intermediate entries get P|RW|A|D, plus US if any user page is mapped
 * below them (Linux's _KERNPG_TABLE and _PAGE_TABLE): leaf entries alone
 * decide the rights.
 *
 * Linux counterparts: pgd_alloc, __pte_alloc / pmd_alloc (tables on demand),
 * set_pte_at, ptep_get_and_clear, change_protection.
 */
/** Base pages under one entry of each level (512^level), so that index() divides without Math.pow. */
const LEVEL_SPAN = [1, 512, 512 ** 2, 512 ** 3, 512 ** 4];

export class Mapper implements PageTableMapper {
  private readonly hiAddrMask: number;
  /** the first frame number past MAXPHYADDR (2^(MAXPHYADDR-12)), not a power computed per map */
  private readonly pfnLimit: number;

  constructor(
    readonly phys: PhysMem,
    readonly levels: 4 | 5,
    maxPhyAddr: number,
    readonly alloc: FrameAllocator,
  ) {
    this.pfnLimit = 2 ** (maxPhyAddr - 12);
    this.hiAddrMask = reservedMasks(maxPhyAddr).hiAddrMask;
  }

  /**
   * Called for every write of a top-level entry by this mapper (Linux:
   * native_set_pgd -> pti_set_user_pgtbl). Returns the high half to store,
   * so that an OS hook can mirror the entry elsewhere and adjust its own
   * copy (page-table isolation sets NX there).
   */
  onSetTop: ((entryPa: PhysAddr, hi: number, lo: number) => number) | null = null;

  /** Writes a table entry, through onSetTop at the top level. */
  private setEntry(level: number, entryPa: PhysAddr, hi: number, lo: number): void {
    if (level === this.levels - 1 && this.onSetTop !== null) hi = this.onSetTop(entryPa, hi, lo);
    this.phys.write64(entryPa, hi >>> 0, lo >>> 0);
  }

  /** Allocates and zeroes a top-level table. Returns its pfn, or -1. */
  newRoot(): Pfn | -1 {
    const pfn = this.alloc.allocFrame(this.levels - 1);
    if (pfn !== -1) this.phys.zeroFrame(pfn);
    return pfn;
  }

  /** Index of vpn in a table of `level`. */
  static index(vpn: Vpn, level: number): number {
    return Math.floor(vpn / LEVEL_SPAN[level]) & 511;
  }

  /** The table an entry points to (its address field, below MAXPHYADDR). */
  private entryAddr(hi: number, lo: number): PhysAddr {
    return physAddrUnchecked((hi & this.hiAddrMask) * TWO32 + ((lo & Pte.ADDR_LO_MASK) >>> 0));
  }

  /** The address of the entry for vpn at `level` in the table at tablePa. */
  private static entryPaIn(tablePa: PhysAddr, vpn: Vpn, level: number): PhysAddr {
    return physAddrUnchecked(tablePa + Mapper.index(vpn, level) * 8);
  }

  /**
   * Maps the page of size `size` (0 = 4K, 1 = 2M, 2 = 1G) at vpn to the frame
   * pfn. Allocates missing tables. Fails if anything is already mapped there.
   * On return the leaf is present; no invalidation is needed (P went 0 -> 1).
   */
  map(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: MapFlags): MapResult {
    assert(size >= 0 && size <= 2, "Mapper.map: size");
    if (vpn % PAGES_PER[size] !== 0 || pfn % PAGES_PER[size] !== 0) return { ok: false, error: "misaligned" };
    if (pfn < 0 || pfn >= this.pfnLimit) return { ok: false, error: "bad-frame" };
    let tablePa = pfnToPa(rootPfn);
    for (let level = this.levels - 1; level > size; level--) {
      const entryPa = Mapper.entryPaIn(tablePa, vpn, level);
      let lo = this.phys.read32(entryPa);
      let hi = this.phys.read32(entryPa + 4);
      if ((lo & Pte.P) === 0) {
        const t = this.alloc.allocFrame(level - 1);
        if (t === -1) return { ok: false, error: "no-memory" };
        this.phys.zeroFrame(t);
        lo = ((t % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.A | Pte.D)) >>> 0;
        hi = Math.floor(t / 1048576);
        if (flags.user) lo = (lo | Pte.US) >>> 0;
        this.setEntry(level, entryPa, hi, lo);
      } else if (level <= 2 && (lo & Pte.PS) !== 0) {
        return { ok: false, error: "huge-in-the-way" };
      } else if (flags.user && (lo & Pte.US) === 0) {
        lo = (lo | Pte.US) >>> 0;
        this.setEntry(level, entryPa, hi, lo);
      }
      tablePa = this.entryAddr(hi, lo);
    }
    const leafPa = Mapper.entryPaIn(tablePa, vpn, size);
    const old = this.phys.read32(leafPa);
    if ((old & Pte.P) !== 0) return { ok: false, error: size > 0 ? "table-in-the-way" : "mapped" };
    const { hi, lo } = leafEntry(pfn, size, flags);
    this.phys.write64(leafPa, hi, lo);
    return { ok: true, flush: null };
  }

  /**
   * `map` resumed at the not-present entry where the hardware walk `walk` of vpn from rootPfn's
   * table stopped (PageTableMapper.mapAt): the tables below it allocated and linked as `map` links
   * them (P|RW|A|D, US for a user page), then the leaf (set_pte_at). `map` from the root instead
   * (mapAtByWalk) when the record is not such a walk: started from a paging-structure cache,
   * another root or page, an entry there present now, or a user page under an entry above it
   * without US (`map` sets it). The leaf entry's address, or -1 (no frame for a table).
   */
  mapAt(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: MapFlags, walk: WalkRecord): number {
    const n = walk.count - 1;
    let level = n >= 0 ? walk.level[n] : -1;
    let entryPa = n >= 0 ? walk.entryPa[n] : -1;
    let user =
      walk.pscLevel === -1 &&
      n >= 0 &&
      walk.entryPa[0] === Mapper.entryPaIn(pfnToPa(rootPfn), vpn, this.levels - 1);
    for (let i = 0; user && i < n; i++) user = !flags.user || (walk.lo[i] & Pte.US) !== 0;
    if (
      !user ||
      level < size ||
      // (no % of a double: a call into C; a 4K page is aligned to itself)
      entryPa - Math.floor(entryPa / 4096) * 4096 !== Mapper.index(vpn, level) * 8 ||
      (this.phys.read32(entryPa) & Pte.P) !== 0 ||
      (size !== 0 && (vpn % PAGES_PER[size] !== 0 || pfn % PAGES_PER[size] !== 0)) ||
      pfn >= this.pfnLimit
    )
      return mapAtByWalk(this, rootPfn, vpn, pfn, size, flags);
    for (; level > size; level--) {
      const t = this.alloc.allocFrame(level - 1);
      if (t === -1) return -1;
      this.phys.zeroFrame(t);
      const lo = ((t % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.A | Pte.D | (flags.user ? Pte.US : 0))) >>> 0;
      this.setEntry(level, physAddrUnchecked(entryPa), Math.floor(t / 1048576), lo);
      entryPa = Mapper.entryPaIn(pfnToPa(t), vpn, level - 1);
    }
    const leaf = leafEntry(pfn, size, flags);
    this.phys.write64(entryPa, leaf.hi, leaf.lo);
    return entryPa;
  }

  /** unmap's write once the leaf is found: an entry with P clear. */
  clearAt(entryPa: PhysAddr): void {
    this.phys.write64(entryPa, 0, 0);
  }

  /**
   * Makes sure the table at `level` on the walk of vpn exists (allocating
   * tables above it), without mapping anything: Linux's pud_alloc/pmd_alloc/
   * pte_alloc. Returns the table's pfn, or -1 (no memory, or a large page in
   * the way).
   */
  ensureTable(rootPfn: Pfn, vpn: Vpn, level: number, user = false): Pfn | -1 {
    let tablePa = pfnToPa(rootPfn);
    for (let l = this.levels - 1; l > level; l--) {
      const entryPa = Mapper.entryPaIn(tablePa, vpn, l);
      let lo = this.phys.read32(entryPa);
      let hi = this.phys.read32(entryPa + 4);
      if ((lo & Pte.P) === 0) {
        const t = this.alloc.allocFrame(l - 1);
        if (t === -1) return -1;
        this.phys.zeroFrame(t);
        lo = ((t % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.A | Pte.D | (user ? Pte.US : 0))) >>> 0;
        hi = Math.floor(t / 1048576);
        this.setEntry(l, entryPa, hi, lo);
      } else if (l <= 2 && (lo & Pte.PS) !== 0) {
        return -1;
      }
      tablePa = this.entryAddr(hi, lo);
    }
    return paToPfn(tablePa);
  }

  /**
   * Finds the leaf entry mapping vpn (a software walk, as Linux's
   * follow_pte: no A/D writes). Returns null when nothing is mapped.
   */
  lookup(rootPfn: Pfn, vpn: Vpn): EntryRef | null {
    let tablePa = pfnToPa(rootPfn);
    for (let level = this.levels - 1; level >= 0; level--) {
      const entryPa = Mapper.entryPaIn(tablePa, vpn, level);
      const lo = this.phys.read32(entryPa);
      const hi = this.phys.read32(entryPa + 4);
      if ((lo & Pte.P) === 0) return null;
      if (level === 0 || (level <= 2 && (lo & Pte.PS) !== 0)) return { level, entryPa, hi, lo };
      tablePa = this.entryAddr(hi, lo);
    }
    return null;
  }

  /** The table entry at `level` on the way to vpn (present or not), or null if the walk stops above it. */
  entryAt(rootPfn: Pfn, vpn: Vpn, level: number): EntryRef | null {
    const entryPa = this.entryPaAt(rootPfn, vpn, level);
    if (entryPa < 0) return null;
    return {
      level,
      entryPa: physAddrUnchecked(entryPa),
      hi: this.halfAt(entryPa, 4),
      lo: this.halfAt(entryPa, 0),
    };
  }

  entryPaAt(rootPfn: Pfn, vpn: Vpn, level: number): number {
    let tablePa = pfnToPa(rootPfn);
    for (let l = this.levels - 1; l >= level; l--) {
      const entryPa = Mapper.entryPaIn(tablePa, vpn, l);
      if (l === level) return entryPa;
      // both halves from one look-up of the table's frame, as the walk reads them; outside RAM,
      // read32's stray reads (two, counted as entryAt's)
      const frame = Math.floor(entryPa / 4096);
      let lo: number;
      let hi: number;
      if (frame < this.phys.nrFrames) {
        const words = this.phys.frameWords(frame as Pfn);
        const w = (entryPa - frame * 4096) >>> 2;
        lo = words === null ? 0 : words[w];
        hi = words === null ? 0 : words[w + 1];
      } else {
        lo = this.phys.read32(entryPa);
        hi = this.phys.read32(entryPa + 4);
      }
      if ((lo & Pte.P) === 0 || (l <= 2 && (lo & Pte.PS) !== 0)) return -1;
      tablePa = this.entryAddr(hi, lo);
    }
    return -1;
  }

  /**
   * A half of the entry at entryPa (byte 0: low, 4: high) from its table's frame words, as the
   * MMU's walk reads it (the kernel's fault path and rmap come here for every page); outside
   * RAM, read32's stray reads.
   */
  private halfAt(entryPa: number, byte: 0 | 4): number {
    const phys = this.phys;
    const frame = Math.floor(entryPa / 4096);
    if (frame >= phys.nrFrames) return phys.read32(entryPa + byte);
    const words = phys.frameWords(frame as Pfn);
    return words === null ? 0 : words[(entryPa - frame * 4096 + byte) >>> 2];
  }

  /** Clears the leaf mapping vpn (which must be its first page). The caller must flush. */
  unmap(rootPfn: Pfn, vpn: Vpn): MapResult {
    const e = leafToChange(this, rootPfn, vpn, PAGES_PER);
    if ("error" in e) return e;
    this.phys.write64(e.entryPa, 0, 0);
    return { ok: true, flush: { vpn, size: e.level, required: true } };
  }

  /**
   * Changes the rights and attributes of the leaf mapping vpn, keeping its
   * frame and A/D flags unless given. Reports whether the flush is required
   * (any right removed) or optional (rights only added).
   */
  protect(rootPfn: Pfn, vpn: Vpn, flags: MapFlags): MapResult {
    const e = leafToChange(this, rootPfn, vpn, PAGES_PER);
    if ("error" in e) return e;
    const pfn = leafPfn(e.hi, e.lo, e.level, this.hiAddrMask);
    const keepAd = {
      accessed: flags.accessed ?? (e.lo & Pte.A) !== 0,
      dirty: flags.dirty ?? (e.lo & Pte.D) !== 0,
    };
    const next = leafEntry(pfn, e.level, { ...flags, ...keepAd });
    if (flags.user) this.setUserOnPath(rootPfn, vpn, e.level);
    this.phys.write64(e.entryPa, next.hi, next.lo);
    const removed =
      ((e.lo & Pte.RW) !== 0 && (next.lo & Pte.RW) === 0) ||
      ((e.lo & Pte.US) !== 0 && (next.lo & Pte.US) === 0) ||
      ((e.hi & PteHi.XD) === 0 && (next.hi & PteHi.XD) !== 0) ||
      (e.hi & PteHi.PKEY_MASK) !== (next.hi & PteHi.PKEY_MASK) ||
      ((e.lo ^ next.lo) & (Pte.G | Pte.PWT | Pte.PCD)) !== 0;
    return { ok: true, flush: { vpn, size: e.level, required: removed } };
  }

  /** Writes raw entry halves at the leaf for vpn (tests of stale TLB entries, swap entries). */
  setLeafRaw(rootPfn: Pfn, vpn: Vpn, level: number, hi: number, lo: number): boolean {
    const e = this.entryAt(rootPfn, vpn, level);
    if (e === null) return false;
    this.phys.write64(e.entryPa, hi >>> 0, lo >>> 0);
    return true;
  }

  private setUserOnPath(rootPfn: Pfn, vpn: Vpn, leafLevel: number): void {
    let tablePa = pfnToPa(rootPfn);
    for (let level = this.levels - 1; level > leafLevel; level--) {
      const entryPa = Mapper.entryPaIn(tablePa, vpn, level);
      const lo = this.phys.read32(entryPa);
      const hi = this.phys.read32(entryPa + 4);
      if ((lo & Pte.US) === 0) this.setEntry(level, entryPa, hi, lo | Pte.US);
      tablePa = this.entryAddr(hi, lo);
    }
  }
}

/** The leaf entry for a frame: halves ready to store. */
export function leafEntry(pfn: Pfn, size: number, f: MapFlags): { hi: number; lo: number } {
  const lo = (pfn % 1048576) * 4096 + leafFlagBits(size, f);
  let hi = Math.floor(pfn / 1048576);
  if (f.pkey) hi = (hi | ((f.pkey & 15) << PteHi.PKEY_SHIFT)) >>> 0;
  if (f.nx) hi = (hi | PteHi.XD) >>> 0;
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

/** First frame of the page a leaf entry maps. */
export function leafPfn(hi: number, lo: number, level: number, hiAddrMask: number): Pfn {
  const addrLo = level === 0 ? (lo & Pte.ADDR_LO_MASK) >>> 0 : (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0;
  // the address field is 4K-aligned, so the quotient is exact
  return pfnUnchecked(((hi & hiAddrMask) * TWO32 + addrLo) / 4096);
}

export {
  BumpFrames,
  type EntryRef,
  type FrameAllocator,
  type MapFlags,
  type MapResult,
} from "../../mmu/Mapper.ts";
