/**
 * Page migration: an isolated LRU page's contents, mappings and identity
 * moved to another frame, as memory compaction (mm/compaction.ts) asks.
 * Linux: mm/migrate.c migrate_pages (migrate_pages_batch, migrate_folio_unmap,
 * migrate_folio_move), move_to_new_folio, migrate_folio, folio_migrate_mapping,
 * folio_migrate_flags, remove_migration_ptes; mm/rmap.c try_to_migrate.
 *
 * What vmlab migrates: order-0 anonymous pages (mapped, or in the swap cache)
 * and order-0 page-cache pages (regular files, tmpfs and shared anonymous
 * memory), on an LRU list, mlocked ones included (sysctl
 * compact_unevictable_allowed is 1). Not migrated: large folios (THP, mTHP,
 * large page-cache folios: Linux migrates those below pageblock_order too),
 * pages under writeback or locked, and pages with references beyond their
 * mappings and their cache's (a GUP pin, a fault at work: folio_migrate_mapping's
 * refcount check fails with -EAGAIN, and migrate_pages gives up after its
 * retries).
 *
 * try_to_migrate replaces each PTE with a migration entry and flushes it;
 * remove_migration_ptes later maps the new frame with the old entry's rights
 * and its accessed and dirty bits. Nothing runs in between in vmlab, so the
 * cleared PTE stands for the migration entry (no fault can meet it).
 */
import { pfnUnchecked } from "../../base/units.ts";
import type { FileObject } from "../fs/file.ts";
import { PteFlag } from "./arch.ts";
import type { MmStruct } from "./MmStruct.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { ptepClearFlushOf, setPteAt } from "./pgtable.ts";
import { rmapWalk } from "./rmap.ts";
import { shmemPages } from "./shmem.ts";
import { shmemObjFolioStart } from "./shmem_anon_huge.ts";
import type { ShmemObject, Vma } from "./vma.ts";
import { Lru, type Vmscan } from "./vmscan.ts";

/** migrate_pages' answer for one folio (MIGRATEPAGE_SUCCESS, -EAGAIN, -EBUSY). */
export const enum MigrateResult {
  Success = 0,
  /** a reference the move cannot account for (folio_migrate_mapping's refcount check): retried */
  Again = -11,
  /** not movable by vmlab (a large folio, writeback, a locked page): not retried */
  Busy = -16,
}

/** One mapping try_to_migrate cleared: where its PTE was and what it held. */
interface Cleared {
  mm: MmStruct;
  vma: Vma;
  vpn: number;
  pa: number;
  hi: number;
  lo: number;
}

/**
 * Can isolate_migratepages_block take this frame, an LRU page that is not a
 * large folio? Returns false for what it skips (free, kernel, HugeTLB pages,
 * compound pages, pages in an LRU add batch, pages pinned beyond their mappings).
 * Linux: mm/compaction.c isolate_migratepages_block
 */
