/**
 * get_user_pages with pages returned and remote GUP (core/gup_remote.ts,
 * core/process_vm_access.ts): process_vm_readv/writev, /proc/PID/mem with
 * FOLL_FORCE (the Dirty COW fix's semantics), pin_user_pages and what a pin
 * changes (fork copies the page, the refcount bias, vmstat's pin counters).
 * Every figure is derived by hand in the comment beside it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { type TaskHandle, taskOf } from "./core/task.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { migratable } from "./mm/migrate.ts";
import { PageFlag, PageKind } from "./mm/PageDesc.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";

function setup() {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 1 << 20 });
  const a = k.spawn("A")!;
  const b = k.spawn("B")!;
  k.switchTo(0, a);
  // A's buffer: two pages holding (i * 7) & 0xff, filled by copy_to_user (A's two faults)
  const abuf = k.mmap(a, mmapArgs(2 * 4096));
  k.uaccess.copy(0, abuf, 8192, true, (i) => (i * 7) & 0xff);
  return { k, a, b, abuf };
}

/** The frame mapped at va in t (-1: none) and its PTE's write bit. */
function leaf(k: Kernel, t: TaskHandle, va: bigint): { pfn: number; writable: boolean; dirty: boolean } {
  const l = k.userMm.leafFor(taskOf(t).mm!, Number(va / 4096n));
  const pt = k.arch.pgtable;
  if (l === null || !pt.present(l.hi, l.lo)) return { pfn: -1, writable: false, dirty: false };
  return { pfn: l.pfn, writable: pt.write(l.hi, l.lo), dirty: pt.dirty(l.hi, l.lo) };
}

function byteAt(k: Kernel, t: TaskHandle, va: bigint): number {
  const p = leaf(k, t, va).pfn;
  return p < 0 ? -1 : k.machine.phys.read8(p * 4096 + Number(va % 4096n));
}

function vmstat(k: Kernel, name: string): number {
  return k.view.vmstat()[name];
}

