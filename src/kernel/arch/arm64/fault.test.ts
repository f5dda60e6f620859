/**
 * The arm64 fault path and oops text against Linux v6.12
 * arch/arm64/mm/fault.c, esr.h and kernel/traps.c. Expected lines are
 * written out by hand from the pr_alert formats.
 */
import { describe, expect, it } from "vitest";
import { abortEsr, ESR_CLASS_STR, esrClassString, esrFscIsTranslationFault, Fsc, fscFault } from "./esr.ts";
import {
  dataAbortDecode,
  dieKernelFault,
  doKernelFault,
  doMemAbortEl1,
  FAULT_INFO,
  faultVmFlags,
  memAbortDecode,
  type ShowPteContext,
  showPte,
  threadEsr,
  userFaultSignal,
} from "./fault.ts";

/** A physical memory of 8-byte entries for show_pte. */
function tables(
  entries: [number, bigint][],
  userPgdPa = 0x4000_1000,
  swapperPgdPa = 0x4100_0000,
): ShowPteContext {
  const m = new Map(entries);
  return {
    activeMmIsInitMm: false,
    userPgdPa,
    swapperPgdPa,
    read: (pa) => {
      const v = m.get(pa) ?? 0n;
      return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
    },
  };
}
const idx = (addr: bigint, shift: bigint) => Number((addr >> shift) & 511n);
const TABLE_PXN = 1n << 59n;
const TABLE_UXN = 1n << 60n;
const PAGE_READONLY = 0x0060_0000_0000_0fc3n; // _PAGE_DEFAULT|USER|RDONLY|NG, PXN|UXN
const PAGE_KERNEL = 0x0068_0000_0000_0703n; // PROT_NORMAL: TYPE_PAGE|AF|SHARED, PXN|UXN|WRITE (no nG: not KPTI)
/** A user mapping of `addr` through tables at 0x40002000.. to frame `pa`, its leaf `pte`. */
function userWalk(addr: bigint, pte: bigint): [number, bigint][] {
  return [
    [0x4000_1000 + idx(addr, 39n) * 8, 0x4000_2000n | 3n | TABLE_PXN],
    [0x4000_2000 + idx(addr, 30n) * 8, 0x4000_3000n | 3n | TABLE_PXN],
    [0x4000_3000 + idx(addr, 21n) * 8, 0x4000_4000n | 3n | TABLE_PXN],
    [0x4000_4000 + idx(addr, 12n) * 8, pte],
  ];
}

