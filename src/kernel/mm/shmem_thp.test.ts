/**
 * Huge tmpfs (Linux 6.12): a tmpfs mount's huge= (never, always,
 * within_size, advise) and, for memfds (shm_mnt), shmem_enabled (with deny
 * and force over every mount) decide which page of a shmem inode comes as a
 * PMD-size folio (shmem_huge_global_enabled); the fault maps it by one PMD
 * where the VMA allows (do_set_pmd); no PMD block falls back to a 4K page
 * (THP_FILE_FALLBACK); truncation, hole punching and reclaim split it.
 * Linux: mm/shmem.c shmem_huge_global_enabled, shmem_allowable_huge_orders,
 * shmem_alloc_and_add_folio, shmem_undo_range, shmem_writepage; mm/memory.c do_set_pmd
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics, holds, scenarioError } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { migratable } from "./migrate.ts";
import { getUnmappedArea } from "./mmap_area.ts";
import { shmemEnabledStore, shmemGetUnmappedArea } from "./shmem_huge.ts";
import { mmapArgs } from "./userMm.ts";

const run = checkedMetrics;
const M2 = 2 << 20;

describe("huge= on a tmpfs mount", () => {
  it("always: the file's pages are PMD folios from its creation; an aligned shared mapping maps each by one PMD", () => {
    const v = run(`machine ram=64M
file t size=4M fs=tmpfs huge=always
spawn A
let alloc0 = vmstat.thp_file_alloc
let shp0 = meminfo.ShmemHugePages
let fhp0 = meminfo.FileHugePages
let shmem0 = meminfo.Shmem
A: a = mmap 4M prot=rw shared file=t at=0x40000000
A: read a+200p
let p1 = present(A, a 4M)
let flt1 = A.min_flt
let spm = meminfo.ShmemPmdMapped
let fpm = meminfo.FilePmdMapped
let mapped = vmstat.thp_file_mapped
A: read a+2M+7p
let p2 = present(A, a 4M)
A: write a+5p value=7
let flt3 = A.min_flt
let rss = A.rss
expect byte(A, a+5p) == 7
expect file_byte(t, 20480) == 7
expect byte(A, a+2M+7p) == file_byte(t, 2125824)
A: munmap a 4M
let spm_end = meminfo.ShmemPmdMapped
let shp_end = meminfo.ShmemHugePages
`);
    // two folios of 512 pages (shmem_write_begin at index 0 and 512), ShmemHugePages, not FileHugePages
    expect([v("alloc0"), v("shp0"), v("fhp0"), v("shmem0")]).toEqual([2, 4 << 20, 0, 4 << 20]);
    // one fault, one PMD: 512 pages present; ShmemPmdMapped (NR_SHMEM_PMDMAPPED), not FilePmdMapped
    expect([v("p1"), v("flt1"), v("spm"), v("fpm"), v("mapped")]).toEqual([512, 1, M2, 0, 1]);
    // the second PMD; the write to the read-only PMD (wp_huge_pmd: cleared, then do_set_pmd writable)
    expect([v("p2"), v("flt3"), v("rss")]).toEqual([1024, 3, 1024]);
    // the folios stay in the file after munmap
    expect([v("spm_end"), v("shp_end")]).toEqual([0, 4 << 20]);
  });

  it("falls back to PTEs on a mapping not PMD-aligned to the file and under MADV_NOHUGEPAGE; smaps tells them apart", () => {
    const r = run(`machine ram=64M
file t size=4M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=r shared file=t offset=4K at=0x40000000
A: read a+200p
let off = present(A, a 2M)
A: b = mmap 4M prot=r shared file=t at=0x40400000
A: madvise b 4M nohugepage
A: read b+200p
let nohuge = present(A, b 4M)
let spm = meminfo.ShmemPmdMapped
A: c = mmap 4M prot=r shared file=t at=0x40800000
A: read c+3p
let spm2 = meminfo.ShmemPmdMapped
`);
    // fault-around by PTEs: the 16-page window where the folio starts before the VMA, the whole
    // folio where it lies in the VMA and one page table (filemap_map_folio_range)
    expect([r("off"), r("nohuge"), r("spm"), r("spm2")]).toEqual([16, 512, 0, M2]);
  });

  it("within_size: only a folio that ends within i_size; always: past it too; never (the default): 4K pages", () => {
    const v = run(`machine ram=64M
file w size=3M fs=tmpfs huge=within_size
file x size=3M fs=tmpfs huge=always
file n size=3M fs=tmpfs
let cw = cached(w)
let cx = cached(x)
let cn = cached(n)
let shp = meminfo.ShmemHugePages
let alloc = vmstat.thp_file_alloc
let fallback = vmstat.thp_file_fallback
let shmem = meminfo.Shmem
spawn A
A: a = mmap 4M prot=r shared file=x at=0x40000000
A: read a+2M+10p
let past = present(A, a+2M 2M)
`);
    // w: index 0's folio ends at 512 <= 768 pages; index 512's would end at 1024 > 768: 256 4K pages.
    // x: the second folio reaches 256 pages past EOF (shmem keeps them; nrpages counts them)
    expect([v("cw"), v("cx"), v("cn")]).toEqual([768, 1024, 768]);
    expect([v("shp"), v("alloc"), v("fallback")]).toEqual([3 * M2, 3, 0]);
    expect(v("shmem")).toBe((768 + 1024 + 768) * 4096);
    // a PMD across i_size (shmem maps PMDs across i_size: can_map_large)
    expect(v("past")).toBe(512);
  });

  it("huge= is refused on a disk file and for a word it does not know", () => {
    expect(scenarioError("machine ram=64M\nfile d size=4M huge=always")).toMatch(
      /huge= is a tmpfs mount option/,
    );
    expect(scenarioError("machine ram=64M\nfile d size=4M fs=tmpfs huge=force")).toMatch(
      /huge= is never, always, within_size or advise/,
    );
    expect(scenarioError("machine ram=64M\nthp shmem_enabled=sometimes")).toMatch(/shmem_enabled= is always/);
  });
});

/** A memfd of 3M (i_size) mapped over 4M at a PMD boundary, after `thp shmem_enabled=MODE`. */
const memfd = (mode: string, more = "") => `machine ram=64M
thp shmem_enabled=${mode}
spawn A
A: memfd m
A: ftruncate m 3M
A: a = mmap 4M prot=rw shared file=m at=0x40000000
${more}
A: read a+10p
let lo = present(A, a 2M)
A: read a+2M+10p
let hi = present(A, a+2M 2M)
let alloc = vmstat.thp_file_alloc
let shp = meminfo.ShmemHugePages
`;

