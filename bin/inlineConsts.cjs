"use strict";
// The esbuild plugin that makes the sources' numeric constants literals in the bundles (bin/vmlab.cjs's
// build(), bench/bundle.mjs). esbuild emits a module's top-level `const PAGE_SIZE = 4096` as a `var`
// (assigned in the module's lazy init when the module is reached through an import(), as the CLI's
// commands are), and V8 (11.3, Node 20) folds no load of a `var`: `Math.floor(pa / PAGE_SIZE)` stayed a
// context load and a real division on every access. esbuild's minifier (minifySyntax) inlines a constant,
// across modules too, only from a module without import statements that has its constants at its top; so
// every top-level `const NAME = <number>` of a source (a literal, or literals, the file's earlier such
// constants and such constants it imports from another source, with arithmetic operators) is moved into a
// module of its own, without imports, which the source imports (and re-exports, if it exported it) on the
// same line. The minifier then puts the value in every use, with its own scope analysis (a local of the
// same name is left alone). The value is the one the source gives (evaluated as JavaScript evaluates it);
// nothing else of the source changes, and its lines stay where they were.

const { readFileSync } = require("node:fs");
const { dirname, relative, resolve } = require("node:path");

const NS = "vmlab-const";
/** A top-level declaration on one line: `[export ]const NAME[: number] = EXPR;` */
const DECL = /^(export )?const ([A-Za-z_$][\w$]*)(?:: number)? = ([^;]+);[ \t]*(\/\/.*)?$/;
/** One token of a constant's expression: a number (no bigint), an operator, a parenthesis or a name. */
const TOKEN =
  /\s*(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?(?![\w$])|\*\*|<<|>>>|>>|[-+*/%|&^~()]|[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)?)/y;
