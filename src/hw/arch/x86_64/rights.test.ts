/**
 * Every combination of the SDM §4.6 rights inputs, translated through real
 * page tables by the real MMU (walk and TLB hit), against an independently
 * written statement of the rules below: a list of "deny" rules, each one a
 * sentence of Intel SDM Vol. 3A §4.6.1/§4.6.2 (4-level paging).
 */
import { describe, expect, it } from "vitest";
import { fromBig } from "../../../base/u64.ts";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { Outcome, PfErr } from "./fault.ts";
import { BumpFrames, Mapper } from "./Mapper.ts";
import { X86Machine as Machine } from "./machine.ts";
import { Pte, PteHi } from "./pte.ts";

interface Case {
  cpl: 0 | 3;
  kind: "read" | "write" | "fetch" | "implicit-read" | "implicit-write";
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  nxe: boolean;
  pke: boolean;
  ad: boolean;
  wd: boolean;
  rw: boolean;
  us: boolean;
  xd: boolean;
}

const isWrite = (c: Case) => c.kind === "write" || c.kind === "implicit-write";
const isFetch = (c: Case) => c.kind === "fetch";
const isImplicit = (c: Case) => c.kind.startsWith("implicit");
const isUserModeAccess = (c: Case) => c.cpl === 3 && !isImplicit(c);

/** Each rule: when it applies, the access is denied. Quoted loosely from the SDM. */
const DENY_RULES: { rule: string; applies: (c: Case) => boolean }[] = [
  {
    rule: "user-mode accesses to supervisor-mode addresses are not allowed",
    applies: (c) => isUserModeAccess(c) && !c.us,
  },
  {
    rule: "user-mode data writes need R/W = 1 at every level",
    applies: (c) => isUserModeAccess(c) && isWrite(c) && !c.rw,
  },
  {
    rule: "with NXE = 1, instructions may not be fetched from a page with XD = 1 at any level",
    applies: (c) => isFetch(c) && c.nxe && c.xd,
  },
  {
    rule: "with SMEP = 1, supervisor-mode fetches from user-mode addresses are not allowed",
    applies: (c) => !isUserModeAccess(c) && isFetch(c) && c.smep && c.us,
  },
  {
    rule: "with SMAP = 1, supervisor data accesses to user-mode addresses need EFLAGS.AC = 1 and an explicit access",
    applies: (c) => !isUserModeAccess(c) && !isFetch(c) && c.us && c.smap && (isImplicit(c) || !c.ac),
  },
  {
    rule: "with WP = 1, supervisor-mode writes need R/W = 1 at every level",
    applies: (c) => !isUserModeAccess(c) && isWrite(c) && c.wp && !c.rw,
  },
  {
    rule: "PKRU.AD forbids data accesses to user-mode addresses with that key",
    applies: (c) => c.pke && c.us && !isFetch(c) && c.ad,
  },
  {
    rule: "PKRU.WD forbids user-mode writes, and supervisor-mode writes when WP = 1",
    applies: (c) => c.pke && c.us && isWrite(c) && c.wd && (isUserModeAccess(c) || c.wp),
  },
];

function expected(c: Case): { ok: boolean; errorCode: number } {
  let code = 0;
  if (isWrite(c)) code |= PfErr.WR;
  if (isUserModeAccess(c)) code |= PfErr.US;
  if (isFetch(c) && (c.smep || c.nxe)) code |= PfErr.ID;
  if (c.xd && !c.nxe) return { ok: false, errorCode: code | PfErr.P | PfErr.RSVD }; // XD is reserved when NXE = 0
  const denied = DENY_RULES.filter((r) => r.applies(c));
  if (denied.length === 0) return { ok: true, errorCode: 0 };
  const pk = c.pke && c.us && !isFetch(c) && (c.ad || (c.wd && isWrite(c) && (isUserModeAccess(c) || c.wp)));
  return { ok: false, errorCode: code | PfErr.P | (pk ? PfErr.PK : 0) };
}

function* allCases(): Generator<Case> {
  const b = [false, true];
  for (const cpl of [0, 3] as const)
    for (const kind of ["read", "write", "fetch", "implicit-read", "implicit-write"] as const)
      for (const wp of b)
        for (const smep of b)
          for (const smap of b)
            for (const ac of b)
              for (const nxe of b)
                for (const pke of b)
                  for (const ad of b)
                    for (const wd of b)
                      for (const rw of b)
                        for (const us of b)
                          for (const xd of b)
                            yield { cpl, kind, wp, smep, smap, ac, nxe, pke, ad, wd, rw, us, xd };
}

