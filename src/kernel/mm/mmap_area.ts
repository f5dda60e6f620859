/**
 * Where a new mapping goes when the caller does not fix it: the top-down
 * search below mmap_base with the guard gaps, alignment and colour
 * (get_unmapped_area) and the THP placement of a mapping that holds a whole
 * PMD of its file (__thp_get_unmapped_area).
 * Linux: mm/mmap.c generic_get_unmapped_area_topdown, mm/huge_memory.c __thp_get_unmapped_area
 */
import type { MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { modPow2 } from "./pgtable.ts";
import { VmFlag } from "./vma.ts";

/**
 * get_unmapped_area, top-down (arch_get_unmapped_area_topdown): a free
 * hint is used as is; else the highest gap below mmap_base that fits,
 * keeping stack_guard_gap (256 pages) below a VM_GROWSDOWN neighbour.
 * (x86-64's own, in its sys_x86_64.c, searches the same way but takes
 * PAGE_SIZE rather than mmap_min_addr as the floor.)
 * Linux: mm/mmap.c generic_get_unmapped_area_topdown
 */
export function getUnmappedArea(
  ctx: MmContext,
  mm: MmStruct,
  nrPages: number,
  hintBytes: number,
  alignPages = 1,
  alignOffset = 0,
): number {
  const low = Math.max(1, Math.ceil(ctx.settings.mmapMinAddr / 4096));
  const { taskSizeVpn, mapWindowVpn } = ctx.env;
  // the search's top: mmap_base, raised by TASK_SIZE - DEFAULT_MAP_WINDOW for a hint above the window
  // (x86 LA57: arch/x86/kernel/sys_x86_64.c arch_get_unmapped_area_topdown)
  let highLimit = mm.mmapBase;
  if (hintBytes > 0) {
    const hint = Math.ceil(hintBytes / 4096);
    // mmap_address_hint_valid: inside TASK_SIZE, and not straddling DEFAULT_MAP_WINDOW
    const valid = hint + nrPages <= taskSizeVpn && hint > mapWindowVpn === hint + nrPages > mapWindowVpn;
    if (hint >= low && valid && isFree(mm, hint, nrPages) && (hint - alignOffset) % alignPages === 0)
      return hint;
    if (hint > mapWindowVpn) highLimit += taskSizeVpn - mapWindowVpn;
  }
  let gapEnd = highLimit;
  for (let i = mm.vmas.length - 1; i >= -1; i--) {
    const v = i >= 0 ? mm.vmas[i] : null;
    const below = v ? v.vmEnd : low;
    // the gap is [below, end of the VMA above the gap, less its guard)
    if (v === null || v.vmStart < gapEnd) {
      const top = Math.min(gapEnd, highLimit);
      // vm_unmapped_area's align_mask and align_offset: the highest start with that colour
      const start =
        top - nrPages - ((((top - nrPages - alignOffset) % alignPages) + alignPages) % alignPages);
      if (start >= below && start >= low) return start;
    }
    if (v === null) break;
    gapEnd = Math.min(gapEnd, v.vmStart - (v.vmFlags & VmFlag.GROWSDOWN ? 256 : 0));
  }
  return -1;
}

/**
 * __thp_get_unmapped_area: a mapping whose file range [off, off + len) holds
 * a whole PMD-aligned 2 MiB of the file (anonymous memory: off 0, a length
 * that is a multiple of 2 MiB) is placed so that the address and the file
 * offset agree modulo 2 MiB, so that the folios of each 2 MiB of the file can
 * be mapped by PMDs: search for length + 2 MiB, then move up by
 * (off - addr) mod 2 MiB (top-down: by a whole 2 MiB when that is 0). A free
 * hint is taken as it is. `pgoff` is the file offset in pages. Returns -1 to
 * fall back.
 * Linux: mm/huge_memory.c __thp_get_unmapped_area
 */
export function thpGetUnmappedArea(
  ctx: MmContext,
  mm: MmStruct,
  nrPages: number,
  hintBytes: number,
  pgoff: number,
): number {
  const nr = ctx.env.pgtable.hpagePmdNr; // PMD_SIZE in pages
  // off_end <= off_align || off_end - off_align < size: no whole aligned PMD of the file mapped
  const offAlign = Math.ceil(pgoff / nr) * nr;
  if (pgoff + nrPages <= offAlign || pgoff + nrPages - offAlign < nr) return -1;
  const padded = getUnmappedArea(ctx, mm, nrPages + nr, hintBytes);
  if (padded < 0) return -1;
  if (hintBytes > 0 && padded === Math.ceil(hintBytes / 4096)) return padded; // "allocation at the address hint succeeds"
  const offSub = modPow2(pgoff - padded, nr); // (off - ret) & (size - 1)
  return offSub === 0 ? padded + nr : padded + offSub; // MMF_TOPDOWN: the whole pad above
}

/** Is [start, start+nrPages) free, keeping the guard gap below a VM_GROWSDOWN VMA above it? */
export function isFree(mm: MmStruct, start: number, nrPages: number): boolean {
  const v = mm.findVma(start);
  if (v === null) return true;
  const guard = v.vmFlags & VmFlag.GROWSDOWN ? 256 : 0;
  return v.vmStart - guard >= start + nrPages;
}
