/**
 * Reclaim's batched TLB flush (TTU_BATCH_FLUSH, mm/tlbbatch.ts) on each
 * architecture, as Linux 6.12 does it: x86 defers only when another CPU has
 * the mm loaded and then flushes everything once on the batch's CPUs; arm64
 * issues each page's TLBI at once and waits once (DSB); RISC-V flushes
 * everything, every ASID, once on the batch's harts. A dirty PTE's flush is
 * paid before the page is written out (try_to_unmap_flush_dirty); an mm a
 * batch deferred flushes of is flushed again by the next mprotect of it
 * (flush_tlb_batched_pending); and no CPU uses a translation of a
 * reclaimed page after the flush point (the coherence checker).
 */

import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import type { KernelConfig } from "../core/config.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./mmap.ts";
import type { TlbUnmapBatch } from "./tlbbatch.ts";
import { scannedTotal, stolenTotal } from "./vmscan_stat.ts";

const PAGE = 4096n;
/** pages reclaimed by MADV_PAGEOUT; `EXTRA` more stay mapped */
const N = 8;
const EXTRA = 4;

interface Scene {
  k: Kernel;
  t: Task;
  /** the thread on CPU 1 (two CPUs only) */
  t2: Task | null;
  va: bigint;
  ubc: TlbUnmapBatch;
  cpus: Mmu[];
}

/**
 * A process on `cpus` CPUs (a second thread on CPU 1), N + EXTRA pages of
 * a file mapped and read (clean PTEs) or of anonymous memory written
 * (dirty PTEs) on every CPU, so that each CPU's TLB holds them.
 */
function scene(cpus: 1 | 2, cfg: Partial<KernelConfig>, dirty = false): Scene {
  const k = new Kernel({
    ramBytes: 64 << 20,
    cpus,
    swapBytes: 8 << 20,
    checkCoherence: true,
    faultAroundBytes: 4096,
    ...cfg,
  });
  const t = k.spawn("p")!;
  k.switchTo(0, t);
  const t2 = cpus === 2 ? k.thread(t, "p2")! : null;
  if (t2 !== null) k.switchTo(1, t2);
  const bytes = (N + EXTRA) * 4096;
  const va = dirty
    ? k.mmap(t, mmapArgs(bytes))
    : k.mmap(t, mmapArgs(bytes, { file: k.createFile("f", bytes), prot: { r: true, w: false, x: false } }));
  expect(va > 0n).toBe(true);
  for (const [cpu, task] of [
    [0, t],
    [1, t2],
  ] as const) {
    if (task === null) continue;
    for (let i = 0; i < N + EXTRA; i++) {
      const r = k.userAccess(cpu, task, va + BigInt(i) * PAGE, dirty ? Access.Write : Access.Read, i + 1);
      expect(r.ok).toBe(true);
    }
    // the writes are all done from CPU 0; CPU 1 reads them into its TLB
    if (dirty) dirty = cpu === 0 ? false : dirty;
  }
  const ubc = k.userMm.env.tlbUbc!;
  expect(ubc).toBeDefined();
  return { k, t, t2, va, ubc, cpus: k.machine.cpus as unknown as Mmu[] };
}

/** The counters a flush moves, summed over the CPUs where asked. */
function counters(s: Scene) {
  const tlb = s.k.tlbMgr as unknown as { batchFlushes: number; sbiFences?: number };
  return {
    deferred: s.ubc.deferred,
    ubcFlushes: s.ubc.flushes,
    batchFlushes: tlb.batchFlushes,
    shootdowns: s.k.tlbMgr.shootdowns,
    broadcasts: s.k.tlbMgr.broadcasts,
    sbiFences: tlb.sbiFences ?? 0,
    full: s.cpus.map((c) => c.fullFlushes),
    pageInv: s.cpus.map((c) => c.pageInvalidations),
  };
}

function diff(a: ReturnType<typeof counters>, b: ReturnType<typeof counters>) {
  return {
    deferred: b.deferred - a.deferred,
    ubcFlushes: b.ubcFlushes - a.ubcFlushes,
    batchFlushes: b.batchFlushes - a.batchFlushes,
    shootdowns: b.shootdowns - a.shootdowns,
    broadcasts: b.broadcasts - a.broadcasts,
    sbiFences: b.sbiFences - a.sbiFences,
    full: b.full.map((x, i) => x - a.full[i]),
    pageInv: b.pageInv.map((x, i) => x - a.pageInv[i]),
  };
}

/** MADV_PAGEOUT of the first N pages, from CPU 0; what it moved. */
function pageout(s: Scene) {
  const before = counters(s);
  expect(s.k.madvise(s.t, s.va, BigInt(N) * PAGE, "pageout")).toBe(0n);
  expect(s.k.lastPageout).toBeGreaterThanOrEqual(N);
  return diff(before, counters(s));
}

