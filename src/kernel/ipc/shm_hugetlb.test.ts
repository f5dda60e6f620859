/**
 * SHM_HUGETLB segments (ipc/shm.c newseg -> fs/hugetlbfs/inode.c
 * hugetlb_file_setup): the pool's reservation at shmget, the page cache of
 * the segment's hugetlbfs inode shared by every attach and fork, IPC_RMID
 * freeing the pages after the last detach, ENOMEM and SHM_NORESERVE's
 * SIGBUS, SHM_HUGE_1GB, the views; each architecture's huge leaf.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { SHM_HUGE_SHIFT, SHM_HUGETLB, SHM_NORESERVE, shmNamespace } from "./shm.ts";

const ARCHS = [
  { arch: "x86_64", size: "2M", three: "6M", pages: 512 },
  { arch: "arm64", size: "2M", three: "6M", pages: 512 },
  { arch: "riscv-sv39", size: "2M", three: "6M", pages: 512 },
  { arch: "i386", size: "4M", three: "12M", pages: 1024 },
];

describe.each(ARCHS)("SHM_HUGETLB on $arch ($size pages)", ({ arch, size, three, pages }) => {
  it("reserves at shmget, shares the inode's pages across attaches and fork, frees them after IPC_RMID and the last detach", () => {
    expect(
      expectationFailures(`machine arch=${arch} ram=256M
spawn A
sysctl nr_hugepages=4
# the size is rounded up to whole huge pages: 3 reserved now, none charged to Committed_AS
A: id = shmget private ${three}-100 hugetlb
expect id >= 0
expect meminfo.HugePages_Rsvd == 3
expect meminfo.HugePages_Free == 4
A: buf = shmat id
A: write buf+5 1 value=0x11
expect hugetlb(A, buf ${size}) == ${pages}
expect rss(A, buf ${size}) == 0
expect meminfo.HugePages_Rsvd == 2
expect meminfo.HugePages_Free == 3
A: fork B
# the child maps the same folio through the inode's page cache
B: read buf+5
expect pfn(B, buf) == pfn(A, buf)
expect byte(B, buf+5) == 0x11
B: write buf+${size} 1 value=0x22
A: read buf+${size}
expect byte(A, buf+${size}) == 0x22
expect pfn(A, buf+${size}) == pfn(B, buf+${size})
expect meminfo.HugePages_Rsvd == 1
expect meminfo.HugePages_Free == 2
# a second attach in A maps the same pages again
A: two = shmat id
A: read two+5
expect pfn(A, two) == pfn(A, buf)
A: shmdt two
A: shmctl id rmid
A: shmdt buf
expect meminfo.HugePages_Free == 2
expect meminfo.HugePages_Rsvd == 1
B: exit
expect meminfo.HugePages_Free == 4
expect meminfo.HugePages_Rsvd == 0
expect meminfo.HugePages_Total == 4
`),
    ).toEqual([]);
  });
});

describe("SHM_HUGETLB", () => {
  it("ENOMEM when the pool cannot reserve the segment; Committed_AS and shm_tot (the size asked, in 4K pages)", () => {
    const k = new Kernel({ ramBytes: 256 << 20 });
    const t = k.spawn("A")!;
    k.sysctlHugepages(2);
    const committed = k.view.meminfo().Committed_AS;
    expect(k.shmget(t, 0, (4 << 20) + 1, SHM_HUGETLB | 0o600)).toBe(-12n);
    expect(k.view.meminfo().HugePages_Rsvd).toBe(0);
    const id = k.shmget(t, 0, (2 << 20) + 1, SHM_HUGETLB | 0o600);
    expect(id).toBeGreaterThanOrEqual(0n);
    expect(k.view.meminfo().HugePages_Rsvd).toBe(2);
    expect(k.view.meminfo().Committed_AS).toBe(committed);
    expect(shmNamespace(k).tot).toBe(513);
    expect(k.shmctl(t, Number(id), "rmid").ret).toBe(0n);
    expect(k.view.meminfo().HugePages_Rsvd).toBe(0);
    expect(shmNamespace(k).tot).toBe(0);
  });

  it("SHM_NORESERVE reserves nothing: a touch the free pages cannot serve is SIGBUS", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=2
A: r = mmap 2M hugetlb
A: id = shmget private 4M hugetlb noreserve
expect meminfo.HugePages_Rsvd == 1
A: buf = shmat id
A: catch SIGBUS
A: write buf
expect A.signal == none
# the last free folio is reserved for r: the segment may not take it
A: write buf+2M
expect A.signal == SIGBUS
A: write r
expect meminfo.HugePages_Free == 0
`),
    ).toEqual([]);
  });

  it("SHM_HUGE_1GB picks the 1 GiB pool; a size without a pool is EINVAL; a non-root user is EPERM", () => {
    const k = new Kernel({ ramBytes: 3 * 2 ** 30 });
    const t = k.spawn("A")!;
    const u = k.spawn("U", 1000)!;
    expect(k.shmget(t, 0, 4096, SHM_HUGETLB | (16 << SHM_HUGE_SHIFT) | 0o600)).toBe(-22n);
    expect(k.shmget(u, 0, 4096, SHM_HUGETLB | 0o600)).toBe(-1n);
    expect(k.shmget(t, 0, 4096, SHM_HUGETLB | (30 << SHM_HUGE_SHIFT) | 0o600)).toBe(-12n);
    expect(
      k.shmget(t, 0, 4096, SHM_HUGETLB | SHM_NORESERVE | (30 << SHM_HUGE_SHIFT) | 0o600),
    ).toBeGreaterThanOrEqual(0n);
  });

  it("1 GiB segment: one PUD leaf, nattch, SHM_LOCK does nothing to it, the views", () => {
    expect(
      expectationFailures(`machine ram=3G
spawn A
sysctl nr_hugepages=1 size=1G
A: id = shmget 0x77 1G creat hugetlb size=1G
expect id >= 0
A: buf = shmat id
A: write buf+1G-1 1 value=0x33
expect hugetlb(A, buf 1G) == 262144
expect table(A, buf, pd) == -1
A: shmctl id lock
A: fork B
B: read buf+1G-1
expect byte(B, buf+1G-1) == 0x33
`),
    ).toEqual([]);
    const r = runScenario(
      `machine ram=256M
spawn A
sysctl nr_hugepages=1
A: id = shmget 0x55 4096 creat hugetlb
A: s = shmat id
A: write s
A: shmctl id lock
show ipcs
show sysvipc
show A maps
A: shmctl id stat
A: shmdt s
A: shmctl id stat
`,
      { checkInvariants: true },
    );
    const text = r.statements.map((x) => x.output.join("\n")).join("\n");
    // not SHM_LOCKED (shmctl_do_lock: is_file_hugepages); bytes as asked; one attach
    expect(text).toMatch(/0x00000055 0 +root +600 +4096 +1\s*$/m);
    // shm_add_rss_swap: pages_per_huge_page * nrpages (the page cache's 4K pages) of 4K
    expect(text).toMatch(/ 85 +0 +600 +4096 .* 1073741824 +0/);
    // the inode is numbered by the shmid
    expect(text).toMatch(/rw-s 00000000 \S+ 0 +\/SYSV00000055 \(deleted\)/);
  });
});
