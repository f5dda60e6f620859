/**
 * How reclaim divides its work between the anonymous and the file LRU lists, and how one
 * reclaim walks the priorities: struct scan_control, prepare_scan_control, get_scan_count,
 * shrink_lruvec, shrink_node, do_try_to_free_pages, kswapd's balance_pgdat loop, the lruvec's
 * reclaim costs (mm/swap.c lru_note_cost) and its refault snapshot (snapshot_refaults).
 * Linux: mm/vmscan.c (6.12), the classic two-list LRU (not lru_gen)
 *
 * vmlab's one node has one lruvec (memory cgroups share it: core/memcontrol.ts), whose lists
 * hold every zone's pages; a reclaim limited to lower zones (sc->reclaim_idx) sizes its scan by
 * their pages (lruvec_lru_size, mm_inline.ts) and passes over the others (vmscan_isolate.ts). Not modelled: memory.low/min
 * protection, the partial memcg walk and its retry (memcg_full_walk), demotion, compaction's
 * early stop (compaction_ready) and should_continue_reclaim; watermark boosting.
 */

/** DEF_PRIORITY: a scan looks at lru_size >> priority pages, priority going from 12 down to 0. */
export const DEF_PRIORITY = 12;
/** SWAP_CLUSTER_MAX: the batch reclaim works in. */
export const SWAP_CLUSTER_MAX = 32;
/** MAX_RECLAIM_RETRIES: kswapd runs that reclaimed nothing before the node is left to direct reclaim */
export const MAX_RECLAIM_RETRIES = 16;
/** MAX_SWAPPINESS (vm.swappiness ranges over 0..200 since Linux 5.8) */
const MAX_SWAPPINESS = 200;

import { ZONE_MOVABLE } from "./mm_inline.ts";

// include/linux/mmzone.h enum lru_list, as vmscan.ts's Lru (no import: vmscan.ts imports this file)
const INACTIVE_ANON = 1;
const ACTIVE_ANON = 2;
const INACTIVE_FILE = 3;
const ACTIVE_FILE = 4;

/** enum scan_balance */
export const enum ScanBalance {
  Equal = 0,
  Fract = 1,
  Anon = 2,
  File = 3,
}

/** sc->may_deactivate's bits */
export const enum Deactivate {
  Anon = 1,
  File = 2,
}

/** struct scan_control: one reclaim's target, progress and scan-balance decisions. */
export interface ScanControl {
  /** pages to reclaim before this reclaim may stop */
  nrToReclaim: number;
  nrReclaimed: number;
  /** pages isolated from the lists since the priority step began (do_try_to_free_pages zeroes it) */
  nrScanned: number;
  priority: number;
  /** current_is_kswapd() */
  readonly kswapd: boolean;
  /** cgroup_reclaim(sc): reclaim for a memory cgroup's limit */
  readonly cgroup: boolean;
  /** Deactivate bits: which active lists shrink_list may age */
  mayDeactivate: number;
  forceDeactivate: boolean;
  skippedDeactivate: boolean;
  cacheTrimMode: boolean;
  cacheTrimModeFailed: boolean;
  noCacheTrimMode: boolean;
  fileIsTiny: boolean;
  /** the lruvec's costs as prepare_scan_control copied them */
  anonCost: number;
  fileCost: number;
  /** the scan balance get_scan_count chose last (for tests and explain) */
  balance: ScanBalance;
  /** the allocation order reclaim works for (kswapd drops it to 0 after compact_gap(order) pages) */
  order: number;
  /** sc->may_swap: anonymous pages may be reclaimed (kswapd's boosted reclaim clears it) */
  maySwap: boolean;
  /** sc->may_writepage: reclaim may write pages out (kswapd's boosted reclaim clears it) */
  mayWritepage: boolean;
  /**
   * sc->reclaim_idx: the highest zone whose pages this reclaim takes (direct reclaim:
   * gfp_zone(gfp_mask); kswapd: the wakers' highest_zoneidx; else ZONE_MOVABLE, every zone)
   */
  reclaimIdx: number;
}

