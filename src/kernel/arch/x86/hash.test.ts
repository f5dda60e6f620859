/**
 * pagetable=inverted: the MMU refills its TLB from a hashed inverted page
 * table, which the kernel's hash_page fills from Linux's radix tables
 * (hash.ts, hw/arch/x86_64/InvertedCpu.ts, docs/inverted.md).
 */
import { describe, expect, it } from "vitest";
import { vpnUnchecked } from "../../../base/units.ts";
import { Access } from "../../../hw/access.ts";
import type { InvertedCpu } from "../../../hw/arch/x86_64/InvertedCpu.ts";
import type { Ipt } from "../../../hw/mmu/inverted/Ipt.ts";
import type { KernelConfig } from "../../Kernel.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { mmapArgs } from "../../mm/userMm.ts";
import { checkInvariants } from "../../view/invariants.ts";
import type { HashTlb } from "./hash.ts";

function boot(extra: Partial<KernelConfig> = {}) {
  const k = new Kernel<InvertedCpu, HashTlb>({ ramBytes: 64 << 20, pagetable: "inverted", ...extra });
  const a = k.spawn("A")!;
  k.switchTo(0, a);
  const buf = k.mmap(a, mmapArgs(16 * 4096));
  const cpu = k.machine.cpus[0];
  return { k, a, buf, cpu, ipt: cpu.ipt as Ipt };
}

const vpnOf = (va: bigint) => Number(va >> 12n);

