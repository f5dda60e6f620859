/**
 * The file operations of a hugetlbfs file that vmlab's files reach: a
 * memfd made with MFD_HUGETLB (kernel/core/memfd.ts), whose pages are huge
 * folios in its inode's page cache (hugetlbfsInode, mm/hugetlb.ts).
 * read(2) (hugetlbfs_read_iter) copies from the folios, zeros for a hole,
 * up to i_size; write(2) is -EINVAL (hugetlbfs_file_operations has no
 * write_iter); ftruncate (hugetlbfs_setattr, after the caller's size and
 * seal checks) sets i_size, and shrinking (hugetlb_vmtruncate) first zaps
 * every mapping of the part cut off (hugetlb_vmdelete_list: shared entries
 * and private copies alike), then drops its folios and reservations.
 * fallocate (hugetlbfs_fallocate) allocates whole huge folios from the pool
 * or punches a hole (mm/falloc_hugetlb.ts).
 * Linux: fs/hugetlbfs/inode.c hugetlbfs_read_iter, hugetlbfs_setattr, hugetlb_vmtruncate
 */
import type { FileObject } from "../fs/file.ts";
import { F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_WRITE } from "../fs/file.ts";
import { hugetlbFallocAlloc, hugetlbRemoveRange, hugetlbZeroPartial } from "../mm/falloc_hugetlb.ts";
import { hugetlbTruncate } from "../mm/hugetlb.ts";
import type { HugetlbFile } from "../mm/hugetlb_vma.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { Errno } from "../mm/userMm.ts";
import type { KernelCore } from "./core.ts";

/**
 * read(2) or write(2) of `n` bytes at `start` of a hugetlbfs file through
 * `copy` (uaccess of n bytes, the source byte at i: the bytes copied); the
 * bytes done, or -errno (-EFAULT: nothing could be copied).
 */
export function hugetlbfsIo(
  inode: HugetlbFile,
  k: KernelCore,
  start: number,
  len: number,
  write: boolean,
  copy: (n: number, byte: (i: number) => number) => number,
): number {
  if (write) return -Errno.EINVAL;
  const n = Math.max(0, Math.min(len, inode.size - start));
  if (n === 0) return 0;
  const hsize = inode.h.nrPages * 4096;
  const phys = k.machine.phys;
  const done = copy(n, (i) => {
    const off = start + i;
    const head = inode.pages.get(Math.floor(off / hsize));
    return head === undefined ? 0 : phys.read8(head * 4096 + (off % hsize));
  });
  return done > 0 ? done : -Errno.EFAULT;
}

/**
 * hugetlb_vmdelete_list: every VMA of the inode loses its entries for the
 * file's pages [from, to) (shared entries and private copies alike).
 */
function vmdeleteList(k: KernelCore, file: HugetlbFile, from: number, to: number): void {
  const seen = new Set<MmStruct>();
  for (const t of k.tasks) {
    if (!t.alive || t.mm === null || seen.has(t.mm)) continue;
    seen.add(t.mm);
    for (const v of [...t.mm.vmas]) {
      if (v.htlb?.file !== file) continue;
      const a = Math.max(v.vmStart, v.vmStart + (from - v.vmPgoff));
      const b = Math.min(v.vmEnd, v.vmStart + (to - v.vmPgoff));
      if (a < b) k.userMm.dontneed(t.mm, a, b); // unmap_hugepage_range
    }
  }
}

/** ftruncate of a hugetlbfs file to `size` bytes (a multiple of the huge page size). */
export function hugetlbfsTruncate(k: KernelCore, f: FileObject, file: HugetlbFile, size: number): void {
  if (size < file.size) {
    // hugetlb_vmdelete_list: every VMA of the inode, from the new end on
    vmdeleteList(k, file, size / 4096, Number.POSITIVE_INFINITY);
    hugetlbTruncate(k.userMm, file, size);
  } else file.size = size;
  f.sizeBytes = size;
}

/**
 * fallocate of a hugetlbfs file, the modes checked by vfs_fallocate: other
 * than KEEP_SIZE and PUNCH_HOLE, -EOPNOTSUPP. A hole (-EPERM under
 * F_SEAL_WRITE / F_SEAL_FUTURE_WRITE) zeroes the partial huge pages at its
 * ends in place, zaps every mapping of its whole huge pages and removes
 * them with their reservations; an allocation (-EPERM growing under
 * F_SEAL_GROW) takes the range's huge pages, rounded out to whole ones,
 * from the pool (-ENOSPC when it runs short, keeping those it got) and,
 * without KEEP_SIZE, grows i_size to offset + len.
 * Linux: fs/hugetlbfs/inode.c hugetlbfs_fallocate, hugetlbfs_punch_hole
 */
export function hugetlbfsFallocate(
  k: KernelCore,
  f: FileObject,
  file: HugetlbFile,
  keepSize: boolean,
  punch: boolean,
  offset: number,
  len: number,
): number {
  const hsize = file.h.nrPages * 4096;
  const end = offset + len;
  if (punch) return hugetlbfsPunchHole(k, file, f.seals, offset, len);
  if (f.seals & F_SEAL_GROW && end > f.sizeBytes) return -Errno.EPERM;
  const r = hugetlbFallocAlloc(k.userMm, file, Math.floor(offset / hsize), Math.ceil(end / hsize));
  if (r < 0) return r;
  if (!keepSize && end > f.sizeBytes) {
    f.sizeBytes = end; // i_size_write
    file.size = end;
  }
  return 0;
}

/**
 * hugetlbfs_punch_hole of the bytes [offset, offset + len) of the inode
 * `file` whose seals are `seals` (a memfd's; the F_SEAL_SEAL alone of an
 * inode hugetlb_file_setup made for MAP_HUGETLB or SHM_HUGETLB): -EPERM
 * under F_SEAL_WRITE or F_SEAL_FUTURE_WRITE; else the partial huge page at
 * each end of the range is zeroed in place (hugetlbfs_zero_partial_page:
 * still mapped, still in the cache), every mapping of the whole huge pages
 * between them is zapped (hugetlb_vmdelete_list: private copies too) and
 * those pages leave the inode with their reservations (remove_inode_hugepages).
 * Linux: fs/hugetlbfs/inode.c hugetlbfs_punch_hole
 */
export function hugetlbfsPunchHole(
  k: KernelCore,
  file: HugetlbFile,
  seals: number,
  offset: number,
  len: number,
): number {
  const hsize = file.h.nrPages * 4096;
  const end = offset + len;
  // hole_start and hole_end: the full huge pages within the hole
  const holeStart = Math.ceil(offset / hsize) * hsize;
  const holeEnd = Math.floor(end / hsize) * hsize;
  if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return -Errno.EPERM;
  if (offset < holeStart) hugetlbZeroPartial(k.userMm, file, offset, Math.min(end, holeStart));
  if (holeEnd > holeStart) vmdeleteList(k, file, holeStart / 4096, holeEnd / 4096);
  if (end > holeEnd && end > holeStart) hugetlbZeroPartial(k.userMm, file, holeEnd, end);
  if (holeEnd > holeStart) hugetlbRemoveRange(k.userMm, file, holeStart / hsize, holeEnd / hsize);
  return 0;
}
