/**
 * A user address space's page tables as the mm code reads and builds them:
 * finding the PTE or the PMD of a page, allocating tables (charged to the
 * mm), and the entry that maps a page. What an entry means is the
 * architecture's (mm/arch.ts, through `ctx.env.pgtable`); this module only
 * walks. Linux: include/linux/pgtable.h (pte_offset_map, pmd_offset),
 * mm/memory.c (__pte_alloc, follow_pte).
 */
import { assert, ModelBug } from "../../base/assert.ts";
import { type Pfn, pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import type { PageTableMapper } from "../../hw/mmu/Mapper.ts";
import { type Pgtable, PteFlag, TlbFlush } from "./arch.ts";
import { Gfp } from "./gfp.ts";
import type { MmContext, TlbGather } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { PageKind } from "./PageDesc.ts";

/**
 * The mapper that edits mm's page tables, charging new table pages to it.
 * Linux: mm/memory.c __pte_alloc, __pmd_alloc (mm_inc_nr_ptes)
 */
export function mapper(ctx: MmContext, mm: MmStruct): PageTableMapper {
  if (mm.ptMapper !== null && mm.ptMapperOwner === ctx) return mm.ptMapper;
  const m = ctx.env.pgtable.mapper(ctx.env.phys, {
    allocFrame: (level: number) => {
      const t = pteAllocOne(ctx, mm, false, level);
      return t >= 0 ? pfnUnchecked(t) : -1;
    },
  });
  mm.ptMapper = m;
  mm.ptMapperOwner = ctx;
  return m;
}

/**
 * Whether a page table of `level` (0: a PTE table; the root is levels - 1)
 * counts in NR_PAGETABLE (meminfo PageTables, vmstat nr_page_table_pages):
 * Linux 6.12 counts the tables its constructors see, pagetable_pte_ctor,
 * pagetable_pmd_ctor and pagetable_pud_ctor (pte_alloc_one, pmd_alloc_one,
 * __pud_alloc_one), and not the PGD (pgd_alloc: __get_free_pages on x86,
 * arm64, RISC-V) nor a P4D table (x86 and RISC-V p4d_alloc_one:
 * get_zeroed_page). `kernel`: init_mm's, whose PTE tables come from
 * pte_alloc_one_kernel, which has no constructor either.
 * Linux: include/linux/mm.h pagetable_pte_ctor/_pmd_ctor/_pud_ctor
 */
export function nrPagetableCounts(levels: number, level: number, kernel = false): boolean {
  return level <= 2 && level < levels - 1 && (!kernel || level > 0);
}

/**
 * A page for a page table of mm at `level` (0: a PTE table), charged to it
 * (-1: no memory); NR_PAGETABLE counts it as nrPagetableCounts says.
 * Linux: include/asm-generic/pgalloc.h pte_alloc_one, mm_inc_nr_ptes
 */
export function pteAllocOne(ctx: MmContext, mm: MmStruct, zero = false, level = 0): number {
  const t = ctx.env.buddy.alloc(0, Gfp.KERNEL, PageKind.PageTable);
  if (t < 0) return -1;
  const counts = nrPagetableCounts(ctx.env.pgtable.levels, level);
  // __alloc_pages: __GFP_ACCOUNT charges the page after the allocation, and frees it if refused
  if (ctx.env.chargePageTable && !ctx.env.chargePageTable(t, counts)) {
    const err = ctx.env.buddy.free(t, 0);
    assert(err === null, `pte_alloc_one: ${err}`);
    return -1;
  }
  if (zero) ctx.env.phys.zeroFrame(pfnUnchecked(t)); // GFP_PGTABLE_USER has __GFP_ZERO
  mm.ptPages++;
  if (counts) ctx.env.countPageTables(1);
  return t;
}

/**
 * pte_free + mm_dec_nr_ptes: a PTE table no entry points to goes back to
 * the page allocator, uncharged from mm.
 * Linux: include/asm-generic/pgalloc.h pte_free, include/linux/mm.h mm_dec_nr_ptes
 */
export function pteFreeOne(ctx: MmContext, mm: MmStruct, pfn: number): void {
  const err = ctx.env.buddy.free(pfn, 0);
  assert(err === null, `pte_free: ${err}`);
  mm.ptPages--;
  ctx.env.countPageTables(-1);
}

/**
 * The PMD a fault may map a PMD-size folio with (do_set_pmd), at PMD-aligned
 * page `haddr`: the fault's PTE table, installed before the folio was found
 * and still empty, is freed first, as Linux frees the fault's unused
 * preallocated table (vmf->prealloc_pte); no walk has cached the entry (the
 * fault walked an empty PMD). Returns the PMD's address, or -1 when the PMD
 * maps anything. Linux: mm/memory.c finish_fault, do_set_pmd
 */
export function emptyPmdForSetPmd(ctx: MmContext, mm: MmStruct, haddr: number): number {
  const pt = ctx.env.pgtable;
  const pmd = pmdOf(ctx, mm, haddr);
  if (pmd === null) return -1;
  if (pt.table(pmd.hi, pmd.lo, 1)) {
    const table = pt.pfn(pmd.hi, pmd.lo, 1);
    for (let i = 0; i < pt.ptrsPerTable; i++) {
      const e = pt.get(ctx.env.phys, table * 4096 + i * pt.entryBytes);
      if (!pt.none(e.hi, e.lo)) return -1;
    }
    if (pt.pmdLevel === pt.levels - 1) pt.setTop(ctx.env.phys, pmd.pa, 0, 0);
    else pt.set(ctx.env.phys, pmd.pa, 0, 0);
    pteFreeOne(ctx, mm, table);
  } else if (!pt.none(pmd.hi, pmd.lo)) return -1;
  return pmd.pa;
}

/**
 * pgtable_trans_huge_deposit: a huge PMD keeps a preallocated PTE table
 * with it, so that splitting it never needs memory. The table waits on the
 * list of the PMD page that holds the entry at `pmdPa` (pmd_huge_pte; it
 * stays counted in the mm's page tables, VmPTE, while it waits).
 * Linux: mm/pgtable-generic.c pgtable_trans_huge_deposit
 */
export function pgtableTransHugeDeposit(mm: MmStruct, pmdPa: number, table: number): void {
  const key = Math.floor(pmdPa / 4096);
  const list = mm.pmdHugePte.get(key);
  if (list === undefined) mm.pmdHugePte.set(key, [table]);
  else list.push(table);
}

/**
 * pgtable_trans_huge_withdraw: takes back a table deposited on the PMD page
 * that holds the entry at `pmdPa` (the last deposited; any one will do, as
 * in Linux). A huge PMD without one is a broken invariant.
 * Linux: mm/pgtable-generic.c pgtable_trans_huge_withdraw
 */
export function pgtableTransHugeWithdraw(mm: MmStruct, pmdPa: number): number {
  const key = Math.floor(pmdPa / 4096);
  const list = mm.pmdHugePte.get(key);
  assert(
    list !== undefined && list.length > 0,
    `pgtable_trans_huge_withdraw: nothing deposited at 0x${pmdPa.toString(16)}`,
  );
  const t = list.pop()!;
  if (list.length === 0) mm.pmdHugePte.delete(key);
  return t;
}

/**
 * zap_deposited_table: a huge PMD is gone, and so is its deposited table
 * (freed at once: no walk ever reached it).
 * Linux: mm/huge_memory.c zap_deposited_table
 */
export function zapDepositedTable(ctx: MmContext, mm: MmStruct, pmdPa: number): void {
  pteFreeOne(ctx, mm, pgtableTransHugeWithdraw(mm, pmdPa));
}

/**
 * First vpn of the kernel half: page tables below it are the process's own.
 * Linux: include/linux/pgtable.h USER_PGTABLES_CEILING
 */
export function userHalfEnd(ctx: MmContext): number {
  return ctx.env.pgtable.userPgtablesCeiling;
}

/**
 * mm_pgtables_bytes(mm) / PAGE_SIZE: the page-table pages the mm is charged
 * with, as VmPTE, the OOM killer's badness and its pgtables: show them.
 * Linux counts PTE tables (__pte_alloc: mm_inc_nr_ptes), PMD tables
 * (__pmd_alloc: mm_inc_nr_pmds) and PUD tables (__pud_alloc: mm_inc_nr_puds)
 * and never the PGD nor a P4D table: __p4d_alloc and free_p4d_range charge
 * nothing (mm/memory.c, 6.12 and 6.18 alike). vmlab's ptPages counts every
 * table below the PGD (meminfo PageTables does not: nrPagetableCounts), so with
 * 5 levels (x86-64 LA57, RISC-V Sv57) the P4D tables are taken off: one
 * per present user entry of the PGD. Linux: include/linux/mm.h mm_pgtables_bytes
 */
export function mmPgtablesPages(ctx: MmContext, mm: MmStruct): number {
  const pt = ctx.env.pgtable;
  if (pt.levels < 5 || mm.pgdPfn < 0) return mm.ptPages;
  const ptrs = pt.ptrsPerTable;
  const userEntries = pt.kernelRootVpn > 0 ? ptrs : pt.userPgtablesCeiling / ptrs ** (pt.levels - 1);
  const phys = ctx.env.phys;
  let p4d = 0;
  for (let i = 0; i < userEntries; i++) {
    const e = pt.get(phys, mm.pgdPfn * 4096 + i * pt.entryBytes);
    if (!pt.none(e.hi, e.lo)) p4d++;
  }
  return mm.ptPages - p4d;
}

/** Base pages mapped by one entry at `level` (1 at the PTE level, HPAGE_PMD_NR at the PMD level). */
export function levelSpan(ctx: MmContext, level: number): number {
  return ctx.env.pgtable.ptrsPerTable ** level;
}

/**
 * x mod n for a whole x >= 0 (below 2^53) and n a power of two: what `x % n` gives, as a
 * division and a floor (both exact for such n) instead of the floating-point remainder, which
 * V8 makes a call to a C function for numbers above 2^31 (every vpn of a 48-bit address space):
 * 15-20 ns against 2-5 on this machine. The reverse map and the fault path take several per page.
 */
export function modPow2(x: number, n: number): number {
  return x - Math.floor(x / n) * n;
}

/**
 * Physical address of the PTE for vpn, allocating tables if asked; -1 if absent (or out of memory).
 * Linux: include/linux/mm.h pte_alloc_map, include/linux/pgtable.h pte_offset_map
 */
export function ptePa(ctx: MmContext, mm: MmStruct, vpn: number, alloc: boolean): number {
  const pt = ctx.env.pgtable;
  const m = mapper(ctx, mm);
  const table = alloc
    ? m.ensureTable(mm.pgdPfn, vpnUnchecked(vpn), 0, true)
    : tableIfPresent(ctx, m, mm.pgdPfn, vpn);
  return table < 0 ? -1 : table * 4096 + modPow2(vpn, pt.ptrsPerTable) * pt.entryBytes;
}

/**
 * An entry read from a page table: its physical address and halves (the
 * result of readPte and pmdOf). A class, not an object literal: literals of
 * the same keys share one hidden class, and a swap PTE's high half (a double)
 * in one made the engine migrate every PMD read with small integers in the
 * other, and kept the fault path from being optimised (issue #20).
 */
export class PteRef {
  constructor(
    readonly pa: number,
    readonly hi: number,
    readonly lo: number,
  ) {}
}

/**
 * The PTE for vpn as halves, or null when no page table covers it.
 * Linux: include/linux/pgtable.h ptep_get
 */
export function readPte(ctx: MmContext, mm: MmStruct, vpn: number): PteRef | null {
  const pa = ptePa(ctx, mm, vpn, false);
  if (pa < 0) return null;
  const e = ctx.env.pgtable.get(ctx.env.phys, pa);
  return new PteRef(pa, e.hi, e.lo);
}

/**
 * The address of vpn's PTE in the table the PMD entry (hi, lo) points to,
 * without walking from the top again; -1 when that entry is not a table.
 * Linux: include/linux/pgtable.h pte_offset_map (pte_offset_kernel)
 */
export function pteOffset(ctx: MmContext, pmdHi: number, pmdLo: number, vpn: number): number {
  const pt = ctx.env.pgtable;
  if (!pt.table(pmdHi, pmdLo, 1)) return -1;
  if (pt !== spansOf) spansFor(pt);
  // modPow2(vpn, PTRS_PER_PTE) with a product by the reciprocal (exact: a power of two), no division
  const ptrs = pt.ptrsPerTable;
  return pt.pfn(pmdHi, pmdLo, 1) * 4096 + (vpn - Math.floor(vpn * invPtrs) * ptrs) * pt.entryBytes;
}

/**
 * The reciprocals of the page-table spans of the last Pgtable seen (every span a power of two,
 * so that x / span and x * (1 / span) are the same number, exactly): a vpn's table index and
 * PMD-table key without a floating-point division (13-20 cycles each), several per page the
 * reverse map and the fault path look at.
 */
let spansOf: Pgtable | null = null;
/** 1 / PTRS_PER_PTE, 1 / HPAGE_PMD_NR, 1 / (HPAGE_PMD_NR * PTRS_PER_PMD) */
let invPtrs = 0;
let invPmdSpan = 0;
let invTableSpan = 0;

function spansFor(pt: Pgtable): void {
  spansOf = pt;
  invPtrs = 1 / pt.ptrsPerTable;
  invPmdSpan = 1 / pt.hpagePmdNr;
  invTableSpan = 1 / (pt.hpagePmdNr * pt.ptrsPerTable);
}

/** The PTE table covering vpn, if every level down to it is present (no allocation). */
export function tableIfPresent(ctx: MmContext, m: PageTableMapper, root: Pfn, vpn: number): number {
  const pa = m.entryPaAt(root, vpnUnchecked(vpn), 1);
  if (pa < 0) return -1;
  const hi = entryHi(ctx, pa);
  const lo = entryLo(ctx, pa);
  if (!ctx.env.pgtable.table(hi, lo, 1)) return -1;
  return ctx.env.pgtable.pfn(hi, lo, 1);
}

/**
 * The low half of the entry at `pa`, as `pgtable.get` reads it, without an object (the fault
 * path and the reverse map read every entry this way). Linux: include/linux/pgtable.h ptep_get
 */
export function entryLo(ctx: MmContext, pa: number): number {
  return ctx.env.phys.read32(pa);
}

/** The high half of the entry at `pa` (0 for 4-byte entries), as `pgtable.get` reads it. */
export function entryHi(ctx: MmContext, pa: number): number {
  return ctx.env.pgtable.entryBytes === 8 ? ctx.env.phys.read32(pa + 4) : 0;
}

/**
 * An entry read whole (its two halves from one look-up of its table's frame, as the MMU's walk
 * reads it), for the reverse map's walk, which reads a PMD and a PTE entry for every mapping of
 * every page it scans: `readEntry` leaves it here (the caller copies both halves at once).
 */
export const entryRead = { hi: 0, lo: 0 };

/**
 * ptep_get into `entryRead`: both halves as entryHi and entryLo read them, with one look-up of
 * the frame (4-byte entries, or an address outside RAM: through entryHi and entryLo).
 * Linux: include/linux/pgtable.h ptep_get
 */
export function readEntry(ctx: MmContext, pa: number): void {
  const phys = ctx.env.phys;
  const frame = Math.floor(pa / 4096);
  if (ctx.env.pgtable.entryBytes === 8 && pa >= 0 && frame < phys.nrFrames) {
    const words = phys.frameWords(pfnUnchecked(frame));
    const w = (pa - frame * 4096) >>> 2;
    entryRead.lo = words === null ? 0 : words[w];
    entryRead.hi = words === null ? 0 : words[w + 1];
    return;
  }
  entryRead.lo = entryLo(ctx, pa);
  entryRead.hi = entryHi(ctx, pa);
}

/**
 * Counts the unlinks of page tables above the PTE level (free_pgd_range's p?d_clear, a PUD or
 * PMD table moved by mremap, a table entry of an upper level rewritten): the PMD table pmdPa
 * remembers for an mm is the one a walk from the PGD finds only while it has not changed.
 */
let upperTablesEpoch = 0;

/** A table above the PTE level may have left its place: pmdPa walks from the top again. */
export function upperTablesChanged(): void {
  upperTablesEpoch++;
}

/** The count of upperTablesChanged calls (rmap_leaf.ts keeps a PMD entry's address while it is the same). */
export function upperTablesGen(): number {
  return upperTablesEpoch;
}

/** Under the tests (vitest sets VITEST), every PMD table pmdPa remembers is checked against a walk from the top. */
const VERIFY_PMD_TABLE =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.VITEST !==
  undefined;

/**
 * The physical address of the PMD entry for vpn, or -1 when no PMD table covers it: pmdOf
 * without an object. The descent from the PGD is Linux's (pgd_offset, p4d_offset, pud_offset,
 * pmd_offset); its result, the PMD table, is remembered for the mm (the last one: faults and the
 * reverse map's walks come in address order), and given again without the walk while the mm's
 * root is the same and no upper table has been unlinked since (upperTablesChanged), which is
 * when the walk would find the same table: a host shortcut, as the MMU's paging-structure
 * caches are the hardware's. Only user-half tables are remembered, and never a walk that read
 * outside RAM.
 * Linux: include/linux/pgtable.h pmd_offset
 */
export function pmdPa(ctx: MmContext, mm: MmStruct, vpn: number): number {
  const pt = ctx.env.pgtable;
  if (pt !== spansOf) spansFor(pt);
  // vpn / 2^k as a product by 2^-k: the same number, exactly, without a division
  const key = Math.floor(vpn * invTableSpan);
  if (
    mm.pmdTableKey === key &&
    mm.pmdTableEpoch === upperTablesEpoch &&
    mm.pmdTableRoot === mm.pgdPfn &&
    vpn < pt.userPgtablesCeiling &&
    !VERIFY_PMD_TABLE
  )
    return mm.pmdTablePa + (Math.floor(vpn * invPmdSpan) - key * pt.ptrsPerTable) * pt.entryBytes;
  // the walk (and, under the tests, every remembered table checked) apart: what is left is small
  // enough for the engine to inline into its callers (no call, no boxed vpn per mapping)
  return pmdPaWalk(ctx, mm, vpn, key);
}

/** pmdPa without its remembered table (or checking it, under vitest): the descent from the PGD. */
function pmdPaWalk(ctx: MmContext, mm: MmStruct, vpn: number, key: number): number {
  const pt = ctx.env.pgtable;
  const perPmd = pt.hpagePmdNr;
  const ptrs = pt.ptrsPerTable;
  if (
    mm.pmdTableKey === key &&
    mm.pmdTableEpoch === upperTablesEpoch &&
    mm.pmdTableRoot === mm.pgdPfn &&
    vpn < pt.userPgtablesCeiling
  ) {
    const pa = mm.pmdTablePa + (Math.floor(vpn * invPmdSpan) - key * ptrs) * pt.entryBytes;
    const want = mapper(ctx, mm).entryPaAt(mm.pgdPfn, vpnUnchecked(vpn), pt.pmdLevel);
    if (want !== pa) throw new ModelBug(`pmdPa: remembered PMD entry 0x${pa.toString(16)}, walk ${want}`);
    return pa;
  }
  const phys = ctx.env.phys;
  const stray = phys.strayAccesses;
  const pa = mapper(ctx, mm).entryPaAt(mm.pgdPfn, vpnUnchecked(vpn), pt.pmdLevel);
  // only the user half's tables (the kernel's change under vmalloc and the kernel's mappers)
  if (
    pa >= 0 &&
    pt.pmdLevel < pt.levels - 1 &&
    vpn < pt.userPgtablesCeiling &&
    phys.strayAccesses === stray
  ) {
    mm.pmdTableKey = key;
    mm.pmdTablePa = pa - modPow2(Math.floor(vpn / perPmd), ptrs) * pt.entryBytes;
    mm.pmdTableRoot = mm.pgdPfn;
    mm.pmdTableEpoch = upperTablesEpoch;
  }
  return pa;
}

/**
 * The PMD entry for vpn: its physical address and halves, or null when no PMD table covers it.
 * Linux: include/linux/pgtable.h pmd_offset
 */
export function pmdOf(ctx: MmContext, mm: MmStruct, vpn: number): PteRef | null {
  const pa = pmdPa(ctx, mm, vpn);
  return pa < 0 ? null : new PteRef(pa, entryHi(ctx, pa), entryLo(ctx, pa));
}

/**
 * Is this PMD entry a huge mapping, present or PROT_NONE?
 * Linux: include/linux/pgtable.h pmd_trans_huge
 */
export function isHugePmd(ctx: MmContext, hi: number, lo: number): boolean {
  return ctx.env.pgtable.leaf(hi, lo, ctx.env.pgtable.pmdLevel);
}

/**
 * The entry that maps vpn: a PTE (level 0), a huge PMD (the PMD level), or
 * a HugeTLB page's PUD leaf (1 GiB: pud_leaf), with the frame of vpn
 * itself. Null when no table covers it.
 */
export function leafFor(
  ctx: MmContext,
  mm: MmStruct,
  vpn: number,
): { level: number; pa: number; hi: number; lo: number; pfn: number } | null {
  const pt = ctx.env.pgtable;
  const pmd = pmdOf(ctx, mm, vpn);
  if (pmd === null) return pudLeafFor(ctx, mm, vpn);
  if (pmd !== null && pt.leaf(pmd.hi, pmd.lo, pt.pmdLevel)) {
    return {
      level: 1,
      pa: pmd.pa,
      hi: pmd.hi,
      lo: pmd.lo,
      pfn: pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel) + (vpn % pt.hpagePmdNr),
    };
  }
  const pte = readPte(ctx, mm, vpn);
  if (pte === null) return null;
  // a RISC-V NAPOT PTE maps its 64K block from the block's first frame (pte_pfn): the page's is inside it
  const c = pt.hugetlbCont;
  const napot = c?.napot === true && pt.present(pte.hi, pte.lo) && c.isCont(pte.hi, pte.lo);
  const pfn = pt.pfn(pte.hi, pte.lo, 0) + (napot ? modPow2(vpn, c.sizes[0].nrPages) : 0);
  return { level: 0, pa: pte.pa, hi: pte.hi, lo: pte.lo, pfn };
}

