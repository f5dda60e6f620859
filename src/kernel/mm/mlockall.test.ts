/**
 * mlockall and munlockall as Linux 6.12 runs them (mm/mlock.c sys_mlockall,
 * apply_mlockall_flags, sys_munlockall): the errno rules, mm->def_flags and
 * the mappings that pick it up (do_mmap, do_brk_flags, not a forked child:
 * mm_init), the population (mm_populate(0, TASK_SIZE); none on fault), and
 * what the views show (VmLck, Mlocked, smaps Locked).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { Errno } from "./internal.ts";
import { Mcl } from "./mlock.ts";
import { mmapArgs } from "./userMm.ts";
import { VmFlag } from "./vma.ts";

const PAGE = 4096n;
const LOCK_MASK = VmFlag.LOCKED | VmFlag.LOCKONFAULT;

function setup(uid = 0) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
  const t = k.spawn("A", uid)!;
  k.switchTo(0, t);
  return { k, t };
}

const vpnOf = (va: bigint) => Number(va / PAGE);
const lockFlags = (t: Task, va: bigint) => (t.mm!.vmaAt(vpnOf(va))?.vmFlags ?? -1) & LOCK_MASK;
function presentPages(k: Kernel, t: Task, va: bigint, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const e = k.userMm.readPte(t.mm!, vpnOf(va) + i);
    if (e !== null && k.arch.pgtable.present(e.hi, e.lo)) c++;
  }
  return c;
}
const mlocked = (k: Kernel) => k.view.meminfo().Mlocked / 4096;
const vmLckPages = (k: Kernel, t: Task) => k.view.status(t).mem!.vmLck / 4096;
const totalVm = (t: Task) => t.mm!.totalVm();

describe("mlockall's errors", () => {
  it("EINVAL: no flag, an unknown bit, MCL_ONFAULT alone (nothing changes)", () => {
    const { k, t } = setup();
    for (const f of [0, 8, Mcl.ONFAULT, Mcl.CURRENT | 16])
      expect(k.mlockall(t, f), `flags ${f}`).toBe(BigInt(-Errno.EINVAL));
    expect(t.mm!.defFlags).toBe(0);
    expect(vmLckPages(k, t)).toBe(0);
  });

  it("EPERM with RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK (also for MCL_FUTURE alone); uid 0 may", () => {
    const u = setup(1000);
    expect(u.k.setrlimit(u.t, "memlock", 0, 0)).toBe(0);
    expect(u.k.mlockall(u.t, Mcl.FUTURE)).toBe(BigInt(-Errno.EPERM));
    expect(u.k.mlockall(u.t, Mcl.CURRENT)).toBe(BigInt(-Errno.EPERM));
    expect(u.t.mm!.defFlags).toBe(0);
    const r = setup(0);
    expect(r.k.setrlimit(r.t, "memlock", 0, 0)).toBe(0);
    expect(r.k.mlockall(r.t, Mcl.CURRENT | Mcl.FUTURE)).toBe(0n);
    expect(vmLckPages(r.k, r.t)).toBe(totalVm(r.t));
  });

  it("ENOMEM for MCL_CURRENT when total_vm (locked pages included) passes RLIMIT_MEMLOCK; MCL_FUTURE alone passes", () => {
    const { k, t } = setup(1000);
    const a = k.mmap(t, mmapArgs(8 * 4096, { privileged: false }));
    expect(k.mlock(t, a, 4n * PAGE, false)).toBe(0n); // already locked pages count again in total_vm
    const total = totalVm(t);
    expect(k.setrlimit(t, "memlock", (total - 1) * 4096, total * 4096)).toBe(0);
    expect(k.mlockall(t, Mcl.CURRENT | Mcl.FUTURE)).toBe(BigInt(-Errno.ENOMEM));
    expect(t.mm!.defFlags).toBe(0); // nothing applied, def_flags neither
    expect(vmLckPages(k, t)).toBe(4);
    expect(k.mlockall(t, Mcl.FUTURE)).toBe(0n);
    expect(t.mm!.defFlags).toBe(VmFlag.LOCKED);
    expect(k.setrlimit(t, "memlock", total * 4096, total * 4096)).toBe(0);
    expect(k.mlockall(t, Mcl.CURRENT)).toBe(0n);
    expect(vmLckPages(k, t)).toBe(total);
    expect(t.mm!.defFlags).toBe(0); // MCL_CURRENT alone clears what MCL_FUTURE set
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("mlockall(MCL_CURRENT)", () => {
  it("locks every VMA and populates it (write faults for private writable memory)", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(10 * 4096));
    const b = k.mmap(t, mmapArgs(6 * 4096, { prot: { r: true, w: false, x: false } }));
    const f0 = t.minFlt;
    const m0 = mlocked(k);
    expect(k.mlockall(t, Mcl.CURRENT)).toBe(0n);
    for (const v of t.mm!.vmas) expect(v.vmFlags & LOCK_MASK, v.name).toBe(VmFlag.LOCKED);
    expect(presentPages(k, t, a, 10)).toBe(10);
    expect(presentPages(k, t, b, 6)).toBe(6);
    const stack = t.mm!.vmas.find((v) => v.name === "[stack]")!;
    expect(t.minFlt - f0).toBe(10 + 6 + stack.pages); // one population fault a page
    expect(vmLckPages(k, t)).toBe(totalVm(t));
    // the read-only mapping's pages are the zero page: mapped, not mlocked (vm_normal_folio)
    expect(mlocked(k) - m0).toBe(10 + stack.pages);
    const smaps = k.view.smaps(t);
    expect(smaps.reduce((n, s) => n + s.locked, 0)).toBe(k.view.status(t).mem!.vmRss);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a PROT_NONE VMA is locked but left empty; the others are populated (mm_populate ignores errors)", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(4 * 4096));
    const n = k.mmap(t, mmapArgs(4 * 4096, { prot: { r: false, w: false, x: false } }));
    expect(n).toBeLessThan(a); // top-down: the population meets the PROT_NONE VMA first
    expect(k.mlockall(t, Mcl.CURRENT)).toBe(0n);
    expect(lockFlags(t, n)).toBe(VmFlag.LOCKED);
    expect(presentPages(k, t, n, 4)).toBe(0);
    expect(presentPages(k, t, a, 4)).toBe(4);
  });

  it("with MCL_ONFAULT: VM_LOCKED | VM_LOCKONFAULT, nothing populated; a touched page is mlocked", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(8 * 4096));
    const f0 = t.minFlt;
    expect(k.mlockall(t, Mcl.CURRENT | Mcl.ONFAULT)).toBe(0n);
    expect(t.minFlt).toBe(f0);
    expect(lockFlags(t, a)).toBe(LOCK_MASK);
    expect(vmLckPages(k, t)).toBe(totalVm(t));
    const m0 = mlocked(k);
    expect(k.userAccess(0, t, a + 2n * PAGE, Access.Write, 1).ok).toBe(true);
    expect(mlocked(k) - m0).toBe(1);
    expect(presentPages(k, t, a, 8)).toBe(1);
  });

  it("mlocks pages already present and does not count them twice", () => {
    const { k, t } = setup();
    const a = k.mmap(t, mmapArgs(6 * 4096));
    for (let i = 0n; i < 6n; i++) k.userAccess(0, t, a + i * PAGE, Access.Write, 1);
    expect(k.mlock(t, a, 2n * PAGE, false)).toBe(0n);
    const m0 = mlocked(k);
    const stackPages = t.mm!.vmas.find((v) => v.name === "[stack]")!.pages;
    const stackPresent = presentPages(k, t, BigInt(t.mm!.stackTop - stackPages) * PAGE, stackPages);
    expect(k.mlockall(t, Mcl.CURRENT)).toBe(0n);
    expect(mlocked(k) - m0).toBe(4 + stackPages); // the 2 already locked stay counted once
    expect(stackPresent).toBeLessThan(stackPages);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("mlockall(MCL_FUTURE): mm->def_flags", () => {
  it("leaves the VMAs there are alone; new mmaps are VM_LOCKED and populated", () => {
    const { k, t } = setup();
    const old = k.mmap(t, mmapArgs(4 * 4096));
    expect(k.mlockall(t, Mcl.FUTURE)).toBe(0n);
    expect(lockFlags(t, old)).toBe(0);
    const f0 = t.minFlt;
    const a = k.mmap(t, mmapArgs(5 * 4096));
    expect(lockFlags(t, a)).toBe(VmFlag.LOCKED);
    expect(presentPages(k, t, a, 5)).toBe(5);
    expect(t.minFlt - f0).toBe(5);
    expect(vmLckPages(k, t)).toBe(5);
  });

  it("with MCL_ONFAULT: new mmaps are VM_LOCKED | VM_LOCKONFAULT and empty, MAP_POPULATE and MAP_LOCKED too", () => {
    const { k, t } = setup();
    expect(k.mlockall(t, Mcl.FUTURE | Mcl.ONFAULT)).toBe(0n);
    const a = k.mmap(t, mmapArgs(5 * 4096));
    const p = k.mmap(t, mmapArgs(5 * 4096, { populate: true }));
    const l = k.mmap(t, mmapArgs(5 * 4096, { locked: true }));
    for (const x of [a, p, l]) {
      expect(lockFlags(t, x)).toBe(LOCK_MASK);
      // populate_vma_page_range returns at once for VM_LOCKONFAULT
      expect(presentPages(k, t, x, 5)).toBe(0);
    }
  });

  it("munlockall unlocks every VMA, munlocks the pages and ends MCL_FUTURE", () => {
    const { k, t } = setup();
    const m0 = mlocked(k);
    expect(k.mlockall(t, Mcl.CURRENT | Mcl.FUTURE)).toBe(0n);
    const a = k.mmap(t, mmapArgs(5 * 4096));
    expect(mlocked(k)).toBeGreaterThan(m0);
    expect(k.munlockall(t)).toBe(0n);
    expect(t.mm!.defFlags).toBe(0);
    for (const v of t.mm!.vmas) expect(v.vmFlags & LOCK_MASK).toBe(0);
    expect(mlocked(k)).toBe(m0);
    expect(vmLckPages(k, t)).toBe(0);
    const b = k.mmap(t, mmapArgs(5 * 4096));
    expect(lockFlags(t, b)).toBe(0);
    expect(presentPages(k, t, b, 5)).toBe(0);
    expect(presentPages(k, t, a, 5)).toBe(5); // unlocking unmaps nothing
    expect(checkInvariants(k)).toEqual([]);
  });

  it("brk: the new heap is locked and populated (sys_brk's mm_populate); on fault, only locked", () => {
    const { k, t } = setup();
    expect(k.mlockall(t, Mcl.FUTURE)).toBe(0n);
    const f0 = t.minFlt;
    const old = k.brk(t, 3n * PAGE);
    expect(old).toBeGreaterThan(0n);
    expect(lockFlags(t, old)).toBe(VmFlag.LOCKED);
    expect(presentPages(k, t, old, 3)).toBe(3);
    expect(t.minFlt - f0).toBe(3);
    expect(k.mlockall(t, Mcl.FUTURE | Mcl.ONFAULT)).toBe(0n);
    const more = k.brk(t, 2n * PAGE);
    expect(lockFlags(t, more)).toBe(LOCK_MASK); // a VMA of its own: the flags differ
    expect(presentPages(k, t, more, 2)).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("RLIMIT_MEMLOCK without CAP_IPC_LOCK: mmap is EAGAIN and brk fails (mlock_future_ok on def_flags)", () => {
    const { k, t } = setup(1000);
    expect(k.setrlimit(t, "memlock", 8 * 4096, 8 * 4096)).toBe(0);
    expect(k.mlockall(t, Mcl.FUTURE)).toBe(0n);
    const a = k.mmap(t, mmapArgs(6 * 4096, { privileged: false }));
    expect(a).toBeGreaterThan(0n);
    expect(k.mmap(t, mmapArgs(3 * 4096, { privileged: false }))).toBe(BigInt(-Errno.EAGAIN));
    expect(k.brk(t, 3n * PAGE)).toBe(BigInt(-Errno.ENOMEM));
    expect(k.brk(t, 2n * PAGE)).toBeGreaterThan(0n);
    expect(vmLckPages(k, t)).toBe(8);
    // without MCL_FUTURE the limit does not apply to plain mappings
    expect(k.munlockall(t)).toBe(0n);
    expect(k.mmap(t, mmapArgs(3 * 4096, { privileged: false }))).toBeGreaterThan(0n);
  });

  it("mremap growth of a locked VMA made under MCL_FUTURE is populated", () => {
    const { k, t } = setup();
    expect(k.mlockall(t, Mcl.FUTURE)).toBe(0n);
    const a = k.mmap(t, mmapArgs(4 * 4096));
    const r = k.mremap(t, a, 4n * PAGE, 8n * PAGE, true, -1n);
    expect(r).toBeGreaterThan(0n);
    expect(lockFlags(t, r)).toBe(VmFlag.LOCKED);
    expect(presentPages(k, t, r, 8)).toBe(8);
  });

  it("HugeTLB mappings are never locked but MCL_FUTURE populates them, even with MCL_ONFAULT", () => {
    const { k, t } = setup();
    k.sysctlHugepages(2);
    expect(k.mlockall(t, Mcl.FUTURE | Mcl.ONFAULT)).toBe(0n);
    const h = k.mmap(t, mmapArgs(2 << 20, { hugetlb: true }));
    expect(h).toBeGreaterThan(0n);
    expect(lockFlags(t, h)).toBe(0);
    expect(k.view.hugepages()["/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"]).toBe(1);
    expect(k.mlockall(t, Mcl.CURRENT)).toBe(0n);
    expect(lockFlags(t, h)).toBe(0); // mlock_fixup skips is_vm_hugetlb_page
    expect(vmLckPages(k, t)).toBe(totalVm(t) - 512);
  });
});

describe("mlockall and VM_SPECIAL mappings", () => {
  it("a device mapping under MCL_FUTURE or MAP_LOCKED is not locked (mmap_region), nor by MCL_CURRENT (mlock_fixup)", () => {
    const { k, t } = setup();
    k.registerDevice("fb", 4 * 4096);
    expect(k.mlockall(t, Mcl.FUTURE)).toBe(0n);
    const d = k.mmap(t, mmapArgs(4 * 4096, { device: k.devices.get("fb")!, shared: true }));
    const l = k.mmap(t, mmapArgs(4 * 4096, { device: k.devices.get("fb")!, shared: true, locked: true }));
    expect(d).toBeGreaterThan(0n);
    expect(l).toBeGreaterThan(0n);
    expect(lockFlags(t, d)).toBe(0);
    expect(lockFlags(t, l)).toBe(0);
    expect(vmLckPages(k, t)).toBe(0);
    expect(k.mlockall(t, Mcl.CURRENT)).toBe(0n);
    expect(lockFlags(t, d)).toBe(0);
    expect(vmLckPages(k, t)).toBe(totalVm(t) - 8);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("mlockall and fork", () => {
  it("the child has no locked VMA and no def_flags (dup_mmap, mm_init); the parent keeps both", () => {
    const { k, t } = setup();
    expect(k.mlockall(t, Mcl.CURRENT | Mcl.FUTURE)).toBe(0n);
    const c = k.fork(t, "child")!;
    expect(k.view.mm(t)!.defFlags).toBe(VmFlag.LOCKED); // what drgn reads as mm->def_flags
    expect(k.view.mm(c)!.defFlags).toBe(0);
    for (const v of c.mm!.vmas) expect(v.vmFlags & LOCK_MASK).toBe(0);
    expect(vmLckPages(k, c)).toBe(0);
    k.switchTo(0, c);
    const a = k.mmap(c, mmapArgs(4 * 4096));
    expect(lockFlags(c, a)).toBe(0);
    expect(presentPages(k, c, a, 4)).toBe(0);
    k.switchTo(0, t);
    const b = k.mmap(t, mmapArgs(4 * 4096));
    expect(lockFlags(t, b)).toBe(VmFlag.LOCKED);
    expect(vmLckPages(k, t)).toBe(totalVm(t));
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("mlockall and the stack", () => {
  it("a locked stack grows locked (its new pages mlocked) until RLIMIT_MEMLOCK stops it (acct_stack_growth)", () => {
    const { k, t } = setup(1000);
    const total = totalVm(t);
    expect(k.setrlimit(t, "memlock", (total + 1) * 4096, (total + 1) * 4096)).toBe(0);
    expect(k.mlockall(t, Mcl.CURRENT)).toBe(0n);
    const stack = t.mm!.vmas.find((v) => v.name === "[stack]")!;
    const low = BigInt(stack.vmStart) * PAGE;
    const m0 = mlocked(k);
    expect(k.userAccess(0, t, low - 1n, Access.Write, 1).ok).toBe(true);
    expect(mlocked(k) - m0).toBe(1);
    expect(vmLckPages(k, t)).toBe(total + 1);
    const c = k.fork(t, "child")!; // the growth that fails is fatal: try it in a child
    k.switchTo(0, c);
    expect(k.mlockall(c, Mcl.CURRENT)).toBe(0n);
    expect(k.userAccess(0, c, low - PAGE - 1n, Access.Write, 1).ok).toBe(false);
    expect(c.signal).toBe("SIGSEGV");
  });
});
