/**
 * Page reclaim (mm/vmscan.c) and the OOM killer: what goes, what stays, and
 * in which order.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { Pte } from "../hw/arch/x86_64/pte.ts";
import { isSwapPte } from "./arch/x86/pgtable.ts";
import type { Task } from "./core/task.ts";
import type { KernelConfig } from "./Kernel.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { Gfp } from "./mm/gfp.ts";
import { PageFlag, PageKind } from "./mm/PageDesc.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { Lru } from "./mm/vmscan.ts";
import { checkInvariants } from "./view/invariants.ts";
import { pageState } from "./view/procfs.ts";

const PAGE = 4096n;

function boot(extra: Partial<KernelConfig> = {}) {
  return new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 32 << 20, overcommit: "always", ...extra });
}

function anon(k: Kernel, t: Task, pages: number, locked = false): bigint {
  k.switchTo(0, t);
  const r = k.mmap(t, mmapArgs(pages * 4096, { locked }));
  expect(r > 0n).toBe(true);
  return r;
}

function writeAll(k: Kernel, t: Task, va: bigint, pages: number, value = 1) {
  k.switchTo(0, t);
  for (let i = 0; i < pages; i++) {
    const r = k.userAccess(0, t, va + BigInt(i) * PAGE, Access.Write, value);
    if (!r.ok) return r;
  }
  return null;
}

/**
 * flush_tlb_mm of t's address space: the context switch or VM operation
 * x86 Linux counts on to drop the TLB entries whose accessed bit reclaim
 * cleared (ptep_clear_flush_young does not flush them). Without it a touch
 * through a surviving entry sets no accessed bit and reclaim cannot see it
 * (src/kernel/mm/referenced_young.test.ts); these tests are about what
 * reclaim does with a reference it sees.
 */
function dropTlb(k: Kernel, t: Task) {
  k.userMm.env.flushTlbMmRange(t.mm!, 0, k.userMm.env.taskSizeVpn);
}

function state(k: Kernel, t: Task, va: bigint): "present" | "swapped" | "none" {
  const e = k.userMm.readPte(t.mm!, Number(va / PAGE));
  if (e === null) return "none";
  if (e.lo & Pte.P) return "present";
  return isSwapPte(e.hi, e.lo) ? "swapped" : "none";
}

