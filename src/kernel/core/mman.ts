/**
 * The memory-mapping system calls (mm/mmap.c, mprotect.c, mlock.c,
 * mremap.c, msync.c): argument checks with Linux's errno, then the address
 * space's work in mm/userMm.ts. Each runs on the CPU where the task is
 * current (syscallEntry). Addresses and lengths are bytes as bigints;
 * results are 0, an address, or -errno.
 */

import { ksmSetMergeAny } from "../mm/ksm.ts";
import { mmMergeAny } from "../mm/ksm_state.ts";
import { msealRange } from "../mm/mseal.ts";
import { Errno, type MmapArgs } from "../mm/userMm.ts";
import { VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { populate } from "./gup.ts";
import { sealCheckWrite } from "./memfd.ts";
import { mmapPkey, mmPkeyIsAllocated, mprotectPkey } from "./pkeys.ts";
import { syscallEntry, userOf } from "./sched.ts";
import type { Task } from "./task.ts";

/** 2^64: where an unsigned long wraps. */
const U64 = 1n << 64n;

/** PAGE_ALIGN(len) as an unsigned long: rounded up to a page, 0 when that wraps. */
export function pageAlign64(len: bigint): bigint {
  return ((len + 4095n) & ~4095n) % U64;
}

/**
 * do_madvise's checks of the range, after the advice's (madvise_behavior_valid):
 * -EINVAL for an unaligned start, a length that rounds up to 0 (a small
 * negative one) or a range that wraps; else its pages (an empty range: start
 * = end, 0 without a look at the VMAs). A range past TASK_SIZE is the walk's
 * (a hole: -ENOMEM after the VMAs before it). The pages are those of the untagged address.
 * Linux: mm/madvise.c do_madvise
 */
export function madviseRange(
  k: KernelCore,
  addr: bigint,
  length: bigint,
): { start: number; end: number } | bigint {
  if (addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
  const len = pageAlign64(length);
  if ((length !== 0n && len === 0n) || addr + len >= U64) return BigInt(-Errno.EINVAL);
  // then, under the mmap lock, start = untagged_addr_remote(mm, start): the checks above saw the tag
  const start = untaggedAddr(k, addr);
  return { start: Number(start / 4096n), end: Number((start + len) / 4096n) };
}

/** personality(2)'s READ_IMPLIES_EXEC (include/uapi/linux/personality.h) */
export const READ_IMPLIES_EXEC = 0x0400000;

/**
 * personality(2): sets the task's persona unless it is 0xffffffff (a query)
 * and returns the old one. Linux: kernel/exec_domain.c SYSCALL_DEFINE1(personality)
 */
export function personality(task: Task, persona: number): number {
  const old = task.personality;
  if (persona !== 0xffffffff) task.personality = persona >>> 0;
  return old;
}

/** prctl(2)'s options vmlab models (include/uapi/linux/prctl.h) */
export const PR_SET_THP_DISABLE = 41;
export const PR_GET_THP_DISABLE = 42;
export const PR_SET_TAGGED_ADDR_CTRL = 55;
export const PR_GET_TAGGED_ADDR_CTRL = 56;
export const PR_SET_MEMORY_MERGE = 67;
export const PR_GET_MEMORY_MERGE = 68;
/** PR_SET_TAGGED_ADDR_CTRL's arg2 bit: the tagged address ABI on */
export const PR_TAGGED_ADDR_ENABLE = 1;

/**
 * untagged_addr(addr): the architecture's (arm64: the top byte of a TTBR0 address cleared), else
 * addr itself. Linux: include/linux/uaccess.h, arch/arm64/include/asm/memory.h
 */
export function untaggedAddr(k: KernelCore, addr: bigint): bigint {
  return k.arch.untaggedAddr === undefined ? addr : k.arch.untaggedAddr(addr);
}

/**
 * /proc/sys/abi/tagged_addr_disabled (arm64's tagged_addr_sysctl_table: proc_dointvec_minmax over
 * 0..1, registered only with CONFIG_ARM64_TAGGED_ADDR_ABI): writes `value` when given; `ret` 0, or
 * -22 (EINVAL: outside 0..1, unwritten), or -2 (ENOENT: an architecture without the file); `now`
 * the value set_tagged_addr_ctrl reads. Threads that enabled the ABI keep it.
 * Linux: arch/arm64/kernel/process.c tagged_addr_disabled, tagged_addr_init
 */
export function sysctlTaggedAddrDisabled(k: KernelCore, value?: number): { ret: number; now: number } {
  if (k.arch.untaggedAddr === undefined) return { ret: -Errno.ENOENT, now: 0 };
  const now = () => (k.userMm.settings.taggedAddrDisabled ? 1 : 0);
  if (value === undefined) return { ret: 0, now: now() };
  if (value !== 0 && value !== 1) return { ret: -Errno.EINVAL, now: now() };
  k.userMm.settings.taggedAddrDisabled = value === 1;
  return { ret: 0, now: value };
}

/**
 * prctl(2), the options vmlab models (any other: -EINVAL). PR_SET_THP_DISABLE sets (arg2 non-zero)
 * or clears MMF_DISABLE_THP of the caller's mm (under mmap_write_lock) and returns 0;
 * PR_GET_THP_DISABLE returns it, 0 or 1. arg3..arg5 (and GET's arg2) not 0: -EINVAL.
 * PR_SET_TAGGED_ADDR_CTRL and PR_GET_TAGGED_ADDR_CTRL: arm64's set_tagged_addr_ctrl (arg2 only
 * PR_TAGGED_ADDR_ENABLE or 0, no MTE: else -EINVAL; TIF_TAGGED_ADDR set or cleared, 0) and
 * get_tagged_addr_ctrl (PR_TAGGED_ADDR_ENABLE or 0); -EINVAL on an architecture without them.
 * Linux: kernel/sys.c SYSCALL_DEFINE5(prctl), arch/arm64/kernel/process.c set_tagged_addr_ctrl
 */
export function prctl(
  k: KernelCore,
  task: Task,
  option: number,
  a2: number,
  a3: number,
  a4: number,
  a5: number,
): number {
  if (option === PR_SET_TAGGED_ADDR_CTRL || option === PR_GET_TAGGED_ADDR_CTRL) {
    if (a3 || a4 || a5 || (option === PR_GET_TAGGED_ADDR_CTRL && a2)) return -Errno.EINVAL;
    // SET_TAGGED_ADDR_CTRL / GET_TAGGED_ADDR_CTRL: (-EINVAL) unless the architecture defines them
    if (k.arch.untaggedAddr === undefined) return -Errno.EINVAL;
    if (option === PR_GET_TAGGED_ADDR_CTRL) return task.taggedAddr ? PR_TAGGED_ADDR_ENABLE : 0;
    // valid_mask = PR_TAGGED_ADDR_ENABLE (system_supports_mte() is false: no PR_MTE_* bits)
    if (a2 !== 0 && a2 !== PR_TAGGED_ADDR_ENABLE) return -Errno.EINVAL;
    // "Do not allow the enabling of the tagged address ABI if globally disabled via sysctl
    // abi.tagged_addr_disabled" (disabling it is still allowed)
    if (a2 === PR_TAGGED_ADDR_ENABLE && k.userMm.settings.taggedAddrDisabled) return -Errno.EINVAL;
    task.taggedAddr = a2 === PR_TAGGED_ADDR_ENABLE; // update_ti_thread_flag(ti, TIF_TAGGED_ADDR, ...)
    return 0;
  }
  const mm = userOf(task);
  if (option === PR_SET_MEMORY_MERGE || option === PR_GET_MEMORY_MERGE) {
    // CONFIG_KSM: ksm_enable_merge_any / ksm_disable_merge_any, or MMF_VM_MERGE_ANY read (mm/ksm.ts)
    if (a3 || a4 || a5 || (option === PR_GET_MEMORY_MERGE && a2)) return -Errno.EINVAL;
    if (option === PR_GET_MEMORY_MERGE) return mmMergeAny(k.userMm.env.ksm, mm) ? 1 : 0;
    return ksmSetMergeAny(k.userMm, mm, a2 !== 0);
  }
  if (option === PR_GET_THP_DISABLE) {
    if (a2 || a3 || a4 || a5) return -Errno.EINVAL;
    return mm.disableThp ? 1 : 0;
  }
  if (option !== PR_SET_THP_DISABLE || a3 || a4 || a5) return -Errno.EINVAL;
  mm.disableThp = a2 !== 0;
  return 0;
}

/**
 * mmap; returns the address or -errno (as a bigint). The architecture's
 * sys_mmap refuses an offset off a page boundary first, for anonymous
 * memory too (arch/x86/kernel/sys_x86_64.c, arch/arm64/kernel/sys.c,
 * arch/riscv/kernel/sys_riscv.c); a hint above TASK_SIZE is only a hint
 * (the search ignores it), so the address range's checks are do_mmap's.
 */
export function mmap(k: KernelCore, task: Task, req: MmapArgs): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  if ((req.offset ?? 0) % 4096 !== 0) return BigInt(-Errno.EINVAL);
  // do_mmap: "Does the application expect PROT_READ to imply PROT_EXEC?" (no noexec mounts here)
  const rie = req.prot.r && !req.prot.x && task.personality & READ_IMPLIES_EXEC;
  const args = rie ? { ...req, prot: { ...req.prot, x: true } } : req;
  // shmem_mmap -> seal_check_write: a shared writable mapping of a write-sealed memfd
  if (args.file && args.shared && args.prot.w && sealCheckWrite(args.file) < 0) return BigInt(-Errno.EPERM);
  const pkey = mmapPkey(k, task, mm, args.prot);
  // ksys_mmap_pgoff: fget(fd), the task's struct file of the file (an implicit one if it has none)
  const vmFile = args.file && task.files !== null ? task.files.fileFor(args.file) : null;
  const a = vmFile !== null ? { ...args, vmFile } : args;
  const r = k.userMm.mmap(mm, pkey ? { ...a, pkey } : a, (vpn, write) => populate(k, task, vpn, write));
  return r < 0 ? BigInt(r) : BigInt(r) * 4096n;
}

/**
 * munmap; 0 or -errno: -EINVAL for an unaligned start, a range reaching
 * past TASK_SIZE (checked before the length is rounded up) or a length of 0.
 * The address untagged first (arm64: a top-byte tag is ignored, with or without the tagged
 * address ABI). Linux: mm/mmap.c SYSCALL_DEFINE2(munmap), mm/vma.c do_vmi_munmap
 */
export function munmap(k: KernelCore, task: Task, tagged: bigint, length: bigint): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const addr = untaggedAddr(k, tagged); // SYSCALL_DEFINE2(munmap): addr = untagged_addr(addr)
  const taskSize = k.layout.taskSize;
  if (addr % 4096n !== 0n || addr > taskSize || length > taskSize - addr || length === 0n)
    return BigInt(-Errno.EINVAL);
  return BigInt(k.userMm.munmap(mm, Number(addr / 4096n), Number((length + 4095n) / 4096n)));
}

