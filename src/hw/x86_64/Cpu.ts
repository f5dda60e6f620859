import { InputError } from "../../base/errors.ts";
import { Access, Mode } from "../access.ts";
import { makeTlb, type Tlb, type TlbSpec } from "../mmu/Tlb.ts";
import { InvalidateHow, Meta, OFFSET_MASK, TlbArray } from "../mmu/TlbArray.ts";
import type { PhysMem } from "../PhysMem.ts";
import { Outcome, PfErr } from "./fault.ts";
import { Pte, PteHi, RSVD_PDE_2M_LO, RSVD_PDPTE_1G_LO, reservedMasks } from "./pte.ts";
import { computePermTable, pkDenied, Rights } from "./rights.ts";

/** Configuration of one x86-64 CPU's MMU. */
export interface CpuConfig {
  /** 5-level paging (CR4.LA57): 57-bit linear addresses */
  la57?: boolean;
  /** MAXPHYADDR, 36..52 (default 46) */
  maxPhyAddr?: number;
  /** TLB preset name, spec string (`64x4,1536x12`) or spec (default `skylake`) */
  tlb?: TlbSpec | string;
  /** paging-structure caches (PML5E/PML4E/PDPTE/PDE caches); default off */
  psc?: boolean | PscConfig;
}

/** Entries × ways of each paging-structure cache; a level with 0 entries is not cached. */
export interface PscConfig {
  pde: [number, number];
  pdpte: [number, number];
  pml4e: [number, number];
  pml5e: [number, number];
}

export const DEFAULT_PSC: PscConfig = { pde: [32, 4], pdpte: [4, 4], pml4e: [2, 2], pml5e: [2, 2] };

/** An event of the opt-in trace stream. Built only when a tracer is installed. */
export type HwEvent =
  | { type: "tlb"; cpu: number; vpn: number; access: Access; hit: boolean; level: number }
  | {
      type: "walk-step";
      cpu: number;
      level: number;
      index: number;
      entryPa: number;
      hi: number;
      lo: number;
      psc: boolean;
    }
  | { type: "fault"; cpu: number; vector: number; errorCode: number; cr2Hi: number; cr2Lo: number }
  | { type: "invalidate"; cpu: number; op: string; pcid: number; vpn: number; entries: number }
  | { type: "ad-write"; cpu: number; entryPa: number; hi: number; lo: number };

/**
 * The entries one walk read, top level first: filled by every walk (no
 * allocation: preallocated typed arrays), read by `explain`, the CLI and the
 * coherence checker.
 */
export class WalkRecord {
  /** entries read, top level first */
  count = 0;
  readonly level = new Int32Array(5);
  readonly index = new Int32Array(5);
  readonly entryPa = new Float64Array(5);
  readonly hi = new Uint32Array(5);
  readonly lo = new Uint32Array(5);
  /** the walk started below the top, from a paging-structure-cache entry of this level (-1: none) */
  pscLevel = -1;
  /** after success: first 4K frame of the page, its size code (0/1/2), and TLB metadata */
  pagePfn = 0;
  size = 0;
  meta = 0;
  /** after a fault: the outcome and error code */
  outcome = 0;
  errorCode = 0;
}

/** One coherence-checker hook; see CoherenceChecker in hw/mmu. */
export interface TlbObserver {
  onFill(cpu: Cpu, vpn: number, rec: WalkRecord): void;
  onHit(cpu: Cpu, vpn: number, arr: TlbArray, slot: number): void;
}

const TWO32 = 4294967296;
/** 512^level: vpn / LEVEL_DIV[level] gives the index bits of that level and above. */
const LEVEL_DIV = [1, 512, 262144, 134217728, 68719476736];

/**
 * One x86-64 logical processor: the paging registers, a TLB hierarchy,
 * optional paging-structure caches, and the MMU that translates with them.
 * Several CPUs share one PhysMem.
 *
 * Spec: Intel SDM Vol. 3A ch. 4 (Paging): §4.5 4-level and 5-level paging,
 * §4.6 access rights, §4.7 page-fault exceptions, §4.8 accessed and dirty
 * flags, §4.10 caching translation information.
 *
 * `translate` is the hot path: it returns an Outcome and leaves the physical
 * address in `pa`, or the fault in `errorCode`/`cr2Hi`/`cr2Lo`. It allocates
 * nothing and never throws for an architectural fault.
 */
