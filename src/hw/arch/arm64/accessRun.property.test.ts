/**
 * Mmu.accessRun against one load8/store8 per access on arm64 (src/hw/mmu/accessRun.testkit.ts):
 * 64 pages of TTBR0's range, 32 below a 512 GiB boundary (an L0 entry's, so an L1, L2 and leaf
 * table's too), at EL0 with the hardware Access flag and dirty state (TCR_EL1.HA/HD) on.
 */
import { describe, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { checkAccessRuns, FIRST, type RunMachine, runMachine } from "../../mmu/accessRun.testkit.ts";
import { Desc } from "./format.ts";
import { bareArm64 } from "./testkit.ts";

function machine(tlb: string): RunMachine {
  const { cpu, mapper, root0, frames } = bareArm64({ tlb, ramBytes: 32 << 20 });
  cpu.setTcr({ ha: true, hd: true });
  const map = (p: number, pfn: number) =>
    mapper.map(root0, toVpn(FIRST + p) as never, toPfn(pfn), 0, { writable: true, user: true, dbm: true }).ok;
  return runMachine({
    cpu,
    map,
    unmap: (p) => void mapper.unmap(root0, toVpn(FIRST + p) as never),
    tables: () => [root0, frames.next],
    // AF (a table descriptor has none: bit 10 is ignored there)
    ageMask: (level) => (level === 0 ? Desc.AF : 0),
    flushAll: () => void cpu.tlbi("aside1", 0, 0, cpu.asid),
  });
}

describe("accessRun against one load8/store8 per access, arm64 (fast-check)", () => {
  for (const tlb of ["skylake", "tiny"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      checkAccessRuns(() => machine(tlb), 0xa64 + tlb.length);
    });
});