/** A top-level enum declaration (a `const enum` or not), up to its body's first line. */
const ENUM = /^(?:export )?(?:const )?enum ([A-Za-z_$][\w$]*) \{$/gm;
/** An import of values by name from a relative path (`type` imports and specifiers skipped). */
const IMPORT = /^import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}\/[^"]+\.ts)";/gm;

/**
 * A source file's numeric constants: `values` (name to number, its own), the `source` with them imported
 * from the module `${NS}:${id}` (`id`: the path from `root`, as the bundle's text names it), and that
 * module's text (`consts`); `source` undefined if it has none.
 * An imported name is known if the file it comes from has it as such a constant; an import that leads
 * back into `stack` (the files being read, an import cycle) is unknown, and the result `partial`: made
 * again for each use and memoised in `cache` only when whole, so that what a file becomes depends on the
 * files alone, not on the order esbuild loads them in.
 */
function constsOf(path, root, cache, stack, text) {
  const known = cache.get(path);
  if (known !== undefined) return known;
  const entry = { values: new Map(), enums: new Map(), source: undefined, consts: "", partial: false };
  if (text === undefined) {
    try {
      text = readFileSync(path, "utf8");
    } catch {
      return entry;
    }
  }
  stack.push(path);
  const scope = new Map(); // names usable in an expression: imported constants, then the file's own
  for (const m of text.matchAll(IMPORT)) {
    let other;
    for (const spec of m[1].split(",")) {
      const s = /^\s*([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?\s*$/.exec(spec);
      if (s === null) continue; // (`type X`, empty)
      if (other === undefined) {
        const file = resolve(dirname(path), m[2]);
        if (stack.includes(file)) {
          entry.partial = true;
          other = { values: new Map(), enums: new Map() };
        } else {
          other = constsOf(file, root, cache, stack);
          if (other.partial) entry.partial = true;
        }
      }
      const v = other.values.get(s[1]) ?? other.enums.get(s[1]);
      if (v !== undefined) scope.set(s[2] ?? s[1], v);
    }
  }
  stack.pop();
  for (const [name, members] of enumsOf(text, scope)) {
    entry.enums.set(name, members);
    scope.set(name, members);
  }
  const lines = text.split("\n");
  const decls = [];
  const id = relative(root, path).replace(/\\/g, "/");
  const from = JSON.stringify(`${NS}:${id}`);
  for (let i = 0; i < lines.length; i++) {
    const m = DECL.exec(lines[i]);
    if (m === null) continue;
    const value = evaluate(m[3], scope);
    if (value === undefined) continue;
    scope.set(m[2], value);
    entry.values.set(m[2], value);
    decls.push(`export const ${m[2]} = ${literal(value)};`);
    lines[i] = `import { ${m[2]} } from ${from};${m[1] ? ` export { ${m[2]} };` : ""}`;
  }
  if (decls.length > 0) {
    entry.source = lines.join("\n");
    entry.consts = `${decls.join("\n")}\n`;
  }
  if (!entry.partial) cache.set(path, entry);
  return entry;
}

/**
 * The file's top-level enums whose members are all numbers it can evaluate (as TypeScript does: an
 * initializer made of literals, the enum's earlier members and the names in `scope`; a member without one
 * is the previous one plus 1, the first 0): name to (member to value).
 */
function enumsOf(text, scope) {
  const enums = new Map();
  const outer = new Map(scope); // and the file's earlier enums
  for (const m of text.matchAll(ENUM)) {
    const end = text.indexOf("\n}", m.index);
    if (end < 0) continue;
    const body = text
      .slice(m.index + m[0].length, end)
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    const members = new Map();
    const known = new Map(outer);
    let next = 0;
    let whole = true;
    for (const item of body.split(",")) {
      if (item.trim() === "") continue;
      const d = /^\s*([A-Za-z_$][\w$]*)\s*(?:=\s*([\s\S]+?))?\s*$/.exec(item);
      const value = d === null ? undefined : d[2] === undefined ? next : evaluate(d[2], known);
      if (value === undefined) {
        whole = false;
        break;
      }
      members.set(d[1], value);
      known.set(d[1], value);
      next = value + 1;
    }
    if (whole) {
      enums.set(m[1], members);
      outer.set(m[1], members);
    }
  }
  return enums;
}

/** The value of `expr` if it is made of number literals, operators and the names in `known` only. */
function evaluate(expr, known) {
  const src = expr.trim();
  let out = "";
  let at = 0;
  while (at < src.length) {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (m === null) return undefined;
    at = TOKEN.lastIndex;
    const t = m[1];
    if (/^[A-Za-z_$]/.test(t)) {
      const [name, member] = t.split(".");
      let v = known.get(name);
      if (member !== undefined) v = v instanceof Map ? v.get(member) : undefined;
      if (typeof v !== "number") return undefined;
      out += ` (${literal(v)})`;
    } else out += ` ${t.replace(/_/g, "")}`;
  }
  let value;
  try {
    value = Function(`"use strict"; return (${out});`)();
  } catch {
    return undefined;
  }
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** `value` as source text that reads back as the same number. */
function literal(value) {
  return Object.is(value, -0) ? "-0" : String(value);
}

/** The plugin: the .ts sources under `root`/src/ with their numeric constants moved out. */
function inlineConsts(tree) {
  const root = resolve(tree);
  const srcDir = `${root}/`;
  const cache = new Map();
  const made = new Map(); // each source's constants module, by path
  return {
    name: "inline-consts",
    setup(b) {
      b.onLoad({ filter: /\.ts$/, namespace: "file" }, (a) => {
        if (!a.path.startsWith(`${srcDir}src/`)) return undefined;
        const text = readFileSync(a.path, "utf8");
        const e = constsOf(a.path, root, cache, [], text);
        if (e.source !== undefined) made.set(relative(root, a.path).replace(/\\/g, "/"), e.consts);
        return { contents: e.source ?? text, loader: "ts" };
      });
      b.onResolve({ filter: new RegExp(`^${NS}:`) }, (a) => ({
        path: a.path.slice(NS.length + 1),
        namespace: NS,
      }));
      b.onLoad({ filter: /.*/, namespace: NS }, (a) => ({ contents: made.get(a.path), loader: "js" }));
    },
  };
}

module.exports = { inlineConsts, constsOf, enumsOf, evaluate, NS };
