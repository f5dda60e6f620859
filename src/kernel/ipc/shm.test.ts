/**
 * System V shared memory as ipc/shm.c behaves: shmget's key rules and
 * errors, shmat's address rules, nattch through fork, split and shmdt,
 * IPC_RMID with attaches left, SHM_LOCK under memory pressure and
 * SHM_UNLOCK's rescue, meminfo Shmem.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { runScenario as run } from "../../workloads/scenario/session.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { IPC_CREAT, IPC_EXCL, IPC_PRIVATE, SHM_HUGETLB, SHM_RDONLY, SHM_RND, shmNamespace } from "./shm.ts";

/** A scenario's output, every statement's lines joined, and its failed expectations. */
function runScenario(src: string): { text: string; failures: string[] } {
  const r = run(src, { checkInvariants: true });
  return {
    text: r.statements.map((s) => s.output.join("\n")).join("\n"),
    failures: r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`),
  };
}

function boot() {
  const k = new Kernel({ ramBytes: 64 << 20 });
  const t = k.spawn("A")!;
  return { k, t };
}

describe("shmget", () => {
  it("IPC_PRIVATE always makes a new segment; a key is found again, ENOENT without IPC_CREAT, EEXIST with IPC_EXCL", () => {
    const { k, t } = boot();
    const a = k.shmget(t, IPC_PRIVATE, 4096, 0o600);
    const b = k.shmget(t, IPC_PRIVATE, 4096, 0o600);
    expect(a).toBeGreaterThanOrEqual(0n);
    expect(b).not.toBe(a);
    expect(k.shmget(t, 0x1234, 4096, 0o600)).toBe(-2n); // ENOENT
    const c = k.shmget(t, 0x1234, 8192, IPC_CREAT | 0o600);
    expect(c).toBeGreaterThanOrEqual(0n);
    expect(k.shmget(t, 0x1234, 4096, 0)).toBe(c);
    expect(k.shmget(t, 0x1234, 4096, IPC_CREAT | IPC_EXCL | 0o600)).toBe(-17n); // EEXIST
    expect(k.shmget(t, 0x1234, 8193, 0)).toBe(-22n); // larger than the segment
  });

  it("EINVAL for size 0 or past shmmax, ENOSPC past shmall (pages, the size rounded up) and shmmni", () => {
    const { k, t } = boot();
    expect(k.shmget(t, IPC_PRIVATE, 0, 0o600)).toBe(-22n);
    const ns = shmNamespace(k);
    ns.ctlmax = 1 << 20;
    expect(k.shmget(t, IPC_PRIVATE, (1 << 20) + 1, 0o600)).toBe(-22n);
    ns.ctlall = 3;
    expect(k.shmget(t, IPC_PRIVATE, 4097, 0o600)).toBeGreaterThanOrEqual(0n); // 2 pages
    expect(k.shmget(t, IPC_PRIVATE, 4097, 0o600)).toBe(-28n); // 2 + 2 > 3
    expect(k.shmget(t, IPC_PRIVATE, 4096, 0o600)).toBeGreaterThanOrEqual(0n);
    ns.ctlall = 100;
    ns.ctlmni = 2;
    expect(k.shmget(t, IPC_PRIVATE, 4096, 0o600)).toBe(-28n);
  });

  it("ids: the index cycles on, the sequence number rises when it wraps below the last", () => {
    const { k, t } = boot();
    const a = k.shmget(t, IPC_PRIVATE, 4096, 0o600);
    const b = k.shmget(t, IPC_PRIVATE, 4096, 0o600);
    expect([a, b]).toEqual([0n, 1n]);
    expect(k.shmctl(t, 0, "rmid").ret).toBe(0n);
    expect(k.shmget(t, IPC_PRIVATE, 4096, 0o600)).toBe(2n); // idr_alloc_cyclic goes on
    expect(k.shmctl(t, 5, "stat").ret).toBe(-22n);
  });

  it("another user: EACCES where the mode denies; EPERM for rmid and lock", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const o = k.spawn("O", 1000)!;
    const u = k.spawn("U", 1001)!;
    const id = k.shmget(o, 0x42, 4096, IPC_CREAT | 0o640);
    expect(k.shmget(u, 0x42, 4096, 0o600)).toBe(-13n);
    expect(k.shmget(u, 0x42, 4096, 0o004)).toBe(-13n);
    expect(k.shmat(u, Number(id), 0n, SHM_RDONLY)).toBe(-13n);
    expect(k.shmctl(u, Number(id), "rmid").ret).toBe(-1n);
    expect(k.shmctl(u, Number(id), "lock").ret).toBe(-1n);
    expect(k.shmctl(o, Number(id), "rmid").ret).toBe(0n);
  });
});

describe("shmat and shmdt", () => {
  it("a shared mapping of the segment: another attach sees the bytes written through the first", () => {
    const { k, t } = boot();
    const id = Number(k.shmget(t, IPC_PRIVATE, 8192, 0o600));
    const a = k.shmat(t, id, 0n, 0);
    const b = k.shmat(t, id, 0n, 0);
    expect(a).toBeGreaterThan(0n);
    expect(b).not.toBe(a);
    const out = runScenario(`machine ram=64M
spawn A
A: id = shmget private 8K
A: a = shmat id
A: b = shmat id
A: write a+4K value=7
A: read b+4K
expect byte(A, b+4K) == 7
show A maps
A: r = shmat id rdonly
show A maps
`);
    expect(out.failures).toEqual([]);
    expect(out.text).toMatch(/rw-s .*\/SYSV00000000 \(deleted\)/);
    expect(out.text).toMatch(/r--s .*\/SYSV00000000 \(deleted\)/);
  });

  it("SHM_RDONLY maps read-only; a misaligned address is EINVAL without SHM_RND, rounded with it; an occupied range is EINVAL", () => {
    const { k, t } = boot();
    const id = Number(k.shmget(t, IPC_PRIVATE, 4096, 0o600));
    expect(k.shmat(t, id, 0x10000123n, 0)).toBe(-22n);
    expect(k.shmat(t, id, 0x10000123n, SHM_RND)).toBe(0x10000000n);
    expect(k.shmat(t, id, 0x10000000n, 0)).toBe(-22n); // already mapped there
    expect(k.shmat(t, id + 1, 0n, 0)).toBe(-22n);
    const out = runScenario(`machine ram=64M
spawn A
A: id = shmget private 4K
A: r = shmat id rdonly
A: catch SIGSEGV
A: read r
A: write r
`);
    expect(out.text).toMatch(/SIGSEGV/);
  });

  it("SHM_RDONLY's file has no FMODE_WRITE: VM_MAYSHARE without VM_SHARED or VM_MAYWRITE, so mprotect to writable and MADV_REMOVE are EACCES", () => {
    for (const huge of [false, true]) {
      const { k, t } = boot();
      k.switchTo(0, t);
      if (huge) k.sysctlHugepages(2);
      const id = Number(k.shmget(t, IPC_PRIVATE, 2 << 20, (huge ? SHM_HUGETLB : 0) | 0o600));
      const rw = k.shmat(t, id, 0n, 0);
      const ro = k.shmat(t, id, 0n, SHM_RDONLY);
      expect(k.userAccess(0, t, rw + 5n, Access.Write, 9).ok).toBe(true);
      // the read-only attach sees the segment's pages
      const r = k.userAccess(0, t, ro + 5n, Access.Read, 0);
      expect(r.ok && r.value).toBe(9);
      const flags = (va: bigint) => k.view.smaps(t).find((v) => v.vma.start === va)!.mnemonics;
      expect(flags(ro)).toContain("ms");
      expect(flags(ro)).not.toContain("sh");
      expect(flags(ro)).not.toContain("mw");
      expect(flags(rw)).toEqual(expect.arrayContaining(["sh", "ms", "mw"]));
      expect(k.mprotect(t, ro, 2n << 20n, { r: true, w: true, x: false }), `huge ${huge}`).toBe(-13n);
      expect(k.madvise(t, ro, 2n << 20n, "remove"), `huge ${huge}`).toBe(-13n);
      expect(k.madvise(t, rw, 2n << 20n, "remove"), `huge ${huge}`).toBe(0n);
      expect(checkInvariants(k)).toEqual([]);
    }
  });

  it("nattch: shm_open counts each attach, fork's copy and a split's piece; shmdt unmaps every piece of its attach", () => {
    const { k, t } = boot();
    const id = Number(k.shmget(t, IPC_PRIVATE, 16384, 0o600));
    const a = k.shmat(t, id, 0n, 0);
    expect(k.shmctl(t, id, "stat").stat!.nattch).toBe(1);
    const c = k.fork(t, "B")!;
    expect(k.shmctl(t, id, "stat").stat!.nattch).toBe(2);
    expect(k.mprotect(t, a + 4096n, 4096n, { r: true, w: false, x: false })).toBe(0n);
    expect(k.shmctl(t, id, "stat").stat!.nattch).toBe(4); // three pieces in A
    expect(k.shmdt(t, a + 4096n)).toBe(-22n); // no attach starts there
    expect(k.shmdt(t, a)).toBe(0n);
    expect(k.shmctl(t, id, "stat").stat!.nattch).toBe(1);
    expect(k.shmdt(c, a)).toBe(0n);
    expect(k.shmctl(t, id, "stat").stat!.nattch).toBe(0);
    expect(k.shmdt(c, a)).toBe(-22n);
  });
});

describe("IPC_RMID", () => {
  it("with attaches left: SHM_DEST, the key private, the pages kept until the last detach, then freed", () => {
    expect(
      expectationFailures(`machine ram=64M
spawn A
A: id = shmget 0x77 64K creat
A: s = shmat id
A: write s 64K
A: fork B
expect meminfo.Shmem == 64K
A: shmctl id rmid
A: k2 = shmget 0x77 4K
expect k2 == -2
expect meminfo.Shmem == 64K
B: exit
expect meminfo.Shmem == 64K
A: shmdt s
expect meminfo.Shmem == 0
A: e = shmctl id stat
expect e == -22
`),
    ).toEqual([]);
  });

  it("an unattached segment's pages count in Shmem; RMID without attaches frees them at once", () => {
    expect(
      expectationFailures(`machine ram=64M
spawn A
A: id = shmget private 32K
A: s = shmat id
A: write s 32K
A: shmdt s
expect meminfo.Shmem == 32K
A: shmctl id rmid
expect meminfo.Shmem == 0
`),
    ).toEqual([]);
  });
});

describe("SHM_LOCK", () => {
  it("marks the mapping only: nothing moves at SHM_LOCK; reclaim culls the pages to Unevictable (not Mlocked) and keeps them; SHM_UNLOCK rescues them", () => {
    expect(
      expectationFailures(`machine ram=64M swap=64M
spawn A
A: id = shmget private 1M
A: s = shmat id
A: write s 1M
A: shmctl id lock
expect meminfo.Unevictable == 0
reclaim 64M
expect meminfo.Unevictable == 1M
expect meminfo.Mlocked == 0
expect swapped(A, s 1M) == 0
expect present(A, s 1M) == 256
expect vmstat.unevictable_pgs_culled == 256
A: shmctl id unlock
expect meminfo.Unevictable == 0
expect vmstat.unevictable_pgs_rescued == 256
reclaim 64M
expect present(A, s 1M) == 0
expect vmstat.pswpout == 256
`),
    ).toEqual([]);
  });

  it("a non-root owner is charged against RLIMIT_MEMLOCK (8 MiB): ENOMEM past it; root is not limited", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const u = k.spawn("U", 1000)!;
    const a = Number(k.shmget(u, IPC_PRIVATE, 6 << 20, 0o600));
    const b = Number(k.shmget(u, IPC_PRIVATE, 4 << 20, 0o600));
    expect(k.shmctl(u, a, "lock").ret).toBe(0n);
    expect(k.shmctl(u, a, "lock").ret).toBe(0n); // locked already: charged once
    expect(k.shmctl(u, b, "lock").ret).toBe(-12n);
    expect(k.shmctl(u, a, "unlock").ret).toBe(0n);
    expect(k.shmctl(u, b, "lock").ret).toBe(0n);
    const r = k.spawn("R")!;
    const c = Number(k.shmget(r, IPC_PRIVATE, 16 << 20, 0o600));
    expect(k.shmctl(r, c, "lock").ret).toBe(0n);
  });
});

describe("views", () => {
  it("show ipcs and /proc/sysvipc/shm: key, id, perms, bytes, nattch, dest and locked", () => {
    const out = runScenario(`machine ram=64M
spawn A
A: id = shmget 0x1234 10000 creat mode=640
A: s = shmat id
A: write s
A: shmctl id lock
A: shmctl id rmid
show ipcs
show sysvipc
`);
    expect(out.text).toMatch(/0x00000000 0 +root +640 +10000 +1 +dest +locked/);
    expect(out.text).toMatch(/ +0 +0 +3640 +10000 +\d+ +\d+ +1 +0 +0 +0 +0 +0 +0 +0 +4096 +0/);
  });
});
