/**
 * Machine mode's page tables (machineMode.ts): the demand pager's side of a fault and of an
 * eviction, and the faulting access's retry.
 *
 * - map: the leaf written where the faulting walk stopped, the tables below that entry made
 *   (PageTableMapper.mapAt; Linux's __handle_mm_fault allocates them on its walk from the PGD,
 *   then do_anonymous_page or do_swap_page's set_pte_at), the leaf entry's address kept per frame;
 * - clear: an evicted frame's leaf cleared at that address (try_to_unmap_one's ptep_clear_flush,
 *   whose flush the caller does: the architecture's flushPage);
 * - retry: the faulting access again, as hardware retries it. Every leaf the pager writes has the
 *   same rights and flags (present, user, writable, accessed, dirty) and every table entry is the
 *   mapper's, alike: each retry misses in the TLB at every level as its faulting lookup did (no
 *   insertion between: Tlb.knownMiss, which counts those misses) and walks every level to the new
 *   leaf with nothing to write back. Once a retry walked in full showed that (one walk,
 *   `walkLevels` references, no accessed/dirty write, the new frame), later retries are counted
 *   as such a walk and fill the TLB as it does (Tlb.fillMissed) with its metadata and
 *   attributes, without the lookups and the walk: a host shortcut (the SDM and Linux have nothing
 *   like it), off with `shortcuts: false`, whose figures it must give (machineMode.test.ts);
 * - the leaf tables remembered: a faulting walk that ended at a leaf table leaves the entries it
 *   read above it here (by the leaf table, direct-mapped), and a later access under that table that
 *   missed every TLB array starts its walk there (Mmu.missAtLeaf): a not-present leaf ends it as the
 *   whole walk would, without reading the levels above again. Only the pager writes these tables,
 *   and only entries that are not present (mapAt makes tables below such an entry, then the leaf;
 *   clear zeroes a leaf), with A set: an entry a walk read on its way down stays as it read it.
 *   A host shortcut too (Linux and the SDM have nothing like it), off with `shortcuts: false`.
 *
 * Hot path: numbers and typed arrays only.
 */
import { InputError } from "../../base/errors.ts";
import {
  type Pfn,
  type PhysAddr,
  pfnUnchecked,
  physAddrUnchecked,
  toPfn,
  type Vpn,
  vpnUnchecked,
} from "../../base/units.ts";
import { Access } from "../../hw/access.ts";
import type { BumpFrames, MapFlags, PageTableMapper } from "../../hw/mmu/Mapper.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import type { Tlb } from "../../hw/mmu/Tlb.ts";
import type { TlbArray } from "../../hw/mmu/TlbArray.ts";

/** How the demand pager maps a page: present, user, writable, accessed and dirty (as vmref's pager does). */
const USER_PAGE: MapFlags = { writable: true, user: true, accessed: true, dirty: true };

const TWO32 = 4294967296;

/** leaf tables remembered (touchMissed), by the low bits of vpn / 512 */
const LEAF_SLOTS = 4096;

export class PagerTables {
  readonly root: Pfn;
  /** entries a complete walk reads */
  readonly walkLevels: number;
  /** per frame: the physical address of the leaf entry mapping it (mapAt's) */
  private readonly leafPa: Float64Array;
  /** the TLB metadata and attributes every retry's walk gives, learnt from a full one; -1: not yet */
  private retryMeta = -1;
  private retryAttrs = 0;
  /** retries done without their lookups and walk (tests: that the shortcut ran) */
  shortRetries = 0;
  /** touches done without their lookups (touchMissed; tests) */
  missedTouches = 0;
  /** touches whose walk started at a remembered leaf table (tests: that it ran) */
  leafTouches = 0;
  /** whether touchMissed starts walks at remembered leaf tables (false: from the top; tests) */
  useLeaves = true;
  /**
   * The leaf tables remembered: per slot, vpn / 512 of the pages under it (-1: none), its address,
   * and the `above` entries a walk reads before it (the walk record's level, index, address, halves).
   */
  private readonly leafKey = new Float64Array(LEAF_SLOTS).fill(-1);
  private readonly leafPaOf = new Float64Array(LEAF_SLOTS);
  private readonly above: number;
  private readonly upLevel: Int32Array;
  private readonly upIndex: Int32Array;
  private readonly upPa: Float64Array;
  private readonly upHi: Uint32Array;
  private readonly upLo: Uint32Array;

