/**
 * /sys/kernel/mm/ksm: the knobs' stores (run, pages_to_scan,
 * use_zero_pages, smart_scan) and the files' values, and /proc/PID/ksm_stat's.
 * Linux: mm/ksm.c (run_store, unmerge_and_remove_all_rmap_items, the *_show
 * functions, ksm_process_profit), fs/proc/base.c proc_pid_ksm_stat
 */
import type { MmContext } from "./internal.ts";
import { freeRmapItem, ksmDoScan, removeNodeFromStableTree, unmergeKsmPages } from "./ksm.ts";
import type { KsmState } from "./ksm_state.ts";
import type { MmStruct } from "./MmStruct.ts";
import { VmFlag } from "./vma.ts";

/**
 * A write to /sys/kernel/mm/ksm/run: 0 stops ksmd, 1 runs it, 2 unmerges
 * every KSM page of every registered mm (unmerge_and_remove_all_rmap_items:
 * the rmap_items freed, the mms off the list). False: -EINVAL.
 * Linux: mm/ksm.c run_store, unmerge_and_remove_all_rmap_items
 */
export function ksmSetRun(ctx: MmContext, value: number): boolean {
  const ksm = ctx.env.ksm!;
  if (value < 0 || value > 2 || !Number.isInteger(value)) return false;
  ksm.run = value;
  if (value & 2) {
    for (const s of ksm.slots.slice()) {
      if (!s.mm.dead)
        for (const v of s.mm.vmas.slice())
          if (v.vmFlags & VmFlag.MERGEABLE && v.anonVma !== 0)
            unmergeKsmPages(ctx, s.mm, v, v.vmStart, v.vmEnd);
      while (s.list.length > 0) freeRmapItem(ksm, s, s.list.pop()!);
      s.gone = true;
    }
    ksm.slots.length = 0;
    ksm.cursor = null;
    ksm.address = 0;
    ksm.listIdx = 0;
    // remove_all_stable_nodes: the nodes left are stale ones
    for (const b of [...ksm.stable.values()])
      for (const node of b.slice()) removeNodeFromStableTree(ksm, node);
  }
  return true;
}

/**
 * A write to a /sys/kernel/mm/ksm knob: run (ksmSetRun), pages_to_scan
 * (any number: kstrtouint; 0 scans nothing), use_zero_pages and smart_scan
 * (kstrtobool: 0 or 1 here). False: -EINVAL.
 * Linux: mm/ksm.c run_store, pages_to_scan_store, use_zero_pages_store, smart_scan_store
 */
export function ksmStore(ctx: MmContext, knob: string, value: number): boolean {
  const ksm = ctx.env.ksm;
  if (ksm === undefined || !Number.isInteger(value) || value < 0) return false;
  switch (knob) {
    case "run":
      return ksmSetRun(ctx, value);
    case "pages_to_scan":
      if (value > 0xffffffff) return false;
      ksm.pagesToScan = value;
      return true;
    case "use_zero_pages":
    case "smart_scan":
      if (value > 1) return false;
      if (knob === "use_zero_pages") ksm.useZeroPages = value;
      else ksm.smartScan = value;
      return true;
  }
  return false;
}

/**
 * The sysfs view of /sys/kernel/mm/ksm (the 6.12 file names), and general_profit as
 * ksm_pages_sharing + ksm_zero_pages pages less the rmap_items' memory
 * (sizeof(struct ksm_rmap_item): 64 bytes on 64-bit).
 * Linux: mm/ksm.c *_show
 */
export function ksmInfo(ksm: KsmState, rmapItemBytes: number): Record<string, number> {
  const volatile = Math.max(0, ksm.rmapItems - ksm.pagesShared - ksm.pagesSharing - ksm.pagesUnshared);
  return {
    run: ksm.run,
    pages_to_scan: ksm.pagesToScan,
    use_zero_pages: ksm.useZeroPages,
    smart_scan: ksm.smartScan,
    pages_scanned: ksm.pagesScanned,
    pages_shared: ksm.pagesShared,
    pages_sharing: ksm.pagesSharing,
    pages_unshared: ksm.pagesUnshared,
    pages_volatile: volatile,
    pages_skipped: ksm.pagesSkipped,
    full_scans: ksm.seqnr,
    ksm_zero_pages: ksm.zeroPages,
    general_profit: (ksm.pagesSharing + ksm.zeroPages) * 4096 - ksm.rmapItems * rmapItemBytes,
    cow_ksm: ksm.cowKsm,
  };
}

/**
 * /proc/PID/ksm_stat's fields (ksm_merging_pages is also its own file):
 * ksm_rmap_items, ksm_zero_pages, ksm_merging_pages, ksm_process_profit.
 * Linux: fs/proc/base.c proc_pid_ksm_stat, proc_pid_ksm_merging_pages; mm/ksm.c ksm_process_profit
 */
export function ksmMmStat(ksm: KsmState, mm: MmStruct, rmapItemBytes: number): Record<string, number> {
  const s = ksm.byMm.get(mm);
  const items = s?.rmapItems ?? 0;
  const merging = s?.mergingPages ?? 0;
  const zero = s?.zeroPages ?? 0;
  return {
    ksm_rmap_items: items,
    ksm_zero_pages: zero,
    ksm_merging_pages: merging,
    ksm_process_profit: (merging + zero) * 4096 - items * rmapItemBytes,
  };
}

/** One wake-up of ksmd: ksm_do_scan(ksm_thread_pages_to_scan) when run is 1 (ksm_scan_thread); the pages scanned. */
export function ksmWakeup(ctx: MmContext): number {
  const ksm = ctx.env.ksm;
  return ksm === undefined ? 0 : ksmDoScan(ctx, ksm.pagesToScan);
}
