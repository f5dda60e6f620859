/**
 * crash's vtop walk on RISC-V (crash-utility riscv64.c
 * riscv64_vtop_3level_4k / 4level_4k / 5level_4k, riscv64_translate_pte),
 * printf for printf:
 *
 *     PAGE DIRECTORY: ffffffd6000c0000          (mm->pgd or swapper_pg_dir)
 *       PGD: ffffffd6000c0ff8 => 20300001       (%lx at its kernel address)
 *       PMD: 0000000000c00ff0 => 0000000020300401   (%016lx, physical)
 *       PTE: c00ff8 => 2030e4d7                  (%lx, physical)
 *      PAGE: 000000000c0fe000                    (%016lx)
 *
 *        PTE       PHYSICAL   FLAGS
 *     2030e4d7     c0fe000   (PRESENT|READ|WRITE|USER|ACCESSED|DIRTY)
 *
 * Its quirks are kept: a zero entry at any level ends the walk with
 * `invalid for ADDR address`; the 5-level walk prints the PTE table's base,
 * not the entry's address; translate_pte masks the entry to bits 0-53
 * (PTE_PFN_PROT_MASK) and prints only the `PTE` title of an entry that is
 * not present, which ` PAGE: %016lx not present` follows on the same line
 * with *paddr still 0.
 *
 * What crash's riscv64 cannot print, and what vmlab prints instead:
 * - a leaf above the PTE level (a megapage or gigapage: the linear map, THP).
 *   riscv64_page_type_init supports 4K pages only, and its walk would take
 *   the leaf's frame for a page table and read data as entries. vmlab stops
 *   at the leaf, as crash's x86_64 and arm64 walks do at a 2M/1G block:
 *   ` PAGE: %016lx  (2MB)` (`1GB`, `512GB`) with the leaf's base, then the
 *   leaf's translate_pte table.
 * - the swap slot of a swapped-out page. riscv64_uvtop leaves *paddr 0 for
 *   an entry that is not present, so do_vtop's swap_location finds nothing;
 *   vmlab hands the entry back as x86_uvtop and arm64_uvtop do (crash.ts
 *   then prints `SWAP: /swapfile  OFFSET: N`).
 */
import type { KernelCore } from "../core/core.ts";
import { big, CENTER, hexN, LJUST, mkstring, pteTable, type VtopWalk } from "./crashText.ts";
import type { WalkInfo } from "./types.ts";

/** PTE_PFN_PROT_MASK: bits 0-53, the protection bits and the PPN */
const PTE_PFN_PROT_MASK = (1n << 54n) - 1n;
const PAGE_PRESENT = 1n;
const PAGE_PFN_SHIFT = 10n;
const pad16 = (n: bigint) => hexN(n).padStart(16, "0");

/** riscv64_translate_pte of a present entry (already masked). */
function translate(k: KernelCore, pte: bigint): string[] {
  const paddr = (pte >> PAGE_PFN_SHIFT) << 12n;
  const flags = k.arch.view.crash!.pteFlags(Number(pte >> 32n), Number(pte & 0xffffffffn));
  return pteTable(hexN(pte), hexN(paddr), flags);
}

/** The verbose walk of `va` from the PGD at kernel address `pgd` (mm->pgd, or swapper_pg_dir). */
export function riscv64Walk(k: KernelCore, w: WalkInfo, va: bigint, pgd: bigint): VtopWalk {
  const lines = [`PAGE DIRECTORY: ${hexN(pgd)}`];
  const none: VtopWalk = { lines, mapped: false, pa: 0n };
  const top = k.levels - 1;
  const names = k.arch.pgtable.levelNames;
  for (const e of w.entries) {
    const val = big(e.hi, e.lo);
    const at = BigInt(e.entryPa);
    if (e.level === top)
      lines.push(`  PGD: ${hexN(pgd + (at - BigInt(e.tablePfn) * 4096n))} => ${hexN(val)}`);
    else if (e.level > 0) lines.push(`  ${names[e.level]}: ${pad16(at)} => ${pad16(val)}`);
    else {
      // riscv64_vtop_5level_4k prints pte_base where the others print pte_addr
      const shown = k.levels === 5 ? BigInt(e.tablePfn) * 4096n : at;
      lines.push(`  PTE: ${hexN(shown)} => ${hexN(val)}`);
    }
    if (val === 0n) break;
    const masked = val & PTE_PFN_PROT_MASK;
    if (e.level > 0 && e.leaf) {
      // vmlab's: crash would take the leaf for a table (see above)
      if (!(masked & PAGE_PRESENT)) return none;
      const base = (masked >> PAGE_PFN_SHIFT) << 12n;
      const size = k.machine.cpus[0].geometry.sizeName(e.level);
      lines.push(` PAGE: ${pad16(base)}  (${size}B)`, "", ...translate(k, masked));
      const span = BigInt(k.machine.cpus[0].geometry.pagesPer[e.level]) * 4096n;
      return { lines, mapped: true, pa: base + (va & (span - 1n)) };
    }
    if (e.level > 0) continue;
    if (!(masked & PAGE_PRESENT)) {
      const len1 = Math.max(hexN(masked).length, 3);
      lines.push("", `${mkstring("PTE", len1, CENTER | LJUST)}   PAGE: ${pad16(0n)} not present`, "");
      return none;
    }
    const pa = (masked >> PAGE_PFN_SHIFT) << 12n;
    lines.push(` PAGE: ${pad16(pa)}`, "", ...translate(k, masked));
    return { lines, mapped: true, pa: pa + (va & 0xfffn) };
  }
  lines.push(`invalid for ${hexN(va)} address`);
  return none;
}
