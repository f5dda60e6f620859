import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { excerpt, InputError } from "../base/errors.ts";
import { wrapLine } from "../base/text.ts";
import { Access } from "../hw/access.ts";
import { hwArch } from "../hw/arch/index.ts";
import { Kernel } from "../kernel/Kernel.ts";
import { formatLayout } from "../kernel/view/proc.ts";
import { runScenario } from "../workloads/scenario/session.ts";
import { comments, formatStatements, OUTPUT_WIDTH } from "./run.ts";

/** `vmlab tour [N] [--list]`: the whole tour, one question of it, or the list of questions. */
export interface TourOptions {
  list?: boolean;
  /** the question's number, as the tour and --list print it */
  question?: string;
}

/**
 * The hints the tour ends with: each a command that runs as printed in the repository's
 * directory (npx finds the package's own bin, bin/vmlab.cjs, without `npm link`).
 */
export const TOUR_NEXT = [
  "npx vmlab tour --list",
  "npx vmlab run examples/*/*.vm",
  "npx vmlab trace examples/tour/gzip-start.u64.gz --mrc",
  "npx vmlab walk --image examples/images/simple.json --va 0x400abc --cpl 3",
  "npx vmlab exercise tables --arch arm64 -s 3 --solve",
  "npx vmlab repl",
];

/**
 * The seed tour (issue #2 part): a narrated run of the hardware model. Every
 * number printed is read back from the simulator, not written here.
 */
export function runTour(write: (line: string) => void, opts: TourOptions = {}): void {
  const say = (s = "") => write(s);
  if (opts.list || opts.question !== undefined) {
    tourPart(say, opts);
    return;
  }
  hwArch("x86_64").tour?.(say);
  kernelTour(say);
  say();
  const ok = scenarioTour(say);
  say();
  say("Next (each runs as printed, from the repository's directory; docs/ explains each part):");
  for (const hint of TOUR_NEXT) say(`  ${hint}`);
  if (!ok) throw new Error("tour: an expectation of the tour failed");
}

/** One question of a narrated part: its number, first line and all its lines. */
interface Section {
  n: number;
  title: string;
  lines: string[];
}

/** Cuts a narrated part (the machine's, the kernel's) into its numbered questions. */
function sections(part: (say: (s?: string) => void) => void): Section[] {
  const out: Section[] = [];
  part((s = "") => {
    const m = /^(\d+)\. (.*)$/.exec(s);
    if (m) out.push({ n: Number(m[1]), title: m[2], lines: [] });
    if (out.length > 0) out[out.length - 1].lines.push(s);
  });
  for (const sec of out) {
    while (sec.lines.at(-1) === "") sec.lines.pop();
    // the title: the narration's first sentence, which may run on to the next lines
    let i = 1;
    while (!/[.:]$|\. /.test(sec.title) && i < 4 && /^ {3}[a-z]/.test(sec.lines[i] ?? ""))
      sec.title += ` ${sec.lines[i++].trim()}`;
    sec.title = sec.title.replace(/\. .*$/, ".");
  }
  return out;
}

/** `vmlab tour --list` (one line per question) or `vmlab tour N` (that question alone). */
function tourPart(say: (s?: string) => void, opts: TourOptions): void {
  const narrated = [...sections((s) => hwArch("x86_64").tour?.(s)), ...sections(kernelTour)];
  const files = tourFiles();
  const first = narrated.length + 1;
  const last = narrated.length + files.length;
  if (opts.list) {
    for (const sec of narrated) say(`${String(sec.n).padStart(2)}. ${sec.title}`);
    for (const [i, f] of files.entries())
      say(`${String(first + i).padStart(2)}. ${f.title}   (examples/tour/${f.name})`);
    return;
  }
  const q = opts.question ?? "";
  const n = /^[0-9]+$/.test(q) ? Number(q) : Number.NaN;
  if (!(n >= 1 && n <= last))
    throw new InputError(
      `tour: no question '${excerpt(q)}': the questions are 1 to ${last} (vmlab tour --list)`,
    );
  if (n < first) {
    for (const line of narrated[n - 1].lines) say(line);
    return;
  }
  if (!scenarioQuestion(say, n, files[n - first])) throw new Error("tour: an expectation of the tour failed");
}

