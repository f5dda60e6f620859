/**
 * The kernel/user boundary against Linux 6.12, architecture by
 * architecture: access_ok's limit (TASK_SIZE_MAX), strncpy_from_user's
 * word, the copy routines' results at the edges. Every figure is derived
 * by hand from the 6.12 sources named in each test.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import type { KernelArchName } from "./core/config.ts";
import type { TaskHandle } from "./core/task.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/mmap.ts";

function boot(arch: KernelArchName) {
  const k = new Kernel({ arch, ramBytes: 64 << 20, cpus: 1 });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t };
}

/** MAP_FIXED of `pages` pages at `addr`, each written once (present, writable). */
function mapAt(k: Kernel, t: TaskHandle, addr: bigint, pages: number): void {
  // the stack may sit there: unmap whatever is in the range first
  k.munmap(t, addr, BigInt(pages * 4096));
  expect(k.mmap(t, mmapArgs(pages * 4096, { addr: Number(addr), fixed: true }))).toBe(addr);
  for (let i = 0; i < pages; i++) k.userAccess(0, t, addr + BigInt(i * 4096), Access.Write, 0x41);
}

describe("access_ok's limit is TASK_SIZE_MAX", () => {
  // arch/x86/include/asm/uaccess_64.h __access_ok: sum = ptr + size must be <= USER_PTR_MAX,
  // which arch_cpu_finalize_init sets to TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE: the guard page
  // below the non-canonical hole is not a user range
  it("x86-64: a copy reaching into the guard page at 0x7ffffffff000 fails access_ok, nothing copied", () => {
    const { k, t } = boot("x86_64");
    const last = 0x7fff_ffff_e000n; // TASK_SIZE_MAX - PAGE_SIZE: the last user page
    mapAt(k, t, last, 1);
    const r = k.uaccess.copy(0, last, 8192, true, () => 0x5a);
    expect([r.notCopied, r.accessOkFailed, r.faults]).toEqual([8192, true, 0]);
    expect(k.userAccess(0, t, last, Access.Read)).toMatchObject({ ok: true, value: 0x41 });
    const c = k.uaccess.clear(0, last + 4000n, 100);
    expect([c.notCopied, c.accessOkFailed]).toEqual([100, true]);
    // ending exactly at TASK_SIZE_MAX is fine: sum == USER_PTR_MAX
    const ok = k.uaccess.copy(0, last, 4096, true, () => 0x5a);
    expect([ok.notCopied, ok.accessOkFailed]).toEqual([0, false]);
    expect(k.userAccess(0, t, last + 4095n, Access.Read)).toMatchObject({ ok: true, value: 0x5a });
  });

  it("x86-64 with LA57: TASK_SIZE_MAX is (1 << 56) - PAGE_SIZE", () => {
    const { k, t } = boot("x86_64-la57");
    const last = (1n << 56n) - 8192n;
    mapAt(k, t, last, 1);
    expect(k.uaccess.copy(0, last, 4097, true, () => 1).notCopied).toBe(4097);
    expect(k.uaccess.copy(0, last, 4096, true, () => 1).notCopied).toBe(0);
  });

  // arch/riscv/include/asm/pgtable.h: TASK_SIZE_MAX is LONG_MAX on RV64, so access_ok
  // (asm-generic) lets a range run past TASK_SIZE; the copy stops at the first byte there
  // (handle_page_fault: no VMA, bad_area_nosemaphore, no_context: the fixup), having copied
  // the bytes below it
  it("RISC-V Sv39: a copy crossing TASK_SIZE passes access_ok and copies up to TASK_SIZE", () => {
    const { k, t } = boot("riscv-sv39");
    const last = 0x40_0000_0000n - 4096n; // TASK_SIZE_64 (1 << 38) - PAGE_SIZE
    mapAt(k, t, last, 1);
    // the copy reaches TASK_SIZE, 4000 bytes in; the routine reports its 64-byte blocks: the
    // block at 3968 holds the fault, so 3968 copied (below: "a short copy reports ...")
    const r = k.uaccess.copy(0, last + 96n, 8192, true, () => 0x5a);
    expect([r.notCopied, r.accessOkFailed, r.fixedUp]).toEqual([8192 - 3968, false, true]);
    expect(k.userAccess(0, t, last + 4095n, Access.Read)).toMatchObject({ ok: true, value: 0x5a });
    const c = k.uaccess.clear(0, last + 4000n, 200);
    expect([c.notCopied, c.accessOkFailed]).toEqual([104, false]);
    // a kernel address (above LONG_MAX) still fails access_ok
    const kern = k.uaccess.copy(0, 0xffff_ffd8_0000_0000n, 8, false, () => 0);
    expect(kern.accessOkFailed).toBe(true);
    expect(t.alive).toBe(true);
    expect(k.oopses.length).toBe(0);
  });
});

