/**
 * The trace view's run: the settings a user picks in the page, read as the
 * `vmlab trace` flags they stand for and checked by the CLI's own parser
 * (analysis/trace/flags.ts: the same refusals in the same words), turned
 * into the settings of the replay the worker runs (analysis/trace/replay.ts),
 * and into the `vmlab trace` command line that gives the same figures.
 * The page offers machine mode with the reference pager or Linux's
 * (`--pager linux`) and policy mode, with every flag of a run: --arch,
 * --page, --swap, --cache, --cost, the curves (--mrc, --shards,
 * --mrc-policies, --mrc-max), the working set (--wss, --wss-every) and the
 * TLB curve. (--format is the worker's sniffing; --csv, --chart and --json
 * are the CLI's ways of printing.)
 */

import { POLICY_NAMES } from "../../../analysis/policy/policies.ts";
import { parseCurves, parseSamplers, parseSim, type TraceCliOptions } from "../../../analysis/trace/flags.ts";
import { MACHINE_POLICIES } from "../../../analysis/trace/machineMode.ts";
import type { CurveSettings, SamplerSettings, SimSettings } from "../../../analysis/trace/replay.ts";
import { RECLAIM_POLICIES } from "../../../kernel/Kernel.ts";

/** What the form holds (strings, as typed). */
export interface TraceForm {
  /** machine mode with the reference pager, with Linux's fault handling (--pager linux), or policy mode */
  mode: "machine" | "linux" | "policy";
  frames: string;
  policy: string;
  tlb: string;
  /** machine modes: the MMU (--arch) and the page size (--page) */
  arch: string;
  page: string;
  /** --pager linux: the swap area (--swap; empty: the CLI's default) */
  swap: string;
  /** the reference pager: an L1 data cache (--cache KIND[:SIZE[:WAYS[:LINE]]]) and the cycle costs (--cost) */
  cache: string;
  cost: string;
  dataOnly: boolean;
  mrc: boolean;
  mrcMax: string;
  mrcPolicies: string;
  /** SHARDS' sampling rate for the curve (--shards; empty: none) */
  shards: string;
  /** Denning's working set (--wss tau, --wss-every n; empty: none) */
  wss: string;
  wssEvery: string;
  tlbCurve: string;
  seed: string;
}

/** `vmlab trace`'s defaults, with the curves on. */
export const DEFAULT_FORM: TraceForm = {
  mode: "machine",
  frames: "4096",
  policy: "clock",
  tlb: "vmref",
  arch: "x86_64",
  page: "4k",
  swap: "",
  cache: "",
  cost: "",
  dataOnly: false,
  mrc: true,
  mrcMax: "",
  mrcPolicies: "",
  shards: "",
  wss: "",
  wssEvery: "",
  tlbCurve: "4",
  seed: "1",
};

/** machine mode's MMUs (`vmlab trace --arch`) */
export const TRACE_ARCHES = ["x86_64", "x86_64-la57", "arm64", "riscv-sv48", "riscv-sv57"] as const;

/** What the worker needs: plain data, sent with postMessage. */
export interface TraceRun {
  sim: SimSettings;
  curves: CurveSettings;
  samplers: SamplerSettings;
}

export function policiesOf(mode: TraceForm["mode"]): readonly string[] {
  return mode === "machine" ? MACHINE_POLICIES : mode === "linux" ? RECLAIM_POLICIES : POLICY_NAMES;
}

const given = (text: string): string | undefined => (text.trim() === "" ? undefined : text.trim());

/** The form as the `vmlab trace` options it stands for (only the fields its mode has). */
export function optionsOf(f: TraceForm): TraceCliOptions {
  const machine = f.mode !== "policy";
  const reference = f.mode === "machine";
  return {
    format: "auto",
    mode: machine ? "machine" : "policy",
    frames: f.frames.trim(),
    framesGiven: true,
    policy: f.policy,
    // policy mode hides the TLB field and its command line has no --tlb: the CLI's default
    tlb: machine ? f.tlb.trim() : "vmref",
    dataOnly: f.dataOnly,
    json: false,
    progress: false,
    seed: f.seed.trim(),
    ...(machine ? { arch: f.arch, page: f.page } : {}),
    ...(f.mode === "linux" ? { pager: "linux", swap: given(f.swap) } : {}),
    ...(reference ? { cache: given(f.cache), cost: given(f.cost) } : {}),
    mrc: f.mrc ? true : undefined,
    mrcMax: given(f.mrcMax),
    mrcPolicies: given(f.mrcPolicies.replace(/\s+/g, "")),
    shards: given(f.shards),
    wss: given(f.wss),
    wssEvery: given(f.wss) === undefined ? undefined : given(f.wssEvery),
    tlbCurve: given(f.tlbCurve),
  };
}

/** The run the form asks for; an Error with the CLI's wording for a bad field. */
export function runOf(f: TraceForm): TraceRun {
  const o = optionsOf(f);
  const sim = parseSim(o);
  return { sim, curves: parseCurves(o, sim.frames), samplers: parseSamplers(o) };
}

/** The `vmlab trace` flags that give the same figures as the page's run of `f`. */
export function cliFlags(f: TraceForm): string[] {
  const o = optionsOf(f);
  const out = ["--mode", o.mode];
  if (o.pager !== undefined) out.push("--pager", o.pager);
  out.push("--frames", o.frames, "--policy", o.policy);
  if (o.mode === "machine") out.push("--tlb", o.tlb);
  if (o.arch !== undefined && o.arch !== "x86_64") out.push("--arch", o.arch);
  if (o.page !== undefined && o.page !== "4k") out.push("--page", o.page);
  const valued: [keyof TraceCliOptions, string][] = [
    ["swap", "--swap"],
    ["cache", "--cache"],
    ["cost", "--cost"],
  ];
  for (const [k, flag] of valued) if (o[k] !== undefined) out.push(flag, String(o[k]));
  if (o.dataOnly) out.push("--data-only");
  if (o.mrc) out.push("--mrc");
  const curves: [keyof TraceCliOptions, string][] = [
    ["mrcMax", "--mrc-max"],
    ["mrcPolicies", "--mrc-policies"],
    ["shards", "--shards"],
    ["wss", "--wss"],
    ["wssEvery", "--wss-every"],
    ["tlbCurve", "--tlb-curve"],
  ];
  for (const [k, flag] of curves) if (o[k] !== undefined) out.push(flag, String(o[k]));
  if (o.seed !== "1") out.push("--seed", o.seed);
  return out;
}

/** A word of the shown command line as a POSIX shell reads it back: quoted when empty or not plain. */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_.,:=+/@%-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`;
}

/** The flags of `cliFlags` as the page shows them, ready to paste into a shell. */
export function cliCommand(f: TraceForm): string {
  return cliFlags(f).map(shellWord).join(" ");
}
