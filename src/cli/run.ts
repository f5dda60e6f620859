import { readFileSync } from "node:fs";
import { InputError } from "../base/errors.ts";
import { wrapLine } from "../base/text.ts";
import { MACHINE_KEYS } from "../kernel/core/config.ts";
import { formatWithCaret } from "../workloads/scenario/lang/parser.ts";
import { type RunResult, runScenario } from "../workloads/scenario/session.ts";
import { Legend } from "./legend.ts";
import { DEFAULT_MAX_HOST_MEMORY } from "./shared/limits.ts";
import { parseSize } from "./shared/size.ts";
import { refuseClosedStdin } from "./shared/stdin.ts";

export interface RunCliOptions {
  json: boolean;
  trace: boolean;
  verbose: boolean;
  check: boolean;
  /** directories a scenario may read besides its own (--allow-read) */
  allowRead?: string[];
  /** --max-host-memory SIZE: the most host memory the simulated RAM may hold */
  maxHostMemory?: string;
  /** --narrate: the scenario's comment lines in place, between the statements' lines */
  narrate?: boolean;
}

export { DEFAULT_MAX_HOST_MEMORY };

/**
 * `vmlab run A.vm B.vm ...` (the shell expands examples/DIR/*.vm to several): each file in turn under
 * a `==> FILE <==` header (head(1)'s), or with --json one array of the documents. The
 * exit status is the worst of the files' (2 invalid over 1 failed over 0).
 */
export function runFiles(
  files: string[],
  opts: RunCliOptions,
  out: (s: string) => void,
  err: (s: string) => void,
): number {
  if (files.length === 1) return runCli(files[0], opts, out, err);
  let worst = 0;
  const docs: string[] = [];
  files.forEach((file, i) => {
    if (!opts.json) out(`${i > 0 ? "\n" : ""}==> ${file} <==\n`);
    let doc = "";
    const code = runCli(file, opts, opts.json ? (s) => (doc += s) : out, err);
    if (doc !== "") docs.push(doc.trimEnd());
    worst = Math.max(worst, code);
  });
  if (opts.json) out(`[\n${docs.join(",\n")}\n]\n`);
  return worst;
}

/**
 * `vmlab run FILE.vm`: prints one line per statement with what happened,
 * then a summary (or one JSON document). Returns the exit status: 0 when
 * every expectation holds, 1 when one fails, 2 when the scenario is invalid.
 */
export function runCli(
  file: string,
  opts: RunCliOptions,
  out: (s: string) => void,
  err: (s: string) => void,
): number {
  let source: string;
  let maxHostMemory: number;
  try {
    maxHostMemory = parseSize(opts.maxHostMemory ?? DEFAULT_MAX_HOST_MEMORY, "--max-host-memory");
    refuseClosedStdin(file);
  } catch (e) {
    err(`vmlab: ${(e as InputError).format()}\n`);
    return 2;
  }
  try {
    source = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  } catch (e) {
    err(`vmlab: ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 2;
  }
  let result: RunResult;
  try {
    result = runScenario(source, {
      file,
      trace: opts.trace,
      checkInvariants: opts.check,
      allowRead: opts.allowRead,
      maxHostMemory,
    });
  } catch (e) {
    if (e instanceof InputError) {
      err(`${formatWithCaret(e, source.split("\n"))}\n`);
      return 2;
    }
    throw e;
  }
  if (opts.json) {
    out(`${JSON.stringify(result, null, 2)}\n`);
    return result.exitCode;
  }
  if (opts.verbose) {
    out("machine settings (key = value [default]):\n");
    for (const k of MACHINE_KEYS) {
      // the other architectures' keys
      if (!(k.key in result.machine)) continue;
      out(
        `  ${k.key.padEnd(14)} = ${result.machine[k.key].padEnd(10)} [${k.default}]  ${k.values}${k.modelled ? "" : "  (not modelled yet)"}\n`,
      );
    }
    out("\n");
  }
  const lines = formatStatements(result, opts.narrate ? comments(source) : []);
  for (const line of new Legend().annotate(lines)) out(`${line}\n`);
  if (result.halted) out(`\nmachine halted: ${result.halted} (the statements after it did not run)\n`);
  out(
    `\n${result.statements.length} statements, ${result.expectations.length} expectations: ${result.passed} passed, ${result.failed} failed\n`,
  );
  for (const f of result.expectations.filter((e) => !e.ok)) {
    out(`  ${file}:${f.line}: ${f.text}: expected ${f.expected}, got ${f.actual}\n`);
  }
  return result.exitCode;
}

/** A scenario's comment lines (a line whose first word starts with #), with their line numbers. */
export function comments(source: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  source.split("\n").forEach((text, i) => {
    if (/^\s*#/.test(text)) out.push({ line: i + 1, text: text.trim() });
  });
  return out;
}

/** The width `vmlab run` and the tour keep their lines to (the kernel's own log lines excepted). */
export const OUTPUT_WIDTH = 100;

/**
 * One line per statement (its line number, text and what happened), as `vmlab run` prints them;
 * `notes` (--narrate: the comment lines) each go in place, before the first statement below them.
 * A statement's result goes beside it when both fit in `width` columns, else on the lines below;
 * vmlab's own sentences wrap at a space to stay inside `width`, while lines of the kernel's log
 * (oops text, the OOM killer's report) stay whole, as dmesg prints them, so they can be compared.
 */
export function formatStatements(
  result: RunResult,
  notes: { line: number; text: string }[] = [],
  width = OUTPUT_WIDTH,
): string[] {
  const lines: string[] = [];
  const kernelLog = new Set(result.log);
  let next = 0;
  const notesBefore = (line: number) => {
    for (; next < notes.length && notes[next].line < line; next++)
      lines.push(`${String(notes[next].line).padStart(4)}  ${notes[next].text}`);
  };
  for (const s of result.statements) {
    notesBefore(s.line);
    const head = `${String(s.line).padStart(4)}  ${s.text}`;
    if (s.output.length === 1 && Math.max(head.length, 48) + 2 + s.output[0].length <= width) {
      lines.push(`${head.padEnd(48)}  ${s.output[0]}`);
    } else {
      lines.push(head);
      for (const line of s.output) {
        if (kernelLog.has(line)) lines.push(`        ${line}`);
        else lines.push(...wrapLine(line, width, "        ", "          "));
      }
    }
  }
  // the comments after the last statement that ran (none past a halt: nothing ran there)
  if (!result.halted) notesBefore(Number.POSITIVE_INFINITY);
  return lines;
}
