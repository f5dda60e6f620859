import { InputError } from "../../base/errors.ts";
import type { Pfn, Vpn } from "../../base/units.ts";
import { InvalidateHow, Meta, PAGES_PER, SIZE_NAMES, TlbArray, tlbInsertSerial } from "./TlbArray.ts";

/** The page sizes of an architecture, by size code (= leaf level): their names and base pages each. */
export interface TlbPageSizes {
  names: readonly string[];
  pagesPer: readonly number[];
  /**
   * The size code of a contiguous block of base pages (arm64 PTE_CONT: 64K
   * of 4K pages; Geometry.contSize), or absent / -1. An array that holds
   * base pages holds such a block as one entry unless its spec says
   * `contiguous: false`.
   */
  contSize?: number;
}

/** 4 KiB pages with 2 MiB and 1 GiB ones above them, as x86-64, ARM64 (4K granule) and RISC-V Sv39 have. */
export const DEFAULT_PAGE_SIZES: TlbPageSizes = { names: SIZE_NAMES, pagesPer: PAGES_PER };

/** One array of a TLB level, as configured. */
export interface TlbArraySpec {
  entries: number;
  ways: number;
  /**
   * page sizes held, by the architecture's names: "4K", "2M", "1G" on x86-64
   * (default: the base page only; larger pages are then fractured into base-page entries)
   */
  sizes?: string[];
  /** which accesses use it (default "unified") */
  kind?: "data" | "instr" | "unified";
  /**
   * An array that holds base pages holds a contiguous block (arm64 PTE_CONT,
   * Arm ARM D8.6.1) as one entry keyed by the block, as Arm's cores do
   * (Cortex-A76's L1 data TLB and L2 TLB hold 64K entries): default true on
   * an architecture that has the hint; false keeps a base-page piece per
   * page ("fractured", each dropped by an invalidation of any page of the
   * block).
   */
  contiguous?: boolean;
}

/** One level of the hierarchy (L1, L2, ...): looked up in parallel, all its arrays at once. */
export interface TlbLevelSpec {
  name: string;
  arrays: TlbArraySpec[];
}

export type TlbSpec = TlbLevelSpec[];

/**
 * Named TLB configurations. `skylake` follows Intel's optimisation manual
 * (Skylake client: L1 dTLB 64×4 for 4K, 32×4 for 2M, 4 for 1G; L1 iTLB 128×8
 * for 4K, 8 for 2M; STLB 1536×12 shared by 4K and 2M, 16×4 for 1G).
 * `vmref` is the C reference simulator's model (../shared/bench): unified
 * 64×4 then 1536×12, 4K entries only.
 */
export const TLB_PRESETS: Record<string, TlbSpec> = {
  skylake: [
    {
      name: "L1",
      arrays: [
        { entries: 64, ways: 4, sizes: ["4K"], kind: "data" },
        { entries: 32, ways: 4, sizes: ["2M"], kind: "data" },
        { entries: 4, ways: 4, sizes: ["1G"], kind: "data" },
        { entries: 128, ways: 8, sizes: ["4K"], kind: "instr" },
        { entries: 8, ways: 8, sizes: ["2M"], kind: "instr" },
      ],
    },
    {
      name: "L2",
      arrays: [
        { entries: 1536, ways: 12, sizes: ["4K", "2M"], kind: "unified" },
        { entries: 16, ways: 4, sizes: ["1G"], kind: "unified" },
      ],
    },
  ],
  vmref: [
    { name: "L1", arrays: [{ entries: 64, ways: 4 }] },
    { name: "L2", arrays: [{ entries: 1536, ways: 12 }] },
  ],
  tiny: [{ name: "L1", arrays: [{ entries: 8, ways: 2, sizes: ["4K", "2M", "1G"] }] }],
  none: [],
};

export const DEFAULT_TLB = "skylake";

/**
 * Parses a TLB description: a preset name, or levels separated by commas,
 * each `ENTRIESxWAYS` (a unified 4K array), e.g. `64x4,1536x12`.
 */
