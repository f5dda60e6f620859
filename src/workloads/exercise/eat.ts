/**
 * `vmlab exercise eat`: effective memory-access time, the textbooks' formula
 * (EAT = h(t + m) + (1 - h)(t + L·m + m), OSTEP ch. 19, Silberschatz 10.1.2)
 * checked against a real machine. A process on an architecture touches a
 * region some of whose pages are resident (MAP_POPULATE) and some not yet
 * (demand paging: a read maps the zero page, a write a new page; a write to
 * a page a read mapped to the zero page faults again, the copy-on-write of
 * do_wp_page). The student says, reference by reference, whether the first
 * TLB lookup hits, how many page-table entries the walks read, how many
 * faults there are, and what the reference costs; then the hit ratio and
 * the effective access time.
 *
 * The answers are the kernel model's own: each reference is one
 * Kernel.userAccess through the architecture's MMU (its TLB, walker and
 * paging-structure caches) and Linux's fault handler, and the MMU's trace
 * stream (hw/mmu/events.ts) is what is counted: every TLB lookup, every
 * entry a walk reads, every A/D write of the walker, every fault.
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { Access } from "../../hw/access.ts";
import type { HwEvent } from "../../hw/mmu/events.ts";
import { KERNEL_ARCH_NAMES, type KernelArchName } from "../../kernel/core/config.ts";
import { Kernel, mmapArgs } from "../../kernel/Kernel.ts";

/** The architectures `vmlab exercise eat` takes: every kernel architecture. */
export const EAT_EXERCISE_ARCHES: readonly string[] = KERNEL_ARCH_NAMES;

export interface EatExerciseOptions {
  seed: number;
  arch: string;
  /** references (1..100) */
  count: number;
  /** TLB entries, one fully associative LRU array (1..64) */
  entries: number;
  /** the CPU's paging-structure caches (walks may start below the root) */
  psc: boolean;
  /** [TLB lookup, memory access, fault service] in ns; null: chosen by the seed */
  times: [number, number, number] | null;
}

export interface EatRef {
  write: boolean;
  /** the page's index in the region */
  page: number;
  /** the byte's offset in the page */
  offset: number;
}

export interface EatExercise extends EatExerciseOptions {
  arch: KernelArchName;
  tlbNs: number;
  memNs: number;
  faultNs: number;
  /** pages in the region; the first `resident` are populated before the references */
  pages: number;
  resident: number;
  refs: EatRef[];
}

/** One reference's outcome, counted from the MMU's trace. */
export interface EatStep {
  ref: EatRef;
  va: bigint;
  /** the first lookup's outcome */
  hit: boolean;
  lookups: number;
  /** entries the walks read */
  walkReads: number;
  /** the walker's A/D writes (hardware-managed bits) */
  adWrites: number;
  /** each fault as the architecture words it */
  faults: string[];
  ns: number;
}

export interface EatOutcome {
  levels: number;
  levelNames: string[];
  start: bigint;
  steps: EatStep[];
  hits: number;
  totalNs: number;
  /** the textbook formula with the run's hit ratio and a full walk on each miss, faults left out */
  formulaNs: number;
  answers: string[];
}

const KNOWN: Readonly<Record<string, true>> = Object.fromEntries(EAT_EXERCISE_ARCHES.map((a) => [a, true]));

/** The values a seed picks the three times from (ns): a TLB lookup, a memory access, a minor fault's service. */
const TLB_NS = [1, 2, 5, 10, 20] as const;
const MEM_NS = [50, 60, 80, 100] as const;
const FAULT_NS = [1000, 2000, 4000, 5000] as const;

/**
 * The problem: a region of 6..10 pages, the first half or so resident, and a reference string
 * with locality (a drifting set of pages one larger than the TLB), about a third of it writes.
 */
