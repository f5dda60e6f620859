/**
 * NR_PAGETABLE (meminfo PageTables, vmstat nr_page_table_pages) and VmPTE as Linux 6.12 counts
 * them. NR_PAGETABLE moves only in the page-table constructors (include/linux/mm.h
 * pagetable_pte_ctor, pagetable_pmd_ctor, pagetable_pud_ctor): a user PTE, PMD or PUD table
 * counts; the PGD does not (pgd_alloc: __get_free_pages on x86, arm64 and RISC-V), nor a P4D
 * table (p4d_alloc_one: get_zeroed_page), nor a kernel PTE table (pte_alloc_one_kernel: no
 * constructor). x86 PAE's pgd_alloc preallocates its PMDs through preallocate_pmds, which runs
 * pagetable_pmd_ctor and mm_inc_nr_pmds for each: 3 (PREALLOCATED_PMDS = KERNEL_PGD_BOUNDARY),
 * or with PTI 4 + 1 (PTRS_PER_PGD without SHARED_KERNEL_PMD, PREALLOCATED_USER_PMDS).
 */
import { describe, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";

/** spawn, one written page: the PageTables each step adds; P.pt_pages after (every table below the PGD, a P4D table too) */
const perProcess = (
  machine: string,
  spawn: string,
  page: string,
  ptPages: number,
) => `machine ${machine} ram=256M
let p0 = meminfo.PageTables
spawn A
expect meminfo.PageTables - p0 == ${spawn}
A: a = mmap 4K
A: write a 4K
expect meminfo.PageTables - p0 == ${spawn} + ${page}
expect A.pt_pages == ${ptPages}
A: exit
expect meminfo.PageTables == p0
`;

describe("NR_PAGETABLE: the tables the constructors see", () => {
  // the page's tables below the PGD: x86-64 and arm64 (4 levels) a PUD, a PMD and a PTE table;
  // LA57 and Sv57 one P4D table more, not counted; Sv39 a PMD and a PTE table; i386 a PTE table
  for (const [arch, page, ptPages] of [
    ["x86_64", "12K", 3],
    ["x86_64-la57", "12K", 4],
    ["arm64", "12K", 3],
    ["riscv-sv39", "8K", 2],
    ["riscv-sv48", "12K", 3],
    ["riscv-sv57", "12K", 4],
    ["i386", "4K", 1],
  ] as const)
    it(`${arch}: no PGD at spawn, ${page} for a page's tables`, () => {
      holds(perProcess(`arch=${arch}`, "0", page, ptPages));
    });

  it("i386-pae: the three preallocated user PMDs at spawn, then a PTE table (VmPTE counts them too)", () => {
    holds(perProcess("arch=i386-pae", "12K", "4K", 4));
  });

  it("i386-pae pti=on: the five preallocated PMDs at spawn, not the 8 KiB PGD pair", () => {
    holds(perProcess("arch=i386-pae pti=on", "20K", "4K", 6));
  });

  it("x86-64 with PTI: the PGD pair is not counted either", () => {
    holds(perProcess("arch=x86_64 pti=on", "0", "12K", 3));
  });

  it("kernel PTE tables are not counted: vmalloc's first area costs x86-64 a PMD table only, arm64 and RISC-V nothing", () => {
    // x86-64: the vmalloc range's PUD is preallocated, its PMD table comes with the first area
    //   (pmd_alloc_one: counted), its PTE tables (pte_alloc_one_kernel) never; arm64 and Sv39
    //   have the PMD table from boot
    for (const [arch, first] of [
      ["x86_64", "4K"],
      ["arm64", "0"],
      ["riscv-sv39", "0"],
    ])
      holds(`machine arch=${arch} ram=256M
let p0 = meminfo.PageTables
kernel: v = vmalloc 4K
expect meminfo.PageTables - p0 == ${first}
kernel: w = vmalloc 4M
expect meminfo.PageTables - p0 == ${first}
expect vmstat.nr_page_table_pages == ${first === "0" ? 0 : 1}
`);
  });
});
