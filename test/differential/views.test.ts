/**
 * Differential test of the kernel's own views (issue #21): probe_views.c
 * runs one access pattern on this machine's Linux and reads, per
 * experiment, /proc/self/pagemap for each page, /proc/kpageflags for each
 * mapped frame and the mapping's /proc/self/smaps block; the scenario below
 * runs the same pattern on vmlab and reads the same views through
 * `show A pagemap`, the view's kpageflags and `show A smaps`. They are
 * compared field by field. What legitimately differs is named here:
 *
 * - PFNs: two machines' frames; only what a frame is (none, the zero page,
 *   a frame, a swap entry) is compared.
 * - Soft-dirty (pagemap bit 55 and `sd` in VmFlags) depends on the host's
 *   CONFIG_MEM_SOFT_DIRTY; when the host has none the bit is compared only
 *   for vmlab's own consistency (bit 55 set exactly where VmFlags says sd).
 * - A guard marker's swap type and offset (SWP_PTE_MARKER's): only the
 *   PM_SWAP and PM_GUARD_REGION bits are compared.
 * - kpageflags' PG_idle (KPF_IDLE) and PG_arch bits: set by page_idle
 *   tracking and architecture code vmlab does not have; masked out.
 * - The zero page's PG_referenced (KPF_REFERENCED): the host's one zero page
 *   is shared by every process, and any GUP with FOLL_TOUCH over a mapping of
 *   it (mlock, MADV_POPULATE_READ, another test's probe) sets the bit for good
 *   (follow_page_pte's mark_page_accessed): the host's history, not this
 *   pattern's; masked out on zero-page frames.
 *
 * probe_views.c empties its CPU's LRU add batch (lru_add_drain, by
 * MADV_COLD on a spare page) before most reports; the scenario does the
 * same, at the same points: until then a new page has no KPF_LRU.
 *
 * Differences it found and vmlab fixed: VmFlags' order, `sd` and `gu`
 * (VM_MAYBE_GUARD); a guard marker's PM_SWAP; KPF_OWNER_2
 * (PG_anon_exclusive); shmem's PG_swapbacked and PG_dirty; PG_referenced
 * after population (FOLL_TOUCH); PG_mlocked and PG_unevictable; KPF_LRU on
 * shmem (shmem folios live on the anon LRU). Any still open is named in
 * KNOWN_GAPS (none now).
 *
 * Skipped, with the reason, where the machine cannot run it (no gcc, not
 * Linux); kpageflags where this process cannot read it (no CAP_SYS_ADMIN),
 * frame kinds where PFNs read as zero.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Session } from "../../src/workloads/scenario/session.ts";
import { buildProbe, underHostLock } from "./probeKit.ts";

const N = 16;
const REGION = (i: number) => `0x${(0x10000000 + i * 0x100000).toString(16)}`;

/** pagemap's flag bits as the probe prints them (entry >> 55). */
const PM = { softDirty: 1, exclusive: 2, uffdWp: 4, guard: 8, file: 64, swap: 128, present: 256 };
/** kpageflags bits that vmlab does not model: KPF_IDLE (25), KPF_ARCH (38), KPF_ARCH_2 (41). */
const KPF_UNMODELLED = (1n << 25n) | (1n << 38n) | (1n << 41n);
/** KPF_REFERENCED (2): on the zero page, the host's history (above) */
const KPF_REFERENCED = 1n << 2n;
/** kpageflags as compared: the unmodelled bits out, and on the zero page PG_referenced too. */
const kpfCompared = (kpf: bigint, frame: string) =>
  `0x${(kpf & ~KPF_UNMODELLED & ~(frame === "zero" ? KPF_REFERENCED : 0n)).toString(16)}`;
/**
 * Differences this test found that vmlab has not closed yet, by experiment:
 * the kpageflags bits left out of the comparison, and why.
 */
const KNOWN_GAPS: Record<string, { kpf: bigint; why: string }> = {};

interface PageView {
  flags: number;
  frame: string;
  kpf: string;
}
interface ExpView {
  pages: PageView[];
  smaps: Record<string, number | string>;
}