export function generateEatExercise(o: EatExerciseOptions): EatExercise {
  if (!Object.hasOwn(KNOWN, o.arch))
    throw new InputError(`--arch must be one of ${EAT_EXERCISE_ARCHES.join(", ")}, not '${o.arch}'`);
  const rng = new Rng(o.seed);
  const pages = 6 + rng.below(5);
  const resident = 2 + rng.below(pages - 3);
  const tlbNs = o.times?.[0] ?? rng.pick(TLB_NS);
  const memNs = o.times?.[1] ?? rng.pick(MEM_NS);
  const faultNs = o.times?.[2] ?? rng.pick(FAULT_NS);
  const set: number[] = [];
  const size = Math.min(pages, o.entries + 1);
  while (set.length < size) {
    const p = rng.below(pages);
    if (!set.includes(p)) set.push(p);
  }
  const refs: EatRef[] = [];
  for (let i = 0; i < o.count; i++) {
    if (rng.below(5) === 0) set[rng.below(set.length)] = rng.below(pages);
    refs.push({ write: rng.below(3) === 0, page: rng.pick(set), offset: rng.below(512) * 8 });
  }
  return { ...o, arch: o.arch as KernelArchName, tlbNs, memNs, faultNs, pages, resident, refs };
}

const hex = (n: bigint | number) => `0x${n.toString(16)}`;

/**
 * Where the region is mapped (a hint mmap takes on every architecture, below i386's and Sv32's
 * TASK_SIZE): 4 MiB-aligned, so that its pages share one last-level table on all of them.
 */
const REGION = 0x1000_0000;

/**
 * Entries a full walk reads from memory: every level's, but on PAE the PDPT's, which MOV to CR3
 * loads into the four PDPTE registers (Intel SDM Vol. 3A 4.4.1): its walks read a PD and a PT entry.
 */
function walkEntries(arch: KernelArchName, levels: number): number {
  return arch === "i386-pae" ? levels - 1 : levels;
}

/** What happens to the TLB at a fault, in the architecture's manual's words. */
function faultNote(arch: KernelArchName): string[] {
  if (arch.startsWith("x86_64") || arch.startsWith("i386"))
    return [
      "A page fault invalidates the TLB and paging-structure-cache entries for the faulting address",
      "(Intel SDM Vol. 3A 4.10.4.1), so the retried access misses.",
    ];
  if (arch === "arm64")
    return ["A translation fault leaves nothing in the TLB (Arm ARM D8: invalid entries are never cached)."];
  return [
    "A page fault leaves nothing in the TLB (vmlab's harts cache no invalid PTE; the privileged spec lets a",
    "hart cache one, which an SFENCE.VMA then removes).",
  ];
}

/** The machine the problem runs on: one CPU, the TLB as asked, 64 MiB. */
function boot(ex: EatExercise): Kernel {
  return new Kernel({
    ramBytes: 64 << 20,
    cpus: 1,
    arch: ex.arch,
    tlb: `${ex.entries}x${ex.entries}`,
    psc: ex.psc,
  });
}

