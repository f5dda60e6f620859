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
import { Access } from "../../hw/access.ts";
import type { TaskHandle } from "../Kernel.ts";
import { KernelImpl } from "../KernelImpl.ts";
import { rng } from "../mm.testkit.ts";
import { hugepagesInfo } from "../view/hugepages.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./userMm.ts";

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
        const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
        const first = k.spawn("p0")!;
        const tasks: TaskHandle[] = [first];
        const maps = new Map<TaskHandle, { addr: bigint; len: bigint }[]>([[first, []]]);
        expect(k.sysctlHugepages(pool, log < 20 ? 3 : null, kb)).toBe(pool);
        let step = 0;
        const check = (what: string) => {
          expect(checkInvariants(k), `step ${step}: ${what}`).toEqual([]);
          expect(k.machine.checker?.reports ?? [], `step ${step}: ${what}`).toEqual([]);
        };
        for (step = 0; step < 150; step++) {
          const t = pick(tasks);
          const cpu = step % 2;
          k.switchTo(cpu, t);
          const ms = maps.get(t)!;
          const op = Math.floor(r() * 12);
          let what = "";
          if (op === 0 || ms.length === 0) {
            const pages = 1 + Math.floor(r() * 3);
            const shared = r() < 0.4;
            const noreserve = r() < 0.3;
            const a = k.mmap(
              t,
              mmapArgs(Number(hp) * pages, { hugetlb: true, hugetlbSizeLog: log, shared, noreserve }),
            );
            what = `mmap ${pages} ${shared ? "shared" : "private"}${noreserve ? " noreserve" : ""} = ${a}`;
            if (a > 0n) ms.push({ addr: a, len: hp * BigInt(pages) });
          } else {
            const m = pick(ms);
            const off = hp * BigInt(Math.floor(r() * Number(m.len / hp)));
            if (op <= 4) {
              k.catchSignal(t, "SIGBUS");
              k.catchSignal(t, "SIGSEGV");
              const w = r() < 0.6;
              const a = m.addr + off + 4096n * BigInt(Math.floor(r() * 16));
              k.userAccess(cpu, t, a, w ? Access.Write : Access.Read, 1);
              what = `${w ? "write" : "read"} +${off}`;
            } else if (op === 5 && tasks.length < 4) {
              const c = k.fork(t, `p${step}`);
              if (c !== null) {
                tasks.push(c);
                maps.set(
                  c,
                  ms.map((x) => ({ ...x })),
                );
              }
              what = "fork";
            } else if (op === 6) {
              const misaligned = r() < 0.2;
              const res = k.munmap(t, m.addr + off + (misaligned ? 4096n : 0n), misaligned ? 4096n : hp);
              what = `munmap +${off}${misaligned ? " misaligned" : ""} = ${res}`;
              if (res === 0n) {
                ms.splice(ms.indexOf(m), 1);
                if (off > 0n) ms.push({ addr: m.addr, len: off });
                if (off + hp < m.len) ms.push({ addr: m.addr + off + hp, len: m.len - off - hp });
              }
            } else if (op === 7) {
              what = `dontneed = ${k.madvise(t, m.addr + off, hp, "dontneed")}`;
            } else if (op === 8) {
              const prot = r() < 0.5 ? { r: true, w: false, x: false } : { r: true, w: true, x: false };
              what = `mprotect = ${k.mprotect(t, m.addr + off, hp, prot)}`;
            } else if (op === 9) {
              what = `nr_hugepages=${k.sysctlHugepages(Math.floor(r() * (pool + 4)), null, kb)}`;
            } else if (op === 10) {
              // move_hugetlb_page_tables: the whole mapping elsewhere (MREMAP_MAYMOVE, same size)
              const to = k.mremap(t, m.addr, m.len, m.len, true, -1n, true);
              what = `mremap dontunmap = ${to}`;
              if (to > 0n) ms.push({ addr: to, len: m.len });
            } else if (tasks.length > 1 && t !== first) {
              k.exit(t, "exit");
              tasks.splice(tasks.indexOf(t), 1);
              what = "exit";
            }
          }
          check(what);
        }
        const h = k.userMm.hstates.find((x) => x.nrPages * 4096 === Number(hp))!;
        expect(h.ncontig).toBe(16);
        expect(h.stats.faults).toBeGreaterThan(3);
        for (const t of tasks) k.exit(t, "exit");
        check("all exited");
        const dir = `/sys/kernel/mm/hugepages/hugepages-${kb}kB`;
        const info = hugepagesInfo(k);
        expect([info[`${dir}/resv_hugepages`], info[`${dir}/surplus_hugepages`]]).toEqual([0, 0]);
        expect(info[`${dir}/free_hugepages`]).toBe(info[`${dir}/nr_hugepages`]);
      },
    );
  },
);
