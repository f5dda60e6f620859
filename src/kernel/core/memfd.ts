/**
 * memfd_create(2) and the file seals of fcntl(2) F_ADD_SEALS / F_GET_SEALS
 * (mm/memfd.c): a memfd is a tmpfs file (shmem_file_setup) of size 0, named
 * "memfd:NAME", with no path (maps shows `/memfd:NAME (deleted)`). The seals
 * are checked where Linux checks them: write(2) (shmem_write_begin: EPERM
 * under F_SEAL_WRITE or F_SEAL_FUTURE_WRITE), ftruncate(2) (shmem_setattr:
 * EPERM shrinking under F_SEAL_SHRINK, growing under F_SEAL_GROW) and a
 * shared writable mmap (shmem_mmap -> seal_check_write: EPERM).
 * MFD_HUGETLB makes a hugetlbfs file instead (hugetlb_file_setup of size 0,
 * VM_NORESERVE, HUGETLB_ANONHUGE_INODE) of the huge page size
 * (flags >> MFD_HUGE_SHIFT) & MFD_HUGE_MASK (0: the default; none of that
 * size: -ENODEV, get_hstate_idx): its pages are huge folios of the pool in
 * the inode's page cache (mm/hugetlb.ts, hugetlbfsInode), sealable as a
 * tmpfs memfd is (memfd_file_seals_ptr: hugetlbfs's info->seals); its
 * ftruncate takes multiples of the huge page size only, write(2) is
 * -EINVAL (hugetlbfs has no write_iter), read(2) copies the folios.
 * vmlab has no file descriptors: MFD_CLOEXEC is accepted and changes
 * nothing; the creator's file table holds the new struct file (the fd
 * memfd_create returns). The inode has no name in any directory, so it lives
 * while a struct file refers to it, in a file table (until close(2) or the
 * table's last user exits) or as a VMA's vm_file (until the VMA goes): the
 * last of those references frees it (memfdRelease: iput -> evict). fallocate(2):
 * core/fallocate.ts. Not modelled: memfd_wait_for_pins (GUP pins never make
 * F_SEAL_WRITE -EBUSY), seal_check_write clearing VM_MAYWRITE on a shared
 * read-only mapping, vm.memfd_noexec (0: no flag means MFD_EXEC).
 * Linux: mm/memfd.c memfd_create, memfd_add_seals, memfd_get_seals; mm/shmem.c
 */