/** The tour's scenarios (examples/tour/*.vm in name order): each file's name, source and question. */
function tourFiles(): { name: string; path: string; source: string; title: string }[] {
  const dir = fileURLToPath(new URL("../../examples/tour/", import.meta.url));
  return readdirSync(dir)
    .filter((f) => f.endsWith(".vm"))
    .sort()
    .map((name) => {
      const source = readFileSync(join(dir, name), "utf8");
      const first = source.split("\n").find((l) => l.startsWith("#")) ?? "";
      return { name, path: join(dir, name), source, title: first.replace(/^# ?(Q: )?/, "") };
    });
}

/** One scenario question: its comment header as narration, then the run and its evidence. */
function scenarioQuestion(
  say: (s?: string) => void,
  n: number,
  f: { name: string; path: string; source: string; title: string },
): boolean {
  // the comment block at the top is the narration; a comment further down stays where it is
  // in the file, between the statements it explains (as vmlab run --narrate prints it)
  const all = f.source.split("\n");
  const top = all.findIndex((l) => !l.startsWith("#"));
  const header = all.slice(0, top < 0 ? all.length : top).map((l) => l.replace(/^# ?/, ""));
  const heading = `${n}. ${f.title}   (examples/tour/${f.name})`;
  if (heading.length <= OUTPUT_WIDTH) say(heading);
  else {
    // the question on its line, where it came from on the next
    for (const line of wrapLine(`${n}. ${f.title}`, OUTPUT_WIDTH, "", "    ")) say(line);
    say(`    (examples/tour/${f.name})`);
  }
  for (const line of header.slice(1)) say(`   ${line}`);
  // the absolute path: a scenario's relative paths (replay "...") are taken from its directory
  const r = runScenario(f.source, { file: f.path });
  const notes = comments(f.source).filter((c) => c.line > header.length);
  for (const line of formatStatements(r, notes, OUTPUT_WIDTH - 3)) say(`   ${line}`);
  say(`   -> ${r.passed} of ${r.expectations.length} expectations hold`);
  return r.failed === 0;
}

/**
 * Part three: processes. Each scenario of examples/tour/ answers one
 * question; its comment header is the narration, its `expect` lines the
 * evidence, checked as it runs.
 */
function scenarioTour(say: (s?: string) => void): boolean {
  say("vmlab tour: processes and their address spaces");
  say("==============================================");
  let allOk = true;
  let n = 9;
  for (const f of tourFiles()) {
    say();
    if (!scenarioQuestion(say, n++, f)) allOk = false;
  }
  return allOk;
}

/** Part two: the kernel's own memory, on a booted Linux-shaped kernel. */
function kernelTour(say: (s?: string) => void): void {
  const k = new Kernel({ ramBytes: 256 << 20 });
  const m = k.view.meminfo();
  const counts = k.view.frames().byKind;
  say("vmlab tour: the kernel's own memory (Linux x86-64, 256 MiB)");
  say("===========================================================");
  say();
  say("6. Booting builds the kernel's page tables in simulated RAM, and the kernel's");
  say("   memory is allocated up front: it is resident from boot on.");
  say(
    `   kernel image ${(counts["kernel-image"] * 4) / 1024} MiB at 16 MiB, struct pages (memmap) ${(counts.memmap * 4) / 1024} MiB,`,
  );
  say(
    `   boot page tables ${counts["page-table"]} pages; MemTotal ${Math.round(m.MemTotal / 1024)} kB of ${256 * 1024} kB.`,
  );
  for (const line of formatLayout(k.view.layout()).slice(1, 5)) say(`   ${line}`);
  say();
  say("7. kmalloc gives physically contiguous memory from the direct map;");
  say("   vmalloc gives virtually contiguous pages that are physically scattered.");
  const kb = k.kmalloc(16384);
  const kp = [0, 1, 2, 3].map((i) => k.view.kernelPfn(kb + BigInt(i * 4096)));
  say(`   kmalloc(16K) = 0x${kb.toString(16)}: frames ${kp.map((p) => `0x${p.toString(16)}`).join(" ")}`);
  const spacers = [0, 1, 2, 3, 4, 5].map(() => k.allocPages(0));
  for (let i = 0; i < 6; i += 2) k.freePages(spacers[i], 0);
  const vb = k.vmalloc(16384);
  const vp = [0, 1, 2, 3].map((i) => k.view.kernelPfn(vb + BigInt(i * 4096)));
  say(`   vmalloc(16K) = 0x${vb.toString(16)}: frames ${vp.map((p) => `0x${p.toString(16)}`).join(" ")}`);
  say(
    `   the page after the vmalloc area is a guard page: mapped? ${k.view.kernelPfn(vb + 16384n) >= 0 ? "yes" : "no"}`,
  );
  say();
  say("8. A kernel bug: dereferencing NULL. No page maps address 0 and the access");
  say("   has no exception-table fixup, so the kernel oopses and kills the task:");
  const r = k.kernelAccess(0, 0n, Access.Read);
  if (!r.ok) for (const line of r.oops) say(`   ${line}`);
}
