/**
 * What the fold's twin-kernel tests (faultfold.test.ts, faultfold_swap.test.ts) share: the whole
 * view they compare, and a call made on the twin, the kernel without the fold or a part of it.
 */

import { faultFold } from "./core/faultfold.ts";
import type { KernelImpl as Kernel } from "./KernelImpl.ts";
import { kernelSnapshot } from "./snapshot.testkit.ts";

/** Every figure the twins must agree on: frames, tables, TLBs, counters, status, zoneinfo, buddyinfo, THP, invariants. */
export function twinSnapshot(k: Kernel): unknown {
  const v = k.view;
  return {
    all: kernelSnapshot(k, 4096),
    status: v.taskHandles().map((t) => v.status(t)),
    zoneinfo: v.zoneinfo(),
    buddyinfo: v.buddyinfo(),
    thp: v.thp(),
    invariants: v.invariants(),
  };
}

/** `f` with faultFold[part] off (the fold, its part in the MMU's run, or its batches), on again after. */
export function withFoldOff<T>(part: "on" | "inRun" | "batch", f: () => T): T {
  faultFold[part] = false;
  try {
    return f();
  } finally {
    faultFold[part] = true;
  }
}
