/**
 * sc->reclaim_idx: isolate_lru_folios' zone filter (vmscan_isolate.ts) and the lists' per-zone
 * sizes (mm_inline.ts): the skipped folios' order after list_splice, their count in pgskip and
 * nr_scanned, and on i386 a lowmem shortage that reclaims lowmem pages while the older highmem
 * pages stay, as on Linux.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { runScenario } from "../../workloads/scenario/session.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { vmstat } from "../view/proc.ts";
import { Gfp } from "./gfp.ts";
import { LruLists } from "./mm_inline.ts";
import { PageKind } from "./PageDesc.ts";
import { mmapArgs } from "./userMm.ts";
import { isolateSkip, mustSkip, skipped } from "./vmscan_isolate.ts";

/** Lists over 40 frames: zone 0 below pfn 10, zone 1 below 20, zone 2 above (or n frames, zones a quarter each). */
class Lists extends LruLists {
  reclaimIdx = 1;
  readonly pgskip = new Float64Array(4);
  readonly env: { pages: { kind: Uint8Array } };
  constructor(n = 40) {
    super(n, 8, n === 40 ? [10, 20, Number.POSITIVE_INFINITY] : [n >> 2, n >> 1, Number.POSITIVE_INFINITY]);
    this.env = { pages: { kind: new Uint8Array(n).fill(PageKind.UserAnon) } };
  }
  valid(_pfn?: number): boolean {
    return true;
  }
  del(pfn: number): void {
    this.unlink(pfn);
  }
  /** head to tail */
  order(list: number): number[] {
    const out: number[] = [];
    for (let p = this.head[list]; p >= 0; p = this.next[p]) out.push(p);
    return out;
  }
}

/** Lists holding `pfns` on list 1, head to tail. */
function lists(pfns: number[]): Lists {
  const l = new Lists();
  for (const p of pfns) l.addTail(p, 1);
  return l;
}

describe("isolate_lru_folios' zone filter", () => {
  it("moves the skipped folios to the head in list_splice's order and counts them apart from nr_to_scan", () => {
    // head to tail 7, 6, 26, 5, 25: the scan reaches 25 (skipped), 5, 26 (skipped), 6
    const l = lists([7, 6, 26, 5, 25]);
    expect(mustSkip(l, 1)).toBe(true);
    expect(isolateSkip(l, 1, 2)).toBe(2);
    expect(skipped.pages).toBe(2);
    expect(l.pgskip[2]).toBe(2);
    // folios_skipped (26, 25) spliced before the head; the eligible 6 and 5 at the tail
    expect(l.order(1)).toEqual([26, 25, 7, 6, 5]);
    expect(l.size[1]).toBe(5);
    expect([0, 1, 2].map((z) => l.zoneSize[3 + z])).toEqual([3, 0, 2]);
  });

  it("stops at nr_to_scan eligible pages, counts a large folio's pages, and ends on a list of skipped folios", () => {
    const l = new Lists();
    l.large[30] = 1; // a folio of 8 pages
    for (const p of [1, 2, 3, 30]) l.addTail(p, 1);
    expect(l.size[1]).toBe(11);
    expect(l.lruSize(1, 1)).toBe(3);
    expect(l.lruSize(1, 2)).toBe(11);
    expect(isolateSkip(l, 1, 2)).toBe(2); // 30 skipped (8 pages), then 3 and 2
    expect(l.pgskip[2]).toBe(8);
    expect(l.order(1)).toEqual([30, 1, 2, 3]);
    // only skipped folios: the walk ends when it comes round to the first one it moved
    const h = lists([21, 22, 23]);
    expect(isolateSkip(h, 1, 32)).toBe(0);
    expect(h.order(1)).toEqual([21, 22, 23]);
    expect(h.pgskip[2]).toBe(3);
    // reclaim_idx at the top zone: nothing to skip
    h.reclaimIdx = 2;
    expect(mustSkip(h, 1)).toBe(false);
  });
});

/**
 * The walk as it was first written (each skipped folio moved to the head as the walk meets it,
 * by the lists' own add): the reference isolateSkip must give the same lists and counts as.
 */
function isolateSkipByMoves(v: Lists, list: number, nr: number): [number, number] {
  let folios = 0;
  let scan = 0;
  let pages = 0;
  let first = -1;
  let pfn = v.tail[list];
  while (pfn >= 0 && pfn !== first && scan < nr) {
    const up = v.prev[pfn];
    if (v.env.pages.kind[pfn] !== PageKind.UserAnon && !v.valid(pfn)) {
      v.del(pfn);
      pfn = up;
      continue;
    }
    const nrPages = v.large[pfn] ? v.hpageNr : 1;
    const zone = v.zoneOf(pfn);
    if (zone > v.reclaimIdx) {
      v.pgskip[zone] += nrPages;
      pages += nrPages;
      v.add(pfn, list);
      if (first < 0) first = pfn;
    } else {
      scan += nrPages;
      folios++;
    }
    pfn = up;
  }
  return [folios, pages];
}

