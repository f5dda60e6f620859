import { HostMemoryError } from "../base/errors.ts";

/** 32-bit words in a 4 KiB page. */
export const WORDS_PER_PAGE = 1024;

const CHUNK = 4096; // pages per directory chunk (16 MiB of pages)
const PAGES_PER_BLOCK = 256; // host allocation granularity for contents: 1 MiB
/** Above this many pages the directory is a Map instead of an array. */
const ARRAY_DIR_LIMIT = 2 ** 28;

// A chunk is one Int32Array of six fields, each CHUNK long, indexed by the page's place in the chunk
// (`c[F.ODD + i]`). A const enum, so that the bundle indexes with the numbers themselves, not module
// variables loaded at every access. (A page's six fields side by side, a 24-byte record each, were
// measured and left: bench/RESULTS.md, "pagerec".)
const enum F {
  /** host slot of a materialised page, or -1: the page is described by the fields below */
  SLOT = 0,
  /** the repeated 64-bit pattern: low word (bytes 0..3 of every 8) */
  PLO = 4096,
  /** ... and high word (bytes 4..7) */
  PHI = 2 * 4096,
  /** index (0..511) of the one 64-bit word that differs from the pattern, or -1 */
  ODD = 3 * 4096,
  /** that word's low half */
  OLO = 4 * 4096,
  /** ... and high half */
  OHI = 5 * 4096,
}
const FIELDS = 6 * CHUNK;
const SCRATCH = 8; // expanded copies of compact pages kept for readers of whole pages

/** How a page's contents are held (`PageStore.state`). */
export const enum PageState {
  /** one 64-bit pattern repeated over the page (an untouched page: the pattern 0) */
  Uniform = 0,
  /** the pattern everywhere but one aligned 64-bit word */
  OneWord = 1,
  /** 4 KiB of host memory, word by word */
  Materialised = 2,
}

/**
 * Page contents for many pages, held as compactly as they allow: RAM's
 * frames (PhysMem), swap slots, the paging file, files written back to disk.
 *
 * A page is **uniform** (one 64-bit value repeated: untouched pages, pages
 * cleared or filled with one byte or word), **uniform but one word** (what a
 * single store into a uniform page leaves, e.g. a scenario's one-byte touch
 * or a page table with one entry), or **materialised** (its 1024 words in a
 * host slot). The first two cost 24 bytes of typed arrays per page and no
 * object; a store that keeps the page in its state keeps it there, any other
 * materialises it (the pattern copied first). Zram keeps pages the same
 * way for the same reason (drivers/block/zram/zram_drv.c page_same_filled,
 * ZRAM_SAME: a page of one repeated `unsigned long` is stored as that value).
 * Making a page uniform again (fill) gives its slot back to a free list
 * that later materialisations use first, so host memory follows the pages
 * that hold varied bytes, not every page ever written.
 *
 * Pages are indexed by a plain number; a missing directory chunk means 4096
 * uniform-zero pages and no host memory.
 */
export class PageStore {
  private readonly dir: (Int32Array | undefined)[] | null;
  private readonly dirMap: Map<number, Int32Array> | null;
  /** slot -> its page's words (views into `blocks`) */
  private readonly frames: Uint32Array[] = [];
  private readonly blocks: Uint32Array[] = [];
  private readonly freeSlots: number[] = [];
  /**
   * What `wordsForRead` returns for pages that are not materialised: the
   * expanded words of up to SCRATCH pages (a walk reads the same few
   * compact page tables again and again), by page & (SCRATCH - 1); any
   * change to a page drops its copy.
   */
  private readonly scratch: (Uint32Array | undefined)[] = new Array(SCRATCH);
  private readonly scratchPage = new Float64Array(SCRATCH).fill(-1);
  private chunks = 0;
  /** Pages materialised now (each holds a 4 KiB slot). */
  materialized = 0;
  /**
   * Counts the changes of any page's slot (a materialisation, a slot given back): while it is
   * unchanged, what heldWords returned for a page is still its answer (a caller may keep it).
   */
  gen = 0;
  /** The most pages that may be materialised at once: the materialisation past it throws HostMemoryError. */
  limit = Number.POSITIVE_INFINITY;

  constructor(
    readonly nrPages: number,
    /** what the pages are, for HostMemoryError ("the simulated RAM written so far") */
    private readonly what = "the pages written so far",
  ) {
    if (nrPages <= ARRAY_DIR_LIMIT) {
      this.dir = new Array(Math.ceil(nrPages / CHUNK));
      this.dirMap = null;
    } else {
      this.dir = null;
      this.dirMap = new Map();
    }
  }

