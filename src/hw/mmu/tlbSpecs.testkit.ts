/** TLB shapes the TLB's tests share. */
import type { TlbSpec } from "./Tlb.ts";

/**
 * skylake's seven arrays, smaller, so that sets fill and empty often; `instrEntries`: the 4K
 * instruction array's size (larger than the STLB's share: an instruction entry outlives its copy there).
 */
export function smallSkylake(instrEntries: number): TlbSpec {
  return [
    {
      name: "L1",
      arrays: [
        { entries: 16, ways: 4, sizes: ["4K"], kind: "data" },
        { entries: 8, ways: 4, sizes: ["2M"], kind: "data" },
        { entries: 4, ways: 4, sizes: ["1G"], kind: "data" },
        { entries: instrEntries, ways: 8, sizes: ["4K"], kind: "instr" },
        { entries: 8, ways: 8, sizes: ["2M"], kind: "instr" },
      ],
    },
    {
      name: "L2",
      arrays: [
        { entries: 32, ways: 4, sizes: ["4K", "2M"] },
        { entries: 4, ways: 4, sizes: ["1G"] },
      ],
    },
  ];
}
