/**
 * A review of swap readahead against Linux 6.12 (mm/swap_state.c swap_cache_get_folio,
 * __swapin_nr_pages, swapin_nr_pages, swap_cluster_readahead, swap_vma_ra_win, swap_vma_readahead;
 * mm/shmem.c shmem_swapin_folio, shmem_swapin_cluster; mm/memory.c do_swap_page; mm/madvise.c
 * swapin_walk_pmd_entry; mm/khugepaged.c __collapse_huge_page_swapin; kernel/fork.c vm_area_dup):
 * scenarios the other swap readahead tests (swap_ra_win, swap_vma_ra, swap_ra) leave out, each
 * expected number derived by hand from the Linux source in the comment above it.
 *
 * Notation: a VMA's swap_readahead_info is (vpn, win, hits), pages counted from the VMA's start
 * (the buffers are 2 MiB-aligned unless said otherwise); a new VMA's reads as (0, 0, 4)
 * (GET_SWAP_RA_VAL: a zero word is 4 hits). A major fault at page v computes
 * pages = __swapin_nr_pages(prev vpn, v, hits, max_win, win): hits + 2 rounded up to a power of
 * two from 4; with no hits 2 when v is next to prev, else 1; at most max_win = 2^min(page_cluster,
 * 5); at least win / 2. It stores (v, pages, 0). The window is [v, v + pages) when v = prev + 1,
 * [v - pages + 1, v + 1) when prev = v + 1, else from v - (pages - 1) / 2; then cut at the VMA
 * and at the 2 MiB of v's PTE table (faddr & PMD_MASK). A swap-cache hit (swap_cache_get_folio)
 * stores (v, win, hits + 1 if the page had PG_readahead, else hits). vmstat swap_ra counts the
 * window's pages read other than the fault's; swapcache(A, RANGE) counts the pages in the swap
 * cache, mapped or not, so after a fault it shows where the window was.
 *
 * Left out, as vmlab differs there (the review's findings): a merge that keeps the next VMA's
 * struct (mm/vma.c vma_merge_new_range and vma_merge_existing_range's merge_right: Linux keeps
 * next's swap_readahead_info, vmlab the other VMA's), and 32-bit's `(long)left < 0` in
 * swap_vma_ra_win (on i386 a user address at or above 2 GiB makes left 0, so the window starts
 * at the VMA's or the PTE table's start).
 */
import { describe, it } from "vitest";
import { holds, readPages, swapped64 } from "../../workloads/scenario/testKit.ts";

/**
 * `expect swapcache(...)` lines: pages [firstK, firstK + 4 * pages) KiB of `v` in P's swap cache
 * whole, and the page just before the window (`edges` has "<") or just after it (">") not.
 */
function inCache(p: string, v: string, firstK: number, pages: number, edges: "<>" | "<" | ">"): string {
  const at = (k: number) => (k === 0 ? v : `${v}+${k}K`);
  let out = `expect swapcache(${p}, ${at(firstK)} ${pages}p) == ${pages}\n`;
  if (edges.includes("<")) out += `expect swapcache(${p}, ${at(firstK - 4)} 1p) == 0\n`;
  if (edges.includes(">")) out += `expect swapcache(${p}, ${at(firstK + 4 * pages)} 1p) == 0\n`;
  return out;
}

/** 64 pages at a 2 MiB boundary, written and paged out whole (pages 0..63 of one PTE table). */
const SETUP = swapped64();

const pc = (n: number): string => swapped64(`page_cluster=${n}`);

/** a's pages 20..23 read one after another: after the fault at 20, three readahead hits */
const HITS_20_23 = readPages("a", 20, 4);

