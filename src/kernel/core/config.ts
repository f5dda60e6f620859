/**
 * The kernel's configuration: KernelConfig, its defaults and ranges, and
 * the one validator of its values, for both ways in: the Kernel API
 * (`resolveConfig`, errors worded in the API's fields and units) and the
 * `.vm` language's `machine` statement (`machineConfig`, errors worded in
 * the statement's keys and sizes; the scenario layer only reads the
 * statement's syntax and attaches FILE:LINE:COL to a MachineKeyError).
 */
import { InputError } from "../../base/errors.ts";
import { type CacheSpec, cacheSpecError } from "../../hw/cache/CacheSpec.ts";
import { makeTlb } from "../../hw/mmu/Tlb.ts";
import { RECLAIM_POLICIES, type ReclaimPolicy } from "../mm/vmscan.ts";
import { MACHINE_KEYS, RISCV_ARCHS, X86_64_ARCHS } from "./machine_keys.ts";

export { MACHINE_KEYS } from "./machine_keys.ts";

/** The machine and kernel options that concern the kernel's own memory (the `machine` statement). */
export interface KernelConfig {
  ramBytes: number;
  /**
   * A limit on the pages user memory may hold (a cgroup's memory.max over
   * every process): at the limit, allocating a user page first reclaims
   * (try_to_free_mem_cgroup_pages). Null: no limit.
   */
  userMemoryPages?: number | null;
  /**
   * The same cgroup's memory.high in pages (the throttle point: a charge above it is made, and
   * the charging task reclaims the excess on its way back to user mode). Null: "max".
   */
  memoryHighPages?: number | null;
  cpus?: number;
  arch?: KernelArchName;
  /** TLB preset or spec */
  tlb?: string;
  /** use PCIDs (CR4.PCIDE); default on */
  pcid?: boolean;
  /** page-table isolation (pti=on): two PGDs per mm, CR3 switched on kernel entry and exit */
  pti?: boolean;
  /** x86: CR4.SMAP / CR4.SMEP; default on */
  smap?: boolean;
  smep?: boolean;
  /**
   * x86-64: the CPU has protection keys and Linux enables them
   * (X86_FEATURE_PKU, CR4.PKE: X86_FEATURE_OSPKE); default off, as on a
   * CPU without PKU. Off, pkey_alloc fails (arch_max_pkey() is 1).
   */
  pku?: boolean;
  /**
   * arm64: CONFIG_ARM64_PAN, the kernel running with PSTATE.PAN set; default
   * on. (arm64 has no switch for its SMEP counterpart: Linux maps every user
   * page PXN; and no PCID switch: the TLB is always tagged with ASIDs.)
   */
  pan?: boolean;
  /**
   * arm64: ID_AA64MMFR0_EL1.ASIDBits, 8 or 16 (default 16, TCR_EL1.AS set):
   * how many mms the ASID allocator serves before a rollover
   */
  asidBits?: 8 | 16;
  /**
   * arm64: FEAT_TLBIRANGE (ID_AA64ISAR0_EL1.TLB, system_supports_tlb_range): __flush_tlb_range
   * issues range TLBIs (RVAE1IS, RVALE1IS) instead of one TLBI per page (default off)
   */
  tlbiRange?: boolean;
  /**
   * arm64: ID_AA64MMFR1_EL1.HAFDBS (default `dbm`): hardware Access flag and dirty state (TCR_EL1.HA
   * and HD, as __cpu_setup and cpu_enable_hw_dbm set them), `af` the Access flag alone (HD left
   * clear: a CPU with broken DBM, cpu_has_broken_dbm), `off` neither: an old page's access is an
   * Access flag fault, a writable-clean page's write a permission fault (software dirty bit)
   */
  hafdbs?: "dbm" | "af" | "off";
  /**
   * arm64: FEAT_PAN3 (ID_AA64MMFR1_EL1.PAN = 3, ARM64_HAS_EPAN; default off): cpu_enable_epan sets
   * SCTLR_EL1.EPAN and adjust_protection_map maps PROT_EXEC alone as PAGE_EXECONLY
   */
  epan?: boolean;
  /** panic on the first oops (kernel.panic_on_oops) */
  panicOnOops?: boolean;
  /** paging-structure caches in the CPUs */
  psc?: boolean;
  /** report every use of a stale TLB entry */
  checkCoherence?: boolean;
  /** vfree flushes TLBs lazily, as Linux does (default true) */
  vmallocLazy?: boolean;
  /**
   * 32-bit x86 without PAE: how a new vmalloc page-directory entry reaches
   * the processes' PGDs: `eager` (Linux 5.8+, arch_sync_kernel_mappings
   * copies it into every PGD at vmalloc time; the default) or `lazy` (before
   * 5.8: only swapper_pg_dir gets it; each process's first access takes a
   * vmalloc fault that copies it)
   */
  vmallocSync?: "eager" | "lazy";
  /**
   * arm64: how copy_*_user crosses PAN: `ldtr`, the unprivileged loads and
   * stores of Linux 5.11+ (default), or `pan-toggle`, PSTATE.PAN cleared
   * around the copy (uaccess_enable_privileged, the older scheme)
   */
  uaccess?: "ldtr" | "pan-toggle";
  /**
   * RISC-V: how a TLB flush reaches other harts (riscv_use_sbi_for_rfence):
   * `sbi`, one SBI remote-fence call (default), or `ipi`, Linux's own IPIs
   */
  rfence?: "sbi" | "ipi";
  /**
   * RISC-V: the harts implement Svnapot and Linux sees it (has_svnapot():
   * the 64K NAPOT HugeTLB size); default off
   */
  svnapot?: boolean;
  /** vm.mmap_min_addr (default 65536) */
  mmapMinAddr?: number;
  /** vm.overcommit_memory: heuristic (0), always (1), never (2) */
  overcommit?: "heuristic" | "always" | "never";
  /** /sys/kernel/mm/transparent_hugepage/enabled (default madvise) */
  thp?: "never" | "madvise" | "always";
  /** .../transparent_hugepage/use_zero_page (default on) */
  thpZeroPage?: boolean;
  /** .../transparent_hugepage/shrink_underused (default on; Linux 6.12) */
  thpShrinkUnderused?: boolean;
  /** .../transparent_hugepage/khugepaged/max_ptes_none (default -1: HPAGE_PMD_NR - 1, 511 with 4K pages) */
  thpMaxPtesNone?: number;
  /** debugfs fault_around_bytes (default 65536); rounded down to a power of two pages, at most 2 MiB */
  faultAroundBytes?: number;
  /** the block device's read_ahead_kb (default 128) */
  readaheadKb?: number;
  /** the size of the swap area in bytes (default 0: no swap) */
  swapBytes?: number;
  /** vm.swappiness, 0 .. 200 (default 60) */
  swappiness?: number;
  /**
   * vm.panic_on_oom (0, 1: panic at an OOM of the whole machine, 2: at a memory limit's too),
   * vm.oom_kill_allocating_task (not 0: kill the allocating task) and vm.oom_dump_tasks (not 0:
   * dump_header's task table); defaults 0, 0, 1. core/oom.ts out_of_memory.
   */
  panicOnOom?: number;
  oomKillAllocatingTask?: number;
  oomDumpTasks?: number;
  /** vm.page-cluster: swap readahead reads 2^N pages (default 3; 0 turns it off) */
  pageCluster?: number;
  /** the page-reclaim policy (default linux: the two-list LRU) */
  policy?: ReclaimPolicy;
  /** seeds the random reclaim policy */
  seed?: number;
  /**
   * the page table the MMU reads: `radix` (the architecture's own) or
   * `inverted`, a hashed inverted page table refilled from Linux's radix
   * tables (x86_64 only; docs/inverted.md)
   */
  pagetable?: "radix" | "inverted";
  /** an L1 data cache on every CPU (`cache=vivt|vipt|pipt`; docs/caches.md); null or absent: none */
  cache?: CacheSpec | null;
  /**
   * the operating-system profile: `linux` (default) or `windows` (x86_64,
   * i386, i386-pae: the same hardware, boot and allocators, with user
   * address spaces managed by Windows' rules; kernel/os/windows, docs/windows.md)
   */
  profile?: "linux" | "windows";
  /** windows on i386/i386-pae: the user/kernel split, `2G` (default) or `3G` (/3GB, increaseuserva, a large-address-aware image) */
  split?: "2G" | "3G";
  /** windows: the paging file's size in bytes (default 0); the commit limit is RAM plus this */
  pagefileBytes?: number;
}

