/**
 * A hashed inverted page table (IPT) with a hash anchor table (HAT), as
 * bytes in simulated RAM: one entry per physical frame, tagged with the
 * address space that owns the frame's one mapping and the virtual page it
 * maps; the HAT holds, for each hash value, the first entry of the chain
 * of entries whose tags hash there. The layout is vmlab's own, shaped like
 * the IBM RT PC's (ROMP/Rosetta: IPT + HAT, one entry per real page, the
 * hash of segment ID and virtual page index selecting the HAT slot).
 *
 * Entry of frame `pfn` (16 bytes at iptBase + pfn * 16, four little-endian words):
 *
 *   word 0  bit 31 V (valid); bits 0..23 the address-space ID (space)
 *   word 1  the virtual page number, bits 0..31
 *   word 2  bits 0..15 the virtual page number, bits 32..47;
 *           bits 16..21 rights (canonical Perm: user r/w/x, privileged r/w/x);
 *           bit 22 D (a write may use the entry); bits 24..30 attributes (x86: pkey, PWT, PCD, PAT)
 *   word 3  the chain link: frame + 1 of the next entry of this hash chain, 0 = end
 *
 * HAT slot `h` (4 bytes at hatBase + h * 4): frame + 1 of the chain's first entry, 0 = empty.
 * Zeroed RAM is an empty table.
 *
 * hash(space, vpn) = (vpn XOR space * 0x9e5) mod hatSlots, on the low 32 bits of each;
 * hatSlots is the number of frames rounded up to a power of two.
 *
 * The hardware only reads the table (`lookup`, the hot path: no allocation,
 * no bigint, no exceptions; one memory reference for the HAT slot and one
 * per chain entry compared). The operating system writes it (`insert`,
 * `remove`): on the RT PC as here, entries are the kernel's to make.
 */
import type { Pfn } from "../../../base/units.ts";
import type { PhysMem } from "../../PhysMem.ts";

export const IPT_ENTRY_BYTES = 16;
export const HAT_SLOT_BYTES = 4;
/** space IDs are 24 bits */
export const IPT_SPACE_MASK = 0xffffff;
/** the largest vpn an entry holds (48 bits) */
export const IPT_MAX_VPN = 2 ** 48 - 1;

const V = 0x80000000;
/** spreads the spaces' chains apart: consecutive space IDs land 0x9e5 slots apart */
export const HASH_MULT = 0x9e5;
const TWO32 = 4294967296;

/** One entry as data (views, explain, tests). */
export interface IptEntry {
  pfn: number;
  space: number;
  vpn: number;
  rights: number;
  dirty: boolean;
  attrs: number;
  /** the next entry of its chain (a frame), or -1 */
  next: number;
}

/** One entry compared during a lookup, for explain. */
export interface IptStep {
  /** the entry's frame */
  pfn: number;
  /** its physical address */
  pa: number;
  /** valid and tagged with the space and vpn looked up */
  match: boolean;
  space: number;
  vpn: number;
}

export class Ipt {
  readonly hatSlots: number;
  private readonly hatMask: number;
  private readonly iptFrame: number;
  private readonly hatFrame: number;

  // ---- results of the last successful lookup ----
  rights = 0;
  dirty = false;
  attrs = 0;
  /** the physical address of the entry found */
  entryPa = 0;
  /** entries compared by the last lookup */
  chainSteps = 0;

  // ---- hardware counters ----
  lookups = 0;
  hits = 0;
  misses = 0;
  /** memory references of lookups: the HAT slot, then each chain entry compared */
  refs = 0;

  // ---- software counters ----
  inserts = 0;
  removals = 0;
  /** inserts that took a frame's entry from another (space, vpn): the alias the frame had */
  steals = 0;

  constructor(
    readonly phys: PhysMem,
    /** physical address of the IPT (page aligned) */
    readonly iptBase: number,
    /** physical address of the HAT (page aligned) */
    readonly hatBase: number,
    /** frames the IPT covers: its entries */
    readonly nrFrames: number,
  ) {
    let slots = 1;
    while (slots < nrFrames) slots *= 2;
    this.hatSlots = slots;
    this.hatMask = slots - 1;
    this.iptFrame = iptBase / 4096;
    this.hatFrame = hatBase / 4096;
  }

  /** Bytes of the IPT for `nrFrames` frames, and of its HAT. */
  static sizes(nrFrames: number): { iptBytes: number; hatBytes: number } {
    let slots = 1;
    while (slots < nrFrames) slots *= 2;
    return { iptBytes: nrFrames * IPT_ENTRY_BYTES, hatBytes: slots * HAT_SLOT_BYTES };
  }

