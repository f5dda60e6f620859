/**
 * Resource limits as the memory code applies them: struct signal_struct's
 * rlim array (per process: its threads share it, fork copies it), the
 * setrlimit/prlimit64 rules (kernel/sys.c do_prlimit), and the tests the
 * mapping paths make against RLIMIT_AS, RLIMIT_DATA and RLIMIT_MEMLOCK:
 * may_expand_vm (Linux 6.12 mm/mmap.c; newer kernels call it from
 * mm/vma.c's __mmap_region), mlock_future_ok and can_do_mlock (mm/mmap.c,
 * mm/mlock.c). The 6.18 host refuses and allows exactly what these do at
 * every call site (test/differential/rlimit.test.ts). RLIMIT_STACK is read by
 * expand_stack (core/findvma.ts) and sets mmap_base at spawn (core/sched.ts).
 *
 * Limits are bytes, RLIM_INFINITY is Infinity (~0UL in Linux: every
 * comparison with it comes out the same). vmlab's uid 0 has every
 * capability (CAP_SYS_RESOURCE, CAP_IPC_LOCK); any other uid has none.
 */
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { RLIM_INFINITY, Rlimit, type Rlimits } from "./rlim.ts";
import { VmFlag } from "./vma.ts";

export { RLIM_INFINITY, RLIMIT_NAMES, Rlimit, type RlimitName, Rlimits } from "./rlim.ts";

/**
 * setrlimit / prlimit64 on the caller's own process: -EINVAL for a soft
 * limit above the hard one, -EPERM for a hard limit raised without
 * CAP_SYS_RESOURCE (checked on the caller), else both set; returns 0 or
 * -errno. Lowering the hard limit is allowed to everyone, and cannot be
 * undone without the capability.
 * Linux: kernel/sys.c do_prlimit
 */
export function doPrlimit(
  rlim: Rlimits,
  resource: Rlimit,
  soft: number,
  hard: number,
  capSysResource: boolean,
): number {
  if (soft > hard) return -Errno.EINVAL;
  if (hard > rlim.max[resource] && !capSysResource) return -Errno.EPERM;
  rlim.cur[resource] = soft;
  rlim.max[resource] = hard;
  return 0;
}

/**
 * total_vm and data_vm (pages) as vm_stat_account keeps them:
 * is_data_mapping is VM_WRITE without VM_SHARED or VM_STACK (VM_GROWSDOWN
 * on every architecture vmlab models). Counted from the VMAs (the mapping
 * paths that call it are not per access).
 * Linux: mm/mmap.c vm_stat_account, mm/internal.h is_data_mapping
 */
function vmCounts(mm: MmStruct): { total: number; data: number } {
  let total = 0;
  let data = 0;
  for (const v of mm.vmas) {
    total += v.pages;
    if (isDataMapping(v.vmFlags)) data += v.pages;
  }
  return { total, data };
}

/** is_data_mapping: VM_WRITE without VM_SHARED or VM_STACK. Linux: mm/internal.h */
export function isDataMapping(flags: number): boolean {
  return (flags & (VmFlag.WRITE | VmFlag.SHARED | VmFlag.GROWSDOWN)) === VmFlag.WRITE;
}

/**
 * may_expand_vm: may the mm grow by `npages` pages of a VMA with `flags`?
 * No if total_vm + npages passes RLIMIT_AS; no if it is a data mapping and
 * data_vm + npages passes RLIMIT_DATA, unless RLIMIT_DATA is 0 and the
 * hard limit holds it (the Valgrind workaround) or the kernel was booted
 * with ignore_rlimit_data; either way past the soft limit the kernel
 * warns once per boot (pr_warn_once: "mmap: COMM (PID): VmData N exceed
 * data ulimit L. Update limits or use boot option ignore_rlimit_data.").
 * `dataBefore`: pages a caller's own loop has already turned into data and
 * not yet applied to the VMAs (mprotect: vm_stat_account as each VMA changes).
 * Linux 6.12: mm/mmap.c may_expand_vm (the 6.18 host refuses alike: test/differential/rlimit.test.ts)
 */
