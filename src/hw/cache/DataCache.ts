/**
 * One CPU's L1 data cache: set-associative, true LRU, write-back and
 * write-allocate, as typed arrays. It is the CPU's MemoryPort
 * (mmu/memAccess.ts): every load8/store8/touch that translated reaches it
 * with both the physical and the virtual address, and it picks the set and
 * compares the tag by the kind's rule (CacheSpec.ts):
 *
 *   VIVT  set from the VA, tag = VA line (+ ASID with cache_asid=on)
 *   VIPT  set from the VA, tag = PA line
 *   PIPT  set from the PA, tag = PA line
 *
 * Each line holds its own copy of its bytes, written back to memory when it
 * is evicted or flushed. So two lines can hold one physical byte (a synonym:
 * two virtual addresses of one frame in different sets), and a store through
 * one is not seen by a load through the other until the first is written
 * back and the second refilled: the load returns stale data, which
 * `staleReads` counts by each byte's age (CacheSystem keeps the age of the
 * last write to every physical byte; a line byte remembers the age of the
 * data it holds).
 *
 * The line keeps the physical address it was filled from on every kind (for
 * VIVT that is the ARM926EJ-S's PA TAG RAM, used only for write-back): a
 * VIVT hit on a line of another address space (a homonym: the same VA,
 * another frame) returns that frame's bytes, and a store to it lands in that
 * frame when the line is written back.
 *
 * Hot path: numbers and typed arrays only; nothing is allocated per access.
 */
import type { Pfn, PhysAddr } from "../../base/units.ts";
import { Access } from "../access.ts";
import type { MemoryPort } from "../mmu/memAccess.ts";
import { PAGE_SIZE, type PhysMem } from "../PhysMem.ts";
import { type CacheSpec, cacheGeometry } from "./CacheSpec.ts";

/** Kinds as numbers for the hot path. */
export const enum Kind {
  Vivt = 0,
  Vipt = 1,
  Pipt = 2,
}

/** A line's context tag when it carries none (untagged VIVT, or a kernel address: global). */
const GLOBAL = -1;

/** What the caches of a machine share (CacheSystem.ts implements it): the ages, the snoops. */
export interface CacheShared {
  /** more than one CPU: snoop the others */
  readonly multi: boolean;
  /** the write clock: a store takes ++seq as its age */
  seq: number;
  /** the ages of frame pa's bytes: memory's at [0, 4096), the last writes' at [4096, 8192) */
  frameAges(pa: number): Uint32Array;
  snoopPeers(from: DataCache, paL: number, write: boolean): void;
}

/** The result of a lookup without side effects (explain). */
export interface CacheProbe {
  set: number;
  /** the way that would hit, or -1 (a miss: `victim` is the way a fill would take) */
  way: number;
  victim: number;
  /** the line that hits holds another frame's bytes (a VIVT homonym) */
  otherFrame: boolean;
  /** another line of this cache holds the same physical line (a synonym), with its set, or -1 */
  synonymSet: number;
  synonymDirty: boolean;
}

export class DataCache implements MemoryPort {
  readonly kind: Kind;
  readonly sets: number;
  readonly ways: number;
  readonly lineBytes: number;
  private readonly lineShift: number;
  private readonly lineMask: number;
  private readonly setMask: number;
  /** colours: how many sets one page-offset position can land in */
  readonly colours: number;
  /** sets a page's lines span within one colour (page size / line, at most `sets`) */
  private readonly pageSets: number;
  private readonly asidTagged: boolean;

  // ---- the lines, index set * ways + way ----
  readonly valid: Uint8Array;
  readonly dirty: Uint8Array;
  /** VIVT: the virtual line address, as high and low 32 bits */
  readonly vtagHi: Uint32Array;
  readonly vtagLo: Uint32Array;
  /** VIVT with cache_asid=on: the context the line belongs to (GLOBAL: none) */
  readonly ctx: Int32Array;
  /** the physical address of the line's first byte (every kind keeps it, for write-back) */
  readonly paLine: Float64Array;
  /** last use, for LRU */
  private readonly used: Float64Array;
  /** the bytes, and each byte's age (CacheSystem.seq of the write that produced it) */
  readonly data: Uint8Array;
  /** the same bytes as little-endian words, as PhysMem keeps them (for whole-line copies) */
  private readonly data32: Uint32Array;
  readonly age: Uint32Array;
  /** each line's frame's ages (CacheShared.frameAges), so that a hit looks nothing up */
  private readonly frameAges: (Uint32Array | null)[];
  private tick = 0;

  // ---- state software sets ----
  /** the context (ASID) new lines of user addresses are tagged with (VIVT, cache_asid=on) */
  context = 0;
  /** addresses at or above (globalHi, globalLo) are the kernel's: never context-tagged */
  globalHi = 0x80000000;
  globalLo = 0;

