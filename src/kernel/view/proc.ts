/**
 * /proc/meminfo and /proc/vmstat as the kernel computes them, and the text
 * of the machine-wide /proc files and `show` tables, made from the view's
 * data (view/types.ts): meminfo, frames, buddyinfo, slabinfo, the layout.
 */
import type { KernelCore } from "../core/core.ts";
import { shmObjects } from "../ipc/shm.ts";
import { Wmark } from "../mm/buddy.ts";
import { hugetlbReport } from "../mm/hugetlb_pool.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { vmCommitLimit } from "../mm/util.ts";
import type { ShmemObject } from "../mm/vma.ts";
import { scannedTotal, stolenTotal } from "../mm/vmscan_stat.ts";
import type { FramesInfo, PagetypeInfo, SlabCacheInfo, ZoneInfo } from "./types.ts";

export { formatLayout } from "../core/layout.ts";

/**
 * /proc/meminfo, in bytes, field names as Linux prints them
 * (fs/proc/meminfo.c). Fields vmlab does not model yet are 0.
 */
export function meminfo(k: KernelCore): Record<string, number> {
  const pg = 4096;
  const free = k.buddy.freePages();
  // NR_SLAB_UNRECLAIMABLE_B: the slabs, and the pages of kmalloc above KMALLOC_MAX_CACHE_SIZE
  // (mm/slub.c ___kmalloc_large_node accounts them there too)
  const slab = k.slab.slabPages() + k.pages.countByKind()[PageKind.KmallocLarge];
  // si_mem_available: free minus the reserve the kernel keeps (high watermarks and lowmem reserves)
  let totalreserve = 0;
  for (const z of k.buddy.zones) totalreserve += z.wmark[Wmark.High] + Math.max(...z.lowmemReserve);
  const available = Math.max(0, free - totalreserve);
  const vmTotal = Number(k.layout.vmallocEnd - k.layout.vmallocStart);
  // each mm once: a process's threads share theirs (vm_committed_as is charged per VMA, not per task)
  const mms = [...new Set(k.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!))];
  const huge = hugePages(k);
  const htlb = hugetlbReport(k.userMm.hstate);
  // page-cache pages: shared anonymous (shmem objects) and files (tmpfs files count as Shmem too)
  const shmemFrames = k.userMm.shmemFrames(mms, shmObjects(k)); // SysV segments too
  let shmem = shmemFrames.length;
  let mapped = shmemFrames.filter((pfn) => k.pages.mapcount[pfn] > 0).length;
  let fileCached = 0;
  let dirty = 0;
  for (const f of k.pageCache.files.values()) {
    fileCached += f.cache.size;
    if (f.fs === "tmpfs") shmem += f.cache.size;
    else dirty += f.dirty.size;
    for (const pfn of f.cache.values()) if (k.pages.mapcount[pfn] > 0) mapped++;
  }
  const anonPages = nrAnonMapped(k);
  const m: Record<string, number> = {
    MemTotal: k.buddy.managedPages() * pg,
    MemFree: free * pg,
    MemAvailable: available * pg,
    Buffers: 0,
    Cached: (shmemFrames.length + fileCached) * pg,
    SwapCached: (k.swap?.cache.size ?? 0) * pg,
    Active: (k.vmscan.size[2] + k.vmscan.size[4]) * pg,
    Inactive: (k.vmscan.size[1] + k.vmscan.size[3]) * pg,
    "Active(anon)": k.vmscan.size[2] * pg,
    "Inactive(anon)": k.vmscan.size[1] * pg,
    "Active(file)": k.vmscan.size[4] * pg,
    "Inactive(file)": k.vmscan.size[3] * pg,
    // the LRU_UNEVICTABLE list's pages, and NR_MLOCK (mm/mlock_fbatch.ts)
    Unevictable: k.vmscan.size[5] * pg,
    Mlocked: k.vmscan.fbatches.mlock.nrMlock * pg,
    ...highmemInfo(k),
    SwapTotal: (k.swap?.totalPages ?? 0) * pg,
    SwapFree: (k.swap?.freePages ?? 0) * pg,
    Dirty: dirty * pg,
    Writeback: 0,
    AnonPages: anonPages * pg,
    Mapped: mapped * pg,
    Shmem: shmem * pg,
    KReclaimable: 0,
    Slab: slab * pg,
    SReclaimable: 0,
    SUnreclaim: slab * pg,
    KernelStack: 0,
    PageTables: k.pageTablePages * pg,
    CommitLimit: vmCommitLimit(k.userMm) * pg,
    // vm_memory_committed: every mm once, and shmem objects' charges
    Committed_AS: k.userMm.settings.committedPages() * pg,
    VmallocTotal: vmTotal,
    VmallocUsed: k.vm.usedPages() * pg,
    VmallocChunk: 0,
    AnonHugePages: huge.anon * pg,
    // NR_SHMEM_THPS and NR_SHMEM_PMDMAPPED: the same of tmpfs and memfd folios (mm/shmem_huge.ts)
    ShmemHugePages: huge.shmemThps * pg,
    ShmemPmdMapped: huge.shmemPmdMapped * pg,
    // NR_FILE_THPS (PMD-size page-cache folios) and NR_FILE_PMDMAPPED (those mapped by a PMD somewhere)
    FileHugePages: huge.fileThps * pg,
    FilePmdMapped: huge.filePmdMapped * pg,
    // hugetlb_report_meminfo: the default hstate's counts, then every hstate's pages (Hugetlb: all sizes)
    HugePages_Total: htlb.total,
    HugePages_Free: htlb.free,
    HugePages_Rsvd: htlb.rsvd,
    HugePages_Surp: htlb.surp,
    Hugepagesize: k.arch.pgtable.hpagePmdNr * pg,
    Hugetlb: k.userMm.hstates.reduce((n, h) => n + h.nrHugePages * h.nrPages, 0) * pg,
    // arch_report_meminfo (x86: DirectMap4k, DirectMap2M, DirectMap1G)
    ...k.arch.view.reportMeminfo(k.machine.phys.nrFrames),
  };
  // meminfo_proc_show prints the five THP lines only #ifdef CONFIG_TRANSPARENT_HUGEPAGE (not on RV32)
  if (k.arch.noTransparentHugepage) for (const f of THP_MEMINFO) delete m[f];
  return m;
}

