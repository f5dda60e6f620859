/**
 * The stepper the browser view runs: step N reached by a fresh run is the
 * state reached step by step (going back is exact), the entries a
 * statement changed are the ones whose raw value moved, and errors carry
 * their line and column.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../base/errors.ts";
import { Stepper } from "./stepper.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const read = (p: string) => readFileSync(join(ROOT, "examples", p), "utf8");

/** Everything the panels read, as one string. */
function fingerprint(s: Stepper): string {
  const v = s.session.kernel!.view;
  const trees = v
    .tasks()
    .filter((t) => t.alive && t.hasMm)
    .map((t) => v.pageTables(v.taskHandle(t.pid)!));
  const data = {
    tasks: v.tasks(),
    trees,
    tlbs: v.cpus().map((c) => v.tlb(c.id)),
    frames: v.frames(),
    figures: s.history,
    out: s.results,
    changed: [...s.changedEntries()].sort(),
  };
  return JSON.stringify(data, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
}

describe("Stepper", () => {
  it("reaches every step by a fresh run exactly as step by step (back is exact)", () => {
    const src = read("process/cow-fork.vm");
    const live = new Stepper(src, "cow-fork.vm");
    const seen = [fingerprint(live)];
    while (live.step()) seen.push(fingerprint(live));
    expect(live.done).toBe(live.statements.length);
    expect(new Set(seen).size).toBeGreaterThan(live.statements.length / 2);
    for (let n = 0; n <= live.done; n++)
      expect(fingerprint(Stepper.at(src, n, "cow-fork.vm")), `step ${n}`).toBe(seen[n]);
  });

  it("marks the entries a write filled, and none after an expect", () => {
    const s = new Stepper("spawn A\nA: b = mmap 16K\nA: write b 8K\nexpect A.rss == 2\n");
    s.step();
    s.step();
    expect(s.changedEntries().size).toBe(0);
    s.step();
    const v = s.session.kernel!.view;
    const a = s.session.processes.get("A")!;
    const b = s.session.variables.get("b")!;
    const ptes = [b, b + 4096n].map((va) => v.walk(a, va).entries.at(-1)!.entryPa);
    const changed = s.changedEntries();
    for (const pa of ptes) expect(changed.has(pa)).toBe(true);
    // the third page was not touched
    expect(changed.has(ptes[0] + 16)).toBe(false);
    s.step();
    expect(s.changedEntries().size).toBe(0);
    expect(s.finished).toBe(true);
  });

  it("refuses an invalid scenario with its line and column, and stops at a statement that fails as it runs", () => {
    expect(() => new Stepper("spawn A\nA: write nowhere\n")).toThrow(InputError);
    try {
      new Stepper("spawn A\nA: write nowhere\n");
    } catch (e) {
      expect((e as InputError).where?.line).toBe(2);
      expect((e as InputError).where?.col).toBeGreaterThan(1);
    }
    const s = Stepper.at(
      'spawn A\nA: n = replay "no-such-trace.u64"\nspawn B\n',
      9,
      join(ROOT, "examples", "x.vm"),
    );
    expect(s.done).toBe(1);
    expect(s.error?.line).toBe(2);
    expect(s.finished).toBe(true);
    expect(s.step()).toBe(false);
  });
});