  constructor(
    private readonly cpu: Mmu,
    private readonly mapper: PageTableMapper,
    readonly tables: BumpFrames,
    frames: number,
    /** the page-table level of the pager's leaves (0: 4K pages, 1: 2M) */
    private readonly leafLevel: number,
    /** whether retries may be shortcut: 4K leaves, nothing between the CPU and memory, shortcuts on */
    private readonly learn: boolean,
  ) {
    this.root = toPfn(mapper.newRoot()); // (the caller gives table frames: never -1 here)
    this.walkLevels = mapper.levels - leafLevel;
    this.leafPa = new Float64Array(frames);
    this.above = this.walkLevels - 1;
    const up = learn ? LEAF_SLOTS * this.above : 0;
    this.upLevel = new Int32Array(up);
    this.upIndex = new Int32Array(up);
    this.upPa = new Float64Array(up);
    this.upHi = new Uint32Array(up);
    this.upLo = new Uint32Array(up);
  }

  /** Maps `page` (its first 4K page number) to frame f (`pfn`, its first 4K frame) after the fault in cpu.walkRec. */
  map(f: number, page: number, pfn: number): void {
    const rec = this.cpu.walkRec;
    const n = this.above;
    // a faulting walk that read every level down to a not-present leaf (8-byte entries: the leaf table's
    // entry page % 512): its leaf table and the entries above it, remembered (touchMissed)
    if (
      this.learn &&
      this.leafKey[(page >>> 9) & (LEAF_SLOTS - 1)] !== Math.floor(page / 512) &&
      rec.count === n + 1 &&
      rec.faultLevel === 0 &&
      rec.level[n] === 0 &&
      rec.pscLevel === -1 &&
      rec.index[n] === (page & 511) &&
      rec.entryPa[n] - Math.floor(rec.entryPa[n] / 4096) * 4096 === (page & 511) * 8
    ) {
      const s = (page >>> 9) & (LEAF_SLOTS - 1);
      this.leafKey[s] = Math.floor(page / 512);
      this.leafPaOf[s] = rec.entryPa[n] - (page & 511) * 8;
      for (let k = 0; k < n; k++) {
        this.upLevel[s * n + k] = rec.level[k];
        this.upIndex[s * n + k] = rec.index[k];
        this.upPa[s * n + k] = rec.entryPa[k];
        this.upHi[s * n + k] = rec.hi[k];
        this.upLo[s * n + k] = rec.lo[k];
      }
    }
    const leaf = this.mapper.mapAt(
      this.root,
      vpnUnchecked(page),
      pfnUnchecked(pfn),
      this.leafLevel,
      USER_PAGE,
      this.cpu.walkRec,
    );
    if (leaf < 0)
      throw new InputError("machine mode: out of page-table frames (more than 4 GiB of page tables)");
    this.leafPa[f] = leaf;
  }

  /** Clears frame f's leaf entry (the caller flushes the page). */
  clear(f: number): void {
    this.mapper.clearAt(physAddrUnchecked(this.leafPa[f]));
  }

