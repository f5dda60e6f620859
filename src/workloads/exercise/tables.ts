/**
 * `vmlab exercise tables`: how much page table a process needs. The student
 * gets an architecture's translation format (levels, index bits, entry
 * size) and a process's regions (text, heap, a mapping, the stack, each
 * page present); the answers count the tables the architecture's own mapper
 * (hw/arch/index.ts, the one the kernel and `vmlab exercise walk` use)
 * allocates at each level to map them, with 4 KiB pages and again with the
 * large page (2 MiB; 4 MiB on i386 and Sv32) wherever a whole aligned one
 * lies inside the heap, and the root's entries in use.
 */
import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { fromBig } from "../../base/u64.ts";
import { type Pfn, pfnUnchecked, type Vpn } from "../../base/units.ts";
import { HW_ARCHES } from "../../hw/arch/index.ts";
import type { FrameAllocator } from "../../hw/mmu/Mapper.ts";
import { WALK_PROFILES } from "./walkProfiles.ts";

/** PAGE_ALIGN */
const pageAlign = (a: bigint) => (a + 4095n) & ~4095n;

/**
 * Where Linux 6.12 puts a 64-bit (or native 32-bit) process's stack and its bottom-up mmap base:
 * STACK_TOP and TASK_UNMAPPED_BASE. x86: STACK_TOP is TASK_SIZE_LOW, DEFAULT_MAP_WINDOW
 * (2^47 less a guard page, with LA57 too: only an mmap hint above it goes higher), the base
 * TASK_SIZE_LOW / 3 (asm/page_64_types.h, asm/processor.h); i386's 3G/1G split likewise. arm64
 * (48-bit VAs): DEFAULT_MAP_WINDOW_64 and DEFAULT_MAP_WINDOW / 4 (asm/processor.h). RISC-V 64:
 * DEFAULT_MAP_WINDOW, 2^(MMAP_VA_BITS - 1) with MMAP_VA_BITS at most Sv48's 48 (so Sv57's
 * stack is below 2^47 as Sv48's), and a base of 2^39 / 3 (MMAP_MIN_VA_BITS, Sv39) in every mode;
 * Sv32: TASK_SIZE (FIXADDR_START) and TASK_SIZE / 3 (asm/processor.h, asm/pgtable.h).
 */
const LAYOUT: Readonly<Record<string, { stackTop: bigint; mmapBase: bigint }>> = (() => {
  const x86 = (1n << 47n) - 4096n;
  const i386 = 0xc000_0000n;
  const sv32 = 0x9c80_0000n;
  const rv64Base = pageAlign((1n << 39n) / 3n);
  return {
    x86_64: { stackTop: x86, mmapBase: pageAlign(x86 / 3n) },
    "x86_64-la57": { stackTop: x86, mmapBase: pageAlign(x86 / 3n) },
    arm64: { stackTop: 1n << 48n, mmapBase: 1n << 46n },
    i386: { stackTop: i386, mmapBase: pageAlign(i386 / 3n) },
    "i386-pae": { stackTop: i386, mmapBase: pageAlign(i386 / 3n) },
    "riscv-sv32": { stackTop: sv32, mmapBase: pageAlign(sv32 / 3n) },
    "riscv-sv39": { stackTop: 1n << 38n, mmapBase: rv64Base },
    "riscv-sv48": { stackTop: 1n << 47n, mmapBase: rv64Base },
    "riscv-sv57": { stackTop: 1n << 47n, mmapBase: rv64Base },
  };
})();

/** STACK_TOP and TASK_UNMAPPED_BASE of the architecture (Linux 6.12) */
export function tablesLayout(arch: string): { stackTop: bigint; mmapBase: bigint } | undefined {
  return Object.hasOwn(LAYOUT, arch) ? LAYOUT[arch] : undefined;
}

/** The architectures `vmlab exercise tables` takes. */
export const TABLES_EXERCISE_ARCHES: readonly string[] = Object.keys(LAYOUT);

export interface TablesRegion {
  name: string;
  start: bigint;
  bytes: number;
}

export interface TablesExercise {
  arch: string;
  seed: number;
  regions: TablesRegion[];
  /** the large page's bytes (the level-1 leaf) */
  largePageBytes: number;
  /** per level, leaf tables first: display name, index bits, entry bytes */
  levels: { name: string; indexBits: number; entryBytes: number }[];
}

const KiB = 1024;
const MiB = 1024 * KiB;
const hex = (n: bigint | number) => `0x${n.toString(16)}`;