describe("fault_info[]", () => {
  it("has 64 rows; every 'unknown N' is row N", () => {
    expect(FAULT_INFO.length).toBe(64);
    FAULT_INFO.forEach((f, i) => {
      if (f.name.startsWith("unknown ")) expect(f.name).toBe(`unknown ${i}`);
    });
  });
  it.each([
    [0x00, "do_bad", "SIGKILL", "SI_KERNEL", "ttbr address size fault"],
    [0x04, "do_translation_fault", "SIGSEGV", "SEGV_MAPERR", "level 0 translation fault"],
    [0x07, "do_translation_fault", "SIGSEGV", "SEGV_MAPERR", "level 3 translation fault"],
    [0x08, "do_page_fault", "SIGSEGV", "SEGV_ACCERR", "level 0 access flag fault"],
    [0x0b, "do_page_fault", "SIGSEGV", "SEGV_ACCERR", "level 3 access flag fault"],
    [0x0c, "do_page_fault", "SIGSEGV", "SEGV_ACCERR", "level 0 permission fault"],
    [0x0f, "do_page_fault", "SIGSEGV", "SEGV_ACCERR", "level 3 permission fault"],
    [0x10, "do_sea", "SIGBUS", "BUS_OBJERR", "synchronous external abort"],
    [0x11, "do_tag_check_fault", "SIGSEGV", "SEGV_MTESERR", "synchronous tag check fault"],
    [0x13, "do_sea", "SIGKILL", "SI_KERNEL", "level -1 (translation table walk)"],
    [0x17, "do_sea", "SIGKILL", "SI_KERNEL", "level 3 (translation table walk)"],
    [0x18, "do_sea", "SIGBUS", "BUS_OBJERR", "synchronous parity or ECC error"],
    [0x1b, "do_sea", "SIGKILL", "SI_KERNEL", "level -1 synchronous parity error (translation table walk)"],
    [0x1f, "do_sea", "SIGKILL", "SI_KERNEL", "level 3 synchronous parity error (translation table walk)"],
    [0x21, "do_alignment_fault", "SIGBUS", "BUS_ADRALN", "alignment fault"],
    [0x29, "do_bad", "SIGKILL", "SI_KERNEL", "level -1 address size fault"],
    [0x2b, "do_translation_fault", "SIGSEGV", "SEGV_MAPERR", "level -1 translation fault"],
    [0x30, "do_bad", "SIGKILL", "SI_KERNEL", "TLB conflict abort"],
    [0x31, "do_bad", "SIGKILL", "SI_KERNEL", "Unsupported atomic hardware update fault"],
    [0x34, "do_bad", "SIGKILL", "SI_KERNEL", "implementation fault (lockdown abort)"],
    [0x35, "do_bad", "SIGBUS", "BUS_OBJERR", "implementation fault (unsupported exclusive)"],
    [0x3d, "do_bad", "SIGKILL", "SI_KERNEL", "section domain fault"],
    [0x3e, "do_bad", "SIGKILL", "SI_KERNEL", "page domain fault"],
    [0x3f, "do_bad", "SIGKILL", "SI_KERNEL", "unknown 63"],
  ])("FSC 0x%s", (fsc, fn, sig, code, name) => {
    expect(FAULT_INFO[fsc]).toEqual({ fn, sig, code, name });
  });
  it("counts handlers as Linux's table does", () => {
    const n = (fn: string) => FAULT_INFO.filter((f) => f.fn === fn).length;
    expect([n("do_translation_fault"), n("do_page_fault"), n("do_sea"), n("do_bad")]).toEqual([5, 8, 12, 37]);
  });
});

describe("ESR helpers", () => {
  it("builds and names the abort classes", () => {
    expect(abortEsr("data", 0, 7)).toBe(0x92000007);
    expect(abortEsr("data", 1, 4, { wnr: true })).toBe(0x96000044);
    expect(abortEsr("instruction", 0, 0xf)).toBe(0x8200000f);
    expect(abortEsr("instruction", 1, 0xf)).toBe(0x8600000f);
    expect(ESR_CLASS_STR.length).toBe(64);
    expect(esrClassString(0x92000007)).toBe("DABT (lower EL)");
    expect(esrClassString(0x96000004)).toBe("DABT (current EL)");
    expect(esrClassString(0x82000007)).toBe("IABT (lower EL)");
    expect(esrClassString(0x86000007)).toBe("IABT (current EL)");
    expect(esrClassString(0x02 << 26)).toBe("UNRECOGNIZED EC");
  });
  it("ESR_ELx_FSC_FAULT_L(n) and the translation-fault test include level -1", () => {
    expect([-1, 0, 1, 2, 3].map(fscFault)).toEqual([0x2b, 4, 5, 6, 7]);
    expect([0x2b, 4, 7, 8, 0x2c].map(esrFscIsTranslationFault)).toEqual([true, true, true, false, false]);
  });
  it("do_page_fault's vm_flags: exec for EL0 fetches, write for writes (not CM), else read|write(|exec without EPAN)", () => {
    expect(faultVmFlags(abortEsr("instruction", 0, 7))).toEqual({
      vmFlags: 4,
      write: false,
      instruction: true,
    });
    expect(faultVmFlags(abortEsr("data", 0, 7, { wnr: true }))).toEqual({
      vmFlags: 2,
      write: true,
      instruction: false,
    });
    expect(faultVmFlags(abortEsr("data", 0, 7, { wnr: true, cm: true })).vmFlags).toBe(7);
    expect(faultVmFlags(abortEsr("data", 0, 7)).vmFlags).toBe(7);
    expect(faultVmFlags(abortEsr("data", 0, 7), true).vmFlags).toBe(3);
  });
  it("set_thread_esr hides kernel addresses' faults as level 0 translation faults", () => {
    const esr = abortEsr("data", 0, 0xf, { wnr: true }) | (1 << 24) | (3 << 16);
    expect(threadEsr(0xffff_0000_1234_0000n, esr)).toBe(0x92000044);
    expect(threadEsr(0xffff_0000_1234_0000n, abortEsr("instruction", 0, 0xf))).toBe(0x82000004);
    expect(threadEsr(0x1234_0000n, esr)).toBe(esr >>> 0);
  });
});

