/**
 * The generated WebAssembly modules are what their AssemblyScript sources
 * build to: a source changed without `node scripts/build-wasm.mjs` fails here.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without types
import { generated } from "./build-wasm.mjs";

describe("scripts/build-wasm.mjs", () => {
  it("the embedded modules are not stale against wasm/*.ts", async () => {
    const want = (await generated()) as Map<string, string>;
    expect(want.size).toBe(3);
    for (const [path, text] of want)
      expect(readFileSync(resolve(import.meta.dirname, "..", path), "utf8")).toBe(text);
  });
});
