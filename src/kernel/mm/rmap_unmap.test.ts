/**
 * try_to_unmap's PTE clear (rmap.ts ptepClearFlushPte) is ptep_clear_flush:
 * it flushes when the old entry was accessible (pte_accessible), where the
 * generic ptepClearFlushOf asks Pgtable.needsFlush of the old entry against
 * an empty one. The two tests are the same at level 0 on every
 * architecture: on random words, on every user entry mm makes (of random
 * frames, rights and states), on swap entries and on PROT_NONE entries,
 * needsFlush(entry, 0, 0, 0) is accessible(entry).
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { PteFlag } from "./arch.ts";
import { VmFlag } from "./vma.ts";

const ARCHS = ["x86_64", "x86_64-la57", "arm64", "riscv-sv39", "riscv-sv48", "i386", "i386-pae"] as const;

describe("ptep_clear_flush's test is needsFlush against an empty entry", () => {
  for (const arch of ARCHS) {
    it(arch, () => {
      const k = new Kernel({ arch, ramBytes: 64 << 20, cpus: 1, swapBytes: 1 << 20 });
      const pt = k.vmscan.env.userMm.env.pgtable;
      const rng = new Rng(0x5eed + arch.length);
      const entries: [number, number][] = [];
      for (let i = 0; i < 4000; i++) entries.push([rng.nextU32(), rng.nextU32()]);
      const rights = [0, VmFlag.READ, VmFlag.READ | VmFlag.WRITE, VmFlag.READ | VmFlag.EXEC];
      for (let i = 0; i < 2000; i++) {
        const pfn = 1 + rng.below(k.vmscan.lru.length - 1);
        const flags = rights[rng.below(rights.length)];
        const e = pt.mkUser(pfn, 0, flags, rng.below(2) === 1, rng.below(2) === 1, rng.below(8) === 0);
        entries.push([e.hi, e.lo]);
        const old = pt.modify(e.hi, e.lo, 0, PteFlag.YOUNG);
        entries.push([old.hi, old.lo]);
        entries.push([pt.mkSwapHi(pfn, i % 2 === 0), pt.mkSwapLo(pfn, i % 2 === 0)]);
      }
      let accessible = 0;
      for (const [hi, lo] of entries) {
        const a = pt.accessible(hi, lo);
        if (a) accessible++;
        if (pt.needsFlush(hi, lo, 0, 0, 0) !== a)
          expect.fail(
            `${arch}: entry 0x${hi.toString(16)}:${lo.toString(16)}: needsFlush ${!a}, accessible ${a}`,
          );
      }
      // both kinds were asked about
      expect(accessible).toBeGreaterThan(1000);
      expect(accessible).toBeLessThan(entries.length - 1000);
    });
  }
});