export function migratable(v: Vmscan, pfn: number): boolean {
  const p = v.env.pages;
  const kind = p.kind[pfn];
  if (kind !== PageKind.UserAnon && kind !== PageKind.PageCache) return false;
  if (v.lru[pfn] === Lru.None || v.large[pfn] !== 0 || p.flags[pfn] & PageFlag.Head) return false;
  if (v.fbatches.inBatch(pfn) || v.fbatches.mlock.refs[pfn] !== 0) return false; // !folio_test_lru
  const env = v.env.userMm.env;
  if (env.ksm?.isKsm(pfn)) return false; // vmlab: a KSM page stays (Linux's folio_migrate_ksm moves its stable node)
  // a page of a whole THP (PTE-mapped) or of an mTHP folio: a large folio
  const head = pfn - (pfn & (env.pgtable.hpagePmdNr - 1));
  if (kind === PageKind.UserAnon && p.priv[head] > 0 && p.kind[head] === PageKind.UserAnon) return false;
  if (env.mthp !== undefined && env.mthp.liveOrders !== 0 && env.mthp.headOf(pfn) >= 0) return false;
  if (kind === PageKind.PageCache) {
    // the file's (or shmem object's) page at its index: not a shmem page read ahead into the swap
    // cache (shmemWriteout's other case), nor a page of a large folio (a disk file's, or a huge
    // tmpfs folio: mm/shmem_huge.ts)
    const f = v.owner[pfn];
    if (f === undefined || cacheMap(f).get(v.index[pfn]) !== pfn) return false;
    if ("fs" in f && f.folios.size > 0) {
      const pc = v.env.pageCache;
      const file = f as FileObject;
      if (pc.folioPages(file, pc.folioStart(file, v.index[pfn])) > 1) return false;
    } else if (!("fs" in f) && f.folios.size > 0) {
      // a shared anonymous or SysV object's large folio (mm/shmem_anon_huge.ts)
      if (shmemObjFolioStart(f as ShmemObject, v.index[pfn], v.env.pageCache.pmdOrder) >= 0) return false;
    }
  }
  // "Migration will fail if an anonymous page is pinned in memory": references beyond the mappings
  if (kind === PageKind.UserAnon && p.refcount[pfn] > p.mapcount[pfn] + cacheRefs(v, pfn)) return false;
  return true;
}

function isShmem(f: FileObject | ShmemObject): boolean {
  return !("fs" in f) || f.fs === "tmpfs";
}

/** The map from index to pfn that holds a page-cache page: the file's cache, or the shmem object's pages. */
function cacheMap(f: FileObject | ShmemObject): Map<number, number> {
  return isShmem(f) ? shmemPages(f as ShmemObject) : (f as FileObject).cache;
}

/** The references a page's cache holds: the swap cache's or the page cache's one (folio_expected_refs' mapping part). */
function cacheRefs(v: Vmscan, pfn: number): number {
  const p = v.env.pages;
  if (p.kind[pfn] === PageKind.PageCache) return 1;
  const swap = v.env.swap;
  return swap !== null && swap.slotOf.at(pfn) >= 0 ? 1 : 0;
}

const cleared: Cleared[] = [];

/**
 * migrate_folio_unmap + migrate_folio_move of one isolated order-0 page `src`
 * (taken off its list by the caller) to the free frame `dst` (post_alloc_hook
 * done: refcount 1). On success the page lives at dst, back on the LRU list
 * it was isolated from (folio_add_lru; its flags came along), every PTE that
 * mapped src maps dst, and src is freed (to the running CPU's pcp list). On
 * failure nothing changed and the caller puts src back and frees dst.
 * Linux: mm/migrate.c migrate_folio_unmap, migrate_folio_move, move_to_new_folio
 */
