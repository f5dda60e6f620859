/**
 * The unevictable LRU and the per-CPU mlock folio batches: how an mlocked
 * folio gets PG_mlocked, its mlock_count and its place on LRU_UNEVICTABLE,
 * and how it leaves them. Linux: mm/mlock.c (mlock_folio, mlock_new_folio,
 * munlock_folio, mlock_folio_batch, __mlock_folio, __mlock_new_folio,
 * __munlock_folio, mlock_drain_local), include/linux/mm_inline.h
 * (folio_evictable), include/linux/swap.h (folio_evictable's callers), the
 * free-time clearing of mm/page_alloc.c free_pages_prepare.
 *
 * vmlab's unevictable "list" is a list of mm/vmscan.ts like the others
 * (Lru.Unevictable): Linux links no folio on it (lruvec_add_folio skips the
 * list_add for LRU_UNEVICTABLE and the folio's lru.prev holds mlock_count),
 * only counts it; vmlab links them, which no scan ever walks. PG_unevictable
 * is "on that list" (vmlab never holds an unevictable folio isolated).
 * mapping_unevictable is the `unevictable` mark of a shmem object that
 * SHM_LOCK set (kernel/ipc/shm.ts; vmlab has no ramfs): folioEvictable.
 */
import { ModelBug } from "../../base/assert.ts";
import type { BuddyAllocator } from "./buddy.ts";
import { freeUserPage } from "./folio_put.ts";
import { type PageDescTable, PageFlag, PageKind } from "./PageDesc.ts";
import { VmFlag } from "./vma.ts";

/** The lists of mm/vmscan.ts's `Lru` this file needs (its numbers; vmscan.ts imports this file). */
export const enum UList {
  None = 0,
  InactiveAnon = 1,
  InactiveFile = 3,
  /** LRU_UNEVICTABLE */
  Unevictable = 5,
}

/** The low bits of a folio pointer in the mlock_fbatch (mm/mlock.c LRU_FOLIO, NEW_FOLIO; 0: munlock). */
export const enum MlockOp {
  Munlock = 0,
  LruFolio = 1,
  NewFolio = 2,
}

/** What the mlock batches need of page reclaim (mm/vmscan.ts Vmscan). */
export interface MlockLists {
  /** the list each page is on (vmscan.ts Lru; 0: none, folio_test_lru false) */
  readonly lru: Uint8Array;
  /** the head of a transparent huge page on the lists */
  readonly large: Uint8Array;
  /** mglru: the youngest generation (a page's list is its generation mod 4, plus 1) */
  readonly maxSeq: number;
  readonly env: {
    readonly pages: PageDescTable;
    readonly policy: string;
    readonly userMm: {
      readonly env: { readonly buddy: BuddyAllocator; readonly pgtable: { readonly hpagePmdNr: number } };
    };
  };
  /** the shmem object or file each page belongs to (folio->mapping; undefined for an anonymous page) */
  readonly owner: readonly (object | undefined)[];
  /** puts a page at the head of a list (lruvec_del_folio + lruvec_add_folio) */
  add(pfn: number, list: number): void;
  /** takes a page off the lists for good */
  del(pfn: number): void;
}

/** /proc/vmstat's unevictable events (include/linux/vm_event_item.h UNEVICTABLE_PG*). */
export interface UnevictableStats {
  unevictable_pgs_culled: number;
  unevictable_pgs_scanned: number;
  unevictable_pgs_rescued: number;
  unevictable_pgs_mlocked: number;
  unevictable_pgs_munlocked: number;
  unevictable_pgs_cleared: number;
  unevictable_pgs_stranded: number;
}

/**
 * folio_evictable: neither PG_mlocked nor in a mapping marked unevictable
 * (mapping_unevictable: a SysV shm segment under SHM_LOCK, shmem_lock's
 * mapping_set_unevictable).
 * Linux: mm/internal.h folio_evictable, include/linux/pagemap.h mapping_unevictable
 */
export function folioEvictable(v: MlockLists, pfn: number): boolean {
  const pages = v.env.pages;
  if (pages.flags[pfn] & PageFlag.Mlocked) return false;
  // an anonymous folio has no address_space (vmscan's owner slot may still name a freed page's last one)
  if (pages.kind[pfn] === PageKind.UserAnon) return true;
  const o = v.owner[pfn] as { unevictable?: boolean } | undefined;
  return o === undefined || o.unevictable !== true;
}

