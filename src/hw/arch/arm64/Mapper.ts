/**
 * Builds and edits ARM64 translation tables (4 KiB granule) in simulated
 * RAM, as Linux's arch/arm64 pgtable code does (pgd_alloc, __pte_alloc,
 * set_pte_at, ptep_get_and_clear, change_protection). Pages are the Cpu's
 * page numbers (Cpu.ts: VA[47:12], plus 2^36 in TTBR1's range); a mapper
 * serves one range size (`vaBits`, 25..48: the start level and the size of
 * the initial table follow from it, as TCR_EL1.TxSZ makes them).
 *
 * How MapFlags become descriptor bits (Linux's PAGE_* protections):
 *
 *   user      AP[1] = 1 (EL0 may access)
 *   writable  AP[2] = 0; with `dbm`, DBM = 1 and AP[2] = 0 only if `dirty`
 *             (else writable-clean: hardware clears AP[2] on the first write
 *             when TCR_EL1.HA and HD are set, or the write faults)
 *   nx        a user page: UXN = 1 (and PXN = 1 always: user memory never
 *             runs at EL1); a kernel page: PXN = 1 (and UXN = 1 always)
 *   global    nG = 0 (else nG = 1: tagged with the ASID)
 *   accessed  AF (default 1: AF = 0 is an Access flag fault without HA)
 *   soft      software bits 58:55
 *
 * plus the arm64-only `pxn`, `uxn` (override the above), `dbm`, `attrIndx`
 * (0..7, default 0) and `sh` (default 3, Inner Shareable). Table
 * descriptors are plain (bits[1:0] = 11, no APTable/XNTable): leaf
 * descriptors alone decide the rights; unless the mapper is made with
 * `xnTables`, as Linux v6.12 makes its tables (arch/arm64/include/asm/pgalloc.h
 * pmd_populate, pud_populate, p4d_populate; arch/arm64/mm/mmu.c
 * alloc_init_cont_pte and the others, kernel/pi/map_range.c): a user table
 * (ensureTable with `user`) gets PXNTable, a kernel one (init_mm's: ensureTable
 * without `user`, map) UXNTable, and with the flag `noExecTables`
 * (NO_EXEC_MAPPINGS, map_mem's linear map) PXNTable too.
 */
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
  Mapper8,
  type MapResult,
  mapAtByWalk,
  type PageTableMapper,
} from "../../mmu/Mapper.ts";
import type { WalkRecord } from "../../mmu/WalkRecord.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { Desc, DescHi } from "./format.ts";

const PAGES_PER = [1, 512, 262144];
/**
 * 1 / the base pages under one entry of each level (512^-level, exact): a
 * page number's index at a level is a multiplication, a floor and a mask,
 * with no Math.pow and no division.
 */
const INV_SPAN = [1, 512 ** -1, 512 ** -2, 512 ** -3];

/** MapFlags with ARM64's own controls. */
export interface Arm64MapFlags extends MapFlags {
  /** PXN / UXN explicitly (default from `nx` and `user`, see above) */
  pxn?: boolean;
  uxn?: boolean;
  /** Dirty Bit Modifier: the page's dirty state is AP[2] */
  dbm?: boolean;
  /** MAIR_EL1 index, 0..7 */
  attrIndx?: number;
  /** shareability, 0..3 */
  sh?: number;
  /** with `xnTables`: the tables map creates get PXNTable too (Linux's NO_EXEC_MAPPINGS) */
  noExecTables?: boolean;
}

export class Arm64Mapper extends Mapper8 implements PageTableMapper {
  readonly levels: number;
  private readonly topMask: number;
  private readonly maxFrame: number;

  constructor(
    phys: PhysMem,
    alloc: FrameAllocator,
    /** VA size of the range these tables serve (64 - TxSZ) */
    readonly vaBits = 48,
    /** the output address size (RAM and tables must be below it) */
    readonly paBits = 48,
    /** Linux's hierarchical XN on the table descriptors made here (see above); default plain */
    readonly xnTables = false,
  ) {
    super(phys, alloc);
    assert(Number.isInteger(vaBits) && vaBits >= 25 && vaBits <= 48, "Arm64Mapper: vaBits");
    const start = vaBits > 39 ? 3 : vaBits > 30 ? 2 : 1;
    this.levels = start + 1;
    this.topMask = 2 ** (vaBits - 12 - 9 * start) - 1;
    this.maxFrame = 2 ** (paBits - 12);
  }