describe("reclaim", () => {
  it("swaps user pages out under pressure while every kernel page stays mapped and resident", () => {
    const k = boot();
    const kbuf = k.kmalloc(256 << 10, Gfp.KERNEL);
    expect(kbuf).not.toBe(0n);
    const kernelFrames = k.pages.countByKind()[PageKind.KmallocLarge];
    const t = k.spawn("A")!;
    const a = anon(k, t, 20000); // 80 MiB through 64 MiB of RAM
    expect(writeAll(k, t, a, 20000)).toBe(null);
    expect(t.mm!.swapEnts).toBeGreaterThan(5000);
    expect(k.pages.countByKind()[PageKind.KmallocLarge]).toBe(kernelFrames);
    expect(k.kernelPfn(kbuf)).toBeGreaterThan(0);
    expect(k.vmscan.stats.pageoutrun).toBeGreaterThan(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("gives referenced pages a second chance: pages touched since the last scan survive the next one", () => {
    const k = boot();
    const t = k.spawn("A")!;
    const a = anon(k, t, 200);
    writeAll(k, t, a, 200);
    // whole folio lists at each priority step: at least the 50 asked for, not all 200
    const got = k.reclaim(50);
    expect(got).toBeGreaterThanOrEqual(50);
    expect(got).toBeLessThan(200);
    // touch the first 20 pages that are still resident
    const kept: bigint[] = [];
    for (let i = 0; i < 200 && kept.length < 20; i++) {
      const va = a + BigInt(i) * PAGE;
      if (state(k, t, va) === "present") kept.push(va);
    }
    k.switchTo(0, t);
    dropTlb(k, t);
    for (const va of kept) k.userAccess(0, t, va, Access.Read);
    // the next reclaim finds the untouched pages marked and unused since: they go, the touched
    // ones are young and stay
    expect(k.reclaim(40)).toBeGreaterThanOrEqual(40);
    for (const va of kept) expect(state(k, t, va), `0x${va.toString(16)}`).toBe("present");
    expect(checkInvariants(k)).toEqual([]);
  });

  it("folio_check_references: a page referenced once is marked and kept inactive, a second reference activates it", () => {
    const k = boot();
    const t = k.spawn("A")!;
    const a = anon(k, t, 10);
    writeAll(k, t, a, 10); // ten young pages on the inactive anon list, page 0 at its tail
    const pfn = (i: number) => pageState(k, t, Number(a / PAGE) + i).pfn;
    const page1 = pfn(1);
    // the first trip (priority 1: (10 >> 1) pages x swappiness 60 / 200 = 1, page 0) finds it
    // young from its fault: marked and rotated (no activation: since Linux 5.9 anonymous pages
    // too need a second reference); priority 0 (SCAN_EQUAL, all ten) marks and rotates pages 1-9
    // and finds page 0 marked but unreferenced since: reclaimed
    expect(k.reclaim(1)).toBe(1);
    expect(k.vmscan.stats.pgactivate).toBe(0);
    expect(state(k, t, a)).toBe("swapped");
    expect([k.vmscan.lru[page1], k.vmscan.referenced[page1]]).toEqual([Lru.InactiveAnon, 1]);
    // page 1 is used again: marked and young, so the next scan activates it; pages 2-9, marked
    // but not used since, go (try_to_free_pages asks for SWAP_CLUSTER_MAX); then shrink_lruvec's
    // end finds the inactive anon list low (0 against 1) and ages the active one: page 1 goes
    // back to the inactive list, PG_workingset set, its bit cleared when it was activated
    k.switchTo(0, t);
    dropTlb(k, t);
    k.userAccess(0, t, a + PAGE, Access.Read);
    expect(k.reclaim(1)).toBe(8);
    expect([k.vmscan.stats.pgactivate, k.vmscan.stats.pgdeactivate]).toEqual([1, 1]);
    expect(k.vmscan.lru[page1]).toBe(Lru.InactiveAnon);
    expect(k.pages.flags[page1] & PageFlag.Workingset).not.toBe(0);
    expect(k.vmscan.referenced[page1]).toBe(1); // kept on activation: a quick way back
    expect([state(k, t, a + PAGE), state(k, t, a + 2n * PAGE)]).toEqual(["present", "swapped"]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("puts a transparent huge page on the LRU as one folio and swaps it out whole (a free swap cluster)", () => {
    const k = boot({ thp: "always" });
    const t = k.spawn("A")!;
    const a = anon(k, t, 1024); // 4 MiB: two huge pages
    k.switchTo(0, t);
    // no page zero-filled: a split would map it to the zero page (remap_page, RMP_USE_SHARED_ZEROPAGE)
    for (let i = 0; i < 1024; i++)
      expect(k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, 1 + (i % 251)).ok).toBe(true);
    const thp = k.userMm.thpStats;
    expect(thp.thp_fault_alloc).toBe(2);
    const head = pageState(k, t, Number(a / PAGE)).pfn;
    expect([k.vmscan.large[head], k.vmscan.lru[head], k.vmscan.lru[head + 1]]).toEqual([
      1,
      Lru.InactiveAnon,
      Lru.None,
    ]);
    expect(k.vmscan.size[Lru.InactiveAnon]).toBeGreaterThanOrEqual(1024); // counted in pages
    // the first trip marks both (young from their faults), the second takes the older one whole:
    // add_to_swap gets it a free cluster of 512 slots, try_to_unmap splits its PMD, it is written
    // and freed whole (mm/vmscan_swapout.ts); reclaim asked for 300 and got the folio's 512
    expect(k.reclaim(300)).toBe(512);
    expect([thp.thp_split_page, thp.thp_swpout_fallback, thp.thp_swpout, thp.thp_split_pmd]).toEqual([
      0, 0, 1, 1,
    ]);
    expect(k.vmscan.large[head]).toBe(0);
    expect(state(k, t, a)).toBe("swapped");
    expect(t.mm!.swapEnts).toBe(512);
    // the other huge page is still mapped whole
    const second = k.userMm.pmdOf(t.mm!, Number(a / PAGE) + 512)!;
    expect(second.lo & Pte.PS).not.toBe(0);
    for (let i = 0; i < 1024; i++) {
      const r = k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Read);
      expect(r.ok && r.value, `page ${i}`).toBe(1 + (i % 251));
    }
    expect(checkInvariants(k)).toEqual([]);
  });

  it("charges a huge page 512 pages against a memory limit, without MADV_HUGEPAGE never reclaiming for it: the 4K fallback", () => {
    const k = boot({ thp: "always", userMemoryPages: 700 });
    const t = k.spawn("A")!;
    const a = anon(k, t, 1536); // three huge pages' worth
    k.switchTo(0, t);
    for (let i = 0; i < 1536; i++)
      expect(k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, (i * 7) % 253).ok).toBe(true);
    const thp = k.userMm.thpStats;
    // the first fits; the others' charges (GFP_TRANSHUGE_LIGHT) may not block: each falls back at
    // once, and the 4K faults after it reclaim for themselves
    expect(thp.thp_fault_alloc).toBe(1);
    expect(thp.thp_fault_fallback_charge).toBe(2);
    expect(k.vmscan.reclaimCtx.cgroupReclaims).toBeGreaterThan(0);
    for (let i = 0; i < 1536; i++) {
      const r = k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Read);
      expect(r.ok && r.value, `page ${i}`).toBe((i * 7) % 253);
    }
    expect(checkInvariants(k)).toEqual([]);
  });

  it("charges a huge page 512 pages against a memory limit, with MADV_HUGEPAGE reclaiming first", () => {
    const k = boot({ thp: "always", userMemoryPages: 700 });
    const t = k.spawn("A")!;
    const a = anon(k, t, 1536); // three huge pages' worth
    expect(k.madvise(t, a, 1536n * PAGE, "hugepage")).toBe(0n);
    k.switchTo(0, t);
    let most = 0;
    for (let i = 0; i < 1536; i++) {
      expect(k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, (i * 7) % 253).ok).toBe(true);
      most = Math.max(most, t.mm!.rss);
    }
    expect(most).toBeLessThanOrEqual(700);
    const thp = k.userMm.thpStats;
    // the second huge page is charged after reclaim swapped out the first (whole, or split first)
    expect(thp.thp_fault_alloc).toBeGreaterThanOrEqual(2);
    expect(thp.thp_swpout + thp.thp_split_page).toBeGreaterThanOrEqual(1);
    expect(k.vmscan.reclaimCtx.cgroupReclaims).toBeGreaterThan(0);
    for (let i = 0; i < 1536; i++) {
      const r = k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Read);
      expect(r.ok && r.value, `page ${i}`).toBe((i * 7) % 253);
      expect(t.mm!.rss).toBeLessThanOrEqual(700);
    }
    expect(checkInvariants(k)).toEqual([]);
  });

  it("with swappiness 0 takes page-cache pages and no anonymous ones; without swap never anonymous ones", () => {
    for (const cfg of [{ swappiness: 0 }, { swapBytes: 0 }]) {
      const k = boot(cfg);
      const f = k.createFile("f", 100 * 4096, "disk", true);
      const t = k.spawn("A")!;
      const a = anon(k, t, 100);
      writeAll(k, t, a, 100);
      const got = k.reclaim(60);
      expect(got).toBeGreaterThanOrEqual(60);
      expect(t.mm!.swapEnts).toBe(0);
      expect(f.cache.size).toBe(100 - got);
      expect(checkInvariants(k)).toEqual([]);
    }
  });

  it("never reclaims mlocked pages", () => {
    const k = boot({ swapBytes: 64 << 20 });
    const t = k.spawn("A")!;
    const locked = anon(k, t, 64, true);
    const big = anon(k, t, 20000);
    writeAll(k, t, big, 20000);
    expect(t.mm!.swapEnts).toBeGreaterThan(0);
    for (let i = 0n; i < 64n; i++) expect(state(k, t, locked + i * PAGE)).toBe("present");
  });
});

