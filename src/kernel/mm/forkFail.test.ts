/**
 * A fork that runs out of memory part way through dup_mmap leaks nothing:
 * the child's mm goes as copy_process's error path sends it (kernel/fork.c
 * bad_fork_cleanup_mm -> mmput -> exit_mmap, mmdrop -> mm_free_pgd). The
 * page-table allocations fail one after the other (the first, the second,
 * ... until the fork goes through), as fail_page_alloc would make them; after
 * each failed fork the kernel's books are what they were before it: free
 * frames, page-table pages, every frame's refcount and mapcount, swap slots,
 * shmem references, the HugeTLB pool, the commitment, and the invariant
 * checker finds nothing.
 */

import { describe, expect, it } from "vitest";
import type { Session } from "../../workloads/scenario/session.ts";
import { feedSession } from "../../workloads/scenario/testKit.ts";
import type { KernelCore } from "../core/core.ts";
import { shmObjects } from "../ipc/shm.ts";
import { mmapArgs, type TaskHandle } from "../Kernel.ts";
import { checkInvariants } from "../view/invariants.ts";
import { PageKind } from "./PageDesc.ts";

const session = feedSession;

/**
 * __vm_enough_memory's user reserve for A (mm/util.c): min(total_vm / 32,
 * user_reserve_kbytes), in pages. The tests' processes are root, so the
 * admin reserve does not apply.
 */
function reserveOf(s: Session, A: TaskHandle): number {
  const user = s.kernel!.sysctlOvercommit({}).user_reserve_kbytes / 4;
  return Math.min(Math.floor(s.kernel!.view.mm(A)!.totalVm / 32), Math.floor(user));
}

/** The most pages A may still map under overcommit=never: committed + pages < CommitLimit - reserve. */
function roomFor(s: Session, A: TaskHandle): number {
  const m = s.kernel!.view.meminfo();
  return (m.CommitLimit - m.Committed_AS) / 4096 - reserveOf(s, A) - 1;
}

/** What a failed fork must leave as it found it. */
function books(s: Session, k: KernelCore) {
  const view = s.kernel!.view;
  const m = view.meminfo();
  return {
    // free frames, those on the per-CPU lists too (a refill moves pages there from MemFree)
    meminfo: [
      m.MemFree + (k.buddy.pcp?.total() ?? 0) * 4096,
      m.PageTables,
      m.Committed_AS,
      m.HugePages_Free,
      m.HugePages_Rsvd,
      m.AnonHugePages,
    ],
    kinds: Array.from(k.pages.kind).reduce((c, x) => {
      c[x] = (c[x] ?? 0) + 1;
      return c;
    }, [] as number[]),
    refcount: Array.from(k.pages.refcount),
    mapcount: Array.from(k.pages.mapcount),
    swapUsed: k.swap?.used ?? 0,
    shmemRefs: shmObjects(k).map((o) => o.refs),
    tasks: view.tasks().length,
  };
}

const SETUP = (arch: string) =>
  [
    `machine arch=${arch} ram=128M swap=16M thp=always`,
    "spawn A",
    "sysctl nr_hugepages=2",
    "A: h = mmap 2M hugetlb",
    "A: write h",
    "A: t = mmap 4M",
    "A: write t+2M",
    "A: a = mmap 64K",
    "A: write a 64K",
    "A: madvise a+8K 8K pageout",
    "A: s = mmap 16K shared",
    "A: write s 16K",
    "file data size=16K",
    "A: f = mmap 16K file=data",
    "A: read f 16K",
  ].join("\n");

