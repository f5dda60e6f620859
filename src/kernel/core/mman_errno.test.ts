/**
 * The memory system calls' argument checks in Linux 6.12's order, each case
 * one test/differential/errno.test.ts found vmlab getting wrong: the
 * architecture's sys_mmap offset check, do_mmap's round_hint_to_min,
 * __get_unmapped_area's MAP_FIXED checks (-ENOMEM before -EINVAL),
 * do_vmi_munmap's TASK_SIZE check, do_mprotect_pkey and apply_vma_lock_flags
 * changing the VMAs before a hole past TASK_SIZE, mlock's wrap (-EINVAL),
 * do_madvise's advice check first and its wrap (-EINVAL), mincore's
 * access_ok against TASK_SIZE, and mremap's vma_lookup before mremap_to's
 * target checks.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { Errno, mmapArgs } from "../mm/userMm.ts";
import { Ms } from "./mman.ts";

const P = 4096;
const A = 0x200000000000;
const TASK_SIZE = 0x7ffffffff000;
const U64 = 1n << 64n;
const B = (n: number) => BigInt(n);

function setup() {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
  const t = k.spawn("A", 0)!;
  k.switchTo(0, t);
  return { k, t };
}

const perms = (k: Kernel, t: ReturnType<typeof setup>["t"], addr: number) =>
  k.view.vmas(t).find((v) => v.start <= B(addr) && B(addr) < v.end)?.perms ?? "none";

describe("mmap's checks (sys_mmap, do_mmap, __get_unmapped_area)", () => {
  it("an offset off a page boundary is -EINVAL for anonymous memory too", () => {
    const { k, t } = setup();
    expect(k.mmap(t, mmapArgs(P, { offset: 1 }))).toBe(B(-Errno.EINVAL));
  });

  it("a hint is rounded down to a page, one below mmap_min_addr up to it; a hint above TASK_SIZE is ignored", () => {
    const { k, t } = setup();
    expect(k.mmap(t, mmapArgs(P, { addr: A + 1 }))).toBe(B(A));
    expect(k.mmap(t, mmapArgs(P, { addr: A + 2 * P - 1 }))).toBe(B(A + P));
    expect(k.mmap(t, mmapArgs(P, { addr: P }))).toBe(65536n);
    const far = k.mmap(t, mmapArgs(P, { addr: 0x900000000000 }));
    expect(far > 0n && far < B(TASK_SIZE)).toBe(true);
  });

  it("MAP_FIXED: past TASK_SIZE - len is -ENOMEM before an unaligned address's -EINVAL and a read-only file's -EACCES", () => {
    const { k, t } = setup();
    const f = k.createFile("f", 4 * P);
    expect(k.mmap(t, mmapArgs(2 * P, { addr: TASK_SIZE - P + 1, fixed: true }))).toBe(B(-Errno.ENOMEM));
    expect(k.mmap(t, mmapArgs(P, { addr: A + 1, fixed: true }))).toBe(B(-Errno.EINVAL));
    const ro = { file: f, readOnlyFile: true, shared: true, fixed: true };
    expect(k.mmap(t, mmapArgs(2 * P, { addr: TASK_SIZE - P, ...ro }))).toBe(B(-Errno.ENOMEM));
    expect(k.mmap(t, mmapArgs(P, { addr: A, ...ro }))).toBe(B(-Errno.EACCES));
    expect(k.mmap(t, mmapArgs(P, { addr: TASK_SIZE - P, fixed: true }))).toBe(B(TASK_SIZE - P));
  });
});

describe("do_mmap: MAP_LOCKED's limits before the file's -EACCES", () => {
  it("RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK: MAP_LOCKED is -EPERM before a read-only file's PROT_WRITE -EACCES", () => {
    const { k, t } = setup();
    const f = k.createFile("f", 4 * P);
    expect(k.setrlimit(t, "memlock", 0, 0)).toBe(0);
    k.setUid(t, 1000);
    const ro = { addr: A, shared: true, file: f, readOnlyFile: true, privileged: false };
    expect(k.mmap(t, mmapArgs(P, { ...ro, locked: true }))).toBe(B(-Errno.EPERM));
    expect(k.mmap(t, mmapArgs(P, ro))).toBe(B(-Errno.EACCES));
  });
});

describe("MAP_FIXED_NOREPLACE (do_mmap)", () => {
  it("-EEXIST over any VMA, after __get_unmapped_area's checks and before a read-only file's -EACCES; HugeTLB too", () => {
    const { k, t } = setup();
    const f = k.createFile("f", 4 * P);
    expect(k.mmap(t, mmapArgs(P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.mmap(t, mmapArgs(2 * P, { addr: A - P, noreplace: true }))).toBe(B(-Errno.EEXIST));
    expect(k.mmap(t, mmapArgs(P, { addr: A + 1, noreplace: true }))).toBe(B(-Errno.EINVAL));
    expect(
      k.mmap(t, mmapArgs(P, { addr: A, noreplace: true, shared: true, file: f, readOnlyFile: true })),
    ).toBe(B(-Errno.EEXIST));
    expect(k.mmap(t, mmapArgs(P, { addr: A + P, noreplace: true }))).toBe(B(A + P));
    expect(k.sysctlHugepages(2)).toBe(2);
    const H = 0x300000000000;
    expect(k.mmap(t, mmapArgs(2 << 20, { addr: H, noreplace: true, hugetlb: true }))).toBe(B(H));
    expect(k.mmap(t, mmapArgs(2 << 20, { addr: H, noreplace: true, hugetlb: true }))).toBe(B(-Errno.EEXIST));
  });
});

describe("munmap, mprotect, mlock, msync, mincore past TASK_SIZE and wrapping", () => {
  it("munmap: a length past TASK_SIZE - start is -EINVAL, before it is rounded up", () => {
    const { k, t } = setup();
    expect(k.munmap(t, B(TASK_SIZE - P), B(2 * P - 1))).toBe(B(-Errno.EINVAL));
    expect(k.munmap(t, B(TASK_SIZE), B(P))).toBe(B(-Errno.EINVAL));
    expect(k.munmap(t, B(TASK_SIZE - P), B(P))).toBe(0n);
  });

  it("mprotect and mlock past TASK_SIZE change the VMA before the hole, then -ENOMEM; a wrap is -ENOMEM / -EINVAL", () => {
    const { k, t } = setup();
    expect(k.mmap(t, mmapArgs(P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.mprotect(t, B(A), B(TASK_SIZE), { r: true, w: false, x: true })).toBe(B(-Errno.ENOMEM));
    expect(perms(k, t, A)).toBe("r-xp");
    expect(k.mprotect(t, B(A), U64 - B(P), { r: true, w: false, x: false })).toBe(B(-Errno.ENOMEM));
    expect(perms(k, t, A)).toBe("r-xp");
    expect(k.mlock(t, B(A), B(TASK_SIZE), false)).toBe(B(-Errno.ENOMEM));
    expect(k.view.status(t).mem!.vmLck).toBe(P);
    expect(k.munlock(t, B(A), B(TASK_SIZE))).toBe(B(-Errno.ENOMEM));
    expect(k.view.status(t).mem!.vmLck).toBe(0);
    expect(k.mlock(t, B(A), U64 - B(P), false)).toBe(B(-Errno.EINVAL));
    expect(k.view.status(t).mem!.vmLck).toBe(0);
  });

  it("msync: a wrap is -ENOMEM, an empty range 0; mincore past TASK_SIZE is access_ok's -ENOMEM", () => {
    const { k, t } = setup();
    expect(k.msync(t, B(A), U64 - B(P))).toBe(B(-Errno.ENOMEM));
    expect(k.msync(t, B(A), 0n)).toBe(0n);
    // the stack ends at TASK_SIZE: its last page is fine, one more page is past access_ok
    expect(k.mincore(t, B(TASK_SIZE - P), B(P)).ret).toBe(0n);
    // access_ok fails before the walk: nothing of the vector is reported (not the stack page's byte)
    const past = k.mincore(t, B(TASK_SIZE - P), B(2 * P));
    expect(past.ret).toBe(B(-Errno.ENOMEM));
    expect(past.vec.length).toBe(0);
  });
});

describe("madvise's checks (do_madvise)", () => {
  it("an unknown advice is -EINVAL whatever the range; a wrapping length -EINVAL, past TASK_SIZE -ENOMEM", () => {
    const { k, t } = setup();
    expect(k.madvise(t, 1n << 47n, B(P), "bogus")).toBe(B(-Errno.EINVAL));
    expect(k.madvise(t, B(A), U64 - 1n, "dontneed")).toBe(B(-Errno.EINVAL));
    expect(k.madvise(t, B(A), U64 - 1n, "remove")).toBe(B(-Errno.EINVAL));
    expect(k.madvise(t, 1n << 47n, B(P), "dontneed")).toBe(B(-Errno.ENOMEM));
    expect(k.madvise(t, B(A), 0n, "dontneed")).toBe(0n);
  });
});

describe("mremap's checks (SYSCALL_DEFINE5(mremap), mremap_to)", () => {
  it("an old address with no VMA is -EFAULT before MREMAP_FIXED's overlapping target's -EINVAL", () => {
    const { k, t } = setup();
    expect(k.mremap(t, B(A), B(2 * P), B(2 * P), true, B(A + P))).toBe(B(-Errno.EFAULT));
    expect(k.mmap(t, mmapArgs(2 * P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.mremap(t, B(A), B(2 * P), B(2 * P), true, B(A + P))).toBe(B(-Errno.EINVAL));
  });

  it("a target past TASK_SIZE is -EINVAL; an old range past its VMA -EFAULT, not -EINVAL", () => {
    const { k, t } = setup();
    expect(k.mmap(t, mmapArgs(2 * P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.mremap(t, B(A), B(P), B(2 * P), true, B(TASK_SIZE - P))).toBe(B(-Errno.EINVAL));
    expect(perms(k, t, A)).toBe("rw-p");
    expect(k.mremap(t, B(A), 1n << 47n, (1n << 47n) + B(P), true, -1n)).toBe(B(-Errno.EFAULT));
  });
});

describe("msync's flags (mm/msync.c)", () => {
  it("unknown flags, MS_ASYNC with MS_SYNC: -EINVAL; MS_ASYNC writes nothing and is -ENOMEM at a hole at once", () => {
    const { k, t } = setup();
    const f = k.createFile("f", 4 * P);
    expect(k.mmap(t, mmapArgs(P, { addr: A, fixed: true, shared: true, file: f }))).toBe(B(A));
    expect(k.userAccess(0, t, B(A), Access.Write, 1).ok).toBe(true);
    expect(k.msync(t, B(A), B(P), 8)).toBe(B(-Errno.EINVAL));
    expect(k.msync(t, B(A), B(P), Ms.ASYNC | Ms.SYNC)).toBe(B(-Errno.EINVAL));
    const out0 = k.view.counters().pageCacheWritebacks;
    expect(k.msync(t, B(A), B(2 * P), Ms.ASYNC)).toBe(B(-Errno.ENOMEM));
    expect(k.msync(t, B(A), B(P), Ms.ASYNC)).toBe(0n);
    expect(k.view.counters().pageCacheWritebacks).toBe(out0);
  });

  it("MS_INVALIDATE on a VM_LOCKED VMA is -EBUSY, the shared file mapping before it written back", () => {
    const { k, t } = setup();
    const f = k.createFile("f", 4 * P);
    expect(k.mmap(t, mmapArgs(P, { addr: A, fixed: true, shared: true, file: f }))).toBe(B(A));
    expect(k.mmap(t, mmapArgs(P, { addr: A + P, fixed: true, locked: true }))).toBe(B(A + P));
    expect(k.userAccess(0, t, B(A), Access.Write, 1).ok).toBe(true);
    expect(k.msync(t, B(A + P), B(P), Ms.INVALIDATE)).toBe(B(-Errno.EBUSY));
    const out0 = k.view.counters().pageCacheWritebacks;
    expect(k.msync(t, B(A), B(2 * P), Ms.SYNC | Ms.INVALIDATE)).toBe(B(-Errno.EBUSY));
    expect(k.view.counters().pageCacheWritebacks).toBe(out0 + 1);
    expect(k.msync(t, B(A), B(2 * P), Ms.SYNC)).toBe(0n);
  });
});
