/**
 * Memory protection keys as Linux 6.18 runs them on x86-64 (this machine's
 * CPU has no PKU, so no differential test: each case cites its source).
 * mm/mprotect.c sys_pkey_alloc, sys_pkey_free, do_mprotect_pkey;
 * arch/x86/include/asm/pkeys.h mm_pkey_alloc, mm_pkey_is_allocated;
 * arch/x86/mm/pkeys.c __execute_only_pkey, __arch_override_mprotect_pkey,
 * init_pkru_value; arch/x86/kernel/fpu/xstate.c arch_set_user_pkey_access;
 * arch/x86/kernel/process.c copy_thread, process_64.c x86_pkru_load;
 * arch/x86/mm/fault.c access_error, bad_area_access_error; SDM Vol. 3A §4.6.2.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Cpu } from "../../hw/arch/x86_64/Cpu.ts";
import { PfErr } from "../../hw/arch/x86_64/fault.ts";
import { PteHi } from "../../hw/arch/x86_64/pte.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { Errno } from "../mm/internal.ts";
import { mmapArgs } from "../mm/userMm.ts";
import { vmaPkey } from "../mm/vma.ts";
import type { Task } from "./task.ts";

const PAGE = 4096n;
const RW = { r: true, w: true, x: false };
const R = { r: true, w: false, x: false };
const X = { r: false, w: false, x: true };
const RWX = { r: true, w: true, x: true };
/** init_pkru_value: every key but 0 access-disabled */
const INIT = 0x55555554;
const DISABLE_ACCESS = 1;
const DISABLE_WRITE = 2;

function boot(pku = true, cpus = 1) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus, pku });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t, cpu: k.machine.cpus[0] as Cpu };
}

const vpn = (va: bigint) => Number(va / PAGE);
const keyOfVma = (t: Task, va: bigint) => vmaPkey(t.mm!.vmaAt(vpn(va))!.vmFlags);
function pteKey(k: Kernel, t: Task, va: bigint): number {
  const e = k.userMm.readPte(t.mm!, vpn(va))!;
  return (e.hi & PteHi.PKEY_MASK) >>> PteHi.PKEY_SHIFT;
}
const pkru = (k: Kernel, t: Task) => k.view.task(t).pkru;

describe("without PKU (pku=off, as on this machine)", () => {
  it("pkey_alloc is -EINVAL, then -ENOSPC; pkey_free(0) and pkey_mprotect(key 0) -EINVAL; pkey -1 is mprotect (measured on Linux 6.18)", () => {
    // a zeroed mm: pkey_allocation_map 0, execute_only_pkey 0. mm_pkey_alloc finds key 0,
    // arch_set_user_pkey_access fails (no OSPKE): -EINVAL; mm_pkey_free refuses key 0 (it is
    // "the execute-only key"), so it stays taken and the next call finds none: -ENOSPC
    const { k, t } = boot(false);
    const a = k.mmap(t, mmapArgs(8192, { prot: RW }));
    expect(k.pkeyAlloc(t, 0, 0)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyAlloc(t, 0, 0), "key 0 was never freed").toBe(BigInt(-Errno.ENOSPC));
    expect(k.pkeyAlloc(k.fork(t, "C")!, 0, 0), "dup_mm copies the map").toBe(BigInt(-Errno.ENOSPC));
    expect(k.pkeyAlloc(k.spawn("D")!, 0, 0), "an exec'd mm starts zeroed").toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyFree(t, 0)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyMprotect(t, a, PAGE, R, 0)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyMprotect(t, a, PAGE, R, -1)).toBe(0n);
    expect(
      k.view.smaps(t).every((s) => s.protectionKey === null),
      "no ProtectionKey line",
    ).toBe(true);
  });

  it("WRPKRU is #UD without CR4.PKE: SIGILL", () => {
    const { k, t } = boot(false);
    k.catchSignal(t, "SIGILL");
    expect(k.wrpkru(t, 0)).toBe(false);
    expect([t.signal, t.siCode]).toEqual(["SIGILL", "ILL_ILLOPN"]);
  });
});

