/**
 * File mappings: the fault of a mapped file's page through the page cache
 * (read-around on a miss, fault-around on a hit, private copies, write-notify
 * on shared mappings), and msync. Linux: mm/filemap.c (filemap_fault,
 * do_sync_mmap_readahead, filemap_map_pages), mm/memory.c (do_read_fault,
 * do_cow_fault, do_shared_fault, do_fault_around, finish_fault),
 * mm/msync.c, mm/rmap.c (folio_mkclean).
 */

import type { FileObject } from "../fs/file.ts";
import { PteFlag } from "./arch.ts";
import { linearIndex, type MmContext, VmFault } from "./internal.ts";
import { iMmap, type MmStruct } from "./MmStruct.ts";
import { allocUserPage, copyFrame, doWpPage, rssAdd } from "./memory.ts";
import { PageFlag } from "./PageDesc.ts";
import { ptePa, ptepClearFlush, ptepSetAccessFlags, readPte, setPteAt, userPte } from "./pgtable.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * May a file page be mapped writable before it is written? Not for private (COW) or disk-backed shared mappings (write-notify).
 * Linux: mm/mmap.c vma_wants_writenotify
 */
function fileWritableAtOnce(vma: Vma): boolean {
  return (
    (vma.vmFlags & (VmFlag.SHARED | VmFlag.WRITE)) === (VmFlag.SHARED | VmFlag.WRITE) &&
    vma.file !== null &&
    vma.file.fs === "tmpfs"
  );
}

/**
 * A page of the file from the page cache (filemap_fault): a miss reads it
 * from disk, a major fault, with read-around of `readaheadPages` pages
 * centred on it (do_sync_mmap_readahead), or the page alone under
 * MADV_RANDOM. Returns the frame and whether I/O was needed, or null.
 * Linux: mm/filemap.c filemap_fault, do_sync_mmap_readahead
 */
function filePage(ctx: MmContext, vma: Vma, index: number): { pfn: number; major: boolean } | null {
  const f = vma.file!;
  const pc = ctx.env.pageCache;
  const have = pc.find(f, index);
  if (have >= 0) return { pfn: have, major: false };
  if (f.fs === "tmpfs") {
    // shmem_get_folio: a page a truncate took away (the file grown again) comes back zeroed, no I/O
    const pfn = pc.readPage(f, index, false);
    return pfn < 0 ? null : { pfn, major: false };
  }
  let from = index;
  let to = index + 1;
  if (!(vma.vmFlags & VmFlag.RAND_READ)) {
    const ra = ctx.settings.readaheadPages;
    if (vma.vmFlags & VmFlag.SEQ_READ) to = index + ra;
    else {
      from = Math.max(0, index - Math.floor(ra / 2));
      to = from + ra;
    }
    to = Math.min(to, f.nrPages);
  }
  // the page itself first (held while the rest of the window is read, as the fault holds its folio)
  const pfn = pc.readPage(f, index, true);
  if (pfn < 0) return null;
  ctx.env.lru?.pinned.add(pfn);
  for (let i = from; i < to; i++) if (i !== index && pc.readPage(f, i, true) < 0) break;
  ctx.env.lru?.pinned.delete(pfn);
  return { pfn, major: true };
}

/** Is the PTE at pa empty (pte_none)? */
function pteNoneAt(ctx: MmContext, pa: number): boolean {
  const e = ctx.env.pgtable.get(ctx.env.phys, pa);
  return ctx.env.pgtable.none(e.hi, e.lo);
}

/**
 * Maps a page-cache page at pa for this VMA (finish_fault / do_set_pte).
 * Linux: mm/memory.c finish_fault, set_pte_range
 */
function mapFilePage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  pa: number,
  pfn: number,
  writable: boolean,
  dirty: boolean,
): void {
  const env = ctx.env;
  env.pages.refcount[pfn]++;
  env.pages.mapcount[pfn]++;
  rssAdd(ctx, mm, vma, pfn, 1);
  const e = userPte(ctx, pfn, vma.vmFlags, writable, dirty, false);
  setPteAt(ctx, pa, e.hi, e.lo);
}

/**
 * do_fault_around: on a read fault, map the pages of the file that are
 * already in the page cache within the aligned fault_around window (16
 * pages by default), inside the VMA, the page table and the file. No I/O,
 * no extra fault counted.
 * Linux: mm/memory.c do_fault_around, mm/filemap.c filemap_map_pages
 */
function faultAround(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number): void {
  const n = ctx.settings.faultAroundPages;
  if (n <= 1) return;
  const f = vma.file!;
  const pt = ctx.env.pgtable;
  // within the page table that maps vpn (PTRS_PER_PTE)
  const ptrs = pt.ptrsPerTable;
  const start = Math.max(vma.vmStart, vpn - (vpn % n), vpn - (vpn % ptrs));
  const end = Math.min(vma.vmEnd, vpn - (vpn % n) + n, vpn - (vpn % ptrs) + ptrs);
  for (let v = start; v < end; v++) {
    const index = vma.vmPgoff + (v - vma.vmStart);
    if (index >= f.nrPages) break;
    const pfn = ctx.env.pageCache.find(f, index);
    if (pfn < 0) continue;
    const pa = ptePa(ctx, mm, v, true);
    if (pa < 0 || !pteNoneAt(ctx, pa)) continue;
    mapFilePage(ctx, mm, vma, pa, pfn, fileWritableAtOnce(vma), false);
  }
}

/**
 * The fault path of a file mapping: beyond the end of the file, SIGBUS; a
 * read maps the cached page (fault-around first), a write to a private
 * mapping copies it into an anonymous page (do_cow_fault), a write to a
 * shared mapping dirties the page cache page (do_shared_fault,
 * page_mkwrite). Major when the page had to be read.
 * Linux: mm/memory.c do_fault (do_read_fault, do_cow_fault, do_shared_fault), wp_page_shared
 */
