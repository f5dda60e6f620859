/**
 * A TlbArray's moves of a set's ways (TlbArray.insertRun): the loops written out four ways a turn,
 * as V8 checks and reloads each typed array on every turn of a loop (its map, length and data
 * pointer, after the loop's stack check): one check of each per four ways moved.
 * Linux/SDM: nothing (a host shortcut: the same ways, in the same order).
 */

/**
 * Moves ways base .. base + keep - 1 of keys, pfns and metas down by `put` (to base + put ..),
 * the last first (so a way is read before a move writes it): a set's older entries behind the
 * `put` newest of a run.
 */
export function moveWaysDown(
  keys: Float64Array,
  pfns: Float64Array,
  metas: Int32Array,
  base: number,
  keep: number,
  put: number,
): void {
  let from = base + keep - 1;
  let to = from + put;
  for (; from >= base + 3; from -= 4, to -= 4) {
    keys[to] = keys[from];
    keys[to - 1] = keys[from - 1];
    keys[to - 2] = keys[from - 2];
    keys[to - 3] = keys[from - 3];
    pfns[to] = pfns[from];
    pfns[to - 1] = pfns[from - 1];
    pfns[to - 2] = pfns[from - 2];
    pfns[to - 3] = pfns[from - 3];
    metas[to] = metas[from];
    metas[to - 1] = metas[from - 1];
    metas[to - 2] = metas[from - 2];
    metas[to - 3] = metas[from - 3];
  }
  for (; from >= base; from--, to--) {
    keys[to] = keys[from];
    pfns[to] = pfns[from];
    metas[to] = metas[from];
  }
}
