/**
 * RISC-V memory-management exceptions as values: scause and stval
 * (Privileged Architecture, "Supervisor Cause Register (scause)", its table
 * "Supervisor cause register (scause) values after trap", and "Supervisor
 * Trap Value (stval) Register"). For a page or access fault stval is the
 * faulting virtual address.
 *
 *   63 Interrupt | 62:0 Exception Code   (exceptions: Interrupt = 0)
 *
 * A fault found by the walk is a page fault (12 fetch, 13 load, 15
 * store/AMO); a PTE read that fails a PMA check (here: outside RAM) is an
 * access fault of the same access (1, 5, 7).
 */
import { Access } from "../../access.ts";
import { HwFaultKind } from "../../mmu/PagingFormat.ts";

/** The exception codes of memory accesses; `translate` returns one of them (0: no fault). */
export const enum Scause {
  OK = 0,
  INSTRUCTION_ACCESS_FAULT = 1,
  LOAD_ACCESS_FAULT = 5,
  STORE_ACCESS_FAULT = 7,
  INSTRUCTION_PAGE_FAULT = 12,
  LOAD_PAGE_FAULT = 13,
  STORE_PAGE_FAULT = 15,
}

/** Every exception code of scause 0..19 by its name in the spec's table (undefined ones "reserved"). */
export const SCAUSE_NAMES: readonly string[] = [
  "instruction address misaligned",
  "instruction access fault",
  "illegal instruction",
  "breakpoint",
  "load address misaligned",
  "load access fault",
  "store/AMO address misaligned",
  "store/AMO access fault",
  "environment call from U-mode",
  "environment call from S-mode",
  "reserved",
  "reserved",
  "instruction page fault",
  "load page fault",
  "reserved",
  "store/AMO page fault",
  "reserved",
  "reserved",
  "software check",
  "hardware error",
];

/** The `vmlab walk` fault names (../shared/spec/walk-images.md). */
export type RiscvFaultName =
  | "instruction-page-fault"
  | "load-page-fault"
  | "store-page-fault"
  | "instruction-access-fault"
  | "load-access-fault"
  | "store-access-fault";

/** scause of a fault of generic kind `kind` on `access` (AddressSize: the PTE was outside RAM). */
export function scauseOf(kind: number, access: Access): Scause {
  if (kind === HwFaultKind.AddressSize)
    return access === Access.Exec
      ? Scause.INSTRUCTION_ACCESS_FAULT
      : access === Access.Write
        ? Scause.STORE_ACCESS_FAULT
        : Scause.LOAD_ACCESS_FAULT;
  return access === Access.Exec
    ? Scause.INSTRUCTION_PAGE_FAULT
    : access === Access.Write
      ? Scause.STORE_PAGE_FAULT
      : Scause.LOAD_PAGE_FAULT;
}

/** The `vmlab walk` name of a memory-management scause. */
export function scauseName(scause: number): RiscvFaultName {
  switch (scause) {
    case Scause.INSTRUCTION_ACCESS_FAULT:
      return "instruction-access-fault";
    case Scause.LOAD_ACCESS_FAULT:
      return "load-access-fault";
    case Scause.STORE_ACCESS_FAULT:
      return "store-access-fault";
    case Scause.INSTRUCTION_PAGE_FAULT:
      return "instruction-page-fault";
    case Scause.STORE_PAGE_FAULT:
      return "store-page-fault";
    default:
      return "load-page-fault";
  }
}

/** scause in words, as a trap handler would print it. */
export function describeScause(scause: number): string {
  return `scause ${scause}: ${SCAUSE_NAMES[scause] ?? "reserved or custom"}`;
}
