/**
 * Kernel memory the Windows way: the nonpaged pool (always resident) and
 * the paged pool (pageable: its pages are trimmed like a process's, go to
 * the standby and modified lists and the paging file, and come back by a
 * fault), ExAllocatePoolWithTag / ExFreePoolWithTag, the IRQL of each CPU,
 * and what a fault on a paged-out pool page does at each IRQL (Windows
 * Internals 7th ed., Part 1, ch. 5 "Kernel-mode heaps (system memory
 * pools)", Part 2, ch. 8 "Trap dispatching" (IRQLs); learn.microsoft.com
 * "ExAllocatePoolWithTag function (wdm.h)", "Bug Check 0xA:
 * IRQL_NOT_LESS_OR_EQUAL", "Bug Check 0x50: PAGE_FAULT_IN_NONPAGED_AREA").
 *
 * Each pool is a range of system space (its KVA reserved from the kernel's
 * vmalloc space, vmalloc.ts reserve; 4 MB each), mapped page by page as it
 * grows. An allocation of at most a page less its POOL_HEADER comes from a
 * pool page in blocks of the pool block size (x64: 16 bytes, the header
 * 16; x86: 8 and 8), first fit; the caller gets the address after the
 * header. A larger one takes whole pages (MiAllocatePoolPages), page
 * aligned, no header. Every pool page is charged to the commit limit. A
 * small-block page whose last block is freed goes back (ExFreePool returns
 * a page that became free). vmlab does not write the header's bytes.
 *
 * MmAccessFault on a kernel address: at an IRQL above APC_LEVEL it does not
 * try (the page-fault handler cannot wait for I/O, nor take the working set
 * lock) and the trap handler bug checks with 0xA; at PASSIVE_LEVEL or
 * APC_LEVEL a paged-out paged-pool page is brought back (soft or hard
 * fault), and an address no pool page backs is bug check 0x50.
 */
import type { KernelCore } from "../../core/core.ts";
import type { PfnDatabase } from "./pfn.ts";

/** KIRQL values (wdm.h): PASSIVE_LEVEL 0, APC_LEVEL 1, DISPATCH_LEVEL 2. */
export const enum Irql {
  PASSIVE = 0,
  APC = 1,
  DISPATCH = 2,
}
export const IRQL_NAMES = ["PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL"];

/** Bug check codes (bugcodes.h). */
export const IRQL_NOT_LESS_OR_EQUAL = 0xa;
export const PAGE_FAULT_IN_NONPAGED_AREA = 0x50;

/** KeBugCheckEx's code and four parameters. */
export interface BugCheck {
  code: number;
  params: [bigint, bigint, bigint, bigint];
}

/** Pages of KVA per pool. */
export const POOL_PAGES = 1024;

/** A region page's use. */
export const enum PoolPage {
  None = 0,
  /** a page of small blocks */
  Blocks = 1,
  /** part of a whole-page allocation */
  Large = 2,
}

export class Pool {
  /** first vpn of the pool's KVA; -1 until first used */
  startVpn = -1;
  readonly use = new Uint8Array(POOL_PAGES);
  /** the used blocks of each small-block page (by page index) */
  readonly blocks = new Map<number, Uint8Array>();
  /** pages the pool holds (Pool Paged/Nonpaged pages) */
  pages = 0;
  /** bytes allocated, headers and rounding included (Pool Paged/Nonpaged Bytes) */
  bytes = 0;

  constructor(readonly paged: boolean) {}

  contains(vpn: number): boolean {
    return this.startVpn >= 0 && vpn >= this.startVpn && vpn < this.startVpn + POOL_PAGES;
  }
}

/**
 * The pool tagging table (PoolTrackTable; Windows Internals 7th ed., Part
 * 1, ch. 5 "Monitoring pool usage"): per four-byte tag and pool, the
 * allocations and frees made and the bytes outstanding (the blocks' sizes,
 * headers included; whole pages for a large allocation), what `!poolused`
 * and poolmon read. ExAllocatePool without a tag tags 'None'.
 */
export class PoolTracker {
  readonly rows = new Map<string, PoolTrack>();

  record(tag: string, paged: boolean, bytes: number, alloc: boolean): void {
    let r = this.rows.get(tag);
    if (r === undefined) {
      r = { tag, nonpaged: { allocs: 0, frees: 0, bytes: 0 }, paged: { allocs: 0, frees: 0, bytes: 0 } };
      this.rows.set(tag, r);
    }
    const c = paged ? r.paged : r.nonpaged;
    if (alloc) {
      c.allocs++;
      c.bytes += bytes;
    } else {
      c.frees++;
      c.bytes -= bytes;
    }
  }
}

/** One tag's counts (POOL_TRACKER_TABLE: NonPagedAllocs, NonPagedFrees, NonPagedBytes and the paged three). */
export interface PoolTrack {
  tag: string;
  nonpaged: { allocs: number; frees: number; bytes: number };
  paged: { allocs: number; frees: number; bytes: number };
}

/** The tag ExAllocatePool (no tag) uses. */
export const NO_TAG = "None";

/** One live allocation (what ExFreePoolWithTag needs). */
export interface PoolBlock {
  /** the four-byte pool tag */
  tag: string;
  pool: Pool;
  /** page index in the pool */
  page: number;
  /** small: first block and how many; large: pages */
  first: number;
  count: number;
  large: boolean;
}

