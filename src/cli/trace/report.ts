/**
 * What a `vmlab trace` run reports, and how: the text report of its
 * TraceSummary (analysis/trace/summary.ts), the CSV, and the charts (SVG, HTML or PNG,
 * written whole or not at all).
 */
import { extname } from "node:path";
import { chartFile } from "../../analysis/chartRender.ts";
import { hitRatesSpec, lineSpec, stackedSpec } from "../../analysis/chartSpec.ts";
import { checkChartName } from "../../analysis/trace/flags.ts";
import { chartPanels, type TraceSummary } from "../../analysis/trace/summary.ts";
import { InputError } from "../../base/errors.ts";
import type { TraceReadStats } from "../../workloads/trace/formats.ts";
import { writeWhole } from "../shared/output.ts";
import { grouped } from "./grouped.ts";

export { chartPanels, type TraceSummary };

export interface TraceOutcome {
  /** the report (stdout), or null when the input was bad */
  text: string | null;
  /** what went wrong, and the figures so far marked incomplete (stderr) */
  error: string | null;
  /** the figures, when the run finished */
  summary?: TraceSummary;
}

/** The report of a finished run as --json, --csv or text asks; writes --chart first. */
export async function report(
  s: TraceSummary,
  stats: TraceReadStats | null,
  o: { json: boolean; csv?: boolean; chart?: string },
): Promise<TraceOutcome> {
  if (o.chart) await writeChart(o.chart, s);
  if (o.json) return { text: JSON.stringify(s, null, 2), error: null, summary: s };
  if (o.csv) return { text: formatCsv(s), error: null, summary: s };
  return {
    text: [...formatSummary(s, stats), ...formatAnalyses(s)].join("\n"),
    error: null,
    summary: s,
  };
}

/** A run stopped by bad input: the error, then the figures up to it (when there are any), not as a result. */
export function reportIncomplete(
  error: InputError,
  s: TraceSummary | null,
  stats: TraceReadStats | null,
): TraceOutcome {
  if (s === null) return { text: null, error: error.format() };
  return {
    text: null,
    error: `${error.format()}\nthe trace is not complete: the figures up to that point (not a result):\n${formatSummary(s, stats).join("\n")}`,
  };
}

const fmt = grouped; // n.toLocaleString("en-US") without ICU for an integer (grouped.ts)
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(2)}%` : "-");

function formatSummary(s: TraceSummary, stats: TraceReadStats | null): string[] {
  const lines = [
    `trace ${s.trace} (${s.format}${s.compression !== "none" ? `, ${s.compression}` : ""})${stats?.skippedLines ? `: ${fmt(stats.skippedLines)} non-access lines skipped` : ""}`,
  ];
  if (s.kernel) {
    const r = s.kernel;
    lines.push(
      `machine mode, Linux's fault handling: user memory limited to ${fmt(s.frames)} pages, reclaim policy ${s.policy}`,
    );
    lines.push(
      `  accesses        ${fmt(r.simulated)} in ${r.regions} mapped 1 GiB region${r.regions === 1 ? "" : "s"}`,
    );
    for (const l of r.levels)
      lines.push(
        `  TLB ${l.name.padEnd(11)} ${fmt(l.hits)} hits, ${fmt(l.misses)} misses (${pct(l.misses, l.hits + l.misses)} miss)`,
      );
    lines.push(`  walks           ${fmt(r.walks)}`);
    lines.push(
      `  page faults     ${fmt(r.faults)}: ${fmt(r.minorFaults)} minor, ${fmt(r.majorFaults)} major`,
    );
    lines.push(
      `  reclaim         ${fmt(r.pgscan)} pages scanned, ${fmt(r.evictions)} reclaimed; ${fmt(r.swapOuts)} swapped out, ${fmt(r.swapIns)} in; ${fmt(r.memcgReclaims)} limit reclaims`,
    );
    if (r.thpFaultAlloc + r.thpFaultFallback > 0)
      lines.push(
        `  huge pages      ${fmt(r.thpFaultAlloc)} faulted in, ${fmt(r.thpFaultFallback)} fell back to 4K, ${fmt(r.thpSplitPage)} split by reclaim`,
      );
    lines.push(
      `  at the end      ${fmt(r.rssPages)} pages resident, ${fmt(r.swapPages)} in swap${r.oomKills ? `; ${r.oomKills} OOM kills` : ""}`,
    );
  } else if (s.mode === "machine") {
    const r = s.machine!;
    lines.push(`machine mode: ${fmt(s.frames)} frames, policy ${s.policy}`);
    lines.push(
      `  accesses        ${fmt(r.simulated)} (${fmt(r.instr)} fetch, ${fmt(r.load)} load, ${fmt(r.store)} store, ${fmt(r.modify)} modify)${r.skipped_instr ? `; ${fmt(r.skipped_instr)} fetches skipped` : ""}`,
    );
    for (const l of r.levels)
      lines.push(
        `  TLB ${l.name.padEnd(11)} ${fmt(l.hits)} hits, ${fmt(l.misses)} misses (${pct(l.misses, l.hits + l.misses)} miss)`,
      );
    lines.push(
      `  walks           ${fmt(r.walks)} (${fmt(r.pt_reads)} entries read; ${fmt(r.pt_frames)} page-table frames)`,
    );
    lines.push(
      `  page faults     ${fmt(r.faults)}: ${fmt(r.faults_first_touch)} first touch (minor), ${fmt(r.faults_swap_in)} swap-in (major)`,
    );
    lines.push(
      `  evictions       ${fmt(r.evictions)} (${fmt(r.dirty_evictions)} dirty); swap slots in use at most ${fmt(r.swap_max_in_use)}`,
    );
    if (s.policy === "clock")
      lines.push(`  CLOCK           ${fmt(r.clock_ref_clears)} reference bits cleared`);
    lines.push(`  frames used     ${fmt(r.frames_used)}; phys_sum ${r.phys_sum}`);
    if (r.cache !== null)
      lines.push(
        `  data cache      ${fmt(r.cache.hits)} hits, ${fmt(r.cache.misses)} misses, ${fmt(r.cache.writebacks)} lines written back, ${fmt(r.cache.page_flushes)} flush_cache_page`,
      );
    lines.push(
      `  est. cycles     ${fmt(Math.round(r.cycles))} (${(r.cycles / Math.max(1, r.simulated)).toFixed(2)} per access)`,
    );
  } else {
    lines.push(`policy mode: ${fmt(s.frames)} frames, policy ${s.policy}`);
    lines.push(`  references      ${fmt(s.accesses)}`);
    lines.push(`  hits            ${fmt(s.policyHits!)}`);
    lines.push(
      `  misses          ${fmt(s.policyMisses!)} (${pct(s.policyMisses!, s.accesses)}; ${fmt(s.policyMisses! - s.swapIns)} first references)`,
    );
    lines.push(`  evictions       ${fmt(s.evictions)}`);
  }
  lines.push(
    `  time            ${s.seconds.toFixed(2)} s (${(s.accesses / Math.max(1e-9, s.seconds) / 1e6).toFixed(1)} M accesses/s)`,
  );
  return lines;
}

