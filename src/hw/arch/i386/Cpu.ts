import { assert } from "../../../base/assert.ts";
import { InputError } from "../../../base/errors.ts";
import { type Pfn, pfnToPa, type Vpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import type { WalkRecord } from "../../mmu/Mmu.ts";
import { HwFaultKind, type WalkState } from "../../mmu/PagingFormat.ts";
import { pscInvalidatePath } from "../../mmu/psc.ts";
import { parseTlbSpec, type TlbSpec } from "../../mmu/Tlb.ts";
import { InvalidateHow, Meta } from "../../mmu/TlbArray.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { X86FamilyCpu } from "../x86_64/controls.ts";
import { Outcome, PfErr, pfTraceText } from "../x86_64/fault.ts";
import { X86Attr } from "../x86_64/format.ts";
import { computePermTable, Rights, X86_CANONICAL } from "../x86_64/rights.ts";
import { I386Format, PaeFormat } from "./format.ts";
import {
  PDE4M_ADDR_LO,
  PSE36_SHIFT,
  Pte,
  PteHi,
  paeHiAddrMask,
  RSVD_PDE_2M_LO,
  RSVD_PDPTE_LO,
} from "./pte.ts";
import { I386RunFold } from "./runFold.ts";

export { type HwEvent, type TlbObserver, WalkRecord } from "../../mmu/Mmu.ts";
export { Outcome, PfErr };

/** Configuration of one 32-bit x86 CPU's MMU. */
export interface I386CpuConfig {
  /** PAE paging (CR4.PAE = 1): 8-byte entries, PDPTE registers, 2 MiB pages, XD */
  pae?: boolean;
  /** MAXPHYADDR, 32..52 (default 36); 32-bit paging's 4 MiB pages use min(MAXPHYADDR, 40) bits */
  maxPhyAddr?: number;
  /** TLB preset name, spec string (`64x4,1536x12`) or spec (default `skylake`, its 2M arrays holding 4M pages in 32-bit paging) */
  tlb?: TlbSpec | string;
  /** a PDE cache (32 entries, 4 ways); default off */
  psc?: boolean;
}

/**
 * A TLB spec for 32-bit x86's page sizes: the large-page arrays of an
 * x86-64 preset ("2M") hold the large page of the mode (`large`: 4M or 2M),
 * as Intel's "2M/4M" TLBs do; arrays of 1 GiB pages only are dropped.
 */
export function tlbFor32(spec: TlbSpec | string, large: "4M" | "2M"): TlbSpec {
  const levels = typeof spec === "string" ? parseTlbSpec(spec) : spec;
  return levels.map((level) => ({
    name: level.name,
    arrays: level.arrays.flatMap((a) => {
      if (a.sizes === undefined) return [a];
      const sizes = [...new Set(a.sizes.map((s) => (s === "2M" || s === "4M" ? large : s)))].filter(
        (s) => s !== "1G",
      );
      return sizes.length === 0 ? [] : [{ ...a, sizes }];
    }),
  }));
}

/**
 * One 32-bit x86 logical processor, in 32-bit paging (`pae` false: SDM Vol.
 * 3A §4.3) or PAE paging (§4.4): CR0.WP, CR2, CR3, CR4.PSE/PGE/SMEP/SMAP,
 * EFER.NXE, RFLAGS.AC, the four PDPTE registers of PAE, MOV to CR3/CR4 and
 * INVLPG, over the generic MMU (hw/mmu/Mmu.ts). No PCIDs (CR4.PCIDE needs
 * IA-32e mode): every translation is tagged PCID 000H.
 *
 * Rights are decided as on x86-64 (§4.6, ../x86_64/rights.ts), with
 * EFER.NXE taken as 0 in 32-bit paging (no XD bit); #PF error codes and CR2
 * as §4.7 says, I/D set for a fetch only when CR4.SMEP = 1 or (PAE and
 * EFER.NXE = 1).
 *
 * `translate` is the hot path: it returns an Outcome and leaves the physical
 * address in `pa`, or the fault in `errorCode`/`cr2`. It allocates nothing
 * and never throws for an architectural fault.
 */
export class I386Cpu extends X86FamilyCpu {
  // ---- architectural registers ----
  // CR4.PSE starts set as Linux sets it (CR0.WP and EFER.NXE too: ../x86_64/controls.ts; NXE has no effect on 32-bit paging)
  cr4Pse = true;
  cr4Pge = false;
  /** CR3 as last loaded (32 bits) */
  cr3 = 0;
  /** CR2: the linear address of the last page fault */
  cr2 = 0;
  /**
   * PAE's PDPTE registers (§4.4.1): PDPTE i maps VA bits 31..30 = i, loaded
   * from the PDPT by MOV to CR3 and not re-read by walks.
   */
  readonly pdpteHi = new Uint32Array(4);
  readonly pdpteLo = new Uint32Array(4);
  /** the PD each present PDPTE register points to (-1: not present) */
  private readonly pdPa = new Float64Array(4).fill(-1);
  /** registers saved while probeAsUser has other ones loaded */
  private readonly savedPdpte = new Uint32Array(8);
  private savedPdptPa = -1;
  readonly pae: boolean;
  readonly maxPhyAddr: number;
  declare readonly format: I386Format | PaeFormat;

  // ---- results of the last translate ----
  errorCode = 0;

  // ---- counters ----
  readonly faultsByKind = { notPresent: 0, protection: 0, reserved: 0 };

  /** MOV to CR3 that faulted with #GP (a reserved bit in a present PDPTE) */
  cr3Faults = 0;

  constructor(id: number, phys: PhysMem, config: I386CpuConfig = {}) {
    const pae = config.pae ?? false;
    const m = config.maxPhyAddr ?? 36;
    if (!Number.isInteger(m) || m < 32 || m > 52) throw new InputError(`MAXPHYADDR must be 32..52, not ${m}`);
    if (pae && m < 36) throw new InputError(`PAE paging needs MAXPHYADDR 36..52, not ${m}`);
    super(id, phys, pae ? new PaeFormat(m) : new I386Format(m), {
      tlb: tlbFor32(config.tlb ?? "skylake", pae ? "2M" : "4M"),
      psc: config.psc ? [null, [32, 4]] : undefined,
    });
    this.pae = pae;
    this.maxPhyAddr = m;
    this.updatePerms();
    this.enableFastMiss();
    this.runFold = new I386RunFold(this, this.memo, this.format, this.permTable, (vpn, access, mode) =>
      this.walkFast(vpn, access, mode, this.walkRec),
    );
  }

  protected override updatePerms(): void {
    this.format.pge = this.cr4Pge;
    if (this.format instanceof PaeFormat) this.format.nxe = this.eferNxe;
    else this.format.pse = this.cr4Pse;
    computePermTable(
      {
        wp: this.cr0Wp,
        smep: this.cr4Smep,
        smap: this.cr4Smap,
        ac: this.rflagsAc,
        nxe: this.pae && this.eferNxe, // 32-bit paging: any present page may be fetched from (§4.6.1)
      },
      this.permTable,
    );
  }

  // =====================================================================
  // The MMU hooks (see hw/mmu/Mmu.ts)
  // =====================================================================

  /** Linear addresses are 32 bits: an address with a high half cannot be formed (answered #GP). */
  protected override vpnOf(vaHi: number, vaLo: number, _access: Access): Vpn | -1 {
    if (vaHi !== 0) return -1;
    return (vaLo >>> 12) as Vpn; // inline cast: every translation comes here (units.ts)
  }

  protected override badAddress(vaHi: number, vaLo: number, _access: Access): number {
    this.faultKind = HwFaultKind.NonCanonical;
    this.faultLevel = -1;
    if (this.tracer !== null) this.emitFault(Outcome.GP, 0, vaHi, vaLo);
    return Outcome.GP;
  }

  protected override probeBadAddress(): number {
    return Outcome.GP;
  }

  /**
   * PAE: the walk starts at the PD that PDPTE register VA[31:30] names
   * (§4.4.2); a PDPTE register with P = 0 is a not-present fault at the
   * PDPT level. 32-bit paging: at the PD CR3 names.
   */
  protected override startWalk(w: WalkState): boolean {
    if (!this.pae) return super.startWalk(w);
    const i = w.vpn >>> 18;
    w.acc = Rights.ALL;
    const pd = this.pdPa[i];
    if (pd < 0) {
      w.level = 2;
      w.fault = HwFaultKind.Translation;
      return false;
    }
    w.level = 1;
    w.tablePa = pd;
    w.topMask = 511;
    return true;
  }

  /**
   * The TLB-miss walk of the common case (Mmu.walkFast), I386Format.decode or
   * PaeFormat.decode written out: every entry present, no reserved bit, every
   * table entry already accessed, a leaf the access is allowed through. It
   * reads what Mmu.walk reads (PAE: from the PD the PDPTE register names, as
   * startWalk; the PDPT in memory is not read, §4.4.1) and has its effects
   * (walks and walkRefs counted, the leaf's A/D write-back, `rec`), or gives
   * up having changed nothing and Mmu.walk runs: a table entry with A clear
   * is left to it (its write-back comes before the next level's read). An
   * entry with P clear (a table never written reads as zeros) ends it as it
   * ends Mmu.walk: the not-present fault of that level (§4.7: an error code
   * without P) in `rec` (fastTranslationFault), for Mmu.missAndFill to deliver; a
   * not-present PDPTE register, reserved bits and permission faults are left
   * to Mmu.walk.
   */
  protected override walkFast(vpn: number, access: Access, mode: Mode, rec: WalkRecord): boolean {
    return this.pae ? this.walkFastPae(vpn, access, mode, rec) : this.walkFast32(vpn, access, mode, rec);
  }

  /** 32-bit paging (§4.3): 4-byte entries, the PD at CR3, a 4 MiB PDE under CR4.PSE (PSE-36 address bits). */
  private walkFast32(vpn: number, access: Access, mode: Mode, rec: WalkRecord): boolean {
    const phys = this.phys;
    const nrFrames = phys.nrFrames;
    const fmt = this.format as I386Format;
    let tableFrame = Math.floor(this.rootPa / 4096); // CR3 bits 31..12: a whole frame
    let acc = Rights.ALL;
    let level = 1;
    const memo = this.memo;
    const span = vpn >>> 10; // the vpn's leaf table (1024 entries)
    if (memo.valid && memo.key === span && rec === this.walkRec) {
      // a run's next page under the same PT: the PDE as the last walk read it (still in rec, and in
      // memory: WalkMemo), counted below with the PTE's
      tableFrame = memo.table;
      acc = memo.acc;
      level = 0;
    }
    for (;;) {
      const index = level === 1 ? vpn >>> 10 : vpn & 1023;
      if (tableFrame >= nrFrames) return false; // outside RAM: the generic walk's stray read
      const words = phys.frameWords(tableFrame as Pfn); // inline cast: the hot loop (units.ts)
      const entryPa = tableFrame * 4096 + index * 4;
      const n = 1 - level;
      // a frame never written reads as zeros: not present
      // P = 0 (a table never written reads as zeros): the #PF of SDM §4.7; its delivery invalidates (§4.10.4.1)
      if (words === null) return this.fastTranslationFault(rec, n, level, index, entryPa, 0, 0, access, mode);
      const lo = words[index];
      if ((lo & Pte.P) === 0)
        return this.fastTranslationFault(rec, n, level, index, entryPa, 0, lo, access, mode);
      rec.level[n] = level;
      rec.index[n] = index;
      rec.entryPa[n] = entryPa;
      rec.hi[n] = 0;
      rec.lo[n] = lo;
      const large = level === 1 && fmt.pse && (lo & Pte.PS) !== 0;
      if (large && (lo & fmt.rsvd4M) !== 0) return false; // reserved
      acc &= ((lo >>> 1) & (Rights.W | Rights.U)) | Rights.X; // R/W is bit 1, U/S bit 2; no XD
      if (level === 0 || large) {
        const rights = X86_CANONICAL[acc];
        if (this.permTable[rights * 9 + mode * 3 + access] === 0) return false; // a permission fault
        const write = access === Access.Write;
        const newLo = (lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
        // every effect of Mmu.walk and leafFound from here
        this.walks++;
        this.walkRefs += n + 1;
        if (newLo !== lo) {
          phys.write32(entryPa, newLo);
          this.adWrites++;
          if (memo.valid && memo.holds(Math.floor(entryPa / 4096))) memo.valid = false; // a table that maps itself
        }
        rec.count = n + 1;
        rec.pscLevel = -1;
        rec.pagePfn = (
          large ? ((lo & fmt.pse36Mask) >>> PSE36_SHIFT) * 1048576 + ((lo & PDE4M_ADDR_LO) >>> 12) : lo >>> 12
        ) as Pfn;
        this.fastLeaf(rec, level, lo, rights, write);
        return true;
      }
      if ((lo & Pte.A) === 0) return false; // the generic walk sets it before reading on
      tableFrame = lo >>> 12;
      level = 0;
      if (this.inRun && rec === this.walkRec) memo.keep(span, tableFrame, acc, 1, rec.entryPa);
    }
  }

  /** PAE paging (§4.4.2): 8-byte entries from the PD of PDPTE register VA[31:30], 2 MiB PDEs, XD under EFER.NXE. */
  private walkFastPae(vpn: number, access: Access, mode: Mode, rec: WalkRecord): boolean {
    const pd = this.pdPa[vpn >>> 18];
    if (pd < 0) return false; // a not-present PDPTE register: the generic walk's fault
    const phys = this.phys;
    const nrFrames = phys.nrFrames;
    const fmt = this.format as PaeFormat;
    const rsvdHi = fmt.rsvdHi;
    const hiAddrMask = fmt.hiAddrMask;
    const nxe = fmt.nxe;
    let tableFrame = Math.floor(pd / 4096);
    let tableOff = pd - tableFrame * 4096;
    let acc = Rights.ALL;
    let level = 1;
    const memo = this.memo;
    const span = vpn >>> 9; // the vpn's leaf table (512 entries; the PDPTE register's index included)
    if (memo.valid && memo.key === span && rec === this.walkRec) {
      // a run's next page under the same PT: the PDE as the last walk read it (WalkMemo)
      tableFrame = memo.table;
      tableOff = 0;
      acc = memo.acc;
      level = 0;
    }
    for (;;) {
      const index = level === 1 ? (vpn >>> 9) & 511 : vpn & 511;
      if (tableFrame >= nrFrames) return false; // outside RAM: the generic walk's stray read
      const words = phys.frameWords(tableFrame as Pfn); // inline cast: the hot loop (units.ts)
      const offset = tableOff + index * 8;
      const entryPa = tableFrame * 4096 + offset;
      const n = 1 - level;
      // a frame never written reads as zeros: not present
      if (words === null) return this.fastTranslationFault(rec, n, level, index, entryPa, 0, 0, access, mode);
      const lo = words[offset >>> 2];
      const hi = words[(offset >>> 2) + 1];
      if ((lo & Pte.P) === 0)
        return this.fastTranslationFault(rec, n, level, index, entryPa, hi, lo, access, mode);
      if ((hi & rsvdHi) !== 0) return false; // reserved
      const xd = (hi & PteHi.XD) !== 0;
      if (xd && !nxe) return false; // reserved
      const large = level === 1 && (lo & Pte.PS) !== 0;
      if (large && (lo & RSVD_PDE_2M_LO) !== 0) return false; // reserved
      rec.level[n] = level;
      rec.index[n] = index;
      rec.entryPa[n] = entryPa;
      rec.hi[n] = hi;
      rec.lo[n] = lo;
      acc &= ((lo >>> 1) & (Rights.W | Rights.U)) | (xd ? 0 : Rights.X);
      if (level === 0 || large) {
        const rights = X86_CANONICAL[acc];
        if (this.permTable[rights * 9 + mode * 3 + access] === 0) return false; // a permission fault
        const write = access === Access.Write;
        const newLo = (lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
        // every effect of Mmu.walk and leafFound from here (the high half is unchanged: a 32-bit write)
        this.walks++;
        this.walkRefs += n + 1;
        if (newLo !== lo) {
          phys.write32(entryPa, newLo);
          this.adWrites++;
          if (memo.valid && memo.holds(Math.floor(entryPa / 4096))) memo.valid = false; // a table that maps itself
        }
        const addrLo = large ? (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0 : (lo & Pte.ADDR_LO_MASK) >>> 0;
        rec.count = n + 1;
        rec.pscLevel = -1;
        rec.pagePfn = (((hi & hiAddrMask) * 4294967296 + addrLo) / 4096) as Pfn;
        this.fastLeaf(rec, level, lo, rights, write);
        return true;
      }
      if ((lo & Pte.A) === 0) return false; // the generic walk sets it before reading on
      tableFrame = (hi & hiAddrMask) * 1048576 + (lo >>> 12);
      tableOff = 0;
      level = 0;
      if (this.inRun && rec === this.walkRec) memo.keep(span, tableFrame, acc, 1, rec.entryPa);
    }
  }

  /** The rest of leafFound's record for a fast walk's leaf at `level` (format.ts's leaf and memType). */
  private fastLeaf(rec: WalkRecord, level: number, lo: number, rights: number, write: boolean): void {
    const pat = level === 0 ? lo & Pte.PAT4K : lo & Pte.PAT_LARGE;
    rec.size = level;
    rec.meta =
      this.asid |
      (rights << Meta.RIGHTS_SHIFT) |
      // the D test first, then the access (as x86-64's walkFast: a first pass of stores leaves the
      // D test without type feedback after `write ||`, and the first load's walk deoptimizes)
      ((lo & Pte.D) !== 0 || write ? Meta.D : 0) |
      (this.format.pge && (lo & Pte.G) !== 0 ? Meta.G : 0) |
      (level << Meta.SRC_SIZE_SHIFT);
    rec.attrs =
      (lo & Pte.PWT ? X86Attr.PWT : 0) | (lo & Pte.PCD ? X86Attr.PCD : 0) | (pat !== 0 ? X86Attr.PAT : 0);
    rec.outcome = 0;
    rec.faultKind = HwFaultKind.None;
    rec.faultLevel = -1;
  }

  /** MOV to CR3 (no PCIDs: the table's address is the value); a PDPT the MOV refuses is a model bug. */
  override loadUserRoot(rootPfn: Pfn, _asid: number): void {
    assert(
      this.movToCr3(pfnToPa(rootPfn)) === Outcome.OK,
      "loadUserRoot: MOV to CR3 #GP (a reserved bit in a PDPTE)",
    );
  }

  /** INVLPG. */
  override flushPage(vaHi: number, vaLo: number): void {
    if (vaHi === 0) this.invlpg(vaLo);
  }

  /** The #PF error code of a fault (§4.7); I/D only with SMEP or PAE with NXE. */
  protected override walkFault(
    rec: WalkRecord,
    access: Access,
    mode: Mode,
    _attrs: number,
    _rights: number,
  ): number {
    let code = 0;
    if (access === Access.Write) code |= PfErr.WR;
    if (mode === Mode.User) code |= PfErr.US;
    if (access === Access.Exec && (this.cr4Smep || (this.pae && this.eferNxe))) code |= PfErr.ID;
    const kind = rec.faultKind;
    if (kind === HwFaultKind.Reserved) code |= PfErr.P | PfErr.RSVD;
    else if (kind !== HwFaultKind.Translation) code |= PfErr.P;
    rec.errorCode = code;
    rec.outcome = Outcome.PF;
    return Outcome.PF;
  }

  /**
   * Delivers #PF: CR2 and the error code, and drops the TLB and PDE-cache
   * entries for the address, as the processor does on a page fault
   * (§4.10.4.1), so a fault from a stale entry happens at most once. After a
   * miss in every array of the access's path (missedPath: walkFast's fault)
   * only the arrays that lookup did not probe, or that may hold fractured
   * pieces, are searched (Tlb.invalidatePageMissed): the same entries dropped.
   */
  protected override deliver(rec: WalkRecord, vaHi: number, vaLo: number, vpn: Vpn): number {
    const code = rec.errorCode;
    this.pageFaults++;
    if (code & PfErr.RSVD) this.faultsByKind.reserved++;
    else if (code & PfErr.P) this.faultsByKind.protection++;
    else this.faultsByKind.notPresent++;
    this.errorCode = code;
    this.cr2 = vaLo >>> 0;
    // no PCIDs: the lookup's ASID (this.asid) is 0, the invalidation's
    if (this.missedPath !== 0) this.tlb.invalidatePageMissed(vpn, 0, this.missedPath === 2);
    else this.tlb.invalidatePage(vpn, 0, InvalidateHow.PcidAndGlobal);
    pscInvalidatePath(this, vpn, 0); // the walk caches on the way to vpn (mmu/psc.ts)
    if (this.tracer !== null) this.emitFault(Outcome.PF, code, vaHi, vaLo);
    return Outcome.PF;
  }

  private emitFault(vector: number, errorCode: number, hi: number, lo: number): void {
    const va = `0x${(lo >>> 0).toString(16)}`;
    this.traceFault(
      vector,
      errorCode,
      hi,
      lo,
      vector === Outcome.PF
        ? pfTraceText(errorCode, va)
        : `#GP(0): 0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, "0")} is not a 32-bit address`,
    );
  }

  override readonly asidName = "PCID";
  override readonly attrCompareMask = X86Attr.PWT | X86Attr.PCD | X86Attr.PAT;

  override describeAttrs(attrs: number): string {
    const parts: string[] = [];
    if (attrs & X86Attr.PWT) parts.push("PWT");
    if (attrs & X86Attr.PCD) parts.push("PCD");
    if (attrs & X86Attr.PAT) parts.push("PAT");
    return parts.length ? parts.join(" ") : "write-back";
  }

  override invalidationHint(vpn: Vpn, _asid: number, global: boolean): string {
    const va = `0x${(vpn * 4096).toString(16)}`;
    return global
      ? `INVLPG ${va} (or a CR4.PGE toggle): the entry is global, so CR3 writes keep it`
      : `INVLPG ${va}, or a MOV to CR3`;
  }

  /** PAE: probes of another PDPT load its PDPTEs into the registers, saved and restored around. */
  protected override userRootPa(): number {
    return this.rootPa;
  }

  protected override setUserRootPa(pa: number): void {
    if (!this.pae) {
      this.rootPa = pa;
      return;
    }
    if (pa === this.savedPdptPa) {
      for (let i = 0; i < 4; i++) this.setPdpte(i, this.savedPdpte[2 * i], this.savedPdpte[2 * i + 1]);
      this.savedPdptPa = -1;
    } else if (pa !== this.rootPa) {
      if (this.savedPdptPa < 0) {
        for (let i = 0; i < 4; i++) {
          this.savedPdpte[2 * i] = this.pdpteHi[i];
          this.savedPdpte[2 * i + 1] = this.pdpteLo[i];
        }
        this.savedPdptPa = this.rootPa;
      }
      for (let i = 0; i < 4; i++)
        this.setPdpte(i, this.phys.read32(pa + 8 * i + 4), this.phys.read32(pa + 8 * i));
    }
    this.rootPa = pa;
  }

  // =====================================================================
  // Instructions that change paging state (§4.4.1, §4.10.4.1)
  // =====================================================================

  /**
   * MOV to CR3. 32-bit paging: bits 31..12 are the PD (PWT, PCD in bits 3,
   * 4). PAE: bits 31..5 are the 32-byte aligned PDPT, whose four entries
   * are loaded into the PDPTE registers now; a present PDPTE with a
   * reserved bit set (bits 2..1, 8..5, 63..M) makes the instruction #GP(0)
   * with CR3 and the registers unchanged (§4.4.1). Otherwise the TLB entries
   * and PDE-cache entries are dropped, global ones kept.
   */
  movToCr3(value: number): number {
    const v = value >>> 0;
    if (this.pae) {
      const pdpt = (v & 0xffffffe0) >>> 0;
      const bad = ~paeHiAddrMask(this.maxPhyAddr) >>> 0; // bits 63..M of the high half
      for (let i = 0; i < 4; i++) {
        const lo = this.phys.read32(pdpt + 8 * i);
        const hi = this.phys.read32(pdpt + 8 * i + 4);
        if ((lo & Pte.P) !== 0 && ((lo & RSVD_PDPTE_LO) !== 0 || (hi & bad) !== 0)) {
          this.cr3Faults++;
          return Outcome.GP;
        }
      }
      for (let i = 0; i < 4; i++)
        this.setPdpte(i, this.phys.read32(pdpt + 8 * i + 4), this.phys.read32(pdpt + 8 * i));
      this.rootPa = pdpt;
      this.savedPdptPa = -1;
    } else {
      this.rootPa = (v & 0xfffff000) >>> 0;
    }
    this.cr3 = v;
    this.rootWrites++;
    this.flushMatching(0, InvalidateHow.PcidNonGlobal, "mov-cr3");
    return Outcome.OK;
  }

  /** Loads one PDPTE register (its PD address below MAXPHYADDR, or -1 when not present). */
  private setPdpte(i: number, hi: number, lo: number): void {
    this.pdpteHi[i] = hi;
    this.pdpteLo[i] = lo;
    this.pdPa[i] =
      (lo & Pte.P) === 0
        ? -1
        : (hi & paeHiAddrMask(this.maxPhyAddr)) * 4294967296 + ((lo & Pte.ADDR_LO_MASK) >>> 0);
  }

  /**
   * Writes CR4's paging bits with the invalidations §4.10.4.1 requires: all
   * entries, global ones too, when PGE changes; the current ones when SMEP
   * goes 0 -> 1. (A change of PSE needs none: software flushes.)
   */
  movToCr4(bits: { pse?: boolean; pge?: boolean; smep?: boolean; smap?: boolean }): number {
    const pge = bits.pge ?? this.cr4Pge;
    const smep = bits.smep ?? this.cr4Smep;
    const flushEverything = pge !== this.cr4Pge;
    const flushCurrent = smep && !this.cr4Smep;
    this.cr4Pse = bits.pse ?? this.cr4Pse;
    this.cr4Pge = pge;
    this.cr4Smep = smep;
    this.cr4Smap = bits.smap ?? this.cr4Smap;
    if (flushEverything) this.flushMatching(0, InvalidateHow.Everything, "mov-cr4");
    else if (flushCurrent) this.flushMatching(0, InvalidateHow.PcidNonGlobal, "mov-cr4");
    this.updatePerms();
    return Outcome.OK;
  }

  /**
   * INVLPG: drops the TLB entries for the page holding the 32-bit address,
   * global ones too, and every PDE-cache entry (§4.10.4.1). The PDPTE
   * registers are not touched (only MOV to CR3 reloads them).
   */
  invlpg(va: number): void {
    this.pageInvalidations++;
    const vpn = (va >>> 12) as Vpn;
    const n = this.invalidatePageEntries(vpn, 0, InvalidateHow.PcidAndGlobal, InvalidateHow.PcidNonGlobal);
    if (this.tracer !== null)
      this.tracer({
        type: "invalidate",
        cpu: this.id,
        op: "invlpg",
        asid: 0,
        asidName: this.asidName,
        vpn,
        entries: n,
      });
  }
}
