/**
 * fallocate(2) and MADV_REMOVE on tmpfs / memfd files, shared anonymous
 * memory and disk files: allocation charged to Committed_AS and Shmem,
 * holes unmapped (private COW copies stay), freed, uncharged, read back as
 * zeros, partial pages zeroed in place; vfs_fallocate's and
 * madvise_remove's errors. (Invariants, RSS counters and LRU included, are
 * checked after every statement: checkedMetrics.)
 * Linux: mm/shmem.c shmem_fallocate; fs/open.c vfs_fallocate; mm/madvise.c madvise_remove
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const run = checkedMetrics;
const M = 1 << 20;

describe("fallocate on a memfd (shmem_fallocate)", () => {
  it("mode 0 allocates and grows i_size, KEEP_SIZE allocates past it, both charged; a punched hole is unmapped, freed, uncharged and reads zeros", () => {
    const v = run(`machine ram=128M swap=0
spawn A
A: memfd buf
let c0 = meminfo.Committed_AS
let s0 = meminfo.Shmem
A: r1 = fallocate buf 0 16M
let c1 = meminfo.Committed_AS
let s1 = meminfo.Shmem
let n1 = cached(buf)
A: r2 = fallocate buf 16M 4M keep_size
let c2 = meminfo.Committed_AS
let n2 = cached(buf)
A: m = mmap 16M shared file=buf
A: write m 16M value=7
A: write m+4M+96 1 value=7
A: write m+12M+128 1 value=7
A: p = mmap 16M private file=buf
A: write p+8M 4K value=9
let rss1 = rss(A, m 16M)
let c2p = meminfo.Committed_AS
A: h = fallocate buf 4M+96 8M keep_size punch_hole
let rss2 = rss(A, m 16M)
let c3 = meminfo.Committed_AS
let s3 = meminfo.Shmem
let n3 = cached(buf)
A: read m 16M
let rss3 = rss(A, m 16M)
let c4 = meminfo.Committed_AS
let z = byte(A, m+8M)
let keep = byte(A, m+4M)
let cut = byte(A, m+4M+96)
let tail = byte(A, m+12M)
let after = byte(A, m+12M+128)
let cow = byte(A, p+8M)
`);
    expect(v("r1")).toBe(0);
    expect(v("c1") - v("c0")).toBe(16 * M);
    expect(v("s1") - v("s0")).toBe(16 * M);
    expect(v("n1")).toBe(4096);
    expect(v("r2")).toBe(0);
    expect(v("n2")).toBe(5120);
    expect(v("c2") - v("c1")).toBe(4 * M);
    expect(v("h")).toBe(0);
    // the whole pages [4M+4K, 12M) go: 2047 pages, from the mapping and the cache
    expect(v("rss1") - v("rss2")).toBe(2047);
    expect(v("n2") - v("n3")).toBe(2047);
    expect(v("c2p") - v("c3")).toBe(2047 * 4096);
    expect(v("s1") - v("s3")).toBe(2047 * 4096 - 4 * M);
    expect(v("z")).toBe(0);
    expect(v("keep")).toBe(7);
    expect(v("cut")).toBe(0);
    expect(v("tail")).toBe(0);
    expect(v("after")).toBe(7);
    expect(v("cow"), "a private COW copy stays (even_cows=0)").toBe(9);
    // reading the hole back faults in zero pages, charged again
    expect(v("rss3")).toBe(4096);
    expect(v("c4")).toBe(v("c2p"));
  });

  it("vfs_fallocate's and shmem_fallocate's errors", () => {
    const v = run(`machine ram=64M swap=0 overcommit=never
spawn A
A: memfd buf allow_sealing
A: e1 = fallocate buf 0 4K punch_hole
A: e3 = fallocate buf 0 0
A: e4 = fallocate buf 1T 4K
A: e5 = fallocate buf 0 200M
let c = meminfo.Committed_AS
let n = cached(buf)
A: ok = fallocate buf 0 1M
A: seal buf grow
A: e6 = fallocate buf 0 2M keep_size
A: ok2 = fallocate buf 0 1M keep_size
A: seal buf write
A: e7 = fallocate buf 0 4K keep_size punch_hole
`);
    expect(v("e1")).toBe(-95);
    expect(v("e3")).toBe(-22);
    expect(v("e4")).toBe(-27);
    expect(v("e5"), "the commit limit refuses the pages: -ENOSPC, undone").toBe(-28);
    expect(v("n")).toBe(0);
    expect(v("ok")).toBe(0);
    expect(v("e6"), "F_SEAL_GROW, KEEP_SIZE or not").toBe(-1);
    expect(v("ok2")).toBe(0);
    expect(v("e7"), "F_SEAL_WRITE forbids a hole").toBe(-1);
  });
});

describe("MADV_REMOVE (madvise_remove)", () => {
  it("punches the file range under a shared writable mapping; -EINVAL private anonymous or locked, -EACCES private file", () => {
    const v = run(`machine ram=128M swap=0
spawn A
A: memfd buf
A: ftruncate buf 8M
A: m = mmap 8M shared file=buf
A: write m 8M value=5
let c0 = meminfo.Committed_AS
A: r = madvise m+1M 2M remove
let c1 = meminfo.Committed_AS
let rss = rss(A, m 8M)
let n = cached(buf)
A: read m 8M
let z = byte(A, m+1M)
A: s = mmap 4M shared anon
A: write s 4M value=6
let sh0 = meminfo.Shmem
A: rs = madvise s 4M remove
let sh1 = meminfo.Shmem
A: read s 4K
let zs = byte(A, s)
A: a = mmap 4M
A: ea = madvise a 4M remove
A: p = mmap 4M private file=buf
A: ep = madvise p 4M remove
A: l = mmap 4M shared file=buf locked
A: el = madvise l 4M remove
`);
    expect(v("r")).toBe(0);
    expect(v("c0") - v("c1")).toBe(2 * M);
    expect(v("rss")).toBe(1536);
    expect(v("n")).toBe(1536);
    expect(v("z")).toBe(0);
    expect(v("rs")).toBe(0);
    expect(v("sh0") - v("sh1")).toBe(4 * M);
    expect(v("zs")).toBe(0);
    expect(v("ea")).toBe(-22);
    expect(v("ep")).toBe(-13);
    expect(v("el")).toBe(-22);
  });
});

describe("MADV_REMOVE on HugeTLB memory (hugetlbfs_punch_hole)", () => {
  it("punches MAP_HUGETLB and SHM_HUGETLB memory: partial huge pages zeroed, whole ones freed; a reservation with no folio kept; -EACCES private", () => {
    const v = run(`machine ram=256M swap=0
sysctl nr_hugepages=4
spawn A
A: s = mmap 6M hugetlb shared
A: write s 2M value=5
A: write s+4M 2M value=6
let rsvd0 = meminfo.HugePages_Rsvd
A: r1 = madvise s+1M 4M remove
let free1 = meminfo.HugePages_Free
let rsvd1 = meminfo.HugePages_Rsvd
let m1 = hugetlb(A, s 6M)
let keep = byte(A, s+1M-4K)
let z1 = byte(A, s+1M)
let z2 = byte(A, s+5M-4K)
let keep2 = byte(A, s+5M)
A: r2 = madvise s 6M remove
let free2 = meminfo.HugePages_Free
let rsvd2 = meminfo.HugePages_Rsvd
let m2 = hugetlb(A, s 6M)
A: read s 6M
let free3 = meminfo.HugePages_Free
let rsvd3 = meminfo.HugePages_Rsvd
let z3 = byte(A, s)
A: munmap s 6M
A: id = shmget private 2M hugetlb creat
A: g = shmat id
A: write g 2M value=7
A: rg = madvise g 2M remove
let free4 = meminfo.HugePages_Free
let mg = hugetlb(A, g 2M)
A: read g 1
let zg = byte(A, g)
A: p = mmap 2M hugetlb
A: rp = madvise p 2M remove
`);
    expect(v("rsvd0"), "the middle huge page: reserved, not instantiated").toBe(1);
    expect(v("r1")).toBe(0);
    expect(v("free1"), "no whole huge page of the hole held a folio").toBe(2);
    expect(v("rsvd1")).toBe(1);
    expect(v("m1")).toBe(1024);
    expect(v("keep")).toBe(5);
    expect(v("z1")).toBe(0);
    expect(v("z2")).toBe(0);
    expect(v("keep2")).toBe(6);
    expect(v("r2")).toBe(0);
    expect(v("free2")).toBe(4);
    expect(v("rsvd2"), "remove_inode_hugepages unreserves folio by folio").toBe(1);
    expect(v("m2")).toBe(0);
    expect(v("free3")).toBe(1);
    expect(v("rsvd3")).toBe(0);
    expect(v("z3")).toBe(0);
    expect(v("rg")).toBe(0);
    expect(v("free4")).toBe(4);
    expect(v("mg")).toBe(0);
    expect(v("zg")).toBe(0);
    expect(v("rp")).toBe(-13);
  });
});

describe("fallocate on a disk file", () => {
  it("PUNCH_HOLE drops and unmaps the cached pages; the hole reads zeros; mode 0 past EOF grows i_size", () => {
    const v = run(`machine ram=128M swap=0
file data size=4M cached
spawn A
A: m = mmap 4M shared file=data
A: read m 4M
let n0 = cached(data)
let b0 = file_byte(data, 1M+8K)
A: h = fallocate data 1M 1M keep_size punch_hole
let n1 = cached(data)
let rss = rss(A, m 4M)
A: read m 4M
let z = byte(A, m+1M+8K)
let b1 = file_byte(data, 1M+8K)
A: g = fallocate data 0 8M
A: k = fallocate data 0 16M keep_size
`);
    expect(v("n0") - v("n1")).toBe(256);
    expect(v("rss")).toBe(768);
    expect(v("z")).toBe(0);
    expect(v("b1")).toBe(0);
    expect(v("b0")).not.toBe(0);
    expect(v("g")).toBe(0);
    expect(v("k")).toBe(0);
  });
});

describe("fallocate on a MFD_HUGETLB memfd (hugetlbfs_fallocate)", () => {
  it("allocates whole huge pages from the pool, consuming the inode's reservations; -ENOSPC when short (keeping those it got); a hole drops whole pages and zeroes partial ones", () => {
    const v = run(`machine ram=256M swap=0
spawn A
sysctl nr_hugepages=4
A: memfd h hugetlb
A: ftruncate h 4M
A: s = mmap 4M file=h shared
let rsvd0 = meminfo.HugePages_Rsvd
A: r1 = fallocate h 1M 2M
let free1 = meminfo.HugePages_Free
let rsvd1 = meminfo.HugePages_Rsvd
A: r2 = fallocate h 4M 2M keep_size
let free2 = meminfo.HugePages_Free
A: r3 = fallocate h 6M 6M
let free3 = meminfo.HugePages_Free
A: write s+3M 1 value=0x11
A: write s+1M 1 value=0x22
A: write s+2M+4K 1 value=0x33
A: p1 = fallocate h 1M 1M+8K keep_size punch_hole
let partial = byte(A, s+1M)
let partial2 = byte(A, s+3M)
let zeroed = byte(A, s+2M+4K)
let free4 = meminfo.HugePages_Free
A: p2 = fallocate h 2M 2M keep_size punch_hole
let free5 = meminfo.HugePages_Free
let rsvd5 = meminfo.HugePages_Rsvd
let mapped = hugetlb(A, s+2M 2M)
`);
    expect(v("rsvd0")).toBe(2);
    expect(v("r1")).toBe(0);
    // [1M, 3M) rounds out to both huge pages, taken with the mapping's reservations
    expect(v("free1")).toBe(2);
    expect(v("rsvd1")).toBe(0);
    expect(v("r2")).toBe(0);
    expect(v("free2")).toBe(1);
    expect(v("r3"), "three pages asked, one free").toBe(-28);
    expect(v("free3")).toBe(0);
    expect(v("p1")).toBe(0);
    expect(v("partial")).toBe(0);
    expect(v("partial2")).toBe(0x11);
    expect(v("zeroed")).toBe(0);
    expect(v("free4"), "no whole huge page in [1M, 2M+8K)").toBe(0);
    expect(v("p2")).toBe(0);
    expect(v("free5")).toBe(1);
    expect(v("rsvd5")).toBe(0);
    expect(v("mapped")).toBe(0);
  });
});

describe("a hole in a tmpfs file partly in swap", () => {
  it("frees the swap entries of the hole, reads a swapped partial page back to zero its part", () => {
    const v = run(`machine ram=32M swap=64M page_cluster=0
spawn A
A: memfd buf
A: ftruncate buf 4M
A: u = mmap 4M
A: write u 4M value=1
A: n = syscall write buf u 4M offset=0
A: munmap u 4M
A: b = mmap 28M
A: write b 28M
let inswap = meminfo.SwapTotal - meminfo.SwapFree
let c0 = meminfo.Committed_AS
A: h = fallocate buf 8K+16 4M-8K-16 keep_size punch_hole
let left = meminfo.SwapTotal - meminfo.SwapFree
let c1 = meminfo.Committed_AS
A: z = syscall read buf b 8 offset=8K+16
let zb = byte(A, b)
A: y = syscall read buf b 8 offset=8K
let yb = byte(A, b)
`);
    expect(v("inswap")).toBeGreaterThan(0);
    expect(v("h")).toBe(0);
    // the hole's pages, resident or in swap, are uncharged: all but pages 0 .. 2
    expect(v("c0") - v("c1")).toBe(1021 * 4096);
    expect(v("left")).toBeLessThan(v("inswap"));
    expect(v("z")).toBe(8);
    expect(v("zb")).toBe(0);
    expect(v("y")).toBe(8);
    expect(v("yb")).toBe(1);
  });
});

describe("a hole under an mlocked shared mapping", () => {
  it("fallocate (not MADV_REMOVE, which refuses VM_LOCKED) unmaps and munlocks the pages it frees", () => {
    const v = run(`machine ram=64M swap=0
spawn A
A: memfd buf
A: ftruncate buf 1M
A: m = mmap 1M shared file=buf locked
let u0 = meminfo.Unevictable
let l0 = meminfo.Mlocked
A: e = madvise m 64K remove
A: h = fallocate buf 0 512K keep_size punch_hole
let u1 = meminfo.Unevictable
let l1 = meminfo.Mlocked
let rss = rss(A, m 1M)
`);
    expect(v("e")).toBe(-22);
    expect(v("h")).toBe(0);
    expect(v("l0")).toBe(M);
    expect(v("l0") - v("l1")).toBe(512 * 1024);
    expect(v("u0") - v("u1")).toBe(512 * 1024);
    expect(v("rss")).toBe(128);
  });
});