/**
 * NR_ANON_MAPPED (meminfo AnonPages, memory.stat anon): the pages of anonymous folios that a page
 * table maps, each once however many map it: __folio_add_anon_rmap adds a page as its mapcount
 * leaves -1 (a PMD-mapped folio its pages not mapped yet), __folio_remove_rmap takes it off as the
 * last mapping goes. A page in the swap cache that nothing maps (swap readahead's neighbours, a
 * page reclaim unmapped before its write-back) is not counted, nor a page a pin or an mmu_gather
 * still holds after its unmap. vmlab keeps each page's mapcount, a PMD's mapping included.
 * Linux: mm/rmap.c __folio_add_rmap, __folio_remove_rmap, __folio_mod_stat
 */
export function nrAnonMapped(k: KernelCore): number {
  const { kind, mapcount } = k.pages;
  let n = 0;
  for (let pfn = 0; pfn < k.pages.nrFrames; pfn++)
    if (kind[pfn] === PageKind.UserAnon && mapcount[pfn] > 0) n++;
  return n;
}

/** meminfo's CONFIG_TRANSPARENT_HUGEPAGE lines (fs/proc/meminfo.c) */
const THP_MEMINFO = ["AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped"];

/** Fields printed as plain counts, not kB. */
const COUNT_FIELDS = new Set(["HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"]);

/** The text of /proc/meminfo. */
export function formatMeminfo(m: Record<string, number>): string[] {
  return Object.entries(m).map(([name, bytes]) =>
    COUNT_FIELDS.has(name)
      ? `${`${name}:`.padEnd(16)}${String(bytes).padStart(8)}`
      : `${`${name}:`.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB`,
  );
}

