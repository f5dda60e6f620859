/**
 * lock_mm_and_find_vma (mm/memory.c, Linux 6.5 and later): the VMA a user
 * fault at `vpn` belongs to, growing a VM_GROWSDOWN stack down to it when
 * the address is below the stack (expand_stack: within RLIMIT_STACK, and
 * not into stack_guard_gap above the VMA below). Every architecture's
 * fault handler calls it before its access checks.
 */
import type { MmStruct } from "../mm/MmStruct.ts";
import { type Vma, VmFlag } from "../mm/vma.ts";
import type { Task } from "./task.ts";

/** The VMA for a fault at `vpn` (a stack grown down to it), or null: bad_area, SEGV_MAPERR. */
export function lockMmAndFindVma(mm: MmStruct, task: Task, vpn: number): Vma | null {
  const vma = mm.findVma(vpn);
  if (vma === null) return null;
  if (vma.vmStart <= vpn) return vma;
  if (!(vma.vmFlags & VmFlag.GROWSDOWN)) return null;
  // expand_stack: within RLIMIT_STACK, and not into the guard gap above the previous VMA
  const i = mm.indexOf(vma);
  const prev = i > 0 ? mm.vmas[i - 1] : null;
  const limitPages = Math.floor(task.rlimitStack / 4096);
  // expand_downwards: the gap to an accessible, non-growsdown mapping below stays >= stack_guard_gap
  const guarded =
    prev !== null &&
    !(prev.vmFlags & VmFlag.GROWSDOWN) &&
    (prev.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC)) !== 0;
  if (
    vma.vmEnd - vpn > limitPages ||
    (guarded && prev.vmEnd + 256 > vpn) ||
    (prev !== null && prev.vmEnd > vpn)
  )
    return null;
  vma.vmStart = vpn;
  vma.vmPgoff = vpn;
  return vma;
}
