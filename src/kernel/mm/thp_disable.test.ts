/**
 * prctl(PR_SET_THP_DISABLE) and PR_GET_THP_DISABLE (Linux 6.12 kernel/sys.c): MMF_DISABLE_THP in
 * the mm's flags, inherited by fork (kernel/fork.c mmf_init_flags: MMF_INIT_MASK), makes
 * vma_thp_disabled (include/linux/huge_mm.h) true for every VMA of the mm: no transparent huge
 * page of any order at fault (__thp_vma_allowable_orders 0), no MADV_COLLAPSE (-EINVAL), no
 * khugepaged collapse (hpage_collapse_test_exit_or_disable), no shmem huge folio through the mm
 * (shmem_allowable_huge_orders, __shmem_huge_global_enabled), no PMD mapping of a page-cache folio
 * (do_set_pmd), `THPeligible: 0` in smaps and `THP_enabled: 0` in status (task_thp_status).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { holds, scenarioError } from "../../workloads/scenario/testKit.ts";

const THP = "machine ram=128M thp=always\nspawn A\n";

/** The output lines of statement `i` (0-based) of a run that start with `prefix`. */
function lines(src: string, i: number, prefix: string): string[] {
  const r = runScenario(src);
  return r.statements[i].output.map((l) => l.trim()).filter((l) => l.startsWith(prefix));
}

