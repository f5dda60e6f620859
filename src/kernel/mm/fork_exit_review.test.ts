/**
 * fork, exit and mlock against Linux 6.12 (kernel/fork.c dup_mmap, mm/memory.c copy_page_range,
 * mm/mmap.c exit_mmap, mm/mlock.c). Each case's figures are derived by hand from the source
 * named, and each failed on the base (860f405e) before its fix.
 *
 * Differences found:
 * 1. dup_mmap ends with flush_tlb_mm(oldmm), unconditionally and of every level (x86:
 *    flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL, 0, freed_tables=true), so lazy CPUs are reached
 *    too; arm64 TLBI ASIDE1IS). vmlab flushed only when copy_page_range had write-protected a
 *    PTE, and then as a leaf-only flush that skipped lazy CPUs. Fixed (fork.ts dupMm).
 * 2. copy_nonpresent_pte's swap_duplicate past SWAP_MAP_MAX (62): swap_map's byte is full, so
 *    copy_pte_range calls add_swap_count_continuation, which chains a page (GFP_KERNEL) to that
 *    page of swap_map; only swapoff frees it. vmlab's swap_map counted on with no page taken.
 *    Fixed (swapfile.ts SwapArea.dup, addContinuation; fork.ts).
 * 3. copy_page_range's walk allocates the child's table at each level wherever the parent's entry
 *    above it points to a table (p4d_alloc, pud_alloc, pmd_alloc; copy_pte_range's
 *    pte_alloc_map_lock), even when nothing below is copied: a PTE table whose PTEs a partial
 *    MADV_DONTNEED cleared, a PMD table left empty by CONFIG_PT_RECLAIM. vmlab made the child's
 *    tables only for entries it copied. Fixed (fork.ts dupTables).
 * 4. copy_hugetlb_page_range: huge_pte_alloc of the child's entry wherever hugetlb_walk finds
 *    the parent's table, before the entry is found none; vmlab skipped none entries first, so
 *    the child lacked the PMD table of a huge page MADV_DONTNEED had zapped. Fixed
 *    (hugetlb.ts copyHugetlbPageRange: the test moved after the allocation).
 * 5. exit_mmap of an mm with no VMA (a fork refused at its first VMA, whose XA_ZERO_ENTRY comes
 *    first) goes straight to `destroy`: no lru_add_drain, no flush_cache_mm. vmlab drained the
 *    CPU's LRU add batch, moving the parent's new pages onto the LRU. Fixed (mmap.ts exitMmap).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import { expectationFailures, feedSession } from "../../workloads/scenario/testKit.ts";
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./mmap.ts";
import { PageKind } from "./PageDesc.ts";

const PAGE = 4096n;

/** What a flush moves: each CPU's full flushes, the IPIs, arm64's broadcast TLBIs. */
function tlbCounters(k: Kernel) {
  const cpus = k.machine.cpus as unknown as Mmu[];
  return {
    full: cpus.map((c) => c.fullFlushes),
    shootdowns: k.tlbMgr.shootdowns,
    broadcasts: k.tlbMgr.broadcasts,
  };
}
function tlbDiff(a: ReturnType<typeof tlbCounters>, b: ReturnType<typeof tlbCounters>) {
  return {
    full: b.full.map((x, i) => x - a.full[i]),
    shootdowns: b.shootdowns - a.shootdowns,
    broadcasts: b.broadcasts - a.broadcasts,
  };
}

