import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";

/** Scenario-level behaviour of RISC-V against x86-64 and arm64 (issue #14). */

const run = (src: string, opts: { trace?: boolean } = {}) =>
  runScenario(src, { checkInvariants: true, ...opts });
const out = (r: ReturnType<typeof run>) => r.statements.flatMap((s) => s.output).join("\n");

describe("--trace names what the RISC-V privileged spec names", () => {
  it("levels L2..L0 (Sv39), the fault as scause and stval, SFENCE.VMA by ASID", () => {
    const o = out(
      run(
        "machine arch=riscv-sv39 ram=64M\nspawn A\nA: buf = mmap 8K\nA: write buf\nA: munmap buf 8K\nexpect oops == 0\n",
        { trace: true },
      ),
    );
    expect(o).toMatch(/walk L2 \[255\] entry @0x[0-9a-f]+ = 0x0{16}\n/);
    expect(o).toMatch(/fault: scause 15: store\/AMO page fault, stval 0x3ff7ffe000/);
    // update_mmu_cache: a local fence of the address once the fault is handled
    expect(o).toMatch(/sfence\.vma va, x0 every ASID vpn 0x3ff7ffe/);
    expect(o).toMatch(/walk L0 \[510\]/);
    // munmap freed the PTE table: flush_tlb_mm, the whole ASID
    expect(o).toMatch(/sfence\.vma x0, 1 ASID 1/);
    expect(o).not.toMatch(/PML4|#PF|ESR_EL1|TLBI/);
  });

  it("Sv57 walks five levels, L4 first", () => {
    const o = out(
      run("machine arch=riscv-sv57 ram=64M\nspawn A\nA: buf = mmap 8K\nA: write buf\n", { trace: true }),
    );
    expect(o).toMatch(/walk L4 \[/);
    expect(o).toMatch(/walk L3 \[/);
  });
});

describe("machine keys on RISC-V", () => {
  const err = (src: string) => {
    try {
      run(src);
    } catch (e) {
      return (e as Error).message;
    }
    return "no error";
  };
  it("x86's and arm64's switches are refused with RISC-V's counterpart", () => {
    expect(err("machine arch=riscv-sv39 smap=on\n")).toMatch(/smap: is x86's .*sstatus\.SUM/);
    expect(err("machine arch=riscv-sv48 pcid=off\n")).toMatch(/pcid: is x86's .*ASID in satp/);
    expect(err("machine arch=riscv-sv57 pan=on\n")).toMatch(/pan: is arm64's/);
    expect(err("machine arch=riscv-sv39 pti=on\n")).toMatch(/no page-table isolation/);
    expect(err("machine arch=x86_64 rfence=ipi\n")).toMatch(/rfence: is RISC-V's/);
    expect(err("machine arch=riscv-sv39 rfence=mmio\n")).toMatch(/expected one of sbi, ipi/);
  });

  it("kernel: sum on|off is RISC-V's; stac and pan are refused there, sum elsewhere", () => {
    expect(err("machine arch=riscv-sv39 ram=64M\nkernel: stac\n")).toMatch(
      /'stac' is x86's .*riscv-sv39 says 'kernel: sum on\|off'/,
    );
    expect(err("machine arch=riscv-sv39 ram=64M\nkernel: pan off\n")).toMatch(/'pan' is arm64's/);
    expect(err("machine ram=64M\nkernel: sum on\n")).toMatch(/'sum' is RISC-V's \(sstatus\.SUM\)/);
    expect(err("machine arch=arm64 ram=64M\nkernel: sum on\n")).toMatch(/arm64 says 'kernel: pan on\|off'/);
    expect(err("machine arch=riscv-sv39 ram=64M\nkernel: sum maybe\n")).toMatch(/sum on\|off/);
  });

  it("table() levels: l2 l1 l0 on Sv39, l4 on Sv57 only; arm64's l0 is its top, RISC-V's its leaf", () => {
    expect(err("machine arch=riscv-sv39 ram=64M\nspawn A\nexpect table(A, 0x1000, l3) == 0\n")).toMatch(
      /riscv-sv39 has no level 'l3' \(its levels: l2, l1, l0;/,
    );
    const r = run(
      "machine arch=riscv-sv57 ram=64M\nspawn A\nA: b = mmap 4K\nA: write b\nexpect table(A, b, l4) == table(A, b, pgd)\nexpect table(A, b, l3) == table(A, b, p4d)\nexpect table(A, b, l0) == table(A, b, pte)\nexpect table(A, b, l4) != table(A, b, l3)\n",
    );
    expect(r.expectations.every((e) => e.ok)).toBe(true);
  });

  it("explain kernel: the SUM state, the PTE's V R W X U G A D, scause, and handle_page_fault's verdict", () => {
    const o = out(
      run(
        "machine arch=riscv-sv39 ram=64M\nspawn A\nA: b = mmap 4K\nA: write b\nexplain kernel b read\nkernel: sum on\nexplain kernel b exec\n",
      ),
    );
    expect(o).toMatch(/sstatus\.SUM=0 sstatus\.MXR=0/);
    expect(o).toMatch(/L0 +\[\d+\] entry @0x[0-9a-f]+ = 0x[0-9a-f]{16} +page R W U A D/);
    expect(o).toMatch(/scause 13: load page fault/);
    expect(o).toMatch(/Unable to handle kernel access to user memory without uaccess routines/);
    expect(o).toMatch(/sstatus\.SUM=1/);
    expect(o).toMatch(/S-mode never executes a U page, whatever SUM says/);
  });

  it("show layout prints the mode's map", () => {
    for (const [arch, start] of [
      ["riscv-sv39", "0xffffffd600000000"],
      ["riscv-sv48", "0xffffaf8000000000"],
      ["riscv-sv57", "0xff60000000000000"],
    ] as const) {
      const o = out(run(`machine arch=${arch} ram=64M\nshow layout\n`));
      expect(o).toMatch(new RegExp(`${start} 0x[0-9a-f]{16} +\\d+ [TPG]B  direct map`));
      expect(o).toMatch(/0xffffffff80000000 0xffffffffffffffff +2 GB {2}kernel/);
    }
  });
});