/** `show frames`: frames by kind, then the runs of one kind (the first 200). */
export function formatFrames(f: FramesInfo): string[] {
  const lines = ["frames by kind:"];
  for (const [name, n] of Object.entries(f.byKind)) {
    if (n > 0)
      lines.push(`  ${name.padEnd(14)} ${String(n).padStart(9)}  (${((n * 4096) / 1048576).toFixed(1)} MiB)`);
  }
  lines.push("runs:");
  const runs = f.runs;
  for (const r of runs.slice(0, 200)) {
    lines.push(
      `  pfn 0x${r.first.toString(16).padStart(6, "0")}-0x${r.last.toString(16).padStart(6, "0")} ${String(r.last - r.first + 1).padStart(8)}  ${r.kind}`,
    );
  }
  if (runs.length > 200) lines.push(`  ... ${runs.length - 200} more runs`);
  return lines;
}

/** /proc/buddyinfo: free blocks by order, for each zone that has memory. */
export function formatBuddyinfo(zones: ZoneInfo[]): string[] {
  return zones
    .filter((z) => z.managed > 0)
    .map(
      (z) =>
        `Node 0, zone ${z.name.padStart(8)} ${z.freeBlocks.map((n) => String(n).padStart(6)).join(" ")} `,
    );
}

/**
 * /proc/pagetypeinfo: the pageblock size, each populated zone's free blocks by migrate type and
 * order, and its pageblocks by type. Linux: mm/vmstat.c pagetypeinfo_show (no "Number of mixed
 * blocks" table: that needs CONFIG_PAGE_OWNER)
 */
export function formatPagetypeinfo(info: PagetypeInfo): string[] {
  const zones = info.zones.filter((z) => z.managed > 0);
  const orders = zones[0]?.freeBlocks.length ?? 0;
  const lines = [
    `Page block order: ${info.pageblockOrder}`,
    `Pages per block:  ${1 << info.pageblockOrder}`,
    "",
  ];
  let head = `${"Free pages count per migrate type at order".padEnd(43)} `;
  for (let o = 0; o < orders; o++) head += `${String(o).padStart(6)} `;
  lines.push(head);
  for (const z of zones)
    info.typeNames.forEach((name, mt) => {
      let l = `Node    0, zone ${z.name.padStart(8)}, type ${name.padStart(12)} `;
      for (const n of z.freeByType[mt]) l += n >= 100000 ? ">100000 " : `${String(n).padStart(6)} `;
      lines.push(l);
    });
  lines.push("");
  lines.push(
    `${"Number of blocks type ".padEnd(23)}${info.typeNames.map((n) => `${n.padStart(12)} `).join("")}`,
  );
  for (const z of zones)
    lines.push(
      `Node 0, zone ${z.name.padStart(8)} ${z.blocksByType.map((n) => `${String(n).padStart(12)} `).join("")}`,
    );
  return lines;
}

/** zone_stat_item's LRU items (NR_ZONE_LRU_BASE + lru), as /proc/zoneinfo names them */
const ZONE_LRU_ITEMS = [
  "nr_zone_inactive_anon",
  "nr_zone_active_anon",
  "nr_zone_inactive_file",
  "nr_zone_active_file",
  "nr_zone_unevictable",
];

/**
 * /proc/zoneinfo, the lines vmlab has figures for: each zone's free pages and
 * watermarks (promo = high + (high - low), as __setup_per_zone_wmarks sets it),
 * sizes, protection, nr_free_pages and the zone's LRU pages (nr_zone_inactive_anon
 * ... nr_zone_unevictable), then each CPU's pageset (count, high, batch:
 * the per-CPU lists, whose pages are not in "pages free") and its vm stats
 * threshold. An unpopulated zone stops after its protection line. Not printed:
 * the per-node stats and the zone stat items vmlab does not keep by zone.
 * Linux: mm/vmstat.c zoneinfo_show_print
 */