describe("process_vm_readv / process_vm_writev", () => {
  it("writev into untouched anonymous pages faults them in, counted against the caller", () => {
    const { k, a, b, abuf } = setup();
    const bbuf = k.mmap(b, mmapArgs(2 * 4096));
    const minA = a.minFlt;
    const pg = vmstat(k, "pgfault");
    // 5000 bytes from B's byte 100: its pages 0 (3996 bytes) and 1 (1004 bytes), both write-faulted
    const r = k.remoteRw(0, b, abuf, bbuf + 100n, 5000, "process_vm_writev");
    expect(r.ret).toBe(5000);
    expect(r.pages).toBe(2);
    // mm_account_fault with regs NULL: current (A) is charged, B is not
    expect([a.minFlt - minA, b.minFlt, vmstat(k, "pgfault") - pg]).toEqual([2, 0, 2]);
    // byte i of the transfer is A's (i * 7) & 0xff: i = 0 -> 0, i = 4999 -> 34993 & 255 = 177
    expect(byteAt(k, b, bbuf + 100n)).toBe(0);
    expect(byteAt(k, b, bbuf + 100n + 4999n)).toBe(177);
    expect(byteAt(k, b, bbuf + 99n)).toBe(0);
    // pin_user_pages_remote pinned both pages and unpinned them: 2 acquired, 2 released, refcount 1
    expect([vmstat(k, "nr_foll_pin_acquired"), vmstat(k, "nr_foll_pin_released")]).toEqual([2, 2]);
    k.vmscan.fbatches.drain(); // the LRU add batch's reference dropped: the PTE's alone
    expect(k.pages.refcount[leaf(k, b, bbuf).pfn]).toBe(1);
    // unpin_user_pages_dirty_lock(.., true): the pages are PG_dirty
    expect(k.pages.flags[leaf(k, b, bbuf).pfn] & PageFlag.Dirty).toBe(PageFlag.Dirty);
    expect(taskOf(b).mm!.hasPinned).toBe(true);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("readv copies out, stops at the first unmapped remote page and returns the bytes done", () => {
    const { k, b, abuf } = setup();
    const bbuf = k.mmap(b, mmapArgs(2 * 4096));
    k.remoteRw(0, b, abuf, bbuf, 8192, "process_vm_writev");
    k.munmap(b, bbuf + 4096n, 4096n);
    // B's page 0 holds A's bytes 0..4095; from B's byte 4000: 96 bytes, then page 1 is gone
    k.uaccess.clear(0, abuf, 8192);
    const r = k.remoteRw(0, b, abuf, bbuf + 4000n, 200, "process_vm_readv");
    expect(r.ret).toBe(96);
    // A's byte 1 now holds B's byte 4001 = (4001 * 7) & 0xff = 28007 & 255 = 103
    const got: number[] = [];
    k.uaccess.copy(
      0,
      abuf + 1n,
      1,
      false,
      () => 0,
      (_i, v) => got.push(v),
    );
    expect(got).toEqual([103]);
    // nothing at all: -EFAULT
    expect(k.remoteRw(0, b, abuf, bbuf + 4096n, 10, "process_vm_readv").ret).toBe(-14);
  });

  it("readv's read pin unshares a target page shared with its child; an untouched one maps the zero page", () => {
    const { k, a, b, abuf } = setup();
    const bbuf = k.mmap(b, mmapArgs(2 * 4096));
    k.remoteRw(0, b, abuf, bbuf, 4096, "process_vm_writev");
    const c = k.fork(b, "C")!;
    const shared = leaf(k, b, bbuf).pfn;
    const minA = a.minFlt;
    // page 0: FOLL_PIN without FOLL_WRITE on a page B shares with C: gup_must_unshare, B gets a
    // read-only copy; page 1 (untouched): a read fault maps the zero page, pinned without a count
    expect(k.remoteRw(0, b, abuf, bbuf, 8192, "process_vm_readv").ret).toBe(8192);
    expect(a.minFlt - minA).toBe(2);
    const l = leaf(k, b, bbuf);
    expect(l.pfn).not.toBe(shared);
    expect([l.writable, leaf(k, c, bbuf).pfn]).toEqual([false, shared]);
    expect(leaf(k, b, bbuf + 4096n).pfn).toBe(k.zeroPfn);
    // nr_foll_pin_acquired: 1 (the writev) + 1 (the copy; the zero page is not counted)
    expect(vmstat(k, "nr_foll_pin_acquired")).toBe(2);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("writev to a read-only mapping is -EFAULT (no FOLL_FORCE), with nothing faulted", () => {
    const { k, a, b, abuf } = setup();
    const ro = k.mmap(b, mmapArgs(4096, { prot: { r: true, w: false, x: false } }));
    const minA = a.minFlt;
    expect(k.remoteRw(0, b, abuf, ro, 16, "process_vm_writev").ret).toBe(-14);
    expect([a.minFlt - minA, leaf(k, b, ro).pfn]).toEqual([0, -1]);
  });

  it("readv into a read-only local buffer: the copy_to_user fails, -EFAULT", () => {
    const { k, a, b } = setup();
    const bbuf = k.mmap(b, mmapArgs(4096));
    const ro = k.mmap(a, mmapArgs(4096, { prot: { r: true, w: false, x: false } }));
    expect(k.remoteRw(0, b, ro, bbuf, 16, "process_vm_readv").ret).toBe(-14);
  });

  it("ptrace_may_access: another uid is -EPERM, root may", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const a = k.spawn("A", 1000)!;
    const b = k.spawn("B", 1001)!;
    const r = k.spawn("R", 0)!;
    k.switchTo(0, a);
    const abuf = k.mmap(a, mmapArgs(4096));
    const bbuf = k.mmap(b, mmapArgs(4096));
    expect(k.remoteRw(0, b, abuf, bbuf, 8, "process_vm_readv").ret).toBe(-1);
    expect(k.remoteRw(0, b, abuf, bbuf, 8, "proc_mem_read").ret).toBe(-13);
    k.switchTo(0, r);
    const rbuf = k.mmap(r, mmapArgs(4096));
    expect(k.remoteRw(0, b, rbuf, bbuf, 8, "process_vm_readv").ret).toBe(8);
  });
});

describe("/proc/PID/mem with FOLL_FORCE", () => {
  it("a write into a read-only private anonymous page: an exclusive anonymous page, the PTE still read-only", () => {
    const { k, a, b, abuf } = setup();
    const ro = k.mmap(b, mmapArgs(4096, { prot: { r: true, w: false, x: false } }));
    const minA = a.minFlt;
    const r = k.remoteRw(0, b, abuf + 1n, ro, 16, "proc_mem_write");
    expect(r.ret).toBe(16);
    // one write fault (do_anonymous_page, a new page: no VM_WRITE, so neither writable nor dirty)
    expect(a.minFlt - minA).toBe(1);
    const l = leaf(k, b, ro);
    expect([l.writable, l.dirty]).toEqual([false, false]);
    expect(k.pages.kind[l.pfn]).toBe(PageKind.UserAnon);
    expect(k.pages.flags[l.pfn] & PageFlag.AnonExclusive).toBe(PageFlag.AnonExclusive);
    // set_page_dirty_lock: PG_dirty; B sees A's byte 1 = 7
    expect(k.pages.flags[l.pfn] & PageFlag.Dirty).toBe(PageFlag.Dirty);
    expect(byteAt(k, b, ro)).toBe(7);
    // the GUP reference is gone: the PTE's and the LRU add batch's (folio_add_lru), 1 once drained
    k.vmscan.fbatches.drain();
    expect(k.pages.refcount[l.pfn]).toBe(1);
    // B's own write still faults SIGSEGV: the VMA has no VM_WRITE
    k.switchTo(0, b);
    expect(k.userAccess(0, b, ro, Access.Write, 1).ok).toBe(false);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a write into a read-only private file page breaks COW: the file's page unchanged, B sees the copy", () => {
    const { k, a, b, abuf } = setup();
    const f = k.createFile("data", 4096, "disk");
    const m = k.mmap(
      b,
      mmapArgs(4096, { file: k.pageCache.files.get("data")!, prot: { r: true, w: false, x: false } }),
    );
    k.switchTo(0, b);
    expect(k.userAccess(0, b, m, Access.Read).ok).toBe(true);
    const filePfn = leaf(k, b, m).pfn;
    const before = k.machine.phys.read8(filePfn * 4096);
    k.switchTo(0, a);
    const r = k.remoteRw(0, b, abuf + 2n, m, 4, "proc_mem_write");
    expect(r.ret).toBe(4);
    const l = leaf(k, b, m);
    expect(l.pfn).not.toBe(filePfn);
    expect([k.pages.kind[l.pfn], l.writable]).toEqual([PageKind.UserAnon, false]);
    // B sees A's byte 2 = 14; the page cache's page keeps its byte
    expect(byteAt(k, b, m)).toBe(14);
    expect(k.machine.phys.read8(filePfn * 4096)).toBe(before);
    expect(f).toBeDefined();
    expect(checkInvariants(k)).toEqual([]);
  });

  it("FOLL_FORCE has no effect on a shared read-only mapping: -EIO (nothing moved)", () => {
    const { k, b, abuf } = setup();
    k.createFile("data", 4096, "disk");
    const m = k.mmap(
      b,
      mmapArgs(4096, {
        file: k.pageCache.files.get("data")!,
        shared: true,
        prot: { r: true, w: false, x: false },
      }),
    );
    expect(k.remoteRw(0, b, abuf, m, 4, "proc_mem_write").ret).toBe(-5);
    // a read of it works (FOLL_FORCE is not needed for VM_READ)
    expect(k.remoteRw(0, b, abuf, m, 4, "proc_mem_read").ret).toBe(4);
  });
});

describe("pin_user_pages", () => {
  it("a pin adds GUP_PIN_COUNTING_BIAS; fork then copies the pinned page at once", () => {
    const { k, a, abuf } = setup();
    const pfn = leaf(k, a, abuf).pfn;
    k.vmscan.fbatches.drain(); // the LRU add batch's reference dropped: the PTE's alone
    const p = k.pinUserPages(a, abuf, 1, true, true);
    expect(p.ret).toBe(1);
    expect(k.pages.refcount[pfn]).toBe(1 + 1024);
    const c = k.fork(a, "C")!;
    // copy_present_page: the child has its own copy, exclusive; the parent's PTE stays writable
    const cl = leaf(k, c, abuf);
    expect(cl.pfn).not.toBe(pfn);
    expect([cl.writable, leaf(k, a, abuf).writable]).toEqual([true, true]);
    expect(k.pages.flags[pfn] & PageFlag.AnonExclusive).toBe(PageFlag.AnonExclusive);
    expect([k.pages.mapcount[pfn], k.pages.mapcount[cl.pfn]]).toEqual([1, 1]);
    expect(byteAt(k, c, abuf + 1n)).toBe(7);
    // the unpinned second page is shared as usual: write-protected, mapcount 2
    const second = leaf(k, a, abuf + 4096n);
    expect([leaf(k, c, abuf + 4096n).pfn, second.writable, k.pages.mapcount[second.pfn]]).toEqual([
      second.pfn,
      false,
      2,
    ]);
    expect(k.unpinUserPages(p)).toBe(1);
    expect(k.pages.refcount[pfn]).toBe(1);
    expect([vmstat(k, "nr_foll_pin_acquired"), vmstat(k, "nr_foll_pin_released")]).toEqual([1, 1]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a read pin of a page shared with a child unshares it: the caller gets a read-only copy", () => {
    const { k, a, abuf } = setup();
    const c = k.fork(a, "C")!;
    const shared = leaf(k, a, abuf).pfn;
    const minA = a.minFlt;
    const p = k.pinUserPages(a, abuf, 1, false, false);
    expect(p.ret).toBe(1);
    const l = leaf(k, a, abuf);
    // gup_must_unshare -> FAULT_FLAG_UNSHARE: wp_page_copy maps a copy, not writable, not dirty
    expect(l.pfn).not.toBe(shared);
    expect([l.writable, l.dirty, a.minFlt - minA]).toEqual([false, false, 1]);
    expect(p.pfns).toEqual([l.pfn]);
    expect(leaf(k, c, abuf).pfn).toBe(shared);
    k.vmscan.fbatches.drain(); // the copy's LRU add batch reference dropped
    expect(k.pages.refcount[l.pfn]).toBe(1025);
    k.unpinUserPages(p);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("FOLL_LONGTERM: a write pin of a shared disk-file mapping is -EFAULT, a read pin of a private file page breaks COW", () => {
    const { k, a } = setup();
    k.createFile("data", 2 * 4096, "disk");
    const f = k.pageCache.files.get("data")!;
    const sh = k.mmap(a, mmapArgs(4096, { file: f, shared: true }));
    // writable_file_mapping_allowed: the mapping needs dirty tracking (ext4's page_mkwrite)
    expect(k.pinUserPages(a, sh, 1, true, true).ret).toBe(-14);
    // a short-term write pin of it is fine
    const st = k.pinUserPages(a, sh, 1, true, false);
    expect(st.ret).toBe(1);
    k.unpinUserPages(st);
    const pr = k.mmap(a, mmapArgs(4096, { file: f, offset: 4096 }));
    expect(k.userAccess(0, a, pr, Access.Read).ok).toBe(true);
    const filePfn = leaf(k, a, pr).pfn;
    // gup_must_unshare: a long-term read pin of a file page in a COW mapping unshares it
    const p = k.pinUserPages(a, pr, 1, false, true);
    const l = leaf(k, a, pr);
    expect(l.pfn).not.toBe(filePfn);
    expect([k.pages.kind[l.pfn], l.writable, p.pfns[0]]).toEqual([PageKind.UserAnon, false, l.pfn]);
    // a short-term read pin of the file page would have taken it as it is
    k.unpinUserPages(p);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("compaction's isolation refuses a pinned page (folio_expected_refs), and takes it once unpinned", () => {
    const { k, a, abuf } = setup();
    k.vmscan.fbatches.drain();
    const pfn = leaf(k, a, abuf).pfn;
    expect(migratable(k.vmscan, pfn)).toBe(true);
    const p = k.pinUserPages(a, abuf, 1, true, false);
    expect(migratable(k.vmscan, pfn)).toBe(false);
    k.unpinUserPages(p);
    expect(migratable(k.vmscan, pfn)).toBe(true);
  });

  it("a pin outlives the mapping: the page is freed by the unpin", () => {
    const { k, a, abuf } = setup();
    k.vmscan.fbatches.drain();
    const pfn = leaf(k, a, abuf).pfn;
    const p = k.pinUserPages(a, abuf, 1, true, false);
    k.munmap(a, abuf, 4096n);
    // the PTE's reference is gone, the pin's 1024 remain: still a user page
    expect([k.pages.refcount[pfn], k.pages.mapcount[pfn]]).toEqual([1024, 0]);
    k.unpinUserPages(p);
    // the last reference: folio_put frees it (to the CPU's pcp list)
    expect(k.pages.refcount[pfn]).toBe(0);
    expect(k.pages.kind[pfn]).not.toBe(PageKind.UserAnon);
    expect(checkInvariants(k)).toEqual([]);
  });
});
