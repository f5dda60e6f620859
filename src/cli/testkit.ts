import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");

/** Runs the vmlab command as a user would (package.json's bin). */
export function vmlab(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [resolve(ROOT, "bin/vmlab.cjs"), ...args], {
    cwd: ROOT,
    input,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A walk image's text written to a fresh temporary directory; its path. */
export function tmpImage(text: string, prefix = "vmlab-img-"): string {
  const p = join(mkdtempSync(join(tmpdir(), prefix)), "img.json");
  writeFileSync(p, text);
  return p;
}

/** `vmlab walk --image IMG --json ARGS`, which must exit 0: its parsed output. */
export function walkJson(img: string, args: string[]) {
  const r = vmlab(["walk", "--image", img, "--json", ...args]);
  if (r.code !== 0) throw new Error(`vmlab walk exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