describe("a user translation fault at level 3, read (EL0)", () => {
  const esr = abortEsr("data", 0, fscFault(3));
  it("is decoded as Linux prints it", () => {
    expect(esr).toBe(0x92000007);
    expect(memAbortDecode(esr)).toEqual([
      "Mem abort info:",
      "  ESR = 0x0000000092000007",
      "  EC = 0x24: DABT (lower EL), IL = 32 bits",
      "  SET = 0, FnV = 0",
      "  EA = 0, S1PTW = 0",
      "  FSC = 0x07: level 3 translation fault",
      "Data abort info:",
      "  ISV = 0, ISS = 0x00000007, ISS2 = 0x00000000",
      "  CM = 0, WnR = 0, TnD = 0, TagAccess = 0",
      "  GCS = 0, Overlay = 0, DirtyBit = 0, Xs = 0",
    ]);
  });
  it("raises SIGSEGV SEGV_MAPERR without a VMA, SEGV_ACCERR without the right, SIGBUS BUS_ADRERR from the fault", () => {
    expect(userFaultSignal(esr, "badmap")).toEqual({ signal: "SIGSEGV", code: "SEGV_MAPERR" });
    expect(userFaultSignal(esr, "badaccess")).toEqual({ signal: "SIGSEGV", code: "SEGV_ACCERR" });
    expect(userFaultSignal(esr, "sigbus")).toEqual({ signal: "SIGBUS", code: "BUS_ADRERR" });
    expect(userFaultSignal(abortEsr("data", 0, 0x21), "badmap")).toEqual({
      signal: "SIGBUS",
      code: "BUS_ADRALN",
    });
  });
});