export function mayExpandVm(
  ctx: MmContext,
  mm: MmStruct,
  flags: number,
  npages: number,
  dataBefore = 0,
): boolean {
  if (!vmLimited(mm)) return true; // most processes have neither limit: nothing to count
  const cur = mm.rlim.cur;
  const counts = vmCounts(mm);
  const total = counts.total;
  const data = counts.data + dataBefore;
  if (total + npages > Math.floor(cur[Rlimit.AS] / 4096)) return false;
  if (isDataMapping(flags) && data + npages > Math.floor(cur[Rlimit.DATA] / 4096)) {
    if (cur[Rlimit.DATA] === 0 && data + npages <= Math.floor(mm.rlim.max[Rlimit.DATA] / 4096)) return true;
    const ignore = ctx.settings.ignoreRlimitData ?? false;
    ctx.settings.warnDataRlimit?.((data + npages) * 4096, cur[Rlimit.DATA], ignore);
    if (!ignore) return false;
  }
  return true;
}

/** Does RLIMIT_AS or RLIMIT_DATA limit the mm's process (may_expand_vm can refuse)? */
export function vmLimited(mm: MmStruct): boolean {
  return mm.rlim.cur[Rlimit.AS] !== RLIM_INFINITY || mm.rlim.cur[Rlimit.DATA] !== RLIM_INFINITY;
}

/**
 * mlock_future_ok: may `bytes` more of a VM_LOCKED mapping be locked?
 * Always for a VMA that is not VM_LOCKED and for a caller with
 * CAP_IPC_LOCK; else locked_vm plus the new pages must stay within
 * RLIMIT_MEMLOCK. Linux: mm/mmap.c mlock_future_ok
 */
export function mlockFutureOk(mm: MmStruct, flags: number, bytes: number, capIpcLock: boolean): boolean {
  if (!(flags & VmFlag.LOCKED) || capIpcLock) return true;
  return Math.floor(bytes / 4096) + lockedVm(mm) <= Math.floor(mm.rlim.cur[Rlimit.MEMLOCK] / 4096);
}

/** can_do_mlock: RLIMIT_MEMLOCK is not 0, or the caller has CAP_IPC_LOCK. Linux: mm/mlock.c */
export function canDoMlock(mm: MmStruct, capIpcLock: boolean): boolean {
  return mm.rlim.cur[Rlimit.MEMLOCK] !== 0 || capIpcLock;
}

/** mm->locked_vm: the pages of VM_LOCKED VMAs (mlock_fixup, mmap_region and munmap keep it so). */
export function lockedVm(mm: MmStruct): number {
  let n = mm.lockedVmStale;
  for (const v of mm.vmas) if (v.vmFlags & VmFlag.LOCKED) n += v.pages;
  return n;
}

/**
 * count_mm_mlocked_page_nr: the pages of [start, end) already in VM_LOCKED
 * VMAs, which do_mlock does not count twice against RLIMIT_MEMLOCK.
 * Linux: mm/mlock.c count_mm_mlocked_page_nr
 */
export function countMmMlockedPageNr(mm: MmStruct, start: number, end: number): number {
  let n = 0;
  for (const v of mm.vmas)
    if (v.vmFlags & VmFlag.LOCKED && v.vmEnd > start && v.vmStart < end)
      n += Math.min(v.vmEnd, end) - Math.max(v.vmStart, start);
  return n;
}

/**
 * check_data_rlimit for brk: the heap (brk - start_brk) plus the data
 * segment (vmlab's processes have no image: 0) must stay within
 * RLIMIT_DATA, else sys_brk fails silently (the old break returned).
 * Linux: include/linux/mm.h check_data_rlimit, mm/mmap.c sys_brk
 */
export function checkDataRlimit(mm: MmStruct, newBrkBytes: number): boolean {
  const rlim = mm.rlim.cur[Rlimit.DATA];
  return rlim === RLIM_INFINITY || newBrkBytes - mm.startBrk * 4096 <= rlim;
}
