/**
 * Transparent huge pages for tmpfs and memfds ("huge tmpfs"): which page of
 * a shmem inode is allocated as a PMD-size folio (the tmpfs mount's huge=
 * option, or for shm_mnt, the internal mount of memfds, the sysfs
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled; its deny and force
 * override every mount), the allocation and its fallback to a 4K page, and
 * the counters THP_FILE_ALLOC and THP_FILE_FALLBACK. The folio is mapped by
 * one PMD where the mapping allows it (filemap.ts mapFolioPmd: do_set_pmd).
 * Linux 6.12: mm/shmem.c shmem_huge_global_enabled, shmem_allowable_huge_orders,
 * shmem_suitable_orders, shmem_alloc_and_add_folio, shmem_get_folio_gfp
 */
import type { FileObject } from "../fs/file.ts";
import { Gfp } from "./gfp.ts";
import { ShmemObject, VmFlag } from "./vma.ts";

/**
 * What of the page cache (pagecache.ts PageCache) huge tmpfs uses: the
 * policy's state, HPAGE_PMD_ORDER, and the two allocations.
 */
export interface ShmemHugeCache {
  readonly shmemThp: {
    huge: number;
    shmMntHuge: number;
    readonly stats: { thp_file_alloc: number; thp_file_fallback: number; thp_file_fallback_charge: number };
    readonly sizes: Map<number, string>;
    readonly sizeStats: Map<
      number,
      { shmem_alloc: number; shmem_fallback: number; shmem_fallback_charge: number }
    >;
    /** the tmpfs superblocks' shrinklists (mm/shmem_shrink.ts): keyed by a tmpfs mount's first file, null shm_mnt's */
    readonly sbs: Map<FileObject | null, ShmemSb>;
  };
  readonly pmdOrder: number;
  addShmemFolio(f: FileObject, start: number, order: number, gfp: number): number;
  /** mem_cgroup_charge of a new folio (PageCache.memcgCharge; null: no memory limit) */
  readonly memcgCharge: ((nr: number, gfp: number) => boolean) | null;
  readSmall(f: FileObject, index: number, io: boolean): number;
}

/**
 * A tmpfs superblock's shrinklist (sbinfo->shrinklist: the inodes with a
 * large folio past i_size, oldest first) and its shrinker's nr_deferred.
 * Linux: mm/shmem.c struct shmem_sb_info
 */
export interface ShmemSb {
  readonly inodes: FileObject[];
  nrDeferred: number;
}

/** SHMEM_HUGE_*: the huge= values of a tmpfs mount, and shmem_enabled's two more. Linux: mm/shmem.c */
export const ShmemHuge = {
  never: 0,
  always: 1,
  within_size: 2,
  advise: 3,
  /** shmem_enabled only: huge pages off on shm_mnt and every mount, for emergency use */
  deny: -1,
  /** shmem_enabled only: huge pages on shm_mnt and every mount, without the option, for testing */
  force: -2,
} as const;

export type ShmemHugeName = keyof typeof ShmemHuge;

/** shmem_parse_huge: a mode's value, or null (-EINVAL). */
export function shmemParseHuge(name: string): number | null {
  return Object.hasOwn(ShmemHuge, name) ? ShmemHuge[name as ShmemHugeName] : null;
}

/** shmem_format_huge */
export function shmemFormatHuge(huge: number): ShmemHugeName {
  for (const [name, v] of Object.entries(ShmemHuge)) if (v === huge) return name as ShmemHugeName;
  throw new Error(`shmem_format_huge: bad value ${huge}`);
}

/**
 * shmem_enabled_store: a write of `mode` to
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled. The value becomes
 * shmem_huge, and shm_mnt's huge= too unless it is deny or force (which
 * leave shm_mnt's as it was, overriding it while they last). False
 * (-EINVAL) for another word, and for force while the PMD size's
 * hugepages-<size>kB/shmem_enabled is not inherit or a smaller size's is.
 * Linux: mm/shmem.c shmem_enabled_store
 */
export function shmemEnabledStore(pc: ShmemHugeCache, mode: string): boolean {
  const huge = shmemParseHuge(mode.trim());
  if (huge === null) return false;
  // "Do not override huge allocation policy with non-PMD sized mTHP": force needs
  // huge_shmem_orders_inherit to be the PMD order alone (hugepages-<PMD size>kB/shmem_enabled
  // inherit, no other size's)
  if (huge === ShmemHuge.force) {
    if (shmemSizeMode(pc, pc.pmdOrder) !== "inherit") return false;
    for (const [o, m] of pc.shmemThp.sizes) if (o !== pc.pmdOrder && m === "inherit") return false;
  }
  pc.shmemThp.huge = huge;
  if (huge > ShmemHuge.deny) pc.shmemThp.shmMntHuge = huge;
  return true;
}