/** The pool block size (and POOL_HEADER's size): 16 bytes on x64, 8 on x86 (with or without PAE). */
export function poolBlockSize(k: KernelCore): number {
  return k.arch.pgtable.levels >= 4 ? 16 : 8;
}

/** What the pools need from the rest of the profile. */
export interface PoolHost {
  readonly k: KernelCore;
  readonly db: PfnDatabase;
  /** a new pool page's frame, mapped at vpn and charged (false: no memory or commit) */
  addPage(pool: Pool, vpn: number): boolean;
  /** a pool page given back: its frame or paging-file copy, its PTE, its charge */
  removePage(pool: Pool, vpn: number): void;
  /** makes a pool page resident (a fault at the current IRQL, which is below DISPATCH_LEVEL) */
  touch(vpn: number): void;
  /** the live allocations, by address (hex) */
  readonly live: Map<string, PoolBlock>;
  /** the pool tagging table */
  readonly tracker: PoolTracker;
}

/**
 * ExAllocatePoolWithTag: the address, or 0n (NULL: no memory, no KVA or the
 * commit limit).
 */
export function poolAlloc(h: PoolHost, pool: Pool, size: number, tag = NO_TAG): bigint {
  const bs = poolBlockSize(h.k);
  if (pool.startVpn < 0) {
    pool.startVpn = h.k.vm.reserve(POOL_PAGES);
    if (pool.startVpn < 0) return 0n;
  }
  if (size > 4096 - bs) {
    // MiAllocatePoolPages: whole pages, page aligned, first fit in the pool's range
    const n = Math.ceil(size / 4096);
    const first = findPages(pool, n);
    if (first < 0) return 0n;
    for (let i = 0; i < n; i++) {
      if (!h.addPage(pool, pool.startVpn + first + i)) {
        for (let j = 0; j < i; j++) {
          h.removePage(pool, pool.startVpn + first + j);
          pool.use[first + j] = PoolPage.None;
        }
        return 0n;
      }
      pool.use[first + i] = PoolPage.Large;
    }
    pool.bytes += n * 4096;
    const va = h.k.va.canonical(pool.startVpn + first);
    h.live.set(key(va), { tag, pool, page: first, first: 0, count: n, large: true });
    h.tracker.record(tag, pool.paged, n * 4096, true);
    return va;
  }
  // a small block: the header, then the caller's bytes, rounded up to the block size
  const need = Math.ceil((size + bs) / bs);
  const per = 4096 / bs;
  for (const [page, used] of pool.blocks) {
    const at = findBlocks(used, need);
    if (at < 0) continue;
    h.touch(pool.startVpn + page); // the allocator writes the header: the page must be resident
    return takeBlocks(h, pool, page, used, at, need, bs, tag);
  }
  const page = findPages(pool, 1);
  if (page < 0 || !h.addPage(pool, pool.startVpn + page)) return 0n;
  pool.use[page] = PoolPage.Blocks;
  const used = new Uint8Array(per);
  pool.blocks.set(page, used);
  return takeBlocks(h, pool, page, used, 0, need, bs, tag);
}

function takeBlocks(
  h: PoolHost,
  pool: Pool,
  page: number,
  used: Uint8Array,
  at: number,
  need: number,
  bs: number,
  tag: string,
): bigint {
  used.fill(1, at, at + need);
  pool.bytes += need * bs;
  const va = h.k.va.canonical(pool.startVpn + page) + BigInt(at * bs + bs);
  h.live.set(key(va), { tag, pool, page, first: at, count: need, large: false });
  h.tracker.record(tag, pool.paged, need * bs, true);
  return va;
}

/** ExFreePoolWithTag: null, or what is wrong with the address (Windows would bug check BAD_POOL_CALLER). */
export function poolFree(h: PoolHost, va: bigint): string | null {
  const b = h.live.get(key(va));
  if (b === undefined) return `0x${va.toString(16)} is not the address of a live pool allocation`;
  h.live.delete(key(va));
  const pool = b.pool;
  const bs = poolBlockSize(h.k);
  h.tracker.record(b.tag, pool.paged, b.large ? b.count * 4096 : b.count * bs, false);
  if (b.large) {
    for (let i = 0; i < b.count; i++) {
      h.removePage(pool, pool.startVpn + b.page + i);
      pool.use[b.page + i] = PoolPage.None;
    }
    pool.bytes -= b.count * 4096;
    return null;
  }
  const used = pool.blocks.get(b.page)!;
  used.fill(0, b.first, b.first + b.count);
  pool.bytes -= b.count * bs;
  if (used.indexOf(1) < 0) {
    // the page's last block: the page goes back
    pool.blocks.delete(b.page);
    h.removePage(pool, pool.startVpn + b.page);
    pool.use[b.page] = PoolPage.None;
  }
  return null;
}

/** The allocation an address is inside (its pool and whether it is live). */
export function poolOf(pools: Pool[], vpn: number): Pool | null {
  for (const p of pools) if (p.contains(vpn)) return p;
  return null;
}

function key(va: bigint): string {
  return va.toString(16);
}

function findPages(pool: Pool, n: number): number {
  let run = 0;
  for (let i = 0; i < POOL_PAGES; i++) {
    run = pool.use[i] === PoolPage.None ? run + 1 : 0;
    if (run === n) return i - n + 1;
  }
  return -1;
}

function findBlocks(used: Uint8Array, need: number): number {
  let run = 0;
  for (let i = 0; i < used.length; i++) {
    run = used[i] === 0 ? run + 1 : 0;
    if (run === need) return i - need + 1;
  }
  return -1;
}
