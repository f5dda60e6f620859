import { readFileSync } from "node:fs";
import { OSTEP_SCRIPTS, type OstepRun, ostepScript, runOstep } from "../analysis/ostep/index.ts";
import { PyError, pyRepr } from "../analysis/ostep/python.ts";
import { InputError } from "../base/errors.ts";

/** The scripts, one line each, for `vmlab ostep --help`. */
export function ostepScriptList(): string {
  const width = Math.max(...OSTEP_SCRIPTS.map((s) => s.name.length));
  return OSTEP_SCRIPTS.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`).join("\n");
}

/** open(path).read() as Python reports its failures (paging-policy's -f). */
function readAsPython(path: string): string | PyError {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const [type, errno, text] =
      code === "ENOENT"
        ? ["FileNotFoundError", 2, "No such file or directory"]
        : code === "EISDIR"
          ? ["IsADirectoryError", 21, "Is a directory"]
          : code === "EACCES"
            ? ["PermissionError", 13, "Permission denied"]
            : ["OSError", 5, String((e as Error).message)];
    return new PyError(type as string, `[Errno ${errno}] ${text}: ${pyRepr(path)}`);
  }
}

/**
 * `vmlab ostep SCRIPT FLAGS...`: runs the homework script with its own
 * flags; its output as the Python prints it, its exit status as vmlab's.
 */
export function runOstepCli(name: string, flags: readonly string[]): OstepRun {
  const script = ostepScript(name);
  if (script === null)
    throw new InputError(`unknown OSTEP script '${name}' (${OSTEP_SCRIPTS.map((s) => s.name).join(", ")})`);
  return runOstep(script, flags, { columns: process.env.COLUMNS, readFile: readAsPython });
}
