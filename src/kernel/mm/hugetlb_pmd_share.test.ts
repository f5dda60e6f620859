/**
 * HugeTLB PMD sharing (mm/hugetlb_pmd_share.ts): a shared 2 MiB HugeTLB mapping over a whole
 * 1 GiB-aligned range shares its PMD table between processes (huge_pmd_share), so a huge page
 * one faults in is mapped in the others without a fault; each mm counts the table (VmPTE), the
 * folio's mapcount counts its one entry; munmap, MADV_DONTNEED, mprotect, mremap and a split off
 * the 1 GiB boundary let go of the table in one mm only (huge_pmd_unshare). Not shared: private
 * mappings, ranges that do not cover the 1 GiB, 1 GiB pages, i386. Every scenario runs with the
 * kernel's invariants checked after each statement (the share count against the PUD entries
 * that point at the table, no other table reached twice).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

/** The HugetlbPages figures (kB) every `show P status` of a run printed, in order; its expectations must hold. */
function hugetlbPagesShown(src: string): number[] {
  const r = runScenario(src, { checkInvariants: true });
  expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
  return r.statements
    .flatMap((s) => s.output)
    .flatMap((l) => /HugetlbPages:\s+(\d+) kB/.exec(l)?.[1] ?? [])
    .map(Number); // (2^64 - 2048 is exact as a double)
}

const SHARING = ["x86_64", "x86_64-la57", "arm64", "riscv-sv48", "riscv-sv39"];

/** A maps 1 GiB of 2 MiB pages shared at 1 GiB, touches two, and forks B. */
const setup = (arch: string) => `machine arch=${arch} ram=1100M
sysctl nr_hugepages=520
spawn A
A: buf = mmap 1G shared hugetlb at=0x40000000
expect buf == 0x40000000
A: write buf 1 value=0x11
A: write buf+2M 1 value=0x22
A: fork B
expect B.pt_pages == 0
`;

/** pt_pages of a process whose only tables are n PMD tables and the one PUD table above them (none in Sv39: the PGD), and a P4D table with LA57 */
const tables = (arch: string, n: number) =>
  n + (arch === "riscv-sv39" ? 0 : 1) + (arch === "x86_64-la57" ? 1 : 0);

describe.each(SHARING)("PMD sharing on %s", (arch) => {
  it("the child's fault shares the parent's PMD table: what one faults in, the other maps without a fault", () => {
    expect(
      expectationFailures(`${setup(arch)}
expect A.pt_pages == ${tables(arch, 1)}
B: read buf
expect B.pt_pages == ${tables(arch, 1)}
expect pfn(B, buf) == pfn(A, buf)
expect B.min_flt == 1
# B's fault fills the shared table: A reads it without a fault
B: write buf+4M 1 value=0x33
expect A.min_flt == 2
A: read buf+4M
expect A.min_flt == 2
expect byte(A, buf+4M) == 0x33
expect pfn(A, buf+4M) == pfn(B, buf+4M)
expect meminfo.HugePages_Free == 517
`),
    ).toEqual([]);
  });

  it("munmap in one lets go of the table (huge_pmd_unshare): the other keeps every page; the last one frees it", () => {
    expect(
      expectationFailures(`${setup(arch)}
B: write buf+4M 1 value=0x33
B: munmap buf 1G
expect B.pt_pages == ${arch === "x86_64-la57" ? 1 : 0}
A: read buf+4M
expect byte(A, buf+4M) == 0x33
expect A.min_flt == 2
expect meminfo.HugePages_Free == 517
A: munmap buf 1G
expect A.pt_pages == ${arch === "x86_64-la57" ? 1 : 0}
expect meminfo.HugePages_Free == 520
`),
    ).toEqual([]);
  });
});