export function newScanControl(
  nrToReclaim: number,
  kswapd: boolean,
  cgroup: boolean,
  reclaimIdx = ZONE_MOVABLE,
): ScanControl {
  return {
    reclaimIdx,
    nrToReclaim,
    nrReclaimed: 0,
    nrScanned: 0,
    priority: DEF_PRIORITY,
    kswapd,
    cgroup,
    mayDeactivate: 0,
    forceDeactivate: false,
    skippedDeactivate: false,
    cacheTrimMode: false,
    cacheTrimModeFailed: false,
    noCacheTrimMode: false,
    fileIsTiny: false,
    anonCost: 0,
    fileCost: 0,
    balance: ScanBalance.Fract,
    order: 0,
    maySwap: true,
    mayWritepage: true,
  };
}

/**
 * The lruvec's reclaim costs (lruvec->anon_cost, file_cost: a decaying average of the I/O and
 * rotations each side cost) and the refault counts at the last reclaim's end (lruvec->refaults).
 */
export class LruvecCost {
  anonCost = 0;
  fileCost = 0;
  refaultsAnon = 0;
  refaultsFile = 0;

  /**
   * lru_note_cost: nr_io pages of I/O (weighted SWAP_CLUSTER_MAX each) and nr_rotated pages of
   * CPU work charged to one side; both halve once they sum past a quarter of the LRU's pages.
   * Linux: mm/swap.c lru_note_cost
   */
  note(file: boolean, nrIo: number, nrRotated: number, size: Int32Array): void {
    const cost = nrIo * SWAP_CLUSTER_MAX + nrRotated;
    if (file) this.fileCost += cost;
    else this.anonCost += cost;
    const lrusize = size[INACTIVE_ANON] + size[ACTIVE_ANON] + size[INACTIVE_FILE] + size[ACTIVE_FILE];
    if (this.fileCost + this.anonCost > Math.floor(lrusize / 4)) {
      this.fileCost = Math.floor(this.fileCost / 2);
      this.anonCost = Math.floor(this.anonCost / 2);
    }
  }
}

/**
 * inactive_is_low: the inactive list is below its share of the pair, 1/(1 + inactive_ratio) with
 * inactive_ratio = int_sqrt(10 * GiB of the pair), 1 below 1 GiB. `pageShift`: the base page's.
 */
export function inactiveIsLow(size: Int32Array, inactive: number, pageShift = 12): boolean {
  const inact = size[inactive];
  const active = size[inactive + 1];
  // 2^(30 - pageShift) as a shift: `2 **` of a variable exponent is a call into the runtime's
  // pow on every use (0.7% of bench:reclaim's cycles: kswapd's every priority step asks twice)
  const gb = Math.floor((inact + active) / (1 << (30 - pageShift)));
  const ratio = gb > 0 ? Math.floor(Math.sqrt(10 * gb)) : 1;
  return inact * ratio < active;
}

/** What the balance needs of the node's reclaim state (vmscan.ts's Vmscan has it). */
export interface BalanceNode {
  /** the lists' sizes in pages, indexed by Lru */
  readonly size: Int32Array;
  /** lruvec_lru_size: a list's pages in the zones up to zoneIdx */
  lruSize(list: number, zoneIdx: number): number;
  readonly cost: LruvecCost;
  /** WORKINGSET_ACTIVATE_ANON / _FILE so far */
  activations(file: boolean): number;
  /** vm.swappiness */
  swappiness(): number;
  /** get_nr_swap_pages(): free swap pages (0 without swap) */
  freeSwapPages(): number;
  /** total_swap_pages > 0 (can_age_anon_pages) */
  hasSwap(): boolean;
  /** NR_FREE_PAGES and the managed zones' high watermarks summed (file_is_tiny); null: not known */
  freeAndHighWmark(): [number, number] | null;
  /** the base page's shift (inactive_is_low's GiB) */
  readonly pageShift: number;
}

/**
 * prepare_scan_control: the costs copied, which active lists may be aged (refaults seen since
 * the last reclaim, or an inactive list too small), cache trim mode (enough inactive file pages
 * that are not thrashing) and file_is_tiny (global reclaim only).
 */
