/**
 * One ARM64 processing element, EL1&0 regime, stage 1 only: the registers
 * and instructions of virtual memory over the generic MMU (hw/mmu/Mmu.ts).
 *
 * Spec: Arm ARM DDI 0487 chapter D8 (VMSAv8-64): D8.1 address ranges and
 * TTBR selection (AArch64.S1Translate, AArch64.GetVARange, AddrTop for
 * TBI), D8.2 the walk (AArch64.S1Walk, AArch64.S1StartLevel,
 * AArch64.TTBaseAddress), D8.4 permissions (AArch64.CheckPermission, in
 * rights.ts), D8.5 Access flag and dirty state (AArch64.S1CheckAndUpdate),
 * D8.16 TLB maintenance (TLBI VAE1, VALE1, ASIDE1, VAAE1, VAALE1, VMALLE1
 * and their Inner Shareable forms); registers D17.2: TTBR0_EL1,
 * TTBR1_EL1, TCR_EL1, SCTLR_EL1, ESR_EL1, FAR_EL1; PSTATE.EL, PSTATE.PAN.
 *
 * The page number of an address (what the TLB is tagged with) is VA[47:12]
 * plus 2^36 for TTBR1's range (VA bit 55 = 1): both ranges fit in one
 * number space, and `vpn * 4096` sign-extended from bit 48 is the address.
 *
 * `translate` returns 0 (OK, the address in `pa`) or the abort's exception
 * class (Ec: 0x24/0x25 data, 0x20/0x21 instruction) with ESR_EL1 in `esr`
 * and FAR_EL1 in `farHi/farLo`. No allocation, no bigint, no exception per
 * access. Unlike x86, an abort does not drop TLB entries: a stale entry
 * faults again until software issues a TLBI.
 */