  /** Bytes the table takes in RAM (IPT and HAT). */
  get bytes(): number {
    return this.nrFrames * IPT_ENTRY_BYTES + this.hatSlots * HAT_SLOT_BYTES;
  }

  /** The HAT slot of (space, vpn). */
  hash(space: number, vpn: number): number {
    return ((vpn >>> 0) ^ Math.imul(space, HASH_MULT)) & this.hatMask;
  }

  /** Physical address of frame pfn's entry. */
  entryAddress(pfn: number): number {
    return this.iptBase + pfn * IPT_ENTRY_BYTES;
  }

  /** Physical address of HAT slot h. */
  slotAddress(h: number): number {
    return this.hatBase + h * HAT_SLOT_BYTES;
  }

  // =====================================================================
  // The hardware's lookup (hot path)
  // =====================================================================

  /**
   * Looks (space, vpn) up: the HAT slot of its hash, then the chain entry
   * by entry until one is tagged with it. Returns the frame (its entry's
   * index), with `rights`, `dirty`, `attrs` and `entryPa` set, or -1.
   */
  lookup(space: number, vpn: number): number {
    this.lookups++;
    const phys = this.phys;
    const vpnLo = vpn >>> 0;
    const vpnHi = ((vpn - vpnLo) / TWO32) & 0xffff;
    const h = (vpnLo ^ Math.imul(space, HASH_MULT)) & this.hatMask;
    const hatWords = phys.frameWords((this.hatFrame + (h >>> 10)) as Pfn); // inline cast: the hot path (units.ts)
    this.refs++;
    let link = hatWords === null ? 0 : hatWords[h & 1023];
    const tag0 = (V | (space & IPT_SPACE_MASK)) >>> 0;
    let steps = 0;
    while (link !== 0 && steps <= this.nrFrames) {
      const pfn = link - 1;
      const words = phys.frameWords((this.iptFrame + (pfn >>> 8)) as Pfn); // inline cast: the hot path (units.ts)
      const w = (pfn & 255) * 4;
      steps++;
      this.refs++;
      if (words === null) break;
      const w2 = words[w + 2];
      if (words[w] === tag0 && words[w + 1] === vpnLo && (w2 & 0xffff) === vpnHi) {
        this.chainSteps = steps;
        this.rights = (w2 >>> 16) & 63;
        this.dirty = (w2 & (1 << 22)) !== 0;
        this.attrs = (w2 >>> 24) & 127;
        this.entryPa = this.iptBase + pfn * IPT_ENTRY_BYTES;
        this.hits++;
        return pfn;
      }
      link = words[w + 3];
    }
    this.chainSteps = steps;
    this.misses++;
    return -1;
  }

  // =====================================================================
  // The operating system's edits
  // =====================================================================

  /** Frame pfn's entry as data, or null when it is not valid. */
  entry(pfn: number): IptEntry | null {
    const pa = this.entryAddress(pfn);
    const w0 = this.phys.read32(pa);
    if ((w0 & V) === 0) return null;
    const w2 = this.phys.read32(pa + 8);
    const link = this.phys.read32(pa + 12);
    return {
      pfn,
      space: w0 & IPT_SPACE_MASK,
      vpn: (w2 & 0xffff) * TWO32 + this.phys.read32(pa + 4),
      rights: (w2 >>> 16) & 63,
      dirty: (w2 & (1 << 22)) !== 0,
      attrs: (w2 >>> 24) & 127,
      next: link - 1,
    };
  }

  /** The frames of HAT slot h's chain, first to last. */
  chain(h: number): number[] {
    const out: number[] = [];
    let link = this.phys.read32(this.slotAddress(h));
    while (link !== 0 && out.length <= this.nrFrames) {
      out.push(link - 1);
      link = this.phys.read32(this.entryAddress(link - 1) + 12);
    }
    return out;
  }

