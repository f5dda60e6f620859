/**
 * Differential test of a 64K mTHP folio going to swap: probe_mthpswap.c
 * (root) makes a swap file on the root filesystem, swapon, hugepages-64kB
 * madvise, writes a 256K MADV_HUGEPAGE mapping whole (four 64K folios), then
 * MADV_PAGEOUT of the first folio whole and of half the second; it swaps off,
 * deletes the file and restores the knob on every way out. The same steps run
 * on vmlab with a swap device like the host's.
 *
 * What the host shows (Linux 6.18, the swap file on a rotational virtio
 * disk): the whole folio is NOT swapped out whole: add_to_swap finds no
 * large entry (6.12's scan_swap_map_slots gives order > 0 only to a
 * non-rotational block device, SWP_BLKDEV with cluster_info: a swap file
 * never gets one), so shrink_folio_list splits it (swpout_fallback 1, split
 * 1) and writes its 16 pages one by one (pswpout 16); half a folio is split
 * by madvise first (split 1, no fallback) and its 8 pages go (pswpout 8).
 * vmlab's device takes large entries (a solid-state block device:
 * SwapArea.largeEntries, mthp_swap.test.ts checks that path); here it is set
 * to the host's kind (a file: no large entries) and the counts must match.
 * The slot numbers are not compared (the host's order-0 allocator is
 * per-cluster, vmlab's a cursor).
 *
 * Skipped, with the reason, where the machine cannot run it (no gcc, not
 * Linux, not root, swap already on, no hugepages-64kB stats).
 */
import { describe, expect, it } from "vitest";
import type { KernelImpl } from "../../src/kernel/KernelImpl.ts";
import { Session } from "../../src/workloads/scenario/session.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

const FIELDS = ["swapped", "swpout", "swpout_fallback", "split", "pswpout"] as const;

/** vmlab's records of the two steps, its swap device taking large entries or not. */
function runVmlab(largeEntries: boolean): Map<string, Record<string, number>> {
  const s = new Session({ checkInvariants: true });
  let line = 1;
  const feed = (text: string) => s.feed(text, line++)!;
  feed("machine ram=256M swap=16M thp=madvise");
  feed("mthp 64K madvise");
  (s.kernel as KernelImpl).swap!.largeEntries = largeEntries; // the device's kind: no scenario statement sets it
  feed("spawn A");
  feed("A: a = mmap 256K at=0x20000000");
  feed("A: madvise a 256K hugepage");
  feed("A: write a 256K value=1");
  const view = () => s.kernel!.view;
  const now = () => {
    const t = view().thp();
    const st = (n: string) => Number(t[`hugepages-64kB/stats/${n}`] ?? 0);
    return {
      swpout: st("swpout"),
      swpout_fallback: st("swpout_fallback"),
      split: st("split"),
      pswpout: view().vmstat().pswpout,
    };
  };
  const out = new Map<string, Record<string, number>>();
  const step = (exp: string, range: string, swapRange: string) => {
    const b = now();
    feed(`A: madvise ${range} pageout`);
    const c = now();
    feed(`let sw_${exp} = swapped(A, ${swapRange})`);
    out.set(exp, {
      swapped: Number(s.variables.get(`sw_${exp}`)),
      swpout: c.swpout - b.swpout,
      swpout_fallback: c.swpout_fallback - b.swpout_fallback,
      split: c.split - b.split,
      pswpout: c.pswpout - b.pswpout,
    });
  };
  step("whole", "a 64K", "a 64K");
  step("part", "a+80K 32K", "a+80K 32K");
  return out;
}

describe("a 64K mTHP folio paged out, against this machine's Linux kernel", () => {
  const probe = buildProbe("probe_mthpswap.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `swpout, swpout_fallback, split, pswpout${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const recs = new Map<string, Record<string, number | string>>();
      for (const l of hostRun((probe as { path: string }).path)
        .trim()
        .split("\n")) {
        const o = JSON.parse(l);
        recs.set(o.exp, o);
      }
      const why = recs.get("skip")?.why;
      if (why !== undefined) {
        ctx.skip(`the probe could not run: ${why}`);
        return;
      }
      expect(recs.get("readback")?.ok, "the pages read back after swap-in").toBe(1);
      // the probe's swap device is a file: no large entries in 6.12's rule, whatever the disk
      const vm = runVmlab(false);
      for (const exp of ["whole", "part"])
        for (const f of FIELDS) expect(vm.get(exp)![f], `${exp} ${f}`).toBe(recs.get(exp)![f]);
      // and on vmlab's own device the same folio goes whole
      const ssd = runVmlab(true).get("whole")!;
      expect([ssd.swpout, ssd.swpout_fallback, ssd.split, ssd.pswpout, ssd.swapped]).toEqual([
        1, 0, 0, 16, 16,
      ]);
    },
  );
});
