/**
 * The tmpfs superblock shrinker (Linux 6.12 mm/shmem.c shmem_unused_huge_shrink,
 * shmem_unused_huge_scan/count; fs/super.c super_cache_scan): an inode whose
 * large folio reaches past i_size is on its superblock's shrinklist
 * (shmem_get_folio_gfp), and the shrinker splits the folio holding i_size,
 * freeing its pages past it. drop_caches 2 (drop_slab: shrink_slab at
 * priority 0) runs it.
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics, feedSession } from "../../workloads/scenario/testKit.ts";
import type { KernelImpl } from "../KernelImpl.ts";

const M1 = 1 << 20;

describe("shmem_unused_huge_shrink", () => {
  it("drop_caches 2 splits a huge tmpfs folio across i_size: its 256 pages past i_size freed, the rest unmapped", () => {
    // a 1M file (256 pages) on a huge=always mount, its one folio 0..511 PMD-mapped: on the
    //   shrinklist. drop_slab -> do_shrink_slab(priority 0): freeable 1 (the list's length; no dentry
    //   or inode on the LRUs), delta (1 >> 0) * 4 / DEFAULT_SEEKS = 2, total_scan min(0 + 2, 2) = 2:
    //   one call of nr_to_scan 2 (slabs_scanned 2); super_cache_scan: fs_objects mult_frac(2, 1, 2)
    //   = 1, shmem_unused_huge_scan of 2: the folio at i_size / 4K = 256, end 256 inside 0..512:
    //   split_folio (THP_SPLIT_PAGE; unmap_folio clears the PMD and maps nothing again), pages
    //   256..511 dropped (Shmem 1M, ShmemHugePages 0, their blocks uncharged: Committed_AS less
    //   1M); one folio split: drop_slab's loop stops (1 >> 0 is not above 1)
    const v = checkedMetrics(`machine ram=64M swap=16M
file t size=1M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 1M value=3
let shp0 = meminfo.ShmemHugePages
let spm0 = meminfo.ShmemPmdMapped
let c0 = meminfo.Committed_AS
drop_caches 2
let shmem = meminfo.Shmem
let shp = meminfo.ShmemHugePages
let spm = meminfo.ShmemPmdMapped
let split = vmstat.thp_split_page
let scanned = vmstat.slabs_scanned
let uncharged = c0 - meminfo.Committed_AS
let p = present(A, a 2M)
drop_caches 2
let split2 = vmstat.thp_split_page
let scanned2 = vmstat.slabs_scanned
A: catch SIGBUS
A: read a+1M
expect A.signal == SIGBUS
A: read a+4K
expect byte(A, a+4K) == 3
let p2 = present(A, a 2M)
`);
    expect([v("shp0"), v("spm0")]).toEqual([2 * M1, 2 * M1]);
    expect([v("shmem"), v("shp"), v("spm"), v("split"), v("scanned"), v("uncharged")]).toEqual([
      M1,
      0,
      0,
      1,
      2,
      M1,
    ]);
    // unmap_folio left nothing mapped; the read's fault maps the 16 pages of its fault-around window
    expect([v("p"), v("p2")]).toEqual([0, 16]);
    // the inode left the list: a second drop_caches finds nothing to count
    expect([v("split2"), v("scanned2")]).toEqual([1, 2]);
  });

  it("nothing to gain (i_size grown to the folio's end, or fallocate past it): the inode leaves the list unsplit", () => {
    for (const between of ["A: r = ftruncate t 2M", "A: r = fallocate t 1M 1M keep_size"]) {
      const v = checkedMetrics(`machine ram=64M swap=16M
file t size=1M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 1M value=3
${between}
drop_caches 2
let split = vmstat.thp_split_page
let scanned = vmstat.slabs_scanned
let shp = meminfo.ShmemHugePages
drop_caches 2
let scanned2 = vmstat.slabs_scanned
`);
      // the count was 1 (scanned 2), the folio kept whole, and then the list is empty
      expect([v("split"), v("scanned"), v("shp"), v("scanned2")], between).toEqual([0, 2, 2 * M1, 2]);
    }
  });

  it("a memfd's folio across i_size is on shm_mnt's shrinklist", () => {
    const v = checkedMetrics(`machine ram=64M swap=16M
thp shmem_enabled=always
spawn A
A: memfd m
A: r = ftruncate m 1M
A: a = mmap 2M prot=rw shared file=m at=0x40000000
A: write a 1M value=3
let shp0 = meminfo.ShmemHugePages
drop_caches 2
let shmem = meminfo.Shmem
let shp = meminfo.ShmemHugePages
let split = vmstat.thp_split_page
`);
    expect([v("shp0"), v("shp"), v("split"), v("shmem")]).toEqual([2 * M1, 0, 1, M1]);
  });
  it("a huge tmpfs file written whole (write(2)) is on the shrinklist: i_size grew after each folio was allocated", () => {
    // file t size=2M is written by write(2): shmem_write_begin -> shmem_get_folio_gfp(SGP_WRITE)
    //   allocates the folio 0..511 while i_size is still 0 (shmem_write_end grows it after the
    //   copy): DIV_ROUND_UP(0, 4K) = 0 < folio_next_index 512, so the inode joins the shrinklist.
    //   drop_caches 2: freeable 1, delta (1 >> 0) * 4 / 2 = 2, total_scan 2, one scan of 2
    //   (slabs_scanned 2); shmem_unused_huge_shrink: no folio at i_size / 4K = 512: the inode
    //   leaves the list, nothing split. The second drop_caches counts nothing (SHRINK_EMPTY).
    const v = checkedMetrics(`machine ram=64M swap=16M
file t size=2M fs=tmpfs huge=always
let shp0 = meminfo.ShmemHugePages
drop_caches 2
let scanned = vmstat.slabs_scanned
let split = vmstat.thp_split_page
let shp = meminfo.ShmemHugePages
drop_caches 2
let scanned2 = vmstat.slabs_scanned
`);
    expect([v("shp0"), v("scanned"), v("split"), v("shp"), v("scanned2")]).toEqual([2 * M1, 2, 0, 2 * M1, 2]);
  });
  it("a charge the commit limit refuses first splits the superblock's folios past i_size (shmem_alloc_and_add_folio)", () => {
    // memfd m (shm_mnt, shmem_enabled=always): i_size 1M, its folio 0..511 charged 512 pages and
    //   on shm_mnt's shrinklist. The commit limit then leaves no page of room, and a fault on a
    //   page of memfd n (a 4K mapping: order 0) is refused by shmem_inode_acct_blocks (-ENOSPC):
    //   shmem_unused_huge_shrink(sbinfo, NULL, 1) splits m's folio (THP_SPLIT_PAGE), its pages
    //   256..511 dropped and uncharged (shmem_uncharge), and the charge asked again succeeds:
    //   Committed_AS - 256 + 1, no SIGBUS.
    const s = feedSession(`machine ram=64M swap=0 overcommit=never
thp shmem_enabled=always
spawn A
A: memfd m
A: ftruncate m 1M
A: a = mmap 2M prot=rw shared file=m at=0x40000000
A: write a 1M value=3
A: memfd n
A: ftruncate n 1M
A: b = mmap 4K prot=rw shared file=n at=0x50000000
`);
    const k = s.kernel!;
    const A = s.processes.get("A")!;
    const committed = () => k.view.meminfo().Committed_AS / 4096;
    expect(k.view.meminfo().ShmemHugePages).toBe(2 * M1);
    // no page of room: committed + 1 > CommitLimit - the user reserve (root: no admin reserve)
    const reserve = Math.min(
      Math.floor(k.view.mm(A)!.totalVm / 32),
      k.sysctlOvercommit({}).user_reserve_kbytes / 4,
    );
    k.sysctlOvercommit({ overcommit_kbytes: (committed() + reserve) * 4 });
    const c0 = committed();
    const split0 = k.view.vmstat().thp_split_page;
    expect(s.feed("A: write 0x50000000 4K value=5", 90)!.output.join("\n")).not.toMatch(/SIGBUS/);
    expect(committed()).toBe(c0 - 256 + 1);
    expect(k.view.vmstat().thp_split_page - split0).toBe(1);
    expect([k.view.meminfo().ShmemHugePages, k.view.meminfo().Shmem]).toEqual([0, M1 + 4096]);
  });
  it("the tmpfs mounts' shrinkers run in mount order (shrinker_register at the mount), not in the order their inodes joined the shrinklists", () => {
    // a (empty: no folio, not on its list) is mounted before b (1M: its written folio past
    // i_size puts it on its list at once); a joins its list later (a folio past the 3M i_size).
    // shrink_slab walks shrinker_list in registration order: shm_mnt's, then a's, then b's
    const s = feedSession(`machine ram=64M swap=0
file a size=0 fs=tmpfs huge=always
file b size=1M fs=tmpfs huge=always
spawn A
A: r = ftruncate a 3M
A: x = mmap 4M prot=rw shared file=a at=0x40000000
A: write x+2M 4K value=1
`);
    const k = s.kernel as KernelImpl;
    const order = () => [...k.pageCache.shmemThp.sbs.keys()].map((f) => f?.name ?? "shm_mnt");
    expect(order()).toEqual(["shm_mnt", "a", "b"]);
    const lists = () => [...k.pageCache.shmemThp.sbs.values()].map((sb) => sb.inodes.length);
    expect(lists()).toEqual([0, 1, 1]);
    s.feed("drop_caches 2", 90);
    // a's folio across i_size split, and b's; the lists emptied
    expect(k.view.vmstat().thp_split_page).toBe(2);
    expect(lists()).toEqual([0, 0, 0]);
  });
});