/** A KernelConfig with every default filled in (Kernel.config). */
export type ResolvedKernelConfig = Required<Omit<KernelConfig, "tlb" | "arch">> & {
  tlb: string;
  arch: KernelArchName;
};

/** The architectures the kernel boots on (kernel/arch/index.ts ARCHES has one entry for each). */
export type KernelArchName =
  | "x86_64"
  | "x86_64-la57"
  | "arm64"
  | "riscv-sv32"
  | "riscv-sv39"
  | "riscv-sv48"
  | "riscv-sv57"
  | "i386"
  | "i386-pae";
/** The same names, for the `machine` statement's check. */
export const KERNEL_ARCH_NAMES: readonly KernelArchName[] = [
  "x86_64",
  "x86_64-la57",
  "arm64",
  "riscv-sv32",
  "riscv-sv39",
  "riscv-sv48",
  "riscv-sv57",
  "i386",
  "i386-pae",
];
/** A RISC-V name. */
const isRiscv = (arch: string) => RISCV_ARCHS.includes(arch);

/** Why other architectures' switches are refused on RISC-V, and what RISC-V has instead. */
export const NOT_RISCV: Record<string, string> = {
  pcid: "is x86's (CR4.PCIDE); RISC-V always tags its TLB with the ASID in satp (arch/riscv/mm/context.c)",
  smap: "is x86's (CR4.SMAP); RISC-V's counterpart is sstatus.SUM, which the kernel keeps clear outside the uaccess routines",
  smep: "is x86's (CR4.SMEP); RISC-V needs no switch: S-mode never executes a U page",
  pan: "is arm64's (PSTATE.PAN); RISC-V's counterpart is sstatus.SUM, which the kernel keeps clear outside the uaccess routines",
  pti: "RISC-V Linux has no page-table isolation",
  asid_bits: "is arm64's; RISC-V's satp holds a 16-bit ASID",
  tlbi_range: "is arm64's (FEAT_TLBIRANGE); RISC-V's SFENCE.VMA takes one address or all of them",
  uaccess: "is arm64's (PSTATE.PAN); RISC-V's copy_*_user sets sstatus.SUM around the copy",
};

