/**
 * memfd_create(MFD_HUGETLB) (mm/memfd.c -> fs/hugetlbfs/inode.c
 * hugetlb_file_setup): ftruncate by whole huge pages, shared and private
 * mappings over the inode's page cache, the reservations each makes, a
 * shrink zapping every mapping past the new end, read(2) and write(2),
 * MFD_HUGE_* sizes; each architecture's huge leaf.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/userMm.ts";
import { MFD_HUGE_SHIFT, MFD_HUGETLB } from "./memfd.ts";

const ARCHS = [
  { arch: "x86_64", size: "2M", two: "4M", pages: 512 },
  { arch: "arm64", size: "2M", two: "4M", pages: 512 },
  { arch: "riscv-sv39", size: "2M", two: "4M", pages: 512 },
  { arch: "i386", size: "4M", two: "8M", pages: 1024 },
];

describe.each(ARCHS)("MFD_HUGETLB on $arch ($size pages)", ({ arch, size, two, pages }) => {
  it("shared and private mappings over the inode's page cache; a shrink zaps the mappings past the end", () => {
    expect(
      expectationFailures(`machine arch=${arch} ram=256M
spawn A
sysctl nr_hugepages=4
A: memfd h hugetlb
A: r = ftruncate h 4K
expect r == -22
A: ftruncate h ${two}
# ftruncate reserves nothing; a shared mapping reserves the inode's indexes
expect meminfo.HugePages_Rsvd == 0
A: s = mmap ${two} file=h shared
expect meminfo.HugePages_Rsvd == 2
A: write s+7 1 value=0x33
expect hugetlb(A, s ${size}) == ${pages}
expect meminfo.HugePages_Free == 3
expect meminfo.HugePages_Rsvd == 1
# a private mapping reserves all its pages; a read maps the cache's folio, a write copies it
A: p = mmap ${two} file=h
expect meminfo.HugePages_Rsvd == 3
A: read p+7
expect pfn(A, p) == pfn(A, s)
A: write p+5 1 value=0x44
expect pfn(A, p) != pfn(A, s)
expect byte(A, p+7) == 0x33
expect byte(A, s+5) == 0
expect meminfo.HugePages_Free == 2
expect meminfo.HugePages_Rsvd == 2
A: fork B
B: write s+${size} 1 value=0x55
A: read s+${size}
expect byte(A, s+${size}) == 0x55
expect pfn(B, s+${size}) == pfn(A, s+${size})
# shrink to one huge page: the second page leaves the cache and every mapping of it
A: ftruncate h ${size}
expect hugetlb(A, s+${size} ${size}) == 0
B: catch SIGBUS
B: read s+${size}
expect B.signal == SIGBUS
B: exit
A: munmap p ${two}
A: munmap s ${two}
# the first page stays in the cache (vmlab never evicts a memfd's inode)
expect meminfo.HugePages_Free == 3
expect meminfo.HugePages_Rsvd == 0
`),
    ).toEqual([]);
  });
});

describe("MFD_HUGETLB", () => {
  it("MFD_HUGE_1GB picks the 1 GiB pool; a size without a pool is ENODEV; the size bits need MFD_HUGETLB", () => {
    const k = new Kernel({ ramBytes: 256 << 20 });
    const t = k.spawn("A")!;
    expect(k.memfdCreate(t, "a", MFD_HUGETLB | (16 << MFD_HUGE_SHIFT)).ret).toBe(-19n);
    expect(k.memfdCreate(t, "b", 21 << MFD_HUGE_SHIFT).ret).toBe(-22n);
    const g = k.memfdCreate(t, "g", MFD_HUGETLB | (30 << MFD_HUGE_SHIFT));
    expect(g.ret).toBeGreaterThanOrEqual(0n);
    expect(k.ftruncate(t, g.file!, 2n << 20n)).toBe(-22n);
    expect(k.ftruncate(t, g.file!, 1n << 30n)).toBe(0n);
    // no 1 GiB page in the pool: a shared mapping cannot reserve it
    expect(k.mmap(t, { ...mmapArgs(1 << 30, { shared: true }), file: g.file! })).toBe(-12n);
  });

  it("read(2) copies the folios and zeros for a hole, up to i_size; write(2) is EINVAL; an offset off a huge page is EINVAL", () => {
    const k = new Kernel({ ramBytes: 256 << 20 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    k.sysctlHugepages(2);
    const f = k.memfdCreate(t, "h", MFD_HUGETLB).file!;
    expect(k.ftruncate(t, f, 4n << 20n)).toBe(0n);
    expect(k.mmap(t, { ...mmapArgs(2 << 20, { shared: true, offset: 4096 }), file: f })).toBe(-22n);
    const s = k.mmap(t, { ...mmapArgs(2 << 20, { shared: true, offset: 2 << 20 }), file: f });
    expect(s > 0n).toBe(true);
    expect(k.userAccess(0, t, s + 9n, Access.Write, 0x5a).ok).toBe(true);
    const buf = k.mmap(t, mmapArgs(4096));
    const byte = (va: bigint) => {
      const r = k.userAccess(0, t, va, Access.Read);
      return r.ok ? r.value : -1;
    };
    expect(k.fileIo(0, f, buf, 16, false, 2 << 20)).toBe(16);
    expect(byte(buf + 9n)).toBe(0x5a);
    expect(k.fileIo(0, f, buf, 16, false, 0)).toBe(16); // a hole: zeros
    expect(byte(buf + 9n)).toBe(0);
    expect(k.fileIo(0, f, buf, 16, false, (4 << 20) - 8)).toBe(8); // i_size
    expect(k.fileIo(0, f, buf, 16, true, 0)).toBe(-22);
  });
});
