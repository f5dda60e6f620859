/**
 * What the reruns of the x86 examples on other architectures share
 * (examples/arm64, riscv, i386 rerun.test.ts): the rewrite of a scenario's
 * machine line and x86 level names, and the run that lists what failed.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/workloads/scenario/session.ts";
import { exampleFiles } from "./exampleFiles.ts";

const ROOT = resolve(import.meta.dirname, "..");

/** Why an x86 example does not hold on another architecture: its counterpart there, or the reason. */
export type NotPortable = Record<string, { counterpart: string } | { reason: string }>;

/** x86's level names in table() as Linux's generic ones, which every architecture answers. */
const X86_LEVELS: Record<string, string> = { pml5: "pgd", pml4: "pgd", pdpt: "pud", pd: "pmd", pt: "pte" };

/**
 * An x86 scenario for `arch`: its machine line's words through `word`
 * (null drops one), `arch=` put first, table(P, ADDR, pml4|...|pt)
 * with Linux's level names, and `kernel: stac|clac` as the architecture's
 * own user-access window (arm64 `pan off|on`, RISC-V `sum on|off`).
 */
export function rewriteX86Scenario(source: string, arch: string, word: (w: string) => string | null): string {
  return source
    .replace(/^machine\b(.*)$/m, (_line, rest: string) => {
      const words = rest
        .split(/\s+/)
        .filter((w) => w !== "")
        .map(word)
        .filter((w): w is string => w !== null);
      return ["machine", `arch=${arch}`, ...words].join(" ");
    })
    .replace(/\btable\(([^,()]+),\s*([^()]+?),\s*(pml5|pml4|pdpt|pd|pt)\)/g, (_m, who, addr, level) => {
      return `table(${who}, ${addr}, ${X86_LEVELS[level]})`;
    })
    .replace(/^(kernel(?:@\d+)?:\s*)(stac|clac)\s*$/gm, (_m, prefix: string, verb: string) => {
      // STAC/CLAC's counterparts: arm64 clears/sets PSTATE.PAN, RISC-V sets/clears sstatus.SUM
      const open = verb === "stac";
      if (arch === "arm64") return `${prefix}pan ${open ? "off" : "on"}`;
      if (arch.startsWith("riscv")) return `${prefix}sum ${open ? "on" : "off"}`;
      return `${prefix}${verb}`;
    });
}

/** Runs a scenario with the invariant checker on: the expectations that failed (or why it did not run). */
export function expectationFailures(source: string, file: string): string[] {
  try {
    const r = runScenario(source, { file, checkInvariants: true });
    const failed = r.expectations.filter((e) => !e.ok).map((e) => `${e.line}: ${e.text}: got ${e.actual}`);
    if (r.expectations.length === 0) failed.push("no expectation ran");
    return failed;
  } catch (e) {
    return [(e as Error).message];
  }
}

/**
 * The reruns' suite: every example without an `arch=` of its own (and not under `skipDir`),
 * rewritten by `rewrite`, must hold on `arch` (its machine line says so) unless `list` names it,
 * in which case it must still fail (a listed example that became portable leaves the list);
 * every listed example exists, and every counterpart. `name` is the architecture as titles say it,
 * `listedAs` the words of a listed example's title.
 */
export function rerunExamples(
  title: string,
  arch: string,
  name: string,
  listedAs: string,
  list: NotPortable,
  rewrite: (source: string) => string,
  skipDir?: string,
): void {
  describe(title, () => {
    const files = exampleFiles(join(ROOT, "examples"))
      .map((f) => relative(ROOT, f))
      .filter((f) => skipDir === undefined || !f.startsWith(skipDir))
      // the tour's and the other architectures' own examples
      .filter((f) => !/^machine\b.*\barch=/m.test(readFileSync(join(ROOT, f), "utf8")));
    it("are many, and every listed one exists", () => {
      expect(files.length).toBeGreaterThan(30);
      for (const f of Object.keys(list)) expect(files).toContain(f);
      for (const v of Object.values(list))
        if ("counterpart" in v) expect(existsSync(join(ROOT, v.counterpart)), v.counterpart).toBe(true);
    });
    for (const f of files) {
      const source = readFileSync(join(ROOT, f), "utf8");
      const listed = list[f];
      if (listed === undefined)
        it(`${f}: every expectation holds on ${name}`, () => {
          const src = rewrite(source);
          expect(src).toMatch(new RegExp(`^machine arch=${arch}( |$)`, "m"));
          expect(expectationFailures(src, f)).toEqual([]);
        });
      else
        it(`${f}: ${listedAs} (${"counterpart" in listed ? listed.counterpart : listed.reason})`, () => {
          // still not portable: otherwise it belongs to the list no longer
          expect(expectationFailures(rewrite(source), f)).not.toEqual([]);
        });
    }
  });
}
