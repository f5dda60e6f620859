import { describe, expect, it } from "vitest";
import { InputError } from "../../base/errors.ts";
import { parseImage } from "../pagetableImage.ts";
import { generateWalkExercise, solveWalk, walkExerciseArches, walkProblem } from "./walk.ts";

type Report = Record<string, unknown> & { ok: boolean };

describe("exercise walk: the generator", () => {
  it("covers every architecture vmlab walk reads", () => {
    const arches = walkExerciseArches();
    for (const a of [
      "x86_64",
      "x86_64-la57",
      "i386",
      "i386-pae",
      "arm64",
      "riscv-sv39",
      "riscv-sv48",
      "riscv-sv57",
    ])
      expect(arches).toContain(a);
    for (const arch of arches) {
      const ex = generateWalkExercise({ arch, seed: 11, count: 4 });
      // the image reads back under vmlab walk's reader, as the arch it says
      expect(parseImage(ex.imageText).arch).toBe(arch);
      expect(ex.questions).toHaveLength(4);
    }
  });

  it("gives the same problem for the same seed, another for another seed", () => {
    for (const arch of walkExerciseArches()) {
      const a = walkProblem(generateWalkExercise({ arch, seed: 42, count: 6 }), null).join("\n");
      const b = walkProblem(generateWalkExercise({ arch, seed: 42, count: 6 }), null).join("\n");
      const c = walkProblem(generateWalkExercise({ arch, seed: 43, count: 6 }), null).join("\n");
      expect(a).toBe(b);
      expect(c).not.toBe(a);
    }
  });

  it("lists in the problem every non-zero entry the image holds, with its value", () => {
    const ex = generateWalkExercise({ arch: "i386", seed: 5, count: 3 });
    const doc = JSON.parse(ex.imageText) as { memory: { pa: string; hex: string }[] };
    const text = walkProblem(ex, null).join("\n");
    expect(doc.memory.length).toBe(ex.entries.length);
    for (const m of doc.memory) {
      // little-endian bytes as stored: the value the problem shows is them reversed
      const value = m.hex.match(/../g)!.reverse().join("");
      expect(text).toContain(`0x${Number(m.pa).toString(16).padStart(8, "0")}: 0x${value}`);
    }
  });

  it("answers agree with the access asked: offsets kept, fault codes for the access and privilege", () => {
    let oks = 0;
    let faults = 0;
    for (const arch of walkExerciseArches())
      for (const seed of [1, 2, 3]) {
        const ex = generateWalkExercise({ arch, seed, count: 8 });
        const { reports } = solveWalk(ex);
        ex.questions.forEach((q, i) => {
          const r = reports[i] as Report;
          if (r.ok) {
            oks++;
            // a translation keeps the offset in the 4 KiB page
            expect(BigInt(r.pa as string) & 0xfffn).toBe(q.va & 0xfffn);
            return;
          }
          faults++;
          if (arch.startsWith("x86") || arch.startsWith("i386")) {
            const code = r.errorCode as number;
            expect(r.fault).toBe("#PF");
            expect((code >> 1) & 1).toBe(q.access === "write" ? 1 : 0); // W/R
            expect((code >> 2) & 1).toBe(q.who === "user" ? 1 : 0); // U/S
            expect(BigInt(r.cr2 as string)).toBe(q.va);
          } else if (arch === "arm64") {
            const esr = Number(r.esr);
            const ec = esr >>> 26;
            // Arm ARM D17: instruction abort 0x20/0x21, data abort 0x24/0x25 (lower EL / same EL)
            expect(ec).toBe((q.access === "exec" ? 0x20 : 0x24) + (q.who === "kernel" ? 1 : 0));
            if (q.access !== "exec") expect((esr >>> 6) & 1).toBe(q.access === "write" ? 1 : 0); // WnR
            expect(BigInt(r.far as string)).toBe(q.va);
          } else {
            expect(r.scause).toBe({ exec: 12, read: 13, write: 15 }[q.access]);
            expect(BigInt(r.stval as string)).toBe(q.va);
          }
        });
      }
    // both kinds of answer occur
    expect(oks).toBeGreaterThan(20);
    expect(faults).toBeGreaterThan(20);
  });

  it("refuses an architecture vmlab walk does not read", () => {
    expect(() => generateWalkExercise({ arch: "teaching", seed: 1, count: 1 })).toThrow(InputError);
    expect(() => generateWalkExercise({ arch: "vax", seed: 1, count: 1 })).toThrow(/--arch must be x86_64/);
  });
});
