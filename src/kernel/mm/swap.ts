import { ModelBug } from "../../base/assert.ts";
import type { FileObject } from "../fs/file.ts";
import { freeUserPage } from "./folio_put.ts";
import {
  evictableList,
  folioEvictable,
  MlockFbatches,
  type MlockLists,
  UList,
  vmaMlocks,
} from "./mlock_fbatch.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import type { ShmemObject } from "./vma.ts";

/** A disk file's page that is dirty (vmlab keeps a disk file's PG_dirty in its `dirty` set). */
function fileDirty(owner: FileObject | ShmemObject | undefined, index: number): boolean {
  return owner !== undefined && "dirty" in owner && owner.dirty.has(index);
}

/** The lists of mm/vmscan.ts's `Lru` this file needs (its numbers; vmscan.ts imports this file). */
const enum List {
  None = 0,
  InactiveAnon = 1,
  ActiveAnon = 2,
  InactiveFile = 3,
  ActiveFile = 4,
  Unevictable = 5,
}

/**
 * The folio batches of struct cpu_fbatches that move folios already on a
 * list (mm/swap.c), in the order lru_add_drain_cpu empties them (after
 * lru_add). lru_move_tail takes the folios whose writeback ended with
 * PG_reclaim (folio_rotate_reclaimable: the flusher's pages reclaim found
 * dirty, page_writeback.ts).
 */
export const enum MoveOp {
  /** cpu_fbatches.lru_move_tail: lru_move_tail */
  MoveTail = 0,
  /** cpu_fbatches.lru_deactivate_file: lru_deactivate_file */
  DeactivateFile = 1,
  /** cpu_fbatches.lru_deactivate: lru_deactivate (folio_deactivate, MADV_COLD) */
  Deactivate = 2,
  /** cpu_fbatches.lru_lazyfree: lru_lazyfree (folio_mark_lazyfree, MADV_FREE) */
  Lazyfree = 3,
  /** cpu_fbatches.lru_activate: lru_activate (folio_activate, folio_mark_accessed) */
  Activate = 4,
}
const NR_MOVE_OPS = 5;

/** What the batches and folio_mark_accessed need of page reclaim (mm/vmscan.ts Vmscan). */
export interface LruLists extends MlockLists {
  /** takes a page off its list, its flags kept (folio_isolate_lru) */
  unlink(pfn: number): void;
  /** PG_referenced */
  readonly referenced: Uint8Array;
  readonly fbatches: LruAddBatches;
  readonly env: MlockLists["env"] & {
    runningCpu?(): number;
    /** the swap cache (folio_test_swapcache) */
    readonly swap: { readonly slotOf: { has(pfn: number): boolean } } | null;
  };
  /** /proc/vmstat's events the batches count */
  readonly stats: { pgactivate: number; pgdeactivate: number; pglazyfree: number };
  /** lruvec_add_folio_tail: pfn at the tail of a list, off any list it was on */
  addTail(pfn: number, list: number): void;
  /** the file (its dirty pages) or shmem object of each page-cache page, and its index there */
  readonly owner: readonly (FileObject | ShmemObject | undefined)[];
  readonly index: Float64Array;
  /** the lruvec's nonresident clock (mm/workingset.ts): folio_mark_accessed's workingset_activation */
  readonly workingset: { ageNonresident(nr: number): void };
}

/** PAGEVEC_SIZE / FOLIO_BATCH_SIZE (include/linux/pagevec.h): the folios a folio_batch holds. */
export const FOLIO_BATCH_SIZE = 31;

/**
 * The per-CPU LRU add batches (mm/swap.c `cpu_fbatches.lru_add`, one
 * folio_batch per CPU). folio_add_lru does not put a new folio on an LRU
 * list: it takes a reference (folio_get) and adds the folio to the running
 * CPU's batch; only when that batch is full (FOLIO_BATCH_SIZE folios), or the
 * folio is large, does folio_batch_move_lru move the whole batch onto the
 * lists (lru_add: PG_lru, lruvec_add_folio), then drop each folio's batch
 * reference (folios_put: a folio whose mapping went meanwhile is freed
 * then). Until then the folio is on no list (folio_test_lru is false:
 * isolation and reclaim skip it) and holds one reference more.
 * lru_add_drain (the running CPU's batch) and lru_add_drain_all (every
 * CPU's) empty them. lru_cache_disable (migration, memory offlining) is not
 * modelled: vmlab has neither.
 * Linux: mm/swap.c folio_add_lru, folio_batch_move_lru, lru_add,
 * lru_add_drain_cpu, lru_add_drain, lru_add_drain_all
 */
