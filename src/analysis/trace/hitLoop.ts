/**
 * Machine mode's hit loop in WebAssembly (wasm/hits.ts, embedded in
 * hitsWasm.ts; docs/wasm.md): the part of MachineMode.feedRuns that every
 * run takes (the front-entry memo of its first-level set, then the set's
 * ways, as TlbArray.lookup looks them up and reorders them), over the runs
 * copied into the module's memory, with the counts kept there. A run that
 * misses the first level comes back to MachineMode, whose MMU, walker and
 * pager stay the authority for everything else.
 *
 * For that, the state the loop reads and writes lives in the module's
 * memory, and the JavaScript side uses it there through views: the memo's
 * arrays, the first-level TLB arrays' entries (TlbArray.relocate), the
 * frames' reference bits and dirty flags. The memory never grows (a grown
 * memory would leave the views behind): its size is fixed here.
 */
import { fromBase64, type WasmMemory, wasmApi } from "../../base/wasm.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import { Meta, type TlbArray } from "../../hw/mmu/TlbArray.ts";
import { HITS_SHARED_WASM } from "./hitsSharedWasm.ts";
import { HITS_WASM } from "./hitsWasm.ts";

/**
 * A shared memory the hit loop's state goes in, from byte `from` (the
 * memory grown to hold it): the reading thread's slots are its first bytes
 * (workloads/trace/open.ts's ringFor), so that records in a slot are read
 * where zstd wrote them, not copied (MachineModeConfig.shared).
 */
export interface SharedPlace {
  memory: WasmMemory;
  from: number;
}

/** The distance in bytes between the data side's memo arrays, up to 1,024 sets (wasm/hits.ts's NEAR). */
const NEAR = 4096;

/** Runs copied into the module's memory at a time. */
export const HIT_CHUNK = 65536;

/** The compiled modules (on a memory of its own, on a shared one), each compiled once in a process. */
let compiledOwn: object | null = null;
let compiledShared: object | null = null;
function compiledModule(shared: boolean): object {
  if (shared) {
    compiledShared ??= new (wasmApi()!.Module)(fromBase64(HITS_SHARED_WASM));
    return compiledShared;
  }
  compiledOwn ??= new (wasmApi()!.Module)(fromBase64(HITS_WASM));
  return compiledOwn;
}

/** Whether the hit loop is used when the configuration does not say: WebAssembly present, VMLAB_WASM not 0. */
export function wasmByDefault(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return wasmApi() !== null && env?.VMLAB_WASM !== "0" && compiles();
}

let compiled: boolean | null = null;
/**
 * Whether this runtime lets the module be compiled: a page whose
 * Content-Security-Policy lacks 'wasm-unsafe-eval' refuses it, and then
 * the JavaScript twin runs (asked once).
 */
function compiles(): boolean {
  if (compiled === null) {
    try {
      compiledModule(false);
      compiled = true;
    } catch {
      compiled = false;
    }
  }
  return compiled;
}

export class HitLoop {
  readonly memoLoD: Int32Array;
  readonly memoHiD: Int32Array;
  readonly memoPfnD: Int32Array;
  readonly memoLoI: Int32Array;
  readonly memoHiI: Int32Array;
  readonly memoPfnI: Int32Array;
  /** the memo of each set's way 1 (wasm/hits.ts's memo1), the module's own: page bits, high word, frame */
  private readonly memo1LoD: Int32Array;
  private readonly memo1LoI: Int32Array;
  /** per frame: its reference bit, its dirty flag */
  readonly ref: Uint8Array;
  readonly dirty: Uint8Array;
  /**
   * counts the loop leaves for JavaScript after each call (settled, then
   * zeroed, before anything else runs): [0] second-level hits, [1] [2] the
   * data side's first-level fills into an invalid way and evictions, [3] [4]
   * the fetch side's (TlbArray.countFills); [5] whether the call stopped at a
   * miss of both levels' arrays (missedBoth)
   */
  readonly counts: Int32Array;
  /** room for RUN_TOTALS numbers (recordTotals') */
  readonly totals: Float64Array;
  /** where feedRuns copies runs (HIT_CHUNK of them), and its address */
  readonly input: Uint32Array;
  readonly inputAt: number;
  /** the module's memory's buffer: words already in it need no copy (place) */
  private readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** wasm/hits.ts's take: runs from..count-1 while they hit; the first that misses, or count */
  readonly take: (runs: number, from: number, count: number, asid: number) => number;
  /**
   * wasm/hits.ts's takeRecords: take over records (each a run of one); the first that misses or is
   * not a record, or count
   */
  readonly takeRecords: (recs: number, from: number, count: number, asid: number) => number;
  private readonly repeats: () => number;
  private readonly frameSum: () => bigint;

