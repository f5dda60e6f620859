/**
 * MADV_COLLAPSE and khugepaged on shmem (mm/khugepaged_file.ts; Linux 6.12
 * mm/khugepaged.c hpage_collapse_scan_file, collapse_file,
 * retract_page_tables, collapse_pte_mapped_thp): shared anonymous memory and
 * tmpfs files of 4K pages become PMD-size folios, holes filled with zeros
 * (Shmem grows by them), swapped-out pages read back, the folio mapped by
 * one PMD for MADV_COLLAPSE, its old PTE tables retracted for the other
 * mappings; MADV_COLLAPSE's errors where shmem's policy refuses even when
 * forced (shmem_enabled=deny, hugepages-2048kB/shmem_enabled=never).
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const run = checkedMetrics;
const M2 = 2 << 20;

describe("MADV_COLLAPSE on shmem", () => {
  it("shared anonymous memory of 4K pages: one PMD-size folio, the holes zeroed, mapped by one PMD", () => {
    const v = run(`machine ram=64M
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a 300p value=5
A: write a+7p value=9
let shmem0 = meminfo.Shmem
let p0 = present(A, a 2M)
let pt0 = A.pt_pages
A: r = madvise a 2M collapse
let shp = meminfo.ShmemHugePages
let spm = meminfo.ShmemPmdMapped
let shmem = meminfo.Shmem
let p = present(A, a 2M)
let rss = A.rss
let coll = vmstat.thp_collapse_alloc
let fa = vmstat.thp_file_alloc
let pt = A.pt_pages
expect byte(A, a+7p) == 9
expect byte(A, a+299p) == 5
expect byte(A, a+300p) == 0
expect byte(A, a+511p) == 0
let flt = A.min_flt
A: write a+400p value=3
let flt2 = A.min_flt
expect byte(A, a+400p) == 3
A: munmap a 2M
let shp_end = meminfo.ShmemHugePages
`);
    expect([v("shmem0"), v("p0")]).toEqual([300 * 4096, 300]);
    // collapse_file: 300 pages copied, nr_none = 212 holes zeroed and charged (Shmem 2 MiB),
    // THP_COLLAPSE_ALLOC (not THP_FILE_ALLOC); collapse_pte_mapped_thp maps it by one PMD
    expect(v("r")).toBe(0);
    expect([v("shp"), v("spm"), v("shmem"), v("p"), v("rss"), v("coll"), v("fa")]).toEqual([
      M2,
      M2,
      M2,
      512,
      512,
      1,
      0,
    ]);
    // the PTE table went (retract_page_tables / pmdp_collapse_flush, pte_free)
    expect(v("pt")).toBe(v("pt0") - 1);
    // set_huge_pmd maps it read-only (do_set_pmd without FAULT_FLAG_WRITE): a write faults once
    expect(v("flt2") - v("flt")).toBe(1);
    expect(v("shp_end")).toBe(0);
  });

  it("a tmpfs file of 4K pages (huge=never): MADV_COLLAPSE forces the policy; a second mapping's empty table is retracted", () => {
    const v = run(`machine ram=64M
file t size=4M fs=tmpfs
spawn A
spawn B
A: a = mmap 4M prot=rw shared file=t at=0x40000000
B: b = mmap 4M prot=rw shared file=t at=0x80000000
A: read a 4M
B: read b+5p
A: write a+3p value=7
let shp0 = meminfo.ShmemHugePages
let bpt0 = B.pt_pages
let brss0 = B.rss
A: r = madvise a 2M collapse
let shp = meminfo.ShmemHugePages
let pa = present(A, a 2M)
let pa2 = present(A, a+2M 2M)
let pb = present(B, b 2M)
let brss = B.rss
let bpt = B.pt_pages
let shmem = meminfo.Shmem
B: read b+3p
expect file_byte(t, 12288) == 7
expect byte(B, b+3p) == 7
expect byte(B, b+1000) == file_byte(t, 1000)
let pb2 = present(B, b 2M)
let spm = meminfo.ShmemPmdMapped
`);
    expect([v("shp0"), v("r")]).toEqual([0, 0]);
    // the first 2 MiB of the file is one folio; A maps it by a PMD, its second half by PTEs still
    expect([v("shp"), v("pa"), v("pa2"), v("shmem")]).toEqual([M2, 512, 512, 4 << 20]);
    // B's 16 PTEs (the read's fault-around) went with try_to_unmap, its table with
    // retract_page_tables: nothing mapped there now
    expect([v("brss0"), v("pb"), v("brss"), v("bpt")]).toEqual([16, 0, 0, v("bpt0") - 1]);
    // B's next fault finds the PMD none and maps the folio whole (do_set_pmd); ShmemPmdMapped
    // counts the folio once however many PMDs map it (NR_SHMEM_PMDMAPPED: its first PMD mapping)
    expect([v("pb2"), v("spm")]).toEqual([512, M2]);
  });

  it("is -EINVAL where shmem's policy refuses even forced: deny; hugepages-2048kB/shmem_enabled=never for shared anonymous memory", () => {
    const v = run(`machine ram=64M
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a 10p value=1
thp shmem_enabled=deny
A: r1 = madvise a 2M collapse
thp shmem_enabled=never
thp shmem_enabled=never size=2M
A: r2 = madvise a 2M collapse
thp shmem_enabled=advise size=2M
A: r3 = madvise a 2M collapse
A: madvise a 2M hugepage
A: r4 = madvise a 2M collapse
let shp = meminfo.ShmemHugePages
`);
    // shmem_allowable_huge_orders: deny is 0; with shmem_huge_force the inherit orders are granted,
    // but the PMD size is `never`, then `advise` without VM_HUGEPAGE; with it, the collapse is made
    expect([v("r1"), v("r2"), v("r3"), v("r4"), v("shp")]).toEqual([-22, -22, -22, 0, M2]);
  });

  it("reads swapped-out pages back (shmem_get_folio SGP_NOALLOC) and keeps their bytes", () => {
    const v = run(`machine ram=64M swap=64M page_cluster=0
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a 64p value=6
A: write a+10p value=8
A: p = madvise a 32p pageout
let sw = meminfo.SwapTotal - meminfo.SwapFree
let pin0 = vmstat.pswpin
A: r = madvise a 2M collapse
let pin = vmstat.pswpin
let sw2 = meminfo.SwapTotal - meminfo.SwapFree
let shp = meminfo.ShmemHugePages
expect byte(A, a+10p) == 8
expect byte(A, a+31p) == 6
expect byte(A, a+63p) == 6
expect byte(A, a+64p) == 0
`);
    expect(v("sw")).toBe(32 * 4096);
    expect([v("r"), v("pin") - v("pin0"), v("sw2"), v("shp")]).toEqual([0, 32, 0, M2]);
  });

  it("maps a PTE-mapped PMD-size folio by its PMD (collapse_pte_mapped_thp), allocating nothing", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a+1p value=2
A: mprotect a+1M 4K prot=r
A: read a+5p
A: mprotect a+1M 4K prot=rw
let vmas = A.map_count
let p0 = present(A, a 2M)
let spm0 = meminfo.ShmemPmdMapped
A: r = madvise a 2M collapse
let p = present(A, a 2M)
let spm = meminfo.ShmemPmdMapped
let coll = vmstat.thp_collapse_alloc
let rss = A.rss
expect byte(A, a+1p) == 2
`);
    // the mprotect split the PMD (a file PMD is cleared, not split into PTEs); the fault in the
    // shorter VMA mapped pages by PTEs (fault-around: 16); the mprotect back merged the VMAs
    expect([v("p0"), v("spm0")]).toEqual([16, 0]);
    // SCAN_PTE_MAPPED_HUGEPAGE: the PTEs cleared, the table freed, the PMD installed
    expect([v("r"), v("p"), v("spm"), v("coll"), v("rss")]).toEqual([0, 512, M2, 0, 512]);
  });

  it("a private tmpfs mapping with a copied page: the file's folio is made, the PMD not mapped (-EINVAL)", () => {
    const v = run(`machine ram=64M
file t size=2M fs=tmpfs
spawn A
A: a = mmap 2M prot=rw private file=t at=0x40000000
A: read a 2M
A: write a+9p value=1
A: r = madvise a 2M collapse
let shp = meminfo.ShmemHugePages
let p = present(A, a 2M)
let rss = A.rss
expect byte(A, a+9p) == 1
`);
    // retract_page_tables skips a VMA with an anon_vma; collapse_pte_mapped_thp finds the COW
    // copy where the folio's page should be: SCAN_FAIL, madvise_collapse_errno -EINVAL
    expect([v("r"), v("shp"), v("p"), v("rss")]).toEqual([-22, M2, 1, 1]);
  });

  it("a SysV segment (tmpfs's rule: shm_mnt's huge=, forced) collapses too", () => {
    const v = run(`machine ram=64M
spawn A
A: id = shmget private 2M creat
A: s = shmat id at=0x40000000
A: write s 10p value=6
A: r = madvise s 2M collapse
let shp = meminfo.ShmemHugePages
let p = present(A, s 2M)
expect byte(A, s+9p) == 6
`);
    expect([v("r"), v("shp"), v("p")]).toEqual([0, M2, 512]);
  });
});

describe("khugepaged on shmem", () => {
  it("collapses a shared anonymous range under shmem_enabled=always; the next fault maps the PMD", () => {
    const v = run(`machine ram=64M thp=always
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a 100p value=4
thp shmem_enabled=always
A: madvise a 2M hugepage
let pt0 = A.pt_pages
khugepaged
let coll = thp.pages_collapsed
let shp = meminfo.ShmemHugePages
let p = present(A, a 2M)
let pt = A.pt_pages
A: read a+50p
let p2 = present(A, a 2M)
expect byte(A, a+99p) == 4
expect byte(A, a+100p) == 0
`);
    // collapse_file for khugepaged: SCAN_SUCCEED, no PMD installed; the table retracted
    expect([v("coll"), v("shp"), v("p"), v("pt")]).toEqual([1, M2, 0, v("pt0") - 1]);
    expect(v("p2")).toBe(512);
  });

  it("leaves a range with fewer than HPAGE_PMD_NR - max_ptes_none pages (SCAN_EXCEED_NONE_PTE) and one under shmem_enabled=never", () => {
    const v = run(`machine ram=64M thp=always thp_max_ptes_none=400
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a 100p value=4
A: madvise a 2M hugepage
khugepaged
let reg = thp.full_scans
thp shmem_enabled=always
A: b = mmap 2M prot=rw shared at=0x40400000
thp shmem_enabled=never
A: write b 100p value=4
thp shmem_enabled=always
khugepaged
let exceed = vmstat.thp_scan_exceed_none_pte
let shp = meminfo.ShmemHugePages
A: write b+100p 20p value=1
khugepaged scans=2
let shp2 = meminfo.ShmemHugePages
`);
    // never: the VMA is not eligible (thp_vma_allowable_order with TVA_ENFORCE_SYSFS), nothing registered
    expect(v("reg")).toBe(0);
    // one wake-up scans both PMDs (each scan drops the mmap_lock, the pass goes on to the
    // pages_to_scan budget): 100 present < 512 - 400 twice; then b's 120 >= 112 collapses, a's 100 not
    expect([v("exceed"), v("shp"), v("shp2")]).toEqual([2, 0, M2]);
  });
});
