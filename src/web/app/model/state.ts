/**
 * The view's state: the scenario text, the stepper that runs it (the engine,
 * in this page), and `tick`, which every panel reads so that it draws again
 * after each step. Going back re-runs the text to the step wanted
 * (Stepper.at): the engine is deterministic, so the state is exact.
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

function redraw(): void {
  tick.value++;
}

/** Parses and boots `text` (step 0), after fetching the traces it replays; an invalid text leaves no stepper and an error at its line. */
export async function load(text: string, id: string | null): Promise<void> {
  if (id !== null) await prefetchTraces(text, id);
  source.value = text;
  draft.value = text;
  scenarioId.value = id;
  goTo(0);
}

/** The state after the first `n` statements (re-run from the start). */
export function goTo(n: number): void {
  try {
    stepper.value = Stepper.at(source.value, Math.max(0, n), fileName());
    loadError.value = null;
  } catch (e) {
    stepper.value = null;
    loadError.value = stepError(e);
  }
  redraw();
}

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
