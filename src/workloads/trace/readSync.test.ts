import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readTraceFileSync } from "./readSync.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-readsync-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `n` loads of 0x10000000 in the binary format. */
function loads(n: number): Buffer {
  const w = new Uint32Array(2 * n);
  for (let i = 0; i < w.length; i += 2) w[i] = (0x10000000 * 4 + 1) >>> 0;
  return Buffer.from(w.buffer);
}

describe("readTraceFileSync", () => {
  const file = join(dir, "t.u64");
  writeFileSync(file, loads(1 << 20)); // 8 MiB

  it("reads every record, and stops when the sink throws (the reading thread serves the next read)", () => {
    let n = 0;
    const all = readTraceFileSync(file, "auto", (_w, k) => (n += k), { allowedDirs: [dir] });
    expect(all.records).toBe(1 << 20);
    expect(n).toBe(1 << 20);
    const stop = new Error("enough");
    let seen = 0;
    expect(() =>
      readTraceFileSync(
        file,
        "bin",
        (_w, k) => {
          seen += k;
          throw stop;
        },
        { allowedDirs: [dir] },
      ),
    ).toThrow(stop);
    expect(seen).toBeLessThan(1 << 20);
    expect(readTraceFileSync(file, "bin", () => {}, { allowedDirs: [dir] }).records).toBe(1 << 20);
  });

  it("stops with an error past maxBytes of decompressed trace", () => {
    expect(() => readTraceFileSync(file, "bin", () => {}, { allowedDirs: [dir], maxBytes: 4 << 20 })).toThrow(
      /more than 4 MiB of trace before the replay's end/,
    );
  });

  it("refuses a file outside the allowed directories", () => {
    expect(() => readTraceFileSync(file, "bin", () => {}, { allowedDirs: [`${tmpdir()}/nowhere`] })).toThrow(
      /is outside the directories a scenario may read/,
    );
  });
});
