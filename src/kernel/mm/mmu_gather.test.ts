/**
 * The flush duty of page-table changes: the architecture's pte_needs_flush,
 * the helpers that refuse a change owing a flush without a gather, the
 * gather's range and page batch, the invariant that no gather stays open,
 * and (seeded fuzzing) that a flush dropped on its way to the TLBs is
 * caught by the coherence checker at the first use of the stale entry.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { Access } from "../../hw/access.ts";
import { Pte, PteHi } from "../../hw/arch/x86_64/pte.ts";
import { X86Pgtable } from "../arch/x86/pgtable.ts";
import type { X86Tlb } from "../arch/x86/tlb.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { TlbFlush } from "./arch.ts";
import { mmapArgs } from "./mmap.ts";
import { MmuGather } from "./mmu_gather.ts";
import { PageKind } from "./PageDesc.ts";
import { ptepSetAccessFlags, readPte, setPteAt } from "./pgtable.ts";

const FRAME = 0x1234 * 4096;
const P = Pte.P;

describe("pte_needs_flush (x86, arch/x86/include/asm/tlbflush.h)", () => {
  const pt = new X86Pgtable(4, false);
  const rw = P | Pte.RW | Pte.US | Pte.A | Pte.D;
  // [what, old lo, old hi, new lo, new hi, needs a flush] — stated from Linux's rule, not the code:
  // not present before: never; new frame: always; clearing P or D: yes; changing RW, US, PWT,
  // PCD, PS/PAT, G, PAT_LARGE, NX or the key: yes; A and the software bits: no
  const cases: [string, number, number, number, number, boolean][] = [
    ["none -> present", 0, 0, FRAME + rw, 0, false],
    ["swap entry (not present) -> present", 0x200, 5, FRAME + rw, 0, false],
    ["present -> none", FRAME + rw, 0, 0, 0, true],
    ["present -> PROT_NONE (P cleared)", FRAME + rw, 0, FRAME + ((rw & ~P) | (1 << 8)), 0, true],
    ["another frame", FRAME + rw, 0, FRAME + 4096 + rw, 0, true],
    ["accessed cleared", FRAME + rw, 0, FRAME + (rw & ~Pte.A), 0, false],
    ["accessed set", FRAME + (rw & ~Pte.A), 0, FRAME + rw, 0, false],
    ["dirty cleared", FRAME + rw, 0, FRAME + (rw & ~Pte.D), 0, true],
    ["dirty set", FRAME + (rw & ~Pte.D), 0, FRAME + rw, 0, false],
    ["write removed", FRAME + rw, 0, FRAME + (rw & ~Pte.RW), 0, true],
    ["write added (flush_on_change)", FRAME + (rw & ~Pte.RW), 0, FRAME + rw, 0, true],
    ["user removed", FRAME + rw, 0, FRAME + (rw & ~Pte.US), 0, true],
    ["NX set", FRAME + rw, 0, FRAME + rw, PteHi.XD, true],
    ["NX cleared", FRAME + rw, PteHi.XD, FRAME + rw, 0, true],
    ["protection key changed", FRAME + rw, 0, FRAME + rw, 3 << PteHi.PKEY_SHIFT, true],
    ["global set", FRAME + rw, 0, FRAME + rw + Pte.G, 0, true],
    ["cache disable set", FRAME + rw, 0, FRAME + rw + Pte.PCD, 0, true],
    ["software bit 9 (special) set", FRAME + rw, 0, FRAME + rw + (1 << 9), 0, false],
    ["software bits 11..10 changed", FRAME + rw + (1 << 10), 0, FRAME + rw + (1 << 11), 0, false],
  ];
  for (const [what, oldLo, oldHi, newLo, newHi, want] of cases) {
    it(`${what}: ${want ? "flush" : "no flush"}`, () => {
      expect(pt.needsFlush(oldHi, oldLo >>> 0, newHi >>> 0, newLo >>> 0, 0)).toBe(want);
    });
  }
  it("a huge PMD's frame is read at its own level (bit 12 is PAT there, not an address bit)", () => {
    const huge = (0x200 * 4096 + (P | Pte.RW | Pte.PS | Pte.A | Pte.D)) >>> 0;
    expect(pt.needsFlush(0, huge, 0, (huge | Pte.PAT_LARGE) >>> 0, 1)).toBe(true); // PAT_LARGE changes
    expect(pt.needsFlush(0, huge, 0, (huge & ~Pte.A) >>> 0, 1)).toBe(false);
    expect(pt.needsFlush(0, huge, 0, (huge + 512 * 4096) >>> 0, 1)).toBe(true);
  });
});

function boot() {
  const k = new Kernel<never, X86Tlb>({ ramBytes: 64 << 20, cpus: 2, pcid: true, checkCoherence: true });
  const t = k.spawn("p")!;
  t.caught.add("SIGSEGV");
  k.switchTo(0, t);
  return { k, t };
}

function mapAnon(k: Kernel, t: Task, pages: number): number {
  const r = k.mmap(t, mmapArgs(pages * 4096));
  expect(r > 0n).toBe(true);
  return Number(r / 4096n);
}

describe("writing entries with the flush duty (mm/pgtable.ts)", () => {
  it("set_pte_at over a present entry is refused: that change owes a flush", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 1);
    expect(k.userAccess(0, t, BigInt(v) * 4096n, Access.Write, 7).ok).toBe(true);
    const pte = readPte(k.userMm, t.mm!, v)!;
    expect(() => setPteAt(k.userMm, pte.pa, 0, 0)).toThrow(/present/);
    // and nothing was written
    expect(readPte(k.userMm, t.mm!, v)).toEqual(pte);
  });

  it("ptep_set_access_flags may only add accessed, dirty or write", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 1);
    expect(k.userAccess(0, t, BigInt(v) * 4096n, Access.Write, 7).ok).toBe(true);
    const pte = readPte(k.userMm, t.mm!, v)!;
    const readOnly = { hi: pte.hi, lo: (pte.lo & ~Pte.RW) >>> 0 };
    expect(() => ptepSetAccessFlags(k.userMm, t.mm!, v, pte.pa, pte, readOnly, false)).toThrow(
      /takes something away/,
    );
    const otherFrame = { hi: pte.hi, lo: (pte.lo + 4096) >>> 0 };
    expect(() => ptepSetAccessFlags(k.userMm, t.mm!, v, pte.pa, pte, otherFrame, false)).toThrow();
    const old = { hi: pte.hi, lo: (pte.lo & ~Pte.A) >>> 0 };
    expect(() => ptepSetAccessFlags(k.userMm, t.mm!, v, pte.pa, old, pte, false)).not.toThrow();
  });
});

describe("mmu_gather (mm/mmu_gather.ts)", () => {
  it("flushes the span of the entries that needed it, then frees the batched pages", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 64);
    // touch pages 10 and 12 only: munmap of all 64 owes a flush of [10, 13)
    for (const i of [10, 12])
      expect(k.userAccess(0, t, BigInt(v + i) * 4096n, Access.Write, 1).ok).toBe(true);
    const pfn10 = readPte(k.userMm, t.mm!, v + 10)!;
    const frame = k.userMm.env.pgtable.pfn(pfn10.hi, pfn10.lo, 0);
    const flushes: [number, number, number][] = [];
    const real = k.tlbMgr.flushTlbMmRange.bind(k.tlbMgr);
    k.tlbMgr.flushTlbMmRange = (mm, start, n, from) => {
      flushes.push([start - v, n, k.pages.refcount[frame]]);
      real(mm, start, n, from);
    };
    // the first half: pages 32..63 keep the page table
    expect(k.munmap(t, BigInt(v) * 4096n, 32n * 4096n)).toBe(0n);
    // one flush, of pages 10..12, while the page was still referenced (freed after the flush): by
    // its mapping and by this CPU's LRU add batch, which free_pages_and_swap_cache empties after it
    expect(flushes).toEqual([[10, 3, 2]]);
    expect(k.pages.refcount[frame]).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a munmap that frees page tables flushes them too (tlb->freed_tables) and frees them after the flush", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 64);
    expect(k.userAccess(0, t, BigInt(v + 10) * 4096n, Access.Write, 1).ok).toBe(true);
    const w = k.view.walk(t, BigInt(v + 10) * 4096n);
    const ptePfn = w.entries.find((e) => e.level === 0)!.tablePfn;
    expect(k.pages.kind[ptePfn]).toBe(PageKind.PageTable);
    const flushes: { start: number; n: number; kind: TlbFlush | undefined; tableKind: number }[] = [];
    const real = k.tlbMgr.flushTlbMmRange.bind(k.tlbMgr);
    k.tlbMgr.flushTlbMmRange = (mm, start, n, from, kind) => {
      flushes.push({ start, n, kind, tableKind: k.pages.kind[ptePfn] });
      real(mm, start, n, from, kind);
    };
    expect(k.munmap(t, BigInt(v) * 4096n, 64n * 4096n)).toBe(0n);
    expect(flushes).toHaveLength(1);
    // the range reaches down to the freed tables' spans (2 MiB-aligned for the PTE table)
    expect(flushes[0].start).toBeLessThanOrEqual(v - (v % 512));
    expect(flushes[0].start + flushes[0].n).toBeGreaterThanOrEqual(v + 11);
    expect(flushes[0].kind).toBe(TlbFlush.Tables);
    // still a page table during the flush, free after it
    expect(flushes[0].tableKind).toBe(PageKind.PageTable);
    expect(k.pages.kind[ptePfn]).not.toBe(PageKind.PageTable);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("owes nothing for entries no TLB could hold: munmap of untouched memory flushes nothing", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 8);
    let flushes = 0;
    const real = k.tlbMgr.flushTlbMmRange.bind(k.tlbMgr);
    k.tlbMgr.flushTlbMmRange = (mm, s, n, f) => {
      flushes++;
      real(mm, s, n, f);
    };
    expect(k.munmap(t, BigInt(v) * 4096n, 8n * 4096n)).toBe(0n);
    expect(flushes).toBe(0);
  });

  it("a fullmm gather flushes the whole address space", () => {
    const { k, t } = boot();
    const seen: [number, number][] = [];
    k.tlbMgr.flushTlbMmRange = (_mm, s, n) => void seen.push([s, n]);
    const tlb = new MmuGather(k.userMm, t.mm!, true);
    tlb.flushRange(5, 1);
    tlb.finish();
    expect(seen).toEqual([[0, k.userMm.env.taskSizeVpn]]);
  });

  it("a gather never finished is a broken invariant the checker names", () => {
    const { k, t } = boot();
    const tlb = new MmuGather(k.userMm, t.mm!);
    expect(checkInvariants(k).join("\n")).toMatch(/p: 1 TLB flush\(es\) still pending/);
    tlb.finish();
    expect(checkInvariants(k)).toEqual([]);
    expect(() => tlb.finish()).toThrow(/twice/);
    expect(() => tlb.flushRange(1, 1)).toThrow(/after tlb_finish_mmu/);
  });
});

/**
 * Seeded random use of one process on two CPUs; at step `dropAt` the TLB
 * flushes of one page-table change (mprotect to read-only, munmap or
 * MADV_DONTNEED of pages just written on both CPUs) are dropped on their
 * way to the TLBs. Returns the coherence checker's reports.
 */
