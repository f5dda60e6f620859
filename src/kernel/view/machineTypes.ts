/**
 * The machine-wide half of the view's data (KernelView.ts; see types.ts for
 * the conventions): CPUs and their TLBs, frames, zones, slab caches, files,
 * devices, the kernel's counters and record, and the machine itself.
 */
/** One valid TLB entry. */
export interface TlbEntryInfo {
  /** the hierarchy level (`L1`, `L2`) and the array's name */
  level: string;
  array: string;
  /** the first page of the translation (in base pages) and its address */
  vpn: number;
  va: bigint;
  /** its first frame */
  pfn: number;
  /** the page size the entry holds (a large page in a 4K array is held fractured: `pageSize` 4K, `sourceSize` 2M) */
  pageSize: string;
  sourceSize: string;
  asid: number;
  global: boolean;
  /** the rights it caches, canonically: `user rw- / kernel rw-` */
  rights: string;
  dirty: boolean;
  /** where it sits in its array: the set (the tag's low bits) and the way (0 most recently used) */
  set: number;
  way: number;
}

/** One array of a TLB level. */
export interface TlbArrayInfo {
  level: string;
  name: string;
  entries: number;
  ways: number;
  /** entries / ways */
  sets: number;
  /** the page sizes it holds and what it serves */
  sizes: string[];
  kind: "data" | "instr" | "unified";
  valid: number;
  evictions: number;
}

/** A CPU's TLB: its arrays and every valid entry. */
export interface TlbInfo {
  cpu: number;
  /** what the architecture calls the tag (x86: PCID) */
  asidName: string;
  /** the ASID user translations carry now */
  userAsid: number;
  arrays: TlbArrayInfo[];
  entries: TlbEntryInfo[];
}

/** One CPU: what runs on it, its MMU's counters, its TLB state. */
export interface CpuInfo {
  id: number;
  /** the pid current on it, or null (idle) */
  current: number | null;
  asidName: string;
  /** the ASID it runs under, the mm whose tables it has loaded (its id; null: init_mm), lazy TLB mode */
  loadedAsid: number;
  loadedMm: number | null;
  lazy: boolean;
  translations: number;
  /** TLB hits at every level, and walks less those that only set a dirty bit */
  tlbHits: number;
  tlbMisses: number;
  tlbLevels: { name: string; hits: number; misses: number }[];
  walks: number;
  /** entries the walks read */
  walkRefs: number;
  /** accessed/dirty writes by walks, and walks that only set a dirty bit */
  adWrites: number;
  dirtyAssists: number;
  pageFaults: number;
  /** accesses no translation applies to (x86: #GP, a non-canonical address) */
  addressFaults: number;
  /** root-register writes (x86 CR3) */
  rootWrites: number;
  /** the tag the CPU's translations carry now, as the hardware holds it (x86 CR3's PCID, arm64 the ASID) */
  hwAsid: number;
  /** single-page invalidations (x86 INVLPG) and full flushes of an ASID or more */
  pageInvalidations: number;
  fullFlushes: number;
  contextSwitches: number;
  /** flush IPIs received */
  shootdownsReceived: number;
  /** full flushes switch_mm made (a new or stale ASID) */
  switchFlushes: number;
  /** root switches on kernel entry and exit (PTI), and returns to user that flushed the user ASID */
  ptiCr3Writes: number;
  ptiUserFlushes: number;
  /** its L1 data cache's counters (cache=vivt|vipt|pipt), or null without one */
  cache: CacheCounters | null;
}

/** A CPU's data-cache counters (hw/cache/DataCache.ts). */
export interface CacheCounters {
  hits: number;
  misses: number;
  /** loads that returned bytes older than the last write to them (or another frame's: a VIVT homonym) */
  staleReads: number;
  /** whole-cache and per-mm flushes; range and page flushes (cache.range_flushes, cache.page_flushes) */
  flushes: number;
  rangeFlushes: number;
  pageFlushes: number;
  /** lines written back to memory */
  writebacks: number;
}

/** Machine-wide counters. */
export interface KernelCounters {
  oopses: number;
  oomKills: number;
  /** the OOM killer's reports logged so far */
  oomReports: number;
  /** flush IPIs sent */
  shootdownsSent: number;
  /** broadcast TLB maintenance instructions issued (arm64 TLBI ...IS) */
  tlbBroadcasts: number;
  /** RISC-V: SBI remote-fence calls (sbi_remote_sfence_vma_asid; 0 elsewhere, and with rfence=ipi) */
  tlbSbiFences: number;
  /** arm64, RISC-V: ASID rollovers (a new generation/version; 0 elsewhere) */
  asidRollovers: number;
  /** uses of a stale TLB entry the coherence checker reported (0 without `check_tlb=on`) */
  staleTlbUses: number;
  /** kernel-mode faults on vmalloc addresses fixed by copying init_mm's entry (32-bit x86, vmalloc_sync=lazy) */
  vmallocFaults: number;
  /** tasks ever created, the dead included */
  tasks: number;
  /** the panic message, or null while the machine runs */
  panic: string | null;
  /** pages read into and written back from the page cache */
  pageCacheReads: number;
  pageCacheWritebacks: number;
  /** pages written to swap and read back (0 without swap) */
  swapOuts: number;
  swapIns: number;
  /** lazy-free (MADV_FREE) pages reclaim discarded without swap I/O (pglazyfreed) */
  lazyFreed: number;
  /** pages reclaim freed (pgsteal) and scanned */
  pagesStolen: number;
  pagesScanned: number;
  /** free pages in the buddy allocator */
  freePages: number;
  /** page-table pages allocated after boot */
  pageTablePages: number;
}

