/**
 * An address space's birth, copy and last reference: a new mm with its PGD,
 * fork's copy of the VMAs and page tables (copy-on-write), and the PGD's
 * release. Linux: kernel/fork.c (mm_alloc, mm_alloc_pgd, dup_mmap,
 * __mmdrop, mm_free_pgd) over the architecture's pgd_alloc and pgd_free
 * (Pgtable.pgdOrder and pgdCtor, mm/arch.ts), mm/memory.c
 * (copy_page_range, vma_needs_copy, copy_nonpresent_pte), mm/huge_memory.c
 * (copy_huge_pmd), mm/hugetlb.c (copy_hugetlb_page_range). exit_mmap is in mm/mmap.ts.
 */
import { assert } from "../../base/assert.ts";
import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import { PteFlag } from "./arch.ts";
import { Gfp } from "./gfp.ts";
import { copyPresentPage, folioNeedsCowForDma } from "./gup.ts";
import { isFilePmd, splitPmd } from "./huge_memory.ts";
import { copyHugetlbPageRange, hugetlbDupVmaPrivate } from "./hugetlb.ts";
import type { MmContext } from "./internal.ts";
import { khugepagedFork } from "./khugepaged_slots.ts";
import { ksmFork } from "./ksm_state.ts";
import { MmStruct } from "./MmStruct.ts";
import { rssAdd } from "./memory.ts";
import { exitMmap } from "./mmap.ts";
import { MmuGather } from "./mmu_gather.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import {
  isHugePmd,
  levelSpan,
  mapper,
  pgtableTransHugeDeposit,
  pmdOf,
  pteAllocOne,
  pteFreeOne,
  ptePa,
  ptepModify,
  readPte,
  setPteAt,
} from "./pgtable.ts";
import { vmEnoughMemory } from "./util.ts";
import { type Vma, VmFlag, vmFlagsUpdate } from "./vma.ts";

/**
 * mm_alloc + pgd_alloc: a new PGD whose kernel half is a copy of the
 * kernel's top-level entries, so every process shares the same kernel
 * page-table pages below the top level (pgd_ctor / clone_pgd_range).
 * Linux: kernel/fork.c mm_alloc, mm_alloc_pgd (the architecture's pgd_alloc)
 */
export function newMm(ctx: MmContext): MmStruct | null {
  const env = ctx.env;
  // PGD_ALLOCATION_ORDER (x86-64: 1 with PTI, the kernel PGD and, 4 KiB above it, the user PGD)
  const order = env.pgtable.pgdOrder;
  const pgd = env.buddy.alloc(order, Gfp.KERNEL, PageKind.PageTable);
  if (pgd < 0) return null; // not in NR_PAGETABLE: pgd_alloc has no pagetable constructor
  // GFP_PGTABLE_USER's __GFP_ACCOUNT (x86 _pgd_alloc's __get_free_pages, arm64 pgd_alloc's
  // __get_free_page): __alloc_pages charges the block to the memory cgroup (__memcg_kmem_charge_page,
  // MEMCG_KMEM); refused, the pages are freed and pgd_alloc fails (fork's -ENOMEM)
  const acct = env.pgtable.pgdAccountPages ?? 0;
  if (acct > 0 && env.chargeKmem && !env.chargeKmem(pgd, acct)) {
    const err = env.buddy.free(pgd, order);
    assert(err === null, `pgd_alloc: ${err}`);
    return null;
  }
  for (let i = 0; i < 1 << order; i++) env.phys.zeroFrame(pfnUnchecked(pgd + i));
  env.pgtable.pgdCtor(env.phys, env.kernelRootPfn, pgd);
  // x86 PAE with PTI: the PMDs preallocated beside the PGD pair (preallocate_pmds)
  let pmds = 0;
  if (env.pgtable.pgdAllocTables) {
    const ok = env.pgtable.pgdAllocTables(
      env.phys,
      env.kernelRootPfn,
      pgd,
      () => {
        const t = pgdTableAlloc(ctx);
        if (t >= 0) pmds++;
        return t;
      },
      (t) => pgdTableFree(ctx, t),
    );
    if (!ok) {
      env.buddy.free(pgd, order);
      return null;
    }
  }
  // x86 PAE without PTI: the PDPT's three user PMDs, in its order-2 block. preallocate_pmds
  // allocates each with GFP_PGTABLE_USER (init_mm's alone without __GFP_ACCOUNT): each is charged
  // to the memory cgroup (MEMCG_KMEM, and NR_PAGETABLE: pagetable_pmd_ctor); a refused charge
  // fails the allocation, free_pmds frees those taken and pgd_alloc fails (fork's -ENOMEM)
  const blockPmds = env.pgtable.pgdBlockPmds ?? 0;
  for (let i = 0; i < blockPmds; i++)
    if (env.chargePageTable && !env.chargePageTable(pgd + 1 + i, true)) {
      const err = env.buddy.free(pgd, order); // uncharges the PMDs charged
      assert(err === null, `preallocate_pmds: ${err}`);
      return null;
    }
  env.countPageTables(blockPmds);
  pmds += blockPmds;
  // x86 init_new_context: ctx_id = atomic64_inc_return(&last_mm_ctx_id), one counter per machine
  const mm = new MmStruct(pfnUnchecked(pgd), ++ctx.lastCtxId);
  mm.ptPages += pmds; // preallocate_pmds: pagetable_pmd_ctor and mm_inc_nr_pmds for each
  mm.anonVmas = ctx.anonVmas ?? null;
  // STACK_TOP = TASK_SIZE_LOW = DEFAULT_MAP_WINDOW (below TASK_SIZE only with x86 LA57)
  const top = env.mapWindowVpn;
  mm.stackTop = top;
  // mmap_base = STACK_TOP - gap, gap = the stack rlimit clamped to [128 MiB, 5/6 of it] (no randomisation)
  mm.mmapBase = top - 32768;
  return mm;
}