describe("dup_mmap's flush_tlb_mm(oldmm)", () => {
  // a parent of two threads (CPU 0 forks, CPU 1 runs the other) whose only mapping is a
  // read-only file one, read on both CPUs: vma_needs_copy is false (no anon_vma), nothing is
  // write-protected, yet dup_mmap flushes the whole mm on both CPUs
  for (const [arch, want] of [
    // flush_tlb_mm_range: flush_tlb_multi (CPU 1 in mm_cpumask): one IPI, a full flush on each
    ["x86_64", { full: [1, 1], shootdowns: 1, broadcasts: 0 }],
    // flush_tlb_mm: one TLBI ASIDE1IS, broadcast by the hardware to both CPUs
    ["arm64", { full: [1, 1], shootdowns: 0, broadcasts: 1 }],
    // flush_tlb_mm: __flush_tlb_range(mm_cpumask, asid, 0, FLUSH_TLB_MAX_SIZE): the other hart by IPI
    ["riscv-sv39", { full: [1, 1], shootdowns: 1, broadcasts: 0 }],
  ] as const) {
    it(`${arch}: a parent with nothing write-protected is flushed all the same`, () => {
      const k = new Kernel({ ramBytes: 64 << 20, cpus: 2, arch });
      const t = k.spawn("p")!;
      k.switchTo(0, t);
      const t2 = k.thread(t, "p2")!;
      k.switchTo(1, t2);
      const bytes = 4 * 4096;
      const prot = { r: true, w: false, x: false };
      const va = k.mmap(t, mmapArgs(bytes, { file: k.createFile("f", bytes), prot }));
      for (let i = 0; i < 4; i++) {
        expect(k.userAccess(0, t, va + BigInt(i) * PAGE, Access.Read, 0).ok).toBe(true);
        expect(k.userAccess(1, t2, va + BigInt(i) * PAGE, Access.Read, 0).ok).toBe(true);
      }
      const before = tlbCounters(k);
      const c = k.fork(t, "c");
      expect(c).not.toBeNull();
      expect(tlbDiff(before, tlbCounters(k))).toEqual(want);
      expect(checkInvariants(k)).toEqual([]);
    });
  }

  it("x86_64: a lazy CPU that has the parent's mm loaded is reached (freed_tables), and leaves it", () => {
    // CPU 1 ran the parent's second thread, then a kernel thread (lazy TLB: the parent's mm
    // stays loaded). The parent wrote an anonymous page, which copy_page_range write-protects;
    // flush_tlb_mm's freed_tables makes flush_tlb_multi IPI the lazy CPU too, which then
    // switches to init_mm (flush_tlb_func's switch_mm_irqs_off(NULL, &init_mm))
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 2, arch: "x86_64" });
    const t = k.spawn("p")!;
    k.switchTo(0, t);
    const t2 = k.thread(t, "p2")!;
    k.switchTo(1, t2);
    const va = k.mmap(t, mmapArgs(4096));
    expect(k.userAccess(0, t, va, Access.Write, 7).ok).toBe(true);
    expect(k.userAccess(1, t2, va, Access.Read, 0).ok).toBe(true);
    k.switchTo(1, k.kthread("kworker"));
    const st = k.tlbMgr.states[1];
    expect(st.isLazy).toBe(true);
    expect(st.loadedMm).toBe(t.mm);
    const before = tlbCounters(k);
    expect(k.fork(t, "c")).not.toBeNull();
    const d = tlbDiff(before, tlbCounters(k));
    expect(d.shootdowns).toBe(1);
    expect(d.full[0]).toBe(1);
    expect(st.loadedMm).toBeNull();
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("copy_nonpresent_pte's swap_duplicate and the swap count continuation", () => {
  it("the fork that takes a slot's count past SWAP_MAP_MAX (62) chains one page to swap_map, kept after every exit", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 8 << 20 });
    const t = k.spawn("p")!;
    k.switchTo(0, t);
    const va = k.mmap(t, mmapArgs(4096));
    expect(k.userAccess(0, t, va, Access.Write, 9).ok).toBe(true);
    expect(k.madvise(t, va, PAGE, "pageout")).toBe(0n);
    const e = k.userMm.readPte(t.mm!, Number(va / PAGE))!;
    const pt = k.arch.pgtable;
    expect(pt.isSwap(e.hi, e.lo)).toBe(true);
    const swap = k.userMm.env.swap!;
    const slot = pt.swapOffset(e.hi, e.lo);
    expect(swap.map[slot]).toBe(1); // the parent's PTE; not in the swap cache any more
    expect(swap.cache.has(slot)).toBe(false);
    const kernelPages = () => {
      let n = 0;
      for (const kind of k.pages.kind) if (kind === PageKind.KernelPages) n++;
      return n;
    };
    const base = kernelPages();
    const children = [];
    // children 1..61 take the count to 62 = SWAP_MAP_MAX: __swap_duplicate's count += usage
    for (let i = 1; i <= 61; i++) children.push(k.fork(t, `c${i}`)!);
    expect(swap.map[slot]).toBe(62);
    expect(kernelPages()).toBe(base);
    // child 62: count == SWAP_MAP_MAX and swap_count_continued finds no continuation:
    // -ENOMEM, add_swap_count_continuation's alloc_page, the copy again
    children.push(k.fork(t, "c62")!);
    expect(children.every((c) => c !== null)).toBe(true);
    expect(swap.map[slot]).toBe(63);
    expect(kernelPages()).toBe(base + 1);
    // one more: the continuation's digit goes from 1 to 2 in the page already there
    children.push(k.fork(t, "c63")!);
    expect(kernelPages()).toBe(base + 1);
    // every child exits (zap_pte_range's free_swap_and_cache): the page stays chained
    for (const c of children) k.exit(c, "done");
    expect(swap.map[slot]).toBe(1);
    expect(kernelPages()).toBe(base + 1);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("copy_page_range's tables", () => {
  it("the child gets a PTE table for each of the parent's, its PTEs all none or not", () => {
    // two PTE tables under the VMA; the second's one page is zapped by a partial MADV_DONTNEED
    // (the table stays: zap_pte_range frees nothing, pt_reclaim only a table zapped whole).
    // dup_mmap -> copy_page_range (anon_vma) -> copy_pmd_range: both PMDs are tables, so
    // copy_pte_range runs for each and pte_alloc_map_lock gives the child both: pt_pages equal
    expect(
      expectationFailures(`machine ram=64M thp=never
spawn A
A: a = mmap 4M at=0x40000000
A: write a 1p
A: write a+2M 1p
A: madvise a+2M 1p dontneed
expect table(A, a+2M, pt) != -1
A: fork B
expect table(B, a, pt) != -1
expect table(B, a+2M, pt) != -1
expect B.pt_pages == A.pt_pages
B: exit
`),
    ).toEqual([]);
  });

  it("the child gets a PMD table where the parent's PUD entry points to one, its PMDs all none", () => {
    // a 2M VMA alone in its 1G: after MADV_DONTNEED of all of it pt_reclaim frees the PTE table
    // (Linux 6.14's CONFIG_PT_RECLAIM, which vmlab has), the PMD table stays. copy_pud_range:
    // the PUD entry is not none, so copy_pmd_range's pmd_alloc gives the child a PMD table;
    // no PMD maps a table, so no PTE table. The child: the PUD and PMD tables, as the parent
    expect(
      expectationFailures(`machine ram=64M thp=never
spawn A
A: a = mmap 2M at=0x40000000
A: write a 1p
A: madvise a 2M dontneed
expect table(A, a, pt) == -1
expect table(A, a, pmd) != -1
A: fork B
expect table(B, a, pmd) != -1
expect table(B, a, pt) == -1
expect B.pt_pages == A.pt_pages
B: exit
`),
    ).toEqual([]);
  });
});

describe("copy_hugetlb_page_range's tables", () => {
  it("x86_64: the child gets the PMD table of a zapped huge page, as hugetlb_walk found the parent's", () => {
    // a private 4M HugeTLB mapping across a 1G boundary: its huge pages sit in two PMD tables.
    // MADV_DONTNEED of the second clears its PMD (the table stays). copy_hugetlb_page_range:
    // hugetlb_walk finds both tables, so huge_pte_alloc gives the child both (and their PUD
    // tables) before the second entry is found none: the child's tables are the parent's
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=2
A: buf = mmap 4M hugetlb at=0x3fe00000
A: write buf 1
A: write buf+2M 1
A: madvise buf+2M 2M dontneed
expect hugetlb(A, buf+2M 2M) == 0
expect table(A, buf+2M, pmd) != -1
A: fork B
expect table(B, buf, pmd) != -1
expect table(B, buf+2M, pmd) != -1
expect hugetlb(B, buf 4M) == 512
expect B.pt_pages == A.pt_pages
B: exit
`),
    ).toEqual([]);
  });
});

describe("exit_mmap of a fork refused at its first VMA", () => {
  it("leaves the CPU's LRU add batch alone (no lru_add_drain: straight to destroy)", () => {
    // overcommit=never: 20M of 32M CommitLimit charged to A; the fork's
    // security_vm_enough_memory_mm of the same 20M, A's first VMA, fails: dup_mmap's fail_nomem
    // stores XA_ZERO_ENTRY over it, and the child's exit_mmap finds that first
    const s = feedSession(
      "machine ram=64M swap=0 overcommit=never\nspawn A\nA: a = mmap 20M at=0x10000000\nA: write a 8K\n",
    );
    const k = s.kernel!;
    const core = k as unknown as KernelCore;
    const A = s.processes.get("A")!;
    expect((A as unknown as Task).mm!.vmas[0].vmStart).toBe(0x10000000 / 4096); // A's first VMA
    const inactiveAnon = () =>
      (k.view.meminfo() as unknown as Record<string, number>)["Inactive(anon)"] / 4096;
    // the two written pages wait in the CPU's LRU add batch (folio_add_lru_vma)
    expect(inactiveAnon()).toBe(0);
    expect(k.fork(A, "B")).toBeNull();
    expect(inactiveAnon()).toBe(0);
    core.userMm.env.lru!.fbatches.drain();
    expect(inactiveAnon()).toBe(2);
    expect(checkInvariants(core)).toEqual([]);
  });
});
