/**
 * The memory-mapping system calls (mm/mmap.c, mprotect.c, mlock.c,
 * mremap.c, msync.c): argument checks with Linux's errno, then the address
 * space's work in mm/userMm.ts. Each runs on the CPU where the task is
 * current (syscallEntry). Addresses and lengths are bytes as bigints;
 * results are 0, an address, or -errno.
 */

import { Errno, type MmapArgs } from "../mm/userMm.ts";
import type { KernelCore } from "./core.ts";
import { populate } from "./gup.ts";
import { sealCheckWrite } from "./memfd.ts";
import { mmapPkey, mmPkeyIsAllocated, mprotectPkey } from "./pkeys.ts";
import { syscallEntry, userOf } from "./sched.ts";
import type { Task } from "./task.ts";

/** The page range of a system call's (addr, length), or an errno: EINVAL when addr is not page-aligned. */
export function pageRange(
  k: KernelCore,
  addr: bigint,
  length: bigint,
  alignAddr = true,
): { start: number; end: number } | bigint {
  if (alignAddr && addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
  const first = addr / 4096n;
  const last = (addr + length + 4095n) / 4096n;
  if (addr + length > k.layout.userEnd) return BigInt(-Errno.ENOMEM);
  return { start: Number(first), end: Number(last) };
}

/** mmap; returns the address or -errno (as a bigint). */
export function mmap(k: KernelCore, task: Task, args: MmapArgs): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  if (args.addr >= 0 && args.addr > k.va.vpn(k.layout.userEnd) * 4096) return BigInt(-Errno.ENOMEM);
  if ((args.file || args.device) && (args.offset ?? 0) % 4096 !== 0) return BigInt(-Errno.EINVAL);
  // shmem_mmap -> seal_check_write: a shared writable mapping of a write-sealed memfd
  if (args.file && args.shared && args.prot.w && sealCheckWrite(args.file) < 0) return BigInt(-Errno.EPERM);
  const pkey = mmapPkey(k, task, mm, args.prot);
  // ksys_mmap_pgoff: fget(fd), the task's struct file of the file (an implicit one if it has none)
  const vmFile = args.file && task.files !== null ? task.files.fileFor(args.file) : null;
  const a = vmFile !== null ? { ...args, vmFile } : args;
  const r = k.userMm.mmap(mm, pkey ? { ...a, pkey } : a, (vpn, write) => populate(k, task, vpn, write));
  return r < 0 ? BigInt(r) : BigInt(r) * 4096n;
}

/** munmap; 0 or -errno. */
export function munmap(k: KernelCore, task: Task, addr: bigint, length: bigint): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  if (addr % 4096n !== 0n || length === 0n) return BigInt(-Errno.EINVAL);
  const end = addr + length;
  if (end > k.layout.userEnd || end < addr) return BigInt(-Errno.EINVAL);
  return BigInt(k.userMm.munmap(mm, Number(addr / 4096n), Number((length + 4095n) / 4096n)));
}

/**
 * mprotect and pkey_mprotect (do_mprotect_pkey; `pkey` -1 for mprotect); 0
 * or -errno. pkey_mprotect refuses a key the mm has not allocated (-EINVAL)
 * once the range's own checks pass.
 */
export function mprotect(
  k: KernelCore,
  task: Task,
  addr: bigint,
  length: bigint,
  prot: { r: boolean; w: boolean; x: boolean },
  pkey = -1,
): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  if (pkey !== -1 && k.arch.pkeys === undefined) return BigInt(-Errno.ENOSYS);
  if (addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
  if (length === 0n) return 0n;
  const end = addr + length;
  if (end > k.layout.userEnd || end < addr) return BigInt(-Errno.ENOMEM);
  if (pkey !== -1 && !mmPkeyIsAllocated(k, mm, pkey)) return BigInt(-Errno.EINVAL);
  return BigInt(
    k.userMm.mprotect(
      mm,
      Number(addr / 4096n),
      Number((length + 4095n) / 4096n),
      prot,
      (vpn, write) => populate(k, task, vpn, write),
      mprotectPkey(k, task, mm, prot, pkey),
      task.uid === 0,
    ),
  );
}

/** msync(MS_SYNC); 0 or -errno (EINVAL misaligned, ENOMEM when the range has a hole). */
export function msync(k: KernelCore, task: Task, addr: bigint, length: bigint): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const r = pageRange(k, addr, length);
  if (typeof r === "bigint") return r;
  k.userMm.msync(mm, r.start, r.end);
  return k.userMm.isMapped(mm, r.start, r.end) ? 0n : BigInt(-Errno.ENOMEM);
}

/**
 * mlock / mlock2(MLOCK_ONFAULT): VM_LOCKED over the range, populated unless on fault;
 * RLIMIT_MEMLOCK applies unless the task has CAP_IPC_LOCK (uid 0).
 */
export function mlock(k: KernelCore, task: Task, addr: bigint, length: bigint, onFault: boolean): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const r = pageRange(k, addr - (addr % 4096n), length + (addr % 4096n));
  if (typeof r === "bigint") return r;
  const fault = (vpn: number, write: boolean) => populate(k, task, vpn, write);
  return BigInt(k.userMm.mlock(mm, r.start, r.end, onFault, fault, task.uid === 0));
}

/** munlock: clears VM_LOCKED over the range. */
export function munlock(k: KernelCore, task: Task, addr: bigint, length: bigint): bigint {
  const mm = userOf(task);
  const r = pageRange(k, addr - (addr % 4096n), length + (addr % 4096n));
  if (typeof r === "bigint") return r;
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
  const r = k.userMm.brk(mm, Number(newBrk), task.uid === 0, fault);
  return r < 0 ? BigInt(r) : oldBrk;
}

/** mremap; returns the new address or -errno. */
export function mremap(
  k: KernelCore,
  task: Task,
  addr: bigint,
  oldSize: bigint,
  newSize: bigint,
  mayMove: boolean,
  to: bigint,
): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  if (addr % 4096n !== 0n || newSize === 0n || (to >= 0n && (to % 4096n !== 0n || !mayMove)))
    return BigInt(-Errno.EINVAL);
  const oldPages = Number((oldSize + 4095n) / 4096n);
  const newPages = Number((newSize + 4095n) / 4096n);
  if (addr + oldSize > k.layout.userEnd || (to >= 0n && to + newSize > k.layout.userEnd))
    return BigInt(-Errno.EINVAL);
  if (to >= 0n) {
    const a = Number(addr / 4096n);
    const t = Number(to / 4096n);
    if (t < a + oldPages && a < t + newPages) return BigInt(-Errno.EINVAL); // overlapping ranges
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
  );
  return r < 0 ? BigInt(r) : BigInt(r) * 4096n;
}