export function parseTlbSpec(text: string): TlbSpec {
  const preset = TLB_PRESETS[text];
  if (preset) return preset;
  const levels: TlbSpec = [];
  const parts = text.split(",");
  for (let i = 0; i < parts.length; i++) {
    const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(parts[i]);
    if (!m) {
      throw new InputError(
        `bad TLB spec '${text}': expected a preset (${Object.keys(TLB_PRESETS).join(", ")}) or levels like 64x4,1536x12`,
      );
    }
    levels.push({ name: `L${i + 1}`, arrays: [{ entries: Number(m[1]), ways: Number(m[2]) }] });
  }
  return levels;
}

/** Builds a TLB from a spec, or a preset name / spec string, for an architecture's page sizes. */
export function makeTlb(spec: TlbSpec | string, sizes: TlbPageSizes = DEFAULT_PAGE_SIZES): Tlb {
  return new Tlb(typeof spec === "string" ? parseTlbSpec(spec) : spec, sizes);
}

/**
 * A TLB hierarchy. Data accesses look up the arrays of kind data/unified,
 * instruction fetches those of kind instr/unified, level by level; a hit at
 * level k fills levels 0..k-1; a miss (then a walk) fills every level. Levels
 * are non-inclusive: evicting at one level never touches another.
 *
 * Spec: Intel SDM Vol. 3A §4.10.2 (TLBs), §4.10.4 (invalidation).
 */
export class Tlb {
  readonly levels: { name: string; arrays: TlbArray[] }[];
  /** every array of every level, in order (invalidatePage's loop) */
  private readonly allArrays: TlbArray[];
  /**
   * Bit i set while allArrays[i] holds an entry (TlbArray.attachOccupied keeps it; the first 31
   * arrays, all of any preset): invalidatePage visits those only. skylake's data path under 4K
   * pages fills two of its seven arrays; the other five (instruction TLBs, 2M and 1G arrays) cost
   * a visit each per INVLPG without it.
   */
  private readonly occupied = new Int32Array(1);
  /** arrays past the mask's 31 bits (a spec with more): invalidatePage visits every array */
  private readonly occupiedAll: boolean;
  /** arrays by level for data accesses */
  readonly dataPath: TlbArray[][];
  /** arrays by level for instruction fetches */
  readonly instrPath: TlbArray[][];
  readonly hits: Float64Array;
  readonly misses: Float64Array;
  /** After a successful lookup: the array and slot hit, and the level. */
  hitArray: TlbArray | null = null;
  hitSlot = -1;
  hitLevel = -1;

  constructor(
    readonly spec: TlbSpec,
    readonly sizes: TlbPageSizes = DEFAULT_PAGE_SIZES,
  ) {
    this.levels = spec.map((level) => ({
      name: level.name,
      arrays: level.arrays.map((a, ai) => {
        let mask = 0;
        for (const s of a.sizes ?? [sizes.names[0]]) {
          const code = sizes.names.indexOf(s);
          if (code < 0)
            throw new InputError(
              `TLB ${level.name}: unknown page size '${s}' (this machine has ${sizes.names.join(", ")})`,
            );
          mask |= 1 << code;
        }
        if (mask === 0) throw new InputError(`TLB ${level.name}: an array must hold at least one page size`);
        const cont = sizes.contSize ?? -1;
        if (cont >= 0 && (mask & 1) !== 0 && a.contiguous !== false) mask |= 1 << cont;
        const kind = a.kind ?? "unified";
        const kindMask = kind === "data" ? 1 : kind === "instr" ? 2 : kind === "unified" ? 3 : -1;
        if (kindMask < 0) throw new InputError(`TLB ${level.name}: unknown kind '${kind}'`);
        return new TlbArray(a.entries, a.ways, mask, kindMask, `${level.name}.${ai}`, sizes.pagesPer);
      }),
    }));
    this.allArrays = this.levels.flatMap((l) => l.arrays);
    this.occupiedAll = this.allArrays.length > 31;
    for (let i = 0; i < this.allArrays.length && i < 31; i++)
      this.allArrays[i].attachOccupied(this.occupied, 1 << i);
    this.dataPath = this.levels.map((l) => l.arrays.filter((a) => (a.kindMask & 1) !== 0));
    this.instrPath = this.levels.map((l) => l.arrays.filter((a) => (a.kindMask & 2) !== 0));
    this.hits = new Float64Array(this.levels.length);
    this.misses = new Float64Array(this.levels.length);
    const baseTargets = (path: TlbArray[][]) => {
      const out: TlbArray[] = [];
      for (let l = path.length - 1; l >= 0; l--) {
        const a = path[l].find((x) => (x.sizeMask & 1) !== 0);
        if (a !== undefined) out.push(a);
      }
      return out;
    };
    this.dataBase = baseTargets(this.dataPath);
    this.instrBase = baseTargets(this.instrPath);
    this.offData = this.allArrays.filter((a) => (a.kindMask & 1) === 0);
    this.offInstr = this.allArrays.filter((a) => (a.kindMask & 2) === 0);
    this.onData = this.allArrays.filter((a) => (a.kindMask & 1) !== 0);
    this.onInstr = this.allArrays.filter((a) => (a.kindMask & 2) !== 0);
  }

