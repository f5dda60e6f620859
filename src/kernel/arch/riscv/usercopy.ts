/**
 * What RISC-V's copy routine reports when a fault stops it
 * (arch/riscv/lib/uaccess.S fallback_scalar_usercopy_sum_enabled, Linux
 * 6.12; the vector copy needs the V extension, which vmlab's harts lack):
 * the fixup returns `end - a0`, a0 the destination's progress. Under 71
 * bytes it copies byte by byte. Otherwise it copies bytes until the
 * destination is 8-byte aligned, then either an unrolled block of eight
 * words (all eight loads, then all eight stores; a0 advanced per block of
 * 64 bytes) when the source is aligned too, or a shifting word copy (a
 * load of the next aligned source word before each store) when it is not;
 * then the tail byte by byte. So a fault inside a 64-byte block reports the
 * whole block not copied, and a shifting copy_from_user reports the last
 * partial word not copied. Offsets are relative to the start; every user
 * access touching a byte at or past `f` faults.
 */

/**
 * __asm_copy_{to,from}_user of `n` bytes, destination and source with
 * `dstLow`, `srcLow` in their low three bits: the bytes reported copied
 * when the user side faults at offset `f` (0 <= f < n).
 */
export function riscvCopyReported(
  toUser: boolean,
  dstLow: number,
  srcLow: number,
  n: number,
  f: number,
): number {
  const ldFault = (off: number, size: number) => !toUser && off + size > f;
  const stFault = (off: number, size: number) => toUser && off + size > f;
  // the byte loop from `a0` (source and destination at the same offset) to the end
  const bytes = (a0: number): number => {
    for (let i = a0; i < n; i++) if (ldFault(i, 1) || stFault(i, 1)) return i;
    return n;
  };
  if (n < 9 * 8 - 1) return bytes(0);
  const p = (8 - (dstLow & 7)) & 7;
  for (let i = 0; i < p; i++) if (ldFault(i, 1) || stFault(i, 1)) return i;
  let a0 = p;
  const a3 = (srcLow + p) & 7;
  if (a3 === 0) {
    // .Lword_copy: while a0 <= end - 64
    for (; a0 <= n - 64; a0 += 64) {
      for (let j = 0; j < 64; j += 8) if (ldFault(a0 + j, 8)) return a0;
      for (let j = 0; j < 64; j += 8) if (stFault(a0 + j, 8)) return a0;
    }
    return bytes(a0);
  }
  // .Lshift_copy: aligned loads from the source rounded down, one word ahead of each store
  const t1 = Math.floor((dstLow + n) / 8) * 8 - dstLow; // the end of the aligned destination
  let a1 = a0 - a3;
  if (ldFault(a1, 8)) return a0;
  do {
    if (ldFault(a1 + 8, 8)) return a0;
    a1 += 8;
    if (stFault(a0, 8)) return a0;
    a0 += 8;
  } while (a0 < t1);
  return bytes(a0);
}
