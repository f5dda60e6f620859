/**
 * `show thp`: the transparent-huge-page settings vmlab models, as their
 * sysfs files name them (khugepaged's knobs and counters under khugepaged/:
 * mm/khugepaged.c khugepaged_attr), the PMD order's mTHP counts, the node's deferred
 * split queue, and the /proc/vmstat thp_* counters.
 * Linux: mm/huge_memory.c (hugepage_attr_group, thpsize_attr_group: the
 * hugepages-<size>kB/stats files nr_anon and nr_anon_partially_mapped;
 * mm/shmem.c: shmem_enabled, hugepages-<size>kB/shmem_enabled and the
 * stats shmem_alloc, shmem_fallback, shmem_fallback_charge);
 * the queue's length (ds_queue->split_queue_len) has no file in Linux: it is
 * what deferred_split_count tells the shrinker; nor has khugepaged_last_scan,
 * the result of khugepaged's or MADV_COLLAPSE's last hpage_collapse_scan_pmd
 * (the status of its mm_khugepaged_scan_pmd trace point).
 */
import type { KernelCore } from "../core/core.ts";
import { SCAN_NAMES } from "../mm/khugepaged_result.ts";
import { MTHP_MODE_NAMES, MthpMode, type MthpState } from "../mm/mthp_state.ts";
import { PageKind } from "../mm/PageDesc.ts";
import { shmemFormatHuge } from "../mm/shmem_huge.ts";

/** The values `show thp` prints, and the `thp.NAME` metrics read. */
export function thpInfo(k: KernelCore): Record<string, number | string> {
  const nr = k.arch.pgtable.hpagePmdNr;
  const cfg = k.config;
  const q = k.userMm.env.deferredSplit;
  const pages = k.pages;
  const kh = k.userMm.khugepaged;
  // MTHP_STAT_NR_ANON at the PMD order: whole anonymous THPs (not yet split)
  let nrAnon = 0;
  for (let head = 0; head + nr <= pages.nrFrames; head += nr)
    if (pages.priv[head] > 0 && pages.kind[head] === PageKind.UserAnon) nrAnon++;
  const size = `hugepages-${nr * 4}kB`;
  const out: Record<string, number | string> = {
    enabled: cfg.thp,
    use_zero_page: cfg.thpZeroPage ? 1 : 0,
    shrink_underused: cfg.thpShrinkUnderused ? 1 : 0,
    "khugepaged/pages_to_scan": kh.pagesToScan,
    "khugepaged/pages_collapsed": kh.pagesCollapsed,
    "khugepaged/full_scans": kh.fullScans,
    "khugepaged/max_ptes_none": cfg.thpMaxPtesNone < 0 ? nr - 1 : cfg.thpMaxPtesNone,
    "khugepaged/max_ptes_swap": kh.maxPtesSwap,
    "khugepaged/max_ptes_shared": kh.maxPtesShared,
    [`${size}/stats/nr_anon`]: nrAnon,
    [`${size}/stats/nr_anon_partially_mapped`]: q?.nrPartiallyMapped ?? 0,
    split_queue_len: q?.splitQueueLen ?? 0,
    khugepaged_last_scan: SCAN_NAMES[kh.lastResult] ?? "none",
  };
  for (const [name, n] of Object.entries(k.userMm.thpStats)) out[name] = n;
  // huge tmpfs (mm/shmem_huge.ts): shmem_enabled and THP_FILE_ALLOC, THP_FILE_FALLBACK, once
  // shmem_enabled is not never or a tmpfs huge folio was asked for (machines that leave it alone
  // show what they did before)
  const sh = k.pageCache.shmemThp;
  if (sh.huge !== 0 || sh.stats.thp_file_alloc !== 0 || sh.stats.thp_file_fallback !== 0) {
    out.shmem_enabled = shmemFormatHuge(sh.huge);
    for (const [name, n] of Object.entries(sh.stats)) out[name] = n;
  }
  // hugepages-<size>kB/shmem_enabled once written (mm/shmem_anon_huge.ts), and its
  // stats/shmem_alloc, shmem_fallback, shmem_fallback_charge once one has counted
  for (const [o, mode] of sh.sizes) out[`hugepages-${4 << o}kB/shmem_enabled`] = mode;
  for (const [o, st] of sh.sizeStats)
    for (const [name, n] of Object.entries(st)) out[`hugepages-${4 << o}kB/stats/${name}`] = n;
  const m = k.userMm.env.mthp;
  if (m !== undefined) mthpInfo(m, out);
  return out;
}

