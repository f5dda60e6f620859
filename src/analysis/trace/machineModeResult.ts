/**
 * Machine mode's configuration, cost model and result (machineMode.ts), apart so that
 * the class's file stays within the size the project allows.
 */
import type { CacheSpec } from "../../hw/cache/CacheSpec.ts";
import type { TlbSpec } from "../../hw/mmu/Tlb.ts";
import type { SharedPlace } from "./hitLoop.ts";

export const MACHINE_POLICIES = ["clock", "fifo", "lru", "random"] as const;
export type MachinePolicy = (typeof MACHINE_POLICIES)[number];

export interface MachineModeConfig {
  /** data frames for the traced program's pages */
  frames: number;
  /** TLB preset or spec (`64x4,1536x12`) */
  tlb: string | TlbSpec;
  policy: MachinePolicy;
  /** drop instruction fetches (kind 0) before anything else */
  dataOnly?: boolean;
  /** seeds `random` */
  seed?: number;
  /** 4 KiB pages, or 2 MiB pages mapped by PMD entries (THP for the whole address space) */
  pageSize?: "4k" | "2m";
  /** the machine's MMU and page tables (MACHINE_ARCHES; default x86_64) */
  arch?: MachineArch;
  /** cycle cost model */
  cost?: Partial<CostModel>;
  /** an L1 data cache in front of the CPU (docs/caches.md); every access then goes through the MMU */
  cache?: CacheSpec | null;
  /**
   * false: every access through Mmu.translate, without the first-level
   * shortcuts (the front-entry memo, the direct 4K-array lookup) or runs;
   * the tests' reference for those shortcuts. Default true.
   */
  shortcuts?: boolean;
  /**
   * feedRuns' hit loop in WebAssembly (hitLoop.ts, wasm/hits.ts) when the
   * shortcuts are on and the policy is not LRU; false: in JavaScript (the
   * tests' reference for it). Default: true unless VMLAB_WASM=0.
   */
  wasm?: boolean;
  /** a shared memory the hit loop's state goes in (hitLoop.ts's SharedPlace: the slots' records then not copied) */
  shared?: SharedPlace | null;
}

/** Machine mode's architectures: those whose user half holds every trace address (below 2^47; not Sv39, i386) */
export const MACHINE_ARCHES = ["x86_64", "x86_64-la57", "arm64", "riscv-sv48", "riscv-sv57"] as const;
export type MachineArch = (typeof MACHINE_ARCHES)[number];

/**
 * An estimate of cycles: each access pays its TLB level's latency, each
 * walk pays per entry read, each fault its handling. The defaults are round
 * figures for a recent x86 core (L1 TLB hit 1, STLB hit 7, a walk's entry
 * read 30 on average between cache levels, a minor fault 1,500, a swap-in
 * from an SSD 50,000); set them with --cost. With a data cache (--cache),
 * each access also pays its data-cache hit or miss (4 and 50: an L1D
 * load-to-use latency, and a round figure for the next level), each line
 * written back 50, and each flush_cache_page the pager makes 200 besides
 * its lines (arm's flush_pfn_alias: a temporary mapping and a TLB flush).
 */
export interface CostModel {
  l1: number;
  l2: number;
  walkRead: number;
  minorFault: number;
  majorFault: number;
  cacheHit: number;
  cacheMiss: number;
  cacheWriteback: number;
  cacheFlush: number;
}
export const DEFAULT_COST: CostModel = {
  l1: 1,
  l2: 7,
  walkRead: 30,
  minorFault: 1500,
  majorFault: 50000,
  cacheHit: 4,
  cacheMiss: 50,
  cacheWriteback: 50,
  cacheFlush: 200,
};

/** The counters, named as vmref names them, plus vmlab's. */
export interface MachineModeResult {
  records: number;
  simulated: number;
  skipped_instr: number;
  instr: number;
  load: number;
  store: number;
  modify: number;
  /** per TLB level: hits and misses (the first two are vmref's l1/l2) */
  levels: { name: string; hits: number; misses: number }[];
  l1_hits: number;
  l1_misses: number;
  l2_hits: number;
  l2_misses: number;
  walks: number;
  /** page-table entries the walks read (the hardware's count: a walk that stops early reads fewer) */
  pt_reads: number;
  pt_frames: number;
  faults: number;
  faults_first_touch: number;
  faults_swap_in: number;
  evictions: number;
  dirty_evictions: number;
  swap_outs: number;
  swap_max_in_use: number;
  clock_ref_clears: number;
  frames_used: number;
  /** sum mod 2^64 of (frame << 12 | offset) over the simulated accesses, as a decimal string */
  phys_sum: string;
  /** retried accesses after a fault (their TLB misses and walks are not in the figures above) */
  retries: number;
  /** the data cache's counters (--cache), or null without one */
  cache: { hits: number; misses: number; writebacks: number; page_flushes: number } | null;
  cycles: number;
}

/**
 * The cost model's estimate of a run's cycles: first- and second-level TLB
 * hits, page-table reads, minor and major faults, and the data cache's
 * events when there is one (`dc`, else null).
 */
export function estimatedCycles(
  c: CostModel,
  l1: number,
  l2: number,
  ptReads: number,
  minor: number,
  major: number,
  dc: { hits: number; misses: number; writebacks: number; pageFlushes: number } | null,
): number {
  return (
    l1 * c.l1 +
    l2 * c.l2 +
    ptReads * c.walkRead +
    minor * c.minorFault +
    major * c.majorFault +
    (dc === null
      ? 0
      : dc.hits * c.cacheHit +
        dc.misses * c.cacheMiss +
        dc.writebacks * c.cacheWriteback +
        dc.pageFlushes * c.cacheFlush)
  );
}