/**
 * folio_lru_list of an evictable folio that is not active: inactive file
 * for a folio that is not swap-backed (a page-cache page of a disk file, a
 * lazyfree anonymous page: page_is_file_lru), inactive anon otherwise;
 * under vmlab's other policies the list a new page joins.
 * Linux: include/linux/mm_inline.h folio_lru_list
 */
export function evictableList(v: MlockLists, pfn: number): number {
  const policy = v.env.policy;
  if (policy === "mglru") return (v.maxSeq % 4) + 1;
  if (policy !== "linux") return UList.InactiveAnon;
  const pages = v.env.pages;
  const f = pages.flags[pfn];
  const file =
    pages.kind[pfn] === PageKind.UserAnon ? (f & PageFlag.Lazyfree) !== 0 : !(f & PageFlag.SwapBacked);
  return file ? UList.InactiveFile : UList.InactiveAnon;
}

/** Is the VMA one whose new or found pages get mlocked ((vm_flags & (VM_LOCKED | VM_SPECIAL)) == VM_LOCKED)? */
export function vmaMlocks(vmFlags: number): boolean {
  return (vmFlags & (VmFlag.LOCKED | VmFlag.IO | VmFlag.DONTEXPAND | VmFlag.PFNMAP)) === VmFlag.LOCKED;
}

/**
 * The per-CPU mlock_fbatch (one folio_batch per CPU, FOLIO_BATCH_SIZE
 * folios, each tagged LRU_FOLIO, NEW_FOLIO or neither), with the state it
 * changes: PG_mlocked (PageFlag.Mlocked, on a huge page's head),
 * folio->mlock_count, NR_MLOCK and the unevictable events. mlock_folio and
 * mlock_new_folio set PG_mlocked and count NR_MLOCK at once; the move to
 * or from the unevictable list waits for the batch to be processed: when
 * it is full, at once for a large folio, or at mlock_drain_local (every
 * lru_add_drain, swap.ts LruAddBatches.drain). Each entry holds a folio
 * reference (folio_get), dropped after it is processed (folios_put), so a
 * folio unmapped meanwhile is freed then.
 * Linux: mm/mlock.c struct mlock_fbatch, mlock_folio_batch
 */
export class MlockFbatches {
  static readonly SIZE = 31;
  /** each CPU's entries, SIZE slots per CPU */
  readonly folios: Int32Array;
  readonly ops: Uint8Array;
  /** folio_batch_count per CPU */
  readonly count: Int32Array;
  /** the entries of every CPU's batch */
  total = 0;
  /** the entries naming each folio, over every CPU (each holds a reference) */
  readonly refs: Uint16Array;
  /** folio->mlock_count of a folio on the unevictable list: the locked VMAs counted as mapping it */
  readonly mlockCount: Int32Array;
  /** NR_MLOCK: pages with PG_mlocked (meminfo Mlocked, vmstat nr_mlock) */
  nrMlock = 0;
  readonly stats: UnevictableStats = {
    unevictable_pgs_culled: 0,
    unevictable_pgs_scanned: 0,
    unevictable_pgs_rescued: 0,
    unevictable_pgs_mlocked: 0,
    unevictable_pgs_munlocked: 0,
    unevictable_pgs_cleared: 0,
    unevictable_pgs_stranded: 0,
  };
  private readonly pages: PageDescTable;

  constructor(
    private readonly v: MlockLists,
    readonly nrCpus: number,
    nrFrames: number,
    private readonly cpu: () => number,
    /** swap.ts LruAddBatches.queued: a folio a move batch holds has PG_lru clear */
    private readonly lruQueued: Uint8Array,
  ) {
    this.folios = new Int32Array(nrCpus * MlockFbatches.SIZE).fill(-1);
    this.ops = new Uint8Array(nrCpus * MlockFbatches.SIZE);
    this.count = new Int32Array(nrCpus);
    this.refs = new Uint16Array(nrFrames);
    this.mlockCount = new Int32Array(nrFrames);
    this.pages = v.env.pages;
  }

  /** folio_nr_pages */
  private nr(pfn: number): number {
    return this.v.large[pfn] ? this.v.env.userMm.env.pgtable.hpagePmdNr : 1;
  }

  /** The entries waiting in every CPU's batch. */
  pending(): number {
    let n = 0;
    for (let c = 0; c < this.nrCpus; c++) n += this.count[c];
    return n;
  }

