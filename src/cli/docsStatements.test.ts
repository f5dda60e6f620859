import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "../base/errors.ts";
import { MACHINE_KEYS } from "../kernel/core/config.ts";
import { statementVerbs } from "../workloads/scenario/compile.ts";
import { parseScenario } from "../workloads/scenario/lang/parser.ts";
import { Session } from "../workloads/scenario/session.ts";
import { statementHelp } from "./repl.ts";

/**
 * docs/scenarios.md against the parser: "Keep README, docs/ and --help true". Every
 * statement the parser knows has a bullet whose forms name it (what `help VERB` prints),
 * and every bullet of "Statements that run" names a statement the parser knows.
 */
const docs = readFileSync(new URL("../../docs/scenarios.md", import.meta.url), "utf8");
const verbs = statementVerbs();
const all = new Set([...verbs.plain, ...verbs.process, ...verbs.kernel]);

/** The verbs of a bullet's forms (the code spans before its description), as repl.ts reads them (any VAR). */
function bulletVerbs(line: string): string[] {
  const end = line.search(/`: |\): /);
  const forms = [...(end < 0 ? line : line.slice(0, end + 1)).matchAll(/`([^`]*)`/g)].map((m) => m[1]);
  return forms.map(
    (f) =>
      f
        .replace(/^(P|kernel(\[@N\])?): /, "")
        .replace(/^\[?[A-Z]+ =\]? /, "")
        .split(/[\s|[]/)[0],
  );
}

describe("docs/scenarios.md and the statements the parser knows", () => {
  it("reads a bullet's verbs from its forms, not from its description", () => {
    expect(bulletVerbs("- `P: [VAR =] shmdt ADDR` (extension): like `munmap ADDR`")).toEqual(["shmdt"]);
    expect(bulletVerbs("- `kernel[@N]: VAR = vmalloc SIZE`, `kernel[@N]: vfree ADDR`")).toEqual([
      "vmalloc",
      "vfree",
    ]);
  });

  for (const [prefix, list] of Object.entries(verbs))
    it(`documents every ${prefix} statement: help VERB finds its bullet`, () => {
      expect(list.filter((v) => statementHelp(v).length === 0)).toEqual([]);
    });

  it("documents only statements the parser knows (the first form of each bullet of 'Statements that run')", () => {
    const start = docs.indexOf("## Statements that run");
    const end = docs.indexOf("## Machine keys");
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    const unknown = docs
      .slice(start, end)
      .split("\n")
      .filter((l) => l.startsWith("- `"))
      .map((l) => bulletVerbs(l)[0])
      .filter((v) => !all.has(v));
    expect(unknown).toEqual([]);
  });
});

describe("docs/scenarios.md's machine keys and the machine statement's", () => {
  const start = docs.indexOf("## Machine keys");
  const end = docs.indexOf("## Metrics");
  /** key -> default, from the rows of the two tables (`pcid, smap, smep` is three keys). */
  const rows = new Map<string, string>();
  for (const m of docs.slice(start, end).matchAll(/^\| ([a-z_0-9, ]+?) +\| ([^|]+?) +\|/gm))
    for (const key of m[1].split(", ")) if (key !== "key") rows.set(key, m[2]);

  it("finds the tables", () => {
    expect(start).toBeGreaterThan(0);
    expect(rows.get("arch")).toBe("x86_64");
  });

  it("lists every key with its default (cache_* in the cache row), and no key the statement refuses", () => {
    const cacheRow = docs
      .slice(start, end)
      .split("\n")
      .find((l) => l.startsWith("| cache "));
    const wrong = MACHINE_KEYS.filter((k) =>
      rows.has(k.key) ? rows.get(k.key) !== k.default : !cacheRow?.includes(`\`${k.key}\``),
    ).map((k) => `${k.key}=${k.default}`);
    expect(wrong).toEqual([]);
    expect([...rows.keys()].filter((k) => !MACHINE_KEYS.some((m) => m.key === k))).toEqual([]);
  });
});

describe("the show forms docs/ and README.md name", () => {
  /** `show ...` code spans of the docs, alternatives (`a|b`) spread, `[...]` dropped. */
  function showForms(): string[] {
    const dir = new URL("../../docs/", import.meta.url);
    const texts = [readFileSync(new URL("../../README.md", import.meta.url), "utf8")];
    for (const f of readdirSync(dir))
      if (f.endsWith(".md")) texts.push(readFileSync(new URL(f, dir), "utf8"));
    const out = new Set<string>();
    for (const t of texts)
      for (const m of t.matchAll(/`(show [^`\n]+)`/g)) {
        let form = m[1];
        for (let prev = ""; prev !== form; ) [prev, form] = [form, form.replace(/\[[^[\]]*\]/g, "")];
        const words = form.trim().split(/\s+/);
        const i = words.findIndex((w) => w.includes("|"));
        if (i < 0) out.add(words.join(" "));
        else
          for (const alt of words[i].split("|"))
            out.add([...words.slice(0, i), alt, ...words.slice(i + 1)].join(" "));
      }
    return [...out].sort();
  }

  it("finds them", () => {
    expect(showForms()).toContain("show P vtop ADDR");
    expect(showForms()).toContain("show kpageflags"); // `show kpageflags [PFN [COUNT]]`
    expect(showForms().filter((f) => /[[\]]/.test(f))).toEqual([]);
    expect(showForms()).toContain("show zoneinfo");
  });

  it("each one is a view (with P, A, ADDR, N, PFN, COUNT, SIZE defined; prose may leave out its arguments)", () => {
    const session = new Session();
    const prelude =
      "spawn P\nspawn A\nP: ADDR = mmap 4K\nlet N = 1\nlet PFN = 1\nlet COUNT = 1\nlet SIZE = 4096";
    for (const s of parseScenario(prelude)) session.compile(s);
    const refused = showForms().filter((form) => {
      try {
        for (const s of parseScenario(form)) session.compile(s);
        return false;
      } catch (e) {
        // `show P vtop` named in a sentence: the error is the view's usage, `show P vtop ADDR`
        return !(e instanceof InputError && e.message.startsWith(`${form} `));
      }
    });
    expect(refused).toEqual([]);
  });
});
