/**
 * The random HugeTLB walk hugetlb_random.test.ts (every architecture's 2M/4M
 * page) and hugetlb_cont_random.test.ts (arm64's and RISC-V's contiguous
 * runs) share: one step picks a task and an operation (mmap private, shared
 * or MAP_NORESERVE; touches; fork; munmap whole or misaligned; MADV_DONTNEED;
 * mprotect; a pool resize; an mremap move where asked; exit) and calls
 * `check` after it. The caller owns the kernel, the pool and the end checks.
 */
import { Access } from "../hw/access.ts";
import type { TaskHandle } from "./Kernel.ts";
import type { KernelImpl } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";

export interface HugetlbWalk {
  /** the huge page size in bytes */
  hp: bigint;
  /** the random source (mm.testkit.ts rng) */
  r: () => number;
  steps: number;
  /** the CPU step `step` runs on */
  cpu: (step: number) => number;
  /** 4K pages of a huge page a touch may land on */
  touchPages: number;
  /** fork only below this many tasks */
  maxTasks: number;
  /** MAP_HUGE_SHIFT's size log (undefined: the default pool) */
  sizeLog?: number;
  /** the pool resize step: what it did */
  resize: () => string;
  /** an mremap move of a whole mapping is one of the operations */
  mremap: boolean;
  check: (step: number, what: string) => void;
}

/** Runs the walk from the task `first` (already spawned); returns the tasks alive at the end. */
export function hugetlbRandomWalk(k: KernelImpl, first: TaskHandle, w: HugetlbWalk): TaskHandle[] {
  const { hp, r } = w;
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const tasks: TaskHandle[] = [first];
  const maps = new Map<TaskHandle, { addr: bigint; len: bigint }[]>([[first, []]]);
  const ops = w.mremap ? 12 : 11;
  for (let step = 0; step < w.steps; step++) {
    const t = pick(tasks);
    const cpu = w.cpu(step);
    k.switchTo(cpu, t);
    const ms = maps.get(t)!;
    const op = Math.floor(r() * ops);
    let what = "";
    if (op === 0 || ms.length === 0) {
      const pages = 1 + Math.floor(r() * 3);
      const shared = r() < 0.4;
      const noreserve = r() < 0.3;
      const size = w.sizeLog === undefined ? {} : { hugetlbSizeLog: w.sizeLog };
      const a = k.mmap(t, mmapArgs(Number(hp) * pages, { hugetlb: true, ...size, shared, noreserve }));
      what = `mmap ${pages} ${shared ? "shared" : "private"}${noreserve ? " noreserve" : ""} = ${a}`;
      if (a > 0n) ms.push({ addr: a, len: hp * BigInt(pages) });
    } else {
      const m = pick(ms);
      const off = hp * BigInt(Math.floor(r() * Number(m.len / hp)));
      if (op <= 4) {
        k.catchSignal(t, "SIGBUS");
        k.catchSignal(t, "SIGSEGV");
        const write = r() < 0.6;
        const a = m.addr + off + 4096n * BigInt(Math.floor(r() * w.touchPages));
        k.userAccess(cpu, t, a, write ? Access.Write : Access.Read, 1);
        what = `${write ? "write" : "read"} +${off}`;
      } else if (op === 5 && tasks.length < w.maxTasks) {
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
        what = w.resize();
      } else if (op === 10 && w.mremap) {
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
    w.check(step, what);
  }
  return tasks;
}
