import { readdirSync } from "node:fs";
import { join } from "node:path";

/** Every `.vm` file below `dir`, sorted (the example scenarios the tests run). */
export function exampleFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...exampleFiles(p));
    else if (e.name.endsWith(".vm")) out.push(p);
  }
  return out.sort();
}