/**
 * mprotect and pkey_mprotect (do_mprotect_pkey; `pkey` -1 for mprotect); 0
 * or -errno. pkey_mprotect refuses a key the mm has not allocated (-EINVAL)
 * once the range's own checks pass. PROT_GROWSDOWN (`prot.growsdown`) takes the
 * range down to the start of the first VMA in it, which must be VM_GROWSDOWN
 * (-EINVAL); PROT_GROWSUP needs VM_GROWSUP, which no architecture vmlab models
 * has (-EINVAL, after -ENOMEM for a range that starts in a hole); both at once
 * -EINVAL before anything. With READ_IMPLIES_EXEC in the task's personality,
 * PROT_READ adds PROT_EXEC in each VMA that may execute (rier, VM_MAYEXEC).
 * Linux 6.12: mm/mprotect.c do_mprotect_pkey
 */
export function mprotect(
  k: KernelCore,
  task: Task,
  tagged: bigint,
  length: bigint,
  prot: { r: boolean; w: boolean; x: boolean; growsdown?: boolean; growsup?: boolean },
  pkey = -1,
): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const addr = untaggedAddr(k, tagged); // do_mprotect_pkey: start = untagged_addr(start)
  if (pkey !== -1 && k.arch.pkeys === undefined) return BigInt(-Errno.ENOSYS);
  // PROT_GROWSDOWN and PROT_GROWSUP: "can't be both"
  if (prot.growsdown && prot.growsup) return BigInt(-Errno.EINVAL);
  if (addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
  if (length === 0n) return 0n;
  // end = start + PAGE_ALIGN(len), in 64 bits: -ENOMEM when it wraps (end <= start); a range past
  // TASK_SIZE is not refused here: the walk changes the VMAs before the first hole, then -ENOMEM
  const len = pageAlign64(length);
  if (len === 0n || addr + len >= U64) return BigInt(-Errno.ENOMEM);
  if (pkey !== -1 && !mmPkeyIsAllocated(k, mm, pkey)) return BigInt(-Errno.EINVAL);
  let start = Number(addr / 4096n);
  const end = Number((addr + len) / 4096n);
  if (prot.growsdown || prot.growsup) {
    // vma_find(&vmi, end): the first VMA in [start, end); none: -ENOMEM
    const vma = mm.vmas.find((v) => v.vmEnd > start && v.vmStart < end);
    if (vma === undefined) return BigInt(-Errno.ENOMEM);
    if (prot.growsdown) {
      // the range reaches down to the VMA's start, which must grow down
      if (!(vma.vmFlags & VmFlag.GROWSDOWN)) return BigInt(-Errno.EINVAL);
      start = vma.vmStart;
    } else {
      // up to its end: VM_GROWSUP is VM_NONE outside parisc (and ia64), so always -EINVAL here
      if (vma.vmStart > start) return BigInt(-Errno.ENOMEM);
      return BigInt(-Errno.EINVAL);
    }
  }
  const rwx = { r: prot.r, w: prot.w, x: prot.x };
  return BigInt(
    k.userMm.mprotect(
      mm,
      start,
      end - start,
      rwx,
      (vpn, write) => populate(k, task, vpn, write),
      mprotectPkey(k, task, mm, rwx, pkey),
      task.uid === 0,
      prot.r && (task.personality & READ_IMPLIES_EXEC) !== 0, // rier
    ),
  );
}

