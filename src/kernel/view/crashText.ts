/**
 * crash-utility's text primitives, shared by the architectures' vtop
 * layouts (view/crash.ts, crashRiscv64.ts, crashX86.ts): mkstring's
 * justification (tools.c), hex as %lx prints it, and translate_pte's two
 * tables (x86_64.c x86_64_translate_pte, x86.c x86_translate_pte,
 * arm64.c arm64_translate_pte, riscv64.c riscv64_translate_pte): `PTE
 * PHYSICAL FLAGS` of a present entry, `PTE SWAP OFFSET` of a swap entry.
 */
import type { KernelCore } from "../core/core.ts";

/** The swap device vtop and /proc/swaps name (vmlab has one swap area, type 0). */
export const SWAP_DEVICE = "/swapfile";

export const CENTER = 1;
export const LJUST = 2;
export const RJUST = 4;

/** crash's mkstring: `s` justified in `size` columns (never cut). */
export function mkstring(s: string, size: number, flags: number): string {
  const extra = size - s.length;
  if (extra <= 0) return s;
  if (flags & CENTER) {
    let left = extra >> 1;
    let right = extra >> 1;
    if (extra % 2) {
      if (flags & RJUST) left++;
      else right++;
    }
    return " ".repeat(left) + s + " ".repeat(right);
  }
  return flags & RJUST ? s.padStart(size) : s.padEnd(size);
}

/** An entry as one unsigned 64-bit value. */
export const big = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
/** %lx of an entry given as two halves */
export const hex = (hi: number, lo: number): string => big(hi, lo).toString(16);
/** %lx */
export const hexN = (n: number | bigint): string => n.toString(16);

/** What an architecture's verbose uvtop / kvtop printed, and what it hands back to do_vtop. */
export interface VtopWalk {
  lines: string[];
  /** its return value: the page is there (x86: present or PROT_NONE) */
  mapped: boolean;
  /** *paddr after the call: the physical address of a mapped page */
  pa: bigint;
}

/** translate_pte's table of a present (or PROT_NONE) entry: `PTE PHYSICAL FLAGS`. */
export function pteTable(pte: string, phys: string, flags: string): string[] {
  const len1 = Math.max(pte.length, 3);
  const len2 = Math.max(phys.length, 8);
  return [
    `${mkstring("PTE", len1, CENTER | LJUST)}  ${mkstring("PHYSICAL", len2, CENTER | LJUST)}  FLAGS`,
    `${mkstring(pte, len1, CENTER | RJUST)}  ${mkstring(phys, len2, CENTER | RJUST)}  ${flags}`,
  ];
}

/**
 * translate_pte's table of a swap entry: `PTE SWAP OFFSET`, from
 * swap_location. The offset is the one Linux's __swp_offset gives for the
 * modelled kernel (Pgtable.swapOffset): crash's own macros for 32-bit x86
 * (offset = entry >> 8; PAE: entry >> 37) and RISC-V (__SWP_TYPE_SHIFT 6)
 * predate the layouts of current kernels.
 */
export function swapTable(k: KernelCore, hi: number, lo: number): string[] {
  const pte = hex(hi, lo);
  const len1 = Math.max(pte.length, 3);
  const offset = String(k.arch.pgtable.swapOffset(hi, lo));
  const len2 = Math.max(SWAP_DEVICE.length, 4);
  const len3 = Math.max(offset.length, 6);
  return [
    `${mkstring("PTE", len1, CENTER | LJUST)}  ${mkstring("SWAP", len2, CENTER | LJUST)}  ${mkstring("OFFSET", len3, CENTER | LJUST)}`,
    `${mkstring(pte, len1, CENTER | RJUST)}  ${mkstring(SWAP_DEVICE, len2, CENTER | RJUST)}  ${mkstring(offset, len3, CENTER | RJUST)}`,
  ];
}
