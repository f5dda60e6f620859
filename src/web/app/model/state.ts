/**
 * The view's state: the scenario text, the stepper that runs it (the engine,
 * in this page), and `tick`, which every panel reads so that it draws again
 * after each step. Going back re-runs the text to the step wanted: the
 * engine is deterministic, so the state is exact. The engine cannot copy a
 * machine, so to make `back` quick a second stepper, the spare, re-runs the
 * same text behind the one shown while the page is idle, one statement per
 * idle callback (the boot first), aiming at one step before the current
 * one; `back` (or any go-to at or after the spare's step) takes it and runs
 * only what it still lacks, and the next spare starts behind that.
 */
import { signal } from "@preact/signals";
import { type StepError, Stepper, stepError } from "../../engine/stepper.ts";
import { prefetchTraces } from "../shims/traceStore.ts";

export interface ScenarioEntry {
  id: string;
  group: string;
  title: string;
}

export const scenarios = signal<ScenarioEntry[]>([]);
export const scenarioId = signal<string | null>(null);
export const source = signal("");
/** the text being edited (run by "run edited text") */
export const draft = signal("");
export const stepper = signal<Stepper | null>(null);
/** a parse or check error of the whole text: nothing runs */
export const loadError = signal<StepError | null>(null);
export const tick = signal(0);
/** the last go-to: how long the engine took (ms) and whether the spare served it (the tests read it) */
export const lastGoTo = signal<{ ms: number; spare: boolean } | null>(null);

/** the spare stepper (see the header): the same text, at or behind the step it is built for */
let spare: Stepper | null = null;
/** the step the spare is built for */
let spareTarget = 0;
let spareTask: number | null = null;
/** the step the spare has reached (-1: none), shown on the progress line for the tests */
export const spareStep = signal(-1);

function redraw(): void {
  tick.value++;
  prepareSpare();
}

/** Parses and boots `text` (step 0), after fetching the traces it replays; an invalid text leaves no stepper and an error at its line. */
export async function load(text: string, id: string | null): Promise<void> {
  if (id !== null) await prefetchTraces(text, id);
  source.value = text;
  draft.value = text;
  scenarioId.value = id;
  goTo(0);
}

/** The state after the first `n` statements: the spare's (when it is not past `n`) run on, or a fresh run. */
export function goTo(n: number): void {
  const t0 = performance.now();
  const target = Math.max(0, n);
  // a spare exactly at the target serves only if its last statement ran tracked (the changed entries)
  const useSpare =
    spare !== null &&
    spare.source === source.value &&
    spare.file === fileName() &&
    (spare.done < target || (spare.done === target && (target === 0 || spare.before !== null)));
  try {
    if (useSpare) {
      runOn(spare!, target);
      stepper.value = spare;
    } else stepper.value = Stepper.at(source.value, target, fileName());
    loadError.value = null;
  } catch (e) {
    stepper.value = null;
    loadError.value = stepError(e);
  }
  spare = null;
  spareStep.value = -1;
  lastGoTo.value = { ms: performance.now() - t0, spare: useSpare };
  redraw();
}

/** Runs `s` on until `n` statements have run, the last one tracked (as Stepper.at does). */
function runOn(s: Stepper, n: number): void {
  while (s.done < n - 1 && s.step(false)) {}
  if (s.done < n) s.step();
}

/**
 * Keeps the spare one step behind the stepper shown: built (or moved on) one
 * statement per idle callback, so that the page answers keys between them.
 */
function prepareSpare(): void {
  const cur = stepper.value;
  if (spareTask !== null) cancelIdle(spareTask);
  spareTask = null;
  if (cur === null || cur.done === 0) return;
  const target = cur.done - 1;
  if (spare !== null && (spare.source !== source.value || spare.file !== fileName() || spare.done > target)) {
    spare = null;
    spareStep.value = -1;
  }
  spareTarget = target;
  const work = () => {
    spareTask = null;
    try {
      if (spare === null) spare = new Stepper(source.value, fileName());
      else if (spare.done < spareTarget && !spare.finished) spare.step(spare.done === spareTarget - 1);
      else return;
    } catch {
      spare = null; // the text does not load: goTo will say why
      spareStep.value = -1;
      return;
    }
    spareStep.value = spare.done;
    spareTask = idle(work);
  };
  spareTask = idle(work);
}

/**
 * `f` when the page is idle, or after 100 ms at the latest: headless
 * chromium was seen to give a freshly reloaded page no idle callback for
 * 20 s and more.
 */
const idle = (f: () => void): number =>
  typeof requestIdleCallback === "function"
    ? requestIdleCallback(f, { timeout: 100 })
    : (setTimeout(f, 0) as unknown as number);
const cancelIdle = (id: number): void =>
  typeof cancelIdleCallback === "function" ? cancelIdleCallback(id) : clearTimeout(id);

function fileName(): string {
  return scenarioId.value ?? "<scenario>";
}

export function forward(): void {
  const s = stepper.value;
  if (s === null) return;
  s.step();
  redraw();
}

export function back(): void {
  const s = stepper.value;
  if (s === null || s.done === 0) return;
  goTo(s.done - 1);
}

export function toEnd(): void {
  const s = stepper.value;
  if (s === null) return;
  s.runTo(s.statements.length);
  redraw();
}

/** Runs up to and including the statement on `line` (or the last one before it). */
export function toLine(line: number): void {
  const s = stepper.value;
  if (s === null) return;
  let n = 0;
  for (let i = 0; i < s.statements.length; i++) if (s.statements[i].pos.line <= line) n = i + 1;
  if (n >= s.done) {
    s.runTo(n);
    redraw();
  } else goTo(n);
}

/** Runs the edited text from the start. */
export async function runDraft(): Promise<void> {
  if (scenarioId.value !== null) await prefetchTraces(draft.value, scenarioId.value);
  source.value = draft.value;
  goTo(0);
}
