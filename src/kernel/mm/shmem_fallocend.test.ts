/**
 * shmem_fallocend (Linux 6.12 mm/shmem.c): reclaim splits a huge tmpfs folio
 * that i_size falls inside (shmem_writepage's try_split), unless fallocate
 * allocated past i_size (FALLOC_FL_KEEP_SIZE: info->fallocend); a truncation
 * or a hole from below it brings fallocend down again (shmem_undo_range).
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const scenario = (between: string) => `machine ram=64M swap=16M
file t size=1M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 1M value=3
${between}
A: r = madvise a 2M pageout
let swpout = vmstat.thp_swpout
let split = vmstat.thp_split_page
let out = vmstat.pswpout
A: read a+4K
expect byte(A, a+4K) == 3
`;

describe("shmem_fallocend in shmem_writepage's split test", () => {
  it("i_size inside the folio splits it; a KEEP_SIZE fallocate to its end writes it whole; a truncation undoes that", () => {
    const plain = checkedMetrics(scenario(""));
    // i_size (256 pages) inside the folio of pages 0..511: split, its pages below i_size written
    // one by one, those past it dropped (__split_huge_page: mm/shmem_split_eof.test.ts)
    expect([plain("swpout"), plain("split"), plain("out")]).toEqual([0, 1, 256]);
    const falloc = checkedMetrics(scenario("A: f = fallocate t 1M 1M keep_size"));
    // fallocend = 512 pages: max(i_size, fallocend) is the folio's end, nothing to split
    expect([falloc("swpout"), falloc("split"), falloc("out")]).toEqual([1, 0, 512]);
    const cut = checkedMetrics(scenario("A: f = fallocate t 1M 1M keep_size\nA: c = ftruncate t 512K"));
    // shmem_truncate_range from page 128: fallocend back to 128, inside the folio again
    expect([cut("swpout"), cut("split")]).toEqual([0, 1]);
  });
});
