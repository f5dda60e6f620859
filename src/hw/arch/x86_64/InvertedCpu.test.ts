import { describe, expect, it } from "vitest";
import { Access, Mode } from "../../access.ts";
import { Perm } from "../../mmu/PagingFormat.ts";
import { Outcome, PfErr } from "./fault.ts";
import { type InvertedCpu, InvertedX86Machine } from "./InvertedCpu.ts";

/** A machine whose IPT the test fills by hand (the OS's part), CPU in user mode under space 5. */
function setup() {
  const m = new InvertedX86Machine({ ramBytes: 32 << 20 });
  const ipt = m.setIpt(0x100000, 0x200000);
  const cpu = m.cpus[0];
  cpu.space = 5;
  cpu.setUserMode(true);
  return { m, ipt, cpu };
}

const USER_RW = Perm.UR | Perm.UW | Perm.PR | Perm.PW;
const VA = 0x7000_0000_1000;
const hi = Math.floor(VA / 2 ** 32);
const lo = VA >>> 0;
const VPN = VA / 4096;

describe("InvertedCpu: the TLB refilled from the IPT", () => {
  it("a TLB miss on a user page is a hash lookup: the frame, its memory references counted, then a TLB hit", () => {
    const { ipt, cpu } = setup();
    ipt.insert(0x1234, 5, VPN, USER_RW, true, 0);
    expect(cpu.translate(hi, lo + 0x10, Access.Read)).toBe(Outcome.OK);
    expect(cpu.pa).toBe(0x1234010);
    expect(cpu.walks).toBe(1);
    expect(cpu.walkRefs).toBe(2); // the HAT slot and one entry
    expect(cpu.translate(hi, lo + 0x20, Access.Write)).toBe(Outcome.OK);
    expect(cpu.walks).toBe(1); // a TLB hit (the entry was dirty)
  });

  it("another space's entry for the same page does not match: a hash fault, and with no handler a not-present #PF", () => {
    const { ipt, cpu } = setup();
    ipt.insert(0x1234, 6, VPN, USER_RW, true, 0);
    expect(cpu.translate(hi, lo, Access.Read)).toBe(Outcome.PF);
    expect(cpu.errorCode).toBe(PfErr.US);
    expect(cpu.hashFaults).toBe(1);
  });

  it("rights come from the entry: a write to a read-only entry is a protection #PF without a hash fault", () => {
    const { ipt, cpu } = setup();
    ipt.insert(0x1234, 5, VPN, Perm.UR | Perm.PR, true, 0);
    expect(cpu.translate(hi, lo, Access.Write)).toBe(Outcome.PF);
    expect(cpu.errorCode).toBe(PfErr.P | PfErr.WR | PfErr.US);
    expect(cpu.hashFaults).toBe(0);
  });

  it("a write through a clean entry raises the hash fault; the handler's insert lets it retry without a page fault", () => {
    const { ipt, cpu } = setup();
    ipt.insert(0x1234, 5, VPN, USER_RW, false, 0);
    const calls: [number, Access][] = [];
    cpu.hashFault = (c: InvertedCpu, vpn, access) => {
      calls.push([vpn, access]);
      ipt.insert(0x1234, c.space, vpn, USER_RW, true, 0); // the OS sets D
      return 0;
    };
    expect(cpu.translate(hi, lo, Access.Read)).toBe(Outcome.OK);
    expect(calls).toEqual([]);
    expect(cpu.translate(hi, lo, Access.Write)).toBe(Outcome.OK);
    expect(calls).toEqual([[VPN, Access.Write]]);
    expect([cpu.hashFaults, cpu.hashReloads, cpu.pageFaults]).toEqual([1, 1, 0]);
  });

  it("the kernel half bypasses the IPT: a supervisor access there walks the radix tables (here: none, so a #PF)", () => {
    const { cpu } = setup();
    cpu.setUserMode(false);
    let called = false;
    cpu.hashFault = () => {
      called = true;
      return 0;
    };
    expect(cpu.translate(0xffff8880, 0, Access.Read)).toBe(Outcome.PF);
    expect(called).toBe(false);
    expect(cpu.hashFaults).toBe(0);
  });

  it("probes (explain, the coherence checker) walk the radix tables and leave the IPT's counters alone", () => {
    const { ipt, cpu } = setup();
    ipt.insert(0x1234, 5, VPN, USER_RW, true, 0);
    const rec = cpu.walkRec;
    expect(cpu.walk(VPN, Access.Read, Mode.User, false, rec)).toBe(Outcome.PF);
    expect(ipt.lookups).toBe(0);
  });
});
