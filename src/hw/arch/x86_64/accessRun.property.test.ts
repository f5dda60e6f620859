/**
 * Mmu.accessRun against one load8/store8 per access on x86-64 (src/hw/mmu/accessRun.testkit.ts):
 * 64 pages 32 below a 512 GiB boundary (a PML4 entry's, so a page directory's and a leaf table's
 * too), PCIDs on.
 */
import { describe, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { checkAccessRuns, FIRST, type RunMachine, runMachine } from "../../mmu/accessRun.testkit.ts";
import { Pte } from "./pte.ts";
import { bareMachine } from "./testkit.ts";

function machine(tlb: string): RunMachine {
  const { cpu, mapper, root, frames } = bareMachine({ tlb, ramBytes: 32 << 20 });
  cpu.movToCr4({ pcide: true });
  const map = (p: number, pfn: number) =>
    mapper.map(root, toVpn(FIRST + p), toPfn(pfn), 0, { writable: true, user: true }).ok;
  return runMachine({
    cpu,
    map,
    unmap: (p) => void mapper.unmap(root, toVpn(FIRST + p)),
    tables: () => [root, frames.next],
    ageMask: (level, dirty) => Pte.A | (dirty && level === 0 ? Pte.D : 0),
    flushAll: () => void cpu.movToCr3(0, root * 4096 + 1),
  });
}

describe("accessRun against one load8/store8 per access, x86-64 (fast-check)", () => {
  for (const tlb of ["skylake", "tiny"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      checkAccessRuns(() => machine(tlb), 0xacc + tlb.length);
    });
});
