/** `vmlab record`: a real program under valgrind's lackey, replayed at once or written as a binary trace. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmlab } from "./testkit.ts";

const haveValgrind = spawnSync("valgrind", ["--version"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "vmlab-record-"));

describe.skipIf(!haveValgrind)("vmlab record", () => {
  it("replays a program's accesses at once; the program's output goes to stderr, the report to stdout", () => {
    const r = vmlab(["record", "--frames", "64", "--json", "--", "/bin/echo", "from-the-program"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe("lackey");
    expect(j.accesses).toBeGreaterThan(10_000);
    expect(j.faults).toBeGreaterThan(50); // ld.so, libc and echo's pages
    expect(j.machine.instr).toBeGreaterThan(j.machine.load);
    expect(r.stderr).toContain("from-the-program");
    expect(r.stdout.split("\n")).not.toContain("from-the-program"); // (the command line is in the trace name)
  }, 60_000);

  it("writes a compressed binary trace that vmlab trace reads back with the same figures", () => {
    const out = join(dir, "true.u64.zst");
    const rec = vmlab(["record", "--out", out, "--", "/bin/true"]);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/^recorded [\d,]+ accesses of '\/bin\/true' to /);
    const n = Number(/recorded ([\d,]+)/.exec(rec.stdout)![1].replace(/,/g, ""));
    const back = JSON.parse(vmlab(["trace", out, "--json"]).stdout);
    expect(back.accesses).toBe(n);
    expect(back.compression).toBe("zstd");
  }, 60_000);

  it("fails with exit 2 and no file for a program that does not exist or a wrong name", () => {
    const missing = vmlab(["record", "--", join(dir, "no-such-program")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("traced nothing");
    const bad = vmlab(["record", "--out", join(dir, "x.txt"), "--", "/bin/true"]);
    expect(bad.code).toBe(2);
    expect(existsSync(join(dir, "x.txt"))).toBe(false);
  }, 60_000);
});

describe("vmlab record without valgrind", () => {
  it("says how to install it", () => {
    const r = spawnSync(
      process.execPath,
      [join(import.meta.dirname, "../../bin/vmlab.mjs"), "record", "--", "/bin/true"],
      {
        env: { ...process.env, PATH: "/nonexistent" },
        encoding: "utf8",
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("vmlab: valgrind is not installed (Debian: apt-get install valgrind)");
  });
});
