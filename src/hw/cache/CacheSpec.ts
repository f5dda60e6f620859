/**
 * The geometry of an L1 data cache (`machine cache=vivt|vipt|pipt
 * cache_size=SIZE cache_ways=N cache_line=SIZE [cache_asid=on|off]`) and the
 * one check of it. docs/caches.md.
 *
 * A set-associative cache of `sizeBytes` holds sizeBytes / lineBytes lines in
 * `sets` sets of `ways` lines. An address picks its set with the bits just
 * above the line offset (the index) and is recognised in the set by the
 * remaining bits (the tag). The three kinds differ in which address gives
 * each:
 *
 *   VIVT  virtual index, virtual tag   (ARMv4/v5: ARM920T, ARM926EJ-S)
 *   VIPT  virtual index, physical tag  (ARMv6/v7 L1 D, most L1 caches today)
 *   PIPT  physical index, physical tag (x86 as software sees it, ARMv7 L2)
 *
 *      address:  | tag ...             | index (log2 sets) | line offset |
 *                                      '-- colour bits --'  (index bits above the page offset)
 *
 * Index bits above the page offset ("colour" bits) are where a virtual index
 * and a physical one may disagree: VIPT with sets * line <= page size (e.g.
 * 32 KiB 8-way 64 B lines: 64 sets * 64 B = 4 KiB) has no colour bits and so
 * no synonyms; 32 KiB 4-way (8 KiB per way) has one colour bit.
 */
import { PAGE_SIZE } from "../PhysMem.ts";

export type CacheKind = "vivt" | "vipt" | "pipt";

export interface CacheSpec {
  kind: CacheKind;
  sizeBytes: number;
  ways: number;
  lineBytes: number;
  /** VIVT only: lines carry the ASID (context id) of the address space that filled them */
  asidTagged: boolean;
}

/** The defaults of the `machine` keys: 32 KiB, 4-way, 64 B lines (one colour bit over 4 KiB pages). */
export const CACHE_DEFAULTS = { sizeBytes: 32 << 10, ways: 4, lineBytes: 64 } as const;

/** Bounds of the check (a vmlab limit: an L1 of at most 4 MiB; lines of 16 B up to a page). */
export const MAX_CACHE_BYTES = 4 << 20;
export const MIN_LINE_BYTES = 16;
const PAGE_BYTES = PAGE_SIZE;

const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/**
 * Why a geometry cannot be built, as `[key, reason]` in the `machine`
 * statement's key names; null if it can. Both ways in (the `.vm` statement
 * and the Kernel API) use it.
 */
export function cacheSpecError(s: CacheSpec): [string, string] | null {
  if (!pow2(s.lineBytes) || s.lineBytes < MIN_LINE_BYTES || s.lineBytes > PAGE_BYTES)
    return ["cache_line", `must be a power of two from ${MIN_LINE_BYTES} to 4K bytes, not ${s.lineBytes}`];
  if (!pow2(s.sizeBytes))
    return ["cache_size", `must be a power of two (the index is a whole number of bits), not ${s.sizeBytes}`];
  if (s.sizeBytes > MAX_CACHE_BYTES) return ["cache_size", `must be at most 4M, not ${s.sizeBytes}`];
  if (s.sizeBytes < s.lineBytes)
    return ["cache_size", `${s.sizeBytes} bytes is smaller than one ${s.lineBytes}-byte line`];
  const lines = s.sizeBytes / s.lineBytes;
  if (!Number.isInteger(s.ways) || s.ways < 1)
    return ["cache_ways", `must be a whole number of ways, at least 1, not ${s.ways}`];
  if (s.ways > lines)
    return [
      "cache_ways",
      `${s.ways} ways need ${s.ways} lines; ${s.sizeBytes} bytes of ${s.lineBytes}-byte lines hold ${lines}`,
    ];
  if (lines % s.ways !== 0)
    return [
      "cache_ways",
      `${s.ways} does not divide the ${lines} lines (${s.sizeBytes} / ${s.lineBytes}) into sets of equal size`,
    ];
  if (s.asidTagged && s.kind !== "vivt")
    return [
      "cache_asid",
      `is for a VIVT cache: a ${s.kind.toUpperCase()} cache is tagged with the physical address, so one virtual address in two address spaces cannot hit the other's lines`,
    ];
  return null;
}

/** Derived numbers of a checked spec. */
export interface CacheGeometry {
  sets: number;
  lineShift: number;
  /** sets - 1 */
  setMask: number;
  /** bytes one way spans (sets * line): the distance between two addresses of the same set */
  wayBytes: number;
  /** how many sets a page's lines can land in: 2^(colour bits); 1 when the index lies inside the page offset */
  colours: number;
  /** the distance between two addresses that land in the same set: SHMLBA as page colouring needs it */
  shmlba: number;
}

export function cacheGeometry(s: CacheSpec): CacheGeometry {
  const sets = s.sizeBytes / s.lineBytes / s.ways;
  const wayBytes = sets * s.lineBytes;
  return {
    sets,
    lineShift: Math.log2(s.lineBytes),
    setMask: sets - 1,
    wayBytes,
    colours: Math.max(1, wayBytes / PAGE_BYTES),
    shmlba: Math.max(PAGE_BYTES, wayBytes),
  };
}

/**
 * Can one physical byte sit in two lines of one cache? VIVT always (two
 * virtual addresses are two tags); VIPT when the index has colour bits;
 * PIPT never.
 */
export function hasSynonyms(s: CacheSpec): boolean {
  if (s.kind === "pipt") return false;
  if (s.kind === "vivt") return true;
  return cacheGeometry(s).colours > 1;
}

/** "32K 4-way VIPT, 64 B lines, 128 sets (2 colours)" */
export function describeCache(s: CacheSpec): string {
  const g = cacheGeometry(s);
  const k = (n: number) => (n >= 1 << 20 ? `${n >> 20}M` : n >= 1024 ? `${n >> 10}K` : `${n}`);
  const colours = s.kind === "pipt" ? "" : ` (${g.colours} colour${g.colours === 1 ? "" : "s"})`;
  const asid = s.kind === "vivt" ? (s.asidTagged ? ", ASID-tagged" : ", untagged") : "";
  return `${k(s.sizeBytes)} ${s.ways}-way ${s.kind.toUpperCase()}, ${s.lineBytes} B lines, ${g.sets} sets${colours}${asid}`;
}
