/**
 * The two-level teaching format of OSTEP's multi-level paging homework
 * (remzi-arpacidusseau/ostep-homework, vm-smalltables, "Paging: Smaller
 * Tables"): 32-byte pages, a 15-bit virtual address space of 1024 pages,
 * 128 physical pages (4 KiB of RAM), one-byte entries.
 *
 *   virtual address:  | PDE index | PTE index | offset |
 *                       14     10   9       5   4     0
 *
 *   PDE and PTE:      | VALID | PFN6 ... PFN0 |
 *                        7       6        0
 *
 * The page directory's page number is in the PDBR; a valid PDE holds the
 * page number of a page-table page, a valid PTE the page's frame. There are
 * no protection, accessed or dirty bits: a valid translation allows every
 * access. It runs through the same walker, TLB and checker as every other
 * format, which is what it is here to prove.
 */
import { EntryKind, type PagingFormat, Perm, type WalkState } from "../../mmu/PagingFormat.ts";

/** Entry bits (one byte). */
export const enum TeachingPte {
  VALID = 0x80,
  PFN_MASK = 0x7f,
}

export const TEACHING_PAGE_SIZE = 32;
/** Physical pages of the homework's machine. */
export const TEACHING_PHYS_PAGES = 128;
/** Virtual address bits. */
export const TEACHING_VA_BITS = 15;

export const TEACHING_FORMAT: PagingFormat = {
  name: "teaching",
  levels: 2,
  pageShift: 5,
  entryBytes: 1,
  indexBits: [5, 5],
  levelNames: ["PTE", "PDE"],
  leafLevels: 0b01,
  initialAcc: 0,
  decode(w: WalkState, level: number, _hi: number, lo: number): EntryKind {
    if ((lo & TeachingPte.VALID) === 0) return EntryKind.Invalid;
    w.newHi = 0;
    w.newLo = lo;
    if (level === 1) {
      // a 32-byte table inside the machine's one 4 KiB frame of RAM
      w.nextFrame = 0;
      w.nextOffset = (lo & TeachingPte.PFN_MASK) * TEACHING_PAGE_SIZE;
      return EntryKind.Table;
    }
    w.next = lo & TeachingPte.PFN_MASK;
    w.rights = Perm.ALL;
    w.attrs = 0;
    w.dirty = true;
    w.global = false;
    return EntryKind.Leaf;
  },
};
