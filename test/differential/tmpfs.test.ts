/**
 * Differential test of tmpfs reclaim against this machine's Linux kernel:
 * probe_tmpfs.c maps a /dev/shm file of 64 written pages and 64 holes,
 * reads it whole, pages it out (MADV_PAGEOUT) and reads it again. tmpfs
 * pages are shmem folios on the anon LRU, so vmlab must show the same
 * present and cached pages and faults: the clean hole pages dropped from
 * the file, the written (dirty) ones swapped out (major faults to read
 * back) or, without swap, kept unmapped in the file (minor faults with
 * fault-around). Skipped, with the reason, where the probe cannot run.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { buildProbe, fewestFaults } from "./probeKit.ts";

/** The probe's steps on vmlab, with swap if the machine has some. */
const scenario = (swap: boolean) => `
machine ram=64M${swap ? " swap=64M" : ""}
file shm size=64p fs=tmpfs
spawn A
A: ftruncate shm 128p
A: t = mmap 128p prot=rw shared file=shm at=0x50000000
A: read t 128p
A: ret = madvise t 128p pageout
let written_present = present(A, t 64p)
let holes_present = present(A, t+64p 64p)
let cached = cached(shm)
let mi = A.min_flt
let ma = A.maj_flt
A: read t 64p
let written_minor = A.min_flt - mi
let written_major = A.maj_flt - ma
let mi = A.min_flt
let ma = A.maj_flt
A: read t+64p 64p
let holes_minor = A.min_flt - mi
let holes_major = A.maj_flt - ma
`;

describe("vmlab against this machine's Linux kernel: tmpfs reclaim", () => {
  const probe = buildProbe("probe_tmpfs.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `MADV_PAGEOUT of a tmpfs file's written pages and holes, and reading them again${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      const real = fewestFaults((probe as { path: string }).path);
      if (real.has("skip")) return; // no /dev/shm: nothing to compare
      const r = runScenario(scenario(real.get("pageout").swap_kb > 0), { checkInvariants: true });
      const v = (name: string) => Number(BigInt(r.metrics[name]));
      const w = real.get("written");
      const h = real.get("holes");
      expect({
        ret: v("ret"),
        present: [v("written_present"), v("holes_present")],
        cached: v("cached"),
        written: { minor: v("written_minor"), major: v("written_major") },
        holes: { minor: v("holes_minor"), major: v("holes_major") },
      }).toEqual({
        ret: real.get("pageout").ret,
        present: [w.present, h.present],
        cached: w.resident + h.resident,
        written: { minor: real.get("written-reread").minor, major: real.get("written-reread").major },
        holes: { minor: real.get("holes-reread").minor, major: real.get("holes-reread").major },
      });
    },
  );
});