  /** invalidatePageMissed's arrays: those off the data (instruction) path, and those on it */
  private readonly offData: TlbArray[];
  private readonly offInstr: TlbArray[];
  private readonly onData: TlbArray[];
  private readonly onInstr: TlbArray[];

  /** each level's base-page array (insertAt's target for a 4K page), last level first: fill's order */
  private readonly dataBase: TlbArray[];
  private readonly instrBase: TlbArray[];

  /**
   * Looks vpn4k up for `pcid`, level by level. On a hit sets hitArray/hitSlot/
   * hitLevel, counts it, fills the levels above, and returns true. On a miss
   * at every level returns false (each level's miss counted). `missed`: an
   * array the caller probed for the same vpn4k and asid just before and
   * missed in (Mmu's first-level fast path), not probed a second time.
   */
  lookup(vpn4k: Vpn, asid: number, instr: boolean, missed: TlbArray | null = null): boolean {
    const path = instr ? this.instrPath : this.dataPath;
    for (let level = 0; level < path.length; level++) {
      const arrays = path[level];
      for (let a = 0; a < arrays.length; a++) {
        const arr = arrays[a];
        if (arr === missed) continue; // probed just before for the same vpn and asid: a miss changes nothing
        const slot = arr.lookup(vpn4k, asid);
        if (slot >= 0) {
          this.hits[level]++;
          this.hitArray = arr;
          this.hitSlot = slot;
          this.hitLevel = level;
          if (level > 0) this.promote(path, level, vpn4k, arr, slot);
          return true;
        }
      }
      this.misses[level]++;
    }
    return false;
  }

  /** the page, ASID and path (1 data, 2 instructions) of the last lookup Mmu.missAndFill saw end in a fault; -1: none */
  private missVpn = -1;
  private missAsid = -1;
  private missPath = 0;
  /** tlbInsertSerial() then */
  private missSerial = -1;
  /** whether lookups may use knownMiss (false: every lookup probes; tests) */
  useKnownMiss = true;
  /** lookups knownMiss answered (tests: that a scenario reached it) */
  knownMisses = 0;

  /**
   * A lookup of vpn4k for asid missed in every array of the path (instr: the instruction path) and
   * the walk after it faulted: until an entry is inserted anywhere, a lookup of the same page, ASID
   * and path misses again (only an insertion can make it hit). Mmu.missAndFill tells; knownMiss uses.
   */
  noteFaultMiss(vpn4k: Vpn, asid: number, instr: boolean): void {
    this.missVpn = vpn4k;
    this.missAsid = asid;
    this.missPath = instr ? 2 : 1;
    this.missSerial = tlbInsertSerial();
  }