describe("access_ok on RV32 (riscv-sv32)", () => {
  // arch/riscv/include/asm/pgtable.h defines TASK_SIZE_MAX for CONFIG_64BIT only (LONG_MAX), so
  // asm-generic/access_ok.h's `#define TASK_SIZE_MAX TASK_SIZE` holds: FIXADDR_START, 0x9c800000
  it("a copy reaching past TASK_SIZE fails access_ok, nothing copied; one ending at it passes", () => {
    const { k, t } = boot("riscv-sv32");
    const last = 0x9c80_0000n - 4096n;
    mapAt(k, t, last, 1);
    const r = k.uaccess.copy(0, last, 8192, true, () => 0x5a);
    expect([r.notCopied, r.accessOkFailed]).toEqual([8192, true]);
    const ok = k.uaccess.copy(0, last, 4096, true, () => 0x5a);
    expect([ok.notCopied, ok.accessOkFailed]).toEqual([0, false]);
    expect(k.userAccess(0, t, last + 4095n, Access.Read)).toMatchObject({ ok: true, value: 0x5a });
  });
});

describe("strncpy_from_user reads words of sizeof(long), aligned where unaligned access is slow", () => {
  // "abc\0" at page offset 4090 of a present page, the next page mapped but never touched
  const probe = (arch: KernelArchName, at = 4090, text = "abc\0") => {
    const { k, t } = boot(arch);
    const buf = k.mmap(t, mmapArgs(8192));
    text.split("").forEach((ch, i) => {
      k.userAccess(0, t, buf + BigInt(at + i), Access.Write, ch.charCodeAt(0));
    });
    const before = t.minFlt;
    const r = k.uaccess.strncpy(0, buf + BigInt(at), 16);
    return { ret: r.ret, faults: t.minFlt - before };
  };

  it("x86-64 and arm64 (HAVE_EFFICIENT_UNALIGNED_ACCESS, 8-byte words): the word at 4090 faults the next page in", () => {
    expect(probe("x86_64")).toEqual({ ret: 3, faults: 1 });
    expect(probe("arm64")).toEqual({ ret: 3, faults: 1 });
  });

  it("i386: a 4-byte word [4090, 4094) holds the NUL, the next page is not touched", () => {
    expect(probe("i386")).toEqual({ ret: 3, faults: 0 });
    // "a\0" at 4094: the first 4-byte word [4094, 4098) straddles, the next page is faulted in
    expect(probe("i386", 4094, "a\0")).toEqual({ ret: 1, faults: 1 });
  });

  it("RISC-V (no efficient unaligned access): an unaligned source goes byte at a time; an aligned one by words", () => {
    expect(probe("riscv-sv39")).toEqual({ ret: 3, faults: 0 });
    expect(probe("riscv-sv39", 4091)).toEqual({ ret: 3, faults: 0 });
    // aligned at 4088: one word [4088, 4096), never past the page
    expect(probe("riscv-sv39", 4088)).toEqual({ ret: 3, faults: 0 });
  });
});

describe("a kernel-mode instruction fetch from a user address", () => {
  // arch/x86/mm/fault.c do_user_addr_fault: (error_code & (X86_PF_USER | X86_PF_INSTR)) ==
  // X86_PF_INSTR is page_fault_oops at once, before the SMAP check and the VMA lookup
  it("x86-64 with SMEP and SMAP off: a not-present user page is an oops (0x10), never faulted in", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, smap: false, smep: false });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const buf = k.mmap(t, mmapArgs(8192, { prot: { r: true, w: true, x: true } }));
    const r = k.kernelAccess(0, buf, Access.Exec);
    expect(r.ok).toBe(false);
    expect(t.minFlt).toBe(0);
    expect(k.oopses.length).toBe(1);
    expect(k.log.join("\n")).toMatch(/#PF: error_code\(0x0010\) - not-present page/);
    // a page already present and executable: no fault at all, SMEP off lets the fetch through
    const u = k.spawn("B")!;
    k.switchTo(0, u);
    const ubuf = k.mmap(u, mmapArgs(4096, { prot: { r: true, w: true, x: true } }));
    k.userAccess(0, u, ubuf, Access.Write, 0x90);
    expect(k.kernelAccess(0, ubuf, Access.Exec)).toMatchObject({ ok: true, value: 0x90 });
  });
});

