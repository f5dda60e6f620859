/**
 * FEAT_PAN3, Enhanced PAN (`machine epan=on`). Linux 6.12: arch/arm64/kernel/cpufeature.c
 * (ARM64_HAS_EPAN: ID_AA64MMFR1_EL1.PAN >= 3, cpu_enable_epan sets SCTLR_EL1.EPAN),
 * arch/arm64/mm/mmap.c (adjust_protection_map: protection_map[VM_EXEC] and [VM_EXEC|VM_SHARED]
 * become PAGE_EXECONLY), arch/arm64/mm/fault.c do_page_fault ("If EPAN is absent then exec
 * implies read"). Arm ARM D8.4 "Privileged access never": with SCTLR_EL1.EPAN = 1, PSTATE.PAN
 * also refuses an EL1 load or store of a page EL0 may execute.
 *
 * Without EPAN, PROT_EXEC alone is PAGE_READONLY_EXEC: EL0 may read it (AP[2:1] = 11), and a
 * read fault in an exec-only VMA is allowed.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../../workloads/scenario/session.ts";
import { scenarioError } from "../../../workloads/scenario/testKit.ts";

/** A runs `x` (PROT_EXEC alone, faulted in by an instruction fetch); `y` (PROT_EXEC) untouched. */
const scenario = (keys: string, tail: string) => {
  const r = runScenario(`machine arch=arm64 ram=64M ${keys}
spawn A
A: x = mmap 4K prot=x
A: y = mmap 4K prot=x
A: exec x
${tail}`);
  expect(
    r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`),
  ).toEqual([]);
  return r;
};
const out = (r: ReturnType<typeof runScenario>, i: number) => r.statements[i].output.join("\n");

describe("FEAT_EPAN: PROT_EXEC alone", () => {
  it("epan=on: PAGE_EXECONLY (AP[2:1]=10, UXN clear); EL0's read is SEGV_ACCERR, its fetch runs", () => {
    const r = scenario(
      "epan=on",
      "explain A x read\nA: catch SIGSEGV\nA: read x\nexpect A.si_code == SEGV_ACCERR\nA: exec x\n",
    );
    const ex = out(r, 5);
    expect(ex).toMatch(/L3 .* page AP\[2:1\]=10 AF nG PXN AttrIndx/);
    expect(ex).not.toMatch(/UXN/);
    expect(ex).toMatch(/DFSC = 0x0f: permission fault, level 3/);
    expect(ex).toMatch(/access_error: the VMA does not allow a read: SIGSEGV, si_code SEGV_ACCERR/);
    expect(out(r, 9)).not.toMatch(/SIGSEGV/);
  });

  it("epan off (6.12 without ARM64_HAS_EPAN): PAGE_READONLY_EXEC (AP[2:1]=11), EL0 reads it", () => {
    const r = scenario("", "explain A x read\nA: read x\nexpect byte(A, x) == 0\n");
    const ex = out(r, 5);
    expect(ex).toMatch(/L3 .* page AP\[2:1\]=11 AF nG PXN AttrIndx/);
    expect(ex).not.toMatch(/SEGV/);
    expect(out(r, 6)).not.toMatch(/SIGSEGV/);
  });

  it("a read fault in an exec-only VMA: allowed without EPAN (exec implies read), SEGV_ACCERR with it", () => {
    const tail = "A: catch SIGSEGV\nA: read y\n";
    expect(out(scenario("epan=on", tail), 6)).toMatch(/SIGSEGV \(SEGV_ACCERR\)/);
    expect(out(scenario("epan=off", tail), 6)).not.toMatch(/SIGSEGV/);
  });

  it("copy_from_user (LDTR, EL0's rights) of an execute-only page: all bytes left with EPAN, none without", () => {
    const tail = "kernel: n = copy_from_user A x 16\nkernel: m = copy_from_user A y 16\n";
    expect(scenario("epan=on", `${tail}expect n == 16\nexpect m == 16\n`).expectations.length).toBe(2);
    expect(scenario("", `${tail}expect n == 0\nexpect m == 0\n`).expectations.length).toBe(2);
  });
});

describe("FEAT_EPAN: PSTATE.PAN and an execute-only page", () => {
  it("PAN with EPAN refuses the kernel's read; explain names SCTLR_EL1.EPAN and the oops 6.12 prints", () => {
    const r = scenario("epan=on", "explain kernel x read\nkernel: read x\n");
    const ex = out(r, 5);
    expect(ex).toMatch(/PSTATE\.PAN=1 SCTLR_EL1\.EPAN=1 SCTLR_EL1\.WXN=0/);
    expect(ex).toMatch(
      /PSTATE\.PAN=1 and SCTLR_EL1\.EPAN=1 \(FEAT_PAN3\): EL0 may execute the page \(UXN=0, AP\[2:1\]=10: execute-only\)/,
    );
    expect(ex).toMatch(
      /"Unable to handle kernel access to user memory outside uaccess routines at virtual address 0000/,
    );
    const oops = out(r, 6);
    expect(oops).toMatch(/^Unable to handle kernel access to user memory outside uaccess routines/);
    expect(oops).toMatch(/ESR = 0x000000009600000f/);
    expect(oops).toMatch(/FSC = 0x0f: level 3 permission fault/);
  });

  it("without EPAN the same read is refused because EL0 may read the page (PAGE_READONLY_EXEC)", () => {
    const r = scenario("", "explain kernel x read\n");
    const ex = out(r, 5);
    expect(ex).toMatch(/SCTLR_EL1\.EPAN=0/);
    expect(ex).toMatch(/PSTATE\.PAN=1 and EL0 may read the page \(AP\[1\]=1\)/);
    expect(ex).not.toMatch(/FEAT_PAN3/);
  });

  it("PAN clear: EL1 reads an execute-only page (AP[2:1]=10 is read-only at EL1)", () => {
    const r = scenario("epan=on", "kernel: pan off\nkernel: read x\n");
    expect(out(r, 6)).not.toMatch(/Unable to handle/);
  });

  it("an untouched exec-only VMA: do_page_fault wants VM_READ or VM_WRITE with EPAN (bad_area, a paging request oops)", () => {
    const on = scenario("epan=on", "explain kernel y read\nkernel: read y\n");
    expect(out(on, 5)).toMatch(/has VM_READ or VM_WRITE, and the access retries/);
    expect(out(on, 6)).toMatch(/^Unable to handle kernel paging request at virtual address/);
    // without: VM_EXEC suffices, handle_mm_fault maps it, the retry meets PAN
    const off = scenario("", "explain kernel y read\nkernel: read y\n");
    expect(out(off, 5)).toMatch(/has VM_READ or VM_WRITE or VM_EXEC \(no EPAN: exec implies read\)/);
    expect(out(off, 6)).toMatch(/^Unable to handle kernel access to user memory outside uaccess routines/);
  });

  it("epan is arm64's: an error at the key elsewhere", () => {
    expect(scenarioError("machine arch=x86_64 epan=on\n")).toMatch(/s\.vm:1:\d+: .*epan.*FEAT_PAN3/);
    expect(scenarioError("machine arch=riscv-sv39 epan=on\n")).toMatch(/epan/);
  });
});

describe("FEAT_EPAN: gup_fast and an execute-only page", () => {
  // pte_access_permitted (arch/arm64/include/asm/pgtable.h) wants PTE_VALID and PTE_USER: "For
  // execute-only mappings, like PROT_EXEC with EPAN (both PTE_USER and PTE_UXN bits not set) must
  // return false"; the slow path's check_vma_flags then refuses a read of a VMA without VM_READ
  const pin = (keys: string, tail: string) =>
    runScenario(`machine arch=arm64 ram=64M ${keys}
spawn A
A: x = mmap 4K prot=rwx
A: write x
A: mprotect x 4K prot=x
kernel: n = pin_user_pages A x 1 fast
${tail}`);
  const failed = (r: ReturnType<typeof runScenario>) =>
    r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`);

  it("epan=on: PAGE_EXECONLY has no PTE_USER, gup_fast stops, the slow path is -EFAULT", () => {
    const r = pin("epan=on", "expect n == -14\n");
    expect(failed(r)).toEqual([]);
    expect(r.expectations.length).toBe(1);
  });

  it("without EPAN: PAGE_READONLY_EXEC has PTE_USER, gup_fast pins it (no VMA looked at)", () => {
    const r = pin("", "expect n == 1\nkernel: unpin_user_pages n\n");
    expect(failed(r)).toEqual([]);
    expect(r.expectations.length).toBe(1);
  });
});
