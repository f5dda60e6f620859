/**
 * MAP_DROPPABLE as Linux 6.12.19 has it (mm/droppable.ts): do_mmap's flags and refusals, the
 * never-swap-backed anonymous folio on the file LRU, reclaim dropping it dirty or clean, swap or
 * no swap, wipe-on-fork, madvise's and mlock's refusals. Every figure is derived in the comment
 * above it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures, holds } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./userMm.ts";

describe("MAP_DROPPABLE (Linux 6.12 do_mmap, try_to_unmap_one, shrink_folio_list)", () => {
  it("do_mmap: VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP, no commit charge", () => {
    // smaps VmFlags in bit order: rd wr mr mw me, nr (21), wf (25), dd (26), sd (27, x86-64), dp
    //   (40); no ac: VM_NORESERVE makes accountable_mapping false, so Committed_AS does not grow
    //   even under overcommit=never (VM_NORESERVE whatever the policy, unlike MAP_NORESERVE)
    holds(`machine ram=64M overcommit=never
spawn A
let c = meminfo.Committed_AS
A: a = mmap 64p droppable
expect vm_flags(A, a) == "rd wr mr mw me nr wf dd sd dp"
expect meminfo.Committed_AS == c
A: b = mmap 64p
expect vm_flags(A, b) == "rd wr mr mw me ac sd"
expect meminfo.Committed_AS == c + 256K
`);
  });

  it("do_mmap refuses MAP_DROPPABLE with a file, MAP_LOCKED or MAP_HUGETLB (-EINVAL); 32-bit: -ENOTSUPP (524)", () => {
    // MAP_HUGETLB's hugetlbfs file makes it the file case: -EINVAL before any pool is asked
    holds(`machine ram=64M
file f size=16K
spawn A
A: r1 = mmap 16K file=f droppable
expect r1 == -22
A: r2 = mmap 16K droppable locked
expect r2 == -22
A: r3 = mmap 2M droppable hugetlb
expect r3 == -22
A: r4 = mmap 16K droppable
expect r4 > 0
`);
    // VM_DROPPABLE is VM_NONE without CONFIG_64BIT (i386, i386-pae): do_mmap's -ENOTSUPP
    for (const arch of ["i386", "i386-pae"])
      holds(`machine arch=${arch} ram=64M
spawn A
A: r = mmap 16K droppable
expect r == -524
`);
  });

  it("a written page is not swap-backed: Inactive(file), and reclaim drops it dirty (pgactivate, nr_vmscan_immediate_reclaim, freed)", () => {
    // do_anonymous_page: folio_add_new_anon_rmap leaves it !swapbacked, so the lru_add batch
    //   puts the 16 pages on Inactive(file) (64 KiB). reclaim: isolate 16; try_to_unmap_one
    //   discards each though its PTE is dirty (VM_DROPPABLE), folio_mark_dirty first; back in
    //   shrink_folio_list the folio is dirty and file-LRU: NR_VMSCAN_IMMEDIATE + 1, activate_locked
    //   (pgactivate + 1), not PGLAZYFREED, not nr_reclaimed; move_folios_to_lru then drops the
    //   isolation's reference, the last one: freed (to this CPU's pcp lists: MemFree, the
    //   buddy's count, does not see them). So 16 and 16, 0 lazyfreed, pgsteal 0, the lists
    //   empty, AnonPages 0; a read faults the zero page back
    holds(`machine ram=64M swap=0
spawn A
A: a = mmap 16p droppable
A: write a 16p value=7
A: r = madvise a 16p willneed
expect meminfo.Inactive(file) == 64K
expect meminfo.Inactive(anon) == 0
expect meminfo.AnonPages == 64K
reclaim 64K
expect rss(A, a 16p) == 0
expect vmstat.nr_vmscan_immediate_reclaim == 16
expect vmstat.pgactivate == 16
expect vmstat.pglazyfreed == 0
expect vmstat.pgsteal_direct == 0
expect meminfo.Inactive(file) == 0
expect meminfo.Active(file) == 0
expect meminfo.AnonPages == 0
let f = A.min_flt
A: read a 16p
expect A.min_flt - f == 16
expect byte(A, a+5p) == 0
`);
  });

  it("a dirty PMD-mapped THP: the PMD is split (TTU_SPLIT_HUGE_PMD) and every PTE dropped dirty", () => {
    // do_huge_pmd_anonymous_page's folio is not swap-backed either (folio_add_new_anon_rmap):
    //   Inactive(file). reclaim: no add_to_swap; try_to_unmap(TTU_SPLIT_HUGE_PMD): the PMD is
    //   dirty, so __discard_anon_folio_pmd_locked refuses before clearing it, and
    //   split_huge_pmd_locked gives the deposited table 512 dirty PTEs (thp_split_pmd + 1, the
    //   table now mapped: PageTables unchanged); the walk restarts on them and try_to_unmap_one
    //   discards each though dirty (VM_DROPPABLE); the first leaves the folio partially mapped
    //   (thp_deferred_split_page + 1; off the queue when freed). The folio is dirty and not swap-backed: NR_VMSCAN_IMMEDIATE
    //   512, activate_locked (pgactivate 512), nothing reclaimed; freed at the putback, whole
    holds(`machine ram=64M swap=0 thp=always
spawn A
A: a = mmap 2M droppable
A: write a 2M value=7
A: r = madvise a 2M willneed
expect meminfo.AnonHugePages == 2M
expect meminfo.Inactive(file) == 2M
let pt = meminfo.PageTables
let s = vmstat.thp_split_pmd
reclaim 2M
expect rss(A, a 2M) == 0
expect vmstat.thp_split_pmd == s + 1
expect vmstat.thp_deferred_split_page == 1
expect vmstat.nr_vmscan_immediate_reclaim == 512
expect vmstat.pgactivate == 512
expect vmstat.pgsteal_direct == 0
expect vmstat.pglazyfreed == 0
expect meminfo.AnonHugePages == 0
expect meminfo.Inactive(file) == 0
expect meminfo.Active(file) == 0
expect meminfo.PageTables == pt
expect thp.split_queue_len == 0
expect thp.nr_anon_partially_mapped == 0
expect byte(A, a+1M) == -1
A: read a 4K
expect byte(A, a) == 0
`);
  });

  it("MADV_PAGEOUT of a whole droppable THP: no add_to_swap, so no split_folio; its PMD split, its PTEs dropped", () => {
    // madvise_cold_or_pageout_pte_range isolates the PMD-mapped folio whole; reclaim_pages'
    //   shrink_folio_list calls add_to_swap only for a swap-backed folio, so there is no
    //   THP_SWPOUT_FALLBACK and no split_folio (thp_split_page 0), swap or no swap; try_to_unmap's
    //   TTU_SPLIT_HUGE_PMD splits the dirty PMD (thp_split_pmd 1) and drops the 512 PTEs
    for (const swap of ["0", "16M"])
      holds(`machine ram=64M swap=${swap} thp=always
spawn A
A: a = mmap 2M droppable
A: write a 2M value=7
expect meminfo.AnonHugePages == 2M
A: r = madvise a 2M pageout
expect rss(A, a 2M) == 0
expect vmstat.thp_split_page == 0
expect vmstat.thp_swpout_fallback == 0
expect vmstat.thp_split_pmd == 1
expect vmstat.nr_vmscan_immediate_reclaim == 512
expect vmstat.pswpout == 0
expect meminfo.AnonHugePages == 0
`);
    // the same for an MADV_FREE'd THP (madvise_free_huge_pmd: clean, not swap-backed): discarded
    //   whole by __discard_anon_folio_pmd_locked, PGLAZYFREED 512, never split
    holds(`machine ram=64M swap=0 thp=always
spawn A
A: a = mmap 2M
A: write a 2M value=7
A: r = madvise a 2M free
A: r = madvise a 2M pageout
expect rss(A, a 2M) == 0
expect vmstat.thp_split_page == 0
expect vmstat.thp_swpout_fallback == 0
expect vmstat.pglazyfreed == 512
`);
  });

  it("memory pressure with no swap: a plain mapping's faults drop the droppable pages instead of an OOM kill", () => {
    // 32M of RAM, no swap: 16M droppable written, then 20M of plain anonymous memory. The plain
    //   pages cannot go anywhere (no swap: get_scan_count scans the file lists only); the
    //   droppable ones are on Inactive(file), so kswapd and direct reclaim drop them (each dirty:
    //   nr_vmscan_immediate_reclaim) until the 20M fit; A lives, every plain page present
    holds(`machine ram=32M swap=0
spawn A
A: d = mmap 16M droppable
A: write d 16M value=7
A: b = mmap 20M
A: write b 20M value=1
expect A.alive == 1
expect rss(A, b 20M) == 5120
expect rss(A, d 16M) < 4096
expect vmstat.nr_vmscan_immediate_reclaim >= 4096 - rss(A, d 16M)
expect byte(A, b+19M) == 1
`);
  });

  it("with swap it is never written to swap; an MADV_FREE'd clean one is lazyfreed", () => {
    // swap=16M: the same drop, no add_to_swap (not swap-backed): pswpout 0, no swap entries.
    //   MADV_FREE on 8 of them clears their PTEs' dirty bits and PG_dirty (madvise_free_pte_range;
    //   folio_mark_lazyfree does nothing more: already !swapbacked, no pglazyfree), so those 8
    //   reach the lazyfree free: PGLAZYFREED 8; the other 8 the dirty path (immediate 8)
    holds(`machine ram=64M swap=16M
spawn A
A: a = mmap 16p droppable
A: write a 16p value=7
A: madvise a 8p free
A: r = madvise a 16p willneed
expect vmstat.pglazyfree == 0
reclaim 64K
expect rss(A, a 16p) == 0
expect swapped(A, a 16p) == 0
expect vmstat.pswpout == 0
expect vmstat.pglazyfreed == 8
expect vmstat.nr_vmscan_immediate_reclaim == 8
expect byte(A, a+12p) == -1
`);
  });

  it("MADV_PAGEOUT drops it without swap (reclaim_pages)", () => {
    // no swap: a plain anonymous page fails add_to_swap and stays; a droppable one has no
    //   add_to_swap at all and is discarded dirty: activate_locked, freed at the putback
    holds(`machine ram=64M swap=0
spawn A
A: a = mmap 4p droppable
A: write a 4p value=3
A: b = mmap 4p
A: write b 4p value=3
A: r = madvise a 4p pageout
A: s = madvise b 4p pageout
expect rss(A, a 4p) == 0
expect rss(A, b 4p) == 4
expect vmstat.nr_vmscan_immediate_reclaim == 4
expect byte(A, a) == -1
`);
  });

  it("fork: VM_WIPEONFORK, the child reads zeros; madvise keeponfork and dodump are -EINVAL", () => {
    holds(`machine ram=64M
spawn A
A: a = mmap 4p droppable
A: write a 4p value=9
A: fork B
expect byte(A, a) == 9
expect rss(B, a 4p) == 0
A: r1 = madvise a 4p keeponfork
expect r1 == -22
A: r2 = madvise a 4p dodump
expect r2 == -22
A: r3 = madvise a 4p dontdump
expect r3 == 0
A: r4 = madvise a 4p wipeonfork
expect r4 == 0
expect vm_flags(A, a) == "rd wr mr mw me nr wf dd sd dp"
`);
  });

  it("mlock and mlockall leave a droppable VMA unlocked (mlock_fixup) but succeed", () => {
    holds(`machine ram=64M
spawn A
A: a = mmap 4p droppable
A: write a 4p value=9
A: r = mlock a 4p
expect r == 0
expect vm_flags(A, a) == "rd wr mr mw me nr wf dd sd dp"
expect meminfo.Mlocked == 0
expect locked(A, a 4p) == 0
A: r2 = mlockall current
expect r2 == 0
expect vm_flags(A, a) == "rd wr mr mw me nr wf dd sd dp"
expect locked(A, a 4p) == 0
A: b = mmap 4p
A: write b 4p value=1
expect locked(A, b 4p) == 0
A: r3 = mlock b 4p
expect locked(A, b 4p) == 4
`);
  });

  it("mprotect's split keeps VM_DROPPABLE on both parts", () => {
    holds(`machine ram=64M
spawn A
A: a = mmap 4p droppable
A: r = mprotect a 2p prot=r
expect vm_flags(A, a) == "rd mr mw me nr wf dd sd dp"
expect vm_flags(A, a+2p) == "rd wr mr mw me nr wf dd sd dp"
`);
  });

  it("the scenario language refuses droppable with private or shared", () => {
    expect(() => expectationFailures("spawn A\nA: a = mmap 4p droppable shared\n")).toThrow(/map type/);
  });

  it("the library API: mmapArgs({ droppable }); MAP_SHARED | MAP_DROPPABLE is no map type (-EINVAL)", () => {
    const k = new Kernel({ arch: "x86_64", ramBytes: 64 << 20 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    expect(k.mmap(t, mmapArgs(4096, { droppable: true, shared: true }))).toBe(-22n);
    const a = k.mmap(t, mmapArgs(4096, { droppable: true }));
    expect(a > 0n).toBe(true);
    const v = t.mm!.vmaAt(Number(a / 4096n))!;
    expect(Math.floor(v.vmFlags / 2 ** 40) % 2).toBe(1);
    // written, then dropped by reclaim: the kernel's own invariants hold before and after
    expect(k.userAccess(0, t, a, Access.Write, 5).ok).toBe(true);
    expect(checkInvariants(k)).toEqual([]);
    k.reclaim(16);
    expect(t.mm!.rssAnon).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });
});
