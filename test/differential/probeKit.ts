/**
 * What the differential tests share: a C probe built with this machine's
 * gcc, or the reason the test is skipped (not Linux, no gcc, no pagemap
 * where the probe reads it, a build that fails).
 */
import { execFileSync, spawnSync } from "node:child_process";
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

/**
 * The probe's JSON records by `exp`, from `runs` runs, each experiment's
 * from the run with the fewest faults (`minor` + `major`): the host's noise
 * only adds faults.
 */
// biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
export function fewestFaults(path: string, runs = 2): Map<string, any> {
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
  const best = new Map<string, any>();
  for (let i = 0; i < runs; i++)
    for (const line of execFileSync(path, { encoding: "utf8" }).trim().split("\n")) {
      const o = JSON.parse(line);
      const had = best.get(o.exp);
      if (had === undefined || (o.minor ?? 0) + (o.major ?? 0) < (had.minor ?? 0) + (had.major ?? 0))
        best.set(o.exp, o);
    }
  return best;
}
