/**
 * Builds and edits Sv32/Sv39/Sv48/Sv57 page tables in simulated RAM, as Linux's
 * arch/riscv pgtable code does (pgd_alloc, __pte_alloc, set_pte_at,
 * ptep_get_and_clear) and xv6-riscv's kernel/vm.c (walk, mappages). Pages
 * are the Cpu's page numbers, VA[vaBits-1:12] (Cpu.ts). Pointers are plain
 * (V and the PPN only: D, A, U are reserved in them); leaves alone decide
 * the rights.
 *
 * How MapFlags become PTE bits:
 *
 *   (always)  V; R unless `readable: false` (an execute-only page)
 *   writable  W (W without R is reserved: `readable: false` with it is refused)
 *   user      U
 *   nx        X = 0 (else X = 1)
 *   global    G
 *   accessed  A (default 1: A = 0 is a page fault under Svade)
 *   dirty     D (default: = writable, as Linux's PAGE_KERNEL and its
 *             write faults set it; D = 0 makes a store fault under Svade)
 *   soft      RSW, bits 9:8 (0..3)
 *
 * plus the RISC-V-only `pbmt` (Svpbmt memory type, 0..2).
 *
 * With `levels` = 2 the tables are Sv32's: 1024 PTEs of 4 bytes, 10 bits of
 * VPN a level, 4 MiB megapages, frames below 2^22 (34-bit physical
 * addresses), no PBMT (refused: Svpbmt is RV64-only).
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
import { Pte, PteHi, ptePpn } from "./format.ts";

/** MapFlags with RISC-V's own controls. */
export interface RiscvMapFlags extends MapFlags {
  /** R (default true) */
  readable?: boolean;
  /** Svpbmt memory type: 0 PMA, 1 NC, 2 IO */
  pbmt?: number;
}

const TWO32 = 4294967296;
/**
 * 1 / the base pages under one entry of each level (512^-level, exact): a
 * page number's index at a level is a multiplication, a floor and a mask,
 * with no Math.pow and no division (vpns reach 2^45 under Sv57).
 */
const INV_SPAN = [1, 512 ** -1, 512 ** -2, 512 ** -3, 512 ** -4];
/** Sv32's: 1024^-level */
const INV_SPAN32 = [1, 1024 ** -1];

export class RiscvMapper extends Mapper8 implements PageTableMapper {
  private readonly pagesPer: number[];
  /** Sv32: 4-byte PTEs, 1024 a table */
  private readonly sv32: boolean;
  /** bytes of a PTE (8, Sv32 4), PTEs of a table less one (511, Sv32 1023) */
  private readonly eb: number;
  private readonly idxMask: number;
  private readonly invSpan: readonly number[];

  constructor(
    phys: PhysMem,
    alloc: FrameAllocator,
    /** levels of the tables: 2 (Sv32), 3 (Sv39), 4 (Sv48), 5 (Sv57) */
    readonly levels: 2 | 3 | 4 | 5 = 3,
  ) {
    super(phys, alloc);
    assert(levels === 2 || levels === 3 || levels === 4 || levels === 5, "RiscvMapper: levels");
    this.sv32 = levels === 2;
    this.eb = this.sv32 ? 4 : 8;
    this.idxMask = this.sv32 ? 1023 : 511;
    this.invSpan = this.sv32 ? INV_SPAN32 : INV_SPAN;
    this.pagesPer = Array.from({ length: levels }, (_, l) => (this.sv32 ? 1024 : 512) ** l);
  }

  /** VPN[level] of a page number (9 bits at every level; Sv32 10). */
  index(vpn: Vpn, level: number): number {
    return Math.floor(vpn * this.invSpan[level]) & this.idxMask;
  }

  protected override entryPaIn(tablePa: PhysAddr, vpn: Vpn, level: number): PhysAddr {
    return physAddrUnchecked(tablePa + this.index(vpn, level) * this.eb);
  }

