/**
 * Memory compaction and page migration (compaction.ts, migrate.ts): a fragmented zone's movable
 * pages move to its top and its free pages come together, with every process's memory, mapping
 * and counter as before.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { Access } from "../../hw/access.ts";
import { checkedMetrics, scenarioError } from "../../workloads/scenario/testKit.ts";
import type { FileObject } from "../fs/file.ts";
import { mmapArgs } from "../Kernel.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { vmstat } from "../view/proc.ts";
import { MAX_ORDER } from "./buddy.ts";
import { PageKind } from "./PageDesc.ts";

const MiB = 1 << 20;
const PAGE = 4096;

/** Free blocks of `order` and above over every zone, in pages. */
function freeAbove(k: Kernel, order: number): number {
  let n = 0;
  for (const z of k.buddy.zones)
    for (let o = order; o <= MAX_ORDER; o++) {
      for (let mt = 0; mt < 5; mt++)
        for (let pfn = z.head[o * 5 + mt]; pfn !== -1; pfn = k.pages.next[pfn]) n += 1 << o;
    }
  return n;
}

/** The frame behind a user address (its page table's), or -1. */
function frameOf(k: Kernel, t: NonNullable<ReturnType<Kernel["spawn"]>>, va: bigint): number {
  const r = k.userAccess(0, t, va, Access.Read);
  return r.ok ? Math.floor(r.pa / PAGE) : -1;
}

/**
 * A 96 MiB machine whose user memory is one process's 48 MiB written page by page with a value
 * of each page's own, and then every other page of it given back (MADV_DONTNEED): half of the
 * zone's movable pageblocks are a page in, a page out.
 */
function fragmented() {
  const k = new Kernel({ ramBytes: 96 * MiB, overcommit: "always" });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const size = 48 * MiB;
  const a = k.mmap(t, mmapArgs(size));
  for (let off = 0; off < size; off += PAGE)
    k.userAccess(0, t, a + BigInt(off), Access.Write, (off / PAGE) & 255);
  for (let off = 0; off < size; off += 2 * PAGE)
    expect(k.madvise(t, a + BigInt(off), BigInt(PAGE), "dontneed")).toBe(0n);
  return { k, t, a, size };
}

