/**
 * `vmlab exercise tlb`: a reference string of virtual pages through a small
 * set-associative TLB with LRU replacement; the student gives each
 * reference's hit or miss and what it evicts. With several processes the
 * string switches address spaces: without PCIDs each switch's MOV to CR3
 * flushes the TLB's non-global entries (Intel SDM Vol. 3A §4.10.4.1); with
 * PCIDs the entries are tagged and survive (Linux: switch_mm_irqs_off with
 * a PCID per mm, arch/x86/mm/tlb.c). The answers are the TLB array the MMU
 * uses (hw/mmu/TlbArray.ts: its lookup, insert and invalidation).
 */
import { Rng } from "../../base/rng.ts";
import { InvalidateHow, Meta, TlbArray } from "../../hw/mmu/TlbArray.ts";

export interface TlbExerciseOptions {
  seed: number;
  /** references */
  count: number;
  entries: number;
  ways: number;
  /** distinct pages each process touches */
  pages: number;
  /** address spaces (1: no switches) */
  processes: number;
  /** tag entries with a PCID per process instead of flushing on a switch */
  pcid: boolean;
}

export interface TlbRef {
  /** process index (A = 0) */
  proc: number;
  vpn: number;
}

export interface TlbExercise extends TlbExerciseOptions {
  refs: TlbRef[];
}

/** One reference's outcome. */
export interface TlbStep {
  ref: TlbRef;
  /** entries a context switch before it flushed, or -1 when there was no switch */
  flushed: number;
  hit: boolean;
  set: number;
  /** the entry a miss evicted, or null */
  evicted: TlbRef | null;
}

export interface TlbOutcome {
  steps: TlbStep[];
  hits: number;
  misses: number;
  evictions: number;
  flushes: number;
}

/** "1 hit", "2 hits", "1 miss", "3 misses". */
export const counted = (n: number, word: string): string =>
  `${n} ${word}${n === 1 ? "" : /(s|sh)$/.test(word) ? "es" : "s"}`;
const procName = (p: number): string => String.fromCharCode(65 + p);
const pageName = (vpn: number): string => `0x${vpn.toString(16)}`;
const refName = (r: TlbRef, procs: number): string =>
  procs > 1 ? `${procName(r.proc)}:${pageName(r.vpn)}` : pageName(r.vpn);

/** The first page number references use (small numbers, so that the set index is easy to read). */
const FIRST_VPN = 0x10;

/**
 * A reference string: runs of 3..6 references per process, each drawing
 * from its working set most of the time (locality). Processes share page
 * numbers: the same virtual page in two address spaces (homonyms), which
 * only a flush or a tag tells apart.
 */
export function generateTlbExercise(o: TlbExerciseOptions): TlbExercise {
  const rng = new Rng(o.seed);
  const refs: TlbRef[] = [];
  // each process's working set: a little more than fits its share of the TLB, drifting
  const size = Math.min(o.pages, Math.max(2, Math.ceil(o.entries / o.processes) + 1));
  const sets = Array.from({ length: o.processes }, () => {
    const ws: number[] = [];
    while (ws.length < size) {
      const vpn = FIRST_VPN + rng.below(o.pages);
      if (!ws.includes(vpn)) ws.push(vpn);
    }
    return ws;
  });
  let proc = 0;
  let run = 3 + rng.below(4);
  for (let t = 0; t < o.count; t++) {
    if (o.processes > 1 && run === 0) {
      proc = (proc + 1 + rng.below(o.processes - 1)) % o.processes;
      run = 3 + rng.below(4);
    }
    run--;
    const ws = sets[proc];
    let vpn: number;
    if (rng.float() < 0.8) vpn = rng.pick(ws);
    else {
      vpn = FIRST_VPN + rng.below(o.pages);
      if (!ws.includes(vpn)) ws[rng.below(ws.length)] = vpn;
    }
    refs.push({ proc, vpn });
  }
  return { ...o, refs };
}

