/**
 * One RISC-V hart in U-mode or S-mode: the registers and instructions of
 * virtual memory over the generic MMU (hw/mmu/Mmu.ts).
 *
 * Spec: RISC-V Privileged Architecture, "Supervisor-Level ISA":
 * "Supervisor Address Translation and Protection (satp) Register" (MODE,
 * ASID, PPN; a write of an unsupported MODE has no effect), "Supervisor
 * Status Register (sstatus)" (SUM, MXR, in rights.ts), "Supervisor Cause
 * Register (scause)" and "Supervisor Trap Value (stval) Register" (in
 * fault.ts), "Supervisor Memory-Management Fence Instruction" (SFENCE.VMA),
 * and the Sv32/Sv39/Sv48/Sv57 sections (format.ts). M-mode, the hypervisor
 * extension (two-stage translation), PMP and the Svinval instructions are
 * not modelled.
 *
 * A hart that implements Sv57 also implements Sv48 and Sv39, and one with
 * Sv48 also Sv39 (the spec's rule): the format is the deepest one, and a
 * shallower MODE starts its walks at a lower level. The page number of an
 * address (what the TLB is tagged with) is VA[vaBits-1:12] of the current
 * MODE: an address is valid when bits 63..vaBits all equal bit vaBits-1,
 * else the access is a page fault ("must have bits 63–39 all equal to bit
 * 38, or else a page-fault exception will occur").
 *
 * An RV32 hart (`vaBits: 32`) implements Sv32 alone: satp is 32 bits
 * (MODE 31, ASID 30:22, PPN 21:0: "satp register when SXLEN=32"), a
 * virtual address is 32 bits (every one valid: nothing to sign-extend; an
 * address with a high word cannot be formed and is answered with the page
 * fault of an invalid address), ASIDs are 9 bits (ASIDMAX), and physical
 * addresses 34 bits. Its TLB holds 4 MiB megapages where an RV64 preset has
 * 2 MiB ones (i386's tlbFor32). Its misses take the generic walk only: the
 * walkFast and run-fold shortcuts read 8-byte PTEs.
 *
 * `translate` returns 0 (OK, the address in `pa`) or the scause of the
 * fault (12, 13, 15; 1, 5, 7) with stval in `stvalHi/stvalLo`. No
 * allocation, no bigint, no exception per access. A fault drops no TLB
 * entry: a stale entry is used until software issues SFENCE.VMA.
 */
