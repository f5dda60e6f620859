/**
 * Shmem (shared anonymous memory) on the LRU: its pages sit on the anon
 * lists and reclaim swaps the dirty ones out through shmem_writeout, the
 * object keeping the swap entry; clean ones are dropped; a fault reads a
 * swapped page back (a major fault) in every process that shares it.
 * Linux: mm/vmscan.c shrink_folio_list, mm/shmem.c shmem_writeout, shmem_swapin_folio
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";

let last: string[] = [];

function run(src: string): (name: string) => number {
  const r = runScenario(src, { checkInvariants: true });
  last = r.statements.at(-1)?.output ?? [];
  expect(
    r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`),
  ).toEqual([]);
  return (name) => Number(BigInt(r.metrics[name]));
}

/**
 * 28M of anonymous memory written twice on a 32M machine: reclaim must make room. (The first
 * pass alone may leave the older shmem pages in: kswapd woken for the DMA zone, whose watermark a
 * fallback boosted, reclaims DMA pages only and moves the DMA32 pages it passes over to the
 * list's head, as isolate_lru_folios does for a reclaim_idx below them.)
 */
const pressure = `A: b = mmap 28M
A: write b 28M
A: write b 28M
let shmem_after = meminfo.Shmem
let swap_used = meminfo.SwapTotal - meminfo.SwapFree
let b_present = present(A, b 28M)
let s_present_a = present(A, s 4M)
A: munmap b 28M`;

