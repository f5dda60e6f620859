/**
 * vm.max_map_count: how many VMAs an mm may hold (sysctl_max_map_count,
 * DEFAULT_MAX_MAP_COUNT = USHRT_MAX - MAPCOUNT_ELF_CORE_MARGIN = 65530).
 * mm->map_count is the number of VMAs (vmlab: mm.vmas.length). The checks
 * are at their callers: do_mmap and do_brk_flags (`map_count >
 * max_map_count`), split_vma (`>=`, the splits of vma_modify: mprotect,
 * mlock, madvise, mseal), munmap's split of a VMA in three (`>=`),
 * move_vma (`>= max - 3`) and mremap_to (`map_count + 2 >= max - 3`).
 * Linux 6.12: mm/util.c sysctl_max_map_count; include/linux/mm.h DEFAULT_MAX_MAP_COUNT
 */
import type { MmContext } from "./internal.ts";

export const DEFAULT_MAX_MAP_COUNT = 65530;

/** sysctl_max_map_count */
export function maxMapCount(ctx: MmContext): number {
  return ctx.settings.maxMapCount ?? DEFAULT_MAX_MAP_COUNT;
}

/**
 * /proc/sys/vm/max_map_count written (proc_dointvec_minmax, extra1 = 0: a
 * negative value is -EINVAL and leaves the knob as it was); returns the value
 * as read back, or -EINVAL.
 */
export function sysctlMaxMapCount(ctx: MmContext, value?: number): { ret: number; now: number } {
  if (value !== undefined) {
    if (value < 0 || value > 2 ** 31 - 1) return { ret: -22, now: maxMapCount(ctx) };
    ctx.settings.maxMapCount = value;
  }
  return { ret: 0, now: maxMapCount(ctx) };
}