describe("get_user_pages' check_vma_flags", () => {
  // mm/gup.c check_vma_flags ends with arch_vma_access_permitted(vma, write, false, foreign):
  // a key the caller's PKRU denies refuses the VMA before any fault; __get_user_pages with
  // FOLL_MADV_POPULATE turns a refused VMA into -EINVAL (madvise_populate returns it)
  it("MADV_POPULATE_READ/WRITE of an access-disabled key: -EINVAL, nothing populated", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, pku: true });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const rw = { r: true, w: true, x: false };
    const a = k.mmap(t, mmapArgs(2 * 4096, { prot: rw }));
    const key = Number(k.pkeyAlloc(t, 0, 1 /* PKEY_DISABLE_ACCESS */));
    expect(k.pkeyMprotect(t, a, 8192n, rw, key)).toBe(0n);
    expect(k.madvise(t, a, 8192n, "populate_read")).toBe(-22n);
    expect(k.madvise(t, a, 8192n, "populate_write")).toBe(-22n);
    expect([k.view.mm(t)!.rss, t.minFlt]).toEqual([0, 0]);
    // and the key opened again: populated
    expect(k.wrpkru(t, k.view.task(t).pkru & ~(3 << (2 * key)))).toBe(true);
    expect(k.madvise(t, a, 8192n, "populate_read")).toBe(0n);
  });
});

describe("system calls on user buffers", () => {
  // fs/read_write.c vfs_read / vfs_write: access_ok(buf, count) on the whole buffer before any
  // I/O; a buffer reaching past TASK_SIZE_MAX is -EFAULT even where its first page is mapped
  it("x86-64: read(2) and write(2) of 8 KiB at the last user page are -EFAULT, nothing moved", () => {
    const { k, t } = boot("x86_64");
    const f = k.createFile("f", 4 * 4096, "disk"); // filemap_read copies page by page
    const last = 0x7fff_ffff_e000n;
    k.munmap(t, last, 4096n);
    expect(k.mmap(t, mmapArgs(4096, { addr: Number(last), fixed: true }))).toBe(last);
    const flt = t.minFlt;
    expect(k.fileIo(0, f, last, 8192, false)).toBe(-14);
    expect(k.fileIo(0, f, last, 8192, true)).toBe(-14);
    expect(t.minFlt - flt).toBe(0); // the buffer was never touched
    // the same read of 4 KiB ends at TASK_SIZE_MAX: it goes through
    expect(k.fileIo(0, f, last, 4096, false)).toBe(4096);
  });

  it("RISC-V Sv39: a read(2) crossing TASK_SIZE passes access_ok (LONG_MAX) and returns the bytes below it", () => {
    const { k, t } = boot("riscv-sv39");
    const f = k.createFile("f", 4 * 4096, "disk");
    const last = 0x40_0000_0000n - 4096n;
    mapAt(k, t, last, 1);
    expect(k.fileIo(0, f, last, 8192, false)).toBe(4096);
  });
});

describe("get_user_pages' FOLL_TOUCH with FOLL_WRITE", () => {
  // mm/gup.c follow_page_pte: FOLL_TOUCH on a present PTE; with FOLL_WRITE, a clean PTE on a
  // page not PageDirty gets set_page_dirty. A page swapped in by a read is mapped writable and
  // clean, its swap copy still valid (do_swap_page keeps the swap cache): reclaim drops it
  // without a write. After mlock (populate_vma_page_range: FOLL_TOUCH | FOLL_WRITE on a private
  // writable VMA) or MADV_POPULATE_WRITE it is dirty: reclaim must write it again (pswpout + 1)
  const swappedInByRead = () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 16 << 20 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(4096));
    k.userAccess(0, t, a, Access.Write, 7);
    k.madvise(t, a, 4096n, "pageout");
    expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 7 });
    return { k, t, a };
  };

  it("no GUP: the clean swap-cache page is dropped without a write", () => {
    const { k, t, a } = swappedInByRead();
    expect(k.swap!.pswpout).toBe(1);
    k.madvise(t, a, 4096n, "pageout");
    expect(k.swap!.pswpout).toBe(1);
  });

  it("mlock, munlock, pageout: written again", () => {
    const { k, t, a } = swappedInByRead();
    expect(k.mlock(t, a, 4096n, false)).toBe(0n);
    expect(k.munlock(t, a, 4096n)).toBe(0n);
    k.madvise(t, a, 4096n, "pageout");
    expect(k.swap!.pswpout).toBe(2);
    expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 7 });
  });

  it("MADV_POPULATE_WRITE, pageout: written again; MADV_POPULATE_READ leaves it clean", () => {
    const w = swappedInByRead();
    expect(w.k.madvise(w.t, w.a, 4096n, "populate_write")).toBe(0n);
    w.k.madvise(w.t, w.a, 4096n, "pageout");
    expect(w.k.swap!.pswpout).toBe(2);
    const r = swappedInByRead();
    expect(r.k.madvise(r.t, r.a, 4096n, "populate_read")).toBe(0n);
    r.k.madvise(r.t, r.a, 4096n, "pageout");
    expect(r.k.swap!.pswpout).toBe(1);
  });
});

