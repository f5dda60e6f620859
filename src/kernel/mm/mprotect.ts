/**
 * mprotect: new rights for the VMAs of a range and their PTEs. Linux:
 * mm/mprotect.c (do_mprotect_pkey, mprotect_fixup, change_protection,
 * change_pte_range, can_change_pte_writable), mm/huge_memory.c
 * (change_huge_pmd).
 */

import { PteFlag, TlbFlush } from "./arch.ts";
import { mmPopulate, type Populate } from "./gup.ts";
import { splitRange } from "./huge_memory.ts";
import { hugetlbChangeProtection, hugetlbMaySplit } from "./hugetlb.ts";
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { modifySplitRefused } from "./map_count.ts";
import { mergeAround, splitAt } from "./mmap.ts";
import { MmuGather } from "./mmu_gather.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { hugePmd, isHugePmd, pmdOf, ptepModify, readPte, userPte } from "./pgtable.ts";
import { isDataMapping, mayExpandVm } from "./rlimit.ts";
import { flushTlbBatchedPending } from "./tlbbatch.ts";
import { vmEnoughMemory } from "./util.ts";
import { type Vma, VmFlag, vmFlagsUpdate, vmFlagsWithPkey } from "./vma.ts";

/**
 * do_mprotect_pkey for [start, start+nrPages). The VMAs are changed in
 * address order until one fails: a hole is -ENOMEM (none changed if `start`
 * itself is in one), a VMA whose VM_MAY* bits refuse the new rights is
 * -EACCES; either way the VMAs before it keep their new rights, as in
 * Linux's loop. Returns 0 or -errno.
 * Linux: mm/mprotect.c do_mprotect_pkey, mprotect_fixup
 */
