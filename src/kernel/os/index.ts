/**
 * The operating-system profiles by `profile=` name: null for Linux (the
 * kernel's own paths), the Windows memory manager for `windows`. The one
 * place that imports a profile's folder.
 */
import type { KernelCore } from "../core/core.ts";
import { WindowsOs } from "./windows/index.ts";

/** The profile a booted kernel runs (config.ts has checked the name and the architecture). */
export function osFor(k: KernelCore): WindowsOs | null {
  return k.config.profile === "windows" ? new WindowsOs(k) : null;
}
