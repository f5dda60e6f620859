/** `vmlab exercise buddy`: the problem, and answers from vmlab's page allocator that a student could check by hand. */
import { describe, expect, it } from "vitest";
import { type BuddyExercise, buddyProblem, generateBuddyExercise, orderOf, solveBuddy } from "./buddy.ts";

describe("exercise buddy", () => {
  it("gives the textbook answer for a first allocation: split down, upper halves free", () => {
    const ex: BuddyExercise = {
      seed: 0,
      frames: 32,
      ops: [
        { kind: "alloc", name: "A", pages: 3 },
        { kind: "alloc", name: "B", pages: 1 },
        { kind: "free", name: "A" },
        { kind: "free", name: "B" },
        { kind: "alloc", name: "C", pages: 33 },
      ],
    };
    const { answers } = solveBuddy(ex);
    expect(answers).toEqual([
      " 1. A = alloc 3 pages: order 2, pfn 0-3",
      "    free: order 2: 4; order 3: 8; order 4: 16",
      " 2. B = alloc 1 page: order 0, pfn 4",
      "    free: order 0: 5; order 1: 6; order 3: 8; order 4: 16",
      " 3. free A: pfn 0-3 (order 2)",
      "    free: order 0: 5; order 1: 6; order 2: 0; order 3: 8; order 4: 16",
      " 4. free B: pfn 4 (order 0)",
      "    free: order 5: 0",
      " 5. C = alloc 33 pages: order 6, FAILS (no free block of order 6 or more)",
      "    free: order 5: 0",
    ]);
    expect([1, 2, 3, 4, 5, 8, 9].map(orderOf)).toEqual([0, 1, 2, 2, 3, 3, 4]);
  });

  it("keeps every step's free blocks and live blocks a partition of memory, over many seeds", () => {
    for (let seed = 0; seed < 60; seed++) {
      const frames = 2 ** (4 + (seed % 5));
      const ex = generateBuddyExercise({ seed, count: 14, orderOfMemory: Math.log2(frames) });
      expect(generateBuddyExercise({ seed, count: 14, orderOfMemory: Math.log2(frames) })).toEqual(ex);
      const { answers } = solveBuddy(ex);
      const live = new Map<string, [number, number]>();
      for (let i = 0; i < ex.ops.length; i++) {
        const op = ex.ops[i];
        const m = answers[2 * i].match(/pfn (\d+)(?:-(\d+))?/);
        if (op.kind === "alloc" && m !== null) live.set(op.name, [Number(m[1]), Number(m[2] ?? m[1])]);
        if (op.kind === "free") live.delete(op.name);
        const covered = new Uint8Array(frames);
        const mark = (lo: number, hi: number) => {
          for (let p = lo; p <= hi; p++) covered[p]++;
        };
        for (const [lo, hi] of live.values()) mark(lo, hi);
        for (const part of answers[2 * i + 1].replace("    free: ", "").split("; ")) {
          if (part === "none") continue;
          const [, order, pfns] = part.match(/^order (\d+): (.*)$/)!;
          for (const p of pfns.split(" ").map(Number)) {
            expect(p % 2 ** Number(order)).toBe(0); // a block starts at a multiple of its size
            mark(p, p + 2 ** Number(order) - 1);
          }
        }
        expect([seed, i, [...covered].every((c) => c === 1)]).toEqual([seed, i, true]);
      }
      expect(buddyProblem(ex).join("\n")).toContain(`Buddy allocator exercise: seed ${seed}`);
    }
  });
});
