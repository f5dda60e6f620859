/**
 * `vmlab exercise walk --arch arm64 --granule 16K|64K`: the walk exercise with
 * arm64's larger translation granules (Arm ARM D8.2, "Translation granule";
 * TCR_EL1.TG0/TG1), which `vmlab walk` reads (hw/arch/arm64/granule.ts) but
 * the 4K CPU model and its mapper do not build: hw/arch/arm64/granuleTables.ts
 * writes the tables for 48-bit input ranges (T0SZ = T1SZ = 16), so a 16K walk
 * starts at level 0 with a 2-entry table and a 64K walk at level 1 with a
 * 64-entry one; a page is a level-3 descriptor of the granule's size, a block
 * a level-2 one (32 MiB with 16K, 512 MiB with 64K). The answers come from
 * `vmlab walk`'s reader and walker, as for every other exercise.
 */
import { Rng } from "../../base/rng.ts";
import { GranuleTables, granuleGeometry } from "../../hw/arch/index.ts";
import type { MapFlags } from "../../hw/mmu/Mapper.ts";
import { formatImage, REGIONS, type WalkExercise, type WalkExerciseOptions, walkQuestions } from "./walk.ts";
import { WALK_PROFILES } from "./walkProfiles.ts";

/** The granules this generator builds, by their names in TCR_EL1.TGn's terms. */
export const EXERCISE_GRANULES = ["16K", "64K"] as const;
export type ExerciseGranule = (typeof EXERCISE_GRANULES)[number];

/** T0SZ = T1SZ = 16: 48-bit input ranges, as Linux's 48-bit VA configurations */
const TSZ = 16;
/** tables from 64 KiB on, each at a granule-aligned address */
const TABLES_PA = 0x1_0000;
/** pages from 64 MiB on (4096 granules' worth), blocks at multiples of their size from one block up */
const PAGES_PA = 0x400_0000;
const PAGE_SLOTS = 4096;
const BLOCK_SLOTS = 24;
/** window slots (block sized) a region may start in */
const SLOTS = 64;
const USER_BASE = 0xaaaa_0000_0000n;
const KERNEL_BASE = 0xffff_0000_0000_0000n;

/**
 * The exercise of `opts` with the `granule` given: the same options give the
 * same exercise. What is mapped, and the questions, follow generateWalkExercise's plan.
 */
export function generateGranuleExercise(opts: WalkExerciseOptions, granule: ExerciseGranule): WalkExercise {
  const g = granule === "16K" ? 14 : 16;
  const pageBytes = 2 ** g;
  const { stride } = granuleGeometry(g);
  const blockBytes = 2 ** (g + stride);
  const rng = new Rng(opts.seed);
  const tables = new GranuleTables(g, TABLES_PA);
  const userRoot = tables.newTable();
  const kernelRoot = tables.newTable();
  const map = (root: number, va: bigint, pa: number, level: 2 | 3, flags: MapFlags): void =>
    tables.map(root, va, pa, level, flags);

  const usedPages = new Set<number>();
  const pageFrame = (): number => {
    for (;;) {
      const slot = rng.below(PAGE_SLOTS);
      if (usedPages.has(slot)) continue;
      usedPages.add(slot);
      return PAGES_PA + slot * pageBytes;
    }
  };
  const usedBlocks = new Set<number>();
  const blockFrame = (): number => {
    for (;;) {
      const slot = 1 + rng.below(BLOCK_SLOTS);
      if (usedBlocks.has(slot)) continue;
      usedBlocks.add(slot);
      // above the pages' 64 MiB..: a 32 MiB block from 32 MiB * 8 on, a 512 MiB one from 512 MiB on
      return (g === 14 ? 8 * blockBytes : 0) + slot * blockBytes;
    }
  };
  const usedSlots = { user: new Set<number>(), kernel: new Set<number>() };
  const slotIn = (user: boolean): bigint => {
    const set = user ? usedSlots.user : usedSlots.kernel;
    for (;;) {
      const s = rng.below(SLOTS);
      if (set.has(s)) continue;
      set.add(s);
      return (user ? USER_BASE : KERNEL_BASE) + BigInt(s) * BigInt(blockBytes);
    }
  };

  const targets: { va: bigint; span: number; user: boolean }[] = [];
  for (const region of REGIONS) {
    const first = slotIn(region.user);
    const pages = 2 + rng.below(4);
    for (let p = 0; p < pages; p++) {
      const va = first + BigInt(p * pageBytes);
      targets.push({ va, span: pageBytes, user: region.user });
      if (rng.float() < 0.2) continue; // a hole: the leaf stays empty
      const flags: MapFlags = {
        ...region.flags,
        accessed: rng.float() >= 0.15,
        dirty: region.flags.writable ? rng.float() >= 0.25 : false,
      };
      map(region.user ? userRoot : kernelRoot, va, pageFrame(), 3, flags);
    }
  }
  // a block of user data and one of the kernel's
  for (const user of [true, false]) {
    const va = slotIn(user);
    const flags: MapFlags = {
      user,
      writable: true,
      nx: true,
      accessed: true,
      dirty: true,
      global: !user,
    };
    map(user ? userRoot : kernelRoot, va, blockFrame(), 2, flags);
    targets.push({ va, span: blockBytes, user });
  }
  // nothing mapped there at all
  for (const user of [true, false]) targets.push({ va: slotIn(user), span: pageBytes, user });

  const hex = (n: number): string => `0x${n.toString(16)}`;
  const regs: Record<string, string | number> = {
    ttbr0_el1: hex(userRoot),
    ttbr1_el1: hex(kernelRoot),
    "tcr_el1.t0sz": TSZ,
    "tcr_el1.t1sz": TSZ,
    "tcr_el1.tg0": granule,
    "tcr_el1.tg1": granule,
  };
  // the 4K arm64 exercise's controls (walkProfiles.ts), drawn in the same order
  const arm64 = WALK_PROFILES.arm64;
  for (const [name, p] of Object.entries(arm64.controls)) regs[name] = rng.float() < p ? 1 : 0;

  const entries = tables.entries();

  const questions = walkQuestions(rng, targets, opts.count, arm64.user, arm64.kernel);

  return {
    arch: opts.arch,
    seed: opts.seed,
    imageText: formatImage(opts.arch, {}, regs, entries, 8),
    registers: Object.entries(regs).map(([k, v]): [string, string] => [k, String(v)]),
    entries,
    entryBytes: 8,
    privilegeFlag: "el",
    faultAnswer: "ESR_EL1 (the fault status code and level)",
    questions,
  };
}
