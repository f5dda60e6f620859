/**
 * The VAD tree: one virtual address descriptor per reservation of a
 * process, in a self-balancing tree keyed by its starting page.
 *
 * Windows Internals 7th ed., Part 1, ch. 5 "Virtual address descriptors":
 * "the memory manager maintains a set of VADs that describes the status of
 * the process's address space ... structured as a self-balancing AVL tree"
 * (EPROCESS.VadRoot, an RTL_AVL_TREE). A VAD holds the range it reserved
 * (MMVAD_SHORT StartingVpn, EndingVpn: inclusive), the protection given at
 * allocation, whether the whole range was committed when it was made
 * (VadFlags.MemCommit: then an all-zero PTE in it is committed, demand-zero),
 * and its commit charge (VadFlags.CommitCharge: pages charged). Which pages
 * of a reservation are committed, and their current protections, live in
 * the page tables (mmpte.ts), not here.
 */
import { assert } from "../../../base/assert.ts";
import type { Section } from "./section.ts";

/** VadFlags.VadType: what the VAD describes (VirtualQuery's Type: MEM_PRIVATE, MEM_MAPPED, MEM_IMAGE). */
export const enum VadType {
  Private = 0,
  Mapped = 1,
  Image = 2,
}

/**
 * A mapped view's part of the VAD (MMVAD: Subsection, FirstPrototypePte):
 * the section, the first page of the section the view maps (its prototype
 * PTE is FirstPrototypePte), and whether it was mapped copy-on-write.
 */
export interface ViewInfo {
  readonly section: Section;
  /** the section page the view's first page maps (the view's offset / 4096) */
  readonly firstPage: number;
}

/** One reservation (MMVAD_SHORT with VadFlags, private memory), or a mapped view (MMVAD). */
export class Vad {
  left: Vad | null = null;
  right: Vad | null = null;
  height = 1;
  /** pages committed in it, charged against the commit limit (VadFlags.CommitCharge) */
  commitCharge = 0;
  /** Private, or a view of a section (Mapped, Image) */
  type: VadType = VadType.Private;
  /** a mapped view's section and offset; null for private memory */
  view: ViewInfo | null = null;
  /**
   * MEM_WRITE_WATCH: the write-watch bitmap (the MI_PHYSICAL_VIEW's
   * BitMap of a VadWriteWatch VAD), as the set of its bits that are set:
   * the page indexes whose valid PTE was dirty when it stopped being valid
   * (writewatch.ts); null for other VADs.
   */
  writeWatch: Set<number> | null = null;
  /**
   * A placeholder (VirtualAlloc2 MEM_RESERVE | MEM_RESERVE_PLACEHOLDER;
   * placeholder.ts): reserved address space, PAGE_NOACCESS, never
   * committed, that VirtualFree may split or coalesce and that a private
   * allocation or a mapped view may replace.
   */
  placeholder = false;
  /**
   * The allocation or view replaced a placeholder (MEM_REPLACE_PLACEHOLDER):
   * VirtualFree MEM_PRESERVE_PLACEHOLDER or UnmapViewOfFile2
   * MEM_PRESERVE_PLACEHOLDER turns it back into one.
   */
  fromPlaceholder = false;
  /** VadLargePages (MEM_LARGE_PAGES, largepage.ts): committed at once, mapped by large-page PDEs, never paged */
  largePages = false;

  constructor(
    /** StartingVpn */
    readonly startVpn: number,
    /** EndingVpn: the last page, inclusive, as Windows keeps it */
    readonly endVpn: number,
    /** the MM_* protection VirtualAlloc gave (VadFlags.Protection; AllocationProtect) */
    readonly protection: number,
    /** VadFlags.MemCommit: reserved and committed in one call */
    readonly memCommit: boolean,
  ) {}

  get nrPages(): number {
    return this.endVpn - this.startVpn + 1;
  }
}

const h = (n: Vad | null) => (n === null ? 0 : n.height);
function fix(n: Vad): void {
  n.height = 1 + Math.max(h(n.left), h(n.right));
}
function rotRight(n: Vad): Vad {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  fix(n);
  fix(l);
  return l;
}
function rotLeft(n: Vad): Vad {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  fix(n);
  fix(r);
  return r;
}
function balance(n: Vad): Vad {
  fix(n);
  const bf = h(n.left) - h(n.right);
  if (bf > 1) {
    if (h(n.left!.left) < h(n.left!.right)) n.left = rotLeft(n.left!);
    return rotRight(n);
  }
  if (bf < -1) {
    if (h(n.right!.right) < h(n.right!.left)) n.right = rotRight(n.right!);
    return rotLeft(n);
  }
  return n;
}

