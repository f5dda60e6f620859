/**
 * Large anonymous folios swapped out whole (mm/vmscan_swapout.ts,
 * mm/swap_cluster.ts; Linux 6.12 mm/vmscan.c shrink_folio_list, add_to_swap,
 * mm/swapfile.c cluster_alloc_swap_entry, mm/madvise.c
 * madvise_cold_or_pageout_pte_range): on x86-64 and arm64, a 64K folio paged
 * out or reclaimed gets 16 consecutive slots in one swap cluster and goes
 * whole (mthp swpout, pswpout + 16); with no cluster of its order free it is
 * split and its pages go one by one (swpout_fallback); a range covering it
 * in part splits it first; swap-in is order 0. The invariant checker runs
 * after each.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { rng } from "../mm.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./userMm.ts";
import { swapOutLargeFolio } from "./vmscan_swapout.ts";

const PAGE = 4096n;
const K64 = 64n << 10n;
const MiB = 2 ** 20;

function boot(arch: "x86_64" | "arm64", swapBytes = 64 * MiB, ramBytes = 256 * MiB) {
  const k = new Kernel({ arch, ramBytes, cpus: 1, thp: "never", swapBytes });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  expect(k.mthpSet(64, "always")).toBe(true);
  return { k, t, m: k.userMm.env.mthp!, swap: k.swap! };
}

/** An `align`-aligned (64K unless told) anonymous range of `bytes`. */
function region(k: Kernel, t: Task, bytes: bigint, align = K64): bigint {
  const r = k.mmap(t, mmapArgs(Number(bytes + align)));
  const base = ((r + align - 1n) / align) * align;
  if (base > r) expect(k.munmap(t, r, base - r)).toBe(0n);
  if (base + bytes < r + bytes + align) expect(k.munmap(t, base + bytes, r + align - base)).toBe(0n);
  return base;
}

function write(k: Kernel, t: Task, va: bigint, v: number): void {
  expect(k.userAccess(0, t, va, Access.Write, v).ok).toBe(true);
}

function read(k: Kernel, t: Task, va: bigint): number {
  const r = k.userAccess(0, t, va, Access.Read);
  return r.ok ? r.value : -1;
}

/** Fills `n` 64K folios from `a`, page i of the range holding i + 1. */
function fill(k: Kernel, t: Task, a: bigint, n: number): void {
  for (let i = 0n; i < BigInt(16 * n); i++) write(k, t, a + i * PAGE, Number(i % 200n) + 1);
}

/** The swap slot of the swap PTE at va, or -1. */
function slotAt(k: Kernel, t: Task, va: bigint): number {
  const l = k.userMm.readPte(t.mm!, Number(va / PAGE));
  const pt = k.userMm.env.pgtable;
  return l !== null && pt.isSwap(l.hi, l.lo) ? pt.swapOffset(l.hi, l.lo) : -1;
}

function pfnAt(k: Kernel, t: Task, va: bigint): number {
  const l = k.userMm.leafFor(t.mm!, Number(va / PAGE));
  return l !== null && k.userMm.env.pgtable.present(l.hi, l.lo) ? l.pfn : -1;
}