describe("a fork that fails part way frees the child's mm", () => {
  for (const arch of ["x86_64", "arm64"])
    it(`${arch}: every page-table allocation in turn fails; nothing leaks`, () => {
      let failures = 0;
      for (let n = 0; ; n++) {
        const s = session(SETUP(arch));
        const k = s.kernel! as unknown as KernelCore;
        const A = s.processes.get("A")!;
        expect(checkInvariants(k)).toEqual([]);
        // exit_mmap drains the LRU add batches (lru_add_drain), dropping their references: drain first
        k.userMm.env.lru?.fbatches.drain();
        const before = books(s, k);
        const alloc = k.buddy.alloc.bind(k.buddy);
        let left = n;
        k.buddy.alloc = (order, gfp, kind) =>
          kind === PageKind.PageTable && left-- <= 0 ? -1 : alloc(order, gfp, kind);
        const child = s.kernel!.fork(A, "B");
        k.buddy.alloc = alloc;
        if (child !== null) {
          // the allocation that succeeded with n page-table pages: every earlier n failed
          expect(n).toBeGreaterThanOrEqual(4);
          expect(books(s, k).refcount).not.toEqual(before.refcount);
          break;
        }
        failures++;
        expect(books(s, k), `fork failed at page-table allocation ${n}`).toEqual(before);
        expect(checkInvariants(k), `fork failed at page-table allocation ${n}`).toEqual([]);
        // and the parent goes on as before
        expect(s.feed("A: write t+2M+4K value=7", 100)!.output.join("\n")).toMatch(/write 1 page/);
      }
      expect(failures).toBeGreaterThanOrEqual(4);
    });

  for (const arch of ["x86_64", "riscv-sv39"])
    it(`${arch}: overcommit=never refuses the fork whose accounted VMAs pass CommitLimit, and charges the child when they fit`, () => {
      const setup = (size: string) =>
        session(
          `machine arch=${arch} ram=64M swap=0 overcommit=never\nspawn A\nA: a = mmap ${size}\nA: write a 8K\nA: s = mmap 8M shared\nA: write s 4K\n`,
        );
      // CommitLimit is half of RAM: 16M committed by A (and 8M by the shared mapping's shmem
      // object, shmem_acct_size) cannot be committed twice
      const s = setup("16M");
      const k = s.kernel! as unknown as KernelCore;
      const view = s.kernel!.view;
      // vm_commit_limit: RAM * overcommit_ratio (50%) + swap, meminfo's CommitLimit
      const m = view.meminfo();
      const limit = Math.floor(m.MemTotal / 4096 / 2) * 4096 + m.SwapTotal;
      expect(m.CommitLimit).toBe(limit);
      const committed = view.meminfo().Committed_AS;
      expect(committed * 2).toBeGreaterThan(limit);
      k.userMm.env.lru?.fbatches.drain();
      const before = books(s, k);
      expect(s.kernel!.fork(s.processes.get("A")!, "B")).toBeNull();
      expect(books(s, k)).toEqual(before);
      expect(checkInvariants(k)).toEqual([]);
      // 8M fits twice: the child is charged what its accounted VMAs cover; the shared mapping's
      // object was charged once, at mmap, and the fork shares it
      const t = setup("8M");
      const c0 = t.kernel!.view.meminfo().Committed_AS;
      expect(t.kernel!.fork(t.processes.get("A")!, "B")).not.toBeNull();
      expect(t.kernel!.view.meminfo().Committed_AS).toBe(2 * c0 - (8 << 20));
      expect(checkInvariants(t.kernel! as unknown as KernelCore)).toEqual([]);
    });

  it("meminfo's CommitLimit is vm_commit_limit: half of RAM less the HugeTLB pool, plus swap; overcommit=never refuses past it", () => {
    const s = session("machine ram=64M swap=16M overcommit=never\nspawn A\n");
    const view = s.kernel!.view;
    const m = view.meminfo();
    const half = Math.floor(m.MemTotal / 4096 / 2) * 4096;
    expect(m.CommitLimit).toBe(half + m.SwapTotal);
    // 8 HugeTLB pages of 2M leave RAM: the limit falls by half of 16M
    s.kernel!.sysctlHugepages(8);
    expect(view.meminfo().CommitLimit).toBe(half + m.SwapTotal - 8 * (1 << 20));
    // a private writable mapping one page past what is left fails, one within fits
    const A = s.processes.get("A")!;
    const room = roomFor(s, A);
    expect(s.kernel!.mmap(A, mmapArgs((room + 1) * 4096))).toBeLessThan(0n);
    expect(s.kernel!.mmap(A, mmapArgs(room * 4096))).toBeGreaterThan(0n);
  });

  it("Committed_AS and overcommit=never count a process's mm once, however many threads share it", () => {
    const s = session("machine ram=64M swap=0 overcommit=never\nspawn A\nA: a = mmap 8M\n");
    const view = s.kernel!.view;
    const c0 = view.meminfo().Committed_AS;
    const A = s.processes.get("A")!;
    s.kernel!.thread(A, "T");
    s.kernel!.thread(A, "U");
    expect(view.meminfo().Committed_AS).toBe(c0);
    // what is left to commit is the same as before the threads: a mapping of it all fits, a page more does not
    const room = roomFor(s, A);
    expect(room).toBe((view.meminfo().CommitLimit - c0) / 4096 - reserveOf(s, A) - 1);
    expect(s.kernel!.mmap(A, mmapArgs((room + 1) * 4096))).toBeLessThan(0n);
    expect(s.kernel!.mmap(A, mmapArgs(room * 4096))).toBeGreaterThan(0n);
  });
});