/** Runs the references through the kernel model and counts each one's events. */
export function solveEat(ex: EatExercise): EatOutcome {
  const k = boot(ex);
  const task = k.spawn("A");
  if (task === null) throw new Error("exercise eat: spawn failed on a fresh machine");
  k.switchTo(0, task);
  const bytes = ex.pages * 4096;
  const start = k.mmap(task, mmapArgs(bytes, { addr: REGION }));
  if (start !== BigInt(REGION)) throw new Error(`exercise eat: mmap at ${hex(REGION)} gave ${hex(start)}`);
  // the resident pages: MAP_POPULATE's effect on the first `resident` (populate_vma_page_range
  // through GUP: the kernel fills the PTEs, the user's TLB sees none of it)
  const pop = k.madvise(task, start, BigInt(ex.resident * 4096), "populate_write");
  if (pop !== 0n) throw new Error(`exercise eat: MADV_POPULATE_WRITE failed (${pop})`);
  const fmt = k.machine.cpus[0].format;
  const levels = walkEntries(ex.arch, fmt.levels);
  const levelNames = [...fmt.levelNames].slice(0, levels).reverse();
  let step: EatStep | null = null;
  k.setTracer((e: HwEvent) => {
    if (step === null || e.cpu !== 0) return;
    if (e.type === "tlb") {
      if (step.lookups === 0) step.hit = e.hit;
      step.lookups++;
    } else if (e.type === "walk-step") step.walkReads++;
    else if (e.type === "ad-write") step.adWrites++;
    else if (e.type === "fault") step.faults.push(e.text);
  });
  const steps: EatStep[] = [];
  let totalNs = 0;
  for (const ref of ex.refs) {
    const va = start + BigInt(ref.page * 4096 + ref.offset);
    const s: EatStep = { ref, va, hit: false, lookups: 0, walkReads: 0, adWrites: 0, faults: [], ns: 0 };
    step = s;
    const r = k.userAccess(0, task, va, ref.write ? Access.Write : Access.Read, ref.write ? 1 : undefined);
    step = null;
    if (!r.ok) throw new Error(`exercise eat: the access to ${hex(va)} failed`);
    s.ns = s.lookups * ex.tlbNs + (s.walkReads + s.adWrites + 1) * ex.memNs + s.faults.length * ex.faultNs;
    totalNs += s.ns;
    steps.push(s);
  }
  k.setTracer(null);
  const hits = steps.filter((s) => s.hit).length;
  const h = hits / steps.length;
  const formulaNs = h * (ex.tlbNs + ex.memNs) + (1 - h) * (ex.tlbNs + levels * ex.memNs + ex.memNs);
  const outcome: EatOutcome = { levels, levelNames, start, steps, hits, totalNs, formulaNs, answers: [] };
  outcome.answers = eatAnswers(ex, outcome);
  return outcome;
}

const ns = (x: number) => `${Number.isInteger(x) ? x : x.toFixed(2)} ns`;

function eatAnswers(ex: EatExercise, o: EatOutcome): string[] {
  const rows = o.steps.map((s, i) => {
    const what = `${s.ref.write ? "write" : "read "} ${hex(s.va)}`;
    const walk = s.walkReads === 0 ? "-" : String(s.walkReads);
    const faults = s.faults.length === 0 ? "-" : s.faults.join("; ");
    const ad = s.adWrites === 0 ? "" : `, ${s.adWrites} A/D write${s.adWrites === 1 ? "" : "s"}`;
    return `  ${String(i + 1).padStart(2)}. ${what}  ${s.hit ? "hit " : "miss"}  lookups ${s.lookups}, entries read ${walk}${ad}, faults ${s.faults.length === 0 ? 0 : s.faults.length}: ${ns(s.ns)}${s.faults.length === 0 ? "" : `  (${faults})`}`;
  });
  const n = o.steps.length;
  const faulted = o.steps.filter((s) => s.faults.length > 0).length;
  return [
    "Each reference: the first lookup, then every lookup, entry read and fault it took:",
    ...rows,
    "",
    `Hits: ${o.hits} of ${n} (hit ratio ${(o.hits / n).toFixed(3)}); references that faulted: ${faulted}.`,
    `Total: ${ns(o.totalNs)}; effective access time ${ns(o.totalNs / n)} a reference.`,
    `The textbook formula with this hit ratio (a full walk of ${o.levels} entries on every miss, no faults):`,
    `  ${(o.hits / n).toFixed(3)} x (${ex.tlbNs} + ${ex.memNs}) + ${(1 - o.hits / n).toFixed(3)} x (${ex.tlbNs} + ${o.levels} x ${ex.memNs} + ${ex.memNs}) = ${ns(o.formulaNs)}`,
    ...(faulted > 0 || ex.psc
      ? [
          "  The run differs from it by the faults (each a walk that stops at a missing entry, the",
          "  handler, and the retried lookup and walk)" +
            (ex.psc ? " and by the walks the paging-structure caches shortened." : "."),
        ]
      : []),
  ];
}

