/**
 * The options of `vmlab trace` and `vmlab record` as commander declares
 * them (their --help text), and --format's check. The rest of their parsing
 * and checking into the settings of a run is analysis/trace/flags.ts, which
 * the browser's trace form shares.
 */
import type { Command } from "commander";
import { policyNamesHelp } from "../../analysis/policy/policies.ts";
import { parseSim, type TraceCliOptions } from "../../analysis/trace/flags.ts";
import { MACHINE_POLICIES } from "../../analysis/trace/machineMode.ts";
import type { SimSettings } from "../../analysis/trace/replay.ts";
import { InputError } from "../../base/errors.ts";
import { RECLAIM_POLICIES } from "../../kernel/Kernel.ts";
// decode.ts, not formats.ts: the flags need the formats' names, not the reading thread (start-up, main.ts)
import { TRACE_FORMATS, type TraceFormat } from "../../workloads/trace/decode.ts";

export type { TraceCliOptions };

/** What is replayed, and through what: the simulation's settings (analysis/trace/replay.ts) and the input's format. */
export interface ReplaySettings extends SimSettings {
  format: TraceFormat | "auto";
}

/** The replay's settings: --format (checked first), then the rest as analysis/trace/flags.ts parseSim reads them. */
export function parseReplay(o: TraceCliOptions): ReplaySettings {
  if (o.format !== "auto" && !TRACE_FORMATS.includes(o.format as TraceFormat))
    throw new InputError(`--format must be auto, ${TRACE_FORMATS.join(", ")}, not '${o.format}'`);
  return { format: o.format as TraceFormat | "auto", ...parseSim(o) };
}

/** The replay options `vmlab trace` and `vmlab record` share. */
export function addTraceOptions(cmd: Command): Command {
  return cmd
    .option("--mode <m>", "machine (the MMU and a pager) or policy (page numbers only)", "machine")
    .option("--frames <n>", "frames for the traced program's pages (page tables aside)", "4096")
    .option("--ram <size>", "the same as a size: 16M is --frames 4096")
    .option(
      "--policy <name>",
      `machine mode: ${MACHINE_POLICIES.join(", ")} (--pager linux: ${RECLAIM_POLICIES.join(", ")}); policy mode: ${policyNamesHelp()}`,
      "clock",
    )
    .option(
      "--tlb <spec>",
      "machine mode: a preset (skylake, vmref, tiny, none) or levels like 64x4,1536x12",
      "vmref",
    )
    .option("--data-only", "drop instruction fetches", false)
    .option(
      "--pager <p>",
      "machine mode: reference (the C reference's demand pager) or linux (the kernel model's faults, LRU reclaim and swap)",
      "reference",
    )
    .option(
      "--swap <size>",
      "--pager linux: the swap area (default 4 times --frames, at least 64M, at most 64G)",
    )
    .option(
      "--page <size>",
      "machine mode: 4k, or 2m (every 2 MiB region a huge page, mapped by a PMD; thp is the same); with --pager linux: 4k or thp (the kernel's transparent huge pages)",
      "4k",
    )
    .option(
      "--arch <a>",
      "machine mode's MMU and page tables: x86_64 (4-level), x86_64-la57 (5-level), arm64 (4-level, TTBR0), riscv-sv48 or riscv-sv57",
      "x86_64",
    )
    .option("--seed <n>", "seed for random choices", "1")
    .option(
      "--cost <list>",
      "machine mode with the reference pager: the cycle cost model, e.g. l1=1,l2=7,walkRead=30,minorFault=1500,majorFault=50000",
    )
    .option(
      "--cache <kind>",
      "machine mode with the reference pager: an L1 data cache, KIND[:SIZE[:WAYS[:LINE]]] with KIND vivt, vipt or pipt (default 32K:4:64; docs/caches.md)",
    )
    .option("--mrc", "also the exact LRU miss-ratio curve (one pass, every size at once)")
    .option(
      "--shards <rate>",
      "an approximate curve by SHARDS sampling at this rate (0..1], for very long traces",
    )
    .option(
      "--mrc-policies <list>",
      "also these policies at each curve size (lru, fifo, clock; one run per size)",
    )
    .option("--mrc-max <frames>", "the largest memory size on the curve (default: --frames)")
    .option("--wss <tau>", "Denning's working set W(t, tau) over the run")
    .option("--wss-every <n>", "sample the working set every n references (default: tau)")
    .option(
      "--tlb-curve <ways>",
      "TLB miss ratio against TLB size, 16 to 4096 entries of this many ways, and fully associative",
    )
    .option("--csv", "print the curve and working set (or the counts) as CSV")
    .option(
      "--chart <file>",
      "write the charts: .svg, .html or .png (TLB hit rates, miss-ratio and TLB curves, working set, faults over time)",
    )
    .option("--no-progress", "no progress line (it is only shown on a terminal anyway)")
    .option("--json", "print one JSON object", false);
}
