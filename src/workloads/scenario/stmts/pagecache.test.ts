import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { scenarioError } from "../testKit.ts";

const HEAD = "machine ram=64M\nfile f size=64K cached\nspawn A\n";

describe("mincore, fadvise, drop_caches, fsync, sync statements", () => {
  it("print the vector in groups of 16, the errno, the file's cached pages, the pages dropped", () => {
    const r = runScenario(
      `${HEAD}A: a = mmap 64K prot=r file=f\nA: fadvise f 8K 16K dontneed\nA: r = mincore a 64K\nA: mincore a+1 4K\nA: x = fadvise f 0 0 willneed\ndrop_caches 1\ndrop_caches 2\n`,
    );
    const out = (i: number) => r.statements[i].output.join("\n");
    expect(out(4)).toBe("0 (f: 12 of 16 pages cached)");
    expect(out(5)).toBe("r = 0 (16 pages, 12 resident: 1100001111111111)");
    expect(out(6)).toMatch(/^-22 \(EINVAL\)/);
    expect(out(7)).toBe("x = 0 (f: 16 of 16 pages cached)");
    expect(out(8)).toMatch(/^drop_caches 1: 16 pages dropped from the page cache; free \d+ pages$/);
    expect(out(9)).toMatch(/^drop_caches 2: no page cache dropped; free \d+ pages$/);
    expect(r.metrics.r).toBe("0");
  });

  it("print the pages fsync and sync wrote", () => {
    const r = runScenario(
      `${HEAD}A: a = mmap 64K shared file=f\nA: write a 8K value=3\nA: r = syscall fsync f\nA: write a 4K\nsync\nsync\n`,
    );
    const out = (i: number) => r.statements[i].output.join("\n");
    expect(out(5)).toBe("r = 0 (2 pages written)");
    expect(out(7)).toBe("sync: 1 page written back");
    expect(out(8)).toBe("sync: 0 pages written back");
    expect(r.metrics.r).toBe("0");
  });

  it("refuse bad input at its line and column", () => {
    expect(scenarioError(`${HEAD}A: r = syscall fsync g\n`)).toMatch(/^s\.vm:4:22: file 'g' does not exist/);
    expect(scenarioError(`${HEAD}A: r = syscall fsync f 4K\n`)).toMatch(/^s\.vm:4:24: syscall fsync FILE/);
    expect(scenarioError(`${HEAD}A: r = syscall sync f\n`)).toMatch(
      /^s\.vm:4:16: syscall read\|write FILE BUF SIZE/,
    );
    expect(scenarioError(`${HEAD}sync 1\n`)).toMatch(/^s\.vm:4:6: too many arguments to 'sync'/);
    expect(scenarioError("machine profile=windows\nsync\n")).toMatch(
      /^s\.vm:2:1: 'sync' is Linux's sync\(2\)/,
    );
    expect(scenarioError(`${HEAD}A: fadvise g 0 0 dontneed\n`)).toMatch(
      /^s\.vm:4:12: no file 'g' \(create it with 'file g size=\.\.\.'\)/,
    );
    expect(scenarioError(`${HEAD}A: fadvise f 0 0 forget\n`)).toMatch(
      /^s\.vm:4:18: unknown advice 'forget' \(normal, random/,
    );
    expect(scenarioError(`${HEAD}A: fadvise f 0 dontneed\n`)).toMatch(
      /^s\.vm:4:16: fadvise FILE OFFSET LEN ADVICE/,
    );
    expect(scenarioError(`${HEAD}A: mincore 0x1000\n`)).toMatch(
      /^s\.vm:4:\d+: 'mincore' needs an address and a size/,
    );
    expect(scenarioError(`${HEAD}drop_caches 5\n`)).toMatch(
      /^s\.vm:4:13: drop_caches takes 1 \(page cache\), 2 \(slab\), 3 \(both\) or 4/,
    );
    expect(scenarioError(`${HEAD}drop_caches\n`)).toMatch(/^s\.vm:4:\d+: 'drop_caches' needs a mode/);
    expect(scenarioError(`${HEAD}x = drop_caches 1\n`)).toMatch(
      /^s\.vm:4:1: 'drop_caches' returns nothing to assign/,
    );
    expect(scenarioError("machine ram=64M profile=windows\ndrop_caches 1\n")).toMatch(
      /^s\.vm:2:1: 'drop_caches' is Linux's/,
    );
  });
});