export class LruAddBatches {
  /** the folios of each CPU's batch, FOLIO_BATCH_SIZE slots per CPU */
  readonly folios: Int32Array;
  /** folio_batch_count per CPU */
  readonly count: Int32Array;
  /** 1 + the CPU whose batch holds the folio; 0: in no batch */
  readonly cpuOf: Uint16Array;
  /** the list each batched folio will join if evictable (folio_lru_list at lru_add: PG_active makes it the active one) */
  readonly list: Uint8Array;
  /** the per-CPU mlock_fbatch (mm/mlock.c), emptied with these by lru_add_drain */
  readonly mlock: MlockFbatches;
  /** the move batches (MoveOp): FOLIO_BATCH_SIZE slots for each CPU and op, at (cpu * NR_MOVE_OPS + op) * FOLIO_BATCH_SIZE */
  readonly moveFolios: Int32Array;
  /** folio_batch_count of each CPU's move batches, at cpu * NR_MOVE_OPS + op */
  readonly moveCount: Int32Array;
  /** 1 + the MoveOp of the batch holding a folio that is on a list: its PG_lru is clear until the batch moves it (folio_test_clear_lru); 0: none */
  readonly queued: Uint8Array;
  /** /proc/vmstat pgrotated: folios lru_deactivate_file and lru_move_tail moved to the tail of the inactive list */
  pgrotated = 0;

  /** page->_refcount and page->flags (the page table's arrays) */
  private readonly refcount: Int32Array;
  private readonly flags: Uint16Array;
  private readonly runningCpu: () => number;

  constructor(
    private readonly v: LruLists,
    readonly nrCpus: number,
    nrFrames: number,
  ) {
    this.folios = new Int32Array(nrCpus * FOLIO_BATCH_SIZE).fill(-1);
    this.count = new Int32Array(nrCpus);
    this.cpuOf = new Uint16Array(nrFrames);
    this.list = new Uint8Array(nrFrames);
    this.refcount = v.env.pages.refcount;
    this.flags = v.env.pages.flags;
    this.runningCpu = v.env.runningCpu === undefined ? () => 0 : () => v.env.runningCpu!();
    this.moveFolios = new Int32Array(nrCpus * NR_MOVE_OPS * FOLIO_BATCH_SIZE).fill(-1);
    this.moveCount = new Int32Array(nrCpus * NR_MOVE_OPS);
    this.queued = new Uint8Array(nrFrames);
    this.mlock = new MlockFbatches(v, nrCpus, nrFrames, this.runningCpu, this.queued);
  }

  private cpu(): number {
    const c = this.runningCpu();
    return c >= 0 && c < this.nrCpus ? c : 0;
  }

  /**
   * How many more folio_add_lru calls on the running CPU go into its LRU add batch before the one
   * that fills it and moves it onto the lists (the move may free a folio whose last user went while
   * it waited: nothing before it frees any).
   */
  addRoom(): number {
    return FOLIO_BATCH_SIZE - this.count[this.cpu()];
  }

  /** Is the folio in some CPU's batch (not yet on a list)? */
  has(pfn: number): boolean {
    return this.cpuOf[pfn] !== 0;
  }

  /** Is the folio in the running CPU's batch? */
  hasLocal(pfn: number): boolean {
    return this.cpuOf[pfn] === this.cpu() + 1;
  }

  /** folio_test_lru: on a list and not held by a move batch (which cleared PG_lru). */
  testLru(pfn: number): boolean {
    return this.v.lru[pfn] !== List.None && this.queued[pfn] === 0;
  }

  /** Is the folio in an LRU add batch or a move batch (folio_isolate_lru fails on it)? */
  inBatch(pfn: number): boolean {
    return this.cpuOf[pfn] !== 0 || this.queued[pfn] !== 0;
  }