import { InputError } from "../../../base/errors.ts";
import { type Pfn, type PhysAddr, pfnToPa, type Vpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { Mmu, type WalkRecord } from "../../mmu/Mmu.ts";
import { HwFaultKind, type WalkState } from "../../mmu/PagingFormat.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { InvalidateHow, Meta } from "../../mmu/TlbArray.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { tlbFor32 } from "../i386/Cpu.ts";
import { describeScause, Scause, scauseOf } from "./fault.ts";
import {
  levelsOfBits,
  PBMT_NAMES,
  Pte,
  PteHi,
  type RiscvExtensions,
  RiscvFormat,
  type RiscvVaBits,
  riscvRights,
  sv32ExtensionError,
} from "./format.ts";
import { computeRiscvPermTable } from "./rights.ts";
import { RiscvRunFold } from "./runFold.ts";

export { type HwEvent, type TlbObserver, WalkRecord } from "../../mmu/Mmu.ts";

const TWO32 = 4294967296;
/** base pages in a leaf of each level (512^level): a superpage's PPN is a multiple (step 6) */
const SUPERPAGE_PAGES = [1, 512, 262144, 2 ** 27, 2 ** 36];
/** walk-cache sizes by level (entries, ways): level n caches non-leaf PTEs of level n */
const PSC_SIZES: ([number, number] | null)[] = [null, [32, 4], [4, 4], [2, 2], [2, 2]];

/** satp.MODE values (RV64's 4-bit field; Sv32 is RV32's 1-bit MODE = 1). */
export const enum SatpMode {
  Bare = 0,
  Sv32 = 1,
  Sv39 = 8,
  Sv48 = 9,
  Sv57 = 10,
}

/** satp fields in its high word (RV64: MODE 63:60, ASID 59:44, PPN 43:0). */
export const enum Satp {
  MODE_SHIFT = 28,
  ASID_SHIFT = 12,
  ASID_MASK = 0xffff,
  /** PPN[43:32] */
  PPN_HI_MASK = 0xfff,
}

/** satp of an RV32 hart (SXLEN = 32), one word: MODE 31, ASID 30:22, PPN 21:0. */
export const enum Satp32 {
  MODE_SHIFT = 31,
  ASID_SHIFT = 22,
  ASID_MASK = 0x1ff,
  PPN_MASK = 0x3fffff,
}

/** VA bits of a translating RV64 MODE (Sv39 39, Sv48 48, Sv57 57), 0 for Bare or an unknown MODE. */
export function vaBitsOfMode(mode: number): 0 | 39 | 48 | 57 {
  return mode === SatpMode.Sv39 ? 39 : mode === SatpMode.Sv48 ? 48 : mode === SatpMode.Sv57 ? 57 : 0;
}

/** The privilege modes vmlab models. */
export const enum Priv {
  U = 0,
  S = 1,
}

/** Configuration of one hart. */
export interface RiscvCpuConfig extends Partial<RiscvExtensions> {
  /** the deepest format implemented: 39 (Sv39), 48 (Sv48, and Sv39) or 57 (all three); 32: an RV32 hart (Sv32); default 39 */
  vaBits?: RiscvVaBits;
  /** TLB preset name, spec string or spec (default `skylake`: the same geometry for comparisons) */
  tlb?: TlbSpec | string;
  /** walk caches of non-leaf PTEs; default off */
  psc?: boolean;
}

export class RiscvCpu extends Mmu {
  // ---- architectural registers ----
  /** the current privilege mode (U or S) */
  priv: Priv = Priv.S;
  /** sstatus.SUM and sstatus.MXR (set with setSum, setMxr) */
  sum = false;
  mxr = false;
  /** satp (write it with setSatp) */
  satpHi = 0;
  satpLo = 0;
  /** scause and stval of the last fault */
  scause = 0;
  stvalHi = 0;
  stvalLo = 0;
  declare readonly format: RiscvFormat;
  /** the deepest format the hart implements (32: an RV32 hart, Sv32 only) */
  readonly maxVaBits: RiscvVaBits;
  /** an RV32 hart: satp, addresses and ASIDs of SXLEN = 32 */
  readonly rv32: boolean;
  /** ASIDMAX bits: 16 (RV64), 9 (RV32) */
  readonly asidMask: number;

  // ---- counters ----
  readonly faultsByCause = { pageFault: 0, accessFault: 0 };
  /** SFENCE.VMA instructions executed here */
  sfences = 0;

  // ---- derived from satp ----
  /** satp.MODE is Bare: no translation, no protection */
  private bare = true;
  /** VA bits of the current MODE (of the deepest format under Bare, for SFENCE.VMA's address) */
  private vaBits: number;
  /** VA[63:32] >> signShift is 0 or -1 for a valid address */
  private signShift: number;
  /** VA bits 55..32 of the vpn (the high word's part below the sign bits) */
  private hiMask: number;
  private startLevel: number;

  constructor(id: number, phys: PhysMem, config: RiscvCpuConfig = {}) {
    const bits = config.vaBits ?? 39;
    if (bits !== 32 && bits !== 39 && bits !== 48 && bits !== 57)
      throw new InputError(`a RISC-V hart implements Sv32, Sv39, Sv48 or Sv57, not ${bits}-bit addresses`);
    const levels = levelsOfBits(bits);
    const rv32 = bits === 32;
    if (rv32) {
      const bad = sv32ExtensionError(config);
      if (bad !== null) throw new InputError(bad);
    }
    super(id, phys, new RiscvFormat(levels), {
      tlb: rv32 ? tlbFor32(config.tlb ?? "skylake", "4M") : (config.tlb ?? "skylake"),
      psc: config.psc ? PSC_SIZES.slice(0, levels) : undefined,
    });
    this.rv32 = rv32;
    this.asidMask = rv32 ? Satp32.ASID_MASK : Satp.ASID_MASK;
    this.maxVaBits = bits;
    this.vaBits = bits;
    this.signShift = bits - 33;
    this.hiMask = 2 ** (bits - 32) - 1;
    this.startLevel = levels - 1;
    this.format.ramFrames = phys.nrFrames;
    this.format.setExtensions({
      svadu: config.svadu ?? false,
      svnapot: config.svnapot ?? false,
      svpbmt: config.svpbmt ?? false,
    });
    this.updatePerms();
    if (rv32) return; // the generic walk only (walkFast and the run fold read 8-byte PTEs)
    this.enableFastMiss();
    this.runFold = new RiscvRunFold(this, this.memo, this.format, this.permTable, (vpn, access, mode) =>
      this.walkFast(vpn, access, mode, this.walkRec),
    );
  }

  // =====================================================================
  // Registers
  // =====================================================================

  /**
   * CSRW satp: MODE, ASID and PPN as RV64 lays them out. A MODE the hart
   * does not implement makes the whole write have no effect (satp is WARL):
   * returns false then. No TLB maintenance (as hardware: software issues
   * SFENCE.VMA when it must).
   */
  setSatp(hi: number, lo: number): boolean {
    if (this.rv32) return this.setSatp32(lo);
    const mode = hi >>> Satp.MODE_SHIFT;
    const bits = vaBitsOfMode(mode);
    if (mode !== SatpMode.Bare && (bits === 0 || bits > this.maxVaBits)) return false;
    this.satpHi = hi >>> 0;
    this.satpLo = lo >>> 0;
    this.rootWrites++;
    this.bare = mode === SatpMode.Bare;
    const v = this.bare ? this.maxVaBits : bits;
    this.vaBits = v;
    this.signShift = v - 33;
    this.hiMask = 2 ** (v - 32) - 1;
    this.startLevel = (v - 12) / 9 - 1;
    this.asid = (hi >>> Satp.ASID_SHIFT) & Satp.ASID_MASK;
    this.rootPa = ((hi & Satp.PPN_HI_MASK) * TWO32 + (lo >>> 0)) * 4096;
    return true;
  }

  /**
   * CSRW satp on an RV32 hart: MODE (bit 31: 0 Bare, 1 Sv32), ASID (30:22),
   * PPN (21:0, so a root anywhere in the 34-bit physical space). Both MODE
   * values are implemented: every write takes effect.
   */
  private setSatp32(value: number): boolean {
    const v = value >>> 0;
    this.satpHi = 0;
    this.satpLo = v;
    this.rootWrites++;
    this.bare = v >>> Satp32.MODE_SHIFT === 0;
    this.vaBits = 32;
    this.startLevel = 1;
    this.asid = (v >>> Satp32.ASID_SHIFT) & Satp32.ASID_MASK;
    this.rootPa = (v & Satp32.PPN_MASK) * 4096;
    return true;
  }

  /** satp = MODE, ASID, the root table's physical address (4 KiB aligned). */
  loadSatp(mode: SatpMode, asid: number, rootPa: number): boolean {
    const ppn = Math.floor(rootPa / 4096);
    if (this.rv32) {
      if (mode !== SatpMode.Bare && mode !== SatpMode.Sv32) return false;
      if (ppn > Satp32.PPN_MASK) return false; // no such root: PPN has 22 bits
      return this.setSatp32(
        ((mode << Satp32.MODE_SHIFT) | ((asid & Satp32.ASID_MASK) << Satp32.ASID_SHIFT) | ppn) >>> 0,
      );
    }
    return this.setSatp(
      ((mode << Satp.MODE_SHIFT) | ((asid & Satp.ASID_MASK) << Satp.ASID_SHIFT) | Math.floor(ppn / TWO32)) >>>
        0,
      ppn % TWO32,
    );
  }

  /** The MODE of satp now. */
  get satpMode(): SatpMode {
    return this.rv32 ? this.satpLo >>> Satp32.MODE_SHIFT : this.satpHi >>> Satp.MODE_SHIFT;
  }

  /** The VA size of the current MODE (0 under Bare). */
  get vaSize(): number {
    return this.bare ? 0 : this.vaBits;
  }

  /** The MODE of the deepest format implemented. */
  get maxMode(): SatpMode {
    return this.rv32
      ? SatpMode.Sv32
      : this.maxVaBits === 39
        ? SatpMode.Sv39
        : this.maxVaBits === 48
          ? SatpMode.Sv48
          : SatpMode.Sv57;
  }

  /** sstatus.SUM. */
  setSum(sum: boolean): void {
    this.sum = sum;
    this.updatePerms();
    if (this.tracer !== null)
      this.tracer({ type: "state", cpu: this.id, text: `sstatus.SUM <- ${sum ? 1 : 0}` });
  }

  /** sstatus.MXR. */
  setMxr(mxr: boolean): void {
    this.mxr = mxr;
    this.updatePerms();
    if (this.tracer !== null)
      this.tracer({ type: "state", cpu: this.id, text: `sstatus.MXR <- ${mxr ? 1 : 0}` });
  }

  /** Svadu (menvcfg.ADUE), Svnapot, Svpbmt: on or off. No TLB maintenance. */
  setExtensions(e: Partial<RiscvExtensions>): void {
    const f = this.format; // Sv32: Svnapot or Svpbmt is an input error (RiscvFormat.setExtensions)
    f.setExtensions({
      svadu: e.svadu ?? f.svadu,
      svnapot: e.svnapot ?? f.svnapot,
      svpbmt: e.svpbmt ?? f.svpbmt,
    });
  }

  private updatePerms(): void {
    computeRiscvPermTable({ sum: this.sum, mxr: this.mxr }, this.permTable);
  }

  // =====================================================================
  // Bare mode: no translation (satp.MODE = 0)
  // =====================================================================

  /** An access under Bare: the physical address is the address; outside RAM it is an access fault. */
  private bareAccess(vaHi: number, vaLo: number, access: Access): number {
    this.translations++;
    const pa = (vaHi >>> 0) * TWO32 + (vaLo >>> 0);
    if (pa < this.phys.nrFrames * 4096) {
      this.pa = pa as PhysAddr; // a plain number below the RAM size
      return 0;
    }
    const rec = this.walkRec;
    rec.count = 0;
    rec.faultKind = HwFaultKind.AddressSize;
    rec.faultLevel = -1;
    this.walkFault(rec, access, this.currentMode(), 0, 0);
    this.faultKind = rec.faultKind;
    this.faultLevel = -1;
    return this.deliver(rec, vaHi, vaLo, 0 as Vpn);
  }

  override translate(vaHi: number, vaLo: number, access: Access, implicit = false): number {
    if (this.bare) return this.bareAccess(vaHi, vaLo, access);
    return super.translate(vaHi, vaLo, access, implicit);
  }

  /** Under Bare, translate is bareAccess (accessRun calls it). */
  protected override translatesOwnWay(): boolean {
    return this.bare;
  }

  override translateAs(vaHi: number, vaLo: number, access: Access, mode: Mode): number {
    if (this.bare) return this.bareAccess(vaHi, vaLo, access);
    return super.translateAs(vaHi, vaLo, access, mode);
  }

  /**
   * A probe. Under Bare: the address itself (rec.count 0, a 4K "page"), or
   * an access fault outside RAM. An invalid address is the page fault it is.
   */
  override probe(vaHi: number, vaLo: number, access: Access, mode: Mode, rec: WalkRecord): number {
    if (this.bare) {
      const pa = (vaHi >>> 0) * TWO32 + (vaLo >>> 0);
      rec.count = 0;
      rec.faultLevel = -1;
      if (pa < this.phys.nrFrames * 4096) {
        rec.pagePfn = Math.floor(pa / 4096) as Pfn;
        rec.size = 0;
        rec.outcome = 0;
        rec.faultKind = HwFaultKind.None;
        return 0;
      }
      rec.faultKind = HwFaultKind.AddressSize;
      return this.walkFault(rec, access, mode, 0, 0);
    }
    const out = super.probe(vaHi, vaLo, access, mode, rec);
    if (rec.faultKind !== HwFaultKind.NonCanonical) return out;
    return this.walkFault(rec, access, mode, 0, 0);
  }

  // =====================================================================
  // The MMU hooks (see hw/mmu/Mmu.ts)
  // =====================================================================

  /** VA[vaBits-1:12], or -1 when bits 63..vaBits are not all equal to bit vaBits-1. */
  protected override vpnOf(vaHi: number, vaLo: number, _access: Access): Vpn | -1 {
    if (this.rv32) return vaHi === 0 ? ((vaLo >>> 12) as Vpn) : -1; // VA[31:12]
    const top = (vaHi | 0) >> this.signShift;
    if (top !== 0 && top !== -1) return -1;
    return ((vaHi & this.hiMask) * 1048576 + (vaLo >>> 12)) as Vpn;
  }

  /** An invalid (non-canonical) address: a page fault of the access, stval = the address. */
  protected override badAddress(vaHi: number, vaLo: number, access: Access): number {
    const rec = this.walkRec;
    rec.count = 0;
    rec.faultKind = HwFaultKind.NonCanonical;
    rec.faultLevel = -1;
    this.walkFault(rec, access, this.currentMode(), 0, 0);
    this.faultKind = rec.faultKind;
    this.faultLevel = -1;
    return this.deliver(rec, vaHi, vaLo, 0 as Vpn);
  }

  protected override probeBadAddress(): number {
    return Scause.LOAD_PAGE_FAULT;
  }

  /** Step 1: a = satp.PPN × PAGESIZE, i = LEVELS − 1; the root must be in RAM (else an access fault). */
  protected override startWalk(w: WalkState): boolean {
    w.level = this.startLevel;
    if (this.rootPa >= this.phys.nrFrames * 4096) {
      w.fault = HwFaultKind.AddressSize;
      return false;
    }
    w.tablePa = this.rootPa;
    w.topMask = this.rv32 ? 1023 : 511;
    w.acc = 0;
    return true;
  }

  /**
   * The TLB-miss walk of the common case, with RiscvFormat.decode written out
   * (the "Virtual Address Translation Process", steps 1-8): the root and
   * every table in RAM, every level a valid pointer with no reserved bit or
   * encoding (a G pointer makes the leaf global), then a leaf at any level
   * (a superpage aligned to its size; no Svnapot N bit) whose A bit is set,
   * and D too for a store, unless Svadu updates them, that the access is
   * allowed through (SUM, MXR in the permission table). It reads the
   * entries Mmu.walk reads and has its effects (walks and walkRefs counted,
   * the Svadu A/D write-back, `rec`), or gives up having changed nothing
   * (Mmu.walk then runs and raises the page or access fault). Pointers have
   * no A/D: a walk writes only the leaf. A PTE with V = 0 (a table never
   * written reads as zeros) ends it as it ends Mmu.walk: step 3's page fault
   * in `rec` (invalid), for Mmu.missAndFill to raise; every other fault is
   * left to Mmu.walk.
   */
  protected override walkFast(vpn: number, access: Access, mode: Mode, rec: WalkRecord): boolean {
    const phys = this.phys;
    const nrFrames = phys.nrFrames;
    const fmt = this.format;
    const reservedHi = fmt.reservedHi;
    const vpnLo = vpn >>> 0;
    const vpnHi = ((vpn - vpnLo) / TWO32) | 0;
    let tableFrame = Math.floor(this.rootPa / 4096); // satp.PPN (4 KiB aligned)
    let level = this.startLevel;
    let global = false;
    let n = 0;
    const memo = this.memo;
    const span = Math.floor(vpn / 512); // the vpn's leaf table
    if (memo.valid && memo.key === span && rec === this.walkRec) {
      // a run's next page under the same leaf table: the PTEs above it as the last walk read them
      // (still in rec, and in memory: WalkMemo), counted below with the leaf's
      tableFrame = memo.table;
      global = memo.acc !== 0;
      level = 0;
      n = memo.count;
    }
    const recLevel = rec.level;
    const recIndex = rec.index;
    const recEntryPa = rec.entryPa;
    const recHi = rec.hi;
    const recLo = rec.lo;
    for (;;) {
      // VPN[level]: vpn bits 9*level+8 .. 9*level (vpn < 2^45)
      const index =
        (level < 3 ? vpnLo >>> (9 * level) : level === 3 ? (vpnLo >>> 27) | (vpnHi << 5) : vpnHi >>> 4) & 511;
      if (tableFrame >= nrFrames) return false; // step 2: outside RAM, an access fault
      const words = phys.frameWords(tableFrame as Pfn); // inline cast: the hot loop (units.ts)
      const offset = index * 8;
      const entryPa = tableFrame * 4096 + offset;
      // step 3: V = 0 (a frame never written reads as zeros) is the page fault of this level
      // V = 0 (a table never written reads as zeros): step 3's page fault ("If pte.v = 0 ... raise a
      // page-fault exception corresponding to the original access type": scause 12, 13 or 15)
      if (words === null) return this.fastTranslationFault(rec, n, level, index, entryPa, 0, 0, access, mode);
      const lo = words[offset >>> 2];
      const hi = words[(offset >>> 2) + 1];
      if ((lo & Pte.V) === 0)
        return this.fastTranslationFault(rec, n, level, index, entryPa, hi, lo, access, mode);
      // W without R, a reserved bit: left to Mmu.walk
      if ((lo & (Pte.R | Pte.W)) === Pte.W || (hi & reservedHi) !== 0) return false;
      recLevel[n] = level;
      recIndex[n] = index;
      recEntryPa[n] = entryPa;
      recHi[n] = hi;
      recLo[n] = lo;
      n++;
      const ppn = (hi & PteHi.PPN_HI_MASK) * 4194304 + (lo >>> Pte.PPN_SHIFT);
      if ((lo & (Pte.R | Pte.X)) === 0) {
        // step 4: a pointer (none at level 0; D, A, U, N and PBMT reserved in one)
        if (level === 0 || (lo & (Pte.D | Pte.A | Pte.U)) !== 0 || (hi & (PteHi.PBMT_MASK | PteHi.N)) !== 0)
          return false;
        if ((lo & Pte.G) !== 0) global = true;
        tableFrame = ppn;
        level--;
        if (level === 0 && this.inRun && rec === this.walkRec)
          memo.keep(span, tableFrame, global ? 1 : 0, n, recEntryPa);
        continue;
      }
      // a leaf: PBMT 3 reserved, Svnapot left to the generic walk, step 6 alignment
      if ((hi & PteHi.PBMT_MASK) === PteHi.PBMT_MASK || (hi & PteHi.N) !== 0) return false;
      if (level > 0 && ppn % SUPERPAGE_PAGES[level] !== 0) return false;
      // step 7: A, and D for a store, set in memory or by hardware (Svadu)
      const store = access === Access.Write;
      const svadu = fmt.svadu;
      if (!svadu && ((lo & Pte.A) === 0 || (store && (lo & Pte.D) === 0))) return false;
      const rights = riscvRights(lo);
      if (this.permTable[rights * 9 + mode * 3 + access] === 0) return false; // step 5
      // every effect of Mmu.walk and leafFound from here
      this.walks++;
      this.walkRefs += n;
      const newLo = (svadu ? lo | Pte.A | (store ? Pte.D : 0) : lo) >>> 0;
      if (newLo !== lo) {
        phys.write32(entryPa, newLo);
        this.adWrites++;
        if (memo.valid && memo.holds(Math.floor(entryPa / 4096))) memo.valid = false; // a table that maps itself
      }
      rec.count = n;
      rec.pscLevel = -1;
      rec.pagePfn = ppn as Pfn;
      rec.size = level;
      rec.meta =
        this.asid |
        (rights << Meta.RIGHTS_SHIFT) |
        ((lo & Pte.D) !== 0 || store ? Meta.D : 0) |
        (global || (lo & Pte.G) !== 0 ? Meta.G : 0) |
        (level << Meta.SRC_SIZE_SHIFT);
      rec.attrs = (hi & PteHi.PBMT_MASK) >>> PteHi.PBMT_SHIFT;
      rec.outcome = 0;
      rec.faultKind = HwFaultKind.None;
      rec.faultLevel = -1;
      return true;
    }
  }

  override currentMode(): Mode {
    return this.priv === Priv.U ? Mode.User : Mode.Supervisor;
  }

  override setUserMode(user: boolean): void {
    this.priv = user ? Priv.U : Priv.S;
  }

  /**
   * satp = the deepest MODE (or the current one, if translating), the ASID
   * and the table, then SFENCE.VMA x0, asid (the contract: the ASID's old
   * entries go; global ones stay).
   */
  override loadUserRoot(rootPfn: Pfn, asid: number): void {
    this.loadSatp(this.bare ? this.maxMode : this.satpMode, asid, pfnToPa(rootPfn));
    this.sfenceVma(null, asid);
  }

  /** SFENCE.VMA va, x0: the page's leaf entries of every address space, global ones too. */
  override flushPage(vaHi: number, vaLo: number): void {
    this.sfenceVmaVa(vaHi, vaLo, null);
  }

  /** scause of a fault: its kind and the access. */
  protected override walkFault(
    rec: WalkRecord,
    access: Access,
    _mode: Mode,
    _attrs: number,
    _rights: number,
  ): number {
    rec.errorCode = scauseOf(rec.faultKind, access);
    rec.outcome = rec.errorCode;
    return rec.outcome;
  }

  /** Takes the trap: scause, stval (the faulting address), counters. TLB entries stay. */
  protected override deliver(rec: WalkRecord, vaHi: number, vaLo: number, _vpn: Vpn): number {
    this.pageFaults++;
    if (rec.faultKind === HwFaultKind.AddressSize) this.faultsByCause.accessFault++;
    else this.faultsByCause.pageFault++;
    this.scause = rec.errorCode;
    this.stvalHi = vaHi >>> 0;
    this.stvalLo = vaLo >>> 0;
    if (this.tracer !== null)
      this.traceFault(
        rec.outcome,
        rec.errorCode,
        this.stvalHi,
        this.stvalLo,
        `${describeScause(rec.errorCode)}, stval 0x${this.stvalHi.toString(16)}${this.stvalLo.toString(16).padStart(8, "0")}`.replace(
          /stval 0x0+(?=.)/,
          "stval 0x",
        ),
      );
    return rec.outcome;
  }

  /** the PBMT memory type is the attribute a cached translation carries */
  override readonly attrCompareMask = 3;

  override describeAttrs(attrs: number): string {
    return `PBMT ${PBMT_NAMES[attrs & 3]}`;
  }

  override invalidationHint(vpn: Vpn, asid: number, global: boolean): string {
    const va = `0x${this.vpnToVa(vpn).toString(16)}`;
    return global
      ? `SFENCE.VMA ${va}, x0 (the entry is global: a fence with an ASID keeps it), or SFENCE.VMA x0, x0`
      : `SFENCE.VMA ${va}, ${asid} (or ${va}, x0), SFENCE.VMA x0, ${asid}, or SFENCE.VMA x0, x0 (on every hart that may cache it: a remote fence through SBI)`;
  }

  /** The virtual address of a page number of the current MODE (sign-extended from bit vaBits-1). */
  vpnToVa(vpn: number): bigint {
    const low = BigInt(vpn) << 12n;
    if (this.rv32) return low; // Sv32: nothing to sign-extend
    const bits = BigInt(this.vaBits);
    return (low >> (bits - 1n)) & 1n ? BigInt.asUintN(64, low - (1n << bits)) : low;
  }

  // =====================================================================
  // SFENCE.VMA ("Supervisor Memory-Management Fence Instruction")
  // =====================================================================

  /**
   * SFENCE.VMA rs1, rs2 on this hart, `null` standing for x0:
   *
   *   x0, x0     every entry of every address space, global ones too, and
   *              every cached non-leaf entry;
   *   x0, asid   every entry of that ASID except global mappings (non-leaf
   *              cached entries of the ASID too);
   *   va, x0     the leaf entries of the page holding va, every address
   *              space, global ones too;
   *   va, asid   the leaf entries of the page for that ASID, global
   *              mappings kept.
   *
   * The address forms order only leaf PTEs: walk-cache entries (non-leaf
   * PTEs) stay, so a changed pointer needs a fence with rs1 = x0. An
   * address that is not valid under the current MODE makes the fence do
   * nothing ("no exception is raised"). Returns TLB entries dropped. There
   * is no broadcast: other harts are reached through SBI remote fences
   * (IPIs), i.e. their own sfenceVma.
   */
  sfenceVma(rs1: { hi: number; lo: number } | null, rs2: number | null): number {
    if (rs1 !== null) return this.sfenceVmaVa(rs1.hi, rs1.lo, rs2);
    this.sfences++;
    return rs2 === null
      ? this.flushMatching(0, InvalidateHow.Everything, "sfence.vma x0, x0")
      : this.flushMatching(
          rs2 & this.asidMask,
          InvalidateHow.PcidNonGlobal,
          `sfence.vma x0, ${rs2 & this.asidMask}`,
        );
  }

  /**
   * SFENCE.VMA va, rs2 with the address as its halves (sfenceVma's address
   * forms, with no object): what Linux's per-page fences
   * (local_flush_tlb_page(_asid)) and a fault's fence issue.
   */
  sfenceVmaVa(vaHi: number, vaLo: number, rs2: number | null): number {
    this.sfences++;
    const asid = rs2 === null ? 0 : rs2 & this.asidMask;
    const vpn = this.vpnOf(vaHi, vaLo, Access.Read);
    if (vpn < 0) return 0;
    this.pageInvalidations++;
    const n = this.tlb.invalidatePage(
      vpn as Vpn,
      asid,
      rs2 === null ? InvalidateHow.Everything : InvalidateHow.PcidNonGlobal,
    );
    if (this.tracer !== null)
      this.tracer({
        type: "invalidate",
        cpu: this.id,
        op: `sfence.vma va, ${rs2 === null ? "x0" : String(asid)}`,
        asid: rs2 === null ? -1 : asid,
        asidName: this.asidName,
        vpn: vpn as Vpn,
        entries: n,
      });
    return n;
  }
}
