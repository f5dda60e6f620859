/**
 * fallocate(2) and madvise(MADV_REMOVE), the system-call side: vfs_fallocate's
 * checks in its order, for what vmlab's files can express (every file is a
 * regular file opened read-write: no -EBADF, -ESPIPE, -ENODEV, -EISDIR,
 * -EPERM append-only/immutable or -ETXTBSY case arises), then the file
 * system's fallocate:
 * - tmpfs and memfds (shmem_fallocate, mm/falloc.ts): allocation charged
 *   page by page to Committed_AS and the mount's size= (-ENOSPC when
 *   __vm_enough_memory or max_blocks refuses; memfd's internal mount has no size=),
 *   PUNCH_HOLE (-EPERM under F_SEAL_WRITE / F_SEAL_FUTURE_WRITE), F_SEAL_GROW
 *   (-EPERM growing past i_size, KEEP_SIZE or not); other modes -EOPNOTSUPP.
 * - disk files (ext4_fallocate, mm/falloc_ext4.ts): vmlab models no blocks,
 *   so mode 0 and KEEP_SIZE change nothing but i_size (mode 0 past it: ext4
 *   would allocate unwritten extents, which read as zeros, as vmlab's bytes
 *   past EOF do); PUNCH_HOLE and ZERO_RANGE drop the range's cached pages
 *   (truncate_pagecache_range, unmapping them) and the range reads as zeros;
 *   COLLAPSE_RANGE and INSERT_RANGE (block-aligned, else -EINVAL) move the
 *   blocks after the range down or up; UNSHARE_RANGE and 6.17's WRITE_ZEROES
 *   are -EOPNOTSUPP.
 * - hugetlbfs memfds (hugetlbfs_fallocate, core/hugetlbfs.ts): whole huge
 *   pages from the pool with their reservations, holes of whole huge pages.
 * Linux: fs/open.c vfs_fallocate, ksys_fallocate; mm/shmem.c shmem_fallocate;
 * fs/ext4/extents.c ext4_fallocate; mm/madvise.c madvise_remove
 */
