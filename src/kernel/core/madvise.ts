/**
 * madvise(2)'s system-call side: the byte range checked and rounded to
 * pages, then mm/madvise.ts doMadvise (one switch over Linux's MADV_*
 * values). Population faults are counted against the task; MADV_PAGEOUT's
 * reclaimed pages are added to the pageout counter.
 */

import { Errno, MADVISE_ADVICE } from "../mm/userMm.ts";
import type { KernelCore } from "./core.ts";
import { madviseRemove } from "./fallocate.ts";
import { populate } from "./gup.ts";
import { madviseRange } from "./mman.ts";
import { syscallEntry, userOf } from "./sched.ts";
import type { Task } from "./task.ts";

/** madvise(ADDR, LENGTH, ADVICE), the advice by its name (MADV_ in lower case): 0 or -errno. */
export function madvise(k: KernelCore, task: Task, addr: bigint, length: bigint, advice: string): bigint {
  // MADV_REMOVE is the file system's hole punch (vfs_fallocate), core's side: core/fallocate.ts
  if (advice === "remove") return madviseRemove(k, task, addr, length);
  const mm = userOf(task);
  syscallEntry(k, task);
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