/**
 * What RV32 Linux (riscv-sv32) lacks, as [key, why], or null: Svnapot's and
 * Svpbmt's PTE bits are RV64's; HAVE_ARCH_TRANSPARENT_HUGEPAGE is selected
 * `if 64BIT && MMU`; a swap entry keeps its offset in PTE bits 31..12.
 */
/** Why RV32 has no /sys/kernel/mm/transparent_hugepage, nor any THP path (CONFIG_TRANSPARENT_HUGEPAGE off). */
export const RV32_NO_THP =
  "RV32 Linux has no transparent huge pages (arch/riscv/Kconfig: HAVE_ARCH_TRANSPARENT_HUGEPAGE if 64BIT && MMU)";

function rv32Refusal(svnapot: boolean, thp: string, swapBytes: number): [string, string] | null {
  if (svnapot)
    return [
      "svnapot",
      "Svnapot is RV64-only (its N bit is PTE bit 63; the spec defines it on Sv39/48/57): an RV32 hart's Sv32 PTE has no room for it",
    ];
  if (thp !== "never") return ["thp", `${RV32_NO_THP}: thp=never`];
  if (swapBytes > 2 ** 32)
    return [
      "swap",
      "an RV32 swap entry keeps the offset in PTE bits 31..12: at most 2^20 pages (4G) of swap",
    ];
  return null;
}

/** 32-bit x86 (`i386`, `i386-pae`) */
function is32(arch: string): boolean {
  return arch === "i386" || arch === "i386-pae";
}

/** Why keys that 32-bit x86 lacks are refused there. */
const NOT_ON_I386 = {
  pcid: "PCIDs exist only in IA-32e mode (CR4.PCIDE needs long mode): 32-bit x86 flushes the non-global TLB entries at every CR3 write",
  pti: "Linux's page-table isolation on 32-bit x86 needs PAE (MITIGATION_PAGE_TABLE_ISOLATION depends on X86_64 || X86_PAE): use arch=i386-pae",
  ptiWindows:
    "on 32-bit x86 vmlab's PTI is Linux's (a PDPT pair, per-process kernel PMDs); Windows' KVA Shadow is not modelled there",
  ram2level:
    "32-bit paging's 4-byte PTEs reach 4G of physical memory: use arch=i386-pae for more (up to 64G)",
  swap2level: "a 2-level swap entry keeps the offset in PTE bits 31..9: at most 2^23 pages (32G) of swap",
  vmallocSync:
    "is 32-bit x86's without PAE (2-level page tables, a PGD entry per 4M of vmalloc space) or with PAE and pti=on (each PGD's own copy of the kernel PMD); on this arch the kernel's upper tables are shared",
} as const;

/** Where a kernel PGD entry vmalloc adds is not in every PGD at once: 2-level i386, and PAE with PTI (!SHARED_KERNEL_PMD). */
function vmallocSyncArch(arch: string, pti: boolean): boolean {
  return arch === "i386" || (arch === "i386-pae" && pti);
}

// ---- ranges ----

/** The smallest machine vmlab boots (the kernel image is loaded at 16 MiB). */
export const MIN_RAM = 32 << 20;
/** The most RAM the Kernel API boots: x86-64's direct map (64 TiB). */
export const MAX_RAM = 2 ** 46;
/** The most RAM a `machine` statement boots (struct page costs host memory per frame). */
export const MAX_KERNEL_RAM = 64n << 30n;
/** One swap area of at most 64 GiB; its first page is the header. */
const MAX_SWAP_BYTES = 2 ** 36;
const MIN_SWAP_BYTES = 2 * 4096;
/** fault_around_bytes: at most one page table's 512 pages (PTRS_PER_PTE). */
const MAX_FAULT_AROUND_BYTES = 512 * 4096;
/** read_ahead_kb: at most 64 MiB */
const MAX_READAHEAD_KB = 65536;
const MAX_SWAPPINESS = 200;
const MAX_PAGE_CLUSTER = 9;
const MAX_MACHINE_CPUS = 64n;

/** Why x86's switches are refused on arm64, and what arm64 has instead. */
export const X86_ONLY = {
  pcid: "is x86's (CR4.PCIDE); arm64 always tags its TLB with ASIDs (arch/arm64/mm/context.c)",
  smap: "is x86's (CR4.SMAP); arm64's counterpart is PSTATE.PAN: pan=on|off",
  smep: "is x86's (CR4.SMEP); arm64 has no switch: Linux maps every user page PXN",
} as const;

/** Why pagetable=inverted is x86_64's only, and why it refuses PTI. */
const INVERTED_ARCH =
  "inverted is vmlab's own x86-64 machine with a hashed inverted page table (4-level addresses); arch=x86_64 only";
const INVERTED_PTI =
  "PTI swaps CR3 on kernel entry; with pagetable=inverted user translations come from the IPT, not CR3 (not modelled)";

const PKU_IS_X86_64 =
  "is x86-64's (X86_FEATURE_OSPKE; Linux's CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS needs X86_64)";
const PAN_IS_ARM64 = "is arm64's (CONFIG_ARM64_PAN, PSTATE.PAN); x86's counterpart is smap=on|off";
const TLBI_RANGE_IS_ARM64 =
  "is arm64's (FEAT_TLBIRANGE: range TLBIs); x86 invalidates a range page by page with INVLPG up to tlb_single_page_flush_ceiling";
