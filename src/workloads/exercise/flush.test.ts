import { describe, expect, it } from "vitest";
import { runScenario } from "../scenario/session.ts";
import { type FlushExercise, flushProblem, generateFlushExercise, solveFlush } from "./flush.ts";

/** An exercise of chosen changes: `machine` as given, A on cpu0 and a thread of A on each other CPU. */
function chosen(machine: string, cpus: number, changes: string[], last: "" | "lazy" = ""): FlushExercise {
  const setup = [machine, "spawn A", "A: buf = mmap 8M", "A: write buf 8M"];
  for (let c = 1; c < cpus; c++) setup.push(`A: thread T${c}`, `switch T${c} cpu=${c}`, `T${c}: read buf 8M`);
  if (last === "lazy") setup.push("kthread K", `switch K cpu=${cpus - 1}`);
  const arch = /arch=(\S+)/.exec(machine)?.[1] ?? "x86_64";
  return { seed: 0, arch, cpus, setup, changes: changes.map((text) => ({ text })), cpuStory: [] };
}

describe("exercise flush", () => {
  it("gives the same problem for the same seed, another for another; the problem runs as it is", () => {
    const text = (seed: number, arch: string | null) =>
      flushProblem(generateFlushExercise({ seed, arch, count: 3 })).join("\n");
    expect(text(4, null)).toBe(text(4, null));
    expect(text(5, null)).not.toBe(text(4, null));
    for (const arch of [null, "arm64", "riscv-sv48", "i386-pae"]) {
      const r = runScenario(`${text(11, arch)}\n`, { file: "flush.vm", checkInvariants: true });
      expect(r.halted).toBeNull();
      expect(r.statements.at(-1)?.text).toMatch(/^A: (munmap|mprotect|madvise) /);
    }
  });

  it("x86-64: INVLPG up to tlb_single_page_flush_ceiling (33) pages, then a full flush; an IPI to each thread's CPU, none to a lazy one", () => {
    const ex = chosen(
      "machine ram=128M cpus=3 pcid=on",
      3,
      ["A: mprotect buf 33p prot=r", "A: mprotect buf+1M 34p prot=r"],
      "lazy",
    );
    const [a33, a34] = solveFlush(ex).values;
    expect(a33.perCpu).toEqual([
      [33, 0, 0],
      [33, 0, 1],
      [0, 0, 0],
    ]);
    expect(a34.perCpu).toEqual([
      [0, 1, 0],
      [0, 1, 1],
      [0, 0, 0],
    ]);
  });

  it("arm64: TLBI by VA per page below MAX_DVM_OPS, ASIDE1IS at 512, range TLBIs with tlbi_range=on; broadcast, no IPIs", () => {
    const off = solveFlush(
      chosen("machine ram=128M cpus=2 arch=arm64 tlbi_range=off", 2, [
        "A: mprotect buf 511p prot=r",
        "A: mprotect buf+2M 512p prot=r",
      ]),
    ).values;
    expect(off.map((a) => [a.perCpu, a.broadcasts])).toEqual([
      [
        [
          [511, 0, 0],
          [511, 0, 0],
        ],
        511,
      ],
      [
        [
          [0, 1, 0],
          [0, 1, 0],
        ],
        1,
      ],
    ]);
    const on = solveFlush(
      chosen("machine ram=128M cpus=2 arch=arm64 tlbi_range=on", 2, [
        "A: mprotect buf 300p prot=r",
        "A: mprotect buf+2M 512p prot=r",
      ]),
    ).values;
    // 300 = 256 + 44: two range TLBIs; 512: one
    expect(on.map((a) => [a.perCpu, a.broadcasts])).toEqual([
      [
        [
          [2, 0, 0],
          [2, 0, 0],
        ],
        2,
      ],
      [
        [
          [1, 0, 0],
          [1, 0, 0],
        ],
        1,
      ],
    ]);
  });

  it("RISC-V: SFENCE.VMA per page up to 64 pages, then the whole ASID (IPIs); through SBI, OpenSBI's one-page limit", () => {
    const ipi = solveFlush(
      chosen("machine ram=128M cpus=2 arch=riscv-sv39 rfence=ipi", 2, [
        "A: mprotect buf 64p prot=r",
        "A: mprotect buf+1M 65p prot=r",
      ]),
    ).values;
    expect(ipi.map((a) => [a.perCpu, a.sbiFences])).toEqual([
      [
        [
          [64, 0, 0],
          [64, 0, 1],
        ],
        0,
      ],
      [
        [
          [0, 1, 0],
          [0, 1, 1],
        ],
        0,
      ],
    ]);
    // one sbi_remote_sfence_vma_asid call each; OpenSBI fences a page, or the whole ASID above 4 KiB
    const sbi = solveFlush(
      chosen("machine ram=128M cpus=2 arch=riscv-sv39 rfence=sbi", 2, [
        "A: mprotect buf 1p prot=r",
        "A: mprotect buf+1M 2p prot=r",
      ]),
    ).values;
    expect(sbi.map((a) => [a.perCpu, a.sbiFences])).toEqual([
      [
        [
          [1, 0, 0],
          [1, 0, 1],
        ],
        1,
      ],
      [
        [
          [0, 1, 0],
          [0, 1, 1],
        ],
        1,
      ],
    ]);
  });

  it("--solve answers each change per CPU in the architecture's words, then the rule", () => {
    const ex = generateFlushExercise({ seed: 3, arch: "arm64", count: 2 });
    const { answers, values } = solveFlush(ex);
    expect(values).toHaveLength(2);
    expect(answers.filter((l) => /^Q\d: after `A: /.test(l))).toHaveLength(2);
    expect(
      answers.filter((l) =>
        /^ {2}cpu\d: \d+ TLBI by VA, \d+ full flush(es)?, \d+ flush IPIs? received$/.test(l),
      ),
    ).toHaveLength(2 * ex.cpus);
    expect(answers.join("\n")).toMatch(/MAX_DVM_OPS \(512\)/);
  });

  it("refuses an arch the machine statement does not know, and a count out of range", () => {
    expect(() => generateFlushExercise({ seed: 1, arch: "vax", count: 2 })).toThrow(
      /--arch 'vax'.*expected one of/,
    );
    expect(() => generateFlushExercise({ seed: 1, arch: null, count: 0 })).toThrow(/-n must be 1 to 8/);
  });
});