/** leafFor above the PMD level: a present PUD leaf (a 1 GiB HugeTLB page), or null. */
function pudLeafFor(
  ctx: MmContext,
  mm: MmStruct,
  vpn: number,
): { level: number; pa: number; hi: number; lo: number; pfn: number } | null {
  const pt = ctx.env.pgtable;
  const level = pt.pmdLevel + 1;
  if (level >= pt.levels || vpn >= pt.userPgtablesCeiling) return null;
  const pa = mapper(ctx, mm).entryPaAt(mm.pgdPfn, vpnUnchecked(vpn), level);
  if (pa < 0) return null;
  const e = pt.get(ctx.env.phys, pa);
  if (!pt.leaf(e.hi, e.lo, level)) return null;
  const span = levelSpan(ctx, level);
  return { level, pa, hi: e.hi, lo: e.lo, pfn: pt.pfn(e.hi, e.lo, level) + modPow2(vpn, span) };
}

/**
 * A user PTE for a frame under the VMA's rights (vm_get_page_prot, then mkwrite/mkdirty as asked).
 * Linux: include/linux/mm.h mk_pte, maybe_mkwrite
 */
export function userPte(
  ctx: MmContext,
  pfn: number,
  vmFlags: number,
  writable: boolean,
  dirty: boolean,
  special: boolean,
): { hi: number; lo: number } {
  return ctx.env.pgtable.mkUser(pfn, 0, vmFlags, writable, dirty, special);
}

