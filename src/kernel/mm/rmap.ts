/**
 * The reverse map: from a page to every PTE (or huge PMD) that maps it, and
 * what page reclaim does through it: read and clear the accessed bits, and
 * unmap the page everywhere. Linux: mm/rmap.c (rmap_walk, rmap_walk_anon,
 * rmap_walk_file, folio_referenced, try_to_unmap). Reclaim's policy (which
 * pages, when) stays in mm/vmscan.ts, which keeps the keys the walk needs
 * (each page's linear index, its file, whether it is a huge folio).
 */

import { pfnUnchecked } from "../../base/units.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import type { FileObject } from "../fs/file.ts";
import { PteFlag, TlbFlush } from "./arch.ts";
import { extraFolioRefs } from "./folio_put.ts";
import { HeldWords } from "./heldwords.ts";
import { isFilePmd, splitPmd } from "./huge_memory.ts";
import type { MmContext } from "./internal.ts";
import { type AnonVmas, iMmap, type MmStruct } from "./MmStruct.ts";
import { type PageDescTable, PageFlag, PageKind } from "./PageDesc.ts";
import {
  entryRead,
  isHugePmd,
  modPow2,
  pmdPa,
  pteOffset,
  ptePa,
  ptepClearFlushOf,
  readEntry,
  setPteAt,
  zapDepositedTable,
} from "./pgtable.ts";
import { leafTable, leafTableCheck, leafTableKeep, leafTableWords, VERIFY_LEAF } from "./rmap_leaf.ts";
import type { SwapArea } from "./swapfile.ts";
import { setTlbUbcFlushPending } from "./tlbbatch.ts";
import { type ShmemObject, type Vma, VmFlag, vmaDroppable } from "./vma.ts";

/** What the reverse map needs from the rest of the kernel. */
export interface RmapEnv {
  readonly phys: PhysMem;
  readonly pages: PageDescTable;
  /** the address-space code: reads page tables (its `env.pgtable` says what an entry is), splits a huge PMD to reach one page's PTE */
  readonly userMm: MmContext;
  /** every live address space */
  mms(): MmStruct[];
  /** flush one page of an address space from every TLB that may hold it (flush_tlb_page) */
  flushPage(mm: MmStruct, vpn: number): void;
}

/** The reverse-map keys of the pages on the LRU lists (mm/vmscan.ts keeps them). */
export interface RmapPages {
  readonly env: RmapEnv;
  /** the linear page index of an LRU page (page->index) */
  readonly index: Float64Array;
  /** the anon_vma of an anonymous LRU page (folio->mapping; 0: unknown) */
  readonly anonVma: Int32Array;
  /** the head of a transparent huge page on the lists: one entry for HPAGE_PMD_NR pages */
  readonly large: Uint8Array;
  /** the file of a page-cache page on the LRU, or the shmem object of a shmem page (page->mapping) */
  readonly owner: (FileObject | ShmemObject | undefined)[];
}

/**
 * rmap_walk: every PTE that maps pfn. An anonymous page is looked for in
 * the VMAs linked to its anon_vma (rmap_walk_anon: the anon_vma's chain,
 * each VMA whose pgoff range covers the page's linear index); a file page
 * in the VMAs of its file's i_mmap (rmap_walk_file).
 * Linux: mm/rmap.c rmap_walk (rmap_walk_anon, rmap_walk_file)
 */
export function rmapWalk(
  r: RmapPages,
  pfn: number,
  fn: (mm: MmStruct, vma: Vma, vpn: number, pa: number, hi: number, lo: number) => void,
): void {
  const anon = r.env.pages.kind[pfn] === PageKind.UserAnon;
  const c = anon ? anonChain(r, pfn) : null;
  if (c !== null) {
    // the chain's copy as two arrays: no iterator, entry or closure per walk; a walk inside `fn`
    // that copies another chain makes new arrays and leaves these alone
    const vmas = c.vmas;
    const mms = c.mms;
    for (let i = 0; i < vmas.length; i++) rmapOne(r, pfn, true, undefined, mms[i], vmas[i], fn);
    return;
  }
  if (anon && r.anonVma[pfn] !== 0 && r.env.userMm.anonVmas !== undefined) return; // its anon_vma has no VMA left
  const f = anon ? undefined : r.owner[pfn];
  if (f !== undefined) {
    // rmap_walk_file: the file's i_mmap
    for (const [v, mm] of iMmap(f)) rmapOne(r, pfn, false, f, mm, v, fn);
    return;
  }
  rmapWalkScan(r, pfn, fn);
}

/**
 * A copy of the last anon_vma chain a walk went through (rmap_walk_anon's
 * anon_vma_interval_tree_foreach over the anon_vma's chain): its VMAs and
 * their mms, in the chain's (link) order, kept with the anon_vma's id while
 * AnonVmas.gen says no chain has changed since: the next page of the same
 * anon_vma needs no look-up of its chain. Nothing links or unlinks a VMA
 * during a walk (Linux holds the anon_vma's lock), so the copy is the chain
 * throughout.
 */
