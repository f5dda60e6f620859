import { describe, expect, it } from "vitest";
import {
  generateTablesExercise,
  solveTables,
  TABLES_EXERCISE_ARCHES,
  type TablesExercise,
  tableBytes,
  tablesProblem,
} from "./tables.ts";

/**
 * The textbook's count, from the regions and the index bits alone: a table at level l (0: the
 * leaf tables) exists for every distinct value of a mapped page's address above the bits that
 * level and the ones below it index; a large page needs no leaf table.
 */
function byArithmetic(ex: TablesExercise, largeHeap: boolean): number[] {
  const shifts: bigint[] = [];
  let s = 12n;
  for (const l of ex.levels) {
    s += BigInt(l.indexBits);
    shifts.push(s);
  }
  const sets = ex.levels.map(() => new Set<bigint>());
  const large = BigInt(ex.largePageBytes);
  for (const r of ex.regions) {
    const end = r.start + BigInt(r.bytes);
    for (let va = r.start; va < end; va += 4096n) {
      const inLarge =
        largeHeap && r.name === "heap" && (va / large) * large >= r.start && (va / large + 1n) * large <= end;
      ex.levels.forEach((_, l) => {
        if (l === 0 && inLarge) return;
        sets[l].add(va >> shifts[l]);
      });
    }
  }
  const counts = sets.map((x) => x.size);
  // PAE: the four page directories come with the PDPT (the PDPTE registers, SDM 4.4.1)
  if (ex.levels.at(-1)!.indexBits === 2) counts[counts.length - 2] = 4;
  return counts;
}

describe("vmlab exercise tables", () => {
  it.each(TABLES_EXERCISE_ARCHES)(
    "%s: the mapper's tables are the textbook's count, over many seeds",
    (arch) => {
      let differs = 0;
      for (let seed = 0; seed < 12; seed++) {
        const ex = generateTablesExercise({ arch, seed });
        const { small, large, rootEntries, answers } = solveTables(ex);
        expect(small).toEqual(byArithmetic(ex, false));
        expect(large).toEqual(byArithmetic(ex, true));
        expect(small.at(-1)).toBe(1); // one root
        // the root's entries in use: one per table of the level below (or per page at the root of a 1-level walk)
        expect(rootEntries).toBe(small.at(-2));
        const bytes = small.reduce((sum, c, l) => sum + c * tableBytes(ex, l), 0);
        expect(answers[0]).toContain(`${bytes.toLocaleString("en-US")} bytes`);
        if (large[0] < small[0]) differs++;
      }
      expect(differs).toBeGreaterThan(3); // large pages save leaf tables in most problems
    },
  );

  it("lays the stack at Linux 6.12's STACK_TOP and the mapping near its TASK_UNMAPPED_BASE", () => {
    // STACK_TOP, TASK_UNMAPPED_BASE: x86 TASK_SIZE_LOW (DEFAULT_MAP_WINDOW, LA57 too) and /3;
    // arm64 DEFAULT_MAP_WINDOW_64 and /4; RISC-V 64 2^(min(VA_BITS, 48) - 1) and 2^39 / 3
    const want: Record<string, [bigint, bigint]> = {
      x86_64: [0x7ffffffff000n, 0x2aaaaaaab000n],
      "x86_64-la57": [0x7ffffffff000n, 0x2aaaaaaab000n],
      arm64: [1n << 48n, 1n << 46n],
      i386: [0xc0000000n, 0x40000000n],
      "i386-pae": [0xc0000000n, 0x40000000n],
      "riscv-sv32": [0x9c800000n, 0x342ab000n],
      "riscv-sv39": [1n << 38n, 0x2aaaaab000n],
      "riscv-sv48": [1n << 47n, 0x2aaaaab000n],
      "riscv-sv57": [1n << 47n, 0x2aaaaab000n],
    };
    for (const arch of TABLES_EXERCISE_ARCHES)
      for (let seed = 0; seed < 4; seed++) {
        const ex = generateTablesExercise({ arch, seed });
        const [stackTop, base] = want[arch];
        const stack = ex.regions[3];
        expect(stack.start + BigInt(stack.bytes), arch).toBe(stackTop);
        const leafSpan = 1n << BigInt(12 + ex.levels[0].indexBits);
        const m = ex.regions[2];
        expect(m.start + BigInt(m.bytes) > (base / leafSpan) * leafSpan - leafSpan, arch).toBe(true);
        expect(m.start < (base / leafSpan + 65n) * leafSpan, arch).toBe(true);
      }
  });

  it("counts a 32-byte root on PAE and 4096-byte tables elsewhere", () => {
    const pae = generateTablesExercise({ arch: "i386-pae", seed: 1 });
    expect(pae.levels.map((_, l) => tableBytes(pae, l))).toEqual([4096, 4096, 32]);
    expect(tablesProblem(pae).join("\n")).toContain("PDPT  2 index bits: 4 entries, 32 bytes a table");
    const sv32 = generateTablesExercise({ arch: "riscv-sv32", seed: 1 });
    expect(sv32.levels.map((l) => l.indexBits)).toEqual([10, 10]);
    expect(sv32.largePageBytes).toBe(4 << 20);
  });

  it("is the same problem for the same seed; an unknown architecture is an error naming the flag", () => {
    const a = tablesProblem(generateTablesExercise({ arch: "arm64", seed: 3 }));
    expect(tablesProblem(generateTablesExercise({ arch: "arm64", seed: 3 }))).toEqual(a);
    expect(tablesProblem(generateTablesExercise({ arch: "arm64", seed: 4 }))).not.toEqual(a);
    expect(() => generateTablesExercise({ arch: "vax", seed: 0 })).toThrow(
      /--arch must be x86_64, .* not 'vax'/,
    );
  });
});