export function formatZoneinfo(zones: ZoneInfo[]): string[] {
  const lines: string[] = [];
  for (const z of zones) {
    const w = z.watermarks;
    lines.push(
      `Node 0, zone ${z.name.padStart(8)}`,
      `  pages free     ${z.free}`,
      `        boost    ${z.boost}`,
      `        min      ${w.min}`,
      `        low      ${w.low}`,
      `        high     ${w.high}`,
      `        promo    ${w.high + (w.high - w.low)}`,
      `        spanned  ${z.spanned}`,
      `        present  ${z.spanned}`,
      `        managed  ${z.managed}`,
      "        cma      0",
      `        protection: (${z.protection.join(", ")})`,
    );
    if (z.managed === 0) continue;
    // zone_stat_item from NR_FREE_PAGES through NR_ZONE_UNEVICTABLE (the zone's LRU pages)
    lines.push(`      ${"nr_free_pages".padEnd(12)} ${z.free}`);
    for (const [i, name] of ZONE_LRU_ITEMS.entries()) lines.push(`      ${name.padEnd(12)} ${z.lru[i]}`);
    lines.push("  pagesets");
    z.pagesets.forEach((p, cpu) => {
      lines.push(
        `    cpu: ${cpu}`,
        `              count: ${p.count}`,
        `              high:  ${p.high}`,
        `              batch: ${p.batch}`,
        `  vm stats threshold: ${z.statThreshold}`,
      );
    });
    lines.push(
      `  node_unreclaimable:  ${z.nodeUnreclaimable ? 1 : 0}`,
      `  start_pfn:           ${z.startPfn}`,
    );
  }
  return lines;
}

/** /proc/slabinfo (version 2.1) for the kmalloc caches (given smallest first), largest first as Linux lists them. */
export function formatSlabinfo(caches: SlabCacheInfo[]): string[] {
  const lines = [
    "slabinfo - version: 2.1",
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>",
  ];
  for (const c of [...caches].reverse()) {
    lines.push(
      `${c.name.padEnd(17)} ${String(c.activeObjs).padStart(6)} ${String(c.numObjs).padStart(6)} ${String(c.objSize).padStart(6)} ${String(c.objsPerSlab).padStart(4)} ${String(c.pagesPerSlab).padStart(4)} : tunables ${"0".padStart(4)} ${"0".padStart(4)} ${"0".padStart(4)} : slabdata ${String(c.numSlabs).padStart(6)} ${String(c.numSlabs).padStart(6)} ${"0".padStart(6)}`,
    );
  }
  return lines;
}

/** node_stat_item's workingset_* counters after workingset_nodes, in order (vmstat and memory.stat both print them) */
export const WORKINGSET_ITEMS: readonly string[] = [
  "workingset_refault_anon",
  "workingset_refault_file",
  "workingset_activate_anon",
  "workingset_activate_file",
  "workingset_restore_anon",
  "workingset_restore_file",
  "workingset_nodereclaim",
];

/**
 * The /proc/vmstat counters vmlab keeps, in the order Linux prints them
 * (mm/vmstat.c vmstat_text, 6.12: zone and node items, then the vm events).
 */
