/**
 * Every machine vmlab builds, by its `arch=` name: the one place that lists
 * the hardware architecture folders. Front ends and trace replay pick a
 * machine here and use it through the generic MMU (hw/mmu/Mmu.ts) and
 * page-table mapper (hw/mmu/Mapper.ts).
 */
import { InputError } from "../../base/errors.ts";
import type { Machine } from "../machine/Machine.ts";
import type { FrameAllocator, PageTableMapper } from "../mmu/Mapper.ts";
import type { Mmu } from "../mmu/Mmu.ts";
import type { TlbSpec } from "../mmu/Tlb.ts";
import type { WalkImageDriver } from "../mmu/walkImage.ts";
import type { PhysMem } from "../PhysMem.ts";
import { ARM64_WALK_IMAGE } from "./arm64/image.ts";
import { Arm64Mapper } from "./arm64/Mapper.ts";
import { Arm64Machine } from "./arm64/machine.ts";
import { I386_WALK_IMAGE } from "./i386/image.ts";
import { I386Mapper } from "./i386/Mapper.ts";
import { I386Machine } from "./i386/machine.ts";
import { levelsOfBits } from "./riscv/format.ts";
import { RISCV_WALK_IMAGE } from "./riscv/image.ts";
import { RiscvMapper } from "./riscv/Mapper.ts";
import { RiscvMachine } from "./riscv/machine.ts";
import { teachingMachine } from "./teaching/machine.ts";
import { X86_WALK_IMAGE } from "./x86_64/image.ts";
import { Mapper } from "./x86_64/Mapper.ts";
import { X86Machine } from "./x86_64/machine.ts";
import { x86Tour } from "./x86_64/tour.ts";

/** What every machine takes. */
export interface HwMachineConfig {
  ramBytes: number;
  cpus?: number;
  tlb?: string | TlbSpec;
  checkCoherence?: boolean;
}

/** One architecture as generic code builds it. */
export interface HwArchEntry {
  readonly name: string;
  readonly summary: string;
  /** a machine of this architecture */
  machine(config: HwMachineConfig): Machine<Mmu>;
  /** the software walker and builder of its page tables */
  mapper(phys: PhysMem, alloc: FrameAllocator): PageTableMapper;
  /** the tour's narrated run of this machine (`vmlab tour`), when it has one */
  tour?(say: (line?: string) => void): void;
}

const x86 = (la57: boolean): HwArchEntry => ({
  name: la57 ? "x86_64-la57" : "x86_64",
  summary: la57 ? "x86-64, 5-level paging (LA57)" : "x86-64, 4-level paging",
  machine: (c) => new X86Machine({ ...c, la57 }),
  mapper: (phys, alloc) => new Mapper(phys, la57 ? 5 : 4, 46, alloc),
  tour: la57 ? undefined : x86Tour,
});

/** RISC-V harts whose deepest format is Sv39, Sv48 or Sv57, or RV32 harts with Sv32 (hw/arch/riscv/, docs/riscv.md). */
const riscv = (vaBits: 32 | 39 | 48 | 57): HwArchEntry => ({
  name: `riscv-sv${vaBits}`,
  summary:
    vaBits === 32
      ? "RISC-V RV32 Sv32 (2 levels, 4-byte PTEs, 34-bit PAs), U- and S-mode, 4 KiB pages and 4 MiB megapages"
      : `RISC-V ${vaBits === 39 ? "Sv39" : vaBits === 48 ? "Sv48 (and Sv39)" : "Sv57 (and Sv48, Sv39)"}, U- and S-mode, 4 KiB pages and superpages`,
  machine: (c) => new RiscvMachine({ ...c, vaBits }),
  mapper: (phys, alloc) => new RiscvMapper(phys, alloc, levelsOfBits(vaBits)),
});

export const HW_ARCHES: Readonly<Record<string, HwArchEntry>> = {
  x86_64: x86(false),
  "x86_64-la57": x86(true),
  arm64: {
    name: "arm64",
    summary: "ARM64 VMSAv8-64, EL1&0 stage 1, 4 KiB granule, 48-bit VAs in TTBR0 and TTBR1",
    machine: (c) => new Arm64Machine(c),
    mapper: (phys, alloc) => new Arm64Mapper(phys, alloc, 48, 48),
  },
  "riscv-sv32": riscv(32),
  "riscv-sv39": riscv(39),
  "riscv-sv48": riscv(48),
  "riscv-sv57": riscv(57),
  i386: {
    name: "i386",
    summary: "32-bit x86, 32-bit paging (4-byte entries, 4 KiB and 4 MiB pages with PSE-36)",
    machine: (c) => new I386Machine({ ...c, pae: false }),
    mapper: (phys, alloc) => new I386Mapper(phys, false, alloc, 36),
  },
  "i386-pae": {
    name: "i386-pae",
    summary: "32-bit x86, PAE paging (PDPTE registers, 8-byte entries, 2 MiB pages, XD)",
    machine: (c) => new I386Machine({ ...c, pae: true }),
    mapper: (phys, alloc) => new I386Mapper(phys, true, alloc, 36),
  },
  teaching: {
    name: "teaching",
    summary: "OSTEP's two-level teaching format (32-byte pages, 15-bit addresses, 4 KiB of RAM)",
    machine: (c) => teachingMachine(c.tlb ?? "none"),
    mapper: () => {
      throw new InputError("the teaching machine has no mapper: its tables are written byte by byte");
    },
  },
};

/** The machine named `name`, or an input error listing the names. */
export function hwArch(name: string, allowed: readonly string[] = Object.keys(HW_ARCHES)): HwArchEntry {
  if (!allowed.includes(name) || !Object.hasOwn(HW_ARCHES, name))
    throw new InputError(`--arch must be ${allowed.join(" or ")}, not '${name}'`);
  return HW_ARCHES[name];
}

/** The `vmlab walk` image drivers, one per family of `arch` values. */
const WALK_IMAGES: readonly WalkImageDriver[] = [
  X86_WALK_IMAGE,
  ARM64_WALK_IMAGE,
  I386_WALK_IMAGE,
  RISCV_WALK_IMAGE,
];

export function walkImageArches(): readonly WalkImageDriver[] {
  return WALK_IMAGES;
}

/** The driver that reads images of `arch`, or null. */
export function walkImageDriver(arch: string): WalkImageDriver | null {
  return WALK_IMAGES.find((d) => d.arches.includes(arch)) ?? null;
}

/** arm64's 16K and 64K granule tables, for `vmlab exercise walk --granule` (arm64/granuleTables.ts). */
export { GranuleTables, granuleGeometry } from "./arm64/granuleTables.ts";
