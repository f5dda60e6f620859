import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ROOT, vmlab } from "./testkit.ts";

describe("vmlab policy", () => {
  it("prints the per-access table and the counts", () => {
    const r = vmlab(["policy", "--refs", "1,2,3,4,1,2,5,1,2,3,4,5", "--frames", "3", "--policy", "fifo"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {3}4 {5}4 {2}MISS {7}1 {5}4 {4}2 {4}3$/m);
    expect(r.stdout).toMatch(/^ {3}8 {5}1 {2}hit {14}5 {4}1 {4}2$/m);
    expect(r.stdout).toMatch(/^fifo +9 +3 +75\.0%$/m);
  });

  it("gives the documented JSON", () => {
    const r = vmlab(["policy", "--refs", "1,2,1,3", "--frames", "2", "--policy", "lru", "--json"]);
    const doc = JSON.parse(r.stdout);
    expect(doc).toEqual({
      policy: "lru",
      frames: 2,
      accesses: [
        { page: 1, hit: false, victim: null, frames: [1] },
        { page: 2, hit: false, victim: null, frames: [1, 2] },
        { page: 1, hit: true, victim: null, frames: [1, 2] },
        { page: 3, hit: false, victim: 2, frames: [1, 3] },
      ],
      hits: 1,
      misses: 3,
    });
  });

  it("compares every policy with --policy all", () => {
    const r = vmlab([
      "policy",
      "--refs",
      "7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1",
      "--frames",
      "3",
      "--policy",
      "all",
      "--json",
    ]);
    const doc = JSON.parse(r.stdout) as { policy: string; misses: number }[];
    const by = Object.fromEntries(doc.map((d) => [d.policy, d.misses]));
    expect(by).toMatchObject({ fifo: 15, lru: 12, opt: 9 });
    expect(Object.keys(by).length).toBeGreaterThanOrEqual(11);
  });

  it("rejects bad input with exit 2", () => {
    expect(vmlab(["policy", "--refs", "1,2,x", "--frames", "3"]).stderr).toMatch(
      /item 3 \('x'\) is not a page number/,
    );
    expect(vmlab(["policy", "--refs", "1,2", "--frames", "0"]).code).toBe(2);
    expect(vmlab(["policy", "--refs", "1,2", "--frames", "3", "--policy", "magic"]).stderr).toMatch(
      /unknown policy 'magic'/,
    );
    expect(vmlab(["policy", "--refs", "1,2,3,1", "--frames", "2", "--policy", "lirs", "--json"]).code).toBe(
      0,
    );
  });

  it("answers at once with the largest frame count: the table costs the frames in use, not the frames given (issue #19, defect 3)", () => {
    // today's table copied 67,108,864 frames a row: nothing printed for a minute, 5 GB. The address-space
    // limit is Node's own reservations (about 23 GB, WebAssembly's included) plus 3 GB.
    const r = spawnSync(
      "bash",
      [
        "-c",
        `ulimit -v 26000000; exec "${process.execPath}" bin/vmlab.mjs policy --refs 1,2,3,1 --frames 67108864`,
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 30_000 },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {3}3 {5}3 {2}MISS {13}1 {4}2 {4}3$/m);
    expect(r.stdout).toMatch(/^ {3}4 {5}1 {2}hit {14}1 {4}2 {4}3$/m);
    expect(r.stdout).toMatch(/\(4 references, 67108864 frames\)/);
    const all = vmlab(["policy", "--refs", "1,2,3,1", "--frames", "67108864", "--policy", "all", "--json"]);
    expect(all.code).toBe(0);
    const doc = JSON.parse(all.stdout) as { frames: number; misses: number }[];
    for (const d of doc) expect(d).toMatchObject({ frames: 67108864, misses: 3 });
  }, 40_000);
});