export class Cpu {
  // ---- architectural registers ----
  /** CPL: 0 (kernel) or 3 (user) */
  cpl = 0;
  cr0Wp = true;
  cr4Pge = false;
  cr4Pcide = false;
  cr4Smep = false;
  cr4Smap = false;
  cr4Pke = false;
  eferNxe = true;
  rflagsAc = false;
  pkru = 0;
  cr3Hi = 0;
  cr3Lo = 0;
  /** CR2: the linear address of the last page fault */
  cr2Hi = 0;
  cr2Lo = 0;
  readonly la57: boolean;
  readonly maxPhyAddr: number;

  // ---- derived state (updated by the instructions below) ----
  /** current PCID (CR3[11:0] when CR4.PCIDE = 1, else 0) */
  pcid = 0;
  /** physical address of the top-level table */
  rootPa = 0;
  private readonly permTable = new Uint8Array(72);
  private readonly rsvdHi: number;
  readonly hiAddrMask: number;

  // ---- caches ----
  readonly tlb: Tlb;
  /** the level-0 array of 4K entries for data / for fetches, probed first (fast path), or null */
  private readonly l1d: TlbArray | null;
  private readonly l1i: TlbArray | null;
  /** paging-structure caches by level (index 1 = PDE cache ... 4 = PML5E cache); null where not modelled */
  readonly psc: (TlbArray | null)[] = [null, null, null, null, null];
  private hasPsc = false;

  // ---- results of the last translate ----
  pa = 0;
  errorCode = 0;
  readonly walkRec = new WalkRecord();

  // ---- counters ----
  translations = 0;
  walks = 0;
  walkRefs = 0;
  adWrites = 0;
  dirtyAssists = 0;
  pageFaults = 0;
  gpFaults = 0;
  readonly faultsByKind = { notPresent: 0, protection: 0, reserved: 0, pkey: 0 };
  readonly pscHits = new Float64Array(5);
  readonly pscMisses = new Float64Array(5);
  cr3Writes = 0;
  /** flushes of all non-global entries of a PCID or more (MOV to CR3, INVPCID 1-3, PGE toggle) */
  fullFlushes = 0;
  invlpgs = 0;

  // ---- observation (off unless set) ----
  tracer: ((e: HwEvent) => void) | null = null;
  observer: TlbObserver | null = null;

  constructor(
    readonly id: number,
    readonly phys: PhysMem,
    config: CpuConfig = {},
  ) {
    this.la57 = config.la57 ?? false;
    const m = config.maxPhyAddr ?? 46;
    if (!Number.isInteger(m) || m < 36 || m > 52) throw new InputError(`MAXPHYADDR must be 36..52, not ${m}`);
    this.maxPhyAddr = m;
    const masks = reservedMasks(m);
    this.rsvdHi = masks.hiAddr;
    this.hiAddrMask = masks.hiAddrMask;
    this.tlb = makeTlb(config.tlb ?? "skylake");
    this.l1d = this.tlb.dataPath[0]?.find((a) => (a.sizeMask & 1) !== 0) ?? null;
    this.l1i = this.tlb.instrPath[0]?.find((a) => (a.sizeMask & 1) !== 0) ?? null;
    if (config.psc) {
      const c = config.psc === true ? DEFAULT_PSC : config.psc;
      const sizes = [null, c.pde, c.pdpte, c.pml4e, c.pml5e];
      for (let level = 1; level <= 4; level++) {
        const s = sizes[level]!;
        if (s[0] > 0) {
          this.psc[level] = new TlbArray(s[0], s[1], 1, 3, `psc${level}`);
          this.hasPsc = true;
        }
      }
    }
    this.updatePerms();
  }

  /** Levels of paging: 5 with LA57, else 4. */
  get levels(): number {
    return this.la57 ? 5 : 4;
  }

  private updatePerms(): void {
    computePermTable(
      { wp: this.cr0Wp, smep: this.cr4Smep, smap: this.cr4Smap, ac: this.rflagsAc, nxe: this.eferNxe },
      this.permTable,
    );
  }

  // =====================================================================
  // Translation (hot path)
  // =====================================================================