/** Runs the string through a TlbArray of the exercise's geometry (`pcid` overrides the exercise's). */
export function runTlbExercise(ex: TlbExercise, pcid = ex.pcid): TlbOutcome {
  const tlb = new TlbArray(ex.entries, ex.ways, 1, 3, "exercise");
  const steps: TlbStep[] = [];
  let current = ex.refs.length > 0 ? ex.refs[0].proc : 0;
  let flushes = 0;
  for (const ref of ex.refs) {
    let flushed = -1;
    if (ref.proc !== current) {
      current = ref.proc;
      // MOV to CR3 without PCIDs (or without bit 63 set): every non-global entry goes
      if (!pcid) {
        flushed = tlb.invalidateAll(0, InvalidateHow.AllNonGlobal);
        flushes++;
      } else flushed = 0;
    }
    const asid = pcid ? ref.proc + 1 : 0;
    const set = ref.vpn & (tlb.sets - 1);
    const hit = tlb.lookup(ref.vpn, asid) >= 0;
    let evicted: TlbRef | null = null;
    if (!hit) {
      // the way insert drops when the set is full: the set's last (least recently used) way
      const last = set * ex.ways + ex.ways - 1;
      const victimKey = tlb.keys[last];
      const victimAsid = tlb.metas[last] & Meta.ASID_MASK;
      const before = tlb.evictions;
      tlb.insert(ref.vpn, 0, ref.vpn, asid);
      if (tlb.evictions > before)
        // without PCIDs the last switch flushed the others' entries: the victim is the current process's
        evicted = { proc: pcid ? victimAsid - 1 : current, vpn: Math.floor(victimKey / 8) };
    }
    steps.push({ ref, flushed, hit, set, evicted });
  }
  const hits = steps.filter((s) => s.hit).length;
  return {
    steps,
    hits,
    misses: steps.length - hits,
    evictions: steps.filter((s) => s.evicted !== null).length,
    flushes,
  };
}

export function tlbProblem(ex: TlbExercise): string[] {
  const sets = ex.entries / ex.ways;
  const kind =
    ex.ways === ex.entries
      ? "fully associative"
      : ex.ways === 1
        ? "direct-mapped"
        : `${ex.ways}-way set associative`;
  const out = [
    `TLB exercise: seed ${ex.seed}`,
    "",
    `A TLB of ${ex.entries} entries, ${kind} (${sets === 1 ? "one set: any entry may hold any page" : `${sets} sets; set = page number mod ${sets}`}),`,
    "least recently used replacement within a set, empty at the start.",
  ];
  if (ex.processes > 1)
    out.push(
      ex.pcid
        ? "PCIDs on: each process's entries are tagged with its own PCID; a context switch flushes nothing."
        : "No PCIDs: every context switch (a write to CR3) flushes the whole TLB (there are no global pages).",
      `Processes ${Array.from({ length: ex.processes }, (_, p) => procName(p)).join(", ")} run in turn; A:0x12 is page 0x12 of process A.`,
    );
  out.push(
    "",
    `References (virtual page numbers): ${ex.refs.map((r) => refName(r, ex.processes)).join(" ")}`,
    "",
    "For each reference, say hit or miss, and for a miss the entry it evicts (if any);",
    "then the totals of hits, misses and evictions.",
  );
  return out;
}

export function solveTlb(ex: TlbExercise): { answers: string[]; outcome: TlbOutcome } {
  const r = runTlbExercise(ex);
  const answers: string[] = [];
  r.steps.forEach((s, i) => {
    if (s.flushed >= 0)
      answers.push(
        ex.pcid
          ? `  switch to ${procName(s.ref.proc)}: PCID ${s.ref.proc + 1}, nothing flushed`
          : `  switch to ${procName(s.ref.proc)}: CR3 write flushes ${s.flushed} entr${s.flushed === 1 ? "y" : "ies"}`,
      );
    const what = s.hit
      ? "hit"
      : s.evicted === null
        ? "miss, fills a free way"
        : `miss, evicts ${refName(s.evicted, ex.processes)} (least recently used)`;
    answers.push(
      `${String(i + 1).padStart(3)}  ${refName(s.ref, ex.processes).padEnd(8)} set ${s.set}  ${what}`,
    );
  });
  answers.push(
    "",
    `${counted(r.hits, "hit")}, ${counted(r.misses, "miss")}, ${counted(r.evictions, "eviction")}${ex.processes > 1 ? `, ${counted(r.flushes, "flush")}` : ""}`,
  );
  if (ex.processes > 1) {
    const other = runTlbExercise(ex, !ex.pcid);
    answers.push(
      `(${ex.pcid ? "without" : "with"} PCIDs the same string would take ${counted(other.hits, "hit")}, ${counted(other.misses, "miss")}, ${counted(other.evictions, "eviction")})`,
    );
  }
  return { answers, outcome: r };
}
