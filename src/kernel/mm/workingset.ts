/**
 * Workingset detection: the refault distance of an evicted page, and the
 * activation of a page that refaults soon enough (mm/workingset.c, for the
 * two-list LRU; vmlab's `mglru` policy, which is not Linux's lru_gen, and its
 * other policies keep no shadows).
 *
 * The node's lruvec keeps a clock, nonresident_age, that advances by a
 * page for each eviction and each activation (workingset_age_nonresident).
 * An evicted page leaves a shadow entry where it was (the page cache's
 * index for a file page, the swap cache's slot for an anonymous or shmem
 * page): the clock's reading at its eviction (workingset_eviction), in
 * buckets of 2^bucket_order pages, and whether it had been active before
 * (PG_workingset). When the page is read back into the same place
 * (filemap_add_folio without __GFP_WRITE, __read_swap_cache_async), the
 * distance is the clock's reading now less the shadow's: how many pages
 * were evicted or activated since, i.e. how much more memory the page would
 * have needed to stay resident. A distance no larger than the workingset the
 * page competes with (workingset_test_recent: the active file list; for an
 * anonymous page the inactive file list too; with free swap the active anon
 * list, and for a file page the inactive anon list too) activates it at
 * once: it joins the active list instead of the inactive one
 * (workingset_refault: folio_set_active, counted in workingset_activate_*;
 * workingset_restore_* when it had been active before eviction). Every
 * refault with a shadow counts in workingset_refault_*.
 *
 * vmlab keeps one lruvec (the node's, not one per memory cgroup) and does not
 * run the shadow node shrinker (workingset_nodereclaim stays 0: it only acts
 * when shadow nodes pass about an eighth of memory's pages in xarray nodes),
 * nor lru_note_cost_refault (vmlab's get_scan_count has no cost balance).
 * Linux: mm/workingset.c, include/linux/swap.h
 */

/** The LRU lists as vmscan.ts numbers them (its Lru; not imported: vmscan.ts imports this file). */
const enum List {
  InactiveAnon = 1,
  ActiveAnon = 2,
  InactiveFile = 3,
  ActiveFile = 4,
}

/** MEM_CGROUP_ID_SHIFT (include/linux/memcontrol.h, CONFIG_MEMCG) */
const MEM_CGROUP_ID_SHIFT = 16;
/** WORKINGSET_SHIFT: the PG_workingset bit of a shadow */
const WORKINGSET_SHIFT = 1;

/**
 * CONFIG_NODES_SHIFT of each architecture's configuration: x86-64 10 (a
 * distribution's CONFIG_MAXSMP kernel, as this project's host prints
 * "workingset: timestamp_bits=36"), arm64 4 and RISC-V 2 (their Kconfig
 * defaults), 32-bit x86 0 (no NUMA).
 */
export function nodesShift(arch: string): number {
  if (arch.startsWith("x86_64")) return 10;
  if (arch === "arm64") return 4;
  if (arch.startsWith("riscv")) return 2;
  return 0;
}

/** What workingset_refault decided. */
export const enum Refault {
  /** too far: the page joins the inactive list */
  Inactive = 0,
  /** close enough: active (workingset_activate_*) */
  Activate = 1,
  /** active, and it had been active before eviction (PG_workingset: workingset_restore_*) */
  Restore = 2,
}

/** /proc/vmstat's workingset_* events (node_stat_item WORKINGSET_*), in pages. */
export interface WorkingsetStats {
  workingset_refault_anon: number;
  workingset_refault_file: number;
  workingset_activate_anon: number;
  workingset_activate_file: number;
  workingset_restore_anon: number;
  workingset_restore_file: number;
  workingset_nodereclaim: number;
}

/**
 * The node lruvec's nonresident clock and the shadows' encoding. A shadow
 * is a positive number (0: none) as vmlab stores it, (eviction << 1 |
 * workingset) + 1: the memcg id (always the root's) and node id Linux
 * packs beside it are the same for every shadow here.
 */
export class Workingset {
  /** lruvec->nonresident_age */
  age = 0;
  /** 2^timestamp_bits: EVICTION_MASK + 1 */
  private readonly span: number;
  /** bucket_order (workingset_init), computed at the first eviction (RAM known then) */
  private bucket = -1;
  readonly stats: WorkingsetStats = {
    workingset_refault_anon: 0,
    workingset_refault_file: 0,
    workingset_activate_anon: 0,
    workingset_activate_file: 0,
    workingset_restore_anon: 0,
    workingset_restore_file: 0,
    workingset_nodereclaim: 0,
  };

  /**
   * `longBits`: BITS_PER_LONG (32 on i386 and PAE); `totalRamPages`:
   * totalram_pages() at boot, for bucket_order.
   */
  constructor(
    longBits: number,
    nodeBits: number,
    private readonly totalRamPages: () => number,
  ) {
    // EVICTION_SHIFT = (BITS_PER_LONG - BITS_PER_XA_VALUE) + WORKINGSET_SHIFT + NODES_SHIFT + MEM_CGROUP_ID_SHIFT
    this.span = 2 ** (longBits - (1 + WORKINGSET_SHIFT + nodeBits + MEM_CGROUP_ID_SHIFT));
  }