export const VMSTAT_ORDER: readonly string[] = [
  "nr_free_pages",
  "nr_zone_inactive_anon",
  "nr_zone_active_anon",
  "nr_zone_inactive_file",
  "nr_zone_active_file",
  "nr_zone_unevictable",
  "nr_zone_write_pending",
  "nr_mlock",
  "nr_inactive_anon",
  "nr_active_anon",
  "nr_inactive_file",
  "nr_active_file",
  "nr_unevictable",
  "nr_slab_reclaimable",
  "nr_slab_unreclaimable",
  "workingset_nodes",
  ...WORKINGSET_ITEMS,
  "nr_anon_pages",
  "nr_mapped",
  "nr_file_pages",
  "nr_dirty",
  "nr_writeback",
  "nr_shmem",
  "nr_shmem_hugepages",
  "nr_shmem_pmdmapped",
  "nr_file_hugepages",
  "nr_file_pmdmapped",
  "nr_anon_transparent_hugepages",
  "nr_vmscan_write",
  "nr_vmscan_immediate_reclaim",
  "nr_dirtied",
  "nr_written",
  "nr_foll_pin_acquired",
  "nr_foll_pin_released",
  "nr_kernel_stack",
  "nr_page_table_pages",
  "nr_swapcached",
  "nr_dirty_threshold",
  "nr_dirty_background_threshold",
  "pgpgin",
  "pgpgout",
  "pswpin",
  "pswpout",
  "pgalloc_dma",
  "pgalloc_dma32",
  "pgalloc_normal",
  "pgalloc_high",
  "pgalloc_movable",
  "allocstall_dma",
  "allocstall_dma32",
  "allocstall_normal",
  "allocstall_high",
  "allocstall_movable",
  "pgskip_dma",
  "pgskip_dma32",
  "pgskip_normal",
  "pgskip_high",
  "pgskip_movable",
  "pgfree",
  "pgactivate",
  "pgdeactivate",
  "pglazyfree",
  "pgfault",
  "pgmajfault",
  "pglazyfreed",
  "pgrefill",
  "pgreuse",
  "pgsteal_kswapd",
  "pgsteal_direct",
  "pgsteal_khugepaged",
  "pgscan_kswapd",
  "pgscan_direct",
  "pgscan_khugepaged",
  "pgscan_anon",
  "pgscan_file",
  "pgsteal_anon",
  "pgsteal_file",
  "slabs_scanned",
  "pageoutrun",
  "pgrotated",
  "drop_pagecache",
  "drop_slab",
  "oom_kill",
  "pgmigrate_success",
  "pgmigrate_fail",
  "compact_migrate_scanned",
  "compact_free_scanned",
  "compact_isolated",
  "compact_stall",
  "compact_fail",
  "compact_success",
  "compact_daemon_wake",
  "compact_daemon_migrate_scanned",
  "compact_daemon_free_scanned",
  "htlb_buddy_alloc_success",
  "htlb_buddy_alloc_fail",
  "unevictable_pgs_culled",
  "unevictable_pgs_scanned",
  "unevictable_pgs_rescued",
  "unevictable_pgs_mlocked",
  "unevictable_pgs_munlocked",
  "unevictable_pgs_cleared",
  "unevictable_pgs_stranded",
  "thp_fault_alloc",
  "thp_fault_fallback",
  "thp_fault_fallback_charge",
  "thp_collapse_alloc",
  "thp_collapse_alloc_failed",
  "thp_file_alloc",
  "thp_file_fallback",
  "thp_file_fallback_charge",
  "thp_file_mapped",
  "thp_split_page",
  "thp_split_page_failed",
  "thp_deferred_split_page",
  "thp_underused_split_page",
  "thp_split_pmd",
  "thp_scan_exceed_none_pte",
  "thp_scan_exceed_swap_pte",
  "thp_scan_exceed_share_pte",
  "thp_zero_page_alloc",
  "thp_swpout",
  "thp_swpout_fallback",
  "swap_ra",
  "swap_ra_hit",
];
const vmstatIndex = new Map(VMSTAT_ORDER.map((n, i) => [n, i]));

