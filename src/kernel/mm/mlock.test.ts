/**
 * mprotect, mlock and munlock as Linux runs them over ranges with holes and
 * PROT_NONE parts (mm/mprotect.c do_mprotect_pkey and mprotect_fixup,
 * mm/mlock.c apply_vma_lock_flags and do_mlock, mm/gup.c __mm_populate),
 * MAP_POPULATE of PROT_NONE memory, and mremap growing a locked area.
 */
import { describe, expect, it } from "vitest";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { Errno } from "./internal.ts";
import { mmapArgs } from "./userMm.ts";
import { VmFlag } from "./vma.ts";

const PAGE = 4096n;
const RW = { r: true, w: true, x: false };
const R = { r: true, w: false, x: false };
const NONE = { r: false, w: false, x: false };

function setup() {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t };
}

const vpnOf = (va: bigint) => Number(va / PAGE);
const flags = (t: Task, va: bigint) => t.mm!.vmaAt(vpnOf(va))?.vmFlags ?? -1;
function presentPages(k: Kernel, t: Task, va: bigint, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const e = k.userMm.readPte(t.mm!, vpnOf(va) + i);
    if (e !== null && k.arch.pgtable.present(e.hi, e.lo)) c++;
  }
  return c;
}

/** [2 pages][hole of 1][2 pages], the pieces of one 5-page mapping */
function withHole(k: Kernel, t: Task, prot = RW): bigint {
  const a = k.mmap(t, mmapArgs(5 * 4096, { prot }));
  expect(k.munmap(t, a + 2n * PAGE, PAGE)).toBe(0n);
  return a;
}

describe("a range with a hole: the VMAs before it change, then -ENOMEM", () => {
  it("mprotect (do_mprotect_pkey's loop)", () => {
    const { k, t } = setup();
    const a = withHole(k, t);
    expect(k.mprotect(t, a, 5n * PAGE, R)).toBe(BigInt(-Errno.ENOMEM));
    expect(flags(t, a) & VmFlag.WRITE, "before the hole: read-only now").toBe(0);
    expect(flags(t, a + 3n * PAGE) & VmFlag.WRITE, "after the hole: unchanged").not.toBe(0);
    // starting in the hole: nothing changes
    expect(k.mprotect(t, a + 2n * PAGE, 3n * PAGE, NONE)).toBe(BigInt(-Errno.ENOMEM));
    expect(flags(t, a + 3n * PAGE) & VmFlag.READ).not.toBe(0);
  });

  it("mprotect: a VMA whose VM_MAYWRITE refuses stops the loop with -EACCES after the ones before", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(4 * 4096, { prot: R }));
    const f = k.createFile("ro", 8192, "disk");
    const b = k.mmap(
      t,
      mmapArgs(2 * 4096, { prot: R, file: f, shared: true, addr: Number(a + 4n * PAGE), fixed: true }),
    );
    expect(b).toBe(a + 4n * PAGE);
    t.mm!.vmaAt(vpnOf(b))!.vmFlags &= ~VmFlag.MAYWRITE; // as a file opened O_RDONLY leaves it
    expect(k.mprotect(t, a, 6n * PAGE, RW)).toBe(BigInt(-Errno.EACCES));
    expect(flags(t, a) & VmFlag.WRITE, "the VMA before: writable now").not.toBe(0);
    expect(flags(t, b) & VmFlag.WRITE).toBe(0);
  });

  it("mlock: the part before the hole is VM_LOCKED but not populated (apply_vma_lock_flags fails first)", () => {
    const { k, t } = setup();
    const a = withHole(k, t);
    expect(k.mlock(t, a, 5n * PAGE, false)).toBe(BigInt(-Errno.ENOMEM));
    expect(flags(t, a) & VmFlag.LOCKED).not.toBe(0);
    expect(flags(t, a + 3n * PAGE) & VmFlag.LOCKED).toBe(0);
    expect(presentPages(k, t, a, 2)).toBe(0);
  });

  it("munlock: the part before the hole is unlocked", () => {
    const { k, t } = setup();
    const a = withHole(k, t);
    expect(k.mlock(t, a, 2n * PAGE, false)).toBe(0n);
    expect(k.mlock(t, a + 3n * PAGE, 2n * PAGE, false)).toBe(0n);
    expect(k.munlock(t, a, 5n * PAGE)).toBe(BigInt(-Errno.ENOMEM));
    expect(flags(t, a) & VmFlag.LOCKED).toBe(0);
    expect(flags(t, a + 3n * PAGE) & VmFlag.LOCKED).not.toBe(0);
  });
});

describe("PROT_NONE and population", () => {
  it("mlock of PROT_NONE memory: -ENOMEM (populate's -EFAULT, __mlock_posix_error_return), the VMA stays locked", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(4 * 4096, { prot: NONE }));
    expect(k.mlock(t, a, 4n * PAGE, false)).toBe(BigInt(-Errno.ENOMEM));
    expect(flags(t, a) & VmFlag.LOCKED).not.toBe(0);
    expect(presentPages(k, t, a, 4)).toBe(0);
    // mlock2(MLOCK_ONFAULT) populates nothing, so it succeeds
    const b = k.mmap(t, mmapArgs(4 * 4096, { prot: NONE }));
    expect(k.mlock(t, b, 4n * PAGE, true)).toBe(0n);
  });

  it("mlock populates VMA by VMA and stops at a PROT_NONE one", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(6 * 4096));
    expect(k.mprotect(t, a + 2n * PAGE, 2n * PAGE, NONE)).toBe(0n);
    expect(k.mlock(t, a, 6n * PAGE, false)).toBe(BigInt(-Errno.ENOMEM));
    expect([presentPages(k, t, a, 2), presentPages(k, t, a + 4n * PAGE, 2)]).toEqual([2, 0]);
  });

  it("MAP_POPULATE of PROT_NONE maps nothing (mm_populate ignores the error)", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(8 * 4096, { prot: NONE, populate: true }));
    expect(a > 0n).toBe(true);
    expect(presentPages(k, t, a, 8)).toBe(0);
    expect(t.minFlt).toBe(0);
  });

  it("mprotect to writable of a locked private mapping populates and breaks COW at once (mprotect_fixup)", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(8 * 4096, { prot: R, locked: true }));
    expect(presentPages(k, t, a, 8), "locked: populated by read faults (the zero page)").toBe(8);
    expect(t.mm!.rssAnon).toBe(0);
    expect(k.mprotect(t, a, 8n * PAGE, RW)).toBe(0n);
    expect(t.mm!.rssAnon, "a private page each, before any write").toBe(8);
  });

  it("mremap growing a locked area populates the new part", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(4 * 4096, { locked: true }));
    expect(presentPages(k, t, a, 4)).toBe(4);
    const b = k.mremap(t, a, 4n * PAGE, 12n * PAGE, true, -1n);
    expect(b > 0n).toBe(true);
    expect(presentPages(k, t, b, 12)).toBe(12);
  });
});
