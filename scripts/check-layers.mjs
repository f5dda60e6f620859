#!/usr/bin/env node
// Enforces vmlab's layering: base <- hw <- kernel <- {workloads, analysis} <- {cli, web}.
// A module may import from its own layer or a lower one; siblings may not
// import each other; no import cycles between modules. See docs/ARCHITECTURE.md.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const LAYER_RANK = { base: 0, hw: 1, kernel: 2, workloads: 3, analysis: 3, cli: 4, web: 4 };

function walkTs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walkTs(p));
    else if (/\.(ts|tsx)$/.test(name) && !/\.test\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

/** Static and dynamic import specifiers of a source text (comments stripped). */
export function importsOf(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  const specs = [];
  const re =
    /(?:^|\s|;)(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;
  for (let m = re.exec(code); m !== null; m = re.exec(code)) specs.push(m[1] ?? m[2] ?? m[3]);
  return specs;
}

/** Returns a list of human-readable violations for the tree under srcDir. */
export function checkLayers(srcDir) {
  const files = walkTs(srcDir);
  const problems = [];
  const graph = new Map();
  const layerOf = (file) => relative(srcDir, file).split(sep)[0];
  for (const file of files) {
    const from = layerOf(file);
    if (!(from in LAYER_RANK)) {
      problems.push(
        `${relative(srcDir, file)}: not inside a layer folder (${Object.keys(LAYER_RANK).join(", ")})`,
      );
      continue;
    }
    const edges = [];
    for (const spec of importsOf(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      const rel = relative(srcDir, target);
      if (rel.startsWith("..")) {
        problems.push(`${relative(srcDir, file)}: imports ${spec}, outside src/`);
        continue;
      }
      const to = rel.split(sep)[0];
      edges.push(target);
      if (!(to in LAYER_RANK)) continue;
      const ok = to === from || LAYER_RANK[to] < LAYER_RANK[from];
      if (!ok)
        problems.push(`${relative(srcDir, file)}: layer '${from}' may not import from '${to}' (${spec})`);
    }
    graph.set(file, edges);
  }
  // cycles (depth-first search with colours)
  const colour = new Map();
  const stack = [];
  const visit = (f) => {
    colour.set(f, 1);
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (!graph.has(g)) continue;
      if (colour.get(g) === 1) {
        const cycle = stack
          .slice(stack.indexOf(g))
          .concat(g)
          .map((x) => relative(srcDir, x));
        problems.push(`import cycle: ${cycle.join(" -> ")}`);
      } else if (!colour.has(g)) visit(g);
    }
    stack.pop();
    colour.set(f, 2);
  };
  for (const f of graph.keys()) if (!colour.has(f)) visit(f);
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = resolve(dirname(fileURLToPath(import.meta.url)), "..", "src");
  const problems = checkLayers(src);
  if (problems.length) {
    for (const p of problems) console.error(`layers: ${p}`);
    process.exit(1);
  }
  console.log("layers: ok");
}