/** /proc/vmstat: the counters vmlab keeps so far, by Linux's names and in its order (VMSTAT_ORDER). */
export function vmstat(k: KernelCore): Record<string, number> {
  const v: Record<string, number> = {
    ...nodeStats(k),
    nr_free_pages: k.buddy.freePages(),
    nr_slab_unreclaimable: k.slab.slabPages() + k.pages.countByKind()[PageKind.KmallocLarge], // ___kmalloc_large_node
    nr_page_table_pages: k.pageTablePages,
    ...zoneEvents(k),
    pgfree: k.buddy.pgfree,
    ...k.userMm.thpStats,
    ...k.pageCache.shmemThp.stats,
    ...k.vmscan.stats,
    oom_kill: k.oomKills,
    nr_inactive_anon: k.vmscan.size[1],
    nr_active_anon: k.vmscan.size[2],
    nr_inactive_file: k.vmscan.size[3],
    nr_active_file: k.vmscan.size[4],
    nr_unevictable: k.vmscan.size[5],
    nr_mlock: k.vmscan.fbatches.mlock.nrMlock,
    ...k.vmscan.fbatches.mlock.stats,
    pswpin: k.swap?.pswpin ?? 0,
    swap_ra: k.swap?.readahead ?? 0,
    swap_ra_hit: k.swap?.readaheadHits ?? 0,
    pswpout: k.swap?.pswpout ?? 0,
    // every block I/O in kB (submit_bio counts sectors, vmstat_start halves them): the page
    // cache's reads and writebacks and the swap device's pages alike
    pgpgin: (k.pageCache.pagesIn + (k.swap?.pswpin ?? 0)) * 4,
    pgpgout: (k.pageCache.pagesOut + (k.swap?.pswpout ?? 0)) * 4,
    pgfault: k.userMm.pgfault,
    pgreuse: k.userMm.pgreuse,
    // NR_FOLL_PIN_ACQUIRED / NR_FOLL_PIN_RELEASED: try_grab_folio and gup_put_folio of FOLL_PIN (core/gup_remote.ts)
    nr_foll_pin_acquired: k.userMm.follPinAcquired,
    nr_foll_pin_released: k.userMm.follPinReleased,
    pgmajfault: k.userMm.pgmajfault,
    pgrotated: k.vmscan.fbatches.pgrotated,
    ...k.dropCachesStats,
    ...k.compactStats,
    // alloc_buddy_hugetlb_folio: HTLB_BUDDY_PGALLOC, HTLB_BUDDY_PGALLOC_FAIL (the pool's folios from the buddy allocator)
    htlb_buddy_alloc_success: k.userMm.hstate.stats.poolAlloc,
    htlb_buddy_alloc_fail: k.userMm.hstate.stats.poolAllocFail,
    workingset_nodes: k.vmscan.workingset.nodes.size,
    // NR_WRITTEN: every folio_end_writeback, the page cache's writebacks and the swap device's pages
    // NR_VMSCAN_IMMEDIATE: dirty file folios reclaim activated with PG_reclaim for the flusher (page_writeback.ts)
    nr_vmscan_immediate_reclaim: k.vmscan.writeback?.immediate ?? 0,
    nr_dirtied: k.pageCache.acct.dirtied,
    // vmstat_start: global_dirty_limits (mm/page_writeback.ts)
    ...dirtyThresholds(k),
    nr_written: k.pageCache.pagesOut + (k.swap?.pswpout ?? 0),
    ...k.vmscan.workingset.stats,
  };
  // vm_event_item's THP_* events exist only #ifdef CONFIG_TRANSPARENT_HUGEPAGE (not on RV32)
  const noThp = k.arch.noTransparentHugepage === true;
  const out: Record<string, number> = {};
  for (const n of Object.keys(v).sort((a, b) => (vmstatIndex.get(a) ?? 1e9) - (vmstatIndex.get(b) ?? 1e9)))
    if (!(noThp && n.startsWith("thp_"))) out[n] = v[n];
  return out;
}

/** /proc/vmstat's nr_dirty_threshold and nr_dirty_background_threshold (global_dirty_limits), Linux only. */
function dirtyThresholds(k: KernelCore): Record<string, number> {
  const t = k.dirtyThrottle;
  if (t === null) return {};
  const l = t.limits();
  return { nr_dirty_threshold: l.thresh, nr_dirty_background_threshold: l.bgThresh };
}

/**
 * The zone and node items /proc/meminfo is made of (Linux prints both from the same counters:
 * meminfo_proc_show reads global_node_page_state), in pages; the THP items in huge pages
 * (vmstat_item_print_in_thp), nr_kernel_stack in kB. One node, so each zone item is its node
 * item (nr_zone_inactive_anon = nr_inactive_anon); nr_file_pages holds the swap cache too
 * (meminfo's Cached is NR_FILE_PAGES less the swap cache and buffers).
 */
