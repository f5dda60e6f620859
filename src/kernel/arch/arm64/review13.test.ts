/**
 * arm64 reviewed against Linux v6.12 (arch/arm64/mm/fault.c, context.c,
 * tlbflush.h, pgtable.h) and the Arm ARM (D8): each test pins one
 * difference found and fixed, with figures derived by hand from the source.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Arm64Cpu } from "../../../hw/arch/arm64/Cpu.ts";
import { runScenario } from "../../../workloads/scenario/session.ts";
import type { Task } from "../../core/task.ts";
import { mmapArgs } from "../../Kernel.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { anonPages as anon, accessOk as ok, settled } from "../../mm.testkit.ts";
import type { Arm64Tlb } from "./mmuContext.ts";

function boot(hafdbs?: "dbm" | "af" | "off"): Kernel<Arm64Cpu, Arm64Tlb> {
  return new Kernel<Arm64Cpu, Arm64Tlb>({
    arch: "arm64",
    ramBytes: 64 << 20,
    cpus: 2,
    checkCoherence: true,
    ...(hafdbs ? { hafdbs } : {}),
  });
}

/**
 * A parent's written private page, forked: the child's PTE is old and write-protected
 * (copy_present_pte: pte_mkold, ptep_set_wrprotect); and a shared page only read, so mapped
 * writable-clean (PAGE_SHARED: PTE_WRITE | PTE_RDONLY). The child's read of the first and its
 * write of the second: their faults, the ESR of the last one, the TLBIs the kernel issued.
 */
