/**
 * The state of anonymous multi-size THP (mTHP): the per-size knobs and
 * counters, and the live large anonymous folios below the PMD order with
 * their free and split. A leaf module (page descriptors and the allocator's
 * types only), so that the free path (folio_put.ts) and MmEnv reach it; the
 * fault path is mm/mthp.ts.
 * Linux: mm/huge_memory.c huge_anon_orders_{always,madvise,inherit},
 * thpsize_enabled_store, struct mthp_stat; mm/swap.c __folio_put;
 * mm/huge_memory.c __split_huge_page
 */
import type { BuddyAllocator, FreeError } from "./buddy.ts";
import { PageKind } from "./PageDesc.ts";

/** hugepages-<size>kB/enabled: never, always, madvise, inherit (the top-level `enabled`). */
export const MthpMode = { never: 0, always: 1, madvise: 2, inherit: 3 } as const;
export type MthpModeName = keyof typeof MthpMode;
export const MTHP_MODE_NAMES: readonly MthpModeName[] = ["never", "always", "madvise", "inherit"];

/**
 * The THP mode of the PMD order: its own hugepages-<PMD size>kB/enabled, or
 * the top-level `enabled` where that is `inherit` (its default), as
 * __thp_vma_allowable_orders reads huge_anon_orders_always / _madvise /
 * _inherit for PMD_ORDER: the fault path and khugepaged both ask it.
 * Linux: mm/huge_memory.c __thp_vma_allowable_orders, mm/khugepaged.c hugepage_pmd_enabled
 */
export function pmdThpMode(
  mthp: MthpState | undefined,
  top: "never" | "always" | "madvise",
): "never" | "always" | "madvise" {
  if (mthp === undefined) return top;
  const m = mthp.enabled[mthp.pmdOrder];
  return m === MthpMode.inherit ? top : (MTHP_MODE_NAMES[m] as "never" | "always" | "madvise");
}

/** The per-size counters of hugepages-<size>kB/stats (nr_anon is counted from the folios). Linux: enum mthp_stat_item */
export interface MthpStats {
  anon_fault_alloc: number;
  anon_fault_fallback: number;
  anon_fault_fallback_charge: number;
  split: number;
  split_failed: number;
  split_deferred: number;
  nr_anon_partially_mapped: number;
  swpout: number;
  swpout_fallback: number;
}

function emptyStats(): MthpStats {
  return {
    anon_fault_alloc: 0,
    anon_fault_fallback: 0,
    anon_fault_fallback_charge: 0,
    split: 0,
    split_failed: 0,
    split_deferred: 0,
    nr_anon_partially_mapped: 0,
    swpout: 0,
    swpout_fallback: 0,
  };
}

/**
 * The mTHP knobs, counters and live large anonymous folios below the PMD order.
 * Linux: mm/huge_memory.c huge_anon_orders_always/madvise/inherit, mthp_stats
 */
export class MthpState {
  /** hugepages-<size>kB/enabled per order (0 .. PMD order); PMD order: inherit, others never */
  readonly enabled: Uint8Array;
  /** the counters per order */
  readonly stats: MthpStats[];
  /** live large folios below the PMD order: head -> order */
  readonly heads = new Map<number, number>();
  /** head -> the folio's pages not yet put (freed whole at 0) */
  readonly remaining = new Map<number, number>();
  /** the orders that have (or had) live folios: headOf's candidates */
  liveOrders = 0;

  constructor(readonly pmdOrder: number) {
    this.enabled = new Uint8Array(pmdOrder + 1);
    this.enabled[pmdOrder] = MthpMode.inherit;
    this.stats = [];
    for (let o = 0; o <= pmdOrder; o++) this.stats.push(emptyStats());
  }

  /** The anonymous orders below PMD whose knob is not `never` (a bitmask; kept by set: one read per fault). */
  configuredOrders = 0;

  /**
   * thpsize_enabled_store: the knob of the size `kb` KiB (a power of two from
   * 16K to the PMD size: THP_ORDERS_ALL_ANON); false when no such size.
   */
  set(kb: number, mode: MthpModeName): boolean {
    const pages = kb / 4;
    if (!Number.isInteger(pages) || pages < 4 || (pages & (pages - 1)) !== 0) return false;
    const order = 31 - Math.clz32(pages);
    if (order > this.pmdOrder) return false;
    this.enabled[order] = MthpMode[mode];
    let m = 0;
    for (let o = 2; o < this.pmdOrder; o++) if (this.enabled[o] !== MthpMode.never) m |= 1 << o;
    this.configuredOrders = m;
    return true;
  }

  /** The head of the live large folio (below PMD order) holding `pfn`, or -1. */
  headOf(pfn: number): number {
    let m = this.liveOrders;
    while (m !== 0) {
      const o = 31 - Math.clz32(m);
      m &= ~(1 << o);
      const h = pfn - (pfn & ((1 << o) - 1));
      if (this.heads.get(h) === o) return h;
    }
    return -1;
  }

  /** nr_anon of `order`: its live anonymous folios. */
  nrAnon(order: number): number {
    let n = 0;
    for (const o of this.heads.values()) if (o === order) n++;
    return n;
  }

  /** A new folio of `order` at `head` (folio_add_new_anon_rmap: MTHP_STAT_NR_ANON + 1). */
  add(head: number, order: number): void {
    this.heads.set(head, order);
    this.remaining.set(head, 1 << order);
    this.liveOrders |= 1 << order;
  }
}

/** What a free or a split of an mTHP folio needs (a subset of MmEnv). */
export interface MthpEnv {
  readonly buddy: BuddyAllocator;
  readonly mthp?: MthpState;
  readonly deferredSplit?: { unqueue(head: number): boolean };
}

/**
 * A page of a live mTHP folio reached refcount 0: counted put; the folio's
 * block goes back whole (free_unref_page of folio_order) with its last page,
 * leaving the deferred split queue first (folio_undo_large_rmappable).
 * Returns undefined when `pfn` is in no mTHP folio.
 * Linux: mm/swap.c __folio_put; mm/page_alloc.c free_pages_prepare (mod_mthp_stat NR_ANON -1)
 */
export function mthpFreePage(env: MthpEnv, pfn: number): FreeError | null | undefined {
  const m = env.mthp;
  if (m === undefined || m.liveOrders === 0) return undefined;
  const head = m.headOf(pfn);
  if (head < 0) return undefined;
  const left = m.remaining.get(head)! - 1;
  if (left > 0) {
    m.remaining.set(head, left);
    return null;
  }
  const order = m.heads.get(head)!;
  m.heads.delete(head);
  m.remaining.delete(head);
  env.deferredSplit?.unqueue(head);
  env.buddy.pages.order[head] = order;
  return env.buddy.free(head, order);
}

/**
 * __split_huge_page of an mTHP folio to order 0: each page a folio of its
 * own; the pages nobody holds (refcount 0) are freed now. Returns the
 * folio's order, or -1 when `head` is no live mTHP folio.
 * Linux: mm/huge_memory.c __split_huge_page
 */
export function mthpFolioSplit(env: MthpEnv, head: number): number {
  const m = env.mthp;
  const order = m?.heads.get(head);
  if (m === undefined || order === undefined) return -1;
  m.heads.delete(head);
  m.remaining.delete(head);
  const pages = env.buddy.pages;
  for (let i = 0; i < 1 << order; i++) {
    const pfn = head + i;
    if (pages.refcount[pfn] === 0 && pages.kind[pfn] === PageKind.UserAnon) env.buddy.free(pfn, 0);
  }
  return order;
}