describe("EL1 faults", () => {
  const ctx = { pan: true, inUaccess: false, hasMm: true };
  const user = 0x0000_aaaa_b000_1000n;

  it("a plain kernel read of a user page under PAN: access to user memory outside uaccess routines", () => {
    const esr = abortEsr("data", 1, Fsc.PERM + 3);
    expect(doMemAbortEl1(user, esr, ctx)).toEqual({
      action: "die",
      msg: "access to user memory outside uaccess routines",
    });
    // the same fault in copy_from_user goes on to handle_mm_fault (which finds nothing to do: the exception table fixes it up)
    expect(doMemAbortEl1(user, esr, { ...ctx, inUaccess: true })).toEqual({
      action: "do_page_fault",
      vmFlags: 7,
      write: false,
    });
    expect(doKernelFault(user, esr, { ...ctx, inUaccess: true })).toEqual({ action: "fixup" });
    const lines = dieKernelFault(
      "access to user memory outside uaccess routines",
      user,
      esr,
      tables(userWalk(user, PAGE_READONLY | 0xb123_4000n)),
      1,
    );
    expect(lines).toEqual([
      "Unable to handle kernel access to user memory outside uaccess routines at virtual address 0000aaaab0001000",
      "Mem abort info:",
      "  ESR = 0x000000009600000f",
      "  EC = 0x25: DABT (current EL), IL = 32 bits",
      "  SET = 0, FnV = 0",
      "  EA = 0, S1PTW = 0",
      "  FSC = 0x0f: level 3 permission fault",
      "Data abort info:",
      "  ISV = 0, ISS = 0x0000000f, ISS2 = 0x00000000",
      "  CM = 0, WnR = 0, TnD = 0, TagAccess = 0",
      "  GCS = 0, Overlay = 0, DirtyBit = 0, Xs = 0",
      "user pgtable: 4k pages, 48-bit VAs, pgdp=0000000040001000",
      "[0000aaaab0001000] pgd=0800000040002003, p4d=0800000040002003, pud=0800000040003003, pmd=0800000040004003, pte=00600000b1234fc3",
      "Internal error: Oops: 000000009600000f [#1] PREEMPT SMP",
    ]);
  });

  it("an instruction fetch from a user page (PXN): execution of user memory, no data abort info", () => {
    const esr = abortEsr("instruction", 1, Fsc.PERM + 3);
    expect(doMemAbortEl1(user, esr, { ...ctx, inUaccess: true })).toEqual({
      action: "die",
      msg: "execution of user memory",
    });
    const lines = dieKernelFault(
      "execution of user memory",
      user,
      esr,
      tables(userWalk(user, PAGE_READONLY)),
      2,
    );
    expect(lines.slice(0, 7)).toEqual([
      "Unable to handle kernel execution of user memory at virtual address 0000aaaab0001000",
      "Mem abort info:",
      "  ESR = 0x000000008600000f",
      "  EC = 0x21: IABT (current EL), IL = 32 bits",
      "  SET = 0, FnV = 0",
      "  EA = 0, S1PTW = 0",
      "  FSC = 0x0f: level 3 permission fault",
    ]);
    expect(lines[7]).toBe("user pgtable: 4k pages, 48-bit VAs, pgdp=0000000040001000");
    expect(lines[9]).toBe("Internal error: Oops: 000000008600000f [#2] PREEMPT SMP");
  });

  it("an instruction fetch from a PXN kernel page: execute from non-executable memory, swapper's tables", () => {
    const kva = 0xffff_0000_4100_0000n; // the linear map
    const esr = abortEsr("instruction", 1, Fsc.PERM + 2);
    expect(doMemAbortEl1(kva, esr, ctx)).toEqual({
      action: "die",
      msg: "execute from non-executable memory",
    });
    expect(doMemAbortEl1(kva, esr, { ...ctx, hasMm: false })).toEqual({
      action: "die",
      msg: "execute from non-executable memory",
    });
    const sw = 0x4100_0000;
    const pte = tables([
      [sw + idx(kva, 39n) * 8, 0x4100_1000n | 3n | TABLE_UXN],
      [0x4100_1000 + idx(kva, 30n) * 8, 0x4100_2000n | 3n | TABLE_UXN],
      [0x4100_2000 + idx(kva, 21n) * 8, (PAGE_KERNEL & ~2n) | 0x4100_0000n], // a 2 MiB block
    ]);
    expect(showPte(kva, pte)).toEqual([
      "swapper pgtable: 4k pages, 48-bit VAs, pgdp=0000000041000000",
      "[ffff000041000000] pgd=1000000041001003, p4d=1000000041001003, pud=1000000041002003, pmd=0068000041000701",
    ]);
  });

  it("a NULL pointer dereference: a level 0 translation fault no VMA resolves", () => {
    const esr = abortEsr("data", 1, fscFault(0));
    expect(doMemAbortEl1(0n, esr, ctx)).toEqual({ action: "do_page_fault", vmFlags: 7, write: false });
    expect(doKernelFault(0n, esr, ctx)).toEqual({ action: "die", msg: "NULL pointer dereference" });
    // a kernel thread (no mm) goes to no_context at once
    expect(doMemAbortEl1(0x10n, esr, { ...ctx, hasMm: false })).toEqual({
      action: "die",
      msg: "NULL pointer dereference",
    });
    expect(dieKernelFault("NULL pointer dereference", 0n, esr, tables([]), 3)).toEqual([
      "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000",
      "Mem abort info:",
      "  ESR = 0x0000000096000004",
      "  EC = 0x25: DABT (current EL), IL = 32 bits",
      "  SET = 0, FnV = 0",
      "  EA = 0, S1PTW = 0",
      "  FSC = 0x04: level 0 translation fault",
      "Data abort info:",
      "  ISV = 0, ISS = 0x00000004, ISS2 = 0x00000000",
      "  CM = 0, WnR = 0, TnD = 0, TagAccess = 0",
      "  GCS = 0, Overlay = 0, DirtyBit = 0, Xs = 0",
      "user pgtable: 4k pages, 48-bit VAs, pgdp=0000000040001000",
      "[0000000000000000] pgd=0000000000000000, p4d=0000000000000000",
      "Internal error: Oops: 0000000096000004 [#3] PREEMPT SMP",
    ]);
  });

  it("a write to a read-only kernel page, and a paging request to nowhere", () => {
    const kva = 0xffff_8000_8000_1000n;
    expect(doMemAbortEl1(kva, abortEsr("data", 1, Fsc.PERM + 3, { wnr: true }), ctx)).toEqual({
      action: "die",
      msg: "write to read-only memory",
    });
    expect(doMemAbortEl1(kva, abortEsr("data", 1, fscFault(2)), ctx)).toEqual({
      action: "die",
      msg: "paging request",
    });
    expect(doMemAbortEl1(kva, abortEsr("data", 1, fscFault(2)), { ...ctx, atSpurious: true })).toEqual({
      action: "spurious",
    });
    expect(doMemAbortEl1(kva, abortEsr("data", 1, 0x30), ctx)).toEqual({
      action: "die",
      msg: "TLB conflict abort",
    });
    expect(doMemAbortEl1(kva, abortEsr("data", 1, 0x10), ctx)).toEqual({
      action: "notify_die",
      name: "synchronous external abort",
    });
  });

  it("software PAN turns a user translation fault with PAN set into a permission fault", () => {
    const esr = abortEsr("data", 1, fscFault(3));
    const sw = { ...ctx, ttbr0Pan: true };
    expect(doMemAbortEl1(user, esr, sw)).toEqual({
      action: "die",
      msg: "access to user memory outside uaccess routines",
    });
    expect(doMemAbortEl1(user, esr, { ...sw, pan: false }).action).toBe("do_page_fault");
  });
});

