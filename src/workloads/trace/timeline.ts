/**
 * VMLAB_TIMELINE=1: a time line of one `vmlab trace` run (issue #20, goal 1),
 * printed to standard error when the process exits. Each mark is
 * milliseconds since the process started (performance.now(): Node counts
 * from its own start). bin/vmlab.cjs makes the list (globalThis.__vmlabTimeline)
 * and prints it; without the variable there is no list and `mark` does
 * nothing. The reading thread's marks (its own clock) come in its last
 * message, as absolute times, and are put on this thread's clock here.
 */
type Marks = Array<[string, number]>;

const g = globalThis as { __vmlabTimeline?: Marks };

/** Whether marks are kept (VMLAB_TIMELINE=1 when bin/vmlab.cjs started). */
export function timelineOn(): boolean {
  return g.__vmlabTimeline !== undefined;
}

/** Marks `name` now (or at `at`, ms on this thread's clock). */
export function mark(name: string, at?: number): void {
  const t = g.__vmlabTimeline;
  if (t !== undefined) t.push([name, at ?? performance.now()]);
}

/** Marks taken on another thread as absolute times (performance.timeOrigin + its performance.now()). */
export function markAbsolute(marks: Array<[string, number]>): void {
  for (const [name, abs] of marks) mark(name, abs - performance.timeOrigin);
}
