/**
 * The kernel's side of `pagetable=inverted` (docs/inverted.md): Linux keeps
 * its radix page tables in software, unchanged, and the hashed inverted
 * page table the MMU reads (hw/mmu/inverted/Ipt.ts) is a cache of them,
 * filled on a miss, as on PowerPC's hash MMU:
 *
 * - hash_page (arch/powerpc/mm/book3s64/hash_utils.c hash_page_mm): the
 *   hash fault's handler looks up the Linux PTE (find_linux_pte); if it
 *   allows the access it sets _PAGE_ACCESSED (and _PAGE_DIRTY for a write)
 *   in the PTE and inserts the IPT entry of the frame, and the access
 *   retries (an `ipt.reloads`, not a page fault); if not, the access takes
 *   the page fault the radix walk would have taken, into the generic handler.
 * - The frame's entry holds one (space, vpn) at a time: inserting it for
 *   another alias takes it from the previous one (an alias steal, as on the
 *   IBM RT PC) and invalidates the TLB entries filled from it.
 * - A PTE change removes the IPT entries made from that PTE (pte_update ->
 *   hpte_need_flush / flush_hash_page): vmlab remembers which PTE each entry
 *   came from, as _PAGE_HASHPTE and the slot bits of a PowerPC PTE do.
 * - Address spaces get IDs from a counter of this kernel's (the context id
 *   of hash__alloc_context_id), loaded into each CPU's space register at
 *   switch_mm (PowerPC: the SLB's VSIDs).
 */
import { pfnUnchecked, vpnUnchecked } from "../../../base/units.ts";
import { Access, accessName, type Mode } from "../../../hw/access.ts";
import type { InvertedCpu, InvertedX86Machine } from "../../../hw/arch/x86_64/InvertedCpu.ts";
import { Ipt } from "../../../hw/mmu/inverted/Ipt.ts";
import type { PageTableMapper } from "../../../hw/mmu/Mapper.ts";
import type { WalkRecord } from "../../../hw/mmu/Mmu.ts";
import { Perm, permText } from "../../../hw/mmu/PagingFormat.ts";
import { Meta } from "../../../hw/mmu/TlbArray.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import type { Memblock } from "../../core/memblock.ts";
import type { Vaddr } from "../../core/vaddr.ts";
import { PteFlag } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { X86Pgtable } from "./pgtable.ts";
import { X86Tlb } from "./tlb.ts";

/** The hash MMU's state in the kernel: the table, the address-space IDs, the PTE each entry came from. */
export class HashMmu {
  ipt: Ipt | null = null;
  machine: InvertedX86Machine | null = null;
  tlb: HashTlb | null = null;
  /** address-space IDs (0: no user address space) */
  private nextSpace = 1;
  private readonly spaces = new Map<MmStruct, number>();
  readonly spaceMm = new Map<number, MmStruct>();
  /** for each frame: the physical address + 1 of the PTE its IPT entry was made from (0: none) */
  private ptePaOf = new Float64Array(0);
  /** for each PTE address: the frames whose entries were made from it (an entry may since have moved on) */
  private readonly framesOf = new Map<number, number[]>();

  // ---- counters ----
  /** entries hash_page inserted */
  reloads = 0;
  /** inserts that took a frame's entry from another alias */
  steals = 0;
  /** entries removed because their PTE changed */
  invalidations = 0;
  /** TLB invalidations issued for stolen entries */
  stealFlushes = 0;

  /** the kernel's Pgtable (set once built: it reports PTE changes here) */
  pt: X86Pgtable | null = null;