export function mprotect(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  nrPages: number,
  prot: { r: boolean; w: boolean; x: boolean },
  populate?: Populate,
  newPkey?: NewPkey,
  capSysAdmin = true,
  rier = false,
): number {
  const end = start + nrPages;
  let stop = start;
  let error = 0;
  let charged = 0;
  let madeData = 0; // pages this call turned into data so far (is_data_mapping)
  let splits = 0; // the VMAs this call's splits add (split_vma's map_count check)
  const plan: Piece[] = [];
  while (stop < end) {
    const vma = mm.vmaAt(stop);
    if (vma === null) {
      error = -Errno.ENOMEM;
      break;
    }
    // mask_off_old_flags (VM_ACCESS_FLAGS and, in VM_FLAGS_CLEAR, the key bits), then
    // calc_vm_prot_bits(prot, arch_override_mprotect_pkey(vma, prot, pkey))
    let flags = vmFlagsUpdate(vma.vmFlags, 0, VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC);
    if (newPkey) flags = vmFlagsWithPkey(flags, newPkey(vma));
    // rier: "if (rier && (vma->vm_flags & VM_MAYEXEC)) prot |= PROT_EXEC"
    const x = prot.x || (rier && (vma.vmFlags & VmFlag.MAYEXEC) !== 0);
    flags = vmFlagsUpdate(
      flags,
      (prot.r ? VmFlag.READ : 0) | (prot.w ? VmFlag.WRITE : 0) | (x ? VmFlag.EXEC : 0),
      0,
    );
    // newflags >> 4: VM_MAY* in place of VM_*
    if ((prot.w && !(vma.vmFlags & VmFlag.MAYWRITE)) || (prot.x && !(vma.vmFlags & VmFlag.MAYEXEC))) {
      error = -Errno.EACCES;
      break;
    }
    // mprotect_fixup: can_modify_vma (mseal), before "newflags == oldflags"
    if (vma.sealed) {
      error = -Errno.EPERM;
      break;
    }
    const piece = Math.min(end, vma.vmEnd) - Math.max(stop, vma.vmStart);
    const s = Math.max(stop, vma.vmStart);
    stop = Math.min(end, vma.vmEnd);
    // mprotect_fixup: "if (newflags == oldflags)" the VMA is left as it is: no split, no
    // accounting, no page-table walk, nothing to flush
    if (flags === vma.vmFlags) continue;
    // mprotect_fixup: "Check space limits when area turns into data": -ENOMEM when the piece
    // would pass RLIMIT_DATA as a data mapping and did not as what it was (may_expand_vm twice),
    // data_vm counting the pieces this call turned into data before it (Linux's loop changes
    // each VMA, vm_stat_account included, before it checks the next; vmlab's applies them after)
    if (
      prot.w &&
      !mayExpandVm(ctx, mm, vma.vmFlags | VmFlag.WRITE, piece, madeData) &&
      mayExpandVm(ctx, mm, vma.vmFlags, piece, madeData)
    ) {
      error = -Errno.ENOMEM;
      break;
    }
    // mprotect_fixup: security_vm_enough_memory_mm for the piece about to be charged
    const charges = mprotectCharges(vma.vmFlags, prot.w);
    if (charges && !vmEnoughMemory(ctx, mm, piece, capSysAdmin, charged)) {
      error = -Errno.ENOMEM;
      break;
    }
    // vma_modify_flags: the split of a HugeTLB VMA off a huge page boundary fails in split_vma
    // (hugetlb_vm_op_split's -EINVAL), after the checks above; the charge is given back
    if ((vma.vmStart < s && !hugetlbMaySplit(vma, s)) || (vma.vmEnd > stop && !hugetlbMaySplit(vma, stop))) {
      error = -Errno.EINVAL;
      break;
    }
    // vma_modify_flags: split_vma refuses a split once the mm has max_map_count VMAs (-ENOMEM);
    // a refused end split keeps the start's (the merges of the VMAs before it not counted)
    // (the flags mprotect_fixup gives it: VM_ACCOUNT set or cleared as mprotectRange does)
    const acct = mprotectCharges(vma.vmFlags, prot.w)
      ? VmFlag.ACCOUNT
      : !prot.w && vma.vmFlags & VmFlag.ACCOUNT && vmaIsAnonymous(vma) && vma.anonVma === 0
        ? -1
        : 0;
    const final =
      acct > 0 ? vmFlagsUpdate(flags, acct, 0) : acct < 0 ? vmFlagsUpdate(flags, 0, VmFlag.ACCOUNT) : flags;
    const refused = modifySplitRefused(ctx, mm, vma, s, stop, final, mm.vmas.length + splits);
    if (refused !== 0) {
      if (refused === 2) plan.push({ start: s, end: stop, flags, splitOnly: true });
      error = -Errno.ENOMEM;
      break;
    }
    splits += (vma.vmStart < s ? 1 : 0) + (vma.vmEnd > stop ? 1 : 0);
    if (prot.w && isDataMapping(vma.vmFlags | VmFlag.WRITE) && !isDataMapping(vma.vmFlags)) madeData += piece;
    if (charges) charged += piece;
    plan.push({ start: s, end: stop, flags });
  }
  if (plan.length > 0) mprotectRange(ctx, mm, plan, prot.w, populate);
  return error;
}

/** A piece of one VMA that mprotect changes, and the flags it gets (before VM_ACCOUNT's change). */
interface Piece {
  start: number;
  end: number;
  flags: number;
  /** vma_modify failed at the end's split: only the start's is made */
  splitOnly?: boolean;
}

/**
 * Does making a VMA with flags `old` writable (`w`) charge it to
 * vm_committed_as? Not when it is charged already, writable, HugeTLB
 * (reserved by the pool), shared or VM_NORESERVE.
 * Linux: mm/mprotect.c mprotect_fixup
 */
function mprotectCharges(old: number, w: boolean): boolean {
  return w && !(old & (VmFlag.ACCOUNT | VmFlag.WRITE | VmFlag.HUGETLB | VmFlag.SHARED | VmFlag.NORESERVE));
}