/**
 * A huge PMD entry for the HPAGE_PMD_NR frames from pfn (pfn_pmd + pmd_mkhuge), with the VMA's rights.
 * Linux: include/linux/huge_mm.h pfn_pmd, pmd_mkhuge
 */
export function hugePmd(
  ctx: MmContext,
  pfn: number,
  vmFlags: number,
  writable: boolean,
  dirty: boolean,
  special: boolean,
): { hi: number; lo: number } {
  return ctx.env.pgtable.mkUser(pfn, ctx.env.pgtable.pmdLevel, vmFlags, writable, dirty, special);
}

// ---- writing entries: the only ways mm changes an entry a TLB may hold ----

const ACCESS_FLAGS = PteFlag.YOUNG | PteFlag.DIRTY | PteFlag.WRITE;

/**
 * set_pte_at / set_pmd_at into an entry no TLB can hold (none, a swap
 * entry, a marker, PROT_NONE): installing owes no flush. Changing an
 * entry the hardware may have cached this way is a broken invariant. The
 * halves may come signed or unsigned (Pgtable.set takes each `>>> 0`).
 * Linux: include/linux/pgtable.h set_pte_at
 */
export function setPteAt(
  ctx: MmContext,
  pa: number,
  hi: number,
  lo: number,
  mm: MmStruct | null = null,
  vpn = 0,
): void {
  const pt = ctx.env.pgtable;
  // the message is made only when it fails (a template argument costs a string per call)
  readEntry(ctx, pa);
  if (pt.accessible(entryRead.hi, entryRead.lo))
    throw new ModelBug(
      `set_pte_at at 0x${pa.toString(16)}: the old entry is present (use a gather or ptep_clear_flush)`,
    );
  // arm64 set_ptes: pte_mknoncont, and contpte_try_fold when the caller names the PTE's mm and page
  const cp = pt.contpte;
  if (cp != null) cp.setPte(ctx.env, mm, pa, vpn, hi, lo);
  else pt.set(ctx.env.phys, pa, hi, lo);
}

