/**
 * The kernel's cache-maintenance interface (Linux: include/linux/cacheflush.h,
 * Documentation/core-api/cachetlb.rst), called where Linux calls it, beside
 * the TLB flushes of the same changes:
 *
 *   flush_cache_mm        exit_mmap (mm/mmap.c)
 *   flush_cache_dup_mm    dup_mmap, before the parent's PTEs are write-protected (kernel/fork.c)
 *   flush_cache_range     tlb_start_vma (include/asm-generic/tlb.h): every zap
 *                         (unmap_page_range: munmap, MADV_DONTNEED, guard install),
 *                         mprotect, MADV_FREE; move_page_tables: mremap (mm/mremap.c)
 *   flush_cache_page      wp_page_copy: COW, after the copy (mm/memory.c); try_to_unmap_one:
 *                         reclaim (mm/rmap.c)
 *   copy_user_highpage    the copy's own cache work (arch/arm/mm/copypage-*.c): VIVT, one more
 *                         flush_cache_page before it
 *   flush_dcache_page     the kernel wrote a page-cache page a user may map (generic_perform_write)
 *   switch_mm             an untagged VIVT cache is flushed whole (cpu_arm926_switch_mm)
 *
 * The cache is a machine option (`cache=`), not an `arch=`, so its
 * cacheflush.h is this one file, choosing by the kind as arch/arm/mm/flush.c
 * chooses by cache_is_vivt() and cache_is_vipt_aliasing():
 *
 *   VIVT            every call does work: per-mm flushes clean and invalidate
 *                   the whole cache (__cpuc_flush_user_all; with cache_asid=on
 *                   only the mm's lines), ranges and pages by virtual address
 *                   (__cpuc_flush_user_range)
 *   VIPT aliasing   per-mm and range flushes clean and invalidate the whole
 *                   D cache; a page, its frame in the user address's colour
 *                   (flush_pfn_alias)
 *   VIPT without colours, PIPT, none
 *                   no-ops, as asm-generic/cacheflush.h on x86
 */

import { type CacheSpec, cacheGeometry, hasSynonyms } from "../../hw/cache/CacheSpec.ts";
import { CacheSystem } from "../../hw/cache/CacheSystem.ts";
import type { DataCache } from "../../hw/cache/DataCache.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import type { MmStruct } from "./MmStruct.ts";

export interface CacheFlush {
  /** the cache system, or null with cache=none */
  readonly system: CacheSystem | null;
  /**
   * The alignment shared mappings get from arch_get_unmapped_area so that
   * every mapping of a page has one colour (SHMLBA; arch/arm/mm/mmap.c
   * COLOUR_ALIGN). The page size when the cache has no colours.
   */
  readonly shmlba: number;
  flushCacheMm(mm: MmStruct): void;
  flushCacheDupMm(mm: MmStruct): void;
  /** user pages [startVpn, startVpn + nrPages) of mm */
  flushCacheRange(mm: MmStruct, startVpn: number, nrPages: number): void;
  flushCachePage(mm: MmStruct, vpn: number, pfn: number): void;
  /**
   * The cache work of the architecture's copy_user_highpage(to, from, vaddr)
   * before it reads `pfn`, the old frame of user page `vpn` (wp_page_copy's
   * copy; vmlab then copies the frames in memory).
   */
  copyUserHighpage(mm: MmStruct, vpn: number, pfn: number): void;
  flushDcachePage(pfn: number): void;
  /** context_switch on `cpu` from the mm loaded there (null: init_mm) to `next` (null: a kernel thread, lazy) */
  switchMm(cpu: number, prev: MmStruct | null, next: MmStruct | null): void;
}

/** cache=none, PIPT and VIPT without colours: every call is a no-op. */
class NoFlush implements CacheFlush {
  readonly shmlba = 4096;
  constructor(readonly system: CacheSystem | null) {}
  flushCacheMm(): void {}
  flushCacheDupMm(): void {}
  flushCacheRange(): void {}
  flushCachePage(): void {}
  copyUserHighpage(): void {}
  flushDcachePage(): void {}
  switchMm(): void {}
}

/** A VIVT cache (arch/arm/include/asm/cacheflush.h vivt_flush_cache_*). */
class VivtFlush implements CacheFlush {
  readonly shmlba = 4096; // colouring cannot help a virtual tag: every address is its own line
  constructor(
    readonly system: CacheSystem,
    private readonly tagged: boolean,
    private readonly runningCpu: () => number,
  ) {}