describe("swap_vma_readahead's window, reviewed against 6.12", () => {
  it("a hit streak in the middle of a VMA sizes the next window even for a fault far from it; without hits the window halves around the fault", () => {
    // 20: (0,0,4) -> 4+2=6 -> 8, around: [17, 25), 7 read; (20, 8, 0)
    // 21, 22, 23: readahead hits -> (23, 8, 3)
    // 40: hits 3 -> 5 -> 8; 40 is not 23 + 1: around [37, 45), 7 more (14); (40, 8, 0)
    // 36: no hits, not next to 40 -> 1, but not below 8 / 2 = 4: around [35, 39): 37, 38 are
    //     cached, 35 read (15); (36, 4, 0)
    // 37: a hit (read by 40's window) -> (37, 4, 1)
    // 34: hits 1 -> 3 -> 4; around [33, 37): 33 read (16), 35, 36 cached
    holds(`${SETUP}
${HITS_20_23}expect vmstat.swap_ra_hit == 3
A: read a+160K
expect A.maj_flt == 2
expect vmstat.swap_ra == 14
${inCache("A", "a", 148, 8, "<>")}A: read a+144K
expect A.maj_flt == 3
expect vmstat.swap_ra == 15
${inCache("A", "a", 140, 1, "<")}A: read a+148K
expect vmstat.swap_ra_hit == 4
A: read a+136K
expect A.maj_flt == 4
expect vmstat.swap_ra == 16
${inCache("A", "a", 132, 1, "<")}`);
  });

  it("a swap-cache hit on a page readahead did not read (MADV_WILLNEED) moves the VMA's address, adds no hit", () => {
    // willneed reads 40 with read_swap_cache_async: no PG_readahead, no SWAP_RA, the VMA untouched
    // 40: a hit with readahead false: SWAP_RA_VAL(addr 40, win 0, hits 4) (GET_SWAP_RA_VAL's 4
    //     kept); a minor fault, no swap_ra_hit
    // 41: prev 40, 41 = 40 + 1: hits 4 -> 8, after the fault: [41, 49), 7 read; had the address
    //     stayed 0 the window would be around 41: [38, 46)
    holds(`${SETUP}
A: madvise a+160K 4K willneed
expect vmstat.swap_ra == 0
expect swapcache(A, a 256K) == 1
A: read a+160K
expect A.maj_flt == 0
expect vmstat.swap_ra_hit == 0
A: read a+164K
expect A.maj_flt == 1
expect vmstat.swap_ra == 7
${inCache("A", "a", 160, 9, "<>")}`);
    // page_cluster=5 (max 32): willneed reads 40..47; 8 hits without PG_readahead leave hits at 4
    // -> (47, 0, 4); 48: 4 -> 8 pages after it, [48, 56), 7 read (12 hits would give 16)
    holds(`${pc(5)}
A: madvise a+160K 32K willneed
expect swapcache(A, a 256K) == 8
A: read a+160K 32K
expect A.maj_flt == 0
expect vmstat.swap_ra_hit == 0
A: read a+192K
expect A.maj_flt == 1
expect vmstat.swap_ra == 7
${inCache("A", "a", 192, 8, ">")}`);
  });

  it("the window stops at the fault's PTE table (faddr & PMD_MASK, + PMD_SIZE)", () => {
    // a = 0x401e0000: pages 0..31 in one PTE table, 32..63 (from 0x40200000) in the next
    // 34: (0,0,4) -> 8 around: [31, 39) cut at the table's start 32: [32, 39), 6 read; (34, 8, 0)
    // 33, 32: hits -> (32, 8, 2)
    // 31: prev 32 = 31 + 1: hits 2 -> 4, before the fault: [28, 32), in the first table: 3 read
    holds(`${SETUP.replace("at=0x40000000", "at=0x401E0000")}
A: read a+136K
expect vmstat.swap_ra == 6
${inCache("A", "a", 128, 7, "<")}A: read a+132K
A: read a+128K
expect vmstat.swap_ra_hit == 2
A: read a+124K
expect A.maj_flt == 2
expect vmstat.swap_ra == 9
${inCache("A", "a", 112, 4, "<")}`);
    // 30: 8 around, [27, 35), cut at the table's end 32: [27, 32), 4 read; 32..34 stay out
    holds(`${SETUP.replace("at=0x40000000", "at=0x401E0000")}
A: read a+120K
expect vmstat.swap_ra == 4
${inCache("A", "a", 108, 5, "<")}expect swapcache(A, a+128K 3p) == 0
`);
  });

  it("PMD_SIZE is the PTE table's reach: 4 MiB on two-level i386 (the PMD folded), 2 MiB elsewhere", () => {
    // 34 pages into a = 0x401e0000: 8 around, [31, 39); i386's table spans 0x40000000..0x40400000,
    // so nothing is cut: 7 read; with 2 MiB tables it is cut at 0x40200000 (page 32): 6 read
    for (const [arch, ra] of [
      ["i386", 7],
      ["i386-pae", 6],
      ["arm64", 6],
      ["riscv-sv39", 6],
    ] as const)
      holds(
        `
machine arch=${arch} ram=256M swap=64M
spawn A
A: a = mmap 256K at=0x401E0000
expect a == 0x401E0000
A: write a 256K value=0x5a
A: madvise a 256K pageout
A: read a+136K
expect vmstat.swap_ra == ${ra}
expect swapcache(A, a+124K 8p) == ${ra + 1}
`,
        arch,
      );
  });

  it("two VMAs keep their own swap_readahead_info", () => {
    // a: 20 -> [17, 25) (7), then 21..23 hits: (23, 8, 3)
    // b: 20 -> its own (0,0,4): [17, 25) (7; 14); (20, 8, 0)
    // b: 40 -> no hits, not next: 1, at least 8 / 2 = 4: around [39, 43), 3 read (17)
    // a: 40 -> a's hits 3 -> 8: around [37, 45), 7 read (24)
    holds(`
machine ram=256M swap=64M
spawn A
A: a = mmap 256K at=0x40000000
A: b = mmap 256K at=0x40400000
A: write a 256K value=1
A: write b 256K value=2
A: madvise a 256K pageout
A: madvise b 256K pageout
expect vmas(A, a 8M) == 2
${HITS_20_23}A: read b+80K
expect vmstat.swap_ra == 14
A: read b+160K
expect vmstat.swap_ra == 17
${inCache("A", "b", 156, 4, "<>")}A: read a+160K
expect vmstat.swap_ra == 24
${inCache("A", "a", 148, 8, "<>")}expect A.maj_flt == 4
`);
  });

  it("a fork child's VMA starts with the parent's state (vm_area_dup's memcpy); each then keeps its own", () => {
    // A: 20 -> [17, 25); 21..24 hits -> (24, 8, 4); fork copies it to B
    // B: 25 (its PTE a swap entry naming the same slot): prev 24, 25 = 24 + 1, hits 4 -> 8 after
    //    it: [25, 33), 7 read (14). A fresh (0,0,4) would read around it, [22, 30)
    // A: 40 -> A's own (24, 8, 4), not B's (25, 8, 0): 8 around, [37, 45), 7 read (21)
    holds(`${SETUP}
${HITS_20_23}A: read a+96K
expect vmstat.swap_ra_hit == 4
A: fork B
B: read a+100K
expect B.maj_flt == 1
expect vmstat.swap_ra == 14
${inCache("B", "a", 100, 8, ">")}A: read a+160K
expect A.maj_flt == 2
expect vmstat.swap_ra == 21
${inCache("A", "a", 148, 8, "<>")}`);
  });

  it("mprotect's split copies the state to both halves (__split_vma: vm_area_dup); a merge into prev keeps prev's", () => {
    // 20 -> [17, 25), 7; (20, 8, 0)
    // 50 -> 1, at least 4: around [49, 53), 3 (10); (50, 4, 0)
    // 10 -> 1, at least 2: around [10, 12), 1 (11); (10, 2, 0)
    // mprotect [32, 64) read-only: L [0, 32), R [32, 64), both (10, 2, 0)
    // R 40: no hits, not next to 10 -> 1, at least 2 / 2 = 1: no window (fresh: 8); R (40, 1, 0)
    // L 5: likewise no window; L (5, 1, 0)
    // mprotect back: R joins prev L (vma_merge_existing_range, merge_left: prev stays): (5, 1, 0)
    // 41: not next to 5 -> 1: no window (R's (40, 1, 0) would give 2, [41, 43))
    holds(`${SETUP}
A: read a+80K
A: read a+200K
A: read a+40K
expect vmstat.swap_ra == 11
${inCache("A", "a", 40, 2, "<")}A: mprotect a+128K 128K prot=r
expect vmas(A, a 256K) == 2
A: read a+160K
expect vmstat.swap_ra == 11
expect swapcache(A, a+156K 3p) == 1
A: read a+20K
expect vmstat.swap_ra == 11
A: mprotect a+128K 128K prot=rw
expect vmas(A, a 256K) == 1
A: read a+164K
expect vmstat.swap_ra == 11
expect A.maj_flt == 6
`);
    // L's window stops at its end though R's swap PTEs are in the same table: 30 (fresh copy) ->
    // 8 around, [27, 35) cut at vm_end 32: [27, 32), 4 read
    holds(`${SETUP}
A: mprotect a+128K 128K prot=r
A: read a+120K
expect vmstat.swap_ra == 4
${inCache("A", "a", 108, 5, "<")}expect swapcache(A, a+128K 3p) == 0
`);
  });

  it("mlock and MADV_POPULATE_READ fault the pages in order through the same windows as a read", () => {
    // __mm_populate / madvise_populate -> handle_mm_fault -> do_swap_page, page by page: majors at
    // 0 ([0, 5): 4), then after each fault that follows the last hit, 8 after it: 5, 13, ..., 61
    // ([61, 64): 2): 9 majors, 4 + 7 * 7 + 2 = 55 read ahead, all hits
    for (const populate of ["A: mlock a 256K", "A: madvise a 256K populate_read"])
      holds(
        `${SETUP}
${populate}
expect vmstat.pgmajfault == 9
expect vmstat.swap_ra == 55
expect vmstat.swap_ra_hit == 55
expect rss(A, a 256K) == 64
`,
        populate,
      );
  });

  it("mremap's move keeps the state with the old address (copy_vma: vm_area_dup)", () => {
    // 20 -> [17, 25); 21..24 hits: (old 24, 8, 4); moved to b = 0x40400000, the state as it was
    // b+25: prev is the old 24's address, not next to it: hits 4 -> 8 around, [22, 30): 22..24
    // mapped, 25 the fault, 26..29 read (4; 11). Had the address moved too: [25, 33), 7
    holds(`${SETUP}
${HITS_20_23}A: read a+96K
expect vmstat.swap_ra == 7
expect vmstat.swap_ra_hit == 4
A: b = mremap a 256K 256K maymove to=0x40400000
expect b == 0x40400000
A: read b+100K
expect A.maj_flt == 2
expect vmstat.swap_ra == 11
${inCache("A", "b", 100, 5, ">")}`);
  });
});

