/** A booted profile=windows kernel with one running process, for the Windows tests. */
import type { KernelConfig } from "../../core/config.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl } from "../../KernelImpl.ts";

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