  /**
   * `l1d`, `l1i`: the first-level 4K arrays (the same one when the first
   * level is unified); `frames`: the data frames.
   */
  constructor(
    l1d: TlbArray,
    l1i: TlbArray,
    l2d: TlbArray | null,
    l2i: TlbArray | null,
    frames: number,
    dataOnly: boolean,
    shared: SharedPlace | null = null,
  ) {
    const split = l1i !== l1d;
    const setsD = l1d.sets;
    const setsI = l1i.sets;
    const up8 = (n: number) => Math.ceil(n / 8) * 8;
    const memoBytes = (sets: number) => 6 * up8(4 * sets); // way 0's memo, and way 1's
    const memoBytesD = setsD <= NEAR / 4 ? 7 * NEAR : memoBytes(setsD); // (NEAR apart, way 1's and flip bits too)
    const arrayBytes = (a: TlbArray) => up8(24 * a.entries + 4);
    const total =
      memoBytesD +
      (split ? memoBytes(setsI) + arrayBytes(l1i) : 0) +
      arrayBytes(l1d) +
      (l2d !== null ? arrayBytes(l2d) : 0) +
      (l2i !== null && l2i !== l2d ? arrayBytes(l2i) : 0) +
      32 +
      56 +
      8 * HIT_CHUNK +
      2 * up8(frames);
    let at = 0;
    let memory: WasmMemory;
    let ex: Record<string, unknown>;
    if (shared !== null) {
      at = up8(shared.from);
      const m = shared.memory as WasmMemory & { grow(pages: number): number };
      const more = Math.ceil((at + total) / 65536) - m.buffer.byteLength / 65536;
      if (more > 0) m.grow(more);
      memory = m;
      ex = new (wasmApi()!.Instance)(compiledModule(true), { env: { memory } }).exports;
    } else {
      const pages = Math.ceil(total / 65536);
      memory = new (wasmApi()!.Memory)({ initial: pages, maximum: pages });
      ex = new (wasmApi()!.Instance)(compiledModule(false), { env: { memory } }).exports;
    }
    const buf = memory.buffer as ArrayBuffer;
    this.buffer = buf;
    const int32 = (n: number) => {
      const v = new Int32Array(buf, at, n);
      at += up8(4 * n);
      return v;
    };
    const bytes = (n: number) => {
      const v = new Uint8Array(buf, at, n);
      at += up8(n);
      return v;
    };
    if (setsD <= NEAR / 4) {
      // the data side's memo arrays NEAR bytes apart (wasm/hits.ts's NEAR: takeRecords' front-page loop
      // then reads the three from one base)
      this.memoLoD = new Int32Array(buf, at, setsD).fill(-1);
      this.memoHiD = new Int32Array(buf, at + NEAR, setsD).fill(-1);
      this.memoPfnD = new Int32Array(buf, at + 2 * NEAR, setsD);
      at += 7 * NEAR; // (way 1's memo next: below; then wasm/hits.ts's flip bits, zero)
    } else {
      this.memoLoD = int32(setsD).fill(-1);
      this.memoHiD = int32(setsD).fill(-1);
      this.memoPfnD = int32(setsD);
    }
    const near = setsD <= NEAR / 4;
    this.memoLoI = split ? int32(setsI).fill(-1) : this.memoLoD;
    this.memoHiI = split ? int32(setsI).fill(-1) : this.memoHiD;
    this.memoPfnI = split ? int32(setsI) : this.memoPfnD;
    const memo1 = ex.memo1 as (s: number, lo: number, hi: number, pfn: number) => void;
    if (near) {
      // way 1's memo NEAR apart after way 0's (takeRecords' way-1 hit then addresses all six from one base)
      const at1 = this.memoLoD.byteOffset + 3 * NEAR;
      this.memo1LoD = new Int32Array(buf, at1, setsD).fill(-1);
      memo1(0, at1, at1 + NEAR, at1 + 2 * NEAR);
      new Int32Array(buf, at1 + 3 * NEAR, setsD).fill(0); // the flip bits (a shared memory may be reused)
    } else {
      this.memo1LoD = int32(setsD).fill(-1);
      memo1(0, this.memo1LoD.byteOffset, int32(setsD).byteOffset, int32(setsD).byteOffset);
    }
    this.memo1LoI = this.memo1LoD;
    if (split) {
      this.memo1LoI = int32(setsI).fill(-1);
      memo1(1, this.memo1LoI.byteOffset, int32(setsI).byteOffset, int32(setsI).byteOffset);
    }
    const side = ex.side as (...a: number[]) => void;
    const place = (s: number, a: TlbArray, lo: Int32Array, hi: Int32Array, pfn: Int32Array) => {
      const k = at;
      at += up8(a.relocate(buf, at));
      const n = a.entries;
      side(
        s,
        lo.byteOffset,
        hi.byteOffset,
        pfn.byteOffset,
        a.sets - 1,
        k,
        k + 8 * n,
        k + 16 * n,
        k + 20 * n,
        a.ways,
      );
    };
    place(0, l1d, this.memoLoD, this.memoHiD, this.memoPfnD);
    if (split) place(1, l1i, this.memoLoI, this.memoHiI, this.memoPfnI);
    this.counts = int32(8);
    this.totals = new Float64Array(buf, at, 7);
    at += 56;
    // the second level, where MachineMode.l2Hit takes it (one array of 4K entries) and the first is 4K only
    const second = ex.second as (...a: number[]) => void;
    const placed = new Map<TlbArray, number>();
    const place2 = (s: number, l1: TlbArray, a: TlbArray | null) => {
      if (a === null || l1.sizeMask !== 1) return second(s, 0, 0, 0, 0, 0, 0, this.counts.byteOffset);
      let k = placed.get(a);
      if (k === undefined) {
        k = at;
        at += up8(a.relocate(buf, at));
        placed.set(a, k);
      }
      const n = a.entries;
      second(s, k, k + 8 * n, k + 16 * n, k + 20 * n, a.ways, a.sets - 1, this.counts.byteOffset);
    };
    place2(0, l1d, l2d);
    if (split) place2(1, l1i, l2i);
    this.inputAt = at;
    this.input = new Uint32Array(buf, at, 2 * HIT_CHUNK);
    at += 8 * HIT_CHUNK;
    this.ref = bytes(frames);
    this.dirty = bytes(frames);
    (ex.frames as (ref: number, dirty: number, split: number, dataOnly: number) => void)(
      this.ref.byteOffset,
      this.dirty.byteOffset,
      split ? 1 : 0,
      dataOnly ? 1 : 0,
    );
    this.take = ex.take as HitLoop["take"];
    this.takeRecords = ex.takeRecords as HitLoop["takeRecords"];
    this.repeats = ex.takeRepeats as () => number;
    this.frameSum = ex.takeFrameSum as () => bigint;
  }