export function filemapFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  write: boolean,
  hi: number,
  lo: number,
): VmFault {
  const f = vma.file!;
  const index = vma.vmPgoff + (vpn - vma.vmStart);
  if (index >= f.nrPages) return VmFault.SIGBUS;
  const env = ctx.env;
  const pt = env.pgtable;
  const shared = (vma.vmFlags & VmFlag.SHARED) !== 0;
  if (!pt.none(hi, lo)) {
    if (!pt.accessible(hi, lo)) return VmFault.SIGSEGV;
    if (write && !pt.write(hi, lo)) {
      if (shared) {
        // wp_page_shared + page_mkwrite: the page becomes dirty, the PTE writable
        f.dirty.add(index);
        const e = pt.modify(hi, lo, PteFlag.WRITE | PteFlag.DIRTY | PteFlag.YOUNG, 0);
        ptepSetAccessFlags(ctx, mm, vpn, pa, { hi, lo }, e, true);
        return VmFault.OK;
      }
      return doWpPage(ctx, mm, vma, vpn, pa, hi, lo);
    }
    const young = pt.modify(hi, lo, PteFlag.YOUNG | (write ? PteFlag.DIRTY : 0), 0);
    if (young.hi !== hi || young.lo !== lo) ptepSetAccessFlags(ctx, mm, vpn, pa, { hi, lo }, young, write);
    return VmFault.OK;
  }
  if (!write) {
    // do_read_fault: fault-around first; it maps the page itself when it is cached
    faultAround(ctx, mm, vma, vpn);
    if (!pteNoneAt(ctx, pa)) return VmFault.OK;
    const got = filePage(ctx, vma, index);
    if (got === null) return VmFault.OOM;
    if (got.major) {
      // filemap_fault dropped mmap_lock for the read and returned VM_FAULT_RETRY; the retry
      // (FAULT_FLAG_TRIED, still counted as one major fault) maps around what is now cached
      faultAround(ctx, mm, vma, vpn);
      if (!pteNoneAt(ctx, pa)) return VmFault.MAJOR;
    }
    mapFilePage(ctx, mm, vma, pa, got.pfn, fileWritableAtOnce(vma), false);
    return got.major ? VmFault.MAJOR : VmFault.OK;
  }
  const got = filePage(ctx, vma, index);
  if (got === null) return VmFault.OOM;
  if (shared) {
    f.dirty.add(index);
    mapFilePage(ctx, mm, vma, pa, got.pfn, true, true);
    return got.major ? VmFault.MAJOR : VmFault.OK;
  }
  // do_cow_fault: a private copy of the file page
  mm.anonVmaPrepare(vma);
  env.lru?.pinned.add(got.pfn);
  const pfn = allocUserPage(ctx, linearIndex(vma, vpn), vma.anonVma);
  env.lru?.pinned.delete(got.pfn);
  if (pfn < 0) return VmFault.OOM;
  copyFrame(env.phys, got.pfn, pfn);
  env.pages.mapcount[pfn] = 1;
  env.pages.flags[pfn] |= PageFlag.AnonExclusive; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
  mm.rssAnon++;
  const e = userPte(ctx, pfn, vma.vmFlags, true, true, false);
  setPteAt(ctx, pa, e.hi, e.lo);
  return got.major ? VmFault.MAJOR : VmFault.OK;
}

/**
 * msync (MS_SYNC) on [start, end) of mm: for each shared mapping of a disk
 * file there, write back the file's dirty pages in that range
 * (vfs_fsync_range), and write-protect and clean every PTE that maps them
 * through the file's i_mmap (page_mkclean through the rmap), so
 * the next write faults and dirties the page again. Returns pages written.
 * Linux: mm/msync.c sys_msync (vfs_fsync_range)
 */
export function msync(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  let written = 0;
  for (const v of mm.vmas) {
    const f = v.file;
    if (f?.fs !== "disk" || !(v.vmFlags & VmFlag.SHARED) || v.vmEnd <= start || v.vmStart >= end) continue;
    for (let vpn = Math.max(start, v.vmStart); vpn < Math.min(end, v.vmEnd); vpn++) {
      const index = v.vmPgoff + (vpn - v.vmStart);
      if (!f.dirty.has(index)) continue;
      ctx.env.pageCache.writeback(f, index);
      written++;
      pageMkclean(ctx, f, index);
    }
  }
  return written;
}

/**
 * page_mkclean: every shared mapping of the file page loses write permission and its dirty bit.
 * Linux: mm/rmap.c folio_mkclean
 */
function pageMkclean(ctx: MmContext, f: FileObject, index: number): void {
  const pt = ctx.env.pgtable;
  // rmap_walk_file over the file's i_mmap; folio_mkclean's walk skips all but shared mappings
  for (const [v, m] of iMmap(f)) {
    if (!(v.vmFlags & VmFlag.SHARED)) continue;
    if (index < v.vmPgoff || index >= v.vmPgoff + v.pages) continue;
    const vpn = v.vmStart + (index - v.vmPgoff);
    const pte = readPte(ctx, m, vpn);
    if (pte === null || !pt.accessible(pte.hi, pte.lo)) continue;
    if (!pt.write(pte.hi, pte.lo) && !pt.dirty(pte.hi, pte.lo)) continue;
    // page_vma_mkclean_one: ptep_clear_flush, then the clean read-only entry
    const old = ptepClearFlush(ctx, m, pte.pa, vpn, 0);
    const e = pt.modify(old.hi, old.lo, 0, PteFlag.DIRTY | PteFlag.WRITE);
    setPteAt(ctx, pte.pa, e.hi, e.lo);
  }
}
