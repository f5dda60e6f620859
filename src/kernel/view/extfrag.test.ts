/** /sys/kernel/debug/extfrag's two indexes (view/extfrag.ts; mm/vmstat.c), by hand and on a machine. */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { fragmentationIndex, unusableFreeIndex } from "../mm/compaction.ts";
import { formatExtfrag } from "./extfrag.ts";

describe("extfrag (unusable_index, extfrag_index)", () => {
  it("computes both indexes as mm/vmstat.c does", () => {
    // 8 free pages at order 0 and one block of order 2: 12 free pages in 9 blocks
    const free = [8, 0, 1, 0];
    expect([0, 1, 2, 3].map((o) => unusableFreeIndex(free, o))).toEqual([0, 666, 666, 1000]);
    // order 3: no block fits; 1000 - (1000 + 12 * 1000 / 8) / 9 = 1000 - 2500 / 9 = 723
    expect(fragmentationIndex(free, 3)).toBe(723);
    expect(fragmentationIndex(free, 2)).toBe(-1000);
    expect(fragmentationIndex([0, 0, 0, 0], 3)).toBe(0);
    // fewer free pages than the request: Linux's formula goes below 0 (1 - (1 + 2/8) / 1), and
    // compaction_suitable does not count that as a failure of lack of memory (0 .. threshold)
    expect(fragmentationIndex([0, 1, 0, 0], 3)).toBe(-250);
    const lines = formatExtfrag([
      { name: "DMA32", managed: 100, freeBlocks: free } as never,
      { name: "Normal", managed: 0, freeBlocks: [0, 0, 0, 0] } as never,
    ]);
    expect(lines).toEqual([
      "/sys/kernel/debug/extfrag/unusable_index",
      "Node 0, zone    DMA32 0.000 0.666 0.666 1.000 ",
      "/sys/kernel/debug/extfrag/extfrag_index",
      "Node 0, zone    DMA32 -1.000 -1.000 -1.000  0.723 ",
    ]);
  });

  it("shows a zone fragmented by a process's holes (the statement)", () => {
    const lines = [
      "machine ram=64M",
      "spawn A",
      "spawn B",
      "A: a = mmap 8M",
      "B: b = mmap 8M",
      ...Array.from({ length: 8 }, (_, i) => `A: write a+${i}M 1M\nB: write b+${i}M 1M`),
      "B: exit",
      "show extfrag",
      "sysctl compact_memory=1",
      "show extfrag",
    ];
    const r = runScenario(lines.join("\n"));
    const shows = r.statements.filter((s) => s.text === "show extfrag").map((s) => s.output);
    expect(shows.length).toBe(2);
    for (const out of shows) {
      expect(out[0]).toBe("/sys/kernel/debug/extfrag/unusable_index");
      expect(out[2]).toMatch(/^Node 0, zone +DMA32( \d\.\d{3}){11} $/);
      expect(out[3]).toBe("/sys/kernel/debug/extfrag/extfrag_index");
      expect(out[5]).toMatch(/^Node 0, zone +DMA32( +-?\d\.\d{3}){11} $/);
    }
    // the holes: some memory is free, and at order 0 none of it is unusable
    expect(shows[0][2]).toMatch(/DMA32 0\.000 /);
  });
});
