/**
 * `vmlab exercise flush`: a process whose threads run on several CPUs changes
 * its mappings (munmap, mprotect, MADV_DONTNEED of ranges of chosen sizes),
 * and the student says, for each change, what the kernel does to the TLBs:
 * on each CPU how many invalidations by address (x86 INVLPG, arm64 TLBI by
 * VA, RISC-V SFENCE.VMA of an address) and how many full flushes, how many
 * flush IPIs each CPU receives, and on arm64 how many TLBI ...IS are
 * broadcast (on RISC-V with SBI, how many remote fences are asked of the
 * firmware). The ranges' sizes straddle the kernels' thresholds (x86's
 * tlb_single_page_flush_ceiling, arm64's MAX_DVM_OPS and FEAT_TLBIRANGE's
 * ranges, RISC-V's tlb_flush_all_threshold); a CPU may be lazy (a kernel
 * thread borrows the mm) or have switched to another process.
 *
 * No answer is computed here: the scenario runs through the scenario engine
 * with `let`s around each change, and the answers are those counters'
 * differences as the run reports them (docs/exercises.md).
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { parseLine } from "../scenario/lang/parser.ts";
import { machineSettings } from "../scenario/machineConfig.ts";
import { runScenario } from "../scenario/session.ts";

export interface FlushExerciseOptions {
  seed: number;
  /** the machine's arch= (null: x86_64) */
  arch: string | null;
  /** changes to ask about (1..8) */
  count: number;
}

/** One change of A's mappings and the line it is on. */
interface FlushChange {
  text: string;
}

export interface FlushExercise {
  seed: number;
  arch: string;
  cpus: number;
  /** the scenario up to the first change (machine, processes, threads, the touches) */
  setup: string[];
  changes: FlushChange[];
  /** what each CPU is doing when the changes come, in words */
  cpuStory: string[];
}

/** The counters each answer reads, per CPU, and machine-wide. */
const PER_CPU = ["tlb.page_invalidations", "tlb.flushes", "shootdowns"] as const;

/** Sizes in pages around each architecture's thresholds, and a few plain ones. */
function sizes(arch: string): number[] {
  if (arch === "arm64") return [1, 2, 3, 5, 8, 47, 64, 67, 300, 511, 512, 600];
  if (arch.startsWith("riscv")) return [1, 2, 5, 8, 40, 63, 64, 65, 100, 300];
  return [1, 2, 5, 8, 20, 32, 33, 34, 40, 100, 300];
}

/** The architecture's switch that changes how flushes go, and its two settings. */
function featureKey(arch: string): [string, string] | null {
  if (arch === "arm64") return ["tlbi_range", "on|off"];
  if (arch.startsWith("riscv")) return ["rfence", "sbi|ipi"];
  if (arch === "x86_64" || arch === "x86_64-la57") return ["pcid", "on|off"];
  return null;
}

/**
 * The scenario and its changes. Every choice comes from the seeded Rng in a
 * fixed order, so the same seed gives the same text; the ranges are apart
 * and inside A's mapping, so every change has pages to act on.
 */
