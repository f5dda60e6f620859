/**
 * Differential test of the deferred split of a THP: probe_dsplit.c writes a
 * 2 MiB PMD-aligned MADV_HUGEPAGE mapping and unmaps its second half; per
 * step it reports the mapping's Rss and AnonHugePages (smaps) and the change
 * in /proc/vmstat's thp_deferred_split_page, thp_split_pmd and
 * thp_split_page. The scenario below does the same on vmlab (`rss` and
 * `anon_huge` in pages, 4 kB each); they must be equal.
 *
 * What the numbers show on Linux 6.18 (as on 6.12): the munmap splits the
 * PMD (thp_split_pmd 1) and halves Rss, AnonHugePages drops to 0 (the folio
 * is mapped by PTEs now), and the folio is queued partially mapped
 * (thp_deferred_split_page 1) but not split (thp_split_page 0).
 *
 * Skipped, with the reason, where the machine cannot run it (no gcc, not
 * Linux, no thp_deferred_split_page counter) or where the real kernel gave no
 * huge page (no free 2 MiB block, THP disabled).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { buildProbe, leastNoise } from "./probeKit.ts";

const scenario = `
machine ram=256M thp=madvise
spawn A
A: a = mmap 2M at=0x20000000
A: madvise a 2M hugepage
let d0 = vmstat.thp_deferred_split_page
let p0 = vmstat.thp_split_pmd
let s0 = vmstat.thp_split_page
A: write a 2M
let touch_rss_kb = rss(A, a 2M)
let touch_huge_kb = anon_huge(A, a 2M)
let touch_deferred = vmstat.thp_deferred_split_page - d0
let touch_split_pmd = vmstat.thp_split_pmd - p0
let touch_split_page = vmstat.thp_split_page - s0
A: munmap a+1M 1M
let unmap_rss_kb = rss(A, a 1M)
let unmap_huge_kb = anon_huge(A, a 1M)
let unmap_deferred = vmstat.thp_deferred_split_page - d0
let unmap_split_pmd = vmstat.thp_split_pmd - p0
let unmap_split_page = vmstat.thp_split_page - s0
`;

const FIELDS = ["rss_kb", "huge_kb", "deferred", "split_pmd", "split_page"];

describe("the deferred split of a partially unmapped THP against this machine's Linux kernel", () => {
  const probe = buildProbe("probe_dsplit.c", false);
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `Rss, AnonHugePages and the thp_* counters${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      // three runs, keeping per step the one whose machine-wide counters moved least: another
      // process's THP work only adds to them
      // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
      const moved = (o: any) => (o.exp === "host" ? 0 : o.deferred + o.split_pmd + o.split_page);
      const real = leastNoise((probe as { path: string }).path, moved);
      const host = real.get("host");
      const touch = real.get("touch");
      if (host?.skip || touch?.huge_kb !== 2048) {
        console.log(
          `deferred split not compared: ${host?.skip ?? `the real kernel gave ${touch?.huge_kb} kB of huge pages`}`,
        );
        ctx.skip();
        return;
      }
      const sim = runScenario(scenario, { checkInvariants: true });
      const diffs: string[] = [];
      for (const exp of ["touch", "unmap"])
        for (const field of FIELDS) {
          const got = Number(BigInt(sim.metrics[`${exp}_${field}`])) * (field.endsWith("_kb") ? 4 : 1);
          const want = real.get(exp)[field];
          if (got !== want) diffs.push(`${exp} ${field}: vmlab ${got}, Linux ${want}`);
        }
      expect(diffs).toEqual([]);
    },
  );
});