/** The access pattern, as probe_views.c does it; `report NAME VAR` marks where the views are read. */
const pattern = `
A: z = mmap 1p
A: read z
report zero z
A: munmap z 1p
A: u = mmap ${N}p at=${REGION(0)}
report untouched u
A: r = mmap ${N}p at=${REGION(1)}
A: read r ${N}p
A: spare = mmap 1p
A: madvise spare 1p cold
report read r
A: w = mmap ${N}p at=${REGION(2)}
A: write w ${N}p
A: madvise spare 1p cold
report write w
A: f = mmap ${N}p at=${REGION(3)}
A: write f ${N}p
A: fork B
A: madvise spare 1p cold
report fork-shared f
B: write f ${N / 4}p
report fork-child-wrote f
B: exit
report fork-child-exited f
A: write f ${N}p
report fork-parent-wrote f
A: s = mmap ${N}p shared at=${REGION(4)}
A: write s ${N}p
A: madvise spare 1p cold
report shared-anon s
A: p = mmap ${N}p populate at=${REGION(5)}
A: madvise spare 1p cold
report populate p
A: l = mmap ${N}p at=${REGION(6)}
A: mlock l ${N}p
A: madvise spare 1p cold
report mlock l
A: d = mmap ${N}p at=${REGION(7)}
A: write d ${N}p
A: madvise d ${N / 2}p dontneed
A: madvise spare 1p cold
report dontneed d
A: lf = mmap ${N}p at=${REGION(8)}
A: write lf ${N}p
A: madvise spare 1p cold
A: madvise lf ${N}p free
A: madvise spare 1p cold
report free lf
A: g = mmap ${N}p at=${REGION(9)}
A: write g ${N}p
A: madvise g+4p 4p guard_install
A: madvise spare 1p cold
report guard g
A: t = mmap 2M at=${REGION(10)}
A: madvise t 2M hugepage
A: write t
A: madvise spare 1p cold
report thp t
`;

/** smaps' block of the VMA that starts at `start`, parsed as probe_views.c parses the real one. */
function parseSmaps(lines: string[], start: bigint): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  let inBlock = false;
  for (const line of lines) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
    if (head) {
      inBlock = BigInt(`0x${head[1]}`) === start;
      continue;
    }
    if (!inBlock) continue;
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]] = m[1] === "VmFlags" ? m[2].trim() : Number.parseInt(m[2], 10);
  }
  return out;
}

/** Runs the pattern on vmlab: per `report`, the views of its 16 pages (or 1 for `zero`). */
function runVmlab(): Map<string, ExpView & { pfns: number[] }> {
  const s = new Session({ checkInvariants: true });
  let line = 1;
  const feed = (text: string) => s.feed(text, line++)!;
  feed("machine ram=256M");
  feed("spawn A");
  const views = new Map<string, ExpView & { pfns: number[] }>();
  let zeroPfn = -1;
  for (const text of pattern.trim().split("\n")) {
    const rep = /^report (\S+) (\w+)$/.exec(text);
    if (!rep) {
      feed(text);
      continue;
    }
    const [, exp, v] = rep;
    const pages = exp === "zero" ? 1 : N;
    const start = s.variables.get(v)!;
    const pm = feed(`show A pagemap ${v} ${pages}p`).view as { entry: string; pfn: number }[];
    const smaps = parseSmaps(feed("show A smaps").output, start);
    const view = s.kernel!.view;
    const out: PageView[] = [];
    const pfns: number[] = [];
    for (const e of pm) {
      const flags = Number(BigInt(e.entry) >> 55n);
      const pfn = flags & PM.present ? e.pfn : -1;
      pfns.push(pfn);
      const frame = pfn < 0 ? (flags & PM.swap ? "swap" : "none") : pfn === zeroPfn ? "zero" : "frame";
      const kpf = pfn < 0 ? "-" : kpfCompared(view.kpageflags(pfn)!, frame);
      out.push({ flags, frame, kpf });
    }
    if (exp === "zero") zeroPfn = pfns[0];
    views.set(exp, { pages: out, smaps, pfns });
  }
  return views;
}

/** The probe's records by experiment, with kpageflags masked and printed as vmlab's are. */
function runProbe(path: string): Map<
  string,
  { pages: PageView[]; smaps: Record<string, number | string> }
