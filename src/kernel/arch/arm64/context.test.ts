/** The ASID allocator against Linux v6.12 arch/arm64/mm/context.c, step by step. */
import { describe, expect, it } from "vitest";
import { ASID_FIRST_VERSION, AsidAllocator, type AsidContext } from "./context.ts";

const mms = (n: number): AsidContext[] => Array.from({ length: n }, () => ({ id: 0 }));
const GEN = ASID_FIRST_VERSION;
/** a kernel built without CONFIG_UNMAP_KERNEL_AT_EL0: the first generation's map starts empty */
const NO_CONFIG = { unmapKernelAtEl0Config: false };

describe("ASID allocation without KPTI, built without CONFIG_UNMAP_KERNEL_AT_EL0", () => {
  it("hands out ASIDs from 1 in the first generation (1 << 16); ASID 0 never", () => {
    const a = new AsidAllocator({ asidBits: 8, nrCpus: 2, ...NO_CONFIG });
    const [m1, m2] = mms(2);
    expect(a.checkAndSwitchContext(m1, 0)).toEqual({ asid: 1, flushAll: false, fast: false });
    expect(m1.id).toBe(GEN + 1);
    expect(a.checkAndSwitchContext(m2, 1)).toEqual({ asid: 2, flushAll: false, fast: false });
    expect(m2.id).toBe(GEN + 2);
    // back to m1 on CPU 1: its ASID is current, the CPU's active one non-zero: the fast path
    expect(a.checkAndSwitchContext(m1, 1)).toEqual({ asid: 1, flushAll: false, fast: true });
    expect(a.activeAsids).toEqual([GEN + 1, GEN + 1]);
    expect([a.rollovers, a.flushes, a.newContexts, a.fastSwitches]).toEqual([0, 0, 2, 1]);
  });

  it("rolls over at the (2^bits)th distinct mm: 2^bits - 1 ASIDs fit (ASID 0 is init_mm's)", () => {
    const a = new AsidAllocator({ asidBits: 3, nrCpus: 1, ...NO_CONFIG });
    const m = mms(8);
    for (let i = 0; i < 7; i++) expect(a.checkAndSwitchContext(m[i], 0).asid).toBe(i + 1);
    expect(a.rollovers).toBe(0);
    const r = a.checkAndSwitchContext(m[7], 0);
    expect(a.rollovers).toBe(1);
    expect(a.generation).toBe(2 * GEN);
    // flush_context kept CPU 0's running ASID (7, m[6]) reserved; the search starts again at 1
    expect(r).toEqual({ asid: 1, flushAll: true, fast: false });
    expect(m[7].id).toBe(2 * GEN + 1);
    expect(a.reservedAsids).toEqual([GEN + 7]);
    expect(a.flushes).toBe(1);
  });

  it("a reserved ASID survives the rollover on the CPU that runs it, and nobody else gets it", () => {
    const a = new AsidAllocator({ asidBits: 3, nrCpus: 2, ...NO_CONFIG });
    const [kept, ...others] = mms(12);
    expect(a.checkAndSwitchContext(kept, 1).asid).toBe(1); // CPU 1 keeps running `kept`
    const seen: number[] = [];
    for (const m of others) seen.push(a.checkAndSwitchContext(m, 0).asid);
    expect(a.rollovers).toBe(1);
    // generation 1: 2..7 for the first six; then the rollover: 1 (kept's) and 7 (CPU 0's) are reserved
    expect(seen).toEqual([2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6]);
    expect(a.reservedAsids).toEqual([GEN + 7, GEN + 1]);
    // CPU 1's next switch back to `kept`: the slow path, the same ASID in the new generation, and the flush it owes
    expect(a.checkAndSwitchContext(kept, 1)).toEqual({ asid: 1, flushAll: true, fast: false });
    expect(kept.id).toBe(2 * GEN + 1);
    expect(a.reservedAsids).toEqual([GEN + 7, 2 * GEN + 1]); // check_update_reserved_asid
  });

  it("an mm of an old generation keeps its number when it is free, else takes a new one", () => {
    const a = new AsidAllocator({ asidBits: 3, nrCpus: 1, ...NO_CONFIG });
    const m = mms(9);
    for (let i = 0; i < 7; i++) a.checkAndSwitchContext(m[i], 0); // ASIDs 1..7
    a.checkAndSwitchContext(m[7], 0); // rollover: m[7] takes 1
    // m[2] had ASID 3, free in generation 2: reused (__test_and_set_bit)
    expect(a.checkAndSwitchContext(m[2], 0)).toEqual({ asid: 3, flushAll: false, fast: false });
    // m[0] had ASID 1, now m[7]'s: the next free one from cur_idx (1: a reuse does not move it): 2
    expect(a.checkAndSwitchContext(m[0], 0).asid).toBe(2);
    // m[6] had ASID 7, reserved by CPU 0 at the rollover: kept
    expect(a.checkAndSwitchContext(m[6], 0).asid).toBe(7);
    expect(a.rollovers).toBe(1);
  });

  it("requests a flush on every CPU at a rollover, done once by each at its next slow-path switch", () => {
    const a = new AsidAllocator({ asidBits: 3, nrCpus: 3, ...NO_CONFIG });
    const m = mms(10);
    a.checkAndSwitchContext(m[0], 1);
    a.checkAndSwitchContext(m[1], 2);
    for (let i = 2; i < 8; i++) a.checkAndSwitchContext(m[i], 0); // 3..7, then the rollover at m[7]
    expect(a.rollovers).toBe(1);
    expect(a.tlbFlushPending).toEqual([false, true, true]); // CPU 0 flushed in the switch that rolled over
    expect(a.flushes).toBe(1);
    // CPU 1: its active ASID was zeroed, so even a current mm takes the slow path, and flushes
    expect(a.checkAndSwitchContext(m[7], 1)).toEqual({ asid: m[7].id % GEN, flushAll: true, fast: false });
    expect(a.checkAndSwitchContext(m[0], 1).flushAll).toBe(false);
    expect(a.checkAndSwitchContext(m[1], 2).flushAll).toBe(true);
    expect(a.flushes).toBe(3);
    expect(a.tlbFlushPending).toEqual([false, false, false]);
    // no more flushes until the next rollover, however the CPUs switch
    for (let i = 0; i < 20; i++) a.checkAndSwitchContext(m[i % 4], i % 3);
    expect(a.flushes).toBe(3);
  });

  it("counts generations: one per rollover, 16-bit ASIDs roll over after 65535 mms", () => {
    const a = new AsidAllocator({ asidBits: 16, nrCpus: 4, ...NO_CONFIG });
    for (let i = 0; i < 65535; i++) a.checkAndSwitchContext({ id: 0 }, 0);
    expect(a.rollovers).toBe(0);
    a.checkAndSwitchContext({ id: 0 }, 0);
    expect([a.rollovers, a.generation]).toEqual([1, 2 * GEN]);
  });
});

