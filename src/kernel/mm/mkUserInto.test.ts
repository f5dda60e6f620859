/**
 * Pgtable.mkUserInto (do_anonymous_page's PTE without an object per fault, mm/memory.ts) makes
 * the bits mkUser makes, on every architecture's Pgtable, for every protection and flag.
 */
import { describe, expect, it } from "vitest";
import { KERNEL_ARCH_NAMES } from "../core/config.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { VmFlag } from "./vma.ts";

describe("Pgtable.mkUserInto", () => {
  for (const arch of KERNEL_ARCH_NAMES) {
    it(`${arch}: the entry mkUser makes, written into the object given`, () => {
      const pt = new Kernel({ ramBytes: 64 * 2 ** 20, cpus: 1, arch }).userMm.env.pgtable;
      const out = { hi: 7, lo: 7 };
      let differ = 0;
      for (const pfn of [0, 1, 0x12345, 0xfffff, 0x100000, 0x3ffffff])
        for (let prot = 0; prot < 16; prot++)
          for (let f = 0; f < 8; f++) {
            const vmFlags = prot & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC | VmFlag.SHARED);
            const want = pt.mkUser(pfn, 0, vmFlags, (f & 1) !== 0, (f & 2) !== 0, (f & 4) !== 0);
            expect(pt.mkUserInto(out, pfn, 0, vmFlags, (f & 1) !== 0, (f & 2) !== 0, (f & 4) !== 0)).toBe(
              out,
            );
            expect(out, `pfn ${pfn} flags ${vmFlags} ${f}`).toEqual(want);
            if (want.lo !== pt.mkUser(pfn, 0, vmFlags, false, false, false).lo) differ++;
          }
      expect(differ).toBeGreaterThan(0); // the flags reach the entry
    });
  }
});

/**
 * Pgtable.userPfnShift (doAnonymousRun's PTEs, mm/anon_fault.ts: mkUser of frame 0 once, each
 * page's frame added): for every frame below 2^(32 - shift), mkUser's entry is frame 0's with the
 * frame shifted into the low half, for every protection, protection key and flag.
 */
describe("Pgtable.userPfnShift", () => {
  for (const arch of KERNEL_ARCH_NAMES) {
    it(`${arch}: a base page's PTE is frame 0's plus the frame shifted`, () => {
      const pt = new Kernel({ ramBytes: 64 * 2 ** 20, cpus: 1, arch }).userMm.env.pgtable;
      const shift = pt.userPfnShift ?? 0;
      expect(shift).toBeGreaterThan(0); // every architecture vmlab models places the frame so
      const end = 2 ** (32 - shift);
      let checked = 0;
      for (const pfn of [1, 2, 0x12345, 0x7ffff, 0x80000, end >>> 1, end - 1])
        for (let prot = 0; prot < 16; prot++)
          for (const pkey of [0, 5, 15])
            for (let f = 0; f < 8; f++) {
              const vmFlags =
                (prot & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC | VmFlag.SHARED)) + pkey * 2 ** 32;
              const w = (f & 1) !== 0;
              const d = (f & 2) !== 0;
              const s = (f & 4) !== 0;
              const zero = pt.mkUser(0, 0, vmFlags, w, d, s);
              expect(zero.lo).toBeLessThan(2 ** shift);
              expect(pt.mkUser(pfn, 0, vmFlags, w, d, s), `pfn ${pfn} flags ${vmFlags} ${f}`).toEqual({
                hi: zero.hi,
                lo: zero.lo + pfn * 2 ** shift,
              });
              checked++;
            }
      expect(checked).toBe(7 * 16 * 3 * 8);
    });
  }
});