  /** A PTE's halves (Sv32: one word, `hi` 0). */
  protected override read(entryPa: PhysAddr): { hi: number; lo: number } {
    return { lo: this.phys.read32(entryPa), hi: this.sv32 ? 0 : this.phys.read32(entryPa + 4) };
  }

  /** Stores a PTE (Sv32: its one word; `hi` must be 0). */
  private writePte(pa: number, hi: number, lo: number): void {
    if (this.sv32) this.phys.write32(pa, lo >>> 0);
    else this.phys.write64(pa, hi >>> 0, lo >>> 0);
  }

  override setEntryRaw(rootPfn: Pfn, vpn: Vpn, level: number, hi: number, lo: number): boolean {
    const e = this.entryAt(rootPfn, vpn, level);
    if (e === null) return false;
    this.writePte(e.entryPa, hi, lo);
    return true;
  }

  private static isPointer(lo: number): boolean {
    return (lo & (Pte.V | Pte.R | Pte.W | Pte.X)) === Pte.V;
  }

  private static isLeaf(lo: number): boolean {
    return (lo & Pte.V) !== 0 && (lo & (Pte.R | Pte.X)) !== 0;
  }

  /** Follows (or, with `create`, makes) the tables down to `level`; the table's address, or an error. */
  private tableAt(
    rootPfn: Pfn,
    vpn: Vpn,
    level: number,
    create: boolean,
  ): PhysAddr | "no-memory" | "huge-in-the-way" | "not-mapped" {
    let tablePa = pfnToPa(rootPfn);
    for (let l = this.levels - 1; l > level; l--) {
      const entryPa = this.entryPaIn(tablePa, vpn, l);
      // the halves as numbers, not an object per level (ensureTable is on every first-touch fault)
      let lo = entryHalf(this.phys, entryPa);
      let hi = this.sv32 ? 0 : entryHalf(this.phys, entryPa + 4);
      if ((lo & Pte.V) === 0) {
        if (!create) return "not-mapped";
        const t = this.alloc.allocFrame(l - 1);
        if (t === -1) return "no-memory";
        this.phys.zeroFrame(t);
        ({ hi, lo } = pointerPte(t));
        this.writePte(entryPa, hi, lo);
      } else if (!RiscvMapper.isPointer(lo)) return "huge-in-the-way";
      tablePa = pfnToPa(pfnUnchecked(ptePpn(hi, lo)));
    }
    return tablePa;
  }

  /**
   * Maps the page of leaf level `size` (0 = 4K, 1 = 2M megapage, 2 = 1G
   * gigapage, 3 = 512G terapage, 4 = 256T petapage) at vpn to pfn,
   * allocating tables. The PTE goes from invalid to valid, and still the
   * spec asks for an SFENCE.VMA (SFENCE.VMA orders the PTE store before
   * later implicit reads; a hart may have cached the invalid entry, unless
   * it has Svvptc): the returned flush is not `required`, since skipping it
   * costs at most a spurious page fault that the handler retries (Linux:
   * update_mmu_cache fences eagerly instead). vmlab's harts cache no V = 0
   * PTE, which the spec allows.
   */
  map(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: RiscvMapFlags): MapResult {
    assert(size >= 0 && size < this.levels, "RiscvMapper.map: size");
    if (vpn % this.pagesPer[size] !== 0 || pfn % this.pagesPer[size] !== 0)
      return { ok: false, error: "misaligned" };
    if (pfn < 0 || pfn >= 2 ** (this.sv32 ? 22 : 44)) return { ok: false, error: "bad-frame" };
    assert(!this.sv32 || !flags.pbmt, "RiscvMapper.map: Sv32 has no PBMT (Svpbmt is RV64-only)");
    const t = this.tableAt(rootPfn, vpn, size, true);
    if (typeof t === "string") return { ok: false, error: t === "not-mapped" ? "no-memory" : t };
    const leafPa = this.entryPaIn(t, vpn, size);
    if ((this.phys.read32(leafPa) & Pte.V) !== 0)
      return { ok: false, error: size > 0 ? "table-in-the-way" : "mapped" };
    const p = leafPte(pfn, flags);
    this.writePte(leafPa, p.hi, p.lo);
    return { ok: true, flush: { vpn, size, required: false } };
  }

