/**
 * `vmlab exercise scenario`: a generated `.vm` scenario (a process maps
 * anonymous memory and a file, touches it, forks, the two write, one
 * gives pages back with MADV_DONTNEED) with questions at points in it:
 * "how many minor faults has B taken?", "how many pages are resident?",
 * "how many page-table entries map this frame?". The answers come from
 * running the scenario through the scenario engine (scenario/session.ts)
 * with a `let` at each question's place and reading the variables back
 * from the run's metrics, as `vmlab run --json` reports them.
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { parseLine } from "../scenario/lang/parser.ts";
import { machineSettings } from "../scenario/machineConfig.ts";
import { runScenario } from "../scenario/session.ts";

export interface ScenarioExerciseOptions {
  seed: number;
  /** the machine's arch= (null: the default, x86_64) */
  arch: string | null;
}

export interface ScenarioQuestion {
  text: string;
  /** the metric expression that answers it */
  expr: string;
}

/** One line of the scenario, and the questions asked right after it. */
interface ScenarioLine {
  text: string;
  questions: ScenarioQuestion[];
}

export interface ScenarioExercise {
  seed: number;
  lines: ScenarioLine[];
}

/** A range of `n` pages of buf from page `first`, as the language writes it. */
const bufRange = (first: number, n: number): string => `${first === 0 ? "buf" : `buf+${first}p`} ${n}p`;

/**
 * The scenario and its questions. Every choice comes from the seeded Rng
 * in a fixed order, so the same seed gives the same text; the statements
 * stay inside the mappings they touch, so every run completes.
 */
export function generateScenarioExercise(o: ScenarioExerciseOptions): ScenarioExercise {
  if (o.arch !== null) {
    // the machine statement's own check: an arch= the scenario language does not know is an error now
    const stmt = parseLine(`machine arch=${o.arch}`, "--arch", 1);
    try {
      machineSettings(stmt, "--arch");
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`--arch '${o.arch}': ${e.message}`);
      throw e;
    }
  }
  const rng = new Rng(o.seed);
  const lines: ScenarioLine[] = [];
  const add = (text: string): ScenarioLine => {
    const l = { text, questions: [] };
    lines.push(l);
    return l;
  };
  const ask = (text: string, expr: string): void => {
    lines[lines.length - 1].questions.push({ text, expr });
  };
  const pages = 8 + rng.below(9);
  add(`machine ram=64M${o.arch === null ? "" : ` arch=${o.arch}`}`);
  const withFile = rng.float() < 0.6;
  const filePages = 16;
  if (withFile) add(`file data size=${filePages}p cached`);
  add("spawn A");
  add(`A: buf = mmap ${pages}p`);
  const written = 2 + rng.below(pages - 3);
  add(`A: write ${bufRange(0, written)} value=1`);
  if (rng.float() < 0.6) {
    const readFrom = written + rng.below(pages - written);
    add(`A: read ${bufRange(readFrom, 1 + rng.below(pages - readFrom))}`);
  }
  if (withFile) {
    add(`A: m = mmap ${filePages}p prot=r file=data`);
    add(`A: read ${rng.float() < 0.5 ? "m" : `m+${rng.below(filePages)}p`}`);
    ask("How many minor faults has A taken so far?", "A.min_flt");
    // filemap_map_pages (fault_around_bytes, 64K by default) maps the cached pages around the one touched
    ask(
      `How many of m's ${filePages} pages are present in A's page tables after that one read?`,
      `present(A, m ${filePages}p)`,
    );
  }
  add("A: fork B");
  ask("How many pages are resident in B (its Rss) right after the fork?", "B.rss");
  const bFirst = rng.below(pages - 1);
  const bCount = 1 + rng.below(pages - bFirst);
  add(`B: write ${bufRange(bFirst, bCount)} value=2`);
  // a page A wrote before the fork: shared copy-on-write, unless B's write copied it
  const probe = rng.below(written);
  ask(`How many page-table entries map the frame behind A's buf+${probe}p?`, `mapcount(A, buf+${probe}p)`);
  const aFirst = rng.below(pages);
  add(`A: write ${bufRange(aFirst, 1 + rng.below(Math.min(4, pages - aFirst)))} value=3`);
  if (rng.float() < 0.5) add(`B: read ${bufRange(0, pages)}`);
  if (rng.float() < 0.6) {
    const n = 1 + rng.below(Math.min(4, pages));
    add(`A: madvise ${bufRange(0, n)} dontneed`);
    add(`A: read ${bufRange(0, n)}`);
    ask(
      `How many of buf's ${pages} pages are present in A's page tables now?`,
      `present(A, ${bufRange(0, pages)})`,
    );
  }
  ask("How many minor faults has A taken in all?", "A.min_flt");
  ask("How many minor faults has B taken (counted from the fork)?", "B.min_flt");
  ask("How many pages are resident in B?", "B.rss");
  return { seed: o.seed, lines };
}

/** The scenario as the student gets it: each question a comment where it is asked (a runnable file). */
export function scenarioProblem(ex: ScenarioExercise): string[] {
  return render(ex, (n, q) => `# Q${n}: ${q.text}`);
}

/**
 * The scenario with a `let qN = EXPR` at each question, on the question's
 * own line (so that line numbers are the problem's): what solveScenario runs.
 */
export function scenarioWithLets(ex: ScenarioExercise): string {
  return `${render(ex, (n, q) => `let q${n} = ${q.expr}  # Q${n}: ${q.text}`).join("\n")}\n`;
}

function render(ex: ScenarioExercise, question: (n: number, q: ScenarioQuestion) => string): string[] {
  const out = [
    `# Scenario exercise: seed ${ex.seed}. Answer each question at the point it is asked.`,
    "# This text is a scenario: check an answer with vmlab run, an `expect` line in the question's place.",
  ];
  let n = 0;
  for (const l of ex.lines) {
    out.push(l.text);
    for (const q of l.questions) out.push(question(++n, q));
  }
  return out;
}

/** The answers: the scenario run by the engine, each question's variable read from the run's metrics. */
export function solveScenario(ex: ScenarioExercise): { answers: string[]; values: string[] } {
  const r = runScenario(scenarioWithLets(ex), { file: "<exercise scenario>" });
  if (r.halted !== null) throw new InputError(`the generated scenario halted: ${r.halted}`);
  const answers: string[] = [];
  const values: string[] = [];
  let n = 0;
  for (const l of ex.lines)
    for (const q of l.questions) {
      n++;
      const v = r.metrics[`q${n}`];
      values.push(v);
      answers.push(`Q${n}: ${v}   (${q.expr}, after \`${l.text}\`)`);
    }
  answers.push("", "How the run went (vmlab run's lines):");
  for (const st of r.statements) {
    if (st.text.startsWith("let q")) continue;
    answers.push(`  ${String(st.line).padStart(3)}  ${st.text}`);
    for (const o of st.output) answers.push(`         ${o.trim()}`);
  }
  return { answers, values };
}
