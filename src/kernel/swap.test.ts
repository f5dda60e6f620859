/**
 * Swap: the x86-64 swap PTE format, MADV_PAGEOUT, do_swap_page with the swap
 * cache, fork and exit with swap entries, and page-cache pages paged out.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { Pte } from "../hw/arch/x86_64/pte.ts";
import { PageState } from "../hw/PageStore.ts";
import { isSwapPte, swapPteHi, swapPteLo, swapSlot } from "./arch/x86/pgtable.ts";
import type { Task } from "./core/task.ts";
import { fileByte } from "./fs/file.ts";
import type { KernelConfig } from "./Kernel.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { explainAccess } from "./view/explain.ts";
import { checkInvariants } from "./view/invariants.ts";
import { meminfo } from "./view/proc.ts";

const PAGE = 4096n;

function boot(extra: Partial<KernelConfig> = {}) {
  return new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 1 << 20, ...extra });
}

function anon(k: Kernel, t: Task, pages: number): bigint {
  k.switchTo(0, t);
  const r = k.mmap(t, mmapArgs(pages * 4096));
  expect(r > 0n).toBe(true);
  return r;
}

function touch(k: Kernel, t: Task, va: bigint, write = false, value = 0) {
  k.switchTo(0, t);
  const r = k.userAccess(0, t, va, write ? Access.Write : Access.Read, value);
  expect(r.ok).toBe(true);
  return r.ok ? r.value : -1;
}

function pageout(k: Kernel, t: Task, va: bigint, pages: number): bigint {
  k.switchTo(0, t);
  return k.madvise(t, va, BigInt(pages) * PAGE, "pageout");
}

describe("the swap PTE (arch/x86/include/asm/pgtable_64.h)", () => {
  it("puts the offset inverted in bits 9-58 and the type (0) in bits 59-63, with P and PROTNONE clear", () => {
    for (const slot of [1, 2, 0x7fffff, 0x800000, 0x12345678, 0xffffffff]) {
      const [hi, lo] = [swapPteHi(slot), swapPteLo(slot)];
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      const want = ((~BigInt(slot) & ((1n << 50n) - 1n)) << 9n) | (0n << 59n);
      expect(v, `slot ${slot}`).toBe(want);
      expect(lo & (Pte.P | 0x100)).toBe(0);
      expect(isSwapPte(hi, lo)).toBe(true);
      expect(swapSlot(hi, lo)).toBe(slot);
    }
    expect(isSwapPte(0, 1 << 10)).toBe(false); // a guard marker
    expect(isSwapPte(0x80000000, 0x100)).toBe(false); // PROT_NONE with NX
  });
});

describe("MADV_PAGEOUT and swap-in", () => {
  it("swaps out private pages, and a read brings one back as a major fault into the swap cache", () => {
    const k = boot({ pageCluster: 0 }); // no swap readahead here: see below
    const t = k.spawn("A")!;
    const a = anon(k, t, 8);
    for (let i = 0; i < 8; i++) touch(k, t, a + BigInt(i) * PAGE, true, 0x10 + i);
    // free pages: the buddy lists' and the per-CPU lists' (where a freed page goes first)
    const free0 = k.buddy.freePages() + k.buddy.pcp!.total();
    const pgfree0 = k.buddy.pgfree;
    expect(pageout(k, t, a, 8)).toBe(0n);
    expect([t.mm!.rssAnon, t.mm!.swapEnts, k.swap!.used, k.swap!.pswpout]).toEqual([0, 8, 8, 8]);
    expect(k.buddy.freePages() + k.buddy.pcp!.total()).toBe(free0 + 8);
    expect(k.buddy.pgfree).toBe(pgfree0 + 8);
    const e = k.userMm.readPte(t.mm!, Number(a / PAGE))!;
    expect(isSwapPte(e.hi, e.lo)).toBe(true);
    expect(touch(k, t, a + 3n * PAGE)).toBe(0x13);
    expect([t.majFlt, k.swap!.pswpin]).toEqual([1, 1]);
    // the page is in the swap cache; its swap PTE carried the exclusive marker, so it is mapped
    // writable but clean, even on a read fault (do_swap_page); the slot is kept
    expect(meminfo(k).SwapCached).toBe(4096);
    const pte3 = k.userMm.readPte(t.mm!, Number(a / PAGE) + 3)!;
    expect([pte3.lo & Pte.RW, pte3.lo & Pte.D]).toEqual([Pte.RW, 0]);
    expect(k.swap!.used).toBe(8);
    // writing it takes no fault; the swap copy stays until reclaim needs the slot
    touch(k, t, a + 3n * PAGE, true, 0x99);
    expect([t.majFlt, t.minFlt]).toEqual([1, 8]);
    expect([k.swap!.used, meminfo(k).SwapCached]).toEqual([8, 4096]);
    // a write fault on a swapped page maps it writable at once and frees the slot
    touch(k, t, a + 4n * PAGE, true, 0x77);
    expect([t.majFlt, k.swap!.used]).toEqual([2, 7]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("swap readahead reads the other swapped pages of the aligned 2^page_cluster block into the swap cache", () => {
    const k = boot({ pageCluster: 2 }); // blocks of 4 pages
    const t = k.spawn("A")!;
    const a = anon(k, t, 16);
    for (let i = 0; i < 16; i++) touch(k, t, a + BigInt(i) * PAGE, true, i);
    pageout(k, t, a, 16);
    const v = Number(a / PAGE);
    const target = v + ((4 - (v % 4)) % 4) + 5; // the second page of the second aligned block
    expect(touch(k, t, BigInt(target) * PAGE)).toBe((target - v) & 0xff);
    expect([t.majFlt, k.swap!.pswpin, k.swap!.readahead, k.swap!.cache.size]).toEqual([1, 4, 3, 4]);
    // the block's other pages: minor faults now, with the right bytes
    for (const o of [-1, 1, 2]) expect(touch(k, t, BigInt(target + o) * PAGE)).toBe((target + o - v) & 0xff);
    expect(t.majFlt).toBe(1);
    // read-ahead pages nobody maps are freed with their slots when the PTEs go (free_swap_and_cache)
    touch(k, t, BigInt(target + 4) * PAGE);
    k.switchTo(0, t);
    expect(k.munmap(t, a, 16n * PAGE)).toBe(0n);
    expect([k.swap!.used, k.swap!.cache.size]).toEqual([0, 0]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("the faulting page is held while readahead allocates: reclaim run by those allocations cannot take it", () => {
    // Found by the ops fuzz (seed 10099, test/fuzz/ops-10099-read-fault.json): do_swap_page mapped
    // the page, then read the window; the window's allocations ran reclaim, which swapped the page
    // just mapped out again, and the retried access faulted until it gave up with SIGSEGV. Linux's
    // swapin_readahead reads the window first, holding a reference on the faulting folio.
    const k = boot({ pageCluster: 2 });
    const t = k.spawn("A")!;
    const a = anon(k, t, 16);
    for (let i = 0; i < 16; i++) touch(k, t, a + BigInt(i) * PAGE, true, i);
    pageout(k, t, a, 16);
    const v = Number(a / PAGE);
    const target = v + ((4 - (v % 4)) % 4) + 5;
    const pte = k.userMm.readPte(t.mm!, target)!;
    const slot = swapSlot(pte.hi, pte.lo);
    // reclaim inside the readahead's first allocation, aimed at the faulting page (as reclaim
    // under pressure may choose it: the fuzz ran policy=random)
    const reclaimed: number[] = [];
    const alloc = k.buddy.alloc.bind(k.buddy);
    k.buddy.alloc = (order, gfp, kind) => {
      const pfn = k.swap!.cache.get(slot);
      if (reclaimed.length === 0 && pfn !== undefined)
        reclaimed.push(k.vmscan.reclaimPage(pfn, k.vmscan.index[pfn]));
      return alloc(order, gfp, kind);
    };
    k.switchTo(0, t);
    const r = k.userAccess(0, t, BigInt(target) * PAGE, Access.Read, 0);
    k.buddy.alloc = alloc;
    expect(reclaimed, "reclaim was tried during the readahead").toEqual([0]);
    expect(r.ok && [r.value, r.faults]).toEqual([(target - v) & 0xff, 1]);
    expect([t.majFlt, k.swap!.readahead]).toEqual([1, 3]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("explain reads a swap entry as one: bit 9 (the offset's lowest, inverted) is not _PAGE_SPECIAL there", () => {
    const k = boot({ pageCluster: 0 });
    const t = k.spawn("A")!;
    const a0 = anon(k, t, 2);
    for (const o of [0n, PAGE]) touch(k, t, a0 + o, true, 7);
    pageout(k, t, a0, 2);
    // the page whose slot is even: its inverted offset sets bit 9
    const a = [a0, a0 + PAGE].find((x) => (k.userMm.readPte(t.mm!, Number(x / PAGE))!.lo & (1 << 9)) !== 0);
    expect(a, "one of two consecutive slots is even").toBeDefined();
    const text = explainAccess(k, t, a!, Access.Read).join("\n");
    expect(text).toMatch(/a swap entry: type 0, offset \d+/);
    expect(text).not.toMatch(/special/);
  });

  it("MADV_WILLNEED reads swapped anonymous pages into the swap cache (force_swapin_readahead)", () => {
    const k = boot({ pageCluster: 0 });
    const t = k.spawn("A")!;
    const a = anon(k, t, 4);
    for (let i = 0; i < 4; i++) touch(k, t, a + BigInt(i) * PAGE, true, 9 + i);
    pageout(k, t, a, 4);
    k.switchTo(0, t);
    expect(k.madvise(t, a, 4n * PAGE, "willneed")).toBe(0n);
    expect([k.swap!.cache.size, k.swap!.pswpin, t.mm!.swapEnts]).toEqual([4, 4, 4]);
    for (let i = 0; i < 4; i++) expect(touch(k, t, a + BigInt(i) * PAGE)).toBe(9 + i);
    expect([t.majFlt, t.mm!.swapEnts]).toEqual([0, 0]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a clean page still in the swap cache goes out again without a write", () => {
    const k = boot();
    const t = k.spawn("A")!;
    const a = anon(k, t, 1);
    touch(k, t, a, true, 5);
    pageout(k, t, a, 1);
    touch(k, t, a);
    expect(k.swap!.pswpout).toBe(1);
    pageout(k, t, a, 1);
    expect(k.swap!.pswpout).toBe(1); // the slot still held the page
    expect(touch(k, t, a)).toBe(5);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("fork duplicates swap entries; the second process finds the page in the swap cache (a minor fault)", () => {
    const k = boot();
    const p = k.spawn("P")!;
    const a = anon(k, p, 2);
    touch(k, p, a, true, 0x42);
    pageout(k, p, a, 2);
    k.switchTo(0, p);
    const c = k.fork(p, "C")!;
    expect([c.mm!.swapEnts, k.swap!.map[swapSlot(...hiLo(k, c, a))]]).toEqual([1, 2]);
    expect(touch(k, c, a)).toBe(0x42);
    expect(c.majFlt).toBe(1);
    expect(touch(k, p, a)).toBe(0x42);
    expect(p.majFlt).toBe(0);
    // the page is shared now: a write copies it and the copy leaves the other mapping alone
    touch(k, c, a, true, 0x43);
    expect(touch(k, p, a)).toBe(0x42);
    k.exit(c, "exit");
    k.exit(p, "exit");
    expect(k.swap!.used).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("pageout leaves shared pages (mapcount > 1) and locked mappings (EINVAL) alone; without swap it keeps anonymous pages", () => {
    const k = boot();
    const p = k.spawn("P")!;
    const a = anon(k, p, 1);
    touch(k, p, a, true, 1);
    k.switchTo(0, p);
    k.fork(p, "C");
    pageout(k, p, a, 1);
    expect(p.mm!.swapEnts).toBe(0);
    k.switchTo(0, p);
    expect(k.mlock(p, a, PAGE, false)).toBe(0n);
    expect(pageout(k, p, a, 1)).toBe(-22n);
    const n = boot({ swapBytes: 0 });
    const t = n.spawn("A")!;
    const b = anon(n, t, 1);
    touch(n, t, b, true, 1);
    expect(pageout(n, t, b, 1)).toBe(0n);
    expect(t.mm!.rssAnon).toBe(1);
  });

  it("stops when swap is full, and frees the swap copy on a read once swap is more than half full", () => {
    const k = boot({ swapBytes: 5 * 4096 }); // the header and 4 slots
    const t = k.spawn("A")!;
    const a = anon(k, t, 6);
    for (let i = 0; i < 6; i++) touch(k, t, a + BigInt(i) * PAGE, true, i + 1);
    pageout(k, t, a, 6);
    expect([t.mm!.swapEnts, t.mm!.rssAnon, meminfo(k).SwapFree]).toEqual([4, 2, 0]);
    expect(touch(k, t, a)).toBe(1);
    expect(k.swap!.used).toBe(3); // vm_swap_full: the read freed the slot at once
    expect(checkInvariants(k)).toEqual([]);
  });

  it("pages out page-cache pages of a disk file: clean ones are dropped, a dirty one left to the flusher", () => {
    const k = boot();
    const f = k.createFile("f", 4 * 4096, "disk", true);
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const m = k.mmap(t, mmapArgs(4 * 4096, { file: f, shared: true }));
    touch(k, t, m);
    touch(k, t, m + PAGE, true, 0xee);
    expect(t.mm!.rssFile).toBe(4);
    pageout(k, t, m, 4);
    // ext4 has no writepage (Linux 6.12): the dirty page stays cached, unmapped, for the flusher
    expect([t.mm!.rssFile, f.cache.size, f.dirty.size, f.pagesWritten]).toEqual([0, 1, 1, 0]);
    expect(k.view.vmstat().nr_vmscan_immediate_reclaim).toBe(1);
    expect(k.fsync(t, f)).toEqual({ ret: 0n, written: 1 });
    expect([f.dirty.size, f.pagesWritten]).toEqual([0, 1]);
    expect(f.storedByte(4096)).toBe(0xee);
    expect(touch(k, t, m + PAGE)).toBe(0xee); // still cached: a minor fault
    expect(touch(k, t, m + 2n * PAGE)).toBe(fileByte("f", 2 * 4096));
    expect(t.majFlt).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });
});

function hiLo(k: Kernel, t: Task, va: bigint): [number, number] {
  const e = k.userMm.readPte(t.mm!, Number(va / PAGE))!;
  return [e.hi, e.lo];
}

describe("uniform pages through swap (hw/PageStore.ts)", () => {
  it("swaps out and in pages of one repeated value without host slots, and every byte reads back", () => {
    const k = boot({ pageCluster: 0 });
    const t = k.spawn("A")!;
    const a = anon(k, t, 4);
    const phys = k.machine.phys;
    const pfnOf = (i: number) => k.userMm.readPte(t.mm!, Number(a / PAGE) + i)!.lo >>> 12; // 64 MiB of RAM: lo holds it
    // page 0: every byte 0x5a, written byte by byte (materialised on the way, uniform in the end)
    for (let off = 0; off < 4096; off++) touch(k, t, a + BigInt(off), true, 0x5a);
    // page 1: one byte written (as a scenario's `write` leaves a page); page 2: varied; page 3: only read
    touch(k, t, a + PAGE + 100n, true, 0x77);
    for (let off = 0; off < 4096; off += 512) touch(k, t, a + 2n * PAGE + BigInt(off), true, off >>> 9);
    touch(k, t, a + 3n * PAGE);
    expect([0, 1, 2].map((i) => phys.store.state(pfnOf(i)))).toEqual([
      PageState.Materialised,
      PageState.OneWord,
      PageState.Materialised,
    ]);
    expect(pageout(k, t, a, 4)).toBe(0n);
    expect(k.swap!.pswpout).toBe(3); // the zero page is not swapped
    const slots = [0, 1, 2].map((i) => {
      const e = k.userMm.readPte(t.mm!, Number(a / PAGE) + i)!;
      return swapSlot(e.hi, e.lo);
    });
    // the device holds page 0 as its value, page 1 as a value and one word, page 2 word by word
    expect(slots.map((s) => k.swap!.contents.state(s))).toEqual([
      PageState.Uniform,
      PageState.OneWord,
      PageState.Materialised,
    ]);
    expect(k.swap!.contents.materialized).toBe(1);
    // every byte of every page back, through the user's reads (major faults)
    for (let off = 0; off < 4096; off += 7) {
      expect(touch(k, t, a + BigInt(off))).toBe(0x5a);
      expect(touch(k, t, a + PAGE + BigInt(off))).toBe(off === 100 ? 0x77 : 0);
      expect(touch(k, t, a + 2n * PAGE + BigInt(off))).toBe(off % 512 === 0 ? off >>> 9 : 0);
      expect(touch(k, t, a + 3n * PAGE + BigInt(off))).toBe(0);
    }
    expect(touch(k, t, a + 4095n)).toBe(0x5a);
    // swapped in as compact as they went out
    expect([0, 1, 2].map((i) => phys.store.state(pfnOf(i)))).toEqual([
      PageState.Uniform,
      PageState.OneWord,
      PageState.Materialised,
    ]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("copies a page of one value on a COW fault without a host slot (copy_user_highpage)", () => {
    const k = boot();
    const p = k.spawn("P")!;
    const a = anon(k, p, 1);
    for (let off = 0; off < 4096; off++) touch(k, p, a + BigInt(off), true, 0x5a); // materialised on the way
    const c = k.fork(p, "C")!;
    touch(k, c, a + 10n, true, 0x5a); // the COW copy, then a store of the value it holds
    touch(k, p, a + 20n, true, 0x11); // the parent's page is its own again: a varied byte
    const pfnOf = (t: Task) => k.userMm.readPte(t.mm!, Number(a / PAGE))!.lo >>> 12; // 64 MiB of RAM: lo holds it
    expect(pfnOf(c)).not.toBe(pfnOf(p));
    expect(k.machine.phys.store.state(pfnOf(c))).toBe(PageState.Uniform);
    for (let off = 0; off < 4096; off += 5) {
      expect(touch(k, c, a + BigInt(off))).toBe(0x5a);
      expect(touch(k, p, a + BigInt(off))).toBe(off === 20 ? 0x11 : 0x5a);
    }
    expect(checkInvariants(k)).toEqual([]);
  });
});