export function prepareScanControl(n: BalanceNode, sc: ScanControl): void {
  const size = n.size;
  sc.anonCost = n.cost.anonCost;
  sc.fileCost = n.cost.fileCost;
  if (!sc.forceDeactivate) {
    if (n.activations(false) !== n.cost.refaultsAnon || inactiveIsLow(size, INACTIVE_ANON, n.pageShift))
      sc.mayDeactivate |= Deactivate.Anon;
    else sc.mayDeactivate &= ~Deactivate.Anon;
    if (n.activations(true) !== n.cost.refaultsFile || inactiveIsLow(size, INACTIVE_FILE, n.pageShift))
      sc.mayDeactivate |= Deactivate.File;
    else sc.mayDeactivate &= ~Deactivate.File;
  } else sc.mayDeactivate = Deactivate.Anon | Deactivate.File;
  sc.cacheTrimMode =
    size[INACTIVE_FILE] >> sc.priority > 0 && !(sc.mayDeactivate & Deactivate.File) && !sc.noCacheTrimMode;
  sc.fileIsTiny = false;
  const fw = sc.cgroup ? null : n.freeAndHighWmark();
  if (fw !== null) {
    const file = size[ACTIVE_FILE] + size[INACTIVE_FILE];
    sc.fileIsTiny =
      file + fw[0] <= fw[1] &&
      !(sc.mayDeactivate & Deactivate.Anon) &&
      size[INACTIVE_ANON] >> sc.priority > 0;
  }
}

/**
 * get_scan_count: the pages to scan on each list at this priority (nr[1..4], indexed by Lru):
 * each list's size >> priority, then SCAN_FILE without free swap (or cgroup reclaim at swappiness
 * 0), SCAN_EQUAL at priority 0, SCAN_ANON when file_is_tiny, SCAN_FILE in cache trim mode, else
 * SCAN_FRACT: anon weighted swappiness and file 200 - swappiness, each divided by its recent
 * cost (lru_note_cost), so that at least a third of the pressure reaches either side.
 */
export function getScanCount(n: BalanceNode, sc: ScanControl, nr: Float64Array): void {
  const swappiness = n.swappiness();
  let balance: ScanBalance;
  let ap = 0;
  let fp = 0;
  if (!sc.maySwap || n.freeSwapPages() <= 0)
    balance = ScanBalance.File; // !sc->may_swap || !can_reclaim_anon_pages
  else if (sc.cgroup && swappiness === 0) balance = ScanBalance.File;
  else if (sc.priority === 0 && swappiness !== 0) balance = ScanBalance.Equal;
  else if (sc.fileIsTiny) balance = ScanBalance.Anon;
  else if (sc.cacheTrimMode) balance = ScanBalance.File;
  else {
    balance = ScanBalance.Fract;
    let total = sc.anonCost + sc.fileCost;
    const anonCost = total + sc.anonCost;
    const fileCost = total + sc.fileCost;
    total = anonCost + fileCost;
    ap = Math.floor((swappiness * (total + 1)) / (anonCost + 1));
    fp = Math.floor(((MAX_SWAPPINESS - swappiness) * (total + 1)) / (fileCost + 1));
  }
  sc.balance = balance;
  const denominator = ap + fp;
  for (let lru = INACTIVE_ANON; lru <= ACTIVE_FILE; lru++) {
    const file = lru >= INACTIVE_FILE;
    // mem_cgroup_online: the root lruvec's memcg is online, so no SWAP_CLUSTER_MAX floor
    let scan = n.lruSize(lru, sc.reclaimIdx) >> sc.priority;
    if (balance === ScanBalance.Fract)
      scan = denominator === 0 ? 0 : Math.floor((scan * (file ? fp : ap)) / denominator);
    else if (balance === ScanBalance.File || balance === ScanBalance.Anon) {
      if ((balance === ScanBalance.File) !== file) scan = 0;
    }
    nr[lru] = scan;
  }
}

/** snapshot_refaults: the refault counts a reclaim ended at (prepare_scan_control compares against them). */
export function snapshotRefaults(n: BalanceNode): void {
  n.cost.refaultsAnon = n.activations(false);
  n.cost.refaultsFile = n.activations(true);
}

/** What shrink_lruvec and shrink_node run (vmscan.ts's Vmscan). */
export interface ShrinkNode extends BalanceNode {
  /** lru_add_drain */
  drainBatches(): void;
  /** shrink_active_list of up to nr pages of an active list */
  shrinkActive(list: number, nr: number): void;
  /** shrink_inactive_list of up to nr pages: adds to sc's scanned count; returns pages reclaimed */
  shrinkInactive(list: number, nr: number, sc: ScanControl): number;
  /** shrink_slab at the priority */
  shrinkSlab(priority: number): number;
  /** shrink_node's dirty-page bookkeeping (page_writeback.ts), null without it */
  readonly writeback: { startNode(): void; endNode(kswapd: boolean): void } | null;
  /** pgdat->kswapd_failures: kswapd runs in a row that reclaimed nothing */
  kswapdFailures: number;
}