  /**
   * Translates the linear address (vaHi, vaLo) for `access` by the current
   * CPL (or an implicit supervisor access). On OK, `pa` holds the physical
   * address; on PF, `errorCode` and CR2 are set; on GP nothing else is.
   */
  translate(vaHi: number, vaLo: number, access: Access, implicit = false): number {
    this.translations++;
    // canonical check (SDM §3.3.7.1): bits 63..N-1 all equal
    if (this.la57 ? (vaHi << 7) >> 7 !== (vaHi | 0) : (vaHi << 16) >> 16 !== (vaHi | 0)) {
      this.gpFaults++;
      if (this.tracer !== null) this.emitFault(Outcome.GP, 0, vaHi, vaLo);
      return Outcome.GP;
    }
    const vpn = (vaHi & (this.la57 ? 0x1ffffff : 0xffff)) * 1048576 + (vaLo >>> 12);
    const mode = implicit ? Mode.ImplicitSupervisor : this.cpl === 3 ? Mode.User : Mode.Supervisor;
    const tlb = this.tlb;
    // fast path: the level-0 4K array; the generic lookup (all levels and sizes) on a miss there
    const l1 = access === Access.Exec ? this.l1i : this.l1d;
    let arr: TlbArray | null = null;
    let slot = l1 === null ? -1 : l1.lookup(vpn, this.pcid);
    if (slot >= 0) {
      arr = l1;
      tlb.hits[0]++;
      tlb.hitLevel = 0;
    } else if (tlb.lookup(vpn, this.pcid, access === Access.Exec)) {
      arr = tlb.hitArray!;
      slot = tlb.hitSlot;
    }
    if (arr !== null) {
      const meta = arr.metas[slot];
      if (this.tracer !== null)
        this.tracer({ type: "tlb", cpu: this.id, vpn, access, hit: true, level: tlb.hitLevel });
      if (this.observer !== null) this.observer.onHit(this, vpn, arr, slot);
      if (
        this.permTable[((meta >>> Meta.RIGHTS_SHIFT) & 7) * 9 + mode * 3 + access] === 0 ||
        (this.cr4Pke && this.pkCheck(meta, mode, access))
      ) {
        // a fault from cached rights, without a walk (the SDM allows it)
        return this.pageFault(
          vaHi,
          vaLo,
          vpn,
          this.faultBits(access, mode) | PfErr.P | this.pkBit(meta, mode, access),
        );
      }
      if (access === Access.Write && (meta & Meta.D) === 0) {
        // a write through a clean entry: walk again to set D in memory
        this.dirtyAssists++;
        return this.walkAndFill(vaHi, vaLo, vpn, access, mode);
      }
      this.pa = arr.pfns[slot] * 4096 + (vaLo & OFFSET_MASK[(meta >>> Meta.HELD_SIZE_SHIFT) & 3]);
      return Outcome.OK;
    }
    if (this.tracer !== null) this.tracer({ type: "tlb", cpu: this.id, vpn, access, hit: false, level: -1 });
    return this.walkAndFill(vaHi, vaLo, vpn, access, mode);
  }

  /** The miss path: walk, then fill the TLB or raise the fault. */
  private walkAndFill(vaHi: number, vaLo: number, vpn: number, access: Access, mode: Mode): number {
    const rec = this.walkRec;
    const outcome = this.walk(vpn, access, mode, true, rec);
    if (outcome !== Outcome.OK) return this.pageFault(vaHi, vaLo, vpn, rec.errorCode);
    const instr = access === Access.Exec;
    // a miss fills every level; a dirty assist refreshes the clean copies
    this.tlb.fill(vpn, rec.size, rec.pagePfn, rec.meta, instr);
    if (this.observer !== null) this.observer.onFill(this, vpn, rec);
    this.pa = rec.pagePfn * 4096 + (vaLo & OFFSET_MASK[rec.size]);
    return Outcome.OK;
  }

  private faultBits(access: Access, mode: Mode): number {
    let code = 0;
    if (access === Access.Write) code |= PfErr.WR;
    if (mode === Mode.User) code |= PfErr.US;
    if (access === Access.Exec && (this.cr4Smep || this.eferNxe)) code |= PfErr.ID;
    return code;
  }

  private pkCheck(meta: number, mode: Mode, access: Access): boolean {
    return pkDenied(
      this.pkru,
      (meta >>> Meta.PKEY_SHIFT) & 15,
      (meta & Meta.U) !== 0,
      mode,
      access,
      this.cr0Wp,
    );
  }

