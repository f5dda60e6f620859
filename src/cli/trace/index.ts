/**
 * `vmlab trace FILE|-`: replays a memory trace in machine mode (the real
 * MMU, a demand pager with N frames) or policy mode (a replacement policy
 * over page numbers), and prints the figures as a table, CSV or JSON, with
 * charts. The entry point of the command; its parts are in trace/:
 * options.ts (the flags and their checks), run.ts (one run), replay.ts
 * (the simulation fed), report.ts (text, CSV, JSON, charts), progress.ts.
 */
export type { TraceCliOptions } from "../../analysis/trace/flags.ts";
export { addTraceOptions } from "./options.ts";
export { Progress } from "./progress.ts";
export { chartPanels, type TraceOutcome, type TraceSummary } from "./report.ts";
export { runTraceCli } from "./run.ts";
