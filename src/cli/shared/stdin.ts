import { fstatSync, statSync } from "node:fs";
import { InputError } from "../../base/errors.ts";

/**
 * Is standard input closed? Node puts /dev/null on a closed descriptor 0
 * before any of our code runs, so a closed input and `</dev/null` look
 * the same: both have nothing to read, and both are refused.
 */
export function stdinClosed(): boolean {
  try {
    const s = fstatSync(0);
    if (!s.isCharacterDevice()) return false;
    const n = statSync("/dev/null");
    return s.rdev === n.rdev;
  } catch {
    return true; // no descriptor 0 at all
  }
}

/** For `FILE` = `-`: an InputError (exit 2) when standard input is closed, rather than reading it as empty. */
export function refuseClosedStdin(file: string): void {
  if (file === "-" && stdinClosed())
    throw new InputError("standard input is closed (or /dev/null): nothing to read", { file: "-" });
}