  /** Index of vpn in a table of `level` (the initial table may be smaller). */
  index(vpn: Vpn, level: number): number {
    return Math.floor(vpn * INV_SPAN[level]) & (level === this.levels - 1 ? this.topMask : 511);
  }

  /** Whether a descriptor read at `level` points to a next-level table. */
  private static isTable(lo: number, level: number): boolean {
    return level > 0 && (lo & (Desc.VALID | Desc.TABLE_OR_PAGE)) === (Desc.VALID | Desc.TABLE_OR_PAGE);
  }

  /** Whether a descriptor read at `level` maps a page or block. */
  private static isLeaf(lo: number, level: number): boolean {
    if ((lo & Desc.VALID) === 0) return false;
    return level === 0 ? (lo & Desc.TABLE_OR_PAGE) !== 0 : level <= 2 && (lo & Desc.TABLE_OR_PAGE) === 0;
  }

  /** Follows (or, with `create`, makes) the tables down to `level`; the table's address, or -1. */
  private tableAt(rootPfn: Pfn, vpn: Vpn, level: number, create: boolean, tableHi = 0): PhysAddr | -1 {
    let tablePa = pfnToPa(rootPfn);
    for (let l = this.levels - 1; l > level; l--) {
      const entryPa = this.entryPaIn(tablePa, vpn, l);
      // the halves as numbers, not an object per level (ensureTable is on every first-touch fault)
      let lo = entryHalf(this.phys, entryPa);
      let hi = entryHalf(this.phys, entryPa + 4);
      if ((lo & Desc.VALID) === 0) {
        if (!create) return -1;
        const t = this.alloc.allocFrame(l - 1);
        if (t === -1) return -1;
        this.phys.zeroFrame(t);
        ({ hi, lo } = tableDesc(t));
        hi = (hi | tableHi) >>> 0;
        this.phys.write64(entryPa, hi, lo);
      } else if (!Arm64Mapper.isTable(lo, l)) return -1;
      tablePa = physAddrUnchecked((hi & DescHi.ADDR_HI_MASK) * 4294967296 + ((lo & Desc.ADDR_LO_MASK) >>> 0));
    }
    return tablePa;
  }

  /**
   * Maps the page of leaf level `size` (0 = 4K page, 1 = 2M block, 2 = 1G
   * block) at vpn to pfn, allocating tables. The descriptor goes from
   * invalid to valid: no TLBI is needed.
   */
  map(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: Arm64MapFlags): MapResult {
    assert(size >= 0 && size <= 2 && size < this.levels, "Arm64Mapper.map: size");
    if (vpn % PAGES_PER[size] !== 0 || pfn % PAGES_PER[size] !== 0) return { ok: false, error: "misaligned" };
    if (pfn < 0 || pfn >= this.maxFrame) return { ok: false, error: "bad-frame" };
    let tablePa = pfnToPa(rootPfn);
    const xn = this.xnTables ? DescHi.UXN_TABLE | (flags.noExecTables ? DescHi.PXN_TABLE : 0) : 0;
    for (let level = this.levels - 1; level > size; level--) {
      const entryPa = this.entryPaIn(tablePa, vpn, level);
      let { hi, lo } = this.read(entryPa);
      if ((lo & Desc.VALID) === 0) {
        const t = this.alloc.allocFrame(level - 1);
        if (t === -1) return { ok: false, error: "no-memory" };
        this.phys.zeroFrame(t);
        ({ hi, lo } = tableDesc(t));
        hi = (hi | xn) >>> 0;
        this.phys.write64(entryPa, hi, lo);
      } else if (!Arm64Mapper.isTable(lo, level)) return { ok: false, error: "huge-in-the-way" };
      tablePa = physAddrUnchecked((hi & DescHi.ADDR_HI_MASK) * 4294967296 + ((lo & Desc.ADDR_LO_MASK) >>> 0));
    }
    const leafPa = this.entryPaIn(tablePa, vpn, size);
    if ((this.phys.read32(leafPa) & Desc.VALID) !== 0)
      return { ok: false, error: size > 0 ? "table-in-the-way" : "mapped" };
    const d = leafDesc(pfn, size, flags);
    this.phys.write64(leafPa, d.hi, d.lo);
    return { ok: true, flush: null };
  }

