import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../base/units.ts";
import { Access } from "../access.ts";
import { Outcome } from "../arch/x86_64/fault.ts";
import { bareMachine } from "../arch/x86_64/testkit.ts";
import type { MemoryPort } from "./memAccess.ts";

describe("the one memory-access path", () => {
  it("stores and loads bytes through the translation, and a fault touches no memory", () => {
    const { m, cpu, mapper, root } = bareMachine();
    mapper.map(root, toVpn(0x400), toPfn(0x1234), 0, { writable: true, user: true });
    cpu.cpl = 3;
    expect(cpu.store8(0, 0x400abc, 0x5a)).toBe(Outcome.OK);
    expect(m.phys.read8(0x1234abc)).toBe(0x5a);
    expect(cpu.load8(0, 0x400abc)).toBe(Outcome.OK);
    expect(cpu.data).toBe(0x5a);
    // not mapped: a page fault, and no frame is written (none is materialised)
    const frames = m.phys.materialized;
    expect(cpu.store8(0, 0x500000, 0x77)).toBe(Outcome.PF);
    expect(m.phys.materialized).toBe(frames);
  });

  it("hands every access to the memory port with both addresses (where a cache model sits)", () => {
    const { cpu, mapper, root } = bareMachine();
    mapper.map(root, toVpn(0x400), toPfn(0x1234), 0, { writable: true, user: true });
    const seen: string[] = [];
    const port: MemoryPort = {
      read8: (pa, hi, lo) => {
        seen.push(`r ${pa.toString(16)} ${hi}:${lo.toString(16)}`);
        return 7;
      },
      write8: (pa, v, hi, lo) => {
        seen.push(`w ${pa.toString(16)}=${v} ${hi}:${lo.toString(16)}`);
      },
      touch: (pa, access) => {
        seen.push(`t ${pa.toString(16)} ${access}`);
      },
    };
    cpu.mem = port;
    expect(cpu.load8(0, 0x400010)).toBe(Outcome.OK);
    expect(cpu.data).toBe(7);
    cpu.store8(0, 0x400011, 9);
    cpu.touch(0, 0x400012, Access.Exec);
    expect(seen).toEqual(["r 1234010 0:400010", "w 1234011=9 0:400011", "t 1234012 2"]);
  });
});