/** msync's flags (include/uapi/asm-generic/mman-common.h; x86, arm64 and RISC-V use these). */
export const Ms = {
  /** schedule the writeback (a no-op since Linux 2.6.19: the dirty pages are tracked anyway) */
  ASYNC: 1,
  /** invalidate other mappings of the file (nothing to do for a coherent page cache); -EBUSY on VM_LOCKED */
  INVALIDATE: 2,
  /** write the range's dirty pages of shared file mappings back and wait (vfs_fsync_range) */
  SYNC: 4,
} as const;

/**
 * msync(addr, length, flags): 0 or -errno. -EINVAL for an unknown flag, an
 * unaligned start, or MS_ASYNC with MS_SYNC; -ENOMEM for a range that
 * wraps; 0 for an empty one. Then the VMAs in address order: a hole is
 * -ENOMEM, at once for MS_ASYNC alone, else at the end; MS_INVALIDATE on
 * a VM_LOCKED VMA is -EBUSY (the VMAs before it synced); MS_SYNC writes
 * back the shared disk-file mappings' dirty pages in the range.
 * Linux: mm/msync.c SYSCALL_DEFINE3(msync)
 */
export function msync(
  k: KernelCore,
  task: Task,
  tagged: bigint,
  length: bigint,
  flags: number = Ms.SYNC,
): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const addr = untaggedAddr(k, tagged); // start = untagged_addr(start)
  if (flags & ~(Ms.ASYNC | Ms.INVALIDATE | Ms.SYNC) || addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
  if (flags & Ms.ASYNC && flags & Ms.SYNC) return BigInt(-Errno.EINVAL);
  const len = pageAlign64(length);
  if (addr + len >= U64) return BigInt(-Errno.ENOMEM);
  if (len === 0n) return 0n;
  const start = Number(addr / 4096n);
  const end = Number((addr + len) / 4096n);
  // the walk: find_vma from start; `stop` where it ends early, `error` then
  let hole = false;
  let at = start;
  let stop = end;
  let error = 0;
  for (const v of mm.vmas) {
    if (v.vmEnd <= at) continue;
    if (v.vmStart >= end) break;
    if (at < v.vmStart) {
      if (flags === Ms.ASYNC) return BigInt(-Errno.ENOMEM); // "if (flags == MS_ASYNC) goto out_unlock"
      hole = true;
    }
    if (flags & Ms.INVALIDATE && v.vmFlags & VmFlag.LOCKED) {
      stop = Math.max(at, v.vmStart);
      error = -Errno.EBUSY;
      break;
    }
    at = v.vmEnd;
  }
  if (error === 0 && at < end) {
    // no VMA (left) at or after the range's next page: find_vma's NULL, -ENOMEM
    if (flags === Ms.ASYNC) return BigInt(-Errno.ENOMEM);
    hole = true;
  }
  if (flags & Ms.SYNC && stop > start) k.userMm.msync(mm, start, stop);
  return BigInt(error !== 0 ? error : hole ? -Errno.ENOMEM : 0);
}