describe("prctl(PR_SET_THP_DISABLE)", () => {
  it("PR_GET_THP_DISABLE reads the flag; unused arguments not 0 and other options are -EINVAL", () => {
    holds(`${THP}A: g0 = prctl PR_GET_THP_DISABLE
A: s = prctl PR_SET_THP_DISABLE 1
A: g1 = prctl PR_GET_THP_DISABLE
A: e1 = prctl PR_SET_THP_DISABLE 0 0 1
A: e2 = prctl PR_GET_THP_DISABLE 1
A: e3 = prctl 99
A: g2 = prctl 42
A: prctl 41 0
A: g3 = prctl PR_GET_THP_DISABLE
expect g0 == 0
expect s == 0
expect g1 == 1
expect e1 == -22
expect e2 == -22
expect e3 == -22
expect g2 == 1
expect g3 == 0
`);
  });

  it("an anonymous fault of a 2 MiB aligned range: one THP without the flag, 512 4K faults with it", () => {
    const run = (prctl: string) => `${THP}${prctl}A: a = mmap 2M at=0x40000000
let f = A.min_flt
A: write a 2M value=1
`;
    // without: do_huge_pmd_anonymous_page, one fault, one PMD
    holds(`${run("")}expect vmstat.thp_fault_alloc == 1
expect A.min_flt - f == 1
expect anon_huge(A, a 2M) == 512
`);
    // with: __thp_vma_allowable_orders gives nothing, do_anonymous_page 512 times
    holds(`${run("A: prctl PR_SET_THP_DISABLE 1\n")}expect vmstat.thp_fault_alloc == 0
expect vmstat.thp_fault_fallback == 0
expect A.min_flt - f == 512
expect anon_huge(A, a 2M) == 0
expect A.rss == 512
`);
  });

  it("no mTHP either: a 64K order set to always gives 16 4K faults", () => {
    const run = (prctl: string) => `machine ram=128M thp=never
mthp 64K always
spawn A
${prctl}A: a = mmap 64K at=0x40000000
let f = A.min_flt
A: write a 64K value=1
`;
    holds(`${run("")}expect A.min_flt - f == 1\n`);
    holds(`${run("A: prctl PR_SET_THP_DISABLE 1\n")}expect A.min_flt - f == 16\n`);
  });

  it("fork's child inherits the flag (MMF_INIT_MASK); clearing it in the parent leaves the child's", () => {
    holds(`${THP}A: prctl PR_SET_THP_DISABLE 1
A: fork B
A: prctl PR_SET_THP_DISABLE 0
B: gb = prctl PR_GET_THP_DISABLE
A: ga = prctl PR_GET_THP_DISABLE
B: b = mmap 2M at=0x40000000
B: write b 2M value=1
expect gb == 1
expect ga == 0
expect vmstat.thp_fault_alloc == 0
expect anon_huge(B, b 2M) == 0
A: a = mmap 2M at=0x40000000
A: write a 2M value=1
expect vmstat.thp_fault_alloc == 1
`);
  });

  it("MADV_COLLAPSE is -EINVAL (thp_vma_allowable_order fails); after clearing the flag it collapses", () => {
    holds(`machine ram=128M thp=never
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=1
A: prctl PR_SET_THP_DISABLE 1
A: r1 = madvise a 2M collapse
expect r1 == -22
expect anon_huge(A, a 2M) == 0
A: prctl PR_SET_THP_DISABLE 0
A: r2 = madvise a 2M collapse
expect r2 == 0
expect anon_huge(A, a 2M) == 512
`);
  });

  it("khugepaged passes over the mm while the flag is set, and collapses once it is cleared", () => {
    // thp=madvise: the writes before MADV_HUGEPAGE fault 4K pages; MADV_HUGEPAGE registers the mm
    holds(`machine ram=128M thp=madvise
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=1
A: madvise a 2M hugepage
A: prctl PR_SET_THP_DISABLE 1
khugepaged
expect vmstat.thp_collapse_alloc == 0
expect anon_huge(A, a 2M) == 0
A: prctl PR_SET_THP_DISABLE 0
khugepaged
expect vmstat.thp_collapse_alloc == 1
expect anon_huge(A, a 2M) == 512
`);
  });

  it("with the flag set first MADV_HUGEPAGE does not register the mm (khugepaged_enter_vma)", () => {
    holds(`machine ram=128M thp=madvise
spawn A
A: prctl PR_SET_THP_DISABLE 1
A: a = mmap 2M at=0x40000000
A: write a 2M value=1
A: madvise a 2M hugepage
A: prctl PR_SET_THP_DISABLE 0
khugepaged
expect vmstat.thp_collapse_alloc == 0
expect anon_huge(A, a 2M) == 0
`);
  });

  it("smaps says THPeligible 0 and status THP_enabled 0", () => {
    const src = (prctl: string) => `${THP}A: a = mmap 4M\n${prctl}show A smaps\nshow A status\n`;
    expect(lines(src(""), 3, "THPeligible")).toEqual([
      "THPeligible:           1",
      "THPeligible:           0",
    ]);
    expect(lines(src(""), 4, "THP_enabled")).toEqual(["THP_enabled:\t1"]);
    const on = src("A: prctl PR_SET_THP_DISABLE 1\n");
    expect(lines(on, 4, "THPeligible")).toEqual(["THPeligible:           0", "THPeligible:           0"]);
    expect(lines(on, 5, "THP_enabled")).toEqual(["THP_enabled:\t0"]);
  });

  it("a memfd and shared anonymous memory get 4K pages, not huge folios (shmem_allowable_huge_orders)", () => {
    const src = (prctl: string) => `${THP}thp shmem_enabled=always
${prctl}A: memfd m
A: ftruncate m 2M
A: b = mmap 2M prot=rw shared file=m at=0x40400000
A: write b+5p value=1
A: s = mmap 2M shared at=0x41000000
A: write s+5p value=1
`;
    holds(`${src("")}expect vmstat.thp_file_alloc == 2
expect present(A, b 2M) == 512
expect present(A, s 2M) == 512
`);
    holds(`${src("A: prctl PR_SET_THP_DISABLE 1\n")}expect vmstat.thp_file_alloc == 0
expect present(A, b 2M) == 1
expect present(A, s 2M) == 1
expect meminfo.ShmemHugePages == 0
`);
  });

  it("a PMD-size page-cache folio is not PMD-mapped (do_set_pmd refuses)", () => {
    const src = (prctl: string) => `${THP}file h size=4M cached folio=2M
${prctl}A: c = mmap 4M prot=r shared file=h at=0x40800000
A: read c+200p
`;
    holds(`${src("")}expect meminfo.FilePmdMapped == 2M\n`);
    // filemap_map_pmd falls back to filemap_map_folio_range: the folio by PTEs (vmlab maps a large
    // folio whole there, as 6.18 does), one PTE table more than the PMD mapping
    holds(`${src("A: prctl PR_SET_THP_DISABLE 1\n")}expect meminfo.FilePmdMapped == 0
expect present(A, c 2M) == 512
expect meminfo.FileHugePages == 4M
`);
  });

  it("the statement's errors", () => {
    expect(scenarioError(`${THP}A: prctl PR_SET_THP_DISABLED 1\n`)).toMatch(
      /s\.vm:3:10: unknown prctl option 'PR_SET_THP_DISABLED'.*did you mean/,
    );
    expect(scenarioError(`${THP}A: prctl\n`)).toMatch(/s\.vm:3:4: prctl PR_SET_THP_DISABLE 1\|0/);
    expect(scenarioError("machine ram=64M profile=windows\nspawn A\nA: prctl PR_GET_THP_DISABLE\n")).toMatch(
      /s\.vm:3:4: 'prctl' is Linux's/,
    );
  });
});
