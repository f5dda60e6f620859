/**
 * A kernel-mode access to a kernel address nothing maps, explained and taken on arm64 (Linux 6.12
 * arch/arm64/mm/fault.c): a translation fault goes do_translation_fault -> do_bad_area ->
 * __do_kernel_fault (is_ttbr0_addr is false); a permission fault (a store to the read-only
 * linear alias of the kernel text) goes do_page_fault -> no VMA -> bad_area -> no_context ->
 * __do_kernel_fault; die_kernel_fault prints "Unable to handle kernel paging request at virtual
 * address ...", mem_abort_decode, show_pte from swapper_pg_dir and die()'s "Internal error: Oops".
 */
import { describe, expect, it } from "vitest";
import { Desc } from "../../../hw/arch/arm64/format.ts";
import { bareArm64, va, vpnOf } from "../../../hw/arch/arm64/testkit.ts";
import { runScenario } from "../../../workloads/scenario/session.ts";
import { atSaysSpurious } from "./memAbort.ts";

const run = (stmts: string) => {
  const r = runScenario(`machine arch=arm64 ram=64M\nspawn A\nA: a = mmap 4K\n${stmts}`);
  return (i: number) => r.statements[i].output.map((l) => l.trim()).join(" ");
};

describe("arm64: a kernel address with no mapping", () => {
  it("explain names do_translation_fault -> do_bad_area -> __do_kernel_fault and the oops 6.12 prints", () => {
    const out = run("explain kernel 0xffff800012345000\nkernel: read 0xffff800012345000\n");
    const ex = out(3);
    expect(ex).toMatch(/DFSC = 0x05: translation fault, level 1/);
    expect(ex).toMatch(
      /do_translation_fault: not a user address \(is_ttbr0_addr is false\): do_bad_area, in kernel mode __do_kernel_fault:/,
    );
    expect(ex).not.toMatch(/do_page_fault/);
    expect(ex).toMatch(/"Unable to handle kernel paging request at virtual address ffff800012345000"/);
    const oops = out(4);
    expect(oops).toMatch(
      /^Unable to handle kernel paging request at virtual address ffff800012345000 Mem abort info:/,
    );
    expect(oops).toMatch(/ESR = 0x0000000096000005 EC = 0x25: DABT \(current EL\), IL = 32 bits/);
    expect(oops).toMatch(/FSC = 0x05: level 1 translation fault/);
    // show_pte: the kernel half is walked from swapper_pg_dir (init_mm), down to the empty PUD
    expect(oops).toMatch(
      /swapper pgtable: 4k pages, 48-bit VAs, pgdp=[0-9a-f]{16} \[ffff800012345000\] pgd=[0-9a-f]{16}, p4d=[0-9a-f]{16}, pud=0000000000000000 /,
    );
    expect(oops).toMatch(/Internal error: Oops: 0000000096000005 \[#1\] PREEMPT SMP/);
  });

  it("a store to the read-only text alias: do_page_fault finds no VMA, bad_area, no_context", () => {
    const ex = run("explain kernel 0xffff000001000000 write\n")(3);
    expect(ex).toMatch(/DFSC = 0x0f: permission fault, level 3/);
    expect(ex).toMatch(
      /do_page_fault: lock_mm_and_find_vma finds no VMA of A at a kernel address: bad_area, in kernel mode no_context, __do_kernel_fault:/,
    );
    expect(ex).toMatch(
      /"Unable to handle kernel write to read-only memory at virtual address ffff000001000000"/,
    );
  });

  it("an address between the halves: a level 0 translation fault, show_pte says so", () => {
    const out = run("explain kernel 0x0010000000000000\nkernel: read 0x0010000000000000\n");
    expect(out(3)).toMatch(/do_translation_fault: not a user address/);
    expect(out(4)).toMatch(
      /^Unable to handle kernel paging request at virtual address 0010000000000000 .*\[0010000000000000\] address between user and kernel address ranges Internal error: Oops: 0000000096000004/,
    );
  });
});

describe("is_spurious_el1_translation_fault's AT S1E1R", () => {
  it("spurious when the tables translate now (PAN not applied) or give another fault kind; not for a translation fault", () => {
    const { cpu, mapper, root0 } = bareArm64();
    const vpn = vpnOf(0x400000n);
    const a = va(0x400000n);
    expect(mapper.map(root0, vpn, 0x800 as never, 0, { user: true }).ok).toBe(true);
    cpu.el = 1;
    cpu.setPan(true);
    // a user page EL1 may not load under PAN: AT S1E1R translates it all the same
    mapper.setEntryRaw(root0, vpn, 0, 0, 0x800000 | Desc.VALID | Desc.TABLE_OR_PAGE | Desc.AF | (0b01 << 6));
    expect(atSaysSpurious(cpu, a.hi, a.lo)).toBe(true);
    // AF clear without TCR_EL1.HA: an Access flag fault, "a different type of fault"
    mapper.setEntryRaw(root0, vpn, 0, 0, 0x800000 | Desc.VALID | Desc.TABLE_OR_PAGE | (0b01 << 6));
    expect(atSaysSpurious(cpu, a.hi, a.lo)).toBe(true);
    // still nothing there: a real translation fault
    mapper.setEntryRaw(root0, vpn, 0, 0, 0);
    expect(atSaysSpurious(cpu, a.hi, a.lo)).toBe(false);
    expect(cpu.pan).toBe(true);
  });
});