const lastChain = {
  avs: null as AnonVmas | null,
  id: 0,
  gen: -1,
  vmas: [] as Vma[],
  mms: [] as MmStruct[],
};

/** The anon_vma chain of an anonymous page as lastChain's arrays, or null when its anon_vma has none (or the machine keeps no anon_vmas). */
export function anonChain(r: RmapPages, pfn: number): typeof lastChain | null {
  const avs = r.env.userMm.anonVmas;
  if (avs === undefined) return null;
  const id = r.anonVma[pfn];
  const c = lastChain;
  if (c.id === id && c.gen === avs.gen && c.avs === avs) return c;
  const chain = avs.vmas(id);
  if (chain === undefined) return null;
  const vmas: Vma[] = [];
  const mms: MmStruct[] = [];
  chain.forEach((mm, v) => {
    vmas.push(v);
    mms.push(mm);
  });
  c.avs = avs;
  c.id = id;
  c.gen = avs.gen;
  c.vmas = vmas;
  c.mms = mms;
  return c;
}

/**
 * The reverse map without anon_vmas: every VMA of every live address space
 * whose pgoff range covers the page. The walk of a machine built without
 * them (unit tests' bare contexts) and the reference rmapWalk is tested
 * against.
 */
export function rmapWalkScan(
  r: RmapPages,
  pfn: number,
  fn: (mm: MmStruct, vma: Vma, vpn: number, pa: number, hi: number, lo: number) => void,
): void {
  const anon = r.env.pages.kind[pfn] === PageKind.UserAnon;
  const f = anon ? undefined : r.owner[pfn];
  for (const mm of r.env.mms()) for (const v of mm.vmas) rmapOne(r, pfn, anon, f, mm, v, fn);
}

/** One VMA of a reverse-map walk: the PTE (or huge PMD) of vma that maps pfn, if any (rmap_walk's rwc->rmap_one). */
function rmapOne(
  r: RmapPages,
  pfn: number,
  anon: boolean,
  f: FileObject | ShmemObject | undefined,
  mm: MmStruct,
  v: Vma,
  fn: (mm: MmStruct, vma: Vma, vpn: number, pa: number, hi: number, lo: number) => void,
): void {
  const at = rmapFind(r, pfn, anon, f, mm, v);
  if (at === Found.None) return;
  const h = hit;
  if (at === Found.FilePmd) {
    walkAtPmd = true;
    fn(mm, v, h.vpn, h.pa, h.hi, h.lo);
    walkAtPmd = false;
  } else fn(mm, v, h.vpn, h.pa, h.hi, h.lo);
}

/** What rmapFind found in one VMA. */
export const enum Found {
  None = 0,
  /** the PTE that maps the page (or the huge PMD that maps a huge folio whole) */
  Entry = 1,
  /** the huge PMD of a page-cache folio, read by folio_referenced and not split */
  FilePmd = 2,
}

/**
 * rmapFind's entry: the page's vpn in the VMA, the entry's address and halves (a record, no
 * object per mapping); and, for an 8-byte PTE in a materialised table while no store is observed
 * (PhysMem.frameWordsToStore) and the architecture's set is that store (Pgtable.setIsStore: set
 * is PhysMem.write64, which with nothing observing is the two stores), the table's own words and
 * the entry's low word in them (`words`, `w`), through which the walk's callback may store the
 * entry as Pgtable.set would. Null otherwise.
 */
export const hit = { vpn: 0, pa: 0, hi: 0, lo: 0, words: null as Uint32Array | null, w: 0 };

/** rmapFind's PMD tables' and PTE tables' frame words (one frame each, kept while unchanged) */
const pmdTableWords = new HeldWords();
const pteTableWords = new HeldWords();

/**
 * page_vma_mapped_walk for one VMA of a reverse-map walk: finds the PTE (or
 * huge PMD) of vma that maps pfn and leaves it in `hit`; what it found
 * (Found.None: no mapping here). The common case, a small page under a
 * table of 8-byte entries, is read here from the tables' frame words; a huge
 * PMD, 4-byte entries and tables outside RAM go to rmapFindRest (kept apart
 * so that the engine inlines the frame look-ups and the entry tests into
 * this function, called for every page reclaim scans). The next page of the
 * last leaf table skips the walk to it while the table's key holds (rmap_leaf.ts).
 * Linux: mm/page_vma_mapped.c page_vma_mapped_walk
 */