  private chunkOf(page: number): Int32Array | undefined {
    // array directory: page < 2^28, so >>> is exact; `page & 4095` below is exact for any safe integer
    return this.dir !== null ? this.dir[page >>> 12] : this.dirMap!.get(Math.floor(page / CHUNK));
  }

  private newChunk(page: number): Int32Array {
    const c = new Int32Array(FIELDS);
    c.fill(-1, F.SLOT, F.SLOT + CHUNK);
    c.fill(-1, F.ODD, F.ODD + CHUNK);
    if (this.dir !== null) this.dir[page >>> 12] = c;
    else this.dirMap!.set(Math.floor(page / CHUNK), c);
    this.chunks++;
    return c;
  }

  /** How the page is held now. */
  state(page: number): PageState {
    const c = this.chunkOf(page);
    if (c === undefined) return PageState.Uniform;
    const i = page & 4095;
    return c[F.SLOT + i] >= 0
      ? PageState.Materialised
      : c[F.ODD + i] >= 0
        ? PageState.OneWord
        : PageState.Uniform;
  }

  /** True when the page holds only zeros and is not materialised (an untouched page is). */
  isZero(page: number): boolean {
    const c = this.chunkOf(page);
    if (c === undefined) return true;
    const i = page & 4095;
    return c[F.SLOT + i] < 0 && c[F.ODD + i] < 0 && c[F.PLO + i] === 0 && c[F.PHI + i] === 0;
  }

  /** Word `w` (0..1023) of the page. */
  readWord(page: number, w: number): number {
    const c = this.chunkOf(page);
    if (c === undefined) return 0;
    const i = page & 4095;
    const slot = c[i];
    if (slot >= 0) return this.frames[slot][w];
    if (c[F.ODD + i] === w >>> 1) return (w & 1) === 0 ? c[F.OLO + i] >>> 0 : c[F.OHI + i] >>> 0;
    return (w & 1) === 0 ? c[F.PLO + i] >>> 0 : c[F.PHI + i] >>> 0;
  }

  /** Stores word `w` (0..1023) of the page (`value` an unsigned 32-bit number). */
  writeWord(page: number, w: number, value: number): void {
    let c = this.chunkOf(page);
    if (c === undefined) {
      if (value === 0) return; // still zero
      c = this.newChunk(page);
    }
    const i = page & 4095;
    const slot = c[i];
    if (slot >= 0) {
      this.frames[slot][w] = value;
      return;
    }
    this.storeCompact(c, i, page, w, value);
  }

  /**
   * Stores byte `off` (0..4095) of the page (`value` & 0xff), the rest of its word kept: the same
   * as readWord then writeWord of the merged word, with one look-up of the page (a store8's).
   */
  writeByte(page: number, off: number, value: number): void {
    const w = off >>> 2;
    const shift = (off & 3) * 8;
    const b = (value & 0xff) << shift;
    let c = this.chunkOf(page);
    if (c === undefined) {
      if (b === 0) return; // still zero
      c = this.newChunk(page);
    }
    const i = page & 4095;
    const slot = c[i];
    if (slot >= 0) {
      const words = this.frames[slot];
      words[w] = ((words[w] & ~(0xff << shift)) | b) >>> 0;
      return;
    }
    const at = c[F.ODD + i] === w >>> 1 ? F.OLO : F.PLO; // the word as it reads now: the odd word's or the pattern's
    const old = (w & 1) === 0 ? c[at + i] : c[at + CHUNK + i];
    this.storeCompact(c, i, page, w, ((old & ~(0xff << shift)) | b) >>> 0);
  }

