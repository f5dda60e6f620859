/**
 * The paging file (pagefile.sys, the `pagefile=` machine key): where the
 * modified page writer puts the private pages and paged-pool pages it
 * writes, and where a hard fault reads them back (Windows Internals 7th ed.,
 * Part 1, ch. 5 "Paging files" and "Page fault handling").
 *
 * A page's place is its offset in the file, PageFileHigh of a paging-file
 * PTE (mmpte.ts mkPageFile). Offset 0 is never handed out: the WRK marks it
 * used when the file is created (mm/modwrite.c, NtCreatePagingFile sets the
 * bitmap's first bit), so a software PTE whose PageFileLow and PageFileHigh
 * are both zero stays what it is, a demand-zero PTE.
 *
 * Contents are kept per offset in a PageStore (hw/PageStore.ts: a page of
 * one repeated value costs no 4 KiB); not on the hot path (trims, the
 * writer and hard faults only).
 */
import { assert } from "../../../base/assert.ts";
import { PageStore } from "../../../hw/PageStore.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";

export class PagingFile {
  /** pages the file holds (its size / 4096); offset 0 is reserved */
  readonly nrPages: number;
  private readonly used: Uint8Array;
  private readonly data: PageStore;
  private hint = 1;
  /** offsets in use (Paging File "% Usage" is this over nrPages) */
  inUse = 0;

  constructor(bytes: number) {
    this.nrPages = Math.floor(bytes / 4096);
    this.used = new Uint8Array(Math.max(this.nrPages, 1));
    if (this.nrPages > 0) this.used[0] = 1;
    this.data = new PageStore(Math.max(this.nrPages, 1), "the paging file's pages written so far");
  }

  /** A free offset (MiReservePageFileSpace, next fit), or 0: the file is full or absent. */
  reserve(): number {
    const n = this.nrPages - 1; // offsets 1 .. nrPages - 1
    for (let i = 0; i < n; i++) {
      const off = ((this.hint - 1 + i) % n) + 1;
      if (this.used[off]) continue;
      this.used[off] = 1;
      this.inUse++;
      this.hint = off + 1 > n ? 1 : off + 1;
      return off;
    }
    return 0;
  }

  /** MiReleasePageFileSpace: the offset is free again, its contents gone. */
  release(off: number): void {
    assert(off > 0 && this.used[off] === 1, `pagefile: offset ${off} released twice`);
    this.used[off] = 0;
    this.inUse--;
    this.data.fill(off, 0, 0);
  }

  isUsed(off: number): boolean {
    return off > 0 && off < this.nrPages && this.used[off] === 1;
  }

  /** The modified page writer's I/O: the frame's contents to the offset. */
  write(phys: PhysMem, pfn: number, off: number): void {
    phys.store.copyTo(pfn, this.data, off);
  }

  /** A hard fault's I/O (an in-page read): the offset's contents into the frame (already zeroed). */
  read(phys: PhysMem, off: number, pfn: number): void {
    this.data.copyTo(off, phys.store, pfn);
  }
}