describe("SDM §4.6 rights, every combination", () => {
  it("matches the rule list on the walk path and on the TLB-hit path", () => {
    const m = new Machine({ ramBytes: 64 << 20, tlb: "skylake" });
    const cpu = m.cpus[0];
    const frames = new BumpFrames(16, m.phys.nrFrames);
    const mapper = new Mapper(m.phys, 4, 46, frames);
    const root = toPfn(mapper.newRoot());
    const PKEY = 5;
    // one mapping per (rw, us, xd) and per level carrying the restriction:
    // the restricting bit sits on that level only, so the AND over levels is tested
    const vaOf = new Map<string, { hi: number; lo: number }>();
    let slot = 1;
    for (const rw of [false, true])
      for (const us of [false, true])
        for (const xd of [false, true])
          for (let restrictLevel = 0; restrictLevel < 4; restrictLevel++) {
            const vpn = toVpn(slot++ * 2 ** 27); // its own PML4 slot
            const r = mapper.map(root, vpn, toPfn(frames.allocFrame()), 0, {
              writable: true,
              user: true,
              pkey: PKEY,
            });
            expect(r.ok).toBe(true);
            const e = mapper.entryAt(root, vpn, restrictLevel)!;
            let lo = e.lo | Pte.US | Pte.RW;
            let hi = e.hi;
            if (!rw) lo &= ~Pte.RW;
            if (!us) lo &= ~Pte.US;
            if (xd) hi |= PteHi.XD;
            m.phys.write64(e.entryPa, hi >>> 0, lo >>> 0);
            vaOf.set(`${rw}${us}${xd}${restrictLevel}`, fromBig(BigInt(vpn) * 4096n));
          }
    expect(cpu.movToCr3(0, root * 4096)).toBe(Outcome.OK);

    let checked = 0;
    const failures: string[] = [];
    for (const c of allCases()) {
      const level = checked % 4;
      const va = vaOf.get(`${c.rw}${c.us}${c.xd}${level}`)!;
      cpu.setWp(c.wp);
      cpu.setNxe(c.nxe);
      cpu.movToCr4({ smep: c.smep, smap: c.smap, pke: c.pke });
      if (c.ac) cpu.stac();
      else cpu.clac();
      cpu.wrpkru(((c.ad ? 1 : 0) | (c.wd ? 2 : 0)) << (2 * PKEY));
      cpu.cpl = c.cpl;
      const access = isWrite(c) ? Access.Write : isFetch(c) ? Access.Exec : Access.Read;
      const exp = expected(c);
      for (const path of ["walk", "tlb-hit"] as const) {
        if (path === "walk") cpu.invlpg(va.hi, va.lo);
        else {
          // warm the TLB with an access every configuration allows: a supervisor read with SMAP lifted
          const saved = { cpl: cpu.cpl, ac: cpu.rflagsAc, pkru: cpu.pkru };
          cpu.cpl = 0;
          cpu.stac();
          cpu.wrpkru(0);
          cpu.invlpg(va.hi, va.lo);
          const warm = cpu.translate(va.hi, va.lo, Access.Read);
          cpu.cpl = saved.cpl;
          if (saved.ac) cpu.stac();
          else cpu.clac();
          cpu.wrpkru(saved.pkru);
          if (exp.errorCode & PfErr.RSVD) expect(warm).toBe(Outcome.PF);
          else expect(warm).toBe(Outcome.OK);
        }
        const walksBefore = cpu.walks;
        const out = cpu.translate(va.hi, va.lo, access, isImplicit(c));
        const ok = out === Outcome.OK;
        const hitPath = path === "tlb-hit" && !(exp.errorCode & PfErr.RSVD);
        // a write through a clean TLB entry walks again (dirty assist); otherwise a hit never walks
        if (hitPath && !(access === Access.Write && ok)) expect(cpu.walks).toBe(walksBefore);
        if (ok !== exp.ok || (!ok && cpu.errorCode !== exp.errorCode)) {
          failures.push(
            `${path} ${JSON.stringify(c)} level ${level}: got ${ok ? "ok" : `#PF ${cpu.errorCode}`}, want ${exp.ok ? "ok" : `#PF ${exp.errorCode}`}`,
          );
        }
      }
      checked++;
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(checked).toBe(2 * 5 * 2 ** 11);
  });

  it("states rules that each deny something (the oracle is not vacuous)", () => {
    const hits = DENY_RULES.map(() => 0);
    for (const c of allCases()) {
      for (let i = 0; i < DENY_RULES.length; i++) if (DENY_RULES[i].applies(c)) hits[i]++;
    }
    expect(hits.every((h) => h > 0)).toBe(true);
  });
});