  /**
   * Makes frame pfn's entry map (space, vpn) with these rights: the frame's
   * previous entry, if any, leaves its chain first (when it was another
   * (space, vpn), that is an alias steal: `stolen` is true and
   * `stolenSpace`/`stolenVpn` name it), and the new one goes to the head
   * of its hash chain.
   */
  insert(pfn: number, space: number, vpn: number, rights: number, dirty: boolean, attrs: number): void {
    if (pfn < 0 || pfn >= this.nrFrames) throw new RangeError(`IPT: frame ${pfn} is outside the table`);
    if (vpn < 0 || vpn > IPT_MAX_VPN) throw new RangeError(`IPT: vpn ${vpn} does not fit an entry`);
    const old = this.entry(pfn);
    this.stolen = old !== null && (old.space !== (space & IPT_SPACE_MASK) || old.vpn !== vpn);
    if (old !== null) {
      this.stolenSpace = old.space;
      this.stolenVpn = old.vpn;
      this.unlink(pfn, old.space, old.vpn);
      if (this.stolen) this.steals++;
    }
    const pa = this.entryAddress(pfn);
    const h = this.hash(space, vpn);
    const hatPa = this.slotAddress(h);
    const vpnLo = vpn >>> 0;
    const vpnHi = Math.floor(vpn / TWO32) & 0xffff;
    this.phys.write32(pa, (V | (space & IPT_SPACE_MASK)) >>> 0);
    this.phys.write32(pa + 4, vpnLo);
    this.phys.write32(
      pa + 8,
      (vpnHi | ((rights & 63) << 16) | (dirty ? 1 << 22 : 0) | ((attrs & 127) << 24)) >>> 0,
    );
    this.phys.write32(pa + 12, this.phys.read32(hatPa));
    this.phys.write32(hatPa, pfn + 1);
    this.inserts++;
  }

  /** after insert: whether it stole the frame's entry from another alias, and which */
  stolen = false;
  stolenSpace = 0;
  stolenVpn = 0;

  /** Invalidates frame pfn's entry (unlinking it from its chain). Returns false when it was not valid. */
  remove(pfn: number): boolean {
    const old = this.entry(pfn);
    if (old === null) return false;
    this.unlink(pfn, old.space, old.vpn);
    this.removals++;
    return true;
  }

  /** Takes frame pfn's entry out of its chain and clears it. */
  private unlink(pfn: number, space: number, vpn: number): void {
    const hatPa = this.slotAddress(this.hash(space, vpn));
    const target = pfn + 1;
    const next = this.phys.read32(this.entryAddress(pfn) + 12);
    let at = hatPa;
    let link = this.phys.read32(hatPa);
    let guard = 0;
    while (link !== 0 && link !== target && guard++ <= this.nrFrames) {
      at = this.entryAddress(link - 1) + 12;
      link = this.phys.read32(at);
    }
    if (link === target) this.phys.write32(at, next);
    const pa = this.entryAddress(pfn);
    this.phys.write32(pa, 0);
    this.phys.write32(pa + 4, 0);
    this.phys.write32(pa + 8, 0);
    this.phys.write32(pa + 12, 0);
  }

  /** The HAT's chains now (a scan: views): slots holding a chain, and the longest chain. */
  chainStats(): { slotsUsed: number; longest: number } {
    let slotsUsed = 0;
    let longest = 0;
    for (let h = 0; h < this.hatSlots; h++) {
      let link = this.phys.read32(this.slotAddress(h));
      if (link === 0) continue;
      slotsUsed++;
      let n = 0;
      while (link !== 0 && n <= this.nrFrames) {
        n++;
        link = this.phys.read32(this.entryAddress(link - 1) + 12);
      }
      if (n > longest) longest = n;
    }
    return { slotsUsed, longest };
  }

  /** Valid entries now (a scan: views and tests). */
  validEntries(): number {
    let n = 0;
    for (let pfn = 0; pfn < this.nrFrames; pfn++)
      if ((this.phys.read32(this.entryAddress(pfn)) & V) !== 0) n++;
    return n;
  }

  /**
   * The lookup of (space, vpn) step by step, changing nothing (no counter):
   * the hash, the HAT slot, and each chain entry compared. For explain.
   */
  trace(space: number, vpn: number): { hash: number; slotPa: number; steps: IptStep[]; pfn: number } {
    const h = this.hash(space, vpn);
    const steps: IptStep[] = [];
    let link = this.phys.read32(this.slotAddress(h));
    let pfn = -1;
    while (link !== 0 && steps.length <= this.nrFrames) {
      const p = link - 1;
      const e = this.entry(p);
      const match = e !== null && e.space === (space & IPT_SPACE_MASK) && e.vpn === vpn;
      steps.push({ pfn: p, pa: this.entryAddress(p), match, space: e?.space ?? -1, vpn: e?.vpn ?? -1 });
      if (match) {
        pfn = p;
        break;
      }
      link = this.phys.read32(this.entryAddress(p) + 12);
    }
    return { hash: h, slotPa: this.slotAddress(h), steps, pfn };
  }
}
