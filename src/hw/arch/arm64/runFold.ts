/**
 * arm64's walks of a folded span of a run (src/hw/mmu/runFold.ts): Arm64Cpu.walkFast from the
 * memo's leaf (L3) table (Arm ARM DDI 0487 D8.2 the walk, AArch64.S1Walk; D8.3 page descriptors;
 * D8.4 permissions, AArch64.S1DirectBasePermissions and AArch64.CheckPermission with PSTATE.PAN and
 * SCTLR_EL1.WXN through the permission table; D8.5 the Access flag and dirty state,
 * AArch64.S1CheckAndUpdate: the hardware AF update under TCR_EL1.HA, the DBM dirty state under
 * TCR_EL1.HD), page after page, each with accessRun's data access. A host shortcut: Linux has
 * nothing like it; every descriptor byte, counter and the walk record end as the walks one by one
 * leave them. TTBR0/TTBR1 selection, EPDn and the base's size are the memo's walk's (the memo is
 * kept only by a whole walkFast of the same leaf table's range).
 */
import type { Pfn } from "../../../base/units.ts";
import { Access, type Mode } from "../../access.ts";
import { RunFold, type RunFoldHost, storeIntoLeafTable } from "../../mmu/runFold.ts";
import { Meta } from "../../mmu/TlbArray.ts";
import type { WalkMemo } from "../../mmu/WalkMemo.ts";
import { type Arm64Format, ArmAttr, Desc, DescHi, leafRights, writableClean } from "./format.ts";

/** the walk record's attributes of a 4K page: its Arm level (3) in ArmAttr.LEVEL */
const LEVEL3 = 3 << ArmAttr.LEVEL_SHIFT;

export class Arm64RunFold extends RunFold {
  protected override readonly fastProbe = true;

  constructor(
    mmu: RunFoldHost,
    memo: WalkMemo,
    private readonly fmt: Arm64Format,
    permTable: Uint8Array,
    walkFast: (vpn: number, access: Access, mode: Mode) => boolean,
  ) {
    super(mmu, memo, permTable, walkFast);
  }

  /**
   * The rights of a leaf descriptor (lo, hi) as walkFast computes them, or -1 when walkFast or the
   * fold leaves the page to Mmu.walk: invalid (a Translation fault), reserved (01 at L3), an output
   * address above the output size (an Address size fault), AF clear without TCR_EL1.HA (an Access
   * flag fault), or the contiguous bit (a 64K TLB entry: D8.6.1, size code 4).
   */
  private rightsOf(lo: number, hi: number): number {
    const fmt = this.fmt;
    if ((lo & (Desc.VALID | Desc.TABLE_OR_PAGE)) !== (Desc.VALID | Desc.TABLE_OR_PAGE)) return -1;
    if ((hi & (fmt.oaHiMask | DescHi.CONT)) !== 0) return -1;
    if ((lo & Desc.AF) === 0 && !fmt.ha) return -1;
    return leafRights(lo, hi, fmt.hd, this.memo.acc);
  }

  protected override leafOk(vpn: number, write: boolean, mode: Mode): boolean {
    const phys = this.mmu.phys;
    const table = this.memo.table;
    if (table >= phys.nrFrames) return false;
    const words = phys.frameWords(table as Pfn);
    if (words === null) return false;
    const index = vpn & 511;
    const lo = words[index * 2];
    const hi = words[index * 2 + 1];
    const rights = this.rightsOf(lo, hi);
    if (rights < 0) return false;
    if (this.permTable[rights * 9 + mode * 3 + (write ? Access.Write : Access.Read)] === 0) return false;
    return (hi & DescHi.ADDR_HI_MASK) * 1048576 + (lo >>> 12) < phys.nrFrames;
  }

