/**
 * What the mm tests share (tests only): a seeded random sequence for the
 * random-scenario tests, and a 64K-aligned anonymous range with a checked
 * user write for the mTHP and arm64 contpte tests.
 */
import { expect } from "vitest";
import { Access } from "../hw/access.ts";
import type { Task } from "./core/task.ts";
import type { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";

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
