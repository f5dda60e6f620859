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
 * The filter's bit of `key` (a TlbArray key: tag * 8 + size code): 0..63, the top 6 bits of the
 * key's low 32 bits multiplied, xor-shifted and multiplied again (the constants of Wellons'
 * lowbias32). The keys of one set share their low bits (the set index) and differ by multiples of
 * sets * 8, and reclaim invalidates pages a fixed distance behind those the TLB holds: one
 * multiply alone (Fibonacci hashing, 0x9e3779b1, before) maps such keys onto a lattice (its low
 * 22 bits are near 13/15 of 2^22, so an STLB set's keys, 1024 apart, fell on about 15 residues),
 * and whether a reclaimed page's bit was set depended on the distance: skylake's two 4K arrays
 * scanned a set on 43% of their invalidations in press6.bench.ts at bench:reclaim's size (MIB=1024),
 * 16% with this hash (tlbFilter.property.test.ts: every distance).
 * Keys that differ only above bit 31 share a bit: only more scans, never a wrong answer.
 */
export function filterHash(key: number): number {
  const y = Math.imul(key | 0, 0x7feb352d);
  return Math.imul(y ^ (y >>> 15), 0x846ca68b | 0) >>> 26;
}

/** The index of the word of set `set` that holds bit `h` (filterHash) in an array of sets * 2 words. */
export function filterWord(set: number, h: number): number {
  return (set << 1) | (h >>> 5);
}