  /**
   * writeByte(pages[at], off, value), writeByte(pages[at + 1], off, value), ... `n` of them, one
   * after the other, with the same resulting contents, states, slots and scratch copies: a fault
   * run's stores (clear_page, then the touch's one byte) and a later pass's over the same pages.
   * Pages taken by stretches of consecutive pages of one chunk: those uniform zero (fresh frames)
   * become "uniform but one word" by three typed-array fills; one whose odd word is the byte's
   * gets its store in place; any other page goes by writeByte.
   */
  writeByteRun(pages: Float64Array, at: number, n: number, off: number, value: number): void {
    const w = off >>> 2;
    const shift = (off & 3) * 8;
    const b = (value & 0xff) << shift; // the word a zero page's store leaves (int32 bits)
    const keep = ~(0xff << shift);
    const q = w >>> 1;
    const half = (w & 1) === 0 ? 0 : CHUNK; // OLO -> OHI, PLO -> PHI
    const olo = half === 0 ? b : 0; // a zero page's odd word after the store
    const ohi = half === 0 ? 0 : b;
    const sp = this.scratchPage;
    let j = 0;
    while (j < n) {
      const page = pages[at + j];
      const i = page & 4095; // exact for any safe integer (chunkOf)
      // the stretch: pages page, page + 1, ... in this chunk
      const max = Math.min(n - j, CHUNK - i);
      let m = 1;
      while (m < max && pages[at + j + m] === page + m) m++;
      j += m;
      let c = this.chunkOf(page);
      if (c === undefined) {
        if (b === 0) continue; // zero pages stay zero (writeByte's early return)
        c = this.newChunk(page);
      }
      for (let s = 0; s < m; s++) {
        const x = i + s;
        if (s > 0) {
          // the uniform-zero pages from here (fresh frames): filled at once (no scratch copy is kept
          // of a zero page: wordsForRead returns null for it; zeroRun)
          let f = s;
          while (
            f < m &&
            c[F.SLOT + i + f] < 0 &&
            c[F.ODD + i + f] < 0 &&
            c[F.PLO + i + f] === 0 &&
            c[F.PHI + i + f] === 0
          )
            f++;
          if (f > s) {
            if (b !== 0) {
              c.fill(q, F.ODD + x, F.ODD + i + f);
              c.fill(olo, F.OLO + x, F.OLO + i + f);
              c.fill(ohi, F.OHI + x, F.OHI + i + f);
            } // else the pattern's own value: nothing changes
            s = f - 1;
            continue;
          }
        }
        // this page as writeByte makes it: in place when compact, the odd word none or the byte's (storeCompact)
        const odd = c[F.ODD + x];
        if (c[F.SLOT + x] >= 0 || (odd !== q && odd >= 0)) {
          this.writeByte(page + s, off, value);
          continue;
        }
        if (sp[(page + s) & (SCRATCH - 1)] === page + s) sp[(page + s) & (SCRATCH - 1)] = -1;
        const at = odd === q ? F.OLO : F.PLO; // the word as it reads now: the odd word's or the pattern's
        const old = c[at + half + x];
        const v = (old & keep) | b;
        if (odd < 0) {
          if (v === old) continue; // the pattern's own value: nothing changes
          c[F.ODD + x] = q; // the odd word's first store: the pattern's word, then the store below
          c[F.OLO + x] = c[F.PLO + x];
          c[F.OHI + x] = c[F.PHI + x];
        }
        // one store and one test for both cases: the first pass's feedback is the next pass's (no deopt)
        c[F.OLO + half + x] = v;
        if (c[F.OLO + x] === c[F.PLO + x] && c[F.OHI + x] === c[F.PHI + x]) c[F.ODD + x] = -1; // the pattern again
      }
    }
  }

  /** writeWord into page i of chunk c when it is not materialised. */
  private storeCompact(c: Int32Array, i: number, page: number, w: number, value: number): void {
    if (this.scratchPage[page & (SCRATCH - 1)] === page) this.scratchPage[page & (SCRATCH - 1)] = -1;
    const v = value | 0;
    const half = (w & 1) === 0 ? 0 : CHUNK; // OLO -> OHI, PLO -> PHI
    const q = w >>> 1;
    const odd = c[F.ODD + i];
    if (odd !== q) {
      if (v === c[F.PLO + half + i]) return; // the pattern's own value: nothing changes
      if (odd >= 0) {
        this.materialise(c, i)[w] = value; // a second odd word
        return;
      }
      // the odd word's first store: the pattern's word, then the store below (unlike the pattern)
      c[F.ODD + i] = q;
      c[F.OLO + i] = c[F.PLO + i];
      c[F.OHI + i] = c[F.PHI + i];
    }
    // one store and one test for both cases (a page's first store and a later one into its odd word):
    // a first pass of stores into fresh pages gives V8 the feedback of the next pass's (no deopt)
    c[F.OLO + half + i] = v;
    if (c[F.OLO + i] === c[F.PLO + i] && c[F.OHI + i] === c[F.PHI + i]) c[F.ODD + i] = -1; // the pattern again
  }

