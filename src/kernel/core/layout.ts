/**
 * The kernel's virtual address-space layout (each architecture has its own:
 * kernel/arch/x86/layout.ts), and its text for `show layout`.
 *
 * Addresses are canonical 64-bit values as bigint (display, scenario
 * values); the kernel converts them to page numbers (`vpnOf`) once.
 */
export interface Region {
  name: string;
  start: bigint;
  /** first byte after the region */
  end: bigint;
  what: string;
}

export interface Layout {
  profile: string;
  levels: number;
  /** the end of the user half's canonical range */
  userEnd: bigint;
  /**
   * TASK_SIZE: the end of what mmap may hand out and STACK_TOP, the top of
   * the main stack (x86-64: TASK_SIZE_MAX = userEnd - PAGE_SIZE, a guard page
   * below the non-canonical hole; arm64: TASK_SIZE_64 = userEnd)
   */
  taskSize: bigint;
  /**
   * DEFAULT_MAP_WINDOW: where the stack and mmap's default search stay
   * (x86-64 with LA57: 2^47 - PAGE_SIZE, so a program that keeps pointers
   * in 47 bits still works; an mmap hint above it opens the whole
   * TASK_SIZE). Absent: TASK_SIZE.
   * Linux: arch/x86/include/asm/page_64_types.h, Documentation/arch/x86/x86_64/5level-paging.rst
   */
  defaultMapWindow?: bigint;
  /** page_offset_base: the direct map of all physical memory */
  directMap: bigint;
  vmallocStart: bigint;
  vmallocEnd: bigint;
  vmemmap: bigint;
  /** __START_KERNEL_map: the kernel image mapping (phys 0 maps here) */
  kernelMap: bigint;
  modulesStart: bigint;
  modulesEnd: bigint;
  /** FIXADDR_TOP: fixmap slots grow down from here */
  fixaddrTop: bigint;
  /**
   * where a PIE binary's bss ends without ASLR (the heap's start_brk), when
   * ELF_ET_DYN_BASE puts it elsewhere than x86-64's 0x555555559000
   * (RISC-V Sv39: two thirds of its 256 GiB user half)
   */
  brkStart?: bigint;
  /** start_brk of a spawned process, as a vpn (absent: 0x555555559, x86-64's PIE at 2/3 of TASK_SIZE; 32-bit: ELF_ET_DYN_BASE 4 MiB) */
  pieBrkVpn?: number;
  regions: Region[];
}

const TB = 1n << 40n;
const PB = 1n << 50n;

/** Text table, as `show layout` prints it. */
export function formatLayout(l: Layout): string[] {
  // a 32-bit layout prints 8 hex digits, as a 32-bit kernel does
  const width = l.userEnd <= 1n << 32n ? 8 : 16;
  const hex = (v: bigint) => `0x${v.toString(16).padStart(width, "0")}`;
  const size = (n: bigint) => {
    for (const [unit, v] of [
      ["PB", PB],
      ["TB", TB],
      ["GB", 1n << 30n],
      ["MB", 1n << 20n],
      ["KB", 1n << 10n],
    ] as const) {
      if (n >= v && n % v === 0n) return `${n / v} ${unit}`;
    }
    return `${n} B`;
  };
  const lines = [
    `${l.profile}:`,
    `  ${"start".padEnd(width + 2)} ${"end".padEnd(width + 2)} ${"size".padStart(9)}  region`,
  ];
  for (const r of l.regions) {
    lines.push(
      `  ${hex(r.start)} ${hex(r.end - 1n)} ${size(r.end - r.start).padStart(9)}  ${r.name}: ${r.what}`,
    );
  }
  return lines;
}
