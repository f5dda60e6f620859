/**
 * What the mm tests share (tests only): a seeded random sequence for the
 * random-scenario tests, and a 64K-aligned anonymous range with a checked
 * user write for the mTHP and arm64 contpte tests; for the architectures'
 * kernel tests, a checked anonymous mapping, the checkers' silence and a
 * checked access.
 */
import { expect } from "vitest";
import { Access } from "../hw/access.ts";
import type { Mmu } from "../hw/mmu/Mmu.ts";
import type { Task } from "./core/task.ts";
import type { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";

/** 64 KiB, as a byte count */
export const K64 = 64n << 10n;

/** xorshift32: the same sequence in [0, 1) on every run. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** A 64K-aligned anonymous range of `bytes` (mapped with 64K to spare, then trimmed to start aligned). */
export function region(k: Kernel, t: Task, bytes: bigint): bigint {
  const r = k.mmap(t, mmapArgs(Number(bytes + K64)));
  const base = ((r + K64 - 1n) / K64) * K64;
  if (base > r) expect(k.munmap(t, r, base - r)).toBe(0n);
  if (base + bytes < r + bytes + K64) expect(k.munmap(t, base + bytes, r + K64 - base)).toBe(0n);
  return base;
}

/** A user write of `v` at `va` that must succeed. */
export function write(k: Kernel, t: Task, va: bigint, v = 7): void {
  expect(k.userAccess(0, t, va, Access.Write, v).ok).toBe(true);
}

/** A private anonymous mapping of `pages` pages, read and write (`x`: and execute), that must succeed. */
export function anonPages(k: Kernel, t: Task, pages: number, x = false): bigint {
  const r = k.mmap(t, mmapArgs(pages * 4096, { prot: { r: true, w: true, x } }));
  expect(r > 0n).toBe(true);
  return r;
}

/** The invariant checker and the TLB coherence checker find nothing. */
export function settled(k: Kernel): void {
  expect(checkInvariants(k)).toEqual([]);
  expect(k.machine.checker?.reports ?? []).toEqual([]);
}

/** The byte a user access read (or stored); throws with the signal when it failed. */
export function accessOk(r: ReturnType<Kernel["userAccess"]>): number {
  if (!r.ok) throw new Error(`access failed: ${r.signal} ${r.siCode}`);
  return r.value;
}

/**
 * 32-bit x86: on CPU 1 now running `t`, after an INVLPG of `va`, the kernel reads `va` with no fault
 * (a vmalloc address synced into t's tables).
 */
export function kernelReadsWithoutFault(
  k: Kernel<Mmu & { invlpg(va: number): void }>,
  t: Task,
  va: bigint,
): void {
  k.switchTo(1, t);
  k.machine.cpus[1].invlpg(Number(va));
  const r = k.kernelAccess(1, va, Access.Read);
  expect(r.ok && r.faults).toBe(0);
}

/** `pages` anonymous pages written by t on CPU 0, one access each: the first that did not complete ({ i, r }), or null */
export function fillAnon(k: Kernel, t: Task, pages: number) {
  k.switchTo(0, t);
  const a = k.mmap(t, mmapArgs(pages * 4096));
  expect(a > 0n).toBe(true);
  for (let i = 0; i < pages; i++) {
    const r = k.userAccess(0, t, a + BigInt(i) * 4096n, Access.Write, 1);
    if (!r.ok) return { i, r };
  }
  return null;
}