export function rmapFind(
  r: RmapPages,
  pfn: number,
  anon: boolean,
  f: FileObject | ShmemObject | undefined,
  mm: MmStruct,
  v: Vma,
): Found {
  if (anon ? v.anonVma === 0 : v.file !== f && v.shmem !== f) return Found.None;
  const index = r.index[pfn];
  const pgoff = v.vmPgoff;
  if (index < pgoff || index >= pgoff + (v.vmEnd - v.vmStart)) return Found.None;
  const um = r.env.userMm;
  const pt = um.env.pgtable;
  const vpn = v.vmStart + (index - pgoff);
  const phys = um.env.phys;
  // vpn modulo PTRS_PER_PTE (a power of two) from its low 32 bits: no division a call
  const q = (vpn | 0) & (pt.ptrsPerTable - 1);
  // the last leaf table's words while its key holds (rmap_leaf.ts): the walk below skipped
  const kept = leafTableWords(mm, vpn - q, phys.store);
  let table: number;
  let own: Uint32Array | null;
  if (kept !== null) {
    if (VERIFY_LEAF) leafTableCheck(um, mm, vpn);
    if (r.large[pfn]) return Found.None;
    table = leafTable.table;
    own = kept;
  } else {
    // the PMD entry as numbers (page_vma_mapped_walk's pmde), no object per mapping (pmd_offset
    // of any address in the PMD's span is the same entry: no alignment needed)
    const pmdAt = pmdPa(um, mm, vpn);
    if (pmdAt < 0) return Found.None;
    // pmdp_get: both halves from one look-up of the table's frame (readEntry, written out here)
    const pmdFrame = Math.floor(pmdAt / 4096);
    if (pt.entryBytes !== 8 || pmdFrame >= phys.nrFrames) return rmapFindRest(r, pfn, mm, vpn, pmdAt);
    // the frames' own words as the last call found them while no frame changed (HeldWords)
    const pmdHeld = pmdTableWords.get(phys, pmdFrame);
    const pmdWords = pmdHeld !== null ? pmdHeld : phys.frameWords(pfnUnchecked(pmdFrame));
    const w = (pmdAt - pmdFrame * 4096) >>> 2;
    const pmdLo = pmdWords === null ? 0 : pmdWords[w];
    const pmdHi = pmdWords === null ? 0 : pmdWords[w + 1];
    // a huge PMD (pmd_trans_huge: a leaf at the PMD level), or a table outside RAM: the rest
    if (!pt.table(pmdHi, pmdLo, 1)) {
      if (!pt.leaf(pmdHi, pmdLo, pt.pmdLevel)) return Found.None; // pmd_none, or not present
      return rmapFindRest(r, pfn, mm, vpn, pmdAt);
    }
    if (r.large[pfn]) return Found.None;
    // page_vma_mapped_walk: pte_offset_map of the PMD's table, no walk from the top; the PTE read
    // from the table's frame words (ptep_get), as readEntry reads it
    table = pt.pfn(pmdHi, pmdLo, 1);
    if (table >= phys.nrFrames) return rmapFindRest(r, pfn, mm, vpn, pmdAt);
    own = pteTableWords.get(phys, table);
    if (pmdHeld !== null && own !== null && vpn < pt.userPgtablesCeiling && pt.pmdLevel < pt.levels - 1)
      leafTableKeep(mm, vpn - q, phys.store, pmdAt, pmdHeld, w, pmdHi, pmdLo, table, own);
  }
  // the table's own words when they may be stored into (hit.words), else its words to read
  // (frameWordsToStore: the held words where no store is observed)
  const held = directStores && pt.setIsStore && phys.snoop === null && phys.watch === null ? own : null;
  const words = own !== null ? own : phys.frameWords(pfnUnchecked(table));
  const hi = words === null ? 0 : words[2 * q + 1];
  const lo = words === null ? 0 : words[2 * q];
  if (!pt.accessible(hi, lo) || pt.special(hi, lo)) return Found.None;
  if (pt.pfn(hi, lo, 0) !== pfn) return Found.None;
  const h = hit;
  h.vpn = vpn;
  h.pa = table * 4096 + q * 8;
  h.hi = hi;
  h.lo = lo;
  // stored only when it changes (the pages of one table come one after another): a pointer's
  // store runs V8's write barrier, a builtin call while the collector marks
  if (h.words !== held) h.words = held;
  h.w = 2 * q;
  return Found.Entry;
}

/**
 * rmapFind past its common case: the PMD entry at `pmdAt` read again
 * (readEntry) and a huge PMD, a table of 4-byte entries or one outside RAM
 * handled as page_vma_mapped_walk does.
 */
