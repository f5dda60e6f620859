import { readFileSync } from "node:fs";
import { InputError } from "../base/errors.ts";
import { parseU64 } from "../base/u64.ts";
import { parseAccess } from "../hw/access.ts";
import { parseImage } from "../workloads/pagetableImage.ts";

export interface WalkOptions {
  image: string;
  va: string[];
  access: string;
  /** x86 CPL (`--cpl`) */
  cpl: string;
  /** ARM64 exception level (`--el`); unset: the driver's default */
  el?: string;
  /** RISC-V privilege mode (`--priv u|s`); unset: the driver's default */
  priv?: string;
  json: boolean;
}

/** `vmlab walk`: translate addresses over a page-table image (a probe: nothing is written). */
export function runWalk(opts: WalkOptions): { text: string; reports: object[] } {
  let text: string;
  try {
    text = readFileSync(opts.image, "utf8");
  } catch (e) {
    throw new InputError(`cannot read image: ${(e as Error).message}`, { file: opts.image });
  }
  const img = parseImage(text, opts.image);
  const extra = img.driver.accesses ?? {};
  const access = Object.hasOwn(extra, opts.access) ? extra[opts.access] : parseAccess(opts.access);
  if (access === null) {
    const kinds = ["read", "write", "exec", ...Object.keys(extra)];
    throw new InputError(
      `--access must be ${kinds.slice(0, -1).join(", ")} or ${kinds[kinds.length - 1]}, not '${opts.access}'`,
    );
  }
  const priv = img.driver.privilege;
  // the image's privilege flag (--cpl for x86, --el for ARM64, --priv for RISC-V), as given or the driver's default
  const given = (opts as unknown as Record<string, string | undefined>)[priv.flag] ?? priv.default;
  if (!priv.values.includes(given))
    throw new InputError(`--${priv.flag} must be ${priv.values.join(" or ")}, not '${given}'`);
  if (opts.va.length === 0) throw new InputError("give at least one --va ADDR");
  const addrs = opts.va.map((v) => {
    const n = parseU64(v);
    if (n === null) throw new InputError(`--va '${v}' is not a 64-bit address (hex 0x... or decimal)`);
    return n;
  });
  const reports: object[] = [];
  const out: string[] = [];
  for (const a of addrs) {
    const r = img.session.walk(a, access, given, opts.access);
    reports.push(r.report);
    out.push(...r.lines);
  }
  return {
    text: opts.json ? JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) : out.join("\n"),
    reports,
  };
}
