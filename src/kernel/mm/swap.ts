import { ModelBug } from "../../base/assert.ts";
import { freeUserPage } from "./folio_put.ts";
import { evictableList, MlockFbatches, type MlockLists, UList, vmaMlocks } from "./mlock_fbatch.ts";
import { PageFlag } from "./PageDesc.ts";

/** The lists of mm/vmscan.ts's `Lru` this file needs (its numbers; vmscan.ts imports this file). */
const enum List {
  None = 0,
  InactiveAnon = 1,
  InactiveFile = 3,
}

/** What the batches and folio_mark_accessed need of page reclaim (mm/vmscan.ts Vmscan). */
export interface LruLists extends MlockLists {
  /** takes a page off its list, its flags kept (folio_isolate_lru) */
  unlink(pfn: number): void;
  /** PG_referenced */
  readonly referenced: Uint8Array;
  readonly fbatches: LruAddBatches;
  readonly env: MlockLists["env"] & { runningCpu?(): number };
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
    this.mlock = new MlockFbatches(v, nrCpus, nrFrames, this.runningCpu);
  }

  private cpu(): number {
    const c = this.runningCpu();
    return c >= 0 && c < this.nrCpus ? c : 0;
  }

  /** Is the folio in some CPU's batch (not yet on a list)? */
  has(pfn: number): boolean {
    return this.cpuOf[pfn] !== 0;
  }

  /** Is the folio in the running CPU's batch? */
  hasLocal(pfn: number): boolean {
    return this.cpuOf[pfn] === this.cpu() + 1;
  }

  /** The folios waiting in every batch. */
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
    const flags = this.flags;
    const v = this.v;
    this.count[cpu] = 0;
    for (let i = base; i < base + n; i++) {
      const pfn = folios[i];
      cpuOf[pfn] = 0;
      if (flags[pfn] & PageFlag.Mlocked) this.addUnevictable(pfn);
      else v.add(pfn, list[pfn]); // lru_add: folio_set_lru, lruvec_add_folio
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

  /** folios_put: the folio's mapping went while it waited; __folio_put takes it off the list and frees it. */
  private putLast(pfn: number): void {
    this.mlock.freeing(pfn);
    this.v.del(pfn);
    const err = freeUserPage(this.v.env.userMm.env, pfn); // a THP head: its whole folio
    if (err !== null) throw new ModelBug(`folio_batch_move_lru: ${err}`);
  }

  /** lru_add_drain_cpu: empties one CPU's batch. Linux: mm/swap.c lru_add_drain_cpu */
  drainCpu(cpu: number): void {
    if (this.count[cpu] > 0) this.moveLru(cpu);
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
 * folio_mark_accessed, as GUP's FOLL_TOUCH calls it: a first use sets
 * PG_referenced; a second, on an inactive list, activates the folio
 * (folio_activate; vmlab moves it at once, without the cpu_fbatches.activate
 * batch) and clears it; a folio still in an LRU add batch gets PG_active if
 * it is in this CPU's (__lru_cache_activate_folio), and loses PG_referenced
 * either way (a new page of a locked VMA, in an mlock batch, too); one on
 * the unevictable list keeps it and moves nowhere. Under the linux policy only (mglru counts references in
 * generations instead; the others keep no PG_referenced).
 * Linux: mm/swap.c folio_mark_accessed
 */
export function folioMarkAccessed(v: LruLists, pfn: number): void {
  const list = v.lru[pfn];
  const batched = v.fbatches.has(pfn) || v.fbatches.mlock.refs[pfn] > 0; // an LRU add or mlock batch holds it
  if (v.env.policy !== "linux" || (list === List.None && !batched)) return;
  if (!v.referenced[pfn]) v.referenced[pfn] = 1;
  else if (list === List.None) {
    v.fbatches.activateLocal(pfn);
    v.referenced[pfn] = 0;
  } else if (list === List.InactiveAnon || list === List.InactiveFile) {
    v.add(pfn, list + 1);
    v.referenced[pfn] = 0;
  }
}
