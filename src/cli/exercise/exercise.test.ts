/** `vmlab exercise`: the problems' text is enough to check them with vmlab's own commands. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../base/errors.ts";
import { walkExerciseArches } from "../../workloads/exercise/walk.ts";
import { runPolicyCli } from "../policy.ts";
import { vmlab } from "../testkit.ts";
import { runWalk } from "../walk.ts";
import {
  runBuddyExercise,
  runCacheExercise,
  runFlushExercise,
  runIptExercise,
  runPolicyExercise,
  runScenarioExercise,
  runTablesExercise,
  runTlbExercise,
  runWalkExercise,
} from "./index.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "vmlab-exercise-"));

/** The questions of a walk problem, as its text states them. */
function questions(text: string) {
  const re = /^ {2}Q(\d+)\s+(read|write|exec)\s+(user|kernel)\s+\(--(\w+) (\S+)\)\s+va (0x[0-9a-f]+)$/gm;
  return [...text.matchAll(re)].map((m) => ({
    n: Number(m[1]),
    access: m[2],
    flag: m[4],
    value: m[5],
    va: m[6],
  }));
}

/** `--solve`'s one-line answers, by question number. */
function answers(text: string): Map<number, string> {
  return new Map([...text.matchAll(/^Q(\d+): (.*)$/gm)].map((m) => [Number(m[1]), m[2]]));
}

/** What `vmlab walk` says of a question over an image file: its outcome line. */
function walkOutcome(image: string, q: ReturnType<typeof questions>[number]): string {
  const r = runWalk({ image, va: [q.va], access: q.access, cpl: "3", [q.flag]: q.value, json: false });
  return r.text
    .split("\n")
    .at(-1)!
    .replace(/^\s*->\s*/, "");
}

describe("vmlab exercise walk", () => {
  it("--out's image, walked by vmlab walk, gives --solve's answers, on every architecture", () => {
    const dir = tmp();
    for (const arch of walkExerciseArches()) {
      const image = join(dir, `${arch}.json`);
      const text = runWalkExercise({ arch, seed: "3", n: "6", solve: true, out: image });
      expect(text).toContain(`The image is in ${image}.`);
      const qs = questions(text);
      const a = answers(text);
      expect(qs).toHaveLength(6);
      for (const q of qs) expect(walkOutcome(image, q), `${arch} Q${q.n}`).toBe(a.get(q.n));
    }
  });

  it("--granule 16K and 64K (arm64): --out's image, walked by vmlab walk, gives --solve's answers", () => {
    const dir = tmp();
    for (const granule of ["16K", "64K"]) {
      const image = join(dir, `arm64-${granule}.json`);
      const text = runWalkExercise({ arch: "arm64", granule, seed: "4", n: "8", solve: true, out: image });
      expect(readFileSync(image, "utf8")).toContain(`"tcr_el1.tg0": "${granule}"`);
      expect(text).toMatch(new RegExp(`\\(48-bit range, ${granule} granule\\)`));
      const a = answers(text);
      for (const q of questions(text)) expect(walkOutcome(image, q), `${granule} Q${q.n}`).toBe(a.get(q.n));
    }
    expect(() =>
      runWalkExercise({ arch: "x86_64", granule: "16K", seed: "1", n: "1", solve: false }),
    ).toThrow(/--granule 16K: arm64 only/);
    expect(() => runWalkExercise({ arch: "arm64", granule: "8K", seed: "1", n: "1", solve: false })).toThrow(
      /--granule must be 4K, 16K or 64K/,
    );
    // 4K is the default's exercise
    expect(runWalkExercise({ arch: "arm64", granule: "4K", seed: "2", n: "3", solve: true })).toBe(
      runWalkExercise({ arch: "arm64", seed: "2", n: "3", solve: true }),
    );
  });

  it("the image printed in the problem, saved as a file, gives the same answers", () => {
    const text = runWalkExercise({ arch: "arm64", seed: "9", n: "5", solve: true });
    const json = /^The image as `vmlab walk` reads it \(save it as walk\.json\):\n(\{\n[\s\S]*?\n\})$/m.exec(
      text,
    );
    expect(json).not.toBeNull();
    const image = join(tmp(), "walk.json");
    writeFileSync(image, json![1]);
    const a = answers(text);
    for (const q of questions(text)) expect(walkOutcome(image, q)).toBe(a.get(q.n));
  });

  it("the check command the problem prints runs as printed", () => {
    const dir = tmp();
    const image = join(dir, "img.json");
    const args = [
      "exercise",
      "walk",
      "--arch",
      "riscv-sv48",
      "-s",
      "12",
      "-n",
      "3",
      "--out",
      image,
      "--solve",
    ];
    const r = vmlab(args);
    expect(r.code, r.stderr).toBe(0);
    // the same seed prints the same problem and image again
    const again = vmlab(args);
    expect(again.stdout).toBe(r.stdout);
    const cmd = /^Check an answer: vmlab (walk .*)$/m.exec(r.stdout)![1].split(" ");
    const check = vmlab(cmd);
    expect(check.code, check.stderr).toBe(0);
    expect(
      check.stdout
        .trim()
        .split("\n")
        .at(-1)!
        .replace(/^\s*->\s*/, ""),
    ).toBe(answers(r.stdout).get(1));
  });
});