describe("shmem reclaim", () => {
  it("written shared memory goes to swap under pressure and comes back, in both processes, by major faults", () => {
    const v = run(`machine ram=32M swap=64M
spawn A
A: s = mmap 4M shared at=0x50000000
A: write s 4M value=7
A: fork B
let swap0 = meminfo.SwapTotal - meminfo.SwapFree
${pressure}
let s_present_b = present(B, s 4M)
let rss_b = rss(B, s 4M)
let mj = B.maj_flt
let in0 = vmstat.pswpin
let ra0 = vmstat.swap_ra
B: read s 4M
let majors = B.maj_flt - mj
let swapins = vmstat.pswpin - in0
let ra = vmstat.swap_ra - ra0
expect byte(B, s+700p) == 7
expect byte(B, s+1023p) == 7
let swap_end = meminfo.SwapTotal - meminfo.SwapFree
let shmem_end = meminfo.Shmem
`);
    const shmemOut = 1024 - v("shmem_after") / 4096;
    expect(shmemOut).toBeGreaterThan(0);
    expect(v("s_present_a")).toBeLessThanOrEqual(1024 - shmemOut);
    expect(v("rss_b")).toBe(v("s_present_b") * 4096);
    // every page that left holds a swap slot: the anonymous ones, and the shmem ones (the object's entries)
    expect(v("swap_used") / 4096).toBe(7168 - v("b_present") + shmemOut);
    // B's read brings each swapped shmem page back once: by a major fault, or read ahead with
    // another's (shmem_swapin_cluster), then found in the swap cache by a minor fault; its slot is freed
    expect(v("swapins")).toBe(shmemOut);
    expect(v("majors") + v("ra")).toBe(shmemOut);
    expect(v("majors")).toBeLessThan(shmemOut);
    expect(v("swap_end")).toBe(v("swap0"));
    expect(v("shmem_end")).toBe(4 << 20);
  });

  it("clean shared memory (read, never written) is dropped, not swapped", () => {
    const v = run(`machine ram=32M swap=64M
spawn A
A: s = mmap 4M shared at=0x50000000
A: read s 4M
expect meminfo.Shmem == 4M
${pressure}
let mj = A.maj_flt
A: read s 4M
let majors = A.maj_flt - mj
expect byte(A, s+100p) == 0
`);
    expect(v("shmem_after")).toBeLessThan(4 << 20);
    // the swap holds the anonymous pages only
    expect(v("swap_used") / 4096).toBe(7168 - v("b_present"));
    expect(v("majors")).toBe(0);
  });

  it("MADV_PAGEOUT with swap writes a dirty shmem page out; without readahead reading it back is a major fault per page", () => {
    const v = run(`machine ram=64M swap=64M page_cluster=0
spawn A
A: t = mmap 64p shared at=0x50200000
A: write t 64p value=7
A: fork B
B: exit
A: ret = madvise t 64p pageout
let present = present(A, t 64p)
let shmem = meminfo.Shmem
let swapped = meminfo.SwapTotal - meminfo.SwapFree
let ma = A.maj_flt
A: read t+10p 20p
let majors = A.maj_flt - ma
expect byte(A, t+15p) == 7
show A smaps
`);
    expect([v("ret"), v("present"), v("shmem"), v("swapped") / 4096, v("majors")]).toEqual([0, 0, 0, 64, 20]);
    // smaps' Swap of a shared shmem mapping: the object's swapped pages in it (shmem_swap_usage)
    const at = last.findIndex((l) => l.startsWith("50200000-"));
    expect(last.slice(at).find((l) => l.startsWith("Swap:"))).toMatch(/^Swap:\s+176 kB$/);
  });

  it("a shmem swap-in reads the aligned block of 2^page_cluster slots into the swap cache: faults there are minor", () => {
    // MADV_PAGEOUT writes t's pages in order to slots 1..64 (slot = page + 1); the 8-slot blocks
    // are 8..15, 16..23, 24..31: pages 7..14, 15..22, 23..30
    const v = run(`machine ram=64M swap=64M
spawn A
A: t = mmap 64p shared at=0x50200000
A: write t 64p value=7
A: write t+12p 1p value=9
A: ret = madvise t 64p pageout
let ma = A.maj_flt
A: read t+12p 1p
let first_majors = A.maj_flt - ma
let cached1 = meminfo.SwapCached
let ra1 = vmstat.swap_ra
expect byte(A, t+12p) == 9
A: read t+10p 20p
let majors = A.maj_flt - ma
let cached2 = meminfo.SwapCached
let shmem2 = meminfo.Shmem
A: read t+7p 3p
let majors3 = A.maj_flt - ma
expect byte(A, t+8p) == 7
let cached3 = meminfo.SwapCached
A: munmap t 64p
let swap_end = meminfo.SwapTotal - meminfo.SwapFree
let cached_end = meminfo.SwapCached
`);
    expect(v("ret")).toBe(0);
    // the fault on page 12 (slot 13) reads slots 8..15: the other 7 wait in the swap cache
    expect([v("first_majors"), v("cached1") / 4096, v("ra1")]).toEqual([1, 7, 7]);
    // pages 10..29: two more blocks read by major faults; pages 7..9 and 30 are left cached
    expect([v("majors"), v("cached2") / 4096, v("shmem2") / 4096]).toEqual([3, 4, 20]);
    // pages 7..9 come from the swap cache: no major fault
    expect([v("majors3"), v("cached3") / 4096]).toEqual([3, 1]);
    // unmapping the object frees its slots and the page still cached for one
    expect([v("swap_end"), v("cached_end")]).toEqual([0, 0]);
  });

  it("reclaim frees a read-ahead shmem page and keeps its slot: the next fault reads it again", () => {
    const v = run(`machine ram=32M swap=64M
spawn A
A: t = mmap 64p shared at=0x50200000
A: write t 64p value=5
A: ret = madvise t 64p pageout
A: read t+12p 1p
let cached1 = meminfo.SwapCached
A: b = mmap 28M
A: write b 28M
A: munmap b 28M
let cached2 = meminfo.SwapCached
let ma = A.maj_flt
A: read t+9p 1p
let majors = A.maj_flt - ma
expect byte(A, t+9p) == 5
`);
    expect(v("cached1") / 4096).toBe(7);
    expect(v("cached2")).toBe(0);
    expect(v("majors")).toBe(1);
  });
  it("keeps what a process wrote through a mapping that a read fault made writable, after the mapping is gone (zap's folio_mark_dirty)", () => {
    // a read fault maps a shared writable page writable at once (shmem has no write-notify): the
    // later write sets only the PTE's dirty bit; shmdt / munmap must pass it to the folio, or
    // reclaim drops the folio as clean and the memory reads back zeros
    const tail = `let out0 = vmstat.pswpout
reclaim 64M
let out = vmstat.pswpout - out0`;
    const sysv = run(`machine ram=64M swap=64M
spawn A
A: id = shmget private 1M creat
A: s = shmat id
A: read s 1M
A: write s 1M value=0x5a
A: shmdt s
${tail}
A: t = shmat id
A: read t 1M
expect byte(A, t+1p) == 0x5a
expect byte(A, t+255p) == 0x5a
`);
    expect(sysv("out")).toBe(256);
    const anon = run(`machine ram=64M swap=64M
spawn A
A: s = mmap 1M shared
A: fork B
A: read s 1M
A: write s 1M value=0x5a
A: munmap s 1M
${tail}
B: read s 1M
expect byte(B, s+1p) == 0x5a
expect byte(B, s+255p) == 0x5a
`);
    expect(anon("out")).toBe(256);
  });
});