/** A process's VAD tree (EPROCESS.VadRoot). */
export class VadTree {
  root: Vad | null = null;
  count = 0;

  /** MiLocateAddress: the VAD containing vpn, or null. */
  locate(vpn: number): Vad | null {
    let n = this.root;
    while (n !== null) {
      if (vpn < n.startVpn) n = n.left;
      else if (vpn > n.endVpn) n = n.right;
      else return n;
    }
    return null;
  }

  /** MiCheckForConflictingVad: the first VAD overlapping [startVpn, endVpn], or null. */
  conflicting(startVpn: number, endVpn: number): Vad | null {
    let n = this.root;
    while (n !== null) {
      if (endVpn < n.startVpn) n = n.left;
      else if (startVpn > n.endVpn) n = n.right;
      else return n;
    }
    return null;
  }

  /** MiInsertVad: the range must be free. */
  insert(v: Vad): void {
    assert(this.conflicting(v.startVpn, v.endVpn) === null, "VadTree.insert: overlapping VAD");
    const ins = (n: Vad | null): Vad => {
      if (n === null) return v;
      if (v.startVpn < n.startVpn) n.left = ins(n.left);
      else n.right = ins(n.right);
      return balance(n);
    };
    this.root = ins(this.root);
    this.count++;
  }

  /** MiRemoveVad. */
  remove(v: Vad): void {
    const minOf = (n: Vad): Vad => (n.left === null ? n : minOf(n.left));
    const removeMin = (n: Vad): Vad | null => {
      if (n.left === null) return n.right;
      n.left = removeMin(n.left);
      return balance(n);
    };
    const del = (n: Vad | null): Vad | null => {
      assert(n !== null, "VadTree.remove: not in the tree");
      if (v.startVpn < n.startVpn) n.left = del(n.left);
      else if (v.startVpn > n.startVpn) n.right = del(n.right);
      else {
        if (n.left === null) return n.right;
        if (n.right === null) return n.left;
        const m = minOf(n.right);
        m.right = removeMin(n.right);
        m.left = n.left;
        return balance(m);
      }
      return balance(n);
    };
    this.root = del(this.root);
    this.count--;
    v.left = v.right = null;
    v.height = 1;
  }

  /** Every VAD in address order. */
  list(): Vad[] {
    const out: Vad[] = [];
    const walk = (n: Vad | null) => {
      if (n === null) return;
      walk(n.left);
      out.push(n);
      walk(n.right);
    };
    walk(this.root);
    return out;
  }

  /** The tree's height (an AVL tree of n nodes is at most 1.44 log2(n+2) high). */
  get height(): number {
    return h(this.root);
  }

  /**
   * MiFindEmptyAddressRange (bottom-up, as VirtualAlloc without an address
   * places a reservation): the lowest start, on an `alignPages` boundary at
   * or above `lowVpn`, of `nrPages` free pages ending at or below `endVpn`
   * (exclusive); -1 if none.
   */
  findEmpty(nrPages: number, alignPages: number, lowVpn: number, endVpn: number): number {
    let start = Math.ceil(lowVpn / alignPages) * alignPages;
    for (const v of this.list()) {
      if (v.endVpn < start) continue;
      if (start + nrPages <= v.startVpn) break;
      start = Math.ceil((v.endVpn + 1) / alignPages) * alignPages;
    }
    return start + nrPages <= endVpn ? start : -1;
  }

  /**
   * MiFindEmptyAddressRangeDown: the highest `alignPages`-aligned start of
   * `nrPages` free pages in [lowVpn, endVpn) (MEM_TOP_DOWN), or -1.
   */
  findEmptyDown(nrPages: number, alignPages: number, lowVpn: number, endVpn: number): number {
    let start = Math.floor((endVpn - nrPages) / alignPages) * alignPages;
    const vads = this.list();
    for (let i = vads.length - 1; i >= 0 && start >= lowVpn; i--) {
      const v = vads[i];
      if (v.startVpn >= start + nrPages) continue;
      if (v.endVpn < start) break;
      start = Math.floor((v.startVpn - nrPages) / alignPages) * alignPages;
    }
    return start >= lowVpn ? start : -1;
  }
}
