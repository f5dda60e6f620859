import { assert } from "../../../base/assert.ts";
import {
  type Pfn,
  type PhysAddr,
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
import { leafFlagBits } from "../x86_64/pte.ts";
import { PDE4M_ADDR_LO, PSE36_SHIFT, Pte, PteHi, paeHiAddrMask, pse36Mask, pse36Width } from "./pte.ts";

const TWO32 = 4294967296;
const PAGES_PER_32 = [1, 1024];
const PAGES_PER_PAE = [1, 512, 262144];

/**
 * Builds and edits 32-bit x86 page tables in simulated RAM: 32-bit paging
 * (2 levels, 4-byte entries, 4 KiB and 4 MiB pages; SDM Vol. 3A §4.3) or
 * PAE paging (PDPT, PD, PT; 8-byte entries; 4 KiB and 2 MiB pages; §4.4).
 * Sizes: 0 = 4 KiB, 1 = 4 MiB (32-bit) or 2 MiB (PAE).
 *
 * Intermediate entries get P|RW|A|D (plus US when a user page is below),
 * as Linux's _KERNPG_TABLE/_PAGE_TABLE; leaves alone decide the rights.
 * PAE: `newRoot` allocates the PDPT and all four PDs at once, their PDPTEs
 * present (P only: the other low bits are reserved there), as Linux's
 * pgd_alloc preallocates the PMDs (arch/x86/mm/pgtable.c,
 * PREALLOCATED_PMDS): a PDPTE change takes effect only at the next MOV to
 * CR3, so the mapper never changes one. 32-bit paging has no XD bit:
 * `nx` is ignored there.
 */
export class I386Mapper implements PageTableMapper {
  readonly levels: number;
  private readonly pagesPer: readonly number[];
  private readonly hiAddrMask: number;
  private readonly pse36: number;
  /** physical address bits a 4 MiB page (32-bit) or any page (PAE) may use */
  private readonly leafPhysBits: number;

  constructor(
    readonly phys: PhysMem,
    readonly pae: boolean,
    readonly alloc: FrameAllocator,
    maxPhyAddr = 36,
  ) {
    this.levels = pae ? 3 : 2;
    this.pagesPer = pae ? PAGES_PER_PAE : PAGES_PER_32;
    this.hiAddrMask = pae ? paeHiAddrMask(maxPhyAddr) : 0;
    this.pse36 = pse36Mask(maxPhyAddr);
    this.leafPhysBits = pae ? maxPhyAddr : pse36Width(maxPhyAddr);
  }

  /** Index of vpn in a table of `level`: 10 bits per level (32-bit); 9, 9 and 2 (PAE). */
  index(vpn: Vpn, level: number): number {
    if (!this.pae) return (vpn >>> (10 * level)) & 1023;
    return level === 2 ? (vpn >>> 18) & 3 : (vpn >>> (9 * level)) & 511;
  }

  private entryPaIn(tablePa: PhysAddr, vpn: Vpn, level: number): PhysAddr {
    return physAddrUnchecked(tablePa + this.index(vpn, level) * (this.pae ? 8 : 4));
  }

  private read(pa: PhysAddr): { hi: number; lo: number } {
    return { hi: this.pae ? this.phys.read32(pa + 4) : 0, lo: this.phys.read32(pa) };
  }

  /**
   * A 32-bit word of an entry at `pa` from its table's frame words, as the
   * MMU's walk reads it (no object: the kernel's fault path and rmap walk
   * here for every page); outside RAM, read32's stray read.
   */
  private word(pa: number): number {
    const frame = Math.floor(pa / 4096);
    if (frame >= this.phys.nrFrames) return this.phys.read32(pa);
    const words = this.phys.frameWords(frame as Pfn);
    return words === null ? 0 : words[(pa - frame * 4096) >>> 2];
  }

  private write(pa: PhysAddr, hi: number, lo: number): void {
    if (this.pae) this.phys.write64(pa, hi >>> 0, lo >>> 0);
    else this.phys.write32(pa, lo >>> 0);
  }

  /** The table a table entry points to. */
  private tableAddr(hi: number, lo: number): PhysAddr {
    return physAddrUnchecked((hi & this.hiAddrMask) * TWO32 + ((lo & Pte.ADDR_LO_MASK) >>> 0));
  }

  /** A PDE with PS set maps a page (the mapper writes 32-bit tables for CR4.PSE = 1). */
  private isLarge(level: number, lo: number): boolean {
    return level === 1 && (lo & Pte.PS) !== 0;
  }

  /** A table entry for the table in frame t (which must lie below 4 GiB in 32-bit paging). */
  private tableEntry(t: Pfn, user: boolean): { hi: number; lo: number } {
    const lo = (t % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.A | Pte.D | (user ? Pte.US : 0));
    return { hi: Math.floor(t / 1048576), lo: lo >>> 0 };
  }

  /** A frame for a table, zeroed; -1 when none is left or it is out of the mode's reach. */
  private newTable(level: number): Pfn | -1 {
    const t = this.alloc.allocFrame(level);
    if (t === -1 || (!this.pae && t >= 1048576) || (this.pae && t * 4096 >= (this.hiAddrMask + 1) * TWO32))
      return -1;
    this.phys.zeroFrame(t);
    return t;
  }

  /** Allocates the top table (PAE: the PDPT, with its four PDs). Returns its pfn, or -1. */
  newRoot(): Pfn | -1 {
    const root = this.pae ? this.alloc.allocFrame(this.levels - 1) : this.newTable(this.levels - 1);
    if (root === -1 || root >= 1048576) return -1; // CR3 holds 32 bits
    this.phys.zeroFrame(root);
    if (this.pae) {
      for (let i = 0; i < 4; i++) {
        const pd = this.newTable(1);
        if (pd === -1) return -1;
        this.write(
          physAddrUnchecked(pfnToPa(root) + 8 * i),
          Math.floor(pd / 1048576),
          ((pd % 1048576) * 4096 + Pte.P) >>> 0,
        );
      }
    }
    return root;
  }

  /** Walks from the root to the table of `level` on vpn's way, allocating with `create`. */
  private tableFor(
    rootPfn: Pfn,
    vpn: Vpn,
    level: number,
    create: boolean,
    user: boolean,
  ): PhysAddr | -1 | -2 {
    let tablePa = pfnToPa(rootPfn);
    for (let l = this.levels - 1; l > level; l--) {
      const entryPa = this.entryPaIn(tablePa, vpn, l);
      // as read() (high first), without an object per level: ensureTable is on every first-touch fault
      let hi = this.pae ? this.word(entryPa + 4) : 0;
      let lo = this.word(entryPa);
      if ((lo & Pte.P) === 0) {
        if (!create || (this.pae && l === 2)) return -1;
        const t = this.newTable(l - 1);
        if (t === -1) return -1;
        ({ hi, lo } = this.tableEntry(t, user));
        this.write(entryPa, hi, lo);
      } else if (this.isLarge(l, lo)) {
        return -2;
      } else if (create && user && (lo & Pte.US) === 0 && !(this.pae && l === 2)) {
        lo = (lo | Pte.US) >>> 0;
        this.write(entryPa, hi, lo);
      }
      tablePa = this.tableAddr(hi, lo);
    }
    return tablePa;
  }

  /** Maps the page of size `size` at vpn to pfn, allocating tables. Fails if anything is mapped there. */
  map(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: MapFlags): MapResult {
    assert(size === 0 || size === 1, "I386Mapper.map: size");
    const per = this.pagesPer[size];
    if (vpn % per !== 0 || pfn % per !== 0) return { ok: false, error: "misaligned" };
    const bits = size === 0 && !this.pae ? 32 : this.leafPhysBits;
    if (pfn < 0 || pfn * 4096 >= 2 ** bits) return { ok: false, error: "bad-frame" };
    const tablePa = this.tableFor(rootPfn, vpn, size, true, flags.user ?? false);
    if (tablePa === -2) return { ok: false, error: "huge-in-the-way" };
    if (tablePa === -1) return { ok: false, error: "no-memory" };
    const leafPa = this.entryPaIn(tablePa, vpn, size);
    if ((this.phys.read32(leafPa) & Pte.P) !== 0)
      return { ok: false, error: size > 0 ? "table-in-the-way" : "mapped" };
    const e = this.leafEntry(pfn, size, flags);
    this.write(leafPa, e.hi, e.lo);
    return { ok: true, flush: null };
  }

  ensureTable(rootPfn: Pfn, vpn: Vpn, level: number, user = false): Pfn | -1 {
    const t = this.tableFor(rootPfn, vpn, level, true, user);
    return t < 0 ? -1 : pfnUnchecked(t / 4096);
  }

  /** The leaf entry mapping vpn, by a software walk that reads the PDPT in memory (no A/D writes). */
  lookup(rootPfn: Pfn, vpn: Vpn): EntryRef | null {
    let tablePa = pfnToPa(rootPfn);
    for (let level = this.levels - 1; level >= 0; level--) {
      const entryPa = this.entryPaIn(tablePa, vpn, level);
      const { hi, lo } = this.read(entryPa);
      if ((lo & Pte.P) === 0) return null;
      if (level === 0 || this.isLarge(level, lo)) return { level, entryPa, hi, lo };
      tablePa = this.tableAddr(hi, lo);
    }
    return null;
  }

  entryAt(rootPfn: Pfn, vpn: Vpn, level: number): EntryRef | null {
    let tablePa = pfnToPa(rootPfn);
    for (let l = this.levels - 1; l >= level; l--) {
      const entryPa = this.entryPaIn(tablePa, vpn, l);
      const { hi, lo } = this.read(entryPa);
      if (l === level) return { level: l, entryPa, hi, lo };
      if ((lo & Pte.P) === 0 || this.isLarge(l, lo)) return null;
      tablePa = this.tableAddr(hi, lo);
    }
    return null;
  }
  entryPaAt(rootPfn: Pfn, vpn: Vpn, level: number): number {
    let tablePa = pfnToPa(rootPfn);
    for (let l = this.levels - 1; l >= level; l--) {
      const entryPa = this.entryPaIn(tablePa, vpn, l);
      if (l === level) return entryPa;
      // the halves as read() reads them (high first; outside RAM, the same stray reads), as numbers
      const hi = this.pae ? this.word(entryPa + 4) : 0;
      const lo = this.word(entryPa);
      if ((lo & Pte.P) === 0 || this.isLarge(l, lo)) return -1;
      tablePa = this.tableAddr(hi, lo);
    }
    return -1;
  }

  /** Clears the leaf mapping vpn (its first page). The caller must flush. */
  unmap(rootPfn: Pfn, vpn: Vpn): MapResult {
    const e = leafToChange(this, rootPfn, vpn, this.pagesPer);
    if ("error" in e) return e;
    this.write(e.entryPa, 0, 0);
    return { ok: true, flush: { vpn, size: e.level, required: true } };
  }

  /** map from the root and a software walk to the leaf (mapAtByWalk): the walk record is not used. */
  mapAt(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: MapFlags, _walk: WalkRecord): number {
    return mapAtByWalk(this, rootPfn, vpn, pfn, size, flags);
  }

  /** unmap's write once the leaf is found: an entry with P clear (4 or 8 bytes). */
  clearAt(entryPa: PhysAddr): void {
    this.write(entryPa, 0, 0);
  }

  /** Changes the rights and attributes of the leaf mapping vpn; the flush is required when a right goes. */
  protect(rootPfn: Pfn, vpn: Vpn, flags: MapFlags): MapResult {
    const e = leafToChange(this, rootPfn, vpn, this.pagesPer);
    if ("error" in e) return e;
    const next = this.leafEntry(this.leafPfn(e.hi, e.lo, e.level), e.level, {
      ...flags,
      accessed: flags.accessed ?? (e.lo & Pte.A) !== 0,
      dirty: flags.dirty ?? (e.lo & Pte.D) !== 0,
    });
    if (flags.user) this.tableFor(rootPfn, vpn, e.level, true, true);
    this.write(e.entryPa, next.hi, next.lo);
    const removed =
      ((e.lo & Pte.RW) !== 0 && (next.lo & Pte.RW) === 0) ||
      ((e.lo & Pte.US) !== 0 && (next.lo & Pte.US) === 0) ||
      ((e.hi & PteHi.XD) === 0 && (next.hi & PteHi.XD) !== 0) ||
      ((e.lo ^ next.lo) & (Pte.G | Pte.PWT | Pte.PCD)) !== 0;
    return { ok: true, flush: { vpn, size: e.level, required: removed } };
  }

  /** Writes raw entry halves at `level` on vpn's way (tests of reserved bits and stale TLB entries). */
  setLeafRaw(rootPfn: Pfn, vpn: Vpn, level: number, hi: number, lo: number): boolean {
    const e = this.entryAt(rootPfn, vpn, level);
    if (e === null) return false;
    this.write(e.entryPa, hi, lo);
    return true;
  }

  /** The leaf entry for a frame (4 MiB: PSE-36 bits for PA 32+; PAE: XD for nx). */
  leafEntry(pfn: Pfn, size: number, f: MapFlags): { hi: number; lo: number } {
    let lo: number;
    let hi = 0;
    if (this.pae) {
      lo = (pfn % 1048576) * 4096;
      hi = Math.floor(pfn / 1048576);
      if (f.nx) hi = (hi | PteHi.XD) >>> 0;
    } else if (size === 1) {
      lo = ((pfn % 1048576) * 4096 + ((Math.floor(pfn / 1048576) << PSE36_SHIFT) & this.pse36)) >>> 0;
    } else {
      lo = pfn * 4096;
    }
    lo += leafFlagBits(size, f);
    return { hi: hi >>> 0, lo: lo >>> 0 };
  }

  /** First frame of the page a leaf maps. */
  leafPfn(hi: number, lo: number, level: number): Pfn {
    if (!this.pae && level === 1)
      return pfnUnchecked(((lo & this.pse36) >>> PSE36_SHIFT) * 1048576 + ((lo & PDE4M_ADDR_LO) >>> 12));
    const addrLo =
      level === 0 ? (lo & Pte.ADDR_LO_MASK) >>> 0 : (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0;
    return pfnUnchecked(((hi & this.hiAddrMask) * TWO32 + addrLo) / 4096);
  }
}

export { BumpFrames } from "../../mmu/Mapper.ts";
