/**
 * Every AP[2:1] × UXN × PXN × PAN × WXN × EL × access combination, through
 * a real descriptor in RAM, against the Arm ARM's rules stated here on
 * their own (D8.4.1 "Data access permissions for stage 1", D8.4.2
 * "Execute-never controls", "Privileged access never"; written from the
 * manual's tables, not from rights.ts):
 *
 *   AP[2:1] 00: EL1 read/write, EL0 none      01: EL1 and EL0 read/write
 *           10: EL1 read-only, EL0 none       11: EL1 and EL0 read-only
 *   EL0 (and LDTR/STTR at EL1) executes iff UXN = 0 and not (WXN and EL0 may write).
 *   EL1 executes iff PXN = 0, EL0 may not write (PXN implied), and not (WXN and EL1 may write).
 *   PAN = 1: an EL1 load or store (not LDTR/STTR, not a fetch) of a page EL0 may read faults;
 *   with SCTLR_EL1.EPAN = 1 (FEAT_PAN3) also of a page EL0 may execute (UXN = 0), whatever WXN
 *   (D8.4 "Privileged access never", "Enhanced PAN").
 *
 * Each combination is checked three ways: through a fresh walk, through a
 * TLB entry filled by an allowed access under other registers (the hit is
 * checked against the current EL, PAN and WXN), and by a probe.
 */
import { describe, expect, it } from "vitest";
import { Access, Mode } from "../../access.ts";
import { WalkRecord } from "./Cpu.ts";
import { Desc, DescHi } from "./format.ts";
import { bareArm64, va, vpnOf } from "./testkit.ts";

type Kind = "read" | "write" | "exec" | "read-unpriv" | "write-unpriv";
const KINDS: Kind[] = ["read", "write", "exec", "read-unpriv", "write-unpriv"];

/** The manual's rule: may this access go ahead? */
function armArmAllows(
  ap: number,
  uxn: boolean,
  pxn: boolean,
  pan: boolean,
  wxn: boolean,
  el: number,
  kind: Kind,
  epan = false,
) {
  const el0Read = ap === 0b01 || ap === 0b11;
  const el0Write = ap === 0b01;
  const el1Write = ap === 0b00 || ap === 0b01;
  const unprivileged = el === 0 || kind.endsWith("-unpriv");
  if (kind === "exec") {
    if (el === 0) return !uxn && !(wxn && el0Write);
    return !pxn && !el0Write && !(wxn && el1Write);
  }
  const write = kind.startsWith("write");
  if (unprivileged) return write ? el0Write : el0Read;
  if (pan && (el0Read || (epan && !uxn))) return false;
  return write ? el1Write : true;
}

