/**
 * The Windows profile against the WRK, continued (review of the merged
 * working-set aging, QueryWorkingSet and SetProcessWorkingSetSizeEx flags
 * work): each case cites the WRK source that shows Windows' behaviour; the
 * figures are derived by hand from it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { lastError, winKernel } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";
import { QuotaLimits } from "./workingset.ts";

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
