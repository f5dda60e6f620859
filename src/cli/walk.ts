import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { InputError } from "../base/errors.ts";
import { parseU64 } from "../base/u64.ts";
import { parseAccess } from "../hw/access.ts";
import { MAX_IMAGE_BYTES, parseImage } from "../workloads/pagetableImage.ts";

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
  const text = readImage(opts.image);
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

/** The image file's text: read in pieces, so that a file (or pipe) over MAX_IMAGE_BYTES is refused before it fills memory. */
function readImage(file: string): string {
  const fail = (e: unknown): never => {
    throw new InputError(`cannot read image: ${(e as Error).message}`, { file });
  };
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    return fail(e);
  }
  const tooLarge = () =>
    new InputError(
      `the image is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB, the most vmlab walk reads (docs/walk-image.md, "Limits")`,
      { file },
    );
  try {
    // a regular file says its size: refused before a byte is read
    const st = fstatSync(fd);
    if (st.isFile() && st.size > MAX_IMAGE_BYTES) throw tooLarge();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20);
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        return fail(e);
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_IMAGE_BYTES) throw tooLarge();
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