/**
 * The pages of mlock's and munlock's range: the start rounded down to a
 * page, the length up with its offset (PAGE_ALIGN(len + offset_in_page(start))).
 * The end may pass 2^64 (apply_vma_lock_flags's end < start: -EINVAL,
 * after do_mlock's RLIMIT_MEMLOCK check) or TASK_SIZE (a hole: -ENOMEM,
 * the VMAs before it changed).
 * Linux: mm/mlock.c do_mlock, SYSCALL_DEFINE2(munlock)
 */
function lockRange(k: KernelCore, tagged: bigint, length: bigint): { start: number; end: number } {
  const addr = untaggedAddr(k, tagged); // do_mlock, munlock: start = untagged_addr(start)
  const off = addr % 4096n;
  const start = addr - off;
  const len = pageAlign64(length + off);
  return { start: Number(start / 4096n), end: Number((start + len) / 4096n) };
}

/**
 * mlock / mlock2(MLOCK_ONFAULT): VM_LOCKED over the range, populated unless on fault;
 * RLIMIT_MEMLOCK applies unless the task has CAP_IPC_LOCK (uid 0).
 */
export function mlock(k: KernelCore, task: Task, addr: bigint, length: bigint, onFault: boolean): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const r = lockRange(k, addr, length);
  const fault = (vpn: number, write: boolean) => populate(k, task, vpn, write);
  return BigInt(k.userMm.mlock(mm, r.start, r.end, onFault, fault, task.uid === 0));
}

