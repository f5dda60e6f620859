/**
 * A TlbArray's filter of the keys each set may hold: per set, 64 bits (two Int32 words), bit
 * filterHash(key) set for every valid entry of the set (whatever its ASID or global bit), and
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
 * The filter's bit of `key` (a TlbArray key: tag * 8 + size code): 0..63, from Fibonacci hashing of
 * the key's low 32 bits (the set index takes the tag's low bits; this mixes the ones above them).
 * Keys that differ only above bit 31 share a bit: only more scans, never a wrong answer.
 */
export function filterHash(key: number): number {
  return Math.imul(key | 0, 0x9e3779b1 | 0) >>> 26;
}

/** The index of the word of set `set` that holds bit `h` (filterHash) in an array of sets * 2 words. */
export function filterWord(set: number, h: number): number {
  return (set << 1) | (h >>> 5);
}