  ensureTable(rootPfn: Pfn, vpn: Vpn, level: number, _user = false): Pfn | -1 {
    const t = this.tableAt(rootPfn, vpn, level, true);
    return typeof t === "string" ? -1 : paToPfn(t);
  }

  /** The leaf PTE mapping vpn (a software walk: nothing written), or null. */
  lookup(rootPfn: Pfn, vpn: Vpn): EntryRef | null {
    let tablePa = pfnToPa(rootPfn);
    for (let level = this.levels - 1; level >= 0; level--) {
      const entryPa = this.entryPaIn(tablePa, vpn, level);
      const { hi, lo } = this.read(entryPa);
      if (RiscvMapper.isLeaf(lo)) return { level, entryPa, hi, lo };
      if (!RiscvMapper.isPointer(lo) || level === 0) return null;
      tablePa = pfnToPa(pfnUnchecked(ptePpn(hi, lo)));
    }
    return null;
  }

  entryAt(rootPfn: Pfn, vpn: Vpn, level: number): EntryRef | null {
    if (level >= this.levels) return null;
    const t = this.tableAt(rootPfn, vpn, level, false);
    if (typeof t === "string") return null;
    const entryPa = this.entryPaIn(t, vpn, level);
    return { level, entryPa, ...this.read(entryPa) };
  }
  /**
   * The address of the PTE at `level` on the way to vpn, or -1 when the walk
   * stops above it (an invalid PTE or a leaf). tableAt's walk as numbers:
   * the kernel's fault path and rmap come here for every page (pmd_offset,
   * pte_offset_map), so each PTE is read as its two halves from the table's
   * frame words, as the MMU's walk reads it, with no object per level.
   */
  entryPaAt(rootPfn: Pfn, vpn: Vpn, level: number): number {
    if (level >= this.levels) return -1;
    let tablePa = pfnToPa(rootPfn) as number;
    for (let l = this.levels - 1; l > level; l--) {
      const entryPa = tablePa + (Math.floor(vpn * this.invSpan[l]) & this.idxMask) * this.eb;
      // both halves, as tableAt reads them (outside RAM: two stray reads; Sv32: one word)
      const lo = entryHalf(this.phys, entryPa);
      const hi = this.sv32 ? 0 : entryHalf(this.phys, entryPa + 4);
      if ((lo & (Pte.V | Pte.R | Pte.W | Pte.X)) !== Pte.V) return -1; // not valid, or a leaf
      tablePa = ptePpn(hi, lo) * 4096;
    }
    return tablePa + (Math.floor(vpn * this.invSpan[level]) & this.idxMask) * this.eb;
  }

  /** Clears the leaf PTE mapping vpn. The caller must SFENCE.VMA (va, or va and the ASID unless global). */
  unmap(rootPfn: Pfn, vpn: Vpn): MapResult {
    const e = leafToChange(this, rootPfn, vpn, this.pagesPer);
    if ("error" in e) return e;
    this.writePte(e.entryPa, 0, 0);
    return { ok: true, flush: { vpn, size: e.level, required: true } };
  }

  /** map from the root and a software walk to the leaf (mapAtByWalk): the walk record is not used. */
  mapAt(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: RiscvMapFlags, _walk: WalkRecord): number {
    return mapAtByWalk(this, rootPfn, vpn, pfn, size, flags);
  }

  /** unmap's write once the leaf is found: a PTE with V clear. */
  clearAt(entryPa: PhysAddr): void {
    this.writePte(entryPa, 0, 0);
  }