/**
 * ptep_set_access_flags / pmdp_set_access_flags: the entry gains accessed,
 * dirty or write permission, frame and everything else kept. A TLB that
 * still holds the old entry can only fault. On x86 the fault dropped the
 * stale entry, so no flush (flush_tlb_fix_spurious_fault is empty); where
 * an abort leaves it cached (arm64, Pgtable.accessFlagsFlush), a write
 * fault's change is flushed at `vpn` (arm64 __ptep_set_access_flags:
 * `if (dirty) flush_tlb_page`), or the access would fault forever.
 * Linux: mm/pgtable-generic.c ptep_set_access_flags
 */
export function ptepSetAccessFlags(
  ctx: MmContext,
  mm: MmStruct,
  vpn: number,
  pa: number,
  old: { hi: number; lo: number },
  next: { hi: number; lo: number },
  dirty: boolean,
): void {
  const pt = ctx.env.pgtable;
  const a = pt.modify(old.hi, old.lo, 0, ACCESS_FLAGS);
  const b = pt.modify(next.hi, next.lo, 0, ACCESS_FLAGS);
  assert(
    a.hi === b.hi &&
      a.lo === b.lo &&
      (!pt.young(old.hi, old.lo) || pt.young(next.hi, next.lo)) &&
      (!pt.dirty(old.hi, old.lo) || pt.dirty(next.hi, next.lo)) &&
      (!pt.write(old.hi, old.lo) || pt.write(next.hi, next.lo)),
    `ptep_set_access_flags at 0x${pa.toString(16)}: the change takes something away`,
  );
  const cp = pt.contpte;
  if (cp?.isCont(old.hi, old.lo)) {
    cp.setAccessFlags(ctx.env, mm, pa, vpn, next, dirty); // arm64 contpte_ptep_set_access_flags
    return;
  }
  pt.set(ctx.env.phys, pa, next.hi, next.lo);
  if (dirty && pt.accessFlagsFlush) ctx.env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page);
}

