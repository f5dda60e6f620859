/**
 * Differential test of shmem reclaim against this machine's Linux kernel:
 * probe_shmem.c pages out (MADV_PAGEOUT) shared anonymous memory that was
 * only read and memory that was written, and reads both again; vmlab must
 * show the same present and resident pages and faults: the clean pages
 * dropped from the object, the dirty ones swapped out (major faults to read
 * back) or, without swap, kept unmapped in the object (minor faults with
 * fault-around). Skipped, with the reason, where the probe cannot run.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { buildProbe, fewestFaults } from "./probeKit.ts";

/** The probe's steps on vmlab, with swap if the machine has some. */
const scenario = (swap: boolean) => `
machine ram=64M${swap ? " swap=64M" : ""}
spawn A
A: s = mmap 64p shared at=0x50000000
A: t = mmap 64p shared at=0x50200000
A: read s 64p
A: clean_ret = madvise s 64p pageout
let clean_present = present(A, s 64p)
let clean_resident = meminfo.Shmem
A: write t 64p value=7
A: dirty_ret = madvise t 64p pageout
let dirty_present = present(A, t 64p)
let dirty_resident = meminfo.Shmem - clean_resident
let mi = A.min_flt
let ma = A.maj_flt
A: read s 64p
let clean_reread_minor = A.min_flt - mi
let clean_reread_major = A.maj_flt - ma
let mi = A.min_flt
let ma = A.maj_flt
A: read t 64p
let dirty_reread_minor = A.min_flt - mi
let dirty_reread_major = A.maj_flt - ma
`;

describe("vmlab against this machine's Linux kernel: shmem reclaim", () => {
  const probe = buildProbe("probe_shmem.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `MADV_PAGEOUT of clean and dirty shared anonymous memory, and reading it again${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      const real = fewestFaults((probe as { path: string }).path);
      const r = runScenario(scenario(real.get("dirty").swap_kb > 0), { checkInvariants: true });
      const v = (name: string) => Number(BigInt(r.metrics[name]));
      const got = {
        clean: { ret: v("clean_ret"), present: v("clean_present"), resident: v("clean_resident") / 4096 },
        dirty: { ret: v("dirty_ret"), present: v("dirty_present"), resident: v("dirty_resident") / 4096 },
        cleanReread: { minor: v("clean_reread_minor"), major: v("clean_reread_major") },
        dirtyReread: { minor: v("dirty_reread_minor"), major: v("dirty_reread_major") },
      };
      const c = real.get("clean");
      const d = real.get("dirty");
      expect(got).toEqual({
        clean: { ret: c.ret, present: c.present, resident: c.resident },
        dirty: { ret: d.ret, present: d.present, resident: d.resident },
        cleanReread: { minor: real.get("clean-reread").minor, major: real.get("clean-reread").major },
        dirtyReread: { minor: real.get("dirty-reread").minor, major: real.get("dirty-reread").major },
      });
    },
  );
});
