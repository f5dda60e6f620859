/**
 * Building and editing page tables in simulated RAM, as software does
 * (Linux: pgd_alloc, p?d_alloc, set_pte_at, ptep_get_and_clear,
 * change_protection; the x86_64 crate's Mapper trait). Each architecture's
 * Mapper implements PageTableMapper over its own entry format; tests, the
 * kernel and trace replay never assemble entry bytes by hand. Changes
 * return the TLB invalidation they require (`Flush`), which the caller must
 * pass on.
 *
 * Units are in the types (base/units.ts): tables and frames are `Pfn`s,
 * pages `Vpn`s (4K page numbers of the truncated linear address), entries
 * are found at a `PhysAddr`.
 */
import { type Pfn, type PhysAddr, pfnUnchecked, physAddrUnchecked, type Vpn } from "../../base/units.ts";
import type { PhysMem } from "../PhysMem.ts";
import type { WalkRecord } from "./WalkRecord.ts";

/**
 * Hands out zeroed frames for page tables. Returns a pfn, or -1 when none is
 * left. `level` is the level of the table asked for (0: a leaf table of 4K
 * entries; the root is levels - 1), for the kernel's accounting (Linux
 * counts PTE, PMD and PUD tables in NR_PAGETABLE, never a PGD or P4D).
 */
export interface FrameAllocator {
  allocFrame(level: number): Pfn | -1;
}

/**
 * Leaf permissions and attributes for `map` / `protect`. The first six are
 * every architecture's; the rest are x86's (others ignore them).
 */
export interface MapFlags {
  writable?: boolean;
  user?: boolean;
  /** execute-disable (XD, bit 63) */
  nx?: boolean;
  global?: boolean;
  /** protection key, 0..15 */
  pkey?: number;
  pwt?: boolean;
  pcd?: boolean;
  pat?: boolean;
  /** preset the accessed / dirty flags (Linux sets them when it knows the page will be used) */
  accessed?: boolean;
  dirty?: boolean;
  /** software bits 11..9 (0..7) */
  soft?: number;
}

/** What the caller must invalidate after a change (x86_64 crate: MapperFlush). */
export interface Flush {
  /** 4K page number of the first page of the changed mapping */
  vpn: Vpn;
  /** size code of the mapping: its leaf level (x86-64: 0 = 4K, 1 = 2M, 2 = 1G) */
  size: number;
  /**
   * false when skipping the flush is harmless (rights only added: at most
   * one spurious fault per address, SDM §4.10.4.3); true otherwise
   */
  required: boolean;
}

export type MapError =
  | "mapped"
  | "huge-in-the-way"
  | "table-in-the-way"
  | "misaligned"
  | "no-memory"
  | "not-mapped"
  | "bad-frame";

export type MapResult = { ok: true; flush: Flush | null } | { ok: false; error: MapError };

/** Where an entry for a page lives, found by a software walk (no A/D writes). */
export interface EntryRef {
  level: number;
  entryPa: PhysAddr;
  hi: number;
  lo: number;
}

/** A software view of one architecture's page tables: find, build, change entries. */
export interface PageTableMapper {
  /** levels of a full walk */
  readonly levels: number;
  /** Allocates and zeroes a top-level table. Returns its pfn, or -1. */
  newRoot(): Pfn | -1;
  /** Maps the page of leaf level `size` at vpn to pfn, allocating tables; fails if anything is mapped there. */
  map(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: MapFlags): MapResult;
  /** Makes sure the table at `level` on the way to vpn exists; its pfn, or -1 (no memory, a large page in the way). */
  ensureTable(rootPfn: Pfn, vpn: Vpn, level: number, user?: boolean): Pfn | -1;
  /** The leaf entry mapping vpn (a software walk: no accessed/dirty writes), or null. */
  lookup(rootPfn: Pfn, vpn: Vpn): EntryRef | null;
  /** The entry at `level` on the way to vpn (present or not), or null if the walk stops above it. */
  entryAt(rootPfn: Pfn, vpn: Vpn, level: number): EntryRef | null;
  /**
   * The physical address of that entry, or -1 where `entryAt` gives null: the same walk without
   * an object (the kernel's fault path and reverse map read the halves themselves).
   */
  entryPaAt(rootPfn: Pfn, vpn: Vpn, level: number): number;
  /** Clears the leaf mapping vpn (its first page). The caller must flush. */
  unmap(rootPfn: Pfn, vpn: Vpn): MapResult;
  /**
   * `map` of a page whose translation fault `walk` describes (a hardware walk of vpn from rootPfn's
   * table, nothing changed on its path since, ending at a not-present entry at or above leaf level
   * `size`), resumed where the walk stopped: the tables below that entry allocated, the leaf
   * written (Linux's __handle_mm_fault: p?d_alloc, pte_alloc and set_pte_at; Linux walks again
   * from the PGD, which reads the entries the hardware walk read). Returns the leaf entry's
   * physical address, or -1 when no frame was left for a table. A mapper may do it as `map`
   * followed by `entryPaAt` (mapAtByWalk); anything `map` refuses is a broken invariant.
   */
  mapAt(rootPfn: Pfn, vpn: Vpn, pfn: Pfn, size: number, flags: MapFlags, walk: WalkRecord): number;
  /**
   * Clears the leaf entry at entryPa, as `unmap` clears it once found (ptep_get_and_clear): the
   * caller found it before (mapAt's result) and no table on its path has gone. The caller must flush.
   */
  clearAt(entryPa: PhysAddr): void;
  /** Changes the rights and attributes of the leaf mapping vpn, frame kept. */
  protect(rootPfn: Pfn, vpn: Vpn, flags: MapFlags): MapResult;
}