function rmapFindRest(r: RmapPages, pfn: number, mm: MmStruct, vpn: number, pmdAt: number): Found {
  const um = r.env.userMm;
  const pt = um.env.pgtable;
  const nr = pt.hpagePmdNr;
  readEntry(um, pmdAt);
  const pmdHi = entryRead.hi;
  const pmdLo = entryRead.lo;
  const h = hit;
  let pa: number;
  if (isHugePmd(um, pmdHi, pmdLo)) {
    const base = pt.pfn(pmdHi, pmdLo, pt.pmdLevel);
    if (r.large[pfn]) {
      if (base !== pfn || modPow2(vpn, nr) !== 0) return Found.None;
      h.vpn = vpn;
      h.pa = pmdAt;
      h.hi = pmdHi;
      h.lo = pmdLo;
      h.words = null;
      return Found.Entry;
    }
    if (pfn < base || pfn >= base + nr) return Found.None;
    // a PMD-mapped page-cache folio: folio_referenced reads the PMD itself (page_vma_mapped_walk
    // stops at a huge PMD, pvmw.pte NULL); try_to_unmap splits it (TTU_SPLIT_HUGE_PMD), which
    // for a file clears it: no PTE is left to visit
    if (walkLooksOnly && isFilePmd(um, pmdHi, pmdLo)) {
      h.vpn = vpn;
      h.pa = pmdAt;
      h.hi = pmdHi;
      h.lo = pmdLo;
      h.words = null;
      return Found.FilePmd;
    }
    // a page of a split huge page that this address space still maps whole (it was
    // shared by fork): that PMD is split to reach the page's own PTE
    if (!splitPmd(um, mm, vpn)) return Found.None;
    pa = ptePa(um, mm, vpn, false);
  } else {
    if (r.large[pfn]) return Found.None;
    pa = pteOffset(um, pmdHi, pmdLo, vpn);
  }
  if (pa < 0) return Found.None;
  readEntry(um, pa);
  const hi = entryRead.hi;
  const lo = entryRead.lo;
  if (!pt.accessible(hi, lo) || pt.special(hi, lo)) return Found.None;
  if (pt.pfn(hi, lo, 0) !== pfn) return Found.None;
  h.vpn = vpn;
  h.pa = pa;
  h.hi = hi;
  h.lo = lo;
  h.words = null;
  return Found.Entry;
}

/**
 * try_to_unmap_one's "Nuke the page table entry" under TTU_BATCH_FLUSH (every
 * try_to_unmap here is shrink_folio_list's): where the architecture defers
 * the flush (should_defer_flush), the PTE (hi, lo) the walk just read is
 * cleared without one (ptep_get_and_clear) and joins the reclaiming task's
 * batch (set_tlb_ubc_flush_pending); else ptep_clear_flush. The caller
 * (mm/vmscan.ts) flushes the batch before the page's I/O if the PTE was
 * dirty and before the page is reused.
 * Linux: mm/rmap.c try_to_unmap_one, should_defer_flush
 */
function unmapPte(r: RmapPages, mm: MmStruct, pa: number, vpn: number, hi: number, lo: number): void {
  mm.updateHiwaterRss(); // try_to_unmap_one: "Update high watermark before we lower rss"
  const um = r.env.userMm;
  const ubc = um.env.tlbUbc;
  if (ubc?.arch.shouldDefer(mm)) {
    um.env.pgtable.contpte?.tryUnfold(um.env, mm, pa, vpn); // arm64 ptep_get_and_clear: contpte_try_unfold
    um.env.pgtable.set(um.env.phys, pa, 0, 0);
    setTlbUbcFlushPending(ubc, um.env.pgtable, mm, vpn, hi, lo);
  } else ptepClearFlushPte(um, mm, pa, vpn, hi, lo);
}

/**
 * ptep_clear_flush of the PTE (hi, lo) at `pa` the walk just read: cleared
 * (ptep_get_and_clear; arm64: contpte_try_unfold first), then flushed at
 * `vpn` if it was accessible (pte_accessible: flush_tlb_page). What
 * ptepClearFlushOf does at level 0, where its test (Pgtable.needsFlush of the
 * entry against an empty one) is the entry's present bit on every
 * architecture; written out here, the reverse map's every unmap, without
 * the page-frame comparisons of needsFlush.
 * Linux: mm/pgtable-generic.c ptep_clear_flush
 */
function ptepClearFlushPte(
  um: MmContext,
  mm: MmStruct,
  pa: number,
  vpn: number,
  hi: number,
  lo: number,
): void {
  const pt = um.env.pgtable;
  pt.contpte?.tryUnfold(um.env, mm, pa, vpn); // arm64 ptep_get_and_clear: contpte_try_unfold
  pt.set(um.env.phys, pa, 0, 0);
  if (pt.accessible(hi, lo)) um.env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page); // flush_tlb_page
}

/** folioReferenced's walk is under way: a file PMD is read, not split (rmapOne). */
let walkLooksOnly = false;
/** the entry rmapOne hands its callback is a page-cache folio's huge PMD */
let walkAtPmd = false;

/**
 * folio_referenced: counts the mappings whose accessed bit is set,
 * clearing each (ptep_clear_flush_young, pmdp_clear_flush_young). Whether
 * a cleared PTE's page is flushed too is the architecture's
 * (Pgtable.clearYoungFlush: arm64 and the generic version flush it, so
 * the next access walks and sets the bit again; x86 and RISC-V do not,
 * and an access through the TLB entry that survives leaves the bit clear).
 * Also reports a VM_EXEC mapping, how many mappings it found, and a VM_LOCKED
 * one, which stops the walk (the mappings after it are not looked at).
 * Linux: mm/rmap.c folio_referenced (folio_referenced_one)
 */
