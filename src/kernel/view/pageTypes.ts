/**
 * /proc/kpageflags and tools/mm/page-types' summary of it (issue #21):
 * each frame's stable page flags as fs/proc/page.c stable_page_flags()
 * exports them (include/uapi/linux/kernel-page-flags.h KPF_*), and the
 * table `page-types` prints without -r: the flags, the pages and MB with
 * those flags, and the flags as letters and names, the kernel hackers' bits
 * (32-47) hidden and compound bits dropped from pages that are not hugetlb
 * (well_known_flags), rows in the order of its hash table (slot = flags &
 * 8191, probing up; slot 0 for no flags).
 */

import type { KernelCore } from "../core/core.ts";
import { frameHstate } from "../mm/hugetlb_vma.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import {
  PG_ACTIVE,
  PG_DIRTY,
  PG_LOCKED,
  PG_LRU,
  PG_MLOCKED,
  PG_OWNER_2,
  PG_RECLAIM,
  PG_REFERENCED,
  PG_RESERVED,
  PG_SWAPBACKED,
  PG_UNEVICTABLE,
  PG_UPTODATE,
  pgBits,
} from "./crash.ts";

export const KPF = {
  LOCKED: 0,
  REFERENCED: 2,
  UPTODATE: 3,
  DIRTY: 4,
  LRU: 5,
  ACTIVE: 6,
  SLAB: 7,
  RECLAIM: 9,
  BUDDY: 10,
  MMAP: 11,
  ANON: 12,
  SWAPCACHE: 13,
  SWAPBACKED: 14,
  COMPOUND_HEAD: 15,
  COMPOUND_TAIL: 16,
  HUGE: 17,
  UNEVICTABLE: 18,
  THP: 22,
  ZERO_PAGE: 24,
  PGTABLE: 26,
  RESERVED: 32,
  MLOCKED: 33,
  OWNER_2: 34,
} as const;

/** page-types' page_flag_names: bit -> "letter:name". */
const NAMES: Record<number, string> = {
  0: "L:locked",
  1: "E:error",
  2: "R:referenced",
  3: "U:uptodate",
  4: "D:dirty",
  5: "l:lru",
  6: "A:active",
  7: "S:slab",
  8: "W:writeback",
  9: "I:reclaim",
  10: "B:buddy",
  11: "M:mmap",
  12: "a:anonymous",
  13: "s:swapcache",
  14: "b:swapbacked",
  15: "H:compound_head",
  16: "T:compound_tail",
  17: "G:huge",
  18: "u:unevictable",
  19: "X:hwpoison",
  20: "n:nopage",
  21: "x:ksm",
  22: "t:thp",
  23: "o:offline",
  24: "z:zero_page",
  25: "i:idle_page",
  26: "g:pgtable",
  32: "r:reserved",
  33: "m:mlocked",
  34: "d:owner_2",
  35: "P:private",
  36: "p:private_2",
  37: "O:owner_private",
  38: "h:arch",
  40: "f:softdirty",
  41: "H:arch_2",
  47: "d:anon_exclusive",
  48: "I:readahead",
  50: "A:slub_frozen",
  51: "E:slub_debug",
  61: "F:file",
  62: "w:swap",
  63: "1:mmap_exclusive",
};
const BITS = Object.keys(NAMES)
  .map(Number)
  .sort((a, b) => a - b);

const bit = (b: number): bigint => 1n << BigInt(b);

/**
 * The compound page (folio) a frame belongs to: its head frame and order
 * (the frame itself and 0 for a 4K folio). A THP of anonymous memory (a
 * large folio on the LRU: vmscan keeps one entry, at its head), an mTHP
 * folio (mm/mthp.ts) and a large
 * page-cache folio (`file ... folio=SIZE`). Linux: include/linux/page-flags.h
 * compound_head, PageHead, PageTail; folio_order
 */
export function compoundOf(k: KernelCore, pfn: number): { head: number; order: number } {
  const p = k.pages;
  const kind = p.kind[pfn];
  if (kind === PageKind.UserAnon) {
    const headPfn = pfn - (pfn % 512);
    if (k.vmscan.large[headPfn] === 1 && p.kind[headPfn] === PageKind.UserAnon)
      return { head: headPfn, order: Math.log2(k.arch.pgtable.hpagePmdNr) };
    // an mTHP folio (mm/mthp.ts): a large anonymous folio below the PMD order, mapped by PTEs
    const m = k.userMm.env.mthp;
    const h = m === undefined || m.liveOrders === 0 ? -1 : m.headOf(pfn);
    if (h >= 0) return { head: h, order: m!.heads.get(h)! };
  } else if (kind === PageKind.PageCache) {
    const head = k.pageCache.largeHeadOf(pfn);
    if (head >= 0) return { head, order: k.pageCache.largeHeads.get(head)! };
  } else if (kind === PageKind.Hugetlb) {
    // a HugeTLB folio, in the pool or in use (mm/hugetlb.ts)
    const h = frameHstate(k.userMm.hstates, k.pages.order, pfn);
    return { head: pfn - (pfn % h.nrPages), order: h.order };
  }
  return { head: pfn, order: 0 };
}

