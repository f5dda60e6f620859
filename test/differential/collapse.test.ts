/**
 * Differential test of MADV_COLLAPSE (mm/khugepaged.ts madviseCollapse;
 * Linux mm/khugepaged.c madvise_collapse): probe_collapse.c writes 2 MiB
 * PMD-aligned regions page by page (a distinct byte in each page), in part
 * or not at all, and collapses them: the whole region, a part inside one
 * PMD, a MADV_NOHUGEPAGE region, and regions shared with a child after
 * fork (read-only in both, or with one page copied by the parent). Per
 * step it reports madvise's result, AnonHugePages and Rss, the change in
 * thp_collapse_alloc, and bytes read back; the scenario below does the
 * same on vmlab. They must be equal, and the child must read its own bytes
 * unchanged.
 *
 * What the numbers show on Linux 6.18: a fully written region collapses
 * into one huge page with its bytes; so does one half written, the rest
 * zeros (max_ptes_none does not apply to MADV_COLLAPSE); an untouched one
 * (no page table: SCAN_PMD_NONE) and a part of a PMD not starting at its
 * boundary are -EINVAL, one starting there is 0 with nothing done; a
 * MADV_NOHUGEPAGE region is -EINVAL; a region whose pages are all shared
 * read-only with a child collapses too (6.18 has no SCAN_PAGE_RO for
 * MADV_COLLAPSE, where 6.12 returned -EINVAL).
 *
 * Skipped, with the reason, where the machine cannot run it (no gcc, not
 * Linux, no thp_collapse_alloc) or where the real kernel collapsed nothing
 * (THP disabled, no free 2 MiB block).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { buildProbe, leastNoise } from "./probeKit.ts";

/**
 * fill() of probe_collapse.c, as far as the steps read it back: every page of [at, at + pages)
 * written (page by page, as the probe does), the byte at offset 17 of the pages read back
 * (0, 1, 5, 300, 511) set to the probe's (i + v).
 */
function fill(p: string, at: string, pages: number, v: number): string {
  const lines = [`${p}: write ${at} ${pages * 4096}`];
  for (const i of [0, 1, 5, 300, 511])
    if (i < pages) lines.push(`${p}: write ${at}+${i * 4096 + 17} value=${(i + v) & 255}`);
  return lines.join("\n");
}

/** step() of probe_collapse.c: collapse, then the step's fields as `let`s. */
function step(exp: string, p: string, at: string, off: number, len: string): string {
  return `let a0 = vmstat.thp_collapse_alloc
${p}: r = madvise ${at}+${off} ${len} collapse
let ${exp}_ret = r
let ${exp}_huge_kb = anon_huge(${p}, ${at} 2M)
let ${exp}_rss_kb = rss(${p}, ${at} 2M)
let ${exp}_alloc = vmstat.thp_collapse_alloc - a0
let ${exp}_b0 = byte(${p}, ${at}+17)
let ${exp}_b1 = byte(${p}, ${at}+${4096 + 17})
let ${exp}_b300 = byte(${p}, ${at}+${300 * 4096 + 17})
let ${exp}_b511 = byte(${p}, ${at}+${511 * 4096 + 17})`;
}

const scenario = `machine ram=256M thp=madvise check_tlb=on
spawn A
A: a = mmap 2M at=0x20000000
${fill("A", "a", 512, 1)}
${step("full", "A", "a", 0, "2M")}
A: b = mmap 2M at=0x20400000
${fill("A", "b", 256, 3)}
${step("hole", "A", "b", 0, "2M")}
A: c = mmap 2M at=0x20800000
${step("empty", "A", "c", 0, "2M")}
A: d = mmap 2M at=0x20c00000
${fill("A", "d", 512, 5)}
${step("inside", "A", "d", 4096, "8K")}
${step("inside_aligned", "A", "d", 0, "8K")}
A: e = mmap 2M at=0x21000000
${fill("A", "e", 512, 7)}
A: madvise e 2M nohugepage
${step("nohuge", "A", "e", 0, "2M")}
A: g = mmap 2M at=0x21400000
${fill("A", "g", 512, 9)}
A: h = mmap 2M at=0x21800000
${fill("A", "h", 512, 11)}
A: fork C
${step("fork_ro", "A", "g", 0, "2M")}
A: write h+${5 * 4096 + 17} value=42
${step("fork_shared", "A", "h", 0, "2M")}
let child_g300 = byte(C, g+${300 * 4096 + 17})
let child_h300 = byte(C, h+${300 * 4096 + 17})
let child_h5 = byte(C, h+${5 * 4096 + 17})
expect tlb.stale_uses == 0
`;

const FIELDS: Record<string, string[]> = {
  full: ["ret", "huge_kb", "rss_kb", "alloc", "b0", "b1", "b300", "b511"],
  hole: ["ret", "huge_kb", "rss_kb", "alloc", "b0", "b1", "b300", "b511"],
  empty: ["ret", "huge_kb", "rss_kb", "alloc"],
  inside: ["ret", "huge_kb", "rss_kb", "alloc", "b0", "b1", "b300", "b511"],
  inside_aligned: ["ret", "huge_kb", "rss_kb", "alloc"],
  nohuge: ["ret", "huge_kb", "rss_kb", "alloc", "b300"],
  fork_ro: ["ret", "huge_kb", "rss_kb", "alloc", "b0", "b300", "b511"],
  fork_shared: ["ret", "huge_kb", "rss_kb", "alloc", "b0", "b300", "b511"],
};

describe("MADV_COLLAPSE against this machine's Linux kernel", () => {
  const probe = buildProbe("probe_collapse.c", false);
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `results, AnonHugePages, thp_collapse_alloc and bytes${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      // thp_collapse_alloc is global: another process's collapse (the host's khugepaged) adds to it
      const real = leastNoise((probe as { path: string }).path, (o) => o.alloc ?? 0);
      const host = real.get("host");
      if (host?.skip || real.get("full")?.huge_kb !== 2048) {
        console.log(
          `MADV_COLLAPSE not compared: ${host?.skip ?? `the real kernel gave ${real.get("full")?.huge_kb} kB of huge pages`}`,
        );
        ctx.skip();
        return;
      }
      const sim = runScenario(scenario, { checkInvariants: true });
      expect(sim.expectations.filter((e) => !e.ok)).toEqual([]);
      const diffs: string[] = [];
      for (const [exp, fields] of Object.entries(FIELDS))
        for (const field of fields) {
          const v = BigInt(sim.metrics[`${exp}_${field}`]);
          // vmlab's page metrics count pages; the probe's _kb fields are kB
          const got = Number(v) * (field.endsWith("_kb") ? 4 : 1);
          const want = Number(real.get(exp)[field]);
          if (got !== want) diffs.push(`${exp} ${field}: vmlab ${got}, Linux ${want}`);
        }
      // the child's own bytes, unchanged by the parent's collapse (the probe's child checks the same)
      const m = (n: string) => Number(BigInt(sim.metrics[n]));
      const intact =
        m("child_g300") === ((300 + 9) & 255) &&
        m("child_h300") === ((300 + 11) & 255) &&
        m("child_h5") === 5 + 11;
      if (Number(intact) !== real.get("fork_child").intact)
        diffs.push(`fork_child intact: vmlab ${intact}, Linux ${real.get("fork_child").intact}`);
      expect(diffs).toEqual([]);
    },
  );
});