function formatAnalyses(s: TraceSummary): string[] {
  const lines: string[] = [];
  if (s.mrc) {
    const mrc = s.mrc;
    const names = Object.keys(mrc.series);
    lines.push("");
    lines.push(
      `miss-ratio curve: ${mrc.method}; ${fmt(mrc.references)} references, ${fmt(mrc.distinctPages)} distinct pages`,
    );
    if (mrc.method.startsWith("SHARDS"))
      lines.push(
        "  (approximate: sizes below 1/R pages are not resolved; expect a mean absolute error around 0.01-0.02)",
      );
    lines.push(`  ${"frames".padStart(8)}  ${names.map((n) => n.padStart(12)).join(" ")}`);
    mrc.sizes.forEach((f, i) => {
      lines.push(
        `  ${String(f).padStart(8)}  ${names.map((n) => mrc.series[n][i].toFixed(6).padStart(12)).join(" ")}`,
      );
    });
  }
  if (s.tlbCurve) {
    const c = s.tlbCurve;
    lines.push("");
    lines.push(`TLB miss ratio against size (4 KiB pages, ${fmt(c.references)} references):`);
    lines.push(
      `  ${"entries".padStart(8)}  ${"reach".padStart(9)}  ${`${c.ways}-way`.padStart(12)}  ${"fully assoc.".padStart(12)}`,
    );
    c.entries.forEach((e, i) => {
      lines.push(
        `  ${String(e).padStart(8)}  ${`${c.reachKiB[i] >= 1024 ? `${c.reachKiB[i] / 1024} MiB` : `${c.reachKiB[i]} KiB`}`.padStart(9)}  ${c.setAssociative[i].toFixed(6).padStart(12)}  ${c.fullyAssociative[i].toFixed(6).padStart(12)}`,
      );
    });
  }
  if (s.wss) {
    const w = s.wss.samples.map((x) => x.wss);
    lines.push("");
    lines.push(
      `working set W(t, ${fmt(s.wss.tau)}): ${w.length} samples; min ${w.length ? Math.min(...w) : 0}, max ${w.length ? Math.max(...w) : 0}, mean ${(w.reduce((a, x) => a + x, 0) / Math.max(1, w.length)).toFixed(1)} pages`,
    );
  }
  return lines;
}

function formatCsv(s: TraceSummary): string {
  const out: string[] = [];
  if (s.mrc) {
    const mrc = s.mrc;
    const names = Object.keys(mrc.series);
    out.push(["frames", ...names].join(","));
    mrc.sizes.forEach((f, i) => {
      out.push([f, ...names.map((n) => mrc.series[n][i])].join(","));
    });
  }
  if (s.tlbCurve) {
    const c = s.tlbCurve;
    if (out.length) out.push("");
    out.push(`entries,reach_kib,miss_ratio_${c.ways}way,miss_ratio_fully_associative`);
    c.entries.forEach((e, i) => {
      out.push([e, c.reachKiB[i], c.setAssociative[i], c.fullyAssociative[i]].join(","));
    });
  }
  if (s.wss) {
    if (out.length) out.push("");
    out.push("t,wss");
    for (const x of s.wss.samples) out.push(`${x.t},${x.wss}`);
  }
  if (out.length === 0) {
    out.push("accesses,tlb_hits,tlb_misses,walks,faults,major_faults,evictions,swap_ins,seconds");
    out.push(
      [
        s.accesses,
        s.tlbHits,
        s.tlbMisses,
        s.walks,
        s.faults,
        s.majorFaults,
        s.evictions,
        s.swapIns,
        s.seconds,
      ].join(","),
    );
  }
  return out.join("\n");
}

/** The charts the browser's trace view draws, one above the other (analysis/chartSpec.ts). */
async function writeChart(path: string, s: TraceSummary): Promise<void> {
  checkChartName(path);
  const lines = chartPanels(s);
  if (lines.length === 0)
    throw new InputError(
      "--chart: nothing to draw (add --mrc, --shards, --wss or --tlb-curve, or use machine mode)",
    );
  const specs = [...(s.levels.length > 0 ? [hitRatesSpec(s.levels)] : []), ...lines.map(lineSpec)];
  const data = await chartFile(stackedSpec(specs), extname(path).toLowerCase(), `vmlab trace ${s.trace}`);
  writeWhole(path, data, "--chart");
}
