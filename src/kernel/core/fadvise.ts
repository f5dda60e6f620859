/**
 * The system-call side of mincore(2), posix_fadvise(2), fsync(2), sync(2) and a write to
 * /proc/sys/vm/drop_caches: the arguments checked as Linux checks them,
 * then mm/mincore.ts, mm/fadvise.ts, mm/page_writeback.ts.
 * Linux: mm/mincore.c sys_mincore, mm/fadvise.c ksys_fadvise64_64, fs/sync.c, fs/drop_caches.c
 */
import type { FileObject } from "../fs/file.ts";
import { FADVISE_ADVICE, genericFadvise, dropCaches as mmDropCaches } from "../mm/fadvise.ts";
import { doMincore } from "../mm/mincore.ts";
import { fileFsync, writebackDirtyInodes } from "../mm/page_writeback.ts";
import { Errno } from "../mm/userMm.ts";
import type { KernelCore } from "./core.ts";
import { untaggedAddr } from "./mman.ts";
import { syscallEntry, userOf } from "./sched.ts";
import type { Task } from "./task.ts";
import { taskFile } from "./vfs.ts";

/** What mincore returns: 0 or -errno, and the vector (one byte per page, bit 0 resident; filled up to a hole). */
export interface MincoreResult {
  ret: bigint;
  vec: Uint8Array;
}

/** The most pages one mincore call may ask about here (vmlab's statement cap; Linux loops over chunks). */
export const MINCORE_MAX_PAGES = 1 << 20;

/**
 * mincore(ADDR, LEN, vec) by `task`: -EINVAL for an unaligned ADDR, -ENOMEM
 * for a range past TASK_SIZE (access_ok) or a page no VMA covers (the
 * vector is filled up to it), else 0. The vector is vmlab's to return
 * (vec's own access_ok, -EFAULT, is not modelled).
 * Linux: mm/mincore.c sys_mincore
 */
export function mincore(k: KernelCore, task: Task, tagged: bigint, len: bigint): MincoreResult {
  const mm = userOf(task);
  syscallEntry(k, task);
  const addr = untaggedAddr(k, tagged); // start = untagged_addr(start)
  const none = new Uint8Array(0);
  if (addr % 4096n !== 0n || addr < 0n) return { ret: BigInt(-Errno.EINVAL), vec: none };
  // access_ok(start, len): start + len <= TASK_SIZE (x86-64: TASK_SIZE_MAX, USER_PTR_MAX)
  if (len < 0n || addr + len > k.layout.taskSize) return { ret: BigInt(-Errno.ENOMEM), vec: none };
  const pages = (len + 4095n) / 4096n;
  if (pages > BigInt(MINCORE_MAX_PAGES)) return { ret: BigInt(-Errno.EINVAL), vec: none };
  const vec = new Uint8Array(Number(pages));
  return { ret: BigInt(doMincore(k.userMm, mm, Number(addr / 4096n), vec)), vec };
}

/**
 * posix_fadvise(FILE, OFFSET, LEN, ADVICE) by `task`, the advice by name
 * (POSIX_FADV_ in lower case; another name is -EINVAL): 0 or -errno, on
 * the task's struct file of the file (fs/open.ts: the one `open` made, or an
 * implicit one of its own). vmlab names files (no EBADF) and has no pipes
 * (ESPIPE).
 * Linux: mm/fadvise.c ksys_fadvise64_64, vfs_fadvise
 */
export function fadvise(
  k: KernelCore,
  task: Task,
  f: FileObject,
  offset: bigint,
  len: bigint,
  advice: string,
): bigint {
  syscallEntry(k, task);
  const adv = Object.hasOwn(FADVISE_ADVICE, advice) ? FADVISE_ADVICE[advice] : -1;
  return BigInt(genericFadvise(k.userMm, taskFile(k, task, f), offset, len, adv));
}

/**
 * fsync(FILE) by `task` (fdatasync writes the same data pages): 0, and the pages written.
 * Linux: fs/sync.c do_fsync, vfs_fsync_range
 */
export function fsync(k: KernelCore, task: Task, f: FileObject): { ret: bigint; written: number } {
  syscallEntry(k, task);
  return { ret: 0n, written: fileFsync(k.userMm, f) };
}

/** sync(2): every dirty page-cache page written and waited for; the pages written. Linux: fs/sync.c ksys_sync */
export function sync(k: KernelCore): number {
  return writebackDirtyInodes(k.userMm);
}

/**
 * echo MODE > /proc/sys/vm/drop_caches: -EINVAL outside 1 .. 4
 * (proc_dointvec_minmax, SYSCTL_ONE .. SYSCTL_FOUR), else 0 after dropping
 * (mm/fadvise.ts dropCaches; 4 only silences the kernel's log line).
 * Linux: fs/drop_caches.c drop_caches_sysctl_handler
 */
export function dropCaches(k: KernelCore, mode: number): { ret: bigint; dropped: number } {
  if (!Number.isInteger(mode) || mode < 1 || mode > 4) return { ret: BigInt(-Errno.EINVAL), dropped: 0 };
  const dropped = mmDropCaches(k.userMm, mode, k.dropCachesStats);
  if (mode & 2) dropSlab(k);
  return { ret: 0n, dropped };
}

/**
 * drop_slab: shrink_slab at priority 0 for the node (vmlab's shrinkers:
 * the deferred split of THPs and the shadow nodes, mm/shrinker.ts) until a round frees no
 * more than 2^shift objects, the bound doubling each round.
 * Linux: mm/vmscan.c drop_slab, drop_slab_node
 */
function dropSlab(k: KernelCore): void {
  let shift = 0;
  let freed: number;
  do freed = k.vmscan.shrinkSlab(0);
  while (freed >> shift++ > 1);
}
