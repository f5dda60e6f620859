/**
 * x86-64's walks of a folded span of a run (src/hw/mmu/runFold.ts): Cpu.walkFast from the memo's
 * leaf table (SDM Vol. 3A §4.5 4-level and 5-level paging, §4.6 access rights, §4.8 accessed and
 * dirty flags), page after page, each with accessRun's data access. A host shortcut: Linux has
 * nothing like it; every PTE byte, counter and the walk record end as the walks one by one leave
 * them.
 */
import type { Pfn } from "../../../base/units.ts";
import { Access, type Mode } from "../../access.ts";
import { RunFold, type RunFoldHost, storeIntoLeafTable } from "../../mmu/runFold.ts";
import { Meta } from "../../mmu/TlbArray.ts";
import type { WalkMemo } from "../../mmu/WalkMemo.ts";
import { type X86_64Format, X86Attr } from "./format.ts";
import { Pte, PteHi } from "./pte.ts";
import { Rights, X86_CANONICAL } from "./rights.ts";

export class X86RunFold extends RunFold {
  protected override readonly fastProbe = true;

  constructor(
    mmu: RunFoldHost,
    memo: WalkMemo,
    private readonly fmt: X86_64Format,
    permTable: Uint8Array,
    walkFast: (vpn: number, access: Access, mode: Mode) => boolean,
  ) {
    super(mmu, memo, permTable, walkFast);
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
    const fmt = this.fmt;
    if ((lo & Pte.P) === 0 || (hi & fmt.rsvdHi) !== 0) return false;
    const xd = (hi & PteHi.XD) !== 0;
    if (xd && !fmt.nxe) return false;
    const rights =
      X86_CANONICAL[this.memo.acc & (((lo >>> 1) & (Rights.W | Rights.U)) | (xd ? 0 : Rights.X))];
    if (this.permTable[rights * 9 + mode * 3 + (write ? Access.Write : Access.Read)] === 0) return false;
    return (hi & fmt.hiAddrMask) * 1048576 + (lo >>> 12) < phys.nrFrames;
  }

  /**
   * Cpu.walkFast's leaf step for each page (a 4K leaf: level 0, where bit 7 is PAT, not PS): P set,
   * no reserved bit above MAXPHYADDR, XD only with EFER.NXE, the rights of the levels above (the
   * memo's) and the PTE's allowed by the permission table; then its A (and for a write D)
   * write-back, and the byte. Any other PTE ends the span before its page (walkFast or Mmu.walk
   * decides it on the per-access path), as does a frame outside RAM; a store into a table the memo
   * holds ends it after its page (the next walk is a whole one, as accessRun drops the memo).
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
    // an accessed/dirty write into a table above would drop the memo (walkFast): left to it
    if (table >= nrFrames || memo.holds(table)) return 0;
    const fmt = this.fmt;
    const rsvdHi = fmt.rsvdHi;
    const hiAddrMask = fmt.hiAddrMask;
    const nxe = fmt.nxe;
    const acc = memo.acc;
    const perm = this.permTable;
    const permAt = mode * 3 + (write ? Access.Write : Access.Read);
    const set = Pte.A | (write ? Pte.D : 0);
    const pfns = this.pfns;
    const metas = this.metas;
    const attrs = this.attrs;
    const metaBase = mmu.asid | (write ? Meta.D : 0);
    const pge = fmt.pge;
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
    // the PTE bits rights, metadata and attributes come from (P, R/W, U/S, PWT, PCD, A, D, PAT, G;
    // PKEY, XD), with what the last page's gave: pages of a run mostly share them
    // PhysMem.write8 with neither a cache snooping nor a write watch: the byte into the frame's
    // store (pfn < nrFrames, off < 4096: inside RAM), one call fewer per store
    const direct = phys.snoop === null && phys.watch === null;
    const store = phys.store;
    let flagsKey = -1;
    let meta = 0;
    let attr = 0;
    let metaOr = 0; // of the pages done (TlbArray.insertRun's)
    let attrOr = 0;
    const index0 = vpn & 511; // vpn bits 8..0 (an int: vpn, a double, is not read again in the loop)
    for (; k < max; ) {
      const index = (index0 + k * step) & 511; // page k's vpn bits 8..0
      if (!stable) words = phys.frameWords(table as Pfn);
      if (words === null) break;
      const lo = words[index * 2];
      const hi = words[index * 2 + 1];
      if ((lo & Pte.P) === 0 || (hi & rsvdHi) !== 0) break;
      const key = (lo & 0x1ff) + (hi >>> 27) * 512;
      if (key !== flagsKey) {
        const xd = (hi & PteHi.XD) !== 0;
        if (xd && !nxe) break; // reserved
        const r = X86_CANONICAL[acc & (((lo >>> 1) & (Rights.W | Rights.U)) | (xd ? 0 : Rights.X))];
        if (perm[r * 9 + permAt] === 0) break; // a permission fault
        meta =
          metaBase |
          (r << Meta.RIGHTS_SHIFT) |
          ((lo & Pte.D) !== 0 ? Meta.D : 0) |
          (pge && (lo & Pte.G) !== 0 ? Meta.G : 0);
        attr =
          ((hi & PteHi.PKEY_MASK) >>> PteHi.PKEY_SHIFT) |
          (lo & Pte.PWT ? X86Attr.PWT : 0) |
          (lo & Pte.PCD ? X86Attr.PCD : 0) |
          (lo & Pte.PAT4K ? X86Attr.PAT : 0);
        flagsKey = key;
      }
      const pfn = (hi & hiAddrMask) * 1048576 + (lo >>> 12);
      if (pfn >= nrFrames) break; // the data outside RAM
      const newLo = (lo | set) >>> 0;
      if (newLo !== lo) {
        phys.write32(table * 4096 + index * 8, newLo);
        adWrites++;
      }
      pa = pfn * 4096 + off;
      if (write) {
        // not held whole: PhysMem's store; a store into the leaf table itself: the later pages' entries read it
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
