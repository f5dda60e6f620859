import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/base/errors.ts";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { expectationFailures } from "../rerunKit.ts";

/**
 * The Windows examples (docs/windows.md). Those written for x64 that touch
 * only low user addresses hold on x86 too (with and without PAE: the same
 * memory manager, its rules do not depend on the page-table format); the
 * split examples are their machine's own. Also what the runner prints for
 * Windows' exceptions and system calls.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const PORTABLE = [
  "null-page.vm",
  "reserve-commit.vm",
  "guard-page.vm",
  "working-set.vm",
  "paged-pool.vm",
  "shared-section.vm",
  "thread-stack.vm",
  "working-set-limit.vm",
  "debugger-views.vm",
  "section-paging.vm",
  "sec-reserve.vm",
  "view-protect.vm",
  "lock-reset-watch.vm",
  "placeholder-ring-buffer.vm",
];
/** What cannot hold on one of them, and why. */
const NOT_PORTABLE: Record<string, string> = {
  "guard-page.vm i386":
    "DEP: 32-bit paging has no XD bit, so a fetch from a read-write page succeeds (Windows needs PAE for NX)",
};

describe("the x64 Windows examples rerun on x86 (invariant checker on)", () => {
  for (const f of PORTABLE)
    for (const arch of ["i386", "i386-pae"]) {
      const reason = NOT_PORTABLE[`${f} ${arch}`];
      it(`${f} on ${arch}${reason ? ` fails: ${reason}` : ""}`, () => {
        const src = readFileSync(join(ROOT, "examples/windows", f), "utf8");
        expect(src).toMatch(/^machine arch=x86_64 profile=windows /m);
        const failures = expectationFailures(src.replace("arch=x86_64", `arch=${arch}`), f);
        if (reason) expect(failures.join("\n")).toMatch(/exception_rw == 8: got 1/);
        else expect(failures).toEqual([]);
      });
    }
});