/**
 * The mTHP sizes below the PMD size (mm/mthp.ts), each shown once it is not
 * `never` or has counted something: hugepages-<size>kB/enabled and its
 * stats/ files (nr_anon counted from the live folios); the PMD size's
 * enabled once it is not `inherit`, its swpout and swpout_fallback once
 * either has counted. Sizes never used print nothing, so
 * machines that leave mTHP alone show what they did before.
 * Linux: mm/huge_memory.c thpsize_enabled_show, the stats attributes (DEFINE_MTHP_STAT_ATTR)
 */
function mthpInfo(m: MthpState, out: Record<string, number | string>): void {
  if (m.enabled[m.pmdOrder] !== MthpMode.inherit)
    out[`hugepages-${4 << m.pmdOrder}kB/enabled`] = MTHP_MODE_NAMES[m.enabled[m.pmdOrder]];
  // the PMD size's swap-out counters (mm/vmscan_swapout.ts), once one has counted
  const pmd = m.stats[m.pmdOrder];
  if (pmd.swpout !== 0 || pmd.swpout_fallback !== 0) {
    out[`hugepages-${4 << m.pmdOrder}kB/stats/swpout`] = pmd.swpout;
    out[`hugepages-${4 << m.pmdOrder}kB/stats/swpout_fallback`] = pmd.swpout_fallback;
  }
  // ... and its split counters (THP_SPLIT_PAGE's twin), once one has counted
  if (pmd.split !== 0 || pmd.split_failed !== 0) {
    out[`hugepages-${4 << m.pmdOrder}kB/stats/split`] = pmd.split;
    out[`hugepages-${4 << m.pmdOrder}kB/stats/split_failed`] = pmd.split_failed;
  }
  // hugepages-8kB (order 1: a shmem size only, THP_ORDERS_ALL_FILE_DEFAULT): no `enabled`, no
  // anon_* stats; its any_stats_attrs once one has counted (a shared anonymous 8K folio's swpout, split)
  const s1 = m.stats[1];
  if (
    m.pmdOrder > 1 &&
    s1 !== undefined &&
    (s1.swpout || s1.swpout_fallback || s1.split || s1.split_failed)
  ) {
    for (const name of ["swpout", "swpout_fallback", "split", "split_failed", "split_deferred"] as const)
      out[`hugepages-8kB/stats/${name}`] = s1[name];
  }
  for (let o = 2; o < m.pmdOrder; o++) {
    const st = m.stats[o];
    const nrAnon = m.nrAnon(o);
    if (m.enabled[o] === MthpMode.never && nrAnon === 0 && Object.values(st).every((v) => v === 0)) continue;
    const size = `hugepages-${4 << o}kB`;
    out[`${size}/enabled`] = MTHP_MODE_NAMES[m.enabled[o]];
    out[`${size}/stats/nr_anon`] = nrAnon;
    for (const [name, v] of Object.entries(st)) out[`${size}/stats/${name}`] = v;
  }
}

/** The lines of `show thp`. */
export function formatThp(info: Record<string, number | string>): string[] {
  const w = Math.max(...Object.keys(info).map((n) => n.length));
  return Object.entries(info).map(([n, v]) => `${n.padEnd(w)}  ${v}`);
}
