import { describe, expect, it } from "vitest";
import { KernelImpl as Kernel } from "../../kernel/KernelImpl.ts";
import { mmapArgs } from "../../kernel/mm/userMm.ts";
import { holds, runHolds, scenarioError } from "./testKit.ts";

/** process_madvise(2) (mm/madvise.c, Linux 6.12) from the scenario language. */
const SETUP = ["machine ram=64M swap=64M", "spawn A", "spawn B", "A: a = mmap 64K", "A: write a 64K value=3"];

describe("process_madvise", () => {
  it("pages out another process's ranges, one iovec after another: the bytes advised, the pages come back from swap", () => {
    runHolds([
      ...SETUP,
      "B: n = syscall process_madvise A a 16K a+32K 16K pageout",
      "expect n == 32768",
      "expect A.rss == 8",
      "A: read a 64K",
      "expect A.maj_flt > 0",
      "expect A.rss == 16",
      "expect byte(A, a+36K) == 3",
    ]);
  });

  it("stops at the first iovec that fails, returning the bytes before it; the first failing returns its error", () => {
    runHolds([
      ...SETUP,
      // a+1M is unmapped: MADV_COLD's -ENOMEM ends the walk after the first iovec
      "B: s = syscall process_madvise A a 4K a+1M 4K a+8K 4K cold",
      "expect s == 4096",
      "B: e = syscall process_madvise A a+1M 4K a 4K cold",
      "expect e == -12",
      // an unaligned address: do_madvise's -EINVAL
      "B: u = syscall process_madvise A a+1 4K cold",
      "expect u == -22",
      // an empty iovec after the first is stepped over (iov_iter_iovec_advance), its address unchecked;
      // the first is do_madvise's, an unaligned one -EINVAL
      "B: k = syscall process_madvise A a 4K a+1 0 a+8K 4K cold",
      "expect k == 8192",
      "B: j = syscall process_madvise A a+1 0 a 4K cold",
      "expect j == -22",
      // no iovec at all, or only empty ones: 0
      "B: z = syscall process_madvise A a 0 cold",
      "expect z == 0",
    ]);
  });

  it("allows the non-destructive hints only, flags 0 only", () => {
    for (const [advice, ret] of [
      ["cold", 4096],
      ["willneed", 4096],
      ["pageout", 4096],
      ["dontneed", -22],
      ["free", -22],
      ["hugepage", -22],
    ] as const)
      holds(
        `${SETUP.join("\n")}\nB: r = syscall process_madvise A a 4K ${advice}\nexpect r == ${ret}\n`,
        advice,
      );
    holds(`${SETUP.join("\n")}\nB: r = syscall process_madvise A a 4K cold flags=1\nexpect r == -22\n`);
  });

  it("permission: ptrace read access (-EACCES), then CAP_SYS_NICE for another mm (-EPERM); its own mm needs neither", () => {
    runHolds([
      ...SETUP,
      "B: setuid 1000",
      "B: p = syscall process_madvise A a 4K cold",
      "expect p == -13",
      "A: setuid 1000",
      "B: q = syscall process_madvise A a 4K cold",
      "expect q == -1",
      "A: s = syscall process_madvise A a 4K cold",
      "expect s == 4096",
    ]);
  });

  it("an iovec past the caller's TASK_SIZE_MAX is import_iovec's -EFAULT, before the target is looked at", () => {
    runHolds([
      ...SETUP,
      // access_ok over each iovec (lib/iov_iter.c __import_iovec), even an empty one, before ESRCH/EINVAL/EPERM
      "B: f = syscall process_madvise A a 4K 0xffff800000000000 4K cold",
      "expect f == -14",
      "B: g = syscall process_madvise A 0x7ffffffff000 0x2000 dontneed",
      "expect g == -14",
      "B: h = syscall process_madvise A a 4K 0xffff800000000000 0 pageout",
      "expect h == -14",
      "expect A.rss == 16",
      // an iovec ending at the last user page passes access_ok (here the top of the stack)
      "B: m = syscall process_madvise A 0x7fffffffe000 4K cold",
      "expect m == 4096",
    ]);
  });

  it("bad statements are errors at their word", () => {
    expect(scenarioError(`${SETUP.join("\n")}\nB: r = syscall process_madvise Z a 4K cold\n`)).toMatch(
      /s\.vm:6:32: .*Q is a process/,
    );
    expect(scenarioError(`${SETUP.join("\n")}\nB: r = syscall process_madvise A a 4K\n`)).toMatch(
      /ranges as ADDR SIZE pairs, the advice last/,
    );
  });
});

describe("process_madvise through the library", () => {
  it("a target that has exited is -ESRCH, before the advice is looked at", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const a = k.spawn("A")!;
    const b = k.spawn("B")!;
    const addr = BigInt(k.mmap(a, mmapArgs(4096)));
    expect(k.processMadvise(b, a, [{ addr, len: 4096n }], "cold")).toBe(4096n);
    k.exit(a, "exit");
    expect(k.processMadvise(b, a, [{ addr, len: 4096n }], "cold")).toBe(-3n);
    expect(k.processMadvise(b, a, [{ addr, len: 4096n }], "dontneed")).toBe(-3n);
  });
});