  /**
   * Applies the counts the loop left (counts) to the MMU and the first-level
   * arrays `l1d`, `l1i`: second-level hits (a translation, a first-level
   * miss and a second-level hit each, as l2Hit counts them), first-level
   * fills; zeroes them. What JavaScript then changes in the first level, its
   * caller forgets (forgetSets).
   */
  settle(cpu: Mmu, l1d: TlbArray, l1i: TlbArray): void {
    const c = this.counts;
    if ((c[0] | c[1] | c[2] | c[3] | c[4]) === 0) return;
    const tlb = cpu.tlb;
    cpu.translations += c[0];
    tlb.misses[0] += c[0];
    tlb.hits[1] += c[0];
    l1d.countFills(c[1], c[2]);
    l1i.countFills(c[3], c[4]);
    // (stores, not fill: TypedArray.prototype.fill is a call into C++, once a fault)
    c[0] = 0;
    c[1] = 0;
    c[2] = 0;
    c[3] = 0;
    c[4] = 0;
  }

  /**
   * Whether the last call stopped at a run or record that missed the first level's 4K array of its
   * side and the second level's array (the module looked both up, and a miss changes neither), as
   * opposed to one it left to JavaScript otherwise (an entry of the second level it does not copy
   * itself, a record that is not one, the end); read once after each call (it is zeroed here).
   */
  missedBoth(): boolean {
    const c = this.counts;
    const m = c[5];
    c[5] = 0;
    return m !== 0;
  }

  /**
   * The address in the module's memory of `n` words pairs (runs or records)
   * from `words[2 * at]`: their own when `words` is a view of that memory
   * (a reading thread's slot in a shared memory), else `input`'s, where
   * they are copied.
   */
  place(words: Uint32Array, at: number, n: number): number {
    if (words.buffer === this.buffer) return words.byteOffset + 8 * at;
    this.input.set(words.subarray(2 * at, 2 * (at + n)));
    return this.inputAt;
  }

  /**
   * Forgets the memo of every set's way 1: called whenever JavaScript may
   * have changed a first-level array itself (a miss handled there, any
   * other path of MachineMode), which the module does not see.
   */
  forgetSecond(): void {
    forget(this.memo1LoD);
    if (this.memo1LoI !== this.memo1LoD) forget(this.memo1LoI);
  }