  ensureTable(rootPfn: Pfn, vpn: Vpn, level: number, user = false): Pfn | -1 {
    const xn = this.xnTables ? (user ? DescHi.PXN_TABLE : DescHi.UXN_TABLE) : 0;
    const t = this.tableAt(rootPfn, vpn, level, true, xn);
    return t === -1 ? -1 : paToPfn(t);
  }

  /** The page or block descriptor mapping vpn (a software walk: nothing written), or null. */
  lookup(rootPfn: Pfn, vpn: Vpn): EntryRef | null {
    let tablePa = pfnToPa(rootPfn);
    for (let level = this.levels - 1; level >= 0; level--) {
      const entryPa = this.entryPaIn(tablePa, vpn, level);
      const { hi, lo } = this.read(entryPa);
      if (Arm64Mapper.isLeaf(lo, level)) return { level, entryPa, hi, lo };
      if (!Arm64Mapper.isTable(lo, level)) return null;
      tablePa = physAddrUnchecked((hi & DescHi.ADDR_HI_MASK) * 4294967296 + ((lo & Desc.ADDR_LO_MASK) >>> 0));
    }
    return null;
  }

  entryAt(rootPfn: Pfn, vpn: Vpn, level: number): EntryRef | null {
    if (level >= this.levels) return null;
    const t = this.tableAt(rootPfn, vpn, level, false);
    if (t === -1) return null;
    const entryPa = this.entryPaIn(t, vpn, level);
    return { level, entryPa, ...this.read(entryPa) };
  }
  /**
   * The address of the descriptor at `level` on the way to vpn, or -1 when
   * the walk stops above it (an invalid descriptor or a block). tableAt's
   * walk as numbers: the kernel's fault path and rmap come here for every
   * page (pmd_offset, pte_offset_map), so each descriptor is read as its two
   * halves from the table's frame words, as the MMU's walk reads it.
   */
  entryPaAt(rootPfn: Pfn, vpn: Vpn, level: number): number {
    if (level >= this.levels) return -1;
    let tablePa = pfnToPa(rootPfn) as number;
    for (let l = this.levels - 1; l > level; l--) {
      const entryPa =
        tablePa + (Math.floor(vpn * INV_SPAN[l]) & (l === this.levels - 1 ? this.topMask : 511)) * 8;
      // both halves, as tableAt reads them (outside RAM: two stray reads)
      const lo = entryHalf(this.phys, entryPa);
      const hi = entryHalf(this.phys, entryPa + 4);
      // a table descriptor (l > level >= 0, so never the level-3 page form)
      if ((lo & (Desc.VALID | Desc.TABLE_OR_PAGE)) !== (Desc.VALID | Desc.TABLE_OR_PAGE)) return -1;
      tablePa = (hi & DescHi.ADDR_HI_MASK) * 4294967296 + ((lo & Desc.ADDR_LO_MASK) >>> 0);
    }
    return tablePa + this.index(vpn, level) * 8;
  }

  /** Makes the descriptor mapping vpn invalid. The caller must TLBI (VAE1IS or VALE1IS). */
  unmap(rootPfn: Pfn, vpn: Vpn): MapResult {
    const e = leafToChange(this, rootPfn, vpn, PAGES_PER);
    if ("error" in e) return e;
    this.phys.write64(e.entryPa, 0, 0);
    return { ok: true, flush: { vpn, size: e.level, required: true } };
  }

  /** map from the root and a software walk to the leaf (mapAtByWalk): the walk record is not used. */
  mapAt(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: Arm64MapFlags, _walk: WalkRecord): number {
    return mapAtByWalk(this, rootPfn, vpn, pfn, size, flags);
  }

  /** unmap's write once the leaf is found: an invalid descriptor. */
  clearAt(entryPa: PhysAddr): void {
    this.phys.write64(entryPa, 0, 0);
  }

