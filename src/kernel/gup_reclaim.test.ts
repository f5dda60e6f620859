/**
 * Reclaim of a maybe-DMA-pinned anonymous page as Linux 6.12's shrink_folio_list treats it
 * (mm/vmscan.c; mm/rmap.c try_to_unmap_one; include/linux/rmap.h __folio_try_share_anon_rmap):
 * not in the swap cache, keep_locked before add_to_swap (back inactive, nothing counted); in the
 * swap cache, try_to_unmap fails on the exclusive pinned page and activate_locked counts it in
 * pgactivate. Either way the page stays mapped at its frame, so a device's write through the pin
 * is what the process reads. mm/vmscan_pinned.ts.
 */
import { describe, expect, it } from "vitest";
import { feedSession, holds, PAGE_ON_LRU } from "../workloads/scenario/testKit.ts";
import type { KernelImpl } from "./KernelImpl.ts";

/** A's two pages swapped out, read back in (swap-cache pages, exclusive, mapped); a driver pins the first (`how`: a write pin). */
const swapcachePinned = (how = "") => `machine ram=64M swap=16M
spawn A
A: a = mmap 8K
A: write a 8K value=1
A: madvise a 8K pageout
A: read a 8K
kernel: p = pin_user_pages A a 1${how}
A: r = madvise a 8K willneed
expect swapcache(A, a 8K) == 2
expect meminfo.Inactive(anon) == 8192
let pf = pfn(A, a)
let act = vmstat.pgactivate
`;

describe("MADV_PAGEOUT of a pinned page (reclaim_pages -> shrink_folio_list)", () => {
  it("in the swap cache: try_to_unmap refuses it, activate_locked counts it, it stays mapped", () => {
    // reclaim_pages: both pages isolated, PG_active cleared. Page 0: in the swap cache, so no
    // add_to_swap; try_to_unmap_one: folio_try_share_anon_rmap_pte -EBUSY (folio_maybe_dma_pinned),
    // the PTE restored; activate_locked: PG_active, pgactivate 1; folio_putback_lru. Page 1:
    // its swap copy is clean (read back, not written): unmapped, freed, its slot keeps the data
    holds(`${swapcachePinned()}A: r = madvise a 8K pageout
A: r2 = madvise a 8K willneed
expect present(A, a) == 1
expect pfn(A, a) == pf
expect swapped(A, a+4K) == 1
expect vmstat.pgactivate == act + 1
expect meminfo.Active(anon) == 4096
expect byte(A, a) == 1
kernel: unpin_user_pages p
A: r = madvise a 4K pageout
expect swapped(A, a) == 1
`);
  });

  it("not in the swap cache: kept before add_to_swap and put back inactive, not counted", () => {
    // two FOLL_TOUCH pins mark the page accessed twice: PG_referenced, then PG_active (the
    // activate batch; willneed's lru_add_drain moves it). reclaim_pages clears PG_active;
    // shrink_folio_list: folio_maybe_dma_pinned before add_to_swap, keep_locked;
    // reclaim_folio_list's folio_putback_lru puts it back through the add batch: Inactive(anon)
    holds(`${PAGE_ON_LRU}kernel: p = pin_user_pages A a 1 write
kernel: q = pin_user_pages A a 1
A: r = madvise a 4K willneed
expect meminfo.Active(anon) == 4096
let act = vmstat.pgactivate
A: r = madvise a 4K pageout
A: r = madvise a 4K willneed
expect present(A, a) == 1
expect swapped(A, a) == 0
expect swapcache(A, a) == 0
expect meminfo.Inactive(anon) == 4096
expect meminfo.Active(anon) == 0
expect vmstat.pgactivate == act
kernel: unpin_user_pages p
kernel: unpin_user_pages q
`);
  });
});

describe("reclaim of a pinned swap-cache page (shrink_inactive_list)", () => {
  it("stays mapped at its frame and activated; the device's write is what the process reads", () => {
    const s = feedSession(swapcachePinned(" write"));
    const k = s.kernel as unknown as KernelImpl;
    const pf = Number(s.variables.get("pf"));
    // the device writes through the pin (DMA to the frame, no page table involved)
    k.machine.phys.writeBytes(pf * 4096 + 100, new Uint8Array([0xd1, 0xd2]));
    const act0 = k.vmscan.stats.pgactivate;
    const lines = [
      "reclaim 60M",
      "expect present(A, a) == 1",
      "expect pfn(A, a) == pf",
      "expect swapped(A, a+4K) == 1",
      "expect byte(A, a+100) == 0xd1",
      "expect byte(A, a+101) == 0xd2",
      "expect byte(A, a) == 1",
    ];
    for (const [i, l] of lines.entries()) s.feed(l, 100 + i);
    // activate_locked each time the inactive list reached it (try_to_unmap failed)
    expect(k.vmscan.stats.pgactivate).toBeGreaterThan(act0);
    // unpin_user_pages: then reclaim may take it; the device's bytes go to swap and come back
    const after = [
      "kernel: unpin_user_pages p",
      "reclaim 60M",
      "expect swapped(A, a) == 1",
      "A: read a 4K",
      "expect byte(A, a+100) == 0xd1",
    ];
    for (const [i, l] of after.entries()) s.feed(l, 200 + i);
    const r = s.finish();
    expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(r.expectations.length).toBe(10);
  });
});

describe("reclaim of a pinned lazyfree page (try_to_unmap_one's MADV_FREE check)", () => {
  it("ref_count != 1 + map_count: remapped, swap-backed again, activate_locked counts it; not discarded", () => {
    // MADV_FREE does not look at pins (madvise_free_pte_range: folio_mark_lazyfree). Reclaim:
    // no add_to_swap (not swap-backed); try_to_unmap_one: ref_count 1 + 1 + 1024 != 1 + map_count,
    // set_pte_at(pteval), folio_set_swapbacked, walk_abort; activate_locked: pgactivate, an
    // anonymous page now (folio_is_file_lru false). Unpinned, it is swapped out, not discarded
    holds(`${PAGE_ON_LRU}kernel: p = pin_user_pages A a 1
A: r = madvise a 4K free
A: r = madvise a 4K willneed
expect meminfo.Inactive(file) == 4096
let act = vmstat.pgactivate
reclaim 4K
A: r = madvise a 4K willneed
expect vmstat.pgactivate == act + 1
expect meminfo.Active(file) + meminfo.Inactive(file) == 0
expect meminfo.Active(anon) + meminfo.Inactive(anon) == 4096
expect vmstat.pglazyfreed == 0
kernel: unpin_user_pages p
reclaim 60M
expect swapped(A, a) == 1
A: read a 4K
expect byte(A, a) == 5
`);
  });
});
