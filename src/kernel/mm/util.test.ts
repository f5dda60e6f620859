/**
 * Overcommit accounting as Linux 6.12's mm/util.c and its callers:
 * __vm_enough_memory's reserves and strict comparison, vm_commit_limit's
 * overcommit_ratio / overcommit_kbytes, and every place that charges
 * vm_committed_as (mmap, MAP_FIXED, MAP_NORESERVE, brk, mprotect, mremap,
 * stack growth, fork, shared anonymous mappings, SysV segments, device
 * mappings). Each case was checked against the 6.18 host where it can be
 * (VmFlags `ac`, Committed_AS deltas: test/differential/overcommit.test.ts).
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../base/errors.ts";
import { Session } from "../../workloads/scenario/session.ts";
import { expectationFailures, feedSession } from "../../workloads/scenario/testKit.ts";
import { mmapArgs, type TaskHandle } from "../Kernel.ts";

const session = feedSession;

const committed = (s: Session) => s.kernel!.view.meminfo().Committed_AS / 4096;
const limit = (s: Session) => s.kernel!.view.meminfo().CommitLimit / 4096;

/** The user reserve __vm_enough_memory keeps from A: min(total_vm / 32, user_reserve_kbytes / 4). */
function userReserve(s: Session, A: TaskHandle): number {
  const kb = s.kernel!.sysctlOvercommit({}).user_reserve_kbytes;
  return Math.min(Math.floor(s.kernel!.view.mm(A)!.totalVm / 32), Math.floor(kb / 4));
}

