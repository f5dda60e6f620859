/**
 * Differential test of /proc/PID/status's memory lines and high-water
 * marks: probe_status.c runs one sequence on this machine's Linux and
 * prints its status lines after each step; the scenario below runs the same
 * sequence on vmlab and reads `show A status`. The host process has libc's
 * mappings and pages, so what is compared is each field's change from the
 * first record, and the marks as their excess over the current value
 * (VmHWM - VmRSS, VmPeak - VmSize).
 *
 * What legitimately differs:
 * - VmHWM's excess is compared within a tolerance: the host records
 *   hiwater_rss with get_mm_rss, the RSS counters' approximate read
 *   (percpu_counter_read_positive: up to a batch of 32 pages per CPU and
 *   counter not yet folded in), while VmRSS is their exact sum
 *   (get_mm_counter_sum, Linux 6.16 and later; 6.12 read both
 *   approximately). vmlab's counters are exact.
 * - The fork child's RSS: the host child maps none of libc's file pages
 *   (dup_mmap copies no PTEs of a file VMA without an anon_vma), so only
 *   its marks' excess, VmSize, VmData and VmLck are compared.
 *
 * Skipped, with the reason, where the machine cannot run it.
 */

import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import type { StatusInfo } from "../../src/kernel/view/types.ts";
import { Session } from "../../src/workloads/scenario/session.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

const FIELDS = [
  "VmPeak",
  "VmSize",
  "VmLck",
  "VmHWM",
  "VmRSS",
  "RssAnon",
  "RssFile",
  "RssShmem",
  "VmData",
  "VmStk",
  "VmLib",
  "VmSwap",
] as const;
type Rec = Record<(typeof FIELDS)[number], number>;

/** probe_status.c's sequence (its second, measured run); `report NAME` reads the status. */
const pattern = `
A: res = mmap 16384p noreserve at=0x200000000000
report base
A: m = mmap 32p at=0x200060000000
A: write m 32p
A: blk = mmap 1p prot=r at=0x200060020000
A: mv = mremap m 32p 64p maymove to=0x200070000000
report mremap
A: a = mmap 2048p at=0x200010000000
A: write a 2048p
report touch
A: munmap a+1024p 1024p
report munmap
A: b = mmap 512p at=0x200020000000
A: write b 512p
report grow
A: madvise b 256p dontneed
report dontneed
A: x = mmap 8p prot=rx at=0x200030000000
A: ro = mmap 8p prot=r at=0x200038000000
report exec-ro
A: s = mmap 16p shared at=0x200040000000
A: write s 16p
report shared
A: l = mmap 8p at=0x200050000000
A: mlock l 8p
report mlock
A: munmap res 16384p
report unreserve
A: mprotect b+256p 256p prot=r
report mprotect
A: fork B
reportB fork-child
`;

function toRec(s: StatusInfo): Rec {
  const m = s.mem!;
  const kb = (n: number) => Math.floor(n / 1024);
  return {
    VmPeak: kb(m.vmPeak),
    VmSize: kb(m.vmSize),
    VmLck: kb(m.vmLck),
    VmHWM: kb(m.vmHwm),
    VmRSS: kb(m.vmRss),
    RssAnon: kb(m.rssAnon),
    RssFile: kb(m.rssFile),
    RssShmem: kb(m.rssShmem),
    VmData: kb(m.vmData),
    VmStk: kb(m.vmStk),
    VmLib: kb(m.vmLib),
    VmSwap: kb(m.vmSwap),
  };
}

function runVmlab(): Map<string, Rec> {
  const s = new Session({ checkInvariants: true });
  let line = 1;
  const feed = (text: string) => s.feed(text, line++)!;
  feed("machine ram=256M cpus=1");
  feed("spawn A");
  const out = new Map<string, Rec>();
  for (const text of pattern.trim().split("\n")) {
    const rep = /^report(B?) (\S+)$/.exec(text);
    if (!rep) {
      const r = feed(text);
      expect(r.output.join("\n")).not.toMatch(/error/i);
      continue;
    }
    out.set(rep[2], toRec(feed(`show ${rep[1] || "A"} status`).view as StatusInfo));
  }
  return out;
}

const built = buildProbe("probe_status.c", false);

describe.skipIf("skip" in built)("/proc/self/status against the host", () => {
  it("changes the same way step by step, with the same high-water marks", () => {
    const path = (built as { path: string }).path;
    const host = new Map<string, Rec & { exp: string }>();
    for (const l of hostRun(path).trim().split("\n")) {
      const o = JSON.parse(l);
      if (o.exp === "skip") return console.log(`not compared: ${o.why}`);
      host.set(o.exp, o);
    }
    const vm = runVmlab();
    const hb = host.get("base")!;
    const vb = vm.get("base")!;
    expect(hb.VmPeak - hb.VmSize).toBe(0);
    // the approximate RSS read's error bound: a batch per CPU for each of 3 counters (kB)
    const tol = 3 * 32 * availableParallelism() * 4;
    const diffs: string[] = [];
    for (const [exp, h] of host) {
      const v = vm.get(exp)!;
      expect(v, exp).toBeDefined();
      const child = exp === "fork-child";
      const peakH = h.VmPeak - h.VmSize;
      const peakV = v.VmPeak - v.VmSize;
      if (peakH !== peakV) diffs.push(`${exp} VmPeak-VmSize: host ${peakH}, vmlab ${peakV}`);
      const hwmH = h.VmHWM - h.VmRSS;
      const hwmV = v.VmHWM - v.VmRSS;
      if (Math.abs(hwmH - hwmV) > (child ? 0 : tol))
        diffs.push(`${exp} VmHWM-VmRSS: host ${hwmH}, vmlab ${hwmV} (tolerance ${tol})`);
      const compared = child
        ? (["VmSize", "VmData", "VmStk", "VmLib"] as const)
        : ([
            "VmSize",
            "VmLck",
            "VmRSS",
            "RssAnon",
            "RssFile",
            "RssShmem",
            "VmData",
            "VmStk",
            "VmLib",
            "VmSwap",
          ] as const);
      for (const f of compared)
        if (h[f] - hb[f] !== v[f] - vb[f])
          diffs.push(`${exp} ${f}: host +${h[f] - hb[f]}, vmlab +${v[f] - vb[f]}`);
      if (child && h.VmLck !== v.VmLck) diffs.push(`${exp} VmLck: host ${h.VmLck}, vmlab ${v.VmLck}`);
    }
    expect(diffs).toEqual([]);
    // the marks did keep something: the munmap's peak is most of the 4 MiB unmapped
    const m = host.get("munmap")!;
    expect(m.VmHWM - m.VmRSS).toBeGreaterThan(4096 - tol);
  });
});