import type { FileObject } from "../fs/file.ts";
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
} from "../fs/file.ts";
import { hugetlbFileSetup } from "../mm/hugetlb.ts";
import { hugetlbfsInode, setHugetlbfsInode } from "../mm/hugetlb_vma.ts";
import { hstateSizelog } from "../mm/mmap.ts";
import { Errno } from "../mm/userMm.ts";
import { VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { linuxOnly, syscallEntry } from "./sched.ts";
import type { Task } from "./task.ts";

export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
export const MFD_HUGETLB = 0x4;
export const MFD_NOEXEC_SEAL = 0x8;
export const MFD_EXEC = 0x10;
/** MFD_HUGE_SHIFT, MFD_HUGE_MASK (include/uapi/linux/memfd.h, = MAP_HUGE_*): log2 of the huge page size */
export const MFD_HUGE_SHIFT = 26;
export const MFD_HUGE_MASK = 0x3f;
const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;

export { F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE };

const F_ALL_SEALS = 0x3f;
/** NAME_MAX - strlen("memfd:") */
export const MFD_NAME_MAX_LEN = 249;

/**
 * memfd_create(NAME, FLAGS) by `task`: a new tmpfs file of size 0, or
 * -EINVAL (unknown flags, MFD_EXEC with MFD_NOEXEC_SEAL, MFD_HUGETLB, a
 * name longer than 249 bytes). MFD_ALLOW_SEALING clears F_SEAL_SEAL;
 * MFD_NOEXEC_SEAL clears the exec bits and seals F_SEAL_EXEC (sealing
 * allowed). vmlab's key for the file (the name views and scenarios use)
 * is NAME, or NAME#2, NAME#3, ... when taken: Linux allows any number of
 * memfds of one name; maps shows `/memfd:NAME (deleted)` for each.
 * Linux: mm/memfd.c SYSCALL_DEFINE2(memfd_create), alloc_file
 */
export function memfdCreate(k: KernelCore, task: Task, name: string, flags: number): FileObject | number {
  linuxOnly(k, "memfd_create");
  syscallEntry(k, task);
  // "Allow huge page size encoding in flags" with MFD_HUGETLB only
  const allowed = flags & MFD_HUGETLB ? MFD_ALL_FLAGS | (MFD_HUGE_MASK << MFD_HUGE_SHIFT) : MFD_ALL_FLAGS;
  if (flags & ~allowed) return -Errno.EINVAL;
  if (flags & MFD_EXEC && flags & MFD_NOEXEC_SEAL) return -Errno.EINVAL;
  if (utf8Bytes(name) > MFD_NAME_MAX_LEN) return -Errno.EINVAL;
  const h = flags & MFD_HUGETLB ? hstateSizelog(k.userMm, (flags >>> MFD_HUGE_SHIFT) & MFD_HUGE_MASK) : null;
  if (h === undefined) return -Errno.ENODEV; // hugetlb_file_setup: get_hstate_idx
  let key = name;
  for (let i = 2; k.pageCache.files.has(key); i++) key = `${name}#${i}`;
  const f = k.pageCache.create(key, 0, "tmpfs", false);
  if (f === null) return -Errno.ENOMEM;
  f.memfdName = name;
  if (h !== null) setHugetlbfsInode(f, hugetlbFileSetup(k.userMm, h, 0, true, false)!); // size 0, VM_NORESERVE
  f.memfdExec = !(flags & MFD_NOEXEC_SEAL); // vm.memfd_noexec 0: no flag is MFD_EXEC
  if (flags & MFD_NOEXEC_SEAL) f.seals = (f.seals & ~F_SEAL_SEAL) | F_SEAL_EXEC;
  else if (flags & MFD_ALLOW_SEALING) f.seals &= ~F_SEAL_SEAL;
  task.files?.open(f); // fd_install: the descriptor memfd_create returns
  return f;
}

/**
 * fcntl(F_ADD_SEALS): -EINVAL for unknown seals or a file that is not
 * shmem (a disk file), -EPERM once F_SEAL_SEAL is set (every tmpfs file
 * not made by memfd_create(MFD_ALLOW_SEALING) has it), -EBUSY for
 * F_SEAL_WRITE while a shared mapping that may write exists
 * (mapping_deny_writable: i_mmap_writable counts VM_SHARED | VM_MAYWRITE,
 * read-only shared mappings of a file opened O_RDWR included); F_SEAL_EXEC
 * on an executable memfd adds the write seals (W^X). Else 0.
 * Linux: mm/memfd.c memfd_add_seals
 */
export function addSeals(k: KernelCore, task: Task, f: FileObject, seals: number): bigint {
  linuxOnly(k, "fcntl");
  syscallEntry(k, task);
  if (seals & ~F_ALL_SEALS || seals < 0) return BigInt(-Errno.EINVAL);
  if (f.fs !== "tmpfs") return BigInt(-Errno.EINVAL); // memfd_file_seals_ptr: NULL
  if (f.seals & F_SEAL_SEAL) return BigInt(-Errno.EPERM);
  if (seals & F_SEAL_WRITE && !(f.seals & F_SEAL_WRITE) && writablyMapped(k, f)) return BigInt(-Errno.EBUSY);
  if (seals & F_SEAL_EXEC && f.memfdExec)
    seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
  f.seals |= seals;
  return 0n;
}

/** fcntl(F_GET_SEALS): the seals, or -EINVAL for a disk file. Linux: mm/memfd.c memfd_get_seals */
export function getSeals(k: KernelCore, task: Task, f: FileObject): bigint {
  linuxOnly(k, "fcntl");
  syscallEntry(k, task);
  return f.fs === "tmpfs" ? BigInt(f.seals) : BigInt(-Errno.EINVAL);
}

/** The bytes of a name in UTF-8 (strnlen_user counts bytes). */
function utf8Bytes(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** mapping_writably_mapped: a VMA of any process maps the file VM_SHARED | VM_MAYWRITE. */
function writablyMapped(k: KernelCore, f: FileObject): boolean {
  const seen = new Set<unknown>();
  for (const t of k.tasks) {
    if (!t.alive || t.mm === null || seen.has(t.mm)) continue;
    seen.add(t.mm);
    for (const v of t.mm.vmas)
      if (
        v.file === f &&
        (v.vmFlags & (VmFlag.SHARED | VmFlag.MAYWRITE)) === (VmFlag.SHARED | VmFlag.MAYWRITE)
      )
        return true;
  }
  return false;
}

/** The seals write(2) and a shared writable mmap meet: -EPERM under F_SEAL_WRITE or F_SEAL_FUTURE_WRITE, else 0. */
export function sealCheckWrite(f: FileObject): number {
  return f.fs === "tmpfs" && f.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) ? -Errno.EPERM : 0;
}

/** shmem_setattr's size check: -EPERM shrinking under F_SEAL_SHRINK or growing under F_SEAL_GROW, else 0. */
export function sealCheckSize(f: FileObject, newSize: number): number {
  if (f.fs !== "tmpfs") return 0;
  // hugetlbfs_setattr: a size off the huge page size is -EINVAL before the seals
  const inode = hugetlbfsInode(f);
  if (inode !== null && newSize % (inode.h.nrPages * 4096) !== 0) return -Errno.EINVAL;
  if (newSize < f.sizeBytes && f.seals & F_SEAL_SHRINK) return -Errno.EPERM;
  if (newSize > f.sizeBytes && f.seals & F_SEAL_GROW) return -Errno.EPERM;
  return 0;
}
