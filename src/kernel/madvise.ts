/**
 * madvise (mm/madvise.c). Advice applies to the mapped parts of the range;
 * a hole makes the result -ENOMEM (after applying), an unknown advice or a
 * misaligned start -EINVAL.
 */
import type { KernelCore } from "./core.ts";
import { populate } from "./gup.ts";
import { Errno, VmFault } from "./mm/userMm.ts";
import { VmFlag } from "./mm/vma.ts";
import { pageRange } from "./mman.ts";
import { syscallEntry, userOf } from "./sched.ts";
import type { Task } from "./task.ts";

export function madvise(k: KernelCore, task: Task, addr: bigint, length: bigint, advice: string): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const r = pageRange(k, addr, length);
  if (typeof r === "bigint") return r;
  const { start, end } = r;
  if (start === end) return 0n;
  const hole = !k.userMm.isMapped(mm, start, end);
  const mapped = (f: (a: number, b: number) => void) => {
    for (const v of mm.vmas.slice()) {
      const a = Math.max(start, v.vmStart);
      const b = Math.min(end, v.vmEnd);
      if (a < b) f(a, b);
    }
  };
  const locked = mm.vmas.some(
    (v) => v.vmStart < end && v.vmEnd > start && v.vmFlags & (VmFlag.LOCKED | VmFlag.PFNMAP),
  );
  switch (advice) {
    case "pageout":
    case "cold":
      // can_madv_lru_vma: not on VM_LOCKED or VM_PFNMAP mappings
      if (locked) return BigInt(-Errno.EINVAL);
      // MADV_COLD only ages pages on the LRU lists, which vmlab does not model yet
      if (advice === "pageout")
        mapped((a, b) => {
          k.lastPageout += k.userMm.pageout(mm, a, b);
        });
      break;
    case "dontneed":
      if (locked) return BigInt(-Errno.EINVAL);
      k.userMm.dontneed(mm, start, end);
      break;
    case "free":
      if (locked) return BigInt(-Errno.EINVAL);
      mapped((a, b) => k.userMm.lazyFree(mm, a, b));
      break;
    case "willneed":
      // madvise_willneed: a file mapping's range is read into the page cache (vfs_fadvise WILLNEED), not mapped
      mapped((a, b) => {
        const v = mm.vmaAt(a)!;
        if (!v.file) return;
        for (let vpn = a; vpn < b; vpn++) {
          const index = v.vmPgoff + (vpn - v.vmStart);
          if (index >= v.file.nrPages || k.pageCache.readPage(v.file, index, true) < 0) break;
        }
      });
      // anonymous memory: force_swapin_readahead brings swapped pages into the swap cache
      k.userMm.willneedSwap(mm, start, end);
      break;

    case "hugepage":
      k.userMm.setFlags(mm, start, end, VmFlag.HUGEPAGE, VmFlag.NOHUGEPAGE);
      break;
    case "nohugepage":
      k.userMm.setFlags(mm, start, end, VmFlag.NOHUGEPAGE, VmFlag.HUGEPAGE);
      break;
    case "dontfork":
      k.userMm.setFlags(mm, start, end, VmFlag.DONTCOPY, 0);
      break;
    case "dofork":
      k.userMm.setFlags(mm, start, end, 0, VmFlag.DONTCOPY);
      break;
    case "wipeonfork":
      k.userMm.setFlags(mm, start, end, VmFlag.WIPEONFORK, 0);
      break;
    case "keeponfork":
      k.userMm.setFlags(mm, start, end, 0, VmFlag.WIPEONFORK);
      break;
    case "dontdump":
      k.userMm.setFlags(mm, start, end, VmFlag.DONTDUMP, 0);
      break;
    case "dodump":
      // VM_SPECIAL mappings (remap_pfn_range, VM_IO) stay out of core dumps
      if (
        mm.vmas.some(
          (v) =>
            v.vmStart < end && v.vmEnd > start && v.vmFlags & (VmFlag.IO | VmFlag.PFNMAP | VmFlag.DONTEXPAND),
        )
      )
        return BigInt(-Errno.EINVAL);
      k.userMm.setFlags(mm, start, end, 0, VmFlag.DONTDUMP);
      break;
    case "random":
      k.userMm.setFlags(mm, start, end, VmFlag.RAND_READ, VmFlag.SEQ_READ);
      break;
    case "sequential":
      k.userMm.setFlags(mm, start, end, VmFlag.SEQ_READ, VmFlag.RAND_READ);
      break;
    case "normal":
      k.userMm.setFlags(mm, start, end, 0, VmFlag.SEQ_READ | VmFlag.RAND_READ);
      break;
    case "populate_read":
    case "populate_write": {
      if (hole) return BigInt(-Errno.ENOMEM);
      const write = advice === "populate_write";
      for (let v = start; v < end; v++) {
        const vma = mm.vmaAt(v)!;
        if (
          write ? !(vma.vmFlags & VmFlag.WRITE) : !(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))
        )
          return BigInt(-Errno.EFAULT);
        const res = populate(k, task, v, write);
        if (res !== VmFault.OK) return BigInt(res & VmFault.OOM ? -Errno.ENOMEM : -Errno.EFAULT);
      }
      break;
    }
    case "guard_install":
      if (locked) return BigInt(-Errno.EINVAL);
      mapped((a, b) => k.userMm.guardInstall(mm, a, b));
      break;
    case "guard_remove":
      mapped((a, b) => k.userMm.guardRemove(mm, a, b));
      break;
    default:
      return BigInt(-Errno.EINVAL);
  }
  return hole ? BigInt(-Errno.ENOMEM) : 0n;
}
