/**
 * MADV_REMOVE on HugeTLB memory against this machine's kernel:
 * probe_hugetlb_remove.c (as root) sets /proc/sys/vm/nr_hugepages to 4 and
 * prints /proc/meminfo's HugePages_Total, _Free, _Rsvd and _Surp after each
 * step (a shared MAP_HUGETLB mapping with one huge page reserved and never
 * instantiated; a hole of partial huge pages, zeroed in place; a hole of
 * the whole mapping, which frees the folios and keeps the reservation of the
 * page that had none; the touches after it; EACCES on a private mapping,
 * ENOMEM past the end, EINVAL unaligned; a SHM_HUGETLB segment's hole);
 * vmlab runs the same steps through its library calls and must print the
 * same return values and counts at every step.
 * The host's nr_hugepages and nr_overcommit_hugepages are written back
 * whatever happens (the probe does it too); the test is skipped when they
 * cannot be read or set, or are not 0 (someone else's pool).
 * Linux: mm/madvise.c madvise_remove; fs/hugetlbfs/inode.c hugetlbfs_punch_hole, remove_inode_hugepages
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import { IPC_PRIVATE, SHM_HUGETLB } from "../../src/kernel/ipc/shm.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { mmapArgs } from "../../src/kernel/mm/userMm.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { HPAGE, poolSkip, runPoolProbe, type Step, stepOf } from "./hugetlbKit.ts";
import { buildProbe } from "./probeKit.ts";

const MB = 1n << 20n;

/** The probe's steps on vmlab (x86-64: 2 MiB huge pages, as the host's). */
function vmlabSteps(): Step[] {
  const out: Step[] = [];
  const k = new Kernel({ ramBytes: 256 << 20, cpus: 2 });
  const report = (exp: string, ret: number | bigint) => out.push(stepOf(k, exp, ret));
  const t = k.spawn("probe")!;
  k.switchTo(0, t);
  const access = (va: bigint, w: boolean, v = 0) => k.userAccess(0, t, va, w ? Access.Write : Access.Read, v);
  const byte = (va: bigint) => {
    const r = access(va, false);
    return r.ok ? r.value : -1;
  };
  const fill = (va: bigint, len: bigint, v: number) => {
    for (let o = 0n; o < len; o += 4096n) expect(access(va + o, true, v).ok).toBe(true);
  };
  // the bytes the probe reads at a page's last byte were written by its memset
  const remove = (va: bigint, len: bigint) => k.madvise(t, va, len, "remove");
  report("set", k.sysctlHugepages(4, 0));
  const s = k.mmap(t, mmapArgs(3 * Number(HPAGE), { hugetlb: true, shared: true }));
  report("shared-mmap", s < 0n ? s : 0);
  fill(s, HPAGE, 5);
  fill(s + 2n * HPAGE, HPAGE, 6);
  // memset's other bytes: the last byte of the page below 1M, read back below
  expect(access(s + MB - 1n, true, 5).ok).toBe(true);
  expect(access(s + 5n * MB - 1n, true, 6).ok).toBe(true);
  report("touch-first-last", 0);
  report("remove-partial", remove(s + MB, 4n * MB));
  report("byte-1M-1", byte(s + MB - 1n));
  report("byte-1M", byte(s + MB));
  report("byte-5M-1", byte(s + 5n * MB - 1n));
  report("byte-5M", byte(s + 5n * MB));
  report("remove-whole", remove(s, 3n * HPAGE));
  report("byte-0", byte(s));
  report("byte-2M", byte(s + HPAGE));
  report("byte-4M", byte(s + 2n * HPAGE));

  const p = k.mmap(t, mmapArgs(Number(HPAGE), { hugetlb: true }));
  report("private-mmap", p < 0n ? p : 0);
  expect(access(p, true, 1).ok).toBe(true);
  report("private-remove", remove(p, HPAGE));
  report("past-end", remove(s + 3n * HPAGE - 4096n, 8192n));
  report("unaligned", remove(s + 1n, 4096n));
  expect(k.munmap(t, p, HPAGE)).toBe(0n);
  report("munmap-private", 0);

  const id = Number(k.shmget(t, IPC_PRIVATE, Number(HPAGE), SHM_HUGETLB | 0o600));
  report("shmget", Math.min(id, 0));
  const a = k.shmat(t, id, 0n, 0);
  report("shmat", a < 0n ? a : 0);
  expect(access(a + 7n, true, 7).ok).toBe(true);
  report("shm-touch", byte(a + 7n));
  report("shm-remove", remove(a, HPAGE));
  report("shm-byte", byte(a + 7n));
  k.shmdt(t, a);
  k.shmctl(t, id, "rmid");
  report("shm-rmid", 0);
  expect(k.munmap(t, s, 3n * HPAGE)).toBe(0n);
  report("munmap-shared", 0);
  expect(checkInvariants(k)).toEqual([]);
  return out;
}

describe("vmlab against this machine's Linux kernel: MADV_REMOVE on HugeTLB memory", () => {
  const probe = buildProbe("probe_hugetlb_remove.c", false);
  const skip = poolSkip(probe);
  it.skipIf(skip !== "")(
    `return values and HugePages_* after each hole punched in MAP_HUGETLB and SHM_HUGETLB memory${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const host = runPoolProbe<Step>((probe as { path: string }).path);
      if (host[0]?.exp === "skip") {
        console.log(`MADV_REMOVE on HugeTLB not compared: ${(host[0] as unknown as { why: string }).why}`);
        ctx.skip();
        return;
      }
      expect(vmlabSteps()).toEqual(host);
    },
  );
});