  /**
   * Whether a lookup of vpn4k for asid on the path is the retry of the access whose lookup missed
   * everywhere before its fault (noteFaultMiss), nothing inserted since: then it misses in every
   * array again, and this counts its misses at every level as lookup would (true), once; else
   * nothing changes (false) and the caller looks up. Linux/SDM: nothing (a host shortcut: the
   * arrays' contents and every counter are what the lookups give).
   */
  knownMiss(vpn4k: Vpn, asid: number, instr: boolean): boolean {
    if (
      !this.useKnownMiss ||
      vpn4k !== this.missVpn ||
      asid !== this.missAsid ||
      this.missPath !== (instr ? 2 : 1) ||
      this.missSerial !== tlbInsertSerial()
    )
      return false;
    this.missVpn = -1;
    this.knownMisses++;
    const path = instr ? this.instrPath : this.dataPath;
    for (let level = 0; level < path.length; level++) this.misses[level]++;
    return true;
  }

  /**
   * A data-path (`instr`: instruction-path) lookup of vpn4k for asid that the caller knows misses in
   * every array (no entry covers the page: TlbArray.markCovered, src/hw/mmu/runFold.ts; or it probed
   * them all: machine mode's hit loop), without the probes: knownMiss's answer when it has one, else
   * each level's miss counted as lookup counts it. The arrays and every counter end as lookup leaves them
   * (a miss moves no way).
   */
  lookupMissed(vpn4k: Vpn, asid: number, instr = false): void {
    if (this.knownMiss(vpn4k, asid, instr)) return;
    const path = instr ? this.instrPath : this.dataPath;
    for (let level = 0; level < path.length; level++) this.misses[level]++;
  }

  /**
   * `faults` more data-path lookups that missed at every level before their walks faulted, and the
   * knownMiss answers of the `retries` retries after them (their misses counted by fillMissedRun),
   * the last fault's note taken by its retry: as lookup, noteFaultMiss and knownMiss leave it, page
   * by page (a run's demand-zero faults resolved at once: src/hw/mmu/runFold.ts RunFold.faultRun).
   */
  faultRunMissed(faults: number, retries: number): void {
    const path = this.dataPath;
    for (let level = 0; level < path.length; level++) this.misses[level] += faults;
    if (this.useKnownMiss) this.knownMisses += retries;
    this.missVpn = -1;
  }

  /** Copies a lower-level hit into the levels above it; the hit becomes the level-0 copy. */
  private promote(path: TlbArray[][], level: number, vpn4k: number, arr: TlbArray, slot: number): void {
    const meta = arr.metas[slot];
    const size = (meta >>> Meta.HELD_SIZE_SHIFT) & 7;
    const pfn = arr.pfns[slot];
    const attr = arr.attrs[slot];
    for (let l = level - 1; l >= 0; l--) this.insertAt(path[l], vpn4k, size, pfn, meta, attr);
  }

  /**
   * Installs a translation of a page of size `size` whose first frame is
   * `pfn` into every level (after a walk), or levels below `upto`.
   */
  fill(
    vpn4k: Vpn,
    size: number,
    pfn: Pfn,
    meta: number,
    instr: boolean,
    attr = 0,
    upto = this.levels.length,
  ): void {
    const path = instr ? this.instrPath : this.dataPath;
    for (let l = Math.min(upto, path.length) - 1; l >= 0; l--)
      this.insertAt(path[l], vpn4k, size, pfn, meta, attr);
  }

  /**
   * `fill` of a 4K page after a lookup that missed at every level for the
   * same vpn4k and the asid in `meta` (nothing changed the arrays since):
   * the same entries in the same order, each array's insert without the
   * search for an entry to replace (there is none: lookup would have hit
   * it).
   */
  fillMissed(vpn4k: Vpn, pfn: Pfn, meta: number, instr: boolean, attr = 0): void {
    const targets = instr ? this.instrBase : this.dataBase;
    for (let i = 0; i < targets.length; i++) targets[i].insertMissed(vpn4k, pfn, meta, attr);
  }

