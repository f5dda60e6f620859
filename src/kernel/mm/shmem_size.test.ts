/**
 * A tmpfs mount's size= (`file ... fs=tmpfs nr_blocks=N`): sbinfo->max_blocks and the
 * used_blocks counter that shmem_inode_acct_blocks charges against it (Linux 6.12
 * mm/shmem.c): a fault past the limit is SIGBUS (shmem_get_folio_gfp's -ENOSPC,
 * shmem_fault -> vmf_error), write(2) stops at -ENOSPC, fallocate refuses a range larger
 * than the mount at once and undoes a partial one, a huge folio that does not fit first
 * splits huge folios past i_size (shmem_unused_huge_shrink) and then falls back to 4K
 * pages; statfs's f_blocks and f_bfree (shmem_statfs) show the limit and what is left.
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics, scenarioError } from "../../workloads/scenario/testKit.ts";

const M1 = 1 << 20;

describe("tmpfs nr_blocks= (sbinfo->max_blocks)", () => {
  it("a fault past the mount's size is SIGBUS; f_blocks and f_bfree count the pages charged", () => {
    // a 1M file (256 pages) on a 512-block mount, grown to 4M: the write of its first 2M charges
    // pages 256..511 (used_blocks 512, f_bfree 0); the fault of page 512 is refused its block
    // (percpu_counter_limited_add: 513 > 512) -> -ENOSPC -> VM_FAULT_SIGBUS. Truncating to 1M
    // gives the 256 pages back (shmem_recalc_inode -> shmem_inode_unacct_blocks).
    const v = checkedMetrics(`machine ram=64M swap=0
file t size=1M fs=tmpfs nr_blocks=512
spawn A
let blocks = f_blocks(t)
let free0 = f_bfree(t)
A: r = ftruncate t 4M
A: a = mmap 4M prot=rw shared file=t
A: write a 2M value=1
let free1 = f_bfree(t)
let shmem1 = meminfo.Shmem
A: catch SIGBUS
A: write a+2M value=2
expect A.signal == SIGBUS
A: r2 = ftruncate t 1M
let free2 = f_bfree(t)
`);
    expect([v("blocks"), v("free0"), v("free1"), v("free2")]).toEqual([512, 256, 0, 256]);
    expect(v("shmem1")).toBe(2 * M1);
  });

  it("write(2) stops at the first page refused (-ENOSPC once nothing was written); fallocate past the mount's size is -ENOSPC", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file t size=1M fs=tmpfs nr_blocks=512
spawn A
A: buf = mmap 2M prot=rw
A: write buf 2M value=5
A: r0 = ftruncate t 4M
A: w1 = syscall write t buf 2M offset=1M
A: w2 = syscall write t buf 4K offset=2M
A: r = ftruncate t 1M
A: f1 = fallocate t 0 3M
A: f2 = fallocate t 1M 1M
let free2 = f_bfree(t)
A: f3 = fallocate t 512K 2M
let free3 = f_bfree(t)
`);
    // generic_perform_write: pages 256..511 written, page 512 refused -> 1M; then nothing -> -ENOSPC
    expect([v("w1"), v("w2")]).toEqual([M1, -28]);
    // 768 pages > max_blocks: -ENOSPC before any page ("Try to avoid a swapstorm")
    expect(v("f1")).toBe(-28);
    // 256 new pages fit exactly
    expect([v("f2"), v("free2")]).toEqual([0, 0]);
    // 512 pages, not more than the mount: tried, the first page refused, nothing added -> -ENOSPC
    expect([v("f3"), v("free3")]).toEqual([-28, 0]);
  });

  it("fallocate that fails part-way gives back the pages it added (shmem_undo_range unfalloc)", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file t size=1M fs=tmpfs nr_blocks=640
spawn A
A: r = fallocate t 1M 2M
let free = f_bfree(t)
let shmem = meminfo.Shmem
`);
    // 512 pages asked, 384 free: 384 added, the 385th refused, the 384 freed again
    expect(v("r")).toBe(-28);
    expect([v("free"), v("shmem")]).toEqual([384, M1]);
  });

  it("a huge folio that does not fit falls back to 4K pages", () => {
    // the 3M file is written page by page (shmem_write_begin, huge=always): its first PMD folio
    // (512 blocks) fits, the second (1024 > max_blocks) is refused -ENOSPC; shmem_unused_huge_shrink
    // finds nothing to gain (i_size has reached the first folio's end) and the charge is refused
    // again, so shmem_get_folio_gfp falls back to 4K pages (no THP_FILE_FALLBACK: that counts a
    // failed allocation or memory-cgroup charge only). With room for both, both are huge.
    const run = (blocks: number) =>
      checkedMetrics(`machine ram=64M swap=0
file t size=3M fs=tmpfs huge=always nr_blocks=${blocks}
let hp = meminfo.ShmemHugePages
let shmem = meminfo.Shmem
let alloc = vmstat.thp_file_alloc
let fallback = vmstat.thp_file_fallback
let free = f_bfree(t)
`);
    const small = run(800);
    expect([small("hp"), small("shmem"), small("alloc"), small("fallback"), small("free")]).toEqual([
      2 * M1,
      3 * M1,
      1,
      0,
      800 - 768,
    ]);
    const big = run(1024);
    expect([big("hp"), big("shmem"), big("alloc"), big("free")]).toEqual([4 * M1, 4 * M1, 2, 0]);
  });

  it("nr_blocks= is an error on a disk file, and where the file does not fit", () => {
    expect(scenarioError("machine ram=64M\nfile t size=1M nr_blocks=512\n")).toBe(
      "s.vm:2:26: nr_blocks= is a tmpfs mount option: add fs=tmpfs",
    );
    expect(scenarioError("machine ram=64M\nfile t size=1M fs=tmpfs nr_blocks=100\n")).toBe(
      "s.vm:2:35: nr_blocks=100: the file's 256 pages do not fit (its write(2) would stop at -ENOSPC)",
    );
  });
});

/** A 512-block mount whose file is grown to 4M and mapped shared at `a` (with 64M of swap). */
const GROWN_4M = `machine ram=64M swap=64M
file t size=1M fs=tmpfs nr_blocks=512
spawn A
A: r = ftruncate t 4M
A: a = mmap 4M prot=rw shared file=t
`;