describe("page_cluster and the window", () => {
  it("page_cluster=1: at most 2 pages, from the fault (around: left = v - (2 - 1) / 2 = v)", () => {
    // 20: 4 hits -> 8, capped at 2: [20, 22), 1; (20, 2, 0)
    // 40: 1 (at least 1): none; (40, 1, 0)
    // 41: next to 40 -> 2, after: [41, 43), 1 (2); (41, 2, 0)
    // 39: not next to 41 (two away) -> 1, at least 1: none; (39, 1, 0)
    // 42: a hit -> (42, 1, 1)
    // 43: hits 1 -> 3 -> 4, capped at 2, after 42: [43, 45), 1 (3); 45 stays out
    // 60: none; (60, 1, 0). 59: 60 = 59 + 1 -> 2, before: [58, 60), 1 (4)
    holds(`${pc(1)}
A: read a+80K
expect vmstat.swap_ra == 1
${inCache("A", "a", 80, 2, "<")}A: read a+160K
expect vmstat.swap_ra == 1
A: read a+164K
expect vmstat.swap_ra == 2
expect swapcache(A, a+164K 2p) == 2
A: read a+156K
expect vmstat.swap_ra == 2
A: read a+168K
expect vmstat.swap_ra_hit == 1
A: read a+172K
expect vmstat.swap_ra == 3
${inCache("A", "a", 172, 2, ">")}A: read a+240K
expect vmstat.swap_ra == 3
A: read a+236K
expect vmstat.swap_ra == 4
${inCache("A", "a", 232, 1, "<")}expect A.maj_flt == 7
`);
  });

  // 256 pages (one PTE table). Pages 0..28 read in order: 0 -> [0, 5) (4 read), 4 hits; 5: 4 -> 8,
  // [5, 13) (7), 7 hits; 13: 9 -> 16, [13, 29) (15): 3 majors, 26 read, 26 hits; (28, 16, 15)
  // 100: 17 -> 32, around from 100 - 15: [85, 117), 31 (57); (100, 32, 0)
  // 200: 1, at least 16: [193, 209), 15 (72). 150: 8, [147, 155), 7 (79). 60: 4, [59, 63), 3 (82)
  // 250: 2, [250, 252), 1 (83). 230: 1, at least 1: none. 9 majors
  const scattered = `
A: a = mmap 1M at=0x40000000
A: write a 1M value=1
A: madvise a 1M pageout
A: read a 116K
expect A.maj_flt == 3
expect vmstat.swap_ra == 26
expect vmstat.swap_ra_hit == 26
A: read a+400K
expect vmstat.swap_ra == 57
${inCache("A", "a", 340, 32, "<>")}A: read a+800K
expect vmstat.swap_ra == 72
${inCache("A", "a", 772, 16, "<>")}A: read a+600K
expect vmstat.swap_ra == 79
expect swapcache(A, a+588K 8p) == 8
A: read a+240K
expect vmstat.swap_ra == 82
expect swapcache(A, a+236K 4p) == 4
A: read a+1000K
expect vmstat.swap_ra == 83
expect swapcache(A, a+1000K 2p) == 2
A: read a+920K
expect vmstat.swap_ra == 83
expect A.maj_flt == 9
`;
  for (const n of [5, 9])
    it(`page_cluster=${n}: hits grow the window to 32 (SWAP_RA_ORDER_CEILING), then it halves: 16, 8, 4, 2, none`, () => {
      holds(`machine ram=256M swap=64M page_cluster=${n}
spawn A
${scattered}`);
    });
});