function oldAndClean(hafdbs?: "dbm" | "af" | "off") {
  const k = boot(hafdbs);
  const p = k.spawn("parent") as Task;
  k.switchTo(0, p);
  const priv = anon(k, p, 1);
  expect(ok(k.userAccess(0, p, priv, Access.Write, 1))).toBe(1);
  const shared = k.mmap(p, mmapArgs(4096, { shared: true }));
  const c = k.fork(p, "child") as Task;
  k.switchTo(0, c);
  const cpu = k.machine.cpus[0] as Arm64Cpu;
  const read = k.userAccess(0, c, priv, Access.Read);
  const readEsr = cpu.esr;
  expect(ok(k.userAccess(0, c, shared, Access.Read))).toBe(0);
  const b = k.tlbMgr.broadcasts;
  const write = k.userAccess(0, c, shared, Access.Write, 7);
  const writeEsr = cpu.esr;
  const out = {
    readFaults: read.ok ? read.faults : -1,
    writeFaults: write.ok ? write.faults : -1,
    tlbis: k.tlbMgr.broadcasts - b,
    afFaults: cpu.faultsByKind.accessFlag,
  };
  expect(ok(k.userAccess(0, c, shared, Access.Read))).toBe(7);
  settled(k);
  return { ...out, readEsr, writeEsr };
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

  it("an EL1 abort on a tagged user address: the PAN oops at untagged_addr(far), with the user tables", () => {
    const k = boot();
    const t = k.spawn("tagged") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 1);
    ok(k.userAccess(0, t, a, Access.Write, 1));
    // do_page_fault: is_ttbr0_addr(untagged) && is_el1_permission_fault, no exception-table entry
    const r = k.kernelAccess(0, a | TAG, Access.Read);
    expect(!r.ok && r.oops[0]).toBe(
      `Unable to handle kernel access to user memory outside uaccess routines at virtual address ${a.toString(16).padStart(16, "0")}`,
    );
    expect(!r.ok && r.oops.some((l) => l.startsWith("user pgtable: 4k pages, 48-bit VAs"))).toBe(true);
  });

  it("hafdbs=dbm (the default, TCR_EL1.HA and HD): hardware sets AF and clears AP[2]", () => {
    const r = oldAndClean();
    expect([r.readFaults, r.writeFaults, r.tlbis, r.afFaults]).toEqual([0, 0, 0, 0]);
  });

  it("hafdbs=off: an Access flag fault (DFSC 0x0b) for the old page, a permission fault for the clean one", () => {
    const r = oldAndClean("off");
    // EC 0x24 << 26 | IL | DFSC 0b001011 (access flag, level 3) = 0x9200000b: do_page_fault,
    // handle_pte_fault's pte_mkyoung, ptep_set_access_flags with dirty = 0: no TLBI (an entry
    // with AF = 0 is never cached)
    expect([r.readFaults, r.afFaults, r.readEsr]).toEqual([1, 1, 0x9200000b]);
    // WnR | DFSC 0b001111 (permission, level 3) = 0x9200004f: pte_mkdirty clears PTE_RDONLY,
    // and __ptep_set_access_flags' `if (dirty) flush_tlb_page`: one TLBI VALE1IS
    expect([r.writeFaults, r.writeEsr, r.tlbis]).toEqual([1, 0x9200004f, 1]);
  });

  it("hafdbs=af (HA without HD, a CPU with broken DBM): no Access flag fault, the clean page's write faults", () => {
    const r = oldAndClean("af");
    expect([r.readFaults, r.afFaults]).toEqual([0, 0]);
    expect([r.writeFaults, r.writeEsr, r.tlbis]).toEqual([1, 0x9200004f, 1]);
  });

  it("hafdbs=off: fault-around maps its prefaulted pages young (arch_wants_old_prefaulted_pte is cpu_has_hw_af)", () => {
    const k = boot("off");
    const p = k.spawn("parent") as Task;
    k.switchTo(0, p);
    const shared = k.mmap(p, mmapArgs(4 * 4096, { shared: true }));
    for (let i = 0n; i < 4n; i++) expect(ok(k.userAccess(0, p, shared + i * 4096n, Access.Write, 3))).toBe(3);
    const c = k.fork(p, "child") as Task; // a shared VMA without anon_vma: nothing copied
    k.switchTo(0, c);
    const first = k.userAccess(0, c, shared, Access.Read); // do_read_fault, do_fault_around
    const next = k.userAccess(0, c, shared + 4096n, Access.Read);
    expect([first.ok && first.faults, next.ok && next.faults]).toEqual([1, 0]);
    expect((k.machine.cpus[0] as Arm64Cpu).faultsByKind.accessFlag).toBe(0);
    settled(k);
  });

  /** show_pte's entries of an oops: name -> the descriptor's bits 60:59 (UXNTable, PXNTable) */
  function xnTableBits(oops: readonly string[]): Record<string, number> {
    const line = oops.find((l) => l.includes("pgd=")) ?? "";
    const out: Record<string, number> = {};
    for (const m of line.matchAll(/(\w+)=([0-9a-f]{16})/g))
      out[m[1]] = Number((BigInt(`0x${m[2]}`) >> 59n) & 3n);
    return out;
  }

  it("table descriptors carry Linux's hierarchical XN: PXNTable for user tables, UXNTable for the kernel's", () => {
    const k = boot();
    const t = k.spawn("tables") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 1);
    ok(k.userAccess(0, t, a, Access.Write, 1));
    // pgalloc.h p4d_populate, pud_populate, pmd_populate of a user mm: P?D_TABLE_PXN (bit 59 = 1);
    // the PTE is a page (its bit 59 is software: 0)
    const user = k.kernelAccess(0, a, Access.Read); // PAN: the oops, show_pte of the user tables
    expect(!user.ok && xnTableBits(user.oops)).toEqual({ pgd: 1, p4d: 1, pud: 1, pmd: 1, pte: 0 });
    // map_mem (NO_EXEC_MAPPINGS): the linear map's tables UXNTable | PXNTable (3); exec of it faults
    const k2 = boot();
    const lin = k2.kernelAccess(0, k2.directVa(0x100000), Access.Exec);
    expect(!lin.ok && xnTableBits(lin.oops)).toEqual({ pgd: 3, p4d: 3, pud: 3, pmd: 3, pte: 0 });
    // the vmalloc area's PGD entry, from pud_populate(&init_mm): UXNTable alone (2)
    const k3 = boot();
    const vm = k3.kernelAccess(0, 0xffff_8000_0000_0000n, Access.Write);
    expect(!vm.ok && xnTableBits(vm.oops)).toEqual({ pgd: 2, p4d: 2, pud: 0 });
  });

  it("the linear alias of the image's text and rodata is read-only (mark_linear_text_alias_ro)", () => {
    const k = boot();
    // the image at 16 MiB: text 2M, rodata 2M, data 2M (init.ts); [_stext, __init_begin) is the first 4M
    const text = k.directVa(16 << 20);
    const rodataEnd = k.directVa((20 << 20) - 4096);
    const data = k.directVa(20 << 20);
    expect(k.kernelAccess(0, text, Access.Read).ok).toBe(true);
    expect(k.kernelAccess(0, data, Access.Write, 1).ok).toBe(true);
    // PAGE_KERNEL_RO: AP[2] = 1, no DBM; a store is a level 3 permission fault, WnR:
    // 0x96000000 | 0x40 | 0x0f, and __do_kernel_fault's "write to read-only memory"
    for (const v of [text, rodataEnd]) {
      const r = k.kernelAccess(0, v, Access.Write, 1);
      expect(!r.ok && r.oops[0]).toBe(
        `Unable to handle kernel write to read-only memory at virtual address ${v.toString(16)}`,
      );
      expect(!r.ok && r.oops.includes("  ESR = 0x000000009600004f")).toBe(true);
    }
  });

  it("explain under hafdbs=off: an Access flag fault is pte_mkyoung, a writable-clean write pte_mkdirty, not do_wp_page", () => {
    const k = boot("off");
    const p = k.spawn("parent") as Task;
    k.switchTo(0, p);
    const priv = anon(k, p, 1);
    ok(k.userAccess(0, p, priv, Access.Write, 1));
    const shared = k.mmap(p, mmapArgs(4096, { shared: true }));
    ok(k.userAccess(0, p, shared, Access.Read)); // PAGE_SHARED: PTE_WRITE | PTE_RDONLY, clean
    const c = k.fork(p, "child") as Task; // the private PTE old and write-protected in the child
    const text = (t: Task, va: bigint, a: Access) => k.view.explain(t, va, a).join(" ").replace(/\s+/g, " ");
    expect(text(c, priv, Access.Read)).toContain("DFSC = 0x0b: access-flag fault, level 3");
    expect(text(c, priv, Access.Read)).toContain("handle_pte_fault: the PTE is present but old: pte_mkyoung");
    // a write to the old, write-protected private page: handle_pte_fault's do_wp_page (mapcount 2)
    expect(text(c, priv, Access.Write)).toContain("do_wp_page -> wp_page_copy");
    // the parent's write to its writable-clean shared page: a permission fault that pte_mkdirty fixes
    const w = text(p, shared, Access.Write);
    expect(w).toContain("DFSC = 0x0f: permission fault, level 3");
    expect(w).toContain("handle_pte_fault: the PTE is writable (pte_write) but clean");
    expect(w).not.toContain("do_wp_page");
  });

  it("examples/arm64/hafdbs.vm: every expectation holds with hafdbs=off; with dbm the faults are gone", () => {
    const src = readFileSync(new URL("../../../../examples/arm64/hafdbs.vm", import.meta.url), "utf8");
    expect(runScenario(src, { checkInvariants: true }).failed).toBe(0);
    const dbm = runScenario(src.replace(/^(machine .*)hafdbs=off$/m, "$1hafdbs=dbm"), {
      checkInvariants: true,
    });
    // no Access flag fault, no dirty-bit fault, no TLBI: the four fault/TLBI counts fail
    expect(dbm.failed).toBe(4);
  });
});
