/**
 * ftruncate's page-cache side: the file's size changes first
 * (truncate_setsize: i_size_write), then every mapping of the part past the
 * new end is zapped, private COW copies included (unmap_mapping_range with
 * even_cows), the cached pages past it leave the page cache, and the tail
 * of the page that holds the new end is zeroed (truncate_inode_partial_folio,
 * folio_zero_range; on disk, ext4_block_truncate_page). An access past the
 * new end then faults to SIGBUS (filemapFault's i_size check); growing the
 * file adds zeros.
 * Linux: mm/truncate.c truncate_setsize, truncate_pagecache,
 * truncate_inode_pages_range; mm/memory.c unmap_mapping_range
 */
import { assert } from "../../base/assert.ts";
import type { FileObject } from "../fs/file.ts";
import type { MmContext } from "./internal.ts";
import { iMmap } from "./MmStruct.ts";
import { zapRange } from "./memory.ts";
import { MmuGather } from "./mmu_gather.ts";

/**
 * unmap_mapping_range(mapping, holebegin, 0, even_cows=1): every PTE of
 * every VMA of `f` from page index `fromIndex` on is cleared (file pages and
 * the anonymous copies private mappings made of them), with the flushes.
 * Linux: mm/memory.c unmap_mapping_range (unmap_mapping_range_tree, zap_page_range_single)
 */
export function unmapMappingRange(ctx: MmContext, f: FileObject, fromIndex: number): void {
  // unmap_mapping_range_tree: the VMAs of the file's i_mmap, each zapped with its own gather
  for (const [v, mm] of [...iMmap(f)]) {
    const a = Math.max(v.vmStart, v.vmStart + (fromIndex - v.vmPgoff));
    if (a >= v.vmEnd) continue;
    const tlb = new MmuGather(ctx, mm);
    zapRange(ctx, tlb, mm, a, v.vmEnd); // zap_page_range_single
    tlb.finish();
  }
}

/**
 * truncate_setsize + truncate_pagecache for a size change of `f` to
 * `newSize` bytes (0 .. 1 TiB, checked by the caller).
 */
export function truncateSetsize(ctx: MmContext, f: FileObject, newSize: number): void {
  const oldSize = f.sizeBytes;
  f.setSize(newSize); // i_size_write
  if (newSize >= oldSize) return; // the pages between the old and the new end read as zeros
  const holeIndex = Math.ceil(newSize / 4096);
  unmapMappingRange(ctx, f, holeIndex);
  // truncate_inode_pages_range: the cached pages past the end go (written back or not)
  const cache = ctx.env.pageCache;
  for (const index of [...f.cache.keys()].filter((i) => i >= holeIndex).sort((x, y) => x - y)) {
    f.dirty.delete(index);
    assert(cache.evict(f, index), `truncate: page ${index} of ${f.name} is still mapped`);
  }
  for (const index of [...f.written]) if (index >= holeIndex) f.written.delete(index);
  // the page holding the new end: its tail past the end is zeroed, in the cache and on disk
  const tail = newSize % 4096;
  if (tail !== 0) {
    const index = holeIndex - 1;
    const pfn = f.cache.get(index);
    if (pfn !== undefined) {
      const phys = ctx.env.phys;
      for (let off = tail; off < 4096; off++) phys.write8(pfn * 4096 + off, 0);
    }
    if (f.written.has(index)) f.zeroDiskTail(index, tail);
  }
}
