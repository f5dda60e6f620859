/**
 * mmap(MAP_FIXED) over existing VMAs, in Linux 6.12's order (mm/mmap.c __mmap_region):
 * vms_gather_munmap_vmas first (the splits at the range's ends, max_map_count, mseal's
 * can_modify_vma: -EPERM), then may_expand_vm (RLIMIT_AS: -ENOMEM) and the overcommit charge
 * of a private writable mapping (security_vm_enough_memory_mm: -ENOMEM). A failure after the
 * gather goes to abort_munmap: vms_abort_munmap_vmas reattaches the gathered VMAs, but the
 * gather's __split_vma stays (map_count one higher). A shared anonymous mapping is charged later,
 * in shmem_zero_setup, after vms_clean_up_area has zapped the old range: its failure leaves a gap
 * ("the old failure method of leaving a gap where the MAP_FIXED mapping failed").
 * CommitLimit here (64 MiB, no swap, overcommit_ratio 50) is well under 64 MiB.
 */
import { describe, expect, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";
import { taskOf } from "../core/task.ts";
import { A, B, errnoMachine, P } from "../errno.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { Errno, mmapArgs } from "./userMm.ts";

const BIG = 64 << 20;

function machine() {
  const { k, t } = errnoMachine();
  const mm = taskOf(t).mm!;
  return { k, t, mm };
}

describe("mmap(MAP_FIXED): vms_gather_munmap_vmas before the limits (Linux 6.12 __mmap_region)", () => {
  it("over a sealed VMA under overcommit_memory=2 is -EPERM (the gather), not -ENOMEM (the charge)", () => {
    const { k, t, mm } = machine();
    expect(k.mmap(t, mmapArgs(2 * P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.mseal(t, B(A), B(P))).toBe(0n); // [A, A+P) sealed, [A+P, A+2P) not: 2 VMAs + the stack
    k.sysctlOvercommit({ overcommit_memory: 2 });
    expect(k.mmap(t, mmapArgs(BIG, { addr: A, fixed: true }))).toBe(B(-Errno.EPERM));
    expect(mm.vmas.length).toBe(3);
    // the same mapping where nothing is sealed is refused by the charge
    expect(k.mmap(t, mmapArgs(BIG, { addr: A + 0x1000000, fixed: true }))).toBe(B(-Errno.ENOMEM));
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a refused charge leaves the gather's split: the VMA stays cut at the fixed address", () => {
    const { k, t, mm } = machine();
    expect(k.mmap(t, mmapArgs(3 * P, { addr: A, fixed: true }))).toBe(B(A));
    expect(mm.vmas.length).toBe(2); // the stack and [A, A+3P)
    k.sysctlOvercommit({ overcommit_memory: 2 });
    // __split_vma(vma, A+P) in the gather; charged = 64M - 2 pages (vms.nr_accounted) > CommitLimit
    expect(k.mmap(t, mmapArgs(BIG, { addr: A + P, fixed: true }))).toBe(B(-Errno.ENOMEM));
    expect(mm.vmas.length).toBe(3);
    expect(mm.vmaAt(A / P)!.vmEnd).toBe(A / P + 1);
    expect(mm.vmaAt(A / P + 1)!.vmEnd).toBe(A / P + 3); // reattached, not unmapped
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a refused RLIMIT_AS (may_expand_vm) leaves the split too", () => {
    const { k, t, mm } = machine();
    expect(k.mmap(t, mmapArgs(3 * P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.setrlimit(t, "as", 16 << 20, 16 << 20)).toBe(0);
    expect(k.mmap(t, mmapArgs(BIG, { addr: A + 2 * P, fixed: true }))).toBe(B(-Errno.ENOMEM));
    expect(mm.vmas.length).toBe(3);
    expect(mm.vmaAt(A / P)!.vmEnd).toBe(A / P + 2);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a shared anonymous mapping refused by shmem_zero_setup's charge leaves a gap where the old VMA was", () => {
    const { k, t, mm } = machine();
    expect(k.mmap(t, mmapArgs(3 * P, { addr: A, fixed: true }))).toBe(B(A));
    k.sysctlOvercommit({ overcommit_memory: 2 });
    expect(k.mmap(t, mmapArgs(BIG, { addr: A + P, fixed: true, shared: true }))).toBe(B(-Errno.ENOMEM));
    // [A, A+P) split off and kept; [A+P, A+3P) zapped and gone: vms_complete_munmap_vmas
    expect(mm.vmas.length).toBe(2);
    expect(mm.vmaAt(A / P)!.vmEnd).toBe(A / P + 1);
    expect(mm.vmaAt(A / P + 1)).toBeNull();
    expect(checkInvariants(k)).toEqual([]);
  });

  it("MAP_HUGETLB | MAP_FIXED over a private HugeTLB mapping: the old one's reservation goes back first (vma_close before mmap_file)", () => {
    // vms_clean_up_area: hugetlb_vm_op_close gives the 2 reserved pages back; hugetlbfs_file_mmap's
    // hugetlb_reserve_pages then takes 2 of the pool's 2 again
    holds(`
machine ram=64M
sysctl nr_hugepages=2
spawn A
A: a = mmap 4M hugetlb at=0x40000000 fixed
expect meminfo.HugePages_Rsvd == 2
A: b = mmap 4M hugetlb at=0x40000000 fixed
expect b == 0x40000000
expect meminfo.HugePages_Rsvd == 2
expect A.map_count == 2
`);
  });

  it("MAP_HUGETLB | MAP_FIXED: mseal's -EPERM before the reservation; a refused reservation leaves a gap", () => {
    const { k, t, mm } = machine();
    k.sysctlHugepages(1);
    const H = 2 << 20;
    const X = 0x40000000;
    expect(k.mmap(t, mmapArgs(P, { addr: X, fixed: true }))).toBe(B(X));
    expect(k.mseal(t, B(X), B(P))).toBe(0n);
    // 2 huge pages wanted, 1 in the pool: the gather refuses first
    expect(k.mmap(t, mmapArgs(2 * H, { addr: X, fixed: true, hugetlb: true }))).toBe(B(-Errno.EPERM));
    expect(mm.vmaAt(X / P)).not.toBeNull();
    expect(k.mmap(t, mmapArgs(P, { addr: X + H, fixed: true }))).toBe(B(X + H));
    // hugetlb_reserve_pages fails after vms_clean_up_area zapped and closed [X+H, X+H+P): a gap
    expect(k.mmap(t, mmapArgs(2 * H, { addr: X + H, fixed: true, hugetlb: true }))).toBe(B(-Errno.ENOMEM));
    expect(mm.vmaAt((X + H) / P)).toBeNull();
    expect(checkInvariants(k)).toEqual([]);
  });
});
