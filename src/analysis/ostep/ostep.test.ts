/**
 * vmlab's OSTEP scripts against the Python scripts themselves: every case
 * in test/ostep/SCRIPT.txt was recorded by running the script of
 * remzi-arpacidusseau/ostep-homework with python3 (scripts/record-ostep.py);
 * the problem text, the answers, the errors and the exit status must be the
 * same byte for byte.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { OSTEP_SCRIPTS, ostepScript, runOstep } from "./index.ts";
import { PyError, pyRepr } from "./python.ts";

const ROOT = resolve(import.meta.dirname, "..", "..", "..");

interface Recorded {
  script: string;
  args: string[];
  columns?: string;
  code: number;
  stdout: string;
  /** optparse's messages, whole */
  stderr: string;
  /** a traceback's last line */
  traceback: string | null;
}

/** Reads a file written by scripts/record-ostep.py. */
function readCases(script: string): Recorded[] {
  const lines = readFileSync(resolve(ROOT, "test/ostep", `${script}.txt`), "utf8").split("\n");
  const cases: Recorded[] = [];
  let cur: Recorded | null = null;
  for (const line of lines) {
    if (line.startsWith("$ ")) {
      const head = JSON.parse(line.slice(2)) as { script: string; args: string[]; columns?: string };
      cur = { ...head, code: -1, stdout: "", stderr: "", traceback: null };
      cases.push(cur);
    } else if (cur === null || line === "") continue;
    else if (line.startsWith("? exit ")) cur.code = Number(line.slice(7));
    else if (line.startsWith("| ")) cur.stdout += `${line.slice(2)}\n`;
    else if (line === "\\ no newline") cur.stdout = cur.stdout.slice(0, -1);
    else if (line.startsWith("!traceback ")) cur.traceback = line.slice(11);
    else if (line.startsWith("! ")) cur.stderr += `${line.slice(2)}\n`;
    else throw new Error(`${script}.txt: unexpected line ${JSON.stringify(line)}`);
  }
  return cases;
}

/** open(path).read() relative to the repository, as the recording ran. */
function readFile(path: string): string | PyError {
  try {
    return readFileSync(resolve(ROOT, path), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EISDIR")
      return new PyError("IsADirectoryError", `[Errno 21] Is a directory: ${pyRepr(path)}`);
    return new PyError("FileNotFoundError", `[Errno 2] No such file or directory: ${pyRepr(path)}`);
  }
}

describe("vmlab ostep against the recorded Python scripts", () => {
  for (const script of OSTEP_SCRIPTS) {
    it(`${script.name}: every recorded case, byte for byte`, () => {
      const cases = readCases(script.name);
      expect(cases.length).toBeGreaterThan(80);
      const wrong: string[] = [];
      for (const c of cases) {
        const r = runOstep(ostepScript(c.script)!, c.args, { columns: c.columns, readFile });
        const stderr = c.traceback === null ? c.stderr : `${c.traceback}\n`;
        if (r.stdout !== c.stdout || r.stderr !== stderr || r.code !== c.code) {
          const a = r.stdout.split("\n");
          const b = c.stdout.split("\n");
          let n = 0;
          while (n < a.length && a[n] === b[n]) n++;
          wrong.push(
            `${JSON.stringify(c.args)} cols=${c.columns}: exit ${r.code} (want ${c.code}); ` +
              `stdout line ${n + 1}: ${JSON.stringify(a[n])} (want ${JSON.stringify(b[n])}); ` +
              `stderr ${JSON.stringify(r.stderr)} (want ${JSON.stringify(stderr)})`,
          );
        }
      }
      expect(wrong).toEqual([]);
    });
  }

  it("stops where the Python would loop forever (no base fits), with exit 2", () => {
    const r = runOstep(ostepScript("relocation.py")!, ["-l", "20000", "-c"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vmlab: relocation\.py would loop forever here/);
    // segment 1 longer than physical memory: no base1 can ever be drawn
    const s = runOstep(ostepScript("segmentation")!, ["-b", "0", "-l", "300", "-L", "3000", "-p", "2100"]);
    expect(s.stdout).toBe("ARG seed 0\nARG address space size 1k\nARG phys mem size 2100\n\n");
    expect(s.code).toBe(2);
  });
});