describe("what the runner prints in the windows profile", () => {
  const run = (body: string, machine = "machine arch=x86_64 profile=windows ram=64M") =>
    runScenario(`${machine}\n${body}`, { checkInvariants: true });

  it("an unhandled access violation terminates the process with its code and address", () => {
    const r = run("spawn A\nA: a = VirtualAlloc 64K reserve\nA: write a+0x10\nexpect A.alive == 0\n");
    expect(r.statements[3].output.at(-1)).toBe(
      "exception 0xC0000005 STATUS_ACCESS_VIOLATION: write of 0x10010; unhandled: A terminated (exit code 0xC0000005)",
    );
    expect(r.failed).toBe(0);
  });

  it("sections, views and thread stacks print what they made; bad forms are errors at their line and column", () => {
    const r = run(
      "spawn A\nA: s = CreateFileMapping 8K\nA: v = MapViewOfFile s copy\nA: n = VirtualQuery v\nA: x = MapViewOfFile s write offset=4K\nA: t = CreateThread stack=64K\nA: w = SetProcessWorkingSetSize 4K 8K\nshow A maps\n",
    );
    // show P maps: the regions VirtualQuery reports, KUSER_SHARED_DATA among them
    expect(r.statements[8].output).toEqual([
      "start      end (excl)  pages  State        Protect                     Type         AllocationBase",
      "0x00010000 0x00012000      2  MEM_COMMIT   PAGE_WRITECOPY              MEM_MAPPED   0x00010000",
      "0x00020000 0x0002e000     14  MEM_RESERVE  -                           MEM_PRIVATE  0x00020000",
      "0x0002e000 0x0002f000      1  MEM_COMMIT   PAGE_READWRITE|PAGE_GUARD   MEM_PRIVATE  0x00020000",
      "0x0002f000 0x00030000      1  MEM_COMMIT   PAGE_READWRITE              MEM_PRIVATE  0x00020000",
      "0x7ffe0000 0x7ffe1000      1  MEM_COMMIT   PAGE_READONLY               MEM_PRIVATE  0x7ffe0000",
    ]);
    expect(r.statements[2].output.at(-1)).toBe(
      "s = 64 (section handle; 2 pages backed by the paging file; commit charge 3 pages)",
    );
    expect(r.statements[3].output.at(-1)).toBe(
      "v = 0x10000 (a view of 2 pages, MEM_MAPPED PAGE_WRITECOPY; commit charge 5 pages)",
    );
    expect(r.statements[4].output.at(-1)).toMatch(/Protect PAGE_WRITECOPY, Type MEM_MAPPED$/);
    expect(r.statements[5].output.at(-1)).toBe("x = 0 (NULL: GetLastError 1132 ERROR_MAPPED_ALIGNMENT)");
    expect(r.statements[6].output.at(-1)).toMatch(
      /^t = 0x30000 \(StackBase; StackLimit 0x2f000, guard page 0x2e000, DeallocationStack 0x20000\)$/,
    );
    expect(r.statements[7].output.at(-1)).toBe("w = 0 (FALSE: GetLastError 87 ERROR_INVALID_PARAMETER)");
    const where = (body: string) => {
      try {
        run(body);
      } catch (e) {
        return e instanceof InputError ? `${e.where?.line}:${e.where?.col}: ${e.message}` : String(e);
      }
      return "no error";
    };
    expect(where("spawn A\nA: s = CreateFileMapping 8K\nA: MapViewOfFile s read\n")).toMatch(
      /^4:4: MapViewOfFile returns an address/,
    );
    expect(where("spawn A\nA: s = CreateFileMapping 8K\nA: v = MapViewOfFile s readwrite\n")).toMatch(
      /^4:24: the access is read, write or copy/,
    );
    expect(() => run("spawn A\nA: s = CreateFileMapping 8K image\n")).toThrow(
      /image section needs file=NAME/,
    );
    expect(() => run("spawn A\nA: s = CreateFileMapping 8K\n", "machine ram=64M")).toThrow(
      /'CreateFileMapping' is the windows profile's/,
    );
  });

  it("VirtualQuery prints MEMORY_BASIC_INFORMATION; a failure prints GetLastError by name", () => {
    const r = run(
      "spawn A\nA: a = VirtualAlloc 64K reserve\nA: c = VirtualAlloc 8K commit at=a+4K prot=r\nA: n = VirtualQuery a+4K\nA: f = VirtualFree a 4K release\n",
    );
    expect(r.statements[4].output).toEqual([
      "n = 48 (sizeof MEMORY_BASIC_INFORMATION)",
      "BaseAddress 0x11000, AllocationBase 0x10000, AllocationProtect PAGE_READWRITE, RegionSize 0x2000 (2 pages), State MEM_COMMIT, Protect PAGE_READONLY, Type MEM_PRIVATE",
    ]);
    expect(r.statements[5].output).toEqual(["f = 0 (FALSE: GetLastError 87 ERROR_INVALID_PARAMETER)"]);
  });

  it("VirtualProtect of a view prints the old protection; show P maps splits the view by protection; explain names it", () => {
    const r = run(
      "spawn A\nA: s = CreateFileMapping 16K\nA: v = MapViewOfFile s write\nA: p = VirtualProtect v+4K 4K prot=writecopy\nA: q = VirtualProtect v 4K prot=rwx\nshow A maps\nexplain A v+4K write\n",
    );
    expect(r.statements[4].output).toEqual(["p = 1 (old protection PAGE_READWRITE)"]);
    // PAGE_EXECUTE_READWRITE is not within a FILE_MAP_WRITE view (STATUS_SECTION_PROTECTION)
    expect(r.statements[5].output).toEqual(["q = 0 (FALSE: GetLastError 87 ERROR_INVALID_PARAMETER)"]);
    expect(r.statements[6].output.slice(1, 4)).toEqual([
      "0x00010000 0x00011000      1  MEM_COMMIT   PAGE_READWRITE              MEM_MAPPED   0x00010000",
      "0x00011000 0x00012000      1  MEM_COMMIT   PAGE_WRITECOPY              MEM_MAPPED   0x00010000",
      "0x00012000 0x00014000      2  MEM_COMMIT   PAGE_READWRITE              MEM_MAPPED   0x00010000",
    ]);
    expect(r.statements[7].output.join(" ")).toMatch(
      /MiResolveProtoPteFault: .* PAGE_WRITECOPY; the write then makes a private copy/,
    );
  });

  it("explain says what MmAccessFault would do, changing nothing", () => {
    const r = run(
      "spawn A\nA: a = VirtualAlloc 64K reserve\nA: c = VirtualAlloc 4K commit at=a prot=r\nexplain A a write\nexplain A a read\nexplain A a+4K read\nexplain A 0x80000000 read\nexpect present(A, a) == 0\n",
    );
    const last = (i: number) => r.statements[i].output.at(-1);
    expect(last(4)).toBe(
      "  MiAccessCheck: VAD 0x10000-0x20000: PAGE_READONLY does not allow a write: STATUS_ACCESS_VIOLATION (0xC0000005), ExceptionInformation 1, 0x10000",
    );
    expect(last(5)).toMatch(
      /MiResolveDemandZeroFault: VAD 0x10000-0x20000: committed PAGE_READONLY, no frame yet/,
    );
    expect(last(6)).toMatch(/the page is reserved, not committed: STATUS_ACCESS_VIOLATION/);
    expect(last(7)).toMatch(/no VAD contains the address/);
    expect(r.failed).toBe(0);
  });

  it("show P vad lists the reservations as WinDbg's !vad: level, VPNs, commit, type, protection", () => {
    const r = run(
      "spawn A\nA: a = VirtualAlloc 64K reserve+commit prot=rw+nocache\nA: b = VirtualAlloc 1M reserve\nshow A vad\n",
    );
    expect(r.statements[4].output).toEqual([
      "VAD               Level     Start       End Commit",
      "-                     0        10        1f     16 Private      READWRITE NOCACHE",
      "-                     1        20       11f      0 Private      READWRITE",
      "",
      "Total VADs: 2, average level: 1, maximum depth: 2",
    ]);
  });

  it("refuses Linux's calls in the windows profile, and Windows' in the Linux one, at their line", () => {
    expect(() => run("spawn A\nA: m = mmap 4K\n")).toThrow(
      /^'mmap' is Linux's; the windows profile has VirtualAlloc/,
    );
    expect(() => run("spawn A\nA: fork B\n")).toThrow(/'fork' is Linux's/);
    expect(() => run("spawn A\nA: a = VirtualAlloc 4K commit\n", "machine ram=64M")).toThrow(
      /'VirtualAlloc' is the windows profile's \(machine profile=windows\)/,
    );
    expect(() => run("spawn A\nexpect A.last_error == 0\n", "machine ram=64M")).toThrow(
      /last_error is the windows profile's/,
    );
    expect(() => run("spawn A\nA: a = VirtualAlloc 4K commit prot=w\n")).toThrow(
      /Windows has no write-only protection/,
    );
  });

  it("show layout puts the user/system split before the kernel's own mappings", () => {
    const r = run("show layout\n", "machine arch=i386 profile=windows ram=64M");
    expect(r.statements[1].output.slice(0, 7)).toEqual([
      "windows x86 (2G/2G, system space from 0x80000000):",
      "  0x0 - 0xffff  never mapped (below MM_LOWEST_USER_ADDRESS)",
      "  0x10000 - 0x7ffdffff  user space VADs may cover",
      "  0x7ffe0000 - 0x7ffeffff  the system's (KUSER_SHARED_DATA; MM_HIGHEST_USER_ADDRESS 0x7ffeffff)",
      "  0x7fff0000 - 0x7fffffff  no access (from MM_USER_PROBE_ADDRESS)",
      "  0x80000000 -  system space (MmSystemRangeStart)",
      "  0x80000000 - 0x83ffffff  system code: large pages over the first physical memory (NTOSKRNL, HAL, boot drivers)",
    ]);
  });

  it("VirtualLock, MEM_RESET and GetWriteWatch print what they did; bad forms are errors at their line", () => {
    const r = run(
      "spawn A\nA: a = VirtualAlloc 64K reserve+commit+write_watch\nA: l = VirtualLock a 8K\nA: m = VirtualLock a 200K\n" +
        "A: write a+4K\nA: r = VirtualAlloc 4K reset at=a+1\nA: n = GetWriteWatch a 64K count=1\nA: z = ResetWriteWatch a 64K\n",
    );
    expect(r.statements[3].output).toEqual(["l = 1 (locked; 2 pages locked, working set 2 pages)"]);
    expect(r.statements[4].output).toEqual([
      "m = 0 (FALSE: GetLastError 1453 ERROR_WORKING_SET_QUOTA; 2 pages locked, working set 2 pages)",
    ]);
    // [a + 1, a + 4K + 1): no whole page
    expect(r.statements[6].output).toEqual(["r = 0 (NULL: GetLastError 487 ERROR_INVALID_ADDRESS)"]);
    expect(r.statements[7].output).toEqual(["n = 1 (1 page written; granularity 4096)", "0x11000"]);
    expect(r.statements[8].output).toEqual(["z = 0 (write tracking reset)"]);
    expect(r.failed).toBe(0);
    const bad = (body: string) => () => run(`spawn A\n${body}`);
    expect(bad("A: VirtualAlloc 4K reset")).toThrow(/reset needs at=ADDR/);
    expect(bad("A: VirtualAlloc 4K reserve+bogus at=0x10000")).toThrow(/the allocation type joins/);
    expect(bad("A: VirtualAlloc 4K reserve+reserve at=0x10000")).toThrow(/the allocation type joins/);
    // MEM_RESET with another flag is NtAllocateVirtualMemory's STATUS_INVALID_PARAMETER_5, not a line error
    expect(
      run("spawn A\nA: r = VirtualAlloc 4K reserve+reset at=0x10000\n").statements.at(-1)!.output,
    ).toContain("r = 0 (NULL: GetLastError 87 ERROR_INVALID_PARAMETER)");
    expect(bad("A: GetWriteWatch 0x10000 4K clear")).toThrow(/expected 'reset', not 'clear'/);
    expect(bad("A: VirtualLock 0x10000")).toThrow(/an address and a size/);
  });

  it("the effective settings: split and pagefile only on a windows machine, split as written", () => {
    expect(run("", "machine arch=i386 ram=64M").machine).not.toHaveProperty("split");
    expect(run("", "machine arch=i386 ram=64M").machine).not.toHaveProperty("pagefile");
    expect(run("", "machine arch=i386 profile=windows split=3G ram=64M").machine).toMatchObject({
      profile: "windows",
      split: "3G",
      pagefile: "0",
    });
  });

  it("machine keys: profile=windows on x86 only, split on 32-bit windows only", () => {
    const bad = (m: string) => () => run("spawn A\n", m);
    expect(bad("machine arch=arm64 profile=windows")).toThrow(/windows runs on x86_64, i386, i386-pae/);
    expect(bad("machine arch=x86_64 profile=windows split=3G")).toThrow(/split: is 32-bit x86's/);
    expect(bad("machine arch=i386 split=3G")).toThrow(/split: is the windows profile's/);
    expect(bad("machine arch=i386 profile=windows split=1G")).toThrow(/split: expected 2G or 3G/);
    expect(bad("machine profile=windows pagefile=5000")).toThrow(/pagefile: must be a multiple of 4K/);
    expect(bad("machine profile=linux pagefile=4K")).toThrow(/pagefile: is the windows profile's/);
  });
});
