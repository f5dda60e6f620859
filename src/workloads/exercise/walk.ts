/**
 * `vmlab exercise walk`: a page-table image in the `vmlab walk` format and
 * accesses to translate by hand. The tables are built by the
 * architecture's own mapper (hw/arch/index.ts: the PageTableMapper that
 * tests and the kernel use) in a scratch machine's RAM, then every
 * non-zero entry is written out as the image's memory; the answers come
 * from reading that image back through `vmlab walk`'s reader and walker
 * (workloads/pagetableImage.ts, the architecture's WalkImageDriver), so
 * that `vmlab walk --image FILE` gives the same answers.
 */
import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { fromBig } from "../../base/u64.ts";
import { type Pfn, pfnUnchecked, type Vpn } from "../../base/units.ts";
import { parseAccess } from "../../hw/access.ts";
import { HW_ARCHES, walkImageArches, walkImageDriver } from "../../hw/arch/index.ts";
import { BumpFrames, type MapFlags } from "../../hw/mmu/Mapper.ts";
import { parseImage } from "../pagetableImage.ts";
import { WALK_PROFILES, type WalkProfile } from "./walkProfiles.ts";

export interface WalkExerciseOptions {
  arch: string;
  seed: number;
  /** how many accesses to ask about */
  count: number;
}

export interface WalkQuestion {
  va: bigint;
  access: "read" | "write" | "exec";
  who: "user" | "kernel";
  /** the value of the image's privilege flag (`--cpl 3`, `--el 0`, `--priv u`) */
  privilege: string;
}

export interface WalkExercise {
  arch: string;
  seed: number;
  /** the image, as `vmlab walk --image` reads it */
  imageText: string;
  /** the image's registers as the problem states them (name, value) */
  registers: [string, string][];
  /** every non-zero entry: its physical address and value */
  entries: { pa: number; value: bigint }[];
  entryBytes: number;
  /** the privilege flag of `vmlab walk` for this image (cpl, el, priv) */
  privilegeFlag: string;
  faultAnswer: string;
  questions: WalkQuestion[];
}

/** The architectures `vmlab exercise walk` takes: every one `vmlab walk` reads. */
export function walkExerciseArches(): string[] {
  return walkImageArches().flatMap((d) => [...d.arches]);
}

/** The kinds of pages a region holds, with Linux's protections for them. */
export const REGIONS: readonly { name: string; user: boolean; flags: MapFlags }[] = [
  { name: "user text", user: true, flags: { user: true, writable: false, nx: false } },
  { name: "user data", user: true, flags: { user: true, writable: true, nx: true } },
  { name: "user rodata", user: true, flags: { user: true, writable: false, nx: true } },
  { name: "kernel text", user: false, flags: { writable: false, nx: false, global: true } },
  { name: "kernel data", user: false, flags: { writable: true, nx: true, global: true } },
];

/** Window slots (large-page sized) a region may start in. */
const SLOTS = 64;
/** Data frames come from [DATA_FIRST_PFN, DATA_END_PFN): 4 MiB to 256 MiB. */
const DATA_FIRST_PFN = 0x400;
const DATA_END_PFN = 0x10000;
/** Page tables are allocated from frame 1 on. */
const FIRST_TABLE_PFN = 1;

/**
 * Builds the exercise of `opts`: the same options give the same exercise
 * (every choice comes from the seeded Rng, in a fixed order).
 */
