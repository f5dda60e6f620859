/**
 * Every V × R × W × X × U × privilege × SUM × MXR × access combination,
 * through a real level-0 PTE in RAM, against the spec's rules stated here
 * on their own (Privileged Architecture: Sv39 "Addressing and Memory
 * Protection", "Memory Privilege in sstatus Register", steps 3-5 of
 * "Virtual Address Translation Process"; written from the spec's text, not
 * from rights.ts):
 *
 *   V = 0: page fault.  W = 1 with R = 0: reserved, page fault.
 *   R = W = X = 0: a pointer; at level 0 there is no next level: page fault.
 *   U-mode may access a page only if U = 1.
 *   S-mode may load and store a U = 1 page only with SUM = 1, and never
 *   executes one.
 *   A load needs R, or X with MXR = 1; a store needs W; a fetch needs X.
 *   Every refusal is a page fault: scause 12 (fetch), 13 (load), 15 (store).
 *
 * Each combination is checked three ways: through a fresh walk, through a
 * TLB entry filled by an access allowed under other registers (the hit is
 * checked against the current privilege, SUM and MXR), and by a probe.
 */
import { describe, expect, it } from "vitest";
import { Access, Mode } from "../../access.ts";
import { Priv, WalkRecord } from "./Cpu.ts";
import { Pte } from "./format.ts";
import { bareRiscv, va, vpnOf } from "./testkit.ts";

type Kind = "read" | "write" | "exec";
const KINDS: Kind[] = ["read", "write", "exec"];
const ACCESS = { read: Access.Read, write: Access.Write, exec: Access.Exec };
const SCAUSE = { read: 13, write: 15, exec: 12 };

/** The spec's rule: may this access go ahead? */
function specAllows(pte: number, priv: "u" | "s", sum: boolean, mxr: boolean, kind: Kind): boolean {
  const [v, r, w, x, u] = [Pte.V, Pte.R, Pte.W, Pte.X, Pte.U].map((b) => (pte & b) !== 0);
  if (!v || (w && !r) || (!r && !x)) return false;
  if (priv === "u" && !u) return false;
  if (priv === "s" && u && (kind === "exec" || !sum)) return false;
  if (kind === "read") return r || (mxr && x);
  if (kind === "write") return w;
  return x;
}

describe("RISC-V leaf rights, every combination", () => {
  it("agrees with the spec's rules on a walk, a TLB hit and a probe", () => {
    const { cpu, mapper, root } = bareRiscv();
    const a = va(0x400000n);
    const vpn = vpnOf(0x400000n);
    expect(mapper.map(root, vpn, 0x800 as never, 0, { user: true }).ok).toBe(true);
    const rec = new WalkRecord();
    const regs: ["u" | "s", boolean, boolean][] = [];
    for (const priv of ["u", "s"] as const)
      for (const sum of [false, true]) for (const mxr of [false, true]) regs.push([priv, sum, mxr]);
    const set = (priv: "u" | "s", sum: boolean, mxr: boolean) => {
      cpu.priv = priv === "u" ? Priv.U : Priv.S;
      cpu.setSum(sum);
      cpu.setMxr(mxr);
    };
    let checked = 0;
    let allowed = 0;
    let hits = 0;
    for (let bits = 0; bits < 32; bits++) {
      // V R W X U are PTE bits 0..4; A and D set so that Svade raises no fault of its own
      const lo = 0x800 * 1024 + bits + Pte.A + Pte.D;
      mapper.setEntryRaw(root, vpn, 0, 0, lo);
      // an access some registers allow, to fill the TLB with
      const filler = regs.flatMap(([p, s, m]) =>
        KINDS.filter((k) => specAllows(bits, p, s, m, k)).map((k) => [p, s, m, k] as const),
      )[0];
      for (const [priv, sum, mxr] of regs)
        for (const kind of KINDS) {
          const want = specAllows(bits, priv, sum, mxr, kind);
          const access = ACCESS[kind];
          const what = `PTE ${bits.toString(2).padStart(5, "0")} (UXWRV) ${priv}-mode SUM=${+sum} MXR=${+mxr} ${kind}`;
          const expectOutcome = (out: number, how: string) => {
            expect(out === 0, `${what} (${how})`).toBe(want);
            if (!want) {
              expect(out, `${what} (${how}): scause`).toBe(SCAUSE[kind]);
              expect(cpu.scause, `${what} (${how}): scause`).toBe(SCAUSE[kind]);
              expect([cpu.stvalHi, cpu.stvalLo], `${what} (${how}): stval`).toEqual([a.hi, a.lo]);
            } else expect(cpu.pa, `${what} (${how}): PA`).toBe(0x800000);
          };
          // a fresh walk
          cpu.sfenceVma(null, null);
          set(priv, sum, mxr);
          expectOutcome(cpu.translate(a.hi, a.lo, access), "walk");
          // a TLB hit
          if (filler !== undefined) {
            cpu.sfenceVma(null, null);
            set(filler[0], filler[1], filler[2]);
            expect(cpu.translate(a.hi, a.lo, ACCESS[filler[3]]), `${what}: fill`).toBe(0);
            set(priv, sum, mxr);
            const walks = cpu.walks;
            expectOutcome(cpu.translate(a.hi, a.lo, access), "TLB hit");
            expect(cpu.walks, `${what}: no walk on a hit`).toBe(walks);
            hits++;
          }
          // a probe
          const out = cpu.probe(a.hi, a.lo, access, priv === "u" ? Mode.User : Mode.Supervisor, rec);
          expect(out === 0, `${what} (probe)`).toBe(want);
          if (!want) expect(rec.errorCode, `${what} (probe): scause`).toBe(SCAUSE[kind]);
          checked++;
          if (want) allowed++;
        }
    }
    expect(checked).toBe(32 * 2 * 2 * 2 * 3);
    // the table is not one-sided; every valid leaf encoding (R, RW, RX, RWX, X; U = 0 or 1) was also checked on a hit
    expect(allowed).toBeGreaterThan(80);
    expect(checked - allowed).toBeGreaterThan(300);
    expect(hits).toBe(5 * 2 * 24);
  });
});