  /**
   * isolate_lru_folios meeting a folio whose PG_lru a move batch (another
   * CPU's: reclaim drains its own first) cleared: scanned, not taken, moved
   * to the head of its list. True if so.
   * Linux: mm/vmscan.c isolate_lru_folios
   */
  rotateQueued(pfn: number, list: number): boolean {
    if (this.queued[pfn] === 0) return false;
    this.v.add(pfn, list);
    return true;
  }

  /** The folios waiting in a move batch (MoveOp) of every CPU. */
  movePending(op: MoveOp): number {
    let n = 0;
    for (let c = 0; c < this.nrCpus; c++) n += this.moveCount[c * NR_MOVE_OPS + op];
    return n;
  }

  /** The folios waiting in every LRU add batch. */
  pending(): number {
    let n = 0;
    for (let c = 0; c < this.nrCpus; c++) n += this.count[c];
    return n;
  }

  /**
   * folio_add_lru: folio_get, then folio_batch_add to this CPU's batch; a
   * full batch or a large folio moves the whole batch onto the lists.
   * Linux: mm/swap.c folio_add_lru (folio_batch_add_and_move)
   */
  add(pfn: number, large: boolean, list: number): void {
    const cpu = this.cpu();
    this.refcount[pfn]++;
    this.list[pfn] = list;
    this.cpuOf[pfn] = cpu + 1;
    const n = this.count[cpu];
    this.folios[cpu * FOLIO_BATCH_SIZE + n] = pfn;
    this.count[cpu] = n + 1;
    if (n + 1 === FOLIO_BATCH_SIZE || large) this.moveLru(cpu);
  }

  /**
   * folio_add_lru of order-0 folios pfns[0], pfns[1], ... pfns[n - 1] one after the other, each
   * joining `list` when its batch moves: add's steps for each (folio_get, folio_batch_add to the
   * running CPU's batch, the batch moved onto the lists at the folio that fills it), the CPU
   * asked once (nothing between two of them runs elsewhere). For do_anonymous_page's batch
   * (anon_fault.ts doAnonymousRun, a VMA that does not mlock).
   * Linux: mm/swap.c folio_add_lru (folio_batch_add_and_move)
   */
  addRun(pfns: Float64Array, n: number, list: number): void {
    const cpu = this.cpu();
    const base = cpu * FOLIO_BATCH_SIZE;
    const refcount = this.refcount;
    const lists = this.list;
    const cpuOf = this.cpuOf;
    const folios = this.folios;
    let c = this.count[cpu];
    for (let i = 0; i < n; i++) {
      const pfn = pfns[i];
      refcount[pfn]++;
      lists[pfn] = list;
      cpuOf[pfn] = cpu + 1;
      folios[base + c] = pfn;
      if (++c === FOLIO_BATCH_SIZE) {
        this.count[cpu] = c;
        this.moveLru(cpu);
        c = 0;
      }
    }
    this.count[cpu] = c;
  }

  /**
   * folio_add_lru_vma: a new folio of a VMA that mlocks (VM_LOCKED, not
   * VM_SPECIAL) goes to the mlock batch instead (mlock_new_folio), else to
   * the LRU add batch.
   * Linux: mm/swap.c folio_add_lru_vma
   */
  addVma(pfn: number, large: boolean, list: number, vmFlags: number): void {
    if (vmaMlocks(vmFlags)) this.mlock.mlockNewFolio(pfn);
    else this.add(pfn, large, list);
  }

  /**
   * folio_batch_move_lru with lru_add: each folio, in batch order, joins its
   * list, or, if it is not evictable (PG_mlocked), the unevictable list
   * (PG_active dropped, mlock_count 0, counted as culled: vmlab never
   * batches a folio that still has PG_unevictable); then folios_put drops the batch's references (freeing a folio
   * that had no other). vmlab drops each folio's as it goes: freeing one
   * moves no other on the lists, so the lists end the same.
   * Linux: mm/swap.c folio_batch_move_lru, lru_add
   */
  private moveLru(cpu: number): void {
    const n = this.count[cpu];
    const base = cpu * FOLIO_BATCH_SIZE;
    const folios = this.folios;
    const cpuOf = this.cpuOf;
    const list = this.list;
    const refcount = this.refcount;
    const v = this.v;
    const pflags = this.flags;
    const kind = v.env.pages.kind;
    this.count[cpu] = 0;
    for (let i = base; i < base + n; i++) {
      const pfn = folios[i];
      cpuOf[pfn] = 0;
      // lru_add: folio_evictable (folioEvictable; an anonymous folio without PG_mlocked is, at once)
      if (
        (pflags[pfn] & PageFlag.Mlocked) === 0 &&
        (kind[pfn] === PageKind.UserAnon || folioEvictable(v, pfn))
      )
        v.add(pfn, list[pfn]); // lru_add: folio_set_lru, lruvec_add_folio
      else this.addUnevictable(pfn);
      if (--refcount[pfn] === 0) this.putLast(pfn);
    }
  }

