/**
 * What the mm system calls' error-path tests share (mm/madvise_errno.test.ts, mm/mremap_errno.test.ts):
 * a one-CPU 64 MiB machine with one root task switched in, and the addresses and protections the
 * tests place their VMAs with.
 */
import { KernelImpl as Kernel } from "./KernelImpl.ts";

/** a page */
export const P = 4096;
/** where the tests place their first VMA */
export const A = 0x200000000000;
export const B = (n: number) => BigInt(n);
/** read-only */
export const RO = { r: true, w: false, x: false };

/** A machine and its task A (uid 0), running on CPU 0. */
export function errnoMachine() {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
  const t = k.spawn("A", 0)!;
  k.switchTo(0, t);
  return { k, t };
}
