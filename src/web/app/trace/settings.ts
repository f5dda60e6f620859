/**
 * The trace view's run: the settings a user picks in the page, checked
 * as `vmlab trace` checks its flags (src/cli/trace/options.ts), turned into
 * the settings of the replay the worker runs (analysis/trace/replay.ts),
 * and into the `vmlab trace` command line that gives the same figures.
 * The page offers machine mode with the reference pager or Linux's
 * (`--pager linux`), and policy mode; --cache, --page, --swap, SHARDS and
 * the working set are the CLI's.
 */
import { curveSizes } from "../../../analysis/mrc.ts";
import { FAST_POLICIES } from "../../../analysis/policy/fast.ts";
import { POLICY_NAMES, policyName } from "../../../analysis/policy/policies.ts";
import { MACHINE_POLICIES } from "../../../analysis/trace/machineMode.ts";
import type { CurveSettings, SamplerSettings, SimSettings } from "../../../analysis/trace/replay.ts";
import { parseTlbSpec } from "../../../hw/mmu/Tlb.ts";
import { RECLAIM_POLICIES } from "../../../kernel/Kernel.ts";

/** What the form holds (strings, as typed). */
export interface TraceForm {
  /** machine mode with the reference pager, with Linux's fault handling (--pager linux), or policy mode */
  mode: "machine" | "linux" | "policy";
  frames: string;
  policy: string;
  tlb: string;
  dataOnly: boolean;
  mrc: boolean;
  mrcMax: string;
  mrcPolicies: string;
  tlbCurve: string;
  seed: string;
}

/** `vmlab trace`'s defaults, with the curves on. */
export const DEFAULT_FORM: TraceForm = {
  mode: "machine",
  frames: "4096",
  policy: "clock",
  tlb: "vmref",
  dataOnly: false,
  mrc: true,
  mrcMax: "",
  mrcPolicies: "",
  tlbCurve: "4",
  seed: "1",
};

/** What the worker needs: plain data, sent with postMessage. */
export interface TraceRun {
  sim: SimSettings;
  curves: CurveSettings;
  samplers: SamplerSettings;
}

export function policiesOf(mode: TraceForm["mode"]): readonly string[] {
  return mode === "machine" ? MACHINE_POLICIES : mode === "linux" ? RECLAIM_POLICIES : POLICY_NAMES;
}

function positive(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new Error(`${what} must be a positive integer, not '${text}'`);
  return Number(text);
}

/** The run the form asks for; an Error with the CLI's wording for a bad field. */
export function runOf(f: TraceForm): TraceRun {
  const frames = positive(f.frames, "frames");
  const seed = Number(f.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, not '${f.seed}'`);
  const machine = f.mode !== "policy";
  const linuxPager = f.mode === "linux";
  const policy = machine ? f.policy : policyName(f.policy);
  if (!policiesOf(f.mode).includes(policy))
    throw new Error(`${f.mode} mode policies: ${policiesOf(f.mode).join(", ")} (not '${f.policy}')`);
  const tlbSpec = parseTlbSpec(f.tlb.trim());
  const mrcMax = f.mrcMax.trim() === "" ? frames : positive(f.mrcMax, "curve up to (frames)");
  const curvePolicies = f.mrcPolicies.split(",").map((p) => p.trim());
  const others = curvePolicies.filter((p) => p !== "");
  for (const p of others)
    if (!(FAST_POLICIES as readonly string[]).includes(p))
      throw new Error(`curve policies: one of ${FAST_POLICIES.join(", ")}, not '${p}'`);
  const sizes = curveSizes(mrcMax);
  if (others.length * sizes.length > 400)
    throw new Error(
      `curve policies: ${others.length * sizes.length} runs at once is too many; lower the curve's size`,
    );
  const ways = f.tlbCurve.trim() === "" ? null : positive(f.tlbCurve, "TLB curve ways");
  if (ways !== null && ways > 64) throw new Error(`TLB curve: ways must be 1..64, not ${ways}`);
  return {
    sim: {
      machine,
      linuxPager,
      frames,
      seed,
      policy,
      dataOnly: f.dataOnly,
      tlb: f.tlb.trim(),
      tlbSpec,
      page: "4k",
      arch: "x86_64",
      ...(machine && !linuxPager ? { cost: {} } : {}),
    },
    curves: { sizes, exact: f.mrc || others.length > 0, shardsRate: null, curvePolicies: others },
    samplers: { wss: null, tlbCurveWays: ways },
  };
}

/** The `vmlab trace` flags that give the same figures as the page's run of `f`. */
export function cliFlags(f: TraceForm): string[] {
  const out = ["--mode", f.mode === "policy" ? "policy" : "machine"];
  if (f.mode === "linux") out.push("--pager", "linux");
  out.push("--frames", f.frames.trim(), "--policy", f.policy);
  if (f.mode !== "policy") out.push("--tlb", f.tlb.trim());
  if (f.dataOnly) out.push("--data-only");
  if (f.mrc) out.push("--mrc");
  if (f.mrcMax.trim() !== "") out.push("--mrc-max", f.mrcMax.trim());
  if (f.mrcPolicies.trim() !== "") out.push("--mrc-policies", f.mrcPolicies.replace(/\s+/g, ""));
  if (f.tlbCurve.trim() !== "") out.push("--tlb-curve", f.tlbCurve.trim());
  if (f.seed.trim() !== "1") out.push("--seed", f.seed.trim());
  return out;
}
