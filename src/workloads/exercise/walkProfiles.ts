/**
 * What `vmlab exercise walk` needs to know of each `vmlab walk` image
 * architecture beyond its driver (hw/mmu/walkImage.ts): where the image
 * names its table roots, which control bits are worth varying, where user
 * and kernel memory live (Linux's layout), the large page, and the words
 * of its fault report. Data only: the tables are built by the
 * architecture's own mapper (hw/arch/index.ts) and every answer comes from
 * its walker through the image reader (workloads/pagetableImage.ts).
 */

/** One architecture's exercise vocabulary. */
export interface WalkProfile {
  /** bytes per page-table entry (the image lists each non-zero one) */
  readonly entryBytes: 4 | 8;
  /** the image keys that hold the table roots, from the user root's and (if separate) the kernel root's address */
  roots(
    userRootPa: number,
    kernelRootPa: number,
  ): { top: Record<string, string>; regs: Record<string, string> };
  /** whether kernel addresses have their own root (ARM64: TTBR1_EL1) */
  readonly kernelRoot: boolean;
  /** fixed register values (i386: CR4.PSE, so that 4 MiB pages are pages) */
  readonly fixed: Readonly<Record<string, number>>;
  /** control bits set at random, each with its probability of being 1 */
  readonly controls: Readonly<Record<string, number>>;
  /** the privilege flag's value for a user and a kernel access */
  readonly user: string;
  readonly kernel: string;
  /** first address of the user and the kernel windows exercises place pages in */
  readonly userBase: bigint;
  readonly kernelBase: bigint;
  /** the size of a leaf at level 1 (the large page), in bytes */
  readonly largePageBytes: number;
  /** what a fault's answer must give */
  readonly faultAnswer: string;
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** x86: CR3 holds the root (Intel SDM Vol. 3A §4.5); Linux's user text at 4 MiB, the direct map above. */
const x86 = (kernelBase: bigint, nxe: boolean): WalkProfile => ({
  entryBytes: 8,
  roots: (pa) => ({ top: { cr3: hex(pa) }, regs: {} }),
  kernelRoot: false,
  fixed: {},
  controls: {
    "cr0.wp": 0.75,
    "cr4.smep": 0.5,
    "cr4.smap": 0.5,
    "rflags.ac": 0.2,
    ...(nxe ? { "efer.nxe": 0.8 } : {}),
  },
  user: "3",
  kernel: "0",
  userBase: 0x40_0000n,
  kernelBase,
  largePageBytes: 2 * 1024 * 1024,
  faultAnswer: "the #PF error code",
});

/** RISC-V: satp holds MODE and the root's PPN (privileged spec, "satp"); Linux's PAGE_OFFSET of each mode. */
const riscv = (mode: number, kernelBase: bigint): WalkProfile => ({
  entryBytes: 8,
  roots: (pa) => ({ top: {}, regs: { satp: hex((BigInt(mode) << 60n) | BigInt(pa / 4096)) } }),
  kernelRoot: false,
  fixed: {},
  controls: { "sstatus.sum": 0.5, "sstatus.mxr": 0.3, svadu: 0.4 },
  user: "u",
  kernel: "s",
  userBase: 0x1_0000_0000n,
  kernelBase,
  largePageBytes: 2 * 1024 * 1024,
  faultAnswer: "scause (the exception code) and stval",
});

/** Every architecture `vmlab walk` reads, by its image `arch` value. */
export const WALK_PROFILES: Readonly<Record<string, WalkProfile>> = {
  x86_64: x86(0xffff_8880_0000_0000n, true),
  "x86_64-la57": x86(0xff11_0000_0000_0000n, true),
  i386: {
    ...x86(0xc000_0000n, false),
    entryBytes: 4,
    fixed: { "cr4.pse": 1 },
    largePageBytes: 4 * 1024 * 1024,
    userBase: 0x0800_0000n,
  },
  "i386-pae": { ...x86(0xc000_0000n, true), userBase: 0x0800_0000n },
  // TTBR0_EL1 for the lower range, TTBR1_EL1 for the upper (Arm ARM D8.2); Linux's linear map at the bottom of the upper
  arm64: {
    entryBytes: 8,
    roots: (u, k) => ({ top: {}, regs: { ttbr0_el1: hex(u), ttbr1_el1: hex(k) } }),
    kernelRoot: true,
    fixed: {},
    controls: { "pstate.pan": 0.5, "sctlr_el1.wxn": 0.25, "tcr_el1.ha": 0.4 },
    user: "0",
    kernel: "1",
    userBase: 0xaaaa_0000_0000n,
    kernelBase: 0xffff_0000_0000_0000n,
    largePageBytes: 2 * 1024 * 1024,
    faultAnswer: "ESR_EL1 (the fault status code and level)",
  },
  // RV32 (an extension): satp's MODE is bit 31 and its PPN bits 21:0; 4-byte PTEs, 4 MiB megapages,
  // Linux's rv32 PAGE_OFFSET 0xc0000000
  "riscv-sv32": {
    ...riscv(8, 0xc000_0000n),
    entryBytes: 4,
    roots: (pa) => ({ top: {}, regs: { satp: hex((1n << 31n) | BigInt(pa / 4096)) } }),
    userBase: 0x0040_0000n,
    largePageBytes: 4 * 1024 * 1024,
  },
  "riscv-sv39": riscv(8, 0xffff_ffd8_0000_0000n),
  "riscv-sv48": riscv(9, 0xffff_af80_0000_0000n),
  "riscv-sv57": riscv(10, 0xff60_0000_0000_0000n),
};
