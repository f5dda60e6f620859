/**
 * mremap's paths as Linux 6.12 takes them: a shrink (or an unchanged
 * length) unmaps the tail without looking at the VMAs, across a VMA
 * boundary too; MREMAP_FIXED unmaps the target, then the old range's tail,
 * before vma_to_resize's checks (so a refused growth has unmapped the
 * target, and a shrinking move across two VMAs works); a growth across a
 * VMA boundary is -EFAULT.
 * Linux 6.12: mm/mremap.c SYSCALL_DEFINE5(mremap), mremap_to, vma_to_resize
 */
import { describe, expect, it } from "vitest";
import { A, B, errnoMachine, P, RO } from "../errno.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { Errno, mmapArgs } from "./userMm.ts";

const T = 0x210000000000;

/** [A: 1 page rw][A + P: 1 page r] (two VMAs), and one page rw at T */
function setup() {
  const { k, t } = errnoMachine();
  for (const [addr, prot] of [
    [A, undefined],
    [A + P, RO],
    [T, undefined],
  ] as const)
    expect(k.mmap(t, mmapArgs(P, { addr, fixed: true, ...(prot ? { prot } : {}) }))).toBe(B(addr));
  const mapped = (addr: number) => k.mincore(t, B(addr), B(P)).ret === 0n;
  return { k, t, mapped };
}

describe("mremap across two VMAs", () => {
  it("a shrink unmaps the tail, the second VMA included; the same length returns the address", () => {
    const { k, t, mapped } = setup();
    expect(k.mremap(t, B(A), B(2 * P), B(2 * P), false, -1n)).toBe(B(A));
    expect(k.mremap(t, B(A), B(2 * P), B(P), false, -1n)).toBe(B(A));
    expect(mapped(A)).toBe(true);
    expect(mapped(A + P)).toBe(false);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a growth is -EFAULT (old_len > vm_end - addr); with MREMAP_FIXED the target is gone already", () => {
    const { k, t, mapped } = setup();
    expect(k.mremap(t, B(A), B(2 * P), B(3 * P), true, -1n)).toBe(B(-Errno.EFAULT));
    expect(mapped(T)).toBe(true);
    expect(k.mremap(t, B(A), B(2 * P), B(3 * P), true, B(T))).toBe(B(-Errno.EFAULT));
    expect(mapped(T)).toBe(false);
    expect(mapped(A)).toBe(true);
    expect(mapped(A + P)).toBe(true);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("MREMAP_FIXED to a shorter length unmaps the tail first, then moves the rest", () => {
    const { k, t, mapped } = setup();
    expect(k.mremap(t, B(A), B(2 * P), B(P), true, B(T))).toBe(B(T));
    expect(mapped(A)).toBe(false);
    expect(mapped(A + P)).toBe(false);
    expect(k.view.vmas(t).find((v) => v.start === B(T))?.perms).toBe("rw-p");
    expect(checkInvariants(k)).toEqual([]);
  });
});
