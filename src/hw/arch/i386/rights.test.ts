/**
 * Access rights and #PF error codes of 32-bit and PAE paging, checked case
 * by case against the SDM's rules as written out below (not against the
 * code's own rights table): every combination of the leaf's P, R/W, U/S and
 * XD, CR0.WP, CR4.SMEP, CR4.SMAP, RFLAGS.AC, the access's mode and kind, in
 * i386, PAE with EFER.NXE = 0 and PAE with EFER.NXE = 1; each through a walk
 * and again through the TLB.
 */
import { describe, expect, it } from "vitest";
import { type Pfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { Outcome, WalkRecord } from "./Cpu.ts";
import { Pte, PteHi } from "./pte.ts";
import { bareI386 } from "./testkit.ts";

interface Case {
  pae: boolean;
  nxe: boolean;
  p: boolean;
  rw: boolean;
  us: boolean;
  /** XD set in the leaf (PAE only: 32-bit entries have no such bit) */
  xd: boolean;
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  mode: Mode;
  access: Access;
}

/**
 * Intel SDM Vol. 3A §4.6.1 "Determination of Access Rights" and §4.7
 * "Page-Fault Exceptions", stated for this test:
 *
 * - P = 0 in the leaf: no translation; #PF with P = 0.
 * - PAE with EFER.NXE = 0 and XD = 1 (bit 63): a reserved bit (§4.4.2);
 *   #PF with P = 1 and RSVD = 1. (32-bit entries have no bit 63.)
 * - Execute-disable is honoured only in PAE paging with EFER.NXE = 1.
 * - A user-mode access (CPL = 3) may touch only user-mode addresses (U/S = 1):
 *   it may read them; write them only when R/W = 1, whatever CR0.WP; fetch
 *   from them unless execute-disable applies (XD = 1 with NXE = 1).
 * - A supervisor-mode access (CPL < 3, or implicit at any CPL):
 *   - reads of supervisor-mode addresses are allowed; of user-mode
 *     addresses, allowed when CR4.SMAP = 0, and with SMAP = 1 only for an
 *     explicit access with RFLAGS.AC = 1 (never for an implicit one);
 *   - writes follow the same SMAP rule for user-mode addresses, and then:
 *     with CR0.WP = 0 any address may be written, with WP = 1 only when
 *     R/W = 1;
 *   - fetches from user-mode addresses are never allowed with CR4.SMEP = 1;
 *     otherwise (and for supervisor-mode addresses) a fetch is allowed
 *     unless execute-disable applies.
 * - Error code: P as above (1 for a rights or reserved-bit fault), W/R = 1
 *   for a write, U/S = 1 for a user-mode access, RSVD for a reserved bit,
 *   I/D = 1 for a fetch when CR4.SMEP = 1 or (PAE and EFER.NXE = 1).
 */
function sdmRule(c: Case): { ok: true } | { ok: false; errorCode: number } {
  const user = c.mode === Mode.User;
  const write = c.access === Access.Write;
  const fetch = c.access === Access.Exec;
  const code = (write ? 2 : 0) | (user ? 4 : 0) | (fetch && (c.smep || (c.pae && c.nxe)) ? 16 : 0);
  if (!c.p) return { ok: false, errorCode: code };
  if (c.pae && c.xd && !c.nxe) return { ok: false, errorCode: code | 1 | 8 };
  const executeDisabled = c.pae && c.nxe && c.xd;
  let allowed: boolean;
  if (user) {
    if (!c.us) allowed = false;
    else if (write) allowed = c.rw;
    else if (fetch) allowed = !executeDisabled;
    else allowed = true;
  } else if (fetch) {
    allowed = !(c.us && c.smep) && !executeDisabled;
  } else {
    const smapBlocks = c.us && c.smap && (c.mode === Mode.ImplicitSupervisor || !c.ac);
    if (smapBlocks) allowed = false;
    else if (write) allowed = !c.wp || c.rw;
    else allowed = true;
  }
  return allowed ? { ok: true } : { ok: false, errorCode: code | 1 };
}

const VA = 0x00c0_5000;
const FRAME = 0x4321 as Pfn;
const bools = [false, true];

function runAll(pae: boolean, nxe: boolean): { checked: number; faults: number; byCode: Set<number> } {
  const { cpu, mapper, root } = bareI386({ pae });
  cpu.setNxe(nxe);
  const vpn = toVpn(VA / 4096);
  expect(mapper.ensureTable(root, vpn, 0, true)).not.toBe(-1);
  const rec = new WalkRecord();
  let checked = 0;
  let faults = 0;
  const byCode = new Set<number>();
  for (const p of bools)
    for (const rw of bools)
      for (const us of bools)
        for (const xd of pae ? bools : [false]) {
          const lo = (FRAME * 4096 + (p ? Pte.P : 0) + (rw ? Pte.RW : 0) + (us ? Pte.US : 0)) >>> 0;
          expect(mapper.setLeafRaw(root, vpn, 0, xd ? PteHi.XD : 0, lo)).toBe(true);
          for (const wp of bools)
            for (const smep of bools)
              for (const smap of bools)
                for (const ac of bools) {
                  cpu.setWp(wp);
                  cpu.movToCr4({ smep, smap });
                  if (ac) cpu.stac();
                  else cpu.clac();
                  cpu.invlpg(VA); // the leaf changed above: drop what the TLB holds
                  for (const mode of [Mode.User, Mode.Supervisor, Mode.ImplicitSupervisor])
                    for (const access of [Access.Read, Access.Write, Access.Exec]) {
                      if (mode === Mode.ImplicitSupervisor && access === Access.Exec) continue;
                      const c: Case = { pae, nxe, p, rw, us, xd, wp, smep, smap, ac, mode, access };
                      const want = sdmRule(c);
                      const what = JSON.stringify(c);
                      // the probe (a walk), then translate twice: a walk, then the TLB (or a walk again after a fault)
                      const o = cpu.probe(0, VA + 0x123, access, mode, rec);
                      expect(o === Outcome.OK, what).toBe(want.ok);
                      if (!want.ok) expect(rec.errorCode, what).toBe(want.errorCode);
                      cpu.cpl = mode === Mode.User ? 3 : 0;
                      for (let round = 0; round < 2; round++) {
                        const t = cpu.translate(0, VA + 0x123, access, mode === Mode.ImplicitSupervisor);
                        if (want.ok) {
                          expect(t, `${what} round ${round}`).toBe(Outcome.OK);
                          expect(cpu.pa).toBe(FRAME * 4096 + 0x123);
                        } else {
                          expect(t, `${what} round ${round}`).toBe(Outcome.PF);
                          expect(cpu.errorCode, `${what} round ${round}`).toBe(want.errorCode);
                          expect(cpu.cr2).toBe(VA + 0x123);
                          faults++;
                          byCode.add(want.errorCode);
                        }
                      }
                      checked++;
                    }
                }
        }
  return { checked, faults, byCode };
}

describe("rights and error codes against the SDM's rules (§4.6, §4.7)", () => {
  it("32-bit paging: every P/RW/US x WP x SMEP x SMAP x AC x mode x access (no XD, no I/D without SMEP)", () => {
    const r = runAll(false, false);
    expect(r.checked).toBe(8 * 16 * 8);
    expect(r.faults).toBeGreaterThan(0);
    // exec faults carry I/D only with SMEP: both 0x15 (user fetch, SMEP) and 0x05 (user fetch, no SMEP) occur
    expect(r.byCode.has(0x15)).toBe(true);
    expect(r.byCode.has(0x04)).toBe(true);
    // EFER.NXE has no effect on 32-bit paging: neither on rights nor on I/D
    expect(runAll(false, true).checked).toBe(8 * 16 * 8);
  });

  it("PAE with EFER.NXE = 0: XD is a reserved bit", () => {
    const r = runAll(true, false);
    expect(r.checked).toBe(16 * 16 * 8);
    expect(r.byCode.has(0x0d)).toBe(true); // P|RSVD|US
  });

  it("PAE with EFER.NXE = 1: XD forbids fetches, I/D is reported", () => {
    const r = runAll(true, true);
    expect(r.checked).toBe(16 * 16 * 8);
    expect(r.byCode.has(0x11)).toBe(true); // P|I/D, a supervisor fetch from an XD page
    expect(r.byCode.has(0x0d)).toBe(false);
  });

  it("R/W and U/S are ANDed over PDE and PTE, XD ORed (PAE)", () => {
    for (const pae of bools) {
      const { cpu, mapper, root } = bareI386({ pae });
      cpu.setNxe(true);
      const vpn = toVpn(VA / 4096);
      expect(mapper.map(root, vpn, FRAME, 0, { writable: true, user: true }).ok).toBe(true);
      const pde = mapper.entryAt(root, vpn, 1)!;
      cpu.cpl = 3;
      expect(cpu.translate(0, VA, Access.Write)).toBe(Outcome.OK);
      mapper.setLeafRaw(root, vpn, 1, pde.hi, (pde.lo & ~Pte.RW) >>> 0);
      cpu.invlpg(VA);
      expect(cpu.translate(0, VA, Access.Write)).toBe(Outcome.PF);
      expect(cpu.errorCode).toBe(0x07);
      expect(cpu.translate(0, VA, Access.Read)).toBe(Outcome.OK);
      mapper.setLeafRaw(root, vpn, 1, pde.hi, (pde.lo & ~Pte.US) >>> 0);
      cpu.invlpg(VA);
      expect(cpu.translate(0, VA, Access.Read)).toBe(Outcome.PF);
      expect(cpu.errorCode).toBe(0x05);
      mapper.setLeafRaw(root, vpn, 1, (pde.hi | PteHi.XD) >>> 0, pde.lo);
      cpu.invlpg(VA);
      // 32-bit entries have no high half: the write above changes nothing there
      expect(cpu.translate(0, VA, Access.Exec)).toBe(pae ? Outcome.PF : Outcome.OK);
      if (pae) expect(cpu.errorCode).toBe(0x15);
    }
  });
});
