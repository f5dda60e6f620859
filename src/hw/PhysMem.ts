import { InputError } from "../base/errors.ts";
import type { Pfn } from "../base/units.ts";
import { PageStore } from "./PageStore.ts";

/** Base page size: 4 KiB frames on every architecture vmlab models. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/** Largest simulated RAM accepted: the whole 52-bit physical address space. */
export const MAX_RAM_BYTES = 2 ** 52;

/**
 * Records the last write to each watched 8-byte word, for the TLB coherence
 * checker: when a cached translation disagrees with memory, it can say which
 * entry changed and when. Installed only in debug mode.
 */
export interface WriteWatch {
  /** Called after every write of 4 or 8 bytes at an aligned address. */
  wrote(pa8: number): void;
  /** Called after the whole frame was filled (clear_page, a memset of the page): one record, not 512 words' */
  wroteFrame(pfn: Pfn): void;
}

/**
 * The data caches in front of this memory (hw/cache/CacheSystem.ts), told of
 * the accesses that do not go through them: the kernel's own reads and writes
 * of frames (clearing, copying, page tables, filling from disk), made
 * through its direct map. Installed only with `cache=vivt|vipt|pipt`.
 */
export interface PhysSnoop {
  /** `len` bytes at pa are about to be written (`whole`: every byte of them, as clear_page does) */
  willWrite(pa: number, len: number, whole: boolean): void;
  /** `len` bytes at pa are about to be read */
  willRead(pa: number, len: number): void;
}

/**
 * Simulated physical memory: `nrFrames` frames of 4 KiB, little-endian.
 *
 * The frames' contents are a PageStore (PageStore.ts): a frame is uniform
 * (one 64-bit value repeated; an untouched frame reads as zeros), uniform
 * but for one 64-bit word, or materialised (4 KiB of host memory). Reads
 * never materialise; a store materialises a frame only when it leaves it
 * with more than one word off the pattern; clearing or filling a frame, or
 * copying a compact one onto it, gives its host slot back. So a 64 GiB
 * machine whose programs touch 10 MiB costs far less than 10 MiB of host
 * memory, and a 16 GiB machine whose pages are all written with one value
 * costs about 24 bytes of contents per frame.
 *
 * Accesses outside RAM read as all ones (a bus with nothing behind it) and
 * writes there are dropped; both are counted in `strayAccesses`.
 *
 * Frame accessors take a `Pfn` (base/units.ts). The byte accessors
 * (read8 .. write64, writeBytes) take the address as a plain number, so
 * that their many callers (page-table code, images, uaccess, tests) can
 * pass `pfn * 4096 + off` as it is; a `PhysAddr` passes as one too.
 */
export class PhysMem {
  readonly sizeBytes: number;
  readonly nrFrames: number;
  /** the frames' contents, indexed by pfn */
  readonly store: PageStore;
  /** Reads and writes outside RAM. */
  strayAccesses = 0;
  watch: WriteWatch | null = null;
  /** the data caches, told of direct accesses (null: no cache, the common case) */
  snoop: PhysSnoop | null = null;

