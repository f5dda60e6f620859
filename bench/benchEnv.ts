// What the kernel-model benches share: ARCH from the environment (x86_64 by default; a name vmlab
// does not know ends the run with exit 2 and the list of known ones), CPU time, the touch machine.
import { KERNEL_ARCH_NAMES, type KernelArchName } from "../src/kernel/core/config.ts";
import type { TaskHandle } from "../src/kernel/core/task.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";

export function benchArch(): KernelArchName {
  const arch = (process.env.ARCH ?? "x86_64") as KernelArchName;
  if (!KERNEL_ARCH_NAMES.includes(arch)) {
    console.error(`ARCH must be one of ${KERNEL_ARCH_NAMES.join(", ")}, not ${arch}`);
    process.exit(2);
  }
  return arch;
}

/** This process's CPU time (user + system) in ns. */
export function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/**
 * The touch benches' machine: 2 GiB of RAM, one CPU, no swap, overcommit always, on `arch`, with
 * one process running on CPU 0 and `mib` MiB of anonymous memory mapped at `base` (nothing touched
 * yet), also as the halves Kernel.userAccessRange takes.
 */
export function touchMachine(
  arch: KernelArchName,
  mib: number,
): { k: Kernel; t: TaskHandle; base: bigint; hi: number; lo: number } {
  const k = new Kernel({ ramBytes: 2 * 2 ** 30, cpus: 1, swapBytes: 0, overcommit: "always", arch });
  const t = k.spawn("c");
  if (t === null) throw new Error("spawn failed");
  k.switchTo(0, t);
  const base = k.mmap(t, mmapArgs(mib << 20));
  return { k, t, base, hi: Number(base >> 32n), lo: Number(base & 0xffffffffn) };
}
