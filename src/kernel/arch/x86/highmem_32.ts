/**
 * Highmem on 32-bit x86: frames at max_low_pfn and above have no direct-map
 * address, so the kernel maps them for a moment to touch them. Linux:
 * mm/highmem.c (kmap_local_page: __kmap_local_pfn_prot,
 * kunmap_local_indexed; kmap: map_new_virtual, flush_all_zero_pkmaps,
 * kunmap_high), arch/x86/include/asm/highmem.h (arch_kmap_local_post_unmap
 * = flush_tlb_one_kernel), arch/x86/mm/highmem_32.c.
 *
 * - kmap_local_page: a per-CPU stack of KM_MAX_IDX fixmap slots; slot idx of
 *   CPU c is FIX_KMAP_BEGIN + idx + KM_MAX_IDX * c, its PTE written in
 *   init_mm's fixmap page table (shared by every PGD). kunmap_local clears
 *   it and INVLPGs the address on this CPU only (the mapping was local).
 * - kmap: LAST_PKMAP permanent slots at PKMAP_BASE, reference-counted;
 *   kunmap leaves the PTE until the slots wrap around, then
 *   flush_all_zero_pkmaps clears every unused one and flushes the range on
 *   every CPU.
 * A lowmem page needs none of this: page_address is its direct-map address.
 */
import { assert, ModelBug } from "../../../base/assert.ts";
import { vpnUnchecked } from "../../../base/units.ts";
import { Pte, PteHi } from "../../../hw/arch/i386/pte.ts";
import type { KernelCore } from "../../core/core.ts";
import { i386Cpu } from "./init_32.ts";
import { directVa32, fixToVirt, KM_MAX_IDX, type Layout32, pkmapAddr } from "./layout_32.ts";

/** PAGE_KERNEL as a PTE for `pfn` (kmap_prot): P RW A D G (no G under PTI: __default_kernel_pte_mask), NX with PAE. */
function kernelPteLo(pfn: number, global: boolean): number {
  return ((pfn % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.A | Pte.D | (global ? Pte.G : 0))) >>> 0;
}

/** kernelPteLo's high half (PAE: the frame's bits 35..32 and XD; 32-bit paging: none). */
function kernelPteHi(pfn: number, pae: boolean): number {
  return pae ? (Math.floor(pfn / 1048576) | PteHi.XD) >>> 0 : 0;
}

/** The kmap state of one kernel: the per-CPU kmap_local stacks and the pkmap slots. */
export class Highmem32 {
  /** kmap_ctrl.idx of each CPU: how many kmap_local slots are in use */
  readonly localIdx: number[];
  /** pkmap_count: 0 free, 1 mapped but unused (flush pending), n > 1: n - 1 users */
  readonly pkmapCount: Int32Array;
  /** page_address_htable: the pkmap slot of each kmapped pfn */
  private readonly pkmapOf = new Map<number, number>();
  private readonly pkmapPfn: Int32Array;
  lastPkmapNr = 0;
  /** kmap_local_page calls that mapped a highmem frame (a fixmap PTE written) */
  localMaps = 0;
  /** flush_all_zero_pkmaps runs (each a flush_tlb_kernel_range of the whole area) */
  pkmapFlushes = 0;

  constructor(
    readonly layout: Layout32,
    cpus: number,
    /** kmap_prot's _PAGE_GLOBAL (false under PTI) */
    readonly global = true,
  ) {
    this.localIdx = new Array(cpus).fill(0);
    this.pkmapCount = new Int32Array(layout.lastPkmap);
    this.pkmapPfn = new Int32Array(layout.lastPkmap).fill(-1);
  }

  /** PageHighMem */
  isHighmem(pfn: number): boolean {
    return pfn >= this.layout.maxLowPfn;
  }