  constructor(sizeBytes: number) {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new InputError(`RAM size must be a positive whole number of bytes, not ${sizeBytes}`);
    }
    if (sizeBytes % PAGE_SIZE !== 0) {
      throw new InputError(`RAM size ${sizeBytes} is not a multiple of the page size (${PAGE_SIZE})`);
    }
    if (sizeBytes > MAX_RAM_BYTES) {
      throw new InputError(`RAM size ${sizeBytes} is larger than the 52-bit physical address space (4 PiB)`);
    }
    this.sizeBytes = sizeBytes;
    this.nrFrames = sizeBytes / PAGE_SIZE;
    this.store = new PageStore(this.nrFrames, "the simulated RAM written so far");
  }

  /** Frames materialised now (each holds 4 KiB of host memory). */
  get materialized(): number {
    return this.store.materialized;
  }

  /**
   * The most frames that may hold host memory at once (a front end's
   * budget, e.g. `vmlab run --max-host-memory`): the write that would
   * materialise one more throws HostMemoryError. Unlimited by default.
   * Uniform frames do not count.
   */
  get hostLimitFrames(): number {
    return this.store.limit;
  }

  set hostLimitFrames(n: number) {
    this.store.limit = n;
  }

  /**
   * The 1024 words of a frame to read: null when it holds only zeros; a
   * frame that is not materialised comes as a scratch copy that a later
   * call may overwrite (read it at once, never write through it).
   */
  frameWords(pfn: Pfn): Uint32Array | null {
    return this.store.wordsForRead(pfn);
  }

  /**
   * The 1024 words of a materialised frame to store into, when nothing observes stores (no cache
   * model snooping, no write watch): then a store into them is exactly what write32 or write64
   * does at an aligned address of that frame. Null otherwise (the frame is held compactly, or a
   * store must go through write32/write64). Caller checks pfn < nrFrames.
   */
  frameWordsToStore(pfn: Pfn): Uint32Array | null {
    if (this.snoop !== null || this.watch !== null) return null;
    return this.store.heldWords(pfn);
  }

  /** The 1024 words of a frame, materialising it. Caller checks pfn < nrFrames. */
  frameWordsForWrite(pfn: Pfn): Uint32Array {
    return this.store.wordsForWrite(pfn);
  }

  /** True when pa is inside RAM. */
  inRange(pa: number): boolean {
    return pa >= 0 && pa < this.sizeBytes;
  }

  /** Reads the aligned 32-bit word containing pa. */
  private word(pa: number): number {
    if (!(pa >= 0 && pa < this.sizeBytes)) {
      this.strayAccesses++;
      return 0xffffffff;
    }
    // a cast, not units.ts's paToPfn: every load goes through here (see units.ts on hot paths)
    const pfn = Math.floor(pa / PAGE_SIZE);
    return this.store.readWord(pfn, (pa - pfn * PAGE_SIZE) >>> 2);
  }

  private setWord(pa: number, value: number): void {
    if (!(pa >= 0 && pa < this.sizeBytes)) {
      this.strayAccesses++;
      return;
    }
    const pfn = Math.floor(pa / PAGE_SIZE); // as in word()
    this.store.writeWord(pfn, (pa - pfn * PAGE_SIZE) >>> 2, value);
  }

  read8(pa: number): number {
    return (this.word(pa - (pa & 3)) >>> ((pa & 3) * 8)) & 0xff;
  }

  write8(pa: number, value: number): void {
    if (this.snoop !== null) this.snoop.willWrite(pa, 1, false);
    // the byte merged into its word with one look-up of the frame (as word() then setWord())
    if (pa >= 0 && pa < this.sizeBytes) {
      const pfn = Math.floor(pa / PAGE_SIZE);
      this.store.writeByte(pfn, pa - pfn * PAGE_SIZE, value);
    } else this.strayAccesses += 2; // the word's read and its store both fall outside RAM
    if (this.watch !== null) this.watch.wrote(pa - (pa % 8));
  }

  read16(pa: number): number {
    if ((pa & 3) <= 2) return (this.word(pa - (pa & 3)) >>> ((pa & 3) * 8)) & 0xffff;
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }

  write16(pa: number, value: number): void {
    this.write8(pa, value);
    this.write8(pa + 1, value >>> 8);
  }

  read32(pa: number): number {
    if ((pa & 3) === 0) return this.word(pa);
    return (this.read16(pa) | (this.read16(pa + 2) << 16)) >>> 0;
  }

  write32(pa: number, value: number): void {
    if ((pa & 3) === 0) {
      if (this.snoop !== null) this.snoop.willWrite(pa, 4, false);
      this.setWord(pa, value >>> 0);
      if (this.watch !== null && (pa & 7) === 0) this.watch.wrote(pa);
      else if (this.watch !== null && (pa & 7) === 4) this.watch.wrote(pa - 4);
      return;
    }
    this.write16(pa, value);
    this.write16(pa + 2, value >>> 16);
  }

  /** Low half of the 64-bit little-endian word at pa. */
  read64Lo(pa: number): number {
    return this.read32(pa);
  }

  /** High half of the 64-bit little-endian word at pa. */
  read64Hi(pa: number): number {
    return this.read32(pa + 4);
  }

  /** Writes a 64-bit little-endian word given as halves. */
  write64(pa: number, hi: number, lo: number): void {
    if ((pa & 7) === 0) {
      if (this.snoop !== null) this.snoop.willWrite(pa, 8, false);
      // both halves with one look-up of the frame (as setWord(pa, lo) then setWord(pa + 4, hi))
      if (pa >= 0 && pa < this.sizeBytes) {
        const pfn = Math.floor(pa / PAGE_SIZE);
        // int32 halves (writeQword stores the bits): no heap number for a half at or above 2^31
        this.store.writeQword(pfn, (pa - pfn * PAGE_SIZE) >>> 3, lo | 0, hi | 0);
      } else this.strayAccesses += 2; // both halves' stores fall outside RAM
      if (this.watch !== null) this.watch.wrote(pa);
      return;
    }
    this.write32(pa, lo);
    this.write32(pa + 4, hi);
  }

  /** Edge helper: the 64-bit word at pa as a bigint. */
  read64Big(pa: number): bigint {
    return (BigInt(this.read64Hi(pa)) << 32n) | BigInt(this.read64Lo(pa));
  }

  /** Edge helper: writes a bigint (mod 2^64) as a 64-bit word. */
  write64Big(pa: number, value: bigint): void {
    const u = BigInt.asUintN(64, value);
    this.write64(pa, Number(u >> 32n), Number(u & 0xffffffffn));
  }

  /** Copies bytes into RAM (edges: loading images, tests). */
  writeBytes(pa: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.write8(pa + i, bytes[i]);
  }

  /** Fills a frame with zeros (as clear_page does). */
  zeroFrame(pfn: Pfn): void {
    this.fillFrame(pfn, 0, 0);
  }

  /** zeroFrame of frames pfns[0], pfns[1], ... pfns[n - 1], one after the other (a fault batch's clear_page of each). */
  zeroFrames(pfns: Float64Array, n: number): void {
    if (this.snoop !== null || this.watch !== null)
      for (let i = 0; i < n; i++) this.fillFrame(pfns[i] as Pfn, 0, 0);
    else this.store.zeroRun(pfns, n);
  }

  /**
   * Fills a frame with one 64-bit little-endian value (hi:lo) repeated, as
   * a memset of the whole page does; the frame stays (or becomes) uniform.
   */
  fillFrame(pfn: Pfn, hi: number, lo: number): void {
    if (this.snoop !== null) this.snoop.willWrite(pfn * PAGE_SIZE, PAGE_SIZE, true);
    this.store.fill(pfn, lo, hi);
    if (this.watch !== null) this.watch.wroteFrame(pfn);
  }

  /** copy_page: frame `to` gets frame `from`'s bytes (a uniform frame's copy is uniform). */
  copyFrame(to: Pfn, from: Pfn): void {
    if (this.snoop !== null) {
      this.snoop.willRead(from * PAGE_SIZE, PAGE_SIZE);
      this.snoop.willWrite(to * PAGE_SIZE, PAGE_SIZE, true);
    }
    this.store.copyTo(from, this.store, to);
  }

  /** A frame's bytes to page `index` of another store (swap-out, a page file's write). */
  saveFrame(pfn: Pfn, dst: PageStore, index: number): void {
    if (this.snoop !== null) this.snoop.willRead(pfn * PAGE_SIZE, PAGE_SIZE);
    this.store.copyTo(pfn, dst, index);
  }

  /** Page `index` of another store into a frame (swap-in, a page file's read). */
  loadFrame(src: PageStore, index: number, pfn: Pfn): void {
    if (this.snoop !== null) this.snoop.willWrite(pfn * PAGE_SIZE, PAGE_SIZE, true);
    src.copyTo(index, this.store, pfn);
  }

  /**
   * The kernel is about to overwrite frame pfn whole through frameWordsForWrite
   * (copy_page, a page read from disk or swap): the caches learn of it.
   */
  frameWillBeWritten(pfn: Pfn): void {
    if (this.snoop !== null) this.snoop.willWrite(pfn * PAGE_SIZE, PAGE_SIZE, true);
  }

  /** The kernel is about to read frame pfn whole through frameWords (copy_page's source, swap-out). */
  frameWillBeRead(pfn: Pfn): void {
    if (this.snoop !== null) this.snoop.willRead(pfn * PAGE_SIZE, PAGE_SIZE);
  }

  /** Host bytes held for simulated RAM's contents (materialised frames' blocks and the store's directory). */
  hostBytes(): number {
    return this.store.hostBytes();
  }
}