  /**
   * mlock_folio: a folio of a VM_LOCKED VMA found mapped (mlock_pte_range,
   * folio_referenced_one, try_to_unmap_one, folio_add_*_rmap_ptes through
   * mlock_vma_folio): PG_mlocked and NR_MLOCK now (if not set already),
   * the move to the unevictable list when the batch is processed.
   * Linux: mm/mlock.c mlock_folio
   */
  mlockFolio(pfn: number): void {
    if (!(this.pages.flags[pfn] & PageFlag.Mlocked)) {
      const nr = this.nr(pfn);
      this.pages.flags[pfn] |= PageFlag.Mlocked;
      this.nrMlock += nr;
      this.stats.unevictable_pgs_mlocked += nr;
    }
    this.push(pfn, MlockOp.LruFolio);
  }

  /**
   * mlock_new_folio: a new folio faulted into a VM_LOCKED VMA
   * (folio_add_lru_vma), not yet on any list: PG_mlocked and NR_MLOCK now,
   * onto the unevictable list when the batch is processed (it never joins
   * an LRU add batch). `large`: a huge page's head.
   * Linux: mm/mlock.c mlock_new_folio
   */
  mlockNewFolio(pfn: number): void {
    const nr = this.nr(pfn);
    this.pages.flags[pfn] |= PageFlag.Mlocked;
    this.nrMlock += nr;
    this.stats.unevictable_pgs_mlocked += nr;
    this.push(pfn, MlockOp.NewFolio);
  }

  /**
   * munlock_folio: a locked VMA lets go of the folio (munlock's
   * mlock_pte_range, or munlock_vma_folio when a VM_LOCKED mapping is
   * removed: munmap, exit, a COW replacing the page). PG_mlocked is left
   * to __munlock_folio, which knows whether another locked VMA holds it.
   * Linux: mm/mlock.c munlock_folio
   */
  munlockFolio(pfn: number): void {
    this.push(pfn, MlockOp.Munlock);
  }

  /** folio_get, folio_batch_add; a full batch or a large folio is processed at once. */
  private push(pfn: number, op: MlockOp): void {
    const c = this.cpuNow();
    this.pages.refcount[pfn]++;
    this.refs[pfn]++;
    const n = this.count[c];
    this.folios[c * MlockFbatches.SIZE + n] = pfn;
    this.ops[c * MlockFbatches.SIZE + n] = op;
    this.count[c] = n + 1;
    this.total++;
    if (n + 1 === MlockFbatches.SIZE || this.v.large[pfn]) this.process(c);
  }

  private cpuNow(): number {
    const c = this.cpu();
    return c >= 0 && c < this.nrCpus ? c : 0;
  }

  /** The entries of the running CPU's batch that name pfn (the references mlock_drain_local drops). */
  localRefs(pfn: number): number {
    const c = this.cpuNow();
    let n = 0;
    for (let i = 0; i < this.count[c]; i++) if (this.folios[c * MlockFbatches.SIZE + i] === pfn) n++;
    return n;
  }

  /** mlock_drain_local: this CPU's batch processed. Linux: mm/mlock.c mlock_drain_local */
  drainLocal(): void {
    const c = this.cpuNow();
    if (this.count[c] > 0) this.process(c);
  }

  /** One CPU's batch processed (lru_add_drain_all's work on that CPU: mlock_drain_local there). */
  drainCpu(c: number): void {
    if (this.count[c] > 0) this.process(c);
  }

  /**
   * mlock_folio_batch: each entry in order by its tag (__mlock_folio,
   * __mlock_new_folio, __munlock_folio), then folios_put. vmlab drops each
   * entry's reference after its own step: a folio named twice keeps the
   * other entry's reference until that one's step, so nothing is freed
   * earlier than Linux frees it.
   * Linux: mm/mlock.c mlock_folio_batch
   */
  private process(c: number): void {
    const n = this.count[c];
    const base = c * MlockFbatches.SIZE;
    this.count[c] = 0;
    this.total -= n;
    for (let i = base; i < base + n; i++) {
      const pfn = this.folios[i];
      const op = this.ops[i];
      this.folios[i] = -1;
      if (op === MlockOp.LruFolio) this.mlock(pfn);
      else if (op === MlockOp.NewFolio) this.mlockNew(pfn);
      else this.munlock(pfn);
      this.refs[pfn]--;
      if (--this.pages.refcount[pfn] === 0) this.putLast(pfn);
    }
  }

