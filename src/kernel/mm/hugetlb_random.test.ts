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
import { Access } from "../../hw/access.ts";
import type { TaskHandle } from "../Kernel.ts";
import { KernelImpl } from "../KernelImpl.ts";
import { rng } from "../mm.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./userMm.ts";

const ARCHS = ["x86_64", "arm64", "riscv-sv39", "i386-pae", "i386"] as const;

describe.each(ARCHS)("HugeTLB, random operations on %s", (arch) => {
  it.each([1, 2, 3])(
    "seed %i: the invariants hold at every step and the pool is whole at the end",
    (seed) => {
      const k = new KernelImpl({ ramBytes: 128 << 20, cpus: 2, arch });
      const hp = BigInt(k.view.meminfo().Hugepagesize);
      const r = rng(seed * 7919);
      const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
      const first = k.spawn("p0")!;
      const tasks: TaskHandle[] = [first];
      const maps = new Map<TaskHandle, { addr: bigint; len: bigint }[]>([[first, []]]);
      k.sysctlHugepages(10, 3);
      let step = 0;
      const check = (what: string) => expect(checkInvariants(k), `step ${step}: ${what}`).toEqual([]);
      for (step = 0; step < 200; step++) {
        const t = pick(tasks);
        k.switchTo(0, t);
        const ms = maps.get(t)!;
        const op = Math.floor(r() * 11);
        let what = "";
        if (op === 0 || ms.length === 0) {
          const pages = 1 + Math.floor(r() * 3);
          const shared = r() < 0.4;
          const noreserve = r() < 0.3;
          const a = k.mmap(t, mmapArgs(Number(hp) * pages, { hugetlb: true, shared, noreserve }));
          what = `mmap ${pages} ${shared ? "shared" : "private"}${noreserve ? " noreserve" : ""} = ${a}`;
          if (a > 0n) ms.push({ addr: a, len: hp * BigInt(pages) });
        } else {
          const m = pick(ms);
          const off = hp * BigInt(Math.floor(r() * Number(m.len / hp)));
          if (op <= 4) {
            k.catchSignal(t, "SIGBUS");
            k.catchSignal(t, "SIGSEGV");
            const w = r() < 0.6;
            k.userAccess(
              0,
              t,
              m.addr + off + 4096n * BigInt(Math.floor(r() * 8)),
              w ? Access.Write : Access.Read,
              1,
            );
            what = `${w ? "write" : "read"} +${off}`;
          } else if (op === 5 && tasks.length < 5) {
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
            // a huge page boundary or not: a misaligned munmap is -EINVAL and may leave a split
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
            what = `nr_hugepages=${k.sysctlHugepages(Math.floor(r() * 14))}`;
          } else if (tasks.length > 1 && t !== first) {
            k.exit(t, "exit");
            tasks.splice(tasks.indexOf(t), 1);
            what = "exit";
          }
        }
        check(what);
      }
      // the run went through the paths: faults, copies on write, SIGBUS from an empty pool
      const st = k.userMm.hstate.stats;
      expect(st.faults).toBeGreaterThan(20);
      expect(st.cowCopies + st.sigbus).toBeGreaterThan(0);
      for (const t of tasks) k.exit(t, "exit");
      check("all exited");
      const mi = k.view.meminfo();
      expect([mi.HugePages_Rsvd, mi.HugePages_Surp, mi.HugePages_Free]).toEqual([0, 0, mi.HugePages_Total]);
    },
  );
});
