/**
 * madvise(2)'s system-call side: the byte range checked and rounded to
 * pages, then mm/madvise.ts doMadvise (one switch over Linux's MADV_*
 * values). Population faults are counted against the task; MADV_PAGEOUT's
 * reclaimed pages are added to the pageout counter.
 */

import type { MmStruct } from "../mm/MmStruct.ts";
import { Errno, MADVISE_ADVICE } from "../mm/userMm.ts";
import type { KernelCore } from "./core.ts";
import { madviseRemove } from "./fallocate.ts";
import { populate } from "./gup.ts";
import { madviseRange } from "./mman.ts";
import { ptraceMayAccess } from "./process_vm_access.ts";
import { syscallEntry, userOf } from "./sched.ts";
import type { Task } from "./task.ts";

/** madvise(ADDR, LENGTH, ADVICE), the advice by its name (MADV_ in lower case): 0 or -errno. */
export function madvise(k: KernelCore, task: Task, addr: bigint, length: bigint, advice: string): bigint {
  // MADV_REMOVE is the file system's hole punch (vfs_fallocate), core's side: core/fallocate.ts
  if (advice === "remove") return madviseRemove(k, task, addr, length);
  const mm = userOf(task);
  syscallEntry(k, task);
  return doMadvise(k, task, mm, addr, length, advice);
}

/**
 * do_madvise on `mm` (the caller's own, or process_madvise's target's), in `task`'s system call.
 * Linux: mm/madvise.c do_madvise
 */
function doMadvise(
  k: KernelCore,
  task: Task,
  mm: MmStruct,
  addr: bigint,
  length: bigint,
  advice: string,
): bigint {
  // do_madvise: madvise_behavior_valid first, then the range (madviseRange)
  const madv = Object.hasOwn(MADVISE_ADVICE, advice) ? MADVISE_ADVICE[advice] : -1;
  if (madv < 0) return BigInt(-Errno.EINVAL);
  // madvise_behavior_valid: MADV_HUGEPAGE, MADV_NOHUGEPAGE and MADV_COLLAPSE are valid only
  // under CONFIG_TRANSPARENT_HUGEPAGE
  if (
    k.arch.noTransparentHugepage &&
    (advice === "hugepage" || advice === "nohugepage" || advice === "collapse")
  )
    return BigInt(-Errno.EINVAL);
  const r = madviseRange(k, addr, length);
  if (typeof r === "bigint") return r;
  return BigInt(
    k.userMm.madvise(
      mm,
      r.start,
      r.end,
      madv,
      (vpn, write) => populate(k, task, vpn, write),
      (pages) => {
        k.lastPageout += pages;
      },
    ),
  );
}

/** process_madvise's iovecs: each range's address and length in bytes */
export type MadviseRanges = readonly { addr: bigint; len: bigint }[];

/** UIO_MAXIOV: the most iovecs import_iovec takes */
const UIO_MAXIOV = 1024;
/** MAX_RW_COUNT (INT_MAX & PAGE_MASK): import_iovec shortens the iovecs past it */
const MAX_RW_COUNT = 0x7ffff000n;

/** process_madvise's advice: the non-destructive hints (process_madvise_behavior_valid) */
const PROCESS_MADVISE_ADVICE = new Set(["cold", "pageout", "willneed", "collapse"]);

/**
 * process_madvise(pidfd of `target`, iovec, vlen, advice, flags) made by `caller`: flags other
 * than 0 are -EINVAL; import_iovec (more than UIO_MAXIOV iovecs or a length above SSIZE_MAX:
 * -EINVAL; a range past the caller's TASK_SIZE_MAX, access_ok: -EFAULT; the total cut at
 * MAX_RW_COUNT); a target that has exited: -ESRCH; advice other than
 * MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED and MADV_COLLAPSE: -EINVAL; mm_access's
 * ptrace_may_access(PTRACE_MODE_READ_FSCREDS) refusing: -EACCES, a target without an mm: -ESRCH;
 * another process's mm without CAP_SYS_NICE (vmlab: uid 0): -EPERM. Then do_madvise on the
 * target's mm for each iovec in turn until one fails (empty ones after the first stepped
 * over). Returns the bytes of the iovecs advised whole, or, when none was, the first error (0
 * for no bytes at all).
 * Linux: mm/madvise.c SYSCALL_DEFINE5(process_madvise); lib/iov_iter.c __import_iovec; kernel/fork.c mm_access
 */
export function processMadvise(
  k: KernelCore,
  caller: Task,
  target: Task,
  vec: MadviseRanges,
  advice: string,
  flags: number,
): bigint {
  syscallEntry(k, caller);
  if (flags !== 0) return BigInt(-Errno.EINVAL);
  if (vec.length > UIO_MAXIOV || vec.some((v) => v.len < 0n || v.len >= 1n << 63n))
    return BigInt(-Errno.EINVAL);
  let total = 0n;
  const iov = vec.map((v) => {
    const len = total + v.len > MAX_RW_COUNT ? MAX_RW_COUNT - total : v.len;
    total += len;
    return { addr: v.addr, len };
  });
  // __import_iovec: access_ok of each iovec as the caller, -EFAULT (several iovecs: the length
  // before MAX_RW_COUNT's cut; one iovec, import_ubuf: after it)
  for (let i = 0; i < vec.length; i++)
    if (!k.uaccess.accessOk(caller, vec[i].addr, vec.length === 1 ? iov[i].len : vec[i].len))
      return BigInt(-Errno.EFAULT);
  if (!target.alive) return BigInt(-Errno.ESRCH); // pidfd_get_task
  if (!PROCESS_MADVISE_ADVICE.has(advice)) return BigInt(-Errno.EINVAL);
  if (target.mm === null) return BigInt(-Errno.ESRCH);
  if (!ptraceMayAccess(caller, target)) return BigInt(-Errno.EACCES);
  if (target.mm !== caller.mm && caller.uid !== 0) return BigInt(-Errno.EPERM); // capable(CAP_SYS_NICE)
  let left = total;
  let ret = 0n;
  for (let i = 0; i < iov.length; i++) {
    const v = iov[i];
    if (left === 0n) break; // while (iov_iter_count(&iter))
    // iov_iter_iovec_advance steps over the empty iovecs after the one it leaves: only the
    // first iovec reaches do_madvise empty (lib/iov_iter.c)
    if (v.len === 0n && i > 0) continue;
    ret = doMadvise(k, caller, target.mm, v.addr, v.len, advice);
    if (ret < 0n) break;
    left -= v.len;
  }
  return total - left !== 0n ? total - left : ret;
}