/** Lists where the frames not anonymous (kind 0) and marked stale are no longer valid. */
class StaleLists extends Lists {
  readonly stale: Uint8Array;
  constructor(n = 40) {
    super(n);
    this.stale = new Uint8Array(n);
  }
  override valid(pfn?: number): boolean {
    return pfn === undefined || this.stale[pfn] === 0;
  }
}

/** A frame of a test list: its list (1 or 2), whether it heads a large folio, whether it is of another kind (0) and stale. */
interface Frame {
  pfn: number;
  list: number;
  large: boolean;
  other: boolean;
  stale: boolean;
}

/** xorshift-multiply numbers below n from a seed */
function rng(seed: number): (n: number) => number {
  return (n: number) => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    return ((seed >>> 0) % n) >>> 0;
  };
}

/**
 * The same lists (`frames` added at the tail in order) walked by isolateSkip and by
 * isolateSkipByMoves: the same answer, skipped pages, order both ways, sizes, zone counts, pgskip
 * and list of every frame. Returns the reference's [folios, skipped pages].
 */
function expectSameWalk(
  n: number,
  frames: Frame[],
  idx: number,
  nr: number,
  label: string,
): [number, number] {
  const pair = [new StaleLists(n), new StaleLists(n)];
  for (const l of pair) {
    l.reclaimIdx = idx;
    for (const f of frames) {
      if (f.other) l.env.pages.kind[f.pfn] = 0;
      if (f.stale) l.stale[f.pfn] = 1;
      l.large[f.pfn] = f.large ? 1 : 0;
      l.addTail(f.pfn, f.list);
    }
  }
  const [a, b] = pair;
  const want = isolateSkipByMoves(a, 1, nr);
  expect([isolateSkip(b, 1, nr), skipped.pages], label).toEqual(want);
  for (const list of [1, 2]) expect(b.order(list), label).toEqual(a.order(list));
  // and from the tail up (the prev links), the sizes, the zone counts, the skip counts
  const up = (l: Lists) => {
    const out: number[] = [];
    for (let p = l.tail[1]; p >= 0; p = l.prev[p]) out.push(p);
    return out;
  };
  expect(up(b), label).toEqual(up(a));
  expect(Array.from(b.size), label).toEqual(Array.from(a.size));
  expect(Array.from(b.zoneSize), label).toEqual(Array.from(a.zoneSize));
  expect(Array.from(b.pgskip), label).toEqual(Array.from(a.pgskip));
  expect(Array.from(b.lru), label).toEqual(Array.from(a.lru));
  return want;
}

