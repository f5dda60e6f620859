/**
 * `vmlab exercise walk --arch arm64 --granule 16K|64K`: the tables as the granule lays them out
 * (Arm ARM D8.2: a 48-bit range starts at level 0 with 16K, at level 1 with 64K; each level
 * indexes g - 3 bits; a page is 2^g bytes, a level-2 block 2^(2g - 3)), walked back by
 * `vmlab walk`'s granule walker for the answers.
 */
import { describe, expect, it } from "vitest";
import { granuleGeometry } from "../../hw/arch/index.ts";
import { parseImage } from "../pagetableImage.ts";
import { solveWalk, walkProblem } from "./walk.ts";
import { EXERCISE_GRANULES, generateGranuleExercise } from "./walkGranule.ts";

type Report = Record<string, unknown> & { ok: boolean };

const G = { "16K": 14, "64K": 16 } as const;

describe("exercise walk with arm64's 16K and 64K granules", () => {
  it("48-bit ranges: 16K starts at level 0 with 1 index bit, 64K at level 1 with 6 (AArch64.S1StartLevel)", () => {
    expect(granuleGeometry(14)).toEqual({ start: 0, firstBits: 1, stride: 11 });
    expect(granuleGeometry(16)).toEqual({ start: 1, firstBits: 6, stride: 13 });
    expect(granuleGeometry(12)).toEqual({ start: 0, firstBits: 9, stride: 9 });
  });

  for (const granule of EXERCISE_GRANULES)
    it(`${granule}: every walk's indices are the VA's bits, every address granule-aligned, offsets kept`, () => {
      const g = G[granule];
      const page = 2 ** g;
      const { start, stride } = granuleGeometry(g);
      let pages = 0;
      let blocks = 0;
      let faults = 0;
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const ex = generateGranuleExercise({ arch: "arm64", seed, count: 10 }, granule);
        expect(parseImage(ex.imageText).arch).toBe("arm64");
        // every descriptor: a table's and a page's output address sits on a granule boundary
        for (const e of ex.entries) {
          const addr = Number(e.value & 0x0000_ffff_ffff_f000n);
          if ((e.value & 3n) === 3n) expect(addr % page).toBe(0);
          else expect(addr % (page * 2 ** stride)).toBe(0); // a level-2 block
        }
        const { answers, reports } = solveWalk(ex);
        ex.questions.forEach((q, i) => {
          const r = reports[i] as Report;
          // the walk's lines, from the answer: "L<level>[<index>]" in order, from the start level
          const block = answers.join("\n").split(/^Q\d+: /m)[i + 1];
          const steps = [...block.matchAll(/ L(\d)\[\s*(\d+)\]/g)].map((m) => [Number(m[1]), Number(m[2])]);
          expect(steps[0][0]).toBe(start);
          for (const [level, index] of steps) {
            const shift = BigInt(g + stride * (3 - level));
            const bits = level === start ? 48 - g - stride * (3 - start) : stride;
            expect(index).toBe(Number((q.va >> shift) & ((1n << BigInt(bits)) - 1n)));
          }
          if (!r.ok) {
            faults++;
            return;
          }
          const pa = BigInt(r.pa as string);
          if (block.includes(`(${granule} page)`)) {
            pages++;
            expect(pa % BigInt(page)).toBe(q.va % BigInt(page));
            expect(steps[steps.length - 1][0]).toBe(3);
          } else {
            blocks++;
            const size = BigInt(page) * 2n ** BigInt(stride);
            expect(pa % size).toBe(q.va % size);
            expect(steps[steps.length - 1][0]).toBe(2);
          }
        });
      }
      expect(pages).toBeGreaterThan(5);
      expect(blocks).toBeGreaterThan(0);
      expect(faults).toBeGreaterThan(5);
    });

  it("the problem names the granule in TCR_EL1.TG0/TG1; the same seed gives the same problem", () => {
    const text = (seed: number) =>
      walkProblem(generateGranuleExercise({ arch: "arm64", seed, count: 5 }, "64K"), null).join("\n");
    expect(text(7)).toMatch(/tcr_el1\.tg0 +64K/);
    expect(text(7)).toMatch(/tcr_el1\.tg1 +64K/);
    expect(text(7)).toBe(text(7));
    expect(text(8)).not.toBe(text(7));
  });
});