/**
 * Writes a new value over an entry under a gather: if the architecture
 * says a TLB may hold what the new entry no longer allows
 * (pte_needs_flush), the page (or the huge page at `level`) joins the
 * gather's flush range.
 * Linux: mm/mprotect.c change_pte_range (ptep_modify_prot_commit, tlb_flush_pte_range)
 */
export function ptepModify(
  ctx: MmContext,
  tlb: TlbGather,
  pa: number,
  vpn: number,
  level: number,
  hi: number,
  lo: number,
): void {
  const pt = ctx.env.pgtable;
  // arm64 ptep_modify_prot_start / commit: contpte_try_unfold, then set_ptes (contpte_try_fold)
  const cp = level === 0 ? pt.contpte : null;
  if (cp != null && tlb.mm !== undefined) cp.tryUnfold(ctx.env, tlb.mm, pa, vpn);
  const old = pt.get(ctx.env.phys, pa);
  if (level > pt.pmdLevel) upperTablesChanged(); // an entry above the PMD level rewritten (pmdPa)
  if (level === pt.levels - 1) pt.setTop(ctx.env.phys, pa, hi, lo);
  else if (cp != null) cp.setPte(ctx.env, tlb.mm ?? null, pa, vpn, hi, lo);
  else pt.set(ctx.env.phys, pa, hi, lo);
  if (pt.needsFlush(old.hi, old.lo, hi, lo, level)) {
    const span = levelSpan(ctx, level);
    tlb.flushRange(vpn - (vpn % span), span, level);
  }
}