/** mapAt as `map` from the root, then the leaf entry's address by a software walk (entryPaAt). */
export function mapAtByWalk(
  m: Pick<PageTableMapper, "map" | "entryPaAt">,
  rootPfn: Pfn,
  vpn: Vpn,
  pfn: Pfn,
  size: number,
  flags: MapFlags,
): number {
  const r = m.map(rootPfn, vpn, pfn, size, flags);
  if (!r.ok) {
    if (r.error === "no-memory") return -1;
    throw new Error(`mapAt: vpn 0x${vpn.toString(16)}: ${r.error}`);
  }
  return m.entryPaAt(rootPfn, vpn, size);
}

/** Hands out frames first..limit-1 in order (for tests, demos and images; the kernel has its buddy allocator). */
export class BumpFrames implements FrameAllocator {
  constructor(
    public next: number,
    readonly limit: number,
  ) {}

  allocFrame(_level = 0): Pfn | -1 {
    return this.next < this.limit ? pfnUnchecked(this.next++) : -1;
  }
}

/**
 * The leaf entry `unmap` and `protect` change: the one mapping vpn, which
 * must be its first page (`pagesPer[level]`: base pages per leaf at each
 * level). The entry, or the error to return.
 */
export function leafToChange(
  m: Pick<PageTableMapper, "lookup">,
  rootPfn: Pfn,
  vpn: Vpn,
  pagesPer: readonly number[],
): EntryRef | { ok: false; error: MapError } {
  const e = m.lookup(rootPfn, vpn);
  if (e === null) return { ok: false, error: "not-mapped" };
  if (vpn % pagesPer[e.level] !== 0) return { ok: false, error: "misaligned" };
  return e;
}

/**
 * What the mappers of 8-byte radix tables share (ARM64 VMSAv8-64, RISC-V
 * Sv39/48/57): a zeroed root, an entry's address in a table, an entry read
 * as its halves, and a raw write through `entryAt`. Each architecture
 * supplies the index of a page number at a level and the walk.
 */
export abstract class Mapper8 {
  constructor(
    readonly phys: PhysMem,
    readonly alloc: FrameAllocator,
  ) {}

  /** levels of a full walk (the root's is levels - 1) */
  abstract readonly levels: number;

  /** Allocates and zeroes a frame for the root table. */
  newRoot(): Pfn | -1 {
    const pfn = this.alloc.allocFrame(this.levels - 1);
    if (pfn !== -1) this.phys.zeroFrame(pfn);
    return pfn;
  }

  /** The index of `vpn` in a table of `level`. */
  abstract index(vpn: Vpn, level: number): number;
  abstract entryAt(rootPfn: Pfn, vpn: Vpn, level: number): EntryRef | null;
  abstract entryPaAt(rootPfn: Pfn, vpn: Vpn, level: number): number;

  protected entryPaIn(tablePa: PhysAddr, vpn: Vpn, level: number): PhysAddr {
    return physAddrUnchecked(tablePa + this.index(vpn, level) * 8);
  }

  protected read(entryPa: PhysAddr): { hi: number; lo: number } {
    return { lo: this.phys.read32(entryPa), hi: this.phys.read32(entryPa + 4) };
  }

  /** Writes a raw entry at `level` for vpn (tests of stale TLB entries, reserved encodings); false with no table there. */
  setEntryRaw(rootPfn: Pfn, vpn: Vpn, level: number, hi: number, lo: number): boolean {
    const e = this.entryAt(rootPfn, vpn, level);
    if (e === null) return false;
    this.phys.write64(e.entryPa, hi >>> 0, lo >>> 0);
    return true;
  }
}