> & {
  host?: { pfns: number; kpageflags: number; skip?: string };
} {
  const r = underHostLock(() => spawnSync(path, [], { encoding: "utf8" }));
  const recs = r.stdout
    .trim()
    .split("\n")
    // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
    .map((l) => JSON.parse(l) as any);
  const m = new Map() as ReturnType<typeof runProbe>;
  for (const o of recs) {
    if (o.exp === "host") m.host = { ...m.host, ...o };
    else if (o.skip !== undefined) console.log(`${o.exp} not compared: ${o.skip}`);
    else
      m.set(o.exp, {
        smaps: o.smaps,
        pages: o.pages.map((p: { flags: number; frame: string; kpf: number }) => ({
          flags: p.flags,
          frame: p.frame,
          kpf: p.kpf < 0 ? "-" : kpfCompared(BigInt(p.kpf), p.frame),
        })),
      });
  }
  return m;
}

describe("vmlab's pagemap, kpageflags and smaps against this machine's Linux kernel", () => {
  const probe = buildProbe("probe_views.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(`field by field${skip ? ` (skipped: ${skip})` : ""}`, (ctx) => {
    const real = runProbe((probe as { path: string }).path);
    if (real.host?.skip) {
      console.log(`views not compared: ${real.host.skip}`);
      ctx.skip();
      return;
    }
    const sim = runVmlab();
    // soft-dirty: the host's CONFIG_MEM_SOFT_DIRTY shows as `sd` in every fresh VMA's VmFlags
    const hostSoftDirty = String(real.get("untouched")!.smaps.VmFlags).split(" ").includes("sd");
    const pfnsVisible = real.host?.pfns === 1;
    const kpfVisible = real.host?.kpageflags === 1;
    if (!hostSoftDirty) console.log("soft-dirty not compared: the host kernel has no CONFIG_MEM_SOFT_DIRTY");
    if (!kpfVisible) console.log("kpageflags not compared: /proc/kpageflags is not readable here");
    const strip = (v: ExpView): ExpView => ({
      pages: v.pages.map((p) => ({
        flags: hostSoftDirty ? p.flags : p.flags & ~PM.softDirty,
        frame: pfnsVisible ? p.frame : p.frame === "swap" ? "swap" : p.frame === "none" ? "none" : "present",
        kpf: kpfVisible ? p.kpf : "-",
      })),
      smaps: {
        ...v.smaps,
        VmFlags: hostSoftDirty
          ? v.smaps.VmFlags
          : String(v.smaps.VmFlags)
              .split(" ")
              .filter((f) => f !== "sd")
              .join(" "),
      },
    });
    // every difference, one line each: "experiment page/smaps field: vmlab X, Linux Y"
    const diffs: string[] = [];
    let compared = 0;
    // a huge page only where the real kernel had a free 2 MiB block; otherwise it fell back to 4K
    const thp = real.get("thp");
    if (thp !== undefined && thp.smaps.AnonHugePages !== 2048) {
      console.log(
        `thp not compared: the real kernel fell back to 4K pages (AnonHugePages ${thp.smaps.AnonHugePages} kB)`,
      );
      real.delete("thp");
    }
    for (const [exp, want] of real) {
      const got = sim.get(exp);
      expect(got, `vmlab ran ${exp}`).toBeDefined();
      // vmlab's own consistency: bit 55 on every page of a VMA exactly when VmFlags has sd
      const sd = String(got!.smaps.VmFlags).split(" ").includes("sd");
      for (const p of got!.pages) expect((p.flags & PM.softDirty) !== 0, `${exp}: bit 55 and sd`).toBe(sd);
      const [g, w] = [strip(got!), strip(want)];
      const gap = KNOWN_GAPS[exp];
      if (gap) {
        console.log(`${exp}: not compared: ${gap.why}`);
        for (const v of [g, w])
          for (const p of v.pages) if (p.kpf !== "-") p.kpf = `0x${(BigInt(p.kpf) & ~gap.kpf).toString(16)}`;
      }
      w.pages.forEach((wp, i) => {
        for (const key of ["flags", "frame", "kpf"] as const)
          if (g.pages[i][key] !== wp[key])
            diffs.push(`${exp} page ${i} ${key}: vmlab ${g.pages[i][key]}, Linux ${wp[key]}`);
      });
      for (const key of new Set([...Object.keys(w.smaps), ...Object.keys(g.smaps)]))
        if (g.smaps[key] !== w.smaps[key])
          diffs.push(`${exp} smaps ${key}: vmlab ${g.smaps[key]}, Linux ${w.smaps[key]}`);
      compared++;
    }
    expect(diffs).toEqual([]);
    expect(compared).toBeGreaterThanOrEqual(12);
  });
});
