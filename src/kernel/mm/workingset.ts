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
 * The xarray leaf nodes that hold only shadows are listed and shrunk
 * (ShadowNodes, the mm-shadow shrinker). vmlab keeps one lruvec (the node's,
 * not one per memory cgroup) and has no lru_note_cost_refault (vmlab's
 * get_scan_count has no cost balance).
 * Linux: mm/workingset.c, include/linux/swap.h
 */

import type { Shrinker } from "./shrinker.ts";

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
  /** 2^bucket_order (0: not computed yet) */
  private scale = 0;
  readonly stats: WorkingsetStats = {
    workingset_refault_anon: 0,
    workingset_refault_file: 0,
    workingset_activate_anon: 0,
    workingset_activate_file: 0,
    workingset_restore_anon: 0,
    workingset_restore_file: 0,
    workingset_nodereclaim: 0,
  };
  /** the shadow_nodes list and the mm-shadow shrinker */
  readonly nodes = new ShadowNodes(this.stats);

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
    if (this.scale === 0) this.scale = 2 ** this.bucketOrder;
    const packed = shadow - 1;
    const workingset = packed % 2 === 1;
    const eviction = ((packed - (workingset ? 1 : 0)) / 2) * this.scale; // eviction <<= bucket_order
    // refault_distance = (refault - eviction) & EVICTION_MASK (no modulo while the clock has not wrapped)
    const d = this.age - eviction;
    const distance = d >= 0 && d < this.span ? d : ((d % this.span) + this.span) % this.span;
    let workingsetSize = size[List.ActiveFile];
    if (!file) workingsetSize += size[List.InactiveFile];
    if (freeSwap > 0) {
      workingsetSize += size[List.ActiveAnon];
      if (file) workingsetSize += size[List.InactiveAnon];
    }
    const r = this.recent;
    r.distance = distance;
    r.workingsetSize = workingsetSize;
    r.workingset = workingset;
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
    if (this.scale === 0) this.scale = 2 ** this.bucketOrder;
    const age = this.age;
    // >>= bucket_order, & EVICTION_MASK (the common case, no buckets and no wrap, without a division)
    const eviction = this.scale === 1 && age < this.span ? age : Math.floor(age / this.scale) % this.span;
    this.age = age + nr;
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

/** XA_CHUNK_SIZE: an xarray leaf node holds 64 entries. */
export const XA_CHUNK = 64;

/** A disk file's page cache as the shadow nodes see it (fs/file.ts FileObject). */
export interface ShadowFile {
  readonly ino: number;
  readonly cache: Map<number, number>;
  readonly shadows: Map<number, number>;
}

/** The swap cache as the shadow nodes see it (mm/swapfile.ts SwapArea). */
export interface ShadowSwap {
  /** the shadows of leaf node `chunk` (slots chunk * 64 ...) dropped (xa_delete_node) */
  dropNode(chunk: number): void;
}

/**
 * The shadow_nodes list_lru and its shrinker, mm-shadow: the xarray leaf
 * nodes (64 entries) that hold only shadow entries, in the order they came
 * to (workingset_update_node: node->count == node->nr_values puts a node on
 * the list, a folio stored in it takes it off), over the page cache of every
 * disk file and the swap cache. `workingset_nodes` is the list's length.
 * The shrinker keeps the nodes to about an eighth of memory's pages
 * (count_shadow_nodes: max_nodes = pages >> (XA_CHUNK_SHIFT - 3), pages =
 * the LRU pages and slab pages); above that, scan_shadow_nodes frees nodes
 * from the list's head, each with all its shadows (shadow_lru_isolate:
 * xa_delete_node), counted in workingset_nodereclaim. seeks 0: objects that
 * cost no I/O (do_shrink_slab trims them by half of the excess a pass).
 * Linux: mm/workingset.c workingset_update_node, count_shadow_nodes,
 * scan_shadow_nodes, shadow_lru_isolate
 */
export class ShadowNodes implements Shrinker {
  /**
   * The list, oldest first, as two lists merged by `seq` (the order nodes joined in, as Linux's one
   * list_lru keeps them): the swap cache's nodes linked through typed arrays indexed by the node
   * (slot / 64; swapNext, swapPrev, -1 ends; swapSeq when it joined; swapOn while listed), and the
   * disk files' nodes in a Map by key (-(ino * 2^23 + node) - 1), in the order they joined. A
   * swap-cache node joins or leaves the list on every folio that leaves or enters a node of
   * shadows (reclaim's swap-out, a fault's swap-in): a link or an unlink, where a Map's set and
   * delete hashed the key and grew or shrank its table (~130 ns a call in bench:reclaim).
   */
  private swapNext = new Int32Array(0);
  private swapPrev = new Int32Array(0);
  private swapSeq = new Float64Array(0);
  private swapOn = new Uint8Array(0);
  private swapHead = -1;
  private swapTail = -1;
  private swapCount = 0;
  private readonly files = new Map<number, { readonly f: ShadowFile; readonly seq: number }>();
  /** the next node's place in the list's order */
  private seq = 0;
  readonly seeks = 0;
  nrDeferred = 0;
  /** the swap cache, for dropping its nodes (boot wires it) */
  swap: ShadowSwap | null = null;
  /** the pages count_shadow_nodes weighs the nodes against: the LRU lists', and the slab's (a walk of the caches) */
  lruPages: () => number = () => 0;
  slabPages: () => number = () => 0;

