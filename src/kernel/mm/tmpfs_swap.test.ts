/**
 * tmpfs files are shmem: their pages are swap-backed folios on the anon
 * LRU, and reclaim writes them to swap (shmem_writeout), the file keeping
 * the swap entry; an access reads them back (shmem_swapin_folio: a major
 * fault), as read(2) and MADV_WILLNEED do.
 * Linux: mm/shmem.c shmem_writeout, shmem_get_folio_gfp, shmem_swapin_folio; mm/vmscan.c shrink_folio_list
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const run = checkedMetrics;

/** 28M of anonymous memory written twice on a 32M machine: reclaim must make room (shmem_swap.test.ts says why twice). */
const pressure = `A: b = mmap 28M
A: write b 28M
A: write b 28M
A: munmap b 28M`;

describe("tmpfs files under memory pressure", () => {
  it("reclaim swaps a tmpfs file's pages out; touching one again is a major fault with the file's bytes", () => {
    const v = run(`machine ram=32M swap=64M page_cluster=0
file shm size=2M fs=tmpfs
spawn A
A: t = mmap 2M prot=rw shared file=shm
A: read t 2M
let shmem0 = meminfo.Shmem
${pressure}
let shmem1 = meminfo.Shmem
let swap1 = meminfo.SwapTotal - meminfo.SwapFree
let present1 = present(A, t 2M)
let mj = A.maj_flt
let in0 = vmstat.pswpin
A: read t 2M
let majors = A.maj_flt - mj
let swapins = vmstat.pswpin - in0
expect byte(A, t+300p+5) == file_byte(shm, 1228805)
expect byte(A, t+511p+4095) == file_byte(shm, 2097151)
let shmem2 = meminfo.Shmem
let swap2 = meminfo.SwapTotal - meminfo.SwapFree
`);
    const out = (v("shmem0") - v("shmem1")) / 4096;
    expect(v("shmem0")).toBe(2 << 20);
    expect(out).toBeGreaterThan(0);
    // every page that left went to its own slot (the file's contents: dirty), and is unmapped
    expect(v("swap1") / 4096).toBe(out);
    expect(v("present1")).toBeLessThanOrEqual(512 - out);
    // page_cluster=0: one major fault and one read per page that left
    expect([v("majors"), v("swapins")]).toEqual([out, out]);
    expect([v("shmem2"), v("swap2")]).toEqual([2 << 20, 0]);
  });

  it("a page written through the mapping comes back with the write; read(2), ftruncate and MADV_WILLNEED see swap", () => {
    const v = run(`machine ram=32M swap=64M page_cluster=0
file shm size=2M fs=tmpfs
spawn A
A: t = mmap 2M prot=rw shared file=shm
A: write t+7p value=0x5a
${pressure}
let shmem1 = meminfo.Shmem
A: ret = madvise t 2M willneed
let cached = meminfo.SwapCached
let mj = A.maj_flt
A: read t 2M
let majors = A.maj_flt - mj
expect byte(A, t+7p) == 0x5a
A: munmap t 2M
${pressure}
let shmem4 = meminfo.Shmem
A: buf = mmap 2M
A: n = syscall read shm buf 2M
let shmem5 = meminfo.Shmem
expect byte(A, buf+7p) == 0x5a
expect byte(A, buf+400p+1) == file_byte(shm, 1638401)
A: munmap buf 2M
${pressure}
A: t = mmap 2M prot=rw shared file=shm
A: ftruncate shm 1M+100
let swap3 = meminfo.SwapTotal - meminfo.SwapFree
let shmem3 = meminfo.Shmem
A: read t+256p 1p
expect byte(A, t+256p+99) == file_byte(shm, 1048675)
expect byte(A, t+256p+100) == 0
`);
    const out = 512 - v("shmem1") / 4096;
    expect(out).toBeGreaterThan(0);
    // MADV_WILLNEED read every swapped page into the swap cache: the faults are minor
    expect([v("ret"), v("cached") / 4096, v("majors")]).toEqual([0, out, 0]);
    // read(2) reads the swapped pages back into the file (shmem_file_read_iter)
    expect(v("shmem4")).toBeLessThan(2 << 20);
    expect([v("n"), v("shmem5")]).toEqual([2 << 20, 2 << 20]);
    // ftruncate freed the swap entries past the end (and read back the page holding it)
    expect(v("swap3") / 4096 + v("shmem3") / 4096).toBe(257);
  });
});