describe("show_pte's special cases and data_abort_decode's syndrome", () => {
  it("a user address while active_mm is init_mm, and the hole between the halves", () => {
    expect(showPte(0x1000n, { ...tables([]), activeMmIsInitMm: true })).toEqual([
      "[0000000000001000] user address but active_mm is swapper",
    ]);
    expect(showPte(0x8000_0000_0000_0000n, tables([]))).toEqual([
      "[8000000000000000] address between user and kernel address ranges",
    ]);
  });
  it("ISV = 1: access size, SSE/SRT, SF/AR; ISS2 fields", () => {
    const esr = abortEsr("data", 1, 7, { wnr: true }) | (1 << 24) | (2 << 22) | (5 << 16) | (1 << 15);
    const iss2 = (1 << 10) | (1 << 6) | (1 << 5) | 3;
    expect(dataAbortDecode(esr >>> 0, iss2)).toEqual([
      "Data abort info:",
      "  Access size = 4 byte(s)",
      "  SSE = 0, SRT = 5",
      "  SF = 1, AR = 0",
      "  CM = 0, WnR = 1, TnD = 1, TagAccess = 0",
      "  GCS = 0, Overlay = 1, DirtyBit = 1, Xs = 3",
    ]);
    expect(memAbortDecode(esr >>> 0, iss2)[1]).toBe("  ESR = 0x0000046397858047");
  });
});
