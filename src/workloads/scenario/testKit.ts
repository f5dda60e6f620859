/**
 * What scenario tests ask of a run, in one place: the expectations that
 * failed, a run's metrics once every expectation held, and the error a bad
 * scenario stops with as the CLI prints it.
 * Used by tests only.
 */
import { InputError } from "../../base/errors.ts";
import { runScenario, Session } from "./session.ts";

/** The failed expectations of a run (with the invariant checker on), as "line N: TEXT (got V)"; a run without any is an error. */
export function expectationFailures(src: string): string[] {
  const r = runScenario(src, { checkInvariants: true });
  if (r.expectations.length === 0) throw new Error("the scenario has no expectations to check");
  return r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`);
}

/** The InputError a scenario stops with, as `FILE:LINE:COL: message`; "no error" when it runs. */
export function scenarioError(src: string, file = "s.vm"): string {
  try {
    runScenario(src, { file });
  } catch (e) {
    if (e instanceof InputError) return e.format();
    throw e;
  }
  return "no error";
}

/**
 * Runs `src` with the invariant checker on and reads its metrics as
 * numbers; throws, listing them, if any expectation failed.
 */
export function checkedMetrics(src: string): (name: string) => number {
  const r = runScenario(src, { checkInvariants: true });
  const failed = r.expectations
    .filter((e) => !e.ok)
    .map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`);
  if (failed.length > 0) throw new Error(`failed expectations:\n${failed.join("\n")}`);
  return (name) => Number(BigInt(r.metrics[name]));
}

/** A live session fed `text` line by line (line numbers from 1), to drive further through its kernel. */
export function feedSession(text: string): Session {
  const s = new Session();
  const lines = text.trim().split("\n");
  for (let i = 0; i < lines.length; i++) s.feed(lines[i], i + 1);
  return s;
}
