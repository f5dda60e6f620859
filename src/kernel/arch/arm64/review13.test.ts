/**
 * arm64 reviewed against Linux v6.12 (arch/arm64/mm/fault.c, context.c,
 * tlbflush.h, pgtable.h) and the Arm ARM (D8): each test pins one
 * difference found and fixed, with figures derived by hand from the source.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Arm64Cpu } from "../../../hw/arch/arm64/Cpu.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { anonPages as anon, accessOk as ok } from "../../mm.testkit.ts";
import type { Arm64Tlb } from "./mmuContext.ts";

function boot(): Kernel<Arm64Cpu, Arm64Tlb> {
  return new Kernel<Arm64Cpu, Arm64Tlb>({ arch: "arm64", ramBytes: 64 << 20, cpus: 2, checkCoherence: true });
}

/** A pointer tag in the top byte (TBI0: bits 63:56 of a TTBR0 address). */
const TAG = 0x5an << 56n;

describe("arm64 review 13", () => {
  it("an EL0 abort on a tagged user address is handled at untagged_addr(far) (TBI0)", () => {
    const k = boot();
    const t = k.spawn("tagged") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 2);
    // the store walks 0x...a (the top byte ignored), takes a level 0 translation fault, and
    // do_translation_fault -> do_page_fault finds the VMA of untagged_addr(far): one minor fault
    const w = k.userAccess(0, t, a | TAG, Access.Write, 0x77);
    expect(w.ok && w.faults).toBe(1);
    expect(ok(k.userAccess(0, t, a, Access.Read))).toBe(0x77);
    // past the VMA: SIGSEGV, SEGV_MAPERR, si_addr without the tag (arch_untagged_si_addr)
    const past = a + 2n * 4096n;
    const r = k.userAccess(0, t, past | TAG, Access.Read);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.signal, r.siCode, r.siAddr]).toEqual(["SIGSEGV", "SEGV_MAPERR", past]);
  });
});
