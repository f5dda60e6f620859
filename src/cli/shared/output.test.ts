/** Output files: a path below a regular file, or in a missing folder, is an input error (exit 2), never a stack trace. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, vmlab } from "../testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-out-"));
const file = join(dir, "regular");
writeFileSync(file, "x");
const refs = join(dir, "refs.txt");
writeFileSync(refs, "1,2,3,1,2,4\n");

describe("output paths (issue #19, defect 4)", () => {
  for (const [what, args] of [
    ["gen --out", ["gen", "seq", "--pages", "10", "--refs", "100", "--out", join(file, "x.u64")]],
    [
      "trace --chart",
      [
        "trace",
        refs,
        "--format",
        "refs",
        "--mode",
        "policy",
        "--frames",
        "2",
        "--mrc",
        "--chart",
        join(file, "c.svg"),
      ],
    ],
    [
      "gen --out, missing folder",
      ["gen", "seq", "--pages", "10", "--refs", "100", "--out", join(dir, "no", "x.u64")],
    ],
  ] as const) {
    it(`${what}: exit 2 with the path and why, no stack trace, nothing left behind`, () => {
      const r = vmlab([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /^vmlab: --(out|chart): cannot write .*: .*(is not a folder|does not exist)\n$/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at |ENOTDIR/);
      expect(readdirSync(dir).sort()).toEqual(["refs.txt", "regular"]);
    });
  }
});

describe("a reader that closes the pipe early (issue #19, defect 5)", () => {
  for (const cmd of [
    "gen seq --pages 100 --refs 1000000",
    "run examples/process/cow-fork.vm --trace",
    "run examples/arm64/hello.vm",
  ]) {
    it(`vmlab ${cmd} | head -c 1: exit 0, no EPIPE stack trace`, () => {
      const r = spawnSync(
        "bash",
        [
          "-c",
          `node bin/vmlab.mjs ${cmd} 2>/tmp/vmlab-err.$$ | head -c 1 >/dev/null; s=\${PIPESTATUS[0]}; cat /tmp/vmlab-err.$$ >&2; rm -f /tmp/vmlab-err.$$; exit $s`,
        ],
        { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
      );
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
      expect(r.status).toBe(0);
    });
  }
});
