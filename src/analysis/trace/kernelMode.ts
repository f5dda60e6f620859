/**
 * Machine mode with Linux's fault handling (`vmlab trace --pager linux`):
 * the trace is one process of the scenario kernel (src/kernel). Every access
 * goes through CPU 0's MMU at CPL 3 in that process's page tables; a page
 * fault is the kernel's do_user_addr_fault, so the zero page, copy-on-write
 * from it, the split LRU with the hardware's accessed bits, swap with its
 * swap cache and readahead, and the chosen reclaim policy all apply, exactly
 * as in scenarios. The program's address space is anonymous private memory:
 * the first touch of a 1 GiB region maps it (MAP_FIXED | MAP_NORESERVE,
 * read, write and execute). `frames` limits the pages user memory may hold
 * (a cgroup's memory.max); page tables and the kernel's memory are aside.
 */
import { InputError } from "../../base/errors.ts";
import { Access } from "../../hw/access.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import {
  Kernel,
  mmapArgs,
  RECLAIM_POLICIES,
  type ReclaimPolicy,
  type TaskHandle,
} from "../../kernel/Kernel.ts";

export interface KernelModeConfig {
  frames: number;
  tlb: string;
  policy: string;
  /** swap area size in bytes (default: 4 times the frames, at least 64 MiB) */
  swapBytes?: number;
  dataOnly?: boolean;
  seed?: number;
  /** transparent huge pages (thp=always): 2 MiB pages where a whole aligned 2 MiB is mapped */
  thp?: boolean;
  /** every access through the MMU, without the hit path's memo (the reference its tests compare with) */
  noMemo?: boolean;
}

export interface KernelModeResult {
  records: number;
  simulated: number;
  levels: { name: string; hits: number; misses: number }[];
  walks: number;
  /** page faults the task took (min_flt + maj_flt), as /proc/PID/stat counts them */
  faults: number;
  minorFaults: number;
  majorFaults: number;
  /** pages reclaimed (pgsteal), swapped out and in (pswpout, pswpin) */
  evictions: number;
  swapOuts: number;
  swapIns: number;
  pgscan: number;
  memcgReclaims: number;
  /** the VMAs mapped for the trace's address space */
  regions: number;
  rssPages: number;
  swapPages: number;
  oomKills: number;
  /** huge pages faulted in, faults that fell back to 4K (no block, or over the limit), huge pages split by reclaim */
  thpFaultAlloc: number;
  thpFaultFallback: number;
  thpSplitPage: number;
}

const REGION = 1 << 30;

/** The most frames `--pager linux` runs (48 GiB). */
export const MAX_KERNEL_PAGER_FRAMES = 12 << 20;

export class KernelMode {
  readonly kernel: Kernel;
  private readonly task: TaskHandle;
  private readonly cpu: Mmu;
  private readonly dataOnly: boolean;
  private records = 0;
  private skipped = 0;
  private regions = 0;
  /**
   * The hit path's memo, as machine mode's: for each set of the first-level
   * 4K TLB arrays, the page its last translation left at the set's front
   * (keys, -1: none) and the access kinds (bit 1 << Access) that succeeded
   * on that entry since. Another access of such a kind to that page would
   * hit that front entry and change nothing but the hit counters (its
   * rights allowed it; a write left the entry dirty), so it is counted
   * without the lookup. Any kernel entry (a fault, reclaim, a flush) clears
   * it. Off without first-level 4K arrays, and with huge pages.
   */
  private readonly memo: boolean;
  private readonly memoKeysD: Float64Array;
  private readonly memoKindsD: Uint8Array;
  private readonly memoKeysI: Float64Array;
  private readonly memoKindsI: Uint8Array;
  private readonly memoMaskD: number;
  private readonly memoMaskI: number;

