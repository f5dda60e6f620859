import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { winKernel } from "../../windows.testkit.ts";
import { STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION } from "./fault.ts";
import { PageProt } from "./mmpte.ts";

const RW = PageProt.READWRITE;

function exception(k: ReturnType<typeof winKernel>["k"], t: ReturnType<typeof winKernel>["t"]) {
  const p = k.view.windows()!.process(t)!;
  return { code: p.exception, rw: p.exceptionRw, address: p.exceptionAddress };
}

describe("MmAccessFault: committed memory is demand-zero", () => {
  it("no frame until the first touch; then a zeroed frame, one minor fault, and no more commit", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x4000n, true, true, RW);
    const w = k.view.windows()!;
    expect(w.vads(t)[0]).toMatchObject({ committedPages: 4, residentPages: 0 });
    expect(k.view.page(t, Number(a / 4096n)).pfn).toBe(-1);
    const free0 = k.view.meminfo().MemFree;
    const tables0 = k.view.mm(t)!.ptPages;
    const r = k.userAccess(0, t, a + 0x1001n, Access.Read);
    expect(r).toMatchObject({ ok: true, value: 0, faults: 1 });
    expect(t.minFlt).toBe(1);
    expect(k.view.page(t, Number(a / 4096n) + 1).pfn).toBeGreaterThan(0);
    // one frame, and the page tables down to its PTE (a VAD committed at creation has none before);
    // the PDPT of the low 512 GB exists already: KUSER_SHARED_DATA's PTE at 0x7FFE0000 needed it
    const tables = k.view.mm(t)!.ptPages - tables0;
    expect(tables).toBe(2);
    expect(k.view.meminfo().MemFree).toBe(free0 - 4096 * (1 + tables));
    expect(w.commit().total).toBe(4);
    expect(w.vads(t)[0]).toMatchObject({ committedPages: 4, residentPages: 1 });
    // a write lands and reads back
    expect(k.userAccess(0, t, a + 0x1001n, Access.Write, 0x42)).toMatchObject({
      ok: true,
      value: 0x42,
      faults: 0,
    });
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("MmAccessFault: access violations", () => {
  it("reserved but not committed: 0xC0000005 with the read/write code and the address; uncaught, the process ends", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, false, RW);
    k.catchExceptions(t);
    expect(k.userAccess(0, t, a + 0x10n, Access.Read)).toMatchObject({ ok: false, killed: false });
    expect(exception(k, t)).toEqual({ code: STATUS_ACCESS_VIOLATION, rw: 0, address: a + 0x10n });
    expect(k.userAccess(0, t, a + 0x2000n, Access.Write, 1)).toMatchObject({ ok: false, killed: false });
    expect(exception(k, t)).toEqual({ code: STATUS_ACCESS_VIOLATION, rw: 1, address: a + 0x2000n });
    expect(t.minFlt).toBe(0);
    // without a handler: terminated
    const u = winKernel();
    const b = u.k.virtualAlloc(u.t, 0n, 0x10000n, true, false, RW);
    const r = u.k.userAccess(0, u.t, b, Access.Read);
    expect(r).toMatchObject({ ok: false, killed: true, signal: "STATUS_ACCESS_VIOLATION" });
    expect(u.t.alive).toBe(false);
    expect(u.k.view.windows()!.commit().total).toBe(0);
    expect(u.k.view.invariants()).toEqual([]);
  });

  it("no VAD, PAGE_NOACCESS, a write to PAGE_READONLY, a decommitted page", () => {
    const { k, t } = winKernel();
    k.catchExceptions(t);
    const a = k.virtualAlloc(t, 0n, 0x4000n, true, true, RW);
    k.virtualProtect(t, a, 0x1000n, PageProt.NOACCESS);
    k.virtualProtect(t, a + 0x1000n, 0x1000n, PageProt.READONLY);
    k.virtualFree(t, a + 0x2000n, 0x1000n, false);
    const cases: [bigint, Access, number][] = [
      [0x500000n, Access.Read, 0],
      [a, Access.Read, 0],
      [a + 0x1000n, Access.Write, 1],
      [a + 0x2000n, Access.Read, 0],
    ];
    for (const [va, acc, rw] of cases) {
      expect(k.userAccess(0, t, va, acc, 1).ok, `0x${va.toString(16)}`).toBe(false);
      expect(exception(k, t)).toEqual({ code: STATUS_ACCESS_VIOLATION, rw, address: va });
    }
    expect(k.userAccess(0, t, a + 0x1000n, Access.Read).ok).toBe(true);
    expect(k.userAccess(0, t, a + 0x3000n, Access.Write, 1).ok).toBe(true);
  });

  it("DEP: executing a PAGE_READWRITE page is 0xC0000005 with code 8 on x64 and PAE; 32-bit paging has no NX", () => {
    for (const arch of ["x86_64", "i386-pae", "i386"] as const) {
      const { k, t } = winKernel({ arch });
      k.catchExceptions(t);
      const a = k.virtualAlloc(t, 0n, 0x2000n, true, true, RW);
      const x = k.virtualAlloc(t, 0n, 0x1000n, true, true, PageProt.EXECUTE_READ);
      expect(k.userAccess(0, t, x, Access.Exec).ok).toBe(true);
      // first as a demand-zero fault, then on the valid page
      for (const va of [a, a + 0x1000n]) {
        if (va !== a) expect(k.userAccess(0, t, va, Access.Write, 1).ok).toBe(true);
        const r = k.userAccess(0, t, va, Access.Exec);
        if (arch === "i386") expect(r.ok, arch).toBe(true);
        else {
          expect(r.ok, arch).toBe(false);
          expect(exception(k, t), arch).toEqual({ code: STATUS_ACCESS_VIOLATION, rw: 8, address: va });
        }
      }
    }
  });

  it("a kernel address from user mode is refused on a TLB hit too (U/S clear on every kernel page)", () => {
    for (const [arch, kva, split] of [
      ["x86_64", 0xffff_8880_0010_0000n, "2G"],
      ["i386", 0xc010_0000n, "3G"],
      // x86 2G: system space from 0x80000000 (its large-page region over the first physical memory)
      ["i386", 0x8000_0000n, "2G"],
      ["i386-pae", 0x8000_0000n, "2G"],
    ] as const) {
      const { k, t } = winKernel({ arch, ...(arch === "x86_64" ? {} : { split }) });
      k.catchExceptions(t);
      expect(k.kernelAccess(0, kva, Access.Read).ok).toBe(true); // the kernel's translation is now in the TLB
      const c0 = k.view.cpu(0);
      expect(k.userAccess(0, t, kva, Access.Read).ok).toBe(false);
      const c1 = k.view.cpu(0);
      expect(c1.tlbHits - c0.tlbHits, arch).toBe(1);
      expect(c1.tlbMisses - c0.tlbMisses, arch).toBe(0);
      expect(exception(k, t)).toEqual({ code: STATUS_ACCESS_VIOLATION, rw: 0, address: kva });
      expect(k.view.invariants(), arch).toEqual([]);
      k.exit(t, "exit");
      expect(k.view.invariants(), arch).toEqual([]);
    }
  });

  it("a non-canonical address on x64 is a #GP: an access violation whose address is unknown (-1)", () => {
    const { k, t } = winKernel();
    k.catchExceptions(t);
    expect(k.userAccess(0, t, 0x8000_0000_0000n, Access.Write, 1).ok).toBe(false);
    expect(exception(k, t)).toEqual({
      code: STATUS_ACCESS_VIOLATION,
      rw: 1,
      address: 0xffff_ffff_ffff_ffffn,
    });
  });

  it("the 64 KB below the top of user space is never mapped", () => {
    const { k, t } = winKernel({ arch: "i386" });
    k.catchExceptions(t);
    expect(k.view.windows()!.layout()).toMatchObject({
      highestUserAddress: 0x7ffe_ffffn,
      userProbeAddress: 0x7fff_0000n,
      systemRangeStart: 0x8000_0000n,
    });
    for (const va of [0x7fff_0000n, 0x7fff_fffen, 0x8000_0000n]) {
      expect(k.userAccess(0, t, va, Access.Read).ok).toBe(false);
      expect(exception(k, t).address).toBe(va);
    }
    expect(k.virtualAlloc(t, 0x7ffe_0000n, 0x1000n, true, false, RW)).toBe(0n);
  });
});

