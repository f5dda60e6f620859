/**
 * /proc/vmstat pgfault (mm/memory.c mm_account_fault): every handle_mm_fault
 * counts, a failed one too, while the task's min_flt/maj_flt count resolved
 * faults only; a fault refused before handle_mm_fault (no VMA, a write to a
 * read-only mapping: access_error) counts nowhere.
 */
import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

describe("vmstat pgfault", () => {
  it("counts each demand fault once, folded into a run or taken one by one, as min_flt does", () => {
    const failed = expectationFailures(`
machine ram=256M
spawn A
A: a = mmap 1M
let f0 = vmstat.pgfault
let m0 = A.min_flt
A: write a 1M value=7
let f1 = vmstat.pgfault
expect f1 - f0 == 256
expect A.min_flt - m0 == 256
A: b = mmap 16K
A: write b+4K
A: read b+8K
expect vmstat.pgfault - f1 == 2
expect A.min_flt - m0 == 258
`);
    expect(failed).toEqual([]);
  });

  it("counts a SIGBUS fault (past the file's end), which min_flt and maj_flt do not; not a SIGSEGV without a VMA", () => {
    const failed = expectationFailures(`
machine ram=256M
file short size=5000
spawn A
A: catch SIGBUS
A: catch SIGSEGV
A: s = mmap 12K prot=r private file=short
A: read s
let f0 = vmstat.pgfault
let n0 = A.min_flt + A.maj_flt
A: read s+8K
expect A.signal == SIGBUS
expect vmstat.pgfault - f0 == 1
expect A.min_flt + A.maj_flt == n0
A: write s
expect A.signal == SIGSEGV
A: read 0x10000
expect vmstat.pgfault - f0 == 1
`);
    expect(failed).toEqual([]);
  });

  it("pgreuse counts write faults that reuse the page in place (wp_page_reuse), not copies", () => {
    expect(
      expectationFailures(`
machine ram=256M
file data size=16K
spawn A
A: a = mmap 16K
A: write a 16K value=1
expect vmstat.pgreuse == 0
A: fork B
# both map the pages read-only: A's write copies (wp_page_copy)
A: write a value=2
expect vmstat.pgreuse == 0
B: exit
# B is gone: A's pages are its own again (wp_can_reuse_anon_folio), reused in place
A: write a+4K value=3
A: write a+8K value=3
expect vmstat.pgreuse == 2
# a shared file mapping: the read maps the page read-only (write-notify), the write reuses it
A: f = mmap 16K prot=rw shared file=data
A: read f
A: write f value=4
expect vmstat.pgreuse == 3
expect byte(A, a+4K) == 3
`),
    ).toEqual([]);
  });

  it("pgmajfault counts each read a fault waited for, khugepaged's swap-ins too, which no task's maj_flt counts", () => {
    const failed = expectationFailures(`
machine ram=64M swap=16M thp=madvise
file f size=1M
spawn A
A: a = mmap 2M at=0x40000000
A: madvise a 2M nohugepage
A: write a 2M value=3
A: s = mmap 64K shared
A: write s 64K value=4
A: m = mmap 1M prot=r file=f
expect vmstat.pgmajfault == 0
A: read m
A: madvise a 32K pageout
A: read a
A: madvise s 64K pageout
A: read s
expect vmstat.pgmajfault == 3
expect A.maj_flt == 3
A: madvise a+64K 160K pageout
A: madvise a 2M hugepage
khugepaged
expect anon_huge(A, a 2M) == 512
expect vmstat.pgmajfault > 3
expect A.maj_flt == 3
expect byte(A, a+100K) == 3
`);
    expect(failed).toEqual([]);
  });
});