export function migrateFolio(v: Vmscan, src: number, dst: number, list: Lru): MigrateResult {
  const env = v.env.userMm.env;
  const p = env.pages;
  const flags = p.flags[src];
  if (flags & (PageFlag.Writeback | PageFlag.Locked)) return MigrateResult.Busy;
  if (v.pinned.has(src)) return MigrateResult.Again; // a fault holds it: an extra reference
  const cache = cacheRefs(v, src);
  // folio_migrate_mapping: "The number of remaining references must be: 1 for anonymous folios
  // without a mapping, 2 for folios with a mapping" (+ the mappings' own): vmlab's refcount holds
  // the mappings and the cache, not the isolation's
  if (p.refcount[src] !== p.mapcount[src] + cache) return MigrateResult.Again;
  const mapped = p.mapcount[src] > 0;
  // try_to_migrate: every PTE cleared and flushed (the migration entry's place)
  cleared.length = 0;
  if (mapped) {
    const pt = env.pgtable;
    rmapWalk(v, src, (mm, vma, vpn, pa, hi, lo) => {
      if (!pt.present(hi, lo)) return;
      env.cache.flushCachePage(mm, vpn, src); // try_to_migrate_one: flush_cache_page
      mm.updateHiwaterRss();
      ptepClearFlushOf(v.env.userMm, mm, pa, vpn, 0, hi, lo);
      cleared.push({ mm, vma, vpn, pa, hi, lo });
    });
    if (cleared.length !== p.mapcount[src]) {
      // a mapping the walk could not clear (vmlab's walk finds every one; a broken invariant)
      restore(v, src);
      return MigrateResult.Busy;
    }
  }
  // move_to_new_folio -> migrate_folio: folio_migrate_mapping, folio_migrate_copy (flags, contents)
  env.phys.copyFrame(pfnUnchecked(dst), pfnUnchecked(src));
  p.kind[dst] = p.kind[src];
  p.flags[dst] = flags;
  p.refcount[dst] = p.refcount[src];
  p.mapcount[dst] = p.mapcount[src];
  p.priv[dst] = p.priv[src];
  p.order[dst] = 0;
  moveMapping(v, src, dst);
  // the LRU's keys and the mlock count (folio_migrate_flags: the mlock_count is rebuilt by
  // remove_migration_ptes for a VM_LOCKED VMA; vmlab moves it whole)
  v.index[dst] = v.index[src];
  v.anonVma[dst] = v.anonVma[src];
  v.referenced[dst] = v.referenced[src];
  v.owner[dst] = v.owner[src];
  v.owner[src] = undefined;
  const mlock = v.fbatches.mlock;
  mlock.mlockCount[dst] = mlock.mlockCount[src];
  mlock.mlockCount[src] = 0;
  v.add(dst, list); // folio_add_lru(dst), lru_add_drain: the head of its list
  // remove_migration_ptes: the new frame with the old entry's rights, accessed and dirty bits
  if (mapped) {
    const pt = env.pgtable;
    for (const c of cleared) {
      const e = pt.mkUser(dst, 0, c.vma.vmFlags, pt.write(c.hi, c.lo), pt.dirty(c.hi, c.lo), false);
      const young = pt.young(c.hi, c.lo);
      const n = pt.modify(e.hi, e.lo, young ? PteFlag.YOUNG : 0, young ? 0 : PteFlag.YOUNG);
      setPteAt(v.env.userMm, c.pa, n.hi, n.lo, c.mm, c.vpn);
    }
    cleared.length = 0;
  }
  // the old folio: no mapping, no cache, freed (migrate_folio_done: folio_put)
  p.refcount[src] = 0;
  p.mapcount[src] = 0;
  p.flags[src] = 0;
  p.priv[src] = -1;
  p.order[src] = 0;
  v.index[src] = 0;
  v.anonVma[src] = 0;
  v.referenced[src] = 0;
  const err = env.buddy.free(src, 0);
  if (err !== null) throw new Error(`migrateFolio: freeing pfn ${src}: ${err}`);
  return MigrateResult.Success;
}

/** A failed unmap: the cleared PTEs back as they were (remove_migration_ptes(src, src)). */
function restore(v: Vmscan, _src: number): void {
  for (const c of cleared) setPteAt(v.env.userMm, c.pa, c.hi, c.lo, c.mm, c.vpn);
  cleared.length = 0;
}

/**
 * folio_migrate_mapping: the cache that held src holds dst in its place: the
 * swap cache's slot, or the file's (or shmem object's) index.
 */
function moveMapping(v: Vmscan, src: number, dst: number): void {
  const p = v.env.pages;
  if (p.kind[src] === PageKind.PageCache) {
    cacheMap(v.owner[src]!).set(v.index[src], dst);
    return;
  }
  const swap = v.env.swap;
  if (swap === null) return;
  const slot = swap.slotOf.at(src);
  if (slot < 0) return;
  swap.slotOf.delete(src);
  swap.slotOf.set(dst, slot);
  swap.cache.set(slot, dst);
  if (swap.orphans.has(src)) {
    swap.orphans.delete(src);
    swap.orphans.add(dst);
  }
}
