/**
 * The memory cgroup's memory.stat and memory.current against Linux 6.12 (mm/memcontrol.c
 * memory_stat_format, each figure derived by hand): `anon` is the memcg's NR_ANON_MAPPED, as
 * meminfo's AnonPages is the node's, so a page only the swap cache holds is in `swapcached` and
 * not in `anon`; user page tables are charged (GFP_PGTABLE_USER's __GFP_ACCOUNT:
 * __memcg_kmem_charge_page) and shown as `kernel` (MEMCG_KMEM) and `pagetables` (NR_PAGETABLE);
 * readahead's folios are reclaimable once read_pages has read them (unlocked).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "./session.ts";
import { MEMCG_8M, memcgAtLimit, runHolds } from "./testKit.ts";

describe("memory.stat (6.12 memory_stat_format)", () => {
  it("anon is NR_ANON_MAPPED: swap readahead's unmapped neighbours are swapcached, not anon", () => {
    // 64 pages paged out whole; the read of page 0 faults it in with swap_vma_readahead's window
    // (the fault's page and 4 after it: 5 pages in the swap cache), of which 1 is mapped
    runHolds([
      "machine ram=256M swap=64M memory_max=64M",
      "spawn A",
      "A: a = mmap 256K at=0x40000000",
      "A: write a 256K value=0x5a",
      "A: madvise a 256K pageout",
      "expect meminfo.AnonPages == 0",
      "A: read a 4K",
      "expect meminfo.SwapCached == 20K",
      "expect meminfo.AnonPages == 4K",
      "expect memory.stat.anon == 4K",
      "expect memory.stat.swapcached == 20K",
      "expect vmstat.nr_anon_pages == 1",
      // the neighbours mapped by their own faults (swap_cache_get_folio finds them): anon grows
      "A: read a + 4K 8K",
      "expect meminfo.AnonPages == 12K",
      "expect memory.stat.anon == 12K",
    ]);
  });

  it("page tables are charged: memory.current holds them, their charge at the limit OOM-kills, free_pgtables uncharges", () => {
    // B: buffer page + PUD, PMD, PTE table (4 pages); A: 2036 pages + PUD, PMD, 4 PTE tables
    // (2042); each PGD (pgd_alloc's GFP_PGTABLE_USER: MEMCG_KMEM, not NR_PAGETABLE): the 2048
    // full. B's store in a new PGD slot allocates a PUD table first (__handle_mm_fault's
    // pud_alloc): its charge (GFP_PGTABLE_USER) finds the limit, reclaims 18 rounds (nothing
    // reclaimable) and mem_cgroup_oom kills A; then PMD, PTE and the page fit
    const r = runHolds([
      MEMCG_8M,
      "spawn A",
      "spawn B",
      "B: buf = mmap 4K",
      "B: write buf 4K value=1",
      "expect memory.current == 24K",
      "expect memory.stat.pagetables == 12K",
      "expect memory.stat.kernel == 20K",
      "A: a = mmap 8144K",
      "A: write a 8144K value=1",
      "expect memory.current == 8M",
      "expect A.alive == 1",
      "let r = vmstat.memcg_reclaims",
      "B: c = mmap 4K at=0x7f0000000000",
      "B: write c 4K value=2",
      "expect vmstat.memcg_reclaims - r == 18",
      "expect A.alive == 0",
      "expect byte(B, c) == 2",
      "expect memory.stat.pagetables == 24K",
      "expect memory.stat.kernel == 28K", // and B's PGD (A's freed with its mm: uncharged)
      "expect meminfo.PageTables == 24K",
      "expect memory.current == 36K",
      // munmap's free_pgtables: c's PTE, PMD and PUD tables freed, and uncharged
      "B: munmap c 4K",
      "expect memory.stat.pagetables == 12K",
      "expect memory.current == 20K",
    ]);
    const report = r.statements.flatMap((s) => s.output);
    expect(report.join("\n")).toContain(
      "B invoked oom-killer: gfp_mask=0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), order=0",
    );
    // mem_cgroup_print_oom_meminfo: memory_stat_format's lines after the counters: A's 2036 and
    // B's 1 anonymous pages, their 9 page tables and 2 PGDs
    const at = report.indexOf("Memory cgroup stats for /:");
    expect(report[at - 2]).toBe("memory: usage 8192kB, limit 8192kB, failcnt 1");
    expect(report.slice(at + 1, at + 6)).toEqual([
      `anon ${2037 * 4096}`,
      "file 0",
      `kernel ${11 * 4096}`,
      "kernel_stack 0",
      `pagetables ${9 * 4096}`,
    ]);
  });

  it("the PGD is charged as kernel memory where pgd_alloc takes it with GFP_PGTABLE_USER pages", () => {
    // x86 _pgd_alloc: __get_free_pages(GFP_PGTABLE_USER, PGD_ALLOCATION_ORDER), the PTI pair whole;
    // arm64 pgd_alloc: __get_free_page(GFP_PGTABLE_USER); RISC-V: GFP_KERNEL, not charged; i386
    // PAE without PTI: the PDPT from the pgd_cache slab (not modelled), only its 3 preallocated
    // PMDs (pagetables too). memory.stat kernel (MEMCG_KMEM) counts it, pagetables does not: the
    // difference is the PGD's pages (with PTI, x86-64 has page tables at spawn too: in both)
    const cases: [string, number][] = [
      ["arch=x86_64", 1],
      ["arch=x86_64 pti=on", 2],
      ["arch=x86_64-la57", 1],
      ["arch=arm64", 1],
      ["arch=riscv-sv39", 0],
      ["arch=i386", 1],
      ["arch=i386-pae pti=on", 2],
      ["arch=i386-pae", 0],
    ];
    for (const [arch, pgd] of cases)
      runHolds([
        `machine ${arch} ram=64M memory_max=8M`,
        "spawn A",
        `expect memory.stat.kernel - memory.stat.pagetables == ${pgd * 4096}`,
        "expect memory.current == memory.stat.kernel",
        "A: exit",
        "expect memory.current == 0", // pgd_free: the pages' free uncharges them
      ]);
  });

  it("i386 PAE: the PMDs pgd_alloc preallocates are charged (preallocate_pmds' GFP_PGTABLE_USER) and uncharged at pgd_free", () => {
    // each mm's three user PMDs (in vmlab beside the PDPT, in its order-2 block) are charged at
    // mm_alloc: memory.stat pagetables is meminfo PageTables (the one cgroup); their free with
    // the PGD (pgd_free's pgd_mop_up_pmds) uncharges them, the whole block's pages each
    runHolds([
      "machine arch=i386-pae ram=64M memory_max=8M overcommit=always",
      "spawn A",
      "expect memory.current == 12K",
      "expect memory.stat.pagetables == 12K",
      "A: a = mmap 4K",
      "A: write a 4K value=1",
      "expect memory.stat.pagetables == meminfo.PageTables",
      "expect memory.current == 20K", // the page, its PTE table and the 3 PMDs
      "A: fork B",
      "expect memory.stat.pagetables == meminfo.PageTables",
      "expect memory.stat.kernel == 32K", // A's 4 tables, B's 3 PMDs and the PTE table fork copied
      "B: exit",
      "A: exit",
      "expect memory.current == 0",
      "expect memory.stat.kernel == 0",
      "expect memory.stat.pagetables == 0",
    ]);
  });

  it("prints memory_stat_format's lines in 6.12's order", () => {
    const r = runScenario(`${MEMCG_8M}\nspawn A\nA: a = mmap 1M\nA: write a 1M value=1\nshow memcg\n`);
    const names = r.statements[4].output
      .filter((l) => l.startsWith("memory.stat "))
      .map((l) => l.split(" ")[1]);
    // memory_stats[] (no CONFIG_ZSWAP, CONFIG_NUMA_BALANCING), slab after slab_unreclaimable,
    // pgscan, pgsteal, memcg_vm_event_stat[] (no CONFIG_MEMCG_V1's pgpgin/pgpgout, no zswap)
    expect(names).toEqual(
      (
        "anon file kernel kernel_stack pagetables sec_pagetables percpu sock vmalloc shmem file_mapped " +
        "file_dirty file_writeback swapcached anon_thp file_thp shmem_thp inactive_anon active_anon " +
        "inactive_file active_file unevictable slab_reclaimable slab_unreclaimable slab " +
        "workingset_refault_anon workingset_refault_file workingset_activate_anon workingset_activate_file " +
        "workingset_restore_anon workingset_restore_file workingset_nodereclaim pgdemote_kswapd " +
        "pgdemote_direct pgdemote_khugepaged pgscan pgsteal pgscan_kswapd pgscan_direct pgscan_khugepaged " +
        "pgsteal_kswapd pgsteal_direct pgsteal_khugepaged pgfault pgmajfault pgrefill pgactivate " +
        "pgdeactivate pglazyfree pglazyfreed swpin_zero swpout_zero thp_fault_alloc thp_collapse_alloc " +
        "thp_swpout thp_swpout_fallback"
      ).split(" "),
    );
    // A's 256 pages: 256 faults; the per-CPU LRU add batch (folio_batch of 31) moved 8 times to
    // the inactive list (248 pages), 8 wait in it (charged: memory.current, not on a list)
    expect(r.statements[4].output).toContain("memory.stat pgfault 256");
    expect(r.statements[4].output).toContain(`memory.stat inactive_anon ${248 * 4096}`);
    expect(r.statements[4].output).toContain(`memory.current ${(256 + 3 + 1) * 4096}`); // and the PGD
  });

  it("readahead's folios, read and unlocked by read_pages, are reclaimed at the limit: no OOM kill", () => {
    // A's 2032 pages, its 6 page tables and PGD, and B's 5 pages: 4 pages of room. B's read of page 0
    // reads ahead 4 pages (get_init_ra_size(1, 32)): the 2048 full. B's read at 512K: a new
    // window of 4 whose first charge reclaims from the limit; F's pages 1-3 (clean, unmapped,
    // unlocked once read) are there to take, so no OOM
    runHolds([
      ...memcgAtLimit(8128),
      "B: n = syscall read F buf 4K",
      "expect meminfo.Cached == 16K",
      "expect memory.current == 8M",
      "B: n = syscall read F buf 4K offset=512K",
      "expect n == 4096",
      "expect oom_kills == 0",
      "expect vmstat.memcg_reclaims > 0",
      // cgroup reclaim's steals: in memory.stat's pgsteal (pgsteal_direct), not /proc/vmstat's
      "expect memory.stat.pgsteal > 0",
      "expect memory.stat.pgsteal == memory.stat.pgsteal_direct",
      "expect vmstat.pgsteal_direct == 0",
      "expect memory.current <= 8M",
    ]);
  });

  it("memory.peak is the highest usage a charge reached: it stays when the pages go", () => {
    // A's PGD (charged at spawn: pgd_alloc's GFP_PGTABLE_USER); A's 1M: 256 pages and PUD, PMD,
    // PTE table; munmap frees the pages and the PTE table, the PUD and PMD tables stay
    // (free_pgtables' ceiling: the stack's VMA above is under them): memory.current 12K, the
    // watermark 260 pages
    runHolds([
      MEMCG_8M,
      "spawn A",
      "A: a = mmap 1M",
      "expect memory.peak == 4K",
      "A: write a 1M value=1",
      "expect memory.peak == 1M + 16K",
      "A: munmap a 1M",
      "expect memory.current == 12K",
      "expect memory.stat.pagetables == 8K",
      "expect memory.peak == 1M + 16K",
      "A: b = mmap 512K",
      "A: write b 512K value=1",
      "expect memory.peak == 1M + 16K",
    ]);
  });
});