/**
 * The huge= of the mount file f is on: the tmpfs mount's option, or shm_mnt's
 * (a memfd: f.shmemHuge null), which shmem_enabled_store sets.
 */
export function shmemSbHuge(pc: ShmemHugeCache, f: FileObject): number {
  return f.shmemHuge ?? pc.shmemThp.shmMntHuge;
}

/**
 * shmem_huge_global_enabled: may page `index` of tmpfs file f be in a PMD-size
 * folio? Not under MADV_NOHUGEPAGE (`vmFlags`: the faulting VMA's, -1 for
 * write(2), which has none); shmem_enabled deny refuses and force grants it
 * on every mount; else the mount's huge=: always; within_size when the folio
 * that would hold the index ends within i_size (or `writeEnd`, the end of
 * the write being made); advise (and within_size otherwise) for a VMA with
 * MADV_HUGEPAGE; never. A fault's `vmFlags` carry the mm's MMF_DISABLE_THP as
 * VM_NOHUGEPAGE (vma.ts thpVmFlags).
 * Linux: mm/shmem.c __shmem_huge_global_enabled
 */
export function shmemHugeGlobalEnabled(
  pc: ShmemHugeCache,
  f: FileObject,
  index: number,
  writeEnd: number,
  vmFlags: number,
): boolean {
  return hugeGlobalEnabled(pc, shmemSbHuge(pc, f), f.sizeBytes, index, writeEnd, vmFlags);
}

/**
 * __shmem_huge_global_enabled for an inode on a mount whose huge= is `sbHuge`
 * and whose i_size is `sizeBytes` (tmpfs files, memfds, and on shm_mnt the
 * shmem objects of shared anonymous memory and SysV segments: mm/shmem_anon_huge.ts).
 * `force`: shmem_huge_force (a collapse outside khugepaged's sysfs rules).
 * Linux: mm/shmem.c __shmem_huge_global_enabled
 */
export function hugeGlobalEnabled(
  pc: ShmemHugeCache,
  sbHuge: number,
  sizeBytes: number,
  index: number,
  writeEnd: number,
  vmFlags: number,
  force = false,
): boolean {
  if (vmFlags >= 0 && vmFlags & VmFlag.NOHUGEPAGE) return false;
  const global = pc.shmemThp.huge;
  if (global === ShmemHuge.deny) return false;
  if (force || global === ShmemHuge.force) return true; // shmem_huge_force: MADV_COLLAPSE
  const nr = 2 ** pc.pmdOrder;
  switch (sbHuge) {
    case ShmemHuge.always:
      return true;
    case ShmemHuge.within_size: {
      const end = Math.ceil((index + 1) / nr) * nr; // round_up(index + 1, HPAGE_PMD_NR)
      const iSize = Math.ceil(Math.max(writeEnd, sizeBytes) / 4096); // in pages, rounded up
      if (iSize >= end) return true;
      return vmFlags >= 0 && (vmFlags & VmFlag.HUGEPAGE) !== 0;
    }
    case ShmemHuge.advise:
      return vmFlags >= 0 && (vmFlags & VmFlag.HUGEPAGE) !== 0;
    default:
      return false;
  }
}

/** The mode of shmem folios of `order` (the PMD order inherit at boot, the others never). */
export function shmemSizeMode(pc: ShmemHugeCache, order: number): string {
  return pc.shmemThp.sizes.get(order) ?? (order === pc.pmdOrder ? "inherit" : "never");
}

/**
 * shmem_allowable_huge_orders for page `index` of shmem object `obj` faulted
 * through a VMA with flags `vmFlags`: the orders of the folios it may be in,
 * a bit each (order 1 to HPAGE_PMD_ORDER: THP_ORDERS_ALL_FILE_DEFAULT). Not
 * under MADV_NOHUGEPAGE (vma_thp_disabled). A SysV segment (shm_vm_ops: not
 * vma_is_anon_shmem) takes tmpfs's answer, the PMD order where shm_mnt's
 * huge= grants it through __shmem_huge_global_enabled (deny and force over
 * it). Shared anonymous memory: deny refuses; force grants the orders of
 * `inherit`; else the orders `always`; all the `within_size` orders once one
 * of them, from the highest, ends within i_size (the mapping's length); the
 * `advise` orders with MADV_HUGEPAGE; and the `inherit` orders where shm_mnt's
 * huge= grants huge pages (within_size: within i_size, or MADV_HUGEPAGE;
 * advise: MADV_HUGEPAGE). `force` (shmem_huge_force: MADV_COLLAPSE, and
 * collapse_pte_mapped_thp) makes __shmem_huge_global_enabled grant them
 * whatever the mount's huge= (deny still refuses).
 * Linux: mm/shmem.c shmem_allowable_huge_orders, __shmem_huge_global_enabled
 */