for (const arch of ["x86_64", "arm64"] as const)
  describe(`mTHP swap-out on ${arch}`, () => {
    it("MADV_PAGEOUT of a whole 64K folio: 16 consecutive slots in one cluster, freed whole", () => {
      const { k, t, m, swap } = boot(arch);
      const a = region(k, t, K64);
      fill(k, t, a, 1);
      const head = pfnAt(k, t, a);
      const free0 = k.buddy.freePages();
      const out0 = swap.pswpout;
      expect(k.madvise(t, a, K64, "pageout")).toBe(0n);
      const s0 = slotAt(k, t, a);
      expect(s0 % 16).toBe(0);
      for (let i = 0; i < 16; i++) expect(slotAt(k, t, a + BigInt(i) * PAGE)).toBe(s0 + i);
      expect(Math.floor(s0 / swap.clusterPages)).toBe(Math.floor((s0 + 15) / swap.clusterPages));
      expect(s0).toBeGreaterThanOrEqual(swap.clusterPages); // cluster 0 holds the header: not free
      expect([m.stats[4].swpout, m.stats[4].swpout_fallback, m.stats[4].split]).toEqual([1, 0, 0]);
      expect(swap.pswpout - out0).toBe(16);
      expect(m.nrAnon(4)).toBe(0);
      expect(k.pages.refcount[head]).toBe(0);
      expect(k.buddy.freePages() - free0).toBeGreaterThanOrEqual(16);
      expect([t.mm!.swapEnts, t.mm!.rssAnon]).toEqual([16, 0]);
      expect(swap.used).toBe(16);
      // what the views show: meminfo SwapFree, smaps Swap of the mapping
      expect(k.view.meminfo().SwapFree).toBe((swap.totalPages - 16) * 4096);
      const sm = k.view.smaps(t).find((e) => e.vma.start === a);
      expect(sm?.swap).toBe(64 * 1024);
      expect(checkInvariants(k)).toEqual([]);
      // swap-in is order 0 (vmlab's device is not SWP_SYNCHRONOUS_IO), the contents intact
      expect(read(k, t, a + 7n * PAGE)).toBe(8);
      expect(m.nrAnon(4)).toBe(0);
      for (let i = 0n; i < 16n; i++) expect(read(k, t, a + i * PAGE)).toBe(Number(i) + 1);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("a second folio takes the next range of the order's current cluster", () => {
      const { k, t, m, swap } = boot(arch);
      const a = region(k, t, 2n * K64);
      fill(k, t, a, 2);
      expect(k.madvise(t, a, K64, "pageout")).toBe(0n);
      expect(k.madvise(t, a + K64, K64, "pageout")).toBe(0n);
      expect(slotAt(k, t, a + K64)).toBe(slotAt(k, t, a) + 16);
      expect(m.stats[4].swpout).toBe(2);
      expect(swap.clusterOrder[Math.floor(slotAt(k, t, a) / swap.clusterPages)]).toBe(4);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("no free cluster and none of the order: split, pages one by one, swpout_fallback", () => {
      // one cluster of swap: it holds the header (order 0, not free), so order 4 finds nothing
      const { k, t, m, swap } = boot(arch, 2 * MiB);
      expect(swap.clusterCount.length).toBe(1);
      const a = region(k, t, K64);
      fill(k, t, a, 1);
      const out0 = swap.pswpout;
      expect(k.madvise(t, a, K64, "pageout")).toBe(0n);
      expect([m.stats[4].swpout, m.stats[4].swpout_fallback, m.stats[4].split]).toEqual([0, 1, 1]);
      expect(swap.pswpout - out0).toBe(16);
      expect(t.mm!.swapEnts).toBe(16);
      expect(checkInvariants(k)).toEqual([]);
      for (let i = 0n; i < 16n; i++) expect(read(k, t, a + i * PAGE)).toBe(Number(i) + 1);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("MADV_PAGEOUT of part of a folio splits it first (split, no swpout_fallback)", () => {
      const { k, t, m } = boot(arch);
      const a = region(k, t, K64);
      fill(k, t, a, 1);
      expect(k.madvise(t, a + 4n * PAGE, 8n * PAGE, "pageout")).toBe(0n);
      expect([m.stats[4].swpout, m.stats[4].swpout_fallback, m.stats[4].split]).toEqual([0, 0, 1]);
      expect(t.mm!.swapEnts).toBe(8);
      expect(pfnAt(k, t, a)).toBeGreaterThanOrEqual(0);
      expect(slotAt(k, t, a + 4n * PAGE)).toBeGreaterThan(0);
      expect(pfnAt(k, t, a + 12n * PAGE)).toBeGreaterThanOrEqual(0);
      expect(checkInvariants(k)).toEqual([]);
      for (let i = 0n; i < 16n; i++) expect(read(k, t, a + i * PAGE)).toBe(Number(i) + 1);
    });

    it("reclaim under pressure swaps folios out whole; a forked pair's slots are named twice", () => {
      const { k, t, m, swap } = boot(arch);
      const a = region(k, t, 8n * K64);
      fill(k, t, a, 8);
      const c = k.fork(t, "B")!;
      // two passes: the first clears the accessed bits (folio_check_references)
      for (let i = 0; i < 4 && m.stats[4].swpout === 0; i++) k.vmscan.tryToFreePages(256);
      expect(m.stats[4].swpout).toBeGreaterThan(0);
      expect(m.stats[4].swpout_fallback).toBe(0);
      // a folio that went whole: both processes' PTEs name the same 16 consecutive slots
      let whole = -1;
      for (let f = 0n; f < 8n && whole < 0; f++) if (slotAt(k, t, a + f * K64) > 0) whole = Number(f);
      expect(whole).toBeGreaterThanOrEqual(0);
      const base = a + BigInt(whole) * K64;
      const s0 = slotAt(k, t, base);
      for (let i = 0; i < 16; i++) {
        expect(slotAt(k, t, base + BigInt(i) * PAGE)).toBe(s0 + i);
        expect(slotAt(k, c, base + BigInt(i) * PAGE)).toBe(s0 + i);
        expect(swap.map[s0 + i]).toBe(2);
      }
      expect(checkInvariants(k)).toEqual([]);
      k.switchTo(0, c);
      expect(read(k, c, base + 3n * PAGE)).toBe(whole * 16 + 4);
      k.switchTo(0, t);
      expect(read(k, t, base + 3n * PAGE)).toBe(whole * 16 + 4);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("a young PTE of the folio keeps it whole, its accessed bits cleared (folio_referenced)", () => {
      const { k, t, m, swap } = boot(arch);
      const a = region(k, t, K64);
      fill(k, t, a, 1);
      k.vmscan.fbatches.drain();
      const head = pfnAt(k, t, a);
      // the scan took the head (old: its own check passed); the folio's other 15 PTEs are young
      expect(swapOutLargeFolio(k.vmscan, head, head, 4, false)).toBe(-1);
      expect([m.stats[4].swpout, swap.used, k.vmscan.referenced[head]]).toEqual([0, 0, 1]);
      expect(checkInvariants(k)).toEqual([]);
      // folio_referenced cleared them: the next look swaps it out whole
      expect(swapOutLargeFolio(k.vmscan, head, head, 4, false)).toBe(16);
      expect([m.stats[4].swpout, swap.used]).toEqual([1, 16]);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("a folio pinned by a fault, or with a page in a batch, stays (-1); mlocked: split path", () => {
      const { k, t } = boot(arch);
      const a = region(k, t, K64);
      fill(k, t, a, 1);
      k.vmscan.fbatches.drain();
      const head = pfnAt(k, t, a);
      k.vmscan.pinned.add(head + 5);
      expect(swapOutLargeFolio(k.vmscan, head, head, 4, true)).toBe(-1);
      k.vmscan.pinned.delete(head + 5);
      k.pages.refcount[head + 9]++; // a GUP-like reference
      expect(swapOutLargeFolio(k.vmscan, head, head, 4, true)).toBe(-1);
      k.pages.refcount[head + 9]--;
      expect(swapOutLargeFolio(k.vmscan, head, head, 4, true)).toBe(16);
      expect(checkInvariants(k)).toEqual([]);
    });
  });

const M2 = 2n << 20n;

/** A 2M-aligned anonymous range of `bytes`, THPs allowed (thp=always), written whole. */
function thpRegion(k: Kernel, t: Task, bytes: bigint): bigint {
  const r = k.mmap(t, mmapArgs(Number(bytes + M2)));
  const base = ((r + M2 - 1n) / M2) * M2;
  for (let i = 0n; i < bytes / PAGE; i++) write(k, t, base + i * PAGE, Number(i % 200n) + 1);
  return base;
}

function bootThp(arch: "x86_64" | "arm64", swapBytes = 64 * MiB) {
  const k = new Kernel({ arch, ramBytes: 256 * MiB, cpus: 1, thp: "always", swapBytes });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t, m: k.userMm.env.mthp!, swap: k.swap!, s: k.userMm.thpStats };
}

for (const arch of ["x86_64", "arm64"] as const)
  describe(`PMD THP swap-out on ${arch}`, () => {
    it("MADV_PAGEOUT of a whole THP: its PMD split, 512 consecutive slots (a whole cluster), thp_swpout", () => {
      const { k, t, m, swap, s } = bootThp(arch);
      const a = thpRegion(k, t, M2);
      expect(k.view.meminfo().AnonHugePages).toBe(2 * MiB);
      const out0 = swap.pswpout;
      expect(k.madvise(t, a, M2, "pageout")).toBe(0n);
      const s0 = slotAt(k, t, a);
      expect(s0 % 512).toBe(0);
      for (let i = 0; i < 512; i += 37) expect(slotAt(k, t, a + BigInt(i) * PAGE)).toBe(s0 + i);
      expect(slotAt(k, t, a + 511n * PAGE)).toBe(s0 + 511);
      expect([s.thp_swpout, s.thp_swpout_fallback, s.thp_split_page]).toEqual([1, 0, 0]);
      expect([m.stats[9].swpout, m.stats[9].swpout_fallback]).toEqual([1, 0]);
      expect(swap.pswpout - out0).toBe(512);
      expect(k.view.vmstat().thp_swpout).toBe(1);
      expect([t.mm!.swapEnts, t.mm!.rssAnon]).toEqual([512, 0]);
      expect(checkInvariants(k)).toEqual([]);
      for (let i = 0n; i < 512n; i += 61n) expect(read(k, t, a + i * PAGE)).toBe(Number(i % 200n) + 1);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("reclaim swaps a PMD-mapped THP out whole", () => {
      const { k, t, s } = bootThp(arch);
      const a = thpRegion(k, t, 2n * M2);
      for (let i = 0; i < 4 && s.thp_swpout === 0; i++) k.vmscan.tryToFreePages(512);
      expect(s.thp_swpout).toBeGreaterThan(0);
      expect(s.thp_swpout_fallback).toBe(0);
      expect(checkInvariants(k)).toEqual([]);
      for (let i = 0n; i < 1024n; i += 97n) expect(read(k, t, a + i * PAGE)).toBe(Number(i % 200n) + 1);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("no free cluster: split, THP_SWPOUT_FALLBACK and the PMD order's swpout_fallback", () => {
      const { k, t, m, s } = bootThp(arch, 4 * MiB); // two clusters, one holding the header
      const a = thpRegion(k, t, M2);
      const b = thpRegion(k, t, M2);
      expect(k.madvise(t, a, M2, "pageout")).toBe(0n); // takes the free cluster
      expect(k.madvise(t, b, M2, "pageout")).toBe(0n);
      expect([s.thp_swpout, s.thp_swpout_fallback, s.thp_split_page]).toEqual([1, 1, 1]);
      expect([m.stats[9].swpout, m.stats[9].swpout_fallback]).toEqual([1, 1]);
      expect(checkInvariants(k)).toEqual([]);
    });
  });

describe.each([
  ["x86_64", "never"],
  ["arm64", "never"],
  ["x86_64", "always"],
  ["arm64", "always"],
] as const)("mTHP swap, random operations on %s, thp=%s", (arch, thp) => {
  it.each([1, 2, 3])("seed %i: the invariants hold at every step, the contents survive", (seed) => {
    // little RAM for the work: reclaim runs by itself; swap a few clusters, so that orders run out
    // (thp=always: 2M regions too, their PMD THPs need a whole free cluster)
    const k = new Kernel({
      arch,
      ramBytes: 48 * MiB,
      cpus: 1,
      thp,
      swapBytes: thp === "never" ? 6 * MiB : 8 * MiB,
    });
    const r = rng(seed * 7919);
    const first = k.spawn("p0")!;
    const tasks: Task[] = [first];
    const maps = new Map<Task, { addr: bigint; len: bigint }[]>([[first, []]]);
    /** what each process last wrote at each page (its private copy) */
    const want = new Map<Task, Map<bigint, number>>([[first, new Map()]]);
    const sizes = [16, 32, 64, 128];
    let step = 0;
    const check = (what: string) => expect(checkInvariants(k), `step ${step}: ${what}`).toEqual([]);
    for (step = 0; step < 160; step++) {
      const t = tasks[Math.floor(r() * tasks.length)];
      k.switchTo(0, t);
      const ms = maps.get(t)!;
      const w = want.get(t)!;
      const op = Math.floor(r() * 10);
      let what = "";
      if (op === 0) {
        const kb = sizes[Math.floor(r() * sizes.length)];
        const on = r() < 0.7;
        k.mthpSet(kb, on ? "always" : "never");
        what = `mthp ${kb}K ${on ? "always" : "never"}`;
      } else if (op === 1 || ms.length === 0) {
        const huge = thp === "always" && r() < 0.4;
        const len = BigInt(huge ? 512 * (1 + Math.floor(r() * 2)) : 16 + Math.floor(r() * 48)) * PAGE;
        const a = region(k, t, len, huge ? M2 : K64);
        ms.push({ addr: a, len });
        what = `mmap ${len / PAGE} pages at ${a}`;
      } else if (op <= 5) {
        const m = ms[Math.floor(r() * ms.length)];
        const n = m.len / PAGE;
        const from = BigInt(Math.floor(r() * Number(n)));
        const cnt = BigInt(1 + Math.floor(r() * 24));
        for (let i = from; i < from + cnt && i < n; i++) {
          const va = m.addr + i * PAGE;
          const v = 1 + Math.floor(r() * 250);
          if (k.userAccess(0, t, va, Access.Write, v).ok) w.set(va, v);
        }
        what = `write ${cnt} pages from ${from}`;
      } else if (op === 6) {
        const m = ms[Math.floor(r() * ms.length)];
        const off = BigInt(Math.floor(r() * Number(m.len / PAGE)));
        const len = BigInt(1 + Math.floor(r() * 32));
        k.madvise(t, m.addr + off * PAGE, len * PAGE, "pageout");
        what = `pageout ${len} pages from ${off}`;
      } else if (op === 7 && tasks.length < 4) {
        const c = k.fork(t, `p${step}`);
        if (c !== null) {
          tasks.push(c);
          maps.set(
            c,
            ms.map((x) => ({ ...x })),
          );
          want.set(c, new Map(w));
        }
        what = "fork";
      } else if (op === 8) {
        const i = Math.floor(r() * ms.length);
        const m = ms[i];
        const n = m.len / PAGE;
        const off = BigInt(Math.floor(r() * Number(n)));
        const len = BigInt(1 + Math.floor(r() * Number(n - off)));
        expect(k.munmap(t, m.addr + off * PAGE, len * PAGE)).toBe(0n);
        for (let p = off; p < off + len; p++) w.delete(m.addr + p * PAGE);
        ms.splice(i, 1);
        if (off > 0n) ms.push({ addr: m.addr, len: off * PAGE });
        if (off + len < n) ms.push({ addr: m.addr + (off + len) * PAGE, len: (n - off - len) * PAGE });
        what = `munmap ${len} pages from ${off}`;
      } else {
        k.vmscan.tryToFreePages(16 + Math.floor(r() * 64));
        what = "shrink";
      }
      check(what);
    }
    // every page reads back what its process wrote, through swap-ins of whole-swapped folios
    for (const t of tasks) {
      k.switchTo(0, t);
      for (const [va, v] of want.get(t)!) expect(read(k, t, va), `${t.comm} ${va}`).toBe(v);
      check("read back");
    }
    const swpout = sizes.reduce((n, kb) => n + k.userMm.env.mthp!.stats[Math.log2(kb / 4)].swpout, 0);
    expect(swpout, "some folio went whole").toBeGreaterThan(0);
  });
});