/** vma_is_anonymous: no file, no shmem object, no device (Linux: no vm_ops). */
export function vmaIsAnonymous(v: Vma): boolean {
  return v.file === null && v.shmem === null && !(v.vmFlags & (VmFlag.PFNMAP | VmFlag.HUGETLB));
}

/**
 * The protection key a VMA gets (arch_override_mprotect_pkey: pkey_mprotect's
 * key, the execute-only key for PROT_EXEC, or the VMA's own); absent where
 * the architecture has no protection keys (the key bits stay as they are).
 */
export type NewPkey = (vma: Vma) => number;

/**
 * mprotect_fixup on each piece (a VMA's part of the range whose flags
 * change), in address order: the split (vma_modify_flags), VM_ACCOUNT,
 * change_protection under the call's one gather, the populate of a locked
 * private VMA made writable; then the merges.
 * TLB: tlb_end_vma flushes what each VMA's walk owes at its end where the
 * architecture does not select MMU_GATHER_MERGE_VMAS (arm64, RISC-V), and
 * on x86 after a VM_PFNMAP VMA; otherwise one flush at tlb_finish_mmu over
 * the pages whose entries changed.
 */
function mprotectRange(ctx: MmContext, mm: MmStruct, plan: Piece[], w: boolean, populate?: Populate): void {
  const tlb = new MmuGather(ctx, mm);
  const toPopulate: [number, number][] = [];
  const changed: Vma[] = [];
  for (const p of plan) {
    splitAt(mm, p.start, ctx);
    if (p.splitOnly) continue;
    splitAt(mm, p.end, ctx);
    const v = mm.vmaAt(p.start)!;
    changed.push(v);
    const old = v.vmFlags;
    let flags = p.flags;
    // mprotect_fixup: a private mapping made writable is charged (checked in mprotect above);
    // made unwritable, only an anonymous one without an anon_vma gives its charge back
    if (mprotectCharges(old, w)) {
      flags = vmFlagsUpdate(flags, VmFlag.ACCOUNT, 0);
      mm.committed += v.pages;
    } else if (!w && old & VmFlag.ACCOUNT && vmaIsAnonymous(v) && v.anonVma === 0) {
      flags = vmFlagsUpdate(flags, 0, VmFlag.ACCOUNT);
      mm.committed -= v.pages;
    }
    v.vmFlags = flags;
    tlb.startVma(v.vmStart, v.vmEnd);
    changeProtection(ctx, tlb, mm, v);
    // tlb_end_vma
    if (!ctx.env.pgtable.mmuGatherMergeVmas || v.vmFlags & VmFlag.PFNMAP) tlb.flushTlbOnly();
    // mprotect_fixup: a locked private mapping made writable is populated at once, so that
    // the COW break happens now rather than at the first write
    if ((old & (VmFlag.WRITE | VmFlag.SHARED | VmFlag.LOCKED)) === VmFlag.LOCKED && flags & VmFlag.WRITE)
      toPopulate.push([v.vmStart, v.vmEnd]);
  }
  tlb.finish();
  for (const v of changed) if (mm.indexOf(v) >= 0) mergeAround(ctx, mm, v);
  if (populate) for (const [s, e] of toPopulate) mmPopulate(ctx, mm, s, e, populate, true);
}

/**
 * change_pte_range: rewrite each PTE of the VMA for its new rights. A
 * private page stays (or becomes) writable only if it is an exclusive
 * anonymous page (PageAnonExclusive; clean or dirty, as Linux 6.12's
 * can_change_pte_writable); otherwise a write will fault (and copy, or
 * reuse a page that turns out to be ours alone). Each changed entry the architecture says a TLB may still
 * hold (pte_needs_flush) joins the gather's range; mprotect flushes that
 * range once, at the end.
 * Linux: mm/mprotect.c change_protection (change_pte_range; change_huge_pmd in mm/huge_memory.c)
 */