describe("the OOM killer", () => {
  it("kills the process with the highest badness (RSS + swap + page tables) and reports it as the kernel does", () => {
    const k = boot({ swapBytes: 8 << 20 });
    const small = k.spawn("small")!;
    const s = anon(k, small, 2000);
    writeAll(k, small, s, 2000);
    const big = k.spawn("big")!;
    const b = anon(k, big, 40000);
    const r = writeAll(k, big, b, 40000);
    expect(r !== null && !r.ok && r.signal).toBe("SIGKILL");
    expect([big.alive, small.alive, k.oomKills]).toEqual([false, true, 1]);
    expect(k.oomReports[0]).toBe(
      "big invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
    );
    expect(k.oomReports[3]).toBe("Free swap  = 0kB");
    // dump_tasks (vm.oom_dump_tasks 1): its two lines of header, then small's and big's lines
    expect(k.oomReports[5]).toBe("Tasks state (memory values in pages):");
    expect(k.oomReports[7]).toMatch(/^\[ *\d+\] +0 +\d+ .* small$/);
    expect(k.oomReports[8]).toMatch(/^\[ *\d+\] +0 +\d+ .* big$/);
    expect(k.oomReports[9]).toMatch(/^oom-kill:constraint=CONSTRAINT_NONE,.*task=big,pid=\d+,uid=0$/);
    expect(k.oomReports[10]).toMatch(
      /^Out of memory: Killed process \d+ \(big\) total-vm:160132kB, anon-rss:\d+kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:\d+kB oom_score_adj:0$/,
    );
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a kernel allocation that finds nothing to reclaim kills a user process to get memory", () => {
    const k = boot({ swapBytes: 0 });
    const t = k.spawn("hog")!;
    const a = anon(k, t, 13000);
    writeAll(k, t, a, 13000);
    expect(t.alive).toBe(true);
    let got = 0;
    for (let i = 0; i < 4000 && t.alive; i++) if (k.allocPages(0, Gfp.KERNEL) !== 0n) got++;
    expect(t.alive).toBe(false);
    expect(k.oomKills).toBe(1);
    expect(got).toBeGreaterThan(0);
  });
});

