/**
 * Which frames reclaim could take and which it cannot (kernel.view.reclaim),
 * and the swap area's slots with the pages they hold (kernel.view.swap).
 *
 * Reclaim (mm/vmscan.c shrink_lruvec) only ever looks at the pages on the
 * LRU lists; everything else is pinned:
 * - the kernel's own frames (image, memmap, slab, vmalloc, alloc_pages, the
 *   zero page, firmware-reserved) are never on an LRU list;
 * - page-table pages (PageTable) are freed with their mm, never reclaimed;
 * - an mlocked page (PG_mlocked, on the unevictable list, which reclaim
 *   never scans) or one a VM_LOCKED VMA maps (folio_referenced would find
 *   the VMA and mlock_vma_folio cull it to that list);
 * - a user or page-cache page off the lists (shmem and tmpfs pages, a page
 *   a fault holds) is unevictable here (Vmscan's comment);
 * - an anonymous page with no swap area to go to is on a list but cannot
 *   leave (get_scan_count: no swap, SCAN_FILE only).
 * A transparent huge page is one LRU entry at its head (vmscan `large`).
 *
 * Swap slots: the swap_map count of each slot in use, its swap-cache page,
 * and who refers to it: the swap PTEs of every live address space
 * (`A 0x7ffff7600000`, as the frame grid's reverse map names pages).
 */
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { VmFlag } from "../mm/vma.ts";
import { pageInfo } from "./mm.ts";
import { userEntryPages } from "./pagetable.ts";

/** Why a frame can or cannot be reclaimed, in the grid's order. */
export const RECLAIM_STATES = [
  "free",
  "reclaimable",
  "kernel",
  "page-table",
  "mlocked",
  "unevictable",
  "no-swap",
] as const;
export type ReclaimState = (typeof RECLAIM_STATES)[number];

export interface ReclaimInfo {
  /** frames in each state; `pinned` is every allocated frame reclaim cannot take */
  counts: Record<ReclaimState | "pinned", number>;
  /** runs of frames in the same state, across physical memory */
  runs: { first: number; last: number; state: ReclaimState }[];
}

export interface SwapSlotInfo {
  slot: number;
  /** swap_map: how many swap PTEs refer to the slot */
  refs: number;
  /** the frame of its page in the swap cache, or -1 */
  cachedPfn: number;
  /** the device holds the page (written, not freed) */
  written: boolean;
  /** the swap PTEs that refer to it: `comm 0xADDRESS` */
  owners: string[];
}

export interface SwapInfo {
  /** slots that can hold pages (slot 0 is the header): SwapTotal in pages */
  total: number;
  used: number;
  free: number;
  /** the slots in use, in slot order */
  slots: SwapSlotInfo[];
}

/** Every live address space once, with the first task that has it. */
function liveMms(k: KernelCore): Task[] {
  const seen = new Set<unknown>();
  const out: Task[] = [];
  for (const t of k.tasks) {
    if (!t.alive || t.mm === null || seen.has(t.mm)) continue;
    seen.add(t.mm);
    out.push(t);
  }
  return out;
}

/**
 * Each user page with an entry in a live address space, in the VMAs
 * `want` picks: its task, page, frame (-1 if not present) and swap slot.
 */
function forEachUserPage(
  k: KernelCore,
  want: (t: Task, vmFlags: number) => boolean,
  f: (t: Task, vpn: number, pfn: number, swapSlot: number) => void,
): void {
  for (const t of liveMms(k))
    for (const v of t.mm!.vmas) {
      if (!want(t, v.vmFlags)) continue;
      for (const vpn of userEntryPages(k, t, v.vmStart, v.vmEnd - v.vmStart)) {
        const p = pageInfo(k, t, vpn);
        f(t, vpn, p.present ? p.pfn : -1, p.swapSlot);
      }
    }
}

export function reclaimInfo(k: KernelCore): ReclaimInfo {
  const locked = new Set<number>();
  // only the VM_LOCKED VMAs are walked: the cost is what they map
  forEachUserPage(
    k,
    (_t, flags) => (flags & VmFlag.LOCKED) !== 0,
    (_t, _vpn, pfn) => {
      if (pfn >= 0) locked.add(pfn);
    },
  );
  const pages = k.pages;
  const { lru, large } = k.vmscan;
  const hpage = k.arch.pgtable.hpagePmdNr;
  const stateOf = (pfn: number): ReclaimState => {
    const kind = pages.kind[pfn];
    if (kind === PageKind.Free) return "free";
    if (kind === PageKind.PageTable) return "page-table";
    if ((kind !== PageKind.UserAnon && kind !== PageKind.PageCache) || pfn === k.zeroPfn) return "kernel";
    const head = pfn - (pfn % hpage);
    const big = large[head] === 1 && lru[head] !== 0;
    if (locked.has(pfn) || pages.flags[big ? head : pfn] & PageFlag.Mlocked || lru[big ? head : pfn] === 5)
      return "mlocked";
    // a page waiting in an LRU add batch joins the lists when reclaim drains the batch
    const onLru = lru[pfn] !== 0 || big || k.vmscan.fbatches.has(pfn);
    if (!onLru) return "unevictable";
    if (kind === PageKind.UserAnon && k.swap === null) return "no-swap";
    return "reclaimable";
  };
  const counts = Object.fromEntries(
    [...RECLAIM_STATES, "pinned"].map((s) => [s, 0]),
  ) as ReclaimInfo["counts"];
  const runs: ReclaimInfo["runs"] = [];
  for (let pfn = 0; pfn < pages.nrFrames; pfn++) {
    const s = stateOf(pfn);
    counts[s]++;
    if (s !== "free" && s !== "reclaimable") counts.pinned++;
    const last = runs.at(-1);
    if (last !== undefined && last.state === s && last.last === pfn - 1) last.last = pfn;
    else runs.push({ first: pfn, last: pfn, state: s });
  }
  return { counts, runs };
}

export function swapInfo(k: KernelCore): SwapInfo | null {
  const swap = k.swap;
  if (swap === null) return null;
  const owners = new Map<number, string[]>();
  // only the address spaces that hold swap entries (MM_SWAPENTS) are walked
  forEachUserPage(
    k,
    (t) => t.mm!.swapEnts > 0,
    (t, vpn, _pfn, slot) => {
      if (slot < 0) return;
      const who = `${t.comm} 0x${k.va.canonical(vpn).toString(16)}`;
      const list = owners.get(slot);
      if (list === undefined) owners.set(slot, [who]);
      else list.push(who);
    },
  );
  const slots: SwapSlotInfo[] = [];
  for (let s = 1; s < swap.nrSlots; s++) {
    const cachedPfn = swap.cache.get(s) ?? -1;
    if (swap.map[s] === 0 && cachedPfn < 0 && !swap.holds(s)) continue;
    slots.push({
      slot: s,
      refs: swap.map[s],
      cachedPfn,
      written: swap.holds(s),
      owners: owners.get(s) ?? [],
    });
  }
  return { total: swap.totalPages, used: swap.used, free: swap.freePages, slots };
}