export function generateWalkExercise(opts: WalkExerciseOptions): WalkExercise {
  const driver = walkImageDriver(opts.arch);
  const profile: WalkProfile | undefined = WALK_PROFILES[opts.arch];
  if (driver === null || profile === undefined || !Object.hasOwn(HW_ARCHES, opts.arch))
    throw new InputError(`--arch must be ${walkExerciseArches().join(", ")}, not '${opts.arch}'`);
  const rng = new Rng(opts.seed);
  const hw = HW_ARCHES[opts.arch];
  const machine = hw.machine({ ramBytes: DATA_END_PFN * 4096, tlb: "none" });
  const cpu = machine.cpus[0];
  const alloc = new BumpFrames(FIRST_TABLE_PFN, DATA_FIRST_PFN);
  const mapper = hw.mapper(machine.phys, alloc);
  const userRoot = mapper.newRoot() as Pfn;
  const kernelRoot = profile.kernelRoot ? (mapper.newRoot() as Pfn) : userRoot;
  const rootFor = (user: boolean): Pfn => (user ? userRoot : kernelRoot);

  const usedFrames = new Set<number>();
  const frame = (align: number): number => {
    for (;;) {
      const pfn = DATA_FIRST_PFN + align * rng.below((DATA_END_PFN - DATA_FIRST_PFN) / align);
      let free = true;
      for (let k = 0; k < align; k++) if (usedFrames.has(pfn + k)) free = false;
      if (!free) continue;
      for (let k = 0; k < align; k++) usedFrames.add(pfn + k);
      return pfn;
    }
  };
  const vpnOf = (va: bigint): Vpn => {
    const { hi, lo } = fromBig(va);
    return cpu.pageNumber(hi, lo) as Vpn;
  };

  // regions: each kind once, in distinct slots of its window; some pages left out (holes)
  const slotPages = profile.largePageBytes / 4096;
  const usedSlots = { user: new Set<number>(), kernel: new Set<number>() };
  const slotIn = (user: boolean): number => {
    const set = user ? usedSlots.user : usedSlots.kernel;
    for (;;) {
      const s = rng.below(SLOTS);
      if (!set.has(s)) {
        set.add(s);
        return s;
      }
    }
  };
  const base = (user: boolean, slot: number): bigint =>
    (user ? profile.userBase : profile.kernelBase) + BigInt(slot) * BigInt(profile.largePageBytes);
  /** addresses questions may ask about: pages mapped or left out, in the regions and outside them */
  const targets: { va: bigint; span: number; user: boolean }[] = [];
  for (const region of REGIONS) {
    const start = base(region.user, slotIn(region.user));
    const pages = 2 + rng.below(4);
    for (let p = 0; p < pages; p++) {
      const va = start + BigInt(p * 4096);
      targets.push({ va, span: 4096, user: region.user });
      if (rng.float() < 0.2) continue; // a hole: the leaf stays empty
      const flags: MapFlags = {
        ...region.flags,
        accessed: rng.float() >= 0.15,
        dirty: region.flags.writable ? rng.float() >= 0.25 : false,
      };
      const r = mapper.map(rootFor(region.user), vpnOf(va), pfnUnchecked(frame(1)), 0, flags);
      assert(r.ok, `generateWalkExercise: map ${region.name}`);
    }
  }
  // a large page of user data and one of the kernel's
  for (const user of [true, false]) {
    const va = base(user, slotIn(user));
    const flags: MapFlags = { user, writable: true, nx: true, accessed: true, dirty: true, global: !user };
    const r = mapper.map(rootFor(user), vpnOf(va), pfnUnchecked(frame(slotPages)), 1, flags);
    assert(r.ok, "generateWalkExercise: map a large page");
    targets.push({ va, span: profile.largePageBytes, user });
  }
  // nothing mapped there at all
  for (const user of [true, false]) targets.push({ va: base(user, slotIn(user)), span: 4096, user });

  // registers
  const rootKeys = profile.roots(userRoot * 4096, kernelRoot * 4096);
  const regs: Record<string, string | number> = { ...rootKeys.regs };
  for (const [name, v] of Object.entries(profile.fixed)) regs[name] = v;
  for (const [name, p] of Object.entries(profile.controls)) regs[name] = rng.float() < p ? 1 : 0;

  // the memory: every non-zero entry of every table
  const entries: { pa: number; value: bigint }[] = [];
  for (let pfn = FIRST_TABLE_PFN; pfn < alloc.next; pfn++) {
    for (let off = 0; off < 4096; off += profile.entryBytes) {
      const pa = pfn * 4096 + off;
      const value = profile.entryBytes === 4 ? BigInt(machine.phys.read32(pa)) : machine.phys.read64Big(pa);
      if (value !== 0n) entries.push({ pa, value });
    }
  }

  const questions = walkQuestions(rng, targets, opts.count, profile.user, profile.kernel);

  const imageText = formatImage(opts.arch, rootKeys.top, regs, entries, profile.entryBytes);
  return {
    arch: opts.arch,
    seed: opts.seed,
    imageText,
    registers: [
      ...Object.entries(rootKeys.top),
      ...Object.entries(regs).map(([k, v]): [string, string] => [k, String(v)]),
    ],
    entries,
    entryBytes: profile.entryBytes,
    privilegeFlag: driver.privilege.flag,
    faultAnswer: profile.faultAnswer,
    questions,
  };
}

/**
 * `count` questions about `targets` (pages mapped or left out, and places where nothing is):
 * an address in one, an access, and mostly the privilege the page is meant for, sometimes the
 * other (`user` and `kernel`: the privilege flag's values).
 */
