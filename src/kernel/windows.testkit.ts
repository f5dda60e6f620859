/**
 * What the profile=windows tests share (tests only): a booted kernel with one
 * process or two, and GetLastError.
 */
import type { KernelConfig } from "./core/config.ts";
import type { Task } from "./core/task.ts";
import { KernelImpl } from "./KernelImpl.ts";
import type { WindowsOs } from "./os/windows/index.ts";

/** A profile=windows kernel (32 MiB of RAM, a 4 MiB paging file) with processes a and b, a running on CPU 0. */
export function twoProcs(cfg: Partial<KernelConfig> = {}): {
  k: KernelImpl;
  a: Task;
  b: Task;
  os: WindowsOs;
} {
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", pagefileBytes: 4 << 20, ...cfg });
  const a = k.spawn("a")!;
  const b = k.spawn("b")!;
  k.switchTo(0, a);
  return { k, a, b, os: k.os as WindowsOs };
}

/** A profile=windows kernel (32 MiB of RAM) with one process, running on CPU 0. */
export function winKernel(cfg: Partial<KernelConfig> = {}): { k: KernelImpl; t: Task } {
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", ...cfg });
  const t = k.spawn("app")!;
  k.switchTo(0, t);
  return { k, t };
}

/** GetLastError of the task's process. */
export function lastError(k: KernelImpl, t: Task): number {
  return k.view.windows()!.process(t)!.lastError;
}

/** Runs `t` on CPU 0. */
export const on = (k: KernelImpl, t: Task) => k.switchTo(0, t);
