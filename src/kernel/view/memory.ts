/**
 * Physical memory as data (view/types.ts): frames by kind and one frame's
 * struct page, the buddy allocator's zones, the slab caches, the files and
 * their page cache, the devices, and the machine-wide counters.
 */
import type { KernelCore } from "../core/core.ts";
import { BOGO_INODE_SIZE } from "../fs/file.ts";
import { MAX_ORDER, MIGRATE_TYPES } from "../mm/migratetype.ts";
import type { Zone } from "../mm/mmzone.ts";
import { PAGE_KIND_NAMES, PageFlag, PageKind } from "../mm/PageDesc.ts";
import { MAX_RECLAIM_RETRIES } from "../mm/vmscan_balance.ts";
import { scannedTotal, stolenTotal } from "../mm/vmscan_stat.ts";
import type {
  DeviceInfo,
  FileInfo,
  FrameInfo,
  FramesInfo,
  KernelCounters,
  SlabCacheInfo,
  ZoneInfo,
} from "./types.ts";

/** PG_* flags by name, in bit order. */
const PAGE_FLAG_NAMES: [number, string][] = [
  [PageFlag.Buddy, "buddy"],
  [PageFlag.Head, "head"],
  [PageFlag.Lru, "lru"],
  [PageFlag.Active, "active"],
  [PageFlag.Referenced, "referenced"],
  [PageFlag.Dirty, "dirty"],
  [PageFlag.Locked, "locked"],
  [PageFlag.Mlocked, "mlocked"],
  [PageFlag.SwapBacked, "swapbacked"],
  [PageFlag.Reclaim, "reclaim"],
  [PageFlag.Lazyfree, "lazyfree"],
  [PageFlag.AnonExclusive, "anon_exclusive"],
  [PageFlag.Workingset, "workingset"],
];

/**
 * A frame's PageFlag bits with PG_lru, PG_active and PG_referenced as Linux holds them: vmlab
 * keeps those in the LRU lists (Vmscan.lru, .referenced), not in struct page's flags (crash.ts
 * pgBits reads them the same way).
 */
function lruFlags(k: KernelCore, pfn: number): number {
  const v = k.vmscan;
  let f = k.pages.flags[pfn] & ~(PageFlag.Lru | PageFlag.Active | PageFlag.Referenced);
  const list = v.lru[pfn];
  if (list !== 0) f |= PageFlag.Lru;
  if (list === 2 || list === 4) f |= PageFlag.Active;
  if (v.referenced[pfn]) f |= PageFlag.Referenced;
  return f;
}

/** Runs of frames of the same kind across physical memory. */
export function frameRuns(k: KernelCore): { first: number; last: number; kind: string }[] {
  const runs: { first: number; last: number; kind: string }[] = [];
  const kinds = k.pages.kind;
  let start = 0;
  for (let pfn = 1; pfn <= kinds.length; pfn++) {
    if (pfn === kinds.length || kinds[pfn] !== kinds[start]) {
      runs.push({ first: start, last: pfn - 1, kind: PAGE_KIND_NAMES[kinds[start]] });
      start = pfn;
    }
  }
  return runs;
}

export function framesInfo(k: KernelCore): FramesInfo {
  const counts = k.pages.countByKind();
  const byKind: Record<string, number> = {};
  PAGE_KIND_NAMES.forEach((name, i) => {
    byKind[name] = counts[i];
  });
  return { total: k.pages.nrFrames, byKind, runs: frameRuns(k) };
}

/** Who holds a frame, when the kernel knows: the zero page, a slab cache, a file, the swap cache, a device. */
function ownerOf(k: KernelCore, pfn: number): string | null {
  if (pfn === k.zeroPfn) return "the zero page";
  const kind = k.pages.kind[pfn];
  if (kind === PageKind.Slab) return `slab ${k.slab.caches[k.pages.priv[pfn]]?.name ?? "?"}`;
  if (kind === PageKind.PageCache)
    for (const f of k.pageCache.files.values())
      for (const [index, p] of f.cache) if (p === pfn) return `file ${f.name} page ${index}`;
  const slot = k.swap?.slotOf.get(pfn);
  if (slot !== undefined) return `swap cache slot ${slot}`;
  for (const d of k.devices.values())
    if (pfn >= d.pfn && pfn < d.pfn + d.pages) return `device ${d.name} page ${pfn - d.pfn}`;
  return null;
}