/** munlock: clears VM_LOCKED over the range. */
export function munlock(k: KernelCore, task: Task, addr: bigint, length: bigint): bigint {
  const mm = userOf(task);
  const r = lockRange(k, addr, length);
  return BigInt(k.userMm.munlock(mm, r.start, r.end));
}

/**
 * mlockall(flags) (MCL_CURRENT 1, MCL_FUTURE 2, MCL_ONFAULT 4): 0 or -errno
 * (EINVAL, EPERM, ENOMEM); RLIMIT_MEMLOCK applies unless the task has
 * CAP_IPC_LOCK (uid 0). Linux: mm/mlock.c sys_mlockall
 */
export function mlockall(k: KernelCore, task: Task, flags: number): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const fault = (vpn: number, write: boolean) => populate(k, task, vpn, write);
  return BigInt(k.userMm.mlockall(mm, flags, fault, task.uid === 0));
}

/** munlockall: every VMA unlocked, new mappings no longer locked. Linux: mm/mlock.c sys_munlockall */
export function munlockall(k: KernelCore, task: Task): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  return BigInt(k.userMm.munlockall(mm));
}

/**
 * brk (mm/mmap.c sys_brk), as sbrk: moves the break by delta bytes and
 * returns the old break, or -ENOMEM when the break did not move (below
 * start_brk, into another mapping or its guard gap, past RLIMIT_DATA or
 * RLIMIT_AS; sys_brk returns the old break, which glibc's sbrk reports as
 * ENOMEM for a growth, not for a shrink). The heap VMA, [heap], covers
 * [start_brk, PAGE_ALIGN(brk)).
 */
export function brk(k: KernelCore, task: Task, delta: bigint): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const oldBrk = BigInt(mm.brkBytes);
  if (delta === 0n) return oldBrk; // sbrk(0) reads the break (sys_brk would fail it past RLIMIT_DATA)
  const newBrk = oldBrk + delta;
  if (newBrk < 0n || newBrk >= k.layout.userEnd) return BigInt(-Errno.ENOMEM);
  const fault = (vpn: number, write: boolean) => populate(k, task, vpn, write);
  const taskExec = (task.personality & READ_IMPLIES_EXEC) !== 0; // VM_DATA_FLAGS_TSK_EXEC's TASK_EXEC
  const r = k.userMm.brk(mm, Number(newBrk), task.uid === 0, fault, taskExec);
  return r < 0 ? BigInt(r) : oldBrk;
}

