/**
 * A review of GUP with pages returned against Linux 6.12 (mm/gup.c,
 * mm/internal.h gup_must_unshare, mm/memory.c do_wp_page/wp_page_copy,
 * mm/process_vm_access.c, fs/proc/base.c mem_rw): the cases where vmlab
 * differed. Every figure is derived by hand in the comment beside it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { type TaskHandle, taskOf } from "./core/task.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { PageFlag, PageKind } from "./mm/PageDesc.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";

function setup() {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 1 << 20 });
  const a = k.spawn("A")!;
  const b = k.spawn("B")!;
  k.switchTo(0, a);
  return { k, a, b };
}

/** The frame mapped at va in t (-1: none), its PTE's write and dirty bits. */
function leaf(k: Kernel, t: TaskHandle, va: bigint): { pfn: number; writable: boolean; dirty: boolean } {
  const l = k.userMm.leafFor(taskOf(t).mm!, Number(va / 4096n));
  const pt = k.arch.pgtable;
  if (l === null || !pt.present(l.hi, l.lo)) return { pfn: -1, writable: false, dirty: false };
  return { pfn: l.pfn, writable: pt.write(l.hi, l.lo), dirty: pt.dirty(l.hi, l.lo) };
}

function vmstat(k: Kernel, name: string): number {
  return k.view.vmstat()[name];
}

describe("gup_must_unshare and the zero page", () => {
  it("a FOLL_LONGTERM read pin of the zero page in a private mapping unshares it: a new zeroed page, pinned", () => {
    const { k, a } = setup();
    const buf = k.mmap(a, mmapArgs(2 * 4096));
    // page 0 read: do_anonymous_page maps the zero page; page 1 untouched
    expect(k.userAccess(0, a, buf, Access.Read).ok).toBe(true);
    expect(leaf(k, a, buf).pfn).toBe(k.zeroPfn);
    const minA = taskOf(a).minFlt;
    const pg = vmstat(k, "pgfault");
    const acq = vmstat(k, "nr_foll_pin_acquired");
    const p = k.pinUserPages(a, buf, 2, false, true);
    expect(p.ret).toBe(2);
    // follow_page_pte: the zero page is not anonymous, so gup_must_unshare is FOLL_LONGTERM &&
    // is_cow_mapping: -EMLINK, a FAULT_FLAG_UNSHARE fault, wp_page_copy of the zero pfn
    // (vma_alloc_zeroed_movable_folio) mapped read-only and clean (unshare: no maybe_mkwrite)
    const l0 = leaf(k, a, buf);
    const l1 = leaf(k, a, buf + 4096n);
    expect([l0.pfn === k.zeroPfn, l1.pfn === k.zeroPfn]).toEqual([false, false]);
    expect([k.pages.kind[l0.pfn], l0.writable, l0.dirty]).toEqual([PageKind.UserAnon, false, false]);
    expect([k.pages.kind[l1.pfn], l1.writable, l1.dirty]).toEqual([PageKind.UserAnon, false, false]);
    expect(p.pfns).toEqual([l0.pfn, l1.pfn]);
    // faults charged to A: page 0 one (unshare), page 1 two (the read fault mapping the zero
    // page, then the unshare): 3, and 3 in pgfault
    expect([taskOf(a).minFlt - minA, vmstat(k, "pgfault") - pg]).toEqual([3, 3]);
    // try_grab_folio: both real pages pinned (the zero page would not have been counted)
    expect(vmstat(k, "nr_foll_pin_acquired") - acq).toBe(2);
    expect(taskOf(a).mm!.rssAnon).toBe(2);
    k.unpinUserPages(p);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a short-term read pin takes the zero page as it is (gup_must_unshare: not FOLL_LONGTERM)", () => {
    const { k, a } = setup();
    const buf = k.mmap(a, mmapArgs(4096));
    expect(k.userAccess(0, a, buf, Access.Read).ok).toBe(true);
    const acq = vmstat(k, "nr_foll_pin_acquired");
    const p = k.pinUserPages(a, buf, 1, false, false);
    expect([p.ret, p.pfns[0], leaf(k, a, buf).pfn]).toEqual([1, k.zeroPfn, k.zeroPfn]);
    // try_grab_folio: no pin on the zero page
    expect(vmstat(k, "nr_foll_pin_acquired") - acq).toBe(0);
    k.unpinUserPages(p);
  });

  it("a FOLL_LONGTERM read pin of a shared anonymous mapping's page is taken as it is (not a COW mapping)", () => {
    const { k, a } = setup();
    const buf = k.mmap(a, mmapArgs(4096, { shared: true }));
    expect(k.userAccess(0, a, buf, Access.Read).ok).toBe(true);
    const before = leaf(k, a, buf).pfn;
    const p = k.pinUserPages(a, buf, 1, false, true);
    expect([p.ret, p.pfns[0], leaf(k, a, buf).pfn]).toEqual([1, before, before]);
    k.unpinUserPages(p);
  });
});

