import { describe, expect, it } from "vitest";
import { runKmemExercise } from "../../cli/exercise/index.ts";
import { Kernel } from "../../kernel/Kernel.ts";
import {
  generateKmemExercise,
  KMEM_EXERCISE_ARCHES,
  type KmemExercise,
  kmemProblem,
  solveKmem,
  vmallocStartState,
} from "./kmem.ts";

/**
 * A student's solution from the problem's rules alone: the smallest cache that fits, a new slab when
 * the cache's slabs are full, get_order above 8 KiB, a vmalloc's pages rounded up, kfree of a slab
 * object giving nothing back, of a large one its pages, vfree its pages.
 */
function byHand(ex: KmemExercise) {
  const caches = new Kernel({ ramBytes: 64 << 20, cpus: ex.cpus, arch: ex.arch }).view.slabinfo();
  const used = new Map<string, { inUse: number; capacity: number }>();
  const held = new Map<string, { cache: string | null; pages: number }>();
  // the vmalloc areas: the first at the problem's address with its page tables, each later one
  // after the previous one's guard page, a last-level table for each block it reaches first
  const vs = vmallocStartState(ex);
  let next = -1n;
  const blocks = new Set<bigint>();
  const span = BigInt(vs.tableSpan);
  return ex.ops.map((op) => {
    if (op.kind === "kmalloc") {
      const c = caches.find((x) => x.objSize >= op.size);
      if (c === undefined) {
        const order = Math.ceil(Math.log2(Math.ceil(op.size / 4096)));
        held.set(op.name, { cache: null, pages: 2 ** order });
        return { cache: null, order, unused: (4096 << order) - op.size, slabFrames: 0, large: 2 ** order };
      }
      const u = used.get(c.name) ?? { inUse: 0, capacity: 0 };
      let slabFrames = 0;
      if (u.inUse === u.capacity) {
        u.capacity += c.objsPerSlab;
        slabFrames = c.pagesPerSlab;
      }
      u.inUse++;
      used.set(c.name, u);
      held.set(op.name, { cache: c.name, pages: 0 });
      return { cache: c.name, order: -1, unused: c.objSize - op.size, slabFrames, large: 0 };
    }
    if (op.kind === "vmalloc") {
      const pages = Math.ceil(op.size / 4096);
      held.set(op.name, { cache: null, pages });
      const va = next < 0n ? vs.start : next;
      let tables = next < 0n ? vs.tables : 0;
      if (next < 0n) blocks.add(va / span);
      for (let b = va / span; b <= (va + BigInt(pages * 4096 - 1)) / span; b++)
        if (!blocks.has(b)) {
          blocks.add(b);
          tables++;
        }
      next = va + BigInt((pages + 1) * 4096);
      return { vmallocPages: pages, va, tables };
    }
    const h = held.get(op.name)!;
    if (h.cache !== null) used.get(h.cache)!.inUse--;
    return { back: h.pages };
  });
}

describe("vmlab exercise kmem", () => {
  for (const arch of KMEM_EXERCISE_ARCHES)
    it(`${arch}: every step as the rules predict it, read back from the kernel model`, () => {
      for (const [seed, cpus] of [
        [1, 1],
        [2, 2],
        [3, 4],
        [4, 1],
      ]) {
        const ex = generateKmemExercise({ seed, arch, count: 16, cpus });
        expect(ex.ops.some((o) => o.kind === "vmalloc")).toBe(true);
        const { steps } = solveKmem(ex);
        const want = byHand(ex);
        steps.forEach((s, i) => {
          const w = want[i];
          const where = `${arch} seed ${seed} step ${i + 1}`;
          const taken = Object.values(s.delta).reduce((a, n) => a + n, 0);
          if (s.op.kind === "kmalloc") {
            expect({ cache: s.cache, order: s.order, unused: s.objectBytes - s.op.size }, where).toEqual({
              cache: w.cache,
              order: w.order,
              unused: w.unused,
            });
            expect(s.delta, where).toEqual(
              (w.slabFrames ?? 0) > 0
                ? { slab: w.slabFrames }
                : (w.large ?? 0) > 0
                  ? { "kmalloc-large": w.large }
                  : {},
            );
          } else if (s.op.kind === "vmalloc") {
            expect(s.pfns.length, where).toBe(w.vmallocPages);
            expect(s.delta.vmalloc, where).toBe(w.vmallocPages);
            expect(taken - s.pfns.length, where).toBe(s.delta["page-table"] ?? 0);
            expect({ va: s.va, tables: s.delta["page-table"] ?? 0 }, where).toEqual({
              va: w.va,
              tables: w.tables,
            });
          } else expect(taken === 0 ? 0 : -taken, where).toBe(w.back);
        });
      }
    });

  it("vmalloc takes all its pages before it maps them: the first one's page tables come after its frames", () => {
    // mm/vmalloc.c __vmalloc_area_node(): vm_area_alloc_pages(), then vmap_pages_range() (x86-64: a
    // PMD table and a PT for the first area); on a fresh machine the four pages are consecutive frames
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, arch: "x86_64" });
    const va = k.vmalloc(16384);
    const pfns = [0, 1, 2, 3].map((i) => k.view.kernelPfn(va + BigInt(i * 4096)));
    expect(pfns.map((p) => p - pfns[0])).toEqual([0, 1, 2, 3]);
    const answers = solveKmem(generateKmemExercise({ seed: 1, arch: "x86_64", count: 10, cpus: 1 })).answers;
    expect(answers[1]).toMatch(
      /b = vmalloc\(16384\): 4 pages .*: contiguous; 6 frames taken \(2 page-table, 4 vmalloc\)/,
    );
  });

  it("a vmalloc's frames come one by one, a large kmalloc's as one block: the answer says which", () => {
    let notContiguous = 0;
    for (let seed = 0; seed < 12; seed++) {
      const { steps, answers } = solveKmem(
        generateKmemExercise({ seed, arch: "x86_64", count: 12, cpus: 1 }),
      );
      for (const [i, s] of steps.entries()) {
        if (s.op.kind !== "vmalloc" || s.pfns.length < 2) continue;
        const contiguous = s.pfns.every((p, j) => j === 0 || p === s.pfns[j - 1] + 1);
        if (!contiguous) notContiguous++;
        expect(answers[i]).toContain(contiguous ? ": contiguous;" : ": not contiguous;");
      }
    }
    expect(notContiguous).toBeGreaterThan(0);
  });

  it("the problem lists the caches as slabinfo gives them and the regions; the CLI prints problem and answers", () => {
    const ex = generateKmemExercise({ seed: 5, arch: "i386", count: 8, cpus: 2 });
    const text = kmemProblem(ex).join("\n");
    expect(text).toMatch(/^ {2}kmalloc-96 +96 bytes +\d+ objects +\d pages?$/m);
    expect(text).toContain("lowmem: 0xc0000000");
    expect(text).toContain(
      "The first vmalloc area starts at 0xc4800000; its mapping takes 1 frame of page tables",
    );
    expect(runKmemExercise({ seed: "5", arch: "i386", n: "8", cpus: "2", solve: true })).toBe(
      `${text}\n\nAnswers:\n\n${solveKmem(ex).answers.join("\n")}\n`,
    );
    expect(() => runKmemExercise({ seed: "5", arch: "pdp11", n: "8", cpus: "1", solve: false })).toThrow(
      /--arch must be one of x86_64/,
    );
    expect(() => runKmemExercise({ seed: "5", n: "31", cpus: "1", solve: false })).toThrow(
      /-n must be an integer from 1 to 30/,
    );
  });
});
