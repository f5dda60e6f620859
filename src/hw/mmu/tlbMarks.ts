/**
 * TlbArray.markCovered for an array that holds base-page entries only (keys v * 8), all within
 * keyLo .. keyHi: the pages of first .. end - 1 those bounds leave are looked for each in its set,
 * marks[v - first] = 1 where a way holds its key (any ASID), when that takes fewer compares than
 * the `entries` of a scan of every entry (a fold's next leaf table, which holds the page its
 * first fault filled, or none). Returns 1 when it marked some, 0 none, -1 when the scan is the
 * cheaper (nothing done). A host shortcut (src/hw/mmu/runFold.ts); Linux/SDM: nothing.
 */
export function markBasePages(
  keys: Float64Array,
  setMask: number,
  ways: number,
  keyLo: number,
  keyHi: number,
  first: number,
  end: number,
  marks: Uint8Array,
): number {
  const from = Math.max(first, Math.ceil(keyLo / 8));
  const to = Math.min(end - 1, Math.floor(keyHi / 8));
  if (from > to) return 0;
  if ((to - from + 1) * ways >= keys.length) return -1;
  let any = 0;
  for (let v = from; v <= to; v++) {
    const key = v * 8;
    for (let i = (v & setMask) * ways, e = i + ways; i < e; i++) {
      const k = keys[i];
      if (k === key) {
        marks[v - first] = 1;
        any = 1;
        break;
      }
      if (k === -1) break; // invalid ways are last
    }
  }
  return any;
}
