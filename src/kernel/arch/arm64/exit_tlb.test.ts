/**
 * TLB maintenance when an address space dies on arm64 (Linux 6.12 arch/arm64/include/asm/tlb.h
 * tlb_flush): exit_mmap's gather is fullmm, and for it arm64 issues nothing while only leaves
 * changed ("the ASID allocator won't reallocate our ASID without invalidating the entire TLB")
 * and one flush_tlb_mm (TLBI ASIDE1IS, and the user ASID's under KPTI) once free_pgtables has
 * freed tables. A HugeTLB PMD unshare during the zap forces a flush of the gather
 * (__unmap_hugepage_range's tlb_flush_mmu_tlbonly): leaves only, so nothing on arm64, where
 * x86-64 and RISC-V flush the whole mm for it.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../../workloads/scenario/session.ts";
import { holds } from "../../../workloads/scenario/testKit.ts";

/** A maps 1 GiB of 2 MiB HugeTLB pages shared at 1 GiB and forks B, which writes a page of its own and whose read shares A's PMD table. */
const SHARED = (machine: string) => `machine ${machine} ram=1100M cpus=2
sysctl nr_hugepages=520
spawn A
A: buf = mmap 1G shared hugetlb at=0x40000000
A: write buf 1 value=0x11
A: fork B
B: mine = mmap 4K
B: write mine
B: read buf
let b0 = tlb.broadcasts
let f0 = tlb.flushes
`;

describe("arm64 exit_mmap: tlb_flush of a fullmm gather", () => {
  it("a process's exit is one TLBI ASIDE1IS (the tables free_pgtables freed), two under KPTI", () => {
    for (const [pti, n] of [
      ["off", 1],
      ["on", 2],
    ] as const)
      holds(`machine arch=arm64 ram=64M cpus=2 pti=${pti}
spawn A
A: a = mmap 4M
A: write a 4M
spawn C
C: c = mmap 4K
C: write c
let b0 = tlb.broadcasts
A: exit
expect tlb.broadcasts - b0 == ${n}
`);
  });

  it("a HugeTLB PMD unshare in the dying mm forces a leaves-only flush: no TLBI; the table's owner keeps its pages", () => {
    holds(`${SHARED("arch=arm64")}B: exit
expect tlb.broadcasts - b0 == 1
A: read buf
expect byte(A, buf) == 0x11
expect A.min_flt == 1
`);
    // munmap is no fullmm: its unshare's forced flush is __flush_tlb_range of the 1 GiB (past
    // MAX_DVM_OPS: ASIDE1IS), then the gather's end flushes what free_pgtables freed
    holds(`${SHARED("arch=arm64")}B: munmap buf 1G
expect tlb.broadcasts - b0 == 2
`);
  });

  it("the unshare's flush costs arm64 nothing and x86-64 one whole-mm flush (tlb_flush of fullmm)", () => {
    // B's exit with its read (B shares A's PMD table: huge_pmd_unshare) and without (nothing shared)
    const flushes = (arch: string, share: boolean) => {
      const src = SHARED(`arch=${arch}`).replace("B: read buf\n", share ? "B: read buf\n" : "");
      const r = runScenario(`${src}B: exit\nlet f1 = tlb.flushes\nlet b1 = tlb.broadcasts\n`);
      const f = (name: string) => Number(BigInt(r.metrics[name]));
      return arch === "arm64" ? f("b1") - f("b0") : f("f1") - f("f0");
    };
    expect(flushes("arm64", true) - flushes("arm64", false)).toBe(0);
    expect(flushes("x86_64", true) - flushes("x86_64", false)).toBe(1);
  });
});
