import { describe, expect, it } from "vitest";
import {
  isGuard,
  MmProt,
  makeProtectionMask,
  mkDecommitted,
  mkDemandZero,
  mkTransition,
  PageProt,
  SoftKind,
  softKind,
  softProtection,
  transitionPfn,
  win32Protection,
} from "./mmpte.ts";

describe("MMPTE_SOFTWARE", () => {
  it("a demand-zero PTE is Protection (bits 5..9) only; MM_DECOMMIT is its own kind", () => {
    for (let prot = 1; prot < 32; prot++) {
      const e = mkDemandZero(prot);
      expect(e.hi).toBe(0);
      expect(e.lo & 1).toBe(0); // Valid
      expect(e.lo & ~(0x1f << 5)).toBe(0);
      expect(softProtection(e.lo)).toBe(prot);
      expect(softKind(e.hi, e.lo, true)).toBe(
        prot === MmProt.DECOMMIT ? SoftKind.Decommitted : SoftKind.DemandZero,
      );
    }
    expect(mkDecommitted()).toEqual({ hi: 0, lo: 0x10 << 5 });
    expect(softKind(0, 0, true)).toBe(SoftKind.Zero);
  });

  it("Transition (bit 11) keeps the frame in bits 12 and up; Prototype is bit 10; a paging-file offset is PageFileLow/High", () => {
    const e = mkTransition(0x12345678, MmProt.READWRITE);
    expect(e.lo & (1 << 11)).not.toBe(0);
    expect(softKind(e.hi, e.lo, true)).toBe(SoftKind.Transition);
    expect(transitionPfn(e.hi, e.lo)).toBe(0x12345678);
    expect(softProtection(e.lo)).toBe(MmProt.READWRITE);
    expect(softKind(0, (1 << 10) | (4 << 5), true)).toBe(SoftKind.Prototype);
    // x64/PAE: PageFileHigh is the high word; x86 without PAE: bits 31..12
    expect(softKind(7, 4 << 5, true)).toBe(SoftKind.PageFile);
    expect(softKind(0, (7 << 12) | (4 << 5), false)).toBe(SoftKind.PageFile);
    expect(softKind(0, (1 << 1) | (4 << 5), true)).toBe(SoftKind.PageFile);
  });
});

describe("MiMakeProtectionMask and back", () => {
  it("maps each PAGE_* to its MM_* value and refuses the invalid combinations", () => {
    const table: [number, number][] = [
      [PageProt.NOACCESS, MmProt.NOACCESS],
      [PageProt.READONLY, MmProt.READONLY],
      [PageProt.READWRITE, MmProt.READWRITE],
      [PageProt.WRITECOPY, MmProt.WRITECOPY],
      [PageProt.EXECUTE, MmProt.EXECUTE],
      [PageProt.EXECUTE_READ, MmProt.EXECUTE_READ],
      [PageProt.EXECUTE_READWRITE, MmProt.EXECUTE_READWRITE],
      [PageProt.EXECUTE_WRITECOPY, MmProt.EXECUTE_WRITECOPY],
      [PageProt.READWRITE | PageProt.GUARD, MmProt.READWRITE | MmProt.GUARD_PAGE],
      [PageProt.READONLY | PageProt.NOCACHE, MmProt.READONLY | MmProt.NOCACHE],
      // write-combined: both modifier bits
      [PageProt.READWRITE | PageProt.WRITECOMBINE, MmProt.READWRITE | MmProt.GUARD_PAGE | MmProt.NOCACHE],
    ];
    for (const [win, mm] of table) {
      expect(makeProtectionMask(win)).toBe(mm);
      expect(win32Protection(mm)).toBe(win);
    }
    for (const bad of [
      0,
      PageProt.READONLY | PageProt.READWRITE,
      PageProt.NOACCESS | PageProt.GUARD,
      PageProt.NOACCESS | PageProt.NOCACHE,
      PageProt.READWRITE | PageProt.GUARD | PageProt.NOCACHE,
      PageProt.READWRITE | PageProt.WRITECOMBINE | PageProt.NOCACHE,
      0x800 | 4,
    ])
      expect(makeProtectionMask(bad)).toBe(-1);
    expect(isGuard(MmProt.READWRITE | MmProt.GUARD_PAGE)).toBe(true);
    expect(isGuard(MmProt.DECOMMIT)).toBe(false);
    expect(isGuard(MmProt.NOACCESS)).toBe(false);
    expect(isGuard(MmProt.READWRITE | MmProt.GUARD_PAGE | MmProt.NOCACHE)).toBe(false);
  });
});