/** Walks on `cpu` to read the EXTRA pages that stayed mapped: 0 if its TLB still held them. */
function walksForKept(s: Scene, cpu: number): number {
  const task = cpu === 0 ? s.t : s.t2!;
  const w = s.cpus[cpu].walks;
  for (let i = N; i < N + EXTRA; i++)
    expect(s.k.userAccess(cpu, task, s.va + BigInt(i) * PAGE, Access.Read).ok).toBe(true);
  return s.cpus[cpu].walks - w;
}

/** Every page reads back what was written (through swap or the file), and no check finds anything. */
function settled(s: Scene, dirty: boolean): void {
  for (const [cpu, task] of [
    [0, s.t],
    [1, s.t2],
  ] as const) {
    if (task === null) continue;
    for (let i = 0; i < N + EXTRA; i++) {
      const r = s.k.userAccess(cpu, task, s.va + BigInt(i) * PAGE, Access.Read);
      expect(r.ok).toBe(true);
      if (dirty && r.ok) expect(r.value).toBe(i + 1);
    }
  }
  expect(checkInvariants(s.k)).toEqual([]);
  expect(s.k.machine.checker?.reports ?? []).toEqual([]);
}

describe("x86-64: arch_tlbbatch_should_defer (another CPU in mm_cpumask), one full flush", () => {
  it("one CPU: nothing deferred, an INVLPG per page (ptep_clear_flush)", () => {
    const s = scene(1, {});
    const d = pageout(s);
    expect(d.deferred).toBe(0);
    expect(d.ubcFlushes).toBe(0);
    expect(d.pageInv[0]).toBe(N);
    expect(d.full[0]).toBe(0);
    expect(walksForKept(s, 0)).toBe(0);
    settled(s, false);
  });

  it("two CPUs, clean PTEs: every flush deferred, then one IPI and one full flush on each CPU", () => {
    const s = scene(2, { pcid: true });
    const d = pageout(s);
    expect(d.deferred).toBe(N);
    expect(d.ubcFlushes).toBe(1);
    expect(d.batchFlushes).toBe(1);
    expect(d.shootdowns).toBe(1); // flush_tlb_multi: CPU 1 only; CPU 0 flushes itself
    expect(d.pageInv).toEqual([0, 0]);
    expect(d.full).toEqual([1, 1]);
    // TLB_FLUSH_ALL took the pages that stayed mapped with it, on both CPUs
    expect(walksForKept(s, 1)).toBe(EXTRA);
    expect(walksForKept(s, 0)).toBe(EXTRA);
    settled(s, false);
  });

  it("two CPUs, dirty PTEs: each page's flush is paid before its swap write (try_to_unmap_flush_dirty)", () => {
    const s = scene(2, { pcid: true }, true);
    const d = pageout(s);
    expect(d.deferred).toBe(N);
    expect(d.ubcFlushes).toBe(N);
    expect(d.shootdowns).toBe(N);
    expect(d.full).toEqual([N, N]);
    settled(s, true);
  });

  it("flush_tlb_batched_pending: the next mprotect of the mm flushes it once (flush_tlb_mm), the one after does not", () => {
    const s = scene(2, { pcid: true });
    pageout(s);
    const calls: number[] = [];
    const tlb = s.k.tlbMgr;
    const real = tlb.flushTlbBatchedPending!.bind(tlb);
    tlb.flushTlbBatchedPending = (mm, from) => {
      calls.push(from);
      real(mm, from);
    };
    const mm = s.t.mm!;
    expect(mm.tlbFlushBatched & 0x7fff).not.toBe(mm.tlbFlushBatched >>> 16);
    const len = BigInt(N + EXTRA) * PAGE;
    const sd = tlb.shootdowns;
    // the rights must change for change_pte_range to run (mprotect_fixup: newflags == oldflags
    // returns at once): r-- -> r-x, then back
    expect(s.k.mprotect(s.t, s.va, len, { r: true, w: false, x: true })).toBe(0n);
    expect(calls).toEqual([0]);
    expect(tlb.shootdowns - sd).toBeGreaterThanOrEqual(1); // flush_tlb_mm reaches CPU 1
    expect(mm.tlbFlushBatched & 0x7fff).toBe(mm.tlbFlushBatched >>> 16);
    expect(s.k.mprotect(s.t, s.va, len, { r: true, w: false, x: false })).toBe(0n);
    expect(calls).toEqual([0]);
    settled(s, false);
  });

  it("stale-TLB check: with the batch's flush dropped, CPU 1 uses a reclaimed page's translation", () => {
    const s = scene(2, { pcid: true });
    const tlb = s.k.tlbMgr;
    tlb.tlbbatchFlush = () => {}; // the flush point does nothing
    pageout(s);
    s.k.userAccess(1, s.t2!, s.va, Access.Read); // CPU 1's TLB still maps the page that went
    expect((s.k.machine.checker?.reports ?? []).length).toBeGreaterThan(0);
  });

  it("the invariant checker reports a batch that still owes its flush after reclaim", () => {
    const s = scene(2, { pcid: true });
    const real = s.k.vmscan.endFolioList.bind(s.k.vmscan);
    s.k.vmscan.endFolioList = () => {}; // MADV_PAGEOUT's lists end without try_to_unmap_flush
    pageout(s);
    expect(checkInvariants(s.k).join()).toMatch(/still owes a flush/);
    real();
    expect(checkInvariants(s.k)).toEqual([]);
  });
});