export function generateFlushExercise(o: FlushExerciseOptions): FlushExercise {
  const arch = o.arch ?? "x86_64";
  if (o.arch !== null) {
    // the machine statement's own check: an arch= the scenario language does not know is an error now
    try {
      machineSettings(parseLine(`machine arch=${o.arch}`, "--arch", 1), "--arch");
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`--arch '${o.arch}': ${e.message}`);
      throw e;
    }
  }
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 8)
    throw new InputError(`-n must be 1 to 8 changes, not ${o.count}`);
  const rng = new Rng(o.seed);
  const cpus = 2 + rng.below(3);
  const feature = featureKey(arch);
  const featureText = feature === null ? "" : ` ${feature[0]}=${feature[1].split("|")[rng.below(2)]}`;
  const setup: string[] = [];
  const story: string[] = [];
  setup.push(`machine ram=128M cpus=${cpus} arch=${arch}${featureText}`);
  // one page-table page's reach per change at most (2 MiB), each change in its own 2 MiB
  const pick = sizes(arch);
  const changes: FlushChange[] = [];
  const spans = o.count;
  setup.push("spawn A", `A: buf = mmap ${2 * spans}M`, `A: write buf ${2 * spans}M`);
  story.push("cpu0: A (it makes every change)");
  // the other CPUs: a thread of A that touched the buffer; then perhaps lazy, or switched to B
  const twist = rng.below(3); // 0: every thread stays, 1: the last CPU goes lazy, 2: the last CPU runs B
  for (let c = 1; c < cpus; c++) {
    setup.push(`A: thread T${c}`, `switch T${c} cpu=${c}`, `T${c}: read buf ${2 * spans}M`);
    if (c === cpus - 1 && twist === 1) {
      setup.push("kthread K", `switch K cpu=${c}`);
      story.push(`cpu${c}: the kernel thread K, in lazy TLB mode on A's mm (T${c} ran there before)`);
    } else if (c === cpus - 1 && twist === 2) {
      setup.push("spawn B", `switch B cpu=${c}`);
      story.push(`cpu${c}: process B (A's thread T${c} ran there before)`);
    } else story.push(`cpu${c}: A's thread T${c}`);
  }
  for (let i = 0; i < spans; i++) {
    const n = pick[rng.below(pick.length)];
    const first = i * 512 + rng.below(Math.max(1, 512 - n + 1));
    // a range that ends at or before the span's end: the change stays in its 2 MiB
    const n2 = Math.min(n, (i + 1) * 512 - first);
    const range = `${first === 0 ? "buf" : `buf+${first}p`} ${n2}p`;
    const kind = rng.below(3);
    changes.push({
      text:
        kind === 0
          ? `A: munmap ${range}`
          : kind === 1
            ? `A: mprotect ${range} prot=r`
            : `A: madvise ${range} dontneed`,
    });
  }
  return { seed: o.seed, arch, cpus, setup, changes, cpuStory: story };
}

/** The question asked after each change. */
function question(ex: FlushExercise, n: number): string {
  const extra = ex.arch === "arm64" ? ", and how many TLBI ...IS are broadcast" : "";
  return `# Q${n}: on each CPU, how many TLB invalidations by address and how many full TLB flushes, how many flush IPIs does each CPU receive${extra}?`;
}

/** The scenario as the student gets it: a runnable file, each question a comment after its change. */
export function flushProblem(ex: FlushExercise): string[] {
  const out = [
    `# TLB flush exercise: seed ${ex.seed}. When the changes come:`,
    ...ex.cpuStory.map((s) => `#   ${s}`),
    "# Say what each change makes the kernel do to the TLBs (the counters: tlb.page_invalidations,",
    "# tlb.flushes and shootdowns, each with (cpu=N), and tlb.broadcasts): check with vmlab run.",
    ...ex.setup,
  ];
  ex.changes.forEach((c, i) => {
    out.push(c.text, question(ex, i + 1));
  });
  return out;
}

/** The counters read before and after each change, as `let` lines. */
function lets(ex: FlushExercise, tag: string): string[] {
  const out: string[] = [];
  for (let c = 0; c < ex.cpus; c++)
    PER_CPU.forEach((m, j) => {
      out.push(`let ${tag}_${j}_${c} = ${m}(cpu=${c})`);
    });
  out.push(`let ${tag}_b = tlb.broadcasts`, `let ${tag}_s = tlb.sbi_fences`);
  return out;
}

/** One change's answer, from the counters' differences. */
export interface FlushAnswer {
  change: string;
  /** per CPU: [invalidations by address, full flushes, flush IPIs received] */
  perCpu: [number, number, number][];
  /** arm64: TLBI ...IS issued; 0 elsewhere */
  broadcasts: number;
  /** RISC-V with rfence=sbi: sbi_remote_sfence_vma_asid calls; 0 elsewhere */
  sbiFences: number;
}

