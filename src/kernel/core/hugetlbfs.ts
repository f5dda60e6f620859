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
 * Linux: fs/hugetlbfs/inode.c hugetlbfs_read_iter, hugetlbfs_setattr, hugetlb_vmtruncate
 */
import type { FileObject } from "../fs/file.ts";
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

/** ftruncate of a hugetlbfs file to `size` bytes (a multiple of the huge page size). */
export function hugetlbfsTruncate(k: KernelCore, f: FileObject, file: HugetlbFile, size: number): void {
  if (size < file.size) {
    // hugetlb_vmdelete_list: every VMA of the inode, from the new end on
    const from = size / 4096;
    const seen = new Set<MmStruct>();
    for (const t of k.tasks) {
      if (!t.alive || t.mm === null || seen.has(t.mm)) continue;
      seen.add(t.mm);
      for (const v of [...t.mm.vmas]) {
        if (v.htlb?.file !== file) continue;
        const a = Math.max(v.vmStart, v.vmStart + (from - v.vmPgoff));
        if (a < v.vmEnd) k.userMm.dontneed(t.mm, a, v.vmEnd); // unmap_hugepage_range
      }
    }
    hugetlbTruncate(k.userMm, file, size);
  } else file.size = size;
  f.sizeBytes = size;
}