  /**
   * The caches that may hold lines of mm: untagged, those of the CPUs that
   * have it loaded (mm_cpumask; the rest were flushed when they switched
   * away) or the running CPU's; tagged, every CPU's (lines outlive switches).
   */
  private caches(mm: MmStruct): DataCache[] {
    const all = this.system.caches;
    if (this.tagged) return all;
    if (mm.cpumask.size === 0) return [all[this.runningCpu()]];
    return [...mm.cpumask].map((c) => all[c]);
  }

  flushCacheMm(mm: MmStruct): void {
    for (const c of this.caches(mm)) {
      if (this.tagged) c.flushContext(mm.ctxId);
      else c.flushAll();
    }
  }

  flushCacheDupMm(mm: MmStruct): void {
    this.flushCacheMm(mm); // arm: #define flush_cache_dup_mm(mm) flush_cache_mm(mm)
  }

  flushCacheRange(mm: MmStruct, startVpn: number, nrPages: number): void {
    for (const c of this.caches(mm)) c.flushVirtualRange(startVpn, nrPages, mm.ctxId);
  }

  flushCachePage(mm: MmStruct, vpn: number): void {
    for (const c of this.caches(mm)) c.flushVirtualRange(vpn, 1, mm.ctxId, true);
  }

  /**
   * v4wb_copy_user_highpage (arch/arm/mm/copypage-v4wb.c; the other VIVT
   * cores' copypage-*.c alike): flush_cache_page(vma, vaddr, from) before the
   * copy, a flush of its own besides wp_page_copy's after it.
   */
  copyUserHighpage(mm: MmStruct, vpn: number): void {
    this.flushCachePage(mm, vpn);
  }

  flushDcachePage(pfn: number): void {
    // __flush_dcache_aliases: every user mapping of the page, on each CPU
    for (const c of this.system.caches) c.flushFrame(pfn, -1);
  }

  switchMm(cpu: number, prev: MmStruct | null, next: MmStruct | null): void {
    if (next === null || next === prev) return; // a kernel thread borrows the mm (lazy); same mm: nothing
    const c = this.system.caches[cpu];
    if (this.tagged) c.context = next.ctxId;
    else c.flushAll(); // cpu_arm926_switch_mm: clean and invalidate the D cache before TTB is changed
  }
}

/** A VIPT cache with colours (arch/arm/mm/flush.c, cache_is_vipt_aliasing()). */
class ViptAliasingFlush implements CacheFlush {
  constructor(
    readonly system: CacheSystem,
    readonly shmlba: number,
  ) {}

  /** flush_cache_mm / flush_cache_range: clean and invalidate the whole D cache (every CPU's, here). */
  private all(): void {
    for (const c of this.system.caches) c.flushAll();
  }

  flushCacheMm(): void {
    this.all();
  }

  flushCacheDupMm(): void {
    this.all();
  }

  flushCacheRange(): void {
    this.all();
  }

  flushCachePage(_mm: MmStruct, vpn: number, pfn: number): void {
    for (const c of this.system.caches) c.flushFrame(pfn, vpn); // flush_pfn_alias(pfn, user_addr)
  }

  /**
   * v6_copy_user_highpage_aliasing (arch/arm/mm/copypage-v6.c) flushes
   * nothing of the user's colour: it maps the old frame at a kernel address
   * of that colour, so the copy reads the user's dirty lines through the
   * cache. vmlab copies in memory, so those lines are written back first,
   * uncounted: no flush instruction stands for them.
   */
  copyUserHighpage(_mm: MmStruct, vpn: number, pfn: number): void {
    for (const c of this.system.caches) c.flushFrame(pfn, vpn, false);
  }

  flushDcachePage(pfn: number): void {
    for (const c of this.system.caches) c.flushFrame(pfn, -1);
  }

  switchMm(): void {} // physical tags: no homonyms
}

/**
 * Builds the machine's caches (none with `spec` null) and the kernel's
 * cacheflush calls for them. `userTop`: the first kernel address (TASK_SIZE),
 * as (hi, lo): lines above it are global on an ASID-tagged VIVT cache.
 */
export function cacheFlushFor(
  spec: CacheSpec | null,
  phys: PhysMem,
  cpus: readonly Mmu[],
  userTop: { hi: number; lo: number },
  runningCpu: () => number,
): CacheFlush {
  if (spec === null) return new NoFlush(null);
  const system = CacheSystem.install(spec, phys, cpus);
  for (const c of system.caches) {
    c.globalHi = userTop.hi;
    c.globalLo = userTop.lo;
  }
  if (spec.kind === "vivt") return new VivtFlush(system, spec.asidTagged, runningCpu);
  if (hasSynonyms(spec)) return new ViptAliasingFlush(system, cacheGeometry(spec).shmlba);
  return new NoFlush(system);
}
