/**
 * HugeTLB PMD sharing against this machine's kernel: probe_hugetlb_share.c
 * (as root) maps 1 GiB of 2 MiB pages MAP_SHARED | MAP_HUGETLB at 1 GiB,
 * touches two pages and forks; parent and child then take turns (reads and
 * writes of huge pages the other faulted in, MADV_DONTNEED of one huge page,
 * mprotect, munmap) and after each step print their minor faults during it,
 * the byte read, the change of VmPTE and HugetlbPages as printed. vmlab runs
 * the same steps through its library calls and must print the same records:
 * the faults a shared PMD table saves, the tables each mm counts, and
 * mm->hugetlb_usage's own count (below zero, printed unsigned, at the end).
 * The host's nr_hugepages and nr_overcommit_hugepages are written back
 * whatever happens; the test is skipped when they cannot be read or set, or
 * are not 0 (someone else's pool).
 * Linux: mm/hugetlb.c huge_pte_alloc, huge_pmd_share, huge_pmd_unshare
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import type { TaskHandle } from "../../src/kernel/Kernel.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { mmapArgs } from "../../src/kernel/mm/userMm.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { poolSkip, runPoolProbe } from "./hugetlbKit.ts";
import { buildProbe } from "./probeKit.ts";

interface Rec {
  who: string;
  exp: string;
  minflt: number;
  byte: number;
  vmpte: number;
  hugetlb: string;
}

const MB = 1n << 20n;
const GB = 1n << 30n;

/** The probe's steps on vmlab (x86-64, 2 MiB pages). */
function vmlabSteps(): Rec[] {
  const out: Rec[] = [];
  const k = new Kernel({ ramBytes: 1100 << 20 });
  expect(k.sysctlHugepages(520, 0)).toBe(520);
  const p = k.spawn("probe")!;
  let c: TaskHandle | null = null;
  const status = (t: TaskHandle) => k.view.status(t).mem!;
  let flt0 = 0;
  let pte0 = 0;
  const begin = (t: TaskHandle) => {
    k.switchTo(0, t);
    flt0 = k.view.task(t).minFlt;
    pte0 = status(t).vmPte;
  };
  const step = (t: TaskHandle, exp: string, byte: number | bigint) => {
    const m = status(t);
    // %lu of mm->hugetlb_usage in kB
    const kb = BigInt(Math.floor(m.hugetlbPages / 1024));
    out.push({
      who: t === p ? "P" : "C",
      exp,
      minflt: k.view.task(t).minFlt - flt0,
      byte: Number(byte),
      vmpte: (m.vmPte - pte0) / 1024,
      hugetlb: String(kb < 0n ? 2n ** 64n + kb : kb),
    });
  };
  const read = (t: TaskHandle, va: bigint) => {
    const r = k.userAccess(0, t, va, Access.Read, 0);
    return r.ok ? r.value : -1;
  };
  const write = (t: TaskHandle, va: bigint, v: number) =>
    expect(k.userAccess(0, t, va, Access.Write, v).ok).toBe(true);
  begin(p);
  const b = k.mmap(p, mmapArgs(Number(GB), { hugetlb: true, shared: true, addr: Number(GB), fixed: true }));
  expect(b).toBe(GB);
  write(p, b, 0x11);
  write(p, b + 2n * MB, 0x22);
  step(p, "touch-two", -1);
  c = k.fork(p, "child")!;
  begin(c);
  step(c, "read-0", read(c, b));
  begin(c);
  write(c, b + 4n * MB, 0x33);
  step(c, "write-4M", -1);
  begin(p);
  step(p, "read-4M", read(p, b + 4n * MB));
  begin(p);
  write(p, b + 6n * MB, 0x44);
  step(p, "write-6M", -1);
  begin(c);
  step(c, "dontneed-2M", k.madvise(c, b + 2n * MB, 2n * MB, "dontneed"));
  begin(c);
  step(c, "read-2M", read(c, b + 2n * MB));
  begin(c);
  step(c, "read-0-again", read(c, b));
  begin(c);
  step(c, "mprotect-r", k.mprotect(c, b, GB, { r: true, w: false, x: false }));
  begin(c);
  step(c, "read-2M-own", read(c, b + 2n * MB));
  begin(c);
  step(c, "munmap", k.munmap(c, b, GB));
  k.exit(c, "exit");
  begin(p);
  step(p, "read-6M", read(p, b + 6n * MB));
  begin(p);
  step(p, "munmap", k.munmap(p, b, GB));
  expect(checkInvariants(k)).toEqual([]);
  return out;
}

describe("vmlab against this machine's Linux kernel: HugeTLB PMD sharing", () => {
  const probe = buildProbe("probe_hugetlb_share.c", false);
  const skip = poolSkip(probe);
  it.skipIf(skip !== "")(
    `faults, VmPTE and HugetlbPages of two processes sharing a 1 GiB HugeTLB mapping's PMD table${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const host = runPoolProbe<Rec>((probe as { path: string }).path);
      if ((host[0]?.exp as string) === "skip") {
        console.log(`PMD sharing not compared: ${(host[0] as unknown as { why: string }).why}`);
        ctx.skip();
        return;
      }
      expect(vmlabSteps()).toEqual(host);
    },
  );
});
