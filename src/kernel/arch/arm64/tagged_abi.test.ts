/**
 * The AArch64 tagged address ABI (Linux 6.12 Documentation/arch/arm64/tagged-address-abi.rst):
 * TCR_EL1.TBI0 lets EL0 dereference a pointer whose top byte is a tag; the kernel
 * - untags the address of the memory-management system calls always (untagged_addr in
 *   munmap, do_mprotect_pkey, do_madvise, do_mlock, munlock, msync, mincore, do_mseal, mremap's
 *   old address; __get_user_pages and __access_remote_vm for another process's memory),
 * - leaves mmap's, brk's and mremap's new address alone (a tag makes them fail),
 * - takes a tagged pointer in a system call that reads or writes user memory (access_ok) only
 *   once the thread enabled the ABI: prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE)
 *   (arch/arm64/kernel/process.c set_tagged_addr_ctrl, asm/uaccess.h access_ok), inherited by
 *   fork and clone.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../../workloads/scenario/session.ts";
import { holds, scenarioError } from "../../../workloads/scenario/testKit.ts";

/** A process with a 16K buffer `a` (its first page written through the tagged alias `t`) and a disk file. */
const BASE = `machine arch=arm64 ram=64M
spawn A
file F size=64K
A: a = mmap 16K
let t = a + 0x5a00000000000000
A: write t value=7
`;
const ENABLE = "A: prctl PR_SET_TAGGED_ADDR_CTRL 1\n";

