/**
 * The hash of a page held as its two 32-bit halves (fast.ts, pageSet.ts):
 * the halves mixed, then multiplied by 2^32 / phi (Fibonacci hashing, Knuth,
 * TAOCP vol. 3, 6.4): a table of 2^k buckets takes the product's top k bits
 * (`>>> (32 - k)`), which spreads consecutive pages evenly.
 */
export function pageHash(lo: number, hi: number): number {
  return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
}