/** One frame's struct page, or null past the end of RAM. */
export function frameInfo(k: KernelCore, pfn: number): FrameInfo | null {
  const p = k.pages;
  if (!Number.isInteger(pfn) || pfn < 0 || pfn >= p.nrFrames) return null;
  const kind = p.kind[pfn];
  const cache = kind === PageKind.Slab ? k.slab.caches[p.priv[pfn]] : undefined;
  return {
    pfn,
    kind: PAGE_KIND_NAMES[kind],
    refcount: p.refcount[pfn],
    mapcount: p.mapcount[pfn],
    flags: PAGE_FLAG_NAMES.filter(([bit]) => lruFlags(k, pfn) & bit).map(([, name]) => name),
    order: p.order[pfn],
    zone: k.buddy.zones[p.zone[pfn]].name,
    owner: ownerOf(k, pfn),
    slabObjectSize: cache?.objSize ?? 0,
  };
}

/** The buddy allocator's zones (the empty ones too, but not those the kernel is built without). */
export function zoneInfos(k: KernelCore): ZoneInfo[] {
  const absent = k.buddy.layout.unconfigured ?? [];
  return k.buddy.zones
    .filter((z) => !absent.includes(z.id))
    .map((z) => ({
      name: z.name,
      managed: z.managed,
      free: z.freePages,
      freeBlocks: Array.from(z.nrFree),
      watermarks: {
        min: z.wmark[0] + z.watermarkBoost,
        low: z.wmark[1] + z.watermarkBoost,
        high: z.wmark[2] + z.watermarkBoost,
      },
      boost: z.watermarkBoost,
      startPfn: z.startPfn,
      spanned: z.endPfn - z.startPfn,
      protection: [...z.lowmemReserve].filter((_, i) => !absent.includes(i)),
      pagesets: pagesets(k, z.id),
      statThreshold: statThreshold(z.managed, k.machine.cpus.length),
      nodeUnreclaimable: k.vmscan.kswapdFailures >= MAX_RECLAIM_RETRIES,
      freeByType: freeByType(k, z),
      blocksByType: blocksByType(k, z),
      lru: [1, 2, 3, 4, 5].map((list) => k.vmscan.zoneSize[list * 3 + z.id]),
    }));
}

/**
 * Each migrate type's free blocks of each order in a zone: the lengths of free_area[order].free_list[mt]
 * (pagetypeinfo_showfree_print). Linux caps each count at 100000 ("> 100000"); vmlab counts them all.
 */
function freeByType(k: KernelCore, z: Zone): number[][] {
  const next = k.pages.next;
  const out: number[][] = [];
  for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
    const row: number[] = [];
    for (let order = 0; order <= MAX_ORDER; order++) {
      let n = 0;
      for (let pfn = z.head[order * MIGRATE_TYPES + mt]; pfn !== -1; pfn = next[pfn]) n++;
      row.push(n);
    }
    out.push(row);
  }
  return out;
}

/** The zone's pageblocks by migrate type, each counted at its first pfn (pagetypeinfo_showblockcount_print). */
function blocksByType(k: KernelCore, z: Zone): number[] {
  const count = new Array<number>(MIGRATE_TYPES).fill(0);
  const pb = k.buddy.pbOrder;
  for (let pfn = z.startPfn; pfn < z.endPfn; pfn += 1 << pb) count[k.buddy.blockMt[pfn >> pb]]++;
  return count;
}

/**
 * Each online CPU's pageset of a zone (zoneinfo_show_print's pagesets): the per-CPU
 * lists' count, high and batch; a zone without lists (unpopulated, or a kernel that
 * set none up) shows the boot pageset's (0, 0, 1). Linux: mm/vmstat.c zoneinfo_show_print
 */
function pagesets(k: KernelCore, zoneId: number): { count: number; high: number; batch: number }[] {
  const set = k.buddy.pcp?.sets[zoneId] ?? null;
  return k.machine.cpus.map((_, cpu) =>
    set === null
      ? { count: 0, high: 0, batch: 1 }
      : { count: set.count[cpu], high: set.high[cpu], batch: set.batch[cpu] },
  );
}