const EPAN_IS_ARM64 = "is arm64's (FEAT_PAN3, SCTLR_EL1.EPAN: Enhanced PAN)";
const HAFDBS_IS_ARM64 = "is arm64's (ID_AA64MMFR1_EL1.HAFDBS: hardware Access flag and dirty state)";
const SVNAPOT_IS_RISCV = "is RISC-V's (the Svnapot extension: 64K NAPOT HugeTLB pages)";
const RFENCE_IS_RISCV = "is RISC-V's (how a TLB flush reaches other harts: SBI remote fences or IPIs)";

/**
 * The Kernel API's configuration with its defaults, checked (InputError
 * worded in the API's fields: `swap=N: ...`). The machine model checks
 * what is its own (CPU count, TLB spec, RAM a multiple of the page size).
 */
export function resolveConfig(config: KernelConfig): ResolvedKernelConfig {
  const c: ResolvedKernelConfig = {
    ramBytes: config.ramBytes,
    cpus: config.cpus ?? 1,
    arch: config.arch ?? "x86_64",
    tlb: config.tlb ?? "skylake",
    pcid: config.pcid ?? !is32(config.arch ?? "x86_64"),
    userMemoryPages: config.userMemoryPages ?? null,
    memoryHighPages: config.memoryHighPages ?? null,
    pti: config.pti ?? false,
    smap: config.smap ?? true,
    smep: config.smep ?? true,
    pku: config.pku ?? false,
    pan: config.pan ?? true,
    asidBits: config.asidBits ?? 16,
    tlbiRange: config.tlbiRange ?? false,
    hafdbs: config.hafdbs ?? "dbm",
    epan: config.epan ?? false,
    panicOnOops: config.panicOnOops ?? false,
    psc: config.psc ?? false,
    checkCoherence: config.checkCoherence ?? false,
    vmallocLazy: config.vmallocLazy ?? true,
    vmallocSync: config.vmallocSync ?? "eager",
    uaccess: config.uaccess ?? "ldtr",
    rfence: config.rfence ?? "sbi",
    svnapot: config.svnapot ?? false,
    mmapMinAddr: config.mmapMinAddr ?? 65536,
    overcommit: config.overcommit ?? "heuristic",
    thp: config.thp ?? (config.arch === "riscv-sv32" ? "never" : "madvise"),
    thpZeroPage: config.thpZeroPage ?? true,
    thpShrinkUnderused: config.thpShrinkUnderused ?? true,
    thpMaxPtesNone: config.thpMaxPtesNone ?? -1,
    faultAroundBytes: config.faultAroundBytes ?? 65536,
    readaheadKb: config.readaheadKb ?? 128,
    swapBytes: config.swapBytes ?? 0,
    swappiness: config.swappiness ?? 60,
    panicOnOom: config.panicOnOom ?? 0,
    oomKillAllocatingTask: config.oomKillAllocatingTask ?? 0,
    oomDumpTasks: config.oomDumpTasks ?? 1,
    policy: config.policy ?? "linux",
    pageCluster: config.pageCluster ?? 3,
    seed: config.seed ?? 1,
    pagetable: config.pagetable ?? "radix",
    cache: config.cache ?? null,
    profile: config.profile ?? "linux",
    split: config.split ?? "2G",
    pagefileBytes: config.pagefileBytes ?? 0,
  };
  const cacheError = c.cache === null ? null : cacheSpecError(c.cache);
  if (cacheError !== null) throw new InputError(`${cacheError[0]}: ${cacheError[1]}`);
  checkProfile(c, config.split !== undefined, config.pagefileBytes !== undefined, (key, why) => {
    throw new InputError(`${key}: ${why}`);
  });
  if (isRiscv(c.arch)) {
    for (const [key, field] of [
      ["pcid", config.pcid],
      ["smap", config.smap],
      ["smep", config.smep],
      ["pan", config.pan],
      ["pti", config.pti],
      ["asid_bits", config.asidBits],
      ["tlbi_range", config.tlbiRange],
      ["uaccess", config.uaccess],
    ] as const)
      if (field !== undefined) throw new InputError(`${key}: ${NOT_RISCV[key]}`);
    if (c.arch === "riscv-sv39" && c.ramBytes > 2 ** 37)
      throw new InputError(`ram=${c.ramBytes} is larger than Sv39's 128 GiB linear map`);
    const rv32 = rv32Refusal(c.svnapot, c.thp, c.swapBytes);
    if (c.arch === "riscv-sv32" && rv32 !== null) throw new InputError(`${rv32[0]}: ${rv32[1]}`);
  } else if (config.rfence !== undefined) throw new InputError(`rfence: ${RFENCE_IS_RISCV}`);
  else if (config.svnapot !== undefined) throw new InputError(`svnapot: ${SVNAPOT_IS_RISCV}`);
  if (c.rfence !== "sbi" && c.rfence !== "ipi")
    throw new InputError(`rfence=${c.rfence}: must be sbi or ipi`);
  if (c.pagetable !== "radix" && c.pagetable !== "inverted")
    throw new InputError(`pagetable=${c.pagetable}: radix or inverted`);
  if (c.pagetable === "inverted" && c.arch !== "x86_64") throw new InputError(`pagetable: ${INVERTED_ARCH}`);
  if (c.pagetable === "inverted" && c.pti) throw new InputError(`pti: ${INVERTED_PTI}`);
  if (c.arch === "arm64") {
    for (const [key, field] of [
      ["pcid", config.pcid],
      ["smap", config.smap],
      ["smep", config.smep],
    ] as const)
      if (field !== undefined) throw new InputError(`${key}: ${X86_ONLY[key]}`);
  } else if (config.pan !== undefined && !isRiscv(c.arch)) throw new InputError(`pan: ${PAN_IS_ARM64}`);
  if (is32(c.arch)) {
    if (c.pcid) throw new InputError(`pcid: ${NOT_ON_I386.pcid}`);
    if (c.pti && c.arch === "i386") throw new InputError(`pti: ${NOT_ON_I386.pti}`);
    if (c.pti && c.profile === "windows") throw new InputError(`pti: ${NOT_ON_I386.ptiWindows}`);
    if (c.arch === "i386" && c.ramBytes > 2 ** 32) throw new InputError(`ram: ${NOT_ON_I386.ram2level}`);
    if (c.arch === "i386" && c.swapBytes > 2 ** 35) throw new InputError(`swap: ${NOT_ON_I386.swap2level}`);
  }
  if (c.pku && !X86_64_ARCHS.includes(c.arch)) throw new InputError(`pku: ${PKU_IS_X86_64}`);
  if (c.vmallocSync !== "eager" && c.vmallocSync !== "lazy")
    throw new InputError(`vmalloc_sync=${c.vmallocSync}: must be eager or lazy`);
  if (c.vmallocSync === "lazy" && !vmallocSyncArch(c.arch, c.pti))
    throw new InputError(`vmalloc_sync: ${NOT_ON_I386.vmallocSync}`);
  if (c.asidBits !== 8 && c.asidBits !== 16) throw new InputError(`asid_bits=${c.asidBits}: must be 8 or 16`);
  if (config.tlbiRange !== undefined && c.arch !== "arm64" && !isRiscv(c.arch))
    throw new InputError(`tlbi_range: ${TLBI_RANGE_IS_ARM64}`);
  if (config.hafdbs !== undefined && c.arch !== "arm64") throw new InputError(`hafdbs: ${HAFDBS_IS_ARM64}`);
  if (config.epan !== undefined && c.arch !== "arm64") throw new InputError(`epan: ${EPAN_IS_ARM64}`);
  if (!["dbm", "af", "off"].includes(c.hafdbs))
    throw new InputError(`hafdbs=${c.hafdbs}: must be dbm, af or off`);
  const int = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  if (!int(c.pageCluster, MAX_PAGE_CLUSTER))
    throw new InputError(`page_cluster=${c.pageCluster}: must be 0 .. ${MAX_PAGE_CLUSTER}`);
  if (!RECLAIM_POLICIES.includes(c.policy))
    throw new InputError(`policy=${c.policy}: one of ${RECLAIM_POLICIES.join(", ")}`);
  if (!int(c.swappiness, MAX_SWAPPINESS))
    throw new InputError(`swappiness=${c.swappiness}: must be an integer from 0 to ${MAX_SWAPPINESS}`);
  const sw = c.swapBytes;
  if (!(int(sw, MAX_SWAP_BYTES) && sw % 4096 === 0))
    throw new InputError(`swap=${sw}: must be a multiple of 4096 from 0 to 64 GiB`);
  if (sw > 0 && sw < MIN_SWAP_BYTES)
    throw new InputError(`swap=${sw}: a swap area needs its header page and at least one page`);
  const fab = c.faultAroundBytes;
  if (!int(fab, MAX_FAULT_AROUND_BYTES))
    throw new InputError(
      `fault_around_bytes=${fab}: must be an integer from 0 to ${MAX_FAULT_AROUND_BYTES} (PTRS_PER_PTE pages)`,
    );
  if (!int(c.readaheadKb, MAX_READAHEAD_KB))
    throw new InputError(`read_ahead_kb=${c.readaheadKb}: must be an integer from 0 to ${MAX_READAHEAD_KB}`);
  if (!(c.ramBytes >= MIN_RAM)) {
    throw new InputError(
      `ram=${c.ramBytes} is too small: the kernel image is loaded at 16 MiB, so vmlab boots with at least 32 MiB`,
    );
  }
  if (c.ramBytes > MAX_RAM)
    throw new InputError(`ram=${c.ramBytes} is larger than x86-64's 64 TiB direct map`);
  return c;
}