  /** lru_add of a folio that is not evictable. Linux: mm/swap.c lru_add */
  private addUnevictable(pfn: number): void {
    this.mlock.mlockCount[pfn] = 0;
    this.mlock.stats.unevictable_pgs_culled += this.v.large[pfn]
      ? this.v.env.userMm.env.pgtable.hpagePmdNr
      : 1;
    this.v.add(pfn, UList.Unevictable);
  }

  /**
   * folio_batch_add_and_move with on_lru: a folio not on a list, or held
   * by another batch already (folio_test_clear_lru fails), is left; else
   * its PG_lru is cleared (it stays on its list, counted there, but
   * isolation and the other batches skip it), a reference taken
   * (folio_get) and it joins the running CPU's batch for `op`; a full batch
   * or a large folio is moved at once (folio_batch_move_lru).
   * Linux: mm/swap.c __folio_batch_add_and_move
   */
  addAndMove(pfn: number, op: MoveOp): void {
    if (!this.testLru(pfn)) return;
    const b = this.cpu() * NR_MOVE_OPS + op;
    this.queued[pfn] = op + 1;
    this.refcount[pfn]++;
    const n = this.moveCount[b];
    this.moveFolios[b * FOLIO_BATCH_SIZE + n] = pfn;
    this.moveCount[b] = n + 1;
    if (n + 1 === FOLIO_BATCH_SIZE || this.v.large[pfn]) this.moveBatch(b, op);
  }

  /**
   * folio_batch_move_lru with a move function: each folio, in batch order,
   * is moved (lru_activate, lru_lazyfree) and gets PG_lru back
   * (folio_set_lru); then folios_put drops the batch's references, freeing
   * a folio whose last user went while it waited.
   * Linux: mm/swap.c folio_batch_move_lru
   */
  private moveBatch(b: number, op: MoveOp): void {
    const n = this.moveCount[b];
    const base = b * FOLIO_BATCH_SIZE;
    this.moveCount[b] = 0;
    for (let i = base; i < base + n; i++) {
      const pfn = this.moveFolios[i];
      this.moveFolios[i] = -1;
      this.queued[pfn] = 0;
      if (this.v.lru[pfn] !== List.None) {
        if (op === MoveOp.Activate) lruActivate(this.v, pfn);
        else if (op === MoveOp.Lazyfree) lruLazyfree(this.v, pfn);
        else if (op === MoveOp.Deactivate) lruDeactivate(this.v, pfn);
        else if (op === MoveOp.DeactivateFile) this.lruDeactivateFile(pfn);
        else if (op === MoveOp.MoveTail) this.lruMoveTail(pfn);
      }
      if (--this.refcount[pfn] === 0) this.putLast(pfn);
    }
  }

  /**
   * folio_activate: a folio on an inactive list (not active, not
   * unevictable) queued for lru_activate.
   * Linux: mm/swap.c folio_activate (CONFIG_SMP)
   */
  activate(pfn: number): void {
    const l = this.v.lru[pfn];
    if (l === List.InactiveAnon || l === List.InactiveFile) this.addAndMove(pfn, MoveOp.Activate);
  }

  /**
   * MADV_COLD's work on a folio it found mapped only there and on a list:
   * folio_clear_referenced, then folio_deactivate (a folio on an active
   * list queued for lru_deactivate; under the linux policy only, as the
   * others have no active lists).
   * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, mm/swap.c folio_deactivate
   */
  cold(pfn: number): void {
    const v = this.v;
    v.referenced[pfn] = 0;
    const l = v.lru[pfn];
    if (v.env.policy === "linux" && (l === List.ActiveAnon || l === List.ActiveFile))
      this.addAndMove(pfn, MoveOp.Deactivate);
  }