describe("vmlab exercise policy and tlb", () => {
  it("policy: --solve's table is vmlab policy's for the same string and frames", () => {
    for (const seed of ["1", "2", "3"]) {
      const text = runPolicyExercise({
        seed,
        n: "12",
        pages: "6",
        policy: "fifo,lru,opt,clock",
        solve: true,
      });
      const refs = /Reference string \(12 references\): ([\d ]+)$/m
        .exec(text)![1]
        .trim()
        .split(" ")
        .join(",");
      const frames = /^Frames: (\d+),/m.exec(text)![1];
      for (const policy of ["fifo", "lru", "opt", "clock"]) {
        const doc = JSON.parse(runPolicyCli({ refs, frames, policy, json: true, seed }));
        const block = new RegExp(`^${policy.toUpperCase()}:\\n([\\s\\S]*?)\\n\\n`, "m").exec(
          `${text}\n\n`,
        )![1];
        const rows = block.split("\n").slice(1, -1);
        expect(rows).toHaveLength(12);
        rows.forEach((row, t) => {
          const a = doc.accesses[t];
          expect(row).toContain(a.hit ? " hit " : " MISS ");
          if (a.victim !== null) expect(row.split(/\s+/)[4]).toBe(String(a.victim));
        });
        expect(block).toMatch(new RegExp(`  ${doc.hits} hits?, ${doc.misses} miss(es)? `));
      }
    }
  });

  it("tlb and policy: the same seed prints the same text, another seed another", () => {
    const tlb = (seed: string) =>
      runTlbExercise({ seed, n: "12", entries: "4", pages: "8", processes: "2", pcid: true, solve: true });
    expect(tlb("5")).toBe(tlb("5"));
    expect(tlb("6")).not.toBe(tlb("5"));
    const pol = (seed: string) =>
      runPolicyExercise({ seed, n: "12", pages: "7", policy: "lru", solve: false });
    expect(pol("5")).toBe(pol("5"));
    expect(pol("6")).not.toBe(pol("5"));
    expect(pol("5")).not.toContain("Answers:");
  });
});

