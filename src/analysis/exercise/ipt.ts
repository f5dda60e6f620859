/**
 * `vmlab exercise ipt`: a hashed inverted page table (one entry per frame,
 * found through a hash anchor table and collision chains) and a string of
 * steps: lookups by address spaces (which HAT slot, which entries are
 * compared, how many memory references, the physical address or the fault)
 * and the operating system's edits (map a page into a frame, at the head of
 * its chain, stealing the frame's previous entry; unmap a frame). The
 * answers are vmlab's own table (hw/mmu/inverted/Ipt.ts, the MMU's lookup
 * and the kernel's insert and remove of `machine pagetable=inverted`), as
 * bytes in a scratch physical memory; the rules the problem states are the
 * ones docs/inverted.md gives for that machine: an entry made from a clean
 * PTE refuses writes (the hash fault that sets D, as PowerPC's hash MMU
 * maps clean pages read-only: htab_convert_pte_flags), and an entry's
 * rights are checked after the tag matches.
 */
import { Rng } from "../../base/rng.ts";
import { Ipt } from "../../hw/mmu/inverted/Ipt.ts";
import { Perm } from "../../hw/mmu/PagingFormat.ts";
import { PhysMem } from "../../hw/PhysMem.ts";
import { counted } from "./tlb.ts";

export interface IptExerciseOptions {
  seed: number;
  /** steps: lookups and the OS's edits */
  count: number;
  /** frames of the machine, one IPT entry each (8..64) */
  frames: number;
  /** address spaces (1..4), ids 1.. */
  spaces: number;
}

/** The rights an exercise's entries carry: user read-only, read-write, read-execute. */
const RIGHTS = [Perm.UR, Perm.UR | Perm.UW, Perm.UR | Perm.UX] as const;

/** One valid entry of the starting table, in the order the OS inserted it. */
export interface IptSeed {
  pfn: number;
  space: number;
  vpn: number;
  rights: number;
  dirty: boolean;
}

export type IptStepOp =
  | { kind: "access"; space: number; va: number; write: boolean }
  | { kind: "map"; space: number; vpn: number; pfn: number; rights: number }
  | { kind: "unmap"; pfn: number };

export interface IptExercise {
  seed: number;
  frames: number;
  spaces: number;
  /** inserted in this order (each at the head of its chain) */
  initial: IptSeed[];
  steps: IptStepOp[];
}

/** Virtual page numbers the exercise draws from: 0..VPNS-1 (small, so chains collide). */
const VPNS = 64;

/**
 * A table about three-quarters full, then `count` steps: mostly lookups (of
 * mapped pages, of a mapped page by another space, of pages that hash into a
 * used chain but are not there, writes to read-only and to clean entries),
 * with a map or an unmap about one step in five.
 */