describe("shmem_enabled: memfds (shm_mnt), and deny and force over every mount", () => {
  it("never (the default), always, within_size, advise: the faults of a memfd's holes", () => {
    const never = run(memfd("never"));
    const always = run(memfd("always"));
    const within = run(memfd("within_size"));
    const advise = run(memfd("advise"));
    const advised = run(memfd("advise", "A: madvise a+2M 2M hugepage"));
    const f = (v: (n: string) => number) => [v("lo"), v("hi"), v("alloc"), v("shp")];
    // a hole read allocates one page (nothing cached around it to map)
    expect(f(never)).toEqual([1, 1, 0, 0]);
    expect(f(always)).toEqual([512, 512, 2, 2 * M2]);
    // index 522: round_up(523, 512) = 1024 pages > i_size's 768
    expect(f(within)).toEqual([512, 1, 1, M2]);
    expect(f(advise)).toEqual([1, 1, 0, 0]);
    // MADV_HUGEPAGE on the upper half (its own VMA, pgoff 512: still aligned)
    expect(f(advised)).toEqual([1, 512, 1, M2]);
  });

  it("deny refuses every mount, force grants every one, MADV_NOHUGEPAGE refuses even force", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=deny
file d size=2M fs=tmpfs huge=always
let deny = meminfo.ShmemHugePages
thp shmem_enabled=force
file f size=2M fs=tmpfs
let force = meminfo.ShmemHugePages - deny
spawn A
A: memfd m
A: ftruncate m 4M
A: a = mmap 4M prot=rw shared file=m at=0x40000000
A: madvise a 2M nohugepage
A: read a+3p
let refused = present(A, a 2M)
A: read a+2M+3p
let forced = present(A, a+2M 2M)
`);
    expect([v("deny"), v("force"), v("refused"), v("forced")]).toEqual([0, M2, 1, 512]);
  });

  it("the sysfs store: deny and force leave shm_mnt's huge= as it was; another word is -EINVAL", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const sh = k.pageCache.shmemThp;
    expect(shmemEnabledStore(k.pageCache, "within_size\n")).toBe(true);
    expect([sh.huge, sh.shmMntHuge]).toEqual([2, 2]);
    expect(shmemEnabledStore(k.pageCache, "force")).toBe(true);
    expect([sh.huge, sh.shmMntHuge]).toEqual([-2, 2]);
    expect(shmemEnabledStore(k.pageCache, "deny")).toBe(true);
    expect([sh.huge, sh.shmMntHuge]).toEqual([-1, 2]);
    expect(k.shmemEnabledSet("madvise")).toBe(false);
    expect([sh.huge, sh.shmMntHuge]).toEqual([-1, 2]);
  });
});

describe("a huge shmem folio's allocation, split and reclaim", () => {
  it("no PMD block left: THP_FILE_FALLBACK and a 4K page; with one free again, THP_FILE_ALLOC", () => {
    // every 2M block taken by the kernel (gfp=nowait: no reclaim, no compaction); the huge
    // allocation (GFP_TRANSHUGE_LIGHT: neither) fails at once
    const grab = Array.from({ length: 20 }, (_, i) => `kernel: b${i} = alloc_pages order=9 gfp=nowait`).join(
      "\n",
    );
    const v = run(`machine ram=32M
thp shmem_enabled=always
spawn A
A: memfd m
A: ftruncate m 4M
A: a = mmap 4M prot=rw shared file=m at=0x40000000
A: read a+3p
${grab}
A: read a+2M+3p
let fb_present = present(A, a+2M 2M)
let fallback = vmstat.thp_file_fallback
let alloc = vmstat.thp_file_alloc
let shp = meminfo.ShmemHugePages
let cached = cached(m)
let size_alloc = thp.hugepages_2048kB_shmem_alloc
let size_fallback = thp.hugepages_2048kB_shmem_fallback
`);
    // the first fault had its folio; the second fell back to one page
    expect([v("fb_present"), v("fallback"), v("alloc"), v("shp"), v("cached")]).toEqual([1, 1, 1, M2, 513]);
    // shmem_get_folio_gfp and shmem_alloc_and_add_folio count the order's mTHP stats too
    // (MTHP_STAT_SHMEM_ALLOC, MTHP_STAT_SHMEM_FALLBACK), the PMD order's on a tmpfs file
    expect([v("size_alloc"), v("size_fallback")]).toEqual([1, 1]);
  });

  it("ftruncate into a huge folio splits it (truncate_inode_partial_folio); a hole punched in one splits it too", () => {
    const v = run(`machine ram=64M
file t size=4M fs=tmpfs huge=always
spawn A
A: a = mmap 4M prot=rw shared file=t at=0x40000000
A: read a 4M
A: ftruncate t 3M
let shp = meminfo.ShmemHugePages
let cached = cached(t)
let lo = present(A, a 2M)
let hi = present(A, a+2M 2M)
A: read a+2M+10p
let refault = present(A, a+2M 2M)
expect byte(A, a+2M+10p) == file_byte(t, 2138112)
A: fallocate t 1M 8K keep_size punch_hole
let shp2 = meminfo.ShmemHugePages
let cached2 = cached(t)
let lo2 = present(A, a 2M)
A: read a+1M 3p
let lo3 = present(A, a 2M)
let cached3 = cached(t)
expect byte(A, a+1M) == 0
expect byte(A, a+1M+4K+4095) == 0
expect byte(A, a+1M+8K) == file_byte(t, 1056768)
let shmem = meminfo.Shmem
`);
    // the folio across the new end split, its pages from 768 on gone, its PMD cleared (the pages
    // before the end refault by PTEs, 16 at a time); the first folio untouched
    expect([v("shp"), v("cached"), v("lo"), v("hi"), v("refault")]).toEqual([M2, 768, 512, 0, 16]);
    // the punch unmapped the first PMD (a partial range splits it: for a file, cleared) and split the
    // folio, its two pages dropped
    expect([v("shp2"), v("cached2")]).toEqual([0, 766]);
    expect(v("lo2")).toBe(0);
    // the hole's first page: a new 4K page (its PMD block holds pages: no huge folio), fault-around
    // maps the window's 14 cached pages; the second hole page then faults in alone
    expect([v("lo3"), v("cached3"), v("shmem")]).toEqual([16, 768, 768 * 4096]);
  });

  it("write(2) to a memfd: shmem_write_begin has a huge folio where shmem_enabled grants one", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=within_size
spawn A
A: memfd m
A: ftruncate m 3M
A: buf = mmap 8K
A: write buf 8K value=3
A: n = syscall write m buf 8K offset=4K
A: n2 = syscall write m buf 8K offset=2M+4K
let alloc = vmstat.thp_file_alloc
let cached = cached(m)
let shp = meminfo.ShmemHugePages
expect file_byte(m, 4096) == 3
expect file_byte(m, 2101248) == 3
`);
    // index 1: a folio of 0..511 within i_size; index 513 and 514: 4K pages
    expect([v("n"), v("n2"), v("alloc"), v("cached"), v("shp")]).toEqual([8192, 8192, 1, 514, M2]);
  });

  it("reclaim swaps a PMD-mapped huge tmpfs folio out (whole on x86-64: CONFIG_THP_SWAP); the bytes come back", () => {
    const v = run(`machine ram=32M swap=64M page_cluster=0
file t size=2M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a+7p value=0x5a
let spm0 = meminfo.ShmemPmdMapped
A: b = mmap 28M
A: write b 28M
A: write b 28M
A: munmap b 28M
let shp = meminfo.ShmemHugePages
let spm = meminfo.ShmemPmdMapped
let swapped = meminfo.SwapTotal - meminfo.SwapFree
let cached = cached(t)
A: read a 2M
expect byte(A, a+7p) == 0x5a
expect byte(A, a+300p+5) == file_byte(t, 1228805)
let cached2 = cached(t)
`);
    expect(v("spm0")).toBe(M2);
    // gone (shmem_writepage with CONFIG_THP_SWAP: to one swap cluster whole, mm/shmem_swapout.ts),
    // its PMD cleared by try_to_unmap
    expect([v("shp"), v("spm")]).toEqual([0, 0]);
    // the pages that left are in swap (all dirty: the file's contents), and come back
    expect(v("swapped")).toBeGreaterThan(0);
    expect(v("swapped") / 4096 + v("cached")).toBe(512);
    expect(v("cached2")).toBe(512);
  });
});

