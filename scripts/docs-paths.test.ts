import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

/**
 * The repository paths a document names: `src/...`, `examples/...`,
 * `scripts/...`, `test/...`, `bench/...`, `bin/...`, `docs/...`, `wasm/...` (also after `./`), not
 * globs or placeholders (`src/**`, `src/hw/arch/NAME/`).
 */
function pathsIn(text: string): string[] {
  const out = new Set<string>();
  const re = /(?:^|[^\w./-])(?:\.\/)?((?:src|examples|scripts|test|bench|bin|docs|wasm)\/[\w./-]*[\w/])/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const p = m[1];
    if (/\*|(^|\/)[A-Z]+(\/|$)/.test(p)) continue;
    out.add(p);
  }
  return [...out].sort();
}

const docs = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, "docs/decisions"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/decisions/${f}`),
];

describe("paths named in README.md, docs/*.md and docs/decisions/*.md", () => {
  it("finds the paths a text names, not globs or placeholders", () => {
    expect(
      pathsIn(
        "see src/hw/mmu/Mmu.ts, `./src/base/units.ts`; tests in src/**/x.test.ts, src/hw/arch/NAME/ and mm/src/x.c.\n(test/fixtures/cut.u64; docs/ui.md)",
      ),
    ).toEqual(["docs/ui.md", "src/base/units.ts", "src/hw/mmu/Mmu.ts", "test/fixtures/cut.u64"]);
  });

  for (const doc of docs)
    it(`${doc}: every one exists`, () => {
      const missing = pathsIn(readFileSync(join(ROOT, doc), "utf8")).filter(
        (p) => !existsSync(join(ROOT, p)),
      );
      expect(missing).toEqual([]);
    });
});