describe("ASID allocation without KPTI, CONFIG_UNMAP_KERNEL_AT_EL0=y (the default)", () => {
  it("the first generation hands out even ASIDs only (asids_init's set_kpti_asid_bits); after the rollover every one", () => {
    const a = new AsidAllocator({ asidBits: 4, nrCpus: 1 });
    const m = mms(20);
    const first = m.slice(0, 7).map((x) => a.checkAndSwitchContext(x, 0).asid);
    expect(first).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(a.rollovers).toBe(0);
    // the 8th mm: no even ASID left; the rollover's set_reserved_asid_bits clears the map (no
    // KPTI, no pinned ASIDs) but for CPU 0's running one (14)
    expect(a.checkAndSwitchContext(m[7], 0)).toEqual({ asid: 1, flushAll: true, fast: false });
    expect(a.rollovers).toBe(1);
    const second = m.slice(8, 20).map((x) => a.checkAndSwitchContext(x, 0).asid);
    // 2..15 but 14, CPU 0's ASID at the rollover (reserved_asids: marked taken all generation)
    expect(second.slice(0, 12)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(a.rollovers).toBe(1);
    // ASID(mm) is the context id & 0xffff: the generation sits above bit 16 with 4-bit ASIDs too
    expect(m[8].id).toBe(2 * GEN + 2);
  });

  it("8-bit ASIDs: the first rollover at the 128th mm (2..254 fit), the next at the 254th after it", () => {
    const a = new AsidAllocator({ asidBits: 8, nrCpus: 1 });
    let n = 0;
    while (a.rollovers === 0) {
      a.checkAndSwitchContext({ id: 0 }, 0);
      n++;
    }
    expect(n).toBe(128);
    while (a.rollovers === 1) {
      a.checkAndSwitchContext({ id: 0 }, 0);
      n++;
    }
    // generation 2: ASID 1 went to the 128th; 2..255 but 254 (the 127th's, CPU 0's reserved): 253 fit
    expect(n - 128).toBe(254);
  });
});

describe("ASID allocation with KPTI (pairs)", () => {
  it("hands out even (kernel) ASIDs; the user ASID is the odd one of the pair", () => {
    const a = new AsidAllocator({ asidBits: 4, nrCpus: 1, kpti: true });
    const m = mms(8);
    const asids = m.slice(0, 7).map((x) => a.checkAndSwitchContext(x, 0).asid);
    expect(asids).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(a.userAsid(m[0])).toBe(3);
    expect(a.rollovers).toBe(0);
    expect(a.checkAndSwitchContext(m[7], 0)).toEqual({ asid: 2, flushAll: true, fast: false });
    expect(a.rollovers).toBe(1);
  });
});

describe("bad configurations", () => {
  it("refuses fewer ASIDs than CPUs + 2 (asids_update_limit's WARN_ON)", () => {
    expect(() => new AsidAllocator({ asidBits: 2, nrCpus: 3 })).toThrow();
    expect(() => new AsidAllocator({ asidBits: 2, nrCpus: 2 })).not.toThrow();
    expect(() => new AsidAllocator({ asidBits: 3, nrCpus: 4, kpti: true })).toThrow();
    expect(() => new AsidAllocator({ asidBits: 17, nrCpus: 1 })).toThrow();
  });
});