  constructor(private readonly stats: WorkingsetStats) {}

  /** Nodes on the list (workingset_nodes: list_lru_count). */
  get size(): number {
    return this.swapCount + this.files.size;
  }

  /** The list's keys, oldest first: a swap-cache node as its index (>= 0), a file's node as its key (< 0). */
  keys(): number[] {
    const out: number[] = [];
    const fileKeys = [...this.files.keys()];
    let s = this.swapHead;
    let k = 0;
    while (s !== -1 || k < fileKeys.length) {
      if (s !== -1 && (k === fileKeys.length || this.swapSeq[s] < this.files.get(fileKeys[k])!.seq)) {
        out.push(s);
        s = this.swapNext[s];
      } else out.push(fileKeys[k++]);
    }
    return out;
  }

  /** workingset_update_node for a node of the swap cache that came to hold only shadows, or no longer does. */
  listSwap(chunk: number, listed: boolean): void {
    if (listed) {
      if (chunk >= this.swapOn.length) this.growSwap(chunk);
      if (this.swapOn[chunk] === 1) return; // on the list already: its place kept
      this.swapOn[chunk] = 1;
      this.swapSeq[chunk] = this.seq++;
      const t = this.swapTail;
      this.swapPrev[chunk] = t;
      this.swapNext[chunk] = -1;
      if (t === -1) this.swapHead = chunk;
      else this.swapNext[t] = chunk;
      this.swapTail = chunk;
      this.swapCount++;
    } else if (chunk < this.swapOn.length && this.swapOn[chunk] === 1) this.unlinkSwap(chunk);
  }

  /** A swap-cache node off the list. */
  private unlinkSwap(chunk: number): void {
    const p = this.swapPrev[chunk];
    const n = this.swapNext[chunk];
    if (p === -1) this.swapHead = n;
    else this.swapNext[p] = n;
    if (n === -1) this.swapTail = p;
    else this.swapPrev[n] = p;
    this.swapOn[chunk] = 0;
    this.swapCount--;
  }

  /** The swap-cache node arrays made to hold node `chunk` (at least doubled: a swap area's nodes, once). */
  private growSwap(chunk: number): void {
    const n = Math.max(chunk + 1, this.swapOn.length * 2, 64);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const seq = new Float64Array(n);
    const on = new Uint8Array(n);
    next.set(this.swapNext);
    prev.set(this.swapPrev);
    seq.set(this.swapSeq);
    on.set(this.swapOn);
    this.swapNext = next;
    this.swapPrev = prev;
    this.swapSeq = seq;
    this.swapOn = on;
  }

  /** workingset_update_node for the node of f holding page `index` (its entries counted). */
  updateFile(f: ShadowFile, index: number): void {
    const c = Math.floor(index / XA_CHUNK);
    const key = fileNodeKey(f, c);
    if (shadowsOnly(f, c)) {
      if (!this.files.has(key)) this.files.set(key, { f, seq: this.seq++ });
    } else this.files.delete(key);
  }

  /** count_shadow_nodes: the nodes above max_nodes (0: none to free). */
  count(): number {
    const n = this.size;
    const lru = n === 0 ? 0 : this.lruPages();
    if (n <= Math.floor(lru / 8)) return 0; // within the bound without the slab's pages either
    const maxNodes = Math.floor((lru + this.slabPages()) / 2 ** (6 - 3));
    return n <= maxNodes ? 0 : n - maxNodes;
  }

  /** scan_shadow_nodes: up to nr nodes from the list's head freed with their shadows. */
  scan(nr: number): number {
    let freed = 0;
    while (freed < nr) {
      // the list's head: the older of the two lists' heads
      const s = this.swapHead;
      let key = 0;
      let file: { readonly f: ShadowFile; readonly seq: number } | undefined;
      if (this.files.size > 0) {
        const first = this.files.entries().next().value as [number, { f: ShadowFile; seq: number }];
        if (s === -1 || first[1].seq < this.swapSeq[s]) {
          key = first[0];
          file = first[1];
        }
      }
      if (file !== undefined) {
        this.files.delete(key);
        const c = -key - 1 - file.f.ino * 2 ** 23;
        for (let i = c * XA_CHUNK; i < (c + 1) * XA_CHUNK; i++) file.f.shadows.delete(i);
      } else if (s !== -1) {
        this.unlinkSwap(s);
        this.swap?.dropNode(s);
      } else break; // the list is empty
      this.stats.workingset_nodereclaim++;
      freed++;
    }
    return freed;
  }
}

/** The list's key of file f's node `c` (XA_CHUNK pages from c * XA_CHUNK): negative, apart from the swap cache's chunks. */
export function fileNodeKey(f: ShadowFile, c: number): number {
  return -(f.ino * 2 ** 23 + c) - 1;
}

/**
 * workingset_update_node's test for file f's node `c`: it holds shadow entries and no folio
 * (xa_node's nr_values == count), so it belongs on the shadow_nodes list.
 */
export function shadowsOnly(f: ShadowFile, c: number): boolean {
  if (f.shadows.size === 0) return false;
  let shadows = 0;
  for (let i = c * XA_CHUNK; i < (c + 1) * XA_CHUNK; i++) {
    if (f.shadows.has(i)) shadows++;
    else if (f.cache.has(i)) return false;
  }
  return shadows > 0;
}
