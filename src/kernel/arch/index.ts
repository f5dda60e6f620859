/**
 * Every architecture the kernel boots on, by its `arch=` name: the one place
 * that lists the architecture folders (Linux's Kconfig). The kernel facade
 * picks one here and hands it to boot; nothing else imports kernel/arch/NAME.
 */
import type { ResolvedKernelConfig } from "../core/config.ts";
import type { Arch } from "../core/core.ts";
import { arm64Arch } from "./arm64/index.ts";
import { riscvArch } from "./riscv/index.ts";
import { i386Arch } from "./x86/i386.ts";
import { x86Arch } from "./x86/index.ts";

/** The architectures, by name, and what each is. */
export const ARCHES: Readonly<
  Record<string, { summary: string; build: (cfg: ResolvedKernelConfig) => Arch }>
> = {
  x86_64: { summary: "x86-64, 4-level paging (48-bit addresses)", build: x86Arch },
  "x86_64-la57": { summary: "x86-64, 5-level paging (LA57, 57-bit addresses)", build: x86Arch },
  arm64: { summary: "arm64, 4K pages, 48-bit VAs (TTBR0 user, TTBR1 kernel)", build: arm64Arch },
  "riscv-sv32": {
    summary:
      "RISC-V RV32, Sv32 (2 levels, 4-byte PTEs), 3G/1G-style split at 0xc0000000, lowmem only, 9-bit ASIDs",
    build: riscvArch,
  },
  "riscv-sv39": {
    summary: "RISC-V RV64, Sv39 (3 levels, 39-bit VAs), ASIDs, SBI remote fences",
    build: riscvArch,
  },
  "riscv-sv48": {
    summary: "RISC-V RV64, Sv48 (4 levels, 48-bit VAs), ASIDs, SBI remote fences",
    build: riscvArch,
  },
  "riscv-sv57": {
    summary: "RISC-V RV64, Sv57 (5 levels, 57-bit VAs), ASIDs, SBI remote fences",
    build: riscvArch,
  },
  i386: { summary: "32-bit x86, 2-level paging, 3G/1G split, highmem", build: i386Arch },
  "i386-pae": {
    summary: "32-bit x86, PAE 3-level paging (NX, 64 GiB), 3G/1G split, highmem",
    build: i386Arch,
  },
};

/** The architecture a configuration names (config.ts has checked the name). */
export function archFor(cfg: ResolvedKernelConfig): Arch {
  return ARCHES[cfg.arch].build(cfg);
}
