/**
 * Shared anonymous memory: the shmem object behind a MAP_SHARED |
 * MAP_ANONYMOUS mapping and its fault path. Linux: mm/shmem.c
 * (shmem_zero_setup, shmem_fault, the object's pages freed with its last
 * reference).
 */
import { pfnUnchecked } from "../../base/units.ts";
import { Gfp } from "./gfp.ts";
import { type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { putPage } from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { setPteAt, userPte } from "./pgtable.ts";
import { ShmemObject, type Vma, VmFlag } from "./vma.ts";

/**
 * A shared anonymous mapping is backed by a new shmem object, which the VMA
 * holds the first reference to.
 * Linux: mm/shmem.c shmem_zero_setup
 */
export function shmemZeroSetup(vma: Vma): void {
  vma.shmem = new ShmemObject();
  vma.shmem.refs = 1;
}

/**
 * A VMA drops its reference to a shmem object; the last one frees the
 * object's pages.
 * Linux: mm/shmem.c shmem_evict_inode (shmem_truncate_range)
 */
export function shmemPut(ctx: MmContext, obj: ShmemObject): void {
  if (--obj.refs > 0) return;
  for (const pfn of obj.pages.values()) putPage(ctx, pfn);
  obj.pages.clear();
}

/**
 * shmem_fault + finish_fault: find the page at this offset in the shmem
 * object, allocating a zeroed one if it has none (a read allocates too:
 * shared memory has no zero-page shortcut), and map it; a shared writable
 * mapping maps it writable at once.
 * Linux: mm/shmem.c shmem_fault (shmem_get_folio), mm/memory.c finish_fault
 */
export function shmemFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  write: boolean,
): VmFault {
  const env = ctx.env;
  const obj = vma.shmem!;
  const pgoff = vma.vmPgoff + (vpn - vma.vmStart);
  let pfn = obj.pages.get(pgoff);
  if (pfn === undefined) {
    const p = env.buddy.alloc(0, Gfp.HIGHUSER, PageKind.PageCache);
    if (p < 0) return VmFault.OOM;
    env.phys.zeroFrame(pfnUnchecked(p));
    // shmem_alloc_and_add_folio: a shmem folio is swap-backed (__folio_set_swapbacked)
    env.pages.flags[p] |= PageFlag.SwapBacked;
    obj.pages.set(pgoff, p);
    pfn = p;
  }
  // do_shared_fault -> fault_dirty_shared_page: a write fault dirties the folio (folio_mark_dirty)
  if (write && vma.vmFlags & VmFlag.WRITE) env.pages.flags[pfn] |= PageFlag.Dirty;
  env.pages.refcount[pfn]++;
  env.pages.mapcount[pfn]++;
  mm.rssShmem++;
  const e = userPte(ctx, pfn, vma.vmFlags, (vma.vmFlags & VmFlag.WRITE) !== 0, write, false);
  setPteAt(ctx, pa, e.hi, e.lo);
  return VmFault.OK;
}

/**
 * The frames of the shmem objects mapped by these address spaces.
 */
export function shmemFrames(mms: MmStruct[]): number[] {
  const objs = new Set<ShmemObject>();
  for (const mm of mms) for (const v of mm.vmas) if (v.shmem) objs.add(v.shmem);
  const out: number[] = [];
  for (const o of objs) out.push(...o.pages.values());
  return out;
}