describe("pkey_alloc and pkey_free", () => {
  it("hands out the lowest free key, sets its rights in the caller's PKRU, and -ENOSPC after key 15", () => {
    const { k, t, cpu } = boot();
    expect(cpu.cr4Pke).toBe(true);
    expect(pkru(k, t), "an exec'd process starts from init_pkru_value").toBe(INIT);
    expect(k.pkeyAlloc(t, 0, DISABLE_WRITE)).toBe(1n);
    // arch_set_user_pkey_access: key 1's AD cleared, WD set
    expect(cpu.pkru).toBe(((INIT & ~0xc) | 0x8) >>> 0);
    expect(k.pkeyAlloc(t, 0, 0)).toBe(2n);
    expect((cpu.pkru >>> 4) & 3, "key 2: full access").toBe(0);
    expect(k.pkeyAlloc(t, 0, DISABLE_ACCESS | DISABLE_WRITE)).toBe(3n);
    expect((cpu.pkru >>> 6) & 3).toBe(3);
    for (let key = 4; key < 16; key++) expect(k.pkeyAlloc(t, 0, 0)).toBe(BigInt(key));
    expect(k.pkeyAlloc(t, 0, 0)).toBe(BigInt(-Errno.ENOSPC));
  });

  it("refuses flags and unknown rights with -EINVAL, allocating nothing", () => {
    const { k, t } = boot();
    expect(k.pkeyAlloc(t, 1, 0)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyAlloc(t, 0, 4)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyAlloc(t, 0, 0)).toBe(1n);
  });

  it("pkey_free makes a key reusable; a key not allocated is -EINVAL", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(8192, { prot: RW }));
    expect(k.pkeyAlloc(t, 0, 0)).toBe(1n);
    expect(k.pkeyAlloc(t, 0, 0)).toBe(2n);
    expect(k.pkeyFree(t, 1)).toBe(0n);
    expect(k.pkeyFree(t, 1)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyFree(t, 7)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyFree(t, 16)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyMprotect(t, a, PAGE, RW, 1), "a freed key").toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyAlloc(t, 0, 0), "the lowest free key again").toBe(1n);
    expect(k.pkeyMprotect(t, a, PAGE, RW, 1)).toBe(0n);
  });
});

