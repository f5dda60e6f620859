/**
 * The node's LRU lists as linked lists over frame numbers, and their sizes: the whole node's
 * per list (lruvec's NR_LRU_BASE + lru) and each zone's per list (the zone's NR_ZONE_LRU_BASE +
 * lru, which update_lru_size keeps beside it), so that a reclaim limited to the zones an
 * allocation may use (sc->reclaim_idx) sizes its scan by those zones only (lruvec_lru_size).
 * Linux: include/linux/mm_inline.h lruvec_add_folio, lruvec_add_folio_tail, lruvec_del_folio,
 * update_lru_size; mm/vmscan.c lruvec_lru_size
 */

/** MAX_NR_ZONES - 1 as vmlab counts zones: its three (0..2) and ZONE_MOVABLE (3, empty) */
export const ZONE_MOVABLE = 3;

/** vmlab's zones holding frames (ZONE_MOVABLE holds none) */
const NR_ZONES = 3;

export class LruLists {
  /** the next page toward the tail, -1 at the tail */
  readonly next: Int32Array;
  /** the next page toward the head, -1 at the head */
  readonly prev: Int32Array;
  /** the list a page is on (vmscan.ts's Lru; 0: none) */
  readonly lru: Uint8Array;
  /** the head of a large folio on the lists: one entry for HPAGE_PMD_NR pages */
  readonly large: Uint8Array;
  readonly head = new Int32Array(6).fill(-1);
  readonly tail = new Int32Array(6).fill(-1);
  /** the lists' sizes in pages (lruvec_page_state(NR_LRU_BASE + lru)) */
  readonly size = new Int32Array(6);
  /** each zone's pages on each list, at list * 3 + zone (zone_page_state(NR_ZONE_LRU_BASE + lru)) */
  readonly zoneSize = new Int32Array(6 * NR_ZONES);
  /** each frame's zone (folio_zonenum, kept per frame: one load on every list move) */
  private readonly zoneIdx: Uint8Array;
  /** the first frame above zone 0, and above zone 1 (zoneOf by compares, no load: vmscan_isolate.ts's walk) */
  readonly zoneEnd0: number;
  readonly zoneEnd1: number;

  constructor(
    nrFrames: number,
    /** HPAGE_PMD_NR: the pages of a transparent huge page (the architecture's) */
    readonly hpageNr: number,
    zoneEndPfns: readonly number[] | undefined,
  ) {
    this.next = new Int32Array(nrFrames).fill(-1);
    this.prev = new Int32Array(nrFrames).fill(-1);
    this.lru = new Uint8Array(nrFrames);
    this.large = new Uint8Array(nrFrames);
    // without a layout every frame is the top zone's (a reclaim limited below it finds nothing)
    const end0 = Math.min(nrFrames, zoneEndPfns?.[0] ?? 0);
    const end1 = Math.min(nrFrames, Math.max(end0, zoneEndPfns?.[1] ?? 0));
    this.zoneIdx = new Uint8Array(nrFrames).fill(2);
    this.zoneIdx.fill(0, 0, end0);
    this.zoneIdx.fill(1, end0, end1);
    this.zoneEnd0 = end0;
    this.zoneEnd1 = end1;
  }

  /** folio_zonenum: the zone of a frame */
  zoneOf(pfn: number): number {
    return this.zoneIdx[pfn];
  }

  /**
   * Puts pfn at the tail of a list (the end reclaim scans first), taking it off any list it was
   * on; its flags stay. Linux: lruvec_add_folio_tail
   */
  addTail(pfn: number, list: number): void {
    if (this.lru[pfn] !== 0) this.unlink(pfn);
    this.lru[pfn] = list;
    this.next[pfn] = -1;
    this.prev[pfn] = this.tail[list];
    if (this.tail[list] >= 0) this.next[this.tail[list]] = pfn;
    else this.head[list] = pfn;
    this.tail[list] = pfn;
    this.sizeAdd(pfn, list, this.large[pfn] ? this.hpageNr : 1);
  }

  /**
   * Puts pfn at the head of a list (lru_add), taking it off any list it was on; its flags stay.
   * A page moved to the head of the list it is on (a rotation) leaves the sizes as they are.
   * Linux: lruvec_add_folio
   */
  add(pfn: number, list: number): void {
    const on = this.lru[pfn];
    if (on === list && on !== 0) {
      const p = this.prev[pfn];
      if (p < 0) return; // at the head already
      const n = this.next[pfn];
      this.next[p] = n;
      if (n >= 0) this.prev[n] = p;
      else this.tail[list] = p;
    } else {
      if (on !== 0) this.unlink(pfn);
      this.lru[pfn] = list;
      this.sizeAdd(pfn, list, this.large[pfn] ? this.hpageNr : 1);
    }
    this.prev[pfn] = -1;
    this.next[pfn] = this.head[list];
    if (this.head[list] >= 0) this.prev[this.head[list]] = pfn;
    else this.tail[list] = pfn;
    this.head[list] = pfn;
  }

  /** Takes pfn off its list, its flags kept (isolation: folio_isolate_lru). Linux: lruvec_del_folio */
  unlink(pfn: number): void {
    const list = this.lru[pfn];
    const p = this.prev[pfn];
    const n = this.next[pfn];
    if (p >= 0) this.next[p] = n;
    else this.head[list] = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail[list] = p;
    this.lru[pfn] = 0;
    this.sizeAdd(pfn, list, this.large[pfn] ? -this.hpageNr : -1);
  }

  /** Links a base page (on no list) into `list` just before `before` in head-to-tail order (-1: at the tail). */
  insertBefore(pfn: number, list: number, before: number): void {
    const p = before < 0 ? this.tail[list] : this.prev[before];
    this.lru[pfn] = list;
    this.prev[pfn] = p;
    this.next[pfn] = before;
    if (p >= 0) this.next[p] = pfn;
    else this.head[list] = pfn;
    if (before >= 0) this.prev[before] = pfn;
    else this.tail[list] = pfn;
    this.sizeAdd(pfn, list, 1);
  }

  /** update_lru_size: the node's count and the frame's zone's */
  private sizeAdd(pfn: number, list: number, nr: number): void {
    this.size[list] += nr;
    this.zoneSize[list * NR_ZONES + this.zoneIdx[pfn]] += nr;
  }

  /** lruvec_lru_size: the pages of a list in zones 0..zoneIdx */
  lruSize(list: number, zoneIdx: number): number {
    if (zoneIdx >= NR_ZONES - 1) return this.size[list];
    let n = 0;
    for (let z = 0; z <= zoneIdx; z++) n += this.zoneSize[list * NR_ZONES + z];
    return n;
  }
}
