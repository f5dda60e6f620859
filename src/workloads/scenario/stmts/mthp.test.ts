/**
 * The `mthp SIZE MODE` statement (hugepages-<size>kB/enabled, mm/mthp.ts):
 * a write fault then maps a whole folio, `show thp` and the
 * thp.hugepages_<size>_<stat> metrics show its counters, and the sizes are
 * checked (compile time: a size and a mode; run time: a power of two from
 * 16K to the PMD size of the machine's architecture).
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../../base/errors.ts";
import { runScenario } from "../session.ts";

describe("mthp statement", () => {
  for (const arch of ["x86_64", "arm64", "i386"])
    it(`enables a size on ${arch}: one write fault maps its folio; show thp and the metrics count it`, () => {
      const r = runScenario(
        `machine arch=${arch} ram=128M thp=never\nmthp 32K always\nspawn A\nA: a = mmap 128K at=0x40000000\nA: write a+4K\nexpect A.rss == 8\nexpect thp.hugepages_32kB_anon_fault_alloc == 1\nexpect thp.hugepages_32kB_nr_anon == 1\nA: fork B\nB: write a+8K\nexpect rss(B, a 32K) == 8\nshow thp\n`,
        { checkInvariants: true },
      );
      expect(r.failed).toBe(0);
      expect(r.statements.flatMap((st) => st.output).filter((l) => l.startsWith("mthp:"))).toEqual([
        "mthp: hugepages-32kB/enabled = always",
      ]);
      const show = r.statements.at(-1)!.output.join("\n");
      expect(show).toMatch(/hugepages-32kB\/enabled\s+always/);
      expect(show).toMatch(/hugepages-32kB\/stats\/anon_fault_alloc\s+1/);
      expect(show).not.toMatch(/hugepages-64kB/); // a size left at never that counted nothing is not shown
    });

  it("the PMD size is the largest: 4M exists on i386 (2-level), not on x86-64; 2M never turns PMD THPs off", () => {
    expect(runScenario("machine arch=i386 ram=128M\nmthp 4M never\n").failed).toBe(0);
    expect(() => runScenario("machine arch=x86_64 ram=128M\nmthp 4M always\n")).toThrow(/no hugepages/);
    const r = runScenario(
      "machine ram=128M thp=always\nmthp 2M never\nspawn A\nA: a = mmap 4M\nA: write a 4M\nexpect anon_huge(A, a 4M) == 0\n",
    );
    expect(r.failed).toBe(0);
  });

  it("refuses what is not SIZE MODE pairs", () => {
    expect(() => runScenario("mthp 64K\n")).toThrow(InputError);
    expect(() => runScenario("mthp 64K sometimes\n")).toThrow(/never, always, madvise, inherit/);
    expect(() => runScenario("mthp 48K always\n")).toThrow(/power of two/);
    expect(() => runScenario("mthp 8K always\n")).toThrow(/power of two/);
  });
});