describe("pkey_mprotect: VMAs and PTEs carry the key", () => {
  it("splits the VMA, rewrites present PTEs, new faults take the VMA's key, mprotect keeps it, key 0 merges again", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(4 * 4096, { prot: RW }));
    k.userAccess(0, t, a, Access.Write, 1);
    const vmas = t.mm!.vmas.length;
    const key = Number(k.pkeyAlloc(t, 0, 0));
    expect(k.pkeyMprotect(t, a, 2n * PAGE, RW, key)).toBe(0n);
    expect(t.mm!.vmas.length, "split at a+2 pages").toBe(vmas + 1);
    expect(keyOfVma(t, a)).toBe(key);
    expect(keyOfVma(t, a + 2n * PAGE)).toBe(0);
    expect(pteKey(k, t, a), "the present PTE rewritten").toBe(key);
    k.userAccess(0, t, a + PAGE, Access.Write, 2);
    expect(pteKey(k, t, a + PAGE), "do_anonymous_page: vm_get_page_prot's key bits").toBe(key);
    k.userAccess(0, t, a + 2n * PAGE, Access.Write, 3);
    expect(pteKey(k, t, a + 2n * PAGE)).toBe(0);
    // a plain mprotect keeps the VMA's key (arch_override_mprotect_pkey: vma_pkey)
    expect(k.mprotect(t, a, 2n * PAGE, R)).toBe(0n);
    expect(keyOfVma(t, a)).toBe(key);
    expect(pteKey(k, t, a)).toBe(key);
    expect(k.mprotect(t, a, 2n * PAGE, RW)).toBe(0n);
    // back to key 0: the VMAs are mergeable again (every vm_flags bit equal)
    expect(k.pkeyMprotect(t, a, 2n * PAGE, RW, 0)).toBe(0n);
    expect(t.mm!.vmas.length).toBe(vmas);
    expect(pteKey(k, t, a)).toBe(0);
  });

  it("mlock, munlock and MADV_GUARD_INSTALL rewrite vm_flags and keep the key (bits 32..35)", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(2 * 4096, { prot: RW }));
    const key = Number(k.pkeyAlloc(t, 0, 0));
    expect(k.pkeyMprotect(t, a, 2n * PAGE, RW, key)).toBe(0n);
    expect(k.mlock(t, a, PAGE, false)).toBe(0n);
    expect(keyOfVma(t, a)).toBe(key);
    expect(k.munlock(t, a, PAGE)).toBe(0n);
    expect(k.madvise(t, a + PAGE, PAGE, "guard_install")).toBe(0n);
    expect(keyOfVma(t, a)).toBe(key);
    expect(keyOfVma(t, a + PAGE)).toBe(key);
  });

  it("mprotect to PROT_EXEC alone uses the execute-only key; leaving it returns to key 0", () => {
    const { k, t, cpu } = boot();
    k.catchSignal(t, "SIGSEGV");
    const a = k.mmap(t, mmapArgs(8192, { prot: RWX }));
    k.userAccess(0, t, a, Access.Write, 1);
    expect(k.mprotect(t, a, PAGE, X)).toBe(0n);
    // __execute_only_pkey: the first free key, access-disabled in PKRU
    expect(keyOfVma(t, a)).toBe(1);
    expect(t.mm!.executeOnlyPkey).toBe(1);
    expect(cpu.pkru & (3 << 2)).toBe(1 << 2);
    expect(k.userAccess(0, t, a, Access.Exec).ok, "a fetch: keys never apply").toBe(true);
    const r = k.userAccess(0, t, a, Access.Read);
    expect(r.ok).toBe(false);
    expect([t.siCode, t.siPkey]).toEqual(["SEGV_PKUERR", 1]);
    // not available to the user interfaces (mm_pkey_is_allocated)
    expect(k.pkeyFree(t, 1)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyMprotect(t, a + PAGE, PAGE, RW, 1)).toBe(BigInt(-Errno.EINVAL));
    expect(k.pkeyAlloc(t, 0, 0), "key 1 is taken").toBe(2n);
    // vma_is_pkey_exec_only and prot != PROT_EXEC: ARCH_DEFAULT_PKEY
    expect(k.mprotect(t, a, PAGE, R)).toBe(0n);
    expect(keyOfVma(t, a)).toBe(0);
    expect(k.userAccess(0, t, a, Access.Read).ok).toBe(true);
  });

  it("mmap with PROT_EXEC alone gets the execute-only key too (do_mmap)", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(4096, { prot: X }));
    expect(keyOfVma(t, a)).toBe(1);
    const b = k.mmap(t, mmapArgs(4096, { prot: R }));
    expect(keyOfVma(t, b)).toBe(0);
  });
});

