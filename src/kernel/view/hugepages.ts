/**
 * `show hugepages`: the HugeTLB pool as sysfs shows it, one hstate's
 * directory /sys/kernel/mm/hugepages/hugepages-<size>kB/ (nr_hugepages,
 * nr_hugepages_mempolicy, free_hugepages, resv_hugepages,
 * surplus_hugepages, nr_overcommit_hugepages), and the pool's
 * /proc/sys/vm files.
 * Linux: mm/hugetlb.c hstate_attrs (nr_hugepages_show, free_hugepages_show, resv_hugepages_show,
 * surplus_hugepages_show, nr_overcommit_hugepages_show), hugetlb_sysctl_handler
 */
import type { KernelCore } from "../core/core.ts";

/** The values `show hugepages` prints. */
export function hugepagesInfo(k: KernelCore): Record<string, number> {
  const h = k.userMm.hstate;
  const dir = `/sys/kernel/mm/hugepages/hugepages-${h.nrPages * 4}kB`;
  return {
    // nr_hugepages_show: persistent pages (nr_huge_pages - surplus_huge_pages)
    [`${dir}/nr_hugepages`]: h.persistent,
    [`${dir}/nr_hugepages_mempolicy`]: h.persistent,
    [`${dir}/free_hugepages`]: h.freeHugePages,
    [`${dir}/resv_hugepages`]: h.resvHugePages,
    [`${dir}/surplus_hugepages`]: h.surplusHugePages,
    [`${dir}/nr_overcommit_hugepages`]: h.nrOvercommitHugePages,
    "/proc/sys/vm/nr_hugepages": h.persistent,
    "/proc/sys/vm/nr_overcommit_hugepages": h.nrOvercommitHugePages,
  };
}

/** The lines of `show hugepages`: each file and its value. */
export function formatHugepages(info: Record<string, number>): string[] {
  const w = Math.max(...Object.keys(info).map((n) => n.length));
  return Object.entries(info).map(([n, v]) => `${n.padEnd(w)}  ${v}`);
}