  /**
   * cold() of a page-cache or shmem folio vmlab's LRU holds page by page (MADV_COLD over its
   * whole PMD): each page's PG_referenced cleared and, active, queued for lru_deactivate; a
   * large folio moves the batch at once (__folio_batch_add_and_move).
   * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, mm/swap.c folio_deactivate
   */
  coldFolio(pfns: readonly number[]): void {
    for (const pfn of pfns) this.cold(pfn);
    if (pfns.length > 1) this.largeFolioAdded(MoveOp.Deactivate);
  }

  /**
   * deactivate_file_folio for the pages of one page-cache folio (vmlab's
   * LRU holds each page of a large folio as its own entry): not for an
   * unevictable folio; else folio_batch_add_and_move to lru_deactivate_file,
   * which moves the batch at once for a large folio, as for any.
   * Linux: mm/swap.c deactivate_file_folio
   */
  deactivateFile(pfns: readonly number[]): void {
    if (this.v.lru[pfns[0]] === List.Unevictable) return;
    for (const pfn of pfns) this.addAndMove(pfn, MoveOp.DeactivateFile);
    if (pfns.length > 1) this.largeFolioAdded(MoveOp.DeactivateFile);
  }

  /**
   * __folio_batch_add_and_move's large-folio case for a folio vmlab's LRU
   * holds page by page, once its pages are queued: the running CPU's `op`
   * batch is moved at once (folio_batch_move_lru), the folio with it.
   * Linux: mm/swap.c __folio_batch_add_and_move
   */
  largeFolioAdded(op: MoveOp): void {
    const b = this.cpu() * NR_MOVE_OPS + op;
    if (this.moveCount[b] > 0) this.moveBatch(b, op);
  }

  /**
   * lru_deactivate_file: a folio invalidation could not drop, unless
   * unevictable or mapped, loses PG_active and PG_referenced; dirty or
   * under writeback, it goes to the head of its inactive list with
   * PG_reclaim (reclaim is to find it when its writeback ends), else to
   * the tail (counted in pgrotated: its writeback ended while it waited).
   * An active one counts in pgdeactivate. Under the linux policy only (the
   * others keep no active lists; mglru's folio moves are not modelled).
   * Linux: mm/swap.c lru_deactivate_file
   */
  private lruDeactivateFile(pfn: number): void {
    const v = this.v;
    const l = v.lru[pfn];
    if (l === List.Unevictable || l === List.None || v.env.policy !== "linux") return;
    if (v.env.pages.mapcount[pfn] > 0) return; // folio_mapped: some processes are using it
    const active = l === List.ActiveAnon || l === List.ActiveFile;
    const inactive = active ? l - 1 : l;
    v.referenced[pfn] = 0;
    const nr = v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
    const flags = v.env.pages.flags;
    if (flags[pfn] & (PageFlag.Writeback | PageFlag.Dirty) || fileDirty(v.owner[pfn], v.index[pfn])) {
      v.add(pfn, inactive);
      flags[pfn] |= PageFlag.Reclaim;
    } else {
      v.addTail(pfn, inactive);
      this.pgrotated += nr;
    }
    if (active) v.stats.pgdeactivate += nr;
  }

  /**
   * folio_rotate_reclaimable: a folio whose writeback ended with PG_reclaim, unless dirty again
   * or unevictable, is queued for lru_move_tail (the batch skips one not on a list).
   * Linux: mm/swap.c folio_rotate_reclaimable
   */
  rotateReclaimable(pfn: number): void {
    const v = this.v;
    if (v.lru[pfn] === List.Unevictable || fileDirty(v.owner[pfn], v.index[pfn])) return;
    this.addAndMove(pfn, MoveOp.MoveTail);
  }

  /**
   * lru_move_tail: off its list, PG_active cleared, onto the tail of the inactive list (the
   * end reclaim scans first), counted in pgrotated. Linux: mm/swap.c lru_move_tail
   */
  private lruMoveTail(pfn: number): void {
    const v = this.v;
    const l = v.lru[pfn];
    if (l === List.Unevictable) return;
    v.addTail(pfn, l === List.ActiveAnon || l === List.ActiveFile ? l - 1 : l);
    this.pgrotated += v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
  }

