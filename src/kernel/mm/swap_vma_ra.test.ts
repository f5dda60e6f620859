/**
 * swap_vma_readahead reads its window's PTEs from the one PTE table the
 * faulting PMD points to (mm/swap_state.ts): the neighbours it reads into the
 * swap cache are exactly the window's swap PTEs as a walk from the top finds
 * them, on every table format, with holes (no PTE) and resident pages among
 * the swapped ones; each page read has its linear index. The window is the
 * first fault's of a VMA (GET_SWAP_RA_VAL's 4 hits: 8 pages around the
 * fault); swap_ra_win.test.ts follows the window as it grows and shrinks.
 * Linux: mm/swap_state.c swap_vma_readahead, swap_vma_ra_win
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { KernelArchName } from "../core/config.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";

const PAGE = 4096n;

describe("swap_vma_readahead from one PTE table", () => {
  for (const arch of ["x86_64", "i386", "i386-pae", "arm64"] as KernelArchName[]) {
    it(`${arch}: the neighbours read are the window's swap PTEs found from the top`, () => {
      const k = new Kernel({ arch, ramBytes: 64 << 20, cpus: 1, swapBytes: 8 << 20, pageCluster: 9 });
      const t = k.spawn("A")!;
      k.switchTo(0, t);
      const pages = 700;
      const a = k.mmap(t, mmapArgs(pages * 4096));
      expect(a > 0n).toBe(true);
      const v0 = Number(a / PAGE);
      // every page but every 7th written (those stay without a PTE), then runs paged out with
      // resident pages between them (every 5th stays)
      for (let i = 0; i < pages; i++)
        if (i % 7 !== 3)
          expect(k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, i & 0xff).ok).toBe(true);
      for (let i = 0; i < pages; i++) if (i % 5 !== 1) k.madvise(t, a + BigInt(i) * PAGE, PAGE, "pageout");
      const pt = k.userMm.env.pgtable;
      const swapped = (v: number) => {
        const e = k.userMm.readPte(t.mm!, v);
        return e !== null && pt.isSwap(e.hi, e.lo);
      };
      // a swapped page in the middle of the VMA's second aligned block of 512
      let target = v0 + 512 - (v0 % 512) + 100;
      while (!swapped(target)) target++;
      expect(target).toBeLessThan(v0 + pages);
      // the VMA's first window: 4 hits -> 8 pages (__swapin_nr_pages), around the fault (it
      // follows no earlier one), inside the VMA and the fault's PTE table (1024 pages on i386);
      // its end stays where the 8 pages from 3 before the fault end
      const ptrs = arch === "i386" ? 1024 : 512;
      const first = target - (target % ptrs);
      // (long)left < 0 on the 32-bit kernels from 2 GiB up: the window starts at vm_start or the table's start
      const left = arch.startsWith("i386") && (target - 3) * 4096 >= 2 ** 31 ? 0 : target - 3;
      const lo = Math.max(v0, left, first);
      const hi = Math.min(v0 + pages, target - 3 + 8, first + ptrs);
      const want: number[] = [];
      for (let v = lo; v < hi; v++) if (v !== target && swapped(v)) want.push(v);
      expect(want.length).toBeGreaterThan(2);
      const ra0 = k.swap!.readahead;
      const maj0 = t.majFlt;
      const r = k.userAccess(0, t, BigInt(target) * PAGE, Access.Read);
      expect(r.ok && r.value).toBe((target - v0) & 0xff);
      expect([k.swap!.readahead - ra0, t.majFlt - maj0]).toEqual([want.length, 1]);
      // each page read carries its linear index (page->index: vm_pgoff plus its offset in the VMA,
      // the reverse map's key), the faulting one too
      const vma = t.mm!.vmaAt(target)!;
      for (const v of [target, ...want]) {
        const e = k.userMm.readPte(t.mm!, v)!;
        const pfn = pt.isSwap(e.hi, e.lo)
          ? k.swap!.cache.at(pt.swapOffset(e.hi, e.lo))
          : pt.pfn(e.hi, e.lo, 0);
        expect(pfn).toBeGreaterThanOrEqual(0);
        expect(k.vmscan.index[pfn]).toBe(vma.vmPgoff + (v - vma.vmStart));
      }
      // each one read is in the swap cache: its fault is minor, with its bytes
      for (const v of want) {
        const got = k.userAccess(0, t, BigInt(v) * PAGE, Access.Read);
        expect(got.ok && got.value).toBe((v - v0) & 0xff);
      }
      expect(t.majFlt - maj0).toBe(1);
      // the other block's swapped pages were not read
      const other = v0 + 2;
      if (swapped(other)) {
        k.userAccess(0, t, BigInt(other) * PAGE, Access.Read);
        expect(t.majFlt - maj0).toBe(2);
      }
    });
  }
});
