/**
 * Machine mode of trace replay (issue #6): every access of a trace goes
 * through the machine's real MMU (hw/mmu/Mmu.ts: the TLB hierarchy, the
 * page walk over page tables stored in simulated physical memory, the
 * rights check) in one user address space, and page faults are handled by
 * a demand pager with a fixed number of data frames.
 *
 * The pager follows the model of the C reference simulator
 * (../shared/bench/README.md), so that with `--policy clock --tlb
 * 64x4,1536x12` the counters are equal to vmref's count for count:
 * - data frames 0..N-1 are handed out in order, page-table frames come
 *   after them and do not count against N;
 * - a fault on a page that never left memory is a first touch (demand
 *   zero), one on a page that has a swap slot (the pager's swap map, by
 *   page number) a swap-in, whose slot goes back to the free slots (a LIFO
 *   stack, else the next new slot);
 * - the new PTE is present, writable, user, accessed and dirty: the pager
 *   tracks dirtiness per frame (any write since the frame was loaded), so
 *   the MMU never needs a dirty-bit assist walk;
 * - every access that translates to a frame sets the frame's reference
 *   bit (vmref's CLOCK sees TLB hits too), as does the allocation;
 * - an evicted page's entry is cleared (the mapper's clearAt, at the
 *   address mapAt gave) and its address invalidated (the architecture's
 *   flushPage: INVLPG on x86, both TLB levels); every eviction is a swap-out.
 * The faulting instruction is retried after the fault, as on real
 * hardware; the retry's TLB misses and walk are counted apart
 * (`retries`) so that `walks` counts the walks the model asks for.
 * The pager's side of a fault is resolved where the faulting walk stopped
 * (PageTableMapper.mapAt), and a retry whose every effect is known is done
 * without its lookups and walk (translate): host shortcuts, the figures
 * those of the full path (`shortcuts: false`; property tests).
 *
 * Hot path: numbers and typed arrays only; no allocation per access.
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { pfnUnchecked } from "../../base/units.ts";
import { Access } from "../../hw/access.ts";
import { hwArch } from "../../hw/arch/index.ts";
import { CacheSystem } from "../../hw/cache/CacheSystem.ts";
import type { DataCache } from "../../hw/cache/DataCache.ts";
import { BumpFrames } from "../../hw/mmu/Mapper.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import type { TlbArray } from "../../hw/mmu/TlbArray.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import { ClockHand } from "../clockHand.ts";
import { LruList } from "../lruList.ts";
import { PageMap } from "../pageMap.ts";
import { forgetMemos, HIT_CHUNK, HitLoop, l2Hit, recordTotals, wasmByDefault } from "./hitLoop.ts";
import {
  type CostModel,
  DEFAULT_COST,
  estimatedCycles,
  MACHINE_ARCHES,
  MACHINE_POLICIES,
  type MachineModeConfig,
  type MachineModeResult,
} from "./machineModeResult.ts";
import { PagerTables, pathsOfTwo } from "./pagerTables.ts";

export type {
  CostModel,
  MachineArch,
  MachineModeConfig,
  MachineModeResult,
  MachinePolicy,
} from "./machineModeResult.ts";
export { DEFAULT_COST, MACHINE_ARCHES, MACHINE_POLICIES } from "./machineModeResult.ts";

const TWO32 = 4294967296;

export class MachineMode {
  readonly cpu: Mmu;
  /** the pager's page tables: map, clear, the retry (pagerTables.ts) */
  private readonly pt: PagerTables;
  /** frames of the page size (4K frames, or 2M frames) */
  private readonly n: number;
  /** log2 of 4K pages per page: 0 or 9; and 4K pages per page, 2 ** shift (no pow per fault) */
  private readonly shift: number;
  private readonly span: number;
  /** the page-table level of the leaf: 0 (PTE) or 1 (PMD) */
  private readonly leafLevel: number;
  private readonly dataOnly: boolean;
  private readonly policy: number;
  private readonly rng: Rng;
  /**
   * The front entry of each set of the first-level 4K arrays (data, and
   * fetches when they have their own), as the last translation into that set
   * left it: a lookup of that page finds it first in its set and changes
   * nothing, so it is counted as the L1 hit it is without redoing it. Every
   * PTE the pager makes has the same rights (P, RW, US, A, D, no XD), so the
   * outcome does not depend on the kind of access. Only for 4 KiB pages.
   */
  private memo: boolean;
  private readonly memoKeysD: Float64Array;
  private readonly memoPfnsD: Int32Array;
  private readonly memoKeysI: Float64Array;
  private readonly memoPfnsI: Int32Array;
  private readonly memoMaskD: number;
  private readonly memoMaskI: number;
  /**
   * feed's memo for a unified first level (fetches and data in one 4K
   * array) without dataOnly or LRU: the front page of each set as its two
   * words, the record's page bits (lo >>> 14) and its high word, so that
   * the common case compares integers and makes no float (feedUnified).
   */
  private readonly unified: boolean;
  private readonly memoLo: Int32Array;
  private readonly memoHi: Int32Array;
  /** the same for fetches, in feedRuns with a split first level (else the data tables) */
  private readonly memoLoI: Int32Array;
  private readonly memoHiI: Int32Array;
  /**
   * The first-level 4K arrays themselves (when memo): a run whose page is in
   * its set but not at the front is looked up there directly (TlbArray.lookup
   * moves it to the front, as Mmu.translateVpn's first probe does), which is
   * all a hit there does when the rights are the pager's and nothing traces.
   */
  private readonly l1D: TlbArray | null;
  private readonly l1I: TlbArray | null;
  /** the second level, when it is one array holding 4K pages (l2Hit), else null */
  private readonly l2D: TlbArray | null;
  private readonly l2I: TlbArray | null;
  /** each side's TLB path is its first-level 4K array and l2D (l2I) alone: the hit loop probes all of it */
  private readonly pathsProbed: boolean;
  readonly cost: CostModel;
  /** the data cache (--cache), or null */
  private readonly dcache: DataCache | null;
  private readonly phys: PhysMem;
  /** per frame: the vpn it holds, its reference bit, its dirty flag */
  private readonly owner: Float64Array;
  private readonly ref: Uint8Array;
  private readonly dirty: Uint8Array;
  /** the page (4K page number) of the last fault, and of the last eviction (feedRunsWasm sets -1 before a miss) */
  private faultVpn = 0;
  private gone = -1;
  /** the frame of the last fault, and the reference bits its CLOCK scan cleared (feedRunsWasm sets 0) */
  private faultFrame = 0;
  private cleared = 0;
  /** feedRuns' hit loop in WebAssembly, or null (hitLoop.ts) */
  private readonly hits: HitLoop | null;
  /** LRU: the frames in recency order */
  private readonly lru: LruList;
  private used = 0;
  private readonly hand: ClockHand;
  // swap map: a LIFO stack of free slots, else the next new slot
  private freeSlots: number[] = [];
  /** the swap slot of each page that left memory (the demand pager's swap map, by page number) */
  private readonly slotOf = new PageMap();
  private nextSlot = 0;
  private inUse = 0;
  // counters
  private records = 0;
  private skipped = 0;
  private readonly kindCounts = new Float64Array(4);
  private firstTouch = 0;
  private swapIns = 0;
  private evictions = 0;
  private dirtyEvictions = 0;
  private swapMax = 0;
  private retries = 0;
  private pfnSum = 0n;

  constructor(cfg: MachineModeConfig) {
    const n = cfg.frames;
    if (!Number.isInteger(n) || n < 1) throw new InputError(`--frames must be a positive integer, not ${n}`);
    if (n > 1 << 26)
      throw new InputError(`--frames ${n} is more than vmlab simulates (67,108,864 = 256 GiB)`);
    this.policy = MACHINE_POLICIES.indexOf(cfg.policy);
    if (this.policy < 0)
      throw new InputError(`machine mode has no policy '${cfg.policy}' (${MACHINE_POLICIES.join(", ")})`);
    this.shift = cfg.pageSize === "2m" ? 9 : 0;
    this.span = 2 ** this.shift;
    this.leafLevel = this.shift === 9 ? 1 : 0;
    this.n = n >> this.shift;
    if (this.n < 1) throw new InputError(`--frames ${n} is less than one 2 MiB page (512 frames)`);
    const arch = hwArch(cfg.arch ?? "x86_64", MACHINE_ARCHES);
    this.dataOnly = cfg.dataOnly ?? false;
    this.rng = new Rng(cfg.seed ?? 1);
    this.cost = { ...DEFAULT_COST, ...cfg.cost };
    // data frames 0..N-1, then up to 2^20 page-table frames (memory is materialised on first use)
    const tableFrames = 1 << 20;
    const dataFrames = this.n << this.shift;
    const m = arch.machine({ ramBytes: (dataFrames + tableFrames) * 4096, tlb: cfg.tlb });
    this.cpu = m.cpus[0];
    this.phys = m.phys;
    this.dcache = cfg.cache ? CacheSystem.install(cfg.cache, m.phys, m.cpus).caches[0] : null;
    const tables = new BumpFrames(dataFrames, dataFrames + tableFrames);
    const learn = cfg.shortcuts !== false && this.shift === 0 && this.dcache === null;
    this.pt = new PagerTables(this.cpu, arch.mapper(m.phys, tables), tables, this.n, this.leafLevel, learn);
    this.cpu.loadUserRoot(this.pt.root, 0);
    this.cpu.setUserMode(true);
    const tlb = this.cpu.tlb;
    const l1d = tlb.dataPath[0]?.find((a) => (a.sizeMask & 1) !== 0);
    const l1i = tlb.instrPath[0]?.find((a) => (a.sizeMask & 1) !== 0);
    this.memo = l1d !== undefined && l1i !== undefined && this.shift === 0;
    const setsD = l1d ? l1d.entries / l1d.ways : 1;
    const setsI = l1i ? l1i.entries / l1i.ways : 1;
    // the set index is taken from the record's low word: up to 2^18 sets
    if (setsD > 1 << 18 || setsI > 1 << 18) this.memo = false;
    if (this.dcache !== null) this.memo = false; // every access reaches the cache
    if (cfg.shortcuts === false) this.memo = false;
    // the state the WebAssembly hit loop shares lives in its memory (hitLoop.ts)
    const second = (path: TlbArray[][]) =>
      path.length >= 2 && path[1].length === 1 && (path[1][0].sizeMask & 1) !== 0 ? path[1][0] : null;
    this.l2D = this.memo ? second(tlb.dataPath) : null;
    this.l2I = this.memo ? second(tlb.instrPath) : null;
    this.pathsProbed = pathsOfTwo(tlb, l1d, l1i, this.l2D, this.l2I);
    const hits =
      this.memo && this.policy !== 2 && (cfg.wasm ?? wasmByDefault())
        ? new HitLoop(l1d!, l1i!, this.l2D, this.l2I, this.n, this.dataOnly, cfg.shared)
        : null;
    this.hits = hits;
    this.memoKeysD = new Float64Array(setsD).fill(-1);
    this.memoPfnsD = hits?.memoPfnD ?? new Int32Array(setsD);
    // a unified first level: fetches share the data tables
    this.memoKeysI = l1i === l1d ? this.memoKeysD : new Float64Array(setsI).fill(-1);
    this.memoPfnsI = l1i === l1d ? this.memoPfnsD : (hits?.memoPfnI ?? new Int32Array(setsI));
    this.memoMaskD = setsD - 1;
    this.memoMaskI = setsI - 1;
    this.l1D = l1d ?? null;
    this.l1I = l1i ?? null;
    this.unified = this.memo && l1i === l1d && !this.dataOnly && this.policy !== 2;
    this.memoLo = hits?.memoLoD ?? new Int32Array(setsD).fill(-1);
    this.memoHi = hits?.memoHiD ?? new Int32Array(setsD).fill(-1);
    this.memoLoI = l1i === l1d ? this.memoLo : (hits?.memoLoI ?? new Int32Array(setsI).fill(-1));
    this.memoHiI = l1i === l1d ? this.memoHi : (hits?.memoHiI ?? new Int32Array(setsI).fill(-1));
    this.owner = new Float64Array(this.n);
    this.ref = hits?.ref ?? new Uint8Array(this.n);
    this.dirty = hits?.dirty ?? new Uint8Array(this.n);
    this.hand = new ClockHand(this.n);
    this.lru = new LruList(this.policy === 2 ? this.n : 0);
  }

  /** Replays `count` records (pairs of 32-bit words, low first) through the MMU. */
  feed(words: Uint32Array, count: number): void {
    const cpu = this.cpu;
    if (this.unified && cpu.tracer === null && cpu.observer === null) {
      this.feedUnified(words, count);
      return;
    }
    // (this path keeps its own memo)
    this.memoLo.fill(-1);
    this.memoLoI.fill(-1);
    const ref = this.ref;
    const dirty = this.dirty;
    const lru = this.policy === 2;
    const dataOnly = this.dataOnly;
    const memo = this.memo;
    const shift = this.shift;
    const kinds = this.kindCounts;
    let pfnSum = 0;
    let offSum = 0;
    let skipped = 0;
    let repeats = 0;
    const keysD = this.memoKeysD;
    const pfnsD = this.memoPfnsD;
    const keysI = this.memoKeysI;
    const pfnsI = this.memoPfnsI;
    const maskD = this.memoMaskD;
    const maskI = this.memoMaskI;
    // a unified first level: one table, and no branch on the kind of access in the common path
    const split = keysI !== keysD;
    // as in feedRuns: a hit past the set's front looked up in the first-level 4K array directly
    const direct = memo && cpu.tracer === null && cpu.observer === null;
    const arrD = this.l1D!;
    const arrI = this.l1I!;
    const asid = cpu.asid;
    // The records are decoded here by hand, as workloads/trace/record.ts lays them out (the
    // analysis layer may not import it): kind lo & 3, page hi * 2^18 + (lo >>> 14), address
    // (hi:lo) >> 2, offset (lo >>> 2) & 4095. Keep in sync with record.ts (record.test.ts checks).
    for (let i = 0; i < count; i++) {
      const lo = words[2 * i];
      const hi = words[2 * i + 1];
      const kind = lo & 3;
      if (dataOnly && kind === 0) {
        skipped++;
        continue;
      }
      kinds[kind]++;
      // record = vaddr << 2 | kind: the page is (hi:lo) >> 14, the low bits of the set index are lo's
      const vpn = hi * 262144 + (lo >>> 14);
      const fetch = split && kind === 0;
      const set = (lo >>> 14) & (fetch ? maskI : maskD);
      const keys = fetch ? keysI : keysD;
      let pfn: number;
      if (memo && keys[set] === vpn) {
        repeats++;
        pfn = (fetch ? pfnsI : pfnsD)[set];
      } else {
        const arr = fetch ? arrI : arrD;
        const slot = direct ? arr.lookup(vpn, asid) : -1;
        if (slot >= 0) {
          repeats++;
          pfn = arr.pfns[slot] | 0;
        } else {
          // vaddr = (hi:lo) >> 2
          const vaLo = ((lo >>> 2) | (hi << 30)) >>> 0;
          const vaHi = hi >>> 2;
          pfn = this.translate(vaHi, vaLo, kind);
        }
        keys[set] = vpn;
        (fetch ? pfnsI : pfnsD)[set] = pfn;
      }
      const frame = pfn >> shift;
      ref[frame] = 1;
      dirty[frame] |= kind >> 1; // stores and modifies (kinds 2 and 3) dirty the frame
      if (lru) this.lru.touch(frame);
      pfnSum += pfn;
      offSum += (lo >>> 2) & 4095;
    }
    // the repeated hits, counted as the MMU counts an L1 hit
    cpu.translations += repeats;
    cpu.tlb.hits[0] += repeats;
    this.records += count;
    this.skipped += skipped;
    // exact: count <= 65536 records, frames < 2^26, offsets < 2^12
    this.pfnSum += BigInt(pfnSum) * 4096n + BigInt(offSum);
  }

  /**
   * feed for the common configuration (unified first level, no dataOnly, no
   * LRU, nothing tracing): the same figures, in one pass that does on a hit
   * on its set's front entry only what the hit changes. On such a hit the
   * frame's reference bit is already set (the memo is emptied at every
   * fault, and only a fault's victim scan clears reference bits), so only a
   * write's dirty flag is stored. The kinds are counted from three sums
   * (kind & 1, kind >> 1, kind === 3) rather than by index.
   */
  private feedUnified(words: Uint32Array, count: number): void {
    if (count > 1 << 20) {
      // the sums below stay exact for 2^20 records at a time
      for (let at = 0; at < count; at += 1 << 20)
        this.feedUnified(words.subarray(2 * at), Math.min(1 << 20, count - at));
      return;
    }
    const cpu = this.cpu;
    const ref = this.ref;
    const dirty = this.dirty;
    const memoLo = this.memoLo;
    const memoHi = this.memoHi;
    const memoPfn = this.memoPfnsD;
    const mask = this.memoMaskD;
    const arr = this.l1D!;
    const asid = cpu.asid;
    this.memoKeysD.fill(-1); // feed's memo: this path keeps its own (shared with feedRuns)
    let pfnSum = 0;
    let offSum = 0;
    let repeats = 0;
    let odd = 0; // kinds 1 and 3
    let high = 0; // kinds 2 and 3
    let modifies = 0; // kind 3
    // record.ts's layout by hand (see feed): page bits lo >>> 14 below hi, kind lo & 3
    for (let i = 0; i < count; i++) {
      const lo = words[2 * i];
      const hi = words[2 * i + 1] | 0;
      const p = lo >>> 14;
      const set = p & mask;
      const k = lo & 3;
      odd += k & 1;
      high += k >> 1;
      modifies += (k + 1) >> 2;
      offSum += (lo >>> 2) & 4095;
      let pfn: number;
      if (memoLo[set] === p && memoHi[set] === hi) {
        repeats++;
        pfn = memoPfn[set];
        if (k >= 2) dirty[pfn] = 1;
      } else {
        const vpn = hi * 262144 + p;
        const slot = arr.lookup(vpn, asid);
        if (slot >= 0) {
          repeats++;
          pfn = arr.pfns[slot] | 0;
        } else {
          pfn = l2Hit(this.cpu, vpn, arr, this.l2D);
          if (pfn < 0) pfn = this.translate(hi >>> 2, ((lo >>> 2) | (hi << 30)) >>> 0, k);
        }
        memoLo[set] = p;
        memoHi[set] = hi;
        memoPfn[set] = pfn;
        ref[pfn] = 1;
        dirty[pfn] |= k >> 1;
      }
      pfnSum += pfn;
    }
    cpu.translations += repeats;
    cpu.tlb.hits[0] += repeats;
    const kinds = this.kindCounts;
    kinds[0] += count - odd - high + modifies;
    kinds[1] += odd - modifies;
    kinds[2] += high - modifies;
    kinds[3] += modifies;
    this.records += count;
    // exact: count <= 2^20 records (above), frames < 2^26, offsets < 2^12
    this.pfnSum += BigInt(pfnSum) * 4096n + BigInt(offSum);
  }

  /**
   * feed through the WebAssembly hit loop, each record a run of one (only when takesRecords: the loop,
   * nothing tracing), `totals` those of all `count` (RUN_TOTALS); stops before a record that is not one
   * (high word at or above 2^17). Returns the records taken. The same figures as feed and feedRuns.
   */
  feedRecords(words: Uint32Array, count: number, totals: Float64Array): number {
    if (!this.takesRecords) throw new Error("machine mode: feedRecords needs the WebAssembly hit loop");
    return this.feedRunsWasm(words, count, totals, true);
  }

  get takesRecords(): boolean {
    return this.hits !== null && this.cpu.tracer === null && this.cpu.observer === null;
  }

  /** Whether feedRuns can be used: 4 KiB pages, and first-level 4K arrays for data and fetches. */
  get takesRuns(): boolean {
    return this.memo;
  }

  /**
   * Replays `count` runs (see workloads/trace/runs.ts) whose records' totals
   * are `totals`: each run's first record goes through the MMU as in feed;
   * the rest of the run are hits on the front entry of its first-level set
   * (the first record left its page there, and nothing came between),
   * counted without being redone. Gives the same figures as feed on the
   * records the runs were folded from: a property test holds it to that.
   */
  feedRuns(runs: Uint32Array, count: number, totals: Float64Array): void {
    if (!this.memo) throw new Error("machine mode: runs need first-level 4K TLB arrays (use feed)");
    if (this.hits !== null && this.cpu.tracer === null && this.cpu.observer === null) {
      this.feedRunsWasm(runs, count, totals, false);
      return;
    }
    this.memoKeysD.fill(-1); // feed's memo: this path keeps its own (memoLo, memoHi)
    this.memoKeysI.fill(-1);
    const cpu = this.cpu;
    const ref = this.ref;
    const dirty = this.dirty;
    const lru = this.policy === 2;
    const dataOnly = this.dataOnly;
    let pfnSum = 0;
    let repeats = 0;
    const loD = this.memoLo;
    const hiD = this.memoHi;
    const pfnsD = this.memoPfnsD;
    const loI = this.memoLoI;
    const hiI = this.memoHiI;
    const pfnsI = this.memoPfnsI;
    const maskD = this.memoMaskD;
    const maskI = this.memoMaskI;
    const split = loI !== loD;
    // a hit in a first-level 4K array, past its set's front: as Mmu.translateVpn's first probe
    // (the pager's PTEs allow every access at CPL 3; no cache, tracer or observer to tell)
    const direct = cpu.tracer === null && cpu.observer === null;
    const arrD = this.l1D!;
    const arrI = this.l1I!;
    const asid = cpu.asid;
    // Runs decoded by hand, as workloads/trace/runs.ts lays them out (high word bits 0..16, count
    // minus one in bits 17..30, a write in bit 31), their first records' low words as
    // workloads/trace/record.ts does (see feed). Keep in sync with both (record.test.ts checks).
    // A run on its set's front page (the memo, kept as two integers: lo >>> 14 and the high word)
    // changes only counters and, for a write, the frame's dirty flag: its reference bit is set
    // already (the memo is emptied at every fault, and only a fault's victim scan clears one).
    for (let i = 0; i < count; i++) {
      const lo = runs[2 * i];
      const w = runs[2 * i + 1];
      const hi = w & 0x1ffff;
      const len = ((w >>> 17) & 0x3fff) + 1;
      const kind = lo & 3;
      if (dataOnly && kind === 0) continue;
      const p = lo >>> 14;
      const fetch = split && kind === 0;
      const set = p & (fetch ? maskI : maskD);
      const los = fetch ? loI : loD;
      const his = fetch ? hiI : hiD;
      let pfn: number;
      if (los[set] === p && his[set] === hi) {
        repeats += len;
        pfn = (fetch ? pfnsI : pfnsD)[set];
        if (w >= 0x80000000) dirty[pfn] = 1;
      } else {
        const vpn = hi * 262144 + p;
        const arr = fetch ? arrI : arrD;
        const slot = direct ? arr.lookup(vpn, asid) : -1;
        if (slot >= 0) {
          repeats += len;
          pfn = arr.pfns[slot] | 0;
        } else {
          repeats += len - 1;
          pfn = direct ? l2Hit(this.cpu, vpn, arr, fetch ? this.l2I : this.l2D) : -1;
          if (pfn < 0) pfn = this.translate(hi >>> 2, ((lo >>> 2) | (hi << 30)) >>> 0, kind);
        }
        los[set] = p;
        his[set] = hi;
        (fetch ? pfnsI : pfnsD)[set] = pfn;
        ref[pfn] = 1;
        dirty[pfn] |= w >>> 31;
      }
      if (lru) this.lru.touch(pfn);
      pfnSum += pfn * len;
      if (pfnSum >= 2 ** 52) {
        // exact: a run adds less than 2^40 (frames < 2^26, 16384 records)
        this.pfnSum += BigInt(pfnSum) * 4096n;
        pfnSum = 0;
      }
    }
    cpu.translations += repeats;
    cpu.tlb.hits[0] += repeats;
    const kinds = this.kindCounts;
    kinds[1] += totals[1];
    kinds[2] += totals[2];
    kinds[3] += totals[3];
    let offSum = totals[4];
    if (dataOnly) this.skipped += totals[0];
    else {
      kinds[0] += totals[0];
      offSum += totals[5];
    }
    this.records += totals[6];
    this.pfnSum += BigInt(pfnSum) * 4096n + BigInt(offSum);
  }

  /**
   * feedRuns with its common path in WebAssembly (hitLoop.ts): the runs go
   * to the module's memory HIT_CHUNK at a time and it takes them while they
   * hit the first level; a run that misses it is done here as feedRuns does
   * (the second level directly, else Mmu.translate and the pager), and the
   * module goes on from the next run. The same figures as feedRuns in
   * JavaScript: a property test holds the two equal. `records`: records,
   * each a run of one (feedRecords), up to one that is not; the records taken.
   */
  private feedRunsWasm(runs: Uint32Array, count: number, totals: Float64Array, records: boolean): number {
    const hits = this.hits!;
    this.memoKeysD.fill(-1); // feed's memo: this path keeps its own (memoLo, memoHi)
    this.memoKeysI.fill(-1);
    hits.forgetSecond(); // (the other paths change the first level without the module's memo of way 1)
    const asid = this.cpu.asid;
    let pfnSum = 0;
    let repeats = 0;
    let taken = count;
    for (let at = 0; at < count && taken === count; at += HIT_CHUNK) {
      const n = Math.min(HIT_CHUNK, count - at);
      const src = hits.place(runs, at, n); // (the words where they are, when in the module's memory)
      // (runs.ts's layout and record.ts's low word by hand, as in feedRuns)
      for (let i = 0; i < n; i++) {
        i = records ? hits.takeRecords(src, i, n, asid) : hits.take(src, i, n, asid);
        hits.settle(this.cpu, this.l1D!, this.l1I!); // before anything else reads the TLB
        if (i === n) break;
        const lo = runs[2 * (at + i)];
        const w = runs[2 * (at + i) + 1];
        if (records && w >= 0x20000) {
          taken = at + i; // not a record: its address is at or beyond 2^47
          break;
        }
        const len = records ? 1 : ((w >>> 17) & 0x3fff) + 1;
        repeats += len - 1; // a first-level miss (the module's lookup changed nothing)
        const pfn = this.missWasm(lo, w, records);
        pfnSum += pfn * len;
        if (pfnSum >= 2 ** 52) {
          // exact: a run adds less than 2^40 (frames < 2^26, 16384 records)
          this.pfnSum += BigInt(pfnSum) * 4096n;
          pfnSum = 0;
        }
      }
      this.pfnSum += (BigInt(pfnSum) + hits.takeFrameSum()) * 4096n;
      pfnSum = 0;
    }
    repeats += hits.takeRepeats();
    this.cpu.translations += repeats;
    this.cpu.tlb.hits[0] += repeats;
    // the records before a bad one: their own totals
    if (taken < count) totals = recordTotals(runs, taken, hits.totals);
    const kinds = this.kindCounts;
    kinds[1] += totals[1];
    kinds[2] += totals[2];
    kinds[3] += totals[3];
    let offs = totals[4];
    if (this.dataOnly) this.skipped += totals[0];
    else {
      kinds[0] += totals[0];
      offs += totals[5];
    }
    this.records += totals[6];
    this.pfnSum += BigInt(offs);
    return taken;
  }

  /**
   * The run (record: `records`) of words lo, w that feedRunsWasm's call stopped at, a first-level miss:
   * its frame, through the second level or the walk and the pager (translate's steps, written out), the
   * memos of what JavaScript changed forgotten. Apart from feedRunsWasm, and with translate's body in it
   * above V8's size for inlining (max_inlined_bytecode_size, 460 bytes of bytecode): TurboFan then
   * compiles the fault path here once, not again in every compile (and OSR compile) of the loop's caller.
   */
  private missWasm(lo: number, w: number, records: boolean): number {
    const hits = this.hits!;
    const hi = w & 0x1ffff;
    const kind = lo & 3;
    const p = lo >>> 14;
    const fetch = this.memoLoI !== this.memoLo && kind === 0;
    const set = p & (fetch ? this.memoMaskI : this.memoMaskD);
    // a miss of the second level too, when the module says so
    const missed = hits.missedBoth() && this.pathsProbed;
    const cpu = this.cpu;
    let pfn = missed
      ? -1
      : l2Hit(cpu, hi * 262144 + p, fetch ? this.l1I! : this.l1D!, fetch ? this.l2I : this.l2D);
    this.gone = -1;
    this.cleared = 0;
    if (pfn < 0) {
      // translate(vaHi, vaLo, kind, missed ? 2 : 1)
      const vaHi = hi >>> 2;
      const vaLo = ((lo >>> 2) | (hi << 30)) >>> 0;
      const access = kind >= 2 ? Access.Write : kind === 0 ? Access.Exec : Access.Read;
      if ((missed ? this.pt.touchMissed(vaHi, vaLo, access) : cpu.touch(vaHi, vaLo, access)) === 0)
        pfn = (cpu.pa / 4096) | 0;
      else {
        const f = this.fault(vaHi, vaLo, access === Access.Write);
        this.retries++;
        pfn = this.pt.retry(vaHi, vaLo, access, this.faultVpn, f);
      }
    }
    // what JavaScript changed: the sets of the page (a fill) and of the evicted page (its INVLPG), and
    // the reference bits CLOCK cleared (a front hit would not set them again)
    hits.forgetSets(p, this.gone);
    if (this.cleared > 0) hits.forgetCleared(this.owner, this.faultFrame, this.cleared);
    (fetch ? this.memoLoI : this.memoLo)[set] = p;
    (fetch ? this.memoHiI : this.memoHi)[set] = hi;
    (fetch ? this.memoPfnsI : this.memoPfnsD)[set] = pfn;
    this.ref[pfn] = 1;
    this.dirty[pfn] |= records ? (lo >>> 1) & 1 : w >>> 31;
    return pfn;
  }

  /** One access through the MMU (a record of `kind`), with the fault handled and the access retried as hardware does; the frame. */
  private translate(vaHi: number, vaLo: number, kind: number): number {
    const cpu = this.cpu;
    const access = kind >= 2 ? Access.Write : kind === 0 ? Access.Exec : Access.Read;
    if (cpu.touch(vaHi, vaLo, access) === 0) return (cpu.pa / 4096) | 0;
    const f = this.fault(vaHi, vaLo, access === Access.Write);
    this.retries++;
    // the eviction's INVLPG may have taken a set's front entry
    forgetMemos(this.memoKeysD, this.memoKeysI, this.memoLo, this.memoLoI);
    return this.pt.retry(vaHi, vaLo, access, this.faultVpn, f);
  }

  /** The pager's side of a page fault (the faulting walk in cpu.walkRec); returns the frame. */
  private fault(vaHi: number, vaLo: number, write: boolean): number {
    const vpn = this.cpu.pageNumber(vaHi, vaLo);
    this.faultVpn = vpn;
    const page = this.shift === 0 ? vpn : vpn - (vpn % this.span);
    const slot = this.slotOf.take(page);
    if (slot < 0) this.firstTouch++;
    else {
      this.swapIns++;
      this.freeSlots.push(slot);
      this.inUse--;
    }
    let f: number;
    if (this.used < this.n) f = this.used++;
    else {
      f = this.victim();
      this.evict(f);
    }
    this.faultFrame = f;
    this.pt.map(f, page, f * this.span); // where the faulting walk stopped
    // the frame's new contents (zeroed, or read from swap) reach memory directly: lines of its old page go
    if (this.dcache !== null)
      for (let i = 0; i < this.span; i++) this.phys.frameWillBeWritten(pfnUnchecked(f * this.span + i));
    this.owner[f] = Math.floor(vpn / this.span);
    this.ref[f] = 1;
    this.dirty[f] = write ? 1 : 0;
    if (this.policy === 2) this.lru.linkHead(f);
    return f;
  }

  private victim(): number {
    switch (this.policy) {
      case 0: {
        const c = this.hand.refClears;
        const v = this.hand.clock(this.ref);
        this.cleared = this.hand.refClears - c; // the frames before v (HitLoop.forgetCleared)
        return v;
      }
      case 1:
        return this.hand.fifo();
      case 2:
        return this.lru.tail;
      default:
        return this.rng.below(this.n);
    }
  }

  /** The victim's page leaves for a swap slot: its entry is cleared, its TLB entries go. */
  private evict(f: number): void {
    const vpn = this.owner[f] * this.span;
    this.gone = vpn;
    const slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.nextSlot++;
    this.inUse++;
    if (this.inUse > this.swapMax) this.swapMax = this.inUse;
    this.slotOf.set(vpn, slot);
    // try_to_unmap_one: flush_cache_page before the entry is cleared (VIVT, VIPT with colours)
    if (this.dcache !== null)
      for (let i = 0; i < this.span; i++) this.dcache.flushUserPage(vpn + i, f * this.span + i, 0);
    this.pt.clear(f); // try_to_unmap_one's ptep_clear_flush (flushPage below)
    const va = vpn * this.cpu.pageSize;
    const vaHi = Math.floor(va / TWO32);
    this.cpu.flushPage(vaHi, va - vaHi * TWO32); // (no % on a double: an fmod call)
    // swap-out reads the page through the kernel's direct map (a coherent cache gives it the dirty lines)
    if (this.dcache !== null && this.dirty[f])
      for (let i = 0; i < this.span; i++) this.phys.frameWillBeRead(pfnUnchecked(f * this.span + i));
    this.evictions++;
    if (this.dirty[f]) this.dirtyEvictions++;
    if (this.policy === 2) this.lru.unlink(f);
  }

  /** Retries done without their lookups and walk (pagerTables.ts; tests). */
  get shortRetries(): number {
    return this.pt.shortRetries;
  }

  /** Page faults so far. */
  faultCount(): number {
    return this.firstTouch + this.swapIns;
  }

  result(): MachineModeResult {
    const tlb = this.cpu.tlb;
    const r = this.retries;
    const levels = tlb.levels.map((l, i) => ({ name: l.name, hits: tlb.hits[i], misses: tlb.misses[i] - r }));
    const walks = this.cpu.walks - r;
    const ptReads = this.cpu.walkRefs - this.pt.walkLevels * r; // a retry walks every level down to the leaf
    const simulated = this.records - this.skipped;
    const faults = this.firstTouch + this.swapIns;
    const c = this.cost;
    const dc = this.dcache;
    const l1 = levels[0]?.hits ?? 0;
    const l2 = levels.slice(1).reduce((a, l) => a + l.hits, 0);
    return {
      records: this.records,
      simulated,
      skipped_instr: this.skipped,
      instr: this.kindCounts[0],
      load: this.kindCounts[1],
      store: this.kindCounts[2],
      modify: this.kindCounts[3],
      levels,
      l1_hits: levels[0]?.hits ?? 0,
      l1_misses: levels[0]?.misses ?? simulated,
      l2_hits: levels[1]?.hits ?? 0,
      l2_misses: levels[1]?.misses ?? walks,
      walks,
      pt_reads: ptReads,
      pt_frames: this.pt.tables.next - (this.n << this.shift),
      faults,
      faults_first_touch: this.firstTouch,
      faults_swap_in: this.swapIns,
      evictions: this.evictions,
      dirty_evictions: this.dirtyEvictions,
      swap_outs: this.evictions,
      swap_max_in_use: this.swapMax,
      clock_ref_clears: this.hand.refClears,
      frames_used: this.used << this.shift,
      phys_sum: BigInt.asUintN(64, this.pfnSum).toString(),
      retries: r,
      cache:
        dc === null
          ? null
          : { hits: dc.hits, misses: dc.misses, writebacks: dc.writebacks, page_flushes: dc.pageFlushes },
      cycles: estimatedCycles(c, l1, l2, ptReads, this.firstTouch, this.swapIns, dc),
    };
  }
}