  /**
   * Changes the rights of the leaf PTE mapping vpn, frame kept, A and D kept
   * unless given. The fence is required when anything is taken away (R, W,
   * X, U, G or D lost, U or G gained, PBMT changed), optional when rights
   * are only added (a stale entry then faults at most once per address).
   */
  protect(rootPfn: Pfn, vpn: Vpn, flags: RiscvMapFlags): MapResult {
    const e = leafToChange(this, rootPfn, vpn, this.pagesPer);
    if ("error" in e) return e;
    const next = leafPte(pfnUnchecked(ptePpn(e.hi, e.lo)), {
      ...flags,
      accessed: flags.accessed ?? (e.lo & Pte.A) !== 0,
      dirty: flags.dirty ?? (e.lo & Pte.D) !== 0,
    });
    this.writePte(e.entryPa, next.hi, next.lo);
    const lost = (mask: number) => (e.lo & ~next.lo & mask) !== 0;
    const required =
      lost(Pte.R | Pte.W | Pte.X | Pte.D) ||
      ((e.lo ^ next.lo) & (Pte.U | Pte.G)) !== 0 ||
      ((e.hi ^ next.hi) & PteHi.PBMT_MASK) !== 0;
    return { ok: true, flush: { vpn, size: e.level, required } };
  }
}

/**
 * The 32-bit half of a PTE at `pa` (its low word at pa, its high one at
 * pa + 4) from its table's frame words, as the MMU's walk reads it; outside
 * RAM, read32's stray read.
 */
function entryHalf(phys: PhysMem, pa: number): number {
  const frame = Math.floor(pa / 4096);
  if (frame >= phys.nrFrames) return phys.read32(pa);
  const words = phys.frameWords(frame as Pfn);
  return words === null ? 0 : words[(pa - frame * 4096) >>> 2];
}

/** A pointer PTE to the table in frame t (V only: R = W = X = 0). */
export function pointerPte(t: number): { hi: number; lo: number } {
  return { hi: Math.floor(t / 4194304), lo: ((t % 4194304) * 1024 + Pte.V) >>> 0 };
}

/** A leaf PTE for a frame: halves ready to store. */
export function leafPte(pfn: number, f: RiscvMapFlags): { hi: number; lo: number } {
  const readable = f.readable ?? true;
  assert(readable || !f.writable, "leafPte: W without R is reserved");
  let lo = (pfn % 4194304) * 1024 + Pte.V;
  let hi = Math.floor(pfn / 4194304);
  if (readable) lo += Pte.R;
  if (f.writable) lo += Pte.W;
  if (!f.nx) lo += Pte.X;
  if (f.user) lo += Pte.U;
  if (f.global) lo += Pte.G;
  if (f.accessed ?? true) lo += Pte.A;
  if (f.dirty ?? f.writable ?? false) lo += Pte.D;
  if (f.soft) lo += (f.soft & 3) << Pte.RSW_SHIFT;
  if (f.pbmt) hi += (f.pbmt & 3) * 2 ** PteHi.PBMT_SHIFT;
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

/** The virtual-address halves of a page number of a `vaBits` MODE (sign-extended from bit vaBits-1; Sv32: none). */
export function vpnHalves(vpn: number, vaBits: 32 | 39 | 48 | 57): { hi: number; lo: number } {
  if (vaBits === 32) return { hi: 0, lo: (vpn * 4096) >>> 0 };
  const hiBits = Math.floor(vpn / 1048576); // VA[vaBits-1:32]
  const signBit = 2 ** (vaBits - 33);
  const hi = hiBits >= signBit ? hiBits + (TWO32 - 2 * signBit) : hiBits;
  return { hi: hi >>> 0, lo: ((vpn % 1048576) * 4096) >>> 0 };
}

export { BumpFrames } from "../../mmu/Mapper.ts";
