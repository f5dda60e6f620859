/**
 * tmpfs and memfd pages in vm_committed_as: a tmpfs or memfd inode is
 * VM_NORESERVE, so each page is charged as it joins the file (write, fault,
 * the statement that creates a populated tmpfs file), stays charged in swap,
 * and is given back when truncate takes it away (from the cache or from
 * swap). Under overcommit_memory=2 a page the commit limit refuses is
 * -ENOSPC: write(2) stops there, a fault is SIGBUS.
 * Linux: mm/shmem.c shmem_acct_blocks, shmem_inode_acct_blocks,
 * shmem_recalc_inode; mm/memfd.c memfd_create (shmem_file_setup VM_NORESERVE)
 */
import { describe, expect, it } from "vitest";
import type { Session } from "../../workloads/scenario/session.ts";
import { checkedMetrics, feedSession } from "../../workloads/scenario/testKit.ts";

const run = checkedMetrics;

const session = feedSession;

const committed = (s: Session) => s.kernel!.view.meminfo().Committed_AS / 4096;

describe("tmpfs pages in Committed_AS (shmem_acct_blocks)", () => {
  it("memfd: ftruncate charges nothing, write(2) and faults charge each new page, ftruncate gives them back", () => {
    const v = run(`machine ram=128M
spawn A
let c0 = meminfo.Committed_AS
A: memfd buf
A: ftruncate buf 32M
let c1 = meminfo.Committed_AS
A: b = mmap 16M
A: write b 16M value=3
let c2 = meminfo.Committed_AS
A: w = syscall write buf b 16M offset=0
let c3 = meminfo.Committed_AS
A: m = mmap 32M shared file=buf
A: write m 32M
let c4 = meminfo.Committed_AS
A: munmap m 32M
A: ftruncate buf 8M
let c5 = meminfo.Committed_AS
A: ftruncate buf 0
let c6 = meminfo.Committed_AS
`);
    expect(v("c1") - v("c0")).toBe(0);
    expect(v("w")).toBe(16 << 20);
    // the write's 16M; then the mapping's faults add the 16M the write did not reach (a
    // shared file mapping is not accounted itself)
    expect(v("c3") - v("c2")).toBe(16 << 20);
    expect(v("c4") - v("c3")).toBe(16 << 20);
    expect(v("c5") - v("c2")).toBe(8 << 20);
    expect(v("c6")).toBe(v("c2"));
  });

  it("a populated tmpfs file the commit limit cannot hold is refused at creation (-ENOSPC)", () => {
    const s = session("machine ram=64M swap=0 overcommit=never\n");
    const k = s.kernel!;
    expect(() => k.createFile("small", 1 << 20, "tmpfs", false)).not.toThrow();
    // nr_blocks=0: no size= limit, so the commit limit is what refuses (the default, half of
    // RAM, would refuse first: shmem_size.test.ts)
    expect(() => k.createFile("big", 48 << 20, "tmpfs", false, 4096, undefined, 0)).toThrow(
      /commit limit refuses/,
    );
  });

  it("a populated tmpfs file is charged at creation; its pages in swap stay charged until truncate frees the slots", () => {
    const v = run(`machine ram=32M swap=64M page_cluster=0
let c0 = meminfo.Committed_AS
file shm size=2M fs=tmpfs
let c1 = meminfo.Committed_AS
spawn A
let ca = meminfo.Committed_AS
A: b = mmap 28M
A: write b 28M
A: munmap b 28M
let swapped = meminfo.SwapTotal - meminfo.SwapFree
let c2 = meminfo.Committed_AS
A: t = ftruncate shm 0
let c3 = meminfo.Committed_AS
let swapped3 = meminfo.SwapTotal - meminfo.SwapFree
`);
    expect(v("c1") - v("c0")).toBe(2 << 20);
    expect(v("swapped")).toBeGreaterThan(0);
    expect(v("c2")).toBe(v("ca"));
    expect(v("swapped3")).toBe(0);
    expect(v("ca") - v("c3")).toBe(2 << 20);
  });

  it("overcommit_memory=2: write(2) stops at the first page refused (-ENOSPC when none fits); a fault there is SIGBUS", () => {
    const s = session(`machine ram=64M swap=0 overcommit=never
spawn A
A: memfd buf
A: ftruncate buf 64M
A: b = mmap 1M
A: write b 1M value=1
A: m = mmap 64M shared file=buf
`);
    const k = s.kernel!;
    const A = s.processes.get("A")!;
    const b = s.variables.get("b")!;
    const buf = s.files.get("buf")!;
    // room for 100 pages more: committed + pages < CommitLimit - the user reserve (root: no admin reserve)
    const reserve = Math.min(
      Math.floor(k.view.mm(A)!.totalVm / 32),
      k.sysctlOvercommit({}).user_reserve_kbytes / 4,
    );
    k.sysctlOvercommit({ overcommit_kbytes: (committed(s) + reserve + 101) * 4 });
    const c0 = committed(s);
    // 1M asked, 100 pages written: the 101st page is refused
    expect(k.fileIo(0, buf, b, 1 << 20, true, 0)).toBe(100 * 4096);
    expect(committed(s)).toBe(c0 + 100);
    // rewriting pages the file has charges nothing; a write that starts at a refused page is -ENOSPC
    expect(k.fileIo(0, buf, b, 100 * 4096, true, 0)).toBe(100 * 4096);
    expect(k.fileIo(0, buf, b, 4096, true, 100 * 4096)).toBe(-28);
    expect(committed(s)).toBe(c0 + 100);
    // a fault on a page the limit refuses: vmf_error(-ENOSPC), SIGBUS
    const m = s.variables.get("m")!;
    expect(s.feed(`A: read ${m} 4K`, 90)!.output.join("\n")).not.toMatch(/SIGBUS/);
    expect(s.feed(`A: read ${m + 200n * 4096n} 4K`, 91)!.output.join("\n")).toMatch(/SIGBUS/);
  });
});