export function folioReferenced(r: RmapPages, pfn: number): Readonly<Referenced> {
  // one record and one callback for every call (reclaim scans each page: no object per page);
  // the caller reads the result before the next call
  const res = referenced;
  res.young = 0;
  res.locked = false;
  res.exec = false;
  res.found = 0;
  if (referencedPages !== r) referencedPages = r; // kept after the walk: no pointer store per page (hit.words)
  referencedPfn = pfn;
  const looks0 = walkLooksOnly;
  walkLooksOnly = true;
  onlyMapping.pfn = -1;
  const c = r.env.pages.kind[pfn] === PageKind.UserAnon ? anonChain(r, pfn) : null;
  if (c !== null) {
    // rmap_walk_anon's loop with folio_referenced_one in it (rmapWalk without the callback)
    const vmas = c.vmas;
    const mms = c.mms;
    for (let i = 0; i < vmas.length; i++) {
      const at = rmapFind(r, pfn, true, undefined, mms[i], vmas[i]);
      if (at === Found.None) continue;
      walkAtPmd = at === Found.FilePmd;
      folioReferencedOne(mms[i], vmas[i]);
      walkAtPmd = false;
    }
  } else rmapWalk(r, pfn, folioReferencedOne);
  walkLooksOnly = looks0;
  if (res.found === 1 && onlyMapping.mm !== null && r.large[pfn] === 0) onlyMapping.pfn = pfn;
  return res;
}

/**
 * The one mapping folioReferenced's last walk found of its page (pfn; -1
 * when it found none or more than one, or the page is a huge folio): a
 * host shortcut for shrink_folio_list's try_to_unmap of the same page
 * right after, which would walk the reverse map again and find this
 * mapping alone (reuseOnlyMapping).
 */
const onlyMapping = {
  pfn: -1,
  mm: null as MmStruct | null,
  v: null as Vma | null,
  vpn: 0,
  pa: 0,
  hi: 0,
  lo: 0,
};
/** the page whose folioReferenced walk the caller vouches for (reuseOnlyMapping) */
let reusablePfn = -1;

/**
 * The caller (shrink_folio_list) vouches that no page table has changed
 * since folioReferenced(pfn), so that tryToUnmapAnon(pfn) may take the one
 * mapping that walk found instead of walking again: the same PTE, found
 * the same way, with the same outcome. -1 withdraws it.
 */
export function reuseOnlyMapping(pfn: number): void {
  reusablePfn = onlyMappingOn ? pfn : -1;
}

/** the shortcut is on (tests turn it off to compare against the walk) */
let onlyMappingOn = true;
export function setOnlyMappingShortcut(on: boolean): void {
  onlyMappingOn = on;
}

/**
 * The reverse map stores the PTEs it rewrites (folio_referenced's old entry, try_to_unmap's swap
 * entry) straight into their table's words where nothing observes stores (hit.words,
 * tryToUnmapAnonAt), try_to_unmap's clear and swap entry as one store: a host shortcut, on
 * unless a test turns it off to compare against Pgtable.set's stores.
 */
let directStores = true;
export function setDirectPteStores(on: boolean): void {
  directStores = on;
}

/** What folio_referenced found (folioReferenced's reused result). */
export interface Referenced {
  young: number;
  locked: boolean;
  exec: boolean;
  found: number;
}

const referenced: Referenced = { young: 0, locked: false, exec: false, found: 0 };
let referencedPages: RmapPages | null = null;
let referencedPfn = 0;

/**
 * folio_referenced_one: one mapping of the page folioReferenced walks, the
 * entry rmapFind has just left in `hit` (as a walk's callback it is handed
 * the same entry, read from there).
 */