describe("shmem's swap_cluster_readahead (swapin_nr_pages' global state)", () => {
  // A shared mapping's pages paged out in order take slots 1, 2, ... (slot 0 is the header).
  // swapin_nr_pages: hits = xchg(swapin_readahead_hits, 0) (4 at boot), pages =
  // __swapin_nr_pages(prev_offset, offset, hits, 2^page_cluster (no ceiling of 5 here), last);
  // the cluster is the aligned block of `pages` slots around the fault's, slots not in use skipped.
  // Reading 256 pages in order (page i in slot i + 1):
  // page_cluster=3: 0 (slot 1): 8, [1, 8) -> 6; 6 hits: 7 (slot 8): 8 -> [8, 16), 7; 7 hits: then
  //   9 -> 16, capped at 8, every 8th page: majors at 0, 7, 15, ..., 255 (33); 6 + 31 * 7 = 223
  //   (255's block, slots 256..263, has nothing else in use)
  // page_cluster=5: 0: 6; 7: 7; 15 (9 -> 16): [16, 32), 15; 31 (17 -> 32): [32, 64), 31; then 32
  //   each: 63, 95, ..., 223 (31 each, 6 of them), 255 (none): 11 majors, 59 + 186 = 245
  // page_cluster=9: 0, 7, 15, 31 as above; 63 (33 -> 64): [64, 128), 63; 127 (65 -> 128):
  //   [128, 256), 127; 255 (129 -> 256): [256, 512), none: 7 majors, 249
  for (const [n, majors, ra] of [
    [3, 33, 223],
    [5, 11, 245],
    [9, 7, 249],
  ])
    it(`page_cluster=${n}: a sequential read's hits grow the cluster (${majors} majors, ${ra} read ahead)`, () => {
      holds(`machine ram=256M swap=64M page_cluster=${n}
spawn A
A: s = mmap 1M shared
A: write s 1M value=0x33
A: madvise s 1M pageout
expect vmstat.pswpout == 256
A: read s 1M
expect A.maj_flt == ${majors}
expect vmstat.swap_ra == ${ra}
expect vmstat.swap_ra_hit == ${ra}
expect vmstat.pswpin == 256
expect byte(A, s+1020K) == 0x33
`);
    });

  it("read(2) of a swapped tmpfs file: shmem_swapin_folio with no VMA and no fault_type (no PGMAJFAULT), the same clusters", () => {
    // 16 pages in slots 1..16: page 0: [1, 8), 6; 6 hits: page 7: 8, [8, 16), 7; 7 hits: page 15:
    // 9 -> 16, capped at 8: [16, 24), nothing else in use. 13 read ahead, 13 hits, no major fault
    holds(`
machine ram=256M swap=64M
file F size=64K fs=tmpfs
spawn A
A: m = mmap 64K shared file=F
A: write m 64K value=7
A: madvise m 64K pageout
A: munmap m 64K
A: buf = mmap 64K
A: write buf 64K value=1
let mj = vmstat.pgmajfault
A: n = syscall read F buf 64K
expect n == 65536
expect vmstat.pgmajfault - mj == 0
expect vmstat.swap_ra == 13
expect vmstat.swap_ra_hit == 13
expect byte(A, buf+60K) == 7
`);
  });

  it("the hits are global: one object's cluster reads another's slots, whose hits grow the next cluster", () => {
    // page_cluster=5; s in slots 1..32, t in 33..96
    // s 0 (slot 1): [1, 8) 6; s 7: 8, [8, 16) 7; s 15: 16, [16, 32) 15; s 31 (slot 32, hits 15
    //   -> 17 -> 32): [32, 64): t's pages 0..30 read, 31 (59); 4 majors, 28 hits
    // t 0..30: 31 hits; t 31 (slot 64): 33 -> 32: [64, 96), 31 (90); t 32..62: 31 hits;
    //   t 63 (slot 96): [96, 128), nothing else in use. 6 majors, 90 hits
    holds(`machine ram=256M swap=64M page_cluster=5
spawn A
A: s = mmap 128K shared
A: t = mmap 256K shared
A: write s 128K value=1
A: write t 256K value=2
A: madvise s 128K pageout
A: madvise t 256K pageout
A: read s 128K
expect A.maj_flt == 4
expect vmstat.swap_ra == 59
expect vmstat.swap_ra_hit == 28
A: read t 256K
expect A.maj_flt == 6
expect vmstat.swap_ra == 90
expect vmstat.swap_ra_hit == 90
expect byte(A, t+252K) == 2
`);
  });

  it("an anonymous fault on a page shmem's cluster read is a hit of its VMA, not of the global count", () => {
    // a's 4 pages in slots 1..4, s's 16 in 5..20
    // s 0 (slot 5): hits 4 -> 8: [0, 8) less the header: slots 1..7: a's 4 and s 1, 2 besides the
    //   fault's: 6 read. hits 0; prev_offset stays 0 (hits were 4); last 8
    // a 0..3: each found with PG_readahead: swap_cache_get_folio(vma != NULL, vma_ra): the VMA's
    //   hits, not swapin_readahead_hits; minor faults, 4 hits
    // s 3 (slot 8): hits 0, 8 not next to 0 -> 1, at least 4: [8, 12), 3 read (9). Had a's hits
    //   counted: 4 -> 8, [8, 16), 7
    // s 4..6: 3 hits (global 3). s 7 (slot 12): 5 -> 8: [8, 16): 8..11 were freed by their
    //   swap-ins, 12 the fault's, 13..15 read (12)
    holds(`
machine ram=256M swap=64M
spawn A
A: a = mmap 16K at=0x40000000
A: s = mmap 64K shared at=0x40400000
A: write a 16K value=1
A: write s 64K value=2
A: madvise a 16K pageout
A: madvise s 64K pageout
A: read s
expect A.maj_flt == 1
expect vmstat.swap_ra == 6
expect swapcache(A, a 16K) == 4
A: read a 16K
expect A.maj_flt == 1
expect vmstat.swap_ra_hit == 4
expect byte(A, a+12K) == 1
A: read s+12K
expect A.maj_flt == 2
expect vmstat.swap_ra == 9
A: read s+16K
A: read s+20K
A: read s+24K
expect A.maj_flt == 2
expect vmstat.swap_ra_hit == 7
A: read s+28K
expect A.maj_flt == 3
expect vmstat.swap_ra == 12
`);
  });
});