  // ---- counters ----
  hits = 0;
  misses = 0;
  staleReads = 0;
  /** whole-cache and per-context flushes; range and page flushes; lines written back */
  flushes = 0;
  rangeFlushes = 0;
  pageFlushes = 0;
  writebacks = 0;

  constructor(
    readonly spec: CacheSpec,
    private readonly phys: PhysMem,
    private readonly system: CacheShared,
  ) {
    const g = cacheGeometry(spec);
    this.kind = spec.kind === "vivt" ? Kind.Vivt : spec.kind === "vipt" ? Kind.Vipt : Kind.Pipt;
    this.sets = g.sets;
    this.ways = spec.ways;
    this.lineBytes = spec.lineBytes;
    this.lineShift = g.lineShift;
    this.lineMask = spec.lineBytes - 1;
    this.setMask = g.setMask;
    this.colours = g.colours;
    this.pageSets = Math.min(g.sets, PAGE_SIZE / spec.lineBytes);
    this.asidTagged = spec.asidTagged;
    const n = g.sets * spec.ways;
    this.valid = new Uint8Array(n);
    this.dirty = new Uint8Array(n);
    this.vtagHi = new Uint32Array(n);
    this.vtagLo = new Uint32Array(n);
    this.ctx = new Int32Array(n).fill(GLOBAL);
    this.paLine = new Float64Array(n);
    this.used = new Float64Array(n);
    this.data = new Uint8Array(n * spec.lineBytes);
    this.data32 = new Uint32Array(this.data.buffer);
    this.age = new Uint32Array(n * spec.lineBytes);
    this.frameAges = new Array<Uint32Array | null>(n).fill(null);
  }

  // =====================================================================
  // The memory port (hot path)
  // =====================================================================

  read8(pa: PhysAddr, vaHi: number, vaLo: number): number {
    const i = this.access(pa, vaHi, vaLo, false);
    const off = (pa >>> 0) & this.lineMask;
    const b = i * this.lineBytes + off;
    const paL = pa - off;
    // the bytes of another frame (VIVT homonym), or older than the last write to this byte
    if (
      this.paLine[i] !== paL ||
      this.age[b] < this.frameAges[i]![PAGE_SIZE + ((pa >>> 0) & (PAGE_SIZE - 1))]
    )
      this.staleReads++;
    return this.data[b];
  }

  write8(pa: PhysAddr, value: number, vaHi: number, vaLo: number): void {
    const i = this.access(pa, vaHi, vaLo, true);
    const off = (pa >>> 0) & this.lineMask;
    const b = i * this.lineBytes + off;
    this.data[b] = value;
    this.dirty[i] = 1;
    // the byte lands where the line writes back: its own frame, even when that is another's (homonym)
    const age = ++this.system.seq;
    this.age[b] = age;
    this.frameAges[i]![PAGE_SIZE + (((this.paLine[i] + off) >>> 0) & (PAGE_SIZE - 1))] = age;
  }

  touch(pa: PhysAddr, access: Access, vaHi: number, vaLo: number): void {
    const i = this.access(pa, vaHi, vaLo, access === Access.Write);
    if (access === Access.Write) this.dirty[i] = 1;
  }

  /** The set an access uses: from the VA (VIVT, VIPT) or the PA (PIPT). */
  setOf(pa: number, vaLo: number): number {
    return ((this.kind === Kind.Pipt ? pa >>> 0 : vaLo) >>> this.lineShift) & this.setMask;
  }

  /** Does line i answer for this access? */
  private matches(i: number, paL: number, vaHi: number, vLine: number): boolean {
    if (this.valid[i] === 0) return false;
    if (this.kind !== Kind.Vivt) return this.paLine[i] === paL;
    return (
      this.vtagLo[i] === vLine &&
      this.vtagHi[i] === vaHi &&
      (this.ctx[i] === GLOBAL || this.ctx[i] === this.context)
    );
  }

  /** Finds or fills the line for an access; returns its index. */
  private access(pa: number, vaHi: number, vaLo: number, write: boolean): number {
    const off = (pa >>> 0) & this.lineMask;
    const paL = pa - off;
    const vLine = (vaLo - (vaLo & this.lineMask)) >>> 0;
    const base = this.setOf(pa, vaLo) * this.ways;
    let hit = -1;
    for (let w = 0; w < this.ways; w++) {
      if (this.matches(base + w, paL, vaHi, vLine)) {
        hit = base + w;
        break;
      }
    }
    // another CPU's copy: written back before a fill, dropped before a store (write-invalidate)
    if (this.system.multi && (write || hit < 0)) this.system.snoopPeers(this, paL, write);
    if (hit >= 0) {
      this.hits++;
      this.used[hit] = ++this.tick;
      return hit;
    }
    this.misses++;
    return this.fill(base, paL, vaHi, vLine);
  }