/** The frame's entry of /proc/kpageflags (stable_page_flags). */
export function kpageflags(k: KernelCore, pfn: number): bigint {
  const p = k.pages;
  const kind = p.kind[pfn];
  const f = p.flags[pfn];
  let u = 0n;
  const c = compoundOf(k, pfn);
  const folio = c.head;
  const hugetlb = kind === PageKind.Hugetlb;
  // PageAnon: a HugeTLB folio of a private mapping is anonymous too
  if (
    kind === PageKind.UserAnon ||
    (hugetlb && frameHstate(k.userMm.hstates, k.pages.order, folio).anon.has(folio))
  )
    u |= bit(KPF.ANON);
  // KPF_HUGE for a HugeTLB folio (folio_test_hugetlb); else KPF_THP for any large rmappable folio,
  // anonymous or page cache ("we indicate any THPs here")
  if (hugetlb) u |= bit(KPF.HUGE);
  const inThp = c.order > 0 && !hugetlb;
  if (c.order > 0) u |= bit(pfn === folio ? KPF.COMPOUND_HEAD : KPF.COMPOUND_TAIL);
  else if (f & PageFlag.Head) u |= bit(KPF.COMPOUND_HEAD);
  if (inThp) u |= bit(KPF.THP);
  // page_mapped: the page, or (PMD-mapped) its folio
  if (p.mapcount[pfn] > 0 || ((kind === PageKind.UserAnon || hugetlb) && p.mapcount[folio] > 0))
    u |= bit(KPF.MMAP);
  else if (k.userMm.hugeZeroPfn >= 0 && pfn - (pfn % 512) === k.userMm.hugeZeroPfn)
    u |= bit(KPF.ZERO_PAGE) | bit(KPF.THP);
  else if (pfn === k.zeroPfn) u |= bit(KPF.ZERO_PAGE);
  if (kind === PageKind.Free) u |= bit(KPF.BUDDY);
  if (kind === PageKind.PageTable) u |= bit(KPF.PGTABLE);
  if (kind === PageKind.Slab) u |= bit(KPF.SLAB);
  // kpf_copy_bit of each PG_* bit (crash.ts pgBits: the bits as Linux would hold them)
  const pg = pgBits(k, folio);
  for (const [pgBit, kpf] of [
    [PG_LOCKED, KPF.LOCKED],
    [PG_DIRTY, KPF.DIRTY],
    [PG_UPTODATE, KPF.UPTODATE],
    [PG_LRU, KPF.LRU],
    [PG_REFERENCED, KPF.REFERENCED],
    [PG_ACTIVE, KPF.ACTIVE],
    [PG_RECLAIM, KPF.RECLAIM],
    [PG_SWAPBACKED, KPF.SWAPBACKED],
    [PG_MLOCKED, KPF.MLOCKED],
    [PG_UNEVICTABLE, KPF.UNEVICTABLE],
    [PG_RESERVED, KPF.RESERVED],
    // PG_owner_2: on an anonymous page, PG_anon_exclusive
    [PG_OWNER_2, KPF.OWNER_2],
  ] as const)
    if (pg.has(pgBit)) u |= bit(kpf);
  // PG_swapcache (owner_priv_1) on a swap-backed page in the swap cache
  if (pg.has(PG_SWAPBACKED) && k.swap?.slotOf.has(pfn)) u |= bit(KPF.SWAPCACHE);
  return u;
}

/** well_known_flags: the kernel hackers' bits hidden, compound bits only on hugetlb pages. */
function wellKnown(flags: bigint): bigint {
  let f = flags & ~(0xffffn << 32n);
  const compound = bit(KPF.COMPOUND_HEAD) | bit(KPF.COMPOUND_TAIL);
  if (f & compound && !(f & bit(KPF.HUGE))) f &= ~compound;
  return f;
}

/** page_flag_name: one letter per named bit, `_` where it is clear. */
export function pageFlagName(flags: bigint): string {
  return BITS.map((b) => ((flags >> BigInt(b)) & 1n ? NAMES[b][0] : "_")).join("");
}

/** page_flag_longname: the set bits' names, comma-separated. */
export function pageFlagLongname(flags: bigint): string {
  return BITS.filter((b) => (flags >> BigInt(b)) & 1n)
    .map((b) => NAMES[b].slice(2))
    .join(",");
}

/** One row of page-types' summary. */
export interface PageTypesRow {
  flags: bigint;
  pages: number;
}

/** page-types over frames [first, first + count): its rows in hash-table order. */
export function pageTypes(k: KernelCore, first: number, count: number): PageTypesRow[] {
  const HASH_SIZE = 8192;
  const slots: (PageTypesRow | undefined)[] = [];
  const end = Math.min(first + count, k.pages.nrFrames);
  for (let pfn = first; pfn < end; pfn++) {
    const flags = wellKnown(kpageflags(k, pfn));
    let slot = 0;
    if (flags !== 0n) {
      // hash_slot: start at flags & HASH_MASK, probe upwards, wrapping past slot 0
      slot = Number(flags & BigInt(HASH_SIZE - 1));
      for (let i = 1; i < HASH_SIZE; i++, slot++) {
        if (slot === 0 || slot >= HASH_SIZE) slot = 1;
        if (slots[slot] === undefined || slots[slot]!.flags === flags) break;
      }
    }
    const row = slots[slot] ?? { flags, pages: 0 };
    row.pages++;
    slots[slot] = row;
  }
  return slots.filter((r): r is PageTypesRow => r !== undefined);
}

/** show_summary's text: `flags page-count MB symbolic-flags long-symbolic-flags`, then the total. */
export function formatPageTypes(rows: PageTypesRow[]): string[] {
  const mb = (pages: number) => Math.floor((pages * 4096) / 2 ** 20);
  const out = ["             flags\tpage-count       MB  symbolic-flags\t\t\tlong-symbolic-flags"];
  let total = 0;
  for (const r of rows) {
    total += r.pages;
    out.push(
      `0x${r.flags.toString(16).padStart(16, "0")}\t${String(r.pages).padStart(10)} ${String(mb(r.pages)).padStart(8)}  ${pageFlagName(r.flags)}\t${pageFlagLongname(r.flags)}`,
    );
  }
  out.push(`             total\t${String(total).padStart(10)} ${String(mb(total)).padStart(8)}`);
  return out;
}