describe("faults: PKRU on every data access", () => {
  it("a write through a write-disabled key: #PF with PK, SIGSEGV SEGV_PKUERR with si_pkey", () => {
    const { k, t, cpu } = boot();
    k.catchSignal(t, "SIGSEGV");
    const a = k.mmap(t, mmapArgs(4096, { prot: RW }));
    k.userAccess(0, t, a, Access.Write, 1);
    const key = Number(k.pkeyAlloc(t, 0, DISABLE_WRITE));
    expect(k.pkeyMprotect(t, a, PAGE, RW, key)).toBe(0n);
    expect(k.userAccess(0, t, a, Access.Read).ok, "reads allowed").toBe(true);
    const before = cpu.faultsByKind.pkey;
    const r = k.userAccess(0, t, a, Access.Write, 2);
    expect(r.ok).toBe(false);
    expect(cpu.faultsByKind.pkey).toBe(before + 1);
    expect(cpu.errorCode & PfErr.PK).toBe(PfErr.PK);
    expect([t.signal, t.siCode, t.siAddr, t.siPkey]).toEqual(["SIGSEGV", "SEGV_PKUERR", a, key]);
    const back = k.userAccess(0, t, a, Access.Read);
    expect(back.ok && back.value, "nothing written").toBe(1);
  });

  it("PKRU is checked on a TLB hit: WRPKRU denies and allows again with no walk and no new fault", () => {
    const { k, t, cpu } = boot();
    k.catchSignal(t, "SIGSEGV");
    const a = k.mmap(t, mmapArgs(4096, { prot: RW }));
    const key = Number(k.pkeyAlloc(t, 0, 0));
    expect(k.pkeyMprotect(t, a, PAGE, RW, key)).toBe(0n);
    k.userAccess(0, t, a, Access.Write, 5);
    const walks = cpu.walks;
    expect(k.userAccess(0, t, a, Access.Read).faults, "a TLB hit").toBe(0);
    expect(cpu.walks).toBe(walks);
    // WRPKRU: key 1 access-disabled. The TLB entry stays; the hit is refused.
    expect(k.wrpkru(t, cpu.pkru | (1 << (2 * key)))).toBe(true);
    const walksBefore = cpu.walks;
    expect(k.userAccess(0, t, a, Access.Read).ok).toBe(false);
    expect(cpu.walks, "refused on the hit, before any walk").toBe(walksBefore);
    expect(t.siCode).toBe("SEGV_PKUERR");
    // allowed again: no fault (the PTE never changed); a write too, WD clear
    expect(k.wrpkru(t, cpu.pkru & ~(3 << (2 * key)))).toBe(true);
    const w = k.userAccess(0, t, a, Access.Write, 6);
    expect(w.ok && w.faults).toBe(0);
  });

  it("a not-present page of an access-disabled key: SEGV_PKUERR and nothing mapped (arch_vma_access_permitted)", () => {
    const { k, t, cpu } = boot();
    k.catchSignal(t, "SIGSEGV");
    const a = k.mmap(t, mmapArgs(4096, { prot: RW }));
    const key = Number(k.pkeyAlloc(t, 0, DISABLE_ACCESS));
    expect(k.pkeyMprotect(t, a, PAGE, RW, key)).toBe(0n);
    const before = cpu.faultsByKind.pkey;
    expect(k.userAccess(0, t, a, Access.Read).ok).toBe(false);
    expect(cpu.faultsByKind.pkey, "a not-present fault, no PK bit").toBe(before);
    expect([t.siCode, t.siPkey]).toEqual(["SEGV_PKUERR", key]);
    expect(k.view.mm(t)!.rss, "handle_mm_fault never ran").toBe(0);
  });

  it("instruction fetches are not checked (SDM §4.6.2)", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(4096, { prot: RWX }));
    const key = Number(k.pkeyAlloc(t, 0, DISABLE_ACCESS));
    expect(k.pkeyMprotect(t, a, PAGE, RWX, key)).toBe(0n);
    expect(k.userAccess(0, t, a, Access.Exec).ok).toBe(true);
  });

  it("get_user_pages checks the key too: mlock of an access-disabled key populates nothing (check_vma_flags)", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(4 * 4096, { prot: RW }));
    const key = Number(k.pkeyAlloc(t, 0, DISABLE_ACCESS));
    expect(k.pkeyMprotect(t, a, 4n * PAGE, RW, key)).toBe(0n);
    // __mm_populate's -EFAULT becomes mlock's -ENOMEM (__mlock_posix_error_return)
    expect(k.mlock(t, a, 4n * PAGE, false)).toBe(BigInt(-Errno.ENOMEM));
    expect(k.view.mm(t)!.rss).toBe(0);
    expect(k.wrpkru(t, k.view.task(t).pkru & ~(3 << (2 * key)))).toBe(true);
    expect(k.mlock(t, a, 4n * PAGE, false)).toBe(0n);
    expect(k.view.mm(t)!.rss).toBe(4);
  });

  it("copy_to_user obeys PKRU too: the fault goes to the fixup, -EFAULT", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(4096, { prot: RW }));
    k.userAccess(0, t, a, Access.Write, 1);
    const key = Number(k.pkeyAlloc(t, 0, DISABLE_WRITE));
    expect(k.pkeyMprotect(t, a, PAGE, RW, key)).toBe(0n);
    const r = k.uaccess.copy(0, a, 16, true, () => 7);
    expect(r.notCopied).toBe(16);
    expect(t.alive, "no signal: the kernel's fault is fixed up").toBe(true);
    expect(k.uaccess.copy(0, a, 16, false, () => 0).notCopied, "reads allowed").toBe(0);
  });
});

