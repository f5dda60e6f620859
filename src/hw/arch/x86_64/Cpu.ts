import { ModelBug } from "../../../base/assert.ts";
import { InputError } from "../../../base/errors.ts";
import { type Pfn, pfnToPa, type Vpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import type { WalkRecord } from "../../mmu/Mmu.ts";
import { HwFaultKind, Perm } from "../../mmu/PagingFormat.ts";
import { pscInvalidatePath } from "../../mmu/psc.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { InvalidateHow, Meta } from "../../mmu/TlbArray.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { X86FamilyCpu } from "./controls.ts";
import { Outcome, PfErr, pfTraceText } from "./fault.ts";
import { X86_64Format, X86Attr } from "./format.ts";
import { Pte, PteHi, RSVD_PDE_2M_LO, RSVD_PDPTE_1G_LO } from "./pte.ts";
import { computePermTable, pkDenied, Rights, X86_CANONICAL } from "./rights.ts";
import { X86RunFold } from "./runFold.ts";

export { type HwEvent, type TlbObserver, WalkRecord } from "../../mmu/Mmu.ts";

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

/**
 * One x86-64 logical processor: the paging registers and instructions over
 * the generic MMU (hw/mmu/Mmu.ts: TLBs, paging-structure caches, the walk
 * over the x86-64 PagingFormat). Several CPUs share one PhysMem.
 *
 * Spec: Intel SDM Vol. 3A ch. 4 (Paging): §4.5 4-level and 5-level paging,
 * §4.6 access rights, §4.7 page-fault exceptions, §4.8 accessed and dirty
 * flags, §4.10 caching translation information.
 *
 * `translate` is the hot path: it returns an Outcome and leaves the physical
 * address in `pa`, or the fault in `errorCode`/`cr2Hi`/`cr2Lo`. It allocates
 * nothing and never throws for an architectural fault.
 */
export class Cpu extends X86FamilyCpu {
  // ---- architectural registers ----
  cr4Pge = false;
  cr4Pcide = false;
  cr4Pke = false;
  pkru = 0;
  cr3Hi = 0;
  cr3Lo = 0;
  /** CR2: the linear address of the last page fault */
  cr2Hi = 0;
  cr2Lo = 0;
  readonly la57: boolean;
  readonly maxPhyAddr: number;
  readonly hiAddrMask: number;
  declare readonly format: X86_64Format;

  // ---- results of the last translate ----
  errorCode = 0;

  // ---- counters ----
  readonly faultsByKind = { notPresent: 0, protection: 0, reserved: 0, pkey: 0 };

  /** #GP faults for non-canonical addresses */
  get gpFaults(): number {
    return this.addressFaults;
  }

  /** MOV to CR3 */
  get cr3Writes(): number {
    return this.rootWrites;
  }

  /** INVLPG instructions */
  get invlpgs(): number {
    return this.pageInvalidations;
  }

  constructor(id: number, phys: PhysMem, config: CpuConfig = {}) {
    const la57 = config.la57 ?? false;
    const m = config.maxPhyAddr ?? 46;
    if (!Number.isInteger(m) || m < 36 || m > 52) throw new InputError(`MAXPHYADDR must be 36..52, not ${m}`);
    const psc = config.psc ? (config.psc === true ? DEFAULT_PSC : config.psc) : null;
    super(id, phys, new X86_64Format(la57, m), {
      tlb: config.tlb ?? "skylake",
      psc: psc === null ? undefined : [null, psc.pde, psc.pdpte, psc.pml4e, psc.pml5e],
    });
    this.la57 = la57;
    this.maxPhyAddr = m;
    this.hiAddrMask = this.format.hiAddrMask;
    this.updatePerms();
    this.enableFastMiss();
    this.runFold = new X86RunFold(this, this.memo, this.format, this.permTable, (vpn, access, mode) =>
      this.walkFast(vpn, access, mode, this.walkRec),
    );
  }

  /** current PCID (CR3[11:0] when CR4.PCIDE = 1, else 0): the ASID of x86 */
  get pcid(): number {
    return this.asid;
  }

  protected override updatePerms(): void {
    this.format.nxe = this.eferNxe;
    this.format.pge = this.cr4Pge;
    this.checkAttrs = this.cr4Pke;
    computePermTable(
      { wp: this.cr0Wp, smep: this.cr4Smep, smap: this.cr4Smap, ac: this.rflagsAc, nxe: this.eferNxe },
      this.permTable,
    );
  }

  // =====================================================================
  // The MMU hooks (see hw/mmu/Mmu.ts)
  // =====================================================================

  /** Canonical check (SDM §3.3.7.1: bits 63..N-1 all equal), then the 4K page number of the truncated address. */
  protected override vpnOf(vaHi: number, vaLo: number, _access: Access): Vpn | -1 {
    if (this.la57 ? (vaHi << 7) >> 7 !== (vaHi | 0) : (vaHi << 16) >> 16 !== (vaHi | 0)) return -1;
    // units.ts's vaToVpn, written out with an inline cast: every translation comes here
    return ((vaHi & (this.la57 ? 0x1ffffff : 0xffff)) * 1048576 + (vaLo >>> 12)) as Vpn;
  }

  /** #GP(0) for a non-canonical address; no page fault, CR2 unchanged. */
  protected override badAddress(vaHi: number, vaLo: number, _access: Access): number {
    this.faultKind = HwFaultKind.NonCanonical;
    this.faultLevel = -1;
    if (this.tracer !== null) this.emitFault(Outcome.GP, 0, vaHi, vaLo);
    return Outcome.GP;
  }

  protected override probeBadAddress(): number {
    return Outcome.GP;
  }

  /** MOV to CR3 with the PCID (flushing it). */
  override loadUserRoot(rootPfn: Pfn, asid: number): void {
    this.loadCr3(pfnToPa(rootPfn), this.cr4Pcide ? asid & 0xfff : 0, false);
  }

  /** INVLPG. */
  override flushPage(vaHi: number, vaLo: number): void {
    this.invlpg(vaHi, vaLo);
  }

  /**
   * The TLB-miss walk of the common case, with X86_64Format.decode written
   * out for 8-byte entries (SDM §4.5): every level present, no reserved bit,
   * every table entry already accessed, a 4K, 2M or 1G leaf the access is
   * allowed through. It reads the same entries as Mmu.walk and has its
   * effects (walks and walkRefs counted, the leaf's A/D write-back, `rec`),
   * or gives up having changed nothing (Mmu.walk then runs): a table entry
   * with A clear is left to the generic walk, whose write-back comes before
   * the next level's read (a table that maps itself reads the written entry).
   * An entry with P clear (a table never written reads as zeros) ends it as
   * it ends Mmu.walk: the translation fault of that level (SDM §4.7: error
   * code without P), in `rec` with rec.outcome = #PF, for the caller to
   * deliver (Mmu.missAndFill); a fault of any other kind is left to Mmu.walk.
   */
  protected override walkFast(vpn: number, access: Access, mode: Mode, rec: WalkRecord): boolean {
    const phys = this.phys;
    const nrFrames = phys.nrFrames;
    const fmt = this.format;
    const rsvdHi = fmt.rsvdHi;
    const hiAddrMask = fmt.hiAddrMask;
    const nxe = fmt.nxe;
    const vpnLo = vpn >>> 0;
    const vpnHi = ((vpn - vpnLo) / 4294967296) | 0;
    const rootPa = this.rootPa;
    let tableFrame = Math.floor(rootPa / 4096);
    let tableOff = rootPa - tableFrame * 4096;
    let acc = Rights.ALL;
    let level = fmt.levels - 1;
    let n = 0;
    const memo = this.memo;
    const span = Math.floor(vpn / 512); // the vpn's leaf table
    if (memo.valid && memo.key === span && rec === this.walkRec) {
      // a run's next page under the same leaf table: the entries above it as the last walk read them
      // (still in rec, and in memory: WalkMemo), counted below with the leaf's
      tableFrame = memo.table;
      tableOff = 0;
      acc = memo.acc;
      level = 0;
      n = memo.count;
    }
    const recLevel = rec.level;
    const recIndex = rec.index;
    const recEntryPa = rec.entryPa;
    const recHi = rec.hi;
    const recLo = rec.lo;
    for (;;) {
      // the index: vpn bits 9*level+8 .. 9*level (vpn < 2^45)
      const index =
        (level < 3 ? vpnLo >>> (9 * level) : level === 3 ? (vpnLo >>> 27) | (vpnHi << 5) : vpnHi >>> 4) & 511;
      if (tableFrame >= nrFrames) return false; // outside RAM: the generic walk's stray read
      const words = phys.frameWords(tableFrame as Pfn); // inline cast: the hot loop (units.ts)
      const offset = tableOff + index * 8;
      const entryPa = tableFrame * 4096 + offset;
      // a frame never written reads as zeros: not present (the #PF of SDM §4.7)
      if (words === null) return this.fastTranslationFault(rec, n, level, index, entryPa, 0, 0, access, mode);
      const lo = words[offset >>> 2];
      const hi = words[(offset >>> 2) + 1];
      if ((lo & Pte.P) === 0)
        return this.fastTranslationFault(rec, n, level, index, entryPa, hi, lo, access, mode);
      if ((hi & rsvdHi) !== 0) return false;
      const xd = (hi & PteHi.XD) !== 0;
      if (xd && !nxe) return false; // reserved
      recLevel[n] = level;
      recIndex[n] = index;
      recEntryPa[n] = entryPa;
      recHi[n] = hi;
      recLo[n] = lo;
      n++;
      acc &= ((lo >>> 1) & (Rights.W | Rights.U)) | (xd ? 0 : Rights.X); // R/W is bit 1, U/S bit 2
      const ps = (lo & Pte.PS) !== 0;
      if (level === 0 || ps) {
        if (
          level !== 0 &&
          (level >= 3 ||
            (level === 2 && (lo & RSVD_PDPTE_1G_LO) !== 0) ||
            (level === 1 && (lo & RSVD_PDE_2M_LO) !== 0))
        )
          return false; // reserved
        const rights = X86_CANONICAL[acc];
        if (this.permTable[rights * 9 + mode * 3 + access] === 0) return false; // a permission fault
        // RunFold.walkNext's probe (WalkMemo.probing) takes a 4K page in RAM only; the tests first, so
        // that a pass of probes runs no code the first pass left without feedback
        const notRam4K = level !== 0 || (hi & hiAddrMask) * 1048576 + (lo >>> 12) >= nrFrames;
        if (notRam4K && memo.probing) return false;
        const write = access === Access.Write;
        const newLo = (lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
        // every effect of Mmu.walk and leafFound from here
        this.walks++;
        this.walkRefs += n;
        if (newLo !== lo) {
          phys.write32(entryPa, newLo);
          this.adWrites++;
          if (memo.valid && memo.holds(Math.floor(entryPa / 4096))) memo.valid = false; // a table that maps itself
        }
        const addrLo =
          level === 0 ? (lo & Pte.ADDR_LO_MASK) >>> 0 : (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0;
        const pat = level === 0 ? lo & Pte.PAT4K : lo & Pte.PAT_LARGE;
        rec.count = n;
        rec.pscLevel = -1;
        rec.pagePfn = (((hi & hiAddrMask) * 4294967296 + addrLo) / 4096) as Pfn;
        rec.size = level;
        rec.meta =
          this.asid |
          (rights << Meta.RIGHTS_SHIFT) |
          // the D test first, then the access: a first pass of stores never reached `lo & Pte.D`
          // with `write ||` before it, and the first load's walk deoptimized walkFast (no feedback)
          ((lo & Pte.D) !== 0 || write ? Meta.D : 0) |
          (fmt.pge && (lo & Pte.G) !== 0 ? Meta.G : 0) |
          (level << Meta.SRC_SIZE_SHIFT);
        rec.attrs =
          ((hi & PteHi.PKEY_MASK) >>> PteHi.PKEY_SHIFT) |
          (lo & Pte.PWT ? X86Attr.PWT : 0) |
          (lo & Pte.PCD ? X86Attr.PCD : 0) |
          (pat !== 0 ? X86Attr.PAT : 0);
        rec.outcome = 0;
        rec.faultKind = HwFaultKind.None;
        rec.faultLevel = -1;
        return true;
      }
      if ((lo & Pte.A) === 0) return false; // the generic walk sets it before reading on
      tableFrame = (hi & hiAddrMask) * 1048576 + (lo >>> 12);
      tableOff = 0;
      level--;
      if (level === 0 && this.inRun && rec === this.walkRec) memo.keep(span, tableFrame, acc, n, recEntryPa);
    }
  }

  /** The #PF error code of a fault (SDM §4.7). */
  protected override walkFault(
    rec: WalkRecord,
    access: Access,
    mode: Mode,
    attrs: number,
    rights: number,
  ): number {
    let code = this.faultBits(access, mode);
    const kind = rec.faultKind;
    if (kind === HwFaultKind.Reserved) code |= PfErr.P | PfErr.RSVD;
    else if (kind !== HwFaultKind.Translation) {
      code |= PfErr.P;
      if (this.cr4Pke && this.pkCheck(attrs, rights, mode, access)) {
        code |= PfErr.PK;
        rec.faultKind = HwFaultKind.ProtKey;
      }
    }
    rec.errorCode = code;
    rec.outcome = Outcome.PF;
    return Outcome.PF;
  }

  protected override attrDenied(attrs: number, rights: number, mode: Mode, access: Access): boolean {
    return this.pkCheck(attrs, rights, mode, access);
  }

  private faultBits(access: Access, mode: Mode): number {
    let code = 0;
    if (access === Access.Write) code |= PfErr.WR;
    if (mode === Mode.User) code |= PfErr.US;
    if (access === Access.Exec && (this.cr4Smep || this.eferNxe)) code |= PfErr.ID;
    return code;
  }

  /** Does PKRU deny this access to the page of these attributes (its protection key; user pages only)? */
  private pkCheck(attrs: number, rights: number, mode: Mode, access: Access): boolean {
    return pkDenied(
      this.pkru,
      attrs & X86Attr.PKEY_MASK,
      (rights & Perm.USER) !== 0,
      mode,
      access,
      this.cr0Wp,
    );
  }

  /**
   * Delivers #PF: sets CR2 and the error code, and drops the TLB and
   * paging-structure-cache entries for the address in the current PCID, as
   * the processor does on a page fault (SDM §4.10.4.1, last paragraph), so a
   * fault from a stale entry happens at most once. After a miss in every
   * array of the access's path (missedPath) only the arrays that lookup did
   * not probe, or that may hold fractured pieces, are searched: the same
   * entries dropped.
   */
  protected override deliver(rec: WalkRecord, vaHi: number, vaLo: number, vpn: Vpn): number {
    const code = rec.errorCode;
    this.pageFaults++;
    if (code & PfErr.RSVD) this.faultsByKind.reserved++;
    else if (code & PfErr.PK) this.faultsByKind.pkey++;
    else if (code & PfErr.P) this.faultsByKind.protection++;
    else this.faultsByKind.notPresent++;
    this.errorCode = code;
    this.cr2Hi = vaHi >>> 0;
    this.cr2Lo = vaLo >>> 0;
    // (missedPath: after walkFast, which runs only without walk caches: no walk-cache entry to drop)
    if (this.missedPath !== 0) this.tlb.invalidatePageMissed(vpn, this.asid, this.missedPath === 2);
    else {
      this.tlb.invalidatePage(vpn, this.asid, InvalidateHow.PcidAndGlobal);
      pscInvalidatePath(this, vpn, this.asid); // the walk caches on the way to vpn (mmu/psc.ts)
    }
    if (this.tracer !== null) this.emitFault(Outcome.PF, code, vaHi, vaLo);
    return Outcome.PF;
  }

  /**
   * RunFoldHost.faultsMissed (src/hw/mmu/runFold.ts RunFold.faultRun): `count` walks of pages vpn,
   * vpn + step, ... from the memo to their PTEs, P clear (none or a swap entry: a translation
   * fault at the leaf; no reserved-bit check on a not-present entry, §4.7), each after a lookup that
   * missed everywhere, and each access's #PF (SDM Vol. 3A §4.7) as missAndFill and deliver make
   * them one by one: every walk and walk reference counted, the error code the same for each (a
   * user or supervisor `access`, a load or a store, not present), the last page's in CR2 and
   * the walk record (its retry's walk overwrites it), each fault's invalidation of its page
   * (§4.10.4.1: Tlb.invalidatePagesMissed, the arrays deliver's invalidatePageMissed looks at). Only
   * without walk caches (the fold runs only where fast walks do): pscInvalidatePath does nothing.
   */
  faultsMissed(
    vpn: number,
    step: number,
    count: number,
    lastHi: number,
    lastLo: number,
    lastIndex: number,
    mode: Mode,
    access: Access,
  ): void {
    const rec = this.walkRec;
    const n = this.memo.count;
    const entryPa = this.memo.table * 4096 + lastIndex * 8;
    // the last page's walk and fault code (fastTranslationFault), and the walks before it; the entry's
    // halves in the record are its retry's (`leaves` overwrites the leaf's slot): 0 here
    this.fastTranslationFault(rec, n, 0, lastIndex, entryPa, 0, 0, access, mode);
    this.walks += count - 1;
    this.walkRefs += (count - 1) * (n + 1);
    this.faultKind = rec.faultKind;
    this.faultLevel = rec.faultLevel;
    const code = rec.errorCode;
    this.pageFaults += count;
    if (code & (PfErr.RSVD | PfErr.PK | PfErr.P)) throw new ModelBug("faultsMissed: not a not-present #PF");
    this.faultsByKind.notPresent += count;
    this.errorCode = code;
    this.cr2Hi = lastHi >>> 0;
    this.cr2Lo = lastLo >>> 0;
    this.tlb.invalidatePagesMissed(vpn, step, count, this.asid);
  }

  private emitFault(vector: number, errorCode: number, hi: number, lo: number): void {
    const cr2 = `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, "0")}`.replace(
      /^0x0+(?=.)/,
      "0x",
    );
    this.traceFault(
      vector,
      errorCode,
      hi,
      lo,
      vector === Outcome.PF ? pfTraceText(errorCode, cr2) : `#GP(0): ${cr2} is not canonical`,
    );
  }

  override readonly asidName = "PCID";
  /** protection key and memory type (the user bit is in the rights) */
  override readonly attrCompareMask = X86Attr.PKEY_MASK | X86Attr.PWT | X86Attr.PCD | X86Attr.PAT;

  override describeAttrs(attrs: number): string {
    const parts = [`pkey ${attrs & X86Attr.PKEY_MASK}`];
    if (attrs & X86Attr.PWT) parts.push("PWT");
    if (attrs & X86Attr.PCD) parts.push("PCD");
    if (attrs & X86Attr.PAT) parts.push("PAT");
    return parts.join(" ");
  }

  /** The canonical address: bits above 47 (56 with LA57) copy bit 47 (56). */
  override vaText(vpn: number): string {
    const bits = BigInt(this.la57 ? 57 : 48);
    const v = BigInt(vpn) << 12n;
    return `0x${(v >> (bits - 1n) === 1n ? v | ((1n << 64n) - (1n << bits)) : v).toString(16)}`;
  }

  override invalidationHint(vpn: Vpn, asid: number, global: boolean): string {
    const va = this.vaText(vpn);
    return global
      ? `INVLPG ${va} (or INVPCID type 2, or a CR4.PGE toggle): the entry is global, so CR3 writes keep it`
      : `INVLPG ${va} in PCID ${asid}, INVPCID type 0/1 for PCID ${asid}, or a flushing MOV to CR3`;
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
    this.rootWrites++;
    this.rootPa = (value & this.hiAddrMask) * 4294967296 + ((lo & 0xfffff000) >>> 0);
    this.asid = this.cr4Pcide ? lo & 0xfff : 0;
    if (!noFlush) this.flushMatching(this.asid, InvalidateHow.PcidNonGlobal, "mov-cr3");
    return Outcome.OK;
  }

  /**
   * MOV to CR3 of a table's physical address and a PCID: the 64-bit value
   * PA | PCID (| bit 63 with `noFlush`), split into its halves so that a
   * table above 4 GiB keeps its high bits. Returns GP for reserved bits.
   */
  loadCr3(tablePa: number, pcid: number, noFlush: boolean): number {
    const hi = Math.floor(tablePa / 4294967296);
    return this.movToCr3((hi | (noFlush ? 0x80000000 : 0)) >>> 0, ((tablePa % 4294967296) + pcid) >>> 0);
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
    this.asid = this.cr4Pcide ? this.cr3Lo & 0xfff : 0;
    if (flushEverything) this.flushMatching(0, InvalidateHow.Everything, "mov-cr4");
    else if (flushCurrent) this.flushMatching(this.asid, InvalidateHow.PcidNonGlobal, "mov-cr4");
    this.updatePerms();
    return Outcome.OK;
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
    const vpn = this.vpnOf(vaHi, vaLo, Access.Read);
    if (vpn === -1) {
      this.pageInvalidations++;
      return; // non-canonical
    }
    this.invlpgPage(vpn);
  }

  /**
   * INVLPG of the canonical address of the 4K page `vpn` (vpnOf's page
   * number; 0 <= vpn < 2^(N-12)): what invlpg(hi, lo) of that address does,
   * taking the page number the kernel has (flush_tlb_one_user of a page of
   * flush_tlb_mm_range's range) without splitting it into the address's
   * halves for vpnOf to join again.
   */
  invlpgPage(vpn: Vpn): void {
    this.pageInvalidations++;
    const n = this.invalidatePageEntries(
      vpn,
      this.asid,
      InvalidateHow.PcidAndGlobal,
      InvalidateHow.PcidNonGlobal,
    );
    if (this.tracer !== null)
      this.tracer({
        type: "invalidate",
        cpu: this.id,
        op: "invlpg",
        asid: this.asid,
        asidName: this.asidName,
        vpn,
        entries: n,
      });
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
        const vpn = this.vpnOf(vaHi, vaLo, Access.Read);
        if (vpn === -1) return Outcome.GP;
        const n = this.invalidatePageEntries(
          vpn,
          pcid,
          InvalidateHow.PcidNonGlobal,
          InvalidateHow.PcidNonGlobal,
        );
        if (this.tracer !== null)
          this.tracer({
            type: "invalidate",
            cpu: this.id,
            op: "invpcid0",
            asid: pcid,
            asidName: this.asidName,
            vpn,
            entries: n,
          });
        return Outcome.OK;
      }
      case 1:
        if (!this.cr4Pcide && pcid !== 0) return Outcome.GP;
        this.flushMatching(pcid, InvalidateHow.PcidNonGlobal, "invpcid1");
        return Outcome.OK;
      case 2:
        this.flushMatching(0, InvalidateHow.Everything, "invpcid2");
        return Outcome.OK;
      case 3:
        this.flushMatching(0, InvalidateHow.AllNonGlobal, "invpcid3");
        return Outcome.OK;
      default:
        return Outcome.GP;
    }
  }
}
