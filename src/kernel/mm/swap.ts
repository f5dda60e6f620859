import { ModelBug } from "../../base/assert.ts";
import type { BuddyAllocator } from "./buddy.ts";
import type { PageDescTable } from "./PageDesc.ts";

/** The lists of mm/vmscan.ts's `Lru` this file needs (its numbers; vmscan.ts imports this file). */
const enum List {
  None = 0,
  InactiveAnon = 1,
  InactiveFile = 3,
}

/** What the batches and folio_mark_accessed need of page reclaim (mm/vmscan.ts Vmscan). */
export interface LruLists {
  /** the list each page is on (vmscan.ts Lru; 0: none) */
  readonly lru: Uint8Array;
  /** PG_referenced */
  readonly referenced: Uint8Array;
  readonly fbatches: LruAddBatches;
  readonly env: {
    readonly pages: PageDescTable;
    readonly policy: string;
    readonly userMm: { readonly env: { readonly buddy: BuddyAllocator } };
    runningCpu?(): number;
  };
  /** puts a page at the head of a list (lruvec_add_folio) */
  add(pfn: number, list: number): void;
  /** takes a page off the lists for good */
  del(pfn: number): void;
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
  /** the list each batched folio will join (folio_lru_list at lru_add: PG_active makes it the active one) */
  readonly list: Uint8Array;

  /** page->_refcount (the page table's array) */
  private readonly refcount: Int32Array;
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
    this.runningCpu = v.env.runningCpu === undefined ? () => 0 : () => v.env.runningCpu!();
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
   * folio_batch_move_lru with lru_add: each folio, in batch order, joins its
   * list; then folios_put drops the batch's references (freeing a folio
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
    this.count[cpu] = 0;
    for (let i = base; i < base + n; i++) {
      const pfn = folios[i];
      cpuOf[pfn] = 0;
      v.add(pfn, list[pfn]); // lru_add: folio_set_lru, lruvec_add_folio
      if (--refcount[pfn] === 0) this.putLast(pfn);
    }
  }

  /** folios_put: the folio's mapping went while it waited; __folio_put takes it off the list and frees it. */
  private putLast(pfn: number): void {
    this.v.del(pfn);
    const err = this.v.env.userMm.env.buddy.free(pfn, 0);
    if (err !== null) throw new ModelBug(`folio_batch_move_lru: ${err}`);
  }

  /** lru_add_drain_cpu: empties one CPU's batch. Linux: mm/swap.c lru_add_drain_cpu */
  drainCpu(cpu: number): void {
    if (this.count[cpu] > 0) this.moveLru(cpu);
  }

  /** lru_add_drain: empties the running CPU's batch. Linux: mm/swap.c lru_add_drain */
  drain(): void {
    this.drainCpu(this.cpu());
  }

  /** lru_add_drain_all: empties every CPU's batch. Linux: mm/swap.c lru_add_drain_all */
  drainAll(): void {
    for (let c = 0; c < this.nrCpus; c++) this.drainCpu(c);
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
 * folio_mark_accessed, as GUP's FOLL_TOUCH calls it: a first use sets
 * PG_referenced; a second, on an inactive list, activates the folio
 * (folio_activate; vmlab moves it at once, without the cpu_fbatches.activate
 * batch) and clears it; a folio still in an LRU add batch gets PG_active if
 * it is in this CPU's (__lru_cache_activate_folio), and loses PG_referenced
 * either way. Under the linux policy only (mglru counts references in
 * generations instead; the others keep no PG_referenced).
 * Linux: mm/swap.c folio_mark_accessed
 */
export function folioMarkAccessed(v: LruLists, pfn: number): void {
  const list = v.lru[pfn];
  if (v.env.policy !== "linux" || (list === List.None && !v.fbatches.has(pfn))) return;
  if (!v.referenced[pfn]) v.referenced[pfn] = 1;
  else if (list === List.None) {
    v.fbatches.activateLocal(pfn);
    v.referenced[pfn] = 0;
  } else if (list === List.InactiveAnon || list === List.InactiveFile) {
    v.add(pfn, list + 1);
    v.referenced[pfn] = 0;
  }
}
