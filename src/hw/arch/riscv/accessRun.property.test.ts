/**
 * Mmu.accessRun against one load8/store8 per access on RISC-V Sv48 (src/hw/mmu/accessRun.testkit.ts):
 * 64 pages 32 below a 512 GiB boundary (a level-3 PTE's, so a level-2, level-1 and leaf table's
 * too), in U-mode with Svadu (the hardware sets A and D).
 */
import { describe, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { checkAccessRuns, FIRST, type RunMachine, runMachine } from "../../mmu/accessRun.testkit.ts";
import { Pte } from "./format.ts";
import { bareRiscv } from "./testkit.ts";

function machine(tlb: string): RunMachine {
  const { cpu, mapper, root, frames } = bareRiscv({ tlb, ramBytes: 32 << 20, vaBits: 48, svadu: true }, 1);
  const map = (p: number, pfn: number) =>
    mapper.map(root, toVpn(FIRST + p) as never, toPfn(pfn), 0, { writable: true, user: true }).ok;
  return runMachine({
    cpu,
    map,
    unmap: (p) => void mapper.unmap(root, toVpn(FIRST + p) as never),
    tables: () => [root, frames.next],
    // A and D of a leaf (a pointer has neither: they are reserved there)
    ageMask: (level, dirty) => (level === 0 ? Pte.A | (dirty ? Pte.D : 0) : 0),
    flushAll: () => void cpu.sfenceVma(null, cpu.asid),
  });
}

describe("accessRun against one load8/store8 per access, RISC-V (fast-check)", () => {
  for (const tlb of ["skylake", "tiny"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      checkAccessRuns(() => machine(tlb), 0x5c + tlb.length);
    });
});
