import { describe, expect, it } from "vitest";
import type { CacheSpec } from "../../hw/cache/CacheSpec.ts";
import { runScenario } from "../scenario/session.ts";
import {
  type CacheAccess,
  type CacheExercise,
  cacheProblem,
  generateCacheExercise,
  solveCache,
} from "./cache.ts";

/**
 * An exercise of chosen accesses: A maps the file's page at a = 0x10000000 and b = a + `apart`
 * pages, B (when `withB`) another file's page at c = a.
 */
function chosen(spec: CacheSpec, apart: number, withB: boolean, accesses: string[]): CacheExercise {
  const keys = `cache=${spec.kind} cache_size=${spec.sizeBytes} cache_ways=${spec.ways} cache_line=${spec.lineBytes}${spec.asidTagged ? " cache_asid=on" : ""}`;
  const b = 0x10000000 + apart * 4096;
  const setup = [
    `machine ram=64M ${keys}`,
    "file f size=4K fs=tmpfs",
    "file g size=4K fs=tmpfs",
    "spawn A",
    "A: a = mmap 4K file=f shared at=0x10000000 fixed",
    `A: b = mmap 4K file=f shared at=0x${b.toString(16)} fixed`,
    "A: madvise a 4K populate_write",
    "A: madvise b 4K populate_write",
    ...(withB
      ? ["spawn B", "B: c = mmap 4K file=g shared at=0x10000000 fixed", "B: madvise c 4K populate_write"]
      : []),
  ];
  const parsed: CacheAccess[] = accesses.map((text) => {
    const m = /^[AB]: (read|write) ([abc])(?:\+(0x[0-9a-f]+))?(?: value=(\d+))?$/.exec(text);
    if (m === null) throw new Error(`bad access ${text}`);
    return {
      via: m[2] as CacheAccess["via"],
      write: m[1] === "write",
      offset: m[3] === undefined ? 0 : Number(m[3]),
      value: Number(m[4] ?? 0),
      text,
    };
  });
  return { seed: 0, spec, a: 0x10000000, b, c: withB ? 0x10000000 : null, setup, accesses: parsed };
}

const row = (s: ReturnType<typeof solveCache>) =>
  s.values.map((v) => [v.set, v.hit ? "hit" : "miss", v.stale]);