  /**
   * Stores the aligned 64-bit word `q` (0..511) of the page, halves `lo`
   * and `hi` (32-bit numbers, int32 or uint32: their bits): the same contents and the same way
   * of holding them as writeWord(page, 2q, lo) then writeWord(page, 2q + 1,
   * hi), with one look-up of the page (a page-table entry's store: set_pte).
   */
  writeQword(page: number, q: number, lo: number, hi: number): void {
    let c = this.chunkOf(page);
    if (c === undefined) {
      if (lo === 0 && hi === 0) return; // still zero
      c = this.newChunk(page);
    }
    const i = page & 4095;
    const slot = c[i];
    if (slot >= 0) {
      const words = this.frames[slot];
      words[2 * q] = lo;
      words[2 * q + 1] = hi;
      return;
    }
    if (this.scratchPage[page & (SCRATCH - 1)] === page) this.scratchPage[page & (SCRATCH - 1)] = -1;
    const vlo = lo | 0;
    const vhi = hi | 0;
    const odd = c[F.ODD + i];
    const pattern = vlo === c[F.PLO + i] && vhi === c[F.PHI + i];
    if (odd === q) {
      c[F.OLO + i] = vlo;
      c[F.OHI + i] = vhi;
      if (pattern) c[F.ODD + i] = -1; // the pattern again
      return;
    }
    if (pattern) return; // the pattern's own value: nothing changes
    if (odd < 0) {
      c[F.ODD + i] = q;
      c[F.OLO + i] = vlo;
      c[F.OHI + i] = vhi;
      return;
    }
    const words = this.materialise(c, i);
    words[2 * q] = lo;
    words[2 * q + 1] = hi;
  }

  /** A host slot for page i of chunk c, filled with what the page held. */
  private materialise(c: Int32Array, i: number): Uint32Array {
    if (this.materialized >= this.limit) {
      const n = this.limit;
      throw new HostMemoryError(
        `${this.what} fills the ${n >= 256 ? `${Math.round(n / 256)} MiB` : `${n * 4} KiB`} of host memory this run may use (one 4 KiB frame each)`,
      );
    }
    let slot: number;
    if (this.freeSlots.length > 0) slot = this.freeSlots.pop()!;
    else {
      slot = this.frames.length;
      const b = Math.floor(slot / PAGES_PER_BLOCK);
      if (b === this.blocks.length) this.blocks.push(new Uint32Array(PAGES_PER_BLOCK * WORDS_PER_PAGE));
      const off = (slot - b * PAGES_PER_BLOCK) * WORDS_PER_PAGE;
      this.frames.push(this.blocks[b].subarray(off, off + WORDS_PER_PAGE));
    }
    const words = this.frames[slot];
    this.expand(c, i, words);
    c[F.SLOT + i] = slot;
    c[F.ODD + i] = -1;
    this.materialized++;
    this.gen++;
    return words;
  }

  /** Writes the words of a page that is not materialised into `words`. */
  private expand(c: Int32Array, i: number, words: Uint32Array): void {
    const lo = c[F.PLO + i] >>> 0;
    const hi = c[F.PHI + i] >>> 0;
    if (lo === hi) words.fill(lo);
    else
      for (let w = 0; w < WORDS_PER_PAGE; w += 2) {
        words[w] = lo;
        words[w + 1] = hi;
      }
    const odd = c[F.ODD + i];
    if (odd >= 0) {
      words[2 * odd] = c[F.OLO + i] >>> 0;
      words[2 * odd + 1] = c[F.OHI + i] >>> 0;
    }
  }

  /**
   * The page's 1024 words to read: its own when materialised, null when
   * it is all zeros, else a scratch copy of its contents that a later call
   * may overwrite (read it at once; never write through it).
   */
  wordsForRead(page: number): Uint32Array | null {
    const c = this.chunkOf(page);
    if (c === undefined) return null;
    const i = page & 4095;
    const slot = c[i];
    if (slot >= 0) return this.frames[slot];
    if (c[F.ODD + i] < 0 && c[F.PLO + i] === 0 && c[F.PHI + i] === 0) return null;
    const k = page & (SCRATCH - 1);
    let words = this.scratch[k];
    if (words === undefined) words = this.scratch[k] = new Uint32Array(WORDS_PER_PAGE); // once per entry
    if (this.scratchPage[k] !== page) {
      this.expand(c, i, words);
      this.scratchPage[k] = page;
    }
    return words;
  }

  /**
   * The page's own 1024 words when it is materialised, else null (nothing materialised, no
   * scratch copy): a store into them is what writeWord or writeQword would do to that page.
   */
  heldWords(page: number): Uint32Array | null {
    const c = this.chunkOf(page);
    if (c === undefined) return null;
    const slot = c[page & 4095];
    return slot >= 0 ? this.frames[slot] : null;
  }

  /** The page's own 1024 words, materialising it (a caller about to write it word by word). */
  wordsForWrite(page: number): Uint32Array {
    const c = this.chunkOf(page) ?? this.newChunk(page);
    const i = page & 4095;
    const slot = c[i];
    return slot >= 0 ? this.frames[slot] : this.materialise(c, i);
  }

