/**
 * fork's copy of the page tables marks the child's entries old, and clean
 * in a shared mapping (mm/memory.c __copy_present_ptes: pte_mkold, and
 * pte_mkclean for VM_SHARED; copy_huge_pmd: pmd_mkold). Where the hardware
 * sets the accessed bit itself (x86) the child's first access only sets it;
 * where an old entry faults (RISC-V without Svadu) it is a minor fault.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

/** The flags `show P pagetable ADDR` prints on its last-level line. */
function leafFlags(out: string[]): string[] {
  const line = out.find((l) => /^\s*PT\s+\[/.test(l));
  if (line === undefined) throw new Error(`no PT line in ${out.join("\n")}`);
  return line.split(/\s+/).slice(-5);
}

describe("fork marks the child's entries old", () => {
  it("x86-64: the child's PTE has A clear (D kept in a private mapping) until it reads", () => {
    const r = runScenario(
      [
        "machine ram=64M",
        "spawn A",
        "A: a = mmap 8K",
        "A: s = mmap 8K shared",
        "A: write a 8K",
        "A: write s 8K",
        "A: fork B",
        "show A pagetable a", // 7
        "show B pagetable a", // 8
        "show B pagetable s", // 9
        "B: read a",
        "show B pagetable a", // 11
      ].join("\n"),
    );
    expect(leafFlags(r.statements[7].output)).toContain("A");
    const child = r.statements[8].output.find((l) => /^\s*PT\s+\[/.test(l))!;
    expect(child).toMatch(/ P US D XD$/);
    // a shared mapping's tables are not copied at all (vma_needs_copy): the child faults them in
    expect(r.statements[9].output.find((l) => /^\s*PT\s+\[/.test(l))).toMatch(/= 0x0{16}\s*$/);
    expect(r.statements[11].output.find((l) => /^\s*PT\s+\[/.test(l))).toMatch(/ P US A D XD$/);
  });

  it("RISC-V (Svade): the child's first read of each page is a minor fault that makes the entry young", () => {
    expect(
      expectationFailures(
        [
          "machine arch=riscv-sv39 ram=64M",
          "spawn A",
          "A: a = mmap 16K",
          "A: write a 16K",
          "A: fork B",
          "B: read a 16K",
          "expect B.min_flt == 4",
          "B: read a 16K",
          "expect B.min_flt == 4",
        ].join("\n"),
      ),
    ).toEqual([]);
  });
});
