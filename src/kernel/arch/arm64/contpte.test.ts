/**
 * arm64 contiguous PTEs (CONFIG_ARM64_CONTPTE, arch/arm64/mm/contpte.c,
 * Linux 6.12): a 64K mTHP fault folds its 16 PTEs (contpte_set_ptes); a
 * change of one unfolds the block with break-before-make (munmap of one
 * page, mprotect of part, COW of one page after fork, reclaim); a change of
 * all 16 folds again; access and dirty are ORed over the block; the TLB
 * holds one entry for it; the coherence checker stays quiet through random
 * operations; x86-64 maps the same folio without any of it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { K64, region, write } from "../../mm.testkit.ts";
import { checkInvariants } from "../../view/invariants.ts";
import type { Arm64ContPte } from "./contpte.ts";
import { PteHi, PteLo } from "./pgtable.ts";

const PAGE = 4096n;
const RO = { r: true, w: false, x: false };
const RW = { r: true, w: true, x: false };

function boot(arch: "arm64" | "x86_64" = "arm64", checkCoherence = false) {
  const k = new Kernel({
    arch,
    ramBytes: 256 * 2 ** 20,
    cpus: 1,
    thp: "never",
    swapBytes: 64 * 2 ** 20,
    checkCoherence,
  });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  expect(k.mthpSet(64, "always")).toBe(true);
  return { k, t, cp: k.userMm.env.pgtable.contpte as Arm64ContPte | null };
}

function folds(k: Kernel): number {
  return (k.userMm.env.pgtable.contpte as Arm64ContPte).folds;
}

function unfolds(k: Kernel): number {
  return (k.userMm.env.pgtable.contpte as Arm64ContPte).unfolds;
}

/** The PTE at va as (hi, lo), or null. */
function pte(k: Kernel, t: Task, va: bigint): { hi: number; lo: number; pa: number } | null {
  const l = k.userMm.leafFor(t.mm!, Number(va / PAGE));
  return l === null ? null : { hi: l.hi, lo: l.lo, pa: l.pa };
}

/** Which of the 16 pages from va have PTE_CONT. */
function contMap(k: Kernel, t: Task, va: bigint): string {
  let s = "";
  for (let i = 0n; i < 16n; i++) {
    const e = pte(k, t, va + i * PAGE);
    s +=
      e !== null && k.userMm.env.pgtable.present(e.hi, e.lo) ? ((e.hi & PteHi.CONT) !== 0 ? "C" : "p") : ".";
  }
  return s;
}