describe("pagetable=inverted: the machine", () => {
  it("places the IPT and HAT in RAM from memblock, sized by RAM (16 B per frame + 4 B per HAT slot)", () => {
    const { k, ipt } = boot();
    expect(ipt.nrFrames).toBe(16384);
    expect(ipt.bytes).toBe(16384 * 20);
    // inside RAM, reserved (not in the buddy allocator)
    expect(ipt.iptBase).toBeGreaterThan(16 << 20);
    expect(k.pages.kind[ipt.iptBase / 4096]).toBe(k.pages.kind[ipt.hatBase / 4096]);
    expect(k.buddy.freePages()).toBeLessThan(16384 - 80);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a first write is one page fault and one reload; the entry is bytes in RAM tagged with the space and the vpn", () => {
    const { k, a, buf, cpu, ipt } = boot();
    const r = k.userAccess(0, a, buf + 4096n, Access.Write, 7);
    expect(r.ok && r.faults).toBe(1);
    expect(cpu.pageFaults).toBe(1);
    expect(cpu.hashReloads).toBe(1);
    const pfn = r.ok ? r.pa / 4096 : -1;
    const e = ipt.entry(pfn)!;
    expect(e.space).toBe(cpu.space);
    expect(e.vpn).toBe(vpnOf(buf) + 1);
    expect(e.dirty).toBe(true);
    expect(k.machine.phys.read32(ipt.entryAddress(pfn)) >>> 31).toBe(1);
    // a TLB miss on the same page is a hash lookup: no page fault, no reload, memory references counted
    k.machine.cpus[0].flushPage(Number((buf + 4096n) >> 32n), Number((buf + 4096n) & 0xffffffffn));
    const refs = ipt.refs;
    const r2 = k.userAccess(0, a, buf + 4096n, Access.Read);
    expect(r2.ok && r2.value).toBe(7);
    expect(cpu.hashReloads).toBe(1);
    expect(ipt.refs - refs).toBeGreaterThanOrEqual(2);
    expect(cpu.pageFaults).toBe(1);
  });

  it("a write through a clean entry is a hash fault that sets D in the PTE, not a page fault", () => {
    const { k, a, buf, cpu, ipt } = boot();
    k.userAccess(0, a, buf, Access.Write, 1);
    const mm = a.mm!;
    const m = k.userMm.mapper(mm);
    const leaf = m.lookup(mm.pgdPfn, vpnUnchecked(vpnOf(buf)))!;
    // a clean PTE (as after writeback): the PTE change removes the entry
    k.arch.pgtable.set(k.machine.phys, leaf.entryPa, leaf.hi, leaf.lo & ~0x40);
    expect(ipt.lookup(cpu.space, vpnOf(buf))).toBe(-1);
    k.machine.cpus[0].flushPage(Number(buf >> 32n), Number(buf & 0xffffffffn));
    k.userAccess(0, a, buf, Access.Read);
    const pfn = ipt.lookup(cpu.space, vpnOf(buf));
    expect(ipt.entry(pfn)!.dirty).toBe(false);
    const faults = cpu.pageFaults;
    const hf = cpu.hashFaults;
    const r = k.userAccess(0, a, buf, Access.Write, 2);
    expect(r.ok && r.faults).toBe(0);
    expect(cpu.pageFaults).toBe(faults);
    expect(cpu.hashFaults).toBe(hf + 1);
    expect(ipt.entry(pfn)!.dirty).toBe(true);
    expect(k.machine.phys.read32(leaf.entryPa) & 0x40).toBe(0x40);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("pagetable=inverted: shared pages, one alias at a time", () => {
  it("fork before the copy-on-write break: parent and child alternating reads steal the frame's entry each turn", () => {
    const { k, a, buf, cpu, ipt } = boot();
    k.userAccess(0, a, buf, Access.Write, 0x42);
    const b = k.fork(a, "B")!;
    const hash = () => (k.arch.hwTable!.metrics()["ipt.steals"] ?? 0) as number;
    const values: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = i % 2 === 0 ? b : a;
      k.switchTo(0, t);
      const r = k.userAccess(0, t, buf, Access.Read);
      values.push(r.ok ? r.value : -1);
    }
    expect(values).toEqual([0x42, 0x42, 0x42, 0x42, 0x42, 0x42]);
    // fork write-protected A's PTE (its entry went): B's first read inserts, each later read steals
    expect(hash()).toBe(5);
    expect(ipt.steals).toBe(5);
    expect(cpu.pageFaults).toBe(1);
    expect(k.view.task(a).minFlt + k.view.task(b).minFlt).toBe(1);
    // the last reader (A) holds the entry; B's TLB entry was dropped with the steal
    const pfn = ipt.lookup(cpu.space, vpnOf(buf));
    expect(pfn).toBeGreaterThan(0);
    expect(ipt.entry(pfn)!.space).toBe(cpu.space);
    expect(checkInvariants(k)).toEqual([]);
    // the COW break: B gets its own frame, the steals stop
    k.switchTo(0, b);
    expect(k.userAccess(0, b, buf, Access.Write, 9).ok).toBe(true);
    const steals = ipt.steals;
    for (let i = 0; i < 4; i++) {
      const t = i % 2 === 0 ? a : b;
      k.switchTo(0, t);
      expect(k.userAccess(0, t, buf, Access.Read)).toMatchObject({ ok: true, value: t === a ? 0x42 : 9 });
    }
    expect(ipt.steals).toBe(steals);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("pagetable=inverted: alias steals across CPUs", () => {
  it("a steal drops the TLB entries filled from the old alias on the other CPU too", () => {
    const { k, a, buf, ipt } = boot({ cpus: 2 });
    k.userAccess(0, a, buf, Access.Write, 0x42);
    const b = k.fork(a, "B")!;
    k.switchTo(1, b);
    const cached = (cpu: number) =>
      k.machine.cpus[cpu].tlb.dataPath[0].some((arr) => arr.peek(vpnOf(buf), k.machine.cpus[cpu].asid) >= 0);
    expect(k.userAccess(0, a, buf, Access.Read)).toMatchObject({ ok: true, value: 0x42 });
    expect(cached(0)).toBe(true);
    // B on CPU 1 takes the frame's entry: A's TLB entry on CPU 0 goes with it
    expect(k.userAccess(1, b, buf, Access.Read)).toMatchObject({ ok: true, value: 0x42 });
    expect(ipt.steals).toBe(1);
    expect(cached(0)).toBe(false);
    expect(cached(1)).toBe(true);
    // and back
    expect(k.userAccess(0, a, buf, Access.Read)).toMatchObject({ ok: true, value: 0x42 });
    expect(ipt.steals).toBe(2);
    expect(cached(1)).toBe(false);
    expect(k.machine.cpus[0].pageFaults + k.machine.cpus[1].pageFaults).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("pagetable=inverted: coherence with Linux's tables", () => {
  const stale = (ipt: Ipt, space: number, vpn: number) => ipt.lookup(space, vpn) >= 0;

  it("munmap removes the entries of the range, before the frames are freed", () => {
    const { k, a, buf, cpu, ipt } = boot();
    for (let i = 0n; i < 4n; i++) k.userAccess(0, a, buf + i * 4096n, Access.Write, 1);
    expect(stale(ipt, cpu.space, vpnOf(buf) + 2)).toBe(true);
    k.munmap(a, buf + 8192n, 8192n);
    expect(stale(ipt, cpu.space, vpnOf(buf) + 2)).toBe(false);
    expect(stale(ipt, cpu.space, vpnOf(buf) + 3)).toBe(false);
    expect(stale(ipt, cpu.space, vpnOf(buf) + 1)).toBe(true);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("mprotect read-only removes the writable entries; the next write is a page fault (SIGSEGV)", () => {
    const { k, a, buf, cpu, ipt } = boot();
    k.userAccess(0, a, buf, Access.Write, 1);
    k.mprotect(a, buf, 4096n, { r: true, w: false, x: false });
    expect(stale(ipt, cpu.space, vpnOf(buf))).toBe(false);
    a.caught.add("SIGSEGV");
    const faults = cpu.pageFaults;
    expect(k.userAccess(0, a, buf, Access.Write, 2).ok).toBe(false);
    expect(cpu.pageFaults).toBe(faults + 1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a COW break re-points the page at the new frame: no entry is left on the old one for this space", () => {
    const { k, a, buf, cpu, ipt } = boot();
    k.userAccess(0, a, buf, Access.Write, 1);
    const b = k.fork(a, "B")!;
    k.switchTo(0, b);
    const r0 = k.userAccess(0, b, buf, Access.Read);
    const shared = r0.ok ? r0.pa / 4096 : -1;
    const r1 = k.userAccess(0, b, buf, Access.Write, 2);
    const own = r1.ok ? r1.pa / 4096 : -1;
    expect(own).not.toBe(shared);
    expect(ipt.lookup(cpu.space, vpnOf(buf))).toBe(own);
    expect(ipt.entry(shared)).toBeNull();
    expect(checkInvariants(k)).toEqual([]);
  });

  it("the checker reports an entry the tables do not back (as a missed removal would leave)", () => {
    const { k, a, buf, cpu, ipt } = boot();
    k.userAccess(0, a, buf, Access.Write, 1);
    const r = k.userAccess(0, a, buf, Access.Read);
    const pfn = r.ok ? r.pa / 4096 : -1;
    // a stale alias: the frame's entry re-tagged with a page A never mapped
    ipt.insert(pfn, cpu.space, vpnOf(buf) + 100, 7, false, 0);
    expect(checkInvariants(k).join("\n")).toMatch(
      /IPT entry of frame .* stale: no present PTE maps the page/,
    );
  });

  it("exit leaves nothing of the address space in the IPT", () => {
    const { k, a, buf, ipt } = boot();
    for (let i = 0n; i < 16n; i++) k.userAccess(0, a, buf + i * 4096n, Access.Write, 1);
    expect(ipt.validEntries()).toBe(16);
    k.exit(a, "test");
    expect(ipt.validEntries()).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("pagetable=inverted: configuration", () => {
  it("is x86_64's only, and refuses PTI, with a reason", () => {
    expect(() => new Kernel({ ramBytes: 64 << 20, pagetable: "inverted", arch: "arm64" })).toThrow(
      /arch=x86_64 only/,
    );
    expect(() => new Kernel({ ramBytes: 64 << 20, pagetable: "inverted", pti: true })).toThrow(/PTI/);
  });

  it("leaves the radix machine's CPUs the radix walker (no IPT, no hash fault)", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    expect("ipt" in k.machine.cpus[0]).toBe(false);
    expect(k.arch.hwTable).toBeUndefined();
  });
});
