/**
 * `show hugepages`: the HugeTLB pools as sysfs shows them, each hstate's
 * directory /sys/kernel/mm/hugepages/hugepages-<size>kB/ (nr_hugepages,
 * nr_hugepages_mempolicy, free_hugepages, resv_hugepages,
 * surplus_hugepages, nr_overcommit_hugepages), smallest size first, and
 * the default pool's /proc/sys/vm files.
 * Linux: mm/hugetlb.c hstate_attrs (nr_hugepages_show, free_hugepages_show, resv_hugepages_show,
 * surplus_hugepages_show, nr_overcommit_hugepages_show), hugetlb_sysctl_handler
 */
import type { KernelCore } from "../core/core.ts";

/** The values `show hugepages` prints. */
export function hugepagesInfo(k: KernelCore): Record<string, number> {
  const info: Record<string, number> = {};
  for (const h of [...k.userMm.hstates].sort((a, b) => a.nrPages - b.nrPages)) {
    const dir = `/sys/kernel/mm/hugepages/hugepages-${h.sizeKb}kB`;
    // nr_hugepages_show: persistent pages (nr_huge_pages - surplus_huge_pages)
    info[`${dir}/nr_hugepages`] = h.persistent;
    info[`${dir}/nr_hugepages_mempolicy`] = h.persistent;
    info[`${dir}/free_hugepages`] = h.freeHugePages;
    info[`${dir}/resv_hugepages`] = h.resvHugePages;
    info[`${dir}/surplus_hugepages`] = h.surplusHugePages;
    info[`${dir}/nr_overcommit_hugepages`] = h.nrOvercommitHugePages;
  }
  const h = k.userMm.hstate;
  info["/proc/sys/vm/nr_hugepages"] = h.persistent;
  info["/proc/sys/vm/nr_overcommit_hugepages"] = h.nrOvercommitHugePages;
  return info;
}

/** The lines of `show hugepages`: each file and its value. */
export function formatHugepages(info: Record<string, number>): string[] {
  const w = Math.max(...Object.keys(info).map((n) => n.length));
  return Object.entries(info).map(([n, v]) => `${n.padEnd(w)}  ${v}`);
}