describe("get_user_pages' FOLL_TOUCH on a huge PMD", () => {
  // mm/gup.c follow_huge_pmd: FOLL_TOUCH is touch_pmd (the PMD made young, and dirty with
  // FOLL_WRITE); unlike follow_page_pte it never calls mark_page_accessed on the folio
  it("MADV_POPULATE_READ over a mapped THP leaves the folio's PG_referenced alone", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, thp: "always" });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(4 << 20));
    const h = (a + (2n << 20n) - 1n) & ~((2n << 20n) - 1n); // the 2M-aligned page inside
    k.userAccess(0, t, h, Access.Write, 1);
    const leaf = k.userMm.leafFor(t.mm!, Number(h / 4096n))!;
    expect(leaf.level).toBe(k.arch.pgtable.pmdLevel);
    const head = leaf.pfn;
    const before = k.vmscan.referenced[head];
    expect(k.madvise(t, h, 2n << 20n, "populate_read")).toBe(0n);
    expect(k.madvise(t, h, 2n << 20n, "populate_read")).toBe(0n);
    expect(k.vmscan.referenced[head]).toBe(before);
  });
});

describe("a short copy reports what the architecture's routine computes", () => {
  // buf: 3 pages, the first written (present), the second `prot` (read-only or PROT_NONE)
  const setup = (arch: KernelArchName, prot: "r" | "none") => {
    const { k, t } = boot(arch);
    const buf = k.mmap(t, mmapArgs(3 * 4096));
    for (let i = 0; i < 3; i++) k.userAccess(0, t, buf + BigInt(i * 4096), Access.Write, 0x11);
    k.mprotect(t, buf + 4096n, 4096n, { r: prot === "r", w: false, x: false });
    return { k, t, buf };
  };
  const to = (k: Kernel, at: bigint, n: number) => k.uaccess.copy(0, at, n, true, () => 0x22).notCopied;
  const from = (k: Kernel, at: bigint, n: number) => k.uaccess.copy(0, at, n, false, () => 0).notCopied;

  it("x86-64 (rep movsb, byte loops): exactly the bytes before the fault", () => {
    const { k, buf } = setup("x86_64", "r");
    expect(to(k, buf + 4000n, 200)).toBe(104);
    expect(to(k, buf + 4004n, 200)).toBe(108);
    expect(k.uaccess.clear(0, buf + 4001n, 200).notCopied).toBe(105);
    const n = setup("x86_64", "none");
    expect(from(n.k, n.buf, 8192)).toBe(4096);
    expect(from(n.k, n.buf + 4094n, 12)).toBe(10);
  });

  // arch/arm64/lib/copy_template.S with copy_to_user.S / copy_from_user.S: bytes not copied =
  // end - dst, dst advanced after each whole 16-byte pair
  it("arm64 copy_to_user: a pair straddling the fault is not counted", () => {
    const { k, t, buf } = setup("arm64", "r");
    // 200 bytes from an aligned kernel buffer: 128+ bytes, .Lcpy_body_large; f = 92; the
    // pair at dst 80 reaches 96 > 92 and faults: dst = 80, 120 not copied
    expect(to(k, buf + 4004n, 200)).toBe(120);
    // the user bytes the pairs before it wrote are there
    expect(k.userAccess(0, t, buf + 4083n, Access.Read)).toMatchObject({ ok: true, value: 0x22 });
    // f = 96 = 6 pairs: exact
    expect(to(k, buf + 4000n, 200)).toBe(104);
  });

  it("arm64 copy_from_user: the loads run 64 bytes ahead of the stores", () => {
    const { k, buf } = setup("arm64", "none");
    // 8192 from a page-aligned source: the 4 pairs loaded ahead, then store, load, ...; the
    // load at 4096 comes after the store that took dst to 4048: 8192 - 4048 not copied
    expect(from(k, buf, 8192)).toBe(4144);
    // 12 bytes at 4094 (f = 2): .Ltiny15's 8-byte load faults before any store; the fixup
    // tries one byte harder (ldtrb, strb): 1 copied, 11 not
    expect(from(k, buf + 4094n, 12)).toBe(11);
    // 16 at 4088 (f = 8): the 8-byte alignment load, then the 8-byte load faults: exact
    expect(from(k, buf + 4088n, 16)).toBe(8);
  });

  // arch/arm64/lib/clear_user.S: 8-byte STTRs from the start, whatever its alignment
  it("arm64 clear_user: the 8-byte store straddling the fault is not counted", () => {
    const { k, buf } = setup("arm64", "r");
    // 200 at 4001 (f = 95): stores at 0, 8, ..., 88 (88..95 fits), 96? no: 88 + 8 = 96 > 95
    // faults: 88 cleared, 112 not
    expect(k.uaccess.clear(0, buf + 4001n, 200).notCopied).toBe(112);
    expect(k.uaccess.clear(0, buf + 4000n, 200).notCopied).toBe(104);
  });

  // arch/riscv/lib/uaccess.S fallback_scalar_usercopy_sum_enabled: a0 advanced per 64-byte
  // block in the word copy, per word in the shifting copy
  it("RISC-V copy_to_user: a fault inside a 64-byte block reports the block not copied", () => {
    const { k, buf } = setup("riscv-sv39", "r");
    // 200 at 4000 (8-aligned, f = 96), kernel source aligned: blocks at 0 and 64; the store
    // at 96 in the second faults: a0 = 64, 136 not copied
    expect(to(k, buf + 4000n, 200)).toBe(136);
    // under 71 bytes: byte by byte, exact
    expect(to(k, buf + 4064n, 70)).toBe(38);
    // a kernel source at 8k+4 (as a page-cache offset): the shifting copy stores word by word
    expect(k.uaccess.copy(0, buf + 4000n, 200, true, () => 1, undefined, 4).notCopied).toBe(104);
  });

  it("RISC-V copy_from_user with an unaligned source: the shifting copy stops a word short", () => {
    const { k, buf } = setup("riscv-sv39", "none");
    // an aligned source: 64-byte blocks end on the page boundary: exact
    expect(from(k, buf, 8192)).toBe(4096);
    // from buf+3 (f = 4093): the aligned source word at 4096 is loaded before the store of
    // the destination word at 4088: a0 = 4088, 8192 - 4088 not copied
    expect(from(k, buf + 3n, 8192)).toBe(4104);
  });
});

