/**
 * The Windows profile against the WRK, continued (review of the merged
 * working-set aging, QueryWorkingSet and SetProcessWorkingSetSizeEx flags
 * work): each case cites the WRK source that shows Windows' behaviour; the
 * figures are derived by hand from it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { runScenario } from "../../../workloads/scenario/session.ts";
import { lastError, winKernel } from "../../windows.testkit.ts";
import type { WindowsOs } from "./index.ts";
import { PageProt } from "./mmpte.ts";
import { winProcess } from "./process.ts";
import { QuotaLimits } from "./workingset.ts";
import { ageWorkingSet, PASS_TRIM_AGE, trimWorkingSet } from "./wsmanager.ts";

const P = 4096n;
const RW = PageProt.READWRITE;

describe("SetProcessWorkingSetSizeEx (SIZE_T)-1 twice: the flags are checked first (WRK ps/psquota.c PspSetQuotaLimits)", () => {
  it("an undefined bit or both bits of a pair is 87 and purges nothing; valid flags with (SIZE_T)-1 purge", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 8n * P, true, true, RW);
    for (let i = 0n; i < 8n; i++) expect(k.userAccess(0, t, a + i * P, Access.Write, 1).ok).toBe(true);
    const ws = () => k.view.windows()!.process(t)!.workingSet;
    expect(ws()).toBe(8);
    // PspSetQuotaLimits returns STATUS_INVALID_PARAMETER for "All unused flags must be zero" and for
    // "both enable and disable bits set" before MmAdjustWorkingSetSizeEx (whose MiEmptyWorkingSet is the purge)
    for (const flags of [
      0x10,
      QuotaLimits.HARDWS_MIN_ENABLE | QuotaLimits.HARDWS_MIN_DISABLE,
      QuotaLimits.HARDWS_MAX_ENABLE | QuotaLimits.HARDWS_MAX_DISABLE,
    ]) {
      expect(k.setWorkingSetSize(t, -1n, -1n, flags)).toBe(87);
      expect(lastError(k, t)).toBe(87);
      expect(ws()).toBe(8);
    }
    // a valid word: the purge, the limits and their enforcement unchanged (MiEmptyWorkingSet returns first)
    expect(k.setWorkingSetSize(t, -1n, -1n, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(0);
    expect(ws()).toBe(0);
    expect(k.view.windows()!.process(t)!).toMatchObject({ wsMin: 50, wsMax: 345, wsHardMax: false });
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("QueryWorkingSet's buffer (WRK mm/queryvm.c NtQueryVirtualMemory, MiGetWorkingSetInfo)", () => {
  it("too small: FALSE, ERROR_BAD_LENGTH, NumberOfEntries written and no block; big enough: the blocks", () => {
    for (const [arch, ptr] of [
      ["x86_64", 8],
      ["i386", 4],
      ["i386-pae", 4],
    ] as const) {
      const { k, t } = winKernel({ arch });
      const a = k.virtualAlloc(t, 0n, 5n * P, true, true, RW);
      for (let i = 0n; i < 5n; i++) expect(k.userAccess(0, t, a + i * P, Access.Write, 1).ok).toBe(true);
      // sizeof(MEMORY_WORKING_SET_INFORMATION) + (5 - 1) * sizeof(ULONG_PTR): six ULONG_PTRs
      const need = 6 * ptr;
      expect(k.queryWorkingSet(t, need - 1)).toEqual({ ok: false, numberOfEntries: 5, workingSetInfo: [] });
      expect(lastError(k, t)).toBe(24);
      // below sizeof(ULONG_PTR): NtQueryVirtualMemory refuses it first, NumberOfEntries not written
      expect(k.queryWorkingSet(t, ptr - 1)).toEqual({ ok: false, numberOfEntries: 0, workingSetInfo: [] });
      const info = k.queryWorkingSet(t, need);
      expect(info.ok).toBe(true);
      expect(info.workingSetInfo.map((b) => BigInt(b.virtualPage) * P)).toEqual(
        [0n, 1n, 2n, 3n, 4n].map((i) => a + i * P),
      );
    }
  });

  it("the statement's cb=: FALSE with GetLastError 24 and VAR NumberOfEntries, or the list", () => {
    const r = runScenario(
      "machine arch=x86_64 profile=windows ram=64M\nspawn A\nA: a = VirtualAlloc 12K reserve+commit\nA: write a 12K\nA: n = QueryWorkingSet cb=31\nA: m = QueryWorkingSet cb=32\n",
      { checkInvariants: true },
    );
    expect(r.statements[4].output.at(-1)).toBe(
      "n = 3 (FALSE: GetLastError 24 ERROR_BAD_LENGTH; NumberOfEntries, no block)",
    );
    expect(r.statements[5].output).toHaveLength(4);
    expect(r.statements[5].output[0]).toBe("m = 3 (NumberOfEntries)");
  });
});

describe("the replacement at a hard maximum clears accessed bits without a TLB flush too (WRK mm/wslist.c MiReplaceWorkingSetEntry: MI_SET_ACCESSED_IN_PTE)", () => {
  it("a page read through a warm TLB entry after the scan cleared its bit is the next one replaced; one whose entry went is kept", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 40n * P, true, true, RW);
    const valid = (i: bigint) => k.queryWorkingSetEx(t, a + i * P).valid;
    // the smallest hard maximum over the 20-page minimum: 29
    expect(k.setWorkingSetSize(t, 20n * P, 29n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(0);
    for (let i = 0n; i < 29n; i++) expect(k.userAccess(0, t, a + i * P, Access.Write, 1).ok).toBe(true);
    // page 29: the scan finds every page accessed, clears each bit (the PTE only), and takes page 0 the second time round
    expect(k.userAccess(0, t, a + 29n * P, Access.Write, 1).ok).toBe(true);
    expect(valid(0n)).toBe(false);
    // page 1 read through its TLB entry, still cached: no walk, its accessed bit stays clear; page 2 read
    // after its entry went: the walk sets it
    k.tlbMgr.flushTlbMmRange(t.mm!, Number((a + 2n * P) / P), 1, k.runningCpu);
    expect(k.userAccess(0, t, a + P, Access.Read)).toMatchObject({ ok: true, value: 1 });
    expect(k.userAccess(0, t, a + 2n * P, Access.Read)).toMatchObject({ ok: true, value: 1 });
    // page 30: page 29 (accessed) loses its bit, then page 1, unaccessed as far as its PTE says, is replaced
    expect(k.userAccess(0, t, a + 30n * P, Access.Write, 1).ok).toBe(true);
    expect(valid(1n)).toBe(false);
    expect(valid(2n)).toBe(true);
    expect(valid(29n)).toBe(true);
    expect(k.view.windows()!.process(t)!.workingSet).toBe(29);
    // page 1's bytes come back through the soft fault
    expect(k.userAccess(0, t, a + P, Access.Read)).toMatchObject({ ok: true, value: 1 });
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("MEM_RESET and the WSLE age (WRK mm/allocvm.c MiResetVirtualMemory, x86/amd64)", () => {
  it("an accessed valid page loses its accessed bit and its WSLE goes to age 3: the first trim pass (age 2) takes it", () => {
    const { k, t } = winKernel({ pagefileBytes: 4 << 20 });
    const a = k.virtualAlloc(t, 0n, 4n * P, true, true, RW);
    for (let i = 0n; i < 4n; i++) expect(k.userAccess(0, t, a + i * P, Access.Write, 1).ok).toBe(true);
    const mm = t.mm!;
    const p = winProcess(mm);
    const vpn = (i: bigint) => Number((a + i * P) / P);
    // one aging: every bit cleared, every page at age 0; pages 0 and 1 read again through a cold TLB (bits set)
    ageWorkingSet(k.os as WindowsOs, mm, p);
    k.tlbMgr.flushTlbMmRange(mm, vpn(0n), 4, k.runningCpu);
    for (const i of [0n, 1n]) expect(k.userAccess(0, t, a + i * P, Access.Read).ok).toBe(true);
    // MEM_RESET of page 1: "clear it here in both the PTE and the WSLE" (MI_SET_ACCESSED_IN_PTE 0, Age = 3)
    expect(k.virtualAllocReset(t, a + P, P, RW, false)).toBe(a + P);
    expect(k.view.walk(t, a + P).leaf!.young).toBe(false);
    expect(p.wsAge.get(vpn(1n))).toBe(3);
    // page 0 (accessed) and pages 2 and 3 (age 0) stay; page 1 goes at the first pass's trim age
    expect(trimWorkingSet(k.os as WindowsOs, mm, p, 4, PASS_TRIM_AGE[0], -1)).toBe(1);
    for (const i of [0n, 1n, 2n, 3n]) expect(k.queryWorkingSetEx(t, a + i * P).valid).toBe(i !== 1n);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("a new maximum below the working set trims the oldest pages first (WRK mm/wslist.c MmAdjustWorkingSetSizeEx: MiTrimWorkingSet from MI_PASS0_TRIM_AGE down)", () => {
  it("the pages aged 2 go before older entries aged 1; no accessed bit is cleared; NextSlot past the last taken", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 24n * P, true, true, RW);
    for (let i = 0n; i < 24n; i++) expect(k.userAccess(0, t, a + i * P, Access.Write, 1).ok).toBe(true);
    const mm = t.mm!;
    const p = winProcess(mm);
    const w = k.os as WindowsOs;
    const vpn = (i: bigint) => Number((a + i * P) / P);
    const readAllBut = (skip: bigint[]) => {
      k.tlbMgr.flushTlbMmRange(mm, vpn(0n), 24, k.runningCpu);
      for (let i = 0n; i < 24n; i++)
        if (!skip.includes(i)) expect(k.userAccess(0, t, a + i * P, Access.Read).ok).toBe(true);
    };
    // agings: every page at age 0, then pages 10-13 left alone twice (age 2), the rest read once between (age 1)
    ageWorkingSet(w, mm, p);
    readAllBut([10n, 11n, 12n, 13n]);
    ageWorkingSet(w, mm, p);
    ageWorkingSet(w, mm, p);
    expect(p.wsAge.get(vpn(10n))).toBe(2);
    expect(p.wsAge.get(vpn(0n))).toBe(1);
    // page 23 read again: its accessed bit set
    k.tlbMgr.flushTlbMmRange(mm, vpn(23n), 1, k.runningCpu);
    expect(k.userAccess(0, t, a + 23n * P, Access.Read).ok).toBe(true);
    // a maximum of 20 pages: TrimAge 2 finds the four pages it must take, 10 to 13
    expect(k.setWorkingSetSize(t, 20n * P, 20n * P, 0)).toBe(0);
    expect(k.view.windows()!.process(t)!).toMatchObject({ workingSet: 20, wsReplaced: 4 });
    for (let i = 0n; i < 24n; i++) expect(k.queryWorkingSetEx(t, a + i * P).valid).toBe(i < 10n || i > 13n);
    // MiTrimWorkingSet clears no accessed bit: page 23's is still set
    expect(k.view.walk(t, a + 23n * P).leaf!.young).toBe(true);
    expect(p.wsNextSlot).toBe(vpn(14n));
    expect(k.view.invariants()).toEqual([]);
  });
});
