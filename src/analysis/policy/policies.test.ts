/**
 * Policy mode: textbook tables, and every policy against a naive reference
 * implementation written independently (O(frames) per access, no clever
 * structures) on random and adversarial reference strings (fast-check).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { POLICY_NAMES } from "./policies.ts";
import { parseRefs, simulate } from "./simulate.ts";

const BELADY = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
const CLASSIC = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];

describe("textbook tables", () => {
  it("Belady's anomaly: FIFO with 3 frames faults 9 times, with 4 frames 10 times", () => {
    expect(simulate(BELADY, "fifo", 3).misses).toBe(9);
    expect(simulate(BELADY, "fifo", 4).misses).toBe(10);
    // LRU is a stack algorithm: no anomaly
    expect(simulate(BELADY, "lru", 4).misses).toBeLessThanOrEqual(simulate(BELADY, "lru", 3).misses);
  });

  it("the classic reference string with 3 frames: FIFO 15, LRU 12, OPT 9", () => {
    expect(simulate(CLASSIC, "fifo", 3).misses).toBe(15);
    expect(simulate(CLASSIC, "lru", 3).misses).toBe(12);
    expect(simulate(CLASSIC, "opt", 3).misses).toBe(9);
  });

  it("records the per-access table: hit or miss, the victim, the frames in use after", () => {
    const r = simulate([1, 2, 3, 4, 1], "fifo", 3, { table: true });
    expect(r.accesses).toEqual([
      { page: 1, hit: false, victim: null, frames: [1] },
      { page: 2, hit: false, victim: null, frames: [1, 2] },
      { page: 3, hit: false, victim: null, frames: [1, 2, 3] },
      { page: 4, hit: false, victim: 1, frames: [4, 2, 3] },
      { page: 1, hit: false, victim: 2, frames: [4, 1, 3] },
    ]);
    expect(r.hits).toBe(0);
  });

  it("parses reference lists and rejects bad ones", () => {
    expect(parseRefs("1, 2,3  4,0x10")).toEqual([1, 2, 3, 4, 16]);
    expect(() => parseRefs("1,2,x")).toThrow(/item 3 \('x'\) is not a page number/);
    expect(() => parseRefs("")).toThrow(/no page numbers/);
  });
});

// ---- naive references: each written from the textbook description, slowly ----

type Naive = (refs: number[], frames: number) => number; // returns misses

const naiveFifo: Naive = (refs, frames) => {
  const mem: number[] = [];
  let misses = 0;
  for (const p of refs) {
    if (mem.includes(p)) continue;
    misses++;
    if (mem.length === frames) mem.shift();
    mem.push(p);
  }
  return misses;
};

const naiveByScore =
  (
    score: (
      page: number,
      t: number,
      lastUse: Map<number, number>,
      loaded: Map<number, number>,
      count: Map<number, number>,
      refs: number[],
    ) => number,
  ): Naive =>
  (refs, frames) => {
    const mem: number[] = [];
    const lastUse = new Map<number, number>();
    const loaded = new Map<number, number>();
    const count = new Map<number, number>();
    let misses = 0;
    refs.forEach((p, t) => {
      if (mem.includes(p)) {
        lastUse.set(p, t);
        count.set(p, count.get(p)! + 1);
        return;
      }
      misses++;
      if (mem.length === frames) {
        // evict the page with the largest score; ties: the one loaded first
        let best = mem[0];
        for (const q of mem) {
          const a = score(q, t, lastUse, loaded, count, refs);
          const b = score(best, t, lastUse, loaded, count, refs);
          if (a > b || (a === b && loaded.get(q)! < loaded.get(best)!)) best = q;
        }
        mem.splice(mem.indexOf(best), 1);
      }
      mem.push(p);
      lastUse.set(p, t);
      loaded.set(p, t);
      count.set(p, 1);
    });
    return misses;
  };

const naiveLru = naiveByScore((q, t, lastUse) => t - lastUse.get(q)!);
const naiveMru = naiveByScore((q, _t, lastUse) => lastUse.get(q)!);
const naiveLfu = naiveByScore((q, _t, _l, _d, count) => -count.get(q)!);
const naiveOpt = naiveByScore((q, t, _l, _d, _c, refs) => {
  const next = refs.indexOf(q, t + 1);
  return next < 0 ? Number.POSITIVE_INFINITY : next;
});

/** CLOCK as the C reference describes it: frames in a circle, R set on load and on hit. */
const naiveClock: Naive = (refs, frames) => {
  const page: number[] = [];
  const r: number[] = [];
  let hand = 0;
  let misses = 0;
  for (const p of refs) {
    const i = page.indexOf(p);
    if (i >= 0) {
      r[i] = 1;
      continue;
    }
    misses++;
    if (page.length < frames) {
      page.push(p);
      r.push(1);
      continue;
    }
    while (r[hand]) {
      r[hand] = 0;
      hand = (hand + 1) % frames;
    }
    page[hand] = p;
    r[hand] = 1;
    hand = (hand + 1) % frames;
  }
  return misses;
};