describe("AArch64.CheckPermission, every combination", () => {
  it("agrees with the Arm ARM's tables on a walk, a TLB hit and a probe", () => {
    const { cpu, mapper, root0 } = bareArm64();
    const a = va(0x400000n);
    const vpn = vpnOf(0x400000n);
    expect(mapper.map(root0, vpn, 0x800 as never, 0, { user: true }).ok).toBe(true);
    const rec = new WalkRecord();
    let checked = 0;
    for (let ap = 0; ap < 4; ap++)
      for (const uxn of [false, true])
        for (const pxn of [false, true]) {
          const lo = 0x800000 | Desc.VALID | Desc.TABLE_OR_PAGE | Desc.AF | (ap << 6);
          const hi = (uxn ? DescHi.UXN : 0) | (pxn ? DescHi.PXN : 0);
          mapper.setEntryRaw(root0, vpn, 0, hi, lo);
          for (const pan of [false, true])
            for (const wxn of [false, true])
              for (const epan of [false, true])
                for (const el of [0, 1])
                  for (const kind of KINDS) {
                    const want = armArmAllows(ap, uxn, pxn, pan, wxn, el, kind, epan);
                    const access =
                      kind === "exec" ? Access.Exec : kind.startsWith("write") ? Access.Write : Access.Read;
                    const mode = el === 0 || kind.endsWith("-unpriv") ? Mode.User : Mode.Supervisor;
                    const ec = kind === "exec" ? (el === 0 ? 0x20 : 0x21) : el === 0 ? 0x24 : 0x25;
                    const esr = ec * 2 ** 26 + 2 ** 25 + (access === Access.Write ? 0x40 : 0) + 0x0f;
                    const what = `AP=${ap} UXN=${+uxn} PXN=${+pxn} PAN=${+pan} WXN=${+wxn} EPAN=${+epan} EL${el} ${kind}`;
                    const run = () => {
                      cpu.el = el;
                      cpu.setPan(pan);
                      cpu.setWxn(wxn);
                      cpu.setEpan(epan);
                      return cpu.translateAs(a.hi, a.lo, access, mode);
                    };
                    const expectOutcome = (out: number, how: string) => {
                      expect(out === 0, `${what} (${how})`).toBe(want);
                      if (!want) expect(cpu.esr, `${what} (${how}): ESR`).toBe(esr);
                      else expect(cpu.pa, `${what} (${how}): PA`).toBe(0x800000);
                    };
                    // a fresh walk
                    cpu.tlbi("vmalle1");
                    expectOutcome(run(), "walk");
                    // a TLB hit: fill with an access every AP allows (EL1 read, PAN off), then check
                    cpu.tlbi("vmalle1");
                    cpu.el = 1;
                    cpu.setPan(false);
                    cpu.setEpan(false);
                    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
                    const walks = cpu.walks;
                    expectOutcome(run(), "TLB hit");
                    if (!(access === Access.Write && want))
                      expect(cpu.walks, `${what}: no walk on a hit`).toBe(walks);
                    // a probe
                    cpu.el = el;
                    cpu.setEpan(epan);
                    const out = cpu.probe(a.hi, a.lo, access, mode, rec);
                    expect(out === 0, `${what} (probe)`).toBe(want);
                    if (!want) expect(rec.errorCode, `${what} (probe): ESR`).toBe(esr);
                    checked++;
                  }
        }
    expect(checked).toBe(4 * 2 * 2 * 2 * 2 * 2 * 2 * 5);
  });
});

describe("AT S1E1R (Arm ARM C5.5): an EL1 read's translation without PSTATE.PAN", () => {
  it("translates a user page PAN would refuse, reports the walk's own faults, and leaves PAN set", () => {
    const { cpu, mapper, root0 } = bareArm64();
    const a = va(0x400000n);
    const vpn = vpnOf(0x400000n);
    const rec = new WalkRecord();
    expect(mapper.map(root0, vpn, 0x800 as never, 0, { user: true }).ok).toBe(true);
    // AP[2:1] = 01: EL0 may read and write, so an EL1 load faults under PAN
    mapper.setEntryRaw(root0, vpn, 0, 0, 0x800000 | Desc.VALID | Desc.TABLE_OR_PAGE | Desc.AF | (0b01 << 6));
    cpu.el = 1;
    cpu.setPan(true);
    expect(cpu.probe(a.hi, a.lo, Access.Read, Mode.Supervisor, rec)).not.toBe(0);
    expect(rec.faultKind).toBe(2); // HwFaultKind.Permission
    expect(cpu.atS1e1r(a.hi, a.lo, rec)).toBe(0);
    expect(rec.pagePfn).toBe(0x800);
    // PAN is back: a plain EL1 load still faults
    expect(cpu.pan).toBe(true);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).not.toBe(0);
    // the Access flag clear (TCR_EL1.HA off): an Access flag fault, not a translation fault
    mapper.setEntryRaw(root0, vpn, 0, 0, 0x800000 | Desc.VALID | Desc.TABLE_OR_PAGE | (0b01 << 6));
    expect(cpu.atS1e1r(a.hi, a.lo, rec)).not.toBe(0);
    expect(rec.faultKind).not.toBe(1); // not HwFaultKind.Translation
    // nothing there: a translation fault
    mapper.setEntryRaw(root0, vpn, 0, 0, 0);
    expect(cpu.atS1e1r(a.hi, a.lo, rec)).not.toBe(0);
    expect(rec.faultKind).toBe(1);
  });
});