/** `120 KiB`, `5 MiB`, `1.5 MiB` */
function sizeText(bytes: number): string {
  return bytes >= MiB && bytes % (MiB / 4) === 0 ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

/** A machine of the architecture: its format's levels (names, index bits, entry size). */
function levelsOf(arch: string): TablesExercise["levels"] {
  const m = HW_ARCHES[arch].machine({ ramBytes: 1 * MiB, tlb: "none" });
  const f = m.cpus[0].format;
  return Array.from({ length: f.levels }, (_, l) => ({
    name: f.levelNames[l],
    indexBits: f.indexBits[l],
    entryBytes: f.entryBytes,
  }));
}

/**
 * Four regions as Linux lays a process out: the text at the architecture's usual start, the heap
 * after it, a mapping near TASK_UNMAPPED_BASE (where the legacy bottom-up layout starts mmap;
 * half the time across a leaf table's boundary), and the stack ending at STACK_TOP.
 */
export function generateTablesExercise(o: { arch: string; seed: number }): TablesExercise {
  const profile = WALK_PROFILES[o.arch];
  const layout = tablesLayout(o.arch);
  if (profile === undefined || layout === undefined || !Object.hasOwn(HW_ARCHES, o.arch))
    throw new InputError(`--arch must be ${TABLES_EXERCISE_ARCHES.join(", ")}, not '${o.arch}'`);
  const rng = new Rng(o.seed);
  const levels = levelsOf(o.arch);
  const page = 4096n;
  const pages = (min: number, max: number) => min + rng.below(max - min + 1);
  const text: TablesRegion = {
    name: "text",
    start: profile.userBase + BigInt(rng.below(16)) * page,
    bytes: pages(2, 100) * 4096,
  };
  // the heap: after the text, a few pages to a few large pages, so that some of it can be large pages
  const heapStart = text.start + BigInt(text.bytes) + BigInt(pages(0, 600)) * page;
  const heap: TablesRegion = {
    name: "heap",
    start: heapStart,
    bytes: pages(64, (profile.largePageBytes / 4096) * 3 + 256) * 4096,
  };
  // a mapping: half the time across the boundary of the leaf table's span
  const leafSpan = 1n << BigInt(12 + levels[0].indexBits);
  const mid = (layout.mmapBase / leafSpan) * leafSpan + BigInt(rng.below(64)) * leafSpan;
  const mapPages = pages(1, 512);
  const across = rng.float() < 0.5;
  const mapStart = across ? mid - BigInt(1 + rng.below(mapPages)) * page : mid + BigInt(rng.below(64)) * page;
  const mapping: TablesRegion = { name: "mapping", start: mapStart, bytes: mapPages * 4096 };
  const stackBytes = pages(2, 64) * 4096;
  const stack: TablesRegion = {
    name: "stack",
    start: layout.stackTop - BigInt(stackBytes),
    bytes: stackBytes,
  };
  return {
    arch: o.arch,
    seed: o.seed,
    regions: [text, heap, mapping, stack],
    largePageBytes: profile.largePageBytes,
    levels,
  };
}

/** Bytes of one table at `level`: its entries times their size (the PAE PDPT: 4 x 8 = 32). */
export function tableBytes(ex: TablesExercise, level: number): number {
  const l = ex.levels[level];
  return 2 ** l.indexBits * l.entryBytes;
}

export function tablesProblem(ex: TablesExercise): string[] {
  const n = ex.levels.length;
  const fmt = ex.levels
    .map(
      (l, i) =>
        `  ${l.name.padEnd(5)} ${l.indexBits} index bits: ${2 ** l.indexBits} entries, ${tableBytes(ex, i)} bytes a table`,
    )
    .reverse();
  return [
    `Page-table size exercise (${ex.arch}): seed ${ex.seed}`,
    "",
    `Translation: 4 KiB pages (12 offset bits), entries of ${ex.levels[0].entryBytes} bytes, ${n} levels from the root:`,
    ...fmt,
    `The large page is a leaf one level above the last: ${sizeText(ex.largePageBytes)}.`,
    ...(ex.levels[n - 1].indexBits === 2
      ? [
          "PAE: the CPU loads the PDPT's four entries with CR3 (Intel SDM Vol. 3A 4.4.1), so Linux fills all",
          "four when it makes the PDPT: pgd_alloc gives the three user entries their page directories",
          "(preallocate_pmds) and the fourth the kernel's (shared unless PTI). Count all four.",
        ]
      : []),
    "",
    "A process has these regions, every page of each present:",
    ...ex.regions.map(
      (r) =>
        `  ${r.name.padEnd(8)} ${hex(r.start)} to ${hex(r.start + BigInt(r.bytes))} (${sizeText(r.bytes)})`,
    ),
    "",
    `1. With 4 KiB pages only: how many tables of each level (${[...ex.levels]
      .reverse()
      .map((l) => l.name)
      .join(", ")}), and how many bytes of page tables in all?`,
    `2. How many entries of the root table (${ex.levels[n - 1].name}) are in use?`,
    `3. The same as 1 when the heap is mapped with ${sizeText(ex.largePageBytes)} pages wherever a whole aligned one`,
    "   lies inside it (4 KiB pages for the rest).",
  ];
}

/** Counts the tables a mapper allocates at each level. */
class CountingFrames implements FrameAllocator {
  next = 1;
  readonly perLevel: number[];
  constructor(levels: number) {
    this.perLevel = new Array(levels).fill(0);
  }
  allocFrame(level: number): Pfn | -1 {
    this.perLevel[level]++;
    return pfnUnchecked(this.next++);
  }
}

/** Maps the exercise's regions with the architecture's mapper; the tables per level and the root's entries in use. */
export function countTables(
  ex: TablesExercise,
  largeHeap: boolean,
): { perLevel: number[]; rootEntries: number } {
  const hw = HW_ARCHES[ex.arch];
  const levels = ex.levels.length;
  const machine = hw.machine({ ramBytes: 64 * MiB, tlb: "none" });
  const cpu = machine.cpus[0];
  const alloc = new CountingFrames(levels);
  const mapper = hw.mapper(machine.phys, alloc);
  const root = mapper.newRoot() as Pfn;
  assert(root !== -1, "countTables: the root");
  const vpnOf = (va: bigint): Vpn => {
    const { hi, lo } = fromBig(va);
    return cpu.pageNumber(hi, lo) as Vpn;
  };
  const flags = { user: true, writable: true, nx: true, accessed: true, dirty: true };
  const data = pfnUnchecked(0x2000); // every page maps one data frame: only the tables are counted
  const largeFrame = pfnUnchecked(0x1000); // 16 MiB: aligned for a 2 MiB or 4 MiB page
  const large = BigInt(ex.largePageBytes);
  for (const r of ex.regions) {
    const end = r.start + BigInt(r.bytes);
    for (let va = r.start; va < end; ) {
      if (largeHeap && r.name === "heap" && va % large === 0n && va + large <= end) {
        const res = mapper.map(root, vpnOf(va), largeFrame, 1, flags);
        assert(res.ok, "countTables: a large page");
        va += large;
        continue;
      }
      const res = mapper.map(root, vpnOf(va), data, 0, flags);
      assert(res.ok, `countTables: ${r.name} at ${hex(va)}`);
      va += 4096n;
    }
  }
  const rootLevel = ex.levels[levels - 1];
  let rootEntries = 0;
  for (let i = 0; i < 2 ** rootLevel.indexBits; i++) {
    const pa = root * 4096 + i * rootLevel.entryBytes;
    const used =
      rootLevel.entryBytes === 4
        ? machine.phys.read32(pa) !== 0
        : machine.phys.read32(pa) !== 0 || machine.phys.read32(pa + 4) !== 0;
    if (used) rootEntries++;
  }
  return { perLevel: alloc.perLevel, rootEntries };
}

function countsText(ex: TablesExercise, perLevel: number[]): string {
  const bytes = perLevel.reduce((sum, c, l) => sum + c * tableBytes(ex, l), 0);
  const tables = perLevel.reduce((a, b) => a + b, 0);
  const each = perLevel
    .map((c, l) => `${ex.levels[l].name} ${c}`)
    .reverse()
    .join(", ");
  return `${each}: ${tables} tables, ${bytes.toLocaleString("en-US")} bytes`;
}

/** The answers: the tables vmlab's mapper allocated for the regions, both ways. */
export function solveTables(ex: TablesExercise): {
  answers: string[];
  small: number[];
  large: number[];
  rootEntries: number;
} {
  const small = countTables(ex, false);
  const large = countTables(ex, true);
  const heap = ex.regions[1];
  const lb = BigInt(ex.largePageBytes);
  const first = ((heap.start + lb - 1n) / lb) * lb;
  const nLarge = Math.max(0, Number((heap.start + BigInt(heap.bytes) - first) / lb));
  return {
    answers: [
      `1. ${countsText(ex, small.perLevel)}`,
      `2. ${small.rootEntries}`,
      `3. ${countsText(ex, large.perLevel)} (the heap: ${nLarge} page${nLarge === 1 ? "" : "s"} of ${sizeText(ex.largePageBytes)})`,
    ],
    small: small.perLevel,
    large: large.perLevel,
    rootEntries: small.rootEntries,
  };
}
