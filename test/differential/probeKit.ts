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
 * The probe's JSON records by `exp`, from `runs` runs, each experiment's from
 * the run where `noise` is least (the first run on a tie): the host's noise
 * (another process's faults or THP work) only adds to what the probe counts.
 * `args` gives each run's arguments.
 */
export function leastNoise(
  path: string,
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
  noise: (o: any) => number,
  runs = 3,
  args: () => string[] = () => [],
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
): Map<string, any> {
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
  const best = new Map<string, any>();
  for (let i = 0; i < runs; i++)
    for (const line of execFileSync(path, args(), { encoding: "utf8" }).trim().split("\n")) {
      const o = JSON.parse(line);
      const had = best.get(o.exp);
      if (had === undefined || noise(o) < noise(had)) best.set(o.exp, o);
    }
  return best;
}

/** leastNoise by the fewest faults (`minor` + `major`). */
// biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
export function fewestFaults(path: string, runs = 2): Map<string, any> {
  return leastNoise(path, (o) => (o.minor ?? 0) + (o.major ?? 0), runs);
}
