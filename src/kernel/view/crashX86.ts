/**
 * crash's vtop walk on 32-bit x86 (crash-utility x86.c x86_uvtop,
 * x86_kvtop, x86_uvtop_PAE, x86_kvtop_PAE, x86_translate_pte), printf for
 * printf, addresses right-justified in VADDR_PRLEN (8) columns:
 *
 *     PAGE DIRECTORY: c2a4d000
 *       PGD: c2a4d7fc => 2a5e067          (at its kernel virtual address)
 *       PMD: c2a4d7fc => 2a5e067          (2-level: the folded PMD is the PGD entry)
 *       PTE:  2a5efd8 => 2a61067          (at its physical address)
 *      PAGE:  2a61000
 *
 *       PTE     PHYSICAL  FLAGS
 *     2a61067    2a61000  (PRESENT|RW|USER|ACCESSED|DIRTY)
 *
 * With PAE the PGD is the PDPT (`%llx` entries) and the PMD a table of its
 * own, at its physical address. A large page ends the walk at its entry:
 * ` PAGE: ADDR  (4MB)` (PAE: `(2MB)`). The user walk takes an entry with
 * _PAGE_PROTNONE (the G bit) for present, as Linux's pte_present does; the
 * kernel walk asks for a non-zero PGD (2-level) or _PAGE_PRESENT (PAE).
 * An entry neither present nor PROT_NONE that is not zero is a swap entry:
 * `PTE SWAP OFFSET`.
 *
 * x86_translate_pte's flag list keeps crash's tests as written: PSE for bit
 * 7 of any non-zero entry (`pte && _PAGE_PRESENT`), PROTNONE never
 * (view_32.ts crashPteFlags).
 */
import type { KernelCore } from "../core/core.ts";
import { big, hexN, mkstring, pteTable, RJUST, swapTable, type VtopWalk } from "./crashText.ts";
import type { WalkEntry, WalkInfo } from "./types.ts";

const P = 1n;
const PROTNONE = 0x100n;
const PSE = 0x80n;
/** NX_BIT_MASK */
const NX_MASK = (1n << 63n) - 1n;

/** x86_translate_pte: the present table, or the swap table of a non-zero entry that is not present. */
function translate(k: KernelCore, e: WalkEntry, pae: boolean): string[] {
  const val = big(e.hi, e.lo);
  const low = BigInt(e.lo >>> 0);
  if (!(low & (P | PROTNONE)) && low !== 0n) return swapTable(k, e.hi, e.lo);
  const paddr = pae ? val & ~0xfffn & NX_MASK : low & ~0xfffn;
  return pteTable(hexN(val), hexN(paddr), k.arch.view.crash!.pteFlags(e.hi, e.lo));
}

/**
 * The verbose walk of `va` from the PGD at kernel address `pgd` (mm->pgd,
 * or swapper_pg_dir): x86_uvtop(_PAE) when `user`, x86_kvtop(_PAE) when not.
 */
export function x86Walk(k: KernelCore, w: WalkInfo, va: bigint, pgd: bigint, user: boolean): VtopWalk {
  const pae = k.arch.view.crash!.layout === "x86-pae";
  const lines = [`PAGE DIRECTORY: ${hexN(pgd)}`];
  const none: VtopWalk = { lines, mapped: false, pa: 0n };
  const col = (n: bigint) => mkstring(hexN(n), 8, RJUST);
  const base = (v: bigint) => (pae ? v & ~0xfffn & NX_MASK : v & 0xfffff000n);
  const [g, ...rest] = w.entries;
  if (g === undefined) return none;
  const gv = big(g.hi, g.lo);
  const gAt = pgd + BigInt(g.entryPa - g.tablePfn * 4096);
  lines.push(`  PGD: ${col(gAt)} => ${hexN(gv)}`);
  const leafPage = (e: WalkEntry, v: bigint, size: string, span: bigint): VtopWalk => {
    lines.push(` PAGE: ${col(base(v))}${size ? `  (${size})` : ""}`, "", ...translate(k, e, pae));
    return { lines, mapped: true, pa: base(v) + (va & (span - 1n)) };
  };
  let pmd: WalkEntry | undefined;
  let pmdAt: bigint;
  if (!pae) {
    if (user ? !(gv & (P | PROTNONE)) : gv === 0n) return none;
    if (gv & PSE) return leafPage(g, gv, "4MB", 1n << 22n);
    // the PMD folded into the PGD: the same entry, printed again
    pmd = g;
    pmdAt = gAt;
  } else {
    if (!(gv & P)) return none;
    pmd = rest.shift();
    if (pmd === undefined) return none;
    pmdAt = BigInt(pmd.entryPa);
  }
  const mv = big(pmd.hi, pmd.lo);
  lines.push(`  PMD: ${col(pmdAt)} => ${hexN(mv)}`);
  if (!pae && mv === 0n) return none;
  if (pae) {
    if (!(mv & (user ? P | PROTNONE : P))) return none;
    if (mv & PSE) return leafPage(pmd, mv, "2MB", 1n << 21n);
  }
  const t = rest.shift();
  if (t === undefined) return none;
  const tv = big(t.hi, t.lo);
  lines.push(`  PTE: ${col(BigInt(t.entryPa))} => ${hexN(tv)}`);
  if (!(tv & (P | PROTNONE))) {
    if (tv !== 0n) lines.push("", ...translate(k, t, pae));
    return none;
  }
  return leafPage(t, tv, "", 4096n);
}
