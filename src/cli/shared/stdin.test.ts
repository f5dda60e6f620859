import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../testkit.ts";

/** vmlab ARGS under sh, with standard input closed (`<&-`) or from /dev/null. */
function withStdin(args: string, redirect: string) {
  const r = spawnSync(
    "sh",
    ["-c", `"${process.execPath}" "${resolve(ROOT, "bin/vmlab.mjs")}" ${args} ${redirect}`],
    {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("reading '-' with standard input closed", () => {
  for (const cmd of ["run -", "trace -", "trace - --frames 16"]) {
    for (const redirect of ["<&-", "</dev/null"]) {
      it(`vmlab ${cmd} ${redirect} says so and exits 2`, () => {
        const r = withStdin(cmd, redirect);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/standard input is closed \(or \/dev\/null\): nothing to read/);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(r.stdout).toBe("");
      });
    }
  }

  it("still reads a scenario piped in", () => {
    const r = withStdin("run -", "<examples/process/demand-paging.vm");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/passed, 0 failed/);
  });
});