  /** folios_put: the folio's last reference was the batch's (__page_cache_release, free_pages_prepare). */
  private putLast(pfn: number): void {
    this.freeing(pfn);
    this.v.del(pfn);
    const err = freeUserPage(this.v.env.userMm.env, pfn); // a THP head: its whole folio
    if (err !== null) throw new ModelBug(`mlock_folio_batch: ${err}`);
  }

  /**
   * free_pages_prepare of a folio still PG_mlocked (munlock raced with its
   * truncation, or no munlock came): the flag cleared, NR_MLOCK taken
   * back, unevictable_pgs_cleared counted. The caller frees it.
   * Linux: mm/page_alloc.c free_pages_prepare
   */
  freeing(pfn: number): void {
    if (!(this.pages.flags[pfn] & PageFlag.Mlocked)) return;
    const nr = this.nr(pfn);
    this.pages.flags[pfn] &= ~PageFlag.Mlocked;
    this.nrMlock -= nr;
    this.stats.unevictable_pgs_cleared += nr;
  }

  /**
   * __mlock_folio: a folio not on a list (in an LRU add batch, or isolated)
   * or with PG_lru clear (in a move batch of swap.ts: folio_test_clear_lru
   * fails) is left alone; an evictable one (its PG_mlocked cleared
   * meanwhile) is rescued if it was unevictable; one on the unevictable list counts one
   * more locked VMA; else it moves there (PG_active dropped), its
   * mlock_count 1, counted as culled.
   * Linux: mm/mlock.c __mlock_folio
   */
  private mlock(pfn: number): void {
    const v = this.v;
    const list = v.lru[pfn];
    if (list === UList.None || this.lruQueued[pfn] !== 0) return;
    const nr = this.nr(pfn);
    if (!(this.pages.flags[pfn] & PageFlag.Mlocked)) {
      if (list === UList.Unevictable && folioEvictable(v, pfn)) {
        v.add(pfn, evictableList(v, pfn));
        this.stats.unevictable_pgs_rescued += nr;
      }
      return;
    }
    if (list === UList.Unevictable) {
      this.mlockCount[pfn]++;
      return;
    }
    v.add(pfn, UList.Unevictable);
    this.mlockCount[pfn] = 1;
    this.stats.unevictable_pgs_culled += nr;
  }

  /**
   * __mlock_new_folio: the new folio joins the unevictable list with
   * mlock_count 1 (culled), or, if PG_mlocked went meanwhile, its
   * evictable list.
   * Linux: mm/mlock.c __mlock_new_folio
   */
  private mlockNew(pfn: number): void {
    const v = this.v;
    if (!(this.pages.flags[pfn] & PageFlag.Mlocked)) {
      v.add(pfn, evictableList(v, pfn));
      return;
    }
    this.mlockCount[pfn] = 1;
    this.stats.unevictable_pgs_culled += this.nr(pfn);
    v.add(pfn, UList.Unevictable);
  }

  /**
   * __munlock_folio: a folio on the unevictable list loses one locked VMA
   * (mlock_count, which may undercount) and stays while any is left;
   * otherwise PG_mlocked is cleared (NR_MLOCK, munlocked; "stranded" when
   * it could not be isolated from the unevictable list) and an evictable
   * folio goes back to its inactive list (rescued).
   * Linux: mm/mlock.c __munlock_folio
   */
  private munlock(pfn: number): void {
    const v = this.v;
    const list = v.lru[pfn];
    const isolated = list !== UList.None;
    const nr = this.nr(pfn);
    if (list === UList.Unevictable) {
      if (this.mlockCount[pfn] > 0) this.mlockCount[pfn]--;
      if (this.mlockCount[pfn] > 0) return;
    }
    if (this.pages.flags[pfn] & PageFlag.Mlocked) {
      this.pages.flags[pfn] &= ~PageFlag.Mlocked;
      this.nrMlock -= nr;
      // vmlab holds no folio off the lists with PG_unevictable: never stranded
      this.stats.unevictable_pgs_munlocked += nr;
    }
    if (isolated && list === UList.Unevictable && folioEvictable(v, pfn)) {
      v.add(pfn, evictableList(v, pfn));
      this.stats.unevictable_pgs_rescued += nr;
    }
  }
}
