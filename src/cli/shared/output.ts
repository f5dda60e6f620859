import { renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { InputError } from "../../base/errors.ts";

/**
 * Refuses an output path whose folder is missing or is not a folder (a path
 * below a regular file), before anything is computed or started.
 */
export function checkOutputPath(path: string, what: string): void {
  const dir = dirname(path);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new InputError(`${what}: cannot write ${path}: the folder ${dir} does not exist`);
  }
  if (!isDir) throw new InputError(`${what}: cannot write ${path}: ${dir} is not a folder`);
}

/** Removes a temporary file if it is there; never throws. */
export function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // nothing was written there (its folder is not one): nothing to remove
  }
}

/** Writes a file whole or not at all: a temporary file renamed into place. */
export function writeWhole(path: string, data: string | Buffer, what: string): void {
  checkOutputPath(path, what);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    removeQuietly(tmp);
    throw new InputError(`${what}: cannot write ${path}: ${(e as Error).message}`);
  }
}
