/**
 * Reclaim under the policies other than `linux` (vmscan_env.ts ReclaimPolicy): `mglru`
 * generations, a `clock` hand, `fifo`, exact `lru`, `random`. They share the lists, the
 * reverse map, swap-out and eviction with the split LRU (vmscan.ts) and take their victims
 * one by one, with shrink_folio_list's safety checks. These are vmlab's teaching and research
 * policies, not Linux's code (mglru is in the style of mm/vmscan.c's lru_gen, not a copy).
 */
import { xorshift32 } from "../../base/rng.ts";
import { folioEvictable } from "./mlock_fbatch.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import type { PfnSet } from "./pfnset.ts";
import { folioReferenced, type RmapPages } from "./rmap.ts";
import { cullUnevictable, type LruLists } from "./swap.ts";
import { SWAP_CLUSTER_MAX } from "./vmscan_balance.ts";
import type { VmscanEnv } from "./vmscan_env.ts";
import { countScanned, type ReclaimContext, type ReclaimStats } from "./vmscan_stat.ts";

// vmscan.ts's Lru (no import: vmscan.ts imports this file)
const NONE = 0;
const INACTIVE_ANON = 1;
const UNEVICTABLE = 5;

/** What the other policies use of vmscan.ts's Vmscan. */
export interface PolicyLists extends LruLists, RmapPages {
  readonly env: VmscanEnv;
  readonly owner: RmapPages["owner"];
  readonly size: Int32Array;
  readonly tail: Int32Array;
  readonly hpageNr: number;
  readonly stats: ReclaimStats;
  readonly reclaimCtx: ReclaimContext;
  readonly pinned: PfnSet;
  minSeq: number;
  maxSeq: number;
  hand: number;
  rngState: number;
  add(pfn: number, list: number): void;
  del(pfn: number): void;
  valid(pfn: number): boolean;
  tryReclaim(pfn: number, anon: boolean): number;
  freed(): void;
  endFolioList(): void;
}

function total(v: PolicyLists): number {
  return v.size[1] + v.size[2] + v.size[3] + v.size[4];
}

/** The next candidate under the policy, or -1 when no page is on the lists. */
function candidate(v: PolicyLists): number {
  if (total(v) === 0) return -1;
  switch (v.env.policy) {
    case "mglru": {
      // the oldest generation with pages; when only one is left, open a younger one (aging)
      while (v.size[(v.minSeq % 4) + 1] === 0 && v.minSeq < v.maxSeq) v.minSeq++;
      if (v.minSeq === v.maxSeq) v.maxSeq++;
      return v.tail[(v.minSeq % 4) + 1];
    }
    case "clock": {
      const n = v.lru.length;
      for (let i = 0; i < n; i++) {
        const pfn = v.hand;
        v.hand = v.hand + 1 >= n ? 0 : v.hand + 1;
        if (v.lru[pfn] !== NONE && v.lru[pfn] !== UNEVICTABLE) return pfn;
      }
      return -1;
    }
    case "random": {
      const n = v.lru.length;
      for (let i = 0; i < 4 * n; i++) {
        v.rngState = xorshift32(v.rngState); // seeded from the machine's seed
        const pfn = v.rngState % n;
        if (v.lru[pfn] !== NONE && v.lru[pfn] !== UNEVICTABLE) return pfn;
      }
      return v.tail[INACTIVE_ANON];
    }
    default:
      return v.tail[INACTIVE_ANON]; // fifo, lru: the oldest / least recently used
  }
}

/** Keeps a page that could not go (or earned a second chance) under the policy. */
function keep(v: PolicyLists, pfn: number, young: boolean): void {
  switch (v.env.policy) {
    case "clock":
      return; // the hand has moved past it
    case "mglru":
      // a young page joins the youngest generation; an old one the next generation up
      v.add(pfn, ((young ? v.maxSeq : Math.min(v.maxSeq, v.minSeq + 1)) % 4) + 1);
      return;
    default:
      v.add(pfn, INACTIVE_ANON); // to the head: scanned again last
  }
}

/** Reclaim under the policies other than linux: up to `want` pages, victims one by one; returns pages reclaimed. */
export function shrinkOther(v: PolicyLists, want: number): number {
  let reclaimed = 0;
  let taken = 0;
  const swapOk = v.env.swap !== null && v.env.swap.freePages > 0;
  const pages = v.env.pages;
  const policy = v.env.policy;
  // second chance only for the policies that look at accessed bits
  const usesRef = policy === "clock" || policy === "mglru";
  for (let budget = 2 * total(v) + SWAP_CLUSTER_MAX; budget > 0 && reclaimed < want; budget--) {
    const pfn = candidate(v);
    if (pfn < 0) break;
    if (!v.valid(pfn)) {
      v.del(pfn);
      continue;
    }
    if (taken++ === SWAP_CLUSTER_MAX) {
      v.endFolioList(); // one shrink_folio_list per SWAP_CLUSTER_MAX pages, as under linux
      taken = 1;
    }
    const anon = pages.kind[pfn] === PageKind.UserAnon;
    const nrPages = v.large[pfn] ? v.hpageNr : 1;
    countScanned(v.stats, v.reclaimCtx, nrPages, !anon);
    const r = folioEvictable(v, pfn) ? folioReferenced(v, pfn) : null;
    if (r === null || r.locked) {
      cullUnevictable(v, pfn, r !== null); // as shrinkInactive
      continue;
    }
    const expectRefs = r.found + (anon ? (v.env.swap?.slotOf.has(pfn) ? 1 : 0) : 1);
    const stuck =
      v.pinned.has(pfn) ||
      v.fbatches.queued[pfn] !== 0 || // PG_lru clear: a move batch holds it
      r.found !== pages.mapcount[pfn] ||
      pages.refcount[pfn] !== expectRefs ||
      (anon && !swapOk && !(pages.flags[pfn] & PageFlag.Lazyfree));
    if (stuck || (usesRef && r.young > 0)) {
      if (!stuck) v.stats.pgactivate += nrPages;
      keep(v, pfn, r.young > 0);
      continue;
    }
    const got = v.tryReclaim(pfn, anon);
    if (got > 0) {
      reclaimed += got;
      v.freed();
    } else keep(v, pfn, false);
  }
  v.endFolioList();
  return reclaimed;
}