import type { FileObject } from "../fs/file.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_WRITE_ZEROES,
  FALLOC_FL_ZERO_RANGE,
  punchHole,
  shmemFallocAlloc,
} from "../mm/falloc.ts";
import { ext4Fallocate } from "../mm/falloc_ext4.ts";
import { hugetlbfsInode } from "../mm/hugetlb_vma.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { madvDiscardAllowed } from "../mm/mseal.ts";
import { Errno } from "../mm/userMm.ts";
import { type Vma, VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { hugetlbfsFallocate, hugetlbfsPunchHole } from "./hugetlbfs.ts";
import { F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_WRITE } from "./memfd.ts";
import { madviseRange } from "./mman.ts";
import { syscallEntry, userOf } from "./sched.ts";
import type { Task } from "./task.ts";

export {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
};

/**
 * FALLOC_FL_MODE_MASK: the exclusive modes (include/linux/falloc.h). The 6.18
 * host's includes FALLOC_FL_WRITE_ZEROES (Linux 6.17; 6.12 has no such mode
 * and rejects the bit as unknown: -EOPNOTSUPP too, but before the -EFBIG check).
 */
const MODE_MASK =
  FALLOC_FL_WRITE_ZEROES |
  FALLOC_FL_PUNCH_HOLE |
  FALLOC_FL_COLLAPSE_RANGE |
  FALLOC_FL_ZERO_RANGE |
  FALLOC_FL_INSERT_RANGE |
  FALLOC_FL_UNSHARE_RANGE;
/** s_maxbytes: vmlab's files end at 1 TiB (ftruncate's -EFBIG bound) */
const MAX_BYTES = 2 ** 40;

/** fallocate(FILE, MODE, OFFSET, LEN) by `task`: 0 or -errno. Linux: fs/open.c ksys_fallocate */
export function fallocate(
  k: KernelCore,
  task: Task,
  f: FileObject,
  mode: number,
  offset: bigint,
  len: bigint,
): bigint {
  syscallEntry(k, task);
  return BigInt(vfsFallocate(k, f, mode, offset, len));
}

/**
 * vfs_fallocate: -EINVAL for a negative offset or a length <= 0; -EOPNOTSUPP
 * for unknown bits, a mode that is not one of the exclusive ones, PUNCH_HOLE
 * without KEEP_SIZE, COLLAPSE/INSERT/WRITE_ZEROES with it; -EFBIG past s_maxbytes; then
 * the file system's fallocate.
 * Linux: fs/open.c vfs_fallocate
 */
export function vfsFallocate(
  k: KernelCore,
  f: FileObject,
  mode: number,
  offset: bigint,
  len: bigint,
): number {
  if (offset < 0n || len <= 0n) return -Errno.EINVAL;
  if (mode & ~(MODE_MASK | FALLOC_FL_KEEP_SIZE)) return -Errno.EOPNOTSUPP;
  switch (mode & MODE_MASK) {
    case 0:
    case FALLOC_FL_UNSHARE_RANGE:
    case FALLOC_FL_ZERO_RANGE:
      break;
    case FALLOC_FL_PUNCH_HOLE:
      if (!(mode & FALLOC_FL_KEEP_SIZE)) return -Errno.EOPNOTSUPP;
      break;
    case FALLOC_FL_COLLAPSE_RANGE:
    case FALLOC_FL_INSERT_RANGE:
    case FALLOC_FL_WRITE_ZEROES:
      if (mode & FALLOC_FL_KEEP_SIZE) return -Errno.EOPNOTSUPP;
      break;
    default:
      return -Errno.EOPNOTSUPP;
  }
  if (offset + len > BigInt(MAX_BYTES)) return -Errno.EFBIG; // check_add_overflow, s_maxbytes
  const off = Number(offset);
  const n = Number(len);
  const punch = (mode & FALLOC_FL_PUNCH_HOLE) !== 0;
  const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
  const inode = hugetlbfsInode(f);
  if (inode !== null) {
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return -Errno.EOPNOTSUPP;
    return hugetlbfsFallocate(k, f, inode, keep, punch, off, n);
  }
  if (f.fs === "disk") return ext4Fallocate(k.userMm, f, mode, off, n, MAX_BYTES);
  // shmem_fallocate
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return -Errno.EOPNOTSUPP;
  if (punch) {
    if (f.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return -Errno.EPERM;
    punchHole(k.userMm, f, off, off + n - 1);
    return 0;
  }
  // inode_newsize_ok (RLIMIT_FSIZE unlimited, s_maxbytes checked above); F_SEAL_GROW
  if (f.seals & F_SEAL_GROW && off + n > f.sizeBytes) return -Errno.EPERM;
  return shmemFallocAlloc(k.userMm, f, off, n, keep);
}

/**
 * madvise(ADDR, LEN, MADV_REMOVE) by `task`: each VMA of the range in turn
 * (madvise_walk_vmas: the first error ends the walk; a hole is -ENOMEM at
 * the end), madvise_remove: -EINVAL on a VM_LOCKED VMA or one with no file
 * (a private anonymous mapping; a shared anonymous one has its shmem file),
 * -EACCES unless shared and writable (vma_is_shared_maywrite: VM_SHARED and
 * VM_MAYWRITE), else vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) of the file range
 * under the VMA's part.
 * Linux: mm/madvise.c madvise_remove, madvise_walk_vmas
 */
export function madviseRemove(k: KernelCore, task: Task, addr: bigint, length: bigint): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const r = madviseRange(k, addr, length); // do_madvise's checks of the range
  if (typeof r === "bigint") return r;
  if (r.start === r.end) return 0n;
  let hole = false;
  let at = r.start;
  for (const v of [...mm.vmas]) {
    if (v.vmEnd <= at || v.vmStart >= r.end) continue;
    if (v.vmStart > at) hole = true;
    const a = Math.max(at, v.vmStart);
    const b = Math.min(r.end, v.vmEnd);
    const err = removeVma(k, mm, v, a, b);
    if (err < 0) return BigInt(err);
    at = b;
  }
  if (at < r.end) hole = true;
  return hole ? BigInt(-Errno.ENOMEM) : 0n;
}

/**
 * madvise_remove on the pages [a, b) of one VMA. vm_file: the file mapped;
 * shmem_zero_setup's shmem file for shared anonymous memory; for a HugeTLB
 * mapping with no FileObject (MAP_HUGETLB anonymous memory, a SHM_HUGETLB
 * segment's shmat), the hugetlbfs file hugetlb_file_setup made (a segment's
 * shm file forwards fallocate to it: shm_fallocate), so MAP_PRIVATE is
 * -EACCES, not -EINVAL, and MAP_SHARED punches whole huge pages out of the
 * inode (its partial ones zeroed: hugetlbfs_punch_hole). vm_pgoff counts
 * base pages, for HugeTLB too.
 */
function removeVma(k: KernelCore, _mm: MmStruct, v: Vma, a: number, b: number): number {
  if (!madvDiscardAllowed(v)) return -Errno.EPERM; // madvise_vma_behavior: can_modify_vma_madv (mseal)
  if (v.vmFlags & VmFlag.LOCKED) return -Errno.EINVAL;
  if (v.file === null && v.shmem === null && v.htlb === null) return -Errno.EINVAL; // no vm_file
  if ((v.vmFlags & (VmFlag.SHARED | VmFlag.MAYWRITE)) !== (VmFlag.SHARED | VmFlag.MAYWRITE))
    return -Errno.EACCES;
  const offset = (a - v.vmStart + v.vmPgoff) * 4096;
  const len = (b - a) * 4096;
  if (v.file !== null)
    return vfsFallocate(k, v.file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(offset), BigInt(len));
  if (v.htlb !== null) {
    // vfs_fallocate's checks pass (offset >= 0, len > 0, the mode, s_maxbytes: MAX_LFS_FILESIZE);
    // hugetlbfs_fallocate -> hugetlbfs_punch_hole; the inode's seals are F_SEAL_SEAL alone
    return hugetlbfsPunchHole(k, v.htlb.file, 0, offset, len);
  }
  // a shared anonymous mapping's shmem file: shmem_fallocate's hole punch (no seals)
  punchHole(k.userMm, v.shmem!, offset, offset + len - 1);
  return 0;
}