  /**
   * Forgets the memos of the sets JavaScript changed the first level in after a call stopped (each
   * side's way 0 and way 1): that of `page` (page bits, lo >>> 14: the miss's fill went there, and
   * the caller then sets its way 0 memo) and that of the 4K page `gone` (an evicted page, whose INVLPG
   * took its entries; -1: none). Nothing else in the first level changes on a miss, a fault and its
   * eviction (every other set's ways are as the module left them).
   */
  forgetSets(page: number, gone: number): void {
    const mD = this.memoLoD.length - 1;
    this.memoLoD[page & mD] = -1;
    this.memo1LoD[page & mD] = -1;
    const mI = this.memoLoI.length - 1;
    this.memoLoI[page & mI] = -1;
    this.memo1LoI[page & mI] = -1;
    if (gone < 0) return;
    const g = gone >>> 0; // (its low bits: the set)
    this.memoLoD[g & mD] = -1;
    this.memo1LoD[g & mD] = -1;
    this.memoLoI[g & mI] = -1;
    this.memo1LoI[g & mI] = -1;
  }

  /**
   * Forgets way 0's memo of the sets of the frames whose reference bits CLOCK's hand cleared on its
   * way to `victim`: the `count` frames before it (cyclic over `owner.length` frames), each holding
   * the 4K page owner[frame]. A hit on a set's front (way 0's memo) stores no reference bit: the memo
   * holds only frames whose bit is set (way 1's memo sets it on a hit).
   */
  forgetCleared(owner: Float64Array, victim: number, count: number): void {
    const n = owner.length;
    if (count >= n) {
      forget(this.memoLoD);
      forget(this.memoLoI);
      return;
    }
    const mD = this.memoLoD.length - 1;
    const mI = this.memoLoI.length - 1;
    let f = victim;
    for (let i = 0; i < count; i++) {
      f = f === 0 ? n - 1 : f - 1;
      const g = owner[f] >>> 0; // (its low bits: the set)
      this.memoLoD[g & mD] = -1;
      this.memoLoI[g & mI] = -1;
    }
  }

  /** The first-level hits the loop counted since the last call. */
  takeRepeats(): number {
    return this.repeats();
  }

  /** The sum of the frames of the records it took since the last call, mod 2^64 (signed). */
  takeFrameSum(): bigint {
    return this.frameSum();
  }
}

/** Every element of a memo's array to -1, by a loop: TypedArray.prototype.fill is a call into C++, on the fault path. */
function forget(a: Int32Array | Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] = -1;
}

/**
 * MachineMode's memos emptied after a fault (the eviction's INVLPG may have taken a set's front
 * entry): feed's (keysD, keysI) and the runs' and hit loop's (page bits loD, loI; -1 matches no
 * page); a unified first level's fetch side is its data side.
 */
export function forgetMemos(
  keysD: Float64Array,
  keysI: Float64Array,
  loD: Int32Array,
  loI: Int32Array,
): void {
  forget(keysD);
  if (keysI !== keysD) forget(keysI);
  forget(loD);
  if (loI !== loD) forget(loI);
}

/**
 * The totals of `n` records (u64-addr2kind, record.ts's layout by hand: kind
 * lo & 3, offset (lo >>> 2) & 4095) into `out`, as workloads/trace/runs.ts's
 * RUN_TOTALS (the count of each kind, the data records' offsets, the
 * fetches', the records): for the records before a bad one, whose slot's
 * totals (the reading thread's) count the rest too.
 */
export function recordTotals(words: Uint32Array, n: number, out: Float64Array): Float64Array {
  out.fill(0);
  for (let i = 0; i < n; i++) {
    const lo = words[2 * i];
    const k = lo & 3;
    out[k]++;
    out[k === 0 ? 5 : 4] += (lo >>> 2) & 4095;
  }
  out[6] = n;
  return out;
}

/**
 * A first-level miss of a 4K page looked up in the second level directly,
 * when that level is one array holding 4K pages (MachineMode's l2D, l2I) and
 * nothing traces: on a hit, what Mmu.translate, Tlb.lookup and Tlb.promote
 * do for it (a translation; the first level's miss and the second's hit
 * counted; the entry copied into `l1`, the first level's 4K array, which
 * insertAt picks for a 4K page) and the frame; -1 on a miss, which changed
 * nothing: translate then does the rest. The pager's entries allow every
 * access and are dirty, so no rights check or dirty assist is due.
 */
export function l2Hit(cpu: Mmu, vpn: number, l1: TlbArray, l2: TlbArray | null): number {
  if (l2 === null) return -1;
  const slot = l2.lookup(vpn, cpu.asid);
  if (slot < 0) return -1;
  const meta = l2.metas[slot];
  if (((meta >>> Meta.HELD_SIZE_SHIFT) & 7) !== 0) return -1; // (none: the pager maps 4K pages here)
  const tlb = cpu.tlb;
  cpu.translations++;
  tlb.misses[0]++;
  tlb.hits[1]++;
  tlb.hitArray = l2;
  tlb.hitSlot = slot;
  tlb.hitLevel = 1;
  const pfn = l2.pfns[slot];
  l1.insert(vpn, 0, pfn, meta, l2.attrs[slot]);
  return pfn | 0;
}
