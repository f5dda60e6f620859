import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmlab } from "./testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-voice-"));
/** Writes a scenario to a file of its own and returns its path. */
function scenario(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("a clearer voice: sizes and addresses", () => {
  it("takes lower-case size suffixes as the command line does", () => {
    const f = scenario(
      "lower.vm",
      "machine ram=64m\nspawn A\nA: b = mmap 64k\nA: write b 64k\nexpect A.rss == 16\nA: c = mmap 1m\nA: write c 1m\nexpect A.rss == 272\n",
    );
    const r = vmlab(["run", f]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/booted: 64 MiB RAM/);
    expect(r.stdout).toMatch(/2 expectations: 2 passed, 0 failed/);
    expect(r.code).toBe(0);
  });

  it("says an address without 0x looks like hex, at FILE:LINE:COL", () => {
    const f = scenario("bare.vm", "machine ram=64M\nspawn A\nA: read 7fff0000\n");
    const r = vmlab(["run", f]);
    expect(r.stderr).toContain(`${f}:3:9: '7fff0000' looks like a hex number: write 0x7fff0000`);
    expect(r.stderr).not.toMatch(/suffix/);
    expect(r.code).toBe(2);
  });
});