  /** A miss: the LRU way of the set (an invalid one first) is written back if dirty, then filled. */
  private fill(base: number, paL: number, vaHi: number, vLine: number): number {
    let victim = base;
    for (let w = 0; w < this.ways; w++) {
      const i = base + w;
      if (this.valid[i] === 0) {
        victim = i;
        break;
      }
      if (this.used[i] < this.used[victim]) victim = i;
    }
    if (this.valid[victim] !== 0 && this.dirty[victim] !== 0) this.writeBack(victim);
    // the line from memory, word by word (little-endian words, as PhysMem and the host keep them)
    const b = victim * this.lineBytes;
    const off = (paL >>> 0) & (PAGE_SIZE - 1);
    const words = this.phys.frameWords(Math.floor(paL / PAGE_SIZE) as Pfn);
    if (!this.phys.inRange(paL)) this.data32.fill(0xffffffff, b >>> 2, (b + this.lineBytes) >>> 2);
    else if (words === null) this.data32.fill(0, b >>> 2, (b + this.lineBytes) >>> 2);
    else this.data32.set(words.subarray(off >>> 2, (off + this.lineBytes) >>> 2), b >>> 2);
    const ages = this.system.frameAges(paL);
    this.age.set(ages.subarray(off, off + this.lineBytes), b);
    this.frameAges[victim] = ages;
    this.valid[victim] = 1;
    this.dirty[victim] = 0;
    this.paLine[victim] = paL;
    this.vtagHi[victim] = vaHi;
    this.vtagLo[victim] = vLine;
    const global =
      !this.asidTagged || vaHi > this.globalHi || (vaHi === this.globalHi && vLine >= this.globalLo);
    this.ctx[victim] = global ? GLOBAL : this.context;
    this.used[victim] = ++this.tick;
    return victim;
  }

  /** Writes line i's bytes to memory (every byte: caches write back whole lines). It stays valid, now clean. */
  writeBack(i: number): void {
    const b = i * this.lineBytes;
    const paL = this.paLine[i];
    const off = (paL >>> 0) & (PAGE_SIZE - 1);
    this.dirty[i] = 0;
    this.writebacks++;
    if (!this.phys.inRange(paL)) {
      this.phys.strayAccesses++; // nothing behind the bus: the write is dropped
      return;
    }
    // the cache's own write, not the kernel's: straight into the frame (the snoop is not told)
    const words = this.phys.frameWordsForWrite(Math.floor(paL / PAGE_SIZE) as Pfn);
    words.set(this.data32.subarray(b >>> 2, (b + this.lineBytes) >>> 2), off >>> 2);
    const watch = this.phys.watch;
    if (watch !== null) for (let k = 0; k < this.lineBytes; k += 8) watch.wrote(paL + k);
    this.frameAges[i]!.set(this.age.subarray(b, b + this.lineBytes), off);
  }

  /** Clean and invalidate one line. */
  private flushLine(i: number): void {
    if (this.valid[i] === 0) return;
    if (this.dirty[i] !== 0) this.writeBack(i);
    this.valid[i] = 0;
  }

  // =====================================================================
  // Maintenance (what the kernel's cacheflush calls reach); not hot
  // =====================================================================

  /** Clean and invalidate the whole cache (ARM: MCR p15, 0, Rd, c7, c14, 0). Counted in `flushes`. */
  flushAll(): void {
    for (let i = 0; i < this.valid.length; i++) this.flushLine(i);
    this.flushes++;
  }

  /** Clean and invalidate the lines of one context (an ASID-tagged VIVT cache's per-mm flush). */
  flushContext(context: number): void {
    for (let i = 0; i < this.valid.length; i++) if (this.ctx[i] === context) this.flushLine(i);
    this.flushes++;
  }

  /**
   * Clean and invalidate the lines of user virtual pages [vpn, vpn + nr) of
   * `context` (VIVT: ARM's __cpuc_flush_user_range). As arm920's
   * flush_user_cache_range, a range of more than CACHE_DLIMIT (here: twice
   * the cache) flushes the whole cache instead. Returns true if it did.
   * Counted in `pageFlushes` when `page` (flush_cache_page), else in `rangeFlushes`.
   */
  flushVirtualRange(vpn: number, nr: number, context: number, page = false): boolean {
    if (nr * PAGE_SIZE > 2 * this.spec.sizeBytes) {
      this.flushAll();
      return true;
    }
    const first = vpn * PAGE_SIZE;
    const end = (vpn + nr) * PAGE_SIZE;
    for (let i = 0; i < this.valid.length; i++) {
      if (this.valid[i] === 0) continue;
      if (this.ctx[i] !== GLOBAL && this.ctx[i] !== context) continue;
      const va = this.vtagHi[i] * 4294967296 + this.vtagLo[i];
      if (va >= first && va < end) this.flushLine(i);
    }
    if (page) this.pageFlushes++;
    else this.rangeFlushes++;
    return false;
  }

