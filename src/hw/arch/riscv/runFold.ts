/**
 * RISC-V's walks of a folded span of a run (src/hw/mmu/runFold.ts): RiscvCpu.walkFast from the
 * memo's leaf table (the privileged spec's "Virtual Address Translation Process" steps 3-8 on a
 * level-0 PTE; Sv39/Sv48/Sv57 alike below the root), page after page, each with accessRun's data
 * access: V; no W-without-R, no reserved bit (PBMT without Svpbmt, N without Svnapot); a leaf
 * (R or X: a pointer at level 0 is reserved); PBMT not 3, no Svnapot N (a NAPOT 64K page: left to
 * the per-access path, whose generic walk drops the memo and with it the fold's marks); A, and D
 * for a store, set or Svadu (the hardware sets them); the rights (riscvRights, SUM and MXR in the
 * permission table). A host shortcut: Linux has nothing like it; every PTE byte, counter and the
 * walk record end as the walks one by one leave them.
 */
import type { Pfn } from "../../../base/units.ts";
import { Access, type Mode } from "../../access.ts";
import { RunFold, type RunFoldHost, storeIntoLeafTable } from "../../mmu/runFold.ts";
import { Meta } from "../../mmu/TlbArray.ts";
import type { WalkMemo } from "../../mmu/WalkMemo.ts";
import { Pte, PteHi, type RiscvFormat, riscvRights } from "./format.ts";

export class RiscvRunFold extends RunFold {
  constructor(
    mmu: RunFoldHost,
    memo: WalkMemo,
    private readonly fmt: RiscvFormat,
    permTable: Uint8Array,
    walkFast: (vpn: number, access: Access, mode: Mode) => boolean,
  ) {
    super(mmu, memo, permTable, walkFast);
  }

  /** Whether leaves' checks pass on PTE (lo, hi) for the access: step 3 to step 7 as walkFast makes them. */
  private leafPasses(lo: number, hi: number, write: boolean, mode: Mode): boolean {
    if ((lo & Pte.V) === 0 || (lo & (Pte.R | Pte.W)) === Pte.W || (hi & this.fmt.reservedHi) !== 0)
      return false;
    if ((lo & (Pte.R | Pte.X)) === 0) return false; // a pointer at level 0
    if ((hi & PteHi.PBMT_MASK) === PteHi.PBMT_MASK || (hi & PteHi.N) !== 0) return false;
    if (!this.fmt.svadu && ((lo & Pte.A) === 0 || (write && (lo & Pte.D) === 0))) return false;
    return this.permTable[riscvRights(lo) * 9 + mode * 3 + (write ? Access.Write : Access.Read)] !== 0;
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
    if (!this.leafPasses(lo, hi, write, mode)) return false;
    return (hi & PteHi.PPN_HI_MASK) * 4194304 + (lo >>> Pte.PPN_SHIFT) < phys.nrFrames;
  }

  /**
   * RiscvCpu.walkFast's leaf step for each page (level 0), then the Svadu A (and for a store D)
   * write-back, and the byte. The TLB metadata: the ASID, rights, dirty when D or a store, global
   * when G here or on a pointer above (the memo's); attributes: PBMT. Any other PTE ends the span
   * before its page (walkFast or Mmu.walk decides it on the per-access path), as does a frame
   * outside RAM; a store into a table the memo holds ends it after its page. With nothing observing
   * stores (PhysMem.write8's snoop and watch absent) the span's stores go into the frames'
   * PageStore by runs after the walks (PageStore.writeByteRun: no walk reads a data frame), a store
   * into the leaf table itself at once (the next pages' PTEs are read after it); a load's byte is
   * the last page's (loads change nothing).
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
    // an A/D write into a table above would drop the memo (walkFast): left to it
    if (table >= nrFrames || memo.holds(table)) return 0;
    const svadu = this.fmt.svadu;
    const set = svadu ? Pte.A | (write ? Pte.D : 0) : 0;
    const pfns = this.pfns;
    const metas = this.metas;
    const attrs = this.attrs;
    const metaBase = mmu.asid | (write ? Meta.D : 0) | (memo.acc !== 0 ? Meta.G : 0);
    let k = 0;
    let lastIndex = 0;
    let lastPfn = 0;
    let lastHi = 0;
    let lastLo = 0;
    let pa = 0;
    let data = mmu.data;
    let adWrites = 0;
    let from = 0; // the first page whose store is still to make (direct stores: by runs, after the loop)
    // a materialised table's words stay its own array through the stores below (the page stays
    // materialised); any other is read again per page (a store may replace the copy)
    const held = phys.store.heldWords(table);
    const stable = held !== null;
    let words = stable ? held : phys.frameWords(table as Pfn);
    // PhysMem.write8 with neither a cache snooping nor a write watch: the byte into the frame's
    // store (pfn < nrFrames, off < 4096: inside RAM)
    const direct = phys.snoop === null && phys.watch === null;
    const store = phys.store;
    let metaOr = 0; // of the pages done (TlbArray.insertRun's)
    let attrOr = 0;
    for (; k < max; ) {
      const index = (vpn + k * step) & 511; // VPN[0]
      if (!stable) words = phys.frameWords(table as Pfn);
      if (words === null) break;
      const lo = words[index * 2];
      const hi = words[index * 2 + 1];
      if (!this.leafPasses(lo, hi, write, mode)) break;
      const pfn = (hi & PteHi.PPN_HI_MASK) * 4194304 + (lo >>> Pte.PPN_SHIFT);
      if (pfn >= nrFrames) break; // the data outside RAM
      const newLo = (lo | set) >>> 0;
      if (newLo !== lo) {
        phys.write32(table * 4096 + index * 8, newLo);
        adWrites++;
      }
      pa = pfn * 4096 + off;
      if (write) {
        // not held whole: PhysMem's store; a store into the leaf table itself: the later pages' PTEs read it
        if (!direct) phys.write8(pa, value);
        else if (pfn === table) from = storeIntoLeafTable(store, pfns, at, from, k, pfn, off, value);
      }
      pfns[at + k] = pfn;
      const meta =
        metaBase |
        (riscvRights(lo) << Meta.RIGHTS_SHIFT) |
        ((lo & Pte.D) !== 0 ? Meta.D : 0) |
        ((lo & Pte.G) !== 0 ? Meta.G : 0);
      const attr = (hi & PteHi.PBMT_MASK) >>> PteHi.PBMT_SHIFT;
      metas[at + k] = meta;
      attrs[at + k] = attr;
      metaOr |= meta;
      attrOr |= attr;
      lastIndex = index;
      lastPfn = pfn;
      lastHi = hi;
      lastLo = lo;
      k++;
      if (write && memo.holds(pfn)) {
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