function changeProtection(ctx: MmContext, tlb: MmuGather, mm: MmStruct, v: Vma): void {
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  const nr = pt.hpagePmdNr;
  // change_protection: hugetlb_change_protection for a HugeTLB VMA, whatever its page size
  // (huge_pte_modify: a private mapping's entries read-only, not change_huge_pmd's exclusivity test)
  if (v.htlb !== null) {
    hugetlbChangeProtection(ctx, mm, v);
    return;
  }
  splitRange(ctx, mm, v.vmStart, v.vmEnd, true);
  for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
    const pmd = pmdOf(ctx, mm, vpn);
    if (pmd !== null && isHugePmd(ctx, pmd.hi, pmd.lo)) {
      // change_huge_pmd: the whole PMD at once
      const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
      const special = pt.special(pmd.hi, pmd.lo);
      const dirty = pt.dirty(pmd.hi, pmd.lo);
      // can_change_pmd_writable: a private huge page only if PageAnonExclusive; a shared one
      // (vmlab's huge pages are anonymous) when dirty
      const shared = (v.vmFlags & VmFlag.SHARED) !== 0;
      const exclusive = !special && (pages.flags[base] & PageFlag.AnonExclusive) !== 0;
      const writable = (v.vmFlags & VmFlag.WRITE) !== 0 && (shared ? dirty : exclusive);
      // pmdp_invalidate_ad: on arm64 and RISC-V (the generic one) the huge entry is flushed at once
      // (flush_pmd_tlb_range), whatever follows; x86's flushes nothing. (The entry's transient
      // invalid value is not written: nothing walks between it and set_pmd_at.)
      if (pt.pmdpInvalidateAdFlushes === true)
        ctx.env.flushTlbMmRange(mm, vpn - (vpn % nr), nr, TlbFlush.Pmd);
      // pmd_modify keeps the accessed bit as it was
      let next = hugePmd(ctx, base, v.vmFlags, writable, dirty, special);
      if (!pt.young(pmd.hi, pmd.lo)) next = pt.modify(next.hi, next.lo, 0, PteFlag.YOUNG);
      if (next.hi !== pmd.hi || next.lo !== pmd.lo)
        ptepModify(ctx, tlb, pmd.pa, vpn, pt.pmdLevel, next.hi, next.lo);
      vpn += nr - 1 - (vpn % nr);
      continue;
    }
    const pte = readPte(ctx, mm, vpn);
    if (pte === null) continue;
    flushTlbBatchedPending(ctx.env.tlbUbc, mm); // change_pte_range, at its PTE table
    if (!pt.present(pte.hi, pte.lo)) continue;
    const pfn = pt.pfn(pte.hi, pte.lo, 0);
    const special = pt.special(pte.hi, pte.lo);
    const dirty = pt.dirty(pte.hi, pte.lo);
    // can_change_pte_writable: a private mapping's page only if it is an exclusive anonymous page
    // (PageAnonExclusive, clean or dirty), a shared mapping's unless it needs write-notify (a
    // clean page of a disk file)
    const exclusive =
      !special && pages.kind[pfn] === PageKind.UserAnon && (pages.flags[pfn] & PageFlag.AnonExclusive) !== 0;
    const shared = (v.vmFlags & VmFlag.SHARED) !== 0;
    const notify = v.file !== null && v.file.fs === "disk";
    const writable = (v.vmFlags & VmFlag.WRITE) !== 0 && (shared ? !notify || dirty : exclusive);
    // pte_modify keeps the accessed bit as it was (x86 _PAGE_CHG_MASK, arm64 PTE_AF, RISC-V
    // _PAGE_ACCESSED): a page MADV_COLD or reclaim aged stays old
    let next = userPte(ctx, pfn, v.vmFlags, writable, dirty, special);
    if (!pt.young(pte.hi, pte.lo)) next = pt.modify(next.hi, next.lo, 0, PteFlag.YOUNG);
    if (next.hi !== pte.hi || next.lo !== pte.lo) ptepModify(ctx, tlb, pte.pa, vpn, 0, next.hi, next.lo);
  }
}
