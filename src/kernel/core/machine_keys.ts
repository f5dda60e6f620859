/**
 * The `machine` statement's keys (kernel/core/config.ts reads their values):
 * each key's default as the statement writes it, its values in words, the
 * architectures it belongs to, whether vmlab models it yet.
 */

/** The RISC-V names. */
export const RISCV_ARCHS: readonly string[] = ["riscv-sv32", "riscv-sv39", "riscv-sv48", "riscv-sv57"];
export const X86_ARCHS: readonly string[] = ["x86_64", "x86_64-la57", "i386", "i386-pae"];
export const X86_64_ARCHS: readonly string[] = ["x86_64", "x86_64-la57"];

/**
 * The `machine` statement's keys, their defaults (as the statement writes
 * them) and whether vmlab models them yet. One place: `vmlab run --verbose`
 * prints this table and docs/scenarios.md documents it.
 */
export const MACHINE_KEYS: {
  key: string;
  default: string;
  values: string;
  modelled: boolean;
  /** the architectures the key belongs to (absent: every one) */
  archs?: readonly string[];
  /** in the run's effective machine (its --json `machine`) only when the scenario sets it */
  onlyGiven?: boolean;
}[] = [
  {
    key: "arch",
    default: "x86_64",
    values: "x86_64, x86_64-la57, arm64, riscv-sv32, riscv-sv39, riscv-sv48, riscv-sv57, i386, i386-pae",
    modelled: true,
  },
  {
    key: "profile",
    default: "linux",
    values: "linux, windows (x86_64, i386, i386-pae; docs/windows.md)",
    modelled: true,
  },
  {
    key: "split",
    default: "2G",
    values: "2G, 3G (profile=windows on i386, i386-pae: /3GB with a large-address-aware image)",
    modelled: true,
    archs: ["i386", "i386-pae"],
  },
  {
    key: "pagefile",
    default: "0",
    values: "0 .. 64G, a multiple of 4K (profile=windows: the paging file; commit limit = RAM + pagefile)",
    modelled: true,
  },
  { key: "ram", default: "256M", values: "32M .. 64G, a multiple of 4K", modelled: true },
  { key: "swap", default: "0", values: "0 .. 64G, a multiple of 4K (one swap area)", modelled: true },
  {
    key: "memory_max",
    default: "max",
    values:
      "max, or 4K .. 64G, a multiple of 4K (profile=linux: one memory cgroup over every process, its memory.max over user pages, each once)",
    modelled: true,
    onlyGiven: true,
  },
  {
    key: "memory_high",
    default: "max",
    values:
      "max, or 4K .. 64G, a multiple of 4K (profile=linux: memory.high of the same cgroup: charges over it are reclaimed on the way back to user mode)",
    modelled: true,
    onlyGiven: true,
  },
  { key: "cpus", default: "1", values: "1 .. 64", modelled: true },
  {
    key: "tlb",
    default: "skylake",
    values: "skylake, vmref, tiny, none, or L1xW,L2xW (e.g. 64x4,1536x12)",
    modelled: true,
  },
  {
    key: "policy",
    default: "linux",
    values: "linux (two-list LRU), mglru, clock, fifo, lru (exact), random",
    modelled: true,
  },
  { key: "pcid", default: "on", values: "on, off", modelled: true, archs: X86_64_ARCHS },
  { key: "smap", default: "on", values: "on, off", modelled: true, archs: X86_ARCHS },
  { key: "smep", default: "on", values: "on, off", modelled: true, archs: X86_ARCHS },
  {
    key: "pku",
    default: "off",
    values: "on, off (protection keys: CR4.PKE, PKRU; pkey_alloc)",
    modelled: true,
    archs: X86_64_ARCHS,
  },
  { key: "pti", default: "off", values: "on, off", modelled: true, archs: [...X86_ARCHS, "arm64"] },
  {
    key: "pan",
    default: "on",
    values: "on, off (arm64: CONFIG_ARM64_PAN)",
    modelled: true,
    archs: ["arm64"],
  },
  {
    key: "tlbi_range",
    default: "off",
    values: "on, off (arm64: FEAT_TLBIRANGE, range TLBIs in __flush_tlb_range; a vmlab extension)",
    modelled: true,
    archs: ["arm64"],
  },
  {
    key: "asid_bits",
    default: "16",
    values: "8, 16 (arm64: ID_AA64MMFR0_EL1.ASIDBits; a vmlab extension)",
    modelled: true,
    archs: ["arm64"],
  },
  {
    key: "hafdbs",
    default: "dbm",
    values:
      "dbm, af, off (arm64: ID_AA64MMFR1_EL1.HAFDBS: TCR_EL1.HA and HD; HA alone, as Cortex-A55 (erratum 1024718); neither, Access flag faults and software dirty bits; a vmlab extension)",
    modelled: true,
    archs: ["arm64"],
    onlyGiven: true,
  },
  {
    key: "epan",
    default: "off",
    values:
      "on, off (arm64: FEAT_PAN3, Enhanced PAN: SCTLR_EL1.EPAN set, PROT_EXEC alone maps PAGE_EXECONLY; a vmlab extension)",
    modelled: true,
    archs: ["arm64"],
    onlyGiven: true,
  },
  { key: "thp", default: "madvise", values: "never, madvise, always", modelled: true },
  { key: "thp_zero_page", default: "on", values: "on, off", modelled: true },
  {
    key: "thp_shrink_underused",
    default: "on",
    values: "on, off (transparent_hugepage/shrink_underused)",
    modelled: true,
    onlyGiven: true,
  },
  {
    key: "thp_max_ptes_none",
    default: "511",
    values: "0 .. HPAGE_PMD_NR - 1 (khugepaged/max_ptes_none: the underused-THP shrinker's threshold)",
    modelled: true,
    onlyGiven: true,
  },
  { key: "mmap_min_addr", default: "65536", values: "bytes", modelled: true },
  { key: "overcommit", default: "heuristic", values: "heuristic, always, never", modelled: true },
  {
    key: "fault_around",
    default: "64K",
    values: "0 .. 2M (fault_around_bytes; rounded down to a power of two pages)",
    modelled: true,
  },
  {
    key: "readahead",
    default: "128K",
    values: "0 .. 64M (read_ahead_kb; sizes mmap read-around)",
    modelled: true,
  },
  { key: "panic_on_oops", default: "0", values: "0, 1", modelled: true },
  { key: "seed", default: "1", values: "integer", modelled: true },
  {
    key: "swappiness",
    default: "60",
    values: "0 .. 200 (vm.swappiness; a vmlab extension)",
    modelled: true,
  },
  {
    key: "page_cluster",
    default: "3",
    values: "0 .. 9 (vm.page-cluster: swap readahead of 2^N pages; a vmlab extension)",
    modelled: true,
  },
  {
    key: "psc",
    default: "off",
    values: "on, off (paging-structure caches; a vmlab extension)",
    modelled: true,
  },
  {
    key: "check_tlb",
    default: "off",
    values: "on, off (coherence checker; a vmlab extension)",
    modelled: true,
  },
  {
    key: "uaccess",
    default: "ldtr",
    values: "ldtr, pan-toggle (arm64: how copy_*_user crosses PAN)",
    modelled: true,
    archs: ["arm64"],
  },
  {
    key: "rfence",
    default: "sbi",
    values: "sbi, ipi (RISC-V: remote TLB flushes by SBI remote fences or by Linux's IPIs)",
    modelled: true,
    archs: RISCV_ARCHS,
  },
  {
    key: "svnapot",
    default: "off",
    values: "on, off (RISC-V: the harts have Svnapot, Linux's has_svnapot(): 64K NAPOT HugeTLB pages)",
    modelled: true,
    archs: RISCV_ARCHS,
  },
  {
    key: "vmalloc_sync",
    default: "eager",
    values:
      "eager (5.8+: arch_sync_kernel_mappings), lazy (before 5.8: vmalloc_fault) (i386 without PAE; i386-pae with pti=on)",
    modelled: true,
    archs: ["i386"],
  },
  {
    key: "pagetable",
    default: "radix",
    values: "radix, inverted (a hashed inverted page table; x86_64 only; docs/inverted.md)",
    modelled: true,
  },
  {
    key: "cache",
    default: "none",
    values: "none, vivt, vipt, pipt (an L1 data cache per CPU; docs/caches.md)",
    modelled: true,
  },
  { key: "cache_size", default: "32K", values: "a power of two, 16 .. 4M (with cache=)", modelled: true },
  { key: "cache_ways", default: "4", values: "1 .. lines, dividing them (with cache=)", modelled: true },
  { key: "cache_line", default: "64", values: "16 .. 4K, a power of two (with cache=)", modelled: true },
  {
    key: "cache_asid",
    default: "off",
    values: "on, off (cache=vivt: lines tagged with the address space)",
    modelled: true,
  },
  {
    key: "vmalloc_lazy",
    default: "on",
    values: "on, off (lazy vfree TLB purge; a vmlab extension)",
    modelled: true,
  },
];
