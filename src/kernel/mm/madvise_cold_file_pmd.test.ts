/**
 * MADV_COLD over a PMD-mapped page-cache or shmem folio (Linux 6.12 mm/madvise.c
 * madvise_cold_or_pageout_pte_range's pmd_trans_huge case): covered whole and mapped only
 * here, the PMD is made old and the folio deactivated whole (folio_deactivate); covered in
 * part, the folio is split (split_folio: unmap_folio clears the PMD, a file folio is not
 * mapped again) and the PTE walk after (regular_folio) finds no table; mapped elsewhere too
 * (folio_likely_mapped_shared), it is left alone.
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const M1 = 1 << 20;

// a 2M tmpfs file on a huge=always mount: one PMD-size folio, made active by two reads, then
// mapped by one PMD (the read fault's do_set_pmd)
const TMPFS_PMD = `machine ram=64M swap=16M
file t size=2M fs=tmpfs huge=always
spawn A
A: buf = mmap 2M prot=rw
A: r1 = syscall read t buf 2M
A: r2 = syscall read t buf 2M
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: read a
`;

describe("MADV_COLD over a file PMD", () => {
  it("covering it whole: the PMD made old, the folio's 512 pages deactivated; in part: the folio split and unmapped", () => {
    const v = checkedMetrics(`${TMPFS_PMD}let y0 = young(A, a 2M)
let d0 = vmstat.pgdeactivate
A: madvise a 2M cold
let y1 = young(A, a 2M)
let d1 = vmstat.pgdeactivate - d0
let act = meminfo.Active(anon)
let pmd1 = meminfo.ShmemPmdMapped
A: madvise a+1M 4K cold
let split = vmstat.thp_split_page
let pmd2 = meminfo.ShmemPmdMapped
let p = present(A, a 2M)
let hp = meminfo.ShmemHugePages
let shmem = meminfo.Shmem
A: read a+1M
let p2 = present(A, a 2M)
`);
    // whole: pmdp_invalidate + pmd_mkold; folio_deactivate -> lru_deactivate counts PGDEACTIVATE by
    // its pages; the PMD stays
    expect([v("y0"), v("y1"), v("d1"), v("act"), v("pmd1")]).toEqual([512, 0, 512, 0, 2 * M1]);
    // part: split_folio (THP_SPLIT_PAGE), the PMD cleared and nothing mapped again; the file's
    // pages stay (i_size is 2M: none past it), now 4K folios; the next read maps by PTEs
    expect([v("split"), v("pmd2"), v("p"), v("hp"), v("shmem")]).toEqual([1, 0, 0, 0, 2 * M1]);
    expect(v("p2")).toBe(16); // fault-around's window
  });

  it("a folio a forked child maps too is left, PMD and all; a disk file's 2M folio is split as tmpfs's", () => {
    const shared = checkedMetrics(`${TMPFS_PMD}A: fork B
B: read a
let pmd0 = meminfo.ShmemPmdMapped
A: madvise a 1M cold
let split = vmstat.thp_split_page
let pmd1 = meminfo.ShmemPmdMapped
let y = young(A, a 2M)
`);
    expect([shared("pmd0"), shared("split"), shared("pmd1"), shared("y")]).toEqual([2 * M1, 0, 2 * M1, 512]);
    const disk = checkedMetrics(`machine ram=64M swap=16M
file f size=2M cached folio=2M
spawn A
A: a = mmap 2M prot=r shared file=f at=0x40000000
A: read a
let pmd0 = meminfo.FilePmdMapped
A: madvise a+1M 1M cold
let split = vmstat.thp_split_page
let pmd1 = meminfo.FilePmdMapped
let p = present(A, a 2M)
let cached = cached(f)
`);
    expect([disk("pmd0"), disk("split"), disk("pmd1"), disk("p"), disk("cached")]).toEqual([
      2 * M1,
      1,
      0,
      0,
      512,
    ]);
  });
});

/** A 2M huge=always tmpfs folio mapped by 512 PTEs (MADV_NOHUGEPAGE: no PMD), written, read twice (active). */
const TMPFS_PTES = `machine ram=64M swap=64M
file t size=2M fs=tmpfs huge=always
spawn A
A: b = mmap 2M prot=rw shared file=t at=0x40000000
A: madvise b 2M nohugepage
A: write b 2M value=3
A: buf = mmap 2M prot=rw
A: r1 = syscall read t buf 2M
A: r2 = syscall read t buf 2M
`;

