/**
 * The data caches of a machine, one per CPU, and what they share: the age
 * of every physical byte's last write (to tell a stale read), the snoops
 * between the CPUs' caches, and the kernel's direct accesses to frames.
 *
 * Ages. A write clock (`seq`) ticks at every store through a cache and every
 * direct write by the kernel. For each physical byte of a frame a cache has
 * held, two ages are kept: of the data memory holds, and of the last write
 * anywhere (`latest`). A line byte carries the age of its data; a load that
 * returns a byte older than `latest` is stale (cache.stale_reads). Frames no
 * cache has held are not tracked (no line can hold them, so nothing can be
 * stale): a machine pays for the ages of what its caches touched, 8 bytes a
 * byte.
 *
 * Between CPUs. The caches keep each other coherent by the physical line,
 * as MESI-style hardware does: a store drops the other CPUs' copies (written
 * back first if dirty), a fill first writes back another CPU's dirty copy.
 * The aliasing problems modelled are those inside one CPU's cache, which no
 * hardware protocol fixes: synonyms and homonyms.
 *
 * The kernel's direct accesses (PhysMem.snoop): clearing, copying and
 * filling frames, and page-table writes, go to memory through the kernel's
 * direct map, whose lines have the frame's own colour: those lines are
 * dropped (a write) or written back (a read), on every CPU, as the
 * architectures' copy_page/clear_page routines and a coherent PIPT cache
 * leave them. Lines of other colours are untouched: that is what the
 * kernel's flush_dcache_page and flush_cache_page are for.
 */
import type { Mmu } from "../mmu/Mmu.ts";
import { PAGE_SIZE, type PhysMem, type PhysSnoop } from "../PhysMem.ts";
import type { CacheSpec } from "./CacheSpec.ts";
import { type CacheShared, DataCache } from "./DataCache.ts";

export class CacheSystem implements PhysSnoop, CacheShared {
  readonly caches: DataCache[] = [];
  /** more than one CPU: snoop the others */
  multi = false;
  /** the write clock */
  seq = 0;
  /** per tracked frame: memory's ages [0, 4096), the last writes' ages [4096, 8192) */
  private readonly frames = new Map<number, Uint32Array>();
  private memoPfn = -1;
  private memo: Uint32Array | null = null;

  constructor(
    readonly spec: CacheSpec,
    readonly phys: PhysMem,
  ) {}

  /** Puts a cache in front of every CPU's memory port and listens to the kernel's direct accesses. */
  static install(spec: CacheSpec, phys: PhysMem, cpus: readonly Mmu[]): CacheSystem {
    const sys = new CacheSystem(spec, phys);
    for (const cpu of cpus) {
      const c = new DataCache(spec, phys, sys);
      sys.caches.push(c);
      cpu.mem = c;
    }
    sys.multi = cpus.length > 1;
    phys.snoop = sys;
    return sys;
  }

  // ---- ages: looked up at a fill (one Map lookup per new frame, then the memo); a line keeps its frame's ----

  private track(pa: number): Uint32Array {
    const pfn = Math.floor(pa / PAGE_SIZE);
    if (pfn === this.memoPfn) return this.memo!;
    let a = this.frames.get(pfn);
    if (a === undefined) {
      a = new Uint32Array(2 * PAGE_SIZE);
      this.frames.set(pfn, a);
    }
    this.memoPfn = pfn;
    this.memo = a;
    return a;
  }

  private tracked(pfn: number): Uint32Array | null {
    if (pfn === this.memoPfn) return this.memo;
    return this.frames.get(pfn) ?? null;
  }

  frameAges(pa: number): Uint32Array {
    return this.track(pa);
  }

  /** Another CPU's cache reads (fill) or writes physical line paL. */
  snoopPeers(from: DataCache, paL: number, write: boolean): void {
    for (let c = 0; c < this.caches.length; c++)
      if (this.caches[c] !== from) this.caches[c].snooped(paL, write);
  }

  // ---- the kernel's direct accesses (PhysSnoop) ----

  willWrite(pa: number, len: number, whole: boolean): void {
    const a = this.tracked(Math.floor(pa / PAGE_SIZE));
    if (a === null) return; // no cache ever held this frame
    const line = this.spec.lineBytes;
    const end = pa + len;
    for (let l = pa - (pa % line); l < end; l += line) {
      const covered = whole && l >= pa && l + line <= end;
      for (const c of this.caches) c.kernelAlias(l, true, covered);
    }
    const s = ++this.seq;
    const off = (pa >>> 0) & (PAGE_SIZE - 1);
    for (let k = 0; k < len && off + k < PAGE_SIZE; k++) {
      a[off + k] = s;
      a[PAGE_SIZE + off + k] = s;
    }
  }

  willRead(pa: number, len: number): void {
    if (this.tracked(Math.floor(pa / PAGE_SIZE)) === null) return;
    const line = this.spec.lineBytes;
    for (let l = pa - (pa % line); l < pa + len; l += line)
      for (const c of this.caches) c.kernelAlias(l, false, false);
  }

  // ---- counters, summed ----

  total(
    field: "hits" | "misses" | "staleReads" | "flushes" | "rangeFlushes" | "pageFlushes" | "writebacks",
  ): number {
    let n = 0;
    for (const c of this.caches) n += c[field];
    return n;
  }
}