  /** The PK error-code bit (SDM §4.7): set when PKRU forbids this data access to a user page. */
  private pkBit(meta: number, mode: Mode, access: Access): number {
    return this.cr4Pke && this.pkCheck(meta, mode, access) ? PfErr.PK : 0;
  }

  /**
   * Delivers #PF: sets CR2 and the error code, and drops the TLB and
   * paging-structure-cache entries for the address in the current PCID, as
   * the processor does on a page fault (SDM §4.10.4.1, last paragraph), so a
   * fault from a stale entry happens at most once.
   */
  private pageFault(vaHi: number, vaLo: number, vpn: number, code: number): number {
    this.pageFaults++;
    if (code & PfErr.RSVD) this.faultsByKind.reserved++;
    else if (code & PfErr.PK) this.faultsByKind.pkey++;
    else if (code & PfErr.P) this.faultsByKind.protection++;
    else this.faultsByKind.notPresent++;
    this.errorCode = code;
    this.cr2Hi = vaHi >>> 0;
    this.cr2Lo = vaLo >>> 0;
    this.tlb.invalidatePage(vpn, this.pcid, InvalidateHow.PcidAndGlobal);
    for (let level = 1; level <= 4; level++) {
      const c = this.psc[level];
      if (c !== null)
        c.invalidatePage(Math.floor(vpn / 512 ** level), this.pcid, InvalidateHow.PcidNonGlobal);
    }
    if (this.tracer !== null) this.emitFault(Outcome.PF, code, vaHi, vaLo);
    return Outcome.PF;
  }

  private emitFault(vector: number, errorCode: number, hi: number, lo: number): void {
    this.tracer!({ type: "fault", cpu: this.id, vector, errorCode, cr2Hi: hi >>> 0, cr2Lo: lo >>> 0 });
  }

