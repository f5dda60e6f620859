import { describe, expect, it } from "vitest";
import { type NotPortable, rerunExamples, rewriteX86Scenario } from "../rerunKit.ts";

/**
 * Every x86 example rerun on RV32 Linux (`arch=riscv-sv32`), as
 * rerun.test.ts reruns them on Sv39 and examples/i386/rerun.test.ts on
 * 32-bit x86: `pcid=on` and `smap=on` dropped, x86's level names as Linux's
 * (2 levels: pmd, pud and p4d fold into the pgd), x86-64's __va(0)
 * (0xffff888000000000) as RV32's PAGE_OFFSET 0xc0000000. Each example must
 * then hold on RV32 unchanged, or be listed below with its RV32 counterpart
 * or the reason it cannot; a listed example that has become portable is
 * reported, so the list stays true.
 */
const THP = "no transparent huge pages on RV32 (HAVE_ARCH_TRANSPARENT_HUGEPAGE if 64BIT): thp=never";
const PMD4M = "a PGD leaf maps 4 MiB on Sv32's 2 levels (HPAGE_SHIFT 22), not 2 MiB";
const X86_64_ADDR = "names x86-64 addresses, which do not exist in a 32-bit address space";
const NOT_PORTABLE: NotPortable = {
  "examples/kernel/memcg-pagecache.vm": {
    reason:
      "x86-64's 4-level page tables: the charged tables (GFP_PGTABLE_USER: A's PUD, PMD and 4 PTE tables, B's 3) set how much of A fills the limit (Sv32: 2 levels, a PTE table spans 4 MiB)",
  },
  "examples/files/large-folios.vm": {
    reason:
      "no large page-cache folios without CONFIG_TRANSPARENT_HUGEPAGE (mapping_set_folio_order_range): folio= above 4K",
  },
  "examples/files/pmd-folio.vm": { reason: `${PMD4M}; and ${THP}` },
  "examples/files/shmem-collapse.vm": { reason: THP },
  "examples/files/shmem-huge-anon.vm": { reason: THP },
  "examples/files/tmpfs-huge.vm": { reason: THP },
  "examples/files/sigbus-private-tmpfs.vm": {
    reason:
      "Svade: the first store to a clean writable tmpfs page faults to set D (x86 sets D in hardware), one more minor fault",
  },
  "examples/kernel/compaction.vm": {
    reason:
      "RV32 has ZONE_NORMAL alone: the low 16 MiB x86 keeps as ZONE_DMA (used last) hold free order-10 blocks, so the order-10 allocation needs no compaction",
  },
  "examples/kernel/fragmentation.vm": {
    reason:
      "x86-64's boot-memory figures and direct-map addresses (RV32's kernel runs in lowmem at 0xc0000000)",
  },
  "examples/kernel/vmalloc-scatter.vm": { reason: X86_64_ADDR },
  "examples/pkeys/protection-keys.vm": { reason: "protection keys are x86-64's (PKRU)" },
  "examples/process/context-switch-nopcid.vm": {
    reason:
      "pcid=off: RISC-V has no switch to turn ASIDs off (asids_init uses them whenever there are enough)",
  },
  "examples/process/cow-fork.vm": { counterpart: "examples/riscv/sv32.vm" },
  "examples/process/demand-paging.vm": { counterpart: "examples/riscv/sv32.vm" },
  "examples/process/hugetlb.vm": { reason: PMD4M },
  "examples/process/khugepaged.vm": { reason: THP },
  "examples/process/mthp.vm": { reason: `${THP}: no hugepages-<size>kB/enabled either` },
  "examples/process/mmap-family.vm": {
    reason: "maps 1T: more than RV32's 2.4 GB user space (TASK_SIZE 0x9c800000)",
  },
  "examples/process/droppable.vm": {
    reason:
      "MAP_DROPPABLE is 64-bit only (VM_DROPPABLE is VM_NONE without CONFIG_64BIT: do_mmap's -ENOTSUPP)",
  },
  "examples/process/mremap-dontunmap-mseal.vm": {
    reason: "mseal(2) is 64-bit only (can_do_mseal: -EPERM without CONFIG_64BIT)",
  },
  "examples/process/shootdown.vm": {
    reason: "a PTE page spans 4 MiB on Sv32: munmap of b leaves keep's page table, so no freed-tables IPI",
  },
  "examples/process/signals.vm": {
    reason:
      "RISC-V's access_error refuses a fetch from a VMA without VM_EXEC at the first fault; x86 maps the page first and refuses the retried fetch",
  },
  "examples/process/stack-growth.vm": {
    reason: "x86-64's stack addresses (RV32's STACK_TOP is TASK_SIZE, 0x9c800000)",
  },
  "examples/process/thp-deferred-split.vm": { reason: THP },
  "examples/process/thp-mremap.vm": { reason: THP },
  "examples/process/thp.vm": { reason: THP },
  "examples/swap/mthp-pageout.vm": {
    reason:
      "a 32-bit kernel has no CONFIG_THP_SWAP (64BIT only): folio_alloc_swap gives a large folio no entry, so its pageout splits the folio",
  },
  "examples/swap/thp-pageout.vm": { reason: THP },
  "examples/tour/04-shared-kernel-half.vm": {
    reason:
      "its shared level is the PUD below x86-64's PGD; on Sv32 the kernel's PTE tables hang from each process's own PGD entries",
  },
  "examples/tour/09-real-program.vm": {
    reason: "replays a trace of an x86-64 program (its addresses are above 4 GiB)",
  },
  "examples/uaccess/pti.vm": { reason: "pti=on: RISC-V Linux has no page-table isolation" },
};

/** An x86 scenario as RV32 words it. */
function onSv32(source: string): string {
  return rewriteX86Scenario(source, "riscv-sv32", (w) =>
    w === "pcid=on" || w === "smap=on" ? null : w,
  ).replaceAll("0xffff888000000000", "0xc0000000");
}

rerunExamples(
  "the x86 examples rerun on RV32 Sv32 (invariant checker on)",
  "riscv-sv32",
  "RV32",
  "not RV32's",
  NOT_PORTABLE,
  onSv32,
);

describe("onSv32", () => {
  it("puts arch=riscv-sv32 on the machine line, drops x86's switches, words levels and __va(0) as RV32's", () => {
    const src =
      "machine ram=64M smap=on pcid=on\nexpect table(A, 0xffff888000000000, pml4) != table(B, b, pd)\n";
    expect(onSv32(src)).toBe(
      "machine arch=riscv-sv32 ram=64M\nexpect table(A, 0xc0000000, pgd) != table(B, b, pmd)\n",
    );
  });
});
