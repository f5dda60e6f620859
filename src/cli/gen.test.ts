import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, vmlab } from "./testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-gen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("vmlab gen (issue #19, defect 11)", () => {
  it("streams 10^9 references into a pipe that closes early: output at once, bounded memory, exit 0", () => {
    // today's gen held every record before writing the first (8 GB for 10^9); the address-space limit is
    // Node's own reservations (about 23 GB, WebAssembly's included) plus 3 GB
    const r = spawnSync(
      "bash",
      [
        "-c",
        `ulimit -v 26000000; "${process.execPath}" bin/vmlab.mjs gen seq --refs 1e9 | head -c 8000000 | wc -c; echo "gen exit \${PIPESTATUS[0]}"`,
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 40_000 },
    );
    expect(r.stdout).toBe("8000000\ngen exit 0\n");
    expect(r.stderr).toBe("");
  }, 60_000);

  it("writes the same records to a file (plain or compressed) as to standard output", () => {
    const args = [
      "gen",
      "hotcold",
      "--pages",
      "300",
      "--refs",
      "200000",
      "--write-ratio",
      "0.3",
      "--seed",
      "5",
    ];
    const piped = spawnSync(process.execPath, [join(ROOT, "bin/vmlab.mjs"), ...args], {
      cwd: ROOT,
      maxBuffer: 1 << 24,
    });
    expect(piped.status).toBe(0);
    expect(piped.stdout.length).toBe(200000 * 8);
    const gz = join(dir, "t.u64.gz");
    const r = vmlab([...args, "--out", gz]);
    expect(r.stdout).toMatch(/^wrote 200,000 references \(hotcold\) to .*t\.u64\.gz\n$/);
    expect(gunzipSync(readFileSync(gz)).equals(piped.stdout)).toBe(true);
    const bad = vmlab([...args, "--out", join(dir, "no-such-dir", "t.u64")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--out: cannot write .*: the folder .* does not exist/);
    const zipf = vmlab(["gen", "zipf", "--pages", "1e9", "--out", join(dir, "z.u64")]);
    expect(zipf.code).toBe(2);
    expect(existsSync(join(dir, "z.u64"))).toBe(false);
  }, 60_000);
});