describe("reclaim policies on the same machinery", () => {
  const run = (policy: NonNullable<KernelConfig["policy"]>, seed = 1) => {
    const k = boot({ policy, seed });
    const t = k.spawn("A")!;
    const a = anon(k, t, 2000);
    for (let i = 0; i < 2000; i++) {
      k.switchTo(0, t);
      k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, i & 0xff);
    }
    k.reclaim(10);
    dropTlb(k, t);
    k.userAccess(0, t, a + 1500n * PAGE, Access.Read);
    const got = k.reclaim(1600);
    const swapped: number[] = [];
    for (let i = 0; i < 2000; i++) if (state(k, t, a + BigInt(i) * PAGE) === "swapped") swapped.push(i);
    // every page still reads what was written
    for (let i = 0; i < 2000; i += 7) {
      const r = k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Read);
      expect(r.ok && r.value, `${policy}: page ${i}`).toBe(i & 0xff);
    }
    expect(checkInvariants(k)).toEqual([]);
    return { got, swapped, kept1500: !swapped.includes(1500) };
  };

  // (linux is not in the second list: its active list deactivates referenced anonymous pages too,
  // so a page touched once is protected for one pass only, and a reclaim of 80% reaches it)
  it("fifo evicts in insertion order, touched or not; lru, clock and mglru keep the page just touched", () => {
    const fifo = run("fifo");
    expect(fifo.got).toBe(1600);
    expect(fifo.swapped).toEqual(Array.from({ length: 1610 }, (_, i) => i));
    for (const p of ["lru", "clock", "mglru"] as const) {
      const r = run(p);
      expect(r.got, p).toBe(1600);
      expect(r.kept1500, p).toBe(true);
    }
  });

  it("random is repeatable for a seed and differs between seeds", () => {
    const a = run("random", 7);
    const b = run("random", 7);
    const c = run("random", 8);
    expect(a.swapped).toEqual(b.swapped);
    expect(a.swapped).not.toEqual(c.swapped);
  });
});