  /**
   * marks[vpn - first] = 1 for each page of first .. first + n - 1 an entry of an array on the data
   * (`instr`: instruction) path covers, whatever its ASID: a lookup of it might hit. A page left
   * unmarked misses in every array until it is inserted (TlbArray.markCovered). True when it marked
   * any page.
   */
  markCovered(first: number, n: number, marks: Uint8Array, instr: boolean): boolean {
    const path = instr ? this.instrPath : this.dataPath;
    let any = false;
    for (let l = 0; l < path.length; l++)
      for (let a = 0; a < path[l].length; a++) if (path[l][a].markCovered(first, n, marks)) any = true;
    return any;
  }

  /**
   * `count` lookups of the 4K pages vpn0, vpn0 + step, ... (step > 0), each missing at every level
   * (no entry covers any: markCovered), each followed by its fillMissed (page j's frame, meta and
   * attributes at index j of the arrays), in closed form: the misses of every level counted, each
   * base-page array by TlbArray.insertRun. `knownFirst`: the first page's misses were counted
   * already (knownMiss answered its lookup). For batches of walks or faults of distinct pages
   * (Mmu.accessRun's fold, src/hw/mmu/runFold.ts); the arrays and counters end as the lookups and
   * fills one by one leave them. `metaOr`, `attrOr`: the OR of the run's metas and attrs
   * (TlbArray.insertRun), when the caller has them.
   */
  fillMissedRun(
    vpn0: number,
    step: number,
    count: number,
    pfns: Float64Array,
    metas: Int32Array,
    attrs: Int32Array,
    instr: boolean,
    knownFirst: boolean,
    metaOr = runOr(metas, count),
    attrOr = runOr(attrs, count),
  ): void {
    const path = instr ? this.instrPath : this.dataPath;
    const lookups = knownFirst ? count - 1 : count;
    for (let level = 0; level < path.length; level++) this.misses[level] += lookups;
    const targets = instr ? this.instrBase : this.dataBase;
    for (let i = 0; i < targets.length; i++)
      targets[i].insertRun(vpn0, step, count, pfns, metas, attrs, metaOr, attrOr);
  }

  /** Whether a fill of a 4K page on the path inserts anywhere (fillMissedRun moves the insert serial). */
  fillsBase(instr: boolean): boolean {
    return (instr ? this.instrBase : this.dataBase).length > 0;
  }

  private insertAt(
    arrays: TlbArray[],
    vpn4k: number,
    size: number,
    pfn: number,
    meta: number,
    attr: number,
  ): void {
    // prefer an array holding the page's own size; else fracture into a 4K array
    let target: TlbArray | null = null;
    for (let i = 0; i < arrays.length; i++) {
      if ((arrays[i].sizeMask & (1 << size)) !== 0) {
        target = arrays[i];
        break;
      }
    }
    // a promoted fractured entry keeps the size of the page it came from
    const src = meta | (size << Meta.SRC_SIZE_SHIFT);
    if (target !== null) {
      target.insert(vpn4k, size, pfn, src, attr);
      return;
    }
    for (let i = 0; i < arrays.length; i++) {
      if ((arrays[i].sizeMask & 1) !== 0) {
        // fractured: the base-page piece of the large page that holds vpn4k
        arrays[i].insert(vpn4k, 0, pfn + (vpn4k % this.sizes.pagesPer[size]), src, attr);
        return;
      }
    }
  }