function folioReferencedOne(mm: MmStruct, v: Vma): void {
  const r = referencedPages!;
  const res = referenced;
  const pt = r.env.userMm.env.pgtable;
  // a VM_LOCKED VMA ends the walk, its accessed bit untouched: the caller mlocks the folio
  // (folio_referenced_one: mlock_vma_folio, "return false" to break the loop)
  if (res.locked) return;
  if (v.vmFlags & VmFlag.LOCKED) {
    res.locked = true;
    return;
  }
  const h = hit;
  res.found++;
  if (v.vmFlags & VmFlag.EXEC) res.exec = true;
  if (walkAtPmd) {
    onlyMapping.mm = null;
    folioReferencedPmd(r, mm, h.vpn, h.pa, h.hi, h.lo);
    return;
  }
  const m = onlyMapping;
  const pa = h.pa;
  const hi = h.hi;
  const lo = h.lo;
  if (m.mm !== mm) m.mm = mm; // pointers stored only when they change (hit.words)
  if (m.v !== v) m.v = v;
  m.vpn = h.vpn;
  m.pa = pa;
  m.hi = hi;
  m.lo = lo;
  const cp = pt.contpte;
  if (cp?.isCont(hi, lo)) {
    // arm64 contpte_ptep_clear_flush_young: the block's accessed flags, the block's range flushed
    if (cp.clearYoung(r.env.userMm.env, mm, pa, m.vpn, pt.clearYoungFlush)) res.young++;
    const e = pt.get(r.env.phys, pa);
    m.hi = e.hi;
    m.lo = e.lo;
  } else if (pt.young(hi, lo)) {
    res.young++;
    // ptep_clear_flush_young: ptep_test_and_clear_young, then flush_tlb_page where the
    // architecture's version flushes (arm64: flush_tlb_page_nosync; x86, RISC-V: no flush)
    const e = pt.modify(hi, lo, 0, PteFlag.YOUNG);
    const words = h.words;
    if (words !== null) {
      // Pgtable.set's stores, into the table rmapFind has just read (hit.words)
      words[h.w] = e.lo;
      words[h.w + 1] = e.hi;
    }
    // the halves as int32 across the call (every Pgtable.set takes them `>>> 0`): a half at or
    // above 2^31 (x86's XD bit) passed as it is would be a new heap number per page
    else pt.set(r.env.phys, pa, e.hi | 0, e.lo | 0);
    m.hi = e.hi;
    m.lo = e.lo;
    if (pt.clearYoungFlush) r.env.flushPage(mm, m.vpn);
  }
}

/**
 * folio_referenced_one at the huge PMD of a page-cache folio:
 * pmdp_clear_flush_young_notify tests and clears the PMD's accessed bit and,
 * if it was set, flushes the PMD's range (flush_pmd_tlb_range; x86's own
 * pmdp_clear_flush_young: flush_tlb_range) on every architecture, x86 and
 * RISC-V included; the PMD stays. The folio is one LRU entry in Linux and
 * vmlab's LRU holds its pages, so the reference found is left on the
 * folio's other pages (PageFlag.PmdYoung), each of which reports it once.
 * Linux: mm/rmap.c folio_referenced_one, mm/pgtable-generic.c pmdp_clear_flush_young
 */
function folioReferencedPmd(
  r: RmapPages,
  mm: MmStruct,
  vpn: number,
  pa: number,
  hi: number,
  lo: number,
): void {
  const pt = r.env.userMm.env.pgtable;
  const flags = r.env.pages.flags;
  const pfn = referencedPfn;
  if (pt.young(hi, lo)) {
    referenced.young++;
    const e = pt.modify(hi, lo, 0, PteFlag.YOUNG);
    if (pt.pmdLevel === pt.levels - 1) pt.setTop(r.env.phys, pa, e.hi, e.lo);
    else pt.set(r.env.phys, pa, e.hi, e.lo);
    const nr = pt.hpagePmdNr;
    r.env.userMm.env.flushTlbMmRange(mm, vpn - (vpn % nr), nr, TlbFlush.Pmd);
    const base = pt.pfn(hi, lo, pt.pmdLevel);
    for (let i = 0; i < nr; i++) if (base + i !== pfn) flags[base + i] |= PageFlag.PmdYoung;
    flags[pfn] &= ~PageFlag.PmdYoung;
  } else if (flags[pfn] & PageFlag.PmdYoung) {
    flags[pfn] &= ~PageFlag.PmdYoung;
    referenced.young++;
  }
}

/**
 * try_to_unmap for an anonymous page going to swap: every PTE that maps it
 * becomes the swap entry of `slot` (one more reference in swap_map and
 * MM_SWAPENTS, one page less of RSS, mapcount and refcount), with a TLB
 * flush each or, where the architecture batches them, a flush owed to the
 * reclaiming task's batch (unmapPte); an exclusive page's one swap entry
 * gets the exclusive marker.
 * Returns whether a PTE was dirty.
 * Linux: mm/rmap.c try_to_unmap (try_to_unmap_one)
 */
export function tryToUnmapAnon(r: RmapPages, pfn: number, swap: SwapArea, slot: number): boolean {
  // one state record and one callback for every call: no closure per page reclaimed
  const u = unmapping;
  // the pointers kept between calls, stored only when they change (hit.words)
  if (u.r !== r) u.r = r;
  u.pfn = pfn;
  if (u.swap !== swap) u.swap = swap;
  u.slot = slot;
  u.dirty = false;
  const m = onlyMapping;
  if (reusablePfn === pfn && m.pfn === pfn) {
    // the walk folioReferenced just made: its one mapping, unchanged since
    m.pfn = -1;
    const a = unmapAt; // the mapping handed over as fields, not as arguments
    a.vpn = m.vpn;
    a.pa = m.pa;
    a.hi = m.hi;
    a.lo = m.lo;
    tryToUnmapAnonAt(m.mm!);
  } else rmapWalk(r, pfn, tryToUnmapAnonOne);
  return u.dirty;
}

/**
 * The end of a batch of walks (shrink_folio_list's end, Vmscan.endFolioList): the records that
 * keep their pointers between calls (referencedPages, unmapping) let go of the machine's reclaim
 * state, so that a machine no longer used is not held by them; the next walk stores them again
 * (one pointer store a batch, not one a page).
 */
