/** The teaching machine as a Machine's architecture: 4 KiB of RAM (128 pages of 32 bytes). */
import { type HwArch, Machine } from "../../machine/Machine.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { TEACHING_PAGE_SIZE, TEACHING_PHYS_PAGES } from "./format.ts";
import { TeachingMmu } from "./Mmu.ts";

export const TEACHING: HwArch<TeachingMmu, Record<string, never>> = {
  name: "teaching",
  physBitsName: "the teaching machine's physical address size",
  // 7-bit frame numbers of 32-byte pages
  physBits: () => 12,
  newCpu: (id, phys, _o, tlb) => new TeachingMmu(id, phys, tlb ?? "none"),
};

/** The homework's machine: 128 pages of 32 bytes, one CPU, no TLB unless asked. */
export function teachingMachine(tlb: string | TlbSpec = "none"): Machine<TeachingMmu, Record<string, never>> {
  return new Machine(TEACHING, { ramBytes: TEACHING_PAGE_SIZE * TEACHING_PHYS_PAGES, tlb, options: {} });
}
