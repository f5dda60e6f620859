/**
 * kcompactd, the node's compaction thread: woken with an order (and a highest
 * zone) by kswapd, it compacts each zone up to that zone that has the free
 * memory for it and no free block of the order yet, at MIGRATE_SYNC_LIGHT,
 * until a block of the order is free (for GFP_KERNEL's type: an unmovable
 * one, or one it may steal whole) or the scanners meet; a zone it could not
 * help is drained of its per-CPU pages and deferred like a failed sync
 * direct compaction. Its wakers: kswapd after a run that spent a watermark
 * boost (pageblock_order: the boost came from a fallback that mixed a
 * pageblock's types), kswapd going to sleep after a high-order wake-up (the
 * order it was woken for), and a high-order allocation that cannot reclaim
 * directly (GFP_ATOMIC, GFP_NOWAIT) finding the node balanced or hopeless.
 * vmlab runs it at once, on the waker's CPU, where Linux wakes the thread;
 * it is not woken while it runs. A wake-up that finds no zone suitable leaves
 * its order recorded (kcompactd_max_order), and Linux's kcompactd, whose sleep
 * times out every 500 ms (HPAGE_FRAG_CHECK_INTERVAL_MSEC), then runs
 * kcompactd_do_work for it anyway, which clears it; vmlab has no clock and
 * takes that timeout to have come before the next wake-up (else one
 * unsuitable high-order request would keep every later lower one waiting).
 * Not modelled: proactive compaction (vm.compaction_proactiveness, the
 * fragmentation score's timer).
 * Linux: mm/compaction.c wakeup_kcompactd, kcompactd_node_suitable,
 * kcompactd_do_work; mm/vmscan.c balance_pgdat, kswapd_try_to_sleep, wakeup_kswapd
 */
import type { BuddyAllocator } from "./buddy.ts";
import {
  CompactControl,
  CompactResult,
  type CompactStats,
  compactZone,
  MigrateMode,
  suitAllocationOrder,
} from "./compaction.ts";
import { compactionDeferReset, compactionDeferred, deferCompaction } from "./compaction_direct.ts";
import { MigrateType } from "./migratetype.ts";
import type { Vmscan } from "./vmscan.ts";

/** The node's kcompactd (pgdat->kcompactd_max_order, kcompactd_highest_zoneidx). */
export class Kcompactd {
  maxOrder = 0;
  highestZone: number;
  /** kcompactd_do_work under way: a wake-up then finds no sleeper */
  running = false;

  constructor(
    private readonly v: Vmscan,
    private readonly buddy: BuddyAllocator,
    private readonly stats: CompactStats,
  ) {
    this.highestZone = buddy.zones.length - 1;
  }

  /** wakeup_kcompactd: remember the order and zone; run when some zone wants compacting (kcompactd_node_suitable). */
  wake(order: number, highestZone: number): void {
    if (order === 0) return;
    // the timeout: a request an earlier wake-up left behind (its node not suitable then) is what
    // kcompactd's next timed wake-up does (kcompactd_work_requested), taken to have come first
    if (this.maxOrder > 0 && !this.running) this.run();
    if (this.maxOrder < order) this.maxOrder = order;
    if (this.highestZone > highestZone) this.highestZone = highestZone;
    if (this.running || !this.nodeSuitable()) return;
    this.run();
  }

  /** kcompactd_do_work, with the thread marked busy (a wake-up meanwhile finds no sleeper) */
  private run(): void {
    this.running = true;
    try {
      this.doWork();
    } finally {
      this.running = false;
    }
  }

  /** kcompactd_node_suitable: a zone up to the highest that compaction could help at the order. */
  private nodeSuitable(): boolean {
    for (let id = 0; id <= this.highestZone && id < this.buddy.zones.length; id++) {
      const z = this.buddy.zones[id];
      if (z.managed === 0) continue;
      if (suitAllocationOrder(this.buddy, z, this.maxOrder, this.highestZone) === CompactResult.Continue)
        return true;
    }
    return false;
  }

  /** kcompactd_do_work */
  private doWork(): void {
    const order = this.maxOrder;
    const highest = this.highestZone;
    this.stats.compact_daemon_wake++;
    for (let id = 0; id <= highest && id < this.buddy.zones.length; id++) {
      const z = this.buddy.zones[id];
      if (z.managed === 0) continue;
      if (compactionDeferred(z, order)) continue;
      if (suitAllocationOrder(this.buddy, z, order, id) !== CompactResult.Continue) continue;
      // GFP_KERNEL's control: its migrate type is unmovable; sync-light, not a direct compaction
      const cc = new CompactControl(
        z,
        this.buddy,
        order,
        MigrateMode.SyncLight,
        false,
        false,
        false,
        false,
        MigrateType.UNMOVABLE,
        highest,
      );
      const status = compactZone(this.v, this.buddy, cc, this.stats);
      if (status === CompactResult.Success) compactionDeferReset(z, order, false);
      else if (status === CompactResult.PartialSkipped || status === CompactResult.Complete) {
        // pages stranded on the per-CPU lists may coalesce; the deferral rate-limits this
        this.buddy.pcp?.drainAllPages();
        deferCompaction(z, order);
      }
      this.stats.compact_daemon_migrate_scanned += cc.totalMigrateScanned;
      this.stats.compact_daemon_free_scanned += cc.totalFreeScanned;
    }
    if (this.maxOrder <= order) this.maxOrder = 0;
    if (this.highestZone >= highest) this.highestZone = this.buddy.zones.length - 1;
  }
}
