/**
 * 32-bit x86's walks of a folded span of a run (src/hw/mmu/runFold.ts): I386Cpu.walkFast from the
 * memo's page table, page after page, each with accessRun's data access, in both modes:
 *
 * - 32-bit paging (SDM Vol. 3A §4.3, Table 4-6): 4-byte PTEs, 1024 per table (a leaf table spans
 *   1024 pages: the memo's key is vpn / 1024); a PTE has no reserved bit and no XD;
 * - PAE paging (§4.4.2, Table 4-11): 8-byte PTEs, 512 per table; bits 62..MAXPHYADDR reserved, XD
 *   reserved without EFER.NXE.
 *
 * Rights as §4.6 (the permission table: CR0.WP, SMEP, SMAP, RFLAGS.AC), A/D as §4.8, G under
 * CR4.PGE, PWT/PCD/PAT as §4.9 (bit 7 of a PTE is PAT). A host shortcut: Linux has nothing like it;
 * every PTE byte, counter and the walk record end as the walks one by one leave them.
 */
import type { Pfn } from "../../../base/units.ts";
import { Access, type Mode } from "../../access.ts";
import { RunFold, type RunFoldHost, storeIntoLeafTable } from "../../mmu/runFold.ts";
import { Meta } from "../../mmu/TlbArray.ts";
import type { WalkMemo } from "../../mmu/WalkMemo.ts";
import { X86Attr } from "../x86_64/format.ts";
import { Rights, X86_CANONICAL } from "../x86_64/rights.ts";
import { type I386Format, PaeFormat } from "./format.ts";
import { Pte, PteHi } from "./pte.ts";

export class I386RunFold extends RunFold {
  private readonly pae: boolean;

  constructor(
    mmu: RunFoldHost,
    memo: WalkMemo,
    private readonly fmt: I386Format | PaeFormat,
    permTable: Uint8Array,
    walkFast: (vpn: number, access: Access, mode: Mode) => boolean,
  ) {
    const pae = fmt instanceof PaeFormat;
    super(mmu, memo, permTable, walkFast, pae ? 512 : 1024, pae ? 8 : 4);
    this.pae = pae;
  }

  /** the PTE readPte read last: its low and high halves (32-bit paging: high 0) */
  private lo = 0;
  private hi = 0;

  /** The PTE of vpn in the PT `words` into lo/hi. */
  private readPte(words: Uint32Array, vpn: number): void {
    if (this.pae) {
      const index = vpn & 511;
      this.lo = words[index * 2];
      this.hi = words[index * 2 + 1];
    } else {
      this.lo = words[vpn & 1023];
      this.hi = 0;
    }
  }

  /**
   * walkFast's leaf checks (a 4K PTE: level 0): P; PAE: no reserved bit above MAXPHYADDR, XD only
   * with EFER.NXE; the rights of the PDE (the memo's) and the PTE allowed by the permission table;
   * the frame in RAM.
   */
  private check(lo: number, hi: number, write: boolean, mode: Mode): number {
    if ((lo & Pte.P) === 0) return -1;
    let x: number = Rights.X;
    if (this.pae) {
      const fmt = this.fmt as PaeFormat;
      if ((hi & fmt.rsvdHi) !== 0) return -1;
      if ((hi & PteHi.XD) !== 0) {
        if (!fmt.nxe) return -1; // reserved
        x = 0;
      }
    }
    const rights = X86_CANONICAL[this.memo.acc & (((lo >>> 1) & (Rights.W | Rights.U)) | x)];
    if (this.permTable[rights * 9 + mode * 3 + (write ? Access.Write : Access.Read)] === 0) return -1;
    return rights;
  }

  /** the frame of a PTE (32-bit paging: bits 31..12; PAE: and bits M-1..32 of the high half) */
  private pfnOf(lo: number, hi: number): number {
    return this.pae ? (hi & (this.fmt as PaeFormat).hiAddrMask) * 1048576 + (lo >>> 12) : lo >>> 12;
  }

  protected override leafOk(vpn: number, write: boolean, mode: Mode): boolean {
    const phys = this.mmu.phys;
    const table = this.memo.table;
    if (table >= phys.nrFrames) return false;
    const words = phys.frameWords(table as Pfn);
    if (words === null) return false;
    this.readPte(words, vpn);
    const lo = this.lo;
    const hi = this.hi;
    if (this.check(lo, hi, write, mode) < 0) return false;
    return this.pfnOf(lo, hi) < phys.nrFrames;
  }

  /**
   * I386Cpu.walkFast's leaf step for each page (check above), then its A (and for a write D)
   * write-back (the low half: a 32-bit write in both modes), and the byte. Any other PTE ends the
   * span before its page (walkFast or Mmu.walk decides it on the per-access path), as does a frame
   * outside RAM; a store into the PD the memo holds ends it after its page (the next walk is a whole
   * one, as accessRun drops the memo). With nothing observing stores (PhysMem.write8's snoop and
   * watch absent) the span's stores go into the frames' PageStore by runs after the walks
   * (PageStore.writeByteRun: no walk reads a data frame), a store into the page table itself at
   * once (the next pages' PTEs are read after it); a load's byte is the last page's (loads change
   * nothing).
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
    // an accessed/dirty write into the PD would drop the memo (walkFast): left to it
    if (table >= nrFrames || memo.holds(table)) return 0;
    const pae = this.pae;
    const entryBytes = pae ? 8 : 4;
    const indexMask = pae ? 511 : 1023;
    const set = Pte.A | (write ? Pte.D : 0);
    const pfns = this.pfns;
    const metas = this.metas;
    const attrs = this.attrs;
    const metaBase = mmu.asid | (write ? Meta.D : 0);
    const pge = this.fmt.pge;
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
      const v = vpn + k * step;
      if (!stable) words = phys.frameWords(table as Pfn);
      if (words === null) break;
      this.readPte(words, v);
      const lo = this.lo;
      const hi = this.hi;
      const rights = this.check(lo, hi, write, mode);
      if (rights < 0) break; // not present, reserved or a permission fault
      const pfn = this.pfnOf(lo, hi);
      if (pfn >= nrFrames) break; // the data outside RAM
      const index = v & indexMask;
      const newLo = (lo | set) >>> 0;
      if (newLo !== lo) {
        phys.write32(table * 4096 + index * entryBytes, newLo);
        adWrites++;
      }
      pa = pfn * 4096 + off;
      if (write) {
        // not held whole: PhysMem's store; a store into the page table itself: the later pages' PTEs read it
        if (!direct) phys.write8(pa, value);
        else if (pfn === table) from = storeIntoLeafTable(store, pfns, at, from, k, pfn, off, value);
      }
      pfns[at + k] = pfn;
      const meta =
        metaBase |
        (rights << Meta.RIGHTS_SHIFT) |
        ((lo & Pte.D) !== 0 ? Meta.D : 0) |
        (pge && (lo & Pte.G) !== 0 ? Meta.G : 0);
      const attr =
        (lo & Pte.PWT ? X86Attr.PWT : 0) |
        (lo & Pte.PCD ? X86Attr.PCD : 0) |
        (lo & Pte.PAT4K ? X86Attr.PAT : 0);
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
        memo.valid = false; // a store into the PD: as accessRun drops the memo
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