  /** folios_put: the folio's mapping went while it waited; __folio_put takes it off the list and frees it. */
  private putLast(pfn: number): void {
    this.mlock.freeing(pfn);
    this.v.del(pfn);
    const err = freeUserPage(this.v.env.userMm.env, pfn); // a THP head: its whole folio
    if (err !== null) throw new ModelBug(`folio_batch_move_lru: ${err}`);
  }

  /** folio_add_lru of a large folio: folio_batch_move_lru of this CPU's LRU add batch, no other. Linux: mm/swap.c __folio_batch_add_and_move */
  moveLocalAdd(): void {
    const cpu = this.cpu();
    if (this.count[cpu] > 0) this.moveLru(cpu);
  }

  /**
   * lru_add_drain_cpu: empties one CPU's LRU add batch, then its move
   * batches in Linux's order (lru_move_tail, lru_deactivate_file,
   * lru_deactivate, lru_lazyfree, then folio_activate_drain).
   * Linux: mm/swap.c lru_add_drain_cpu
   */
  drainCpu(cpu: number): void {
    if (this.count[cpu] > 0) this.moveLru(cpu);
    for (let op = 0; op < NR_MOVE_OPS; op++) {
      const b = cpu * NR_MOVE_OPS + op;
      if (this.moveCount[b] > 0) this.moveBatch(b, op);
    }
  }

  /** lru_add_drain: empties the running CPU's batch, then its mlock batch (mlock_drain_local). Linux: mm/swap.c lru_add_drain */
  drain(): void {
    this.drainCpu(this.cpu());
    if (this.mlock.total > 0) this.mlock.drainLocal();
  }

  /** lru_add_drain_all: empties every CPU's batches (lru_add_and_bh_lrus_drain on each). Linux: mm/swap.c lru_add_drain_all */
  drainAll(): void {
    for (let c = 0; c < this.nrCpus; c++) {
      this.drainCpu(c);
      this.mlock.drainCpu(c);
    }
  }

  /**
   * __lru_cache_activate_folio (folio_mark_accessed on a folio not on a
   * list): if the folio is in this CPU's batch it gets PG_active and will
   * join the active list; one in another CPU's batch is not found.
   * Linux: mm/swap.c __lru_cache_activate_folio
   */
  activateLocal(pfn: number): void {
    const l = this.list[pfn];
    if (this.hasLocal(pfn) && (l === List.InactiveAnon || l === List.InactiveFile)) this.list[pfn] = l + 1;
  }
}

/**
 * shrink_folio_list, shrink_active_list or vmlab's other policies meeting
 * a folio that is not evictable: PG_mlocked already (folio_evictable is
 * false: activate_locked, which does not activate an mlocked folio), or
 * found by folio_referenced mapped in a VM_LOCKED VMA
 * (folio_referenced_one: mlock_vma_folio, then FOLIOREF_ACTIVATE). The
 * folio, isolated, is put back (move_folios_to_lru: folio_putback_lru,
 * folio_add_lru): into the LRU add batch, whose lru_add puts it on the
 * unevictable list (culled).
 * Linux: mm/vmscan.c shrink_folio_list, shrink_active_list, move_folios_to_lru, folio_putback_lru
 */
export function cullUnevictable(v: LruLists, pfn: number, foundLocked: boolean): void {
  v.unlink(pfn); // isolated: __mlock_folio leaves it alone
  if (foundLocked) v.fbatches.mlock.mlockFolio(pfn);
  v.fbatches.add(pfn, v.large[pfn] !== 0, evictableList(v, pfn));
}

/**
 * lru_activate: a folio still inactive and evictable moves to the head of
 * its active list, counted in pgactivate.
 * Linux: mm/swap.c lru_activate
 */
function lruActivate(v: LruLists, pfn: number): void {
  const l = v.lru[pfn];
  if (l !== List.InactiveAnon && l !== List.InactiveFile) return; // active or unevictable
  v.add(pfn, l + 1);
  v.stats.pgactivate += v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
}

/**
 * lru_deactivate: a folio still active and evictable moves to the head of
 * its inactive list, PG_referenced cleared, counted in pgdeactivate.
 * Linux: mm/swap.c lru_deactivate
 */