/** The architectures profile=windows runs on (Windows' own: x64 and x86, with or without PAE). */
export const WINDOWS_ARCHS: readonly string[] = ["x86_64", "i386", "i386-pae"];
/** The keys only profile=windows has (effective settings leave them out of a Linux machine). */
const WINDOWS_KEYS: readonly string[] = ["split", "pagefile"];
/** The largest paging file (a vmlab bound, as swap=). */
const MAX_PAGEFILE_BYTES = 2 ** 36;

/** profile=, split= and pagefile= together: windows only on its architectures, split only on 32-bit x86. */
function checkProfile(
  c: { profile: string; arch: string; split: string; pagefileBytes: number; pagetable: string },
  splitGiven: boolean,
  pagefileGiven: boolean,
  bad: (key: string, why: string) => never,
): void {
  if (c.profile !== "linux" && c.profile !== "windows")
    bad("profile", `expected linux or windows, not '${c.profile}'`);
  if (c.split !== "2G" && c.split !== "3G") bad("split", `expected 2G or 3G, not '${c.split}'`);
  if (c.profile === "windows" && !WINDOWS_ARCHS.includes(c.arch))
    bad(
      "profile",
      `windows runs on ${WINDOWS_ARCHS.join(", ")} (Windows' x64 and x86 memory managers), not ${c.arch}`,
    );
  if (splitGiven && c.profile !== "windows")
    bad(
      "split",
      "is the windows profile's (boot.ini /3GB, bcdedit increaseuserva); Linux's i386 split is 3G/1G",
    );
  if (splitGiven && !is32(c.arch))
    bad("split", "is 32-bit x86's (/3GB); x64 Windows gives user space the low 128 TB");
  if (pagefileGiven && c.profile !== "windows") bad("pagefile", "is the windows profile's; Linux has swap=");
  if (
    !(
      Number.isInteger(c.pagefileBytes) &&
      c.pagefileBytes >= 0 &&
      c.pagefileBytes <= MAX_PAGEFILE_BYTES &&
      c.pagefileBytes % 4096 === 0
    )
  )
    bad("pagefile", `must be a multiple of 4K from 0 to 64G, not ${c.pagefileBytes}`);
  if (c.profile === "windows" && c.pagetable !== "radix")
    bad("pagetable", "the windows profile runs on the architecture's own radix tables");
}

