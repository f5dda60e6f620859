import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { scenarioError } from "../testKit.ts";

const HEAD = "machine ram=64M\nfile f size=64K\nspawn A\nA: buf = mmap 64K\n";

describe("open and syscall read with offset= (read(2), pread(2) and readahead)", () => {
  it("reads at offset 0 without open, at the position after open, at offset= as pread", () => {
    const r = runScenario(
      `${HEAD}A: a = syscall read f buf 4K\nA: b = syscall read f buf 4K\nA: open f\nA: c = syscall read f buf 60K\nA: d = syscall read f buf 8K\nA: e = syscall read f buf 8K offset=60K\nA: g = syscall read f buf 4K offset=64K\n`,
    );
    const out = (i: number) => r.statements[i].output.join("\n");
    // the first read at page 0: a 4-page window; the second is at offset 0 too (no open)
    expect(out(4)).toMatch(/^a = 4096 \(.*; f: 4 of 16 pages cached\)$/);
    expect(out(5)).toMatch(/^b = 4096 \(.*; f: 4 of 16 pages cached\)$/);
    expect(out(6)).toBe("open f: position 0, readahead state reset");
    expect(out(7)).toMatch(/^c = 61440 \(.*; f: 16 of 16 pages cached\)$/);
    // at the position, 60K: 4K left before EOF
    expect(out(8)).toMatch(/^d = 4096 /);
    expect(out(9)).toMatch(/^e = 4096 /);
    expect(out(10)).toMatch(/^g = 0 /);
  });

  it("fork shares the parent's struct file (the child's read advances it); close drops it, EBADF the second time", () => {
    const r = runScenario(
      `${HEAD}A: open f\nA: a = syscall read f buf 8K\nA: fork B\nB: b = syscall read f buf 4K\nA: c = syscall read f buf 64K\nB: close f\nB: close f\nB: d = syscall read f buf 4K\n`,
    );
    const out = (i: number) => r.statements[i].output.at(-1); // after any context-switch line
    expect(out(5)).toMatch(/^a = 8192 /);
    expect(out(7)).toMatch(/^b = 4096 /);
    // A's position is 12K: the child read 8K..12K through the same struct file
    expect(out(8)).toMatch(/^c = 53248 /);
    expect(out(9)).toBe("close f: 0");
    expect(out(10)).toBe("close f: -9 (EBADF)");
    // after close, an implicit struct file: offset 0 (the file is 64K)
    expect(out(11)).toMatch(/^d = 4096 /);
  });

  it("refuse bad input at its line and column", () => {
    expect(scenarioError(`${HEAD}A: x = close f\n`)).toMatch(/^s\.vm:5:4: 'close' returns nothing/);
    expect(scenarioError(`${HEAD}A: open g\n`)).toMatch(/^s\.vm:5:9: no file 'g'/);
    expect(scenarioError(`${HEAD}A: open f f\n`)).toMatch(/^s\.vm:5:11: open FILE/);
    expect(scenarioError(`${HEAD}A: syscall read f buf 4K at=4K\n`)).toMatch(/^s\.vm:5:\d+: .*at/);
  });
});