describe("isolateSkip's one-run splice", () => {
  it("leaves every list and count as moving each skipped folio to the head does (random lists, 3000 cases)", () => {
    const rand = rng(0x2545f491);
    let moved = 0;
    for (let c = 0; c < 3000; c++) {
      const idx = rand(2);
      const nr = 1 + rand(40);
      // the same random lists in both: frames in random order on lists 1 and 2, some large, some
      // not anonymous and stale (dropped by the walk), the rest on neither
      const perm = Array.from({ length: 40 }, (_, i) => i);
      for (let i = 39; i > 0; i--) {
        const j = rand(i + 1);
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const on = perm.map(() => rand(5));
      const large = perm.map(() => rand(6) === 0);
      const stale = perm.map(() => rand(8) === 0);
      const frames: Frame[] = [];
      perm.forEach((pfn, i) => {
        if (on[i] <= 3)
          frames.push({ pfn, list: on[i] <= 2 ? 1 : 2, large: large[i], other: stale[i], stale: stale[i] });
      });
      const want = expectSameWalk(40, frames, idx, nr, `case ${c}`);
      if (want[1] > 0 && want[0] > 0) moved++;
    }
    // the cases that both skip and take eligible folios are most of them
    expect(moved).toBeGreaterThan(1000);
  });

  it("walks runs of skipped folios as one at a time does: long runs of a zone, pages of another kind in them (1000 cases)", () => {
    // as a DMA-only kswapd meets the list: runs of up to 100 folios of one zone (400 frames, a
    // quarter in zone 0, a quarter in zone 1, half in zone 2); some frames not anonymous, valid
    // (page cache: skipped or taken as the others) or stale (dropped), some large
    const rand = rng(0x1b873593);
    const n = 400;
    let longRuns = 0;
    for (let c = 0; c < 1000; c++) {
      const idx = rand(2);
      const nr = 1 + rand(64);
      const free = [0, 1, 2].map((z) => {
        const lo = z === 0 ? 0 : z === 1 ? n >> 2 : n >> 1;
        const hi = z === 0 ? n >> 2 : z === 1 ? n >> 1 : n;
        const zone = Array.from({ length: hi - lo }, (_, i) => lo + i);
        for (let i = zone.length - 1; i > 0; i--) {
          const j = rand(i + 1);
          [zone[i], zone[j]] = [zone[j], zone[i]];
        }
        return zone;
      });
      const frames: Frame[] = [];
      let run = 0;
      for (let r = 0; r < 12; r++) {
        const z = rand(5) === 0 ? 0 : 1 + rand(2);
        const len = z === 0 ? 1 + rand(8) : 1 + rand(100);
        for (let i = 0; i < len && free[z].length > 0; i++) {
          const kind = rand(16);
          frames.push({
            pfn: free[z].pop()!,
            list: rand(10) === 0 ? 2 : 1,
            large: rand(12) === 0,
            other: kind < 2,
            stale: kind === 0,
          });
        }
        if (z > idx) run = Math.max(run, len);
      }
      const want = expectSameWalk(n, frames, idx, nr, `runs case ${c}`);
      if (want[1] >= 50 && run >= 50) longRuns++;
    }
    // most cases skip a run of 50 folios or more
    expect(longRuns).toBeGreaterThan(500);
  });
});

describe("reclaim_idx on i386", () => {
  it("a lowmem shortage reclaims lowmem pages and skips the older highmem ones; the zone counts match the frames", () => {
    const k = new Kernel({ arch: "i386", ramBytes: 1 << 30, cpus: 1, swapBytes: 256 << 20 });
    const [, normal, high] = k.buddy.zones;
    expect(high.managed).toBeGreaterThan(30000);
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    // GFP_HIGHUSER_MOVABLE: highmem first, then lowmem; written oldest first, so the highmem pages
    // sit at the inactive list's tail, where an unfiltered scan would take them first
    const n = high.managed + 8192;
    const a = k.mmap(t, mmapArgs(n * 4096));
    for (let i = 0; i < n; i++)
      expect(k.userAccess(0, t, a + BigInt(i * 4096), Access.Write, 1).ok).toBe(true);
    k.vmscan.fbatches.drain();
    const zs = k.vmscan.zoneSize;
    const anonIn = (z: number) => zs[3 + z] + zs[6 + z];
    const highAnon = anonIn(2);
    const lowAnon = anonIn(1);
    expect(highAnon).toBeGreaterThan(30000);
    expect(lowAnon).toBeGreaterThan(1000);
    expect(k.vmscan.zoneOf(k.vmscan.tail[1])).toBe(2);
    // GFP_KERNEL allocations (highest zone Normal) until lowmem's user pages are half gone
    let guard = normal.managed;
    while (anonIn(1) > lowAnon / 2 && guard-- > 0)
      expect(k.buddy.alloc(0, Gfp.KERNEL, PageKind.KernelPages)).toBeGreaterThanOrEqual(0);
    expect(guard).toBeGreaterThan(0);
    const v = vmstat(k);
    expect(v.pswpout).toBeGreaterThan(lowAnon / 3);
    expect(anonIn(2)).toBe(highAnon); // not one highmem page reclaimed
    expect(v.pgskip_high).toBeGreaterThan(0);
    expect(v.pgskip_normal).toBe(0);
    // nr_scanned holds the skipped pages: more scanned than the eligible pages could make
    expect(v.pgscan_kswapd + v.pgscan_direct).toBeGreaterThanOrEqual(v.pgskip_high);
    // the per-zone counts are the frames' own, list by list
    const recount = new Array(18).fill(0);
    for (let pfn = 0; pfn < k.vmscan.lru.length; pfn++) {
      const list = k.vmscan.lru[pfn];
      if (list !== 0) recount[list * 3 + k.vmscan.zoneOf(pfn)] += k.vmscan.large[pfn] ? k.vmscan.hpageNr : 1;
    }
    expect(Array.from(zs)).toEqual(recount);
    expect([1, 2, 3, 4, 5].map((l) => zs[l * 3] + zs[l * 3 + 1] + zs[l * 3 + 2])).toEqual(
      Array.from(k.vmscan.size.subarray(1, 6)),
    );
  });
});

describe("reclaim_idx on a small x86-64 machine", () => {
  it("kswapd woken for a boosted DMA reclaims DMA's pages only: older DMA32 pages outlive newer ones", () => {
    // the tour's first question: 80 MiB written into 64 MiB of RAM; user pages fill DMA32 first
    const r = runScenario(
      `machine ram=64M swap=32M overcommit=always
spawn A
A: a = mmap 80M
A: write a 80M value=0x41
let older = swapped(A, a+20M 12M)
let newer = swapped(A, a+40M 8M)
let skip32 = vmstat.pgskip_dma32
let skipdma = vmstat.pgskip_dma
let out = vmstat.pswpout
`,
      { checkInvariants: true },
    );
    const m = (name: string) => Number(BigInt(r.metrics[name]));
    // kswapd, woken by rmqueue for the DMA zone a fallback boosted, passed over DMA32's pages
    expect(r.failed).toBe(0);
    expect(m("skip32")).toBeGreaterThan(1000);
    expect(m("skipdma")).toBe(0);
    expect(m("out")).toBeGreaterThan(1000);
    // ... moving them to the head: pages written at 20-32 MiB all stayed while pages written
    // later, at 40-48 MiB, went (the reclaims before the first boost took the oldest, 0-16 MiB, in
    // order; without the skips reclaim goes on in that order)
    expect(m("older")).toBe(0);
    expect(m("newer")).toBeGreaterThan(1000);
  });
});