  /** Makes the whole page the 64-bit pattern (hi:lo) repeated; a slot it held goes back to the free list. */
  fill(page: number, lo: number, hi: number): void {
    this.setCompact(page, lo | 0, hi | 0, -1, 0, 0);
  }

  /**
   * fill(page, 0, 0) of pages[0], pages[1], ... pages[n - 1], one after the other. A page that
   * is uniform zero already is left as it is (what fill would write is there; no scratch copy is
   * kept of a zero page: wordsForRead returns null for it, and the change that made it zero
   * dropped any copy).
   */
  zeroRun(pages: Float64Array, n: number): void {
    for (let k = 0; k < n; k++) {
      const page = pages[k];
      const c = this.chunkOf(page);
      if (c === undefined) continue; // all zero
      const i = page & 4095;
      if (c[F.SLOT + i] < 0 && c[F.ODD + i] < 0 && c[F.PLO + i] === 0 && c[F.PHI + i] === 0) continue;
      this.setCompact(page, 0, 0, -1, 0, 0);
    }
  }

  private setCompact(page: number, plo: number, phi: number, odd: number, olo: number, ohi: number): void {
    let c = this.chunkOf(page);
    if (c === undefined) {
      if (plo === 0 && phi === 0 && odd < 0) return; // already so
      c = this.newChunk(page);
    }
    const i = page & 4095;
    if (this.scratchPage[page & (SCRATCH - 1)] === page) this.scratchPage[page & (SCRATCH - 1)] = -1;
    const slot = c[i];
    if (slot >= 0) {
      this.freeSlots.push(slot);
      this.materialized--;
      this.gen++;
      c[i] = -1;
    }
    c[F.PLO + i] = plo;
    c[F.PHI + i] = phi;
    c[F.ODD + i] = odd;
    c[F.OLO + i] = olo;
    c[F.OHI + i] = ohi;
  }

  /**
   * Copies page `page` into page `to` of `dst` (which may be this store):
   * a page that is not materialised stays so; a materialised page that
   * holds one repeated 64-bit value, but for one word at most, is stored
   * compact (zram's page_same_filled, done on every copy); any other is
   * copied word by word.
   */
  copyTo(page: number, dst: PageStore, to: number): void {
    const c = this.chunkOf(page);
    if (c === undefined) {
      dst.setCompact(to, 0, 0, -1, 0, 0);
      return;
    }
    const i = page & 4095;
    const slot = c[i];
    if (slot < 0) {
      dst.setCompact(to, c[F.PLO + i], c[F.PHI + i], c[F.ODD + i], c[F.OLO + i], c[F.OHI + i]);
      return;
    }
    const words = this.frames[slot];
    if (dst === this && to === page) return;
    if (!dst.storeIfSameFilled(to, words)) dst.wordsForWrite(to).set(words);
  }

  /** Stores `words` compact at `page` if they are one 64-bit value repeated but for one word at most; false if not. */
  private storeIfSameFilled(page: number, words: Uint32Array): boolean {
    // the pattern is the value of at least two of the first three 64-bit words
    const a0 = words[0];
    const a1 = words[1];
    const b0 = words[2];
    const b1 = words[3];
    const c0 = words[4];
    const c1 = words[5];
    let lo: number;
    let hi: number;
    let odd = -1;
    if (a0 === b0 && a1 === b1) {
      lo = a0;
      hi = a1;
      if (c0 !== lo || c1 !== hi) odd = 2;
    } else if (a0 === c0 && a1 === c1) {
      lo = a0;
      hi = a1;
      odd = 1;
    } else if (b0 === c0 && b1 === c1) {
      lo = b0;
      hi = b1;
      odd = 0;
    } else return false;
    for (let w = 6; w < WORDS_PER_PAGE; w += 2) {
      if (words[w] === lo && words[w + 1] === hi) continue;
      if (odd >= 0) return false;
      odd = w >>> 1;
    }
    const olo = odd < 0 ? 0 : words[2 * odd] | 0;
    const ohi = odd < 0 ? 0 : words[2 * odd + 1] | 0;
    this.setCompact(page, lo | 0, hi | 0, odd, olo, ohi);
    return true;
  }

  /** Host bytes held: content blocks and the directory's chunks. */
  hostBytes(): number {
    return this.blocks.length * PAGES_PER_BLOCK * WORDS_PER_PAGE * 4 + this.chunks * FIELDS * 4;
  }

  /** Host slots made but not in use now (free for the next materialisation). */
  get freeSlotCount(): number {
    return this.freeSlots.length;
  }
}
