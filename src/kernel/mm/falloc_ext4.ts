/**
 * fallocate(2) of a disk file, ext4's side (ext4_fallocate) for an
 * extent-mapped file of 4 KiB blocks (one block a page; no bigalloc, so
 * EXT4_CLUSTER_SIZE is the block size), after vfs_fallocate's checks.
 * vmlab's disk has no block map, so allocation (mode 0, KEEP_SIZE: unwritten
 * extents, which read as zeros) changes nothing but i_size. The modes:
 * - PUNCH_HOLE (ext4_punch_hole): the range within i_size: the cached pages
 *   unmapped (even_cows=0) and dropped (truncate_pagecache_range), the
 *   blocks freed (the range reads as zeros), the partial blocks at its ends
 *   zeroed (ext4_zero_partial_blocks).
 * - ZERO_RANGE (ext4_zero_range): as a hole for the blocks the range holds
 *   whole (truncate_pagecache_range, then unwritten extents: zeros), the
 *   partial blocks at its ends zeroed; without KEEP_SIZE, i_size grows to
 *   offset + len. Never -EINVAL: any offset and length go.
 * - COLLAPSE_RANGE (ext4_collapse_range): -EINVAL unless offset and len are
 *   block-aligned and the range ends before i_size; the dirty pages outside
 *   the range are written back (filemap_write_and_wait_range), the page
 *   cache from offset on is dropped with every mapping of it, private COW
 *   copies too (truncate_pagecache), the range's blocks are freed and the
 *   blocks after it move down by len (ext4_ext_shift_extents, SHIFT_LEFT);
 *   i_size - len.
 * - INSERT_RANGE (ext4_insert_range): -EINVAL unless block-aligned with
 *   offset below i_size, -EFBIG past s_maxbytes; the dirty pages from offset
 *   on are written back, the page cache from there dropped with every
 *   mapping, the blocks from offset move up by len (SHIFT_RIGHT) leaving a
 *   hole; i_size + len.
 * - UNSHARE_RANGE (and any other bit): -EOPNOTSUPP (ext4 has no shared
 *   extents).
 * Returns 0 or -errno.
 * Linux: fs/ext4/extents.c ext4_fallocate, ext4_zero_range, ext4_collapse_range,
 * ext4_insert_range; fs/ext4/inode.c ext4_punch_hole; mm/truncate.c truncate_pagecache
 */
import type { FileObject } from "../fs/file.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  punchHole,
} from "./falloc.ts";
import { filemapFdatawriteRange, folioEndWriteback } from "./filemap.ts";
import { Errno, type MmContext } from "./internal.ts";
import { truncatePagecache } from "./truncate.ts";

/** ext4's block size (EXT4_CLUSTER_SIZE without bigalloc): a page */
const BLOCK = 4096;

/** filemap_write_and_wait_range over pages [first, last] of f: the dirty ones written back and waited for. */
function writeAndWait(ctx: MmContext, f: FileObject, first: number, last: number): void {
  folioEndWriteback(ctx, filemapFdatawriteRange(ctx, f, first, last));
}

/**
 * ext4_fallocate of the disk file f: `offset` >= 0, `len` > 0, the mode's
 * combination and s_maxbytes (`maxBytes`) checked by vfs_fallocate.
 */
export function ext4Fallocate(
  ctx: MmContext,
  f: FileObject,
  mode: number,
  offset: number,
  len: number,
  maxBytes: number,
): number {
  const supported =
    FALLOC_FL_KEEP_SIZE |
    FALLOC_FL_PUNCH_HOLE |
    FALLOC_FL_COLLAPSE_RANGE |
    FALLOC_FL_ZERO_RANGE |
    FALLOC_FL_INSERT_RANGE;
  if (mode & ~supported) return -Errno.EOPNOTSUPP;
  const end = offset + len;
  const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    // ext4_punch_hole: nothing at or past i_size to punch
    const stop = Math.min(end, f.sizeBytes);
    if (offset < stop) punchHole(ctx, f, offset, stop - 1);
    return 0;
  }
  if (mode & FALLOC_FL_COLLAPSE_RANGE) {
    if ((offset | len) % BLOCK !== 0) return -Errno.EINVAL; // IS_ALIGNED(offset | len, EXT4_CLUSTER_SIZE)
    // "There is no need to overlap collapse range with EOF, in which case it is effectively a truncate"
    if (end >= f.sizeBytes) return -Errno.EINVAL;
    const at = offset / BLOCK;
    const n = len / BLOCK;
    // the tail of the page before the range (none: block = page), then everything after it
    writeAndWait(ctx, f, at, at);
    writeAndWait(ctx, f, at + n, Number.POSITIVE_INFINITY);
    truncatePagecache(ctx, f, at);
    f.shiftPages(at, n, false); // ext4_ext_remove_space, ext4_ext_shift_extents(SHIFT_LEFT), i_size - len
    return 0;
  }
  if (mode & FALLOC_FL_INSERT_RANGE) {
    if ((offset | len) % BLOCK !== 0) return -Errno.EINVAL;
    if (len > maxBytes - f.sizeBytes) return -Errno.EFBIG; // "the maximum file size would be exceeded"
    if (offset >= f.sizeBytes) return -Errno.EINVAL; // "Offset must be less than i_size"
    const at = offset / BLOCK;
    writeAndWait(ctx, f, at, Number.POSITIVE_INFINITY);
    truncatePagecache(ctx, f, at);
    f.shiftPages(at, len / BLOCK, true); // i_size + len, ext4_ext_shift_extents(SHIFT_RIGHT)
    return 0;
  }
  if (mode & FALLOC_FL_ZERO_RANGE) {
    // the blocks held whole: truncate_pagecache_range, then unwritten (zeros); the partial ones
    // zeroed (ext4_zero_partial_blocks); the part past i_size reads as zeros already
    const stop = Math.min(end, f.sizeBytes);
    if (offset < stop) punchHole(ctx, f, offset, stop - 1);
    if (!keep && end > f.sizeBytes) f.setSize(end); // ext4_update_inode_size
    return 0;
  }
  // allocation: unwritten extents (zeros); without KEEP_SIZE, i_size grows
  if (!keep && end > f.sizeBytes) f.setSize(end);
  return 0;
}
