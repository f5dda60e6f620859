/**
 * OSTEP's two-level teaching format through the generic walker, TLB and
 * coherence checker: hand-worked translations, then every address of
 * randomly built images (as the homework builds them) against the homework's
 * own arithmetic, written out independently below.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import { Access, Mode } from "../../access.ts";
import { Machine } from "../../machine/Machine.ts";
import { WalkRecord } from "../../mmu/Mmu.ts";
import { HwFaultKind } from "../../mmu/PagingFormat.ts";
import { TEACHING_PAGE_SIZE, TEACHING_PHYS_PAGES } from "./format.ts";
import { TeachingOutcome } from "./Mmu.ts";
import { TEACHING, teachingMachine } from "./machine.ts";

/** The homework's translate: -1 PDE fault, -2 PTE fault, else the physical address. */
function reference(mem: Uint8Array, pdbr: number, va: number): number {
  const pde = mem[(pdbr << 5) | ((va & 0x7c00) >> 10)];
  if ((pde & 0x80) === 0) return -1;
  const pte = mem[((pde & 0x7f) << 5) | ((va & 0x03e0) >> 5)];
  if ((pte & 0x80) === 0) return -2;
  return ((pte & 0x7f) << 5) | (va & 0x1f);
}

/** Builds an image as the homework's procAlloc does: a directory, `pages` random pages, tables on demand. */
function buildImage(seed: number, pages: number): { mem: Uint8Array; pdbr: number } {
  const rng = new Rng(seed);
  const mem = new Uint8Array(TEACHING_PAGE_SIZE * TEACHING_PHYS_PAGES);
  const used = new Uint8Array(TEACHING_PHYS_PAGES);
  const findFree = () => {
    let p = rng.below(TEACHING_PHYS_PAGES);
    while (used[p]) p = rng.below(TEACHING_PHYS_PAGES);
    used[p] = 1;
    return p;
  };
  const pdbr = findFree();
  mem.fill(0x7f, pdbr * 32, pdbr * 32 + 32);
  const mapped = new Set<number>();
  for (let i = 0; i < pages; i++) {
    let vp = rng.below(1024);
    while (mapped.has(vp)) vp = rng.below(1024);
    mapped.add(vp);
    const pp = findFree();
    const pdeAddr = pdbr * 32 + (vp >> 5);
    if ((mem[pdeAddr] & 0x80) === 0) {
      const pt = findFree();
      mem[pdeAddr] = 0x80 | pt;
      mem.fill(0x7f, pt * 32, pt * 32 + 32);
    }
    mem[(mem[pdeAddr] & 0x7f) * 32 + (vp & 31)] = 0x80 | pp;
    for (let j = 0; j < 32; j++) mem[pp * 32 + j] = rng.below(31);
  }
  return { mem, pdbr };
}

function load(m: Machine<ReturnType<typeof teachingMachine>["cpus"][number]>, mem: Uint8Array): void {
  m.phys.writeBytes(0, mem);
}