  /** htab_initialize: the IPT and its HAT from memblock, every CPU's table register pointed at them. */
  setup(machine: InvertedX86Machine, memblock: Memblock): void {
    const nr = machine.phys.nrFrames;
    const { iptBytes, hatBytes } = Ipt.sizes(nr);
    const iptPfn = memblock.alloc(Math.ceil(iptBytes / 4096), 1, PageKind.Reserved);
    const hatPfn = memblock.alloc(Math.ceil(hatBytes / 4096), 1, PageKind.Reserved);
    this.machine = machine;
    this.ipt = machine.setIpt(iptPfn * 4096, hatPfn * 4096);
    this.ptePaOf = new Float64Array(nr);
  }

  /** Installs hash_page as every CPU's hash-fault handler. */
  installHandlers(): void {
    for (const c of this.machine!.cpus) c.hashFault = this.hashPage;
  }

  /** The address-space ID of mm (allocated at its first use); 0 for none. */
  spaceOf(mm: MmStruct | null): number {
    if (mm === null) return 0;
    let s = this.spaces.get(mm);
    if (s === undefined) {
      s = this.nextSpace++;
      this.spaces.set(mm, s);
      this.spaceMm.set(s, mm);
    }
    return s;
  }

  /**
   * hash_page: the hash fault of (cpu.space, vpn). Returns 0 when an entry
   * was inserted (the access retries), else the page fault's outcome in `rec`.
   */
  readonly hashPage = (
    cpu: InvertedCpu,
    vpn: number,
    access: Access,
    mode: Mode,
    rec: WalkRecord,
  ): number => {
    // find_linux_pte and the access check: the radix walk without side effects
    const out = cpu.radixProbe(vpn, access, mode, rec);
    if (out !== 0) return out;
    const ipt = this.ipt!;
    const n = rec.count - 1;
    const ptePa = rec.entryPa[n];
    const hi = rec.hi[n];
    const lo = rec.lo[n];
    // _PAGE_ACCESSED, and _PAGE_DIRTY for a write, set by the handler (the hardware sets no bits in a hashed table)
    const next = this.pt!.modify(hi, lo, PteFlag.YOUNG | (access === Access.Write ? PteFlag.DIRTY : 0), 0);
    if (next.hi !== hi || next.lo !== lo) cpu.phys.write64(ptePa, next.hi, next.lo);
    const frame = rec.pagePfn + (vpn % cpu.geometry.pagesPer[rec.size]);
    const rights = (rec.meta >>> Meta.RIGHTS_SHIFT) & 63;
    ipt.insert(frame, cpu.space, vpn, rights, (rec.meta & Meta.D) !== 0, rec.attrs);
    this.reloads++;
    this.ptePaOf[frame] = ptePa + 1;
    const list = this.framesOf.get(ptePa);
    if (list === undefined) this.framesOf.set(ptePa, [frame]);
    else if (!list.includes(frame)) list.push(frame);
    if (ipt.stolen) {
      this.steals++;
      this.flushStolen(ipt.stolenSpace, ipt.stolenVpn);
    }
    return 0;
  };

  /**
   * The TLB entries filled from a stolen entry: INVPCID (individual address)
   * in every PCID that holds the victim's address space, on every CPU.
   */
  private flushStolen(space: number, vpn: number): void {
    const mm = this.spaceMm.get(space);
    const tlb = this.tlb;
    if (mm === undefined || tlb === null) return;
    const va = vpn * 4096;
    const hi = Math.floor(va / 4294967296);
    const lo = va >>> 0;
    tlb.states.forEach((st, cpuId) => {
      st.ctxs.forEach((ctx, slot) => {
        if (ctx.ctxId !== mm.ctxId) return;
        tlb.cpus[cpuId].invpcid(0, tlb.kernPcid(slot), hi, lo);
        this.stealFlushes++;
      });
    });
  }

  /** pte_update's hpte_need_flush: the PTE at `pa` changed; the IPT entries made from it go. */
  pteChanged(pa: number): void {
    const frames = this.framesOf.get(pa);
    if (frames === undefined) return;
    this.framesOf.delete(pa);
    const ipt = this.ipt!;
    for (const f of frames) {
      if (this.ptePaOf[f] !== pa + 1) continue;
      this.ptePaOf[f] = 0;
      if (ipt.remove(f)) this.invalidations++;
    }
  }

