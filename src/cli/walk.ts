import { readFileSync } from "node:fs";
import { InputError } from "../base/errors.ts";
import { parseU64 } from "../base/u64.ts";
import { parseAccess } from "../hw/access.ts";
import { parseImage } from "../workloads/pagetableImage.ts";

export interface WalkOptions {
  image: string;
  va: string[];
  access: string;
  cpl: string;
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
  const access = parseAccess(opts.access);
  if (access === null) throw new InputError(`--access must be read, write or exec, not '${opts.access}'`);
  const priv = img.driver.privilege;
  if (!priv.values.includes(opts.cpl))
    throw new InputError(`--${priv.flag} must be ${priv.values.join(" or ")}, not '${opts.cpl}'`);
  if (opts.va.length === 0) throw new InputError("give at least one --va ADDR");
  const addrs = opts.va.map((v) => {
    const n = parseU64(v);
    if (n === null) throw new InputError(`--va '${v}' is not a 64-bit address (hex 0x... or decimal)`);
    return n;
  });
  const reports: object[] = [];
  const out: string[] = [];
  for (const a of addrs) {
    const r = img.session.walk(a, access, opts.cpl);
    reports.push(r.report);
    out.push(...r.lines);
  }
  return {
    text: opts.json ? JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) : out.join("\n"),
    reports,
  };
}