describe("PKRU per thread", () => {
  it("is saved and restored at context switches (x86_pkru_load)", () => {
    const { k, t, cpu } = boot();
    const b = k.spawn("B")!;
    expect(k.wrpkru(t, 0x0000000c)).toBe(true);
    k.switchTo(0, b);
    expect(cpu.pkru, "B's own value").toBe(INIT);
    expect(k.wrpkru(b, 0x30)).toBe(true);
    expect(pkru(k, t), "A's saved copy").toBe(0xc);
    k.switchTo(0, t);
    expect(cpu.pkru).toBe(0xc);
    expect(pkru(k, b)).toBe(0x30);
  });

  it("fork copies the parent's register, keys and VMA keys; a thread shares the keys", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(4096, { prot: RW }));
    k.userAccess(0, t, a, Access.Write, 1);
    const key = Number(k.pkeyAlloc(t, 0, DISABLE_WRITE));
    expect(k.pkeyMprotect(t, a, PAGE, RW, key)).toBe(0n);
    const parent = pkru(k, t);
    const child = k.fork(t, "C")!;
    expect(pkru(k, child), "copy_thread: read_pkru()").toBe(parent);
    expect(keyOfVma(child as Task, a)).toBe(key);
    expect(pteKey(k, child as Task, a)).toBe(key);
    expect(k.pkeyAlloc(child, 0, 0), "arch_dup_pkeys: key 1 taken in the child too").toBe(2n);
    expect(k.pkeyFree(child, key)).toBe(0n);
    expect(k.pkeyFree(t, key), "the parent's map is its own").toBe(0n);
    const th = k.thread(t, "T")!;
    expect(pkru(k, th)).toBe(parent);
    expect(k.pkeyAlloc(th, 0, 0)).toBe(1n);
    expect(k.pkeyAlloc(t, 0, 0), "the same mm: key 1 is the thread's").toBe(2n);
  });

  it("a kernel thread starts from init_pkru_value", () => {
    const { k } = boot();
    expect(pkru(k, k.kthread("kt") as Task)).toBe(INIT);
  });
});

describe("smaps", () => {
  it("ProtectionKey per VMA where the CPU has keys; no VmFlags letter for the key bits", () => {
    const { k, t } = boot();
    const a = k.mmap(t, mmapArgs(8192, { prot: RW }));
    const before = k.view.smaps(t).find((s) => s.vma.start === a)!.mnemonics;
    const key = Number(k.pkeyAlloc(t, 0, 0));
    expect(k.pkeyMprotect(t, a, PAGE, RW, key)).toBe(0n);
    const s = k.view.smaps(t);
    expect(s.find((x) => x.vma.start === a)!.protectionKey).toBe(key);
    expect(s.find((x) => x.vma.start === a + PAGE)!.protectionKey).toBe(0);
    expect(s.find((x) => x.vma.start === a)!.mnemonics).toEqual(before);
  });
});