  /** set_pte of a kmap slot's PTE, as halves (kmap_local runs on every highmem page a fault or reclaim touches) */
  private setKernelPte(k: KernelCore, va: number, hi: number, lo: number): void {
    const pa = k.mapper.entryPaAt(k.rootPfn, vpnUnchecked(va / 4096), 0);
    if (pa < 0) throw new ModelBug(`kmap: no page table at 0x${va.toString(16)}`);
    k.arch.pgtable.set(k.machine.phys, pa, hi, lo);
  }

  /** kmap_local_page on `cpuId`: the page's direct-map address, or a fixmap slot mapping it. */
  kmapLocalPage(k: KernelCore, cpuId: number, pfn: number): bigint {
    if (!this.isHighmem(pfn)) return directVa32(this.layout, pfn * 4096);
    const idx = this.localIdx[cpuId];
    assert(idx < KM_MAX_IDX, "kmap_local: BUG_ON(idx >= KM_MAX_IDX)");
    this.localIdx[cpuId] = idx + 1;
    this.localMaps++;
    const va = fixToVirt(this.layout.fixKmapBegin + idx + KM_MAX_IDX * cpuId);
    this.setKernelPte(k, va, kernelPteHi(pfn, this.layout.pae), kernelPteLo(pfn, this.global));
    return BigInt(va);
  }

  /** kunmap_local: the slot's PTE cleared and INVLPG on this CPU (arch_kmap_local_post_unmap); a lowmem address needs nothing. */
  kunmapLocal(k: KernelCore, cpuId: number, va: bigint): void {
    const addr = Number(va);
    if (addr < this.layout.fixaddrTotStart) return;
    this.localIdx[cpuId]--;
    this.setKernelPte(k, addr, 0, 0);
    i386Cpu(k.machine.cpus[cpuId]).invlpg(addr);
  }

  /** kmap (kmap_high: map_new_virtual): a permanent slot, shared by every user of the page. */
  kmap(k: KernelCore, pfn: number): bigint {
    if (!this.isHighmem(pfn)) return directVa32(this.layout, pfn * 4096);
    let slot = this.pkmapOf.get(pfn);
    if (slot === undefined) {
      const n = this.layout.lastPkmap;
      let tries = n;
      for (;;) {
        this.lastPkmapNr = (this.lastPkmapNr + 1) % n;
        if (this.lastPkmapNr === 0) this.flushAllZeroPkmaps(k);
        if (this.pkmapCount[this.lastPkmapNr] === 0) break;
        assert(--tries > 0, "kmap: every pkmap slot is in use (Linux would sleep; not modelled)");
      }
      slot = this.lastPkmapNr;
      this.setKernelPte(
        k,
        pkmapAddr(this.layout, slot),
        kernelPteHi(pfn, this.layout.pae),
        kernelPteLo(pfn, this.global),
      );
      this.pkmapCount[slot] = 1;
      this.pkmapOf.set(pfn, slot);
      this.pkmapPfn[slot] = pfn;
    }
    this.pkmapCount[slot]++;
    return BigInt(pkmapAddr(this.layout, slot));
  }

  /** kunmap (kunmap_high): one user fewer; the PTE stays until the next flush_all_zero_pkmaps. */
  kunmap(pfn: number): void {
    const slot = this.pkmapOf.get(pfn);
    if (slot === undefined) return;
    this.pkmapCount[slot]--;
  }

  /** flush_all_zero_pkmaps: clear every mapped-but-unused slot, then flush the area on every CPU. */
  private flushAllZeroPkmaps(k: KernelCore): void {
    let need = false;
    for (let i = 0; i < this.layout.lastPkmap; i++) {
      if (this.pkmapCount[i] !== 1) continue;
      this.pkmapCount[i] = 0;
      this.setKernelPte(k, pkmapAddr(this.layout, i), 0, 0);
      this.pkmapOf.delete(this.pkmapPfn[i]);
      this.pkmapPfn[i] = -1;
      need = true;
    }
    if (need) {
      this.pkmapFlushes++;
      k.tlbMgr.flushTlbKernelRange(this.layout.pkmapBase / 4096, this.layout.lastPkmap, k.runningCpu);
    }
  }
}
