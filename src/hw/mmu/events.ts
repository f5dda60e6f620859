/**
 * The events of the MMU's opt-in trace stream (`--trace`): built only when
 * a tracer is installed (Mmu.tracer), worded by the architecture.
 */
import type { PhysAddr, Vpn } from "../../base/units.ts";
import { type Access, Mode } from "../access.ts";

/** An event of the opt-in trace stream. Built only when a tracer is installed. */
export type HwEvent =
  | {
      type: "tlb";
      cpu: number;
      vpn: Vpn;
      access: Access;
      hit: boolean;
      level: number;
      /** an unprivileged access made in privileged mode (arm64 LDTR/STTR at EL1) */
      unprivileged: boolean;
    }
  | {
      type: "walk-step";
      cpu: number;
      level: number;
      /** the level's name in the architecture's manual (x86 PML4, arm64 L0) */
      levelName: string;
      index: number;
      entryPa: PhysAddr;
      hi: number;
      lo: number;
      /** the entry's width in bytes (the format's entryBytes): 8, 4 (i386 2-level, Sv32) or 1 */
      bytes: number;
      psc: boolean;
    }
  | {
      type: "fault";
      cpu: number;
      /** the architecture's outcome code (x86: the vector, 13 or 14) */
      vector: number;
      /** the architecture's fault code (x86 error code, ARM64 ESR_EL1, RISC-V scause) */
      errorCode: number;
      /** the faulting address (x86 CR2, ARM64 FAR_EL1, RISC-V stval) */
      cr2Hi: number;
      cr2Lo: number;
      /** the fault as the architecture's manual words it (x86 "#PF", arm64 the ESR_EL1 decoded) */
      text: string;
    }
  /** vpn -1: every page; `asidName` is what the architecture calls the tag (PCID, ASID) */
  | {
      type: "invalidate";
      cpu: number;
      op: string;
      asid: number;
      asidName: string;
      vpn: Vpn | -1;
      entries: number;
    }
  /** a change of the CPU's state that decides what accesses may do (arm64 PSTATE.PAN, x86 RFLAGS.AC) */
  | { type: "state"; cpu: number; text: string }
  | { type: "ad-write"; cpu: number; entryPa: PhysAddr; hi: number; lo: number }
  /** a hash lookup of an inverted page table (pagetable=inverted): its HAT slot, entries compared, the frame or -1 */
  | { type: "ipt"; cpu: number; space: number; vpn: Vpn; slot: number; compared: number; pfn: number };

/**
 * The "tlb" event of a lookup by `mode` (Mmu.translateVpn): a hit at `level`, or a miss (level -1).
 * `unprivileged`: a user-mode check made in privileged mode (arm64 LDTR/STTR at EL1).
 */
export function tlbEvent(
  mmu: { readonly id: number; currentMode(): Mode },
  vpn: Vpn,
  access: Access,
  mode: Mode,
  level: number,
): HwEvent {
  const unprivileged = mode === Mode.User && mmu.currentMode() !== Mode.User;
  return { type: "tlb", cpu: mmu.id, vpn, access, hit: level >= 0, level, unprivileged };
}

/** The "invalidate" event of a flush of every entry `how` matched (Mmu.flushMatching): asid -1 for all ASIDs. */
export function flushEvent(
  mmu: { readonly id: number; readonly asidName: string },
  op: string,
  asid: number,
  entries: number,
): HwEvent {
  return { type: "invalidate", cpu: mmu.id, op, asid, asidName: mmu.asidName, vpn: -1, entries };
}

/** The "walk-step" event of one entry a walk read (Mmu.walk); `psc`: the walk started from a walk cache. */
export function walkStepEvent(
  mmu: {
    readonly id: number;
    readonly format: { readonly levelNames: readonly string[]; readonly entryBytes: number };
  },
  level: number,
  index: number,
  entryPa: number,
  hi: number,
  lo: number,
  psc: boolean,
): HwEvent {
  const levelName = mmu.format.levelNames[level];
  return {
    type: "walk-step",
    cpu: mmu.id,
    level,
    levelName,
    index,
    entryPa: entryPa as PhysAddr,
    hi,
    lo,
    bytes: mmu.format.entryBytes,
    psc,
  };
}