  /**
   * The page walk (SDM §4.5): reads one entry per level from physical memory,
   * top level first, starting at CR3 (or below, from a paging-structure cache).
   *
   *  LA57:  | PML5 idx | PML4 idx | PDPT idx | PD idx | PT idx | offset |
   *          56     48  47    39  38     30  29   21  20   12  11     0
   *
   * Level n's index is vpn bits 9n+8..9n (vpn = linear address >> 12).
   * Upper-level A flags are set as each entry is used; the leaf's A (and D
   * on a write) only when the access is allowed (SDM §4.8). Rights are ANDed
   * over the levels; XD is ORed. With `sideEffects` false (a probe) nothing is
   * written and no cache is used or filled.
   *
   * On return: OK with rec.pagePfn/size/meta set, or PF with rec.errorCode.
   */
  walk(
    vpn: number,
    access: Access,
    mode: Mode,
    sideEffects: boolean,
    rec: WalkRecord,
    checkRights = true,
  ): number {
    const phys = this.phys;
    if (sideEffects) this.walks++;
    rec.count = 0;
    rec.pscLevel = -1;
    let level = this.la57 ? 4 : 3;
    let tablePa = this.rootPa;
    let rights: number = Rights.ALL;
    if (sideEffects && this.hasPsc) {
      // the lowest cached level gives the deepest starting point
      for (let l = 1; l <= 4; l++) {
        const c = this.psc[l];
        if (c === null) continue;
        const slot = c.lookup(Math.floor(vpn / LEVEL_DIV[l]), this.pcid);
        if (slot >= 0) {
          this.pscHits[l]++;
          tablePa = c.pfns[slot] * 4096;
          rights = (c.metas[slot] >>> Meta.RIGHTS_SHIFT) & 7;
          level = l - 1;
          rec.pscLevel = l;
          break;
        }
        this.pscMisses[l]++;
      }
    }
    const base = this.faultBits(access, mode);
    // vpn < 2^45 as 32-bit halves, so each level's index is integer shifts
    const vpnLo = vpn >>> 0;
    const vpnHi = (vpn - vpnLo) / TWO32;
    for (;;) {
      const index =
        (level === 0
          ? vpnLo
          : level === 1
            ? vpnLo >>> 9
            : level === 2
              ? vpnLo >>> 18
              : level === 3
                ? (vpnLo >>> 27) | (vpnHi << 5)
                : vpnHi >>> 4) & 511;
      const entryPa = tablePa + index * 8;
      // read the entry straight from the table's frame (tables are 4K-aligned)
      let lo: number;
      let hi: number;
      if (tablePa < phys.sizeBytes) {
        const words = phys.frameWords(tablePa / 4096);
        lo = words === null ? 0 : words[index * 2];
        hi = words === null ? 0 : words[index * 2 + 1];
      } else {
        lo = phys.read32(entryPa); // outside RAM: all ones, counted as stray
        hi = phys.read32(entryPa + 4);
      }
      const n = rec.count++;
      rec.level[n] = level;
      rec.index[n] = index;
      rec.entryPa[n] = entryPa;
      rec.hi[n] = hi;
      rec.lo[n] = lo;
      if (sideEffects) this.walkRefs++;
      if (this.tracer !== null) {
        this.tracer({
          type: "walk-step",
          cpu: this.id,
          level,
          index,
          entryPa,
          hi,
          lo,
          psc: n === 0 && rec.pscLevel >= 0,
        });
      }
      if ((lo & Pte.P) === 0) {
        rec.errorCode = base;
        rec.outcome = Outcome.PF;
        return Outcome.PF;
      }
      const ps = (lo & Pte.PS) !== 0;
      if (
        (hi & this.rsvdHi) !== 0 ||
        (!this.eferNxe && (hi & PteHi.XD) !== 0) ||
        (level >= 3 && ps) ||
        (level === 2 && ps && (lo & RSVD_PDPTE_1G_LO) !== 0) ||
        (level === 1 && ps && (lo & RSVD_PDE_2M_LO) !== 0)
      ) {
        rec.errorCode = base | PfErr.P | PfErr.RSVD;
        rec.outcome = Outcome.PF;
        return Outcome.PF;
      }
      if ((lo & Pte.RW) === 0) rights &= ~Rights.W;
      if ((lo & Pte.US) === 0) rights &= ~Rights.U;
      if ((hi & PteHi.XD) !== 0) rights &= ~Rights.X;
      if (level === 0 || ((level === 1 || level === 2) && ps)) {
        return this.leaf(access, mode, sideEffects, rec, level, entryPa, hi, lo, rights, base, checkRights);
      }
      if (sideEffects && (lo & Pte.A) === 0) this.setAd(entryPa, hi, (lo | Pte.A) >>> 0);
      tablePa = (hi & this.hiAddrMask) * TWO32 + ((lo & Pte.ADDR_LO_MASK) >>> 0);
      if (sideEffects) {
        const c = this.psc[level];
        if (c !== null)
          c.insert(
            Math.floor(vpn / 512 ** level),
            0,
            tablePa / 4096,
            this.pcid | (rights << Meta.RIGHTS_SHIFT),
          );
      }
      level--;
    }
  }

