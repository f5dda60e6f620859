import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, vmlab } from "./testkit.ts";

/** The recorded stdout of one case of test/ostep/SCRIPT.txt (scripts/record-ostep.py). */
function recorded(script: string, args: string[]): string {
  const lines = readFileSync(resolve(ROOT, "test/ostep", `${script}.txt`), "utf8").split("\n");
  const want = JSON.stringify(args);
  const at = lines.findIndex(
    (l) => l.startsWith("$ ") && JSON.stringify(JSON.parse(l.slice(2)).args) === want,
  );
  expect(at).toBeGreaterThanOrEqual(0);
  let out = "";
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith("| ")) break;
    out += `${line.slice(2)}\n`;
  }
  return out;
}

describe("vmlab ostep", () => {
  it("runs a script with its own flags, as python3 prints it", () => {
    const r = vmlab(["ostep", "paging-policy", "-s", "3", "-p", "CLOCK", "-c"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(recorded("paging-policy", ["-s", "3", "-p", "CLOCK", "-c"]));
    expect(vmlab(["ostep", "relocation.py", "-s", "1", "-c"]).stdout).toBe(
      recorded("relocation", ["-s", "1", "-c"]),
    );
  });

  it("passes bad flags to the script: optparse's error, exit 2", () => {
    const bad = vmlab(["ostep", "segmentation", "-s", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      "Usage: segmentation.py [options]\n\nsegmentation.py: error: option -s: invalid integer value: 'x'\n",
    );
  });

  it("lists the scripts in its own help, and refuses an unknown one with exit 2", () => {
    const h = vmlab(["ostep", "--help"]);
    expect(h.code).toBe(0);
    for (const s of [
      "relocation",
      "segmentation",
      "paging-linear-translate",
      "paging-multilevel-translate",
      "paging-policy",
    ])
      expect(h.stdout).toContain(`  ${s} `);
    const u = vmlab(["ostep", "malloc", "-s", "1"]);
    expect([u.code, u.stderr]).toEqual([2, expect.stringMatching(/unknown OSTEP script 'malloc'/)]);
  });
});
