/**
 * HugeTLB pages against this machine's kernel: probe_hugetlb.c (as root)
 * sets /proc/sys/vm/nr_hugepages to 4 and prints /proc/meminfo's
 * HugePages_Total, _Free, _Rsvd and _Surp after each step (a private
 * MAP_HUGETLB mapping: mmap, touch, fork and the child's COW, its exit; a
 * shared mapping touched by a child and the parent; ENOMEM; MAP_NORESERVE
 * until SIGBUS; nr_hugepages=0 with folios in use; the munmaps, one
 * misaligned); vmlab runs the same steps through its library calls and must
 * print the same four counts, and the same return values, at every step,
 * and the same smaps fields (page sizes, Rss, Shared_/Private_Hugetlb,
 * VmFlags) for both mappings after the shared one's touches.
 * The host's nr_hugepages and nr_overcommit_hugepages are written back
 * whatever happens (the probe does it too); the test is skipped when they
 * cannot be read or set, or are not 0 (someone else's pool).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { mmapArgs } from "../../src/kernel/mm/userMm.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import {
  HPAGE,
  poolSkip,
  runPoolProbe,
  type SmapsFields,
  type Step,
  smapsFieldsOf,
  stepOf,
} from "./hugetlbKit.ts";
import { buildProbe } from "./probeKit.ts";

/** The probe's steps on vmlab (x86-64: 2 MiB huge pages, as the host's), and its smaps records. */
function vmlabSteps(): { steps: Step[]; smaps: SmapsFields[] } {
  const smapsOut: SmapsFields[] = [];
  const k = new Kernel({ ramBytes: 256 << 20, cpus: 2 });
  const steps: Step[] = [];
  const report = (exp: string, ret: number | bigint) => steps.push(stepOf(k, exp, ret));
  const t = k.spawn("probe")!;
  k.switchTo(0, t);
  const write = (task: typeof t, va: bigint, v: number) => k.userAccess(0, task, va, Access.Write, v);
  report("set", k.sysctlHugepages(4, 0));
  const p = k.mmap(t, mmapArgs(Number(HPAGE) + 4096, { hugetlb: true }));
  expect(p > 0n).toBe(true);
  report("private-mmap", 0);
  expect(write(t, p, 1).ok).toBe(true);
  report("private-touch", 0);
  const c = k.fork(t, "child")!;
  k.switchTo(0, c);
  expect(write(c, p, 3).ok).toBe(true);
  report("child-cow", 3);
  k.exit(c, "exit");
  k.switchTo(0, t);
  report("child-exit", 1);
  const s = k.mmap(t, mmapArgs(Number(HPAGE), { hugetlb: true, shared: true }));
  report("shared-mmap", s < 0n ? s : 0);
  const c2 = k.fork(t, "child2")!;
  k.switchTo(0, c2);
  expect(write(c2, s, 5).ok).toBe(true);
  report("shared-child-touch", 5);
  k.exit(c2, "exit");
  k.switchTo(0, t);
  report("shared-child-exit", 0);
  expect(write(t, s + 1n, 6).ok).toBe(true);
  report("shared-parent-touch", 5);
  for (const [exp, va] of [
    ["smaps-private", p],
    ["smaps-shared", s],
  ] as const) {
    smapsOut.push(smapsFieldsOf(k, t, va, exp));
  }
  const big = k.mmap(t, mmapArgs(4 * Number(HPAGE), { hugetlb: true }));
  report("enomem", big < 0n ? big : 0);
  const nr = k.mmap(t, mmapArgs(4 * Number(HPAGE), { hugetlb: true, noreserve: true }));
  report("noreserve-mmap", nr < 0n ? nr : 0);
  k.catchSignal(t, "SIGBUS");
  let i = 0;
  let bus = false;
  for (; i < 4 && !bus; i++) bus = !write(t, nr + BigInt(i) * HPAGE, 1).ok;
  report("noreserve-touch", bus ? i : 0);
  report("shrink", k.sysctlHugepages(0));
  expect(k.munmap(t, nr, 4n * HPAGE)).toBe(0n);
  report("munmap-noreserve", 0);
  expect(k.munmap(t, s, HPAGE)).toBe(0n);
  report("munmap-shared", 0);
  report("munmap-misaligned", k.munmap(t, p + 4096n, 4096n));
  expect(k.munmap(t, p, 2n * HPAGE)).toBe(0n);
  report("munmap-private", 0);
  expect(checkInvariants(k)).toEqual([]);
  return { steps, smaps: smapsOut };
}

describe("vmlab against this machine's Linux kernel: HugeTLB pages", () => {
  const probe = buildProbe("probe_hugetlb.c", false);
  const skip = poolSkip(probe);
  it.skipIf(skip !== "")(
    `HugePages_Total, _Free, _Rsvd and _Surp after each step of private, shared and MAP_NORESERVE mappings, fork's COW, a pool shrink${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const all = runPoolProbe<Step | SmapsFields>((probe as { path: string }).path);
      if (all[0]?.exp === "skip") {
        console.log(`HugeTLB not compared: ${(all[0] as unknown as { why: string }).why}`);
        ctx.skip();
        return;
      }
      const got = vmlabSteps();
      expect(got.steps).toEqual(all.filter((o) => !o.exp.startsWith("smaps-")));
      const hostSmaps = all.filter((o) => o.exp.startsWith("smaps-")) as SmapsFields[];
      // the host's "sd" too, where it has soft-dirty
      expect(got.smaps).toEqual(hostSmaps.map((o) => ({ ...o, VmFlags: o.VmFlags.replace("sd ", "") })));
    },
  );
});
