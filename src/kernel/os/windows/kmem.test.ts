import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { KernelConfig } from "../../core/config.ts";
import { KernelImpl } from "../../KernelImpl.ts";

function winKernel(cfg: Partial<KernelConfig> = {}): KernelImpl {
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", pagefileBytes: 4 << 20, ...cfg });
  const t = k.spawn("app")!;
  k.switchTo(0, t);
  return k;
}
const paging = (k: KernelImpl) => k.view.windows()!.paging();
const alloc = (k: KernelImpl, paged: boolean, size: number): bigint => {
  const va = k.poolAlloc(0, paged, size);
  if (typeof va !== "bigint" || va === 0n) throw new Error(`pool_alloc failed: ${va}`);
  return va;
};

describe("ExAllocatePoolWithTag: pool blocks and headers", () => {
  for (const [arch, bs] of [
    ["x86_64", 16],
    ["i386", 8],
    ["i386-pae", 8],
  ] as const) {
    it(`${arch}: blocks of ${bs} bytes after a ${bs}-byte POOL_HEADER; over a page less the header, whole pages`, () => {
      const k = winKernel({ arch });
      const a = alloc(k, false, 100);
      const b = alloc(k, false, 1);
      // a: the header, then 100 bytes rounded up to blocks; b follows in the same page
      expect(a % 4096n).toBe(BigInt(bs));
      const aBlocks = Math.ceil((100 + bs) / bs);
      expect(b - a).toBe(BigInt(aBlocks * bs));
      expect(paging(k).poolNonpagedBytes).toBe((aBlocks + 2) * bs);
      expect(paging(k).poolNonpagedPages).toBe(1);
      // a page less the header still fits a pool page; one byte more takes a whole page
      const fits = alloc(k, false, 4096 - bs);
      expect(fits % 4096n).toBe(BigInt(bs));
      expect(k.poolFree(fits)).toBeNull();
      const one = alloc(k, false, 4096 - bs + 1);
      expect(one % 4096n).toBe(0n);
      expect(k.poolFree(one)).toBeNull();
      const big = alloc(k, false, 4097);
      expect(big % 4096n).toBe(0n);
      expect(paging(k).poolNonpagedPages).toBe(3);
      const commit0 = k.view.windows()!.commit().total;
      expect(k.poolFree(big)).toBeNull();
      expect(k.view.windows()!.commit().total).toBe(commit0 - 2);
      expect(k.poolFree(a)).toBeNull();
      expect(k.poolFree(b)).toBeNull();
      expect(paging(k)).toMatchObject({ poolNonpagedBytes: 0, poolNonpagedPages: 0 });
      expect(k.poolFree(b)).toMatch(/not the address of a live pool allocation/);
      expect(k.view.invariants()).toEqual([]);
    });
  }
});

