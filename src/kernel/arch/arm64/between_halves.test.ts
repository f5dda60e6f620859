/**
 * An address in neither TTBR0_EL1's nor TTBR1_EL1's range, explained in the Arm ARM's words
 * (D8.2 "VA size", AArch64.VAIsOutOfRange: VA[55] picks the TTBR, TCR_EL1.TxSZ its size, TBI0
 * leaves a data access's top byte out; an out-of-range VA is a Translation fault at level 0 with
 * no walk), then what Linux 6.12 does (arch/arm64/mm/fault.c do_translation_fault: not
 * is_ttbr0_addr, do_bad_area). Set against the other architectures' words for the same address:
 * x86-64's non-canonical #GP (SDM Vol. 3A 4.5, "canonical"), RISC-V's Sv39 page fault (privileged
 * spec 4.4.1: bits 63-39 must equal bit 38 "or else a page-fault exception will occur").
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../../workloads/scenario/session.ts";

const BETWEEN = "0x0010000000000000";
const explain = (arch: string, stmts: string) => {
  const r = runScenario(`machine arch=${arch} ram=64M\nspawn A\n${stmts}`);
  return (i: number) => r.statements[i].output.map((l) => l.trim()).join(" ");
};

describe("an address between the halves", () => {
  it("arm64, EL0: VA[55] picks TTBR0, T0SZ=16 leaves 48 bits, VA[55:48] not zero: a level 0 translation fault", () => {
    const out = explain(
      "arm64",
      `explain A ${BETWEEN}\nexplain A ${BETWEEN} write\nA: catch SIGSEGV\nA: read ${BETWEEN}\n`,
    );
    const read = out(2);
    expect(read).toMatch(
      /VA\[55\]=0 selects TTBR0_EL1, whose range TCR_EL1\.T0SZ=16 makes 48 bits: VA\[55:48\] must be all zeros, TBI0=1: VA\[63:56\], the tag, takes no part; they are 0x10: out of range, no walk/,
    );
    expect(read).toMatch(
      /a Translation fault at level 0, ESR_EL1 0x92000004 \(EC = 0x24: DABT \(lower EL\), DFSC = 0x04\)/,
    );
    expect(read).toMatch(
      /do_translation_fault: not a user address \(is_ttbr0_addr is false\): do_bad_area: SIGSEGV \(SEGV_MAPERR\)/,
    );
    expect(read).not.toMatch(/neither|#GP|canonical/);
    expect(out(3)).toMatch(/ESR_EL1 0x92000044/); // WnR
    // and the access itself: the signal explain promised
    expect(out(5)).toMatch(/SIGSEGV \(SEGV_MAPERR\) at 0x10000000000000/);
  });

  it("arm64, EL1: no walk shown, the fault then do_translation_fault's story and the oops it prints", () => {
    const out = explain("arm64", `explain kernel ${BETWEEN}\nexplain kernel 0xff80000000000000\n`);
    const ex = out(2);
    expect(ex).toMatch(
      /ESR_EL1 0x96000004 \(EC = 0x25: DABT \(current EL\), DFSC = 0x04\), FAR_EL1 = the address/,
    );
    expect(ex).not.toMatch(/L0 +\[/);
    expect(ex).toMatch(/do_translation_fault: not a user address/);
    expect(ex).toMatch(/"Unable to handle kernel paging request at virtual address 0010000000000000"/);
    // VA[55]=1: TTBR1, whose VA[63:48] must be all ones (TBI1 is clear)
    expect(out(3)).toMatch(
      /VA\[55\]=1 selects TTBR1_EL1, whose range TCR_EL1\.T1SZ=16 makes 48 bits: VA\[63:48\] must be all ones, TBI1=0; they are 0xff80/,
    );
  });

  it("a tagged TTBR0 address is in range (TBI0): explained as a walk, not as out of range", () => {
    const out = explain(
      "arm64",
      "A: a = mmap 4K\nexplain A a+0x5a00000000000000\nexplain kernel a+0x5a00000000000000\n",
    );
    expect(out(3)).not.toMatch(/out of range/);
    expect(out(3)).toMatch(/L0 +\[/);
    expect(out(4)).not.toMatch(/out of range/);
    expect(out(4)).toMatch(/L0 +\[/);
  });

  it("x86-64 keeps its #GP (not a page fault), RISC-V Sv39 names its page fault (not #GP)", () => {
    const x = explain("x86_64", `explain A ${BETWEEN}\nexplain kernel ${BETWEEN}\n`);
    expect(x(2)).toMatch(/not canonical: #GP, not #PF; the kernel sends SIGSEGV \(SI_KERNEL\)/);
    expect(x(3)).toMatch(/general protection fault \(#GP\), not a page fault; in kernel mode an oops/);
    const r = explain(
      "riscv-sv39",
      `explain A ${BETWEEN}\nexplain kernel ${BETWEEN} write\nkernel: read ${BETWEEN}\n`,
    );
    expect(r(2)).toMatch(
      /Sv39: bits 63:39 of the address must all equal bit 38, and do not: no walk, scause 13: load page fault, stval = the address; do_page_fault finds no VMA: SIGSEGV \(SEGV_MAPERR\)/,
    );
    const k = r(3);
    expect(k).toMatch(/scause 15: store\/AMO page fault/);
    expect(k).not.toMatch(/#GP/);
    expect(k).toMatch(/"Unable to handle kernel paging request at virtual address 0010000000000000"/);
    // the oops the access prints is the one explain named
    expect(r(4)).toMatch(/^Unable to handle kernel paging request at virtual address 0010000000000000/);
  });
});
