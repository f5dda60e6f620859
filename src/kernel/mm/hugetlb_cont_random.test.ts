/**
 * The contiguous HugeTLB sizes (mm/hugetlb_cont.ts: arm64's 64K and 32M
 * runs with PTE_CONT, RISC-V's 64K NAPOT runs) under random sequences of
 * operations: private, shared and MAP_NORESERVE mappings, touches, fork,
 * exit, munmap (whole, misaligned), mprotect, MADV_DONTNEED, mremap (a
 * move) and pool resizes, with the invariant checker after every step (the
 * pool's books, each folio counted once per run) and the TLB coherence
 * checker on (a run rewritten without its break-before-make, or a flush
 * missing, leaves a stale or misprogrammed translation that it reports);
 * at the end, every process gone, the pool whole again.
 */
import { describe, expect, it } from "vitest";
import { hugetlbRandomWalk } from "../hugetlb_random.testkit.ts";
import { KernelImpl } from "../KernelImpl.ts";
import { rng } from "../mm.testkit.ts";
import { hugepagesInfo } from "../view/hugepages.ts";
import { checkInvariants } from "../view/invariants.ts";

const CASES = [
  { arch: "arm64", log: 16, pool: 10, ram: 128 },
  { arch: "arm64", log: 25, pool: 3, ram: 256 },
  { arch: "riscv-sv39", log: 16, pool: 10, ram: 128 },
] as const;

describe.each(CASES)(
  "contiguous HugeTLB pages of 2^$log bytes, random operations on $arch",
  ({ arch, log, pool, ram }) => {
    it.each([1, 2])(
      "seed %i: the invariants hold, no stale TLB use, the pool is whole at the end",
      (seed) => {
        const k = new KernelImpl({
          ramBytes: ram << 20,
          cpus: 2,
          arch,
          checkCoherence: true,
          svnapot: arch !== "arm64" ? true : undefined,
        });
        const hp = 2n ** BigInt(log);
        const kb = Number(hp / 1024n);
        const r = rng(seed * 104729);
        const first = k.spawn("p0")!;
        expect(k.sysctlHugepages(pool, log < 20 ? 3 : null, kb)).toBe(pool);
        const check = (step: number, what: string) => {
          expect(checkInvariants(k), `step ${step}: ${what}`).toEqual([]);
          expect(k.machine.checker?.reports ?? [], `step ${step}: ${what}`).toEqual([]);
        };
        const tasks = hugetlbRandomWalk(k, first, {
          hp,
          r,
          steps: 150,
          cpu: (step) => step % 2,
          touchPages: 16,
          maxTasks: 4,
          sizeLog: log,
          resize: () => `nr_hugepages=${k.sysctlHugepages(Math.floor(r() * (pool + 4)), null, kb)}`,
          mremap: true,
          check,
        });
        const h = k.userMm.hstates.find((x) => x.nrPages * 4096 === Number(hp))!;
        expect(h.ncontig).toBe(16);
        expect(h.stats.faults).toBeGreaterThan(3);
        for (const t of tasks) k.exit(t, "exit");
        check(150, "all exited");
        const dir = `/sys/kernel/mm/hugepages/hugepages-${kb}kB`;
        const info = hugepagesInfo(k);
        expect([info[`${dir}/resv_hugepages`], info[`${dir}/surplus_hugepages`]]).toEqual([0, 0]);
        expect(info[`${dir}/free_hugepages`]).toBe(info[`${dir}/nr_hugepages`]);
      },
    );
  },
);