export function rmapBatchDone(): void {
  referencedPages = null;
  unmapping.r = null;
  unmapping.swap = null;
}

/** tryToUnmapAnon's page, its swap slot, and whether a PTE was dirty. */
const unmapping = {
  r: null as RmapPages | null,
  pfn: 0,
  swap: null as SwapArea | null,
  slot: 0,
  dirty: false,
};

/**
 * The mapping tryToUnmapAnonAt unmaps: its vpn, the PTE's address and halves. A record rather
 * than arguments: an x86-64 vpn (or an entry half) above 2^31 passed to a call that the engine
 * does not inline is a new heap number each time (two per page reclaimed).
 */
const unmapAt = { vpn: 0, pa: 0, hi: 0, lo: 0 };

/** try_to_unmap_one for an anonymous page going to swap as the walk's callback: one mapping of tryToUnmapAnon's page. */
function tryToUnmapAnonOne(mm: MmStruct, _v: Vma, vpn: number, pa: number, hi: number, lo: number): void {
  const a = unmapAt;
  a.vpn = vpn;
  a.pa = pa;
  a.hi = hi;
  a.lo = lo;
  tryToUnmapAnonAt(mm);
}

/** try_to_unmap_one for an anonymous page going to swap: the mapping in unmapAt. */
function tryToUnmapAnonAt(mm: MmStruct): void {
  const a = unmapAt;
  const vpn = a.vpn;
  const pa = a.pa;
  const hi = a.hi;
  const lo = a.lo;
  const u = unmapping;
  const r = u.r!;
  const pfn = u.pfn;
  const slot = u.slot;
  const pages = r.env.pages;
  const env = r.env.userMm.env;
  const pt = env.pgtable;
  if (pt.dirty(hi, lo)) u.dirty = true;
  env.cache.flushCachePage(mm, vpn, pfn); // try_to_unmap_one: flush_cache_page
  // anon_exclusive: folio_try_share_anon_rmap_pte clears PageAnonExclusive (after the PTE is
  // cleared) and the swap entry carries the exclusivity instead (pte_swp_mkexclusive)
  const exclusive = (pages.flags[pfn] & PageFlag.AnonExclusive) !== 0;
  const phys = r.env.phys;
  const frame = Math.floor(pa / 4096);
  const cp = pt.contpte;
  // the table's own words, if the PTE may be stored there directly (8 bytes, not part of an
  // arm64 contiguous block, whose unfold would rewrite its neighbours; no store observed)
  const words =
    directStores && pt.setIsStore && pt.entryBytes === 8 && frame < phys.nrFrames && !cp?.isCont(hi, lo)
      ? phys.frameWordsToStore(pfnUnchecked(frame))
      : null;
  if (words !== null) {
    // unmapPte and set_pte_at of the swap entry with one store of the swap entry: the PTE's
    // cleared value in between is read by nothing (the flush, or the batch's record of one, reads
    // no page table; no other CPU runs meanwhile) and seen by no observer (frameWordsToStore), so
    // memory, TLBs and counters end as after ptep_get_and_clear then set_pte_at
    mm.updateHiwaterRss(); // try_to_unmap_one: "Update high watermark before we lower rss"
    const w = (pa - frame * 4096) >>> 2;
    words[w] = pt.mkSwapLo(slot, exclusive);
    words[w + 1] = pt.mkSwapHi(slot, exclusive);
    const ubc = env.tlbUbc;
    if (ubc?.arch.shouldDefer(mm)) setTlbUbcFlushPending(ubc, pt, mm, vpn, hi, lo);
    else if (pt.accessible(hi, lo)) env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page); // ptep_clear_flush
  } else {
    unmapPte(r, mm, pa, vpn, hi, lo); // the PTE the walk just read
    // set_pte_at of the swap entry into the PTE just cleared (set_pte_at's check, that no TLB can
    // hold the old entry, holds by construction: not read again), no object made for the entry
    pt.setSwap(phys, pa, slot, exclusive);
  }
  pages.flags[pfn] &= ~PageFlag.AnonExclusive;
  u.swap!.map[slot]++;
  mm.swapEnts++;
  mm.rssAnon--;
  pages.mapcount[pfn]--;
  pages.refcount[pfn]--;
}

/**
 * try_to_unmap for a page-cache page: every PTE that maps it is cleared,
 * with a TLB flush each or one owed to the batch (unmapPte); a dirty one marks the file's page dirty
 * (folio_mark_dirty). RSS, mapcount and refcount drop with each.
 * Linux: mm/rmap.c try_to_unmap (try_to_unmap_one)
 */