/** nr[] for shrink_lruvec (one reclaim at a time runs: reused) */
const nrScan = new Float64Array(5);
const targets = new Float64Array(5);

/**
 * shrink_lruvec: the lists scanned SWAP_CLUSTER_MAX pages at a time each in turn (inactive anon,
 * active anon, inactive file, active file) until the inactive lists' and active file's targets
 * are done; active lists only where may_deactivate allows. Once enough is reclaimed (not for
 * direct global reclaim at DEF_PRIORITY, which does its batch whole), the side with less left
 * stops and the other is cut to the share of its target the stopped side had left. Last, the
 * anon lists are rebalanced when the inactive one is low and swap exists.
 */
export function shrinkLruvec(n: ShrinkNode, sc: ScanControl): void {
  getScanCount(n, sc, nrScan);
  targets.set(nrScan);
  const proportional = !sc.cgroup && !sc.kswapd && sc.priority === DEF_PRIORITY;
  let reclaimed = 0;
  const toReclaim = sc.nrToReclaim;
  while (nrScan[INACTIVE_ANON] > 0 || nrScan[ACTIVE_FILE] > 0 || nrScan[INACTIVE_FILE] > 0) {
    for (let lru = INACTIVE_ANON; lru <= ACTIVE_FILE; lru++) {
      if (nrScan[lru] === 0) continue;
      const nrToScan = Math.min(nrScan[lru], SWAP_CLUSTER_MAX);
      nrScan[lru] -= nrToScan;
      // shrink_list
      if (lru === ACTIVE_ANON || lru === ACTIVE_FILE) {
        if (sc.mayDeactivate & (lru === ACTIVE_FILE ? Deactivate.File : Deactivate.Anon))
          n.shrinkActive(lru, nrToScan);
        else sc.skippedDeactivate = true;
      } else reclaimed += n.shrinkInactive(lru, nrToScan, sc);
    }
    if (reclaimed < toReclaim || proportional) continue;
    const nrFile = nrScan[INACTIVE_FILE] + nrScan[ACTIVE_FILE];
    const nrAnon = nrScan[INACTIVE_ANON] + nrScan[ACTIVE_ANON];
    if (nrFile === 0 || nrAnon === 0) break;
    let stop: number;
    let percentage: number;
    if (nrFile > nrAnon) {
      stop = INACTIVE_ANON;
      percentage = Math.floor((nrAnon * 100) / (targets[INACTIVE_ANON] + targets[ACTIVE_ANON] + 1));
    } else {
      stop = INACTIVE_FILE;
      percentage = Math.floor((nrFile * 100) / (targets[INACTIVE_FILE] + targets[ACTIVE_FILE] + 1));
    }
    nrScan[stop] = 0;
    nrScan[stop + 1] = 0;
    const other = stop === INACTIVE_FILE ? INACTIVE_ANON : INACTIVE_FILE;
    for (let lru = other; lru <= other + 1; lru++) {
      const scanned = targets[lru] - nrScan[lru];
      const left = Math.floor((targets[lru] * (100 - percentage)) / 100);
      nrScan[lru] = left - Math.min(left, scanned);
    }
  }
  sc.nrReclaimed += reclaimed;
  if (n.hasSwap() && inactiveIsLow(n.size, INACTIVE_ANON, n.pageShift))
    n.shrinkActive(ACTIVE_ANON, SWAP_CLUSTER_MAX);
}

/**
 * shrink_node: the scan balance prepared, the lruvec shrunk, then the slab. A node that gave
 * pages back is reclaimable again (kswapd_failures = 0, whoever reclaimed); one that gave
 * nothing in cache trim mode marks cache_trim_mode_failed (balance_pgdat retries without it).
 */
export function shrinkNode(n: ShrinkNode, sc: ScanControl): void {
  const before = sc.nrReclaimed;
  n.writeback?.startNode(); // sc->nr zeroed
  prepareScanControl(n, sc);
  shrinkLruvec(n, sc);
  n.shrinkSlab(sc.priority); // shrink_node_memcgs: shrink_slab after shrink_lruvec
  n.writeback?.endNode(sc.kswapd); // PGDAT_DIRTY
  if (sc.nrReclaimed !== before) n.kswapdFailures = 0;
  else if (sc.cacheTrimMode) sc.cacheTrimModeFailed = true;
}

