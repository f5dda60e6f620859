/**
 * What the differential tests share: a C probe built with this machine's
 * gcc, or the reason the test is skipped (not Linux, no gcc, no pagemap
 * where the probe reads it, a build that fails).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Builds test/differential/`source`; `pagemap`: the probe reads /proc/self/pagemap. */
export function buildProbe(source: string, pagemap = true): { path: string } | { skip: string } {
  if (process.platform !== "linux") return { skip: "not Linux" };
  if (spawnSync("gcc", ["--version"]).status !== 0) return { skip: "gcc is not installed" };
  if (pagemap && !existsSync("/proc/self/pagemap")) return { skip: "no /proc/self/pagemap" };
  const out = join(mkdtempSync(join(tmpdir(), "vmlab-probe-")), source.replace(/\.c$/, ""));
  const r = spawnSync("gcc", ["-O1", "-Wall", "-o", out, resolve(import.meta.dirname, source)], {
    encoding: "utf8",
  });
  return r.status === 0 ? { path: out } : { skip: `gcc failed: ${r.stderr}` };
}