export function tryToUnmapFile(r: RmapPages, pfn: number, f: FileObject, index: number): void {
  const pages = r.env.pages;
  const pt = r.env.userMm.env.pgtable;
  rmapWalk(r, pfn, (mm, _v, vpn, pa, hi, lo) => {
    if (pt.dirty(hi, lo)) f.dirty.add(index);
    r.env.userMm.env.cache.flushCachePage(mm, vpn, pfn); // try_to_unmap_one: flush_cache_page
    unmapPte(r, mm, pa, vpn, hi, lo);
    mm.rssFile--;
    pages.mapcount[pfn]--;
    pages.refcount[pfn]--;
  });
}

/**
 * try_to_unmap for a shmem page: every PTE that maps it is cleared, with a
 * TLB flush each or one owed to the batch (unmapPte) (no swap entry: the shmem object remembers the page); a
 * dirty one marks the page dirty (folio_mark_dirty). RSS, mapcount and
 * refcount drop with each.
 * Linux: mm/rmap.c try_to_unmap (try_to_unmap_one)
 */
export function tryToUnmapShmem(r: RmapPages, pfn: number): void {
  const pages = r.env.pages;
  const pt = r.env.userMm.env.pgtable;
  rmapWalk(r, pfn, (mm, _v, vpn, pa, hi, lo) => {
    if (pt.dirty(hi, lo)) pages.flags[pfn] |= PageFlag.Dirty;
    r.env.userMm.env.cache.flushCachePage(mm, vpn, pfn); // try_to_unmap_one: flush_cache_page
    unmapPte(r, mm, pa, vpn, hi, lo);
    mm.rssShmem--;
    pages.mapcount[pfn]--;
    pages.refcount[pfn]--;
  });
}

/**
 * try_to_unmap for a lazily freed (MADV_FREE) anonymous page: each mapping
 * is cleared with a TLB flush or one owed to the batch (unmapPte; a huge
 * PMD is always flushed at once); a clean one is discarded (one page less of
 * RSS, mapcount and refcount, no swap entry), but a dirty PTE marks the
 * page dirty (folio_mark_dirty): it was written after MADV_FREE, so the
 * entry is put back, the page becomes swap-backed again (PG_swapbacked:
 * vmlab clears its Lazyfree flag) and the walk stops. Returns whether every
 * mapping went.
 * Linux: mm/rmap.c try_to_unmap_one ("MADV_FREE page check")
 */
export function tryToUnmapLazyfree(r: RmapPages, pfn: number): boolean {
  const pages = r.env.pages;
  const pt = r.env.userMm.env.pgtable;
  // a PMD-mapped huge page goes whole, its PMDs cleared (unmap_huge_pmd_locked, Linux 6.11 and later)
  const nr = r.large[pfn] ? pt.hpagePmdNr : 1;
  const level = r.large[pfn] ? pt.pmdLevel : 0;
  let aborted = false;
  rmapWalk(r, pfn, (mm, v, vpn, pa, hi, lo) => {
    if (aborted) return; // walk_abort
    mm.updateHiwaterRss(); // try_to_unmap_one: update_hiwater_rss
    r.env.userMm.env.cache.flushCachePage(mm, vpn, pfn);
    // the entry the walk just read; a huge PMD cleared and flushed at once (pmdp_huge_clear_flush)
    if (level === 0) unmapPte(r, mm, pa, vpn, hi, lo);
    else ptepClearFlushOf(r.env.userMm, mm, pa, vpn, level, hi, lo);
    if (pt.dirty(hi, lo)) pages.flags[pfn] |= PageFlag.Dirty;
    // discarded only if ref_count == 1 + map_count (a pinned folio is kept) and clean, or from a PTE of
    // a VM_DROPPABLE VMA (dirty or not: mm/droppable.ts; a huge PMD's __discard_anon_folio_pmd_locked has not)
    const drop = vmaDroppable(v.vmFlags);
    if (
      (pages.flags[pfn] & PageFlag.Dirty && (!drop || level !== 0)) ||
      extraFolioRefs(pages, pfn, nr) // a huge PMD's: __discard_anon_folio_pmd_locked's ref_count check
    ) {
      setPteAt(r.env.userMm, pa, hi, lo); // "the folio was redirtied": remapped as it was
      // a huge PMD: TTU_SPLIT_HUGE_PMD, then the first PTE's MADV_FREE check fails alike
      if (level !== 0 && !drop) splitPmd(r.env.userMm, mm, vpn);
      // folio_set_swapbacked, "Unlike MADV_FREE mappings, VM_DROPPABLE ones never get swap backed on failure to drop"
      if (!drop) for (let i = 0; i < nr; i++) pages.flags[pfn + i] &= ~PageFlag.Lazyfree;
      aborted = true;
      return;
    }
    mm.rssAnon -= nr; // dec_mm_counter(MM_ANONPAGES), goto discard
    // __discard_anon_folio_pmd_locked: the huge PMD's deposited table goes with it
    if (level !== 0) zapDepositedTable(r.env.userMm, mm, pa);
    for (let i = 0; i < nr; i++) {
      pages.mapcount[pfn + i]--;
      pages.refcount[pfn + i]--;
    }
  });
  return !aborted;
}
