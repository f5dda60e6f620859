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

/**
 * docs/ARCHITECTURE.md's module map: under each folder's heading (`src/kernel/`), a bullet's
 * names before its dash are files or folders there; a bare name after `core/x.ts` is in `core/`.
 */
function moduleMapMissing(text: string): string[] {
  const start = text.indexOf("## Modules");
  const end = text.indexOf("\n## ", start + 1);
  let root = "";
  const missing: string[] = [];
  for (const line of text.slice(start, end).split("\n")) {
    const heading = /^`(src\/[\w/]+\/)`/.exec(line);
    if (heading !== null) root = heading[1];
    if (!line.startsWith("- ") || root === "") continue;
    let dir = "";
    for (const [, name] of line.split(" — ")[0].matchAll(/`([\w./]+)`/g)) {
      if (name.includes("/")) dir = name.endsWith("/") ? name : name.slice(0, name.lastIndexOf("/") + 1);
      const candidates = name.includes("/") ? [root + name] : [root + dir + name, root + name];
      if (!candidates.some((c) => existsSync(join(ROOT, c)))) missing.push(candidates[0]);
    }
  }
  return missing;
}

describe("docs/ARCHITECTURE.md's module map", () => {
  it("resolves a bullet's names under its folder", () => {
    const text =
      "## Modules\n\n`src/kernel/`\n\n- `core/vfs.ts`, `coredump.ts` — files\n- `nothere.ts` — no\n\n## Next";
    expect(moduleMapMissing(text)).toEqual(["src/kernel/nothere.ts"]);
  });

  it("names only files and folders that exist", () => {
    expect(moduleMapMissing(readFileSync(join(ROOT, "docs/ARCHITECTURE.md"), "utf8"))).toEqual([]);
  });
});