/** Second chance as a queue: the front page with R set is moved to the back with R cleared. */
const naiveSecondChance: Naive = (refs, frames) => {
  const q: { p: number; r: number }[] = [];
  let misses = 0;
  for (const p of refs) {
    const e = q.find((x) => x.p === p);
    if (e) {
      e.r = 1;
      continue;
    }
    misses++;
    if (q.length === frames) {
      for (;;) {
        const f = q.shift()!;
        if (!f.r) break;
        f.r = 0;
        q.push(f);
      }
    }
    q.push({ p, r: 1 });
  }
  return misses;
};

/** SIEVE from the paper's pseudocode, on an array from the oldest (index 0) to the newest. */
const naiveSieve: Naive = (refs, frames) => {
  const q: { p: number; v: number }[] = [];
  let hand: { p: number; v: number } | null = null;
  let misses = 0;
  for (const p of refs) {
    const e = q.find((x) => x.p === p);
    if (e) {
      e.v = 1;
      continue;
    }
    misses++;
    if (q.length === frames) {
      let i: number = hand ? q.indexOf(hand) : 0;
      while (q[i].v) {
        q[i].v = 0;
        i = (i + 1) % q.length;
      }
      const victim = q[i];
      hand = i + 1 < q.length ? q[i + 1] : null;
      q.splice(q.indexOf(victim), 1);
    }
    q.push({ p, v: 0 });
  }
  return misses;
};

/** 2Q from the paper's pseudocode: arrays, oldest first. */
const naive2q: Naive = (refs, frames) => {
  const kin = Math.max(1, Math.floor(frames / 4));
  const kout = Math.max(1, Math.floor(frames / 2));
  let a1in: number[] = [];
  let a1out: number[] = [];
  let am: number[] = [];
  let misses = 0;
  for (const p of refs) {
    if (am.includes(p)) {
      am = [...am.filter((x) => x !== p), p];
      continue;
    }
    if (a1in.includes(p)) continue;
    misses++;
    if (a1in.length + am.length === frames) {
      if (a1in.length > kin || am.length === 0) {
        const y = a1in[0];
        a1in = a1in.slice(1);
        a1out.push(y);
        if (a1out.length > kout) a1out = a1out.slice(1);
      } else am = am.slice(1);
    }
    if (a1out.includes(p)) {
      a1out = a1out.filter((x) => x !== p);
      am.push(p);
    } else a1in.push(p);
  }
  return misses;
};

/** S3-FIFO (original) with arrays of {page, freq}, oldest first. */
const naiveS3Fifo: Naive = (refs, frames) => {
  const small = Math.max(1, Math.floor(frames / 10));
  const ghostCap = Math.max(1, frames - small);
  let s: { p: number; f: number }[] = [];
  let m: { p: number; f: number }[] = [];
  let g: number[] = [];
  let misses = 0;
  for (const p of refs) {
    const e = s.find((x) => x.p === p) ?? m.find((x) => x.p === p);
    if (e) {
      e.f = Math.min(3, e.f + 1);
      continue;
    }
    misses++;
    if (s.length + m.length === frames) {
      for (let evicted = false; !evicted; ) {
        if (s.length >= small || m.length === 0) {
          const t = s[0];
          s = s.slice(1);
          if (t.f >= 1) m.push({ p: t.p, f: 0 });
          else {
            g.push(t.p);
            if (g.length > ghostCap) g = g.slice(1);
            evicted = true;
          }
        } else {
          const t = m[0];
          m = m.slice(1);
          if (t.f >= 1) m.push({ p: t.p, f: t.f - 1 });
          else evicted = true;
        }
      }
    }
    if (g.includes(p)) {
      g = g.filter((x) => x !== p);
      m.push({ p, f: 0 });
    } else s.push({ p, f: 0 });
  }
  return misses;
};

