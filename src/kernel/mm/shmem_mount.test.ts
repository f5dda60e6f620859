/**
 * A tmpfs mount as shmem_fill_super makes it (Linux 6.12 mm/shmem.c): without size= its
 * max_blocks is shmem_default_max_blocks(), totalram_pages() / 2, and without nr_inodes= its
 * max_inodes is shmem_default_max_inodes(), min(totalram - totalhigh, totalram / 2); the root
 * directory takes an inode at mount, each file another (shmem_reserve_inode: -ENOSPC when
 * free_ispace has no BOGO_INODE_SIZE left); statfs shows f_files and f_ffree (shmem_statfs).
 * Files naming one `mount=` share its superblock: one max_blocks and used_blocks for all.
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics, scenarioError } from "../../workloads/scenario/testKit.ts";

describe("tmpfs mount defaults (shmem_default_max_blocks, shmem_default_max_inodes)", () => {
  it("without size= a mount holds half of RAM: f_blocks, and fallocate past it is -ENOSPC", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file t size=1M fs=tmpfs
spawn A
let total = meminfo.MemTotal
let blocks = f_blocks(t)
let free = f_bfree(t)
let files = f_files(t)
let ffree = f_ffree(t)
A: f1 = fallocate t 0 40M
A: f2 = fallocate t 0 8M
let free2 = f_bfree(t)
`);
    const totalram = v("total") / 4096; // MemTotal: totalram_pages()
    const half = Math.floor(totalram / 2);
    expect(v("blocks")).toBe(half);
    expect(v("free")).toBe(half - 256);
    // x86-64 has no highmem: min(totalram, totalram / 2); the root and t took two
    expect([v("files"), v("ffree")]).toEqual([half, half - 2]);
    // 10240 pages > max_blocks: -ENOSPC at once (shmem_fallocate); 2048 fit
    expect([v("f1"), v("f2")]).toEqual([-28, 0]);
    expect(v("free2")).toBe(half - 2048);
  });

  it("a tmpfs file larger than half of RAM is refused at creation; nr_blocks=0 lifts the limit", () => {
    expect(scenarioError("machine ram=64M swap=0\nfile t size=33M fs=tmpfs\n")).toMatch(
      /^s\.vm:2:1: .*file t: 8448 pages do not fit the mount's \d+ free blocks of nr_blocks=\d+ \(the default: half of RAM, shmem_default_max_blocks\)/,
    );
    const v = checkedMetrics(
      "machine ram=64M swap=0\nfile t size=33M fs=tmpfs nr_blocks=0\nlet b = f_blocks(t)\n",
    );
    expect(v("b")).toBe(0);
  });

  it("i386 with highmem: nr_inodes defaults to the lowmem pages when they are fewer than half of RAM", () => {
    const v = checkedMetrics(`machine arch=i386 ram=2G swap=0
file t size=4K fs=tmpfs
let total = meminfo.MemTotal
let high = meminfo.HighTotal
let files = f_files(t)
let blocks = f_blocks(t)
`);
    const totalram = v("total") / 4096;
    const low = totalram - v("high") / 4096;
    expect(low).toBeLessThan(totalram / 2); // the case that tells the two apart
    expect(v("files")).toBe(low);
    expect(v("blocks")).toBe(Math.floor(totalram / 2));
  });

  it("nr_inodes=: the root takes one, each file another; a file past them is -ENOSPC", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file a size=4K fs=tmpfs mount=m nr_inodes=3
let f0 = f_ffree(a)
file b size=4K fs=tmpfs mount=m
let files = f_files(b)
let f1 = f_ffree(a)
`);
    expect([v("files"), v("f0"), v("f1")]).toEqual([3, 1, 0]);
    expect(
      scenarioError(
        "machine ram=64M swap=0\nfile a size=4K fs=tmpfs mount=m nr_inodes=2\nfile b size=4K fs=tmpfs mount=m\n",
      ),
    ).toMatch(/^s\.vm:3:1: .*file b: the mount's nr_inodes=2 are all used \(shmem_reserve_inode: -ENOSPC\)/);
  });
});

describe("shmem_parse_one's bounds on a 32-bit kernel (BITS_PER_LONG 32)", () => {
  it("nr_inodes= above ULONG_MAX / BOGO_INODE_SIZE and nr_blocks= above LONG_MAX are bad values", () => {
    expect(scenarioError("machine arch=i386 ram=64M\nfile t size=4K fs=tmpfs nr_inodes=4194304\n")).toMatch(
      /^s\.vm:2:1: .*tmpfs: Bad value for 'nr_inodes'/,
    );
    expect(
      scenarioError("machine arch=i386 ram=64M\nfile t size=4K fs=tmpfs nr_blocks=2147483648\n"),
    ).toMatch(/^s\.vm:2:1: .*tmpfs: Bad value for 'nr_blocks'/);
    // the largest values are good, and on x86-64 far larger ones
    const v = checkedMetrics(
      "machine arch=i386 ram=64M\nfile t size=4K fs=tmpfs nr_inodes=4194303 nr_blocks=2147483647\nlet f = f_files(t)\n",
    );
    expect(v("f")).toBe(4194303);
    const w = checkedMetrics(
      "machine ram=64M\nfile t size=4K fs=tmpfs nr_inodes=4194304\nlet f = f_files(t)\n",
    );
    expect(w("f")).toBe(4194304);
  });
});

describe("files sharing a tmpfs mount (mount=NAME)", () => {
  it("share max_blocks and used_blocks: one file's pages leave the other none; truncating it gives them back", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file a size=1M fs=tmpfs mount=m nr_blocks=512
file b size=1M fs=tmpfs mount=m
file c size=1M fs=tmpfs nr_blocks=512
spawn A
let free0 = f_bfree(b)
let freeA = f_bfree(a)
let freeC = f_bfree(c)
A: buf = mmap 64K prot=rw
A: write buf 64K value=7
A: r = ftruncate b 2M
A: w1 = syscall write b buf 4K offset=1M
A: r2 = ftruncate a 0
let free1 = f_bfree(b)
A: w2 = syscall write b buf 4K offset=1M
let free2 = f_bfree(a)
`);
    // a and b took 256 blocks each of m's 512; c is on a mount of its own
    expect([v("free0"), v("freeA"), v("freeC")]).toEqual([0, 0, 256]);
    // b's page 256 is refused its block by a's pages (shmem_inode_acct_blocks: -ENOSPC)
    expect(v("w1")).toBe(-28);
    // a's 256 blocks given back to the mount (shmem_recalc_inode): b's write gets one
    expect([v("free1"), v("w2"), v("free2")]).toEqual([256, 4096, 255]);
  });

  it("the mount's options belong to its first file; mount= and nr_inodes= are tmpfs's", () => {
    expect(
      scenarioError(
        "machine ram=64M\nfile a size=4K fs=tmpfs mount=m nr_blocks=10\nfile b size=4K fs=tmpfs mount=m nr_blocks=20\n",
      ),
    ).toMatch(
      /^s\.vm:3:1: .*file b: mount m exists: its huge=, nr_blocks= and nr_inodes= were set when it was made/,
    );
    expect(scenarioError("machine ram=64M\nfile a size=4K mount=m\n")).toBe(
      "s.vm:2:22: mount= names a tmpfs mount: add fs=tmpfs",
    );
    expect(scenarioError("machine ram=64M\nfile a size=4K nr_inodes=4\n")).toBe(
      "s.vm:2:26: nr_inodes= is a tmpfs mount option: add fs=tmpfs",
    );
  });

  it("one shrinklist: a full mount's allocation splits the other files' huge folios past i_size", () => {
    // a and b: a 2M folio each, 256 pages of it past i_size, both on m's shrinklist; c's block is
    // refused (used_blocks 1024 of 1024), so shmem_alloc_and_add_folio runs
    // shmem_unused_huge_shrink on the superblock: a's and b's tails split off and given back
    const v = checkedMetrics(`machine ram=64M swap=0
file a size=1M fs=tmpfs mount=m huge=always nr_blocks=1024
file b size=1M fs=tmpfs mount=m
let free0 = f_bfree(a)
let s0 = vmstat.thp_split_page
file c size=4K fs=tmpfs mount=m
let s1 = vmstat.thp_split_page
let ca = cached(a)
`);
    expect([v("free0"), v("s0")]).toEqual([0, 0]);
    expect([v("s1"), v("ca")]).toEqual([2, 256]);
  });

  it("a huge=always mount gives its later files PMD-size folios too", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file a size=2M fs=tmpfs mount=h huge=always
file b size=2M fs=tmpfs mount=h
let thp = vmstat.thp_file_alloc
`);
    expect(v("thp")).toBe(2);
  });
});
