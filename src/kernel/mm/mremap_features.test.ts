/**
 * mremap, mprotect and munmap features Linux 6.12 has that vmlab lacked (docs/processes.md "Not
 * yet" of the mremap/mprotect review): MREMAP_DONTUNMAP, vm.max_map_count, mseal(2). Each
 * expected figure is derived by hand from the Linux 6.12 source named in the comment above it.
 *
 * Notation as in mremap_mprotect_review.test.ts: a VMA as [start, end); "anon_vma" is set by
 * the first fault that maps an anonymous page. The stack is [0x7ffffffde000, 0x7ffffffff000),
 * mmap_base 0x7ffff7fff000: a new process has 1 VMA (the stack; no heap until brk grows).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { holds } from "../../workloads/scenario/testKit.ts";
import { taskOf } from "../core/task.ts";
import { A, B, errnoMachine, P } from "../errno.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { Errno, mmapArgs } from "./userMm.ts";

describe("MREMAP_DONTUNMAP (mm/mremap.c, Linux 6.12)", () => {
  it("moves the pages and leaves the old range mapped and empty; the new VMA is charged whole", () => {
    // mremap(a, 16K, 16K, MAYMOVE | DONTUNMAP | FIXED, 0x20000000): mremap_to; vma_to_resize
    // returns the VMA (new_len == old_len); may_expand_vm(old_len) passes; move_vma:
    // to_account = new_len (16K: the old VMA keeps VM_ACCOUNT and its charge, so Committed_AS
    // grows by 16K), copy_vma makes [0x20000000, +16K), move_page_tables moves the 4 PTEs, then
    // the DONTUNMAP return: no do_vmi_munmap. The old VMA stays (map_count 1 + 2 = 3), its
    // pages gone (rss 0); a read there maps the zero page, a write a new page
    holds(`
machine ram=64M
spawn A
A: a = mmap 16K at=0x10000000 fixed
A: write a 16K value=7
let c0 = meminfo.Committed_AS
A: r = mremap a 16K 16K maymove dontunmap to=0x20000000
expect r == 0x20000000
expect byte(A, 0x20000000+12K) == 7
expect rss(A, 0x20000000 16K) == 4
expect rss(A, a 16K) == 0
expect vmas(A, a 16K) == 1
expect A.map_count == 3
expect meminfo.Committed_AS == c0 + 16K
A: read a
expect byte(A, a) == 0
expect rss(A, a 16K) == 0
A: write a+4K value=9
expect byte(A, a+4K) == 9
expect byte(A, 0x20000000+4K) == 7
expect rss(A, a 16K) == 1
`);
  });

  it("without to=, the new range is where get_unmapped_area puts it (new_addr 0, a hint)", () => {
    // mremap_to with new_addr 0: offset, TASK_SIZE and overlap checks pass (a + 16K > 0 but
    // 0 + 16K > a fails); get_unmapped_area(NULL, 0, 16K, pgoff, 0): 16K is no PMD multiple, so
    // the plain top-down search: the highest 16K gap below mmap_base 0x7ffff7fff000
    holds(`
machine ram=64M
spawn A
A: a = mmap 16K at=0x10000000 fixed
A: write a 16K value=3
A: r = mremap a 16K 16K maymove dontunmap
expect r == 0x7ffff7ffb000
expect byte(A, r+8K) == 3
expect vmas(A, a 16K) == 1
`);
  });

  it("the flag checks: MAYMOVE needed, the lengths equal as given (-EINVAL), not of VM_DONTEXPAND/VM_PFNMAP", () => {
    // SYSCALL_DEFINE5(mremap): "MREMAP_DONTUNMAP is always a move and it does not allow resizing
    // in the process": !(flags & MREMAP_MAYMOVE) || old_len != new_len, before PAGE_ALIGN (so
    // 16K against 16K-1 is refused though both round to 16K). vma_to_resize: DONTUNMAP on a
    // VM_DONTEXPAND | VM_PFNMAP VMA (a device's remap_pfn_range sets both; HugeTLB's
    // hugetlbfs_file_mmap sets VM_DONTEXPAND) -EINVAL, checked before "old_len > vm_end - addr"
    // (-EFAULT). With to=, mremap_to has unmapped the target before vma_to_resize refuses.
    holds(`
machine ram=64M
sysctl nr_hugepages=2
kbuf = device fb size=8K
spawn A
A: a = mmap 16K at=0x10000000 fixed
A: r1 = mremap a 16K 16K dontunmap
expect r1 == -22
A: r2 = mremap a 16K 16K-1 maymove dontunmap
expect r2 == -22
A: r3 = mremap a 32K 32K maymove dontunmap
expect r3 == -14
A: u = mmap 8K shared dev=fb at=0x30000000 fixed
A: t = mmap 4K at=0x40000000 fixed
A: r4 = mremap u 8K 8K maymove dontunmap to=0x40000000
expect r4 == -22
expect vmas(A, 0x40000000 4K) == 0
A: h = mmap 2M hugetlb at=0x80000000
A: r5 = mremap h 2M 2M maymove dontunmap
expect r5 == -22
`);
  });

  it("a locked VMA: the old VMA loses VM_LOCKED, whole, without a split; locked_vm is not touched", () => {
    // move_vma's DONTUNMAP return: vm_flags_clear(vma, VM_LOCKED_MASK) on the VMA at old_addr,
    // however large; "Because we won't unmap we don't need to touch locked_vm": locked_vm stays
    // 32K (the VMA's, from mlock) though only the new 16K VMA is VM_LOCKED now
    holds(`
machine ram=64M
spawn A
A: a = mmap 32K at=0x10000000 fixed
A: mlock a 32K
expect A.vm_lck == 32K
A: r = mremap a 16K 16K maymove dontunmap to=0x20000000
expect r == 0x20000000
expect vm_flags(A, r) == "rd wr mr mw me lo ac sd"
expect vm_flags(A, a) == "rd wr mr mw me ac sd"
expect vmas(A, a 32K) == 1
expect locked(A, r 16K) == 4
expect A.vm_lck == 32K
A: munmap r 16K
expect A.vm_lck == 16K
`);
    // the new range right after the old VMA, never faulted: copy_vma gives it the pgoff of its
    // address (vma_is_anonymous && !anon_vma), so it merges with the old VMA itself
    // (vma_merge_new_range, "Source vma may have been merged into new_vma": vma = new_vma), and
    // move_vma's vm_flags_clear unlocks the merged VMA whole: nothing VM_LOCKED, locked_vm still
    // the 16K mlock counted
    holds(`
machine ram=64M
spawn A
A: a = mmap 16K at=0x10000000 fixed
A: mlock a 16K onfault
A: r = mremap a 16K 16K maymove dontunmap to=0x10004000
expect r == 0x10004000
expect vmas(A, a 32K) == 1
expect vm_flags(A, r) == "rd wr mr mw me ac sd"
expect A.vm_lck == 16K
`);
  });

  it("a shared mapping: the old range faults the same shmem pages back in", () => {
    // shmem: the pages are the object's, not the VMA's. After the move the old range is empty;
    // a read there (shmem_fault) finds the object's page, now mapped twice. Not VM_ACCOUNT
    // (shared): Committed_AS unchanged
    holds(`
machine ram=64M
spawn A
A: a = mmap 8K shared at=0x10000000 fixed
A: write a 8K value=5
let c0 = meminfo.Committed_AS
A: r = mremap a 8K 8K maymove dontunmap to=0x20000000
expect rss(A, a 8K) == 0
A: read a+4K
expect byte(A, a+4K) == 5
expect pfn(A, a+4K) == pfn(A, r+4K)
expect mapcount(A, r+4K) == 2
expect meminfo.Committed_AS == c0
`);
  });

  it("the old VMA's anon_vma links go when it is the range exactly (unlink_anon_vmas), not otherwise", () => {
    const { k, t } = errnoMachine();
    const mm = taskOf(t).mm!;
    const poke = (va: number, v: number) => expect(k.userAccess(0, t, B(va), Access.Write, v).ok).toBe(true);
    const peek = (va: number) => {
      const r = k.userAccess(0, t, B(va), Access.Read);
      return r.ok ? r.value : -1;
    };
    for (const at of [A, A + 0x100000]) {
      expect(k.mmap(t, mmapArgs(4 * P, { addr: at, fixed: true }))).toBe(B(at));
      poke(at, 1);
    }
    // the first, moved whole: its anon_vma goes (the pages' anon_vma lives on in the new VMA's chain)
    expect(k.mremap(t, B(A), B(4 * P), B(4 * P), true, B(A + 0x200000), true)).toBe(B(A + 0x200000));
    const old = mm.vmaAt(A / P)!;
    expect([old.vmStart, old.anonVma, old.avc.length]).toEqual([A / P, 0, 0]);
    expect(mm.vmaAt((A + 0x200000) / P)!.anonVma).not.toBe(0);
    // the second, half of it: the VMA is larger than the range, so it keeps its anon_vma
    expect(k.mremap(t, B(A + 0x100000), B(2 * P), B(2 * P), true, B(A + 0x300000), true)).toBe(
      B(A + 0x300000),
    );
    expect(mm.vmaAt((A + 0x100000) / P)!.anonVma).not.toBe(0);
    // a fault in the emptied first range makes a new anon_vma for it
    poke(A, 2);
    expect(mm.vmaAt(A / P)!.anonVma).not.toBe(0);
    expect(peek(A + 0x200000)).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
    expect(k.mremap(t, B(A), B(P), B(2 * P), true, -1n, true)).toBe(B(-Errno.EINVAL));
  });
});

describe("vm.max_map_count (mm/mmap.c do_mmap, mm/vma.c split_vma, vms_gather_munmap_vmas, mm/mremap.c)", () => {
  it("mmap and brk refuse once map_count is past the limit (`>`): an mm reaches max + 1", () => {
    // do_mmap: "if (mm->map_count > sysctl_max_map_count) return -ENOMEM". A new process has 1
    // VMA (the stack); with max 3: mmaps make 2, 3, 4 (4 > 3 only now), the fourth is refused.
    // do_brk_flags: the same test after may_expand_vm
    holds(`
machine ram=64M
sysctl max_map_count=3
spawn A
expect A.map_count == 1
A: a = mmap 4K at=0x10000000 fixed
A: b = mmap 4K at=0x20000000 fixed
A: c = mmap 4K at=0x30000000 fixed
expect A.map_count == 4
A: d = mmap 4K at=0x40000000 fixed
expect d == -12
A: e = mmap 4K
expect e == -12
A: h = brk +4K
expect h == -12
expect A.map_count == 4
A: munmap c 4K
A: h2 = brk +4K
expect h2 > 0
expect A.map_count == 4
`);
  });

  it("munmap and MAP_FIXED refuse only a split of one VMA in three at the limit (`>=`)", () => {
    // vms_gather_munmap_vmas: "vms->end < vms->vma->vm_end && map_count >= max" -> -ENOMEM.
    // max 3; stack + a (3 pages) + b: 3 VMAs. The middle page of a: refused. Its first page
    // (no start split) and its last (the end's split, __split_vma unchecked) are not
    holds(`
machine ram=64M
sysctl max_map_count=3
spawn A
A: a = mmap 20K at=0x10000000 fixed
A: b = mmap 4K at=0x20000000 fixed
A: r1 = munmap a+4K 4K
expect r1 == -12
expect vmas(A, a 20K) == 1
A: r2 = mmap 4K at=a+4K fixed prot=r
expect r2 == -12
A: r3 = munmap a+16K 4K
expect r3 == 0
A: r4 = munmap a 4K
expect r4 == 0
expect A.map_count == 3
A: r5 = munmap a+8K 4K
expect r5 == -12
sysctl max_map_count=4
A: r6 = munmap a+8K 4K
expect r6 == 0
expect A.map_count == 4
`);
  });

  it("mprotect: split_vma refuses at the limit; a refused end split keeps the start's; a merge needs no split", () => {
    // vma_modify: merge first, then split_vma at the start, then at the end, each
    // "if (vma->vm_mm->map_count >= sysctl_max_map_count) return -ENOMEM".
    // max 3, stack + a (3 pages) + b = 3: the middle of a: the start split refused, nothing changes.
    // max 4: the start split is made (4 VMAs), the end's refused: a is in two, its rights unchanged.
    // c [0x30000, +4K) r-- and d [0x30001, +8K) rw-, unfaulted (pgoff = address): the first page
    // of d made read-only (losing VM_ACCOUNT: anonymous, no anon_vma) merges into c
    // (vma_merge_existing_range's merge_left): no split, allowed at 5 VMAs
    holds(`
machine ram=64M
sysctl max_map_count=3
spawn A
A: a = mmap 12K at=0x10000000 fixed
A: b = mmap 4K at=0x20000000 fixed
A: r1 = mprotect a+4K 4K prot=r
expect r1 == -12
expect vmas(A, a 12K) == 1
sysctl max_map_count=4
A: r2 = mprotect a+4K 4K prot=r
expect r2 == -12
expect vmas(A, a 12K) == 2
expect vm_flags(A, a+4K) == "rd wr mr mw me ac sd"
A: munmap b 4K
A: c = mmap 4K at=0x30000000 fixed prot=r
A: d = mmap 8K at=0x30001000 fixed
expect A.map_count == 5
A: r3 = mprotect d 4K prot=r
expect r3 == 0
expect vmas(A, c 12K) == 2
expect vm_flags(A, d) == "rd mr mw me sd"
`);
  });

  it("mlock's split is -ENOMEM, madvise's -EAGAIN (madvise_vma_behavior)", () => {
    holds(`
machine ram=64M
sysctl max_map_count=2
spawn A
A: a = mmap 12K at=0x10000000 fixed
A: r1 = mlock a+4K 4K
expect r1 == -12
A: r2 = madvise a+4K 4K dontfork
expect r2 == -11
expect vmas(A, a 12K) == 1
A: r3 = mlock a 12K
expect r3 == 0
`);
  });

  it("mremap: move_vma refuses at max - 3, mremap_to at map_count + 2 >= max - 3", () => {
    // stack + a + b (b right after a, so a cannot grow in place) = 3 VMAs.
    // max 8: mremap_to: 3 + 2 >= 5 -> -ENOMEM before any unmap (the target stays); a move
    // without to=: move_vma's 3 >= 5? no: moved (a's old range unmapped: still 3). MREMAP_DONTUNMAP
    // of a growth is -EINVAL first; of a move, mremap_to's check. Then c after b (4 VMAs):
    // max 7: move_vma's 4 >= 4 refuses b's move; max 8: it moves
    holds(`
machine ram=64M
sysctl max_map_count=8
spawn A
A: a = mmap 4K at=0x10000000 fixed
A: b = mmap 4K at=0x10001000 fixed prot=r
A: t = mmap 4K at=0x50000000 fixed
A: munmap t 4K
A: r1 = mremap a 4K 4K maymove to=0x50000000
expect r1 == -12
A: r2 = mremap a 4K 8K maymove dontunmap
expect r2 == -22
A: r3 = mremap a 4K 4K maymove dontunmap
expect r3 == -12
A: r4 = mremap a 4K 8K maymove
expect r4 > 0
A: c = mmap 4K at=0x10002000 fixed
expect A.map_count == 4
sysctl max_map_count=7
A: r5 = mremap b 4K 8K maymove
expect r5 == -12
expect vmas(A, b 4K) == 1
sysctl max_map_count=8
A: r6 = mremap b 4K 8K maymove
expect r6 > 0
`);
  });
});

describe("mseal(2) (mm/mseal.c, Linux 6.12)", () => {
  it("the argument checks: flags, alignment, a length rounding to 0, a hole (-ENOMEM, nothing sealed)", () => {
    // do_mseal: can_do_mseal (flags != 0: -EINVAL), !PAGE_ALIGNED(start) -EINVAL, len_in && !len
    // (a small negative length) -EINVAL, end == start: 0; check_mm_seal: a hole anywhere in
    // [start, end) (here [a+8K, a+12K) after a's 8K) -ENOMEM before anything is sealed
    const { k, t } = errnoMachine();
    expect(k.mmap(t, mmapArgs(2 * P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.mmap(t, mmapArgs(P, { addr: A + 3 * P, fixed: true }))).toBe(B(A + 3 * P));
    expect(k.mseal(t, B(A), B(P), 1n)).toBe(B(-Errno.EINVAL));
    expect(k.mseal(t, B(A + 1), B(P))).toBe(B(-Errno.EINVAL));
    expect(k.mseal(t, B(A), -1n)).toBe(B(-Errno.EINVAL));
    expect(k.mseal(t, B(A), 0n)).toBe(0n);
    expect(k.mseal(t, B(A), B(4 * P))).toBe(B(-Errno.ENOMEM));
    expect(taskOf(t).mm!.vmas.some((v) => v.sealed)).toBe(false);
    expect(k.mseal(t, B(A), B(P + 1))).toBe(0n); // the length rounded up: both pages
    expect(taskOf(t).mm!.vmaAt(A / P + 1)!.sealed).toBe(true);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a 32-bit kernel has no VM_SEALED: -EPERM whatever the arguments (can_do_mseal)", () => {
    holds(`
machine ram=64M arch=i386
spawn A
A: a = mmap 4K
A: r1 = mseal a 4K
expect r1 == -1
A: r2 = mseal a+1 4K
expect r2 == -1
`);
  });

  it("a sealed VMA refuses munmap, mremap, mprotect and MAP_FIXED (-EPERM); smaps shows sl", () => {
    // mseal of the middle page of a [0x10000, +12K): vma_modify_flags splits it in three, the
    // middle sealed (VmFlags ... sl). vms_gather_munmap_vmas: a split of a sealed VMA, or any
    // sealed VMA in the range: -EPERM (the unsealed first page's own split made before that
    // stays: munmap a 8K splits nothing here, a+0 is a VMA's start). mremap: can_modify_vma at the
    // old address, -EPERM before anything, a growth or a move alike; as MREMAP_FIXED's target,
    // the target's do_munmap refuses. mprotect: mprotect_fixup's can_modify_vma, even for the
    // same rights. mmap(MAP_FIXED) over it: mmap_region's vms_gather_munmap_vmas.
    // Sealing the whole range again: the first page (r--, after r7) is sealed on its own; the
    // last, sealed now, merges into the sealed middle (same flags, anon_vma, pgoff): 2 VMAs
    holds(`
machine ram=64M
spawn A
A: a = mmap 12K at=0x10000000 fixed
A: write a 12K value=1
A: r = mseal a+4K 4K
expect r == 0
expect vmas(A, a 12K) == 3
expect vm_flags(A, a+4K) == "rd wr mr mw me ac sd sl"
expect vm_flags(A, a) == "rd wr mr mw me ac sd"
A: r1 = munmap a 8K
expect r1 == -1
expect rss(A, a 12K) == 3
A: r2 = munmap a+4K 4K
expect r2 == -1
A: r3 = mremap a+4K 4K 8K maymove
expect r3 == -1
A: r4 = mremap a+4K 4K 4K maymove to=0x20000000
expect r4 == -1
A: b = mmap 4K at=0x30000000 fixed
A: r5 = mremap b 4K 4K maymove to=a+4K
expect r5 == -1
expect vmas(A, b 4K) == 1
A: r6 = mprotect a+4K 4K prot=rw
expect r6 == -1
A: r7 = mprotect a 12K prot=r
expect r7 == -1
expect vm_flags(A, a) == "rd mr mw me ac sd"
expect vm_flags(A, a+8K) == "rd wr mr mw me ac sd"
A: r8 = mmap 4K at=a+4K fixed
expect r8 == -1
A: r9 = mseal a 12K
expect r9 == 0
expect vmas(A, a 12K) == 2
A: munmap b 4K
`);
  });

  it("madvise: the discarding advices on sealed read-only anonymous memory are -EPERM; others pass", () => {
    // can_modify_vma_madv: is_madv_discard (FREE, DONTNEED, DONTNEED_LOCKED, REMOVE, DONTFORK,
    // WIPEONFORK) and is_ro_anon (no vm_file, not VM_SHARED, not VM_WRITE). A writable sealed VMA
    // may still be discarded (its owner could write zeroes anyway), and PAGEOUT or COLD discard
    // nothing. MADV_REMOVE of it: -EPERM before madvise_remove's own -EINVAL (no vm_file), which
    // an unsealed private anonymous VMA gets. madvise_walk_vmas: the VMAs before the refused one are advised: c (writable,
    // unsealed) below the sealed read-only r loses its pages to the DONTNEED over both
    holds(`
machine ram=64M swap=16M
spawn A
A: c = mmap 8K at=0x10000000 fixed
A: write c 8K value=2
A: r = mmap 8K at=0x10002000 fixed
A: write r 8K value=3
A: mprotect r 8K prot=r
A: w = mmap 8K at=0x20000000 fixed
A: write w 8K value=4
A: mseal r 8K
A: mseal w 8K
A: e1 = madvise r 8K dontneed
expect e1 == -1
A: e2 = madvise r 8K free
expect e2 == -1
A: e3 = madvise r 8K dontfork
expect e3 == -1
A: e4 = madvise r 8K wipeonfork
expect e4 == -1
A: e5 = madvise r 8K dontneed_locked
expect e5 == -1
A: e5b = madvise r 8K remove
expect e5b == -1
A: e5c = madvise c 8K remove
expect e5c == -22
expect rss(A, r 8K) == 2
A: e6 = madvise r 8K pageout
expect e6 == 0
A: e7 = madvise r 8K dodump
expect e7 == 0
A: e8 = madvise w 8K dontneed
expect e8 == 0
expect rss(A, w 8K) == 0
A: e9 = madvise c 16K dontneed
expect e9 == -1
expect rss(A, c 8K) == 0
`);
  });

  it("fork's child inherits the seal; mlock of a sealed VMA is allowed", () => {
    holds(`
machine ram=64M
spawn A
A: a = mmap 8K at=0x10000000 fixed
A: mseal a 8K
A: r1 = mlock a 8K
expect r1 == 0
A: fork B
B: r2 = munmap a 8K
expect r2 == -1
expect vm_flags(B, a) == "rd wr mr mw me ac sd sl"
`);
  });
});

describe("PROT_GROWSDOWN / PROT_GROWSUP (mm/mprotect.c do_mprotect_pkey, Linux 6.12)", () => {
  it("growsdown takes the range down to the start of a VM_GROWSDOWN VMA; growsup is -EINVAL", () => {
    // The stack [0x7ffffffde000, 0x7ffffffff000) is VM_GROWSDOWN. do_mprotect_pkey: both bits
    // -EINVAL before anything (even with length 0, which alone returns 0); vma = vma_find(start,
    // end); PROT_GROWSDOWN: start = vma->vm_start, -EINVAL if not VM_GROWSDOWN. So the top page
    // with growsdown changes the whole stack (no split); a page in the middle changes
    // [vm_start, its end): 2 VMAs. A range starting in the hole below the stack takes the stack's
    // start: 0, not -ENOMEM. PROT_GROWSUP: -ENOMEM when the range starts in a hole (vm_start >
    // start), else -EINVAL: VM_GROWSUP is VM_NONE on x86. (The stack is written first, so it has
    // an anon_vma and keeps VM_ACCOUNT when made read-only, as exec's stack does.)
    holds(`
machine ram=64M
spawn A
let st = A.stack_start
A: write 0x7fffffffe000 value=1
A: a = mmap 8K at=0x10000000 fixed
A: r0 = mprotect a 0 prot=r
expect r0 == 0
A: r1 = mprotect a 0 prot=r growsdown growsup
expect r1 == -22
A: r2 = mprotect a 4K prot=r growsdown
expect r2 == -22
A: r3 = mprotect a 4K prot=r growsup
expect r3 == -22
A: r4 = mprotect a-4K 8K prot=r growsup
expect r4 == -12
A: r5 = mprotect 0x20000000 4K prot=r growsdown
expect r5 == -12
A: r6 = mprotect 0x7fffffffe000 4K prot=r growsdown
expect r6 == 0
expect vmas(A, st 132K) == 1
expect vm_flags(A, st) == "rd mr mw me gd ac sd"
A: r7 = mprotect 0x7ffffffef000 4K prot=rw growsdown
expect r7 == 0
expect vmas(A, st 132K) == 2
expect vm_flags(A, 0x7ffffffef000) == "rd wr mr mw me gd ac sd"
expect vm_flags(A, 0x7fffffff0000) == "rd mr mw me gd ac sd"
A: r8 = mprotect st-8K 12K prot=r growsdown
expect r8 == 0
expect vm_flags(A, st) == "rd mr mw me gd ac sd"
expect vmas(A, st 132K) == 3
`);
  });
});