describe("vmlab exercise scenario", () => {
  it("--out writes the scenario; vmlab run of it with --solve's answers as expects passes", () => {
    const file = join(tmp(), "ex.vm");
    const text = runScenarioExercise({ seed: "3", solve: true, out: file });
    const problem = readFileSync(file, "utf8");
    expect(text.startsWith(problem)).toBe(true);
    const values = answers(text);
    const exprs = new Map(
      [...text.matchAll(/^Q(\d+): \S+ {3}\((.*), after `/gm)].map((m) => [Number(m[1]), m[2]]),
    );
    const withExpects = problem.replace(/^# Q(\d+):.*$/gm, (_, n) => {
      const v = values.get(Number(n))!.split(" ")[0];
      return `expect ${exprs.get(Number(n))} == ${v}`;
    });
    const r = vmlab(["run", "-"], withExpects);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/(\d+) expectations: \1 passed, 0 failed/);
  });
});

/**
 * `vmlab exercise KIND ARGS --solve --out FILE`: the file written is the problem, which the
 * output starts with; the answers are what follows "Answers:".
 */
function solvedWithOut(kind: string, args: string[]): { problem: string; answers: string } {
  const file = join(tmp(), `${kind}.vm`);
  const text = vmlab(["exercise", kind, ...args, "--solve", "--out", file]);
  expect(text.code, text.stderr).toBe(0);
  const problem = readFileSync(file, "utf8");
  expect(text.stdout.startsWith(problem)).toBe(true);
  return { problem, answers: text.stdout.split("\nAnswers:\n")[1] };
}

describe("vmlab exercise flush", () => {
  it("--out writes the scenario; vmlab run of it with --solve's answers as expects passes", () => {
    const { problem, answers } = solvedWithOut("flush", ["-s", "8", "--arch", "arm64", "-n", "2"]);
    // each answer's per-CPU counts as expectations after its change: counters before it kept in lets
    const blocks = answers.split(/^Q\d+: after `.*`$/m).slice(1);
    let q = 0;
    const withExpects = problem.replace(/^(A: .*)\n# Q(\d+):.*$/gm, (_, change: string) => {
      const lines = blocks[q].trim().split("\n");
      const before: string[] = [];
      const after: string[] = [];
      for (const l of lines) {
        const m = /^cpu(\d+): (\d+) TLBI by VA, (\d+) full flush(?:es)?, (\d+) flush IPIs? received$/.exec(
          l.trim(),
        );
        if (m === null) continue;
        ["tlb.page_invalidations", "tlb.flushes", "shootdowns"].forEach((metric, j) => {
          before.push(`let v${q}_${m[1]}_${j} = ${metric}(cpu=${m[1]})`);
          after.push(`expect ${metric}(cpu=${m[1]}) == v${q}_${m[1]}_${j} + ${m[2 + j]}`);
        });
      }
      const b = /TLBI \.\.\.IS broadcast: (\d+)/.exec(blocks[q])![1];
      q++;
      return [
        ...before,
        `let bc${q} = tlb.broadcasts`,
        change,
        ...after,
        `expect tlb.broadcasts == bc${q} + ${b}`,
      ].join("\n");
    });
    expect(q).toBe(2);
    const r = vmlab(["run", "-"], withExpects);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/(\d+) expectations: \1 passed, 0 failed/);
    expect(runFlushExercise({ seed: "8", arch: "arm64", n: "2", solve: false })).toBe(problem);
  });
});

describe("vmlab exercise cache", () => {
  it("--out writes the scenario; vmlab run of it with --solve's hits and stale loads as expects passes", () => {
    const { problem, answers } = solvedWithOut("cache", ["-s", "12", "--kind", "vivt", "-n", "10"]);
    let q = 0;
    const withExpects = problem.replace(
      /^([AB]: (?:read|write) .*)\n# Q(\d+):.*$/gm,
      (_, access: string, n: string) => {
        const m = new RegExp(`^Q${n}: \`(.*)\`: set \\d+, (hit|miss)(; stale data)?`, "m").exec(answers);
        expect(m?.[1]).toBe(access);
        q++;
        return [
          `let h${q} = cache.hits`,
          `let s${q} = cache.stale_reads`,
          access,
          `expect cache.hits == h${q} + ${m![2] === "hit" ? 1 : 0}`,
          `expect cache.stale_reads == s${q} + ${m![3] === undefined ? 0 : 1}`,
        ].join("\n");
      },
    );
    expect(q).toBe(10);
    const r = vmlab(["run", "-"], withExpects);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/20 expectations: 20 passed, 0 failed/);
    expect(runCacheExercise({ seed: "12", kind: "vivt", n: "10", solve: false })).toBe(problem);
  });
});

