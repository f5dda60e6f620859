import { describe, expect, it } from "vitest";
import { Perm } from "../../hw/mmu/PagingFormat.ts";
import { generateIptExercise, type IptExercise, iptProblem, solveIpt } from "./ipt.ts";

/**
 * A second solver that knows only what the problem prints: the table, the HAT's heads and the rules
 * in its text. The answers (vmlab's IPT in simulated RAM) must agree with it step by step.
 */
interface Entry {
  space: number;
  vpn: number;
  rights: string;
  dirty: boolean;
  next: number;
}

function fromProblem(lines: string[]) {
  const slots = Number(lines.join("\n").match(/HAT\) has (\d+) slots/)![1]);
  const entries = new Map<number, Entry>();
  const hat = new Map<number, number>();
  for (const l of lines) {
    const e = l.match(/^ +(\d+) {2}1 {2}(\d+) +0x([0-9a-f]+) +([r-][w-][x-]) +([01]) {2}(end|\d+)$/);
    if (e)
      entries.set(Number(e[1]), {
        space: Number(e[2]),
        vpn: Number.parseInt(e[3], 16),
        rights: e[4],
        dirty: e[5] === "1",
        next: e[6] === "end" ? -1 : Number(e[6]),
      });
    const h = l.match(/^ +slot +(\d+): pfn (\d+)$/);
    if (h) hat.set(Number(h[1]), Number(h[2]));
  }
  const hash = (space: number, vpn: number) => (vpn ^ (space * 0x9e5)) % slots;
  const chain = (h: number): number[] => {
    const out: number[] = [];
    for (let p = hat.get(h) ?? -1; p >= 0; p = entries.get(p)!.next) out.push(p);
    return out;
  };
  const unlink = (pfn: number) => {
    const e = entries.get(pfn)!;
    const h = hash(e.space, e.vpn);
    const c = chain(h);
    const i = c.indexOf(pfn);
    if (i === 0) {
      if (e.next < 0) hat.delete(h);
      else hat.set(h, e.next);
    } else entries.get(c[i - 1])!.next = e.next;
    entries.delete(pfn);
    return { e, h };
  };
  const chainText = (h: number) => {
    const c = chain(h);
    return `slot ${h}: ${c.length === 0 ? "empty" : `pfn ${c.join(" -> ")}`}`;
  };
  return { slots, entries, hash, chain, unlink, chainText, hat };
}

function check(ex: IptExercise): { hits: number; faults: Set<string> } {
  const problem = iptProblem(ex);
  const m = fromProblem(problem);
  const { answers } = solveIpt(ex);
  expect(answers.length).toBe(ex.steps.length);
  const faults = new Set<string>();
  let hits = 0;
  problem
    .filter((l) => /^ +\d+\. /.test(l))
    .forEach((stepLine, i) => {
      const step = stepLine.replace(/^ +\d+\. /, "");
      const answer = answers[i].replace(/^ *\d+\. /, "");
      expect(answer.startsWith(`${step}: `), answer).toBe(true);
      const acc = step.match(/^space (\d+) (reads|writes) 0x([0-9a-f]+)$/);
      if (acc) {
        const space = Number(acc[1]);
        const va = Number.parseInt(acc[3], 16);
        const vpn = Math.floor(va / 4096);
        const h = m.hash(space, vpn);
        const compared: number[] = [];
        let found = -1;
        for (const p of m.chain(h)) {
          compared.push(p);
          const e = m.entries.get(p)!;
          if (e.space === space && e.vpn === vpn) {
            found = p;
            break;
          }
        }
        expect(answer).toContain(
          `slot ${h}; compares ${compared.length === 0 ? "none" : compared.join(", ")}`,
        );
        expect(answer).toContain(`; ${1 + compared.length} memory reference`);
        const pa = `pa 0x${(found * 4096 + (va % 4096)).toString(16)}`;
        let outcome: "miss" | "protection" | "dirty" | "hit";
        if (found < 0) outcome = "miss";
        else if (acc[2] === "writes" && m.entries.get(found)!.rights[1] !== "w") outcome = "protection";
        else if (acc[2] === "writes" && !m.entries.get(found)!.dirty) outcome = "dirty";
        else outcome = "hit";
        // the dirty hash fault: the OS re-inserts the entry, D = 1, at the head of its chain
        let reinserted = "";
        if (outcome === "dirty") {
          const { e } = m.unlink(found);
          m.entries.set(found, { ...e, dirty: true, next: m.hat.get(h) ?? -1 });
          m.hat.set(h, found);
          reinserted = m.chainText(h);
        }
        faults.add(outcome);
        if (outcome === "hit") hits++;
        const expected = {
          miss: /miss: hash fault$/,
          protection: /refuses the write: protection fault$/,
          dirty: new RegExp(
            `D = 0: hash fault \\(the OS re-inserts the entry with D = 1: ${reinserted}; the retry writes ${pa}\\)$`,
          ),
          hit: new RegExp(`hit: ${pa}$`),
        }[outcome];
        expect(answer).toMatch(expected);
        return;
      }
      const map = step.match(
        /^the OS maps space (\d+)'s page 0x([0-9a-f]+) into pfn (\d+) \(([r-][w-][x-]), clean\)$/,
      );
      if (map) {
        const [space, vpn, pfn] = [Number(map[1]), Number.parseInt(map[2], 16), Number(map[3])];
        const changed: number[] = [];
        if (m.entries.has(pfn)) {
          const { e, h } = m.unlink(pfn);
          expect(answer).toContain(`steals the entry of space ${e.space}'s page 0x${e.vpn.toString(16)}`);
          changed.push(h);
        }
        const h = m.hash(space, vpn);
        const head = m.hat.get(h) ?? -1;
        m.entries.set(pfn, { space, vpn, rights: map[4], dirty: false, next: head });
        m.hat.set(h, pfn);
        for (const c of [...changed.filter((x) => x !== h), h]) expect(answer).toContain(m.chainText(c));
        return;
      }
      const unmap = step.match(/^the OS unmaps pfn (\d+)$/);
      expect(unmap, step).not.toBeNull();
      const pfn = Number(unmap![1]);
      if (!m.entries.has(pfn)) {
        expect(answer).toMatch(/not valid; nothing changes$/);
        return;
      }
      const { h } = m.unlink(pfn);
      expect(answer).toMatch(new RegExp(`leaves its chain; ${m.chainText(h)}$`));
    });
  return { hits, faults };
}

