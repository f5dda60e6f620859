/**
 * Memory protection keys, the kernel's side: the keys an mm has allocated
 * (mm->context.pkey_allocation_map, the execute-only key), the system calls
 * pkey_alloc, pkey_free and pkey_mprotect, the key a VMA gets from
 * mprotect, and each thread's copy of the rights register (x86 PKRU: saved
 * at a switch away, loaded at a switch in, inherited by fork and clone).
 * The register itself is the architecture's (core.ts ArchPkeys).
 *
 * Linux: mm/mprotect.c (sys_pkey_alloc, sys_pkey_free, do_mprotect_pkey),
 * arch/x86/include/asm/pkeys.h (mm_pkey_alloc, mm_pkey_free,
 * mm_pkey_is_allocated), arch/x86/mm/pkeys.c (__execute_only_pkey,
 * __arch_override_mprotect_pkey), arch/x86/include/asm/mmu_context.h
 * (init_new_context, arch_dup_pkeys), arch/x86/kernel/process.c
 * (copy_thread), process_64.c (x86_pkru_load).
 */
import type { MmStruct } from "../mm/MmStruct.ts";
import { Errno } from "../mm/userMm.ts";
import { type Vma, VmFlag, vmaPkey } from "../mm/vma.ts";
import type { ArchPkeys, KernelCore } from "./core.ts";
import type { Task } from "./task.ts";

/** include/uapi/asm-generic/mman-common.h: pkey_alloc's access rights */
export const PKEY_DISABLE_ACCESS = 0x1;
export const PKEY_DISABLE_WRITE = 0x2;
const PKEY_ACCESS_MASK = PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE;
/** ARCH_DEFAULT_PKEY: the key every mapping has until pkey_mprotect gives it another */
const ARCH_DEFAULT_PKEY = 0;

/** The architecture's keys, or null where vmlab models none (its pkey_* calls are -ENOSYS). */
function pkeysOf(k: KernelCore): ArchPkeys | null {
  return k.arch.pkeys ?? null;
}

/**
 * read_pkru for a task: the CPU's register while the task runs there, else
 * the copy saved when it was switched out (thread.pkru).
 */
export function taskPkru(k: KernelCore, task: Task): number {
  const p = pkeysOf(k);
  if (p === null || !p.enabled) return 0;
  const cpu = k.current.indexOf(task); // sched.ts cpuOf
  return cpu >= 0 ? p.read(k.machine.cpus[cpu]) : task.pkru;
}

/** write_pkru for a task: its CPU's register while it runs, else its saved copy. */
function setTaskPkru(k: KernelCore, task: Task, value: number): void {
  const p = pkeysOf(k)!;
  const cpu = k.current.indexOf(task); // sched.ts cpuOf
  if (cpu >= 0) p.write(k.machine.cpus[cpu], value >>> 0);
  else task.pkru = value >>> 0;
}

/**
 * x86_pkru_load at a context switch on `cpuId` (__switch_to): the register
 * is stashed in the outgoing task (`prev`, null for the idle task, whose
 * value is init_pkru_value) and the incoming task's copy loaded.
 */
export function pkruSwitch(k: KernelCore, cpuId: number, prev: Task | null, next: Task | null): void {
  const p = pkeysOf(k);
  if (p === null || !p.enabled) return;
  const cpu = k.machine.cpus[cpuId];
  if (prev !== null) prev.pkru = p.read(cpu);
  p.write(cpu, next === null ? p.initValue : next.pkru);
}

/**
 * A new task's thread.pkru: a kernel thread and an exec'd process start
 * from init_pkru_value (copy_thread for PF_KTHREAD; flush_thread's
 * pkru_write_default at exec); a forked or cloned child copies its
 * parent's live register (copy_thread: read_pkru()).
 */
export function initTaskPkru(k: KernelCore, task: Task, parent: Task | null): void {
  const p = pkeysOf(k);
  if (p === null || !p.enabled) return;
  task.pkru = parent === null ? p.initValue : taskPkru(k, parent);
}