export function walkQuestions(
  rng: Rng,
  targets: readonly { va: bigint; span: number; user: boolean }[],
  count: number,
  user: string,
  kernel: string,
): WalkQuestion[] {
  const questions: WalkQuestion[] = [];
  for (let q = 0; q < count; q++) {
    const t = targets[rng.below(targets.length)];
    const va = t.va + BigInt(rng.below(t.span));
    const roll = rng.float();
    const access = roll < 0.45 ? "read" : roll < 0.8 ? "write" : "exec";
    const asUser = rng.float() < 0.75 ? t.user : !t.user;
    questions.push({ va, access, who: asUser ? "user" : "kernel", privilege: asUser ? user : kernel });
  }
  return questions;
}

/** The image as JSON: one memory item per entry (little-endian bytes, as stored in RAM). */
export function formatImage(
  arch: string,
  top: Record<string, string>,
  regs: Record<string, string | number>,
  entries: { pa: number; value: bigint }[],
  entryBytes: number,
): string {
  const le = (v: bigint): string => {
    let s = "";
    for (let i = 0; i < entryBytes; i++)
      s += Number((v >> BigInt(8 * i)) & 0xffn)
        .toString(16)
        .padStart(2, "0");
    return s;
  };
  const lines = ["{", `  "arch": ${JSON.stringify(arch)},`];
  for (const [k, v] of Object.entries(top)) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
  const regText = Object.entries(regs).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  lines.push('  "regs": {', regText.join(",\n"), "  },");
  lines.push('  "memory": [');
  lines.push(
    entries.map((e) => `    { "pa": "0x${e.pa.toString(16)}", "hex": "${le(e.value)}" }`).join(",\n"),
  );
  lines.push("  ]", "}");
  return lines.join("\n");
}

/** The problem's text; `imageFile` is where the image was written (null: it is printed inline). */
export function walkProblem(ex: WalkExercise, imageFile: string | null): string[] {
  const digits = ex.entryBytes * 2;
  const vaDigits = ex.arch.startsWith("i386") ? 8 : 16;
  const out = [
    `Page-table walk exercise: arch ${ex.arch}, seed ${ex.seed}`,
    "",
    "Registers:",
    ...ex.registers.map(([k, v]) => `  ${k.padEnd(14)} ${v}`),
    "",
    `Physical memory: every non-zero ${ex.entryBytes}-byte entry (all other memory reads as zero)`,
    ...ex.entries.map(
      (e) => `  0x${e.pa.toString(16).padStart(8, "0")}: 0x${e.value.toString(16).padStart(digits, "0")}`,
    ),
    "",
    "For each access, say whether it translates (give the physical address) or faults",
    `(give ${ex.faultAnswer}). Hardware would set accessed and dirty flags where it may;`,
    "take such an update as done.",
    "",
  ];
  ex.questions.forEach((q, i) => {
    out.push(
      `  Q${String(i + 1).padEnd(3)} ${q.access.padEnd(5)} ${q.who.padEnd(6)} (--${ex.privilegeFlag} ${q.privilege})  va 0x${q.va.toString(16).padStart(vaDigits, "0")}`,
    );
  });
  out.push("");
  const file = imageFile ?? "walk.json";
  if (imageFile === null)
    out.push("The image as `vmlab walk` reads it (save it as walk.json):", ex.imageText, "");
  else out.push(`The image is in ${imageFile}.`);
  const q = ex.questions[0];
  if (q)
    out.push(
      `Check an answer: vmlab walk --image ${file} --va 0x${q.va.toString(16)} --access ${q.access} --${ex.privilegeFlag} ${q.privilege}`,
    );
  return out;
}

/**
 * The answers, each with its reasoning: every entry the walk read and the
 * outcome, as `vmlab walk` prints them for the emitted image (the same
 * reader, driver and walker).
 */
export function solveWalk(ex: WalkExercise): { answers: string[]; reports: object[] } {
  const img = parseImage(ex.imageText, "<exercise image>");
  const answers: string[] = [];
  const reports: object[] = [];
  ex.questions.forEach((q, i) => {
    const access = parseAccess(q.access);
    assert(access !== null, "solveWalk: access");
    const r = img.session.walk(q.va, access, q.privilege, q.access);
    reports.push(r.report);
    const outcome = r.lines[r.lines.length - 1].replace(/^\s*->\s*/, "");
    answers.push(`Q${i + 1}: ${outcome}`, ...r.lines.slice(0, -1).map((l) => `  ${l}`), "");
  });
  return { answers, reports };
}