describe("compaction (compact_nodes, compact_zone) and migration (migrate_pages)", () => {
  it("brings a fragmented zone's free pages together, every page's contents and mapping kept", () => {
    const { k, t, a, size } = fragmented();
    const before = freeAbove(k, 9);
    const rssBefore = t.mm!.rss;
    const frames = new Map<number, number>();
    for (let off = PAGE; off < size; off += 2 * PAGE) frames.set(off, frameOf(k, t, a + BigInt(off)));
    const r = k.sysctlCompactMemory(1);
    expect(r.ret).toBe(0);
    expect(r.migrated).toBeGreaterThan(1000);
    // the pages migration freed wait on the per-CPU list, whose high grew with the frees (compact_node
    // drains nothing at order -1); the vmstat worker's decay_pcp_high hands them back over the next
    // seconds, and the half-empty pageblocks become whole free blocks of pageblock_order
    const pcp = k.buddy.pcp!;
    expect(pcp.zoneCount(1)).toBeGreaterThan(1000);
    const waiting = freeAbove(k, 9);
    for (let s = 0; s < 100 && pcp.refreshCpuVmStats(0) > 0; s++);
    expect(freeAbove(k, 9)).toBeGreaterThanOrEqual(waiting + 4 * 512);
    expect(freeAbove(k, 9)).toBeGreaterThanOrEqual(before + 4 * 512);
    let moved = 0;
    for (let off = PAGE; off < size; off += 2 * PAGE) {
      const va = a + BigInt(off);
      const res = k.userAccess(0, t, va, Access.Read);
      expect(res.ok && res.value).toBe((off / PAGE) & 255);
      const pfn = res.ok ? Math.floor(res.pa / PAGE) : -1;
      expect(k.pages.kind[pfn]).toBe(PageKind.UserAnon);
      if (pfn !== frames.get(off)) moved++;
      // the freed halves stay unmapped
      expect(k.userAccess(0, t, a + BigInt(off - PAGE), Access.Read).ok && true).toBe(true);
    }
    expect(moved).toBe(r.migrated);
    expect(t.mm!.rss).toBeGreaterThanOrEqual(rssBefore); // the reads above map the zero page at most
    const v = vmstat(k);
    expect(v.pgmigrate_success).toBe(r.migrated);
    expect(v.compact_isolated).toBeGreaterThanOrEqual(2 * r.migrated); // the pages and their targets
    expect(v.compact_migrate_scanned).toBeGreaterThan(0);
    expect(v.compact_free_scanned).toBeGreaterThan(0);
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("flushes the moved pages' TLB entries: a write after compaction reaches the new frame", () => {
    const { k, t, a, size } = fragmented();
    // the 32 kept pages lowest in the zone (the first the migration scanner takes) read last: their
    // translations are in the TLB when compaction moves them
    const kept: { va: bigint; pfn: number }[] = [];
    for (let off = PAGE; off < size; off += 2 * PAGE)
      kept.push({ va: a + BigInt(off), pfn: frameOf(k, t, a + BigInt(off)) });
    kept.sort((x, y) => x.pfn - y.pfn);
    const low = kept.slice(0, 32);
    for (const p of low) k.userAccess(0, t, p.va, Access.Read);
    expect(k.sysctlCompactMemory(1).migrated).toBeGreaterThan(0);
    let moved = 0;
    for (const p of low) {
      const w = k.userAccess(0, t, p.va, Access.Write, 0xa5);
      expect(w.ok).toBe(true);
      const pfn = w.ok ? Math.floor(w.pa / PAGE) : -1;
      if (pfn !== p.pfn) moved++;
      // the frame written is the one the page table maps now, still the process's page
      expect(k.pages.kind[pfn]).toBe(PageKind.UserAnon);
      expect(frameOf(k, t, p.va)).toBe(pfn);
      expect(k.machine.phys.read8(pfn * PAGE)).toBe(0xa5);
    }
    expect(moved).toBe(32);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("moves page-cache, shared and swap-cache pages with their caches, and refuses 2", () => {
    const k = new Kernel({ ramBytes: 96 * MiB, overcommit: "always", swapBytes: 64 * MiB });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const f = k.createFile("data", 4 * MiB, "disk", false, PAGE);
    const m = k.mmap(t, mmapArgs(4 * MiB, { file: f }));
    const s = k.mmap(t, mmapArgs(4 * MiB, { shared: true }));
    const b = k.mmap(t, mmapArgs(4 * MiB));
    const a = k.mmap(t, mmapArgs(48 * MiB));
    // at the bottom of the zone: the shared pages, the file's, and anonymous pages paged out and read
    // back in, which sit in the swap cache (do_swap_page keeps a page there while its slot is held);
    // above them, 48 MiB of anonymous pages every other one given back: the free scanner's targets
    // (it passes over free pageblocks whole: suitable_migration_target)
    for (let off = 0; off < 4 * MiB; off += PAGE) k.userAccess(0, t, s + BigInt(off), Access.Write, 7);
    for (let off = 0; off < 4 * MiB; off += PAGE) k.userAccess(0, t, m + BigInt(off), Access.Read);
    for (let off = 0; off < 4 * MiB; off += PAGE) k.userAccess(0, t, b + BigInt(off), Access.Write, 9);
    for (let off = 0; off < 48 * MiB; off += PAGE) k.userAccess(0, t, a + BigInt(off), Access.Write, 3);
    for (let off = 0; off < 48 * MiB; off += 2 * PAGE)
      k.madvise(t, a + BigInt(off), BigInt(PAGE), "dontneed");
    expect(k.madvise(t, b, BigInt(4 * MiB), "pageout")).toBe(0n);
    for (let off = 0; off < 4 * MiB; off += PAGE) k.userAccess(0, t, b + BigInt(off), Access.Read);
    const inSwapCache = k.swap!.cache.size;
    expect(inSwapCache).toBeGreaterThan(100);
    const fileBytes = Array.from({ length: 64 }, (_, i) => {
      const r = k.userAccess(0, t, m + BigInt(i * 15 * PAGE + 5), Access.Read);
      return r.ok ? r.value : -1;
    });
    // the frames of a sample of each kind of page, to see which moved
    const sample = (base: bigint, from: number, to: number, step: number) => {
      const m = new Map<bigint, number>();
      for (let off = from; off < to; off += step)
        m.set(base + BigInt(off), frameOf(k, t, base + BigInt(off)));
      return m;
    };
    const kinds = {
      file: sample(m, 0, 4 * MiB, PAGE),
      shmem: sample(s, 0, 4 * MiB, PAGE),
      swapCache: sample(b, 0, 4 * MiB, PAGE),
    };
    for (const pfn of kinds.swapCache.values()) expect(k.swap!.slotOf.at(pfn)).toBeGreaterThanOrEqual(0);
    expect(k.sysctlCompactMemory(2).ret).toBe(-22);
    expect(vmstat(k).compact_migrate_scanned).toBe(0);
    const r = k.sysctlCompactMemory(1);
    expect(r.ret).toBe(0);
    expect(r.migrated).toBeGreaterThan(0);
    for (let i = 0; i < 64; i++) {
      const res = k.userAccess(0, t, m + BigInt(i * 15 * PAGE + 5), Access.Read);
      expect(res.ok && res.value).toBe(fileBytes[i]);
    }
    for (let off = 0; off < 4 * MiB; off += PAGE) {
      const res = k.userAccess(0, t, s + BigInt(off), Access.Read);
      expect(res.ok && res.value).toBe(7);
    }
    for (let off = 0; off < 4 * MiB; off += PAGE) {
      const res = k.userAccess(0, t, b + BigInt(off), Access.Read);
      expect(res.ok && res.value).toBe(9);
    }
    for (let off = PAGE; off < 48 * MiB; off += 2 * PAGE) {
      const res = k.userAccess(0, t, a + BigInt(off), Access.Read);
      expect(res.ok && res.value).toBe(3);
    }
    expect(k.swap!.cache.size).toBe(inSwapCache);
    // some of each kind moved, and the cache that held each holds its new frame
    for (const [name, frames] of Object.entries(kinds)) {
      let moved = 0;
      for (const [va, pfn] of frames) {
        const now = frameOf(k, t, va);
        if (now !== pfn) moved++;
        if (name === "swapCache") expect(k.swap!.cache.get(k.swap!.slotOf.at(now))).toBe(now);
        if (name === "file") expect([...(f as FileObject).cache.values()]).toContain(now);
      }
      expect([name, moved > 0]).toEqual([name, true]);
    }
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });
});

/**
 * A scenario's first lines: two processes take 8 MiB each in turns, 1 MiB at a time (A's MiB i
 * holding i + 1 in each page's first byte), then B exits: 1 MiB holes between A's pages.
 */
function interleaved(machine: string): string[] {
  return [
    machine,
    "spawn A",
    "spawn B",
    "A: a = mmap 8M",
    "B: b = mmap 8M",
    ...Array.from({ length: 8 }, (_, i) => `A: write a+${i}M 1M value=${i + 1}\nB: write b+${i}M 1M`),
    "B: exit",
  ];
}

describe("sysctl compact_memory=1 (the statement)", () => {
  it("compacts, prints what moved, and refuses other values, bad ones at their column", () => {
    const get = checkedMetrics(
      [
        ...interleaved("machine ram=64M"),
        "r = sysctl compact_memory=1",
        "expect r == 0",
        "e = sysctl compact_memory=2",
        "expect e == -22",
        "expect vmstat.pgmigrate_success > 100",
        "expect byte(A, a+7M) == 8",
        "let m = vmstat.pgmigrate_success",
      ].join("\n"),
    );
    expect(get("m")).toBeGreaterThan(100);
    expect(scenarioError("machine ram=64M\nsysctl compact_memory=-1")).toMatch(
      /^s\.vm:2:23: compact_memory is negative/,
    );
    expect(scenarioError("machine profile=windows\nsysctl compact_memory=1")).toMatch(
      /Linux's \/proc\/sys\/vm/,
    );
  });
});

describe("migration keeps what every process sees (random work, seeded)", () => {
  it("leaves every byte, right and sharing of forked, mlocked, read-only and shared pages as it was", () => {
    for (const seed of [1, 2, 3, 4]) {
      const rng = new Rng(seed);
      const k = new Kernel({ ramBytes: 96 * MiB, overcommit: "always", swapBytes: 32 * MiB });
      const f = k.createFile("shared", 2 * MiB, "disk", false, PAGE);
      type T = NonNullable<ReturnType<Kernel["spawn"]>>;
      const regions: { t: T; va: bigint; pages: number }[] = [];
      const parent = k.spawn("P")!;
      k.switchTo(0, parent);
      const anon = k.mmap(parent, mmapArgs(24 * MiB));
      const file = k.mmap(parent, mmapArgs(2 * MiB, { file: f, shared: true }));
      // pages written in a random order, with holes, a part mlocked and a part made read-only
      for (let i = 0; i < 6144; i++)
        if (rng.below(3) !== 0)
          k.userAccess(0, parent, anon + BigInt(rng.below(6144) * PAGE), Access.Write, rng.below(256));
      for (let i = 0; i < 512; i++) k.userAccess(0, parent, file + BigInt(i * PAGE), Access.Write, i & 255);
      // holes (before the fork: afterwards the child's mappings would keep the pages)
      for (let i = 0; i < 2000; i++)
        k.madvise(parent, anon + BigInt(rng.below(6144) * PAGE), BigInt(PAGE), "dontneed");
      expect(k.mlock(parent, anon, BigInt(MiB), false)).toBe(0n);
      expect(k.mprotect(parent, anon + BigInt(MiB), BigInt(MiB), { r: true, w: false, x: false })).toBe(0n);
      // a child shares the anonymous pages copy-on-write (mapcount 2, one anon_vma chain) and the file
      const child = k.fork(parent, "C")!;
      k.switchTo(0, child);
      for (let i = 0; i < 300; i++) {
        const at = anon + BigInt((512 + rng.below(5632)) * PAGE);
        k.userAccess(0, child, at, Access.Write, 0xcc); // a COW copy in the child
      }
      // above them all, a third process's 32 MiB with random holes: the free scanner's targets (it
      // passes over free pageblocks whole, and over what it finds nothing in with a growing stride)
      const q = k.spawn("Q")!;
      k.switchTo(0, q);
      const holes = k.mmap(q, mmapArgs(32 * MiB));
      for (let i = 0; i < 8192; i++) k.userAccess(0, q, holes + BigInt(i * PAGE), Access.Write, 1);
      for (let i = 0; i < 8192; i += 1 + rng.below(3))
        k.madvise(q, holes + BigInt(i * PAGE), BigInt(PAGE), "dontneed");
      k.switchTo(0, parent);
      regions.push({ t: parent, va: anon, pages: 6144 }, { t: parent, va: file, pages: 512 });
      regions.push({ t: child, va: anon, pages: 6144 }, { t: child, va: file, pages: 512 });
      // what each page reads as, and its PTE's write, dirty and accessed bits (a read-only page
      // stays read-only, a COW-shared one write-protected)
      const pt = k.arch.pgtable;
      const seen = () =>
        regions.map(({ t, va, pages }) =>
          Array.from({ length: pages }, (_, i) => {
            const leaf = k.view.walk(t, va + BigInt(i * PAGE)).leaf;
            if (leaf === null) return -1;
            const bits = (pt.write(leaf.hi, leaf.lo) ? 1 : 0) | (pt.dirty(leaf.hi, leaf.lo) ? 2 : 0);
            return k.machine.phys.read8(leaf.pfn * PAGE) * 8 + bits + (pt.young(leaf.hi, leaf.lo) ? 4 : 0);
          }),
        );
      const before = seen();
      const sharedBefore = sharedFrames(k, parent, child, anon, 6144);
      const shared = new Map<bigint, number>();
      for (let i = 0; i < 6144; i++) {
        const va = anon + BigInt(i * PAGE);
        const pfn = frameOfNoFault(k, parent, va);
        if (pfn >= 0 && pfn === frameOfNoFault(k, child, va)) shared.set(va, pfn);
      }
      // the freed pages leave the per-CPU list over the next seconds (decay_pcp_high): the free
      // scanner finds them in the buddy lists then
      for (let i = 0; i < 100 && k.buddy.pcp!.refreshCpuVmStats(0) > 0; i++);
      const mlockedBefore = k.view.meminfo().Mlocked;
      const r = k.sysctlCompactMemory(1);
      expect(r.migrated).toBeGreaterThan(1000);
      expect(seen()).toEqual(before);
      // pages mapped by both processes moved too (one rmap walk over the anon_vma chain each)
      let sharedMoved = 0;
      for (const [va, pfn] of shared) if (frameOfNoFault(k, child, va) !== pfn) sharedMoved++;
      expect(sharedMoved).toBeGreaterThan(0);
      // the pages the two processes shared are still one frame each, and none more
      expect(sharedFrames(k, parent, child, anon, 6144)).toBe(sharedBefore);
      // the mlocked part is still locked
      expect(mlockedBefore).toBe(MiB);
      expect(k.view.meminfo().Mlocked).toBe(mlockedBefore);
      // a write to a page still shared copies it, the other process's byte unchanged
      for (let i = 512; i < 6144; i++) {
        const va = anon + BigInt(i * PAGE);
        const a = frameOfNoFault(k, parent, va);
        if (a < 0 || a !== frameOfNoFault(k, child, va)) continue;
        const old = k.machine.phys.read8(a * PAGE);
        k.userAccess(0, parent, va, Access.Write, (old + 1) & 255);
        expect(frameOfNoFault(k, parent, va)).not.toBe(a);
        expect(k.machine.phys.read8(frameOfNoFault(k, child, va) * PAGE)).toBe(old);
        break;
      }
      expect(k.buddy.check()).toEqual([]);
      expect(checkInvariants(k)).toEqual([]);
    }
  });
});

/** The frame a present PTE maps, read from the page tables (no access, no fault); -1 when none. */
function frameOfNoFault(k: Kernel, t: NonNullable<ReturnType<Kernel["spawn"]>>, va: bigint): number {
  const leaf = k.view.walk(t, va).leaf;
  return leaf === null ? -1 : leaf.pfn;
}

/** How many of `pages` pages at va two processes map to the same frame. */
function sharedFrames(
  k: Kernel,
  a: NonNullable<ReturnType<Kernel["spawn"]>>,
  b: NonNullable<ReturnType<Kernel["spawn"]>>,
  va: bigint,
  pages: number,
): number {
  let n = 0;
  for (let i = 0; i < pages; i++) {
    const x = frameOfNoFault(k, a, va + BigInt(i * PAGE));
    if (x >= 0 && x === frameOfNoFault(k, b, va + BigInt(i * PAGE))) n++;
  }
  return n;
}

describe("compaction on every architecture", () => {
  it("moves pages and keeps their bytes on each arch's page tables", () => {
    for (const arch of ["x86_64", "x86_64-la57", "arm64", "riscv-sv39", "riscv-sv48", "i386", "i386-pae"]) {
      const get = checkedMetrics(
        [
          ...interleaved(`machine arch=${arch} ram=64M`),
          "r = sysctl compact_memory=1",
          "expect r == 0",
          ...Array.from({ length: 8 }, (_, i) => `expect byte(A, a+${i}M+12K) == ${i + 1}`),
          "A: write a 8M value=0x77",
          "expect byte(A, a+5M) == 0x77",
          "let m = vmstat.pgmigrate_success",
        ].join("\n"),
      );
      expect([arch, get("m") > 100]).toEqual([arch, true]);
    }
  });
});
