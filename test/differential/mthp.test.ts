/**
 * Differential test of anonymous multi-size THP: probe_mthp.c sets
 * hugepages-64kB/enabled to madvise (root; written back at its exit; not
 * always, which would give the host's other processes 64K folios too and
 * move the machine-wide stats), writes one page of a 256K MADV_HUGEPAGE
 * anonymous mapping, makes a write fall back to order 0
 * (a PTE already in its 64K block), and unmaps half the folio; per step it
 * reports Rss and AnonHugePages (smaps), the folio layout of the first 32
 * pages (pagemap + /proc/kpageflags: KPF_THP, KPF_COMPOUND_HEAD, contiguous
 * pfns) and the changes of hugepages-64kB/stats (anon_fault_alloc,
 * anon_fault_fallback, split_deferred, nr_anon_partially_mapped). The same
 * steps run on vmlab (the `mthp` statement, `show A pagemap`, the view's
 * kpageflags, `show thp`); they must be equal.
 *
 * What the numbers show on Linux 6.18 (as on 6.12): one fault maps 16 PTEs of
 * one 64K folio (Rss 64 kB, AnonHugePages 0: only PMD-mapped THPs count
 * there; every page KPF_THP, the first the head); a PTE in the block makes the
 * next write take one page, not counted as a fallback (pte_range_none drops
 * the order before any allocation); the partial munmap queues the folio
 * (split_deferred 1, nr_anon_partially_mapped 1).
 *
 * Then the write fault on a write-protected PTE of a 64K folio after fork
 * (one fresh folio each; 1 the page kept its frame, 0 copied): the child
 * exits, or munmaps its whole copy: the parent reuses the pages in place
 * (6.15+'s __wp_can_reuse_large_anon_folio: the folio is mapped by one mm
 * only; 6.12 copied); the child keeps half of it: the parent copies, and
 * reuses after the child's exit; both write: each copies, the parent reuses
 * after the child's exit.
 *
 * Skipped, with the reason, where the machine cannot run it (no gcc, not
 * Linux, no hugepages-64kB stats, another mTHP size enabled on the host,
 * not root).
 */
import { describe, expect, it } from "vitest";
import { Session } from "../../src/workloads/scenario/session.ts";
import { buildProbe, leastNoise } from "./probeKit.ts";

const N = 32;
const FIELDS = [
  "rss_kb",
  "huge_kb",
  "layout",
  "fault_alloc",
  "fault_fallback",
  "split_deferred",
  "partially_mapped",
] as const;