  /** The metrics of the scenario language (`ipt.X`). */
  metrics(): Record<string, number> {
    const ipt = this.ipt;
    let hashFaults = 0;
    for (const c of this.machine?.cpus ?? []) hashFaults += c.hashFaults;
    const chains = ipt?.chainStats() ?? { slotsUsed: 0, longest: 0 };
    return {
      "ipt.bytes": ipt?.bytes ?? 0,
      "ipt.chains": chains.slotsUsed,
      "ipt.longest_chain": chains.longest,
      "ipt.entries": ipt?.validEntries() ?? 0,
      "ipt.lookups": ipt?.lookups ?? 0,
      "ipt.hits": ipt?.hits ?? 0,
      "ipt.misses": ipt?.misses ?? 0,
      "ipt.refs": ipt?.refs ?? 0,
      "ipt.hash_faults": hashFaults,
      "ipt.reloads": this.reloads,
      "ipt.steals": this.steals,
      "ipt.invalidations": this.invalidations,
    };
  }

  /**
   * The coherence of the IPT with Linux's tables: every valid entry belongs
   * to a live address space whose PTE for the entry's vpn is present, maps
   * the entry's frame, and allows at least what the entry allows (write
   * only if writable; D only if dirty). Empty when all hold.
   */
  check(
    lookupPte: (mm: MmStruct, vpn: number) => { frame: number; write: boolean; dirty: boolean } | null,
  ): string[] {
    const ipt = this.ipt;
    if (ipt === null) return [];
    const problems: string[] = [];
    for (let f = 0; f < ipt.nrFrames; f++) {
      const e = ipt.entry(f);
      if (e === null) continue;
      const at = `IPT entry of frame 0x${f.toString(16)} (space ${e.space}, vpn 0x${e.vpn.toString(16)})`;
      const mm = this.spaceMm.get(e.space);
      if (mm === undefined || mm.dead) {
        problems.push(`${at}: its address space is ${mm === undefined ? "unknown" : "dead"}`);
        continue;
      }
      const pte = lookupPte(mm, e.vpn);
      if (pte === null) problems.push(`${at}: stale: no present PTE maps the page`);
      else if (pte.frame !== f) problems.push(`${at}: stale: the PTE maps frame 0x${pte.frame.toString(16)}`);
      else if (e.rights & (Perm.UW | Perm.PW) && !pte.write)
        problems.push(`${at}: stale: writable, the PTE is not`);
      else if (e.dirty && !pte.dirty) problems.push(`${at}: stale: dirty, the PTE is clean`);
    }
    return problems;
  }

