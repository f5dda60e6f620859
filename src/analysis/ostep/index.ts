/**
 * `vmlab ostep SCRIPT [FLAGS]`: OSTEP's virtual-memory homework simulators
 * (remzi-arpacidusseau/ostep-homework), the same flags, defaults, help,
 * problems and answers, byte for byte (docs/ostep.md).
 */
import type { OstepScript, ScriptIo } from "./common.ts";
import { LINEAR } from "./linear.ts";
import { MULTILEVEL } from "./multilevel.ts";
import { POLICY } from "./policy.ts";
import { PyError, PyExit, PyOut } from "./python.ts";
import { RELOCATION } from "./relocation.ts";
import { SEGMENTATION } from "./segmentation.ts";
import { LoopsForever } from "./stuck.ts";

/** The scripts, by the name `vmlab ostep` takes (the file name without .py). */
export const OSTEP_SCRIPTS: readonly OstepScript[] = [RELOCATION, SEGMENTATION, LINEAR, MULTILEVEL, POLICY];

/** The commit of ostep-homework whose scripts these reproduce. */
export const OSTEP_HOMEWORK_COMMIT = "6c6cfc7e82c274fb7f0f068b5a75e1b42f7615b6";

export interface OstepRun {
  stdout: string;
  stderr: string;
  /** the Python script's exit status: 0, 1 (its own errors and exceptions), 2 (optparse) */
  code: number;
}

/** The script named `name` (with or without .py), or null. */
export function ostepScript(name: string): OstepScript | null {
  const base = name.endsWith(".py") ? name.slice(0, -3) : name;
  return OSTEP_SCRIPTS.find((s) => s.name === base) ?? null;
}

/**
 * Runs a script as `python3 SCRIPT.py ARGV...` runs it: what it prints, and
 * its exit status. A Python exception ends it with the traceback's last line
 * on stderr and status 1 (the lines above it, which name the script's file
 * and lines, are not reproduced). Where the Python would never end, the
 * run stops with the reason and status 2 (stuck.ts).
 */
export function runOstep(
  script: OstepScript,
  argv: readonly string[],
  env: Omit<ScriptIo, "out" | "err"> = {},
): OstepRun {
  const out = new PyOut();
  const err = new PyOut();
  let code = 0;
  try {
    script.main(argv, { ...env, out, err });
  } catch (e) {
    if (e instanceof PyExit) code = e.code;
    else if (e instanceof PyError) {
      err.print(e.lastLine());
      code = 1;
    } else if (e instanceof LoopsForever) {
      err.print(`vmlab: ${e.message}`);
      code = 2;
    } else throw e;
  }
  return { stdout: out.text(), stderr: err.text(), code };
}