/**
 * What Linux does on the faults of an anonymous private mapping (mm/memory.c): do_anonymous_page()
 * maps a new zeroed page on a write, the shared zero page read-only on a read; a write to that
 * entry is a protection fault, do_wp_page() -> wp_page_copy() replacing it with ptep_clear_flush()
 * (the old translation flushed). The entries it makes carry the accessed bit (x86's and RISC-V's
 * vm_page_prot, arm64's PTE_AF) and, for a write, the dirty bit (pte_mkdirty). A TLB entry caches
 * the permissions (SDM Vol. 3A 4.10.2.2), so a write that finds a read-only one faults from it.
 */
const DEMAND_RULES = [
  "Linux maps a never-touched page at its first fault: a write gets a new zeroed page, a read the shared",
  "zero page read-only (do_anonymous_page), so a later write to it faults again (do_wp_page copies it).",
  "A write whose TLB entry is read-only faults from that entry, without a walk; the handler replaces the",
  "entry and flushes the page's translation, so the retried lookup misses. The kernel makes every entry",
  "with its accessed bit (and for a write its dirty bit) set: the walker never writes one.",
];

/** The problem's text. */
export function eatProblem(ex: EatExercise): string[] {
  const k = boot(ex);
  const fmt = k.machine.cpus[0].format;
  const names = [...fmt.levelNames].slice(0, fmt.levels).reverse();
  return [
    `Effective access time exercise (${ex.arch}): seed ${ex.seed}`,
    "",
    `The machine: one CPU; 4 KiB pages translated by a ${fmt.levels}-level walk (${names.join(" -> ")}),`,
    ...(ex.arch === "i386-pae"
      ? ["the PDPT's four entries held in the PDPTE registers since MOV to CR3 (Intel SDM Vol. 3A 4.4.1),"]
      : []),
    `entries of ${fmt.entryBytes} bytes; a TLB of ${ex.entries} entries, fully associative, least recently used out;`,
    ...(ex.psc
      ? [
          "paging-structure caches on: a walk caches the upper-level entries it reads (the region needs one of",
          ...(ex.arch.startsWith("x86") || ex.arch.startsWith("i386")
            ? ["each level's), and a walk that finds them cached reads only the last-level entry."]
            : [
                "each level's), and a walk that finds them cached reads only the last-level entry;",
                "a fault leaves them cached (they are valid: only the invalid last-level entry is not).",
              ]),
        ]
      : ["no paging-structure caches (every walk starts at the root)."]),
    `Times: a TLB lookup ${ex.tlbNs} ns, a memory access (an entry read or written, or the data) ${ex.memNs} ns,`,
    `a page fault's service in the kernel ${ex.faultNs} ns (a minor fault: no disk).`,
    ...faultNote(ex.arch),
    ...DEMAND_RULES,
    "",
    `Process A has ${ex.pages} pages of anonymous memory (read-write, private) at ${hex(REGION)}, its only mapping`,
    `there; pages 0 to ${ex.resident - 1} are resident (the kernel wrote them for MADV_POPULATE_WRITE: no TLB holds`,
    `them), pages ${ex.resident} to ${ex.pages - 1} never touched. It makes these references:`,
    ...ex.refs.map(
      (r, i) =>
        `  ${String(i + 1).padStart(2)}. ${r.write ? "write" : "read "} page ${r.page}, offset ${hex(r.offset)}`,
    ),
    "",
    "1. For each reference: does its first TLB lookup hit? How many page-table entries do the walks read,",
    "   how many faults are taken (a fault's handler fixes the entry and the access is retried: a new",
    "   lookup, and a new walk if that misses), and what does it cost (each lookup, each entry read or",
    "   written by the walker, each fault, and the data access itself)?",
    "2. The TLB hit ratio and the effective access time (the total over the references).",
    "3. What the textbook formula EAT = h(t + m) + (1 - h)(t + L m + m) gives with that hit ratio (L: the",
    "   entries a full walk reads), and why the run differs from it.",
  ];
}
