/**
 * What arm64's copy routines report when a fault stops them: the bytes
 * not copied are `end - dst`, where dst is how far the stores have gone
 * (arch/arm64/lib/copy_template.S, copy_from_user.S, copy_to_user.S,
 * clear_user.S; Linux 6.12, no FEAT_MOPS). The template aligns the
 * source to 16 bytes, then moves 16-byte pairs (user_ldp / user_stp: two
 * LDTR or STTR, the pointer advanced after both), and a copy of 128 bytes
 * or more loads 64 bytes ahead of its stores; so a copy_from_user whose
 * source faults reports up to 63 bytes fewer than the page held, and a
 * pair straddling the fault is not counted. The fixup (9997) tries one
 * byte harder when nothing was stored. Offsets are relative to the start;
 * every user access touching a byte at or past `f` (the first byte vmlab's
 * copy could not reach) faults.
 */

/**
 * __arch_copy_from_user / __arch_copy_to_user of `n` bytes whose source
 * address has `srcLow` in its low four bits: the bytes reported copied when
 * the user side faults at offset `f` (0 <= f < n).
 */
export function arm64CopyReported(toUser: boolean, srcLow: number, n: number, f: number): number {
  let s = 0;
  let d = 0;
  let count = n;
  // the fixups: 9998 reports dst; 9997 first tries one byte when nothing was stored
  const fix = (hard: boolean): number => (hard && d === 0 ? (f > 0 ? 1 : 0) : d);
  // one load then its store of `size` bytes (ldrb1/strb1 use 9998, the others 9997); -1: done
  const mv = (size: number): number => {
    const hard = size !== 1;
    if (!toUser && s + size > f) return fix(hard);
    s += size;
    if (toUser && d + size > f) return fix(hard);
    d += size;
    return -1;
  };
  const ldp = (): boolean => {
    if (!toUser && s + 16 > f) return false;
    s += 16;
    return true;
  };
  const stp = (): boolean => {
    if (toUser && d + 16 > f) return false;
    d += 16;
    return true;
  };
  const low6 = (c: number) => ((c % 64) + 64) % 64;
  // .Ltail63 then .Ltiny15 on the low six bits of count
  const tail = (): number => {
    const t = low6(count) & 0x30;
    for (let i = 0; i < t / 16; i++) if (!ldp() || !stp()) return fix(true);
    const c = low6(count);
    for (const size of [8, 4, 2, 1]) {
      if (!(c & size)) continue;
      const r = mv(size);
      if (r >= 0) return r;
    }
    return n;
  };
  if (count < 16) return tail();
  const align = (16 - (srcLow & 15)) & 15;
  if (align !== 0) {
    count -= align;
    for (const size of [1, 2, 4, 8]) {
      if (!(align & size)) continue;
      const r = mv(size);
      if (r >= 0) return r;
    }
  }
  if (count < 64) return tail();
  count -= 128;
  if (count < 0) {
    // A, B, C, D of 64 bytes: ldp A, stp A, ldp B, ldp C, stp B, stp C, ldp D, stp D
    if (!ldp() || !stp() || !ldp() || !ldp() || !stp() || !stp() || !ldp() || !stp()) return fix(true);
    return low6(count) !== 0 ? tail() : n;
  }
  // .Lcpy_body_large: 64 bytes loaded ahead, then each store followed by the next load
  for (let i = 0; i < 4; i++) if (!ldp()) return fix(true);
  do {
    for (let i = 0; i < 4; i++) if (!stp() || !ldp()) return fix(true);
    count -= 64;
  } while (count >= 0);
  for (let i = 0; i < 4; i++) if (!stp()) return fix(true);
  return low6(count) !== 0 ? tail() : n;
}

/**
 * __arch_clear_user of `n` bytes (no FEAT_MOPS): 8-byte STTRs from the
 * start at any alignment, the last one overlapping the end; under 8 bytes,
 * a word pair, a halfword and a byte. The bytes reported cleared when a
 * store touching offset `f` or beyond faults.
 */
export function arm64ClearReported(n: number, f: number): number {
  const hits = (off: number, size: number) => off + size > f;
  if (n >= 8) {
    let x0 = 0;
    let x1 = n - 8;
    do {
      if (hits(x0, 8)) return x0;
      x0 += 8;
      x1 -= 8;
    } while (x1 > 0);
    return hits(n - 8, 8) ? x0 : n;
  }
  if (n & 4) {
    if (hits(0, 4)) return 0;
    return hits(n - 4, 4) ? 4 : n; // 8: x0 + 4
  }
  if (n & 2 && hits(0, 2)) return 0;
  if (n & 1 && hits(n - 1, 1)) return n - 1; // 7: x2 - 5 + 4
  return n;
}
