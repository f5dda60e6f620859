/**
 * 64-bit quantities without `bigint` on the hot path.
 *
 * A 64-bit architectural word (a page-table entry, a canonical virtual
 * address, CR3) is carried as two unsigned 32-bit halves `(hi, lo)`.
 * Page numbers and physical addresses are plain numbers: they stay below
 * 2^53 (vpn < 2^45 with LA57, pa < 2^52), so doubles hold them exactly.
 * See docs/decisions/0001-64-bit-words.md.
 *
 * Rules that follow from JavaScript's 32-bit bitwise operators:
 * - never apply `<<`, `|`, `&` to a value that may exceed 32 bits;
 *   use `x * 4096`, not `x << 12`;
 * - `>>> 0` turns a 32-bit result back into an unsigned number.
 *
 * `bigint` appears only at the edges (parsing, formatting, tests), through
 * the converters at the bottom of this file.
 */

/** 2^32, the weight of the high half. */
export const TWO32 = 4294967296;

/** Combines halves into a number. Exact only when the result is below 2^53 (hi < 2^21). */
export function joinExact(hi: number, lo: number): number {
  return hi * TWO32 + (lo >>> 0);
}

/** High half of a non-negative number below 2^53. */
export function hiOf(n: number): number {
  return Math.floor(n / TWO32) >>> 0;
}

/** Low half of a non-negative number below 2^53. */
export function loOf(n: number): number {
  return n >>> 0;
}

/** `0x` followed by 16 hex digits (zero-padded), the way Linux prints entries. */
export function hex64(hi: number, lo: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;
}

/** Shortest `0x…` form of a 64-bit value. */
export function hexShort(hi: number, lo: number): string {
  if (hi >>> 0 === 0) return `0x${(lo >>> 0).toString(16)}`;
  return `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, "0")}`;
}

/** `0x…` form of a non-negative number below 2^53. */
export function hexNum(n: number): string {
  return `0x${n.toString(16)}`;
}

// ---- edges: bigint converters (never on the hot path) ----

const MASK32 = 0xffffffffn;
const MAX_EXACT = 2n ** 53n - 1n;

/** Splits a bigint (taken modulo 2^64) into halves. */
export function fromBig(v: bigint): { hi: number; lo: number } {
  // the common case, every user address (below 2^53): one conversion, no bigint made
  // (asUintN, the shift and the masks each make one; userAccess splits an address per touch)
  if (v >= 0n && v <= MAX_EXACT) {
    const n = Number(v);
    const lo = n >>> 0;
    return { hi: (n - lo) / TWO32, lo };
  }
  const u = BigInt.asUintN(64, v);
  return { hi: Number((u >> 32n) & MASK32), lo: Number(u & MASK32) };
}

/** Joins halves into an unsigned bigint. */
export function toBig(hi: number, lo: number): bigint {
  const h = hi >>> 0;
  // below 2^53 (every user address): one BigInt from an exact Number, not four bigints (a
  // fault's si_addr is made this way on every fault)
  if (h < 0x200000) return BigInt(h * TWO32 + (lo >>> 0));
  return (BigInt(h) << 32n) | BigInt(lo >>> 0);
}

/**
 * Parses an unsigned 64-bit integer literal: decimal or `0x` hex, `_` allowed
 * as a separator. Returns null when the text is not such a literal or the
 * value does not fit in 64 bits.
 */
export function parseU64(text: string): bigint | null {
  const t = text.trim().replace(/_/g, "");
  if (!/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(t)) return null;
  const v = BigInt(t);
  if (v > 0xffffffffffffffffn) return null;
  return v;
}
