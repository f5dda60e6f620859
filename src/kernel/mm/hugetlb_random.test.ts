/**
 * HugeTLB under random sequences of operations (mm/hugetlb.ts), on every
 * architecture's huge page: private, shared and MAP_NORESERVE mappings,
 * touches, fork, exit, munmap (whole, halves, misaligned), mprotect,
 * MADV_DONTNEED, mremap and pool resizes, with the invariant checker after
 * every step (the pool's books, each folio's references and mappings, no
 * deposited table, no RSS) and, at the end, every process gone: the pool
 * whole again, nothing reserved, nothing surplus.
 */
import { describe, expect, it } from "vitest";
import { hugetlbRandomWalk } from "../hugetlb_random.testkit.ts";
import { KernelImpl } from "../KernelImpl.ts";
import { rng } from "../mm.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";

const ARCHS = ["x86_64", "arm64", "riscv-sv39", "i386-pae", "i386"] as const;

describe.each(ARCHS)("HugeTLB, random operations on %s", (arch) => {
  it.each([1, 2, 3])(
    "seed %i: the invariants hold at every step and the pool is whole at the end",
    (seed) => {
      const k = new KernelImpl({ ramBytes: 128 << 20, cpus: 2, arch });
      const hp = BigInt(k.view.meminfo().Hugepagesize);
      const r = rng(seed * 7919);
      const first = k.spawn("p0")!;
      k.sysctlHugepages(10, 3);
      const check = (step: number, what: string) =>
        expect(checkInvariants(k), `step ${step}: ${what}`).toEqual([]);
      const tasks = hugetlbRandomWalk(k, first, {
        hp,
        r,
        steps: 200,
        cpu: () => 0,
        touchPages: 8,
        maxTasks: 5,
        resize: () => `nr_hugepages=${k.sysctlHugepages(Math.floor(r() * 14))}`,
        mremap: false,
        check,
      });
      // the run went through the paths: faults, copies on write, SIGBUS from an empty pool
      const st = k.userMm.hstate.stats;
      expect(st.faults).toBeGreaterThan(20);
      expect(st.cowCopies + st.sigbus).toBeGreaterThan(0);
      for (const t of tasks) k.exit(t, "exit");
      check(200, "all exited");
      const mi = k.view.meminfo();
      expect([mi.HugePages_Rsvd, mi.HugePages_Surp, mi.HugePages_Free]).toEqual([0, 0, mi.HugePages_Total]);
    },
  );
});
