/**
 * The flags of `vmlab trace` and `vmlab record` as strings, parsed and
 * checked into the settings of a run: one parser for the CLI
 * (src/cli/trace/options.ts, after commander) and the browser's trace form
 * (src/web/app/trace/settings.ts), so that both refuse the same values with
 * the same words (--format, the input's, is the CLI's: its parseReplay checks
 * it, then calls parseSim). Bad values are InputErrors (the CLI's exit 2),
 * checked in the order the run has always checked them: parseSim before the
 * simulation is built, parseCurves after it, parseSamplers after the
 * curves' simulations.
 */
import { InputError } from "../../base/errors.ts";
import { parseSize } from "../../base/size.ts";
import { CACHE_DEFAULTS, type CacheSpec, cacheSpecError } from "../../hw/cache/CacheSpec.ts";
import { parseTlbSpec } from "../../hw/mmu/Tlb.ts";
import { curveSizes } from "../mrc.ts";
import { FAST_POLICIES } from "../policy/fast.ts";
import { POLICY_NAMES, policyName, policyNamesHelp } from "../policy/policies.ts";
import { MACHINE_POLICIES } from "./machineMode.ts";
import type { CurveSettings, SamplerSettings, SimSettings } from "./replay.ts";

/** The options as commander hands them over. */
export interface TraceCliOptions {
  format: string;
  mode: string;
  frames: string;
  policy: string;
  tlb: string;
  dataOnly: boolean;
  json: boolean;
  seed: string;
  cost?: string;
  cache?: string;
  progress: boolean;
  mrc?: boolean;
  shards?: string;
  mrcPolicies?: string;
  mrcMax?: string;
  wss?: string;
  wssEvery?: string;
  csv?: boolean;
  chart?: string;
  tlbCurve?: string;
  page?: string;
  arch?: string;
  pager?: string;
  swap?: string;
  ram?: string;
  /** --frames was given on the command line (not its default) */
  framesGiven?: boolean;
}

export type { CurveSettings, SamplerSettings };

export function positiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new InputError(`${what} must be a positive integer, not '${text}'`);
  return Number(text);
}