/**
 * A new mm's keys. An exec'd one (mm_alloc: zeroed) gets init_new_context's
 * key 0 and no execute-only key (-1) where the CPU has keys, and stays
 * zeroed where it has none. A forked one (`old`) has its parent's: dup_mm
 * copies the whole mm_struct, and arch_dup_pkeys copies the two fields
 * again after init_new_context, so even without keys the child inherits
 * what failed pkey_alloc calls left in the parent's map.
 */
export function initMmPkeys(k: KernelCore, mm: MmStruct, old: MmStruct | null): void {
  if (old !== null) {
    mm.pkeyAllocationMap = old.pkeyAllocationMap;
    mm.executeOnlyPkey = old.executeOnlyPkey;
  } else if (pkeysOf(k)?.enabled) {
    mm.pkeyAllocationMap = 0x1;
    mm.executeOnlyPkey = -1;
  }
}

/** mm_pkey_alloc: the lowest free key (ffz), or -1 when every key the CPU has is taken. */
function mmPkeyAlloc(p: ArchPkeys, mm: MmStruct): number {
  const all = (1 << p.maxPkey) - 1;
  if (mm.pkeyAllocationMap === all) return -1;
  let key = 0;
  while (mm.pkeyAllocationMap & (1 << key)) key++;
  mm.pkeyAllocationMap |= 1 << key;
  return key;
}

/**
 * mm_pkey_is_allocated: a key pkey_alloc returned (or key 0, allocated
 * with the mm); never the execute-only key, which no system call may name.
 */
export function mmPkeyIsAllocated(k: KernelCore, mm: MmStruct, pkey: number): boolean {
  const p = pkeysOf(k);
  if (p === null || pkey < 0 || pkey >= p.maxPkey) return false;
  if (pkey === mm.executeOnlyPkey) return false;
  return (mm.pkeyAllocationMap & (1 << pkey)) !== 0;
}

/**
 * sys_pkey_alloc(flags, init_val): -EINVAL for flags other than 0 or rights
 * beyond PKEY_DISABLE_ACCESS|PKEY_DISABLE_WRITE; the lowest free key, or
 * -ENOSPC; then arch_set_user_pkey_access sets the key's rights in the
 * caller's register. Where the CPU has no keys that fails (-EINVAL) and
 * mm_pkey_free is meant to undo the allocation, but the key found is 0,
 * which a zeroed mm's execute_only_pkey (0) makes "not allocated": it is
 * not freed, and every later call is -ENOSPC (arch_max_pkey() is 1).
 * Measured on this machine's Linux 6.18 without PKU
 * (test/differential/pkeys.test.ts).
 */
export function pkeyAlloc(k: KernelCore, task: Task, mm: MmStruct, flags: number, initVal: number): number {
  const p = pkeysOf(k);
  if (p === null) return -Errno.ENOSYS;
  if (flags !== 0) return -Errno.EINVAL;
  if (initVal & ~PKEY_ACCESS_MASK) return -Errno.EINVAL;
  const pkey = mmPkeyAlloc(p, mm);
  if (pkey === -1) return -Errno.ENOSPC;
  if (!p.enabled) {
    mmPkeyFree(k, mm, pkey); // arch_set_user_pkey_access failed
    return -Errno.EINVAL;
  }
  setTaskPkru(k, task, p.withRights(taskPkru(k, task), pkey, initVal));
  return pkey;
}

/** mm_pkey_free: -EINVAL for a key not allocated (mm_pkey_is_allocated), else 0. VMAs keep the key they have. */
function mmPkeyFree(k: KernelCore, mm: MmStruct, pkey: number): number {
  if (!mmPkeyIsAllocated(k, mm, pkey)) return -Errno.EINVAL;
  mm.pkeyAllocationMap &= ~(1 << pkey);
  return 0;
}

/** sys_pkey_free. */
export function pkeyFree(k: KernelCore, mm: MmStruct, pkey: number): number {
  if (pkeysOf(k) === null) return -Errno.ENOSYS;
  return mmPkeyFree(k, mm, pkey);
}