describe("i386: as x86", () => {
  it("one CPU: INVLPG per page; two CPUs: deferred, one IPI, one CR3 reload on each CPU", () => {
    const one = scene(1, { arch: "i386" });
    const d1 = pageout(one);
    expect(d1.deferred).toBe(0);
    expect(d1.pageInv[0]).toBe(N);
    settled(one, false);
    const two = scene(2, { arch: "i386" });
    const d2 = pageout(two);
    expect(d2.deferred).toBe(N);
    expect(d2.ubcFlushes).toBe(1);
    expect(d2.shootdowns).toBe(1);
    expect(d2.pageInv).toEqual([0, 0]);
    expect(walksForKept(two, 1)).toBe(EXTRA);
    settled(two, false);
  });
});

describe("arm64: TLBI VALE1IS per page at once (__flush_tlb_page_nosync), one DSB for the batch", () => {
  for (const cpus of [1, 2] as const) {
    it(`${cpus} CPU(s): every flush deferred, N broadcast TLBIs, one DSB, no IPI`, () => {
      const s = scene(cpus, { arch: "arm64" });
      const d = pageout(s);
      expect(d.deferred).toBe(N);
      expect(d.ubcFlushes).toBe(1);
      expect(d.batchFlushes).toBe(1);
      expect(d.broadcasts).toBe(N);
      expect(d.shootdowns).toBe(0);
      expect(d.full.every((x) => x === 0)).toBe(true);
      // by page: the pages that stayed mapped are still in every TLB
      for (let c = 0; c < cpus; c++) expect(walksForKept(s, c)).toBe(0);
      settled(s, false);
    });
  }
});

describe("RISC-V: nothing fenced until the batch's flush, then everything, every ASID, once", () => {
  for (const rfence of ["sbi", "ipi"] as const) {
    it(`two harts (${rfence}): one remote fence, one full SFENCE.VMA on each hart`, () => {
      const s = scene(2, { arch: "riscv-sv39", rfence });
      const d = pageout(s);
      expect(d.deferred).toBe(N);
      expect(d.ubcFlushes).toBe(1);
      expect(d.batchFlushes).toBe(1);
      expect(d.shootdowns).toBe(1);
      expect(d.sbiFences).toBe(rfence === "sbi" ? 1 : 0);
      expect(d.pageInv).toEqual([0, 0]);
      expect(d.full).toEqual([1, 1]);
      expect(walksForKept(s, 1)).toBe(EXTRA);
      settled(s, false);
    });
  }
  it("one hart: deferred too, one local full fence", () => {
    const s = scene(1, { arch: "riscv-sv39" });
    const d = pageout(s);
    expect(d.deferred).toBe(N);
    expect(d.shootdowns).toBe(0);
    expect(d.full).toEqual([1]);
    expect(d.pageInv).toEqual([0]);
    settled(s, false);
  });
});

describe("reclaim under pressure on two CPUs (shrink_folio_list's flush points)", () => {
  it("x86: the batch is flushed at least once per SWAP_CLUSTER_MAX pages scanned, and every page reads back", () => {
    const k = new Kernel({
      ramBytes: 34 << 20,
      cpus: 2,
      pcid: true,
      // swap for every page: the read-back's swap readahead pages keep their slots, and with swap
      // full get_scan_count scans no anonymous page (SCAN_FILE), so a smaller swap ends in the OOM killer
      swapBytes: 48 << 20,
      checkCoherence: true,
    });
    const t = k.spawn("p")!;
    k.switchTo(0, t);
    const t2 = k.thread(t, "p2")!;
    k.switchTo(1, t2);
    const pages = 12000;
    const va = k.mmap(t, mmapArgs(pages * 4096));
    for (let i = 0; i < pages; i++) {
      const cpu = i % 2;
      expect(k.userAccess(cpu, cpu === 0 ? t : t2, va + BigInt(i) * PAGE, Access.Write, i & 0xff).ok).toBe(
        true,
      );
    }
    const ubc = k.userMm.env.tlbUbc!;
    expect(stolenTotal(k.vmscan.stats)).toBeGreaterThan(pages / 4);
    expect(ubc.deferred).toBeGreaterThan(0);
    // at least one flush per shrink_folio_list (SWAP_CLUSTER_MAX pages scanned), more for dirty pages
    expect(ubc.flushes).toBeGreaterThanOrEqual(Math.ceil(scannedTotal(k.vmscan.stats) / 32) / 2);
    expect(ubc.flushRequired).toBe(false); // nothing left owed after reclaim returned
    for (let i = 0; i < pages; i += 7) {
      const r = k.userAccess(1, t2, va + BigInt(i) * PAGE, Access.Read);
      expect(r.ok && r.value).toBe(i & 0xff);
    }
    expect(k.machine.checker?.reports ?? []).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });
});
