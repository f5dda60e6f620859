import { describe, expect, it } from "vitest";
import { InputError } from "../../src/base/errors.ts";
import { runScenario } from "../../src/workloads/scenario/session.ts";

/** The runner's words for the Windows profile's paging and kernel statements (docs/windows.md). */
const run = (body: string, machine = "machine arch=x86_64 profile=windows ram=64M pagefile=16M") =>
  runScenario(`${machine}\n${body}`, { checkInvariants: true });

describe("what the runner prints for trims, pools, IRQL and bug checks", () => {
  it("trim says how many pages went to which list; pageout names the writer and the repurposed pages", () => {
    const r = run("spawn A\nA: a = VirtualAlloc 8K reserve+commit\nA: write a 8K\ntrim A\ntrim A pageout\n");
    expect(r.statements[4].output[0]).toBe(
      "A's working set: 2 pages trimmed (transition PTEs: 0 to standby, 2 to modified)",
    );
    expect(r.statements[5].output[1]).toBe(
      "modified page writer: 2 pages written to the paging file; 2 standby pages repurposed (paging-file PTEs left behind)",
    );
  });

  it("a kernel read names its hard fault; at DISPATCH_LEVEL the STOP line and the four parameters", () => {
    const r = run(
      "kernel: p = pool_alloc paged 64\ntrim kernel pageout\nkernel: read p\ntrim kernel pageout\nkernel: irql dispatch\nkernel: write p\nexpect bugcheck_arg3 == 1\n",
    );
    expect(r.statements[3].output[0]).toMatch(
      /^read 1 page: pa 0x[0-9a-f]+, byte 0x00, 1 hard fault \(read from the paging file\)$/,
    );
    const stop = r.statements[6].output;
    expect(stop[0]).toMatch(
      /^\*\*\* STOP: 0x0000000A \(0xFFFFC9000000001\d,0x0000000000000002,0x0000000000000001,0xFFFFFFFF80000000\)$/,
    );
    expect(stop[1]).toBe("IRQL_NOT_LESS_OR_EQUAL");
    expect(stop).toHaveLength(6);
    expect(r.failed).toBe(0);
  });

  it("refuses with the line and column: paged pool at DISPATCH_LEVEL, a bad pool_free, Windows words on Linux", () => {
    let err: unknown = null;
    try {
      run("kernel: irql dispatch\nkernel: p = pool_alloc paged 64\n");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).format()).toMatch(
      /:3:\d+: ExAllocatePoolWithTag\(PagedPool\) at DISPATCH_LEVEL/,
    );
    expect(() => run("kernel: pool_free 0x1234\n")).toThrow(/not the address of a live pool allocation/);
    expect(() => run("kernel: p = pool_alloc paged 64\n", "machine ram=64M")).toThrow(
      /'pool_alloc' is the windows profile's/,
    );
    expect(() => run("trim kernel\n", "machine ram=64M")).toThrow(/'trim' is the windows profile's/);
    expect(() => run("expect bugcheck == 0\n", "machine ram=64M")).toThrow(
      /bugcheck is the windows profile's/,
    );
    expect(() => run("trim B\n")).toThrow(/process 'B' does not exist/);
    expect(() => run("kernel: irql high\n")).toThrow(/irql passive\|apc\|dispatch/);
  });
});