describe("arm64 contpte", () => {
  it("a 64K mTHP fault maps 16 PTEs with PTE_CONT; the TLB holds the block as one entry", () => {
    const { k, t, cp } = boot();
    const a = region(k, t, K64);
    write(k, t, a + 5n * PAGE);
    expect(contMap(k, t, a)).toBe("CCCCCCCCCCCCCCCC");
    expect(cp!.folds).toBe(0); // set directly by contpte_set_ptes, no fold
    const cpu = k.machine.cpus[0];
    cpu.tlb.invalidateAll(0, 3);
    const w0 = cpu.walks;
    for (let i = 0n; i < 16n; i++) expect(k.userAccess(0, t, a + i * PAGE + 8n, Access.Read).ok).toBe(true);
    expect(cpu.walks - w0).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("munmap of one page unfolds the block; the others keep access and dirty ORed over it", () => {
    const { k, t, cp } = boot();
    const a = region(k, t, K64);
    write(k, t, a);
    // only page 0 young: AF may differ inside a folded block (the hardware sets it in one entry)
    for (let i = 1n; i < 16n; i++) {
      const e = pte(k, t, a + i * PAGE)!;
      k.machine.phys.write32(e.pa, (e.lo & ~PteLo.AF) >>> 0);
    }
    expect(k.munmap(t, a + 9n * PAGE, PAGE)).toBe(0n);
    expect(cp!.unfolds).toBe(1);
    expect(contMap(k, t, a)).toBe("ppppppppp.pppppp");
    for (const i of [1n, 8n, 15n]) expect(pte(k, t, a + i * PAGE)!.lo & PteLo.AF).toBe(PteLo.AF);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("munmap of the whole block clears it without unfolding", () => {
    const { k, t, cp } = boot();
    const a = region(k, t, 2n * K64);
    write(k, t, a);
    write(k, t, a + K64);
    expect(k.munmap(t, a, K64)).toBe(0n);
    expect(cp!.unfolds).toBe(0);
    expect(contMap(k, t, a + K64)).toBe("CCCCCCCCCCCCCCCC");
    expect(checkInvariants(k)).toEqual([]);
  });

  it("mprotect of part unfolds; mprotect of the whole block folds it again", () => {
    const { k, t, cp } = boot();
    const a = region(k, t, K64);
    write(k, t, a);
    expect(k.mprotect(t, a + 4n * PAGE, 2n * PAGE, RO)).toBe(0n);
    expect(contMap(k, t, a)).toBe("pppppppppppppppp");
    expect(cp!.unfolds).toBe(1);
    expect(k.mprotect(t, a, K64, RO)).toBe(0n);
    expect(cp!.folds).toBe(1); // contpte_try_fold at the block's last PTE
    expect(contMap(k, t, a)).toBe("CCCCCCCCCCCCCCCC");
    expect(k.userAccess(0, t, a, Access.Write, 1).ok).toBe(false);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("fork: the parent's block is write-protected and folded again, the child's folded; a COW of one page unfolds the child's", () => {
    const { k, t, cp } = boot();
    const a = region(k, t, K64);
    for (let i = 0n; i < 16n; i++) write(k, t, a + i * PAGE, Number(i));
    const c = k.fork(t, "B")!;
    expect(contMap(k, t, a)).toBe("CCCCCCCCCCCCCCCC");
    expect(contMap(k, c, a)).toBe("CCCCCCCCCCCCCCCC");
    expect(pte(k, t, a)!.hi & PteHi.DBM).toBe(0); // write-protected (PTE_WRITE is DBM)
    const unfolds = cp!.unfolds;
    k.switchTo(0, c);
    write(k, c, a + 3n * PAGE, 99);
    expect(cp!.unfolds).toBeGreaterThan(unfolds);
    expect(contMap(k, c, a)).toBe("pppppppppppppppp");
    expect(contMap(k, t, a)).toBe("CCCCCCCCCCCCCCCC");
    expect(checkInvariants(k)).toEqual([]);
  });

  it("reclaim unmaps the folio's pages: the block is unfolded first", () => {
    const { k, t, cp } = boot();
    const a = region(k, t, K64);
    write(k, t, a);
    k.reclaim(100000);
    expect(cp!.unfolds).toBeGreaterThan(0);
    for (let i = 0n; i < 16n; i++) {
      const e = pte(k, t, a + i * PAGE);
      expect(e === null || (e.hi & PteHi.CONT) === 0 || k.userMm.env.pgtable.present(e.hi, e.lo)).toBe(true);
    }
    expect(checkInvariants(k)).toEqual([]);
  });

  it("contpte off (CONFIG_ARM64_CONTPTE=n) and x86-64 map the folio without the bit", () => {
    const { k, t, cp } = boot("x86_64");
    expect(cp ?? null).toBe(null);
    const a = region(k, t, K64);
    write(k, t, a);
    for (let i = 0n; i < 16n; i++) expect(pte(k, t, a + i * PAGE)).not.toBe(null);
  });

  it("random operations under the coherence checker: no stale or misprogrammed use, invariants hold", () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const { k, t } = boot("arm64", true);
    const a = region(k, t, 4n * K64);
    // each task's view of its 64 pages: w (read-write), r (read-only), - (unmapped); no access faults fatally
    const tasks: { task: Task; state: string[] }[] = [{ task: t, state: Array(64).fill("w") }];
    for (let step = 0; step < 400; step++) {
      const { task: who, state } = tasks[rnd(tasks.length)];
      k.switchTo(0, who);
      const page = rnd(64);
      const n = 1 + rnd(20);
      const op = rnd(10);
      if (op < 4 && state[page] === "w") write(k, who, a + BigInt(page) * PAGE, step);
      else if (op < 6 && state[page] !== "-")
        expect(k.userAccess(0, who, a + BigInt(page) * PAGE, Access.Read).ok).toBe(true);
      else if (op === 6 && page + n <= 64 && state.slice(page, page + n).every((x) => x !== "-")) {
        const w = rnd(2) === 0;
        expect(k.mprotect(who, a + BigInt(page) * PAGE, BigInt(n) * PAGE, w ? RW : RO)).toBe(0n);
        state.fill(w ? "w" : "r", page, page + n);
      } else if (op === 7 && rnd(3) === 0) {
        const m = Math.min(1 + rnd(3), 64 - page);
        expect(k.munmap(who, a + BigInt(page) * PAGE, BigInt(m) * PAGE)).toBe(0n);
        state.fill("-", page, page + m);
      } else if (op === 8 && tasks.length < 3) {
        const c = k.fork(who, "B")!;
        tasks.push({ task: c, state: [...state] });
      } else if (op === 9) k.reclaim(8);
      expect(k.machine.checker!.reports.map((r) => r.differences.join("; "))).toEqual([]);
      expect(checkInvariants(k)).toEqual([]);
    }
    expect(folds(k) + unfolds(k)).toBeGreaterThan(0);
  });
});

describe("arm64 contpte in the views", () => {
  it("explain gives the byte's frame in a contiguous page and names the bit", () => {
    const { k, t } = boot();
    const a = region(k, t, K64);
    write(k, t, a + 5n * PAGE);
    const e = pte(k, t, a + 5n * PAGE)!;
    const pfn = (e.lo >>> 12) + (e.hi & 0x3ffff) * 1048576;
    const text = k.view.explain(t, a + 5n * PAGE + 0x10n, Access.Read).join("\n");
    expect(text).toContain("Contiguous");
    expect(text).toContain(`-> pa 0x${(pfn * 4096 + 0x10).toString(16)} (frame 0x${pfn.toString(16)})`);
  });
});
