import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/base/errors.ts";
import { vmlab } from "../src/cli/testkit.ts";
import { formatWithCaret } from "../src/workloads/scenario/lang/parser.ts";
import { runScenario } from "../src/workloads/scenario/session.ts";
import { exampleFiles } from "./exampleFiles.ts";

const ROOT = resolve(import.meta.dirname, "..");

describe("example scenarios (invariant checker on)", () => {
  const files = exampleFiles(join(ROOT, "examples"));
  it("exist", () => expect(files.length).toBeGreaterThanOrEqual(6));
  for (const f of files) {
    const name = relative(ROOT, f);
    it(`${name}: every expectation holds`, () => {
      const r = runScenario(readFileSync(f, "utf8"), { file: name, checkInvariants: true });
      const failed = r.expectations.filter((e) => !e.ok).map((e) => `${e.line}: ${e.text}: got ${e.actual}`);
      expect(failed).toEqual([]);
      expect(r.expectations.length).toBeGreaterThan(0);
      expect(r.exitCode).toBe(0);
    });
  }
});

describe("scenario results", () => {
  it("prints Linux's oops for a NULL dereference and keeps going", () => {
    const r = runScenario("machine ram=64M\nkernel: read 0\nexpect oops == 1\n");
    expect(r.statements[1].output.slice(0, 4)).toEqual([
      "BUG: kernel NULL pointer dereference, address: 0000000000000000",
      "#PF: supervisor read access in kernel mode",
      "#PF: error_code(0x0000) - not-present page",
      "PGD 0 P4D 0",
    ]);
    expect(r.failed).toBe(0);
  });

  it("counts a failed expectation, runs on, and exits 1", () => {
    const r = runScenario(
      "machine ram=64M\nexpect oops == 1\nkernel: a = kmalloc 8\nexpect a == 0\nexpect a != 0\n",
    );
    expect(r.failed).toBe(2);
    expect(r.passed).toBe(1);
    expect(r.exitCode).toBe(1);
    expect(r.expectations[0]).toMatchObject({ line: 2, ok: false, actual: "0", expected: "== 1" });
  });

  it("reports a double kfree as a kernel BUG, in the current task's context", () => {
    const r = runScenario(
      "machine ram=64M\nkernel: a = kmalloc 100\nkernel: kfree a\nkernel: kfree a\nexpect oops == 1\n",
    );
    expect(r.statements[3].output[0]).toMatch(/^kfree: double free of 0xffff8880/);
    expect(r.statements[3].output[1]).toBe("kernel BUG at mm/slub.c!");
    expect(r.failed).toBe(0);
  });

  it("halts at a panic, and says so", () => {
    const r = runScenario("machine ram=64M panic_on_oops=1\nkernel: read 0\nexpect oops == 5\n");
    expect(r.halted).toBe("Kernel panic - not syncing: Fatal exception");
    expect(r.expectations).toHaveLength(0);
  });

  it("gives the same output on every run", () => {
    const src = readFileSync(join(ROOT, "examples/kernel/vmalloc-scatter.vm"), "utf8");
    expect(JSON.stringify(runScenario(src))).toBe(JSON.stringify(runScenario(src)));
  });

  it("reads hyphenated KEY=VALUE words (arch=x86_64-la57, uaccess=pan-toggle), while '-' in an expression still subtracts", () => {
    const la57 = runScenario(
      "machine arch=x86_64-la57 ram=64M\nspawn A\nA: b = mmap 16K\nA: c = mmap 4K at=b-8K\nexpect c == b-8K\nexpect table(A, b, pml5) != 0\n",
    );
    expect(la57.failed).toBe(0);
    expect(la57.passed).toBe(2);
    const arm = runScenario(
      "machine arch=arm64 uaccess=pan-toggle ram=64M\nspawn A\nA: b = mmap 4K\nA: write b value=9\nkernel: n = copy_from_user A b 1\nexpect n == 0\n",
    );
    expect(arm.failed).toBe(0);
    expect(arm.passed).toBe(1);
  });

  it("kernel: stac/clac (x86) and kernel: pan on|off (arm64) open and close plain kernel access to user pages", () => {
    for (const [arch, open, close] of [
      ["x86_64", "stac", "clac"],
      ["arm64", "pan off", "pan on"],
    ] as const) {
      const r = runScenario(
        `machine arch=${arch} ram=64M\nspawn A\nA: b = mmap 4K\nA: write b value=7\nkernel: ${open}\nkernel: read b\nkernel: ${close}\nkernel: read b\n`,
      );
      const out = r.statements.map((x) => x.output.join("\n"));
      expect(out[5], `${arch}: read with the guard open`).toMatch(/byte 0x07/);
      expect(out[7], `${arch}: read with the guard closed`).toMatch(
        arch === "arm64"
          ? /Unable to handle kernel access to user memory/
          : /BUG: unable to handle page fault|SMAP/,
      );
    }
    expect(() => runScenario("machine arch=arm64 ram=64M\nkernel: stac\n")).toThrow(/'stac' is x86's/);
    expect(() => runScenario("machine ram=64M\nkernel: pan off\n")).toThrow(/'pan' is arm64's/);
  });

  it("table(P, ADDR, LEVEL) takes the architecture's level names and Linux's, folded levels answering the level they fold into", () => {
    const arm = runScenario(
      "machine arch=arm64 ram=64M\nspawn A\nA: b = mmap 4K\nA: write b\nexpect table(A, b, l0) == table(A, b, pgd)\nexpect table(A, b, p4d) == table(A, b, pgd)\nexpect table(A, b, l1) == table(A, b, pud)\nexpect table(A, b, l2) == table(A, b, pmd)\nexpect table(A, b, l3) == table(A, b, pte)\nexpect table(A, b, l0) != table(A, b, l3)\n",
    );
    expect([arm.passed, arm.failed]).toEqual([6, 0]);
    const x86 = runScenario(
      "machine ram=64M\nspawn A\nA: b = mmap 4K\nA: write b\nexpect table(A, b, pgd) == table(A, b, pml4)\nexpect table(A, b, p4d) == table(A, b, pml4)\nexpect table(A, b, pte) == table(A, b, pt)\n",
    );
    expect([x86.passed, x86.failed]).toEqual([3, 0]);
    expect(() => runScenario("machine ram=64M\nspawn A\nexpect table(A, 0x1000, l0) == 0\n")).toThrow(
      /x86_64 has no level 'l0'/,
    );
    expect(() =>
      runScenario("machine arch=arm64 ram=64M\nspawn A\nexpect table(A, 0x1000, pml4) == 0\n"),
    ).toThrow(/arm64 has no level 'pml4'/);
  });

  it("oops_esr (arm64) and oops_error_code (x86) give the last oops's hardware code", () => {
    const arm = runScenario(
      "machine arch=arm64 ram=64M\nspawn A\nA: b = mmap 4K\nA: write b\nexpect oops_esr == -1\nkernel: read b\nexpect oops_esr == 0x9600000f\nkernel: write 0\nexpect oops_esr == 0x96000044\n",
    );
    // a level-3 permission fault on a read under PAN (DABT current EL, IL); then a NULL write: a level 0 translation fault (nothing mapped in its 512 GiB), WnR
    expect([arm.passed, arm.failed]).toEqual([3, 0]);
    const x86 = runScenario(
      "machine ram=64M\nspawn A\nA: b = mmap 4K\nA: write b\nkernel: read b\nexpect oops_error_code == 1\nkernel: write 0x1000\nexpect oops_error_code == 2\n",
    );
    expect([x86.passed, x86.failed]).toEqual([2, 0]);
    expect(() => runScenario("machine ram=64M\nexpect oops_esr == 0\n")).toThrow(/oops_esr is arm64's/);
  });

  it("check_tlb=on prints each stale TLB use under the statement that made it, counted in tlb.stale_uses", () => {
    const src = readFileSync(join(ROOT, "examples/kernel/use-after-vfree.vm"), "utf8");
    const r = runScenario(src, { file: "use-after-vfree.vm" });
    expect(r.failed).toBe(0);
    const read = r.statements.find((s) => s.text === "kernel: read v")!;
    expect(read.output[1]).toBe(
      "checker: stale TLB entry used on cpu0 for 0xffffc90000000000 (PCID 0, global): translation cached, but memory has none (not present or reserved bit)",
    );
    expect(read.output.at(-1)).toMatch(/^checker: {3}missing: INVLPG 0xffffc90000000000 /);
    // without the checker: the same read, nothing reported
    const off = runScenario(
      src.replace(" check_tlb=on", "").replace(/expect tlb.stale_uses == 1/, "expect tlb.stale_uses == 0"),
    );
    expect(off.failed).toBe(0);
    expect(off.statements.find((s) => s.text === "kernel: read v")!.output).toHaveLength(1);
  });

  it("compares metrics with metrics plus integers, and symbols", () => {
    const r = runScenario(
      "machine ram=64M\nkernel: k = kmalloc 8K\nexpect pfn(kernel, k+4K) == pfn(kernel, k) + 1\nlet m = meminfo.MemFree\nkernel: j = kmalloc 4K\nexpect meminfo.MemFree <= m - 4K\nexpect table(kernel, k, pml4) == table(kernel, j, pml4)\n",
    );
    expect(r.failed).toBe(0);
  });
});

describe("invalid scenarios: FILE:LINE:COL, the line, a caret; nothing runs", () => {
  const cases: [string, string, RegExp][] = [
    ["unknown statement", "machine ram=64M\nfrobnicate 3\n", /^t\.vm:2:1: unknown statement 'frobnicate'/],
    ["bad size suffix", "machine ram=64M\nkernel: a = kmalloc 4Q\n", /^t\.vm:2:22: unknown size suffix 'Q'/],
    ["undefined variable", "machine ram=64M\nkernel: kfree nope\n", /^t\.vm:2:15: undefined variable 'nope'/],
    [
      "variable used before it is set",
      "machine ram=64M\nkernel: kfree a\nkernel: a = kmalloc 8\n",
      /^t\.vm:2:15: undefined variable 'a'/,
    ],
    [
      "process that does not exist",
      "machine ram=64M\nA: read 0x1000\n",
      /^t\.vm:2:1: process 'A' does not exist$/m,
    ],
    [
      "machine not first",
      "kernel: a = kmalloc 8\nmachine ram=64M\n",
      /^t\.vm:2:1: 'machine' must come before/,
    ],
    ["unknown machine key", "machine rams=64M\n", /^t\.vm:1:9: unknown machine key 'rams'/],
    ["machine too small", "machine ram=16M\n", /^t\.vm:1:13: machine ram: .*too small/],
    [
      "ram not a page multiple",
      "machine ram=65537\n",
      /^t\.vm:1:13: machine ram: must be a positive multiple of the 4 KiB page size/,
    ],
    [
      "negative size",
      "machine ram=64M\nkernel: a = kmalloc -5\n",
      /^t\.vm:2:21: a size or address cannot be negative/,
    ],
    [
      "huge number",
      "machine ram=64M\nkernel: a = kmalloc 99999999999999999999999\n",
      /^t\.vm:2:21: number .* does not fit in 64 bits/,
    ],
    [
      "bad option",
      "machine ram=64M\nkernel: a = kmalloc 8 gfp=whenever\n",
      /^t\.vm:2:27: gfp= must be kernel, atomic/,
    ],
    [
      "order above max",
      "machine ram=64M\nkernel: a = alloc_pages order=11\n",
      /^t\.vm:2:31: alloc_pages: order 11 is above MAX_PAGE_ORDER/,
    ],
    ["missing comparison", "machine ram=64M\nexpect oops 1\n", /^t\.vm:2:13: expected a comparison/],
    [
      "user range wrapping",
      "spawn A\nA: read 0xfffffffffffff000 8K\n",
      /^t\.vm:2:9: the range wraps past the end of the address space/,
    ],
    ["device twice", "device d size=4K\ndevice d size=4K\n", /^t\.vm:2:8: device 'd' already exists/],
    ["device too big", "device d size=8M\n", /^t\.vm:1:15: size=8388608: a device buffer is 1 \.\. 4M/],
    [
      "mmap of a missing device",
      "spawn A\nA: a = mmap 4K dev=nope\n",
      /^t\.vm:2:20: device 'nope' does not exist/,
    ],
    ["file twice", "file f size=4K\nfile f size=8K\n", /^t\.vm:2:6: file 'f' already exists/],
    ["file without size", "file f\n", /^t\.vm:1:1: file needs size=SIZE/],
    ["file on a bad fs", "file f size=4K fs=ntfs\n", /^t\.vm:1:19: fs= is disk or tmpfs/],
    [
      "folios above the PMD size",
      "file f size=4K folio=4M\n",
      /^t\.vm:1:22: folio=4194304: above mapping_max_folio_order \(the PMD size, 2048K, here\)/,
    ],
    [
      "folio not a power of two",
      "file f size=4K folio=12K\n",
      /^t\.vm:1:22: folio=12288: a folio is a power of two/,
    ],
    [
      "tmpfs folios",
      "file f size=4K fs=tmpfs folio=64K\n",
      /^t\.vm:1:31: tmpfs folio sizes follow shmem_enabled/,
    ],
    [
      "mmap of a missing file",
      "spawn A\nA: a = mmap 4K file=nope\n",
      /^t\.vm:2:21: file 'nope' does not exist/,
    ],
    ["offset without file", "spawn A\nA: a = mmap 4K offset=4K\n", /^t\.vm:2:16: offset= needs file=NAME/],
    [
      "anon and file",
      "file f size=4K\nspawn A\nA: a = mmap 4K anon file=f\n",
      /^t\.vm:3:21: anon or file=, not both/,
    ],
    [
      "cached of a missing file",
      "expect cached(g) == 0\n",
      /^t\.vm:1:15: cached: the first argument is a file name/,
    ],
    [
      "fault_around too large",
      "machine fault_around=4M\n",
      /^t\.vm:1:22: machine fault_around: must be 0 \.\. 2M/,
    ],
    ["kernel verb without prefix", "machine ram=64M\nkmalloc 8\n", /^t\.vm:2:1: 'kmalloc' needs a prefix/],
    [
      "a process's system call without its process",
      "machine ram=64M\nVirtualAlloc 4K\n",
      /^t\.vm:2:1: 'VirtualAlloc' is a process's statement: 'P: VirtualAlloc \.\.\.'/,
    ],
    ["bad character", "machine ram=64M\nkernel: a = kmalloc 8 ;\n", /^t\.vm:2:23: unexpected character ';'/],
    ["bad TLB spec", "machine tlb=65x4\n", /^t\.vm:1:13: machine tlb: .*not a multiple of 4 ways/],
    [
      "bad TLB spec in two levels",
      "machine tlb=64x4,1536x11\n",
      /^t\.vm:1:13: machine tlb: .*not a multiple of 11 ways/,
    ],
    [
      "CPU that does not exist",
      "machine ram=64M cpus=2\nkernel@2: read 0xffff888000000000\n",
      /^t\.vm:2:1: CPU 2 does not exist/,
    ],
    [
      "pcid= on i386",
      "machine arch=i386 pcid=on\n",
      /^t\.vm:1:\d+: machine pcid: PCIDs exist only in IA-32e mode/,
    ],
    [
      "a 64-bit address on i386",
      "machine arch=i386 ram=64M\nspawn A\nA: read 0x7fff00000000\n",
      /^t\.vm:3:9: the address 0x7fff00000000 does not fit in i386's 32-bit address space/,
    ],
    [
      "a 64-bit address in a metric on i386",
      "machine arch=i386 ram=64M\nspawn A\nexpect pfn(A, 0xffff888000000000) == 0\n",
      /^t\.vm:3:15: the address 0xffff888000000000 does not fit in i386's 32-bit address space/,
    ],
    [
      "vmalloc_sync= on PAE",
      "machine arch=i386-pae vmalloc_sync=lazy\n",
      /^t\.vm:1:\d+: machine vmalloc_sync: is 32-bit x86's without PAE/,
    ],
    [
      "a hyphenated arch vmlab does not know (one word, 1.2's lexical addition)",
      "machine arch=riscv-sv64\n",
      /^t\.vm:1:14: machine arch: expected one of .*, not 'riscv-sv64'/,
    ],
    ["uaccess= on x86", "machine uaccess=pan-toggle\n", /^t\.vm:1:\d+: .*uaccess.*is arm64's/],
  ];
  for (const [what, src, want] of cases) {
    it(what, () => {
      const msg = invalidMessage(src);
      expect(msg).toMatch(want);
      const [, line, col] = /^t\.vm:(\d+):(\d+)/.exec(msg)!;
      const lines = msg.split("\n");
      expect(lines[1]).toBe(`  ${src.split("\n")[Number(line) - 1]}`);
      expect(lines[2]).toBe(`  ${" ".repeat(Number(col) - 1)}^`);
    });
  }

  it("runs nothing before reporting a later invalid line (vmlab run: exit 2, no statement output)", () => {
    const r = vmlab(["run", "-"], "machine ram=64M\nkernel: read 0\nbogus\n");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^-:3:1: unknown statement 'bogus'\n {2}bogus\n {2}\^\n$/);
  });
});

describe("vmlab run", () => {
  it("exits 0, 1 and 2, and prints JSON with --json", () => {
    expect(vmlab(["run", "examples/kernel/null-deref.vm"]).code).toBe(0);
    const fail = vmlab(["run", "-"], "machine ram=64M\nexpect oops == 3\n");
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/-:2: expect oops == 3: expected == 3, got 0/);
    expect(vmlab(["run", "nope.vm"]).code).toBe(2);
    const j = vmlab(["run", "examples/kernel/kmalloc-contiguous.vm", "--json"]);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc.passed).toBe(doc.expectations.length);
    expect(doc.machine.ram).toBe("268435456");
    expect(doc.statements[0].output[0]).toMatch(/^booted: 256 MiB RAM/);
  });

  it("prints the machine defaults with --verbose and every walk step with --trace", () => {
    const v = vmlab(["run", "examples/kernel/null-deref.vm", "--verbose"]);
    expect(v.stdout).toMatch(/tlb {12}= skylake {4}\[skylake\]/);
    const t = vmlab(["run", "-", "--trace"], "machine ram=64M\nkernel: read 0xffff888000001000\n");
    expect(t.stdout).toMatch(/trace: cpu0 TLB miss vpn 0x888000001 read/);
    expect(t.stdout).toMatch(/trace: cpu0 {3}walk PT \[1\] entry @0x/);
  });
});

describe("invalid process statements", () => {
  const cases: [string, string, RegExp][] = [
    [
      "a process used before spawn",
      "machine ram=64M\nA: b = mmap 4K\nspawn A\n",
      /^t\.vm:2:1: process 'A' does not exist/,
    ],
    [
      "a kernel thread mapping memory",
      "machine ram=64M\nkthread K\nK: b = mmap 4K\n",
      /^t\.vm:3:1: 'K' is a kernel thread/,
    ],
    [
      "mmap without a variable",
      "machine ram=64M\nspawn A\nA: mmap 4K\n",
      /^t\.vm:3:4: mmap returns an address/,
    ],
    [
      "a bad prot",
      "machine ram=64M\nspawn A\nA: b = mmap 4K prot=rwz\n",
      /^t\.vm:3:21: prot= is none or letters/,
    ],
    [
      "an unknown mmap flag",
      "machine ram=64M\nspawn A\nA: b = mmap 4K bogus\n",
      /^t\.vm:3:16: unknown mmap flag 'bogus'/,
    ],
    [
      "fixed without at=",
      "machine ram=64M\nspawn A\nA: b = mmap 4K fixed\n",
      /^t\.vm:3:8: fixed needs at=ADDR/,
    ],
    [
      "an unknown advice",
      "machine ram=64M\nspawn A\nA: b = mmap 4K\nA: madvise b 4K sometimes\n",
      /^t\.vm:4:17: unknown advice 'sometimes'/,
    ],
    ["a name given twice", "machine ram=64M\nspawn A\nspawn A\n", /^t\.vm:3:7: 'A' already exists/],
    [
      "catch of another signal",
      "machine ram=64M\nspawn A\nA: catch SIGINT\n",
      /^t\.vm:3:10: catch SIGSEGV or catch SIGBUS/,
    ],
    [
      "an unknown process metric",
      "machine ram=64M\nspawn A\nexpect A.rsss == 0\n",
      /^t\.vm:3:8: unknown process metric 'rsss'/,
    ],
    [
      "a replay of a file that is not there",
      'machine ram=64M\nspawn A\nA: replay "no-such.u64"\n',
      /^t\.vm:3:11: no-such\.u64: no such file/,
    ],
    [
      "a replay of a trace cut short",
      'machine ram=64M\nspawn A\nA: m = mmap 8K at=0x10000000 fixed\nA: replay "test/fixtures/cut.u64"\n',
      /^t\.vm:4:11: test\/fixtures\/cut\.u64 \(byte offset 16\): truncated: 3 bytes/,
    ],
    [
      "an unterminated quoted word",
      'machine ram=64M\nspawn A\nA: replay "x.u64\n',
      /^t\.vm:3:11: unterminated quoted word/,
    ],
    [
      "to= without maymove",
      "machine ram=64M\nspawn A\nA: b = mmap 4K\nA: c = mremap b 4K 8K to=0x100000\n",
      /^t\.vm:4:23: to= needs maymove/,
    ],
  ];
  for (const [what, src, want] of cases) {
    it(what, () => {
      expect(invalidMessage(src)).toMatch(want);
    });
  }

  it("a statement by a process that has died is an error at its line (exit 2), after the lines before it ran", () => {
    const r = vmlab(["run", "-"], "machine ram=64M\nspawn A\nA: read 0x10\nA: read 0x20\n");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^-:4:1: process 'A' is dead \(SIGSEGV\)/);
  });
});

/** The FILE:LINE:COL report (with the line and a caret) of a scenario that must be rejected before it runs. */
function invalidMessage(src: string): string {
  let err: unknown;
  try {
    runScenario(src, { file: "t.vm" });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  return formatWithCaret(err as InputError, src.split("\n"));
}