export function shmemObjAllowableOrders(
  pc: ShmemHugeCache,
  obj: ShmemObject,
  index: number,
  vmFlags: number,
  force = false,
): number {
  if (vmFlags & VmFlag.NOHUGEPAGE) return 0;
  const pmd = pc.pmdOrder;
  const sizeBytes = obj.sizePages * 4096;
  const globalHuge = hugeGlobalEnabled(pc, pc.shmemThp.shmMntHuge, sizeBytes, index, 0, vmFlags, force);
  if (obj.sysv) return globalHuge ? 1 << pmd : 0; // "For tmpfs, we now only support PMD sized THP"
  const huge = pc.shmemThp.huge;
  if (huge === ShmemHuge.deny) return 0;
  const orders = { always: 0, inherit: 0, within_size: 0, advise: 0 };
  for (let o = 1; o <= pmd; o++) {
    const mode = shmemSizeMode(pc, o);
    if (mode !== "never") orders[mode as keyof typeof orders] |= 1 << o;
  }
  if (huge === ShmemHuge.force) return orders.inherit;
  let mask = orders.always;
  // "Allow mTHP that will be fully within i_size": every within_size order once one fits
  for (let o = pmd; o >= 1; o--) {
    if (!(orders.within_size & (1 << o))) continue;
    const aligned = Math.ceil((index + 1) / 2 ** o) * 2 ** o; // round_up(index + 1, 1 << order)
    if (obj.sizePages >= aligned) {
      mask |= orders.within_size;
      break;
    }
  }
  if (vmFlags & VmFlag.HUGEPAGE) mask |= orders.advise;
  if (globalHuge) mask |= orders.inherit;
  return mask;
}

/** shmemObjAllowableOrders holds the PMD order (a PMD-size folio may be had). */
export function shmemObjHugeAllowed(
  pc: ShmemHugeCache,
  obj: ShmemObject,
  index: number,
  vmFlags: number,
  force = false,
): boolean {
  return ((shmemObjAllowableOrders(pc, obj, index, vmFlags, force) >> pc.pmdOrder) & 1) === 1;
}

/**
 * __thp_vma_allowable_orders(vma, vm_flags, tva_flags, BIT(PMD_ORDER)) for a
 * shmem VMA outside a fault (khugepaged, MADV_COLLAPSE), past the checks
 * common to every VMA: thp_vma_suitable_order at vm_end - HPAGE_PMD_SIZE
 * (the VMA's start and offset agreeing modulo the PMD size, one aligned PMD
 * inside it), then shmem_allowable_huge_orders(inode, vma, vma->vm_pgoff, 0,
 * !enforce_sysfs): `force` for MADV_COLLAPSE (tva_flags without
 * TVA_ENFORCE_SYSFS). A tmpfs file or memfd (vma.file), a SysV segment or
 * shared anonymous memory (vma.shmem). Not for a disk file (READ_ONLY_THP_FOR_FS
 * is not modelled).
 * Linux: mm/huge_memory.c __thp_vma_allowable_orders, include/linux/huge_mm.h thp_vma_suitable_order
 */
export function shmemVmaPmdAllowed(
  pc: ShmemHugeCache,
  vma: {
    vmStart: number;
    vmEnd: number;
    vmPgoff: number;
    vmFlags: number;
    file: FileObject | null;
    shmem: ShmemObject | null;
  },
  force: boolean,
): boolean {
  const nr = 2 ** pc.pmdOrder;
  if (!shmemVmaSuitable(nr, vma.vmEnd - nr, vma)) return false;
  if (vma.shmem !== null) return shmemObjHugeAllowed(pc, vma.shmem, vma.vmPgoff, vma.vmFlags, force);
  const f = vma.file;
  if (f === null || f.fs !== "tmpfs") return false;
  return hugeGlobalEnabled(pc, shmemSbHuge(pc, f), f.sizeBytes, vma.vmPgoff, 0, vma.vmFlags, force);
}

