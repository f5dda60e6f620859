/** The TLBIs arm64 Linux (v6.12 tlbflush.h) issues for a flush. */
import { describe, expect, it } from "vitest";
import { flushTlbKernelRange, flushTlbMm, flushTlbPage, flushTlbRange, MAX_TLBI_RANGE_PAGES } from "./tlb.ts";

const count = (ops: { op: string }[]) => {
  const c: Record<string, number> = {};
  for (const o of ops) c[o.op] = (c[o.op] ?? 0) + 1;
  return c;
};

describe("flush_tlb_range without FEAT_TLBIRANGE", () => {
  it("1 page: one VAE1IS", () => {
    expect(flushTlbRange(5, 0x1000, 0x1001)).toEqual([{ op: "VAE1IS", asid: 5, vpn: 0x1000 }]);
  });
  it("64 pages: 64 VAE1IS", () => {
    expect(count(flushTlbRange(5, 0x1000, 0x1040))).toEqual({ VAE1IS: 64 });
  });
  it("511 pages still page by page; 512 (MAX_DVM_OPS) and 1024 pages: one ASIDE1IS (flush_tlb_mm)", () => {
    expect(count(flushTlbRange(5, 0, 511))).toEqual({ VAE1IS: 511 });
    expect(flushTlbRange(5, 0, 512)).toEqual([{ op: "ASIDE1IS", asid: 5 }]);
    expect(flushTlbRange(5, 0x1000, 0x1400)).toEqual([{ op: "ASIDE1IS", asid: 5 }]);
  });
  it("last-level and a PMD stride (flush_pmd_tlb_range: stride PMD_SIZE, level 2)", () => {
    expect(flushTlbRange(7, 0x200, 0x201, 1, true, 3)).toEqual([
      { op: "VALE1IS", asid: 7, vpn: 0x200, level: 3 },
    ]);
    expect(flushTlbRange(7, 0x200, 0x600, 512, false, 2)).toEqual([
      { op: "VAE1IS", asid: 7, vpn: 0x200, level: 2 },
      { op: "VAE1IS", asid: 7, vpn: 0x400, level: 2 },
    ]);
  });
  it("KPTI doubles every operation with the user ASID (ASID | 1)", () => {
    expect(flushTlbRange(6, 9, 10, 1, true, undefined, { kpti: true })).toEqual([
      { op: "VALE1IS", asid: 6, vpn: 9 },
      { op: "VALE1IS", asid: 7, vpn: 9 },
    ]);
    expect(flushTlbMm(6, { kpti: true })).toEqual([
      { op: "ASIDE1IS", asid: 6 },
      { op: "ASIDE1IS", asid: 7 },
    ]);
    expect(flushTlbPage(6, 3)).toEqual([{ op: "VALE1IS", asid: 6, vpn: 3 }]);
  });
});

describe("flush_tlb_range with FEAT_TLBIRANGE", () => {
  const f = { tlbRange: true };
  it("1 page: a plain VAE1IS; 64 pages: one RVAE1IS (num 0, scale 1)", () => {
    expect(flushTlbRange(5, 0x1000, 0x1001, 1, false, undefined, f)).toEqual([
      { op: "VAE1IS", asid: 5, vpn: 0x1000 },
    ]);
    expect(flushTlbRange(5, 0x1000, 0x1040, 1, false, undefined, f)).toEqual([
      { op: "RVAE1IS", asid: 5, vpn: 0x1000, pages: 64 },
    ]);
  });
  it("1024 pages: one range op (num 15, scale 1); 1025 pages: the range and one page", () => {
    expect(flushTlbRange(5, 0, 1024, 1, false, undefined, f)).toEqual([
      { op: "RVAE1IS", asid: 5, vpn: 0, pages: 1024 },
    ]);
    expect(flushTlbRange(5, 0, 1025, 1, false, undefined, f)).toEqual([
      { op: "RVAE1IS", asid: 5, vpn: 0, pages: 1024 },
      { op: "VAE1IS", asid: 5, vpn: 1024 },
    ]);
  });
  it("67 pages: scale 1 (64), scale 0 (2), then the odd page", () => {
    expect(flushTlbRange(5, 0, 67, 1, true, undefined, f)).toEqual([
      { op: "RVALE1IS", asid: 5, vpn: 0, pages: 64 },
      { op: "RVALE1IS", asid: 5, vpn: 64, pages: 2 },
      { op: "VALE1IS", asid: 5, vpn: 66 },
    ]);
  });
  it("above MAX_TLBI_RANGE_PAGES (2^21): flush_tlb_mm", () => {
    expect(MAX_TLBI_RANGE_PAGES).toBe(2 ** 21);
    expect(flushTlbRange(5, 0, 2 ** 21 + 1, 1, false, undefined, f)).toEqual([{ op: "ASIDE1IS", asid: 5 }]);
    expect(count(flushTlbRange(5, 0, 2 ** 21, 1, false, undefined, f))).toEqual({ RVAE1IS: 1 });
  });
});

describe("flush_tlb_kernel_range", () => {
  it("VAALE1IS per page up to 512 pages, then VMALLE1IS (flush_tlb_all)", () => {
    expect(count(flushTlbKernelRange(0, 512))).toEqual({ VAALE1IS: 512 });
    expect(flushTlbKernelRange(0, 513)).toEqual([{ op: "VMALLE1IS" }]);
  });
});