/** the paths every architecture shares (mm/hugetlb.ts, mm/hugetlb_pmd_share.ts), on x86-64 */
describe.each(["x86_64"])("PMD sharing's unshares on %s", (arch) => {
  it("HugetlbPages is each mm's own count: its faults (hugetlb_count_add), not what it sees through a shared table", () => {
    expect(
      hugetlbPagesShown(`${setup(arch)}
B: write buf+4M 1 value=0x33
A: read buf+4M
show A status
show B status
B: munmap buf 1G
# hugetlb_count_sub is not reached for an unshared table: B's count stays
show B status
# A, the table's last user, takes B's page off too (hugetlb_count_sub): its count goes below
# zero, printed as %lu prints a negative long
A: munmap buf 1G
show A status
expect meminfo.HugePages_Free == 520
`),
    ).toEqual([4096, 2048, 2048, 2 ** 64 - 2048]);
  });

  it("MADV_DONTNEED of one huge page unshares the whole 1 GiB in that mm; its next fault shares again", () => {
    expect(
      expectationFailures(`${setup(arch)}
B: read buf
B: madvise buf+2M 2M dontneed
expect byte(A, buf+2M) == 0x22
expect B.pt_pages == ${tables(arch, 0)}
# the refault finds A's table again: nothing was lost, nothing faults twice
B: read buf+2M
expect byte(B, buf+2M) == 0x22
expect B.pt_pages == ${tables(arch, 1)}
expect B.min_flt == 2
B: read buf
expect B.min_flt == 2
`),
    ).toEqual([]);
  });

  it("mprotect unshares; the refault takes a table of its own (the flags differ from the sharer's)", () => {
    expect(
      expectationFailures(`${setup(arch)}
B: read buf
B: mprotect buf 1G prot=r
B: read buf+2M
expect B.pt_pages == ${tables(arch, 1)}
expect B.min_flt == 2
A: write buf+6M 1 value=0x44
# B's own table does not see A's new page: B faults for it
B: read buf+6M
expect B.min_flt == 3
expect byte(B, buf+6M) == 0x44
`),
    ).toEqual([]);
  });

  it("a split off the 1 GiB boundary (munmap of one huge page in the middle) unshares around it", () => {
    expect(
      expectationFailures(`${setup(arch)}
B: read buf
B: munmap buf+4M 2M
expect B.pt_pages == ${tables(arch, 0)}
expect byte(A, buf) == 0x11
# B's pieces no longer cover the 1 GiB: its faults take a table of its own
B: read buf
expect byte(B, buf) == 0x11
expect B.pt_pages == ${tables(arch, 1)}
A: write buf+8M 1 value=0x55
B: read buf+8M
expect byte(B, buf+8M) == 0x55
expect B.min_flt == 3
`),
    ).toEqual([]);
  });

  it("mremap of a shared range moves nothing of the shared table: the new range's faults share again", () => {
    expect(
      expectationFailures(`${setup(arch)}
B: read buf
B: moved = mremap buf 1G 1G maymove to=0x80000000
expect moved == 0x80000000
B: read moved+2M
expect byte(B, moved+2M) == 0x22
expect B.min_flt == 2
B: read moved
expect B.min_flt == 2
expect B.pt_pages == ${tables(arch, 1)}
`),
    ).toEqual([]);
  });
});

describe("PMD sharing: where it does not happen", () => {
  it("two unrelated processes attaching a SHM_HUGETLB segment at the same 1 GiB share (the database case)", () => {
    expect(
      expectationFailures(`machine ram=2G
sysctl nr_hugepages=520
spawn A
spawn B
A: id = shmget 1234 1G creat hugetlb
A: a = shmat id at=0x40000000
A: write a+10M 1 value=0x66
B: b = shmat id at=0x40000000
B: read b+10M
expect B.min_flt == 1
B: write b+12M 1 value=0x77
A: read a+12M
expect A.min_flt == 1
expect byte(A, a+12M) == 0x77
`),
    ).toEqual([]);
  });

  it("a mapping that does not cover a whole 1 GiB-aligned range, a private one, or i386's: each faults for itself", () => {
    for (const [arch, map] of [
      ["x86_64", "mmap 1G shared hugetlb at=0x40200000"],
      ["x86_64", "mmap 1G private hugetlb at=0x40000000"],
      ["i386-pae", "mmap 256M shared hugetlb at=0x40000000"],
    ])
      expect(
        expectationFailures(`machine arch=${arch} ram=1100M
sysctl nr_hugepages=520
spawn A
A: buf = ${map}
A: write buf 1 value=0x11
A: fork B
B: read buf
B: write buf+4M 1 value=0x33
A: read buf+4M
expect A.min_flt == 2
`),
        `${arch} ${map}`,
      ).toEqual([]);
  });

  it("1 GiB pages are not shared (huge_pmd_share is for PMD_SIZE)", () => {
    expect(
      expectationFailures(`machine ram=4G
sysctl nr_hugepages=1 size=1G
spawn A
A: buf = mmap 1G shared hugetlb size=1G at=0x40000000
A: write buf 1 value=0x11
A: fork B
B: read buf
expect B.min_flt == 1
expect B.pt_pages == 1
`),
    ).toEqual([]);
  });
});
