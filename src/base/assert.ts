/**
 * Broken model invariants. A simulated fault is never an exception: faults
 * are return values. `ModelBug` is thrown only when vmlab itself is wrong
 * (the Linux BUG_ON / xv6 panic). Messages are `function: reason`.
 */
export class ModelBug extends Error {
  override name = "ModelBug";
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ModelBug(message);
}