/**
 * dup_mmap: copy every VMA; copy the page tables only of VMAs that have
 * anonymous pages (vma_needs_copy), write-protecting private pages in both
 * parent and child (copy-on-write), then flush the parent's TLBs.
 * Linux: kernel/fork.c dup_mmap, mm/memory.c copy_page_range, mm/huge_memory.c copy_huge_pmd
 */
export function dupMm(ctx: MmContext, parent: MmStruct, capSysAdmin = true): MmStruct | null {
  const child = newMm(ctx);
  if (child === null) return null;
  child.disableThp = parent.disableThp; // mm_init: mmf_init_flags keeps MMF_DISABLE_THP (MMF_INIT_MASK)
  khugepagedFork(ctx, child, parent); // dup_mmap: khugepaged_fork
  ksmFork(ctx.env.ksm, child, parent); // dup_mmap: ksm_fork
  // dup_mmap: flush_cache_dup_mm(oldmm) before the parent's PTEs are write-protected
  ctx.env.cache.flushCacheDupMm(parent);
  // dup_mmap ends with flush_tlb_mm(oldmm), also when the copy fails half way
  const tlb = new MmuGather(ctx, parent, true);
  const ok = copyPageRanges(ctx, tlb, parent, child, capSysAdmin);
  // flush_tlb_mm is unconditional, whether copy_page_range write-protected anything or not (a
  // parent with only shared or read-only mappings is flushed all the same), and of every level:
  // x86's flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL, 0, freed_tables=true) reaches lazy CPUs
  // too, arm64's is TLBI ASIDE1IS, RISC-V's the whole ASID
  tlb.flushRange(0, 1);
  tlb.freedTables = true;
  tlb.finish();
  if (ok) {
    // dup_mm: the child's marks start at what dup_mmap gave it (the memcpy'd parent's are overwritten)
    child.hiwaterRss = child.rss;
    child.hiwaterVm = child.totalVm();
    return child;
  }
  dropFailedMm(ctx, child);
  return null;
}

/**
 * A fork that failed half way: the child's mm goes as its last reference
 * would, so nothing it took stays taken: exit_mmap zaps what was copied
 * (the pages' references and mapcounts, swap entries), frees its page
 * tables, closes its VMAs (shmem and HugeTLB references), drops its
 * commitment and leaves khugepaged; then its PGD goes (no CPU ever loaded it).
 * Linux: kernel/fork.c copy_process's bad_fork_cleanup_mm -> mmput ->
 * __mmput -> exit_mmap, khugepaged_exit, then mmdrop -> __mmdrop ->
 * mm_free_pgd (dup_mmap's fail path leaves the VMAs copied so far in the
 * tree for exit_mmap, 6.12 and 6.18 alike)
 */
function dropFailedMm(ctx: MmContext, child: MmStruct): void {
  child.users = 0;
  exitMmap(ctx, child);
  freePgd(ctx, child);
}