  /**
   * cpu.touch of an access whose lookup missed every TLB array of its path, which the caller probed
   * (machine mode's hit loop; nothing traces or observes, the paths are those arrays alone), without
   * the probes: the misses counted as Tlb.lookup counts them, then the walk (Mmu.missAndFill). A host
   * shortcut (the SDM has nothing like it); the figures are touch's (machineMode.test.ts).
   */
  touchMissed(vaHi: number, vaLo: number, access: Access): number {
    const cpu = this.cpu;
    // (a trace's address, below 2^47: the same page for every kind of access on every machine arch)
    const vpn = cpu.pageNumber(vaHi, vaLo) as Vpn;
    if (vpn < 0 || cpu.tracer !== null || cpu.observer !== null) return cpu.touch(vaHi, vaLo, access);
    this.missedTouches++;
    cpu.translations++;
    cpu.tlb.lookupMissed(vpn, cpu.asid, access === Access.Exec);
    const s = (vpn >>> 9) & (LEAF_SLOTS - 1);
    let out: number;
    if (this.learn && this.useLeaves && this.leafKey[s] === Math.floor(vpn / 512)) {
      // the walk from the remembered leaf table: the entries above it into the record, as the walk reads them
      this.leafTouches++;
      const rec = cpu.walkRec;
      const n = this.above;
      for (let k = 0; k < n; k++) {
        rec.level[k] = this.upLevel[s * n + k];
        rec.index[k] = this.upIndex[s * n + k];
        rec.entryPa[k] = this.upPa[s * n + k];
        rec.hi[k] = this.upHi[s * n + k];
        rec.lo[k] = this.upLo[s * n + k];
      }
      out = cpu.missAtLeaf(vaHi, vaLo, vpn, access, this.leafPaOf[s] + (vpn & 511) * 8, n);
    } else out = cpu.missAndFill(vaHi, vaLo, vpn, access, cpu.currentMode());
    if (out === 0) cpu.mem.touch(cpu.pa, access, vaHi, vaLo);
    return out;
  }

  /** The retry of the access (vaHi:vaLo, page vpn) whose fault mapped frame f (4K pages when shortcut); the frame. */
  retry(vaHi: number, vaLo: number, access: Access, vpn: number, f: number): number {
    const cpu = this.cpu;
    const tlb = cpu.tlb;
    const exec = access === Access.Exec;
    if (
      this.retryMeta >= 0 &&
      cpu.tracer === null &&
      cpu.observer === null &&
      tlb.knownMiss(vpnUnchecked(vpn), cpu.asid, exec)
    ) {
      this.shortRetries++;
      cpu.translations++;
      cpu.walks++;
      cpu.walkRefs += this.walkLevels;
      tlb.fillMissed(vpnUnchecked(vpn), pfnUnchecked(f), this.retryMeta, exec, this.retryAttrs);
      cpu.pa = (f * 4096 + (vaLo & 4095)) as PhysAddr;
      return f;
    }
    const walks = cpu.walks;
    const refs = cpu.walkRefs;
    const writes = cpu.adWrites;
    if (cpu.touch(vaHi, vaLo, access) !== 0)
      throw new Error(`machine mode: the access at 0x${(vaHi * TWO32 + vaLo).toString(16)} faults again`);
    const rec = cpu.walkRec;
    if (
      this.learn &&
      cpu.walks === walks + 1 &&
      cpu.walkRefs === refs + this.walkLevels &&
      cpu.adWrites === writes &&
      rec.size === 0 &&
      rec.pagePfn === f
    ) {
      this.retryMeta = rec.meta;
      this.retryAttrs = rec.attrs;
    }
    return (cpu.pa / 4096) | 0;
  }
}

/**
 * Whether each side's TLB path is its first-level 4K array (l1d, l1i) then its second-level array
 * (l2d, l2i) and nothing else: machine mode's hit loop then probes every array of the path, and a miss
 * of both is a miss everywhere (PagerTables.touchMissed).
 */
export function pathsOfTwo(
  tlb: Tlb,
  l1d: TlbArray | undefined,
  l1i: TlbArray | undefined,
  l2d: TlbArray | null,
  l2i: TlbArray | null,
): boolean {
  const alone = (path: TlbArray[][], l1: TlbArray | undefined, l2: TlbArray | null) =>
    l2 !== null && path.length === 2 && path[0].length === 1 && path[0][0] === l1 && path[1].length === 1;
  return alone(tlb.dataPath, l1d, l2d) && alone(tlb.instrPath, l1i, l2i);
}