  /**
   * Changes the rights and attributes of the descriptor mapping vpn, keeping
   * its frame, AF and dirty state unless given. The flush is required when
   * anything is taken away (a right, the dirty state, DBM, globalness or an
   * attribute change), optional when rights are only added.
   */
  protect(rootPfn: Pfn, vpn: Vpn, flags: Arm64MapFlags): MapResult {
    const e = leafToChange(this, rootPfn, vpn, PAGES_PER);
    if ("error" in e) return e;
    const pfn = leafPfn(e.hi, e.lo, e.level);
    const next = leafDesc(pfn, e.level, {
      ...flags,
      accessed: flags.accessed ?? (e.lo & Desc.AF) !== 0,
      dirty: flags.dirty ?? (e.lo & Desc.AP2) === 0,
    });
    this.phys.write64(e.entryPa, next.hi, next.lo);
    const lost = (bitsBefore: number, bitsAfter: number, mask: number) =>
      (bitsBefore & ~bitsAfter & mask) !== 0;
    const gained = (bitsBefore: number, bitsAfter: number, mask: number) => lost(bitsAfter, bitsBefore, mask);
    const required =
      lost(e.lo, next.lo, Desc.AP1) ||
      gained(e.lo, next.lo, Desc.AP2) ||
      gained(e.hi, next.hi, DescHi.UXN | DescHi.PXN) ||
      lost(e.hi, next.hi, DescHi.DBM) ||
      ((e.lo ^ next.lo) & (Desc.NG | Desc.ATTR_INDX_MASK | Desc.SH_MASK)) !== 0;
    return { ok: true, flush: { vpn, size: e.level, required } };
  }
}

/**
 * The 32-bit half of a descriptor at `pa` (its low word at pa, its high one
 * at pa + 4) from its table's frame words, as the MMU's walk reads it;
 * outside RAM, read32's stray read.
 */
function entryHalf(phys: PhysMem, pa: number): number {
  const frame = Math.floor(pa / 4096);
  if (frame >= phys.nrFrames) return phys.read32(pa);
  const words = phys.frameWords(frame as Pfn);
  return words === null ? 0 : words[(pa - frame * 4096) >>> 2];
}

/** A table descriptor pointing at frame t. */
export function tableDesc(t: number): { hi: number; lo: number } {
  return {
    hi: Math.floor(t / 1048576),
    lo: ((t % 1048576) * 4096 + (Desc.VALID | Desc.TABLE_OR_PAGE)) >>> 0,
  };
}

/** A page (size 0) or block (1, 2) descriptor for a frame: halves ready to store. */
export function leafDesc(pfn: number, size: number, f: Arm64MapFlags): { hi: number; lo: number } {
  let lo = (pfn % 1048576) * 4096 + Desc.VALID;
  let hi = Math.floor(pfn / 1048576);
  if (size === 0) lo += Desc.TABLE_OR_PAGE;
  if (f.accessed ?? true) lo += Desc.AF;
  if (!f.global) lo += Desc.NG;
  lo += ((f.sh ?? 3) & 3) << 8;
  lo += ((f.attrIndx ?? 0) & 7) << 2;
  if (f.user) lo += Desc.AP1;
  if (!f.writable || (f.dbm && !f.dirty)) lo += Desc.AP2;
  if (f.dbm) hi += DescHi.DBM;
  const uxn = f.uxn ?? (f.user ? (f.nx ?? false) : true);
  const pxn = f.pxn ?? (f.user ? true : (f.nx ?? false));
  if (uxn) hi += DescHi.UXN;
  if (pxn) hi += DescHi.PXN;
  if (f.soft) hi += (f.soft & 15) << 23;
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

/** First frame of the page or block a descriptor maps. */
export function leafPfn(hi: number, lo: number, level: number): Pfn {
  const pages = (hi & DescHi.ADDR_HI_MASK) * 1048576 + ((lo & Desc.ADDR_LO_MASK) >>> 12);
  return pfnUnchecked(pages - (pages % PAGES_PER[level]));
}

export { BumpFrames } from "../../mmu/Mapper.ts";
