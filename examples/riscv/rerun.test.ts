import { describe, expect, it } from "vitest";
import { type NotPortable, rerunExamples, rewriteX86Scenario } from "../rerunKit.ts";

/**
 * Every x86 example rerun on RISC-V Sv39 (issue #14): the machine line gets
 * `arch=riscv-sv39`, and what x86 words one way and RISC-V another is
 * translated: x86's level names to Linux's (pml4 -> pgd, pdpt -> pud,
 * pd -> pmd, pt -> pte; Sv39 folds the pud into the pgd), `smap=on` and
 * `pcid=on` dropped (RISC-V's SUM is always the kernel's, its TLB always
 * tagged with the ASID). Each example must then hold on RISC-V unchanged,
 * or be listed below with its RISC-V counterpart (examples/riscv/) or the
 * reason it cannot run there. A listed example that has become portable
 * is reported, so the list stays true.
 */
const NOT_PORTABLE: NotPortable = {
  "examples/kernel/memcg-pagecache.vm": {
    reason:
      "x86-64's 4-level page tables: the charged tables (GFP_PGTABLE_USER: A's PUD, PMD and 4 PTE tables, B's 3) set how much of A fills the limit (Sv39 folds the PUD into the PGD: one table fewer each)",
  },
  "examples/files/sigbus-private-tmpfs.vm": {
    reason:
      "Svade: the first store to a clean writable tmpfs page faults to set D (x86 sets D in hardware), one more minor fault",
  },
  "examples/kernel/fragmentation.vm": {
    reason:
      "x86's direct-map addresses and boot-memory figures (RISC-V's linear map is at 0xffffffd600000000)",
  },
  "examples/kernel/kmalloc-contiguous.vm": {
    reason: "x86's direct-map range (page_offset_base 0xffff888000000000)",
  },
  "examples/process/context-switch-nopcid.vm": {
    reason:
      "pcid=off: RISC-V has no switch to turn ASIDs off (asids_init uses them whenever there are enough)",
  },
  "examples/process/cow-fork.vm": { counterpart: "examples/riscv/cow-fork.vm" },
  "examples/process/demand-paging.vm": { counterpart: "examples/riscv/demand-paging.vm" },
  "examples/process/mmap-family.vm": { reason: "maps 1T: more than Sv39's 256 GiB user half" },
  "examples/process/shootdown.vm": { counterpart: "examples/riscv/shootdown.vm" },
  "examples/process/signals.vm": {
    reason:
      "RISC-V's access_error refuses a fetch from a VMA without VM_EXEC at the first fault; x86 maps the page first and refuses the retried fetch",
  },
  "examples/process/stack-growth.vm": {
    reason: "x86's stack addresses (STACK_TOP 0x7ffffffff000; Sv39's is 2^38)",
  },
  "examples/process/thp.vm": { reason: "x86's address of the 2 MiB-aligned mapping (0x7ffff7a00000)" },
  "examples/process/thp-mremap.vm": {
    reason: "x86-64's 4-level pt_pages: Sv39 folds the PUD into the PGD, one table fewer",
  },
  "examples/uaccess/pti.vm": { reason: "pti=on: RISC-V Linux has no page-table isolation" },
  "examples/pkeys/protection-keys.vm": {
    reason: "protection keys are x86-64's (PKRU); RISC-V has no counterpart Linux uses",
  },
};

/** An x86 scenario as RISC-V words it. */
function onRiscv(source: string): string {
  return rewriteX86Scenario(source, "riscv-sv39", (w) => (w === "pcid=on" || w === "smap=on" ? null : w));
}

rerunExamples(
  "the x86 examples rerun on RISC-V Sv39 (invariant checker on)",
  "riscv-sv39",
  "RISC-V",
  "x86's own",
  NOT_PORTABLE,
  onRiscv,
);

describe("onRiscv", () => {
  it("puts arch=riscv-sv39 on the machine line and words x86's settings and levels as Linux's", () => {
    const src = "machine ram=64M smap=on pcid=on\nexpect table(A, a, pml4) != table(B, b+4K, pt)\n";
    expect(onRiscv(src)).toBe(
      "machine arch=riscv-sv39 ram=64M\nexpect table(A, a, pgd) != table(B, b+4K, pte)\n",
    );
  });
});
