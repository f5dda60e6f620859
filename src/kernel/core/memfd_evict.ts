/**
 * The end of a memfd: its inode, which no directory names, goes with the
 * last struct file that refers to it (close(2), a VMA's vm_file put, the
 * file table of an exiting process). Kept apart from memfd.ts so that exit
 * (sched.ts) can call it.
 * Linux: fs/file_table.c fput; fs/inode.c iput_final, evict; mm/shmem.c shmem_evict_inode
 */
import { FileObject } from "../fs/file.ts";
import { hugetlbfsInode } from "../mm/hugetlb_vma.ts";
import { iMmap } from "../mm/MmStruct.ts";
import type { KernelCore } from "./core.ts";
import { hugetlbfsTruncate } from "./hugetlbfs.ts";

/**
 * A reference to `f` went (a struct file closed, a VMA's vm_file put):
 * when `f` is a memfd (an inode no directory names) that no file table and
 * no VMA refers to any more, its inode goes: iput -> evict ->
 * shmem_evict_inode (shmem_unacct_size: nothing, a memfd is VM_NORESERVE;
 * shmem_truncate_range(inode, 0, -1): every page freed and its
 * shmem_unacct_blocks, every swap entry freed (shmem_free_swap)), or for a
 * MFD_HUGETLB memfd hugetlbfs_evict_inode (remove_inode_hugepages: the
 * folios back to the pool, the reservations given back). vmlab counts no
 * f_count: the references are looked for (the file tables of live tasks,
 * the file's i_mmap). A named tmpfs file (nlink 1) is never evicted.
 * Linux: fs/file_table.c fput, __fput; fs/inode.c iput, evict; mm/shmem.c
 * shmem_evict_inode; fs/hugetlbfs/inode.c hugetlbfs_evict_inode
 */
export function memfdRelease(k: KernelCore, f: FileObject): void {
  if (f.memfdName === null || f.evicted) return;
  const inode = hugetlbfsInode(f);
  if (iMmap(f).size > 0 || (inode !== null && iMmap(inode).size > 0)) return;
  for (const t of k.tasks) if (t.alive && t.files?.fds.has(f)) return;
  if (inode !== null) hugetlbfsTruncate(k, f, inode, 0);
  else {
    k.userMm.truncate(f, 0);
    k.pageCache.shmemRecalc(f); // shmem_undo_range's recalc, for a file already of size 0
  }
  f.evicted = true;
  k.pageCache.files.delete(f.name);
}

/**
 * remove_vma's fput of a VMA's file: `mapping` is the VMA's FileObject or
 * its hugetlbfs inode (a MFD_HUGETLB memfd's, a SysV segment's).
 */
export function memfdPut(k: KernelCore, mapping: object): void {
  if (mapping instanceof FileObject) {
    memfdRelease(k, mapping);
    return;
  }
  for (const f of k.pageCache.files.values())
    if (f.memfdName !== null && hugetlbfsInode(f) === mapping) {
      memfdRelease(k, f);
      return;
    }
}
