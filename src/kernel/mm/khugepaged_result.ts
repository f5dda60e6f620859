/**
 * What khugepaged's two collapses share (mm/khugepaged.ts for anonymous
 * memory, mm/khugepaged_file.ts for shmem): the result codes (enum
 * scan_result), find_pmd_or_thp_or_none, and madvise_collapse_errno.
 * Linux 6.12: mm/khugepaged.c
 */
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { isHugePmd, pmdOf } from "./pgtable.ts";

/** The results of a scan or collapse (enum scan_result), in Linux's order. Linux: mm/khugepaged.c */
export const enum Scan {
  FAIL = 0,
  SUCCEED = 1,
  PMD_NULL = 2,
  PMD_NONE = 3,
  PMD_MAPPED = 4,
  EXCEED_NONE_PTE = 5,
  EXCEED_SWAP_PTE = 6,
  EXCEED_SHARED_PTE = 7,
  PTE_NON_PRESENT = 8,
  PTE_UFFD_WP = 9,
  PTE_MAPPED_HUGEPAGE = 10,
  PAGE_RO = 11,
  LACK_REFERENCED_PAGE = 12,
  PAGE_NULL = 13,
  SCAN_ABORT = 14,
  PAGE_COUNT = 15,
  PAGE_LRU = 16,
  PAGE_LOCK = 17,
  PAGE_ANON = 18,
  PAGE_COMPOUND = 19,
  ANY_PROCESS = 20,
  VMA_NULL = 21,
  VMA_CHECK = 22,
  ADDRESS_RANGE = 23,
  DEL_PAGE_LRU = 24,
  ALLOC_HUGE_PAGE_FAIL = 25,
  CGROUP_CHARGE_FAIL = 26,
  TRUNCATED = 27,
  PAGE_HAS_PRIVATE = 28,
  STORE_FAILED = 29,
  COPY_MC = 30,
  PAGE_FILLED = 31,
}

/** The SCAN_* names, by value (the trace points' enum names). */
export const SCAN_NAMES: readonly string[] = [
  "SCAN_FAIL",
  "SCAN_SUCCEED",
  "SCAN_PMD_NULL",
  "SCAN_PMD_NONE",
  "SCAN_PMD_MAPPED",
  "SCAN_EXCEED_NONE_PTE",
  "SCAN_EXCEED_SWAP_PTE",
  "SCAN_EXCEED_SHARED_PTE",
  "SCAN_PTE_NON_PRESENT",
  "SCAN_PTE_UFFD_WP",
  "SCAN_PTE_MAPPED_HUGEPAGE",
  "SCAN_PAGE_RO",
  "SCAN_LACK_REFERENCED_PAGE",
  "SCAN_PAGE_NULL",
  "SCAN_SCAN_ABORT",
  "SCAN_PAGE_COUNT",
  "SCAN_PAGE_LRU",
  "SCAN_PAGE_LOCK",
  "SCAN_PAGE_ANON",
  "SCAN_PAGE_COMPOUND",
  "SCAN_ANY_PROCESS",
  "SCAN_VMA_NULL",
  "SCAN_VMA_CHECK",
  "SCAN_ADDRESS_RANGE",
  "SCAN_DEL_PAGE_LRU",
  "SCAN_ALLOC_HUGE_PAGE_FAIL",
  "SCAN_CGROUP_CHARGE_FAIL",
  "SCAN_TRUNCATED",
  "SCAN_PAGE_HAS_PRIVATE",
  "SCAN_STORE_FAILED",
  "SCAN_COPY_MC",
  "SCAN_PAGE_FILLED",
];

/**
 * find_pmd_or_thp_or_none: the PMD entry above haddr, which must point to a
 * PTE table for a collapse.
 * Linux: mm/khugepaged.c find_pmd_or_thp_or_none
 */
export function findPmd(ctx: MmContext, mm: MmStruct, haddr: number): Scan {
  const pt = ctx.env.pgtable;
  const pmd = pmdOf(ctx, mm, haddr);
  if (pmd === null) return Scan.PMD_NULL; // mm_find_pmd: no PMD table
  if (pt.none(pmd.hi, pmd.lo)) return Scan.PMD_NONE;
  if (isHugePmd(ctx, pmd.hi, pmd.lo)) return Scan.PMD_MAPPED;
  if (!pt.table(pmd.hi, pmd.lo, 1)) return Scan.PMD_NULL;
  return Scan.SUCCEED;
}

/**
 * madvise_collapse_errno: what a failed MADV_COLLAPSE returns for its last
 * failure: -ENOMEM (no huge page), -EBUSY (the charge, or max_ptes_none,
 * which MADV_COLLAPSE does not apply), -EAGAIN (a page busy: try again),
 * else -EINVAL.
 * Linux: mm/khugepaged.c madvise_collapse_errno
 */
export function collapseErrno(r: Scan): number {
  switch (r) {
    case Scan.ALLOC_HUGE_PAGE_FAIL:
      return -Errno.ENOMEM;
    case Scan.CGROUP_CHARGE_FAIL:
    case Scan.EXCEED_NONE_PTE:
      return -Errno.EBUSY;
    case Scan.PAGE_COUNT:
    case Scan.PAGE_LOCK:
    case Scan.PAGE_LRU:
    case Scan.DEL_PAGE_LRU:
    case Scan.PAGE_FILLED:
      return -Errno.EAGAIN;
    default:
      return -Errno.EINVAL;
  }
}
