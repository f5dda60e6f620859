// What the kernel-model benches read from the environment: ARCH, the architecture to boot (x86_64
// by default); a name vmlab does not know ends the run with exit 2 and the list of known ones.
import { KERNEL_ARCH_NAMES, type KernelArchName } from "../src/kernel/core/config.ts";

export function benchArch(): KernelArchName {
  const arch = (process.env.ARCH ?? "x86_64") as KernelArchName;
  if (!KERNEL_ARCH_NAMES.includes(arch)) {
    console.error(`ARCH must be one of ${KERNEL_ARCH_NAMES.join(", ")}, not ${arch}`);
    process.exit(2);
  }
  return arch;
}