  /**
   * Arm64Cpu.walkFast's leaf step for each page (level 0, an L3 page descriptor): valid with
   * bits[1:0] = 11, no output-address bit above the output size, not contiguous, AF set or
   * TCR_EL1.HA, the rights (AP[2:1] with DBM's dirty state under HA and HD, UXN, PXN, the tables'
   * APTable/UXNTable/PXNTable, the memo's) allowed by the permission table; then the hardware AF
   * set (HA) and, for a write to a writable-clean page (DBM, HD), AP[2] cleared, and the byte. The
   * TLB metadata: the ASID, rights, dirty unless AP[2] stays set, global unless nG; attributes:
   * AttrIndx, SH, level 3. Any other descriptor ends the span before its page (walkFast or Mmu.walk
   * decides it on the per-access path), as does a frame outside RAM; a store into a table the memo
   * holds ends it after its page (the next walk is a whole one, as accessRun drops the memo). With
   * nothing observing stores (PhysMem.write8's snoop and watch absent) the span's stores go into
   * the frames' PageStore by runs after the walks (PageStore.writeByteRun: no walk reads a data
   * frame), a store into the leaf table itself at once (the next pages' descriptors are read after
   * it); a load's byte is the last page's (loads change nothing).
   */
  protected override leaves(
    vpn: number,
    step: number,
    max: number,
    write: boolean,
    value: number,
    off: number,
    mode: Mode,
    at: number,
  ): number {
    const mmu = this.mmu;
    const memo = this.memo;
    const phys = mmu.phys;
    const nrFrames = phys.nrFrames;
    const table = memo.table;
    // an AF/dirty write into a table above would drop the memo (walkFast): left to it
    if (table >= nrFrames || memo.holds(table)) return 0;
    const fmt = this.fmt;
    const ha = fmt.ha;
    const hd = fmt.hd;
    const stopHi = fmt.oaHiMask | DescHi.CONT;
    const acc = memo.acc;
    const perm = this.permTable;
    const permAt = mode * 3 + (write ? Access.Write : Access.Read);
    const setAf = ha ? Desc.AF : 0;
    const pfns = this.pfns;
    const metas = this.metas;
    const attrs = this.attrs;
    const asid = mmu.asid;
    let k = 0;
    let lastIndex = 0;
    let lastPfn = 0;
    let lastHi = 0;
    let lastLo = 0;
    let pa = 0;
    let data = mmu.data;
    let adWrites = 0;
    let from = 0; // the first page whose store is still to make (direct stores: by runs, after the loop)
    this.heldRange(memo); // the frames of the tables above as a range first
    const heldLo = this.heldLo;
    const heldHi = this.heldHi;
    // a materialised table's words stay its own array through the stores below (the page stays
    // materialised); any other is read again per page (a store may replace the copy)
    const held = phys.store.heldWords(table);
    const stable = held !== null;
    let words = stable ? held : phys.frameWords(table as Pfn);
    // the descriptor bits the checks, rights, metadata and attributes come from (lower attributes
    // 11..0; DBM, CONT, PXN, UXN), with what the last page's gave: pages of a run mostly share them
    // PhysMem.write8 with neither a cache snooping nor a write watch: the byte into the frame's
    // store (pfn < nrFrames, off < 4096: inside RAM), one call fewer per store
    const direct = phys.snoop === null && phys.watch === null;
    const store = phys.store;
    let flagsKey = -1;
    let clearAp2 = 0;
    let meta = 0;
    let attr = 0;
    let metaOr = 0; // of the pages done (TlbArray.insertRun's)
    let attrOr = 0;
    for (; k < max; ) {
      const index = (vpn + k * step) & 511; // vpn bits 8..0
      if (!stable) words = phys.frameWords(table as Pfn);
      if (words === null) break;
      const lo = words[index * 2];
      const hi = words[index * 2 + 1];
      if ((hi & stopHi) !== 0) break; // an Address size fault, or a contiguous page (a 64K entry)
      const key = (lo & 0xfff) + ((hi >>> 19) & 0xf) * 4096;
      if (key !== flagsKey) {
        if ((lo & (Desc.VALID | Desc.TABLE_OR_PAGE)) !== (Desc.VALID | Desc.TABLE_OR_PAGE)) break; // invalid or reserved
        if ((lo & Desc.AF) === 0 && !ha) break; // an Access flag fault
        const ap2 = (lo & Desc.AP2) !== 0;
        const rights = leafRights(lo, hi, hd, acc);
        if (perm[rights * 9 + permAt] === 0) break; // a Permission fault
        const dirtying = write && writableClean(lo, hi, hd);
        clearAp2 = dirtying ? Desc.AP2 : 0;
        meta =
          asid |
          (rights << Meta.RIGHTS_SHIFT) |
          (!ap2 || dirtying ? Meta.D : 0) |
          ((lo & Desc.NG) === 0 ? Meta.G : 0);
        attr =
          ((lo & Desc.ATTR_INDX_MASK) >>> Desc.ATTR_INDX_SHIFT) |
          (((lo & Desc.SH_MASK) >>> Desc.SH_SHIFT) << ArmAttr.SH_SHIFT) |
          LEVEL3;
        flagsKey = key;
      }
      const pfn = (hi & DescHi.ADDR_HI_MASK) * 1048576 + (lo >>> 12);
      if (pfn >= nrFrames) break; // the data outside RAM
      const newLo = ((lo | setAf) & ~clearAp2) >>> 0;
      if (newLo !== lo) {
        phys.write32(table * 4096 + index * 8, newLo);
        adWrites++;
      }
      pa = pfn * 4096 + off;
      if (write) {
        // not held whole: PhysMem's store; a store into the leaf table itself: the later pages' descriptors read it
        if (!direct) phys.write8(pa, value);
        else if (pfn === table) from = storeIntoLeafTable(store, pfns, at, from, k, pfn, off, value);
      }
      pfns[at + k] = pfn;
      metas[at + k] = meta;
      attrs[at + k] = attr;
      metaOr |= meta;
      attrOr |= attr;
      lastIndex = index;
      lastPfn = pfn;
      lastHi = hi;
      lastLo = lo;
      k++;
      if (write && pfn >= heldLo && pfn <= heldHi && memo.holds(pfn)) {
        memo.valid = false; // a store into a table above: as accessRun drops the memo
        break;
      }
    }
    // the stores by runs (PageStore.writeByteRun: the pages are written by nothing else meanwhile)
    if (write && direct && k > from) store.writeByteRun(pfns, at + from, k - from, off, value);
    if (k > 0) {
      // a load's byte: the last page's (PhysMem.read8, inside RAM; loads change nothing). Read after
      // a store too: a first write pass gives V8 this code's feedback (a read pass deoptimized it)
      const byte = (store.readWord(lastPfn, off >>> 2) >>> ((off & 3) * 8)) & 0xff;
      data = write ? data : byte;
    }
    // what RunFold.ended makes of them (its caller's, at once after this)
    if (k > 0) this.last.set(adWrites, pa, data, table, lastIndex, lastHi, lastLo, at, metaOr, attrOr);
    return k;
  }
}