// =====================================================================
// The `machine` statement
// =====================================================================

/**
 * A `machine` statement's values as its syntax reads them (the scenario
 * layer): each key as given, or its default. Syntax errors (a number
 * expected, on or off expected) are the reader's to raise.
 */
export interface MachineValues {
  given(key: string): boolean;
  /** the value as a word: an identifier, or a plain number in decimal */
  word(key: string): string;
  /** the value as a number (a size's K, M or G applied) */
  number(key: string): bigint;
  /** on or off (also 1 or 0) */
  onOff(key: string): boolean;
}

/** A value a machine key does not allow; the scenario layer reports it at the key's value. */
export class MachineKeyError extends InputError {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`machine ${key}: ${reason}`);
  }
}

export interface MachineSettings {
  kernel: KernelConfig;
  seed: number;
  /** every key as given or defaulted, for --verbose and --json */
  effective: Record<string, string>;
}

/** Checks a `machine` statement's values and turns them into a KernelConfig (MachineKeyError for a bad value). */
export function machineConfig(v: MachineValues): MachineSettings {
  const bad = (key: string, reason: string): never => {
    throw new MachineKeyError(key, reason);
  };
  const oneOf = (key: string, allowed: string[], later: string[] = []): string => {
    const x = v.word(key);
    if (later.includes(x)) bad(key, `'${x}' is not supported by this version of vmlab yet`);
    if (!allowed.includes(x)) bad(key, `expected one of ${allowed.join(", ")}, not '${x}'`);
    return x;
  };

  const arch = oneOf("arch", [...KERNEL_ARCH_NAMES]);
  const rfence = oneOf("rfence", ["sbi", "ipi"]) as "sbi" | "ipi";
  if (isRiscv(arch)) {
    for (const key of ["pcid", "smap", "smep", "pan", "pti", "asid_bits", "tlbi_range", "uaccess"])
      if (v.given(key)) bad(key, NOT_RISCV[key]);
  } else if (v.given("rfence")) bad("rfence", RFENCE_IS_RISCV);
  else if (v.given("svnapot")) bad("svnapot", SVNAPOT_IS_RISCV);
  const profile = oneOf("profile", ["linux", "windows"]) as "linux" | "windows";
  // split=2G / 3G read as sizes (the lexer reads 2G as 2 GiB)
  const splitBytes = v.number("split");
  if (splitBytes !== 2n << 30n && splitBytes !== 3n << 30n) bad("split", "expected 2G or 3G");
  const split = splitBytes === 2n << 30n ? "2G" : "3G";
  checkProfile(
    {
      profile,
      arch,
      split,
      pagefileBytes: Number(v.number("pagefile")),
      pagetable: v.word("pagetable"),
    },
    v.given("split"),
    v.given("pagefile"),
    bad,
  );
  const uaccess = oneOf("uaccess", ["ldtr", "pan-toggle"]) as "ldtr" | "pan-toggle";
  if (v.given("uaccess") && arch !== "arm64" && !isRiscv(arch))
    bad("uaccess", `is arm64's (PSTATE.PAN); ${arch} crosses SMAP with STAC/CLAC`);
  if (arch === "arm64") {
    for (const key of ["pcid", "smap", "smep"] as const) if (v.given(key)) bad(key, X86_ONLY[key]);
  } else if (v.given("pan") && !isRiscv(arch)) bad("pan", PAN_IS_ARM64);
  if (v.given("pku") && !X86_64_ARCHS.includes(arch)) bad("pku", PKU_IS_X86_64);
  const vmallocSync = oneOf("vmalloc_sync", ["eager", "lazy"]) as "eager" | "lazy";
  if (v.given("vmalloc_sync") && !vmallocSyncArch(arch, v.onOff("pti")))
    bad("vmalloc_sync", NOT_ON_I386.vmallocSync);
  if (is32(arch)) {
    if (v.given("pcid")) bad("pcid", NOT_ON_I386.pcid);
    if (arch === "i386" && v.onOff("pti")) bad("pti", NOT_ON_I386.pti);
    if (profile === "windows" && v.onOff("pti")) bad("pti", NOT_ON_I386.ptiWindows);
  }
  const asidBits = v.number("asid_bits");
  if (asidBits !== 8n && asidBits !== 16n) bad("asid_bits", `must be 8 or 16, not ${asidBits}`);
  if (v.given("tlbi_range") && arch !== "arm64" && !isRiscv(arch)) bad("tlbi_range", TLBI_RANGE_IS_ARM64);
  const hafdbs = oneOf("hafdbs", ["dbm", "af", "off"]) as "dbm" | "af" | "off";
  if (v.given("hafdbs") && arch !== "arm64") bad("hafdbs", HAFDBS_IS_ARM64);
  if (v.given("epan") && arch !== "arm64") bad("epan", EPAN_IS_ARM64);
  if (v.given("asid_bits") && arch !== "arm64")
    bad("asid_bits", "is arm64's (ID_AA64MMFR0_EL1.ASIDBits); x86 has 12-bit PCIDs, 6 of them used per CPU");
  const ram = v.number("ram");
  if (ram <= 0n || ram % 4096n !== 0n)
    bad("ram", `must be a positive multiple of the 4 KiB page size, not ${ram}`);
  if (ram < BigInt(MIN_RAM))
    bad(
      "ram",
      `${ram} bytes is too small: the kernel image is loaded at 16 MiB, so vmlab boots with at least 32M`,
    );
  if (ram > MAX_KERNEL_RAM) bad("ram", `${ram} bytes is more than the 64G vmlab's kernel model boots`);
  if (arch === "i386" && ram > 1n << 32n) bad("ram", NOT_ON_I386.ram2level);
  if (arch === "i386" && v.number("swap") > 1n << 35n) bad("swap", NOT_ON_I386.swap2level);
  const cpus = v.number("cpus");
  if (cpus < 1n || cpus > MAX_MACHINE_CPUS) bad("cpus", `must be 1..${MAX_MACHINE_CPUS}, not ${cpus}`);
  const tlb = v.word("tlb");
  try {
    makeTlb(tlb);
  } catch (e) {
    if (v.given("tlb")) bad("tlb", (e as Error).message);
    throw e;
  }
  const panic = v.word("panic_on_oops");
  if (panic !== "0" && panic !== "1") bad("panic_on_oops", `expected 0 or 1, not '${panic}'`);
  let thp = oneOf("thp", ["never", "madvise", "always"]) as "never" | "madvise" | "always";
  if (arch === "riscv-sv32") {
    // no THP on RV32: never, whatever the default says; svnapot, more than 4G of swap refused
    if (!v.given("thp")) thp = "never";
    const why = rv32Refusal(v.onOff("svnapot"), thp, Number(v.number("swap")));
    if (why !== null) bad(why[0], why[1]);
    // the knobs under /sys/kernel/mm/transparent_hugepage do not exist there
    for (const key of ["thp_zero_page", "thp_shrink_underused", "thp_max_ptes_none"])
      if (v.given(key)) bad(key, `${RV32_NO_THP}: no transparent_hugepage/ knobs`);
  }
  const overcommit = oneOf("overcommit", ["heuristic", "always", "never"]) as
    | "heuristic"
    | "always"
    | "never";
  for (const k of ["swap", "mmap_min_addr", "fault_around", "readahead", "seed"]) v.number(k);
  v.onOff("thp_zero_page");
  v.onOff("thp_shrink_underused");
  const maxPtesNone = v.number("thp_max_ptes_none");
  const hpageNr = arch === "i386" || arch === "riscv-sv32" ? 1024n : 512n; // HPAGE_PMD_NR: 4 MiB pages on 2 levels
  if (maxPtesNone < 0n || maxPtesNone >= hpageNr)
    bad("thp_max_ptes_none", `must be 0 .. ${hpageNr - 1n}, not ${maxPtesNone}`);
  const faultAround = v.number("fault_around");
  if (faultAround < 0n || faultAround > BigInt(MAX_FAULT_AROUND_BYTES))
    bad("fault_around", `must be 0 .. 2M (at most one page table's 512 pages), not ${faultAround}`);
  const swap = v.number("swap");
  if (swap < 0n || swap > BigInt(MAX_SWAP_BYTES) || swap % 4096n !== 0n)
    bad("swap", `must be a multiple of 4K from 0 to 64G, not ${swap}`);
  if (swap > 0n && swap < BigInt(MIN_SWAP_BYTES))
    bad("swap", "a swap area needs its header page and at least one page (8K)");
  const userMemoryPages = memoryMax(v, profile, bad, "memory_max");
  const memoryHighPages = memoryMax(v, profile, bad, "memory_high");
  const pageCluster = v.number("page_cluster");
  if (pageCluster < 0n || pageCluster > BigInt(MAX_PAGE_CLUSTER))
    bad("page_cluster", `must be 0 .. ${MAX_PAGE_CLUSTER}, not ${pageCluster}`);
  const swappiness = v.number("swappiness");
  if (swappiness < 0n || swappiness > BigInt(MAX_SWAPPINESS))
    bad("swappiness", `must be 0 .. ${MAX_SWAPPINESS}, not ${swappiness}`);
  const readahead = v.number("readahead");
  if (readahead < 0n || readahead > BigInt(MAX_READAHEAD_KB) * 1024n)
    bad("readahead", `must be 0 .. 64M, not ${readahead}`);
  const seed = v.number("seed");
  const pagetable = oneOf("pagetable", ["radix", "inverted"]) as "radix" | "inverted";
  if (pagetable === "inverted" && arch !== "x86_64") bad("pagetable", INVERTED_ARCH);
  if (pagetable === "inverted" && v.onOff("pti")) bad("pti", INVERTED_PTI);
  const cache = machineCache(v, bad);
  const effective: Record<string, string> = {};
  for (const k of MACHINE_KEYS)
    if (
      (k.archs === undefined || k.archs.includes(arch)) &&
      (profile === "windows" || !WINDOWS_KEYS.includes(k.key)) &&
      (!k.onlyGiven || v.given(k.key))
    )
      effective[k.key] = k.key === "split" ? split : v.given(k.key) ? v.word(k.key) : k.default;
  return {
    seed: Number(seed & 0xffffffffn),
    effective,
    kernel: {
      ramBytes: Number(ram),
      cpus: Number(cpus),
      arch: arch as KernelArchName,
      tlb,
      ...(isRiscv(arch) ? {} : { pti: v.onOff("pti") }),
      ...(isRiscv(arch)
        ? { rfence, svnapot: v.onOff("svnapot") }
        : arch === "arm64"
          ? {
              pan: v.onOff("pan"),
              asidBits: Number(asidBits) as 8 | 16,
              tlbiRange: v.onOff("tlbi_range"),
              ...(v.given("hafdbs") ? { hafdbs } : {}),
              ...(v.given("epan") ? { epan: v.onOff("epan") } : {}),
            }
          : { pcid: !is32(arch) && v.onOff("pcid"), smap: v.onOff("smap"), smep: v.onOff("smep") }),
      ...(X86_64_ARCHS.includes(arch) ? { pku: v.onOff("pku") } : {}),
      vmallocSync,
      panicOnOops: panic === "1",
      psc: v.onOff("psc"),
      checkCoherence: v.onOff("check_tlb"),
      vmallocLazy: v.onOff("vmalloc_lazy"),
      ...(isRiscv(arch) ? {} : { uaccess }),
      mmapMinAddr: Number(v.number("mmap_min_addr")),
      thp,
      thpZeroPage: v.onOff("thp_zero_page"),
      thpShrinkUnderused: v.onOff("thp_shrink_underused"),
      thpMaxPtesNone: v.given("thp_max_ptes_none") ? Number(maxPtesNone) : -1,
      overcommit,
      faultAroundBytes: Number(faultAround),
      readaheadKb: Number(readahead / 1024n),
      swapBytes: Number(swap),
      ...(userMemoryPages !== null ? { userMemoryPages } : {}),
      ...(memoryHighPages !== null ? { memoryHighPages } : {}),
      swappiness: Number(swappiness),
      pageCluster: Number(pageCluster),
      policy: oneOf("policy", RECLAIM_POLICIES) as ReclaimPolicy,
      seed: Number(v.number("seed") & 0xffffffffn),
      pagetable,
      cache,
      ...(profile === "windows"
        ? { profile, pagefileBytes: Number(v.number("pagefile")), ...(is32(arch) ? { split } : {}) }
        : {}),
    },
  };
}