function fuzzDropped(seed: number, dropAt: number) {
  const rng = new Rng(seed);
  const { k, t } = boot();
  const real = k.tlbMgr.flushTlbMmRange.bind(k.tlbMgr);
  let dropping = false;
  let dropped = 0;
  k.tlbMgr.flushTlbMmRange = (mm, s, n, f) => {
    if (dropping) {
      dropped++; // as if the kernel never asked: no IPI, no invalidation, tlb_gen unchanged
      return;
    }
    real(mm, s, n, f);
  };
  const base = mapAnon(k, t, 256);
  const live = new Set<number>();
  for (let i = 0; i < 256; i++) live.add(base + i);
  const cpuOf = () => rng.below(2);
  const run = (cpu: number) => {
    if (k.cpuOf(t) !== cpu) k.switchTo(cpu, t);
  };
  let droppedOp = "";
  for (let step = 0; step < 120; step++) {
    k.tagChecker(`step ${step}`);
    const pages = [...live];
    if (pages.length === 0) break;
    const v = rng.pick(pages);
    let n = 1;
    while (n < 6 && live.has(v + n)) n++;
    if (step === dropAt) {
      // fill both CPUs' TLBs with the range, writable
      for (const cpu of [0, 1]) {
        run(cpu);
        for (let i = 0; i < n; i++) k.userAccess(cpu, t, BigInt(v + i) * 4096n, Access.Write, step & 0xff);
      }
      dropping = true;
      const op = rng.pick(["mprotect", "munmap", "dontneed"]);
      droppedOp = `${op} of ${n} page(s) at step ${step}`;
      if (op === "mprotect")
        k.mprotect(t, BigInt(v) * 4096n, BigInt(n) * 4096n, { r: true, w: false, x: false });
      else if (op === "munmap") {
        k.munmap(t, BigInt(v) * 4096n, BigInt(n) * 4096n);
        for (let i = 0; i < n; i++) live.delete(v + i);
      } else k.madvise(t, BigInt(v) * 4096n, BigInt(n) * 4096n, "dontneed");
      dropping = false;
      // the range is used again, from either CPU
      for (let i = 0; i < n; i++) {
        const cpu = cpuOf();
        run(cpu);
        k.userAccess(cpu, t, BigInt(v + i) * 4096n, rng.float() < 0.5 ? Access.Write : Access.Read, 1);
      }
      continue;
    }
    const op = rng.float();
    const cpu = cpuOf();
    run(cpu);
    if (op < 0.7) {
      k.userAccess(cpu, t, BigInt(v) * 4096n, rng.float() < 0.5 ? Access.Write : Access.Read, step & 0xff);
    } else if (op < 0.85) {
      const w = rng.float() < 0.5;
      k.mprotect(t, BigInt(v) * 4096n, BigInt(n) * 4096n, { r: true, w, x: false });
    } else {
      k.madvise(t, BigInt(v) * 4096n, BigInt(n) * 4096n, "dontneed");
    }
  }
  return { reports: k.machine.checker!.reports, dropped, droppedOp, invariants: checkInvariants(k) };
}

describe("a dropped flush is caught by the coherence checker (seeded fuzzing)", () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`seed ${seed}`, () => {
      const clean = fuzzDropped(seed, -1);
      expect(clean.dropped).toBe(0);
      expect(clean.reports, "no flush dropped: no stale use").toEqual([]);
      expect(clean.invariants).toEqual([]);
      const r = fuzzDropped(seed, 20 + (seed % 7));
      console.log(
        `seed ${seed}: dropped ${r.dropped} flush(es) of ${r.droppedOp}; ${r.reports.length} stale use(s)`,
      );
      expect(r.dropped, "the change owed a flush").toBeGreaterThan(0);
      expect(r.reports.length, "the stale entry's use is reported").toBeGreaterThan(0);
      const first = r.reports[0];
      expect(first.missing).toMatch(/INVLPG|INVPCID|CR3/);
      expect(first.differences.length).toBeGreaterThan(0);
    });
  }
});
