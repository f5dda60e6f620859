/**
 * bin/vmlab.mjs's code cache (issue #20, start-up): a cache is given to V8
 * only with the bundle file it was made from (V8 checks no more than the
 * source's length), and one made from another file is replaced after a
 * successful run.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, vmlab } from "./testkit.ts";

const BUNDLE = join(ROOT, ".build", "cli", "vmlab.cjs");

/** The identity a cache of the current bundle starts with (inode, size, mtime as three doubles). */
function bundleIdentity(): Buffer {
  const st = statSync(BUNDLE);
  return Buffer.from(new Float64Array([st.ino, st.size, st.mtimeMs]).buffer);
}

describe.skipIf(process.env.VMLAB_TSX === "1")("the bundle's code cache", () => {
  it("gives V8 a cache only with the bundle file it came from, and replaces one from another file", () => {
    const first = vmlab(["tour", "--list"]);
    expect(first.code).toBe(0);
    const cache = `${BUNDLE}.tour.v8cache`;
    const made = readFileSync(cache);
    expect(made.subarray(0, 24).equals(bundleIdentity())).toBe(true);
    // the same bytecode said to come from another file (V8 would take it: only its header differs)
    const other = Buffer.from(made);
    other.writeDoubleLE(other.readDoubleLE(0) + 1, 0);
    writeFileSync(cache, other);
    expect(vmlab(["tour", "--list"])).toEqual(first);
    expect(readFileSync(cache).subarray(0, 24).equals(bundleIdentity())).toBe(true);
    // bytes that are no cache at all, under the right header: V8 rejects them, the run is the same
    writeFileSync(cache, Buffer.concat([bundleIdentity(), Buffer.alloc(4096, 0xa5)]));
    expect(vmlab(["tour", "--list"])).toEqual(first);
  });
});
