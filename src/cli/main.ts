import { Command, CommanderError, Option } from "commander";
import { policyNamesHelp } from "../analysis/policy/policies.ts";
import { ModelBug } from "../base/assert.ts";
import { InputError } from "../base/errors.ts";
import { mark } from "../workloads/trace/timeline.ts";
import { addExerciseCommand } from "./exercise/command.ts";
import { ostepScriptList } from "./ostep.ts";
import { DEFAULT_MAX_HOST_MEMORY } from "./shared/limits.ts";
import { addTraceOptions } from "./trace/options.ts";

// Each command's code is loaded when the command runs (`await import`), not at start-up:
// in the bundle (bin/vmlab.cjs) a module loaded so is evaluated only then, with the Node
// modules it needs (http for ui, readline for repl, child_process, ...), so a command
// pays for its own modules only (issue #20: start-up was a third of a 10 M-reference run).

/** Exit codes: 0 success, 1 an expectation failed, 2 invalid input, 3 a bug in vmlab. */
export async function main(argv: string[]): Promise<number> {
  // a reader that stops early (`vmlab run FILE | head -1`) closes the pipe: the rest of
  // the output has nowhere to go, which is the reader's choice, not an error of vmlab's
  for (const out of [process.stdout, process.stderr])
    out.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(0);
      throw e;
    });
  const program = new Command();
  program
    .name("vmlab")
    .description("An executable, bit-faithful model of an operating system's virtual memory.")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  program
    .command("tour")
    .description("a narrated run of the model: page walk, TLB, protection on a TLB hit, stale entries, PCIDs")
    .argument("[n]", "only question N (vmlab tour --list numbers them)")
    .option("--list", "list the tour's questions, one line each", false)
    .action(async (n: string | undefined, opts: { list: boolean }) => {
      const { runTour } = await import("./tour.ts");
      runTour((line) => process.stdout.write(`${line}\n`), { list: opts.list, question: n });
    });

  program
    .command("walk")
    .description(
      "translate addresses over a page-table memory image (JSON; see docs/walk-image.md); a fault is a result (exit 0)",
    )
    .requiredOption("--image <file>", "page-table image (JSON)")
    .addOption(
      new Option("--va <addr>", "linear address to translate (repeatable)").argParser(collect).default([]),
    )
    .addOption(
      new Option(
        "--access <kind>",
        "read, write or exec (arm64 also read-unpriv, write-unpriv: LDTR/STTR)",
      ).default("read"),
    )
    .addOption(new Option("--cpl <n>", "x86: 0 (supervisor) or 3 (user)").default("0"))
    .addOption(new Option("--el <n>", "arm64: 0 (EL0) or 1 (EL1, the default)"))
    .addOption(new Option("--priv <mode>", "riscv: u (U-mode) or s (S-mode, the default)"))
    .option("--json", "print JSON (an array when --va is repeated)", false)
    .action(async (opts) => {
      const { runWalk } = await import("./walk.ts");
      const r = runWalk(opts);
      process.stdout.write(`${r.text}\n`);
    });

  addExerciseCommand(program, (s) => process.stdout.write(s));

  let exitCode = 0;
  /** A trace or record outcome: the report on stdout, an error on stderr with exit 2. */
  const printOutcome = (r: { text: string | null; error: string | null }): void => {
    if (r.text !== null) process.stdout.write(`${r.text}\n`);
    mark("report printed");
    if (r.error !== null) {
      process.stderr.write(`vmlab: ${r.error}\n`);
      exitCode = 2;
    }
  };
  program
    .command("run")
    .description(
      "run .vm scenarios: one line per statement, then a summary; exit 0 if every expect holds, 1 if one fails, 2 if a scenario is invalid (several files: each under a header, the worst status)",
    )
    .argument("<files...>", "scenario files (.vm), run in turn; - for standard input")
    .option("--json", "print one JSON document instead (several files: an array of them)", false)
    .option("--trace", "add every access, TLB lookup and walk step", false)
    .option("--verbose", "print the machine settings and their defaults first", false)
    .option("--narrate", "print the scenario's comments in place, between the statements' lines", false)
    .option("--check", "run the invariant checker after every statement (debug)", false)
    .option(
      "--allow-read <dir>",
      "a directory the scenario may read traces from (replay) besides its own; repeatable",
      (d: string, prev: string[] = []) => [...prev, d],
    )
    .option(
      "--max-host-memory <size>",
      "the most host memory the simulated RAM may hold (a frame holds 4 KiB once written); a statement past it is an error",
      DEFAULT_MAX_HOST_MEMORY,
    )
    .action(async (files: string[], opts) => {
      const { runFiles } = await import("./run.ts");
      exitCode = runFiles(
        files,
        opts,
        (s) => process.stdout.write(s),
        (s) => process.stderr.write(s),
      );
    });

  program
    .command("policy")
    .description(
      "page replacement on a reference string: the per-access table (hit/miss, victim, frames) and the counts",
    )
    .requiredOption("--refs <list>", "page numbers, e.g. 1,2,3,4,1,2,5")
    .requiredOption("--frames <n>", "number of frames")
    .option("--policy <name>", `${policyNamesHelp()}, or all`, "lru")
    .option("--json", "print JSON: {accesses, hits, misses}", false)
    .option("--table", "print the per-access table even for long inputs")
    .option("--seed <n>", "seed for random choices (random, nru)", "1")
    .action(async (opts) => {
      const { runPolicyCli } = await import("./policy.ts");
      process.stdout.write(`${runPolicyCli(opts)}\n`);
    });

  const trace = program
    .command("trace")
    .description(
      "replay a memory trace (valgrind lackey, vmlab binary, text, or a page list; plain, gzip or zstd) through the machine (TLB, walks, demand paging) or a replacement policy",
    )
    .argument("<file>", "the trace, or - for standard input")
    .option("--format <f>", "auto, lackey, bin, text or refs", "auto");
  addTraceOptions(trace).action(async (file: string, opts) => {
    const { runTraceCli } = await import("./trace/run.ts");
    printOutcome(
      await runTraceCli(file, {
        ...opts,
        framesGiven: trace.getOptionValueSource("frames") === "cli",
      }),
    );
  });

  program
    .command("gen")
    .description(
      "a synthetic trace (seq, random, zipf, hotcold) in the binary format, to --out FILE or to stdout for vmlab trace -",
    )
    .argument(
      "<pattern>",
      "seq (a cyclic scan), random (uniform), zipf, hotcold (80% of references to 20% of pages)",
    )
    .option("--pages <n>", "distinct pages", "1000")
    .option("--refs <n>", "references", "1000000")
    .option("--write-ratio <r>", "the fraction of stores", "0")
    .option("--zipf-s <s>", "zipf's exponent", "1")
    .option("--seed <n>", "seed", "1")
    .option("--out <file>", "a file (.u64, .u64.zst, .u64.gz) instead of stdout")
    .action(async (pattern: string, opts) => {
      const { runGenCli } = await import("./gen.ts");
      const r = await runGenCli(pattern, opts, process.stdout);
      if (r !== null) process.stdout.write(`${r}\n`);
    });

  const record = program
    .command("record")
    .description(
      "run a program under valgrind's lackey and replay its accesses at once (the options of trace), or write them with --out FILE.u64.zst; the program's output goes to stderr",
    )
    .argument("<program...>", "the program and its arguments, after --")
    .option("--out <file>", "write the binary trace (.u64, .u64.zst, .u64.gz) instead of simulating");
  addTraceOptions(record).action(async (argv: string[], opts) => {
    const { runRecordCli } = await import("./record.ts");
    printOutcome(
      await runRecordCli(argv, {
        ...opts,
        framesGiven: record.getOptionValueSource("frames") === "cli",
      }),
    );
  });

  program
    .command("sweep")
    .description(
      "one trace under every combination of modes, frame counts, policies and TLBs, on all cores (worker threads) or on many machines (--queue, with vmlab worker)",
    )
    .argument("<file>", "the trace (a path every worker can read)")
    .option("--format <f>", "auto, lackey, bin, text or refs", "auto")
    .option("--mode <list>", "machine, policy, or both: machine,policy", "machine")
    .option("--frames <list>", "frame counts, e.g. 64,128,256,512", "256")
    .option(
      "--policy <list>",
      "policies, e.g. clock,lru,fifo (machine mode: clock, fifo, lru, random)",
      "clock",
    )
    .addOption(
      new Option("--tlb <spec>", "machine mode: a TLB (repeatable; specs contain commas)")
        .argParser(collect)
        .default([]),
    )
    .option("--data-only", "drop instruction fetches", false)
    .option("--seed <n>", "seed for random choices", "1")
    .option("--jobs <n>", "worker threads (default: one per core)")
    .option(
      "--queue <url>",
      "run through a BullMQ job queue on Redis, e.g. redis://127.0.0.1:6379 (start vmlab worker on each machine)",
    )
    .option("--json", "print JSON", false)
    .option("--csv", "print CSV")
    .option("--chart <file>", "faults per access against frames, one line per policy: .svg, .html or .png")
    .option("--no-progress", "no progress line")
    .action(async (file: string, opts) => {
      const { runSweepCli } = await import("./sweep.ts");
      const r = await runSweepCli(file, opts);
      process.stdout.write(`${r.text}\n`);
      if (r.failed > 0) exitCode = 2;
    });

  program
    .command("worker")
    .description("process sweep jobs from a BullMQ queue on Redis until stopped (SIGINT or SIGTERM)")
    .requiredOption("--queue <url>", "the Redis of the queue, e.g. redis://127.0.0.1:6379")
    .option("--threads <n>", "worker threads (default: one per core)")
    .option(
      "--exit-when-idle <seconds>",
      "stop once no job has come for this long and the queue holds none (waiting or active)",
    )
    .action(async (opts) => {
      const { runWorker } = await import("./queue.ts");
      const n = await runWorker(opts, (line) => process.stderr.write(`${line}\n`));
      process.stderr.write(`vmlab worker: ${n} jobs done\n`);
    });

  program.enablePositionalOptions();
  program
    .command("ostep")
    .description(
      "OSTEP's virtual-memory homework simulators: the script's own flags, its problems and (-c) answers byte for byte (docs/ostep.md)",
    )
    .argument(
      "<script>",
      "relocation, segmentation, paging-linear-translate, paging-multilevel-translate or paging-policy",
    )
    .argument("[flags...]", "the script's own flags, e.g. -s 3 -c (SCRIPT -h lists them)")
    .passThroughOptions()
    .addHelpText("after", `\nScripts (remzi-arpacidusseau/ostep-homework):\n${ostepScriptList()}`)
    .action(async (script: string, flags: string[]) => {
      const { runOstepCli } = await import("./ostep.ts");
      const r = runOstepCli(script, flags);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      exitCode = r.code;
    });

  program
    .command("ui")
    .description(
      "the simulator in a browser: step through a scenario (the tour's, the examples, or FILE) and watch its page tables, TLBs, frames and tasks; serves on 127.0.0.1 only (docs/ui.md)",
    )
    .argument("[file]", "a scenario (.vm) to open first")
    .option("--port <n>", "the port (0: any free one)", "0")
    .option("--open", "open the URL in a browser (xdg-open)", false)
    .option(
      "--trace <file>",
      "also a trace's analysis: miss-ratio curve, faults over time, TLB hit rates (bin, lackey, text, refs; plain, gzip or zstd), computed in the page",
    )
    .action(async (file: string | undefined, opts) => {
      const { runUiCli } = await import("./ui.ts");
      await runUiCli(file, opts, (s) => process.stdout.write(s));
    });

  program
    .command("repl")
    .description(
      "the scenario language line by line (help lists the statements); exit 1 if an expectation failed",
    )
    .option("--check", "run the invariant checker after every statement (debug)", false)
    .option("--trace", "add every access, TLB lookup and walk step", false)
    .option(
      "--max-host-memory <size>",
      "the most host memory the simulated RAM may hold; a statement past it is an error",
      DEFAULT_MAX_HOST_MEMORY,
    )
    .action(async (opts) => {
      const { runRepl } = await import("./repl.ts");
      exitCode = await runRepl(process.stdin, (s) => process.stdout.write(s), opts);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return 0;
      return 2;
    }
    if (e instanceof InputError) {
      process.stderr.write(`vmlab: ${e.format()}\n`);
      return 2;
    }
    if (e instanceof ModelBug) {
      process.stderr.write(`vmlab: internal error (a bug in vmlab, please report): ${e.message}\n`);
      return 3;
    }
    throw e;
  }
  return exitCode;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
