/**
 * The browser build's stand-in for workloads/trace/readSync.ts: the view
 * has no file system, so a `replay` statement stops with an error at its
 * line (the statement's handler adds the position) instead of reading.
 */
import { InputError } from "../../../base/errors.ts";

export function readTraceFileSync(path: string): never {
  throw new InputError(
    `replay "${path}": the browser view cannot read trace files yet; run this scenario with vmlab run`,
  );
}