describe("vmlab exercise buddy", () => {
  it("prints the problem, then with --solve the answers; the same seed gives the same problem", () => {
    const r = vmlab(["exercise", "buddy", "-s", "5", "-n", "6", "--frames", "32", "--solve"]);
    expect(r.code, r.stderr).toBe(0);
    const [problem, answers] = r.stdout.split("\nAnswers:\n");
    expect(runBuddyExercise({ seed: "5", n: "6", frames: "32", solve: false }).trimEnd()).toBe(
      problem.trimEnd(),
    );
    expect(problem).toContain("Memory: 32 page frames (pfn 0 to 31)");
    expect(answers.trim().split("\n").length).toBe(12); // an outcome and the free lists per operation
  });
});

describe("vmlab exercise tables", () => {
  it("prints the format and the regions, then with --solve three answers; --arch is required", () => {
    const r = vmlab(["exercise", "tables", "--arch", "riscv-sv39", "-s", "2", "--solve"]);
    expect(r.code, r.stderr).toBe(0);
    const [problem, answers] = r.stdout.split("\nAnswers:\n");
    expect(runTablesExercise({ arch: "riscv-sv39", seed: "2", solve: false }).trimEnd()).toBe(
      problem.trimEnd(),
    );
    expect(problem).toContain("3 levels from the root:");
    expect(answers.trim().split("\n")).toHaveLength(3);
    expect(answers).toMatch(/^1\. L2 1, L1 \d+, L0 \d+: \d+ tables, [\d,]+ bytes$/m);
    const bad = vmlab(["exercise", "tables"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/give --arch \(x86_64, /);
  });
});

describe("vmlab exercise eat", () => {
  it("prints the machine, times and references, then with --solve one line a reference and the EAT; bad flags exit 2", () => {
    const r = vmlab([
      "exercise",
      "eat",
      "--arch",
      "riscv-sv39",
      "-s",
      "3",
      "-n",
      "9",
      "--times",
      "20,100,5000",
      "--solve",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [problem, answers] = r.stdout.split("\nAnswers:\n");
    expect(problem).toContain("a 3-level walk (L2 -> L1 -> L0)");
    expect(answers.match(/^ +\d+\. (read |write) 0x1000[0-9a-f]{4} +(hit |miss) +lookups/gm)).toHaveLength(9);
    expect(answers).toMatch(/effective access time [\d.]+ ns a reference/);
    const bad = vmlab(["exercise", "eat", "--times", "20,100"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      "vmlab: --times takes three numbers of ns, t,m,f (e.g. 20,100,5000), not '20,100'",
    );
  });
});

describe("vmlab exercise ipt", () => {
  it("prints the table and the steps, then with --solve one answer a step; the same seed gives the same problem", () => {
    const r = vmlab(["exercise", "ipt", "-s", "9", "-n", "7", "--frames", "32", "--spaces", "3", "--solve"]);
    expect(r.code, r.stderr).toBe(0);
    const [problem, answers] = r.stdout.split("\nAnswers:\n");
    expect(runIptExercise({ seed: "9", n: "7", frames: "32", spaces: "3", solve: false }).trimEnd()).toBe(
      problem.trimEnd(),
    );
    expect(problem).toContain("Machine: 32 page frames of 4 KiB (pfn 0 to 31), 3 address spaces");
    expect(problem).toContain("HAT (32 slots");
    expect(answers.trim().split("\n").length).toBe(7);
  });
});

describe("vmlab exercise: flags", () => {
  it("refuses bad values with a message that names the flag", () => {
    const walk = { arch: "x86_64", seed: "1", n: "4", solve: false };
    const tlb = { seed: "1", n: "10", entries: "4", pages: "8", processes: "1", pcid: false, solve: false };
    const cases: [() => unknown, RegExp][] = [
      [() => runWalkExercise({ ...walk, arch: undefined }), /give --arch/],
      [() => runWalkExercise({ ...walk, arch: "teaching" }), /--arch must be x86_64/],
      [() => runWalkExercise({ ...walk, seed: "-1" }), /--seed must be an integer from 0/],
      [() => runWalkExercise({ ...walk, seed: "4294967296" }), /--seed/],
      [() => runWalkExercise({ ...walk, n: "0" }), /-n must be an integer from 1 to 100/],
      [() => runTlbExercise({ ...tlb, ways: "3" }), /--entries 4 \/ --ways 3/],
      [() => runTlbExercise({ ...tlb, ways: "8" }), /--ways must be an integer from 1 to 4/],
      [() => runTlbExercise({ ...tlb, pcid: true }), /--pcid needs --processes 2/],
      [() => runTlbExercise({ ...tlb, processes: "7" }), /--processes must be an integer from 1 to 6/],
      [() => runPolicyExercise({ seed: "1", n: "10", pages: "1", policy: "lru", solve: false }), /--pages/],
      [
        () => runPolicyExercise({ seed: "1", n: "10", pages: "5", frames: "0", policy: "lru", solve: false }),
        /--frames/,
      ],
      [() => runScenarioExercise({ seed: "1", arch: "vax", solve: false }), /--arch 'vax'/],
      [() => runFlushExercise({ seed: "1", arch: "vax", n: "2", solve: false }), /--arch 'vax'/],
      [() => runFlushExercise({ seed: "1", n: "9", solve: false }), /-n must be an integer from 1 to 8/],
      [
        () => runCacheExercise({ seed: "1", kind: "wt", n: "4", solve: false }),
        /--kind must be one of vivt, vipt, pipt/,
      ],
      [() => runCacheExercise({ seed: "1", n: "0", solve: false }), /-n must be an integer from 1 to 16/],
      [
        () => runBuddyExercise({ seed: "1", n: "5", frames: "48", solve: false }),
        /--frames must be a power of two/,
      ],
      [
        () => runBuddyExercise({ seed: "1", n: "5", frames: "2048", solve: false }),
        /--frames must be an integer from 16 to 1024/,
      ],
      [() => runWalkExercise({ ...walk, out: "/nonexistent-dir/x.json" }), /--out: cannot write/],
      [
        () => runIptExercise({ seed: "1", n: "5", frames: "4", spaces: "2", solve: false }),
        /--frames must be an integer from 8 to 64/,
      ],
      [
        () => runIptExercise({ seed: "1", n: "5", frames: "16", spaces: "5", solve: false }),
        /--spaces must be an integer from 1 to 4/,
      ],
    ];
    for (const [f, msg] of cases) {
      expect(f).toThrow(InputError);
      expect(f).toThrow(msg);
    }
  });

  it("exits 2 with one line on stderr, no stack trace; --help for each; vmlab --help lists it", () => {
    const bad = vmlab(["exercise", "tlb", "--entries", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("vmlab: --entries must be an integer from 1 to 64, not 'x'");
    const unknown = vmlab(["exercise", "policy", "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    const help = vmlab(["exercise", "--help"]);
    expect(help.code).toBe(0);
    for (const c of [
      "walk",
      "tables",
      "tlb",
      "eat",
      "policy",
      "buddy",
      "kmem",
      "ipt",
      "scenario",
      "flush",
      "cache",
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    const walkHelp = vmlab(["exercise", "walk", "--help"]);
    expect(walkHelp.stdout).toContain("--solve");
    expect(walkHelp.stdout).toContain("riscv-sv57");
    expect(vmlab(["--help"]).stdout).toMatch(/^ {2}exercise /m);
  });
});