function nodeStats(k: KernelCore): Record<string, number> {
  const m = meminfo(k);
  const pages = (name: string) => m[name] / 4096;
  // the NR_*_THPS node items exist without CONFIG_TRANSPARENT_HUGEPAGE too (0 there), meminfo's lines not
  const thps = (name: string) => (m[name] ?? 0) / (k.arch.pgtable.hpagePmdNr * 4096);
  return {
    nr_zone_inactive_anon: pages("Inactive(anon)"),
    nr_zone_active_anon: pages("Active(anon)"),
    nr_zone_inactive_file: pages("Inactive(file)"),
    nr_zone_active_file: pages("Active(file)"),
    nr_zone_unevictable: pages("Unevictable"),
    nr_zone_write_pending: pages("Dirty") + pages("Writeback"),
    nr_slab_reclaimable: pages("SReclaimable"),
    nr_anon_pages: pages("AnonPages"),
    nr_mapped: pages("Mapped"),
    nr_file_pages: pages("Cached") + pages("SwapCached") + pages("Buffers"),
    nr_dirty: pages("Dirty"),
    nr_writeback: pages("Writeback"),
    nr_shmem: pages("Shmem"),
    nr_shmem_hugepages: thps("ShmemHugePages"),
    nr_shmem_pmdmapped: thps("ShmemPmdMapped"),
    nr_file_hugepages: thps("FileHugePages"),
    nr_file_pmdmapped: thps("FilePmdMapped"),
    nr_anon_transparent_hugepages: thps("AnonHugePages"),
    nr_kernel_stack: m.KernelStack / 1024,
    nr_swapcached: pages("SwapCached"),
  };
}

/**
 * Counters vmlab keeps that /proc/vmstat does not have (or no longer has
 * by these names), accepted as `vmstat.X` in scenarios written before
 * vmlab used Linux's names (docs/swap.md): pgscan and pgsteal are every
 * reclaimer's pages together (cgroup v2 memory.stat's names), kswapd_runs
 * is pageoutrun, direct_reclaims the allocation stalls.
 */
export function vmstatCompat(k: KernelCore): Record<string, number> {
  const c = k.pages.countByKind();
  const s = k.vmscan.stats;
  return {
    pgscan: scannedTotal(s),
    pgsteal: stolenTotal(s),
    kswapd_runs: s.pageoutrun,
    direct_reclaims: k.buddy.allocStalls,
    memcg_reclaims: k.vmscan.reclaimCtx.cgroupReclaims,
    // the memory limit's page_counter failcnt and its OOM kills (memory.events' max, oom_kill)
    memcg_failcnt: k.vmscan.reclaimCtx.memcgFailcnt,
    memcg_oom_kills: k.vmscan.reclaimCtx.memcgOomKills,
    kswapd_wakeups: k.buddy.kswapdWakeups,
    pgalloc_failed: k.buddy.failedAllocs,
    nr_kernel_pages: c[PageKind.KernelPages] + c[PageKind.KmallocLarge],
    nr_vmalloc: c[PageKind.Vmalloc],
    // balance_dirty_pages (mm/page_writeback.ts): its calls, the background writebacks it started
    // and the pages they wrote, the pauses a dirtier over the freerun ceiling would take
    balance_dirty_pages: k.dirtyThrottle?.balanceCalls ?? 0,
    background_writebacks: k.dirtyThrottle?.backgroundRuns ?? 0,
    background_written: k.dirtyThrottle?.backgroundPages ?? 0,
    dirty_throttled: k.dirtyThrottle?.throttled ?? 0,
    // the lruvec's reclaim costs (lru_note_cost: get_scan_count's balance) and kswapd's failed
    // runs in a row (pgdat->kswapd_failures), which Linux shows only through tracepoints
    anon_cost: k.vmscan.cost.anonCost,
    file_cost: k.vmscan.cost.fileCost,
    kswapd_failures: k.vmscan.kswapdFailures,
  };
}

/**
 * Pages of anonymous huge pages mapped by PMDs over all processes (meminfo
 * AnonHugePages), of PMD-size page-cache folios (FileHugePages) and of
 * those mapped by a PMD somewhere (FilePmdMapped); tmpfs folios (swap-backed)
 * count in ShmemHugePages and ShmemPmdMapped instead.
 */