/**
 * do_try_to_free_pages for one node: shrink_node at priorities DEF_PRIORITY down to 0 until
 * nr_to_reclaim pages went; the refaults snapshot at the end; when nothing went and an active
 * list was left unaged (skipped_deactivate), once more from the start with every list aged
 * (force_deactivate). Returns the pages reclaimed.
 */
export function doTryToFreePages(n: ShrinkNode, sc: ScanControl): number {
  const initial = sc.priority;
  for (;;) {
    n.drainBatches(); // shrink_inactive_list's lru_add_drain (vmlab: once, before the scan counts)
    do {
      sc.nrScanned = 0;
      shrinkNode(n, sc);
      if (sc.nrReclaimed >= sc.nrToReclaim) break;
    } while (--sc.priority >= 0);
    snapshotRefaults(n);
    if (sc.nrReclaimed > 0) return sc.nrReclaimed;
    if (!sc.skippedDeactivate) return 0;
    sc.priority = initial;
    sc.forceDeactivate = true;
    sc.skippedDeactivate = false;
  }
}

/**
 * balance_pgdat's loop (kswapd): from DEF_PRIORITY, while the node is not balanced:
 * kswapd_age_node (the active anon list aged when its inactive list is low and swap exists),
 * kswapd_shrink_node (nr_to_reclaim the zones' high watermarks), and the priority raised
 * (lowered by one) when the pass scanned less than its target or reclaimed nothing; it stops
 * at priority 1. A run that reclaimed nothing in cache trim mode is retried without it; one
 * that reclaimed nothing at all counts in kswapd_failures.
 * With `boost` (nr_boost_reclaim: the zones' watermark_boost summed) kswapd reclaims that much
 * even on a balanced node, without swapping or writing pages (may_swap, may_writepage cleared)
 * and without raising the priority past DEF_PRIORITY - 2, and stops at a pass that freed
 * nothing; a node found unbalanced drops the boost and starts over as a normal run.
 * `balanced`: pgdat_balanced at an order (sc.order); `target`: kswapd_shrink_node's nr_to_reclaim
 * (each managed zone's up to highest_zoneidx max(high watermark, SWAP_CLUSTER_MAX)). Returns the pages reclaimed.
 */
export function balancePgdat(
  n: ShrinkNode,
  sc: ScanControl,
  balanced: (order: number) => boolean,
  target: () => number,
  boost = 0,
): number {
  let nrBoost = boost;
  for (;;) {
    sc.priority = DEF_PRIORITY;
    n.drainBatches();
    let out = false;
    let restart = false;
    do {
      const isBalanced = balanced(sc.order);
      if (!isBalanced && nrBoost > 0) {
        nrBoost = 0;
        restart = true;
        break;
      }
      if (nrBoost === 0 && isBalanced) {
        out = true;
        break;
      }
      const boosting = nrBoost > 0;
      sc.mayWritepage = !boosting || sc.priority < DEF_PRIORITY - 2;
      sc.maySwap = !boosting;
      const before = sc.nrReclaimed;
      if (n.hasSwap() && inactiveIsLow(n.size, INACTIVE_ANON, n.pageShift))
        n.shrinkActive(ACTIVE_ANON, SWAP_CLUSTER_MAX); // kswapd_age_node
      sc.nrScanned = 0;
      sc.nrToReclaim = target();
      shrinkNode(n, sc);
      // kswapd_shrink_node: twice the allocation's size reclaimed (compact_gap), the watermarks
      // are checked at order 0 from now on (fragmentation is left to compaction)
      if (sc.order > 0 && sc.nrReclaimed >= 2 << sc.order) sc.order = 0;
      const got = sc.nrReclaimed - before;
      const raise =
        Math.max(sc.nrScanned, got) < sc.nrToReclaim && !(boosting && sc.priority === DEF_PRIORITY - 2);
      nrBoost -= Math.min(nrBoost, got);
      if (nrBoost > 0 && got === 0) break; // a boost that frees nothing stops
      if (raise || got === 0) sc.priority--;
    } while (sc.priority >= 1);
    sc.maySwap = true;
    sc.mayWritepage = true;
    if (restart) continue;
    if (!out) {
      if (sc.nrReclaimed === 0 && sc.priority < 1 && !sc.noCacheTrimMode && sc.cacheTrimModeFailed) {
        sc.noCacheTrimMode = true;
        continue;
      }
      if (sc.nrReclaimed === 0) n.kswapdFailures++;
    }
    snapshotRefaults(n);
    return sc.nrReclaimed;
  }
}