import { InputError } from "../../../base/errors.ts";
import { type Pfn, pfnToPa, type Vpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { Mmu, type WalkRecord } from "../../mmu/Mmu.ts";
import { HwFaultKind, type WalkState } from "../../mmu/PagingFormat.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { InvalidateHow, Meta } from "../../mmu/TlbArray.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { describeEsr, Ec, esrOf } from "./fault.ts";
import {
  Arm64Format,
  ArmAttr,
  CONT_PAGES,
  Desc,
  DescHi,
  IPS_BITS,
  leafRights,
  writableClean,
} from "./format.ts";
import { computeArmPermTable } from "./rights.ts";
import { Arm64RunFold } from "./runFold.ts";

export { type HwEvent, type TlbObserver, WalkRecord } from "../../mmu/Mmu.ts";

const TWO32 = 4294967296;
/** the TLB size code of a contiguous 64K block: after the four levels (Geometry.contSize) */
const CONT_SIZE = 4;
/** the page-number bit of TTBR1's range (VA bit 55) */
export const TTBR1_VPN = 2 ** 36;

/** Configuration of one ARM64 CPU. */
export interface Arm64CpuConfig {
  /** physical address range in bits (ID_AA64MMFR0_EL1.PARange): 32, 36, 40, 42, 44 or 48 (default 48) */
  paBits?: number;
  /** TLB preset name, spec string or spec (default `skylake`: the same geometry for comparisons) */
  tlb?: TlbSpec | string;
  /** walk caches of L0, L1 and L2 table descriptors; default off */
  psc?: boolean;
}

/** TCR_EL1's fields vmlab models (D17.2.131). TG0/TG1: 4 KiB. */
export interface TcrEl1 {
  /** size offset of TTBR0's range: VAs of 64 - T0SZ bits, 16..39 */
  t0sz: number;
  t1sz: number;
  /** no walk on a TLB miss in TTBR0's / TTBR1's range: a Translation fault at level 0 */
  epd0: boolean;
  epd1: boolean;
  /** hardware Access flag update */
  ha: boolean;
  /** hardware dirty state management through DBM (only with HA) */
  hd: boolean;
  /** intermediate physical address size: 0..5 = 32, 36, 40, 42, 44, 48 bits */
  ips: number;
  /** top byte ignored for data accesses (instruction fetches behave as TBIDx = 1) */
  tbi0: boolean;
  tbi1: boolean;
  /** 16-bit ASIDs (else 8-bit: the ASID field's bits 63:56 are ignored) */
  as: boolean;
  /** the ASID is TTBR1_EL1's (else TTBR0_EL1's); Linux sets A1 */
  a1: boolean;
}

/** The operations of TLBI (EL1&0 regime, stage 1). */
export type TlbiOp = "vae1" | "vale1" | "aside1" | "vaae1" | "vaale1" | "vmalle1";
export const TLBI_OPS: readonly TlbiOp[] = ["vae1", "vale1", "aside1", "vaae1", "vaale1", "vmalle1"];
/** The range operations of FEAT_TLBIRANGE (RVAE1, RVALE1, RVAAE1, RVAALE1). */
export type TlbiRangeOp = "rvae1" | "rvale1" | "rvaae1" | "rvaale1";

export class Arm64Cpu extends Mmu {
  // ---- architectural registers ----
  /** PSTATE.EL: 0 or 1 */
  el = 1;
  /** PSTATE.PAN (set with setPan) */
  pan = false;
  /** SCTLR_EL1.WXN (set with setWxn) */
  wxn = false;
  /** SCTLR_EL1.EPAN (set with setEpan) */
  epan = false;
  ttbr0Hi = 0;
  ttbr0Lo = 0;
  ttbr1Hi = 0;
  ttbr1Lo = 0;
  /** TCR_EL1 (change it with setTcr) */
  readonly tcr: TcrEl1 = {
    t0sz: 16,
    t1sz: 16,
    epd0: false,
    epd1: false,
    ha: false,
    hd: false,
    ips: 5,
    tbi0: false,
    tbi1: false,
    as: true,
    a1: false,
  };
  /** ESR_EL1 and FAR_EL1 of the last abort */
  esr = 0;
  farHi = 0;
  farLo = 0;
  readonly paBits: number;
  declare readonly format: Arm64Format;

  /** the CPUs an Inner Shareable TLBI reaches (the machine's; this CPU alone until a machine sets it) */
  shareDomain: readonly Arm64Cpu[] = [this];

  // ---- counters ----
  readonly faultsByKind = { translation: 0, accessFlag: 0, permission: 0, addressSize: 0 };
  /** TLBI instructions executed here (local and Inner Shareable) */
  tlbis = 0;
  /** Inner Shareable TLBIs issued here: broadcast by hardware, no interrupt */
  broadcasts = 0;
  /** Inner Shareable TLBIs other CPUs issued that reached this one */
  broadcastsReceived = 0;

  // ---- derived from TTBRn_EL1 and TCR_EL1, by range (0: TTBR0, 1: TTBR1) ----
  private readonly vaBits = new Int32Array(2);
  /** the generic level of the first table, its index mask, its address */
  private readonly startLevel = new Int32Array(2);
  private readonly topMask = new Int32Array(2);
  private readonly tableBase = new Float64Array(2);
  /** the range refuses walks (EPDn) / its base is beyond the output size (an Address size fault at level 0) */
  private readonly disabled = new Uint8Array(2);
  private readonly baseTooBig = new Uint8Array(2);
  private readonly tbi = new Uint8Array(2);

  constructor(id: number, phys: PhysMem, config: Arm64CpuConfig = {}) {
    const pa = config.paBits ?? 48;
    if (!(IPS_BITS as readonly number[]).includes(pa))
      throw new InputError(`the ARM64 physical address range must be ${IPS_BITS.join(", ")} bits, not ${pa}`);
    super(id, phys, new Arm64Format(), {
      tlb: config.tlb ?? "skylake",
      psc: config.psc ? [null, [32, 4], [4, 4], [2, 2]] : undefined,
    });
    this.paBits = pa;
    this.derive();
    this.updatePerms();
    this.enableFastMiss();
    this.runFold = new Arm64RunFold(this, this.memo, this.format, this.permTable, (vpn, access, mode) =>
      this.walkFast(vpn, access, mode, this.walkRec),
    );
  }

  // =====================================================================
  // Registers
  // =====================================================================

  /** MSR TTBR0_EL1: BADDR in bits 47:1 (CnP bit 0), ASID in 63:48. No TLB maintenance (as hardware). */
  setTtbr0(hi: number, lo: number): void {
    this.ttbr0Hi = hi >>> 0;
    this.ttbr0Lo = lo >>> 0;
    this.rootWrites++;
    this.derive();
  }

  /** MSR TTBR1_EL1: BADDR, and the ASID in 63:48 (the current ASID when TCR_EL1.A1 is set). */
  setTtbr1(hi: number, lo: number): void {
    this.ttbr1Hi = hi >>> 0;
    this.ttbr1Lo = lo >>> 0;
    this.rootWrites++;
    this.derive();
  }

  /** TTBR0_EL1 = a table's physical address and an ASID (the halves split, so a table above 4 GiB keeps its bits). */
  loadTtbr0(tablePa: number, asid: number): void {
    const hi = Math.floor(tablePa / TWO32);
    this.setTtbr0(((asid & 0xffff) * 65536 + (hi & 0xffff)) >>> 0, tablePa % TWO32);
  }

  /** TTBR1_EL1 = a table's physical address and an ASID. */
  loadTtbr1(tablePa: number, asid = 0): void {
    this.setTtbr1(((asid & 0xffff) * 65536 + (Math.floor(tablePa / TWO32) & 0xffff)) >>> 0, tablePa % TWO32);
  }

  /** MSR TCR_EL1 (the fields given). T0SZ/T1SZ must be 16..39 and IPS 0..5. No TLB maintenance. */
  setTcr(fields: Partial<TcrEl1>): void {
    const next = { ...this.tcr, ...fields };
    for (const k of ["t0sz", "t1sz"] as const)
      if (!Number.isInteger(next[k]) || next[k] < 16 || next[k] > 39)
        throw new InputError(`TCR_EL1.${k.toUpperCase()} must be 16..39, not ${next[k]}`);
    if (!Number.isInteger(next.ips) || next.ips < 0 || next.ips > 5)
      throw new InputError(`TCR_EL1.IPS must be 0..5, not ${next.ips}`);
    Object.assign(this.tcr, next);
    this.derive();
  }

  /** MSR PAN, #imm (PSTATE.PAN). */
  setPan(pan: boolean): void {
    this.pan = pan;
    this.updatePerms();
    if (this.tracer !== null)
      this.tracer({
        type: "state",
        cpu: this.id,
        text: `MSR PAN, #${pan ? 1 : 0}: PSTATE.PAN <- ${pan ? 1 : 0}`,
      });
  }

  /** SCTLR_EL1.WXN. */
  setWxn(wxn: boolean): void {
    this.wxn = wxn;
    this.updatePerms();
  }

  /** SCTLR_EL1.EPAN (FEAT_PAN3): PAN also covers EL0-executable pages (cpufeature.c cpu_enable_epan). */
  setEpan(epan: boolean): void {
    this.epan = epan;
    this.updatePerms();
  }

  /** The ASID in use (TTBR0_EL1[63:48], 8 bits unless TCR_EL1.AS). */
  get currentAsid(): number {
    return this.asid;
  }

  /** The VA size of TTBR0's (0) or TTBR1's (1) range, in bits. */
  vaSize(range: 0 | 1): number {
    return this.vaBits[range];
  }

  /** The output address size: TCR_EL1.IPS capped by the PA range (AArch64.PAMax). */
  get outputBits(): number {
    return Math.min(IPS_BITS[this.tcr.ips], this.paBits);
  }

  private updatePerms(): void {
    computeArmPermTable({ pan: this.pan, wxn: this.wxn, epan: this.epan }, this.permTable);
  }

  /** Recomputes what TTBRn_EL1 and TCR_EL1 say (AArch64.S1StartLevel, AArch64.TTBaseAddress). */
  private derive(): void {
    const t = this.tcr;
    const oa = this.outputBits;
    this.format.setOutputBits(oa);
    this.format.ha = t.ha;
    this.format.hd = t.ha && t.hd;
    this.asid = ((t.a1 ? this.ttbr1Hi : this.ttbr0Hi) >>> 16) & (t.as ? 0xffff : 0xff);
    for (let r = 0; r < 2; r++) {
      const bits = 64 - (r === 0 ? t.t0sz : t.t1sz);
      this.vaBits[r] = bits;
      // 9 bits a level above the 12-bit offset: L0 above 39 bits, L1 above 30, else L2
      const start = bits > 39 ? 3 : bits > 30 ? 2 : 1;
      this.startLevel[r] = start;
      const entries = 2 ** (bits - 12 - 9 * start);
      this.topMask[r] = entries - 1;
      const hi = r === 0 ? this.ttbr0Hi : this.ttbr1Hi;
      const lo = r === 0 ? this.ttbr0Lo : this.ttbr1Lo;
      const base = (hi & 0xffff) * TWO32 + (lo >>> 0);
      // the initial table is aligned to its own size (at least 8 bytes: CnP, bit 0, drops out)
      this.tableBase[r] = base - (base % (entries * 8));
      this.baseTooBig[r] = oa < 48 && (hi & 0xffff) >>> (oa - 32) !== 0 ? 1 : 0;
      this.disabled[r] = (r === 0 ? t.epd0 : t.epd1) ? 1 : 0;
      this.tbi[r] = (r === 0 ? t.tbi0 : t.tbi1) ? 1 : 0;
    }
    this.rootPa = this.tableBase[0];
  }

  // =====================================================================
  // The MMU hooks (see hw/mmu/Mmu.ts)
  // =====================================================================

  /**
   * AArch64.S1Translate's range check: bit 55 picks TTBR0 or TTBR1; the bits
   * from the top (63, or 55 with TBI for a data access) down to the range's
   * size must all equal it. -1 for any other address (a Translation fault at
   * level 0).
   */
  protected override vpnOf(vaHi: number, vaLo: number, access: Access): Vpn | -1 {
    const r = (vaHi >>> 23) & 1;
    const ext = -r;
    const h = this.tbi[r] !== 0 && access !== Access.Exec ? (vaHi << 8) >> 8 : vaHi | 0;
    const bits = this.vaBits[r];
    if (bits >= 32) {
      if (h >> (bits - 32) !== ext) return -1;
    } else if (h !== ext || (vaLo | 0) >> bits !== ext) return -1;
    return (r * TTBR1_VPN + (vaHi & 0xffff) * 1048576 + (vaLo >>> 12)) as Vpn;
  }

  /** A Translation fault at level 0 for an address outside both ranges. */
  protected override badAddress(vaHi: number, vaLo: number, access: Access): number {
    const rec = this.walkRec;
    rec.count = 0;
    rec.faultKind = HwFaultKind.Translation;
    rec.faultLevel = 3;
    this.walkFault(rec, access, this.currentMode(), 0, 0);
    this.faultKind = rec.faultKind;
    this.faultLevel = rec.faultLevel;
    return this.deliver(rec, vaHi, vaLo, 0 as Vpn);
  }

  protected override probeBadAddress(): number {
    return Ec.DABT_CUR;
  }

  /**
   * AT S1E1R: the stage 1 EL1&0 translation of a read at EL1 into PAR_EL1, changing nothing else;
   * PSTATE.PAN is not taken into account (only FEAT_PAN2's AT S1E1RP and S1E1WP apply it). Returns
   * 0 (PAR_EL1.F = 0) or the fault's outcome, its kind and level in `rec` (PAR_EL1.FST).
   * Arm ARM C5.5 AT S1E1R, AArch64.AT(); not on the per-access path.
   */
  atS1e1r(vaHi: number, vaLo: number, rec: WalkRecord): number {
    if (!this.pan) return this.probe(vaHi, vaLo, Access.Read, Mode.Supervisor, rec);
    this.pan = false;
    this.updatePerms();
    try {
      return this.probe(vaHi, vaLo, Access.Read, Mode.Supervisor, rec);
    } finally {
      this.pan = true;
      this.updatePerms();
    }
  }

  /** A probe reports an address outside both ranges as the Translation fault at level 0 it is. */
  override probe(vaHi: number, vaLo: number, access: Access, mode: Mode, rec: WalkRecord): number {
    const out = super.probe(vaHi, vaLo, access, mode, rec);
    if (rec.faultKind !== HwFaultKind.NonCanonical) return out;
    rec.faultKind = HwFaultKind.Translation;
    rec.faultLevel = 3;
    return this.walkFault(rec, access, mode, 0, 0);
  }

  /** The walk starts at TTBR0's or TTBR1's table, at the level the range's size gives. */
  protected override startWalk(w: WalkState): boolean {
    const r = w.vpn >= TTBR1_VPN ? 1 : 0;
    w.level = 3; // a refused walk is reported at level 0
    if (this.disabled[r] !== 0) {
      w.fault = HwFaultKind.Translation;
      return false;
    }
    if (this.baseTooBig[r] !== 0) {
      w.fault = HwFaultKind.AddressSize;
      return false;
    }
    w.level = this.startLevel[r];
    w.tablePa = this.tableBase[r];
    w.topMask = this.topMask[r];
    w.acc = 0;
    return true;
  }

  /**
   * The TLB-miss walk of the common case, with Arm64Format.decode written out
   * (D8.2, AArch64.S1Walk; D8.3 descriptors): the range's table from
   * TTBR0/TTBR1 (walks allowed, base inside the output size), every level a
   * valid table descriptor (APTable/UXNTable/PXNTable gathered as
   * S1DirectBasePermissions does), then a page or a 2M/1G block with no
   * output-address bit above the output size, AF set or TCR_EL1.HA, that the
   * access is allowed through. It reads the entries Mmu.walk reads and has
   * its effects (walks and walkRefs counted, the hardware AF/DBM update of
   * the leaf, `rec`), or gives up having changed nothing (Mmu.walk then runs
   * and raises the fault). Table descriptors have no AF: a walk writes only
   * the leaf. An invalid descriptor (a table never written reads as zeros),
   * or a reserved one, ends it as it ends Mmu.walk: the Translation fault of
   * that level in `rec` (translationFault), for Mmu.missAndFill to raise;
   * Access flag, Address size and Permission faults are left to Mmu.walk.
   */
  protected override walkFast(vpn: number, access: Access, mode: Mode, rec: WalkRecord): boolean {
    const r = vpn >= TTBR1_VPN ? 1 : 0;
    if (this.disabled[r] !== 0 || this.baseTooBig[r] !== 0) return false; // startWalk refuses: a fault
    const phys = this.phys;
    const nrFrames = phys.nrFrames;
    const fmt = this.format;
    const oaHiMask = fmt.oaHiMask;
    const vpnLo = vpn >>> 0;
    const vpnHi = ((vpn - vpnLo) / TWO32) | 0;
    const base = this.tableBase[r];
    let tableFrame = Math.floor(base / 4096);
    let tableOff = base - tableFrame * 4096; // a start table smaller than a page
    let level = this.startLevel[r];
    let mask = this.topMask[r];
    let acc = 0;
    let n = 0;
    const memo = this.memo;
    const span = Math.floor(vpn / 512); // the vpn's leaf table
    if (memo.valid && memo.key === span && rec === this.walkRec) {
      // a run's next page under the same leaf table: the descriptors above it as the last walk read
      // them (still in rec, and in memory: WalkMemo), counted below with the leaf's
      tableFrame = memo.table;
      tableOff = 0;
      acc = memo.acc;
      level = 0;
      mask = 511;
      n = memo.count;
    }
    const recLevel = rec.level;
    const recIndex = rec.index;
    const recEntryPa = rec.entryPa;
    const recHi = rec.hi;
    const recLo = rec.lo;
    for (;;) {
      // the index: vpn bits 9*level+8 .. 9*level (TTBR1's bit 36 is above every index)
      const index = (level < 3 ? vpnLo >>> (9 * level) : (vpnLo >>> 27) | (vpnHi << 5)) & mask;
      if (tableFrame >= nrFrames) return false; // outside RAM: the generic walk's stray read
      const words = phys.frameWords(tableFrame as Pfn); // inline cast: the hot loop (units.ts)
      const offset = tableOff + index * 8;
      const entryPa = tableFrame * 4096 + offset;
      // an invalid descriptor (a frame never written reads as zeros), or a reserved one (01 at level
      // 3, a block at L0, below): the Translation fault of the lookup level (D8.2, AArch64.S1Walk;
      // ESR_EL1 DFSC/IFSC 0b0001LL, D17.2.37); an abort drops no TLB entry
      if (words === null) return this.fastTranslationFault(rec, n, level, index, entryPa, 0, 0, access, mode);
      const lo = words[offset >>> 2];
      const hi = words[(offset >>> 2) + 1];
      if ((lo & Desc.VALID) === 0)
        return this.fastTranslationFault(rec, n, level, index, entryPa, hi, lo, access, mode);
      if ((hi & oaHiMask) !== 0) return false; // an Address size fault (a table's or a leaf's output address)
      recLevel[n] = level;
      recIndex[n] = index;
      recEntryPa[n] = entryPa;
      recHi[n] = hi;
      recLo[n] = lo;
      n++;
      if ((lo & Desc.TABLE_OR_PAGE) !== 0 && level !== 0) {
        acc |= (hi >>> DescHi.TABLE_CTRL_SHIFT) & 15;
        tableFrame = (hi & DescHi.ADDR_HI_MASK) * 1048576 + (lo >>> 12);
        tableOff = 0;
        level--;
        mask = 511;
        if (level === 0 && this.inRun && rec === this.walkRec)
          memo.keep(span, tableFrame, acc, n, recEntryPa);
        continue;
      }
      // 01 at L3 is reserved, and there is no block at L0: Translation faults
      if (level === 0 ? (lo & Desc.TABLE_OR_PAGE) === 0 : level === 3)
        return this.fastTranslationFault(rec, n - 1, level, index, entryPa, hi, lo, access, mode);
      const ha = fmt.ha;
      if ((lo & Desc.AF) === 0 && !ha) return false; // an Access flag fault
      const ap2 = (lo & Desc.AP2) !== 0; // with HA and HD and DBM = 1, the dirty state
      const rights = leafRights(lo, hi, fmt.hd, acc);
      if (this.permTable[rights * 9 + mode * 3 + access] === 0) return false; // a Permission fault
      // RunFold.walkNext's probe (WalkMemo.probing) takes a 4K page in RAM only (not a block, not a
      // contiguous page); the tests first, so that a pass of probes runs no code left without feedback
      const notRam4K =
        level !== 0 ||
        (hi & DescHi.CONT) !== 0 ||
        (hi & DescHi.ADDR_HI_MASK) * 1048576 + (lo >>> 12) >= nrFrames;
      if (notRam4K && memo.probing) return false;
      const dirtying = access === Access.Write && writableClean(lo, hi, fmt.hd);
      const newLo = ((lo | (ha ? Desc.AF : 0)) & ~(dirtying ? Desc.AP2 : 0)) >>> 0;
      // every effect of Mmu.walk and leafFound from here
      this.walks++;
      this.walkRefs += n;
      if (newLo !== lo) {
        phys.write32(entryPa, newLo);
        this.adWrites++;
        if (memo.valid && memo.holds(Math.floor(entryPa / 4096))) memo.valid = false; // a table that maps itself
      }
      const pages = (hi & DescHi.ADDR_HI_MASK) * 1048576 + (lo >>> 12);
      rec.count = n;
      rec.pscLevel = -1;
      // a block's address bits below its size are RES0: ignored; a contiguous page (D8.6.1) is its
      // 64K block's translation (size code 4, Geometry.contSize), from the block's first frame
      const cont = level === 0 && (hi & DescHi.CONT) !== 0;
      // its 64K fill covers the run's next pages: the fold's marks of TLB-covered pages go with the memo
      if (cont) memo.valid = false;
      const size = cont ? CONT_SIZE : level;
      rec.pagePfn = (
        level === 0
          ? cont
            ? pages - (pages % CONT_PAGES)
            : pages
          : pages - (pages % (level === 1 ? 512 : 262144))
      ) as Pfn;
      rec.size = size;
      rec.meta =
        this.asid |
        (rights << Meta.RIGHTS_SHIFT) |
        (!ap2 || dirtying ? Meta.D : 0) |
        ((lo & Desc.NG) === 0 ? Meta.G : 0) |
        (size << Meta.SRC_SIZE_SHIFT);
      rec.attrs =
        ((lo & Desc.ATTR_INDX_MASK) >>> Desc.ATTR_INDX_SHIFT) |
        (((lo & Desc.SH_MASK) >>> Desc.SH_SHIFT) << ArmAttr.SH_SHIFT) |
        ((3 - level) << ArmAttr.LEVEL_SHIFT);
      rec.outcome = 0;
      rec.faultKind = HwFaultKind.None;
      rec.faultLevel = -1;
      return true;
    }
  }

  /** TTBR0_EL1's table (the user half). */
  protected override userRootPa(): number {
    return this.tableBase[0];
  }

  protected override setUserRootPa(pa: number): void {
    this.tableBase[0] = pa;
    this.rootPa = pa;
  }

  /** TTBR1_EL1's table (the kernel half). */
  protected override kernelRootPa(): number {
    return this.tableBase[1];
  }

  protected override setKernelRootPa(pa: number): void {
    this.tableBase[1] = pa;
  }

  override currentMode(): Mode {
    return this.el === 0 ? Mode.User : Mode.Supervisor;
  }

  /** EL0 or EL1. */
  override setUserMode(user: boolean): void {
    this.el = user ? 0 : 1;
  }

  /**
   * TTBR0_EL1 = the table and the ASID where TCR_EL1.A1 wants it (TTBR1's
   * field under A1), then TLBI ASIDE1 of that ASID (the contract: the ASID's
   * old entries go).
   */
  override loadUserRoot(rootPfn: Pfn, asid: number): void {
    this.switchTtbr0(pfnToPa(rootPfn), asid);
    this.tlbi("aside1", 0, 0, this.asid);
  }

  /**
   * The user table and the ASID as cpu_do_switch_mm writes them: under
   * TCR_EL1.A1 the ASID into TTBR1_EL1's field (TTBR1's table unchanged),
   * then TTBR0_EL1 = the table; without A1 both into TTBR0_EL1.
   */
  switchTtbr0(tablePa: number, asid: number): void {
    if (!this.tcr.a1) {
      this.loadTtbr0(tablePa, asid);
      return;
    }
    this.setTtbr1((((asid & 0xffff) << 16) | (this.ttbr1Hi & 0xffff)) >>> 0, this.ttbr1Lo);
    this.loadTtbr0(tablePa, 0);
  }

  /** TLBI VAE1 of the address in the current ASID (global entries of the page too). */
  override flushPage(vaHi: number, vaLo: number): void {
    this.tlbi("vae1", vaHi, vaLo, this.asid);
  }

  /** ESR_EL1 of a fault: its kind and Arm level, the access, the EL now (an LDTR at EL1 is from EL1). */
  protected override walkFault(
    rec: WalkRecord,
    access: Access,
    _mode: Mode,
    attrs: number,
    _rights: number,
  ): number {
    // a fault from a TLB entry (level -1) reports the level of the entry's leaf
    const armLevel =
      rec.faultLevel >= 0 ? 3 - rec.faultLevel : (attrs & ArmAttr.LEVEL_MASK) >>> ArmAttr.LEVEL_SHIFT;
    rec.errorCode = esrOf(rec.faultKind, armLevel, access, this.el);
    rec.outcome =
      access === Access.Exec
        ? this.el === 0
          ? Ec.IABT_LOW
          : Ec.IABT_CUR
        : this.el === 0
          ? Ec.DABT_LOW
          : Ec.DABT_CUR;
    return rec.outcome;
  }

  /** Takes the abort: ESR_EL1, FAR_EL1, counters. TLB entries stay (an abort invalidates nothing). */
  /**
   * RunFoldHost.faultsMissed (src/hw/mmu/runFold.ts RunFold.faultRun): `count` walks of pages vpn,
   * vpn + step, ... from the memo to their level-3 descriptors, invalid (bit 0 clear: none or a
   * swap entry; a translation fault of level 3: D8.2, AArch64.S1Walk), each after a lookup that
   * missed everywhere, and each access's data abort (`access`: a load's or a store's, ESR.WnR) as
   * missAndFill and deliver make them one by one: every walk and walk reference
   * counted, the ESR the same for each, the last page's in FAR_EL1 and the walk record (its retry's
   * walk overwrites it). A data abort invalidates no TLB entry.
   */
  faultsMissed(
    _vpn: number,
    _step: number,
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
    // the last page's walk and syndrome (fastTranslationFault), and the walks before it; the entry's
    // halves in the record are its retry's (`leaves` overwrites the leaf's slot): 0 here
    this.fastTranslationFault(rec, n, 0, lastIndex, entryPa, 0, 0, access, mode);
    this.walks += count - 1;
    this.walkRefs += (count - 1) * (n + 1);
    this.faultKind = rec.faultKind;
    this.faultLevel = rec.faultLevel;
    this.pageFaults += count;
    this.faultsByKind.translation += count;
    this.esr = rec.errorCode;
    this.farHi = lastHi >>> 0;
    this.farLo = lastLo >>> 0;
  }

  protected override deliver(rec: WalkRecord, vaHi: number, vaLo: number, _vpn: Vpn): number {
    this.pageFaults++;
    const k = rec.faultKind;
    if (k === HwFaultKind.Permission) this.faultsByKind.permission++;
    else if (k === HwFaultKind.AccessFlag) this.faultsByKind.accessFlag++;
    else if (k === HwFaultKind.AddressSize) this.faultsByKind.addressSize++;
    else this.faultsByKind.translation++;
    this.esr = rec.errorCode;
    this.farHi = vaHi >>> 0;
    this.farLo = vaLo >>> 0;
    if (this.tracer !== null)
      this.traceFault(
        rec.outcome,
        rec.errorCode,
        this.farHi,
        this.farLo,
        `${rec.outcome === Ec.IABT_LOW || rec.outcome === Ec.IABT_CUR ? "instruction" : "data"} abort: ESR_EL1 0x${(rec.errorCode >>> 0).toString(16)} (${describeEsr(rec.errorCode)}) FAR_EL1 0x${this.farHi.toString(16)}${this.farLo.toString(16).padStart(8, "0")}`.replace(
          /FAR_EL1 0x0+(?=.)/,
          "FAR_EL1 0x",
        ),
      );
    return rec.outcome;
  }

  override readonly attrCompareMask = ArmAttr.COMPARE_MASK;

  override describeAttrs(attrs: number): string {
    return `AttrIndx ${attrs & ArmAttr.ATTR_INDX_MASK} SH ${(attrs & ArmAttr.SH_MASK) >>> ArmAttr.SH_SHIFT}`;
  }

  /** TTBR1's range sign-extended from bit 55 (vpnToVa). */
  override vaText(vpn: number): string {
    return `0x${vpnToVa(vpn).toString(16)}`;
  }

  override invalidationHint(vpn: Vpn, asid: number, global: boolean): string {
    const va = `0x${vpnToVa(vpn).toString(16)}`;
    return global
      ? `TLBI VAAE1IS or VAE1IS for ${va} (the entry is global: TLBI ASIDE1 keeps it), or TLBI VMALLE1IS`
      : `TLBI VAE1IS for ${va} in ASID ${asid}, TLBI ASIDE1IS ${asid}, or TLBI VMALLE1IS (the local forms on this CPU alone)`;
  }

  // =====================================================================
  // TLB maintenance (D8.16; D7.7 "TLB maintenance instructions")
  // =====================================================================

  /**
   * TLBI <op> on this CPU only (the non-shareable form). VA operations drop
   * the page of the address (any size that holds it): VAE1 and VALE1 the
   * entries of `asid` and global ones, VAAE1 and VAALE1 those of every
   * ASID; the "last level" forms (VALE1, VAALE1) keep walk-cache entries.
   * ASIDE1 drops `asid`'s non-global entries, VMALLE1 everything.
   */
  tlbi(op: TlbiOp, vaHi = 0, vaLo = 0, asid = 0): number {
    this.tlbis++;
    const a = asid & (this.tcr.as ? 0xffff : 0xff);
    if (op === "aside1") return this.flushMatching(a, InvalidateHow.PcidNonGlobal, "tlbi aside1");
    if (op === "vmalle1") return this.flushMatching(0, InvalidateHow.Everything, "tlbi vmalle1");
    this.pageInvalidations++;
    const vpn = tlbiVpn(vaHi, vaLo);
    const how = op === "vae1" || op === "vale1" ? InvalidateHow.PcidAndGlobal : InvalidateHow.Everything;
    const n =
      op === "vale1" || op === "vaale1"
        ? this.tlb.invalidatePage(vpn, a, how)
        : this.invalidatePageEntries(vpn, a, how, InvalidateHow.Everything);
    if (this.tracer !== null) this.traceTlbi(`tlbi ${op}`, a, vpn, n);
    return n;
  }

  /** The "invalidate" event of a TLBI by VA (or by range) on this CPU: `entries` dropped. */
  private traceTlbi(op: string, asid: number, vpn: Vpn, entries: number): void {
    this.tracer?.({ type: "invalidate", cpu: this.id, op, asid, asidName: this.asidName, vpn, entries });
  }

  /**
   * TLBI R<op> (FEAT_TLBIRANGE, D8.16 "TLB range maintenance instructions") on this CPU only: the
   * entries that translate any page of `pages` pages from the address, of any size (a block that
   * overlaps the range goes whole), matched as the VA operation without R matches them: RVAE1 and
   * RVALE1 the entries of `asid` and global ones, RVAAE1 and RVAALE1 every ASID's; the last-level
   * forms keep walk-cache entries. One instruction, counted once (`pages` is the range's
   * (NUM + 1) * 2^(5 * SCALE + 1) pages; the TTL hint only narrows what must go, so it is not taken).
   */
  tlbiRange(op: TlbiRangeOp, vaHi: number, vaLo: number, pages: number, asid = 0): number {
    this.tlbis++;
    this.pageInvalidations++;
    const a = asid & (this.tcr.as ? 0xffff : 0xff);
    const vpn = tlbiVpn(vaHi, vaLo);
    const how = op === "rvae1" || op === "rvale1" ? InvalidateHow.PcidAndGlobal : InvalidateHow.Everything;
    // the walk caches once for the whole range (the non-last-level forms), then the TLB page by page
    let n =
      op === "rvale1" || op === "rvaale1"
        ? 0
        : this.invalidatePageEntries(vpn, a, how, InvalidateHow.Everything);
    for (let i = op === "rvale1" || op === "rvaale1" ? 0 : 1; i < pages; i++)
      n += this.tlb.invalidatePage((vpn + i) as Vpn, a, how);
    if (this.tracer !== null) this.traceTlbi(`tlbi ${op} (${pages} pages)`, a, vpn, n);
    return n;
  }

  /** TLBI R<op>IS: tlbiRange on every CPU of the Inner Shareable domain (as tlbiIs). */
  tlbiRangeIs(op: TlbiRangeOp, vaHi: number, vaLo: number, pages: number, asid = 0): number {
    this.broadcasts++;
    if (this.tracer !== null) {
      const tag = op === "rvaae1" || op === "rvaale1" ? "" : ` ASID ${asid}`;
      this.tracer({
        type: "state",
        cpu: this.id,
        text: `TLBI ${op.toUpperCase()}IS${tag} vpn 0x${tlbiVpn(vaHi, vaLo).toString(16)} +${pages} pages: broadcast to ${this.shareDomain.length === 1 ? "the 1 CPU" : `the ${this.shareDomain.length} CPUs`} of the Inner Shareable domain`,
      });
    }
    let n = 0;
    for (const cpu of this.shareDomain) {
      if (cpu !== this) cpu.broadcastsReceived++;
      n += cpu.tlbiRange(op, vaHi, vaLo, pages, asid);
    }
    return n;
  }

  /**
   * TLBI <op>IS: the same operation on every CPU of the Inner Shareable
   * domain, done by hardware (no interrupt, no handler on the others);
   * complete once the issuing CPU's DSB ISH would return. Returns the TLB
   * entries dropped on all of them.
   */
  tlbiIs(op: TlbiOp, vaHi = 0, vaLo = 0, asid = 0): number {
    this.broadcasts++;
    if (this.tracer !== null) {
      const va = op === "aside1" || op === "vmalle1" ? "" : ` vpn 0x${tlbiVpn(vaHi, vaLo).toString(16)}`;
      const tag = op === "vaae1" || op === "vaale1" || op === "vmalle1" ? "" : ` ASID ${asid}`;
      this.tracer({
        type: "state",
        cpu: this.id,
        text: `TLBI ${op.toUpperCase()}IS${tag}${va}: broadcast to ${this.shareDomain.length === 1 ? "the 1 CPU" : `the ${this.shareDomain.length} CPUs`} of the Inner Shareable domain`,
      });
    }
    let n = 0;
    for (const cpu of this.shareDomain) {
      if (cpu !== this) cpu.broadcastsReceived++;
      n += cpu.tlbi(op, vaHi, vaLo, asid);
    }
    return n;
  }

  /**
   * TLBI with its register operand Xt as the instruction takes it: ASID in
   * bits 63:48, VA[55:12] in bits 43:0 (for the VA operations).
   */
  tlbiXt(op: TlbiOp, xtHi: number, xtLo: number, innerShareable = false): number {
    const asid = xtHi >>> 16;
    // VA[55] is Xt bit 43; VA[47:12] are Xt bits 35:0
    const va55 = (xtHi >>> 11) & 1;
    const vpn = va55 * TTBR1_VPN + (xtHi & 0xf) * TWO32 + (xtLo >>> 0);
    const vaHi = (va55 ? 0xffff0000 : 0) | (Math.floor(vpn / 1048576) % 65536);
    const vaLo = ((vpn % 1048576) * 4096) >>> 0;
    return innerShareable ? this.tlbiIs(op, vaHi >>> 0, vaLo, asid) : this.tlbi(op, vaHi >>> 0, vaLo, asid);
  }
}

/** The page number TLBI by VA uses: VA[47:12], and bit 55 for TTBR1's range (no range check). */
function tlbiVpn(vaHi: number, vaLo: number): Vpn {
  return (((vaHi >>> 23) & 1) * TTBR1_VPN + (vaHi & 0xffff) * 1048576 + (vaLo >>> 12)) as Vpn;
}

/** The virtual address of a page number (sign-extended from the range bit). */
export function vpnToVa(vpn: number): bigint {
  const ttbr1 = vpn >= TTBR1_VPN;
  const low = BigInt(vpn % TTBR1_VPN) << 12n;
  return ttbr1 ? 0xffff_0000_0000_0000n | low : low;
}