function hugePages(k: KernelCore): {
  anon: number;
  fileThps: number;
  filePmdMapped: number;
  shmemThps: number;
  shmemPmdMapped: number;
} {
  const pt = k.arch.pgtable;
  const nr = pt.hpagePmdNr;
  const order = Math.log2(nr);
  let fileThps = 0;
  let shmemThps = 0;
  // and the shmem objects of shared anonymous memory and SysV segments (mm/shmem_anon_huge.ts)
  for (const obj of shmemObjectsAll(k)) for (const o of obj.folios.values()) if (o === order) shmemThps += nr;
  for (const f of k.pageCache.files.values())
    for (const o of f.folios.values())
      if (o !== order) continue;
      else if (f.fs === "tmpfs") shmemThps += nr;
      else fileThps += nr;
  const fileHeads = new Set<number>();
  const shmemHeads = new Set<number>();
  // NR_ANON_THPS: a folio counts once while a PMD maps it anywhere (__folio_mod_stat's nr_pmdmapped),
  // not once per PMD (a THP shared by fork), and not once its PMDs are split (PTE-mapped)
  const anonHeads = new Set<number>();
  const seen = new Set<unknown>();
  for (const t of k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null || seen.has(mm)) continue;
    seen.add(mm);
    for (const v of mm.vmas) {
      for (let h = v.vmStart - (v.vmStart % nr); h < v.vmEnd; h += nr) {
        const leaf = k.userMm.leafFor(mm, h);
        // the huge zero page is special: not anonymous memory
        if (leaf === null || leaf.level !== pt.pmdLevel || pt.special(leaf.hi, leaf.lo)) continue;
        if (k.pages.kind[leaf.pfn] !== PageKind.PageCache) anonHeads.add(leaf.pfn);
        else if (k.pages.flags[leaf.pfn] & PageFlag.SwapBacked) shmemHeads.add(leaf.pfn);
        else fileHeads.add(leaf.pfn);
      }
    }
  }
  return {
    anon: anonHeads.size * nr,
    fileThps,
    filePmdMapped: fileHeads.size * nr,
    shmemThps,
    shmemPmdMapped: shmemHeads.size * nr,
  };
}

/**
 * CONFIG_HIGHMEM's lines (fs/proc/meminfo.c: HighTotal, HighFree, LowTotal,
 * LowFree), where the zones have a HighMem (32-bit x86); none elsewhere.
 */
function highmemInfo(k: KernelCore): Record<string, number> {
  const l = k.buddy.layout;
  if (l.highmem === l.normal) return {};
  const high = k.buddy.zones[l.highmem];
  const pg = 4096;
  return {
    HighTotal: high.managed * pg,
    HighFree: high.freePages * pg,
    LowTotal: (k.buddy.managedPages() - high.managed) * pg,
    LowFree: (k.buddy.freePages() - high.freePages) * pg,
  };
}

/**
 * The PGALLOC, ALLOCSTALL and PGSCAN_SKIP events by zone (mm/vmstat.c TEXTS_FOR_ZONES: pgalloc_dma,
 * pgalloc_dma32, pgalloc_normal, pgalloc_high, pgalloc_movable; allocstall_ and pgskip_ the same), for
 * the zones of vmlab's layout and ZONE_MOVABLE.
 */
function zoneEvents(k: KernelCore): Record<string, number> {
  const out: Record<string, number> = {};
  const absent = k.buddy.layout.unconfigured ?? [];
  k.buddy.zones.forEach((z, i) => {
    // vm_event_item's per-zone names exist for the zones the kernel is built with (FOR_ALL_ZONES)
    if (absent.includes(i)) return;
    const name = z.name === "HighMem" ? "high" : z.name.toLowerCase();
    out[`pgalloc_${name}`] = k.buddy.pgalloc[i];
    out[`allocstall_${name}`] = k.buddy.allocStallByZone[i];
    out[`pgskip_${name}`] = k.vmscan.pgskip[i];
  });
  // ZONE_MOVABLE is configured (CONFIG_MEMORY_HOTPLUG) but empty (no movablecore=): nothing is
  // allocated from it, while a GFP_HIGHUSER_MOVABLE allocation's direct reclaim counts under it
  out.pgalloc_movable = 0;
  out.allocstall_movable = k.buddy.allocStallByZone[3];
  out.pgskip_movable = 0;
  return out;
}

/** Every live shmem object: those mapped by some process, and SysV segments attached or not. */
function shmemObjectsAll(k: KernelCore): Set<ShmemObject> {
  const objs = new Set<ShmemObject>(shmObjects(k));
  for (const t of k.tasks) if (t.alive && t.mm) for (const v of t.mm.vmas) if (v.shmem) objs.add(v.shmem);
  return objs;
}
