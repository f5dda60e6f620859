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
 *   like it), off with `shortcuts: false`, whose figures it must give (machineMode.test.ts).
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
  }

  /** Maps `page` (its first 4K page number) to frame f (`pfn`, its first 4K frame) after the fault in cpu.walkRec. */
  map(f: number, page: number, pfn: number): void {
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
    const out = cpu.missAndFill(vaHi, vaLo, vpn, access, cpu.currentMode());
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