/** dup_mmap's loop: every VMA, and copy_page_range where vma_needs_copy. False: out of memory. */
function copyPageRanges(
  ctx: MmContext,
  tlb: MmuGather,
  parent: MmStruct,
  child: MmStruct,
  capSysAdmin: boolean,
): boolean {
  child.mmapBase = parent.mmapBase;
  child.stackTop = parent.stackTop;
  child.startBrk = parent.startBrk;
  child.brkBytes = parent.brkBytes;
  // not def_flags: mm_init gives the child only VM_INIT_DEF_MASK of the parent's, so an
  // mlockall(MCL_FUTURE) does not reach the child's mappings (child.defFlags stays 0)
  const env = ctx.env;
  const pages = env.pages;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  for (const v of parent.vmas) {
    if (v.vmFlags & VmFlag.DONTCOPY) continue;
    // dup_mmap: an accounted VMA is charged to the child (security_vm_enough_memory_mm(oldmm,
    // len): the parent's total_vm sets the user reserve), or the fork fails with ENOMEM
    if (v.vmFlags & VmFlag.ACCOUNT) {
      if (!vmEnoughMemory(ctx, parent, v.pages, capSysAdmin, child.committed)) return false;
      child.committed += v.pages;
    }
    const c = v.clone();
    c.vmFlags = vmFlagsUpdate(c.vmFlags, 0, VmFlag.LOCKED | VmFlag.LOCKONFAULT); // dup_mmap: not locked in the child
    // anon_vma_fork: the child's VMA is chained to every anon_vma of the parent's, and to its own
    c.avc = [];
    c.anonVma = 0;
    if (v.anonVma !== 0 && !(v.vmFlags & VmFlag.WIPEONFORK)) {
      c.anonVma = child.newAnonVma();
      c.avc = [...v.avc, c.anonVma];
    }
    hugetlbDupVmaPrivate(c); // dup_mmap: hugetlb_dup_vma_private
    child.insert(c);
    if (v.vmFlags & VmFlag.HUGETLB) {
      // copy_page_range: copy_hugetlb_page_range where vma_needs_copy (a private mapping's anon_vma)
      if (
        v.anonVma !== 0 &&
        !(v.vmFlags & VmFlag.WIPEONFORK) &&
        !copyHugetlbPageRange(ctx, tlb, parent, child, v)
      )
        return false;
      continue;
    }
    // vma_needs_copy: PFNMAP mappings are always copied (their PTEs cannot be refaulted)
    if (
      (v.anonVma === 0 && !hasGuards(ctx, parent, v) && !(v.vmFlags & VmFlag.PFNMAP)) ||
      v.vmFlags & VmFlag.WIPEONFORK
    )
      continue;
    if (!dupTables(ctx, parent, child, v)) return false;
    const cow = !(v.vmFlags & VmFlag.SHARED) && (v.vmFlags & VmFlag.MAYWRITE) !== 0;
    for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
      const pmd = vpn % nr === 0 ? pmdOf(ctx, parent, vpn) : null;
      if (pmd !== null && isHugePmd(ctx, pmd.hi, pmd.lo) && isFilePmd(ctx, pmd.hi, pmd.lo)) {
        vpn += nr - 1; // copy_huge_pmd: a file VMA's PMD is not copied (the child refaults it)
        continue;
      }
      // copy_huge_pmd: folio_try_dup_anon_rmap_pmd refuses a maybe-pinned exclusive huge page: the
      // parent's PMD is split (__split_huge_pmd, -EAGAIN) and its PTEs copied below, page by page
      if (
        parent.hasPinned &&
        pmd !== null &&
        isHugePmd(ctx, pmd.hi, pmd.lo) &&
        pinnedHugePmd(ctx, parent, v.vmFlags, pmd)
      )
        splitPmd(ctx, parent, vpn);
      else if (pmd !== null && isHugePmd(ctx, pmd.hi, pmd.lo)) {
        // copy_huge_pmd: share the huge page, write-protected on both sides; the child's PMD
        // deposits a table of its own (pte_alloc_one, pgtable_trans_huge_deposit, mm_inc_nr_ptes)
        const table = pteAllocOne(ctx, child, true);
        if (table < 0) return false;
        // copy_pmd_range: pmd_alloc of the child's table comes before anything is shared
        const pd = mapper(ctx, child).ensureTable(child.pgdPfn, vpnUnchecked(vpn), pt.pmdLevel, true);
        if (pd < 0) {
          pteFreeOne(ctx, child, table);
          return false;
        }
        let e = { hi: pmd.hi, lo: pmd.lo };
        if (!pt.special(e.hi, e.lo)) {
          const base = pt.pfn(e.hi, e.lo, pt.pmdLevel);
          for (let i = 0; i < nr; i++) {
            pages.refcount[base + i]++;
            pages.mapcount[base + i]++;
            // folio_try_dup_anon_rmap_pmd: the huge page is no longer exclusive
            pages.flags[base + i] &= ~PageFlag.AnonExclusive;
          }
          child.rssAnon += nr;
          if (cow && pt.write(e.hi, e.lo)) {
            e = pt.modify(e.hi, e.lo, 0, PteFlag.WRITE);
            ptepModify(ctx, tlb, pmd.pa, vpn, pt.pmdLevel, e.hi, e.lo); // pmdp_set_wrprotect
          }
        }
        const pmdIndex = Math.floor(vpn / levelSpan(ctx, pt.pmdLevel)) % pt.ptrsPerTable;
        const childPmdPa = pd * 4096 + pmdIndex * pt.entryBytes;
        pgtableTransHugeDeposit(child, childPmdPa, table);
        e = pt.modify(e.hi, e.lo, 0, PteFlag.YOUNG); // copy_huge_pmd: pmd_mkold(pmd_wrprotect(pmd))
        setPteAt(ctx, childPmdPa, e.hi, e.lo); // set_pmd_at
        vpn += nr - 1;
        continue;
      }
      const pte = readPte(ctx, parent, vpn);
      if (pte === null || pt.none(pte.hi, pte.lo)) continue;
      // copy_pte_range: the child's PTE table is allocated (pte_alloc_map_lock) before any
      // entry is copied, so a failure leaves no reference taken for an entry never written
      const cpa = ptePa(ctx, child, vpn, true);
      if (cpa < 0) return false;
      let e = { hi: pte.hi, lo: pte.lo };
      if (pt.isSwap(pte.hi, pte.lo)) {
        // copy_nonpresent_pte: swap_duplicate; the slot is now named twice, so the parent's
        // entry loses its exclusive marker too (pte_swp_clear_exclusive, set_pte_at on src)
        const swap = env.swap!;
        const slot = pt.swapOffset(pte.hi, pte.lo);
        if (!swap.dup(slot)) {
          // swap_duplicate's -ENOMEM past SWAP_MAP_MAX: copy_pte_range drops its locks and
          // add_swap_count_continuation(entry, GFP_KERNEL) chains a page (alloc_page(gfp_mask |
          // __GFP_HIGHMEM)) to swap_map, then copies the entry again; no page: the fork fails
          const p = env.buddy.alloc(0, Gfp.KERNEL | Gfp.HIGHMEM, PageKind.KernelPages);
          if (p < 0) return false;
          swap.addContinuation(slot, p);
          assert(swap.dup(slot), "swap_duplicate after add_swap_count_continuation");
        }
        child.swapEnts++;
        if (pt.swapExclusive(e.hi, e.lo)) {
          e = pt.swapClearExclusive(e.hi, e.lo);
          setPteAt(ctx, pte.pa, e.hi, e.lo);
        }
      }
      if (pt.present(e.hi, e.lo) && !pt.special(e.hi, e.lo)) {
        const pfn = pt.pfn(e.hi, e.lo, 0);
        if (
          parent.hasPinned &&
          pages.kind[pfn] === PageKind.UserAnon &&
          pages.flags[pfn] & PageFlag.AnonExclusive &&
          folioNeedsCowForDma(ctx, parent, v.vmFlags, pfn)
        ) {
          // folio_try_dup_anon_rmap_pte refuses a maybe-pinned exclusive page: copy_present_page
          const n = copyPresentPage(ctx, child, child.vmaAt(vpn)!, vpn, pfn);
          if (n === null) return false;
          setPteAt(ctx, cpa, n.hi, n.lo, child, vpn);
          continue;
        }
        pages.refcount[pfn]++;
        pages.mapcount[pfn]++;
        // copy_present_pte: folio_try_dup_anon_rmap_pte clears PageAnonExclusive
        pages.flags[pfn] &= ~PageFlag.AnonExclusive;
        rssAdd(ctx, child, v, pfn, 1);
        if (cow && pt.write(e.hi, e.lo)) {
          e = pt.modify(e.hi, e.lo, 0, PteFlag.WRITE);
          ptepModify(ctx, tlb, pte.pa, vpn, 0, e.hi, e.lo); // ptep_set_wrprotect
        }
      }
      // __copy_present_ptes: the child's entry is old, and clean in a shared mapping
      if (pt.present(e.hi, e.lo))
        e = pt.modify(e.hi, e.lo, 0, PteFlag.YOUNG | (v.vmFlags & VmFlag.SHARED ? PteFlag.DIRTY : 0));
      setPteAt(ctx, cpa, e.hi, e.lo, child, vpn); // set_pte_at: arm64 folds the child's blocks (contpte_try_fold)
    }
  }
  return true;
}