describe("overcommit accounting (mm/util.c __vm_enough_memory and its callers)", () => {
  it("the reserves come from the free memory at boot: min(free / 32, 128 MiB) and min(free / 32, 8 MiB)", () => {
    const big = session("machine ram=8G\n").kernel!.sysctlOvercommit({});
    expect(big.user_reserve_kbytes).toBe(131072);
    expect(big.admin_reserve_kbytes).toBe(8192);
    const s = session("machine ram=128M\n");
    const small = s.kernel!.sysctlOvercommit({});
    const free = s.kernel!.view.meminfo().MemFree / 1024;
    expect(small.user_reserve_kbytes).toBe(small.admin_reserve_kbytes);
    expect(small.user_reserve_kbytes).toBeLessThan(8192);
    // free / 32 at boot, which is within a few pages of MemFree after it
    expect(Math.abs(small.user_reserve_kbytes - free / 32)).toBeLessThan(64);
  });

  it("overcommit=never: committed + pages must stay below CommitLimit less the user reserve, and the admin reserve for a non-root caller", () => {
    const s = session("machine ram=64M swap=0 overcommit=never\nspawn A\nspawn U uid=1000\n");
    const k = s.kernel!;
    for (const [name, admin] of [
      ["A", 0],
      ["U", k.sysctlOvercommit({}).admin_reserve_kbytes / 4],
    ] as const) {
      const t = s.processes.get(name)!;
      const room = limit(s) - committed(s) - userReserve(s, t) - admin - 1;
      expect(room).toBeGreaterThan(1000);
      const privileged = name === "A";
      // one page more than the room fails; the room itself fits (strict '<' after the charge)
      expect(k.mmap(t, mmapArgs((room + 1) * 4096, { privileged }))).toBe(-12n);
      const a = k.mmap(t, mmapArgs(room * 4096, { privileged }));
      expect(a).toBeGreaterThan(0n);
      expect(k.munmap(t, a, BigInt(room * 4096))).toBe(0n);
    }
  });

  it("MAP_NORESERVE is honoured unless overcommit_memory is 2", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0
spawn A
let c0 = meminfo.Committed_AS
A: a = mmap 16M noreserve
expect meminfo.Committed_AS == c0
expect vm_flags(A, a) == "rd wr mr mw me nr sd"
sysctl overcommit_memory=2
A: b = mmap 16M noreserve
expect meminfo.Committed_AS == c0 + 16M
expect vm_flags(A, b) == "rd wr mr mw me ac sd"
`),
    ).toEqual([]);
  });

  it("overcommit_ratio and overcommit_kbytes set CommitLimit, each zeroing the other", () => {
    const s = session("machine ram=64M swap=16M\n");
    const k = s.kernel!;
    const swap = k.view.meminfo().SwapTotal / 4096;
    // totalram_pages (the buddy's managed pages) at ratio 100, then a quarter of it at 25
    let r = k.sysctlOvercommit({ overcommit_ratio: 100 });
    const ram = limit(s) - swap;
    expect(Math.abs(ram - s.kernel!.view.meminfo().MemTotal / 4096)).toBeLessThan(64);
    r = k.sysctlOvercommit({ overcommit_kbytes: 10240 });
    expect(r.overcommit_ratio).toBe(0);
    expect(limit(s)).toBe(2560 + swap);
    r = k.sysctlOvercommit({ overcommit_ratio: 25 });
    expect(r.overcommit_kbytes).toBe(0);
    expect(limit(s)).toBe(Math.floor(ram / 4) + swap);
  });

  it("overcommit=heuristic refuses one request above RAM + swap only", () => {
    const s = session("machine ram=64M swap=16M\nspawn A\n");
    const A = s.processes.get("A")!;
    const m = s.kernel!.view.meminfo();
    // totalram_pages is the buddy's managed pages, a little below the machine's RAM
    expect(s.kernel!.mmap(A, mmapArgs(96 << 20))).toBe(-12n);
    const a = s.kernel!.mmap(A, mmapArgs(m.MemTotal + m.SwapTotal - (1 << 20)));
    expect(a).toBeGreaterThan(0n);
    expect(s.kernel!.mmap(A, mmapArgs(m.MemTotal + m.SwapTotal - (1 << 20)))).toBeGreaterThan(0n);
  });

  it("brk, mremap and stack growth are checked and charged; a refused stack growth is SIGSEGV", () => {
    const s = session("machine ram=64M swap=0 overcommit=never\nspawn A\nA: a = mmap 4M\n");
    const k = s.kernel!;
    const A = s.processes.get("A")!;
    const c0 = committed(s);
    const old = k.brk(A, 1n << 20n);
    expect(old).toBeGreaterThan(0n);
    expect(committed(s)).toBe(c0 + 256);
    // mremap in place and moved: the growth is charged
    const a = s.variables.get("a")!;
    expect(k.mremap(A, a, 4n << 20n, 6n << 20n, true, -1n)).toBeGreaterThan(0n);
    expect(committed(s)).toBe(c0 + 256 + 512);
    // the stack grown by a fault 50 pages below it: charged 50 pages (acct_stack_growth)
    const stack = k.view.vmas(A).find((v) => v.name === "[stack]")!.start;
    expect(s.feed(`A: write ${stack - 50n * 4096n} 1`, 90)!.output.join("\n")).not.toMatch(/SIGSEGV/);
    expect(committed(s)).toBe(c0 + 256 + 512 + 50);
    // fill the room so that 1 MiB more cannot be committed
    const room = limit(s) - committed(s) - userReserve(s, A) - 1;
    const filler = k.mmap(A, mmapArgs((room - 100) * 4096));
    expect(filler).toBeGreaterThan(0n);
    expect(k.brk(A, 1n << 20n)).toBe(-12n);
    const c1 = committed(s);
    const m = s.variables.get("a")!;
    const moved = k.mremap(A, m, 6n << 20n, 8n << 20n, true, -1n);
    expect(moved).toBe(-12n);
    expect(committed(s)).toBe(c1);
    // the stack grown by a fault 50 pages below it: too much now (SIGSEGV, SEGV_MAPERR, nothing charged)
    const top = k.view.vmas(A).find((v) => v.name === "[stack]")!.start;
    expect(s.feed(`A: write ${top - 50n * 4096n} 1`, 91)!.output.join("\n")).toMatch(
      /SIGSEGV \(SEGV_MAPERR\)/,
    );
    // (A died of it: exit_mmap gave back all it had committed)
    expect(committed(s)).toBe(0);
  });

  it("mprotect charges a private mapping made writable, gives the charge back for an untouched anonymous one made read-only", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0
spawn A
let c0 = meminfo.Committed_AS
A: a = mmap 8M prot=r
expect meminfo.Committed_AS == c0
A: mprotect a 8M prot=rw
expect meminfo.Committed_AS == c0 + 8M
A: mprotect a 8M prot=r
expect meminfo.Committed_AS == c0
A: mprotect a 8M prot=rw
A: write a 1
A: mprotect a 8M prot=r
# an anon_vma now: the charge stays (mprotect_fixup cannot tell which pages it covers)
expect meminfo.Committed_AS == c0 + 8M
expect vm_flags(A, a) == "rd mr mw me ac sd"
`),
    ).toEqual([]);
  });

  it("mprotect under overcommit=never: the VMAs before the one that does not fit keep their new rights", () => {
    const s = session(
      "machine ram=64M swap=0 overcommit=never\nspawn A\nA: a = mmap 4M prot=r\nA: b = mmap 28M prot=r at=a+4M fixed\nA: mprotect a+4M 4K prot=x\n",
    );
    const k = s.kernel!;
    const A = s.processes.get("A")!;
    const a = s.variables.get("a")!;
    const c0 = committed(s);
    // a (4M) fits, the next piece (4K, r-x) too; the last (28M - 4K) does not
    expect(k.mprotect(A, a, 32n << 20n, { r: true, w: true, x: false })).toBe(-12n);
    expect(committed(s)).toBe(c0 + 1024 + 1);
    const vf = (addr: bigint) => k.view.vmas(A).find((v) => v.start <= addr && addr < v.end)!;
    expect(vf(a).perms).toBe("rw-p");
    expect(vf(a + (4n << 20n)).perms).toBe("rw-p");
    expect(vf(a + (4n << 20n) + 4096n).perms).toBe("r--p");
  });

  it("MAP_FIXED over accounted pages is charged only for the difference", () => {
    const s = session("machine ram=64M swap=0 overcommit=never\nspawn A\nA: a = mmap 8M\n");
    const k = s.kernel!;
    const A = s.processes.get("A")!;
    const c0 = committed(s);
    // fill the room: a fixed 8M mapping over a's 8M needs no more
    const room = limit(s) - c0 - userReserve(s, A) - 1;
    expect(k.mmap(A, mmapArgs((room - 10) * 4096))).toBeGreaterThan(0n);
    const c1 = committed(s);
    const a = s.variables.get("a")!;
    expect(k.mmap(A, mmapArgs(8 << 20, { addr: Number(a), fixed: true }))).toBe(a);
    expect(committed(s)).toBe(c1);
    // a fixed 16M one over the same 8M needs 8M more: refused
    expect(k.mmap(A, mmapArgs(16 << 20, { addr: Number(a), fixed: true }))).toBe(-12n);
  });

  it("a shared anonymous mapping's shmem object is charged once, at mmap, and given back with its last mapping", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0
spawn A
let c0 = meminfo.Committed_AS
A: s = mmap 8M shared
A: n = mmap 8M shared noreserve
expect meminfo.Committed_AS == c0 + 8M
A: write s 4K
A: fork B
let c1 = meminfo.Committed_AS
A: munmap s 8M
expect meminfo.Committed_AS == c1
B: munmap s 8M
expect meminfo.Committed_AS == c1 - 8M
`),
    ).toEqual([]);
    const s = session("machine ram=64M swap=0 overcommit=never\nspawn A\n");
    const A = s.processes.get("A")!;
    const room = limit(s) - committed(s) - userReserve(s, A) - 1;
    expect(s.kernel!.mmap(A, mmapArgs((room + 1) * 4096, { shared: true }))).toBe(-12n);
    expect(s.kernel!.mmap(A, mmapArgs(room * 4096, { shared: true }))).toBeGreaterThan(0n);
  });

  it("a SysV segment is charged at shmget unless SHM_NORESERVE (ignored under overcommit=never), given back when destroyed", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0
spawn A
let c0 = meminfo.Committed_AS
A: id = shmget private 4M creat
expect meminfo.Committed_AS == c0 + 4M
A: nr = shmget private 4M creat noreserve
expect meminfo.Committed_AS == c0 + 4M
A: shmctl id rmid
expect meminfo.Committed_AS == c0
sysctl overcommit_memory=2
A: n2 = shmget private 4M creat noreserve
expect meminfo.Committed_AS == c0 + 4M
A: big = shmget private 60M creat
expect big == -12
`),
    ).toEqual([]);
  });

  it("a private writable device mapping keeps VM_ACCOUNT, as remap_pfn_range leaves it", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0
device buf size=64K
spawn A
let c0 = meminfo.Committed_AS
A: d = mmap 64K dev=buf
expect meminfo.Committed_AS == c0 + 64K
expect vm_flags(A, d) == "rd wr mr mw me pf io de ac dd sd"
A: munmap d 64K
expect meminfo.Committed_AS == c0
`),
    ).toEqual([]);
  });

  it("a refused request leaves __vm_enough_memory's warning in the kernel log, ten at most (pr_warn_ratelimited)", () => {
    const s = session("machine ram=64M swap=0 overcommit=never\nspawn A\nA: a = mmap 1G\nA: b = mmap 8M\n");
    const k = s.kernel!;
    const A = s.processes.get("A")!;
    const warns = () => k.view.log(0).filter((l) => l.startsWith("__vm_enough_memory"));
    expect(s.variables.get("a")).toBe(-12n);
    expect(warns()).toEqual([
      `__vm_enough_memory: pid: ${k.view.task(A).pid}, comm: A, bytes: 1073741824 not enough memory for the allocation`,
    ]);
    // a brk refused by the same check warns with its own size; the burst ends at ten
    for (let i = 0; i < 12; i++) expect(k.brk(A, 1n << 30n)).toBe(-12n);
    expect(warns().length).toBe(10);
    expect(warns()[1]).toMatch(/bytes: 1073741824 not enough memory/);
    // heuristic mode warns too (the same error path)
    const h = session("machine ram=64M swap=0\nspawn A\nA: a = mmap 1G\n");
    expect(h.kernel!.view.log(0).filter((l) => l.startsWith("__vm_enough_memory")).length).toBe(1);
  });

  it("sysctl's overcommit keys: errors with their position, the value read back", () => {
    const bad = session("machine ram=64M\n");
    let err: InputError | null = null;
    try {
      bad.feed("sysctl overcommit_memory=3", 4);
    } catch (e) {
      err = e as InputError;
    }
    expect(err).toBeInstanceOf(InputError);
    expect(err!.message).toMatch(/overcommit_memory=3: 0, 1 or 2 \(EINVAL\)/);
    // the value's column: "sysctl overcommit_memory=" is 25 characters
    expect(err!.where).toMatchObject({ line: 4, col: 26 });
    expect(() => new Session().feed("sysctl overcommit_memory=2 nr_hugepages=1", 1)).toThrow();
    const s = session("machine ram=64M\nx = sysctl overcommit_kbytes=4096 overcommit_memory=2\n");
    expect(s.variables.get("x")).toBe(2n);
    expect(s.kernel!.sysctlOvercommit({}).overcommit_kbytes).toBe(4096);
  });
});