describe("khugepaged's swap-in (__collapse_huge_page_swapin: do_swap_page for each swap PTE in order)", () => {
  /** a 2 MiB VMA at a PMD boundary, its pages 100..107 swapped out, the rest mapped 4K */
  const SWAPPED_100_107 = `
machine ram=256M swap=64M thp=madvise
spawn A
A: a = mmap 2M at=0x40000000
A: madvise a 2M nohugepage
A: write a 2M value=3
A: madvise a+400K 32K pageout
`;

  it("reads through the VMA's window, and the faults count in vmstat pgmajfault, not the task's maj_flt", () => {
    // pages 100..107 swapped, the rest mapped; the VMA's state (0, 0, 4)
    // 100: 8 around, [97, 105): 101..104 read (4); 101..104: 4 hits -> (104, 8, 4)
    // 105: after 104, 4 -> 8: [105, 113): 106, 107 read (6); 106, 107: hits (6). 2 majors,
    // counted by do_swap_page (count_vm_event); mm_account_fault is handle_mm_fault's only
    holds(`${SWAPPED_100_107}expect swapped(A, a 2M) == 8
A: madvise a 2M hugepage
expect vmas(A, a 2M) == 1
let mj = vmstat.pgmajfault
khugepaged
expect anon_huge(A, a 2M) == 512
expect vmstat.pswpin == 8
expect vmstat.swap_ra == 6
expect vmstat.swap_ra_hit == 6
expect vmstat.pgmajfault - mj == 2
expect A.maj_flt == 0
expect byte(A, a+404K) == 3
`);
  });

  it("starts from the state the task's own faults left", () => {
    // 300 swapped too, faulted first: 8 around, [297, 305), nothing else swapped; (300, 8, 0)
    // 100: no hits, not next: 1, at least 4: around [99, 103): 101, 102 read (2); 2 hits ->
    //   (102, 4, 2); 103: after, 2 -> 4: [103, 107): 104..106 (5); 3 hits -> (106, 4, 3);
    //   107: 5 -> 8, [107, 115): none else swapped. 3 majors by khugepaged, 5 read, 5 hits
    holds(`${SWAPPED_100_107}A: madvise a+1200K 4K pageout
A: read a+1200K
expect A.maj_flt == 1
expect vmstat.swap_ra == 0
A: madvise a 2M hugepage
let mj = vmstat.pgmajfault
khugepaged
expect anon_huge(A, a 2M) == 512
expect vmstat.pswpin == 9
expect vmstat.swap_ra == 5
expect vmstat.swap_ra_hit == 5
expect vmstat.pgmajfault - mj == 3
expect A.maj_flt == 1
`);
  });
});