/**
 * mremap (`to` >= 0: MREMAP_FIXED; `dontUnmap`: MREMAP_DONTUNMAP); returns the new address or -errno. The
 * flags' and the start's checks (-EINVAL), the lengths rounded up (a new
 * length of 0: -EINVAL), then the VMA at the start (-EFAULT: vma_lookup)
 * before MREMAP_FIXED's target (mremap_to: unaligned, past TASK_SIZE or
 * overlapping the old range: -EINVAL); the rest is mm/mremap.ts's.
 * Linux 6.12: mm/mremap.c SYSCALL_DEFINE5(mremap), mremap_to (the host's
 * 6.18 checks the target before the lookup)
 */
export function mremap(
  k: KernelCore,
  task: Task,
  tagged: bigint,
  oldSize: bigint,
  newSize: bigint,
  mayMove: boolean,
  to: bigint,
  dontUnmap = false,
): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  // "we strip the pointer tag from the old address but leave the new address alone": a tagged
  // new_address fails mremap_to's range check (-EINVAL)
  const addr = untaggedAddr(k, tagged);
  if ((to >= 0n && !mayMove) || addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
  // "MREMAP_DONTUNMAP is always a move and it does not allow resizing": the lengths as given
  if (dontUnmap && (!mayMove || oldSize !== newSize)) return BigInt(-Errno.EINVAL);
  const oldLen = pageAlign64(oldSize);
  const newLen = pageAlign64(newSize);
  if (newLen === 0n) return BigInt(-Errno.EINVAL);
  if (addr >= k.layout.userEnd || mm.vmaAt(Number(addr / 4096n)) === null) return BigInt(-Errno.EFAULT);
  // "Don't allow remapping vmas when they have already been sealed" (can_modify_vma)
  if (mm.vmaAt(Number(addr / 4096n))!.sealed) return BigInt(-Errno.EPERM);
  const oldPages = Number(oldLen / 4096n);
  const newPages = Number(newLen / 4096n);
  if (to >= 0n || dontUnmap) {
    // mremap_to's checks of new_addr: MREMAP_DONTUNMAP without MREMAP_FIXED passes 0, a hint
    const at = to >= 0n ? to : 0n;
    const taskSize = k.layout.taskSize;
    if (at % 4096n !== 0n || newLen > taskSize || at > taskSize - newLen) return BigInt(-Errno.EINVAL);
    if (addr + oldLen > at && at + newLen > addr) return BigInt(-Errno.EINVAL); // overlapping ranges
  }
  const r = k.userMm.mremap(
    mm,
    Number(addr / 4096n),
    oldPages,
    newPages,
    mayMove,
    to >= 0n ? Number(to / 4096n) : -1,
    (vpn, write) => populate(k, task, vpn, write),
    task.uid === 0,
    dontUnmap,
  );
  return r < 0 ? BigInt(r) : BigInt(r) * 4096n;
}

/**
 * mseal(addr, len, flags): 0 or -errno. can_do_mseal first: -EPERM on a 32-bit kernel (no
 * CONFIG_64BIT: no VM_SEALED), -EINVAL for any flag; then -EINVAL for an unaligned start, a
 * length that rounds up to 0 (a small negative one) or a range that wraps; an empty range is 0;
 * the rest (a hole: -ENOMEM, nothing sealed) is mm/mseal.ts's. A range past TASK_SIZE is a hole.
 * Linux 6.12: mm/mseal.c do_mseal, mm/internal.h can_do_mseal
 */
export function mseal(k: KernelCore, task: Task, tagged: bigint, length: bigint, flags: bigint): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  if (k.layout.taskSize <= 1n << 32n) return BigInt(-Errno.EPERM);
  if (flags !== 0n) return BigInt(-Errno.EINVAL);
  const addr = untaggedAddr(k, tagged); // do_mseal: start = untagged_addr(start)
  if (addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
  const len = pageAlign64(length);
  if ((length !== 0n && len === 0n) || addr + len >= U64) return BigInt(-Errno.EINVAL);
  if (len === 0n) return 0n;
  const start = Number(addr / 4096n);
  const end = Number((addr + len) / 4096n);
  return BigInt(msealRange(k.userMm, mm, start, Math.min(end, 2 ** 52)));
}
