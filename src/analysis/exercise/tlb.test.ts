import { describe, expect, it } from "vitest";
import {
  counted,
  generateTlbExercise,
  runTlbExercise,
  solveTlb,
  type TlbExercise,
  tlbProblem,
} from "./tlb.ts";

const base = { count: 24, entries: 4, ways: 2, pages: 8, processes: 1, pcid: false };

/**
 * A naive TLB: per set, a list of (process, page) in recency order; a
 * switch without PCIDs empties it. Only for checking the exercise's
 * answers against the TlbArray they come from.
 */
function naive(ex: TlbExercise, pcid: boolean): { hit: boolean; evicted: string | null }[] {
  const sets = ex.entries / ex.ways;
  let lists: string[][] = Array.from({ length: sets }, () => []);
  let current = ex.refs[0]?.proc ?? 0;
  return ex.refs.map((r) => {
    if (r.proc !== current && !pcid) lists = Array.from({ length: sets }, () => []);
    current = r.proc;
    const key = `${pcid ? r.proc : 0}:${r.vpn}`;
    const list = lists[r.vpn % sets];
    const at = list.indexOf(key);
    if (at >= 0) {
      list.splice(at, 1);
      list.unshift(key);
      return { hit: true, evicted: null };
    }
    const evicted = list.length === ex.ways ? list.pop()! : null;
    list.unshift(key);
    return { hit: false, evicted };
  });
}

describe("exercise tlb", () => {
  it("gives the same problem and answers for the same seed, others for another", () => {
    const text = (seed: number) => {
      const ex = generateTlbExercise({ ...base, processes: 2, seed });
      return [...tlbProblem(ex), ...solveTlb(ex).answers].join("\n");
    };
    expect(text(7)).toBe(text(7));
    expect(text(8)).not.toBe(text(7));
  });

  it("agrees with a naive LRU model, with and without PCIDs, for every geometry", () => {
    for (const [entries, ways] of [
      [4, 4],
      [4, 2],
      [4, 1],
      [8, 2],
    ])
      for (const processes of [1, 2, 3])
        for (const pcid of processes > 1 ? [false, true] : [false])
          for (let seed = 0; seed < 5; seed++) {
            const ex = generateTlbExercise({ ...base, entries, ways, processes, pcid, seed });
            const got = runTlbExercise(ex).steps;
            const want = naive(ex, pcid);
            got.forEach((s, i) => {
              expect(s.hit, `seed ${seed} ref ${i}`).toBe(want[i].hit);
              const ev = s.evicted === null ? null : `${pcid ? s.evicted.proc : 0}:${s.evicted.vpn}`;
              expect(ev, `seed ${seed} ref ${i}`).toBe(want[i].evicted);
            });
          }
  });

  it("PCIDs keep every hit a flush would keep (and on these strings add some)", () => {
    let gained = 0;
    for (let seed = 0; seed < 10; seed++) {
      const ex = generateTlbExercise({ ...base, processes: 2, seed });
      const flushed = runTlbExercise(ex, false);
      const tagged = runTlbExercise(ex, true);
      flushed.steps.forEach((s, i) => {
        if (s.hit) expect(tagged.steps[i].hit).toBe(true);
      });
      expect(flushed.flushes).toBeGreaterThan(0);
      expect(tagged.flushes).toBe(0);
      gained += tagged.hits - flushed.hits;
    }
    expect(gained).toBeGreaterThan(0);
  });

  it("states the geometry and the switches in the problem, and the totals in the answers", () => {
    const ex = generateTlbExercise({ ...base, processes: 2, pcid: true, seed: 3 });
    const problem = tlbProblem(ex).join("\n");
    expect(problem).toContain("4 entries, 2-way set associative (2 sets");
    expect(problem).toContain("PCIDs on");
    expect(problem).toMatch(/A:0x[0-9a-f]+ .*B:0x/);
    const r = runTlbExercise(ex);
    expect(solveTlb(ex).answers.join("\n")).toContain(
      `${counted(r.hits, "hit")}, ${counted(r.misses, "miss")}, ${counted(r.evictions, "eviction")}`,
    );
    expect(counted(1, "miss")).toBe("1 miss");
    expect(counted(2, "flush")).toBe("2 flushes");
    expect(counted(0, "hit")).toBe("0 hits");
  });
});
