import { renameSync, rmSync, writeFileSync } from "node:fs";
import { InputError } from "../../base/errors.ts";

/** Writes a file whole or not at all: a temporary file renamed into place. */
export function writeWhole(path: string, data: string | Buffer, what: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new InputError(`${what}: cannot write ${path}: ${(e as Error).message}`);
  }
}