describe("put_user of 8 bytes on a 32-bit kernel", () => {
  // arch/x86/lib/putuser.S __put_user_8: on CONFIG_X86_32 two movs, the low word at ptr, the
  // high word at ptr+4, each with its own exception-table entry
  const straddle = (arch: KernelArchName) => {
    const { k, t } = boot(arch);
    const buf = k.mmap(t, mmapArgs(2 * 4096));
    k.userAccess(0, t, buf, Access.Write, 0);
    k.userAccess(0, t, buf + 4096n, Access.Write, 0);
    k.mprotect(t, buf + 4096n, 4096n, { r: true, w: false, x: false });
    const r = k.uaccess.put(0, buf + 4092n, 8, 0x1122334455667788n);
    const low = [0, 1, 2, 3].map((i) => k.userAccess(0, t, buf + 4092n + BigInt(i), Access.Read));
    return { ret: r.ret, low: low.map((x) => (x.ok ? x.value : -1)) };
  };

  it("i386: the high word's store faults after the low word was written: -EFAULT, 4 bytes changed", () => {
    expect(straddle("i386")).toEqual({ ret: -14, low: [0x88, 0x77, 0x66, 0x55] });
  });

  it("x86-64: one movq, nothing written", () => {
    expect(straddle("x86_64")).toEqual({ ret: -14, low: [0, 0, 0, 0] });
  });
});
