/**
 * khugepaged's mm slots: which mms it scans (registered when a VMA becomes
 * eligible, on fork, dropped at exit), which VMAs it may collapse in, and
 * its knobs' defaults. Apart from the scan and the collapse
 * (mm/khugepaged.ts) so that the fault, mmap and fork paths that register
 * an mm need nothing of the collapse's. Linux: mm/khugepaged.c
 * (khugepaged_init, __khugepaged_enter, khugepaged_enter_vma,
 * __khugepaged_exit), include/linux/khugepaged.h khugepaged_fork.
 */
import type { KhugepagedState, MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { pmdThpMode } from "./mthp_state.ts";
import { shmemVmaPmdAllowed } from "./shmem_huge.ts";
import { thpVmFlags, type Vma, VmFlag } from "./vma.ts";

/** The initial result of the last scan: none yet. */
const NO_SCAN = -1;

/**
 * khugepaged_init's defaults: pages_to_scan HPAGE_PMD_NR * 8, max_ptes_swap
 * HPAGE_PMD_NR / 8, max_ptes_shared HPAGE_PMD_NR / 2 (max_ptes_none,
 * HPAGE_PMD_NR - 1, is the machine's thp_max_ptes_none setting).
 * Linux: mm/khugepaged.c khugepaged_init
 */
export function newKhugepagedState(hpagePmdNr: number): KhugepagedState {
  return {
    slots: [],
    scanMm: null,
    scanAddress: 0,
    pagesToScan: hpagePmdNr * 8,
    maxPtesSwap: hpagePmdNr / 8,
    maxPtesShared: hpagePmdNr / 2,
    pagesCollapsed: 0,
    fullScans: 0,
    lastResult: NO_SCAN,
  };
}

/** khugepaged_max_ptes_none: the machine's setting, HPAGE_PMD_NR - 1 when not given. */
export function maxPtesNone(ctx: MmContext): number {
  const s = ctx.settings.thpMaxPtesNone ?? -1;
  return s < 0 ? ctx.env.pgtable.hpagePmdNr - 1 : s;
}

/**
 * hugepage_pmd_enabled: THP enabled at all for the PMD order (`always` or
 * `madvise`: hugepages-<PMD size>kB/enabled, or the top-level one where that
 * is `inherit`).
 * Linux: mm/khugepaged.c hugepage_pmd_enabled
 */
export function hugepagePmdEnabled(ctx: MmContext): boolean {
  return pmdThpMode(ctx.env.mthp, ctx.settings.thp) !== "never";
}

/**
 * thp_vma_allowable_order(vma, vm_flags, tva_flags, PMD_ORDER) outside a
 * fault: not MADV_NOHUGEPAGE nor the mm's MMF_DISABLE_THP (vma_thp_disabled), not VM_NO_KHUGEPAGED (VM_SPECIAL: VM_IO,
 * VM_PFNMAP, VM_DONTEXPAND; and VM_HUGETLB). A shmem VMA (a tmpfs file or
 * memfd, shared anonymous memory, a SysV segment: shmem_file(vma->vm_file))
 * is judged by shmem's own policy (mm/shmem_huge.ts shmemVmaPmdAllowed:
 * shmem_allowable_huge_orders, forced for MADV_COLLAPSE), before and instead
 * of the `enabled` setting; a disk file's VMA is not eligible
 * (CONFIG_READ_ONLY_THP_FOR_FS is not modelled). A private anonymous VMA: at
 * least one whole aligned PMD inside it (the !in_pf check, at vm_end -
 * HPAGE_PMD_SIZE); with `enforceSysfs` (TVA_ENFORCE_SYSFS: khugepaged, not
 * MADV_COLLAPSE) the `enabled` setting too: `always`, or `madvise` and
 * VM_HUGEPAGE.
 * Linux: include/linux/huge_mm.h thp_vma_allowable_orders, mm/huge_memory.c __thp_vma_allowable_orders
 */
export function collapseAllowable(ctx: MmContext, mm: MmStruct, vma: Vma, enforceSysfs: boolean): boolean {
  if (
    thpVmFlags(mm, vma.vmFlags) &
    (VmFlag.NOHUGEPAGE | VmFlag.IO | VmFlag.PFNMAP | VmFlag.DONTEXPAND | VmFlag.HUGETLB)
  )
    return false;
  if (vma.shmem !== null || vma.file?.fs === "tmpfs")
    return shmemVmaPmdAllowed(ctx.env.pageCache, vma, !enforceSysfs);
  if (vma.file !== null || vma.vmFlags & VmFlag.SHARED) return false;
  if (enforceSysfs) {
    const mode = pmdThpMode(ctx.env.mthp, ctx.settings.thp);
    if (mode === "never" || (mode === "madvise" && !(vma.vmFlags & VmFlag.HUGEPAGE))) return false;
  }
  const nr = ctx.env.pgtable.hpagePmdNr;
  const last = vma.vmEnd - nr;
  return last >= 0 && last - (last % nr) >= vma.vmStart;
}

// ---- mm slots ----

/**
 * __khugepaged_enter: the mm joins khugepaged's list (MMF_VM_HUGEPAGE),
 * at its tail: behind the scan cursor, "to let the area settle down".
 * Linux: mm/khugepaged.c __khugepaged_enter
 */
function khugepagedEnterMm(st: KhugepagedState, mm: MmStruct): void {
  if (mm.dead || st.slots.includes(mm)) return;
  st.slots.push(mm);
}

/**
 * khugepaged_enter_vma: a VMA became eligible (mmap, brk, MADV_HUGEPAGE,
 * a merge): its mm is registered with khugepaged, if THP is enabled and the
 * VMA allowed under the sysfs setting.
 * Linux: mm/khugepaged.c khugepaged_enter_vma (called from mm/vma.c __mmap_region, mm/mmap.c do_brk_flags, hugepage_madvise)
 */
export function khugepagedEnterVma(ctx: MmContext, mm: MmStruct, vma: Vma): void {
  const st = ctx.khugepaged;
  if (st === undefined || st.slots.includes(mm) || !hugepagePmdEnabled(ctx)) return;
  if (collapseAllowable(ctx, mm, vma, true)) khugepagedEnterMm(st, mm);
}

/**
 * khugepaged_fork: a child of a registered mm is registered too.
 * Linux: include/linux/khugepaged.h khugepaged_fork (dup_mmap)
 */
export function khugepagedFork(ctx: MmContext, mm: MmStruct, oldmm: MmStruct): void {
  const st = ctx.khugepaged;
  if (st?.slots.includes(oldmm)) khugepagedEnterMm(st, mm);
}

/**
 * __khugepaged_exit: the mm's slot goes at once, unless the scan is on it
 * (khugepaged_scan.mm_slot): then the scan collects it
 * (hpage_collapse_test_exit, collect_mm_slot).
 * Linux: mm/khugepaged.c __khugepaged_exit
 */
export function khugepagedExit(ctx: MmContext, mm: MmStruct): void {
  const st = ctx.khugepaged;
  if (st === undefined || st.scanMm === mm) return;
  const i = st.slots.indexOf(mm);
  if (i >= 0) st.slots.splice(i, 1);
}

/**
 * A write to khugepaged's sysfs files: pages_to_scan (a positive number),
 * max_ptes_swap and max_ptes_shared (0 .. HPAGE_PMD_NR - 1); false where the
 * store returns -EINVAL, the value unchanged.
 * Linux: mm/khugepaged.c pages_to_scan_store, max_ptes_swap_store, max_ptes_shared_store
 */
export function khugepagedStore(
  st: KhugepagedState,
  hpagePmdNr: number,
  knob: "pages_to_scan" | "max_ptes_swap" | "max_ptes_shared",
  value: number,
): boolean {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) return false; // kstrtouint
  if (knob === "pages_to_scan") {
    if (value === 0) return false;
    st.pagesToScan = value;
    return true;
  }
  if (value > hpagePmdNr - 1) return false;
  if (knob === "max_ptes_swap") st.maxPtesSwap = value;
  else st.maxPtesShared = value;
  return true;
}
