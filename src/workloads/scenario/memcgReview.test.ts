/**
 * The memory cgroup's files and readahead's gfp against Linux 6.12, each figure derived by hand:
 * memory.stat's `file` is the memcg's NR_FILE_PAGES, which the swap cache is not in
 * (add_to_swap_cache counts NR_FILE_PAGES on the node only, __node_stat_mod_folio; the memcg's
 * NR_SWAPCACHE is memory.stat's `swapcached`); memory.events' `oom_kill` counts every OOM kill of
 * a task in the cgroup, the whole machine's OOM's too (__oom_kill_process:
 * memcg_memory_event_mm(mm, MEMCG_OOM_KILL)); readahead allocates its folios with
 * readahead_gfp_mask (page_cache_ra_unbounded: filemap_alloc_folio(gfp_mask, ...), __GFP_NORETRY),
 * not only charges them with it; read(2) of a tmpfs hole (shmem_file_read_iter's
 * shmem_get_folio(SGP_READ)) allocates and charges nothing, it copies ZERO_PAGE(0).
 */
import { describe, expect, it, vi } from "vitest";
import { KernelImpl as Kernel } from "../../kernel/KernelImpl.ts";
import { Gfp } from "../../kernel/mm/gfp.ts";
import { PageKind } from "../../kernel/mm/PageDesc.ts";
import { mmapArgs } from "../../kernel/mm/userMm.ts";
import { MEMCG_8M, runHolds } from "./testKit.ts";

describe("memcg files and readahead's gfp (6.12)", () => {
  it("memory.stat: the swap cache is in swapcached, not in file (NR_FILE_PAGES is the node's there)", () => {
    // 256 anonymous pages paged out (MADV_PAGEOUT: written to swap, dropped from the swap cache);
    // reading the first back brings it and its swap readahead's pages into the swap cache: no
    // page-cache or shmem page anywhere, so memory.stat file is 0 whatever SwapCached is
    const r = runHolds([
      "machine ram=64M memory_max=8M swap=64M overcommit=always",
      "spawn A",
      "A: a = mmap 1M",
      "A: write a 1M value=1",
      "A: madvise a 1M pageout",
      "A: read a 4K",
      "expect meminfo.Cached == 0",
      "expect meminfo.SwapCached > 0",
      "show memcg",
    ]);
    const out = r.statements[8].output;
    expect(out).toContain("memory.stat file 0");
    const sc = r.statements[8].output.find((l) => l.startsWith("memory.stat swapcached "));
    expect(sc).toBeDefined();
    expect(Number(sc!.split(" ")[2])).toBeGreaterThan(0);
  });

  it("memory.events oom_kill counts the whole machine's OOM kill of a task in the cgroup", () => {
    // 32M of RAM, memory.max 1G: A's 64M of anonymous memory, no swap, ends in the machine's OOM
    // (not the cgroup's: memory.events max and oom stay 0), which kills A: oom_kill 1
    const r = runHolds([
      "machine ram=32M memory_max=1G overcommit=always",
      "spawn A",
      "A: a = mmap 64M",
      "A: write a 64M value=1",
      "expect oom_kills == 1",
      "expect vmstat.memcg_oom_kills == 0",
      "show memcg",
    ]);
    const out = r.statements[6].output;
    expect(out).toContain("memory.events max 0");
    expect(out).toContain("memory.events oom 0");
    expect(out).toContain("memory.events oom_kill 1");
  });

  it("read(2)'s readahead allocates each 4K folio with readahead_gfp_mask (__GFP_NORETRY | __GFP_NOWARN)", () => {
    // page_cache_sync_ra of a 4K read at 0: get_init_ra_size(1, 32) = 4 folios, each
    // filemap_alloc_folio(readahead_gfp_mask(mapping)); filemap_create_folio is not reached
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const f = k.createFile("f", 1 << 20, "disk", false, 4096);
    const buf = k.mmap(t, mmapArgs(1 << 20, {}));
    k.fileIo(0, f, buf, 4096, true); // the buffer's page first (its own allocation)
    const gfps: number[] = [];
    const alloc = k.buddy.alloc.bind(k.buddy);
    const spy = vi.spyOn(k.buddy, "alloc").mockImplementation((order, gfp, kind) => {
      if (kind === PageKind.PageCache) gfps.push(gfp);
      return alloc(order, gfp, kind);
    });
    const g = k.createFile("g", 1 << 20, "disk", false, 4096);
    expect(k.fileIo(0, g, buf, 4096, false)).toBe(4096);
    spy.mockRestore();
    expect(gfps.length).toBe(4);
    for (const gfp of gfps) expect(gfp & (Gfp.NORETRY | Gfp.NOWARN)).toBe(Gfp.NORETRY | Gfp.NOWARN);
  });

  it("read(2) of a tmpfs hole charges nothing: shmem_get_folio(SGP_READ) leaves it a hole, zeros copied", () => {
    // A's buffer: 256 pages, its 3 page tables and A's PGD charged (memory.current 1M + 16K); the
    // memfd grown to 1M by ftruncate holds no page; reading all of it copies 1M of zeros over the
    // buffer and adds no page: 1M + 16K still
    const r = runHolds([
      MEMCG_8M,
      "spawn A",
      "A: buf = mmap 1M",
      "A: write buf 1M value=1",
      "A: memfd M",
      "A: ftruncate M 1M",
      "A: n = syscall read M buf 1M",
      "expect n == 1M",
      "expect byte(A, buf) == 0",
      "expect byte(A, buf + 1M - 1) == 0",
      "expect meminfo.Shmem == 0",
      "expect meminfo.Cached == 0",
      "show memcg",
    ]);
    expect(r.statements[12].output).toContain(`memory.current ${(256 + 4) * 4096}`);
    expect(r.statements[12].output).toContain("memory.stat shmem 0");
  });

  it("read(2) of a tmpfs page in swap whose swap-in charge is refused: -ENOMEM, the reader killed", () => {
    // T's 256 pages in swap (MADV_PAGEOUT), B's 2048 locked pages at the limit, nothing to reclaim:
    // shmem_swapin_folio's mem_cgroup_swapin_charge_folio runs try_charge_memcg to mem_cgroup_oom,
    // which chooses B itself (SIGKILL pending): the charge fails, shmem_file_read_iter returns
    // -ENOMEM (nothing copied) and B dies on its way back (before: a ModelBug in fileIo)
    const r = runHolds([
      "machine ram=64M memory_max=8M swap=64M overcommit=always",
      "file T size=1M fs=tmpfs",
      "spawn B",
      "B: m = mmap 1M file=T shared",
      "B: write m 1M value=5",
      "B: madvise m 1M pageout",
      "B: munmap m 1M",
      "expect meminfo.Shmem == 0",
      "B: buf = mmap 8M locked",
      "B: n = syscall read T buf 4K",
      "expect n == -12",
      "expect B.alive == 0",
      "expect oom_kills == 1",
      "expect memory.events.oom_kill == 1",
    ]);
    expect(r.passed).toBe(5);
  });
});