export function generateIptExercise(o: IptExerciseOptions): IptExercise {
  const rng = new Rng(o.seed);
  const used = new Set<string>();
  const key = (space: number, vpn: number) => `${space}:${vpn}`;
  const freshPage = (): { space: number; vpn: number } => {
    for (;;) {
      const space = 1 + rng.below(o.spaces);
      const vpn = rng.below(VPNS);
      if (!used.has(key(space, vpn))) return { space, vpn };
    }
  };
  const frames = Array.from({ length: o.frames }, (_, i) => i);
  for (let i = frames.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [frames[i], frames[j]] = [frames[j], frames[i]];
  }
  const initial: IptSeed[] = [];
  const nInitial = Math.max(2, Math.round(o.frames * 0.75));
  for (let i = 0; i < nInitial; i++) {
    const { space, vpn } = freshPage();
    used.add(key(space, vpn));
    initial.push({ pfn: frames[i], space, vpn, rights: rng.pick(RIGHTS), dirty: rng.float() < 0.5 });
  }
  // the mapped pages as the steps go (for lookups that hit)
  const mapped = initial.map((e) => ({ pfn: e.pfn, space: e.space, vpn: e.vpn }));
  const steps: IptStepOp[] = [];
  for (let i = 0; i < o.count; i++) {
    const r = rng.float();
    if (r < 0.12 && i > 0) {
      const pfn = rng.below(o.frames);
      const { space, vpn } = freshPage();
      used.add(key(space, vpn));
      const at = mapped.findIndex((m) => m.pfn === pfn);
      if (at >= 0) mapped.splice(at, 1);
      mapped.push({ pfn, space, vpn });
      steps.push({ kind: "map", space, vpn, pfn, rights: rng.pick(RIGHTS) });
      continue;
    }
    if (r < 0.2 && i > 0 && mapped.length > 2) {
      const m = mapped.splice(rng.below(mapped.length), 1)[0];
      steps.push({ kind: "unmap", pfn: m.pfn });
      continue;
    }
    const offset = rng.below(4096);
    const write = rng.float() < 0.4;
    const kind = rng.float();
    let space: number;
    let vpn: number;
    if (kind < 0.55 && mapped.length > 0) ({ space, vpn } = rng.pick(mapped));
    else if (kind < 0.7 && mapped.length > 0 && o.spaces > 1) {
      // a page another space maps: the tag tells them apart
      const m = rng.pick(mapped);
      vpn = m.vpn;
      space = 1 + ((m.space - 1 + 1 + rng.below(o.spaces - 1)) % o.spaces);
    } else {
      space = 1 + rng.below(o.spaces);
      vpn = rng.below(VPNS);
    }
    steps.push({ kind: "access", space, va: vpn * 4096 + offset, write });
  }
  return { seed: o.seed, frames: o.frames, spaces: o.spaces, initial, steps };
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** `r--`, `rw-`, `r-x`: the user rights of an entry */
export function rightsText(rights: number): string {
  return `${rights & Perm.UR ? "r" : "-"}${rights & Perm.UW ? "w" : "-"}${rights & Perm.UX ? "x" : "-"}`;
}

/** The table of the exercise in a scratch memory: frames 0..N-1, the IPT and the HAT in two frames above them. */
function buildTable(ex: IptExercise): Ipt {
  const phys = new PhysMem((ex.frames + 2) * 4096);
  const ipt = new Ipt(phys, ex.frames * 4096, (ex.frames + 1) * 4096, ex.frames);
  for (const e of ex.initial) ipt.insert(e.pfn, e.space, e.vpn, e.rights, e.dirty, 0);
  return ipt;
}

/** The table as the student gets it: every frame's entry (or free), then the HAT's non-empty slots. */
export function iptTableLines(ipt: Ipt): string[] {
  const out = ["  pfn  V  space  vpn    rights  D  next"];
  for (let pfn = 0; pfn < ipt.nrFrames; pfn++) {
    const e = ipt.entry(pfn);
    out.push(
      e === null
        ? `  ${String(pfn).padStart(3)}  0  -      -      -       -  -`
        : `  ${String(pfn).padStart(3)}  1  ${String(e.space).padEnd(5)}  ${hex(e.vpn).padEnd(5)}  ${rightsText(e.rights)}     ${e.dirty ? 1 : 0}  ${e.next < 0 ? "end" : e.next}`,
    );
  }
  out.push("", `  HAT (${ipt.hatSlots} slots; the empty ones omitted):`);
  for (let h = 0; h < ipt.hatSlots; h++) {
    const chain = ipt.chain(h);
    if (chain.length > 0) out.push(`    slot ${String(h).padStart(2)}: pfn ${chain[0]}`);
  }
  return out;
}

function stepText(s: IptStepOp): string {
  switch (s.kind) {
    case "access":
      return `space ${s.space} ${s.write ? "writes" : "reads"} ${hex(s.va)}`;
    case "map":
      return `the OS maps space ${s.space}'s page ${hex(s.vpn)} into pfn ${s.pfn} (${rightsText(s.rights)}, clean)`;
    case "unmap":
      return `the OS unmaps pfn ${s.pfn}`;
  }
}

export function iptProblem(ex: IptExercise): string[] {
  const ipt = buildTable(ex);
  const mult = 0x9e5 & (ipt.hatSlots - 1);
  return [
    `Inverted page table exercise: seed ${ex.seed}`,
    "",
    `Machine: ${ex.frames} page frames of 4 KiB (pfn 0 to ${ex.frames - 1}), ${ex.spaces === 1 ? "one address space (space 1)" : `${ex.spaces} address spaces (spaces 1 to ${ex.spaces})`}.`,
    "The inverted page table (IPT) has one entry per frame: valid bit, the address space and the",
    "virtual page number (vpn) it maps, the user rights, the dirty bit D, and the next entry of its",
    `hash chain. The hash anchor table (HAT) has ${ipt.hatSlots} slots, each the first entry of a chain:`,
    "",
    `  hash(space, vpn) = (vpn XOR (space * 0x9e5)) mod ${ipt.hatSlots}  (= vpn XOR (space * ${mult}), low ${Math.log2(ipt.hatSlots)} bits)`,
    "",
    "A lookup reads the HAT slot of the hash (one memory reference), then the chain's entries one by",
    "one (one reference each) until one is valid with the same space and vpn: then the physical",
    "address is that entry's pfn * 4096 + the offset. If the chain ends first, the lookup misses:",
    "a hash fault, the OS's to handle. A hit whose rights refuse the access is a protection fault;",
    "a write through an entry with D = 0 that may be written is a hash fault too: the OS re-inserts",
    "the entry with D = 1 (at the head of its chain, as any insert) and the write retries.",
    "The OS inserts an entry at the head of its chain; mapping a frame whose entry is valid first",
    "takes the old entry out of its chain (the frame had one mapping: the old one is stolen).",
    "",
    "The table:",
    ...iptTableLines(ipt),
    "",
    "Steps (each on the table the previous ones left):",
    ...ex.steps.map((s, i) => `  ${String(i + 1).padStart(2)}. ${stepText(s)}`),
    "",
    "For each access, give the HAT slot, the entries (pfns) compared, the memory references, and the",
    "physical address or the fault. For each edit of the OS, give the chains it changes.",
  ];
}

function chainText(ipt: Ipt, h: number): string {
  const c = ipt.chain(h);
  return `slot ${h}: ${c.length === 0 ? "empty" : `pfn ${c.join(" -> ")}`}`;
}

/** The answers, each from vmlab's IPT: its lookup for accesses, its insert and remove for the edits. */
export function solveIpt(ex: IptExercise): { answers: string[]; ipt: Ipt } {
  const ipt = buildTable(ex);
  const answers: string[] = [];
  ex.steps.forEach((s, i) => {
    const n = `${String(i + 1).padStart(2)}.`;
    if (s.kind === "access") {
      const vpn = Math.floor(s.va / 4096);
      const t = ipt.trace(s.space, vpn);
      const pfn = ipt.lookup(s.space, vpn);
      const refs = 1 + ipt.chainSteps;
      const compared =
        t.steps.length === 0 ? "none (the slot is empty)" : t.steps.map((x) => x.pfn).join(", ");
      let outcome: string;
      if (pfn < 0) outcome = "miss: hash fault";
      else if (s.write && (ipt.rights & Perm.UW) === 0)
        outcome = `hit pfn ${pfn}, but ${rightsText(ipt.rights)} refuses the write: protection fault`;
      else if (s.write && !ipt.dirty) {
        // the OS's hash fault re-inserts the entry with D set, at the head of its chain, as
        // `machine pagetable=inverted`'s hash_page does (kernel/arch/x86/hash.ts, docs/inverted.md)
        ipt.insert(pfn, s.space, vpn, ipt.rights, true, 0);
        outcome = `hit pfn ${pfn}, D = 0: hash fault (the OS re-inserts the entry with D = 1: ${chainText(ipt, t.hash)}; the retry writes pa ${hex(pfn * 4096 + (s.va % 4096))})`;
      } else outcome = `hit: pa ${hex(pfn * 4096 + (s.va % 4096))}`;
      answers.push(
        `${n} ${stepText(s)}: vpn ${hex(vpn)}, slot ${t.hash}; compares ${compared}; ${counted(refs, "memory reference")}; ${outcome}`,
      );
      return;
    }
    if (s.kind === "map") {
      const old = ipt.entry(s.pfn);
      ipt.insert(s.pfn, s.space, s.vpn, s.rights, false, 0);
      const h = ipt.hash(s.space, s.vpn);
      const parts = [];
      if (old !== null) {
        const oh = ipt.hash(old.space, old.vpn);
        parts.push(`steals the entry of space ${old.space}'s page ${hex(old.vpn)}`);
        if (oh !== h) parts.push(chainText(ipt, oh));
      }
      parts.push(chainText(ipt, h));
      answers.push(`${n} ${stepText(s)}: ${parts.join("; ")}`);
      return;
    }
    const old = ipt.entry(s.pfn);
    ipt.remove(s.pfn);
    answers.push(
      old === null
        ? `${n} ${stepText(s)}: its entry is not valid; nothing changes`
        : `${n} ${stepText(s)}: space ${old.space}'s page ${hex(old.vpn)} leaves its chain; ${chainText(ipt, ipt.hash(old.space, old.vpn))}`,
    );
  });
  return { answers, ipt };
}