  /**
   * explain: the hash lookup of an access to vpn by the address space mm,
   * step by step, changing nothing.
   */
  explain(
    mm: MmStruct,
    vpn: number,
    access: Access,
    pte: { frame: number; write: boolean; dirty: boolean } | null,
  ): string[] {
    const ipt = this.ipt;
    if (ipt === null) return [];
    const space = this.spaces.get(mm);
    const hex = (n: number) => `0x${n.toString(16)}`;
    if (space === undefined)
      return [
        "  IPT: this address space has no space ID yet (it never ran): its first access will be a hash fault",
      ];
    const t = ipt.trace(space, vpn);
    const out = [
      `  IPT lookup (the TLB-miss path of pagetable=inverted): space ${space}, vpn ${hex(vpn)}`,
      `    hash = (vpn XOR space * 0x9e5) mod ${ipt.hatSlots} = ${hex(t.hash)}: HAT slot @${hex(t.slotPa)}${t.steps.length === 0 ? " is empty" : ` -> frame ${hex(t.steps[0].pfn)}`}`,
    ];
    for (const s of t.steps)
      out.push(
        `    entry of frame ${hex(s.pfn)} @${hex(s.pa)}: space ${s.space}, vpn ${hex(s.vpn)} -> ${s.match ? "match" : "no match, next in chain"}`,
      );
    const refs = 1 + t.steps.length;
    if (t.pfn >= 0) {
      const e = ipt.entry(t.pfn)!;
      const usable = access !== Access.Write || e.dirty;
      out.push(
        `    hit after ${refs} memory references: frame ${hex(t.pfn)}, rights ${permText(e.rights)}, ${e.dirty ? "dirty" : "clean"}${usable ? "" : `: a ${accessName(access)} through a clean entry is a hash fault (hash_page sets D)`}`,
      );
    } else {
      out.push(
        `    miss after ${refs} memory references: a hash fault; hash_page looks up the Linux PTE below: if it allows the access, it inserts the entry of its frame and the access retries without a page fault; else the page fault`,
      );
      const holder = pte === null ? null : ipt.entry(pte.frame);
      if (pte !== null && holder !== null)
        out.push(
          `    frame ${hex(pte.frame)}'s one entry is held by space ${holder.space}, vpn ${hex(holder.vpn)}${this.spaceMm.get(holder.space) === mm ? " (this process, another page: the frame is mapped twice)" : ""}: inserting it for space ${space} is an alias steal`,
        );
    }
    return out;
  }
}

/** X86Pgtable whose PTE writes remove the IPT entries made from the PTE (pte_update -> hpte_need_flush). */
export class HashPgtable extends X86Pgtable {
  /** set drops IPT entries too: every PTE store goes through it */
  override readonly setIsStore = false;

  constructor(
    levels: 4 | 5,
    readonly hash: HashMmu,
  ) {
    super(levels, false);
  }

  override set(phys: PhysMem, pa: number, hi: number, lo: number): void {
    const old = this.get(phys, pa);
    super.set(phys, pa, hi, lo);
    if (old.hi !== hi >>> 0 || old.lo !== lo >>> 0) this.hash.pteChanged(pa);
  }

  override setTop(phys: PhysMem, pa: number, hi: number, lo: number): void {
    const old = this.get(phys, pa);
    super.setTop(phys, pa, hi, lo);
    if (old.hi !== hi >>> 0 || old.lo !== lo >>> 0) this.hash.pteChanged(pa);
  }
}

/** X86Tlb that also loads each CPU's space register at switch_mm (the address space's ID). */
export class HashTlb extends X86Tlb {
  constructor(
    cpus: InvertedCpu[],
    pcid: boolean,
    va: Vaddr,
    kernelRootPfn: () => number,
    private readonly hash: HashMmu,
  ) {
    super(cpus, pcid, false, va, kernelRootPfn);
    hash.tlb = this;
  }

  override switchMm(cpuId: number, next: MmStruct | null): void {
    super.switchMm(cpuId, next);
    (this.cpus[cpuId] as InvertedCpu).space = this.hash.spaceOf(this.states[cpuId].loadedMm);
  }

  override loadKernel(cpuId: number, kernelRootPfn: number): void {
    super.loadKernel(cpuId, kernelRootPfn);
    (this.cpus[cpuId] as InvertedCpu).space = this.hash.spaceOf(this.states[cpuId].loadedMm);
  }
}

/** The PTE the coherence check compares an entry with (a software walk of mm's tables). */
export function linuxPte(
  pt: X86Pgtable,
  mapper: PageTableMapper,
  mm: MmStruct,
  vpn: number,
): { frame: number; write: boolean; dirty: boolean } | null {
  const e = mapper.lookup(pfnUnchecked(mm.pgdPfn), vpnUnchecked(vpn));
  if (e === null || !pt.accessible(e.hi, e.lo)) return null;
  return {
    frame: pt.pfn(e.hi, e.lo, e.level) + (vpn % 512 ** e.level),
    write: pt.write(e.hi, e.lo),
    dirty: pt.dirty(e.hi, e.lo),
  };
}
