import { describe, expect, it } from "vitest";
import { runEatExercise } from "../../cli/exercise/index.ts";
import { EAT_EXERCISE_ARCHES, type EatExercise, eatProblem, generateEatExercise, solveEat } from "./eat.ts";

/** Entries a full walk reads, from the manuals (PAE: the PDPT is in the PDPTE registers). */
const FULL_WALK: Record<string, number> = {
  x86_64: 4,
  "x86_64-la57": 5,
  arm64: 4,
  "riscv-sv32": 2,
  "riscv-sv39": 3,
  "riscv-sv48": 4,
  "riscv-sv57": 5,
  i386: 2,
  "i386-pae": 2,
};

/**
 * A student's solution from the problem's words alone: a fully associative LRU TLB; a page never
 * touched faults (not present), a read maps it read-only (the zero page) and a later write faults
 * again (permission); each fault drops the page's TLB entry and the retry misses and walks.
 */
function byHand(ex: EatExercise) {
  const L = FULL_WALK[ex.arch];
  // --psc: the region's upper-level entries, cached by the first walk; an x86 #PF drops them
  // (SDM 4.10.4.1), a translation fault elsewhere leaves the valid upper levels cached
  let cached = false;
  const walkOf = () => {
    const n = ex.psc && cached ? 1 : L;
    cached = ex.psc;
    return n;
  };
  const x86 = ex.arch.startsWith("x86") || ex.arch.startsWith("i386");
  const lru: number[] = [];
  const state = new Map<number, "rw" | "ro">();
  for (let p = 0; p < ex.resident; p++) state.set(p, "rw");
  const use = (p: number) => {
    const i = lru.indexOf(p);
    if (i >= 0) lru.splice(i, 1);
    else if (lru.length === ex.entries) lru.shift();
    lru.push(p);
  };
  return ex.refs.map((r) => {
    const hit = lru.includes(r.page);
    let walk = hit ? 0 : walkOf();
    const st = state.get(r.page);
    const fault = st === undefined || (r.write && st === "ro");
    if (fault) {
      const i = lru.indexOf(r.page);
      if (i >= 0) lru.splice(i, 1);
      if (x86) cached = false;
      walk += walkOf();
      state.set(r.page, r.write ? "rw" : "ro");
    }
    use(r.page);
    return { hit, lookups: fault ? 2 : 1, walk, faults: fault ? 1 : 0, adWrites: 0 };
  });
}

describe("vmlab exercise eat", () => {
  for (const arch of EAT_EXERCISE_ARCHES)
    it(`${arch}: every reference as the rules predict it, counted from the MMU's trace`, () => {
      for (const [seed, psc] of [
        [1, false],
        [2, false],
        [3, false],
        [4, false],
        [1, true],
        [2, true],
      ] as const) {
        const ex = generateEatExercise({ seed, arch, count: 20, entries: 3, psc, times: null });
        const got = solveEat(ex);
        expect(got.levels).toBe(FULL_WALK[arch]);
        const want = byHand(ex);
        got.steps.forEach((s, i) => {
          expect(
            {
              hit: s.hit,
              lookups: s.lookups,
              walk: s.walkReads,
              faults: s.faults.length,
              adWrites: s.adWrites,
            },
            `${arch} seed ${seed}${psc ? " psc" : ""} ref ${i + 1}`,
          ).toEqual(want[i]);
          expect(s.ns).toBe(
            s.lookups * ex.tlbNs + (s.walkReads + s.adWrites + 1) * ex.memNs + s.faults.length * ex.faultNs,
          );
        });
        expect(got.totalNs).toBe(got.steps.reduce((a, s) => a + s.ns, 0));
        expect(got.hits).toBe(want.filter((w) => w.hit).length);
      }
    });

  it("with no faults the run's EAT is the textbook formula's", () => {
    // every page resident: the references only hit or miss and walk
    const ex = generateEatExercise({
      seed: 9,
      arch: "x86_64",
      count: 30,
      entries: 4,
      psc: false,
      times: [10, 100, 5000],
    });
    ex.resident = ex.pages;
    const got = solveEat(ex);
    expect(got.steps.every((s) => s.faults.length === 0)).toBe(true);
    expect(got.totalNs / got.steps.length).toBeCloseTo(got.formulaNs, 9);
    expect(got.answers.join("\n")).not.toContain("differs");
  });

  it("paging-structure caches shorten walks after the first (x86-64): fewer entries read, same hits and faults", () => {
    let shorter = 0;
    for (const seed of [1, 2, 3]) {
      const o = { seed, arch: "x86_64", count: 20, entries: 3, times: null };
      const plain = solveEat(generateEatExercise({ ...o, psc: false }));
      const psc = solveEat(generateEatExercise({ ...o, psc: true }));
      psc.steps.forEach((s, i) => {
        expect(s.hit).toBe(plain.steps[i].hit);
        expect(s.faults).toEqual(plain.steps[i].faults);
        expect(s.walkReads).toBeLessThanOrEqual(plain.steps[i].walkReads);
        if (s.walkReads < plain.steps[i].walkReads) shorter++;
      });
    }
    expect(shorter).toBeGreaterThan(0);
  });

  it("the problem gives the machine, the times and the references; the fault names the architecture's words", () => {
    const ex = generateEatExercise({
      seed: 4,
      arch: "arm64",
      count: 12,
      entries: 4,
      psc: false,
      times: [20, 100, 5000],
    });
    const text = eatProblem(ex).join("\n");
    expect(text).toContain("4-level walk (L0 -> L1 -> L2 -> L3)");
    expect(text).toContain("a TLB lookup 20 ns, a memory access");
    expect(text).toContain(`pages 0 to ${ex.resident - 1} are resident`);
    // the rules byHand() uses beyond the TLB's: the zero page on a read, the write fault from a
    // read-only TLB entry without a walk, no A/D writes
    expect(text).toContain("a read the shared\nzero page read-only");
    expect(text).toContain("faults from that entry, without a walk");
    expect(text).toContain("the walker never writes one");
    // with --psc, the rule byHand() walks by: cached upper levels, kept across a fault off x86
    const psc = eatProblem({ ...ex, psc: true }).join("\n");
    expect(psc).toContain("reads only the last-level entry;\na fault leaves them cached");
    expect(eatProblem({ ...ex, psc: true, arch: "x86_64" }).join("\n")).toMatch(
      /reads only the last-level entry\.\n(.|\n)*paging-structure-cache entries for the faulting address/,
    );
    const answers = solveEat(ex).answers.join("\n");
    expect(answers).toMatch(/ESR_EL1 0x92/);
    expect(
      runEatExercise({
        seed: "4",
        arch: "arm64",
        n: "12",
        entries: "4",
        psc: false,
        times: "20,100,5000",
        solve: true,
      }),
    ).toBe(`${text}\n\nAnswers:\n\n${answers}\n`);
  });

  it("bad flags are errors naming the flag", () => {
    const base = { seed: "1", n: "12", entries: "4", psc: false, solve: false };
    expect(() => runEatExercise({ ...base, arch: "vax" })).toThrow(/--arch must be one of/);
    expect(() => runEatExercise({ ...base, times: "1,2" })).toThrow(/--times takes three numbers/);
    expect(() => runEatExercise({ ...base, times: "1,x,3" })).toThrow(
      /--times' memory access must be an integer/,
    );
    expect(() => runEatExercise({ ...base, entries: "0" })).toThrow(
      /--entries must be an integer from 1 to 64/,
    );
  });
});
