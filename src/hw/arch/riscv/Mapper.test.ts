/** RiscvMapper: PTEs as the flags ask, the errors of map, and the fences unmap and protect require. */
import { describe, expect, it } from "vitest";
import { toPfn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { Priv } from "./Cpu.ts";
import { Pte, PteHi } from "./format.ts";
import { leafPte, pointerPte } from "./Mapper.ts";
import { bareRiscv, va, vpnOf } from "./testkit.ts";

const USER = 0x40_0000n;

describe("RiscvMapper", () => {
  it("encodes leaves and pointers bit by bit", () => {
    expect(leafPte(0x1234, { user: true, writable: true })).toEqual({
      hi: 0,
      lo: (0x1234 << 10) | Pte.V | Pte.R | Pte.W | Pte.X | Pte.U | Pte.A | Pte.D,
    });
    expect(leafPte(0x1234, { nx: true, global: true, accessed: false, soft: 2 })).toEqual({
      hi: 0,
      lo: (0x1234 << 10) | Pte.V | Pte.R | Pte.G | (2 << Pte.RSW_SHIFT),
    });
    // a PPN above 2^22 reaches the high word; PBMT sits in bits 62:61
    expect(leafPte(0x40_0001, { readable: false, pbmt: 1 })).toEqual({
      hi: 1 | (1 << PteHi.PBMT_SHIFT),
      lo: ((1 << 10) | Pte.V | Pte.X | Pte.A) >>> 0,
    });
    expect(() => leafPte(1, { readable: false, writable: true })).toThrow(/W without R/);
    expect(pointerPte(0x40_0003)).toEqual({ hi: 1, lo: (3 << 10) | Pte.V });
  });

  it("refuses misaligned superpages, remaps and a superpage in the way", () => {
    const { mapper, root } = bareRiscv();
    expect(mapper.map(root, vpnOf(0x20_1000n), toPfn(0x200), 1, {})).toEqual({
      ok: false,
      error: "misaligned",
    });
    expect(mapper.map(root, vpnOf(0x20_0000n), toPfn(0x201), 1, {})).toEqual({
      ok: false,
      error: "misaligned",
    });
    expect(mapper.map(root, vpnOf(0x20_0000n), toPfn(0x200), 1, {}).ok).toBe(true);
    expect(mapper.map(root, vpnOf(0x20_0000n), toPfn(0x400), 1, {})).toEqual({
      ok: false,
      error: "table-in-the-way",
    });
    expect(mapper.map(root, vpnOf(0x20_1000n), toPfn(0x900), 0, {})).toEqual({
      ok: false,
      error: "huge-in-the-way",
    });
    // invalid -> valid: the spec still asks for a fence, an optional one (a spurious fault at most)
    expect(mapper.map(root, vpnOf(USER), toPfn(0x900), 0, {})).toEqual({
      ok: true,
      flush: { vpn: vpnOf(USER), size: 0, required: false },
    });
    expect(mapper.map(root, vpnOf(USER), toPfn(0x901), 0, {})).toEqual({ ok: false, error: "mapped" });
    expect(mapper.lookup(root, vpnOf(0x20_5000n))).toMatchObject({ level: 1 });
    expect(mapper.unmap(root, vpnOf(0x20_5000n))).toEqual({ ok: false, error: "misaligned" });
  });

  it("unmap and protect say which fence they need, and the hart agrees once it is issued", () => {
    const { cpu, mapper, root } = bareRiscv();
    const a = va(USER);
    cpu.priv = Priv.U;
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, { user: true });
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    // adding W is optional to fence (a stale entry faults at most once per address)
    const more = mapper.protect(root, vpnOf(USER), { user: true, writable: true });
    expect(more).toEqual({ ok: true, flush: { vpn: vpnOf(USER), size: 0, required: false } });
    expect(cpu.translate(a.hi, a.lo, Access.Write)).toBe(15); // the cached read-only entry
    cpu.sfenceVma(a, null);
    // the dirty state was kept (D = 0): a store faults under Svade until software sets D
    expect(cpu.translate(a.hi, a.lo, Access.Write)).toBe(15);
    mapper.protect(root, vpnOf(USER), { user: true, writable: true, dirty: true });
    cpu.sfenceVma(a, null);
    expect(cpu.translate(a.hi, a.lo, Access.Write)).toBe(0);
    for (const [flags, required] of [
      [{ user: true, writable: false }, true], // W lost
      [{ user: true, writable: false, nx: true }, true], // X lost
      [{ user: false, writable: false, nx: true }, true], // U lost
      [{ user: false, writable: false, nx: true, global: true }, true], // G gained
      [{ user: false, writable: false, nx: false, global: true }, false], // X gained
    ] as const) {
      const r = mapper.protect(root, vpnOf(USER), flags);
      expect(r.ok && r.flush?.required, JSON.stringify(flags)).toBe(required);
    }
    expect(mapper.unmap(root, vpnOf(USER))).toEqual({
      ok: true,
      flush: { vpn: vpnOf(USER), size: 0, required: true },
    });
    expect(mapper.lookup(root, vpnOf(USER))).toBeNull();
    expect(mapper.unmap(root, vpnOf(USER))).toEqual({ ok: false, error: "not-mapped" });
  });
});
