/**
 * lock_mm_and_find_vma (mm/memory.c, Linux 6.5 and later): the VMA a user
 * fault at `vpn` belongs to, growing a VM_GROWSDOWN stack down to it when
 * the address is below the stack (expand_stack: within RLIMIT_STACK, and
 * not into stack_guard_gap above the VMA below; acct_stack_growth's
 * RLIMIT_AS and RLIMIT_MEMLOCK tests, the growth charged to
 * vm_committed_as). Every architecture's
 * fault handler calls it before its access checks.
 */
import { ModelBug } from "../../base/assert.ts";
import type { MmContext } from "../mm/internal.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { mayExpandVm, mlockFutureOk } from "../mm/rlimit.ts";
import { vmEnoughMemory } from "../mm/util.ts";
import { type Vma, VmFlag } from "../mm/vma.ts";
import type { Task } from "./task.ts";

/** The cache's switch (tests: off on the twin that searches every time) and, under vitest, its hits. */
export const vmaCache = { on: true, hits: 0 };

/** Under the tests (vitest sets VITEST), every VMA the one-entry cache gives is checked against find_vma. */
const VERIFY_VMA_CACHE =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.VITEST !==
  undefined;

/**
 * The VMA for a fault at `vpn` (a stack grown down to it), or null: bad_area, SEGV_MAPERR.
 * The VMA of the mm's last fault is tried first (mm.faultVmaIndex): when the VMA at that index
 * contains vpn it is find_vma's answer (the VMAs are sorted and never overlap, so every VMA
 * before it ends at or below its start), without the search. Linux 6.12: lock_mm_and_find_vma
 * (mm/memory.c) after lock_vma_under_rcu (both search the maple tree); the cache is a host
 * shortcut in the manner of the per-thread vmacache Linux had until 6.1 (mm/vmacache.c).
 */
export function lockMmAndFindVma(ctx: MmContext, mm: MmStruct, task: Task, vpn: number): Vma | null {
  const vmas = mm.vmas;
  const c = mm.faultVmaIndex;
  if (c < vmas.length && vmaCache.on) {
    const v = vmas[c];
    if (v.vmStart <= vpn && vpn < v.vmEnd) {
      if (VERIFY_VMA_CACHE) {
        vmaCache.hits++;
        if (mm.findVma(vpn) !== v)
          throw new ModelBug(`lockMmAndFindVma: cached VMA ${c} is not find_vma's for vpn ${vpn}`);
      }
      return v;
    }
  }
  const i = mm.findVmaIndex(vpn);
  if (i >= vmas.length) return null;
  const vma = vmas[i];
  if (vma.vmStart <= vpn) {
    mm.faultVmaIndex = i;
    return vma;
  }
  if (!(vma.vmFlags & VmFlag.GROWSDOWN)) return null;
  // expand_stack: within RLIMIT_STACK, and not into the guard gap above the previous VMA
  const prev = i > 0 ? vmas[i - 1] : null;
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
  // acct_stack_growth: may_expand_vm (RLIMIT_AS; a stack is no data mapping) and, for a
  // VM_LOCKED stack, mlock_future_ok (RLIMIT_MEMLOCK) before its last test:
  // security_vm_enough_memory_mm charges the growth; any failure is -ENOMEM
  // (lock_mm_and_find_vma then fails: bad_area, SEGV_MAPERR)
  const grow = vma.vmStart - vpn;
  if (!mayExpandVm(ctx, mm, vma.vmFlags, grow)) return null;
  if (!mlockFutureOk(mm, vma.vmFlags, grow * 4096, task.uid === 0)) return null;
  if (!vmEnoughMemory(ctx, mm, grow, task.uid === 0)) return null;
  mm.committed += grow;
  vma.vmStart = vpn;
  vma.vmPgoff = vpn;
  return vma;
}