describe("the two findings of the review, fixed", () => {
  it("a VMA merged into the next one alone keeps next's readahead state (Linux keeps next's struct)", () => {
    // L=[0,32) and R=[32,64) after the first mprotect; R's fault at 40 leaves R (40, 8, 0); L's
    // hit streak leaves L (13, 8, 3). The second mprotect merges L into R: R's struct survives, so
    // the fault at 45 sizes its window from (40, 8, 0): 1 page, raised to half the last window
    // (4), around 45: [44, 48), 3 read ahead (14 + 2 before: 16); with L's state it would be 8
    // pages [42, 50)
    holds(`
machine ram=256M swap=64M
spawn A
A: a = mmap 256K at=0x40000000
A: write a 256K value=1
A: madvise a 256K pageout
A: mprotect a+128K 128K prot=r
A: read a+160K
A: read a+40K
A: read a+44K
A: read a+48K
A: read a+52K
A: mprotect a 128K prot=r
A: read a+180K
expect vmstat.swap_ra == 16
expect swapcache(A, a+192K 2p) == 0
`);
  });

  it("i386: a window's start at or above 2 GiB is (long)left < 0 and becomes 0: the window reaches back to vm_start", () => {
    // the fault at page 63 of a VMA at 0xb7fc0000: left = page 60's address, above 2 GiB, so
    // left = 0 and start = max(0, vm_start, the table's start) = vm_start: [0, 64), 63 read ahead
    holds(`
machine arch=i386 ram=256M swap=64M
spawn A
A: a = mmap 256K
A: write a 256K value=0x5a
A: madvise a 256K pageout
A: read a+252K
expect vmstat.swap_ra == 63
`);
    // below 2 GiB the same read takes [60, 64)
    holds(`
machine arch=i386 ram=256M swap=64M
spawn A
A: a = mmap 256K at=0x40000000
A: write a 256K value=0x5a
A: madvise a 256K pageout
A: read a+252K
expect vmstat.swap_ra == 3
`);
  });
});