/**
 * calculate_normal_threshold: the per-CPU vmstat counters' threshold,
 * 2 * fls(online CPUs) * (1 + fls(managed >> (27 - PAGE_SHIFT))), at most 125.
 * Linux: mm/vmstat.c calculate_normal_threshold
 */
function statThreshold(managed: number, cpus: number): number {
  const fls = (x: number) => 32 - Math.clz32(x);
  return Math.min(125, 2 * fls(cpus) * (1 + fls(Math.floor(managed / 32768))));
}

/** The kmalloc caches, smallest first. */
export function slabCacheInfos(k: KernelCore): SlabCacheInfo[] {
  return k.slab.caches.map((c) => ({
    name: c.name,
    activeObjs: c.activeObjs,
    numObjs: c.numObjs,
    objSize: c.objSize,
    objsPerSlab: c.objsPerSlab,
    pagesPerSlab: 2 ** c.order,
    numSlabs: c.numSlabs,
  }));
}

export function fileInfo(k: KernelCore, name: string): FileInfo | null {
  const f = k.pageCache.files.get(name);
  if (f === undefined) return null;
  return {
    name: f.name,
    path: f.path,
    fs: f.fs,
    ino: f.ino,
    sizeBytes: f.sizeBytes,
    pages: f.nrPages,
    cached: f.cache.size,
    dirty: f.dirty.size,
    pagesRead: f.pagesRead,
    pagesWritten: f.pagesWritten,
    folioBytes: 4096 * 2 ** f.folioOrder,
    largeFolios: f.folios.size,
    // shmem_statfs: "if (sbinfo->max_blocks)" f_blocks and f_bfree, else 0 like simple_statfs
    fBlocks: f.maxBlocks,
    fBfree: f.maxBlocks > 0 ? f.maxBlocks - f.usedBlocks : 0,
    // "if (sbinfo->max_inodes)" f_files and f_ffree
    fFiles: f.sbinfo?.maxInodes ?? 0,
    fFfree:
      f.sbinfo !== null && f.sbinfo.maxInodes > 0 ? Math.floor(f.sbinfo.freeIspace / BOGO_INODE_SIZE) : 0,
  };
}

/**
 * What read(2) of one byte at `offset` of a file would return: the page
 * cache's copy when cached, else the disk's; -1 past EOF or for no such file.
 */
export function fileByte(k: KernelCore, name: string, offset: bigint): number {
  const f = k.pageCache.files.get(name);
  if (f === undefined || offset < 0n || offset >= BigInt(f.sizeBytes)) return -1;
  const pfn = f.cache.get(Number(offset / 4096n));
  return pfn !== undefined
    ? k.machine.phys.read8(pfn * 4096 + Number(offset % 4096n))
    : f.storedByte(Number(offset));
}

export function deviceInfos(k: KernelCore): DeviceInfo[] {
  return [...k.devices.values()].map((d) => ({ name: d.name, pfn: d.pfn, pages: d.pages, order: d.order }));
}

export function counters(k: KernelCore): KernelCounters {
  return {
    oopses: k.oopses.length,
    oomKills: k.oomKills,
    oomReports: k.oomReports.length,
    shootdownsSent: k.tlbMgr.shootdowns,
    tlbBroadcasts: k.tlbMgr.broadcasts,
    tlbSbiFences: k.tlbMgr.sbiFences ?? 0,
    asidRollovers: k.tlbMgr.asidRollovers ?? 0,
    staleTlbUses: k.machine.checker?.reports.length ?? 0,
    vmallocFaults: k.vmallocFaults,
    tasks: k.tasks.length,
    panic: k.panicked,
    pageCacheReads: k.pageCache.pagesIn,
    pageCacheWritebacks: k.pageCache.pagesOut,
    swapOuts: k.swap?.pswpout ?? 0,
    swapIns: k.swap?.pswpin ?? 0,
    lazyFreed: k.vmscan.stats.pglazyfreed,
    pagesStolen: stolenTotal(k.vmscan.stats),
    pagesScanned: scannedTotal(k.vmscan.stats),
    freePages: k.buddy.freePages(),
    pageTablePages: k.pageTablePages,
  };
}
