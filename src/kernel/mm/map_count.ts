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
import type { MmStruct } from "./MmStruct.ts";
import { Vma } from "./vma.ts";

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

/**
 * vma_modify's splits of the piece [start, end) of `vma` whose flags become `flags`, each
 * refused by split_vma when the mm already has max_map_count VMAs: first the merge
 * (vma_merge_existing_range: a piece at the VMA's start joins the previous VMA, one at its end
 * the next, when adjacent and compatible: no split), then the split at the start, then at
 * the end. `count` is map_count before it; `sealed`: the piece's VM_SEALED after the change. Returns 0 (allowed), 1 (the start's split refused:
 * nothing changes) or 2 (the end's split refused after the start's was made).
 * Linux 6.12: mm/vma.c vma_modify, split_vma, vma_merge_existing_range
 */
export function modifySplitRefused(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  start: number,
  end: number,
  flags: number,
  count = mm.vmas.length,
  sealed = vma.sealed,
): 0 | 1 | 2 {
  const splitStart = vma.vmStart < start;
  const splitEnd = vma.vmEnd > end;
  if (!splitStart && !splitEnd) return 0;
  const max = maxMapCount(ctx);
  if (count < max - 1) return 0; // room for both
  const probe = new Vma(start, end, flags, vma.vmPgoff + (start - vma.vmStart), vma.name);
  probe.file = vma.file;
  probe.vmFile = vma.vmFile;
  probe.shmem = vma.shmem;
  probe.anonVma = vma.anonVma;
  probe.sealed = sealed;
  const i = mm.indexOf(vma);
  if (!splitStart && mm.vmas[i - 1]?.canMergeWith(probe)) return 0; // merge_left: prev grows
  if (!splitEnd) {
    const next = mm.vmas[i + 1];
    if (next !== undefined && probe.canMergeWith(next)) return 0; // merge_right: next grows
  }
  let n = count;
  if (splitStart) {
    if (n >= max) return 1;
    n++;
  }
  return splitEnd && n >= max ? 2 : 0;
}