/**
 * execute_only_pkey (__execute_only_pkey): the mm's key for PROT_EXEC-only
 * mappings, allocated at first use, with the caller's register denying
 * data access through it (arch_set_user_pkey_access(PKEY_DISABLE_ACCESS));
 * -1 when no key is free. Without keys: ARCH_DEFAULT_PKEY.
 */
function executeOnlyPkey(k: KernelCore, task: Task, mm: MmStruct): number {
  const p = pkeysOf(k)!;
  if (!p.enabled) return ARCH_DEFAULT_PKEY;
  let key = mm.executeOnlyPkey;
  const fresh = key === -1;
  if (fresh) {
    key = mmPkeyAlloc(p, mm);
    if (key < 0) return -1;
  }
  // "assume that if the execute-only pkey is write-disabled that we do not have to set it ourselves"
  if (!fresh && !p.allows(taskPkru(k, task), key, false)) return key;
  setTaskPkru(k, task, p.withRights(taskPkru(k, task), key, PKEY_DISABLE_ACCESS));
  if (fresh) mm.executeOnlyPkey = key;
  return key;
}

/**
 * do_mmap's key: for PROT_EXEC alone the execute-only key (0 when none is
 * free: "if (pkey < 0) pkey = 0"), else 0.
 */
export function mmapPkey(
  k: KernelCore,
  task: Task,
  mm: MmStruct,
  prot: { r: boolean; w: boolean; x: boolean },
): number {
  if (pkeysOf(k) === null || !prot.x || prot.r || prot.w) return 0;
  return Math.max(0, executeOnlyPkey(k, task, mm));
}

/**
 * arch_override_mprotect_pkey, for each VMA do_mprotect_pkey changes: the
 * key pkey_mprotect names (`pkey` >= 0); for a plain mprotect (`pkey` -1)
 * to PROT_EXEC alone the execute-only key, away from PROT_EXEC alone on
 * the execute-only key the default key, else the VMA's own. Without keys:
 * 0 (every VMA keeps key 0).
 */
export function mprotectPkey(
  k: KernelCore,
  task: Task,
  mm: MmStruct,
  prot: { r: boolean; w: boolean; x: boolean },
  pkey: number,
): ((vma: Vma) => number) | undefined {
  const p = pkeysOf(k);
  if (p === null) return undefined;
  return (vma) => {
    if (!p.enabled) return 0;
    if (pkey !== -1) return pkey;
    if (prot.x && !prot.r && !prot.w) {
      const key = executeOnlyPkey(k, task, mm);
      if (key > 0) return key;
    } else if (
      (vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC)) === VmFlag.EXEC &&
      vmaPkey(vma.vmFlags) === mm.executeOnlyPkey
    )
      return ARCH_DEFAULT_PKEY; // vma_is_pkey_exec_only: no longer PROT_EXEC alone
    return vmaPkey(vma.vmFlags);
  };
}

/**
 * arch_vma_access_permitted for the task's own mm (foreign = false): may a
 * data read (write) use the VMA's pages under the task's register?
 * get_user_pages checks it per VMA (check_vma_flags), so MAP_POPULATE,
 * mlock and MADV_POPULATE_* fail with -EFAULT where the key is denied.
 */
export function pkeyAccessPermitted(k: KernelCore, task: Task, vmFlags: number, write: boolean): boolean {
  const p = pkeysOf(k);
  if (p === null || !p.enabled) return true;
  return p.allows(taskPkru(k, task), vmaPkey(vmFlags), write);
}

/**
 * WRPKRU in user mode by `task` (current on its CPU): the register gets
 * `value`. Without CR4.PKE the instruction is #UD: SIGILL, ILL_ILLOPN
 * (SDM Vol. 2 WRPKRU, "#UD If CR4.PKE = 0"). Returns whether it ran.
 */
export function wrpkru(k: KernelCore, task: Task, value: number): boolean {
  const p = pkeysOf(k);
  if (p === null || !p.enabled) return false;
  setTaskPkru(k, task, value);
  return true;
}
