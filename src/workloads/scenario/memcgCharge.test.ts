/**
 * The memory limit (`machine memory_max=SIZE`, kernel/core/memcontrol.ts) charges page-cache and
 * shmem folios where Linux 6.12 does: filemap_add_folio's mem_cgroup_charge (readahead with
 * readahead_gfp_mask, __GFP_NORETRY: no OOM; the page the fault or read(2) needs fully) and
 * shmem_alloc_and_add_folio's (a huge folio refused falls back to 4K: THP_FILE_FALLBACK_CHARGE).
 *
 * The figures, from 6.12's try_charge_memcg: with nothing reclaimable (anonymous memory, no swap)
 * a charge at the limit reclaims once, once more after drain_all_stock, then __GFP_NORETRY gives up
 * (2 rounds); a full charge retries MAX_RECLAIM_RETRIES (16) more times, 18 rounds, before
 * mem_cgroup_oom; a charge whose OOM kill chose the charging task itself retries 16 + 1 more
 * (nr_retries reset, `passed_oom && task_is_dying()` checked after they run out) and fails.
 * A charge with GFP_TRANSHUGE_LIGHT (no __GFP_DIRECT_RECLAIM) fails at once, no round.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "./session.ts";
import { MEMCG_8M, memcgAtLimit, runHolds } from "./testKit.ts";

describe("memory_max charges the page cache and shmem (mem_cgroup_charge)", () => {
  it("read(2) at the limit: readahead's charge gives up after 2 rounds (NORETRY), filemap_create_folio's OOM-kills A", () => {
    // B's buffer (1 page) + A's 2038 pages + their 9 page tables: usage 2048 = the limit. page_cache_sync_ra's first
    // page is refused (2 rounds, no page added), filemap_create_folio's GFP_KERNEL charge: 18
    // rounds, then mem_cgroup_oom kills A (2038 pages) and the page is charged: 20 rounds, 1 page
    const r = runHolds([
      ...memcgAtLimit(),
      "let r = vmstat.memcg_reclaims",
      "let fc = vmstat.memcg_failcnt",
      "B: n = syscall read F buf 4K",
      "expect n == 4096",
      "expect vmstat.memcg_reclaims - r == 20",
      "expect vmstat.memcg_failcnt - fc == 2",
      "expect oom_kills == 1",
      "expect A.alive == 0",
      "expect B.alive == 1",
      "expect meminfo.Cached == 4K",
    ]);
    const out = r.statements[10].output.join("\n");
    expect(out).toContain("B invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0");
    expect(out).toMatch(/Memory cgroup out of memory: Killed process \d+ \(A\)/);
  });

  it("show memcg: memory.current, memory.max, memory.events (max: the rounds, oom), memory.stat, failcnt", () => {
    const r = runHolds([...memcgAtLimit(), "B: n = syscall read F buf 4K", "show memcg"]);
    // A's pages, page tables and PGD uncharged with its death: B's buffer page, its 3 page tables
    // (PUD, PMD, PTE: MEMCG_KMEM and NR_PAGETABLE), its PGD (MEMCG_KMEM only) and F's page 0 remain
    const out = r.statements[9].output;
    expect(out.slice(0, 17)).toEqual([
      "memory.current 24576",
      "memory.high max",
      "memory.max 8388608",
      "memory.peak 8388608", // the 2048 pages A's last fault charged
      "memory.events low 0",
      "memory.events high 0",
      "memory.events max 20",
      "memory.events oom 1",
      "memory.events oom_kill 1",
      "memory.events oom_group_kill 0",
      "memory.stat anon 4096",
      "memory.stat file 4096",
      "memory.stat kernel 16384", // the PGD is MEMCG_KMEM, not NR_PAGETABLE
      "memory.stat kernel_stack 0",
      "memory.stat pagetables 12288",
      "memory.stat sec_pagetables 0",
      "memory.stat percpu 0",
    ]);
    expect(out).toContain("memory.stat swapcached 0");
    expect(out.at(-1)).toBe("memory.failcnt 2");
    const none = runScenario("machine ram=64M\nshow memcg\n");
    expect(none.statements[1].output.slice(0, 3)).toEqual([
      "memory.current 0",
      "memory.high max",
      "memory.max max",
    ]);
  });

  it("read(2) with 2 pages of room: readahead adds 2 of its 4 and stops, no OOM; the read is served from them", () => {
    // get_init_ra_size(1, 32) = 4 pages from 0: pages 0 and 1 are charged, page 2's charge
    // finds the limit (failcnt 1); the 2 new pages are locked until read_pages, so reclaim frees
    // nothing: 2 rounds, -ENOMEM, readahead stops; filemap_get_read_batch finds page 0
    runHolds([
      ...memcgAtLimit(8136),
      "let r = vmstat.memcg_reclaims",
      "let fc = vmstat.memcg_failcnt",
      "B: n = syscall read F buf 4K",
      "expect n == 4096",
      "expect vmstat.memcg_reclaims - r == 2",
      "expect vmstat.memcg_failcnt - fc == 1",
      "expect oom_kills == 0",
      "expect A.alive == 1",
      "expect meminfo.Cached == 8K",
    ]);
  });

  it("read(2) by the only task at the limit: its own OOM kill, 37 rounds, -ENOMEM, and it dies", () => {
    // readahead 2 rounds; filemap_create_folio 18, mem_cgroup_oom chooses B (SIGKILL pending),
    // nr_retries reset: 17 more, then passed_oom && task_is_dying: -ENOMEM
    const r = runHolds([
      MEMCG_8M,
      "file F size=1M",
      "spawn B",
      "B: buf = mmap 8M",
      "B: write buf 8164K value=1", // 2041 pages, 6 page tables and the PGD: the limit
      "let r = vmstat.memcg_reclaims",
      "B: n = syscall read F buf 4K",
      "expect vmstat.memcg_reclaims - r == 37",
      "expect oom_kills == 1",
      "expect B.alive == 0",
    ]);
    expect(r.statements[6].output.join("\n")).toContain("n = -12 (ENOMEM)");
  });

  it("write(2) by the only task at the limit: write_begin's full charge, its own OOM kill, 35 rounds, -ENOMEM", () => {
    // no readahead for a write: 18 rounds, mem_cgroup_oom chooses B, 17 more, -ENOMEM; nothing
    // written (generic_perform_write's first page), and the pending SIGKILL kills B
    runHolds([
      MEMCG_8M,
      "file F size=1M",
      "spawn B",
      "B: buf = mmap 8M",
      "B: write buf 8164K value=1", // 2041 pages, 6 page tables and the PGD: the limit
      "let r = vmstat.memcg_reclaims",
      "B: n = syscall write F buf 4K",
      "expect n == -12",
      "expect vmstat.memcg_reclaims - r == 35",
      "expect B.alive == 0",
      "expect meminfo.Cached == 0",
    ]);
  });

  /**
   * B's fault on page 128 of a mapping of F (folios of `folio`) while A's 8148K (2037 pages and
   * 6 page tables), A's and B's PGDs (pgd_alloc's GFP_PGTABLE_USER) and the 3 page tables B's fault allocates first (pud_alloc, pmd_alloc, pte_alloc:
   * charged with GFP_PGTABLE_USER) fill the limit.
   */
  const fileFault = (folio: string, rounds: number) => [
    MEMCG_8M,
    `file F size=1M folio=${folio}`,
    "spawn A",
    "spawn B",
    "A: a = mmap 8M",
    "A: write a 8148K value=1",
    "B: m = mmap 1M file=F",
    "let r = vmstat.memcg_reclaims",
    "B: read m + 512K 4K",
    `expect vmstat.memcg_reclaims - r == ${rounds}`,
    "expect oom_kills == 1",
    "expect A.alive == 0",
    "expect vmstat.pgmajfault == 1",
    "expect meminfo.Cached == 4K",
  ];

  it("a file fault at the limit: the read-around refused (2 rounds), the page's FGP_CREAT charge OOM-kills A", () => {
    runHolds(fileFault("4K", 20));
  });

  it("a file of 64K folios: the folio's charge refused, then the 4K fallback's (2 + 2 rounds), then FGP_CREAT's 18", () => {
    // page_cache_ra_order: ra_alloc_folio's filemap_add_folio -ENOMEM ends it; do_page_cache_ra's
    // first 4K folio is refused too (readahead_gfp_mask both); __filemap_get_folio(FGP_CREAT) of
    // the faulting page charges a 4K folio fully: 18 rounds and the OOM kill of A
    runHolds(fileFault("64K", 22));
  });

  it("a shared anonymous page's charge (shmem_alloc_and_add_folio) at the limit: 18 rounds, then A is killed", () => {
    runHolds([
      MEMCG_8M,
      "spawn A",
      "spawn B",
      "B: s = mmap 1M shared",
      "A: a = mmap 8M",
      "A: write a 8152K value=1", // 2038 pages, 6 page tables, 2 PGDs, and B's fault's 3: the limit
      "let r = vmstat.memcg_reclaims",
      "B: write s 4K value=3",
      "expect vmstat.memcg_reclaims - r == 18",
      "expect oom_kills == 1",
      "expect A.alive == 0",
      "expect byte(B, s) == 3",
    ]);
  });

  it("a huge tmpfs folio whose charge is refused falls back to 4K: THP_FILE_FALLBACK_CHARGE, shmem_fallback_charge", () => {
    // 1785 pages, A's 6 page tables and its PGD charged, 256 left: the PMD-size folio's 512
    // (GFP_TRANSHUGE_LIGHT, defrag=madvise without MADV_HUGEPAGE) is refused at once, no reclaim;
    // the file's 256 pages fit as 4K folios
    runHolds([
      MEMCG_8M,
      "spawn A",
      "A: a = mmap 7M",
      "A: write a 7140K value=1",
      "let r = vmstat.memcg_reclaims",
      "let fc = vmstat.memcg_failcnt",
      "file T size=1M fs=tmpfs huge=always",
      "expect vmstat.thp_file_alloc == 0",
      "expect vmstat.thp_file_fallback == 1",
      "expect vmstat.thp_file_fallback_charge == 1",
      "expect thp.hugepages_2048kB_shmem_fallback_charge == 1",
      "expect vmstat.memcg_reclaims - r == 0",
      "expect vmstat.memcg_failcnt - fc == 1",
      "expect oom_kills == 0",
      "expect meminfo.Shmem == 1M",
    ]);
  });

  it("a huge shared anonymous folio refused its charge: the 4K fallback (shmem_enabled=always)", () => {
    runHolds([
      MEMCG_8M,
      "thp shmem_enabled=always",
      "spawn A",
      "A: a = mmap 7M",
      "A: write a 7M value=1",
      "A: s = mmap 2M shared",
      "A: write s 4K value=1",
      "expect vmstat.thp_file_alloc == 0",
      "expect vmstat.thp_file_fallback_charge == 1",
      "expect thp.hugepages_2048kB_shmem_fallback_charge == 1",
      "expect oom_kills == 0",
      "expect A.rss == 1793",
    ]);
  });

  it("shared anonymous memory written past the limit and read back from swap stays within memory.max", () => {
    // each new shmem page's charge reclaims (shmem to swap) at the limit, and so does each page
    // swap_cluster_readahead brings back (mem_cgroup_swapin_charge_folio): uncharged, the
    // read-back's clusters would take the page counter to 3.8M of its 2M
    runHolds([
      "machine ram=64M memory_max=2M swap=64M overcommit=always",
      "spawn A",
      "A: s = mmap 4M shared",
      "A: write s 4M value=1",
      "expect meminfo.Cached + meminfo.SwapCached <= 2M",
      "A: read s 2M",
      "expect meminfo.Cached + meminfo.SwapCached <= 2M",
      "expect vmstat.pswpin > 0",
      "expect oom_kills == 0",
      "expect byte(A, s + 2M - 4K) == 1",
    ]);
  });

  it("no limit: no charge fails, the huge tmpfs folio is had", () => {
    runHolds([
      "machine ram=64M overcommit=always",
      "file T size=1M fs=tmpfs huge=always",
      "expect vmstat.thp_file_alloc == 1",
      "expect vmstat.memcg_failcnt == 0",
    ]);
  });
});