  constructor(cfg: KernelModeConfig) {
    const n = cfg.frames;
    if (!Number.isInteger(n) || n < 16)
      throw new InputError(`--frames must be an integer of at least 16 for --pager linux, not ${n}`);
    // the machine holds the frames with a quarter more for page tables and the swap cache, and the
    // kernel's 64 MiB: within the 64G the kernel model boots
    if (n > MAX_KERNEL_PAGER_FRAMES)
      throw new InputError(
        `--frames ${n} is more than the kernel pager runs (12,582,912 = 48 GiB: the machine needs a quarter more, within the 64 GiB vmlab's kernel boots)`,
      );
    if (!(RECLAIM_POLICIES as readonly string[]).includes(cfg.policy))
      throw new InputError(`--pager linux policies: ${RECLAIM_POLICIES.join(", ")} (not '${cfg.policy}')`);
    // the default: four times the frames, at least 64M, at most the 64G of one swap area
    const swap = cfg.swapBytes ?? Math.min(2 ** 36, Math.max(64 << 20, n * 4096 * 4));
    // RAM: the limit's frames, room for page tables and the swap cache, and the kernel's own 64 MiB
    const ram = Math.ceil((n * 4096 * 1.25 + (64 << 20)) / (2 << 20)) * (2 << 20);
    this.kernel = new Kernel({
      ramBytes: ram,
      cpus: 1,
      tlb: cfg.tlb,
      swapBytes: Math.ceil(swap / 4096) * 4096,
      policy: cfg.policy as ReclaimPolicy,
      seed: cfg.seed ?? 1,
      overcommit: "always",
      userMemoryPages: n,
      thp: cfg.thp ? "always" : "never",
    });
    this.task = this.kernel.spawn("trace")!;
    // a touch outside every mapping is a caught SIGSEGV here: the driver maps the region and retries
    this.kernel.catchSignal(this.task, "SIGSEGV");
    this.kernel.switchTo(0, this.task);
    this.cpu = this.kernel.machine.cpus[0];
    this.dataOnly = cfg.dataOnly ?? false;
    const tlb = this.cpu.tlb;
    const l1d = tlb.dataPath[0]?.find((a) => (a.sizeMask & 1) !== 0);
    const l1i = tlb.instrPath[0]?.find((a) => (a.sizeMask & 1) !== 0);
    const setsD = l1d ? l1d.entries / l1d.ways : 1;
    const setsI = l1i ? l1i.entries / l1i.ways : 1;
    // the set index is taken from the record's low word: up to 2^18 sets
    this.memo =
      l1d !== undefined &&
      l1i !== undefined &&
      !cfg.thp &&
      !cfg.noMemo &&
      setsD <= 1 << 18 &&
      setsI <= 1 << 18;
    this.memoKeysD = new Float64Array(setsD).fill(-1);
    this.memoKindsD = new Uint8Array(setsD);
    // a unified first level: fetches share the data tables
    this.memoKeysI = l1i === l1d ? this.memoKeysD : new Float64Array(setsI).fill(-1);
    this.memoKindsI = l1i === l1d ? this.memoKindsD : new Uint8Array(setsI);
    this.memoMaskD = setsD - 1;
    this.memoMaskI = setsI - 1;
  }

  feed(words: Uint32Array, count: number): void {
    this.cpu.setUserMode(true);
    let repeats = 0;
    // records decoded by hand, as workloads/trace/record.ts lays them out (the analysis layer may
    // not import it): kind lo & 3, page hi * 2^18 + (lo >>> 14), address (hi:lo) >> 2. Keep in
    // sync (record.test.ts checks).
    for (let i = 0; i < count; i++) {
      const lo = words[2 * i];
      const kind = lo & 3;
      if (kind === 0 && this.dataOnly) {
        this.skipped++;
        continue;
      }
      const access = kind >= 2 ? Access.Write : kind === 0 ? Access.Exec : Access.Read;
      repeats += this.access(lo, words[2 * i + 1], access, this.records + i);
    }
    // the repeated hits, counted as the MMU counts a first-level hit
    this.cpu.translations += repeats;
    this.cpu.tlb.hits[0] += repeats;
    this.records += count;
  }

  /** Whether feedRuns can be used: the memo's first-level 4K TLB arrays, and 4 KiB pages. */
  get takesRuns(): boolean {
    return this.memo;
  }

  /**
   * Replays `count` runs of the reading thread (workloads/trace/runs.ts:
   * consecutive records on one page and one side) whose records' totals are
   * `totals`. A run's first record is an access as in feed; a run with a
   * store or modify whose first record is a load has one write access
   * next (nothing but hits on this page's front entry, which change
   * nothing, could come between it and the run's first write); the other
   * records are memo hits, counted. Same figures as feed on the records
   * the runs were folded from (a test holds it to that).
   */
  feedRuns(runs: Uint32Array, count: number, totals: Float64Array): void {
    if (!this.memo) throw new Error("--pager linux: runs need first-level 4K TLB arrays (use feed)");
    this.cpu.setUserMode(true);
    const dataOnly = this.dataOnly;
    let repeats = 0;
    let done = this.records; // records before the run, for an error's position
    // Runs decoded by hand, as workloads/trace/runs.ts lays them out (high word bits 0..16, count
    // minus one in bits 17..30, a write in bit 31), their first records' low words as
    // workloads/trace/record.ts does (see feed). Keep in sync with both (record.test.ts checks).
    for (let i = 0; i < count; i++) {
      const lo = runs[2 * i];
      const w = runs[2 * i + 1];
      const hi = w & 0x1ffff;
      const len = ((w >>> 17) & 0x3fff) + 1;
      const kind = lo & 3;
      done += len;
      if (kind === 0 && dataOnly) continue;
      const access = kind >= 2 ? Access.Write : kind === 0 ? Access.Exec : Access.Read;
      repeats += this.access(lo, hi, access, done - len);
      if (access === Access.Read && w >>> 31 !== 0) {
        repeats += this.access((lo & ~3) | 2, hi, Access.Write, done - len) + len - 2;
      } else repeats += len - 1;
    }
    this.cpu.translations += repeats;
    this.cpu.tlb.hits[0] += repeats;
    if (dataOnly) this.skipped += totals[0];
    this.records += totals[6];
  }