describe("vmlab exercise ipt", () => {
  it("answers as a solver that knows only the printed table and rules would, over many seeds and sizes", () => {
    const outcomes = new Set<string>();
    let edits = 0;
    for (let seed = 0; seed < 60; seed++) {
      const ex = generateIptExercise({
        seed,
        count: 12,
        frames: [8, 16, 24, 64][seed % 4],
        spaces: 1 + (seed % 4),
      });
      edits += ex.steps.filter((s) => s.kind !== "access").length;
      for (const f of check(ex).faults) outcomes.add(f);
    }
    // every kind of outcome is asked somewhere, and the OS edits the table
    expect([...outcomes].sort()).toEqual(["dirty", "hit", "miss", "protection"]);
    expect(edits).toBeGreaterThan(30);
  });

  it("a write's dirty hash fault leaves the entry dirty at the head of its chain for the steps after it", () => {
    // vpns 0 and 32 of space 1 share a slot (the HAT's slots divide 32); vpn 0's clean entry is second
    const ex: IptExercise = {
      seed: 0,
      frames: 16,
      spaces: 1,
      initial: [
        { pfn: 3, space: 1, vpn: 0, rights: Perm.UR | Perm.UW, dirty: false },
        { pfn: 5, space: 1, vpn: 32, rights: Perm.UR, dirty: true },
      ],
      steps: [
        { kind: "access", space: 1, va: 0x10, write: true },
        { kind: "access", space: 1, va: 0x20, write: true },
        { kind: "access", space: 1, va: 0x20010, write: false },
      ],
    };
    const { answers } = solveIpt(ex);
    expect(answers[0]).toMatch(
      /compares 5, 3; 3 memory references; hit pfn 3, D = 0: hash fault \(the OS re-inserts the entry with D = 1: slot \d+: pfn 3 -> 5;/,
    );
    expect(answers[1]).toMatch(/compares 3; 2 memory references; hit: pa 0x3020$/);
    expect(answers[2]).toMatch(/compares 3, 5; 3 memory references; hit: pa 0x5010$/);
    check(ex);
  });

  it("states a hash the table obeys: every valid entry sits in the chain of its slot", () => {
    const ex = generateIptExercise({ seed: 7, count: 5, frames: 32, spaces: 3 });
    const m = fromProblem(iptProblem(ex));
    expect(m.slots).toBe(32);
    expect(m.entries.size).toBe(24); // three quarters of the frames
    for (const [pfn, e] of m.entries) expect(m.chain(m.hash(e.space, e.vpn))).toContain(pfn);
  });

  it("is the same problem for the same seed, another for another", () => {
    const o = { count: 10, frames: 16, spaces: 2 };
    expect(iptProblem(generateIptExercise({ ...o, seed: 5 }))).toEqual(
      iptProblem(generateIptExercise({ ...o, seed: 5 })),
    );
    expect(iptProblem(generateIptExercise({ ...o, seed: 5 }))).not.toEqual(
      iptProblem(generateIptExercise({ ...o, seed: 6 })),
    );
  });
});