  /** Invalidates the page containing vpn4k in every array. */
  invalidatePage(vpn4k: Vpn, asid: number, how: InvalidateHow): number {
    if (this.occupiedAll) return this.invalidatePageEvery(vpn4k, asid, how);
    let n = 0;
    const arrays = this.allArrays; // INVLPG on every page reclaimed, on every CPU: no iterators
    // an array that holds nothing (an instruction TLB, a 2M or 1G array under 4K pages) is not
    // visited (its bit of `occupied` is 0), and one of base pages only (TlbArray.baseOnly) has its
    // one set looked at here, without the general invalidatePage's call; the arrays are apart (one
    // array's invalidation changes no other), so the order of the visits changes nothing
    for (let m = this.occupied[0]; m !== 0; m &= m - 1) {
      const a = arrays[31 - Math.clz32(m & -m)];
      n += a.baseOnly ? a.invalidateBasePage(vpn4k, asid, how) : a.invalidatePage(vpn4k, asid, how);
    }
    return n;
  }

  /**
   * invalidatePage of a TLB of more arrays than `occupied` has bits: every array that holds
   * entries looked at (apart, so that invalidatePage stays small for its callers to inline).
   */
  private invalidatePageEvery(vpn4k: Vpn, asid: number, how: InvalidateHow): number {
    let n = 0;
    const arrays = this.allArrays;
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i];
      if (a.valid !== 0) n += a.invalidatePage(vpn4k, asid, how);
    }
    return n;
  }

  /**
   * invalidatePage(vpn4k, asid, PcidAndGlobal) right after a lookup of vpn4k
   * for asid missed in every array of the data (or, `instr`, instruction)
   * path, nothing changed since: the x86 page fault's invalidation of a walk
   * that followed a miss (SDM §4.10.4.1). The arrays that lookup probed hold
   * no entry of the page for asid nor a global one (lookup's match is the
   * invalidation's), so only the pieces of a fractured large page could go:
   * an array that holds none is skipped. Drops what invalidatePage drops.
   */
  invalidatePageMissed(vpn4k: Vpn, asid: number, instr: boolean): number {
    let n = 0;
    // the arrays off the path, each as invalidatePage does it (an empty one is not called)
    const off = instr ? this.offInstr : this.offData;
    for (let i = 0; i < off.length; i++)
      if (off[i].valid !== 0) n += off[i].invalidatePage(vpn4k, asid, InvalidateHow.PcidAndGlobal);
    // those on it were probed and missed: only the pieces of a fractured large page could go
    const on = instr ? this.onInstr : this.onData;
    for (let i = 0; i < on.length; i++)
      if (on[i].mayHoldPieces) n += on[i].invalidatePage(vpn4k, asid, InvalidateHow.PcidAndGlobal);
    return n;
  }

  /**
   * invalidatePageMissed of the data path for each of `count` pages vpn0, vpn0 + step, ... (x86's
   * page faults after walks that followed misses, RunFold.faultRun): an array the page-by-page
   * calls skip (empty, or on the path without pieces of a large page) is skipped once here. Drops
   * what they drop (an array's pages apart: a page's invalidation changes no other's entries).
   */
  invalidatePagesMissed(vpn0: number, step: number, count: number, asid: number): number {
    let n = 0;
    const off = this.offData;
    for (let i = 0; i < off.length; i++)
      for (let j = 0; j < count && off[i].valid !== 0; j++)
        n += off[i].invalidatePage(vpn0 + j * step, asid, InvalidateHow.PcidAndGlobal);
    const on = this.onData;
    for (let i = 0; i < on.length; i++)
      for (let j = 0; j < count && on[i].mayHoldPieces; j++)
        n += on[i].invalidatePage(vpn0 + j * step, asid, InvalidateHow.PcidAndGlobal);
    return n;
  }

  /** Invalidates all matching entries in every array. */
  invalidateAll(asid: number, how: InvalidateHow): number {
    let n = 0;
    for (const l of this.levels) for (const a of l.arrays) n += a.invalidateAll(asid, how);
    return n;
  }

  resetStats(): void {
    this.hits.fill(0);
    this.misses.fill(0);
  }
}

/** The OR of a[0..n): TlbArray.insertRun's metaOr or attrOr, where a caller has not got them. */
export function runOr(a: Int32Array, n: number): number {
  let or = 0;
  for (let j = 0; j < n; j++) or |= a[j];
  return or;
}
