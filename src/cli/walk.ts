import { readFileSync } from "node:fs";
import { InputError } from "../base/errors.ts";
import { fromBig, parseU64 } from "../base/u64.ts";
import { type Access, accessName, Mode, parseAccess } from "../hw/access.ts";
import { WalkRecord } from "../hw/arch/x86_64/Cpu.ts";
import { describeWalk, formatWalk, type WalkReport } from "../hw/arch/x86_64/describe.ts";
import { loadImage, parseImage } from "../workloads/pagetableImage.ts";

export interface WalkOptions {
  image: string;
  va: string[];
  access: string;
  cpl: string;
  json: boolean;
}

/** `vmlab walk`: translate addresses over a page-table image (a probe: nothing is written). */
export function runWalk(opts: WalkOptions): { text: string; reports: WalkReport[] } {
  let text: string;
  try {
    text = readFileSync(opts.image, "utf8");
  } catch (e) {
    throw new InputError(`cannot read image: ${(e as Error).message}`, { file: opts.image });
  }
  const img = parseImage(text, opts.image);
  const access = parseAccess(opts.access);
  if (access === null) throw new InputError(`--access must be read, write or exec, not '${opts.access}'`);
  if (opts.cpl !== "0" && opts.cpl !== "3") throw new InputError(`--cpl must be 0 or 3, not '${opts.cpl}'`);
  if (opts.va.length === 0) throw new InputError("give at least one --va ADDR");
  const addrs = opts.va.map((v) => {
    const n = parseU64(v);
    if (n === null) throw new InputError(`--va '${v}' is not a 64-bit address (hex 0x... or decimal)`);
    return n;
  });
  const cpu = loadImage(img);
  cpu.cpl = Number(opts.cpl);
  const mode = cpu.cpl === 3 ? Mode.User : Mode.Supervisor;
  const rec = new WalkRecord();
  const reports: WalkReport[] = [];
  const out: string[] = [];
  for (const a of addrs) {
    const { hi, lo } = fromBig(a);
    const outcome = cpu.probe(hi, lo, access, mode, rec);
    const offsetMask = rec.size === 2 ? 0x3fffffff : rec.size === 1 ? 0x1fffff : 0xfff;
    const report = describeWalk(outcome, rec, hi, lo, lo & offsetMask);
    reports.push(report);
    out.push(
      `va 0x${a.toString(16).padStart(16, "0")}: ${accessName(access as Access)} at CPL ${cpu.cpl}, ${img.arch === "x86_64-la57" ? "5" : "4"}-level paging, CR3 0x${img.cr3.toString(16)}`,
    );
    out.push(...formatWalk(report));
  }
  return {
    text: opts.json ? JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) : out.join("\n"),
    reports,
  };
}