/**
 * `memory_max=` and `memory_high=`: the pages of the one memory cgroup's memory.max or
 * memory.high (cgroup v2's files: "max" is no limit; a size is rounded down to whole pages by
 * page_counter_memparse: vmlab asks for a multiple of 4K instead), or null for none.
 * Linux: mm/memcontrol.c memory_max_write, memory_high_write
 */
function memoryMax(
  v: MachineValues,
  profile: string,
  bad: (key: string, reason: string) => never,
  key: "memory_max" | "memory_high",
): number | null {
  if (!v.given(key)) return null;
  if (profile === "windows")
    bad(
      key,
      "is a Linux memory cgroup limit; Windows limits memory by job objects, which vmlab does not model",
    );
  if (v.word(key) === "max") return null;
  const b = v.number(key);
  if (b < 4096n || b > BigInt(MAX_SWAP_BYTES) || b % 4096n !== 0n)
    bad(key, `must be max or a multiple of 4K from 4K to 64G, not ${b}`);
  return Number(b / 4096n);
}

/** The cache keys: `cache=KIND` and its geometry (docs/caches.md). */
function machineCache(v: MachineValues, bad: (key: string, reason: string) => never): CacheSpec | null {
  const kind = v.word("cache");
  const geometry = ["cache_size", "cache_ways", "cache_line", "cache_asid"];
  if (kind === "none") {
    for (const key of geometry)
      if (v.given(key)) bad(key, "describes a cache: give cache=vivt, vipt or pipt too");
    return null;
  }
  if (kind !== "vivt" && kind !== "vipt" && kind !== "pipt")
    bad("cache", `expected one of none, vivt, vipt, pipt, not '${kind}'`);
  const spec: CacheSpec = {
    kind: kind as CacheSpec["kind"],
    sizeBytes: Number(v.number("cache_size")),
    ways: Number(v.number("cache_ways")),
    lineBytes: Number(v.number("cache_line")),
    asidTagged: v.onOff("cache_asid"),
  };
  const e = cacheSpecError(spec);
  if (e !== null) bad(e[0], e[1]);
  return spec;
}