/** A huge PMD of an exclusive anonymous folio fork must not share (folio_needs_cow_for_dma). */
function pinnedHugePmd(
  ctx: MmContext,
  parent: MmStruct,
  vmFlags: number,
  pmd: { hi: number; lo: number },
): boolean {
  const pt = ctx.env.pgtable;
  if (pt.special(pmd.hi, pmd.lo)) return false; // the huge zero page
  const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
  const pages = ctx.env.pages;
  if (pages.kind[base] !== PageKind.UserAnon || !(pages.flags[base] & PageFlag.AnonExclusive)) return false;
  return folioNeedsCowForDma(ctx, parent, vmFlags, base);
}

/**
 * copy_page_range's walk down to the PTEs: the child gets a table at each level wherever the
 * parent's entry above it, in the VMA's range, points to a table, whether or not anything below
 * is copied: copy_p4d_range's p4d_alloc, copy_pud_range's pud_alloc and copy_pmd_range's
 * pmd_alloc for each entry not none (p?d_none_or_clear_bad), copy_pte_range's
 * pte_alloc_map_lock for each PMD that maps a PTE table, even one whose PTEs are all none (a
 * partial MADV_DONTNEED's). A huge PMD's table comes with copy_huge_pmd. False: out of memory.
 * Linux: mm/memory.c copy_page_range, copy_p4d_range, copy_pud_range, copy_pmd_range, copy_pte_range
 */