describe("MADV_COLD and MADV_PAGEOUT over a large tmpfs folio mapped by PTEs", () => {
  it("in part: split_folio (its PTEs gone, not mapped again); whole: deactivated as one folio", () => {
    const v = checkedMetrics(`${TMPFS_PTES}let p0 = present(A, b 2M)
let hp0 = meminfo.ShmemHugePages
let d0 = vmstat.pgdeactivate
A: madvise b 2M cold
let d1 = vmstat.pgdeactivate - d0
let y1 = young(A, b 2M)
let split1 = vmstat.thp_split_page
A: madvise b+1M 4K cold
let split2 = vmstat.thp_split_page
let p2 = present(A, b 2M)
let hp2 = meminfo.ShmemHugePages
let shmem = meminfo.Shmem
let x = file_byte(t, 1048576)
`);
    expect([v("p0"), v("hp0")]).toEqual([512, 2 * M1]);
    // whole (madvise_folio_pte_batch: 512 = folio_nr_pages): the PTEs made old, the folio deactivated
    expect([v("d1"), v("y1"), v("split1")]).toEqual([512, 0, 0]);
    // part: split_folio -> unmap_folio takes all 512 PTEs; a file folio is not remapped
    expect([v("split2"), v("p2"), v("hp2"), v("shmem")]).toEqual([1, 0, 0, 2 * M1]);
    expect(v("x")).toBe(3); // the pages stay in the file
  });

  it("MADV_PAGEOUT in part splits the folio and pages nothing out; a folio a child maps too is left", () => {
    const v = checkedMetrics(`${TMPFS_PTES}A: madvise b+1M 8K pageout
let split = vmstat.thp_split_page
let swp = meminfo.SwapFree
let total = meminfo.SwapTotal
let p = present(A, b 2M)
let cached = cached(t)
`);
    // the walk, back at the split folio's PTE, finds it none: nothing for reclaim_pages
    expect([v("split"), v("total") - v("swp"), v("p"), v("cached")]).toEqual([1, 0, 0, 512]);
    const s = checkedMetrics(`${TMPFS_PTES}A: fork B
B: read b 2M
A: madvise b+1M 8K cold
let split = vmstat.thp_split_page
let p = present(A, b 2M)
`);
    // folio_likely_mapped_shared: the batch skipped, the folio whole
    expect([s("split"), s("p")]).toEqual([0, 512]);
  });
});

describe("a huge tmpfs folio whose PTEs cross a page table's end", () => {
  // walk_pmd_range calls madvise_cold_or_pageout_pte_range once per PMD with its end clamped to
  // pmd_addr_end: madvise_folio_pte_batch's max_nr stops at the page table's end, so a 2M folio
  // mapped at an address 1M off the file's alignment is never "mapped whole" by one batch
  const CROSS = `machine ram=64M swap=64M
file t size=2M fs=tmpfs huge=always
spawn A
A: b = mmap 2M prot=rw shared file=t at=0x40100000
A: write b 2M value=3
`;
  it("MADV_COLD over the whole mapping splits the folio (the first table's batch is 256 < 512)", () => {
    const v = checkedMetrics(`${CROSS}let p0 = present(A, b 2M)
let hp0 = meminfo.ShmemHugePages
A: madvise b 2M cold
let split = vmstat.thp_split_page
let p = present(A, b 2M)
let hp = meminfo.ShmemHugePages
`);
    expect([v("p0"), v("hp0")]).toEqual([512, 2 * M1]);
    expect([v("split"), v("p"), v("hp")]).toEqual([1, 0, 0]);
  });
  it("MADV_PAGEOUT over the whole mapping splits it too and pages nothing out", () => {
    const v = checkedMetrics(`${CROSS}A: madvise b 2M pageout
let split = vmstat.thp_split_page
let swp = meminfo.SwapTotal - meminfo.SwapFree
let cached = cached(t)
`);
    expect([v("split"), v("swp"), v("cached")]).toEqual([1, 0, 512]);
  });
});

describe("folio_likely_mapped_shared: the sum of the mapcounts, then the first page's", () => {
  // a 2M tmpfs folio: A maps its first half by PTEs; pages 256-259 are mapped twice more
  // elsewhere (two 16K mappings). folio_mapcount 264 <= 512 and page 0 is mapped once: Linux
  // 6.12 guesses "exclusive" and splits on a range covering the first half in part
  const TWICE = `machine ram=64M swap=64M
file t size=2M fs=tmpfs huge=always
spawn A
A: b = mmap 1M prot=rw shared file=t at=0x40000000
A: read b 1M
A: c = mmap 16K prot=rw shared file=t offset=1M at=0x40400000
A: read c 16K
A: d = mmap 16K prot=rw shared file=t offset=1M at=0x40600000
A: read d 16K
`;
  it("a page other than the first mapped twice, the sum no more than the pages: split", () => {
    const v = checkedMetrics(`${TWICE}let p0 = present(A, b 1M)
A: madvise b 4K cold
let split = vmstat.thp_split_page
let p = present(A, b 1M)
`);
    expect(v("p0")).toBe(256);
    expect([v("split"), v("p")]).toEqual([1, 0]);
  });
  it("the first page mapped twice: left whole", () => {
    const v = checkedMetrics(`${TWICE}A: e = mmap 4K prot=r shared file=t at=0x40800000
A: read e 4K
A: madvise b 4K cold
let split = vmstat.thp_split_page
let p = present(A, b 1M)
`);
    expect([v("split"), v("p")]).toEqual([0, 256]);
  });
});