  /**
   * One access of a record (low word lo, high word hi; record number `at`):
   * 1 when the memo answers it (a repeated first-level hit, for the caller
   * to count), else 0 after the MMU (and, on a fault, the kernel) handled it.
   */
  private access(lo: number, hi: number, access: Access, at: number): number {
    const fetch = access === Access.Exec && this.memoKeysI !== this.memoKeysD;
    const set = (lo >>> 14) & (fetch ? this.memoMaskI : this.memoMaskD);
    const keys = fetch ? this.memoKeysI : this.memoKeysD;
    const kinds = fetch ? this.memoKindsI : this.memoKindsD;
    const vpn = hi * 262144 + (lo >>> 14);
    if (this.memo && keys[set] === vpn && (kinds[set] & (1 << access)) !== 0) return 1;
    const vaLo = ((lo >>> 2) | (hi << 30)) >>> 0;
    const vaHi = hi >>> 2;
    const cpu = this.cpu;
    if (cpu.touch(vaHi, vaLo, access) === 0) {
      if (keys[set] === vpn) kinds[set] |= 1 << access;
      else {
        keys[set] = vpn;
        kinds[set] = 1 << access;
      }
      return 0;
    }
    // the kernel's fault path (userAccess retries the translation after it); what it
    // changes (page tables, flushes, the accessed bits reclaim clears) voids the memo
    this.memoKeysD.fill(-1);
    this.memoKeysI.fill(-1);
    const k = this.kernel;
    const t = this.task;
    const va = BigInt(vaHi) * 4294967296n + BigInt(vaLo);
    let r = k.userAccess(0, t, va, access);
    if (!r.ok && r.signal === "SIGSEGV" && r.siCode === "SEGV_MAPERR") {
      this.mapRegion(va);
      r = k.userAccess(0, t, va, access);
    }
    cpu.setUserMode(true);
    if (!r.ok) {
      if (!t.alive) throw new InputError(`the traced process was killed (${t.exitReason}) at record ${at}`);
      throw new Error(`kernel pager: ${r.signal} (${r.siCode}) at 0x${va.toString(16)}`);
    }
    return 0;
  }

  /** The first touch of a 1 GiB region: an anonymous private mapping over it. */
  private mapRegion(va: bigint): void {
    const base = (va / BigInt(REGION)) * BigInt(REGION);
    const r = this.kernel.mmap(
      this.task,
      mmapArgs(REGION, {
        addr: Number(base),
        fixed: true,
        noreserve: true,
        prot: { r: true, w: true, x: true },
      }),
    );
    if (r < 0n)
      throw new InputError(`cannot map the region at 0x${base.toString(16)} for the trace (errno ${-r})`);
    this.regions++;
  }

  result(): KernelModeResult {
    const view = this.kernel.view;
    const tlb = this.cpu.tlb;
    const st = view.vmstat();
    const compat = view.vmstatCompat();
    const mm = view.mm(this.task);
    return {
      records: this.records,
      simulated: this.records - this.skipped,
      levels: tlb.levels.map((l, i) => ({ name: l.name, hits: tlb.hits[i], misses: tlb.misses[i] })),
      walks: this.cpu.walks - this.cpu.dirtyAssists,
      faults: this.task.minFlt + this.task.majFlt,
      minorFaults: this.task.minFlt,
      majorFaults: this.task.majFlt,
      evictions: compat.pgsteal,
      swapOuts: st.pswpout,
      swapIns: st.pswpin,
      pgscan: compat.pgscan,
      memcgReclaims: compat.memcg_reclaims,
      regions: this.regions,
      rssPages: mm?.rss ?? 0,
      swapPages: mm?.swapEntries ?? 0,
      oomKills: st.oom_kill,
      thpFaultAlloc: st.thp_fault_alloc,
      thpFaultFallback: st.thp_fault_fallback,
      thpSplitPage: st.thp_split_page,
    };
  }
}