describe("the paged pool pages; IRQL decides what a fault on it does", () => {
  it("trim kernel pages the paged pool out; at PASSIVE_LEVEL a kernel read is a hard fault and gets the bytes", () => {
    const k = winKernel();
    const p = alloc(k, true, 8000);
    expect(k.kernelAccess(0, p + 4100n, Access.Write, 0x77)).toMatchObject({ ok: true, faults: 0 });
    const r = k.trim(null, true);
    expect(r).toMatchObject({ trimmed: 2, written: 2, repurposed: 2 });
    expect(paging(k)).toMatchObject({ poolPagedResident: 0, pagefileInUse: 2 });
    const reads = paging(k).pageReads;
    expect(k.kernelAccess(0, p + 4100n, Access.Read)).toMatchObject({ ok: true, value: 0x77, faults: 1 });
    expect(paging(k).pageReads - reads).toBe(1);
    expect(paging(k).poolPagedResident).toBe(1);
    expect(paging(k).bugcheck).toBe(0);
    // APC_LEVEL may fault too
    k.setIrql(0, 1);
    expect(k.kernelAccess(0, p, Access.Read)).toMatchObject({ ok: true, faults: 1 });
    expect(k.view.invariants()).toEqual([]);
  });

  it("a trim without pageout leaves the pool page on a list: a soft fault", () => {
    const k = winKernel();
    const p = alloc(k, true, 64);
    k.trim(null, false);
    expect(paging(k).modified).toBe(1);
    const soft = paging(k).transitionFaults;
    expect(k.kernelAccess(0, p, Access.Read)).toMatchObject({ ok: true, faults: 1 });
    expect(paging(k).transitionFaults - soft).toBe(1);
    expect(paging(k).pageReads).toBe(0);
  });

  for (const [access, bits] of [
    [Access.Read, 0n],
    [Access.Write, 1n],
  ] as const) {
    it(`at DISPATCH_LEVEL a ${bits ? "write" : "read"} of a paged-out pool page is bug check 0xA with its four parameters`, () => {
      const k = winKernel();
      const p = alloc(k, true, 64);
      k.trim(null, true);
      expect(k.setIrql(0, 2)).toBe(0);
      const r = k.kernelAccess(0, p + 8n, access, 1);
      expect(r.ok).toBe(false);
      const w = paging(k);
      expect(w.bugcheck).toBe(0xa);
      expect(w.bugcheckParams).toEqual([p + 8n, 2n, bits, k.view.layout().kernelMap]);
      if (!r.ok) {
        expect(r.oops[0]).toMatch(/^\*\*\* STOP: 0x0000000A \(0x[0-9A-F]{16},0x0000000000000002,/);
        expect(r.oops[1]).toBe("IRQL_NOT_LESS_OR_EQUAL");
      }
      // nothing was read: the page is still out
      expect(w.poolPagedResident).toBe(0);
      expect(w.pageReads).toBe(0);
    });
  }

  it("the nonpaged pool never faults, at DISPATCH_LEVEL too, after trim kernel", () => {
    const k = winKernel();
    const n = alloc(k, false, 64);
    k.kernelAccess(0, n, Access.Write, 0x42);
    expect(k.trim(null, true).trimmed).toBe(0);
    k.setIrql(0, 2);
    expect(k.kernelAccess(0, n, Access.Read)).toMatchObject({ ok: true, value: 0x42, faults: 0 });
    expect(paging(k).bugcheck).toBe(0);
  });

  it("a freed pool page: bug check 0x50 at PASSIVE_LEVEL; paged pool asked for at DISPATCH_LEVEL is refused", () => {
    const k = winKernel();
    const p = alloc(k, true, 64);
    expect(k.poolFree(p)).toBeNull();
    const r = k.kernelAccess(0, p, Access.Write, 1);
    expect(r.ok).toBe(false);
    expect(paging(k).bugcheck).toBe(0x50);
    expect(paging(k).bugcheckParams.slice(0, 2)).toEqual([p, 2n]);
    k.setIrql(0, 2);
    expect(k.poolAlloc(0, true, 64)).toMatch(/DISPATCH_LEVEL/);
    expect(typeof k.poolAlloc(0, false, 64)).toBe("bigint");
  });

  it("allocating into a paged-out pool page brings it back first (the allocator writes the header)", () => {
    const k = winKernel();
    alloc(k, true, 64);
    k.trim(null, true);
    const q = alloc(k, true, 64);
    expect(paging(k).poolPagedResident).toBe(1);
    expect(paging(k).pageReads).toBe(1);
    expect(k.kernelAccess(0, q, Access.Read)).toMatchObject({ ok: true, faults: 0 });
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("explain: MmAccessFault's answer for pool addresses, changing nothing", () => {
  it("a soft fault, a hard fault, bug check 0xA at DISPATCH_LEVEL, 0x50 for a freed page", () => {
    const k = winKernel();
    const p = alloc(k, true, 64);
    const last = () => k.view.explainKernel(0, p, Access.Read).at(-1)!;
    k.trim(null, false);
    expect(last()).toMatch(/MiResolveTransitionFault: the paged pool/);
    k.modifiedPageWriter();
    k.trim(null, true);
    expect(last()).toMatch(/MiResolvePageFileFault: the paged pool: .*a hard fault/);
    k.setIrql(0, 2);
    expect(last()).toMatch(/at DISPATCH_LEVEL: .*bug check 0xA IRQL_NOT_LESS_OR_EQUAL/);
    // nothing happened
    expect(paging(k)).toMatchObject({ bugcheck: 0, pageReads: 0, poolPagedResident: 0 });
    k.setIrql(0, 0);
    k.poolFree(p);
    expect(last()).toMatch(/bug check 0x50 PAGE_FAULT_IN_NONPAGED_AREA/);
  });
});
