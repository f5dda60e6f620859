#!/usr/bin/env node
// Enforces vmlab's layering: base <- hw <- kernel <- {workloads, analysis} <- {cli, web}.
// A module may import from its own layer or a lower one; siblings may not
// import each other; no import cycles between modules, nor between folders.
// Generic code reaches an architecture only through the interfaces of
// hw/mmu and kernel/arch: only architecture folders (hw/arch/NAME/,
// kernel/arch/NAME/) and the two registries (hw/arch/index.ts,
// kernel/arch/index.ts) import an architecture folder. Code outside the
// kernel reaches it only through its facade (kernel/Kernel.ts), its
// read-only view (kernel/view/**) and the machine keys (kernel/core/config.ts):
// KERNEL_PUBLIC. No source file is longer than MAX_LINES. See
// docs/ARCHITECTURE.md.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const LAYER_RANK = { base: 0, hw: 1, kernel: 2, workloads: 3, analysis: 3, cli: 4, web: 4 };
/** The longest a source file may grow (tests aside). */
export const MAX_LINES = 800;

/** The architecture folder a path (relative to src, "/"-separated) is in: "hw/arch/x86_64", or null. */
function archFolderOf(rel) {
  const m = /^(hw|kernel)\/arch\/([^/]+)\//.exec(rel);
  return m ? `${m[1]}/arch/${m[2]}` : null;
}

const REGISTRIES = new Set(["hw/arch/index.ts", "kernel/arch/index.ts"]);

/** Whether code outside src/kernel may import this kernel path (relative to src, "/"-separated). */
export function kernelPublic(rel) {
  return rel === "kernel/Kernel.ts" || rel === "kernel/core/config.ts" || rel.startsWith("kernel/view/");
}

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
  const posix = (p) => p.split(sep).join("/");
  for (const file of files) {
    const from = layerOf(file);
    const relFile = posix(relative(srcDir, file));
    const text = readFileSync(file, "utf8");
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > MAX_LINES)
      problems.push(
        `${relFile}: ${lines} lines, more than ${MAX_LINES}: split it along the responsibilities it mixes`,
      );
    if (!(from in LAYER_RANK)) {
      problems.push(
        `${relative(srcDir, file)}: not inside a layer folder (${Object.keys(LAYER_RANK).join(", ")})`,
      );
      continue;
    }
    const edges = [];
    for (const spec of importsOf(text)) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      const rel = relative(srcDir, target);
      if (rel.startsWith("..")) {
        problems.push(`${relative(srcDir, file)}: imports ${spec}, outside src/`);
        continue;
      }
      const to = rel.split(sep)[0];
      edges.push(target);
      const targetArch = archFolderOf(posix(rel));
      if (targetArch !== null && archFolderOf(relFile) === null && !REGISTRIES.has(relFile))
        problems.push(
          `${relFile}: generic code may not import the architecture folder ${targetArch} (${spec}); go through hw/mmu, kernel/arch or a registry`,
        );
      if (to === "kernel" && from !== "kernel" && !kernelPublic(posix(rel)))
        problems.push(
          `${relFile}: code outside the kernel may import only its facade (kernel/Kernel.ts), kernel/view/ and kernel/core/config.ts, not ${posix(rel)} (${spec})`,
        );
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
  problems.push(...folderLoops(srcDir, graph));
  return problems;
}

/**
 * Loops between folders: folder A imports from folder B and B, directly or
 * through others, from A (a folder's own files are one node; a parent folder
 * and its subfolder are two).
 */
function folderLoops(srcDir, graph) {
  const dirOf = (f) => relative(srcDir, dirname(f)).split(sep).join("/") || ".";
  const edges = new Map();
  for (const [f, targets] of graph) {
    const a = dirOf(f);
    for (const t of targets) {
      if (!graph.has(t)) continue;
      const b = dirOf(t);
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a).add(b);
    }
  }
  // Tarjan's strongly connected components
  let next = 0;
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const loops = [];
  const strong = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) loops.push(`folder import loop: ${scc.sort().join(" <-> ")}`);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) strong(v);
  return loops;
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