/**
 * shmem_get_folio_gfp's allocation of page `index` of tmpfs file f, which
 * the file lacks (not cached, not in swap): a PMD-size folio where
 * shmem_allowable_huge_orders grants it (for tmpfs files and memfds
 * alike, only the PMD order: shmem_huge_global_enabled) and
 * shmem_suitable_orders keeps it: for a fault (`vmaSuitable`:
 * thp_vma_suitable_order, the VMA's start and offset agreeing modulo the PMD
 * size and the aligned block inside the VMA) and nothing of the aligned
 * block's pages in the file yet (xa_find: a page or a swap entry); then the
 * folio from `index` rounded down, zeroed (past i_size too) or filled with
 * the file's contents, charged whole (shmem_inode_acct_blocks of 512 pages)
 * and counted in THP_FILE_ALLOC. No block of that order (the gfp of
 * vma_thp_gfp_mask, defrag=madvise: direct reclaim only for MADV_HUGEPAGE):
 * THP_FILE_FALLBACK; the memory limit refusing the folio's charge (its gfp
 * & GFP_RECLAIM_MASK: without MADV_HUGEPAGE it may not block) THP_FILE_FALLBACK
 * and THP_FILE_FALLBACK_CHARGE; any of these or a refused block charge
 * (-ENOSPC) falls back to a 4K page, as does a policy that refuses. Returns the frame of `index`, or -1
 * (PageCache.takeNospc tells -ENOSPC from -ENOMEM).
 * Linux: mm/shmem.c shmem_get_folio_gfp, shmem_alloc_and_add_folio, shmem_suitable_orders
 */
export function shmemAllocPage(
  pc: ShmemHugeCache,
  f: FileObject,
  index: number,
  writeEnd: number,
  vmFlags: number,
  vmaSuitable: boolean,
): number {
  const have = f.cache.get(index);
  if (have !== undefined) return have;
  const order = pc.pmdOrder;
  const nr = 2 ** order;
  if (vmaSuitable && shmemHugeGlobalEnabled(pc, f, index, writeEnd, vmFlags)) {
    const start = index - (index % nr);
    let clash = false;
    for (let i = start; i < start + nr && !clash; i++) clash = f.cache.has(i) || f.swapped.has(i);
    if (!clash) {
      // vma_thp_gfp_mask (defrag=madvise) limited by the mapping's gfp (limit_gfp_mask)
      const gfp = Gfp.TRANSHUGE_LIGHT | (vmFlags >= 0 && vmFlags & VmFlag.HUGEPAGE ? Gfp.DIRECT_RECLAIM : 0);
      const head = pc.addShmemFolio(f, start, order, gfp);
      if (head >= 0) {
        pc.shmemThp.stats.thp_file_alloc++; // folio_test_pmd_mappable: count_vm_event(THP_FILE_ALLOC)
        shmemSizeStats(pc, order).shmem_alloc++; // count_mthp_stat(order, MTHP_STAT_SHMEM_ALLOC)
        shmemShrinklistAdd(pc, f, start + nr); // part of it past i_size: the shrinklist (mm/shmem_shrink.ts)
        return f.cache.get(index)!;
      }
      if (head === -1) {
        // no folio of HPAGE_PMD_NR pages: THP_FILE_FALLBACK and MTHP_STAT_SHMEM_FALLBACK
        pc.shmemThp.stats.thp_file_fallback++;
        shmemSizeStats(pc, order).shmem_fallback++;
      }
      if (head === -3) {
        // the memory limit refused the folio's charge: THP_FILE_FALLBACK and
        // THP_FILE_FALLBACK_CHARGE, and the order's shmem_fallback and shmem_fallback_charge
        pc.shmemThp.stats.thp_file_fallback++;
        pc.shmemThp.stats.thp_file_fallback_charge++;
        const st = shmemSizeStats(pc, order);
        st.shmem_fallback++;
        st.shmem_fallback_charge++;
      }
    }
  }
  return pc.readSmall(f, index, false);
}

/**
 * A fault's look at the huge policy: may the fault of vpn in a VMA of tmpfs
 * file f (start vmStart, offset vmPgoff, end vmEnd, in pages) have a PMD-size
 * folio there? thp_vma_suitable_order. Linux: include/linux/huge_mm.h thp_vma_suitable_order
 */
export function shmemVmaSuitable(
  nr: number,
  vpn: number,
  vma: { vmStart: number; vmEnd: number; vmPgoff: number },
): boolean {
  if ((vma.vmStart - vma.vmPgoff) % nr !== 0) return false;
  const haddr = vpn - (vpn % nr);
  return haddr >= vma.vmStart && haddr + nr <= vma.vmEnd;
}