export function parseCost(text: string | undefined): Record<string, number> {
  if (!text) return {};
  const out: Record<string, number> = {};
  for (const part of text.split(",")) {
    const m =
      /^\s*(l1|l2|walkRead|minorFault|majorFault|cacheHit|cacheMiss|cacheWriteback|cacheFlush)\s*=\s*(\d+(\.\d+)?)\s*$/.exec(
        part,
      );
    if (!m)
      throw new InputError(
        `--cost: '${part}' is not KEY=NUMBER with KEY l1, l2, walkRead, minorFault, majorFault, cacheHit, cacheMiss, cacheWriteback or cacheFlush`,
      );
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * --cache KIND[:SIZE[:WAYS[:LINE]]] (docs/caches.md): vivt, vipt or pipt,
 * 32K 4-way 64-byte lines unless given, checked as the machine statement's
 * cache keys are.
 */
export function parseCache(text: string): CacheSpec {
  const [kind, size, ways, line] = text.split(":");
  if (kind !== "vivt" && kind !== "vipt" && kind !== "pipt")
    throw new InputError(`--cache: KIND[:SIZE[:WAYS[:LINE]]] with KIND vivt, vipt or pipt, not '${text}'`);
  const spec: CacheSpec = {
    kind,
    sizeBytes: size ? parseSize(size, "--cache SIZE") : CACHE_DEFAULTS.sizeBytes,
    ways: ways ? positiveInt(ways, "--cache WAYS") : CACHE_DEFAULTS.ways,
    lineBytes: line ? parseSize(line, "--cache LINE") : CACHE_DEFAULTS.lineBytes,
    asidTagged: false,
  };
  const e = cacheSpecError(spec);
  if (e !== null) throw new InputError(`--cache: ${e[0].replace("cache_", "")} ${e[1]}`);
  return spec;
}

/** --ram SIZE as 4 KiB frames: a multiple of 4K. */
function ramFrames(text: string): number {
  const bytes = parseSize(text, "--ram");
  if (bytes < 4096 || bytes % 4096 !== 0)
    throw new InputError(`--ram: ${text} is not a positive multiple of 4K`);
  return bytes / 4096;
}

/** A chart's file name: .svg, .html or .png (the extension as node:path's extname finds it). */
export function checkChartName(path: string): void {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  const ext = dot > 0 ? base.slice(dot) : "";
  if (![".svg", ".html", ".png"].includes(ext.toLowerCase()))
    throw new InputError(`--chart: the file must end in .svg, .html or .png, not '${path}'`);
}

/** The replay's settings: the mode, the memory, the policy, the machine. */
export function parseSim(o: TraceCliOptions): SimSettings {
  if (o.mode !== "machine" && o.mode !== "policy")
    throw new InputError(`--mode must be machine or policy, not '${o.mode}'`);
  // --ram SIZE: the machine statement's vocabulary for the same thing
  if (o.ram !== undefined && o.framesGiven) throw new InputError("give --frames or --ram, not both");
  const frames = o.ram !== undefined ? ramFrames(o.ram) : positiveInt(o.frames, "--frames");
  const seed = Number(o.seed);
  if (!Number.isSafeInteger(seed)) throw new InputError(`--seed must be an integer, not '${o.seed}'`);
  const machine = o.mode === "machine";
  // policy mode takes the field's spellings too (s3fifo, belady): policyName resolves them
  const policy = machine ? o.policy : policyName(o.policy);
  const pager = o.pager ?? "reference";
  if (pager !== "reference" && pager !== "linux")
    throw new InputError(`--pager must be reference or linux, not '${pager}'`);
  if (pager === "linux" && !machine) throw new InputError("--pager linux is a machine-mode option");
  const linuxPager = machine && pager === "linux";
  if (machine && !linuxPager && !(MACHINE_POLICIES as readonly string[]).includes(policy))
    throw new InputError(`machine mode policies: ${MACHINE_POLICIES.join(", ")} (not '${policy}')`);
  if (!machine && !(POLICY_NAMES as readonly string[]).includes(policy))
    throw new InputError(`policy mode policies: ${policyNamesHelp()} (not '${policy}')`);
  const tlbSpec = parseTlbSpec(o.tlb);
  const page = (o.page ?? "4k").toLowerCase();
  if (page !== "4k" && page !== "2m" && page !== "thp")
    throw new InputError(`--page must be 4k, 2m or thp, not '${o.page}'`);
  if (page !== "4k" && !machine) throw new InputError("--page: policy mode counts 4 KiB pages only");
  if (o.chart !== undefined) checkChartName(o.chart);
  const s: SimSettings = {
    machine,
    linuxPager,
    frames,
    seed,
    policy,
    dataOnly: o.dataOnly,
    tlb: o.tlb,
    tlbSpec,
    page,
    arch: o.arch ?? "x86_64",
  };
  if (linuxPager) {
    if (page === "2m")
      throw new InputError(
        "--pager linux: --page 4k, or thp for the kernel's transparent huge pages (thp=always); Linux has no all-2M mode for anonymous memory",
      );
    if (o.swap !== undefined) s.swapBytes = parseSize(o.swap, "--swap");
  } else if (machine) {
    s.cost = parseCost(o.cost);
    if (o.cache !== undefined) s.cache = parseCache(o.cache);
  }
  if (o.cache !== undefined && (!machine || linuxPager))
    throw new InputError("--cache is a machine-mode option (with the reference pager)");
  return s;
}

/** The curves alongside (--mrc, --shards, --mrc-policies, --mrc-max); `frames` is the run's. */
export function parseCurves(o: TraceCliOptions, frames: number): CurveSettings {
  const mrcMax = o.mrcMax !== undefined ? positiveInt(o.mrcMax, "--mrc-max") : frames;
  const shardsRate = o.shards !== undefined ? Number(o.shards) : null;
  if (shardsRate !== null && !(shardsRate > 0 && shardsRate <= 1))
    throw new InputError(`--shards must be a sampling rate in (0, 1], not '${o.shards}'`);
  const wantMrc = o.mrc === true || shardsRate !== null || o.mrcPolicies !== undefined;
  const sizes = curveSizes(mrcMax);
  const curvePolicies = (o.mrcPolicies ?? "").split(",").filter((p) => p !== "");
  for (const p of curvePolicies)
    if (!(FAST_POLICIES as readonly string[]).includes(p))
      throw new InputError(`--mrc-policies: one of ${FAST_POLICIES.join(", ")}, not '${p}'`);
  if (curvePolicies.length * sizes.length > 400)
    throw new InputError(
      `--mrc-policies: ${curvePolicies.length * sizes.length} runs at once is too many; lower --mrc-max`,
    );
  return { sizes, exact: wantMrc && shardsRate === null, shardsRate, curvePolicies };
}

/** The working set and the TLB curve alongside (--wss, --wss-every, --tlb-curve). */
export function parseSamplers(o: TraceCliOptions): SamplerSettings {
  const wss =
    o.wss !== undefined
      ? {
          tau: positiveInt(o.wss, "--wss"),
          every:
            o.wssEvery !== undefined ? positiveInt(o.wssEvery, "--wss-every") : positiveInt(o.wss, "--wss"),
        }
      : null;
  const tlbCurveWays = o.tlbCurve !== undefined ? positiveInt(o.tlbCurve, "--tlb-curve") : null;
  return { wss, tlbCurveWays };
}
