/**
 * Huge pages for shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS) and
 * SysV shm, as Linux 6.12 decides them for shm_mnt: shmem_enabled (always,
 * within_size, advise, never, deny, force) and, for shared anonymous memory
 * only (vma_is_anon_shmem), hugepages-2048kB/shmem_enabled (inherit at boot);
 * the fault maps a PMD-size folio by one PMD (do_set_pmd), ShmemHugePages,
 * ShmemPmdMapped, thp_file_alloc; MADV_REMOVE splits a folio it covers in
 * part (truncate_inode_partial_folio: THP_SPLIT_PAGE) and frees one it covers
 * whole; reclaim swaps a folio out whole (shmem_writepage with CONFIG_THP_SWAP,
 * 64-bit) unless i_size crosses it, else splits it (i386); fallocate on a
 * huge tmpfs file allocates PMD-size folios.
 * Linux: mm/shmem.c shmem_allowable_huge_orders, shmem_get_folio_gfp,
 * shmem_undo_range, shmem_writepage, shmem_get_unmapped_area; mm/memory.c do_set_pmd, finish_fault
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics, scenarioError } from "../../workloads/scenario/testKit.ts";

const run = checkedMetrics;
const M2 = 2 << 20;

describe("shared anonymous memory under shmem_enabled", () => {
  it("always: a write fault allocates a PMD-size folio and maps it by one PMD; a read fault too; munmap frees them", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always
spawn A
A: a = mmap 4M prot=rw shared at=0x40000000
A: write a+5p value=7
let alloc = vmstat.thp_file_alloc
let shp = meminfo.ShmemHugePages
let spm = meminfo.ShmemPmdMapped
let p = present(A, a 4M)
let rss = A.rss
let flt = A.min_flt
let mapped = vmstat.thp_file_mapped
A: read a+2M+3p
let p2 = present(A, a 4M)
let alloc2 = vmstat.thp_file_alloc
let shmem = meminfo.Shmem
expect byte(A, a+5p) == 7
expect byte(A, a+2M+3p) == 0
A: write a+2M+9p value=9
let flt3 = A.min_flt
expect byte(A, a+2M+9p) == 9
A: munmap a 4M
let shp_end = meminfo.ShmemHugePages
let shmem_end = meminfo.Shmem
let size_alloc = thp.hugepages_2048kB_shmem_alloc
`);
    // one fault, one folio of 512 pages, one PMD: ShmemHugePages and ShmemPmdMapped, RssShmem 512
    expect([v("alloc"), v("shp"), v("spm"), v("p"), v("rss"), v("flt"), v("mapped")]).toEqual([
      1,
      M2,
      M2,
      512,
      512,
      1,
      1,
    ]);
    // the read fault: a second folio by a PMD (finish_fault: do_set_pmd), read-only; its write
    // (wp_huge_pmd: cleared, do_set_pmd writable) is one more fault
    expect([v("p2"), v("alloc2"), v("shmem"), v("flt3")]).toEqual([1024, 2, 4 << 20, 3]);
    // the object's last reference: its folios go
    expect(v("shp_end")).toBe(0);
    expect(v("shmem_end")).toBe(0);
    // hugepages-2048kB/stats/shmem_alloc (MTHP_STAT_SHMEM_ALLOC) with THP_FILE_ALLOC
    expect(v("size_alloc")).toBe(2);
  });

  it("never (the boot default): 4K pages; hugepages-2048kB/shmem_enabled=always grants them without the top level", () => {
    const v = run(`machine ram=64M
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a value=1
let p0 = present(A, a 2M)
let alloc0 = vmstat.thp_file_alloc
thp shmem_enabled=always size=2M
A: b = mmap 2M prot=rw shared at=0x40400000
A: write b value=1
let p1 = present(A, b 2M)
let alloc1 = vmstat.thp_file_alloc
let spm = meminfo.ShmemPmdMapped
`);
    expect([v("p0"), v("alloc0")]).toEqual([1, 0]);
    expect([v("p1"), v("alloc1"), v("spm")]).toEqual([512, 1, M2]);
  });

  it("advise: MADV_HUGEPAGE only (the size's inherit, or its own advise); never for the size refuses under always", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=advise
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a value=1
let plain = present(A, a 2M)
A: b = mmap 2M prot=rw shared at=0x40400000
A: madvise b 2M hugepage
A: write b value=1
let advised = present(A, b 2M)
thp shmem_enabled=always
thp shmem_enabled=never size=2M
A: c = mmap 2M prot=rw shared at=0x40800000
A: write c value=1
let sizenever = present(A, c 2M)
thp shmem_enabled=advise size=2M
A: d = mmap 2M prot=rw shared at=0x40c00000
A: write d value=1
let sizeadv = present(A, d 2M)
A: madvise d+1M 4K remove
A: e = mmap 2M prot=rw shared at=0x41000000
A: madvise e 2M hugepage
A: write e value=1
let sizeadv2 = present(A, e 2M)
`);
    expect([v("plain"), v("advised"), v("sizenever"), v("sizeadv"), v("sizeadv2")]).toEqual([
      1, 512, 1, 1, 512,
    ]);
  });

  it("deny refuses and force grants (the size's inherit); force is -EINVAL unless the PMD size inherits", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always size=2M
thp shmem_enabled=deny
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a value=1
let deny = present(A, a 2M)
thp shmem_enabled=inherit size=2M
thp shmem_enabled=force
A: b = mmap 2M prot=rw shared at=0x40400000
A: write b value=1
let force = present(A, b 2M)
`);
    expect([v("deny"), v("force")]).toEqual([1, 512]);
    expect(
      scenarioError("machine ram=64M\nthp shmem_enabled=never size=2M\nthp shmem_enabled=force"),
    ).toMatch(/shmem_enabled: -EINVAL for 'force'/);
    // hugepages-<size>kB/shmem_enabled exists from 8K (order 1) to the PMD size
    expect(scenarioError("machine ram=64M\nthp shmem_enabled=always size=4K")).toMatch(/no hugepages-4kB/);
    expect(scenarioError("machine ram=64M\nthp shmem_enabled=always size=4M")).toMatch(/no hugepages-4096kB/);
    expect(scenarioError("machine ram=64M\nthp shmem_enabled=always size=8K")).toBe("no error");
    // thpsize_shmem_enabled_store: inherit below the PMD size under force; force with a smaller size inherit
    expect(
      scenarioError("machine ram=64M\nthp shmem_enabled=force\nthp shmem_enabled=inherit size=64K"),
    ).toMatch(/hugepages-64kB\/shmem_enabled: -EINVAL for 'inherit'/);
    expect(
      scenarioError("machine ram=64M\nthp shmem_enabled=inherit size=64K\nthp shmem_enabled=force"),
    ).toMatch(/shmem_enabled: -EINVAL for 'force'/);
    expect(scenarioError("machine ram=64M\nthp shmem_enabled=deny size=2M")).toMatch(/always, inherit/);
  });

  it("no PMD block left: THP_FILE_FALLBACK and shmem_fallback, a 4K page", () => {
    // every 2M block taken by the kernel (gfp=nowait); GFP_TRANSHUGE_LIGHT neither reclaims nor compacts
    const grab = Array.from({ length: 20 }, (_, i) => `kernel: b${i} = alloc_pages order=9 gfp=nowait`).join(
      "\n",
    );
    const v = run(`machine ram=32M
thp shmem_enabled=always
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
${grab}
A: write a value=1
let p = present(A, a 2M)
let fallback = vmstat.thp_file_fallback
let size_fallback = thp.hugepages_2048kB_shmem_fallback
let alloc = vmstat.thp_file_alloc
`);
    expect([v("p"), v("fallback"), v("size_fallback"), v("alloc")]).toEqual([1, 1, 1, 0]);
  });

  it("a PMD that holds a page table (empty) is not none: finish_fault maps the new folio by 512 PTEs, not a PMD", () => {
    const v = run(`machine ram=64M
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a value=1
A: r = madvise a 4K remove
thp shmem_enabled=always
A: write a+9p value=2
let p = present(A, a 2M)
let spm = meminfo.ShmemPmdMapped
let shp = meminfo.ShmemHugePages
let alloc = vmstat.thp_file_alloc
`);
    // the folio (the block was empty again) is allocated; the PMD is not none (its table stays
    // after the zap), so do_set_pmd is not tried; vma_is_anon_shmem: all 512 PTEs at once
    expect([v("r"), v("alloc"), v("shp"), v("spm"), v("p")]).toEqual([0, 1, M2, 0, 512]);
  });

  it("a mapping the PMD cannot cover whole (misaligned, MADV_NOHUGEPAGE, shorter than 2M) keeps 4K pages", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always
spawn A
A: a = mmap 2M prot=rw shared at=0x40001000
A: write a+1M value=1
let mis = present(A, a 2M)
A: b = mmap 2M prot=rw shared at=0x40400000
A: madvise b 2M nohugepage
A: write b value=1
let nohuge = present(A, b 2M)
A: c = mmap 1M prot=rw shared at=0x40800000
A: write c value=1
let short = present(A, c 1M)
let alloc = vmstat.thp_file_alloc
`);
    expect([v("mis"), v("nohuge"), v("short"), v("alloc")]).toEqual([1, 1, 1, 0]);
  });
});

describe("SysV shm under shmem_enabled", () => {
  it("a segment follows shm_mnt's huge= (the top level), not hugepages-<size>kB/shmem_enabled", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always size=2M
spawn A
A: id = shmget private 2M creat
A: s = shmat id at=0x40000000
A: write s value=1
let sizeonly = present(A, s 2M)
thp shmem_enabled=always
A: id2 = shmget private 2M creat
A: s2 = shmat id2 at=0x40400000
A: write s2+3p value=4
let top = present(A, s2 2M)
let spm = meminfo.ShmemPmdMapped
let shp = meminfo.ShmemHugePages
A: shmdt s2
let shp_detached = meminfo.ShmemHugePages
`);
    expect([v("sizeonly"), v("top"), v("spm"), v("shp")]).toEqual([1, 512, M2, M2]);
    // the segment keeps its folio while it exists (IPC_RMID not given)
    expect(v("shp_detached")).toBe(M2);
  });
});

describe("a huge shared anonymous folio's hole punch, reclaim and sharing", () => {
  it("MADV_REMOVE of part of a folio clears its PMD and splits it (THP_SPLIT_PAGE); of a whole folio, frees it unsplit", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always
spawn A
A: a = mmap 4M prot=rw shared at=0x40000000
A: write a 4M value=5
let split0 = vmstat.thp_split_page
A: r = madvise a+1M 8K remove
let split1 = vmstat.thp_split_page
let shp1 = meminfo.ShmemHugePages
let spm1 = meminfo.ShmemPmdMapped
let lo = present(A, a 2M)
let shmem1 = meminfo.Shmem
A: read a+1M
expect byte(A, a+1M) == 0
expect byte(A, a+1M+8K) == 5
let lo2 = present(A, a 2M)
A: r2 = madvise a+2M 2M remove
let split2 = vmstat.thp_split_page
let shp2 = meminfo.ShmemHugePages
let shmem2 = meminfo.Shmem
let hi = present(A, a+2M 2M)
`);
    expect([v("r"), v("split0"), v("split1")]).toEqual([0, 0, 1]);
    // the first folio split, its PMD cleared (nothing of it mapped), two of its pages freed
    expect([v("shp1"), v("spm1"), v("lo"), v("shmem1")]).toEqual([M2, M2, 0, (1024 - 2) * 4096]);
    // the hole's first page: a new 4K page (its block holds pages: no huge folio), fault-around
    // mapping the 16-page window's 14 resident pages first; the second hole page stays a hole
    expect(v("lo2")).toBe(15);
    // the whole second folio goes without a split
    expect([v("r2"), v("split2"), v("shp2"), v("shmem2"), v("hi")]).toEqual([
      0,
      1,
      0,
      (512 - 2 + 1) * 4096,
      0,
    ]);
  });

  it("reclaim swaps a PMD-mapped folio out whole on 64-bit (CONFIG_THP_SWAP: THP_SWPOUT, one cluster), split on i386; pages come back one by one", () => {
    const scenario = (arch: string) => `machine arch=${arch} ram=32M swap=64M page_cluster=0
thp shmem_enabled=always
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a 2M value=0x5a
let spm0 = meminfo.ShmemPmdMapped
A: b = mmap 24M
A: write b 24M
A: write b 24M
A: munmap b 24M
let shp = meminfo.ShmemHugePages
let spm = meminfo.ShmemPmdMapped
let split = vmstat.thp_split_page
let swpout = vmstat.thp_swpout
let swapped = meminfo.SwapTotal - meminfo.SwapFree
A: read a 2M
expect byte(A, a+7p) == 0x5a
expect byte(A, a+300p) == 0x5a
let p = present(A, a 2M)
let shp_back = meminfo.ShmemHugePages
`;
    const v = run(scenario("x86_64"));
    expect(v("spm0")).toBe(M2);
    // shmem_writepage: within i_size, THP_SWAP: folio_alloc_swap of order 9, no split
    expect([v("shp"), v("spm"), v("split"), v("swpout"), v("swapped")]).toEqual([0, 0, 0, 1, M2]);
    // shmem_swapin_folio reads order 0 (shmem_split_large_entry): 4K pages, no folio
    expect([v("p"), v("shp_back")]).toEqual([512, 0]);
    // i386-pae: no CONFIG_THP_SWAP (64BIT only): split_huge_page_to_list_to_order, then page by page
    const w = run(scenario("i386-pae"));
    expect([w("shp"), w("split"), w("swpout"), w("swapped"), w("p")]).toEqual([0, 1, 0, M2, 512]);
  });

  it("MADV_PAGEOUT of a whole PMD-mapped folio reclaims it whole (reclaim_pages); of part of it, splits it", () => {
    const v = run(`machine ram=64M swap=64M
thp shmem_enabled=always
spawn A
A: a = mmap 4M prot=rw shared at=0x40000000
A: write a 4M value=3
A: r = madvise a 2M pageout
let p = present(A, a 2M)
let swpout = vmstat.thp_swpout
let swapped = meminfo.SwapTotal - meminfo.SwapFree
let shp = meminfo.ShmemHugePages
A: r2 = madvise a+2M 1M pageout
let split = vmstat.thp_split_page
let shp2 = meminfo.ShmemHugePages
let p2 = present(A, a+2M 2M)
let swapped2 = meminfo.SwapTotal - meminfo.SwapFree
A: read a+5p
expect byte(A, a+5p) == 3
`);
    expect([v("r"), v("p"), v("swpout"), v("swapped"), v("shp")]).toEqual([0, 0, 1, M2, M2]);
    // a range that covers the folio in part: split_folio (its PMD cleared), nothing paged out
    expect([v("r2"), v("split"), v("shp2"), v("p2"), v("swapped2")]).toEqual([0, 1, 0, 0, M2]);
  });

  it("a forked child maps the shared folio by a PMD of its own; both see each other's writes", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a value=1
A: fork B
B: write a+100p value=2
expect byte(A, a+100p) == 2
let pb = present(B, a 2M)
let spm = meminfo.ShmemPmdMapped
let alloc = vmstat.thp_file_alloc
let rssb = B.rss
`);
    // copy_huge_pmd leaves a shared mapping's PMD to refault; the child's fault finds the folio
    expect([v("pb"), v("spm"), v("alloc"), v("rssb")]).toEqual([512, M2, 1, 512]);
  });

  it("shmem_get_unmapped_area aligns a shared anonymous mapping of 2M or more where huge pages may back it", () => {
    const v = run(`machine ram=64M
spawn A
A: x = mmap 12K
A: a = mmap 4M prot=rw shared
thp shmem_enabled=always
A: y = mmap 12K
A: b = mmap 4M prot=rw shared
A: write b value=1
let pb = present(A, b 4M)
`);
    // never: the ordinary search (below the 12K mapping: not aligned); always: aligned, PMD-mapped
    expect(v("a") % M2).not.toBe(0);
    expect([v("b") % M2, v("pb")]).toEqual([0, 512]);
  });
});

describe("fallocate on a huge tmpfs file (shmem_fallocate -> shmem_get_folio(SGP_FALLOC))", () => {
  it("allocates PMD-size folios where the mount's huge= grants them (within_size: by offset + len), whole", () => {
    const v = run(`machine ram=64M
file t size=0 fs=tmpfs huge=within_size
file u size=0 fs=tmpfs huge=always
spawn A
A: r = fallocate t 0 3M keep_size
let alloc = vmstat.thp_file_alloc
let ct = cached(t)
let shp = meminfo.ShmemHugePages
A: r2 = fallocate u 1M 2M
let alloc2 = vmstat.thp_file_alloc
let cu = cached(u)
let shp2 = meminfo.ShmemHugePages
let shmem = meminfo.Shmem
`);
    // t: index 0's folio ends within offset + len (512 <= 768 pages), index 512's would not: 4K pages
    expect([v("r"), v("alloc"), v("ct"), v("shp")]).toEqual([0, 1, 768, M2]);
    // u: index 256 takes the folio 0..511, folio_next_index 512 the folio 512..1023: 1024 pages for a
    // 512-page range
    expect([v("r2"), v("alloc2"), v("cu"), v("shp2"), v("shmem")]).toEqual([
      0,
      3,
      1024,
      3 * M2,
      (768 + 1024) * 4096,
    ]);
  });
});

describe("THP_SPLIT_PAGE for the splits of huge tmpfs folios", () => {
  it("truncate_inode_partial_folio (ftruncate, a hole punched in part) and shmem_writepage (a folio across i_size) count it; a folio punched whole does not", () => {
    const v = run(`machine ram=32M swap=64M page_cluster=0
file t size=6M fs=tmpfs huge=always
spawn A
A: a = mmap 6M prot=rw shared file=t at=0x40000000
A: read a 6M
let s0 = vmstat.thp_split_page
A: ftruncate t 5M
let s1 = vmstat.thp_split_page
A: r = fallocate t 1M 8K keep_size punch_hole
let s2 = vmstat.thp_split_page
A: r2 = fallocate t 2M 2M keep_size punch_hole
let s3 = vmstat.thp_split_page
let shp = meminfo.ShmemHugePages
A: munmap a 6M
file u size=3M fs=tmpfs huge=always
A: b = mmap 3M prot=rw shared file=u at=0x40000000
A: write b value=1
A: write b+2M value=1
A: c = mmap 24M
A: write c 24M
A: write c 24M
let s4 = vmstat.thp_split_page
let swpout = vmstat.thp_swpout
let shp2 = meminfo.ShmemHugePages
`);
    // the third folio (4M..6M) across the new end; the first, cut by the hole; the second, whole in
    // the hole, goes unsplit
    expect([v("s0"), v("s1"), v("s2"), v("s3"), v("shp")]).toEqual([0, 1, 2, 2, 0]);
    // reclaim: u's first folio goes to swap whole (THP_SWPOUT), its second, across i_size (768
    // pages), is split (shmem_writepage: "swapout of a large folio crossing i_size needs to split")
    expect([v("s4"), v("swpout"), v("shp2")]).toEqual([3, 1, 0]);
  });
});

describe("huge shared memory through fork, mprotect, mremap, munmap, MADV_DONTNEED, MADV_REMOVE, reclaim and SysV", () => {
  for (const arch of ["x86_64", "i386-pae"])
    it(`keeps the kernel's invariants (${arch})`, () => {
      const v = run(`machine arch=${arch} ram=48M swap=64M
    thp shmem_enabled=always
    spawn A
    A: a = mmap 8M prot=rw shared at=0x40000000
    A: write a 8M value=9
    A: fork B
    B: mprotect a+1M 4K prot=r
    B: read a+1M
    A: mremap a+2M 2M 2M maymove to=0x50000000
    A: write 0x50000000+7p value=5
    B: read a+2M+7p
    expect byte(B, a+2M+7p) == 5
    A: munmap a+4M+4K 8K
    A: madvise a+6M 2M dontneed
    A: read a+6M+3p
    A: madvise a+6M 1M remove
    B: write a+6M+1M value=6
    A: b = mmap 4M prot=rw shared
    A: write b 4M value=1
    A: c = mmap 30M
    A: write c 30M
    A: write c 30M
    A: munmap c 30M
    A: read a 2M
    B: read a+6M 2M
    A: read b 4M
    expect byte(A, b) == 1
    B: exit
    A: id = shmget private 4M creat
    A: s = shmat id at=0x60000000
    A: write s 4M value=2
    A: shmdt s
    A: s2 = shmat id at=0x60000000
    A: read s2 4M
    expect byte(A, s2+3p) == 2
    let shp = meminfo.ShmemHugePages
    `);
      // the checked run holds the invariants (page tables, RSS, mapcounts, folios) at every step
      // the segment's two folios (written through an aligned shmat) at least
      expect(v("shp")).toBeGreaterThanOrEqual(2 * M2);
    });
});