/**
 * ptep_get_and_clear under a gather (zap_pte_range, zap_huge_pmd): the
 * entry is cleared, its old value returned, and the page joins the flush
 * range if a TLB may hold it. A PTE of a contiguous block (arm64) is
 * cleared as get_and_clear_full_ptes clears a batch's: the zap has
 * unfolded the blocks its range cuts (ContPte.unfoldPartial), so the block
 * goes whole, PTE by PTE, with no break-before-make.
 * Linux: include/linux/pgtable.h ptep_get_and_clear_full, tlb_remove_tlb_entry;
 * arch/arm64/mm/contpte.c contpte_get_and_clear_full_ptes
 */
export function ptepGetAndClear(
  ctx: MmContext,
  tlb: TlbGather,
  pa: number,
  vpn: number,
  level: number,
): { hi: number; lo: number } {
  const pt = ctx.env.pgtable;
  const old = pt.get(ctx.env.phys, pa);
  if (level === 0 && pt.contpte != null && pt.contpte.isCont(old.hi, old.lo)) {
    pt.set(ctx.env.phys, pa, 0, 0);
    if (pt.needsFlush(old.hi, old.lo, 0, 0, 0)) tlb.flushRange(vpn, 1);
    return old;
  }
  ptepModify(ctx, tlb, pa, vpn, level, 0, 0);
  return old;
}