describe("arm64 tagged address ABI", () => {
  it("prctl: GET reads TIF_TAGGED_ADDR; bits other than PR_TAGGED_ADDR_ENABLE and unused arguments are -EINVAL", () => {
    holds(`${BASE}A: g0 = prctl PR_GET_TAGGED_ADDR_CTRL
A: s = prctl PR_SET_TAGGED_ADDR_CTRL 1
A: g1 = prctl PR_GET_TAGGED_ADDR_CTRL
A: e1 = prctl PR_SET_TAGGED_ADDR_CTRL 2
A: e2 = prctl PR_SET_TAGGED_ADDR_CTRL 1 0 1
A: e3 = prctl PR_GET_TAGGED_ADDR_CTRL 1
A: g2 = prctl 56
A: c = prctl 55 0
A: g3 = prctl PR_GET_TAGGED_ADDR_CTRL
expect g0 == 0
expect s == 0
expect g1 == 1
expect e1 == -22
expect e2 == -22
expect e3 == -22
expect g2 == 1
expect c == 0
expect g3 == 0
`);
  });

  it("x86-64 and RISC-V define no SET_TAGGED_ADDR_CTRL: both options are -EINVAL", () => {
    for (const arch of ["x86_64", "riscv-sv48"])
      holds(
        `machine arch=${arch} ram=64M
spawn A
A: s = prctl PR_SET_TAGGED_ADDR_CTRL 1
A: g = prctl PR_GET_TAGGED_ADDR_CTRL
expect s == -22
expect g == -22
`,
        arch,
      );
  });

  it("sysctl abi.tagged_addr_disabled=1: PR_SET_TAGGED_ADDR_CTRL's enable is -EINVAL, disabling and enabled threads not", () => {
    // arch/arm64/kernel/process.c set_tagged_addr_ctrl: `if (arg & PR_TAGGED_ADDR_ENABLE && tagged_addr_disabled)`
    holds(`${BASE}A: fork B
${ENABLE}d0 = sysctl abi.tagged_addr_disabled=1
B: sb = prctl PR_SET_TAGGED_ADDR_CTRL 1
B: gb = prctl PR_GET_TAGGED_ADDR_CTRL
B: zb = prctl PR_SET_TAGGED_ADDR_CTRL 0
A: ga = prctl PR_GET_TAGGED_ADDR_CTRL
A: w = syscall write F t 8
A: za = prctl PR_SET_TAGGED_ADDR_CTRL 0
A: sa = prctl PR_SET_TAGGED_ADDR_CTRL 1
d1 = sysctl abi.tagged_addr_disabled=0
A: sa2 = prctl PR_SET_TAGGED_ADDR_CTRL 1
expect d0 == 1
expect sb == -22
expect gb == 0
expect zb == 0
expect ga == 1
expect w == 8
expect za == 0
expect sa == -22
expect d1 == 0
expect sa2 == 0
`);
  });

  it("si_addr of a fault at a tagged address: untagged, or the whole FAR with SA_EXPOSE_TAGBITS", () => {
    // do_page_fault: arm64_force_sig_fault(SIGSEGV, si_code, far, ...); kernel/signal.c get_signal:
    // without SA_EXPOSE_TAGBITS hide_si_addr_tag_bits -> arch_untagged_si_addr -> untagged_addr
    holds(`${BASE}A: munmap a+4K 4K
let p = a + 0x5a00000000001000
A: catch SIGSEGV
A: read p
expect A.si_addr == a + 4K
A: catch SIGSEGV expose_tagbits
A: read p
expect A.si_addr == p
expect A.si_code == SEGV_MAPERR
A: fork B
B: read p
expect B.si_addr == p
A: catch SIGSEGV
A: read p
expect A.si_addr == a + 4K
`);
    expect(scenarioError(`${BASE}A: catch SIGSEGV expose\n`)).toMatch(
      /^s\.vm:7:18: catch SIGSEGV\|SIGBUS takes one more word, expose_tagbits/,
    );
  });

  it("a thread shares its group's handlers and their SA_EXPOSE_TAGBITS (CLONE_SIGHAND), set before or after", () => {
    // kernel/fork.c copy_sighand: CLONE_SIGHAND (which CLONE_THREAD needs) shares sighand_struct,
    // so a sigaction by any thread is every thread's; fork copies it (the child's own from then on)
    holds(`${BASE}A: munmap a+4K 4K
let p = a + 0x5a00000000001000
A: thread T
A: catch SIGSEGV expose_tagbits
T: read p
expect T.si_addr == p
T: catch SIGSEGV
A: read p
expect A.si_addr == a + 4K
`);
  });

  it("abi.tagged_addr_disabled takes 0 or 1, and is arm64's file", () => {
    expect(scenarioError(`${BASE}sysctl abi.tagged_addr_disabled=2\n`)).toMatch(
      /^s\.vm:7:33: abi\.tagged_addr_disabled=2: 0 or 1 \(EINVAL/,
    );
    expect(scenarioError("machine arch=x86_64 ram=64M\nsysctl abi.tagged_addr_disabled=1\n")).toMatch(
      /^s\.vm:2:8: abi\.tagged_addr_disabled is arm64's .*no \/proc\/sys\/abi\/tagged_addr_disabled/,
    );
    // the dotted name is one word: a space inside it is not that key
    expect(scenarioError(`${BASE}sysctl abi. tagged_addr_disabled=1\n`)).not.toBe("no error");
  });

  it("fork's child and a thread inherit the flag; clearing it in the parent leaves the child's", () => {
    holds(`${BASE}${ENABLE}A: fork B
A: thread T
A: prctl PR_SET_TAGGED_ADDR_CTRL 0
B: gb = prctl PR_GET_TAGGED_ADDR_CTRL
T: gt = prctl PR_GET_TAGGED_ADDR_CTRL
A: ga = prctl PR_GET_TAGGED_ADDR_CTRL
B: w = syscall write F t 8
expect gb == 1
expect gt == 1
expect ga == 0
expect w == 8
`);
  });

  it("read/write and the uaccess routines refuse a tagged buffer (access_ok) until the ABI is on", () => {
    // the EL0 write went through the tag (TBI0); the kernel's access_ok sees an address past
    // TASK_SIZE_MAX: -EFAULT, nothing copied
    holds(`${BASE}A: w = syscall write F t 8
kernel: c = copy_from_user A t 8
kernel: g = get_user A t size=1
expect w == -14
expect c == 8
expect g == -14
expect file_byte(F, 0) != 7
`);
    // with TIF_TAGGED_ADDR, access_ok untags and the copy's loads go through the tag
    holds(`${BASE}${ENABLE}A: w = syscall write F t 8
kernel: c = copy_to_user A t+4K 8 value=9
kernel: g = get_user A t size=1
A: r = syscall read F t+8K 8
expect w == 8
expect file_byte(F, 0) == 7
expect c == 0
expect byte(A, a+4K) == 9
expect g == 0
expect r == 8
expect byte(A, a+8K) == 7
`);
  });

  it("process_vm_readv: the local buffer needs the ABI, the remote address is untagged by GUP", () => {
    holds(`${BASE}spawn B
B: b = mmap 4K
let tb = b + 0x3c00000000000000
A: r0 = syscall process_vm_readv B a+4K tb 8
A: r1 = syscall process_vm_readv B t+4K b 8
${ENABLE}A: r2 = syscall process_vm_readv B t+4K tb 8
expect r0 == 8
expect r1 == -14
expect r2 == 8
`);
  });

  it("the memory-management calls untag their address with or without the ABI", () => {
    holds(`${BASE}A: r = mprotect t 4K prot=r
A: ml = mlock t+4K 4K
A: mi = mincore t 4K
A: ms = msync t 4K
A: m = madvise t+8K 4K dontneed
A: u = munmap t+12K 4K
A: se = mseal t+4K 4K
A: p = mprotect a+4K 4K prot=r
expect r == 0
expect vm_flags(A, a) == "rd mr mw me ac"
expect ml == 0
expect locked(A, a+4K 4K) == 1
expect mi == 0
expect ms == 0
expect m == 0
expect u == 0
expect vmas(A, a+12K 4K) == 0
expect vmas(A, a 12K) == 3
expect se == 0
expect p == -1
`);
  });

  it("mmap's address and mremap's new address keep the tag and fail; mremap's old address is untagged", () => {
    holds(`${BASE}${ENABLE}A: f = mmap 4K at=t+1G fixed
A: h = mmap 4K at=t+1G
A: x = mremap t 4K 4K maymove to=t+1G
A: y = mremap t 4K 8K maymove
expect f == -12
expect h < 0x1000000000000
expect h > 0
expect x == -22
expect y > 0
expect y < 0x1000000000000
expect byte(A, y) == 7
`);
  });
  it("strncpy_from_user untags src for its limit, then access_ok: a tagged string only with the ABI", () => {
    // lib/strncpy_from_user.c: src_addr = untagged_addr(src) < TASK_SIZE_MAX, then
    // user_read_access_begin(src, max)'s access_ok, which untags only with TIF_TAGGED_ADDR
    holds(`${BASE}kernel: s0 = strncpy_from_user A t 16
${ENABLE}kernel: s1 = strncpy_from_user A t 16
expect s0 == -14
expect s1 == 1
`);
  });

  it("pin_user_pages and pin_user_pages_fast untag the address (__get_user_pages, gup_fast_fallback)", () => {
    // mm/gup.c __get_user_pages: start = untagged_addr_remote(mm, start);
    // gup_fast_fallback: start = untagged_addr(start) & PAGE_MASK; with or without the ABI
    holds(`${BASE}kernel: p = pin_user_pages A t 2
kernel: q = pin_user_pages A t+8K 2 fast
kernel: unpin_user_pages p
kernel: unpin_user_pages q
expect p == 2
expect q == 2
`);
  });
});

describe("explain of an EL0 access through a tagged pointer", () => {
  it("walks TTBR0 as the MMU does under TCR_EL1.TBI0, whatever the tag (0xff too)", () => {
    // Arm ARM D8.8 (address tagging): with TBI0 the top byte takes no part in the translation
    // of an address whose bit 55 is clear; the abort is then do_translation_fault's
    // do_page_fault at untagged_addr(far)
    const out = runScenario(`machine arch=arm64 ram=64M
spawn A
A: a = mmap 16K
let t = a + 0xff00000000000000
explain A t read
`)
      .statements.at(-1)!
      .output.join("\\n");
    expect(out).toMatch(/of 0xff00fffff7ffc000, EL0/);
    expect(out).toMatch(/L0 +\[511\] entry @/);
    expect(out).toMatch(/do_anonymous_page/);
    expect(out).not.toMatch(/neither TTBR0's nor TTBR1's range|do_bad_area/);
  });
});