/** Frames by kind, and the runs of same-kind frames across physical memory. */
export interface FramesInfo {
  total: number;
  /** frames of each kind, by kind name (`free`, `kernel-image`, `page-table`, `slab`, `user`, ...), every kind listed */
  byKind: Record<string, number>;
  runs: { first: number; last: number; kind: string }[];
}

/** One frame's struct page. */
export interface FrameInfo {
  pfn: number;
  kind: string;
  refcount: number;
  /** mappings by user page tables */
  mapcount: number;
  /** PG_* flags by name (buddy, head, lru, active, referenced, dirty, ...) */
  flags: string[];
  /** buddy order of a free block's or an allocation's head; -1 otherwise */
  order: number;
  zone: string;
  /** who holds it, when the kernel knows: a slab cache, a file's page, the swap cache, the zero page, a device */
  owner: string | null;
  /** the object size of its slab cache, or 0 */
  slabObjectSize: number;
}

/** One zone of the buddy allocator (/proc/buddyinfo, /proc/zoneinfo). */
export interface ZoneInfo {
  name: string;
  managed: number;
  free: number;
  /** free blocks of each order */
  freeBlocks: number[];
  /** min, low and high watermarks (min_wmark_pages...: the boost included) */
  watermarks: { min: number; low: number; high: number };
  /** watermark_boost: pages added to the watermarks after a fallback stole a small block */
  boost: number;
  /** zone_start_pfn and spanned_pages (vmlab's RAM has no holes: present_pages is the same) */
  startPfn: number;
  spanned: number;
  /** lowmem_reserve[], one per zone (zoneinfo's protection) */
  protection: number[];
  /** each CPU's pageset (struct per_cpu_pages: count, high, batch) and its vmstat threshold */
  pagesets: { count: number; high: number; batch: number }[];
  statThreshold: number;
  /** the node's kswapd_failures reached MAX_RECLAIM_RETRIES (pgdat_reclaimable false) */
  nodeUnreclaimable: boolean;
  /** free blocks of each order on each migrate type's lists (/proc/pagetypeinfo): [type][order] */
  freeByType: number[][];
  /** the zone's pageblocks of each migrate type (pagetypeinfo's block counts) */
  blocksByType: number[];
  /** the zone's pages on the LRU lists: inactive anon, active anon, inactive file, active file, unevictable (NR_ZONE_LRU_BASE + lru) */
  lru: number[];
}

/** /proc/pagetypeinfo's data: the pageblock size and the zones. */
export interface PagetypeInfo {
  /** pageblock_order */
  pageblockOrder: number;
  /** grouping by mobility: on, or off on a machine too small for it (page_group_by_mobility_disabled) */
  mobility: "on" | "off";
  /** the migrate types' names (migratetype_names) */
  typeNames: readonly string[];
  zones: ZoneInfo[];
}

/** One slab cache (/proc/slabinfo). */
export interface SlabCacheInfo {
  name: string;
  activeObjs: number;
  numObjs: number;
  objSize: number;
  objsPerSlab: number;
  pagesPerSlab: number;
  numSlabs: number;
}

/** A file of the simulated file system and its page cache. */
export interface FileInfo {
  name: string;
  path: string;
  fs: "disk" | "tmpfs";
  ino: number;
  sizeBytes: number;
  pages: number;
  /** pages in the page cache, and of those the dirty ones */
  cached: number;
  dirty: number;
  /** pages read from disk and written back */
  pagesRead: number;
  pagesWritten: number;
  /** the size of the folios its page cache allocates (`folio=`; 4096: pages) */
  folioBytes: number;
  /** large folios (above 4K) in its page cache now */
  largeFolios: number;
  /**
   * statfs(2) of a tmpfs file's mount: f_blocks (its size= in pages, sbinfo->max_blocks) and
   * f_bfree (max_blocks - used_blocks); both 0 with no limit, as simple_statfs leaves them, and
   * for a disk file
   */
  fBlocks: number;
  fBfree: number;
  /** statfs(2)'s f_files (nr_inodes=, sbinfo->max_inodes) and f_ffree (free_ispace / BOGO_INODE_SIZE); 0 with no limit */
  fFiles: number;
  fFfree: number;
}

/** A character device's kernel buffer. */
export interface DeviceInfo {
  name: string;
  pfn: number;
  pages: number;
  order: number;
}

/** One oops as it happened. */
export interface OopsInfo {
  lines: string[];
  cpu: number;
  pid: number;
  comm: string;
  /**
   * the fault's hardware code: x86's #PF error code, arm64's ESR_EL1 (its
   * low 32 bits); -1 for an oops that is not a page fault or data abort
   */
  code: number;
}

/** The machine as the kernel sees it. */
export interface MachineInfo {
  arch: string;
  /** page-table levels, and their names by level (0: the last level): the architecture's (PT, PD, ...) and Linux's (PTE, PMD, ...) */
  levels: number;
  levelNames: string[];
  linuxLevelNames: string[];
  cpus: number;
  ramBytes: number;
  frames: number;
  /** x86 CR4.PCIDE (arm64: true, the TLB is always tagged) */
  pcid: boolean;
  pti: boolean;
  /** the register a process's page tables are loaded into (x86 CR3, arm64 TTBR0_EL1) */
  rootRegister: string;
  /** where a switch writes the ASID, when that is another register (arm64: `TTBR1_EL1.ASID`) */
  asidRegister: string | null;
  /** the counters' names as the architecture says them (x86: #PF, #GP, INVLPG) */
  counterNames: { pageFaults: string; addressFaults: string; pageInvalidations: string };
  /** the zero page's frame */
  zeroPfn: number;
  /** init_mm's PGD */
  kernelPgdPfn: number;
  /** the table the MMU reads: `radix`, or `inverted` (a hashed IPT refilled from the radix tables) */
  pagetable: string;
}