describe("guard pages", () => {
  it("raise STATUS_GUARD_PAGE_VIOLATION once, then the page is an ordinary committed page", () => {
    const { k, t } = winKernel();
    k.catchExceptions(t);
    const a = k.virtualAlloc(t, 0n, 0x2000n, true, true, RW | PageProt.GUARD);
    expect(k.virtualQuery(t, a)!.protect).toBe(RW | PageProt.GUARD);
    expect(k.userAccess(0, t, a + 8n, Access.Write, 3).ok).toBe(false);
    expect(exception(k, t)).toEqual({ code: STATUS_GUARD_PAGE_VIOLATION, rw: 1, address: a + 8n });
    expect(k.virtualQuery(t, a)).toMatchObject({ protect: RW, regionSize: 0x1000n });
    expect(k.userAccess(0, t, a + 8n, Access.Write, 3)).toMatchObject({ ok: true, value: 3 });
    // a resident page made a guard page by VirtualProtect keeps its data through the exception
    k.virtualProtect(t, a, 0x1000n, PageProt.READONLY | PageProt.GUARD);
    expect(k.userAccess(0, t, a + 8n, Access.Read).ok).toBe(false);
    expect(exception(k, t).code).toBe(STATUS_GUARD_PAGE_VIOLATION);
    expect(k.userAccess(0, t, a + 8n, Access.Read)).toMatchObject({ ok: true, value: 3 });
    // uncaught: the process ends
    const u = winKernel();
    const b = u.k.virtualAlloc(u.t, 0n, 0x1000n, true, true, RW | PageProt.GUARD);
    expect(u.k.userAccess(0, u.t, b, Access.Read)).toMatchObject({
      killed: true,
      signal: "STATUS_GUARD_PAGE_VIOLATION",
    });
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("the split", () => {
  it("x86 2G: the kernel from 0x80000000; split=3G (/3GB): user space to 0xBFFEFFFF, the kernel from 0xC0000000", () => {
    const two = winKernel({ arch: "i386-pae" });
    const three = winKernel({ arch: "i386-pae", split: "3G" });
    expect(two.k.view.windows()!.layout().systemRangeStart).toBe(0x8000_0000n);
    expect(three.k.view.windows()!.layout()).toMatchObject({
      systemRangeStart: 0xc000_0000n,
      highestUserAddress: 0xbffe_ffffn,
    });
    expect(two.k.virtualAlloc(two.t, 0x9000_0000n, 0x1000n, true, true, RW)).toBe(0n);
    expect(three.k.virtualAlloc(three.t, 0x9000_0000n, 0x1000n, true, true, RW)).toBe(0x9000_0000n);
    expect(three.k.userAccess(0, three.t, 0x9000_0000n, Access.Write, 5).ok).toBe(true);
    expect(three.k.view.invariants()).toEqual([]);
  });
});