  private leaf(
    access: Access,
    mode: Mode,
    sideEffects: boolean,
    rec: WalkRecord,
    level: number,
    entryPa: number,
    hi: number,
    lo: number,
    rights: number,
    base: number,
    checkRights: boolean,
  ): number {
    const addrLo =
      level === 0 ? (lo & Pte.ADDR_LO_MASK) >>> 0 : (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0;
    const pagePfn = ((hi & this.hiAddrMask) * TWO32 + addrLo) / 4096;
    const pkey = (hi & PteHi.PKEY_MASK) >>> PteHi.PKEY_SHIFT;
    const dirty = access === Access.Write || (lo & Pte.D) !== 0;
    const meta =
      this.pcid |
      (rights << Meta.RIGHTS_SHIFT) |
      (dirty ? Meta.D : 0) |
      (this.cr4Pge && (lo & Pte.G) !== 0 ? Meta.G : 0) |
      (pkey << Meta.PKEY_SHIFT) |
      (level << Meta.SRC_SIZE_SHIFT);
    if (
      checkRights &&
      (this.permTable[rights * 9 + mode * 3 + access] === 0 ||
        (this.cr4Pke && this.pkCheck(meta, mode, access)))
    ) {
      rec.errorCode = base | PfErr.P | this.pkBit(meta, mode, access);
      rec.outcome = Outcome.PF;
      return Outcome.PF;
    }
    if (sideEffects) {
      const newLo = (lo | Pte.A | (access === Access.Write ? Pte.D : 0)) >>> 0;
      if (newLo !== lo >>> 0) this.setAd(entryPa, hi, newLo);
    }
    rec.pagePfn = pagePfn;
    rec.size = level;
    rec.meta = meta;
    rec.outcome = Outcome.OK;
    return Outcome.OK;
  }

  /** A hardware A/D update: a locked write of the entry's low half. */
  private setAd(entryPa: number, hi: number, newLo: number): void {
    this.phys.write32(entryPa, newLo);
    this.adWrites++;
    if (this.tracer !== null) this.tracer({ type: "ad-write", cpu: this.id, entryPa, hi, lo: newLo });
  }

  /**
   * Walks without side effects (no A/D writes, no TLB or cache use) — for
   * inspectors, `explain` and the coherence checker. Returns the Outcome and
   * fills `rec`; a non-canonical address gives GP with `rec.count` = 0.
   */
  probe(vaHi: number, vaLo: number, access: Access, mode: Mode, rec: WalkRecord): number {
    if (this.la57 ? (vaHi << 7) >> 7 !== (vaHi | 0) : (vaHi << 16) >> 16 !== (vaHi | 0)) {
      rec.count = 0;
      rec.outcome = Outcome.GP;
      return Outcome.GP;
    }
    const vpn = (vaHi & (this.la57 ? 0x1ffffff : 0xffff)) * 1048576 + (vaLo >>> 12);
    return this.walk(vpn, access, mode, false, rec);
  }

  /** The mode an access by the current CPL would have. */
  currentMode(): Mode {
    return this.cpl === 3 ? Mode.User : Mode.Supervisor;
  }

  // =====================================================================
  // Instructions that change paging state (SDM §4.10.4.1)
  // =====================================================================

  /**
   * MOV to CR3. With CR4.PCIDE = 1, bit 63 set means "no flush"; otherwise
   * the TLB and paging-structure-cache entries of the new PCID (PCID 0 when
   * PCIDE = 0) are dropped, global entries kept. Returns GP for reserved bits.
   */
  movToCr3(hi: number, lo: number): number {
    const noFlush = this.cr4Pcide && (hi & 0x80000000) !== 0;
    const value = hi & 0x7fffffff;
    if ((value & ~this.hiAddrMask) !== 0) return Outcome.GP;
    this.cr3Hi = value >>> 0;
    this.cr3Lo = lo >>> 0;
    this.cr3Writes++;
    this.rootPa = (value & this.hiAddrMask) * TWO32 + ((lo & 0xfffff000) >>> 0);
    this.pcid = this.cr4Pcide ? lo & 0xfff : 0;
    if (!noFlush) this.flushPcid(this.pcid, "mov-cr3");
    return Outcome.OK;
  }

  /** Writes CR4's paging bits, with the invalidations the SDM requires. */
  movToCr4(bits: { pge?: boolean; pcide?: boolean; smep?: boolean; smap?: boolean; pke?: boolean }): number {
    const pge = bits.pge ?? this.cr4Pge;
    const pcide = bits.pcide ?? this.cr4Pcide;
    const smep = bits.smep ?? this.cr4Smep;
    if (pcide && !this.cr4Pcide && (this.cr3Lo & 0xfff) !== 0) return Outcome.GP; // SDM: #GP if CR3[11:0] != 0
    const flushEverything = pge !== this.cr4Pge || (this.cr4Pcide && !pcide);
    const flushCurrent = smep && !this.cr4Smep;
    this.cr4Pge = pge;
    this.cr4Pcide = pcide;
    this.cr4Smep = smep;
    this.cr4Smap = bits.smap ?? this.cr4Smap;
    this.cr4Pke = bits.pke ?? this.cr4Pke;
    this.pcid = this.cr4Pcide ? this.cr3Lo & 0xfff : 0;
    if (flushEverything) this.flushEverything("mov-cr4");
    else if (flushCurrent) this.flushPcid(this.pcid, "mov-cr4");
    this.updatePerms();
    return Outcome.OK;
  }

  /** MOV to CR0 (WP only: vmlab keeps paging enabled). */
  setWp(wp: boolean): void {
    this.cr0Wp = wp;
    this.updatePerms();
  }

  /** WRMSR IA32_EFER.NXE. */
  setNxe(nxe: boolean): void {
    this.eferNxe = nxe;
    this.updatePerms();
  }

  /** STAC: set RFLAGS.AC (lifts SMAP for explicit supervisor accesses). */
  stac(): void {
    this.rflagsAc = true;
    this.updatePerms();
  }

  /** CLAC: clear RFLAGS.AC. */
  clac(): void {
    this.rflagsAc = false;
    this.updatePerms();
  }

  /** WRPKRU. */
  wrpkru(value: number): void {
    this.pkru = value >>> 0;
  }

  /**
   * INVLPG: drops TLB entries for the page containing the address in the
   * current PCID, and global entries for it; and every paging-structure-cache
   * entry of the current PCID. A non-canonical address is a no-op.
   */
  invlpg(vaHi: number, vaLo: number): void {
    this.invlpgs++;
    if (this.la57 ? (vaHi << 7) >> 7 !== (vaHi | 0) : (vaHi << 16) >> 16 !== (vaHi | 0)) return;
    const vpn = (vaHi & (this.la57 ? 0x1ffffff : 0xffff)) * 1048576 + (vaLo >>> 12);
    const n = this.tlb.invalidatePage(vpn, this.pcid, InvalidateHow.PcidAndGlobal);
    this.invalidatePsc(this.pcid, InvalidateHow.PcidNonGlobal);
    if (this.tracer !== null)
      this.tracer({ type: "invalidate", cpu: this.id, op: "invlpg", pcid: this.pcid, vpn, entries: n });
  }

  /**
   * INVPCID type 0 (individual address, globals kept), 1 (single context,
   * globals kept), 2 (all contexts including globals), 3 (all contexts except
   * globals). Returns GP for a bad type, a PCID above 4095, PCID != 0 with
   * PCIDE = 0 (types 0/1), or a non-canonical address (type 0).
   */
  invpcid(type: number, pcid: number, vaHi = 0, vaLo = 0): number {
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > 0xfff) return Outcome.GP;
    switch (type) {
      case 0: {
        if (!this.cr4Pcide && pcid !== 0) return Outcome.GP;
        if (this.la57 ? (vaHi << 7) >> 7 !== (vaHi | 0) : (vaHi << 16) >> 16 !== (vaHi | 0))
          return Outcome.GP;
        const vpn = (vaHi & (this.la57 ? 0x1ffffff : 0xffff)) * 1048576 + (vaLo >>> 12);
        const n = this.tlb.invalidatePage(vpn, pcid, InvalidateHow.PcidNonGlobal);
        this.invalidatePsc(pcid, InvalidateHow.PcidNonGlobal);
        if (this.tracer !== null)
          this.tracer({ type: "invalidate", cpu: this.id, op: "invpcid0", pcid, vpn, entries: n });
        return Outcome.OK;
      }
      case 1:
        if (!this.cr4Pcide && pcid !== 0) return Outcome.GP;
        this.flushPcid(pcid, "invpcid1");
        return Outcome.OK;
      case 2:
        this.flushEverything("invpcid2");
        return Outcome.OK;
      case 3: {
        this.fullFlushes++;
        const n = this.tlb.invalidateAll(0, InvalidateHow.AllNonGlobal);
        this.invalidatePsc(0, InvalidateHow.Everything);
        if (this.tracer !== null)
          this.tracer({ type: "invalidate", cpu: this.id, op: "invpcid3", pcid: -1, vpn: -1, entries: n });
        return Outcome.OK;
      }
      default:
        return Outcome.GP;
    }
  }

  private flushPcid(pcid: number, op: string): void {
    this.fullFlushes++;
    const n = this.tlb.invalidateAll(pcid, InvalidateHow.PcidNonGlobal);
    this.invalidatePsc(pcid, InvalidateHow.PcidNonGlobal);
    if (this.tracer !== null)
      this.tracer({ type: "invalidate", cpu: this.id, op, pcid, vpn: -1, entries: n });
  }

  private flushEverything(op: string): void {
    this.fullFlushes++;
    const n = this.tlb.invalidateAll(0, InvalidateHow.Everything);
    this.invalidatePsc(0, InvalidateHow.Everything);
    if (this.tracer !== null)
      this.tracer({ type: "invalidate", cpu: this.id, op, pcid: -1, vpn: -1, entries: n });
  }

  private invalidatePsc(pcid: number, how: InvalidateHow): void {
    for (let l = 1; l <= 4; l++) {
      const c = this.psc[l];
      if (c !== null) c.invalidateAll(pcid, how);
    }
  }
}