/**
 * shmem_get_unmapped_area: where a mapping of `nrPages` of shmem `f` (a tmpfs
 * file or memfd; a SysV segment's object, its file on shm_mnt; null: shared
 * anonymous memory, on shm_mnt, whose highest per-size shmem order sets the
 * alignment) from page `pgoff`
 * goes: the ordinary search (`search`: mm_get_unmapped_area, a vpn or < 0),
 * unless huge pages may back it (shmem_enabled not deny, and force or the
 * mount's huge= not never), it is not MAP_FIXED nor at its hint, it is at least
 * PMD-size and its offset within the PMD not already the address's: then an
 * area inflated by a PMD less a page is searched and the address within it
 * that agrees with the file offset modulo the PMD size taken (a mapping at an
 * unaligned offset only when it spans two PMDs). Any failure of the second
 * search keeps the first answer. Returns the vpn (or the first search's
 * failure). mm/mmap.ts calls it for a tmpfs file, memfd, SysV segment or shared
 * anonymous mapping (not on a machine
 * whose VIPT cache has colours, which places shared mappings by colour).
 * Linux: mm/shmem.c shmem_get_unmapped_area
 */
export function shmemGetUnmappedArea(
  pc: ShmemHugeCache,
  f: FileObject | ShmemObject | null,
  hintVpn: number,
  nrPages: number,
  pgoff: number,
  fixed: boolean,
  taskSizeVpn: number,
  search: (hintVpn: number, nrPages: number) => number,
): number {
  const addr = search(hintVpn, nrPages);
  if (addr < 0 || addr > taskSizeVpn - nrPages) return addr;
  const global = pc.shmemThp.huge;
  if (global === ShmemHuge.deny || fixed || hintVpn === addr) return addr;
  // anonymous shmem: the highest order of hugepages-<size>kB/shmem_enabled that is always,
  // within_size or advise, or inherit where shm_mnt's huge= is not never
  let hpage = 2 ** pc.pmdOrder;
  if (global !== ShmemHuge.force) {
    const sb = f === null || f instanceof ShmemObject ? pc.shmemThp.shmMntHuge : shmemSbHuge(pc, f);
    let order = 0;
    if (f === null) {
      for (const [o, mode] of pc.shmemThp.sizes)
        if (mode !== "never" && (mode !== "inherit" || sb !== ShmemHuge.never)) order = Math.max(order, o);
      if (!pc.shmemThp.sizes.has(pc.pmdOrder) && sb !== ShmemHuge.never) order = pc.pmdOrder; // inherit at boot
      if (order > 0) hpage = 2 ** order;
    }
    if (sb === ShmemHuge.never && order === 0) return addr;
  }
  if (nrPages < hpage) return addr;
  const offset = pgoff % hpage;
  if (offset !== 0 && offset + nrPages < 2 * hpage) return addr;
  if (addr % hpage === offset) return addr;
  const inflatedLen = nrPages + hpage - 1;
  if (inflatedLen > taskSizeVpn) return addr;
  let inflated = search(hintVpn, inflatedLen);
  if (inflated < 0) return addr;
  const inflatedOffset = inflated % hpage;
  inflated += offset - inflatedOffset;
  if (inflatedOffset > offset) inflated += hpage;
  return inflated > taskSizeVpn - nrPages ? addr : inflated;
}

/**
 * shmem_get_folio_gfp, a large folio just allocated for `f` whose next index
 * (`next`) lies past i_size (DIV_ROUND_UP(i_size, PAGE_SIZE)): "Part of the
 * large folio is beyond i_size: subject to shrink under memory pressure",
 * the inode onto its superblock's shrinklist (list_add_tail) unless it is on it.
 */
export function shmemShrinklistAdd(pc: ShmemHugeCache, f: FileObject, next: number): void {
  if (Math.ceil(f.sizeBytes / 4096) >= next) return;
  const sbs = pc.shmemThp.sbs;
  const key = f.shmemHuge === null ? null : (f.sbinfo?.key ?? f); // the mount's first file keys its list
  let sb = sbs.get(key);
  if (sb === undefined) {
    sb = { inodes: [], nrDeferred: 0 };
    sbs.set(key, sb);
  }
  if (!sb.inodes.includes(f)) sb.inodes.push(f);
}

/** hugepages-<size>kB/stats/shmem_* of `order`, made at first use. */
export function shmemSizeStats(
  pc: ShmemHugeCache,
  order: number,
): { shmem_alloc: number; shmem_fallback: number; shmem_fallback_charge: number } {
  let s = pc.shmemThp.sizeStats.get(order);
  if (s === undefined) {
    s = { shmem_alloc: 0, shmem_fallback: 0, shmem_fallback_charge: 0 };
    pc.shmemThp.sizeStats.set(order, s);
  }
  return s;
}
