/**
 * What a pin changes where vmlab models it, as scenarios (core/gup_remote.ts):
 * a read pin of a shared transparent huge page (the PMD split, the 4K page
 * unshared), fork of a pinned huge page (every page copied for the child),
 * reclaim leaving a pinned page mapped; and the scenario forms' errors.
 * Linux: mm/gup.c, mm/huge_memory.c copy_huge_pmd, do_huge_pmd_wp_page; mm/vmscan.c
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../workloads/scenario/session.ts";
import { holds, PAGE_ON_LRU, scenarioError } from "../workloads/scenario/testKit.ts";

describe("pins of transparent huge pages", () => {
  it("a read pin of a huge page shared with a child splits the caller's PMD and unshares the 4K page", () => {
    holds(`machine ram=64M thp=always
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=3
expect anon_huge(A, a 2M) == 512
A: fork B
let shared = pfn(A, a+20K)
let f = A.min_flt
kernel: p = pin_user_pages A a+20K 1
expect p == 1
# do_huge_pmd_wp_page with FAULT_FLAG_UNSHARE: the folio is B's too, so the PMD is split
# (VM_FAULT_FALLBACK) and do_wp_page copies the one page, read-only
expect vmstat.thp_split_pmd == 1
expect anon_huge(A, a 2M) == 0
expect anon_huge(B, a 2M) == 512
expect pfn(A, a+20K) != shared
expect pfn(B, a+20K) == shared
expect pfn(A, a+24K) == pfn(B, a+24K)
expect byte(A, a+20K) == 3
expect A.min_flt == f + 1
kernel: unpin_user_pages p
expect vmstat.nr_foll_pin_released == 1
`);
  });

  it("fork of a pinned huge page: the parent's PMD split, each of its 512 pages copied for the child", () => {
    holds(`machine ram=64M thp=always
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=3
kernel: p = pin_user_pages A a 1 write
expect p == 1
let free = meminfo.MemFree
A: fork B
# copy_huge_pmd: folio_try_dup_anon_rmap_pmd refuses (_pincount 1): __split_huge_pmd, then
# copy_present_ptes copies every page of the maybe-pinned folio (copy_present_page)
expect vmstat.thp_split_pmd == 1
expect anon_huge(A, a 2M) == 0
expect present(A, a 2M) == 512
expect present(B, a 2M) == 512
expect pfn(B, a+1M) != pfn(A, a+1M)
expect mapcount(A, a+1M) == 1
expect mapcount(B, a+1M) == 1
expect byte(B, a+1M) == 3
# the parent keeps its pages writable: its writes fault no more
let f = A.min_flt
A: write a 2M value=4
expect A.min_flt == f
expect byte(B, a+1M) == 3
kernel: unpin_user_pages p
`);
  });
});

describe("reclaim and a pinned page", () => {
  it("MADV_PAGEOUT leaves a pinned page mapped and swaps its unpinned neighbour", () => {
    holds(`machine ram=64M swap=16M
spawn A
A: a = mmap 8K
A: write a 8K value=1
kernel: p = pin_user_pages A a 1 write
A: madvise a 8K pageout
# reclaim_pages -> shrink_folio_list: folio_maybe_dma_pinned keeps the first page (keep_locked)
expect present(A, a) == 1
expect swapped(A, a) == 0
expect swapped(A, a+4K) == 1
kernel: unpin_user_pages p
A: madvise a 4K pageout
expect swapped(A, a) == 1
`);
  });
});

describe("pins and the invariant checker", () => {
  it("a pinned page-cache, shmem or swap-cache page holds the pin's references; one outlives its process", () => {
    const src = `machine ram=64M swap=16M
file f size=8K
spawn A
A: m = mmap 8K shared file=f
A: write m 8K value=2
A: s = mmap 8K shared
A: write s 8K value=3
A: a = mmap 8K
A: write a 8K value=4
A: madvise a 8K pageout
A: read a 8K
expect swapcache(A, a 8K) == 2
kernel: p1 = pin_user_pages A m 2 write
kernel: p2 = pin_user_pages A s 2
kernel: p3 = pin_user_pages A a 2
expect vmstat.nr_foll_pin_acquired == 6
A: exit
kernel: n = unpin_user_pages p1
kernel: n = unpin_user_pages p2
kernel: n = unpin_user_pages p3
expect vmstat.nr_foll_pin_released == 6
`;
    const r = runScenario(src, { checkInvariants: true });
    expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(r.exitCode).toBe(0);
  });
});

describe("pin_user_pages_fast (gup_fast, then the slow path)", () => {
  it("takes present pages from their PTEs without FOLL_TOUCH: two fast pins do not activate the page", () => {
    // slow pins: follow_page_pte's FOLL_TOUCH, folio_mark_accessed twice (PG_referenced, then
    // the activate batch); gup_fast_pte_range marks nothing
    holds(`machine ram=64M
spawn A
A: a = mmap 8K
A: write a 8K value=5
A: r = madvise a 8K willneed
expect meminfo.Inactive(anon) == 8192
let f = A.min_flt
kernel: p = pin_user_pages A a 1 fast
kernel: q = pin_user_pages A a 1 fast
kernel: s = pin_user_pages A a+4K 1
kernel: t = pin_user_pages A a+4K 1
A: r = madvise a 8K willneed
expect meminfo.Active(anon) == 4096
expect meminfo.Inactive(anon) == 4096
expect vmstat.nr_foll_pin_acquired == 4
expect A.min_flt == f
kernel: unpin_user_pages p
kernel: unpin_user_pages q
kernel: unpin_user_pages s
kernel: unpin_user_pages t
`);
  });

  it("sets PG_referenced (folio_set_referenced): reclaim's folio_check_references activates the young page", () => {
    // gup_fast_pte_range's folio_set_referenced; then shrink_folio_list: the PTE young and
    // PG_referenced set (folio_test_clear_referenced) -> FOLIOREF_ACTIVATE, activate_locked
    // (pgactivate) before the pin is even looked at. Without PG_referenced the young page would
    // only be marked and kept (FOLIOREF_KEEP), then kept again as pinned: no pgactivate
    holds(`${PAGE_ON_LRU}expect meminfo.Inactive(anon) == 4096
kernel: p = pin_user_pages A a 1 fast
let act = vmstat.pgactivate
reclaim 4K
expect vmstat.pgactivate == act + 1
expect present(A, a) == 1
kernel: unpin_user_pages p
`);
  });

  it("leaves what gup_fast cannot take to the slow path: a missing page, the zero page, a write-protected one", () => {
    // page 0 present: gup_fast; page 1 never touched: gup_fast stops, __gup_longterm_locked faults
    // it in (a write fault, counted against A)
    // after fork the parent's PTE is read-only: a fast write pin falls back and breaks COW
    holds(`machine ram=64M
spawn A
A: a = mmap 8K
A: write a 4K value=5
let f = A.min_flt
kernel: p = pin_user_pages A a 2 write fast
expect p == 2
expect A.min_flt == f + 1
expect present(A, a+4K) == 1
kernel: unpin_user_pages p
A: z = mmap 4K
A: read z 4K
kernel: zp = pin_user_pages A z 1 fast
expect zp == 1
expect vmstat.nr_foll_pin_acquired == 2
A: fork B
let shared = pfn(A, a)
let g = A.min_flt
kernel: w = pin_user_pages A a 1 write fast
expect A.min_flt == g + 1
expect pfn(A, a) != shared
expect pfn(B, a) == shared
kernel: unpin_user_pages w
`);
  });
});

describe("the scenario forms", () => {
  it("check their words at their line", () => {
    const err = (src: string) => {
      try {
        runScenario(`machine ram=64M\nspawn A\nspawn B\nA: b = mmap 4K\n${src}\n`);
        return "";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(err("A: n = syscall process_vm_readv B b b")).toMatch(
      /syscall process_vm_readv Q LOCAL REMOTE SIZE/,
    );
    expect(err("A: n = syscall process_vm_readv C b b 8")).toMatch(/Q is a process/);
    expect(err("kernel: pin_user_pages A b 1")).toMatch(/VAR names the pins/);
    expect(err("kernel: p = pin_user_pages A b 1 read")).toMatch(/expected 'write', 'longterm' or 'fast'/);
    expect(err("kernel: unpin_user_pages q")).toMatch(/undefined variable 'q'/);
  });

  it("refuse to name new pins with a variable still holding pins; once unpinned it may be reused", () => {
    const pre = "machine ram=64M\nspawn A\nA: a = mmap 8K\nA: write a 8K\nkernel: p = pin_user_pages A a 2\n";
    // the first pins would be lost (never unpinned): an error at the variable, nothing pinned again
    expect(scenarioError(`${pre}kernel: p = pin_user_pages A a 1\n`)).toBe(
      "s.vm:6:9: 'p' still holds 2 pinned pages: unpin_user_pages p first",
    );
    holds(`${pre}kernel: n = unpin_user_pages p
kernel: p = pin_user_pages A a 1
expect p == 1
expect vmstat.nr_foll_pin_acquired == 3
expect vmstat.nr_foll_pin_released == 2
kernel: unpin_user_pages p
`);
  });

  it("print the bytes moved and who was charged", () => {
    const r = runScenario(
      "machine ram=64M\nspawn A\nspawn B\nB: r = mmap 8K\nA: l = mmap 8K\nA: n = syscall process_vm_writev B l r 8K\n",
    );
    const out = r.statements[5].output.join("\n");
    // copy_from_user reads A's two untouched pages (2 read faults: the zero page) and GUP
    // write-faults B's two pages (counted against current, A): 4 charged to A, none to B
    expect(out).toMatch(
      /n = 8192 \(bytes written to B; 4 page faults \(minor\) charged to A; 2 pages of B taken by GUP\)/,
    );
  });
});
