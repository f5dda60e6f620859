/**
 * /proc/vmstat's zone and node items (proc.ts nodeStats): the counters
 * /proc/meminfo prints, in pages, huge pages counted in huge pages, the
 * swap cache inside nr_file_pages.
 */
import { describe, expect, it } from "vitest";
import { expectationFailures, feedSession } from "../../workloads/scenario/testKit.ts";

describe("vmstat's node items", () => {
  it("count anonymous, transparent huge, file, shmem, dirty and swap-cache pages as meminfo does", () => {
    expect(
      expectationFailures(`
machine ram=256M swap=64M thp=always
file data size=64K
spawn A
A: a = mmap 4M
A: write a+2M 4K
expect vmstat.nr_anon_transparent_hugepages == 1
expect vmstat.nr_anon_pages >= 512
A: s = mmap 16K shared
A: write s 16K
expect vmstat.nr_shmem == 4
A: f = mmap 64K prot=rw shared file=data
A: write f 8K
expect vmstat.nr_dirty == 2
expect vmstat.nr_zone_write_pending == vmstat.nr_dirty + vmstat.nr_writeback
expect vmstat.nr_zone_inactive_anon == vmstat.nr_inactive_anon
expect vmstat.nr_zone_active_file == vmstat.nr_active_file
A: b = mmap 64K
A: write b 64K
A: madvise b 64K pageout
A: read b
expect vmstat.nr_swapcached > 0
`),
    ).toEqual([]);
  });

  it("agree with /proc/meminfo's fields, in pages, after every statement of a run", () => {
    const lines = `
machine ram=256M swap=64M thp=always
file data size=64K
spawn A
A: a = mmap 4M
A: write a+2M 4K
A: f = mmap 64K prot=rw shared file=data
A: write f 8K
A: b = mmap 64K
A: write b 64K
A: madvise b 64K pageout
A: read b
A: munmap a 4M`
      .trim()
      .split("\n");
    let seen = 0;
    for (let n = 1; n <= lines.length; n++) {
      const k = feedSession(lines.slice(0, n).join("\n")).kernel;
      if (k === null) continue;
      const m = k.view.meminfo();
      const v = k.view.vmstat();
      const at = `after line ${n}`;
      expect(v.nr_anon_pages * 4096, at).toBe(m.AnonPages);
      expect(v.nr_mapped * 4096, at).toBe(m.Mapped);
      expect(v.nr_file_pages * 4096, at).toBe(m.Cached + m.SwapCached + m.Buffers);
      expect(v.nr_swapcached * 4096, at).toBe(m.SwapCached);
      expect(v.nr_shmem * 4096, at).toBe(m.Shmem);
      expect(v.nr_anon_transparent_hugepages * 2 ** 21, at).toBe(m.AnonHugePages);
      expect(v.nr_page_table_pages * 4096, at).toBe(m.PageTables);
      seen++;
    }
    expect(seen).toBe(lines.length);
  });
});
