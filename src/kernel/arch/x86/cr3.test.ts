/**
 * Page tables above 4 GiB: CR3 carries a table address of up to MAXPHYADDR
 * bits, so a PGD (or the kernel's own PGD) in a frame at or above 4 GiB must
 * reach the MMU whole (issue #20: a process on a 5 GiB machine died of
 * SIGSEGV at its first access because CR3 lost the bits above 32).
 */
import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access } from "../../../hw/access.ts";
import { Mapper } from "../../../hw/arch/x86_64/Mapper.ts";
import { x86Machine } from "../../../hw/arch/x86_64/machine.ts";
import { BumpFrames } from "../../../hw/mmu/Mapper.ts";
import { Kernel, mmapArgs } from "../../Kernel.ts";

describe("CR3 above 4 GiB", () => {
  it("loads a table address above 4 GiB whole, and translates through it", () => {
    const m = x86Machine({ ramBytes: 8 * 2 ** 30, tlb: "none" });
    const mapper = new Mapper(m.phys, 4, 46, new BumpFrames(0x100010, m.phys.nrFrames));
    const root = mapper.newRoot();
    expect(root).toBe(0x100010);
    expect(
      mapper.map(toPfn(root as number), toVpn(0x400), toPfn(0x1234), 0, { writable: true, user: true }).ok,
    ).toBe(true);
    const cpu = m.cpus[0];
    cpu.loadUserRoot(toPfn(root as number), 0);
    expect(cpu.rootPa).toBe(0x100010 * 4096);
    cpu.setUserMode(true);
    expect(cpu.translate(0, 0x400abc, Access.Read)).toBe(0);
    expect(cpu.pa).toBe(0x1234abc);
  });

  it("runs a process whose page tables sit above 4 GiB (a 5 GiB machine)", () => {
    const k = new Kernel({ ramBytes: 5 * 2 ** 30 });
    const a = k.spawn("A")!;
    expect(k.view.mm(a)!.pgdPfn).toBeGreaterThanOrEqual(0x100000);
    k.switchTo(0, a);
    const buf = k.mmap(a, mmapArgs(64 << 20));
    for (let off = 0; off < 64 << 20; off += 4096) {
      const r = k.userAccess(0, a, buf + BigInt(off), Access.Write, 0x5a);
      if (!r.ok) expect.fail(`write at +${off}: ${r.signal} ${r.siCode}`);
    }
    expect(k.userAccess(0, a, buf + BigInt(1 << 20), Access.Read)).toMatchObject({ ok: true, value: 0x5a });
    expect(k.view.task(a).alive).toBe(true);
    expect(k.view.invariants()).toEqual([]);
  });
});
