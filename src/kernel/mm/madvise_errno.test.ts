/**
 * madvise's refusals as Linux 6.12's madvise_walk_vmas meets them: VMA by
 * VMA in address order, the first VMA the advice refuses ending the walk
 * with -EINVAL after the VMAs before it were advised (MADV_DONTNEED on a
 * VM_LOCKED VMA, MADV_FREE on anything but anonymous memory,
 * MADV_WIPEONFORK on a file or shared mapping, MADV_DOFORK on VM_IO,
 * MADV_DODUMP on VM_SPECIAL but not HugeTLB); MADV_POPULATE_* populating up
 * to a hole (-ENOMEM) and refusing a VMA without the access (-EINVAL).
 * Linux: mm/madvise.c madvise_walk_vmas, madvise_vma_behavior,
 * madvise_dontneed_free_valid_vma, madvise_free_single_vma, madvise_populate;
 * mm/gup.c __get_user_pages (FOLL_MADV_POPULATE), check_vma_flags
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { A, B, errnoMachine, P, RO } from "../errno.testkit.ts";
import type { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { Errno, mmapArgs } from "./userMm.ts";
import { VmFlag } from "./vma.ts";

const setup = errnoMachine;

const flags = (t: Task, addr: number) => t.mm!.vmaAt(addr / P)?.vmFlags ?? -1;
const resident = (k: Kernel, t: Task, addr: number) => k.mincore(t, B(addr), B(P)).vec[0] & 1;
const at = (k: Kernel, t: Task, addr: number, opts: Parameters<typeof mmapArgs>[1] = {}) =>
  expect(k.mmap(t, mmapArgs(P, { addr, fixed: true, ...opts }))).toBe(B(addr));

describe("madvise stops at the first VMA it refuses, the VMAs before it advised", () => {
  it("MADV_DONTNEED over [anon][mlocked]: the first zapped, then -EINVAL", () => {
    const { k, t } = setup();
    at(k, t, A);
    at(k, t, A + P, { prot: { r: true, w: true, x: true } }); // another VMA
    for (const a of [A, A + P]) expect(k.userAccess(0, t, B(a), Access.Write, 1).ok).toBe(true);
    expect(k.mlock(t, B(A + P), B(P), false)).toBe(0n);
    expect(k.madvise(t, B(A), B(2 * P), "dontneed")).toBe(B(-Errno.EINVAL));
    expect(resident(k, t, A)).toBe(0);
    expect(resident(k, t, A + P)).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("MADV_FREE refuses a shared anonymous and a file mapping (madvise_free_single_vma: not vma_is_anonymous)", () => {
    const { k, t } = setup();
    const f = k.createFile("f", 4 * P);
    at(k, t, A, { shared: true });
    at(k, t, A + 4 * P, { file: f });
    expect(k.madvise(t, B(A), B(P), "free")).toBe(B(-Errno.EINVAL));
    expect(k.madvise(t, B(A + 4 * P), B(P), "free")).toBe(B(-Errno.EINVAL));
  });

  it("MADV_WIPEONFORK: the anonymous VMA before a shared one gets VM_WIPEONFORK, then -EINVAL; a file mapping -EINVAL", () => {
    const { k, t } = setup();
    const f = k.createFile("f", 4 * P);
    at(k, t, A);
    at(k, t, A + P, { shared: true });
    at(k, t, A + 4 * P, { file: f });
    expect(k.madvise(t, B(A), B(2 * P), "wipeonfork")).toBe(B(-Errno.EINVAL));
    expect(flags(t, A) & VmFlag.WIPEONFORK).toBeTruthy();
    expect(flags(t, A + P) & VmFlag.WIPEONFORK).toBe(0);
    expect(k.madvise(t, B(A + 4 * P), B(P), "wipeonfork")).toBe(B(-Errno.EINVAL));
    expect(checkInvariants(k)).toEqual([]);
  });

  it("MADV_DOFORK refuses VM_IO (a device mapping); MADV_DODUMP a device mapping but not HugeTLB memory", () => {
    const { k, t } = setup();
    k.registerDevice("fb", 2 * P);
    const d = k.mmap(t, mmapArgs(2 * P, { device: k.devices.get("fb")!, shared: true }));
    expect(d > 0n).toBe(true);
    expect(k.madvise(t, d, B(2 * P), "dofork")).toBe(B(-Errno.EINVAL));
    expect(k.madvise(t, d, B(2 * P), "dodump")).toBe(B(-Errno.EINVAL));
    expect(k.sysctlHugepages(1)).toBe(1);
    const h = k.mmap(t, mmapArgs(2 << 20, { hugetlb: true }));
    expect(h > 0n).toBe(true);
    expect(k.madvise(t, h, B(2 << 20), "dontdump")).toBe(0n);
    expect(k.madvise(t, h, B(2 << 20), "dodump")).toBe(0n);
    expect(flags(t, Number(h)) & VmFlag.DONTDUMP).toBe(0);
  });
});

describe("MADV_POPULATE_READ / MADV_POPULATE_WRITE (madvise_populate)", () => {
  it("populates up to a hole, then -ENOMEM", () => {
    const { k, t } = setup();
    at(k, t, A);
    expect(k.madvise(t, B(A), B(2 * P), "populate_write")).toBe(B(-Errno.ENOMEM));
    expect(resident(k, t, A)).toBe(1);
  });

  it("a VMA without the access asked for is -EINVAL (check_vma_flags under FOLL_MADV_POPULATE), not -EFAULT", () => {
    const { k, t } = setup();
    at(k, t, A, { prot: RO });
    at(k, t, A + P, { prot: { r: false, w: false, x: false } });
    expect(k.madvise(t, B(A), B(P), "populate_write")).toBe(B(-Errno.EINVAL));
    expect(k.madvise(t, B(A + P), B(P), "populate_read")).toBe(B(-Errno.EINVAL));
    expect(k.madvise(t, B(A), B(P), "populate_read")).toBe(0n);
  });
});
