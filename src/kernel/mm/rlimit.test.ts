/**
 * Resource limits at each place Linux applies them (mm/rlimit.ts):
 * setrlimit's rules (kernel/sys.c do_prlimit), the limits per process
 * (copy_signal at fork, shared by threads), may_expand_vm from mmap_region
 * (MAP_FIXED counting only what it adds), do_brk_flags, vma_to_resize,
 * mprotect_fixup and acct_stack_growth, check_data_rlimit in sys_brk, the
 * RLIMIT_MEMLOCK tests of do_mmap (MAP_LOCKED), do_mlock and vma_to_resize,
 * the pr_warn_once of may_expand_vm, and /proc/PID/limits.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { formatLimits } from "../view/limits.ts";
import { Errno } from "./internal.ts";
import { mmapArgs } from "./userMm.ts";

const M = 1 << 20;
const K = 1024;
const INF = Number.POSITIVE_INFINITY;
const B = BigInt;
const RO = { r: true, w: false, x: false };
const RW = { r: true, w: true, x: false };

function setup(uid = 0) {
  const k = new Kernel({ ramBytes: 256 << 20, cpus: 1 });
  const t = k.spawn("A", uid)!;
  k.switchTo(0, t);
  return { k, t };
}
const vmSize = (k: Kernel, t: Task) => k.view.status(t).mem!.vmSize;
const vmData = (k: Kernel, t: Task) => k.view.status(t).mem!.vmData;
const limit = (k: Kernel, t: Task, r: string) => k.view.limits(t).find((l) => l.resource === r)!;

describe("setrlimit (do_prlimit)", () => {
  it("refuses soft above hard, a hard limit raised without CAP_SYS_RESOURCE; lowering is anyone's", () => {
    const { k, t } = setup(1000);
    expect(limit(k, t, "memlock")).toMatchObject({ soft: 8 * M, hard: 8 * M });
    expect(limit(k, t, "as")).toMatchObject({ soft: INF, hard: INF });
    expect(k.setrlimit(t, "as", 2 * M, M)).toBe(-Errno.EINVAL);
    expect(k.setrlimit(t, "memlock", 16 * M, 16 * M)).toBe(-Errno.EPERM);
    expect(k.setrlimit(t, "as", 64 * M, 128 * M)).toBe(0);
    expect(k.setrlimit(t, "as", 128 * M, 128 * M)).toBe(0); // the soft limit up to the hard one
    expect(k.setrlimit(t, "as", INF, INF)).toBe(-Errno.EPERM); // lowered hard limits stay lowered
    expect(limit(k, t, "as")).toMatchObject({ soft: 128 * M, hard: 128 * M });
    k.setUid(t, 0);
    expect(k.setrlimit(t, "as", INF, INF)).toBe(0);
    // a refused call changes nothing
    expect(limit(k, t, "as")).toMatchObject({ soft: INF, hard: INF });
  });

  it("belongs to the process: threads share it, a forked child copies it", () => {
    const { k, t } = setup();
    const th = k.thread(t, "A2")!;
    k.setrlimit(th, "data", 4 * M, 8 * M);
    expect(limit(k, t, "data")).toMatchObject({ soft: 4 * M, hard: 8 * M });
    const c = k.fork(t, "C")!;
    expect(limit(k, c, "data")).toMatchObject({ soft: 4 * M, hard: 8 * M });
    k.setrlimit(c, "data", M, M);
    expect(limit(k, t, "data").soft).toBe(4 * M);
    // spawn's rlimit_stack is the soft RLIMIT_STACK
    expect(limit(k, k.spawn("S", 0, 2 * M)!, "stack")).toMatchObject({ soft: 2 * M, hard: INF });
  });

  it("shows /proc/PID/limits' header and rows as proc_pid_limits prints them", () => {
    const { k, t } = setup();
    k.setrlimit(t, "as", 16 * M, INF);
    const lines = formatLimits(k.view.limits(t));
    expect(lines[0]).toBe("Limit                     Soft Limit           Hard Limit           Units     ");
    expect(lines[1]).toBe("Max data size             unlimited            unlimited            bytes     ");
    expect(lines[4]).toBe(
      `Max address space         ${String(16 * M).padEnd(20)} unlimited            bytes     `,
    );
    expect(lines.map((l) => l.length)).toEqual(lines.map(() => lines[0].length));
  });
});

describe("RLIMIT_AS and RLIMIT_DATA (may_expand_vm)", () => {
  it("mmap_region: -ENOMEM past RLIMIT_AS; MAP_FIXED counts only the pages it adds", () => {
    const { k, t } = setup();
    k.setrlimit(t, "as", vmSize(k, t) + 32 * M, INF);
    const a = k.mmap(t, mmapArgs(16 * M));
    expect(a).toBeGreaterThan(0n);
    expect(k.mmap(t, mmapArgs(32 * M))).toBe(B(-Errno.ENOMEM));
    // read-only and shared mappings count against RLIMIT_AS too, up to the limit itself
    expect(k.mmap(t, mmapArgs(16 * M, { prot: RO }))).toBeGreaterThan(0n);
    expect(k.mmap(t, mmapArgs(4096, { shared: true }))).toBe(B(-Errno.ENOMEM));
    expect(k.mmap(t, mmapArgs(16 * M, { addr: Number(a), fixed: true }))).toBe(a);
    expect(k.mmap(t, mmapArgs(16 * M + 4096, { addr: Number(a), fixed: true }))).toBe(B(-Errno.ENOMEM));
    // the refused MAP_FIXED left the old mapping in place
    expect(k.view.vmas(t).some((v) => v.start === a)).toBe(true);
  });

  it("a data mapping (private writable) is held to RLIMIT_DATA; shared and read-only ones are not", () => {
    const { k, t } = setup();
    k.setrlimit(t, "data", vmData(k, t) + 8 * M, INF);
    expect(k.mmap(t, mmapArgs(6 * M))).toBeGreaterThan(0n);
    expect(k.mmap(t, mmapArgs(4 * M))).toBe(B(-Errno.ENOMEM));
    expect(k.mmap(t, mmapArgs(4 * M, { shared: true }))).toBeGreaterThan(0n);
    const ro = k.mmap(t, mmapArgs(4 * M, { prot: RO }));
    expect(ro).toBeGreaterThan(0n);
    // mprotect_fixup: turning into data counts
    expect(k.mprotect(t, ro, B(4 * M), RW)).toBe(B(-Errno.ENOMEM));
    expect(k.mprotect(t, ro, B(M), RW)).toBe(0n);
    expect(vmData(k, t)).toBe(7 * M);
  });

  it("mprotect over several VMAs counts what it already turned into data (mprotect_fixup per VMA)", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(4 * M, { prot: RO }));
    // two VMAs side by side: read-only, then read-execute (they do not merge)
    expect(k.mprotect(t, a + B(2 * M), B(2 * M), { r: true, w: false, x: true })).toBe(0n);
    expect(k.view.vmas(t).filter((v) => v.start >= a && v.end <= a + B(4 * M)).length).toBe(2);
    const d0 = vmData(k, t);
    k.setrlimit(t, "data", d0 + 3 * M, INF);
    // each 2M piece alone fits under the limit; the second does not once the first is data
    expect(k.mprotect(t, a, B(4 * M), RW)).toBe(B(-Errno.ENOMEM));
    // the first VMA was changed before the second was refused, as Linux's loop leaves it
    expect(vmData(k, t)).toBe(d0 + 2 * M);
    const second = k.view.vmas(t).find((v) => v.start === a + B(2 * M))!;
    expect(second.perms.startsWith("r-x")).toBe(true);
  });

  it("warns once per boot in the kernel log, with the VmData it would reach", () => {
    const { k, t } = setup();
    k.setrlimit(t, "data", M, INF);
    expect(k.mmap(t, mmapArgs(2 * M))).toBe(B(-Errno.ENOMEM));
    expect(k.mmap(t, mmapArgs(3 * M))).toBe(B(-Errno.ENOMEM));
    const warns = k.log.filter((l) => l.includes("exceed data ulimit"));
    expect(warns).toEqual([
      `mmap: A (${t.pid}): VmData ${2 * M} exceed data ulimit ${M}. Update limits or use boot option ignore_rlimit_data.`,
    ]);
  });

  it("soft RLIMIT_DATA 0 lets data mappings through up to the hard limit (the Valgrind workaround)", () => {
    const { k, t } = setup();
    k.setrlimit(t, "data", 0, INF);
    expect(k.mmap(t, mmapArgs(M))).toBeGreaterThan(0n);
    k.setrlimit(t, "data", 0, 4 * M);
    expect(k.mmap(t, mmapArgs(2 * M))).toBeGreaterThan(0n);
    expect(k.mmap(t, mmapArgs(2 * M))).toBe(B(-Errno.ENOMEM));
  });

  it("brk: check_data_rlimit on the heap's size (a shrink too), then do_brk_flags' may_expand_vm", () => {
    const { k, t } = setup();
    const b0 = k.brk(t, 0n);
    k.setrlimit(t, "data", 8 * M, INF);
    expect(k.brk(t, B(9 * M))).toBe(B(-Errno.ENOMEM)); // check_data_rlimit
    expect(k.mmap(t, mmapArgs(6 * M))).toBeGreaterThan(0n);
    expect(k.brk(t, B(4 * M))).toBe(B(-Errno.ENOMEM)); // heap fits, data_vm does not
    expect(k.brk(t, B(2 * M))).toBe(b0);
    k.setrlimit(t, "data", M, INF);
    expect(k.brk(t, -4096n)).toBe(B(-Errno.ENOMEM)); // the heap is past the new limit
    expect(k.brk(t, 0n)).toBe(b0 + B(2 * M));
    k.setrlimit(t, "as", vmSize(k, t), INF);
    k.setrlimit(t, "data", INF, INF);
    expect(k.brk(t, 4096n)).toBe(B(-Errno.ENOMEM)); // RLIMIT_AS
  });

  it("mremap: vma_to_resize's may_expand_vm for the pages added (a shrink is always allowed)", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(6 * M));
    k.setrlimit(t, "data", vmData(k, t) + M, INF);
    expect(k.mremap(t, a, B(6 * M), B(8 * M), true, -1n)).toBe(B(-Errno.ENOMEM));
    expect(k.mremap(t, a, B(6 * M), B(4 * M), false, -1n)).toBe(a);
    expect(k.mremap(t, a, B(4 * M), B(5 * M), true, -1n)).toBeGreaterThan(0n);
    // MREMAP_FIXED: checked after the target's unmap
    const s = k.mmap(t, mmapArgs(2 * M, { shared: true }));
    k.setrlimit(t, "as", vmSize(k, t), INF);
    expect(k.mremap(t, s, B(2 * M), B(3 * M), true, -1n)).toBe(B(-Errno.ENOMEM));
  });

  it("a MAP_HUGETLB mapping counts against RLIMIT_AS and RLIMIT_DATA, and MAP_LOCKED against RLIMIT_MEMLOCK", () => {
    const { k, t } = setup();
    k.sysctlHugepages(2);
    k.setrlimit(t, "as", vmSize(k, t) + 2 * M, INF);
    expect(k.mmap(t, mmapArgs(4 * M, { hugetlb: true }))).toBe(B(-Errno.ENOMEM));
    k.setrlimit(t, "as", INF, INF);
    k.setrlimit(t, "data", M, INF);
    expect(k.mmap(t, mmapArgs(2 * M, { hugetlb: true }))).toBe(B(-Errno.ENOMEM));
    expect(k.mmap(t, mmapArgs(2 * M, { hugetlb: true, shared: true }))).toBeGreaterThan(0n);
    k.setrlimit(t, "memlock", 64 * K, 64 * K);
    k.setUid(t, 1000);
    expect(k.mmap(t, mmapArgs(2 * M, { hugetlb: true, locked: true, privileged: false }))).toBe(
      B(-Errno.EAGAIN),
    );
  });

  it("stack growth past RLIMIT_AS or RLIMIT_STACK is a SIGSEGV", () => {
    const { k, t } = setup();
    const top = k.view.mm(t)!.stackTop;
    k.setrlimit(t, "as", vmSize(k, t), INF);
    expect(k.userAccess(0, t, top - B(256 * K), Access.Write, 1).ok).toBe(false);
    expect(t.signal).toBe("SIGSEGV");
    const u = k.spawn("U")!;
    k.switchTo(0, u);
    k.setrlimit(u, "stack", 256 * K, INF);
    expect(k.userAccess(0, u, k.view.mm(u)!.stackTop - B(200 * K), Access.Write, 1).ok).toBe(true);
    expect(k.userAccess(0, u, k.view.mm(u)!.stackTop - B(512 * K), Access.Write, 1).ok).toBe(false);
    expect(u.signal).toBe("SIGSEGV");
  });
});

describe("RLIMIT_MEMLOCK (can_do_mlock, mlock_future_ok, do_mlock)", () => {
  it("holds a uid other than 0: mlock -ENOMEM, MAP_LOCKED and locked growth -EAGAIN, limit 0 -EPERM", () => {
    const { k, t } = setup();
    k.setrlimit(t, "memlock", 64 * K, 64 * K);
    k.setUid(t, 1000);
    const p = k.mmap(t, mmapArgs(M, { privileged: false }));
    expect(k.mlock(t, p, B(32 * K), false)).toBe(0n);
    // the 32K locked already is not counted twice (count_mm_mlocked_page_nr)
    expect(k.mlock(t, p, B(64 * K), false)).toBe(0n);
    expect(k.mlock(t, p, B(128 * K), false)).toBe(B(-Errno.ENOMEM));
    expect(k.view.status(t).mem!.vmLck).toBe(64 * K);
    expect(k.mmap(t, mmapArgs(8 * K, { locked: true, privileged: false }))).toBe(B(-Errno.EAGAIN));
    expect(k.munlock(t, p, B(M))).toBe(0n);
    const l = k.mmap(t, mmapArgs(64 * K, { locked: true, privileged: false }));
    expect(l).toBeGreaterThan(0n);
    expect(k.mremap(t, l, B(64 * K), B(128 * K), true, -1n)).toBe(B(-Errno.EAGAIN));
    k.setrlimit(t, "memlock", 0, 0);
    expect(k.mlock(t, p, 4096n, false)).toBe(B(-Errno.EPERM));
    expect(k.mmap(t, mmapArgs(4096, { locked: true, privileged: false }))).toBe(B(-Errno.EPERM));
  });

  it("does not hold uid 0 (CAP_IPC_LOCK)", () => {
    const { k, t } = setup();
    k.setrlimit(t, "memlock", 0, 0);
    const p = k.mmap(t, mmapArgs(M));
    expect(k.mlock(t, p, B(M), false)).toBe(0n);
    expect(k.mmap(t, mmapArgs(64 * K, { locked: true }))).toBeGreaterThan(0n);
    expect(k.view.status(t).mem!.vmLck).toBe(M + 64 * K);
  });
});