  /**
   * Clean and invalidate the lines of frame pfn in the colour of user page
   * `vpn` (VIPT aliasing: flush_pfn_alias, which maps the frame at a
   * kernel address of that colour and cleans it by VA). All colours when
   * vpn is -1 (flush_dcache_page reaching every user alias). Counted in
   * `pageFlushes` unless `count` is false.
   */
  flushFrame(pfn: number, vpn: number, count = true): void {
    const first = pfn * PAGE_SIZE;
    const colourSets = this.pageSets;
    const colour = vpn < 0 ? -1 : vpn % this.colours;
    for (let i = 0; i < this.valid.length; i++) {
      if (this.valid[i] === 0) continue;
      const pa = this.paLine[i];
      if (pa < first || pa >= first + PAGE_SIZE) continue;
      if (colour >= 0 && Math.floor(Math.floor(i / this.ways) / colourSets) !== colour) continue;
      this.flushLine(i);
    }
    if (count) this.pageFlushes++;
  }

  /**
   * flush_cache_page for a user page leaving its frame, as the kind needs it
   * (arch/arm/mm/flush.c flush_cache_pages): VIVT, the page's lines by
   * virtual address; VIPT with colours, the frame's lines in the page's
   * colour (flush_pfn_alias); otherwise nothing. Returns whether it flushed.
   */
  flushUserPage(vpn: number, pfn: number, context: number): boolean {
    if (this.kind === Kind.Vivt) this.flushVirtualRange(vpn, 1, context, true);
    else if (this.kind === Kind.Vipt && this.colours > 1) this.flushFrame(pfn, vpn);
    else return false;
    return true;
  }

  // =====================================================================
  // Snooping (CacheSystem): another CPU's access, the kernel's direct access
  // =====================================================================

  /** Another CPU reads (write back our dirty copy) or writes (write back, then drop it) physical line paL. */
  snooped(paL: number, write: boolean): void {
    const inPage = ((paL >>> 0) >>> this.lineShift) & (this.pageSets - 1);
    const colours = this.kind === Kind.Pipt ? 1 : this.colours;
    const first = this.kind === Kind.Pipt ? this.setOf(paL, 0) : inPage;
    for (let c = 0; c < colours; c++) {
      const base = (first + c * this.pageSets) * this.ways;
      for (let w = 0; w < this.ways; w++) {
        const i = base + w;
        if (this.valid[i] === 0 || this.paLine[i] !== paL) continue;
        if (this.dirty[i] !== 0) this.writeBack(i);
        if (write) this.valid[i] = 0;
      }
    }
  }

  /**
   * The kernel touches physical line paL through its direct map, whose
   * address has the frame's own colour (PAGE_OFFSET is aligned far beyond
   * any way size): the lines of that colour are its alias. A write drops
   * them (`whole`: the kernel overwrites every byte, as clear_page and
   * copy_page do, so nothing is written back first); a read finds their
   * dirty bytes written back first.
   */
  kernelAlias(paL: number, write: boolean, whole: boolean): void {
    const base = this.setOf(paL, paL >>> 0) * this.ways;
    for (let w = 0; w < this.ways; w++) {
      const i = base + w;
      if (this.valid[i] === 0 || this.paLine[i] !== paL) continue;
      if (this.dirty[i] !== 0 && !(write && whole)) this.writeBack(i);
      if (write) this.valid[i] = 0;
    }
  }

  /** Where an access would go, without changing anything (explain). */
  probe(pa: number, vaHi: number, vaLo: number): CacheProbe {
    const off = (pa >>> 0) & this.lineMask;
    const paL = pa - off;
    const vLine = (vaLo - (vaLo & this.lineMask)) >>> 0;
    const set = this.setOf(pa, vaLo);
    const base = set * this.ways;
    let way = -1;
    let victim = -1;
    for (let w = 0; w < this.ways; w++) {
      if (way < 0 && this.matches(base + w, paL, vaHi, vLine)) way = w;
      if (victim < 0 && this.valid[base + w] === 0) victim = w;
    }
    if (victim < 0) {
      victim = 0;
      for (let w = 1; w < this.ways; w++) if (this.used[base + w] < this.used[base + victim]) victim = w;
    }
    let synonymSet = -1;
    let synonymDirty = false;
    for (let i = 0; i < this.valid.length; i++) {
      if (this.valid[i] === 0 || this.paLine[i] !== paL || i === base + way) continue;
      synonymSet = Math.floor(i / this.ways);
      synonymDirty = this.dirty[i] !== 0;
      break;
    }
    return {
      set,
      way,
      victim,
      otherFrame: way >= 0 && this.paLine[base + way] !== paL,
      synonymSet,
      synonymDirty,
    };
  }
}
