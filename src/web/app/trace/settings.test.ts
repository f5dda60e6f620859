/**
 * The trace form against `vmlab trace`: the run the page makes of a form is
 * the run the CLI makes of the command line the page shows for it (parsed by
 * commander with the CLI's own option declarations), and a bad field is
 * refused with the CLI's words.
 */
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { parseCurves, parseSamplers, type TraceCliOptions } from "../../../analysis/trace/flags.ts";
import { addTraceOptions, parseReplay } from "../../../cli/trace/options.ts";
import { cliCommand, cliFlags, DEFAULT_FORM, runOf, type TraceForm } from "./settings.ts";

/** What `vmlab trace FILE FLAGS` runs (main.ts's trace command, without its action). */
function cliRun(flags: string[]) {
  const cmd = addTraceOptions(
    new Command("trace").argument("<file>").option("--format <f>", "", "auto").exitOverride(),
  );
  cmd.parse(["FILE", ...flags], { from: "user" });
  const o = { ...cmd.opts(), framesGiven: cmd.getOptionValueSource("frames") === "cli" } as TraceCliOptions;
  const { format, ...sim } = parseReplay(o);
  expect(format).toBe("auto");
  return { sim, curves: parseCurves(o, sim.frames), samplers: parseSamplers(o) };
}

const form = (p: Partial<TraceForm>): TraceForm => ({ ...DEFAULT_FORM, ...p });

describe("the trace view's form", () => {
  const cases: [string, TraceForm][] = [
    ["the defaults", form({})],
    [
      "arm64, 2 MiB pages, a VIPT cache and costs",
      form({ arch: "arm64", page: "2m", cache: "vipt:32K:8", cost: "l1=2,walkRead=40" }),
    ],
    [
      "Linux's pager with THP and a swap size",
      form({ mode: "linux", policy: "lru", page: "thp", swap: "256M" }),
    ],
    [
      "policy mode with SHARDS, a working set and other policies",
      form({
        mode: "policy",
        policy: "arc",
        shards: "0.1",
        wss: "1000",
        wssEvery: "500",
        mrcPolicies: "fifo, clock",
      }),
    ],
    [
      "no curves, data only, another seed",
      form({ mrc: false, tlbCurve: "", dataOnly: true, seed: "7", mrcMax: "2048" }),
    ],
  ];
  for (const [name, f] of cases)
    it(`${name}: the page's run is the CLI's of the flags it shows`, () => {
      expect(runOf(f)).toEqual(cliRun(cliFlags(f)));
    });

  it("policy mode leaves out the TLB field it hides: a TLB typed in machine mode does not refuse its run", () => {
    const f = form({ mode: "policy", policy: "lru", tlb: "bogus" });
    expect(runOf(f)).toEqual(cliRun(cliFlags(f)));
    expect(runOf(f)).toEqual(runOf(form({ mode: "policy", policy: "lru" })));
  });

  it("the command line the page shows reads back, through a shell's quoting, as the flags of its run", () => {
    /** POSIX shell words: blanks split, '...' quotes, \ escapes one character. */
    const words = (line: string): string[] => {
      const out: string[] = [];
      let w: string | null = null;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (c === " ") {
          if (w !== null) out.push(w);
          w = null;
        } else if (c === "'") {
          const end = line.indexOf("'", i + 1);
          w = (w ?? "") + line.slice(i + 1, end);
          i = end;
        } else if (c === "\\") w = (w ?? "") + line[++i];
        else w = (w ?? "") + c;
      }
      if (w !== null) out.push(w);
      return out;
    };
    for (const f of [
      form({ cost: "l1=2, walkRead=40" }),
      form({ seed: "" }),
      form({ mode: "policy", policy: "lru", mrcMax: "1'000" }),
    ]) {
      expect(words(cliCommand(f))).toEqual(cliFlags(f));
    }
    expect(cliCommand(form({ cost: "l1=2, walkRead=40" }))).toContain("--cost 'l1=2, walkRead=40'");
    expect(runOf(form({ cost: "l1=2, walkRead=40" }))).toEqual(
      cliRun(cliFlags(form({ cost: "l1=2, walkRead=40" }))),
    );
  });

  it("fields a mode has no use for stay out of its run and its command line", () => {
    const f = form({ mode: "policy", policy: "lru", cache: "vipt", swap: "1G", arch: "arm64", page: "2m" });
    expect(cliFlags(f).join(" ")).toBe("--mode policy --frames 4096 --policy lru --mrc --tlb-curve 4");
    expect(runOf(f).sim.cache).toBeUndefined();
  });

  it("a bad field is refused in the CLI's words", () => {
    const refusal = (f: TraceForm) => {
      try {
        runOf(f);
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    const cli = (f: TraceForm) => {
      try {
        cliRun(cliFlags(f));
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    for (const f of [
      form({ frames: "0" }),
      form({ cache: "vipt:33K" }),
      form({ cache: "lru" }),
      form({ cost: "l3=1" }),
      form({ mode: "linux", policy: "lru", swap: "lots" }),
      form({ mode: "policy", policy: "lru", shards: "2" }),
      form({ wss: "-1" }),
      form({ mrcPolicies: "opt" }),
    ]) {
      const msg = refusal(f);
      expect(msg).not.toBe("accepted");
      expect(msg).toMatch(/^--/);
      expect(cli(f)).toBe(msg);
    }
  });
});