/**
 * ptep_clear_flush / pmdp_huge_clear_flush: clear one entry and flush it
 * from every TLB at once (flush_tlb_page), before the caller installs a
 * new frame or frees the old one. Returns the old entry.
 * Linux: mm/pgtable-generic.c ptep_clear_flush
 */
export function ptepClearFlush(
  ctx: MmContext,
  mm: MmStruct,
  pa: number,
  vpn: number,
  level: number,
): { hi: number; lo: number } {
  const old = ctx.env.pgtable.get(ctx.env.phys, pa);
  ptepClearFlushOf(ctx, mm, pa, vpn, level, old.hi, old.lo);
  return old;
}

/**
 * ptep_clear_flush of an entry the caller has just read as (hi, lo), with
 * nothing in between that could change it (try_to_unmap_one clears the PTE
 * its page_vma_mapped_walk found, pvmw.pte): the same clear and flush,
 * without reading the entry again or an object for its old value.
 * Linux: mm/pgtable-generic.c ptep_clear_flush
 */
export function ptepClearFlushOf(
  ctx: MmContext,
  mm: MmStruct,
  pa: number,
  vpn: number,
  level: number,
  hi: number,
  lo: number,
): void {
  const pt = ctx.env.pgtable;
  if (level > pt.pmdLevel) upperTablesChanged(); // an entry above the PMD level cleared (pmdPa)
  if (level === 0) pt.contpte?.tryUnfold(ctx.env, mm, pa, vpn); // arm64 ptep_get_and_clear: contpte_try_unfold
  pt.set(ctx.env.phys, pa, 0, 0);
  if (pt.needsFlush(hi, lo, 0, 0, level)) {
    // flush_tlb_page, or flush_pmd_tlb_range (flush_tlb_range) for a huge entry
    if (level === 0) ctx.env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page);
    else {
      const span = levelSpan(ctx, level);
      ctx.env.flushTlbMmRange(mm, vpn - modPow2(vpn, span), span, TlbFlush.Pmd);
    }
  }
}