describe("exercise cache", () => {
  it("gives the same problem for the same seed, another for another; the problem runs as it is on every kind", () => {
    const text = (seed: number, kind: "vivt" | "vipt" | "pipt" | null) =>
      cacheProblem(generateCacheExercise({ seed, kind, count: 6 })).join("\n");
    expect(text(4, null)).toBe(text(4, null));
    expect(text(5, null)).not.toBe(text(4, null));
    for (const kind of ["vivt", "vipt", "pipt"] as const) {
      const src = text(9, kind);
      expect(src).toContain(`cache=${kind} `);
      const r = runScenario(`${src}\n`, { file: "cache.vm", checkInvariants: true });
      expect(r.halted).toBeNull();
      expect(r.statements.at(-1)?.text).toMatch(/^[AB]: (read|write) /);
      // no access takes a page fault: the set-up populated every PTE
      for (const s of r.statements.filter((x) => /^[AB]: (read|write) /.test(x.text)))
        expect(s.output.join(" ")).toContain("no page fault");
    }
  });

  it("VIVT, untagged, 8K 2-way 64 B lines: a store through a, a stale load through b; a switch to B flushes and writes back", () => {
    // 8192 / 64 / 2 = 64 sets, bits 6..11 of the VA; a way is 4K: one colour. a and b are one
    // page apart: offset 0 of both is set 0, two tags (the VAs), both fit in the set's two ways.
    const ex = chosen({ kind: "vivt", sizeBytes: 8192, ways: 2, lineBytes: 64, asidTagged: false }, 1, true, [
      // the set-up ended on B (its madvise): this first access switches to A, a flush of an empty cache
      "A: write a value=7", // set 0, miss (a's line filled, then dirty)
      "A: read b", // set 0, miss: b's line filled from memory, which still holds the old byte: stale
      "A: read a", // set 0, hit: a's own line, the last value stored
      "A: read a+0x40", // set 1, miss
      "B: read c", // the switch flushes the whole cache (a's dirty line written back); set 0, miss
      "A: read b", // the switch back flushes again (B's clean line dropped); set 0, miss: memory has 7 now
    ]);
    const s = solveCache(ex);
    expect(s.geometry).toEqual({ sets: 64, colours: 1, synonyms: true, homonyms: true });
    expect(row(s)).toEqual([
      [0, "miss", false],
      [0, "miss", true],
      [0, "hit", false],
      [1, "miss", false],
      [0, "miss", false],
      [0, "miss", false],
    ]);
    expect([s.writebacks, s.flushes]).toEqual([1, 3]);
  });

  it("VIVT with ASID tags: no flush at the switch; B's line for the same VA is another line of the set", () => {
    const ex = chosen({ kind: "vivt", sizeBytes: 8192, ways: 2, lineBytes: 64, asidTagged: true }, 1, true, [
      "A: write a value=7", // set 0, miss
      "B: read c", // set 0, miss: A's line carries A's ASID; the second way
      "A: read a", // set 0, hit: still there, nothing flushed
      "A: read b", // set 0, miss: evicts the LRU way, B's clean line; stale (a's line holds the store)
    ]);
    const s = solveCache(ex);
    expect(s.geometry.homonyms).toBe(false);
    expect(row(s)).toEqual([
      [0, "miss", false],
      [0, "miss", false],
      [0, "hit", false],
      [0, "miss", true],
    ]);
    expect([s.writebacks, s.flushes]).toEqual([0, 0]);
  });

  it("VIPT with two colours, b at a's colour (SHMLBA): one line for both mappings, nothing stale", () => {
    // 16K 2-way 64 B: 128 sets, a way 8K: 2 colours; b two pages above a keeps a's colour
    const ex = chosen(
      { kind: "vipt", sizeBytes: 16384, ways: 2, lineBytes: 64, asidTagged: false },
      2,
      false,
      [
        "A: write a+0x800 value=9", // set 32, miss
        "A: read b+0x800", // set (0x2800 >> 6) & 127 = 160 & 127 = 32, hit: the same physical tag
      ],
    );
    const s = solveCache(ex);
    expect(s.geometry).toEqual({ sets: 128, colours: 2, synonyms: true, homonyms: false });
    expect(row(s)).toEqual([
      [32, "miss", false],
      [32, "hit", false],
    ]);
  });

  it("PIPT direct-mapped with 2K ways: offsets 0 and 0x800 of a page conflict; the dirty line is written back", () => {
    // 2048 / 64 = 32 sets; a page-aligned frame: offset 0 is set 0, 0x800 is (0x800 >> 6) & 31 = 0
    const ex = chosen(
      { kind: "pipt", sizeBytes: 2048, ways: 1, lineBytes: 64, asidTagged: false },
      3,
      false,
      [
        "A: write a value=5", // set 0, miss
        "A: read b", // set 0, hit: the same physical line (PIPT has no synonyms)
        "A: read a+0x800", // set 0, miss: evicts the dirty line (written back)
        "A: read b", // set 0, miss: evicts the clean one; memory has 5
      ],
    );
    const s = solveCache(ex);
    expect(s.geometry).toEqual({ sets: 32, colours: 1, synonyms: false, homonyms: false });
    expect(row(s)).toEqual([
      [0, "miss", false],
      [0, "hit", false],
      [0, "miss", false],
      [0, "miss", false],
    ]);
    expect([s.writebacks, s.flushes]).toEqual([1, 0]);
  });

  it("the answers name each access and the geometry's bits; a bad -n is an error", () => {
    const ex = generateCacheExercise({ seed: 3, kind: "vipt", count: 3 });
    const { answers, values } = solveCache(ex);
    expect(values).toHaveLength(3);
    expect(answers[0]).toMatch(/^Q1: \d+ sets, indexed by bits \d+\.\.\d+ of the VA/);
    values.forEach((v, i) => {
      expect(answers.find((l) => l.startsWith(`Q${i + 2}: `))).toContain(v.access);
    });
    expect(() => generateCacheExercise({ seed: 0, kind: null, count: 0 })).toThrow(/-n must be 1 to 16/);
    expect(() => generateCacheExercise({ seed: 0, kind: null, count: 17 })).toThrow(/-n must be 1 to 16/);
  });
});