describe("the OSTEP teaching format through the generic walker", () => {
  it("translates a hand-worked example, entry by entry", () => {
    const m = teachingMachine();
    const cpu = m.cpus[0];
    // page directory at page 3: PDE 0 -> page table at page 5; PTE 2 -> frame 10; PDE 1 invalid
    m.phys.write8(3 * 32 + 0, 0x85);
    m.phys.write8(3 * 32 + 1, 0x7f);
    m.phys.write8(5 * 32 + 2, 0x8a);
    m.phys.write8(5 * 32 + 3, 0x7f);
    m.phys.write8(10 * 32 + 7, 0x1b);
    cpu.setPdbr(3);
    const va = (0 << 10) | (2 << 5) | 7; // 0x47
    expect(cpu.translate(0, va, Access.Read)).toBe(TeachingOutcome.OK);
    expect(cpu.pa).toBe(10 * 32 + 7); // 0x147
    expect(m.phys.read8(cpu.pa)).toBe(0x1b);
    const rec = new WalkRecord();
    expect(cpu.probe(0, va, Access.Read, Mode.User, rec)).toBe(TeachingOutcome.OK);
    expect(rec.count).toBe(2);
    expect([rec.entryPa[0], rec.lo[0], rec.entryPa[1], rec.lo[1]]).toEqual([96, 0x85, 5 * 32 + 2, 0x8a]);
    expect([cpu.format.levelNames[rec.level[0]], cpu.format.levelNames[rec.level[1]]]).toEqual([
      "PDE",
      "PTE",
    ]);
    // PDE 1 is not valid: a fault at the directory level
    expect(cpu.translate(0, 1 << 10, Access.Read)).toBe(TeachingOutcome.Fault);
    expect([cpu.faultKind, cpu.faultLevel]).toEqual([HwFaultKind.Translation, 1]);
    // PTE 3 is not valid: a fault at the table level
    expect(cpu.translate(0, 3 << 5, Access.Write)).toBe(TeachingOutcome.Fault);
    expect(cpu.faultLevel).toBe(0);
    // beyond 15 bits
    expect(cpu.translate(0, 1 << 15, Access.Read)).toBe(TeachingOutcome.OutOfRange);
    // the walk wrote nothing back: the format has no accessed or dirty bits
    expect(cpu.adWrites).toBe(0);
  });

  it("agrees with the homework's arithmetic on every address of 25 random images", () => {
    for (let seed = 1; seed <= 25; seed++) {
      const { mem, pdbr } = buildImage(seed, 64);
      const m = teachingMachine();
      load(m, mem);
      const cpu = m.cpus[0];
      cpu.setPdbr(pdbr);
      let mapped = 0;
      const wrong: string[] = [];
      for (let va = 0; va < 1 << 15; va++) {
        const want = reference(mem, pdbr, va);
        const out = cpu.translate(0, va, Access.Read);
        const got =
          out === TeachingOutcome.OK ? cpu.pa : out === TeachingOutcome.Fault ? -1 - cpu.faultLevel : -9;
        if (want >= 0) mapped++;
        if (got !== (want >= 0 ? want : want === -1 ? -2 : -1))
          wrong.push(`seed ${seed} va ${va}: ${got}, want ${want}`);
      }
      expect(wrong.slice(0, 3)).toEqual([]);
      expect(mapped).toBe(64 * 32);
    }
  });

  it("caches translations in a TLB of 32-byte pages, and the checker catches a stale one", () => {
    const m = new Machine(TEACHING, {
      ramBytes: TEACHING_PAGE_SIZE * TEACHING_PHYS_PAGES,
      tlb: "8x2",
      checkCoherence: true,
      options: {},
    });
    const cpu = m.cpus[0];
    const { mem, pdbr } = buildImage(7, 16);
    load(m, mem);
    cpu.setPdbr(pdbr);
    let va = -1;
    for (let v = 0; v < 1 << 15 && va < 0; v += 32) if (reference(mem, pdbr, v) >= 0) va = v;
    expect(cpu.translate(0, va + 1, Access.Read)).toBe(TeachingOutcome.OK);
    const walks = cpu.walks;
    expect(cpu.translate(0, va + 9, Access.Read)).toBe(TeachingOutcome.OK);
    expect(cpu.walks).toBe(walks); // a hit
    expect(cpu.pa).toBe(reference(mem, pdbr, va + 9));
    // repoint the PTE without a flush: the TLB still answers with the old frame
    const pdeAddr = pdbr * 32 + (va >> 10);
    const pteAddr = (m.phys.read8(pdeAddr) & 0x7f) * 32 + ((va >> 5) & 31);
    const old = m.phys.read8(pteAddr);
    const other = ((old & 0x7f) + 1) % 128;
    m.phys.write8(pteAddr, 0x80 | other);
    expect(cpu.translate(0, va, Access.Read)).toBe(TeachingOutcome.OK);
    expect(cpu.pa).toBe((old & 0x7f) * 32);
    const r = m.checker!.reports;
    expect(r).toHaveLength(1);
    expect(r[0].differences[0]).toMatch(/^frame 0x/);
    expect(r[0].changed[0]).toMatchObject({ level: "PTE", entryPa: pteAddr });
    // a PDBR reload flushes: the new frame is used
    cpu.setPdbr(pdbr);
    expect(cpu.translate(0, va, Access.Read)).toBe(TeachingOutcome.OK);
    expect(cpu.pa).toBe(other * 32);
  });
});
