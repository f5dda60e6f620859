/**
 * Differential test of the protection-key system calls (issue #16):
 * probe_pkeys.c runs pkey_alloc, pkey_mprotect and pkey_free on this
 * machine's Linux and reports each result; the scenario below makes the
 * same calls on vmlab, booted with `pku=on` where the host CPU has PKU
 * (its cpuinfo flags name pku) and `pku=off` where it does not. Without
 * PKU this is the only measurement of vmlab's pkey model (a CPU without
 * keys cannot fault on one); it found that the first failed pkey_alloc
 * leaves key 0 allocated (mm_pkey_free refuses it: a zeroed mm's
 * execute_only_pkey is 0), so later calls are -ENOSPC.
 * Skipped, with the reason, where the machine cannot run it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { underHostLock } from "./probeKit.ts";

function probe(): Record<string, number> | string {
  if (process.platform !== "linux" || process.arch !== "x64") return "not x86-64 Linux";
  if (spawnSync("gcc", ["--version"]).status !== 0) return "gcc is not installed";
  const out = join(mkdtempSync(join(tmpdir(), "vmlab-pkeys-")), "probe");
  const cc = spawnSync("gcc", ["-O1", "-Wall", "-o", out, resolve(import.meta.dirname, "probe_pkeys.c")], {
    encoding: "utf8",
  });
  if (cc.status !== 0) return `gcc failed: ${cc.stderr}`;
  const r = underHostLock(() => spawnSync(out, { encoding: "utf8" }));
  if (r.status !== 0) return `the probe failed: ${r.stderr}`;
  return JSON.parse(r.stdout);
}

const hostPku = () =>
  existsSync("/proc/cpuinfo") && /^flags\s*:.*\bpku\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));

const SCENARIO = (pku: boolean) => `machine ram=64M pku=${pku ? "on" : "off"}
spawn A
A: p = mmap 8K
A: a1 = pkey_alloc
A: a2 = pkey_alloc flags=1
A: a3 = pkey_alloc disable_access disable_write
A: m1 = pkey_mprotect p 4K prot=r pkey=1
A: m0 = pkey_mprotect p 4K prot=r pkey=0
A: mn = mprotect p 4K prot=rw
A: f9 = pkey_free 9
A: f1 = pkey_free 1
A: f0 = pkey_free 0
show A smaps
`;

describe("pkey_alloc, pkey_mprotect and pkey_free against this machine's Linux", () => {
  const real = probe();
  it.skipIf(typeof real === "string")(
    `give the same results (${typeof real === "string" ? real : "run"})`,
    () => {
      const r = real as Record<string, number>;
      const pku = hostPku();
      const s = runScenario(SCENARIO(pku));
      const got: Record<string, number> = {};
      for (const st of s.statements) {
        const m = /^(\w+) = (-?\d+)/.exec(st.output.join("\n"));
        if (m && m[1] !== "p") got[m[1]] = Number(m[2]);
      }
      got.smaps = s.statements.at(-1)!.output.some((l) => l.startsWith("ProtectionKey:")) ? 1 : 0;
      const { exp: _exp, ...want } = r;
      expect(got, `host ${pku ? "with" : "without"} PKU`).toEqual(want);
    },
  );
});