describe("compaction and a huge shmem folio", () => {
  it("isolate_migratepages_block passes over its pages (a large folio), not over a 4K tmpfs page", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const huge = k.createFile("h", 2 << 20, "tmpfs", false, 4096, "always");
    const small = k.createFile("s", 8192, "tmpfs");
    k.vmscan.fbatches.drain(); // off the LRU add batches (folio_test_lru)
    const head = huge.cache.get(0)!;
    expect(huge.cache.get(7)).toBe(head + 7);
    expect([migratable(k.vmscan, head), migratable(k.vmscan, head + 7)]).toEqual([false, false]);
    expect(migratable(k.vmscan, small.cache.get(1)!)).toBe(true);
  });
});

describe("shmem_get_unmapped_area", () => {
  /** A kernel with one process that has a 4K mapping (the next top-down area ends 4K below a PMD boundary). */
  function proc(mount: "never" | "always") {
    const k = new Kernel({ ramBytes: 64 << 20, overcommit: "always" });
    const t = k.spawn("A")!;
    const f = k.createFile("t", 8 << 20, "tmpfs", false, 4096, mount);
    expect(k.mmap(t, mmapArgs(4096)) > 0n).toBe(true);
    const ctx = k.userMm;
    const search = (hint: number, n: number) => getUnmappedArea(ctx, t.mm!, n, hint * 4096);
    const place = (pages: number, pgoff: number, hint = 0, fixed = false) =>
      shmemGetUnmappedArea(k.pageCache, f, hint, pages, pgoff, fixed, ctx.env.taskSizeVpn, search);
    return { k, place, search };
  }

  it("huge=always: a PMD-size or larger mapping lands where address and offset agree modulo 2M", () => {
    const { place, search } = proc("always");
    const plain = search(0, 1024);
    // the ordinary search ends 4K below a PMD boundary: not aligned, so the inflated search
    expect(plain % 512).not.toBe(0);
    expect(place(1024, 0) % 512).toBe(0);
    // offset 1M into the file: the address 1M into a PMD (it spans two PMDs: 1M + 4M >= 4M)
    expect(place(1024, 256) % 512).toBe(256);
    // offset 1M and 2M long: 1M + 2M < 4M, left alone; smaller than a PMD: left alone
    expect(place(512, 256)).toBe(plain + 512);
    expect(place(256, 0)).toBe(search(0, 256));
  });

  it("mmap places a tmpfs mapping through shmem_get_unmapped_area: huge=always without at= is PMD-mapped, huge=never is not aligned", () => {
    // the top-down search's answer (mmap_base less 4M) is not 2M-aligned; huge=always: the inflated
    //   search aligns address and offset 0 modulo 2M, so the fault maps 512 pages by one PMD;
    //   huge=never: the ordinary answer, 4K pages: the fault maps its own (nothing else cached)
    for (const [huge, present, pmd] of [
      ["always", 512, 2097152],
      ["never", 1, 0],
    ] as const)
      holds(`machine ram=64M
file t size=4M fs=tmpfs huge=${huge}
spawn A
A: a = mmap 4M prot=r shared file=t
A: read a
expect present(A, a 4M) == ${present}
expect meminfo.ShmemPmdMapped == ${pmd}
`);
  });

  it("MADV_PAGEOUT of a PMD-mapped huge tmpfs folio swaps all 512 pages out (shmem_writepage's split puts the tails on the list)", () => {
    // madvise_cold_or_pageout_huge_pmd isolates the folio; shrink_folio_list: try_to_unmap clears
    //   the PMD, pageout -> shmem_writepage splits (split_huge_page_to_list_to_order onto
    //   reclaim_pages' list) and writes the head; each tail then goes the same way: 512 written
    holds(`machine ram=64M swap=16M
file t size=2M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 2M value=3
expect meminfo.ShmemPmdMapped == 2097152
A: r = madvise a 2M pageout
expect vmstat.pswpout == 512
expect meminfo.Shmem == 0
expect meminfo.ShmemHugePages == 0
A: read a+1M
expect byte(A, a+1M) == 3
`);
  });

  it("huge=never, shmem_enabled deny, MAP_FIXED, a free hint: the ordinary search's answer; force aligns a never mount", () => {
    const { k, place, search } = proc("never");
    expect(place(1024, 0)).toBe(search(0, 1024));
    expect(k.shmemEnabledSet("force")).toBe(true);
    expect(place(1024, 0) % 512).toBe(0);
    expect(k.shmemEnabledSet("deny")).toBe(true);
    expect(place(1024, 0)).toBe(search(0, 1024));
    expect(k.shmemEnabledSet("force")).toBe(true);
    expect(place(1024, 0, 0x40001, true)).toBe(search(0x40001, 1024));
    expect(place(1024, 0, 0x40001)).toBe(0x40001);
  });
});
