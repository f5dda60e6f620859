import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain ESM script without types
import { checkLayers, importsOf } from "./check-layers.mjs";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "vmlab-layers-"));
  for (const [path, text] of Object.entries(files)) {
    const p = join(root, path);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text);
  }
  return root;
}

describe("layer rule", () => {
  it("holds for vmlab's own source", () => {
    expect(checkLayers(resolve(import.meta.dirname, "..", "src"))).toEqual([]);
  });

  it("rejects an upward import, a sibling import and a cycle", () => {
    const root = tree({
      "base/a.ts": 'import { x } from "../hw/b.ts";\n',
      "hw/b.ts": "export const x = 1;\n",
      "workloads/w.ts": 'import "../analysis/s.ts";\n',
      "analysis/s.ts": "export {};\n",
      "kernel/c1.ts": 'import { y } from "./c2.ts";\nexport const z = y;\n',
      "kernel/c2.ts": 'import { z } from "./c1.ts";\nexport const y = z;\n',
    });
    const problems: string[] = checkLayers(root);
    expect(problems.some((p) => p.includes("layer 'base' may not import from 'hw'"))).toBe(true);
    expect(problems.some((p) => p.includes("layer 'workloads' may not import from 'analysis'"))).toBe(true);
    expect(problems.some((p) => p.startsWith("import cycle:"))).toBe(true);
  });

  it("lets code outside the kernel import only its facade, its view and its machine keys", () => {
    const root = tree({
      "kernel/Kernel.ts": "export const Kernel = 1;\n",
      "kernel/view/KernelView.ts": "export class KernelView {}\n",
      "kernel/core/config.ts": "export const MACHINE_KEYS = [];\n",
      "kernel/core/task.ts": "export class Task {}\n",
      "kernel/mm/buddy.ts": "export class BuddyAllocator {}\n",
      "workloads/ok.ts":
        'import { Kernel } from "../kernel/Kernel.ts";\nimport type { KernelView } from "../kernel/view/KernelView.ts";\nimport { MACHINE_KEYS } from "../kernel/core/config.ts";\n',
      "workloads/deep.ts": 'import { BuddyAllocator } from "../kernel/mm/buddy.ts";\n',
      "cli/task.ts": 'import type { Task } from "../kernel/core/task.ts";\n',
      "kernel/inside.ts": 'import { BuddyAllocator } from "./mm/buddy.ts";\n',
    });
    const problems: string[] = checkLayers(root);
    expect(
      problems
        .filter((p) => p.includes("outside the kernel"))
        .map((p) => p.split(":")[0])
        .sort(),
    ).toEqual(["cli/task.ts", "workloads/deep.ts"]);
  });

  it("finds static, side-effect and dynamic imports, not ones in comments", () => {
    const specs = importsOf(
      'import { a } from "./a.ts";\nimport "./b.ts";\nconst c = await import("./c.ts");\n// import { d } from "./d.ts";\nexport { e } from "./e.ts";\nimport type { F } from "./f.ts";\n',
    );
    expect(specs.sort()).toEqual(["./a.ts", "./b.ts", "./c.ts", "./e.ts", "./f.ts"]);
  });
});
