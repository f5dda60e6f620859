/**
 * A TlbArray's filter of the keys each set may hold: per set, 64 to 1,024 bits (filterBitsLog),
 * a key's bit (filterHash) set for every valid entry of the set (whatever its ASID or global bit), and
 * perhaps for keys gone since. A bit at 0 proves that no entry of the key is in the set, so an
 * invalidation of that key (INVLPG, INVPCID 0, TLBI VA*, SFENCE.VMA va) matches nothing and need
 * not scan the set's ways; a bit at 1 says nothing, and the set is scanned as before. Kept by the
 * places that make a key valid: insert, insertMissed and insertRun set its bit (one OR; an entry
 * evicted, replaced or dropped leaves its bit, a superset is still exact; insertRun sets the bit
 * of each page it places); a scan of the set by an
 * invalidation sets the words again to the bits of the keys it leaves; emptying the array clears
 * them. Where the model cannot see the fills (the WebAssembly hit loop, after relocate) the filter
 * is off.
 *
 * Why: reclaim unmaps pages last touched long ago, whose entries the TLB evicted long since. The
 * SDM (vol. 3 §4.10.4.1) and the Arm ARM (D8.13) say what an invalidation drops, not how a core
 * finds it (a real TLB compares every way of a set at once); the scan of the ways is this model's
 * cost, and the filter skips only scans that would drop nothing. Linux/SDM: nothing (a host
 * shortcut: every entry and counter as the scans leave them).
 */

/**
 * The bits of a set's filter, as a power of two: about 16 a way (at least 64, at most 1,024), so
 * that a key not in the set finds its bit set with a chance of about 1 - (1 - 1/16w)^w (~6%) when
 * the bits are those of the set's keys alone: skylake's L1 (4 ways) 64 bits, its STLB (12) 256.
 */
export function filterBitsLog(ways: number): number {
  let log = 6;
  while (log < 10 && 1 << log < ways * 16) log++;
  return log;
}

/**
 * A 32-bit hash of a key (a TlbArray key: tag * 8 + size code) from the tag's low 32 bits:
 * filterMix's. A key's bit in its set's filter is filterHash(key) >>> (32 - filterBitsLog). Keys
 * that differ only above their tag's bit 31 share a bit: only more scans, never a wrong answer.
 */
export function filterHash(key: number): number {
  return filterMix((key / 8) | 0);
}

/**
 * The hash of a tag's low 32 bits `t`: a multiply, an xor-shift and a multiply (MurmurHash3's
 * finalizer, halved). One multiply alone (Fibonacci hashing) is linear in the tag: reclaim
 * invalidates pages a steady distance behind the ones the TLB holds, and whether such a page's bit
 * is set then depends on the distance alone (x86-64's press6, the STLB: 67% of its invalidations
 * found their bit set among the set's own keys, against 17% here, 1 - (63/64)^12).
 */
export function filterMix(t: number): number {
  const x = Math.imul(t, 0x9e3779b1 | 0);
  return Math.imul(x ^ (x >>> 15), 0x85ebca6b | 0);
}

/** The index of the word of set `set` that holds bit `h` (0 .. 2^filterBitsLog - 1), a set's words 2^setShift. */
export function filterWord(set: number, h: number, setShift: number): number {
  return (set << setShift) | (h >>> 5);
}

/** Clears the words of set `set` (a set's words 2^setShift); returns the index of its first. */
export function filterClearSet(filter: Int32Array, set: number, setShift: number): number {
  const w0 = set << setShift;
  for (let w = w0, e = w0 + (1 << setShift); w < e; w++) filter[w] = 0;
  return w0;
}