describe("tmpfs nr_blocks= and pages reclaim dropped clean", () => {
  it("a refused charge recalcs the inode before its retry (shmem_alloc_and_add_folio's freed)", () => {
    // 256 pages written, 256 more read-faulted (clean: shmem_fault allocates, nothing dirties them)
    // fill the 512-block mount. MADV_PAGEOUT drops the clean ones (__remove_mapping: nrpages falls,
    // alloced does not), so used_blocks stays 512 (f_bfree 0) until a recalc. The write fault of a
    // new page is refused its block at first; shmem_alloc_and_add_folio then computes
    // freed = pages + alloced - swapped - nrpages (256), uncharges them and charges again: the
    // page is added, no SIGBUS, 255 blocks left.
    const v = checkedMetrics(`${GROWN_4M}A: read a+1M 1M
A: madvise a+1M 1M pageout
let free1 = f_bfree(t)
let shmem1 = meminfo.Shmem
A: catch SIGBUS
A: write a+2M 4K value=2
expect A.signal == none
let free2 = f_bfree(t)
let shmem2 = meminfo.Shmem
`);
    expect([v("free1"), v("shmem1")]).toEqual([0, M1]);
    expect([v("free2"), v("shmem2")]).toEqual([255, M1 + 4096]);
  });
});

describe("tmpfs nr_blocks= across swap and collapse", () => {
  it("a page written to swap keeps its block (shmem_writepage: shmem_recalc_inode(inode, 0, nr)); truncation frees it", () => {
    // the file's 256 dirty pages go to swap: nrpages falls, swapped rises, alloced stays, so
    // used_blocks stays 256 and the mount has room for 256 new pages only; swap-in moves a page
    // back without a charge (shmem_swapin_folio: shmem_recalc_inode(inode, 0, -nr)); ftruncate to
    // 0 frees the swap entries (shmem_free_swap) and every block comes back
    const v = checkedMetrics(`${GROWN_4M}A: write a 1M value=3
A: madvise a 1M pageout
let swapped = meminfo.SwapTotal - meminfo.SwapFree
let free1 = f_bfree(t)
A: read a
let free2 = f_bfree(t)
A: catch SIGBUS
A: write a+1M 1M value=4
let free3 = f_bfree(t)
A: write a+2M 4K value=5
expect A.signal == SIGBUS
A: r2 = ftruncate t 0
let free4 = f_bfree(t)
`);
    expect(v("swapped")).toBe(M1);
    expect([v("free1"), v("free2"), v("free3"), v("free4")]).toEqual([256, 256, 0, 512]);
  });

  it("MADV_COLLAPSE charges the holes it fills against the mount (collapse_file: shmem_charge); refused, it fails", () => {
    // page 0 of a 2M file holds data, the rest of the first 1M is the file's: 256 pages; the
    // collapse fills the 256 holes (nr_none) and charges them: 512 blocks. On a 300-block mount
    // shmem_charge is -ENOSPC: SCAN_FAIL, -EINVAL, nothing charged, no huge folio
    const run = (blocks: number) =>
      checkedMetrics(`machine ram=64M
file t size=1M fs=tmpfs nr_blocks=${blocks}
spawn A
A: r0 = ftruncate t 2M
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 4K value=1
A: r = madvise a 2M collapse
let free = f_bfree(t)
let shp = meminfo.ShmemHugePages
`);
    const ok = run(600);
    expect([ok("r"), ok("free"), ok("shp")]).toEqual([0, 600 - 512, 2 * M1]);
    const refused = run(300);
    expect([refused("r"), refused("free"), refused("shp")]).toEqual([-22, 300 - 256, 0]);
  });
});

describe("tmpfs nr_blocks= and hole punching", () => {
  it("a hole punched gives its pages' blocks back, those in swap too (shmem_undo_range, shmem_free_swap)", () => {
    // 512 of 512 blocks used; the first 1M goes to swap (its blocks stay charged); a hole over the
    // first 1.5M frees 256 swapped and 128 resident pages: 384 blocks back
    const v = checkedMetrics(`machine ram=64M swap=64M
file t size=2M fs=tmpfs nr_blocks=512
spawn A
A: a = mmap 2M prot=rw shared file=t
A: write a 2M value=3
A: madvise a 1M pageout
let free0 = f_bfree(t)
A: r = fallocate t 0 1536K keep_size punch_hole
let free1 = f_bfree(t)
let swapped = meminfo.SwapTotal - meminfo.SwapFree
`);
    expect([v("free0"), v("r"), v("free1"), v("swapped")]).toEqual([0, 0, 384, 0]);
  });
});