function dupTables(ctx: MmContext, parent: MmStruct, child: MmStruct, v: Vma): boolean {
  const pt = ctx.env.pgtable;
  const pm = mapper(ctx, parent);
  const cm = mapper(ctx, child);
  for (let level = pt.levels - 2; level >= 0; level--) {
    const span = levelSpan(ctx, level + 1);
    for (let vpn = v.vmStart; vpn < v.vmEnd; vpn = (Math.floor(vpn / span) + 1) * span) {
      const e = pm.entryAt(parent.pgdPfn, vpnUnchecked(vpn), level + 1);
      if (e === null || !pt.table(e.hi, e.lo, level + 1)) continue;
      if (cm.ensureTable(child.pgdPfn, vpnUnchecked(vpn), level, true) < 0) return false;
    }
  }
  return true;
}

/**
 * Does the VMA hold a guard marker? Fork then copies its page tables, so
 * that the child keeps the markers (they cannot be faulted in again).
 * Linux: mm/memory.c vma_needs_copy
 */
function hasGuards(ctx: MmContext, mm: MmStruct, v: Vma): boolean {
  for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
    const pte = readPte(ctx, mm, vpn);
    if (pte !== null && ctx.env.pgtable.isGuard(pte.hi, pte.lo)) return true;
  }
  return false;
}

/** A page-table page pgd_alloc takes beside the PGD (preallocate_pmds: GFP_PGTABLE_USER without highmem), zeroed; -1 if none. */
function pgdTableAlloc(ctx: MmContext): number {
  const t = ctx.env.buddy.alloc(0, Gfp.KERNEL, PageKind.PageTable);
  if (t < 0) return -1;
  if (ctx.env.chargePageTable && !ctx.env.chargePageTable(t, true)) {
    const err = ctx.env.buddy.free(t, 0);
    assert(err === null, `preallocate_pmds: ${err}`);
    return -1;
  }
  ctx.env.countPageTables(1);
  ctx.env.phys.zeroFrame(pfnUnchecked(t));
  return t;
}

function pgdTableFree(ctx: MmContext, t: number): void {
  const err = ctx.env.buddy.free(t, 0);
  assert(err === null, `pgd table free: ${err}`);
  ctx.env.countPageTables(-1);
}

/**
 * __mmdrop: frees the PGD once no CPU has the mm loaded.
 * Linux: kernel/fork.c __mmdrop, mm_free_pgd (the architecture's pgd_free)
 */
export function freePgd(ctx: MmContext, mm: MmStruct): void {
  const order = ctx.env.pgtable.pgdOrder;
  ctx.env.pgtable.pgdFreeTables?.(ctx.env.phys, mm.pgdPfn, (t) => pgdTableFree(ctx, t)); // pgd_mop_up_pmds
  ctx.env.countPageTables(-(ctx.env.pgtable.pgdBlockPmds ?? 0));
  const err = ctx.env.buddy.free(mm.pgdPfn, order);
  assert(err === null, `freePgd: ${err}`);
  mm.pgdPfn = pfnUnchecked(-1); // poison: the PGD is freed, nothing walks it again
}
