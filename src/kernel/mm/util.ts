/**
 * Overcommit accounting: vm_commit_limit, __vm_enough_memory and the
 * vm.overcommit_* and *_reserve_kbytes sysctls. Linux: mm/util.c
 * (vm_commit_limit, __vm_enough_memory, overcommit_ratio_handler,
 * overcommit_kbytes_handler, init_user_reserve, init_admin_reserve);
 * the callers charge vm_committed_as (mm.committed, shmemCommitted).
 */
import type { MmContext, MmSettings } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";

/**
 * vm_commit_limit, in pages: overcommit_kbytes when set, else RAM less the
 * HugeTLB pool times overcommit_ratio / 100; plus swap: /proc/meminfo's
 * CommitLimit.
 * Linux: mm/util.c vm_commit_limit (hugetlb_total_pages: every hstate's pool)
 */
export function vmCommitLimit(ctx: MmContext): number {
  const s = ctx.settings;
  let pool = 0;
  for (const h of ctx.hstates ?? []) pool += h.nrHugePages * h.nrPages;
  const ram =
    s.overcommitKbytes !== 0
      ? Math.floor(s.overcommitKbytes / 4)
      : Math.floor(((s.totalRamPages() - pool) * s.overcommitRatio) / 100);
  return ram + s.totalSwapPages();
}

/**
 * __vm_enough_memory (security_vm_enough_memory_mm): may `pages` more be
 * committed by `mm` (null: no mm, as shmem setup without one)?
 * OVERCOMMIT_ALWAYS: yes; OVERCOMMIT_GUESS: no single request above RAM +
 * swap; OVERCOMMIT_NEVER: CommitLimit less admin_reserve_kbytes for a caller
 * without CAP_SYS_ADMIN (vmlab: uid 0 has it) and less min(total_vm / 32,
 * user_reserve_kbytes) for an mm, must stay above vm_committed_as with the
 * request added (`pending`: pages a fork's child, which no task has yet,
 * committed already, VMA by VMA). The caller charges the pages itself.
 * Linux: mm/util.c __vm_enough_memory, security/commoncap.c cap_vm_enough_memory
 */
export function vmEnoughMemory(
  ctx: MmContext,
  mm: MmStruct | null,
  pages: number,
  capSysAdmin: boolean,
  pending = 0,
): boolean {
  const s = ctx.settings;
  if (s.overcommit === "always") return true;
  let ok: boolean;
  if (s.overcommit === "heuristic") ok = pages <= s.totalRamPages() + s.totalSwapPages();
  else {
    let allowed = vmCommitLimit(ctx);
    if (!capSysAdmin) allowed -= Math.floor(s.adminReserveKbytes / 4);
    if (mm !== null) allowed -= Math.min(Math.floor(mm.totalVm() / 32), Math.floor(s.userReserveKbytes / 4));
    // vm_acct_memory(pages) first, then percpu_counter_read_positive(&vm_committed_as) < allowed
    ok = s.committedPages() + pending + pages < allowed;
  }
  // error: pr_warn_ratelimited("%s: pid: %d, comm: %s, bytes: %lu not enough memory for the allocation")
  if (!ok) s.warnNotEnough?.(pages * 4096);
  return ok;
}

/** VM_NORESERVE for MAP_NORESERVE: honoured unless vm.overcommit_memory is 2 (do_mmap). */
export function mapNoreserve(ctx: MmContext, noreserve: boolean): boolean {
  return noreserve && ctx.settings.overcommit !== "never";
}

/** /proc/sys/vm's overcommit knobs, as read back. */
export interface OvercommitSysctls {
  /** 0 heuristic (OVERCOMMIT_GUESS), 1 always, 2 never */
  overcommit_memory: number;
  overcommit_ratio: number;
  overcommit_kbytes: number;
  admin_reserve_kbytes: number;
  user_reserve_kbytes: number;
}

const OVERCOMMIT_MODES = ["heuristic", "always", "never"] as const;

/**
 * Writes the knobs given (each checked by the caller: overcommit_memory
 * 0..2, the rest non-negative) and reads them all back. overcommit_ratio
 * and overcommit_kbytes exclude each other: writing one zeroes the other.
 * Linux: mm/util.c overcommit_policy_handler, overcommit_ratio_handler,
 * overcommit_kbytes_handler; kernel/sysctl.c (admin_reserve_kbytes,
 * user_reserve_kbytes: proc_doulongvec_minmax)
 */
export function sysctlOvercommit(s: MmSettings, w: Partial<OvercommitSysctls>): OvercommitSysctls {
  if (w.overcommit_memory !== undefined) s.overcommit = OVERCOMMIT_MODES[w.overcommit_memory];
  if (w.overcommit_ratio !== undefined) {
    s.overcommitRatio = w.overcommit_ratio;
    s.overcommitKbytes = 0;
  }
  if (w.overcommit_kbytes !== undefined) {
    s.overcommitKbytes = w.overcommit_kbytes;
    s.overcommitRatio = 0;
  }
  if (w.admin_reserve_kbytes !== undefined) s.adminReserveKbytes = w.admin_reserve_kbytes;
  if (w.user_reserve_kbytes !== undefined) s.userReserveKbytes = w.user_reserve_kbytes;
  return {
    overcommit_memory: OVERCOMMIT_MODES.indexOf(s.overcommit),
    overcommit_ratio: s.overcommitRatio,
    overcommit_kbytes: s.overcommitKbytes,
    admin_reserve_kbytes: s.adminReserveKbytes,
    user_reserve_kbytes: s.userReserveKbytes,
  };
}
