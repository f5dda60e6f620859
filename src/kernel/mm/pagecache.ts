import { pfnUnchecked } from "../../base/units.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import { FileObject } from "../fs/file.ts";
import type { BuddyAllocator } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { type PageDescTable, PageKind } from "./PageDesc.ts";

/**
 * The page cache of all files (mm/filemap.c): finds pages, reads them from
 * "disk" (counting I/O), and keeps per-page state in struct page (kind
 * PageCache; the cache holds one reference).
 */
export class PageCache {
  readonly files = new Map<string, FileObject>();
  /** /proc/vmstat pgpgin/pgpgout in pages, and major faults' reads */
  pagesIn = 0;
  pagesOut = 0;
  /** the LRU lists: disk-file pages join them when read, leave them when evicted */
  lru: { addFile(pfn: number, f: FileObject, index: number): void; del(pfn: number): void } | null = null;

  constructor(
    readonly phys: PhysMem,
    readonly pages: PageDescTable,
    readonly buddy: BuddyAllocator,
  ) {}

  create(name: string, sizeBytes: number, fs: "disk" | "tmpfs", cached: boolean): FileObject | null {
    const f = new FileObject(name, sizeBytes, fs, (fs === "disk" ? 1048577 : 3) + this.files.size);
    this.files.set(name, f);
    if (cached || fs === "tmpfs") {
      for (let i = 0; i < f.nrPages; i++) if (this.readPage(f, i, false) < 0) return null;
    }
    return f;
  }

  /** The cached page at index, or -1. */
  find(f: FileObject, index: number): number {
    return f.cache.get(index) ?? -1;
  }

  /**
   * Brings page `index` into the cache: a new frame filled with the file's
   * contents (bytes past EOF are zero). `io` counts it as read from disk.
   * Returns the frame, or -1 when no memory could be had.
   */
  readPage(f: FileObject, index: number, io: boolean): number {
    const have = f.cache.get(index);
    if (have !== undefined) return have;
    const pfn = this.buddy.alloc(0, Gfp.HIGHUSER, PageKind.PageCache);
    if (pfn < 0) return -1;
    const base = index * 4096;
    this.phys.frameWillBeWritten(pfnUnchecked(pfn));
    if (f.written.has(index)) {
      // the disk's copy, compact if it is (bytes past EOF were zeroed when it was written)
      f.disk.copyTo(index, this.phys.store, pfn);
    } else {
      this.fillFromName(f, pfn, base);
    }
    this.pages.refcount[pfn] = 1; // the page cache's own reference
    f.cache.set(index, pfn);
    if (f.fs === "disk") this.lru?.addFile(pfn, f, index);
    if (io) {
      f.pagesRead++;
      this.pagesIn++;
    }
    return pfn;
  }

  /** A page never written back: the file's deterministic contents (zeros past EOF), word by word. */
  private fillFromName(f: FileObject, pfn: number, base: number): void {
    const w = this.phys.frameWordsForWrite(pfnUnchecked(pfn));
    for (let i = 0; i < 1024; i++) {
      let word = 0;
      for (let b = 3; b >= 0; b--) {
        const off = base + i * 4 + b;
        word = (word << 8) | (off < f.sizeBytes ? f.storedByte(off) : 0);
      }
      w[i] = word >>> 0;
    }
  }

  /** Writes back a dirty page (writepage): the disk now holds its bytes; the page is clean. */
  writeback(f: FileObject, index: number): void {
    const pfn = f.cache.get(index);
    if (pfn === undefined || !f.dirty.has(index)) return;
    const disk = f.disk;
    this.phys.store.copyTo(pfn, disk, index);
    // the part of the last page past EOF is not the file's: zeroed (Linux: block_write_full_page)
    for (let off = Math.max(0, f.sizeBytes - index * 4096); off < 4096; off++) {
      const w = disk.readWord(index, off >>> 2);
      disk.writeWord(index, off >>> 2, (w & ~(0xff << ((off & 3) * 8))) >>> 0);
    }
    f.written.add(index);
    f.dirty.delete(index);
    f.pagesWritten++;
    this.pagesOut++;
  }

  /**
   * Removes a clean, unmapped page from the cache and frees it (the end of
   * shrink_folio_list for a file page: __remove_mapping). Returns whether it
   * was evicted.
   */
  evict(f: FileObject, index: number): boolean {
    const pfn = f.cache.get(index);
    if (pfn === undefined || f.dirty.has(index) || this.pages.mapcount[pfn] !== 0) return false;
    f.cache.delete(index);
    this.lru?.del(pfn);
    if (--this.pages.refcount[pfn] === 0) {
      const err = this.buddy.free(pfn, 0);
      if (err !== null) throw new Error(`page cache evict: ${err}`);
    }
    return true;
  }

  cachedPages(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.cache.size;
    return n;
  }

  dirtyPages(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.dirty.size;
    return n;
  }
}