function lruDeactivate(v: LruLists, pfn: number): void {
  const l = v.lru[pfn];
  if (l !== List.ActiveAnon && l !== List.ActiveFile) return; // inactive or unevictable
  v.add(pfn, l - 1);
  v.referenced[pfn] = 0;
  v.stats.pgdeactivate += v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
}

/**
 * folio_mark_accessed, as GUP's FOLL_TOUCH calls it: a first use sets
 * PG_referenced; a second, on an inactive list, clears it and queues the
 * folio for activation (folio_activate: the lru_activate batch, which moves
 * it when full or at lru_add_drain); a folio not on a list (PG_lru clear:
 * in an LRU add batch, or in a move batch already) gets PG_active if it is
 * in this CPU's LRU add batch (__lru_cache_activate_folio), and loses
 * PG_referenced either way (a new page of a locked VMA, in an mlock batch,
 * too); one on the unevictable list keeps it and moves nowhere. Under the
 * linux policy only (mglru counts references in generations instead; the
 * others keep no PG_referenced).
 * Linux: mm/swap.c folio_mark_accessed
 */
export function folioMarkAccessed(v: LruLists, pfn: number): void {
  const list = v.lru[pfn];
  const batched = v.fbatches.has(pfn) || v.fbatches.mlock.refs[pfn] > 0; // an LRU add or mlock batch holds it
  if (v.env.policy !== "linux" || (list === List.None && !batched)) return;
  if (!v.referenced[pfn]) v.referenced[pfn] = 1;
  else if (list === List.None) {
    // PG_active of a batched folio: the list its LRU add batch will put it on (a new folio of an
    // mlock batch has none)
    const l = v.fbatches.has(pfn) ? v.fbatches.list[pfn] : List.InactiveAnon;
    const active = l === List.ActiveAnon || l === List.ActiveFile;
    v.fbatches.activateLocal(pfn);
    v.referenced[pfn] = 0;
    if (!active) v.workingset.ageNonresident(folioNrPages(v, pfn)); // workingset_activation
  } else if (list === List.InactiveAnon || list === List.InactiveFile) {
    // PG_lru clear (a move batch holds it): __lru_cache_activate_folio finds it in no LRU add batch
    if (v.fbatches.queued[pfn] === 0) v.fbatches.activate(pfn);
    v.referenced[pfn] = 0;
    v.workingset.ageNonresident(folioNrPages(v, pfn)); // workingset_activation
  }
}

/** folio_nr_pages of an LRU entry: a whole THP's, or one. */
function folioNrPages(v: LruLists, pfn: number): number {
  return v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
}

/**
 * folio_mark_lazyfree's test, which lru_lazyfree makes again when the batch
 * moves the folio: an anonymous folio still swap-backed (vmlab: without
 * Lazyfree), not in the swap cache, not unevictable.
 * Linux: mm/swap.c folio_mark_lazyfree, lru_lazyfree
 */
export function lazyfreeable(v: LruLists, pfn: number): boolean {
  const pages = v.env.pages;
  if (pages.kind[pfn] !== PageKind.UserAnon || pages.flags[pfn] & PageFlag.Lazyfree) return false;
  return !v.env.swap?.slotOf.has(pfn) && v.lru[pfn] !== List.Unevictable;
}

/**
 * lru_lazyfree, as the lru_lazyfree batch (swap.ts, filled by
 * folio_mark_lazyfree from MADV_FREE) moves a folio: a clean private
 * anonymous page loses PG_swapbacked (vmlab: gains Lazyfree) and moves to
 * the head of the inactive file list, its PG_active and PG_referenced
 * cleared, so reclaim finds it even with no swap (get_scan_count scans only
 * the file lists then); counted in pglazyfree. Under vmlab's other
 * policies it only gets the flag.
 * Linux: mm/swap.c lru_lazyfree
 */
export function lruLazyfree(v: LruLists, pfn: number): void {
  if (!lazyfreeable(v, pfn)) return;
  v.env.pages.flags[pfn] |= PageFlag.Lazyfree;
  v.referenced[pfn] = 0;
  if (v.env.policy === "linux") v.add(pfn, List.InactiveFile);
  v.stats.pglazyfree += v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
}