/** The answers: the scenario run by the engine with `let`s before and after each change. */
export function solveFlush(ex: FlushExercise): { answers: string[]; values: FlushAnswer[] } {
  const text = [...ex.setup];
  ex.changes.forEach((c, i) => {
    text.push(...lets(ex, `b${i}`), c.text, ...lets(ex, `a${i}`));
  });
  const r = runScenario(`${text.join("\n")}\n`, { file: "<exercise flush>" });
  if (r.halted !== null) throw new InputError(`the generated scenario halted: ${r.halted}`);
  const v = (name: string) => Number(r.metrics[name]);
  const values: FlushAnswer[] = ex.changes.map((c, i) => ({
    change: c.text,
    perCpu: Array.from({ length: ex.cpus }, (_, cpu) => {
      const d = (j: number) => v(`a${i}_${j}_${cpu}`) - v(`b${i}_${j}_${cpu}`);
      return [d(0), d(1), d(2)] as [number, number, number];
    }),
    broadcasts: v(`a${i}_b`) - v(`b${i}_b`),
    sbiFences: v(`a${i}_s`) - v(`b${i}_s`),
  }));
  const byAddress =
    ex.arch === "arm64" ? "TLBI by VA" : ex.arch.startsWith("riscv") ? "SFENCE.VMA by address" : "INVLPG";
  const answers: string[] = [];
  values.forEach((a, i) => {
    answers.push(`Q${i + 1}: after \`${a.change}\``);
    a.perCpu.forEach(([p, f, ipi], cpu) => {
      answers.push(
        `  cpu${cpu}: ${p} ${byAddress}, ${f} full flush${f === 1 ? "" : "es"}, ${ipi} flush IPI${ipi === 1 ? "" : "s"} received`,
      );
    });
    if (ex.arch === "arm64") answers.push(`  TLBI ...IS broadcast: ${a.broadcasts}`);
    if (ex.arch.startsWith("riscv")) answers.push(`  SBI remote fences: ${a.sbiFences}`);
  });
  answers.push("", ...ruleOf(ex.arch));
  return { answers, values };
}

/** The rule the answers follow, in the kernel's names (what to read next). */
function ruleOf(arch: string): string[] {
  if (arch === "arm64")
    return [
      "The rule (arch/arm64/include/asm/tlbflush.h __flush_tlb_range): one TLBI VALE1IS (VAE1IS when page",
      "tables were freed) per page, one TLBI ASIDE1IS from MAX_DVM_OPS (512) pages; with FEAT_TLBIRANGE",
      "(tlbi_range=on) range TLBIs of (NUM + 1) * 2^(5 * SCALE + 1) pages instead. Each is broadcast by",
      "hardware to every CPU (counted on each): no IPIs. docs/arm64.md.",
    ];
  if (arch.startsWith("riscv"))
    return [
      "The rule (arch/riscv/mm/tlbflush.c __flush_tlb_range): a flush for this hart alone is one SFENCE.VMA",
      "per page up to tlb_flush_all_threshold (64) pages, else one for the whole ASID; with other harts that",
      "may cache the mm (those that ran it, lazy ones too), rfence=ipi sends each an IPI that does the same",
      "there, rfence=sbi makes one SBI remote fence call and the firmware fences every hart in the mask",
      "(OpenSBI: a page at a time up to 4 KiB, else the whole ASID). docs/riscv.md.",
    ];
  return [
    "The rule (arch/x86/mm/tlb.c flush_tlb_mm_range): one INVLPG per page up to",
    "tlb_single_page_flush_ceiling (33) pages, else a full flush; every other CPU in mm_cpumask gets an",
    "IPI (flush_tlb_func) unless it is lazy and no page tables were freed; a lazy CPU catches up when it",
    "switches back (tlb_gen). docs/processes.md, examples/process/shootdown.vm.",
  ];
}