/** vmlab's records of the three steps. */
function runVmlab(): Map<string, Record<string, number | string>> {
  const s = new Session({ checkInvariants: true });
  let line = 1;
  const feed = (text: string) => s.feed(text, line++)!;
  feed("machine ram=256M thp=madvise");
  feed("mthp 64K madvise");
  feed("spawn A");
  feed("A: a = mmap 256K at=0x20000000");
  feed("A: madvise a 256K hugepage");
  const view = () => s.kernel!.view;
  const stat = (name: string) => Number(view().thp()[`hugepages-64kB/stats/${name}`] ?? 0);
  const out = new Map<string, Record<string, number | string>>();
  const report = (exp: string, vmaKb: number) => {
    const pm = feed(`show A pagemap a ${N}p`).view as { entry: string; pfn: number }[];
    let layout = "";
    let prev = -2;
    for (const e of pm) {
      const present = (BigInt(e.entry) >> 63n) & 1n;
      if (!present) layout += "-";
      else {
        const f = view().kpageflags(e.pfn)!;
        if (!((f >> 22n) & 1n)) layout += "4";
        else if ((f >> 15n) & 1n) layout += "H";
        else layout += e.pfn === prev + 1 ? "T" : "x";
      }
      prev = present ? e.pfn : -2;
    }
    feed(`let rss_${exp} = rss(A, a ${vmaKb}K)`);
    feed(`let huge_${exp} = anon_huge(A, a ${vmaKb}K)`);
    out.set(exp, {
      rss_kb: Number(s.variables.get(`rss_${exp}`)) * 4,
      huge_kb: Number(s.variables.get(`huge_${exp}`)) * 4,
      layout,
      fault_alloc: stat("anon_fault_alloc"),
      fault_fallback: stat("anon_fault_fallback"),
      split_deferred: stat("split_deferred"),
      partially_mapped: stat("nr_anon_partially_mapped"),
    });
  };
  feed("A: write a+20K");
  report("fault", 256);
  feed("mthp 64K never");
  feed("A: write a+64K");
  feed("mthp 64K madvise");
  feed("A: write a+80K");
  report("fallback", 256);
  feed("A: munmap a+32K 32K");
  report("unmap", 32);
  // the write faults after fork, one fresh 64K folio each (probe_mthp.c's cow)
  const pfn = (p: string, v: string, i: number) =>
    (feed(`show ${p} pagemap ${v}+${i * 4}K 1p`).view as { pfn: number }[])[0].pfn;
  const wr = (p: string, v: string, i: number) => {
    const before = pfn(p, v, i);
    feed(`${p}: write ${v}+${i * 4}K`);
    return pfn(p, v, i) === before ? 1 : 0;
  };
  // each: the child C's steps and the writes, in order (a statement string is fed, a write recorded)
  const cows: [string, (v: string, c: string) => (string | [string, number])[]][] = [
    ["cow_exit", (_v, c) => [`${c}: exit`, ["A", 3], ["A", 4]]],
    ["cow_unmap", (v, c) => [`${c}: munmap ${v} 64K`, ["A", 3], ["A", 4]]],
    ["cow_partial", (v, c) => [`${c}: munmap ${v} 32K`, ["A", 10], `${c}: exit`, ["A", 11]]],
    ["cow_both", (_v, c) => [["A", 3], [c, 3], `${c}: exit`, ["A", 5]]],
  ];
  cows.forEach(([exp, run], i) => {
    const v = `b${i}`;
    feed(`A: ${v} = mmap 64K at=0x20${i + 1}00000`);
    feed(`A: madvise ${v} 64K hugepage`);
    feed(`A: write ${v}`);
    feed(`A: fork C${i}`);
    const w = [-1, -1, -1];
    let n = 0;
    for (const step of run(v, `C${i}`))
      if (typeof step === "string") feed(step);
      else w[n++] = wr(step[0], v, step[1]);
    out.set(exp, { w1: w[0], w2: w[1], w3: w[2] });
  });
  return out;
}

describe("anonymous mTHP (hugepages-64kB) against this machine's Linux kernel", () => {
  const probe = buildProbe("probe_mthp.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `Rss, AnonHugePages, folio layout and the 64kB stats${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      // the stats are the machine's: another process's 64K faults only add to them
      // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
      const moved = (o: any) => (o.exp === "host" ? 0 : o.fault_alloc + o.fault_fallback + o.split_deferred);
      const real = leastNoise((probe as { path: string }).path, moved);
      const host = real.get("host");
      if (host?.skip || real.get("fault")?.layout === "unreadable") {
        console.log(`mTHP not compared: ${host?.skip ?? "pagemap pfns or kpageflags not readable"}`);
        ctx.skip();
        return;
      }
      const sim = runVmlab();
      const diffs: string[] = [];
      for (const exp of ["cow_exit", "cow_unmap", "cow_partial", "cow_both"])
        for (const field of ["w1", "w2", "w3"]) {
          const got = sim.get(exp)![field];
          const want = real.get(exp)?.[field];
          if (got !== want) diffs.push(`${exp} ${field}: vmlab ${got}, Linux ${want}`);
        }
      for (const exp of ["fault", "fallback", "unmap"])
        for (const field of FIELDS) {
          const got = sim.get(exp)![field];
          const want = real.get(exp)[field];
          if (got !== want) diffs.push(`${exp} ${field}: vmlab ${got}, Linux ${want}`);
        }
      expect(diffs).toEqual([]);
    },
  );
});
