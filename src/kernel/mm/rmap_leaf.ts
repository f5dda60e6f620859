/**
 * rmapFind's last leaf (PTE) table: the mm and the first vpn of the table's span, where its PMD
 * entry lies (the PMD table's own words and the entry's index in them) and what that entry
 * held, and the PTE table's own words. Reclaim goes down the LRU list page after page, and the
 * pages of one leaf table come one after another (hundreds of look-ups in a row for one table):
 * while the key holds, the next page of the table needs no pmd_offset (pmdPa), no look-up of
 * either frame's words and no decoding of the PMD entry (pmd_page), only one re-read of the PMD
 * entry, compared with what it held. The key holds while
 * - the mm and the table's span are the same, and the mm's root (pgdPfn) is;
 * - no table above the PTE level has been unlinked since (pgtable.ts upperTablesGen: pmdPa's
 *   own condition for its remembered PMD table, so the PMD entry is at the same address);
 * - the frame store says no page changed its slot (PageStore.gen: both frames' words are the
 *   ones HeldWords gave);
 * - the PMD entry still holds the same table (a pmd_clear, a collapse, a split, a new table:
 *   any store into it changes what it holds).
 * The walk is Linux's (page_vma_mapped_walk: pmd_offset, pmdp_get, pte_offset_map, ptep_get);
 * this only keeps what its steps gave for the last table: a host shortcut, no figure depends on
 * it. Under vitest (VERIFY_LEAF) every hit is checked against pmdPa and the frame store.
 * Linux: mm/page_vma_mapped.c page_vma_mapped_walk
 */
import { ModelBug } from "../../base/assert.ts";
import type { PageStore } from "../../hw/PageStore.ts";
import type { MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { entryRead, pmdPa, readEntry, upperTablesGen } from "./pgtable.ts";

const NO_WORDS: Uint32Array = new Uint32Array(2);

/** The last leaf table rmapFind went through (`mm` null: none). */
export const leafTable = {
  mm: null as MmStruct | null,
  /** the first vpn the table maps (a multiple of PTRS_PER_PTE) */
  base: -1,
  /** mm.pgdPfn, upperTablesGen() and the store's gen when it was kept */
  root: -1,
  epoch: -1,
  store: null as PageStore | null,
  gen: -1,
  /** the PMD entry's physical address, its table's own words, the entry's low word in them, its halves */
  pmdAt: -1,
  pmdWords: NO_WORDS,
  pmdW: 0,
  pmdHi: 0,
  pmdLo: 0,
  /** the PTE table's frame and own words */
  table: -1,
  words: NO_WORDS,
};

/** Under the tests (vitest sets VITEST), every hit is checked (leafTableCheck). */
export const VERIFY_LEAF =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.VITEST !==
  undefined;

/**
 * The own words of mm's leaf table whose span starts at `base`, when it is the last one kept and
 * its key still holds (the caller then reads leafTable.table); null otherwise.
 */
export function leafTableWords(mm: MmStruct, base: number, store: PageStore): Uint32Array | null {
  const L = leafTable;
  if (
    L.mm !== mm ||
    L.base !== base ||
    L.store !== store ||
    L.gen !== store.gen ||
    L.root !== mm.pgdPfn ||
    L.epoch !== upperTablesGen()
  )
    return null;
  const pw = L.pmdWords;
  const w = L.pmdW;
  if (pw[w] !== L.pmdLo || pw[w + 1] !== L.pmdHi) return null;
  return L.words;
}

/**
 * Keeps a table rmapFind found by the walk: the PMD entry at pmdAt (in the PMD table whose own
 * words are pmdWords, at word pmdW) holds (pmdHi, pmdLo), the table of base's span, frame
 * `table` with own words `words`. Only a PMD entry in the table pmdPa remembers for mm (a user
 * table found from the mm's current root since the last unlink above the PTE level).
 */
export function leafTableKeep(
  mm: MmStruct,
  base: number,
  store: PageStore,
  pmdAt: number,
  pmdWords: Uint32Array,
  pmdW: number,
  pmdHi: number,
  pmdLo: number,
  table: number,
  words: Uint32Array,
): void {
  if (!keepOn) return;
  const epoch = upperTablesGen();
  const off = pmdAt - mm.pmdTablePa;
  if (mm.pmdTableEpoch !== epoch || mm.pmdTableRoot !== mm.pgdPfn || off < 0 || off >= 4096) return;
  const L = leafTable;
  L.mm = mm;
  L.base = base;
  L.root = mm.pgdPfn;
  L.epoch = epoch;
  L.store = store;
  L.gen = store.gen;
  L.pmdAt = pmdAt;
  L.pmdWords = pmdWords;
  L.pmdW = pmdW;
  L.pmdHi = pmdHi;
  L.pmdLo = pmdLo;
  L.table = table;
  L.words = words;
}

/** hits checked (leafTableCheck, under vitest) */
export const leafTableStats = { checked: 0 };

/**
 * A hit checked (VERIFY_LEAF), independently of the key: the walk's PMD entry for vpn (pmdPa,
 * readEntry) is the one kept and holds what it held, and the frames' own words are the store's.
 */
export function leafTableCheck(um: MmContext, mm: MmStruct, vpn: number): void {
  const L = leafTable;
  leafTableStats.checked++;
  const store = um.env.phys.store;
  const pmdAt = pmdPa(um, mm, vpn);
  if (pmdAt >= 0) readEntry(um, pmdAt);
  if (
    pmdAt !== L.pmdAt ||
    entryRead.hi !== L.pmdHi ||
    entryRead.lo !== L.pmdLo ||
    store.heldWords(L.table) !== L.words ||
    store.heldWords(Math.floor(pmdAt / 4096)) !== L.pmdWords
  )
    throw new ModelBug(
      `rmapFind: kept leaf table ${L.table} (PMD entry 0x${L.pmdAt.toString(16)}), walk 0x${pmdAt.toString(16)}`,
    );
}

let keepOn = true;
/** Tables kept or not (tests compare the two: nothing kept, every look-up walks). */
export function setLeafTableKept(on: boolean): void {
  keepOn = on;
  if (!on) leafTableForget();
}

/** Drops the kept table (tests). */
export function leafTableForget(): void {
  leafTable.mm = null;
  leafTable.store = null;
  leafTable.pmdWords = NO_WORDS;
  leafTable.words = NO_WORDS;
}
