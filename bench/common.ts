import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const SHARED = resolve(ROOT, "..", "shared");
export const BUILD = resolve(ROOT, "bench", ".build");

/** The counters vmref prints and vmlab's machine mode must equal. */
export const COUNTERS = [
  "l1_hits",
  "l1_misses",
  "l2_hits",
  "l2_misses",
  "walks",
  "faults",
  "evictions",
  "clock_ref_clears",
  "phys_sum",
];

/** Builds ../shared/bench/vmref.c (needs gcc and libzstd-dev); returns its path or null with a reason. */
export function buildVmref(): { path: string } | { error: string } {
  const src = resolve(SHARED, "bench", "vmref.c");
  const out = resolve(BUILD, "vmref");
  if (!existsSync(src)) return { error: `no C reference at ${src}` };
  mkdirSync(BUILD, { recursive: true });
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return { path: out };
  const r = spawnSync("cc", ["-O2", "-o", out, src, "-lzstd"], { encoding: "utf8" });
  if (r.status !== 0)
    return { error: `cc failed (apt-get install gcc libzstd-dev): ${r.stderr.trim().split("\n")[0]}` };
  return { path: out };
}

/** Runs vmref and returns its JSON output. */
export function runVmref(vmref: string, args: string[]): Record<string, number | string> {
  return JSON.parse(execFileSync(vmref, args, { encoding: "utf8", maxBuffer: 1 << 20 }));
}

/** Decompresses a .zst trace with the zstd command into memory. */
export function loadTrace(path: string): Buffer {
  if (!path.endsWith(".zst")) return execFileSync("cat", [path], { maxBuffer: 2 ** 31 });
  return execFileSync("zstd", ["-dcq", path], { maxBuffer: 2 ** 31 });
}

export function ensureDir(p: string): void {
  mkdirSync(dirname(p), { recursive: true });
}

export function fmtRate(n: number): string {
  return `${(n / 1e6).toFixed(1)} M/s`;
}