describe("a GUP write dirties a shmem folio (folio_mark_dirty)", () => {
  /** B's shared anonymous page, read-faulted: writable (no writenotify for shmem) and clean, a clean folio. */
  function sharedPage() {
    const { k, a, b } = setup();
    const abuf = k.mmap(a, mmapArgs(4096));
    k.uaccess.copy(0, abuf, 4096, true, () => 5);
    const sh = k.mmap(b, mmapArgs(4096, { shared: true }));
    k.switchTo(0, b);
    expect(k.userAccess(0, b, sh, Access.Read).ok).toBe(true);
    k.switchTo(0, a);
    const l = leaf(k, b, sh);
    expect([k.pages.kind[l.pfn], l.writable, l.dirty, k.pages.flags[l.pfn] & PageFlag.Dirty]).toEqual([
      PageKind.PageCache,
      true,
      false,
      0,
    ]);
    return { k, a, b, abuf, sh, pfn: l.pfn };
  }

  it("process_vm_writev: FOLL_TOUCH and unpin_user_pages_dirty_lock mark the shmem folio dirty", () => {
    const { k, b, abuf, sh, pfn } = sharedPage();
    const r = k.remoteRw(0, b, abuf, sh, 4096, "process_vm_writev");
    expect(r.ret).toBe(4096);
    // follow_page_pte's FOLL_TOUCH: FOLL_WRITE, !pte_dirty, !folio_test_dirty: folio_mark_dirty
    // (shmem_dirty_folio); the PTE stays clean. Without it reclaim would drop a clean shmem folio
    // holding B's new bytes.
    expect([leaf(k, b, sh).pfn, leaf(k, b, sh).dirty]).toEqual([pfn, false]);
    expect(k.pages.flags[pfn] & PageFlag.Dirty).toBe(PageFlag.Dirty);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("/proc/PID/mem write: set_page_dirty_lock marks the shmem folio dirty", () => {
    const { k, b, abuf, sh, pfn } = sharedPage();
    expect(k.remoteRw(0, b, abuf, sh + 8n, 16, "proc_mem_write").ret).toBe(16);
    expect(k.pages.flags[pfn] & PageFlag.Dirty).toBe(PageFlag.Dirty);
  });

  it("a read stays clean; a write pin's unpin dirties the folio", () => {
    const { k, b, abuf, sh, pfn } = sharedPage();
    expect(k.remoteRw(0, b, abuf, sh, 4096, "process_vm_readv").ret).toBe(4096);
    expect(k.pages.flags[pfn] & PageFlag.Dirty).toBe(0);
    const p = k.pinUserPages(b, sh, 1, true, false);
    expect(p.pfns).toEqual([pfn]);
    k.pages.flags[pfn] &= ~PageFlag.Dirty; // as if written back (shmem_writepage) while pinned
    k.unpinUserPages(p);
    // unpin_user_pages_dirty_lock(make_dirty): !folio_test_dirty -> folio_mark_dirty
    expect(k.pages.flags[pfn] & PageFlag.Dirty).toBe(PageFlag.Dirty);
  });
});

describe("a pinned THP outlives its mapping", () => {
  it("munmap of a PMD-mapped THP with a pinned page: the folio held whole, freed whole by the unpin", () => {
    const k = new Kernel({ ramBytes: 128 << 20, cpus: 1, thp: "always" });
    const a = k.spawn("A")!;
    k.switchTo(0, a);
    const buf = k.mmap(a, mmapArgs(2 << 20, { addr: 0x40000000 }));
    k.uaccess.copy(0, buf, 2 << 20, true, () => 3);
    const head = leaf(k, a, buf).pfn;
    expect(k.userMm.leafFor(taskOf(a).mm!, Number(buf / 4096n))!.level).toBe(k.arch.pgtable.pmdLevel);
    k.vmscan.fbatches.drain();
    // try_grab_folio of a large folio: one reference and _pincount 1
    const p = k.pinUserPages(a, buf + 20480n, 1, true, false);
    expect(p.pfns).toEqual([head + 5]);
    k.munmap(a, buf, 2n << 20n);
    // zap_huge_pmd drops the PMD's reference: Linux's folio refcount 513 -> 1 (the pin's), nothing
    // freed, the folio fully unmapped (not partially mapped: no deferred split). vmlab counts the
    // 511 other pages let go and holds them for the folio; the checker accepts a pinned folio
    expect([k.pages.kind[head], k.pages.mapcount[head + 5], k.pages.refcount[head + 5]]).toEqual([
      PageKind.UserAnon,
      0,
      1,
    ]);
    expect(checkInvariants(k)).toEqual([]);
    const free = k.buddy.freePages();
    k.unpinUserPages(p);
    // gup_put_folio -> folio_put_refs: the last reference frees the order-9 block (512 pages)
    expect(k.buddy.freePages() - free).toBe(512);
    expect(k.pages.kind[head]).not.toBe(PageKind.UserAnon);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("MMF_HAS_PINNED", () => {
  it("is set by a FOLL_PIN call that pins nothing (__get_user_pages_locked sets it first)", () => {
    const { k, a, b } = setup();
    const ro = k.mmap(b, mmapArgs(4096, { prot: { r: true, w: false, x: false } }));
    // process_vm_writev into B's read-only VMA: check_vma_flags refuses, -EFAULT, nothing pinned
    expect(k.remoteRw(0, b, k.mmap(a, mmapArgs(4096)), ro, 8, "process_vm_writev").ret).toBe(-14);
    expect(taskOf(b).mm!.hasPinned).toBe(true);
    // pin_user_pages at an address with no VMA: -EFAULT, the flag set all the same
    expect(k.pinUserPages(a, 0x1000n, 1, false, false).ret).toBe(-14);
    expect(taskOf(a).mm!.hasPinned).toBe(true);
  });
});
