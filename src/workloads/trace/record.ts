/**
 * The trace record: the one place its layout is written down, with the
 * helpers that encode and decode it.
 *
 * Every reader (formats.ts: binary, lackey, text and page lists; the
 * generator) hands records on as vmlab's binary `u64-addr2kind` (the format
 * of ../shared/traces and of `--format bin`, docs/trace.md): one 64-bit
 * value per access,
 *
 *   bits 0..1   the kind: 0 instruction fetch, 1 load, 2 store, 3 modify
 *   bits 2..48  the virtual address, below 2^47
 *   bits 49..63 zero
 *
 * stored little-endian, and in a batch as pairs of 32-bit words in a
 * Uint32Array: words[2i] = lo, the low 32 bits of record i, words[2i+1] =
 * hi, the high 32 bits. In those words (4 KiB pages):
 *
 *   kind         lo & 3
 *   page offset  (lo >>> 2) & 4095
 *   page number  hi * 2^18 + (lo >>> 14)         (below 2^35)
 *   address      high word hi >>> 2, low word ((lo >>> 2) | (hi << 30)) >>> 0
 *   a record     hi < 2^17                        (the address below 2^47)
 *   written      kind >= 2 (stores and modifies)
 *
 * The helpers serve the code that is not per record hot: the readers of
 * the text formats, the generator, messages, tests. A loop that runs per
 * record spells the arithmetic out instead, with a comment naming this
 * file, and must stay in sync with it: V8 inlines a helper, but still
 * checks on every record that the function is the one it inlined, and that
 * costs up to 15% of policy mode's loop. Those loops, and their tests:
 *
 * - BinDecoder.hand (formats.ts): the check of the high word
 *   (formats.test.ts);
 * - foldRuns (runs.ts; it runs on the reading thread from its source text
 *   and may use nothing outside its body), MachineMode.feed and feedRuns,
 *   KernelMode.feed (analysis/trace: the analysis layer may not import
 *   workloads): record.test.ts;
 * - the policy and analysis loops of vmlab trace (analysis/trace/replay.ts):
 *   src/cli/trace/replay.test.ts.
 *
 * The folded form of records, the runs of the reading thread, has its own
 * layout in runs.ts.
 */

/** The kinds of access (bits 0..1). */
export const FETCH = 0;
export const LOAD = 1;
export const STORE = 2;
export const MODIFY = 3;

/** Bytes per record. */
export const RECORD_BYTES = 8;
/** Addresses are below 2^47 (valgrind's guest addresses, x86-64 user addresses). */
export const ADDR_LIMIT = 2 ** 47;
/** The high word of a record is below 2^17 (its address below 2^47). */
export const HI_LIMIT = 131072;

const TWO32 = 4294967296;

// (the helpers spell their constants out: V8 inlines them with the literals)

/** The kind of the record whose low word is `lo`. */
export function recordKind(lo: number): number {
  return lo & 3;
}

/** Whether the record whose low word is `lo` is an instruction fetch. */
export function isFetch(lo: number): boolean {
  return (lo & 3) === 0;
}

/** Whether a record of `kind` writes (a store or a modify). */
export function isWrite(kind: number): boolean {
  return kind >= 2;
}

/** The 4 KiB page number of the record (lo, hi). */
export function recordPage(lo: number, hi: number): number {
  return hi * 262144 + (lo >>> 14);
}

/** The 4 KiB page number of record i of a batch. */
export function pageAt(words: Uint32Array, i: number): number {
  return words[2 * i + 1] * 262144 + (words[2 * i] >>> 14);
}

/** The offset in its 4 KiB page of the record whose low word is `lo`. */
export function recordOffset(lo: number): number {
  return (lo >>> 2) & 4095;
}

/** The high word of the record's virtual address. */
export function recordVaHi(hi: number): number {
  return hi >>> 2;
}

/** The low word of the record's virtual address. */
export function recordVaLo(lo: number, hi: number): number {
  return ((lo >>> 2) | (hi << 30)) >>> 0;
}

/** Whether `hi` can be a record's high word (its address below 2^47). */
export function isRecordHi(hi: number): boolean {
  return hi < 131072;
}

/** Writes the record of an access of `kind` at `vaddr` (below 2^47) as record i of a batch. */
export function setRecord(words: Uint32Array, i: number, vaddr: number, kind: number): void {
  const rec = vaddr * 4 + kind;
  words[2 * i] = rec % TWO32;
  words[2 * i + 1] = Math.floor(rec / TWO32);
}

/** The record (lo, hi) as one number, for messages (it may be no record at all). */
export function recordValue(lo: number, hi: number): bigint {
  return BigInt(hi) * 4294967296n + BigInt(lo);
}

/**
 * The kind a text trace's letter names: X or I a fetch, R or L a load, W
 * or S a store, M a modify; -1 for any other word.
 */
export function kindOfLetter(t: string): number {
  switch (t.toUpperCase()) {
    case "X":
    case "I":
      return FETCH;
    case "R":
    case "L":
      return LOAD;
    case "W":
    case "S":
      return STORE;
    case "M":
      return MODIFY;
  }
  return -1;
}