/** LIRS with an array stack (bottom first) of {page, lir, resident} and an array queue. */
const naiveLirs: Naive = (refs, frames) => {
  const lirMax = Math.max(1, frames - Math.max(1, Math.floor(frames / 100)));
  type E = { p: number; lir: boolean };
  let st: E[] = [];
  let q: number[] = [];
  const lirSet = new Set<number>();
  const res = new Set<number>();
  let misses = 0;
  const top = (p: number, lir: boolean) => {
    st = [...st.filter((e) => e.p !== p), { p, lir }];
  };
  const prune = () => {
    while (st.length && !st[0].lir) st = st.slice(1);
  };
  const demote = () => {
    const b = st[0];
    st = st.slice(1);
    lirSet.delete(b.p);
    q.push(b.p);
    prune();
  };
  for (const p of refs) {
    const inStack = st.some((e) => e.p === p);
    if (res.has(p)) {
      if (lirSet.has(p)) {
        const bottom = st[0].p === p;
        top(p, true);
        if (bottom) prune();
      } else if (inStack) {
        top(p, true);
        lirSet.add(p);
        q = q.filter((x) => x !== p);
        if (lirSet.size > lirMax) demote();
      } else {
        top(p, false);
        q = [...q.filter((x) => x !== p), p];
      }
      continue;
    }
    misses++;
    if (res.size === frames) {
      let v: number;
      if (q.length) {
        v = q[0];
        q = q.slice(1);
      } else {
        v = st[0].p;
        st = st.slice(1);
        lirSet.delete(v);
        prune();
      }
      res.delete(v);
      st = st.map((e) => (e.p === v ? { p: v, lir: false } : e));
    }
    res.add(p);
    if (lirSet.size < lirMax) {
      lirSet.add(p);
      top(p, true);
    } else if (inStack && st.some((e) => e.p === p)) {
      top(p, true);
      lirSet.add(p);
      if (lirSet.size > lirMax) demote();
    } else {
      top(p, false);
      q.push(p);
    }
  }
  return misses;
};

/** Linux's two lists with arrays (tail first) and a referenced set. */
const naiveLinux: Naive = (refs, frames) => {
  let active: number[] = [];
  let inactive: number[] = [];
  const ref = new Set<number>();
  let misses = 0;
  for (const p of refs) {
    if (inactive.includes(p)) {
      if (ref.has(p)) {
        inactive = inactive.filter((x) => x !== p);
        active.push(p);
        ref.delete(p);
      } else ref.add(p);
      continue;
    }
    if (active.includes(p)) {
      ref.add(p);
      continue;
    }
    misses++;
    if (active.length + inactive.length === frames) {
      while (active.length > inactive.length) {
        const t = active[0];
        active = active.slice(1);
        ref.delete(t);
        inactive.push(t);
      }
      const v = inactive[0];
      inactive = inactive.slice(1);
      ref.delete(v);
    }
    inactive.push(p);
  }
  return misses;
};

const NAIVE: Record<string, Naive> = {
  fifo: naiveFifo,
  lru: naiveLru,
  mru: naiveMru,
  lfu: naiveLfu,
  opt: naiveOpt,
  clock: naiveClock,
  "second-chance": naiveSecondChance,
  sieve: naiveSieve,
  "2q": naive2q,
  "s3-fifo": naiveS3Fifo,
  lirs: naiveLirs,
  linux: naiveLinux,
};

describe("each policy against its naive reference", () => {
  const refsArb = fc.oneof(
    fc.array(fc.nat(12), { minLength: 1, maxLength: 300, size: "max" }), // random, small universe
    fc.array(fc.nat(40), { minLength: 1, maxLength: 300, size: "max" }),
    fc.integer({ min: 2, max: 12 }).chain((n) => fc.constant(Array.from({ length: 120 }, (_, i) => i % n))), // cyclic scans (adversarial for LRU)
    fc.array(fc.nat(6), { minLength: 1, maxLength: 60 }).map((hot) => hot.flatMap((h, i) => [h, 100 + i])), // hot set + one-time pages
  );
  for (const [name, naive] of Object.entries(NAIVE)) {
    it(`${name} equals the naive version`, () => {
      fc.assert(
        fc.property(refsArb, fc.integer({ min: 1, max: 10 }), (refs, frames) => {
          expect(simulate(refs, name, frames).misses).toBe(naive(refs, frames));
        }),
        { numRuns: 300, seed: 0x51e7e + name.length },
      );
    });
  }

  it("CLOCK and second chance are the same algorithm", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(15), { minLength: 1, maxLength: 300, size: "max" }),
        fc.integer({ min: 1, max: 9 }),
        (refs, frames) => {
          expect(simulate(refs, "clock", frames).misses).toBe(simulate(refs, "second-chance", frames).misses);
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });

  it("OPT is never beaten, and every policy keeps hits + misses = references and frames in use <= frames", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(20), { minLength: 1, maxLength: 200, size: "max" }),
        fc.integer({ min: 1, max: 8 }),
        (refs, frames) => {
          const opt = simulate(refs, "opt", frames).misses;
          for (const name of POLICY_NAMES) {
            const r = simulate(refs, name, frames, { table: true, seed: 3 });
            expect(r.misses, name).toBeGreaterThanOrEqual(opt);
            expect(r.hits + r.misses).toBe(refs.length);
            for (const a of r.accesses!) {
              expect(new Set(a.frames).size, name).toBe(a.frames.length);
              expect(a.frames.length).toBeLessThanOrEqual(frames);
              expect(a.frames).toContain(a.page);
            }
          }
        },
      ),
      { numRuns: 150, seed: 77 },
    );
  });
});