  /** timestamp_bits, as workingset_init prints it */
  get timestampBits(): number {
    return Math.log2(this.span);
  }

  /** bucket_order: max_order = fls_long(totalram_pages - 1) above timestamp_bits, else 0. */
  get bucketOrder(): number {
    if (this.bucket < 0) {
      const t = this.totalRamPages() - 1;
      const maxOrder = t <= 0 ? 0 : Math.floor(Math.log2(t)) + 1; // fls_long
      const bits = this.timestampBits;
      this.bucket = maxOrder > bits ? maxOrder - bits : 0;
    }
    return this.bucket;
  }

  /** testRecent's answer (one record, overwritten by the next call) */
  private readonly recent = { distance: 0, workingsetSize: 0, workingset: false };

  /**
   * workingset_test_recent, without side effects: the refault distance of a page read back now
   * where `shadow` is, the workingset it is compared with (the lists' sizes in pages, `size`;
   * free swap pages, `freeSwap`), and the shadow's PG_workingset. The record is reused.
   */
  testRecent(
    shadow: number,
    file: boolean,
    size: Int32Array,
    freeSwap: number,
  ): { readonly distance: number; readonly workingsetSize: number; readonly workingset: boolean } {
    const packed = shadow - 1;
    const eviction = Math.floor(packed / 2) * 2 ** this.bucketOrder; // eviction <<= bucket_order
    // refault_distance = (refault - eviction) & EVICTION_MASK
    const distance = (((this.age - eviction) % this.span) + this.span) % this.span;
    let workingsetSize = size[List.ActiveFile];
    if (!file) workingsetSize += size[List.InactiveFile];
    if (freeSwap > 0) {
      workingsetSize += size[List.ActiveAnon];
      if (file) workingsetSize += size[List.InactiveAnon];
    }
    const r = this.recent;
    r.distance = distance;
    r.workingsetSize = workingsetSize;
    r.workingset = packed % 2 === 1;
    return r;
  }

  /** workingset_age_nonresident: the lruvec aged by nr pages (an eviction or an activation). */
  ageNonresident(nr: number): void {
    this.age += nr;
  }

  /**
   * workingset_eviction: the shadow of a folio of nr pages leaving memory
   * now (the clock read, then advanced); `workingset`: its PG_workingset.
   */
  eviction(workingset: boolean, nr: number): number {
    const b = 2 ** this.bucketOrder;
    const eviction = Math.floor(this.age / b) % this.span; // >>= bucket_order, & EVICTION_MASK
    this.age += nr;
    return eviction * 2 + (workingset ? 1 : 0) + 1;
  }

  /**
   * workingset_refault + workingset_test_recent for a folio of nr pages
   * read back where `shadow` was: counts the refault, and decides. `size`
   * is the lists' sizes in pages (lruvec_page_state NR_*_ANON/FILE),
   * `freeSwap` the free swap pages (mem_cgroup_get_nr_swap_pages).
   */
  refault(shadow: number, file: boolean, nr: number, size: Int32Array, freeSwap: number): Refault {
    const s = this.stats;
    if (file) s.workingset_refault_file += nr;
    else s.workingset_refault_anon += nr;
    const t = this.testRecent(shadow, file, size, freeSwap);
    if (t.distance > t.workingsetSize) return Refault.Inactive;
    this.age += nr; // folio_set_active; workingset_age_nonresident
    if (file) s.workingset_activate_file += nr;
    else s.workingset_activate_anon += nr;
    if (!t.workingset) return Refault.Activate;
    if (file) s.workingset_restore_file += nr;
    else s.workingset_restore_anon += nr;
    return Refault.Restore;
  }
}

/** XA_CHUNK_SHIFT: an xarray leaf node holds 64 entries. */
const XA_CHUNK_SHIFT = 6;

/**
 * workingset_nodes: the xarray leaf nodes holding only shadow entries, which
 * workingset_update_node puts on the shadow_nodes list (node->count ==
 * node->nr_values): one per 64-entry chunk of a mapping where every entry
 * present is a shadow. `shadows` are the indices holding one, `present`
 * tells whether an index holds a folio. An xarray whose one entry is at
 * index 0 keeps it in its head, not in a node.
 */
export function shadowNodes(
  shadows: Iterable<number>,
  present: (index: number) => boolean,
  only0: boolean,
): number {
  if (only0) return 0;
  const chunks = new Set<number>();
  for (const i of shadows) chunks.add(Math.floor(i / 2 ** XA_CHUNK_SHIFT));
  let n = 0;
  for (const c of chunks) {
    let folio = false;
    for (let i = c * 64; i < c * 64 + 64 && !folio; i++) folio = present(i);
    if (!folio) n++;
  }
  return n;
}
