import type { Pfn } from "../../base/units.ts";
import type { Vma } from "./vma.ts";

/** ids for an MmStruct made outside a kernel (unit tests); a kernel numbers its own (MmContext.lastCtxId) */
let nextCtxId = 1;

/**
 * A user address space (Linux: struct mm_struct). VMAs are kept sorted by
 * address and never overlap (Linux keeps them in a maple tree; a sorted
 * array has the same semantics). Addresses are 4K page numbers.
 */
export class MmStruct {
  readonly vmas: Vma[] = [];
  /** bumped on every TLB flush request (mm->context.tlb_gen) */
  tlbGen = 1;
  /**
   * page-table changes whose TLB flush is still owed: open mmu_gathers
   * (mm->tlb_flush_pending, inc_tlb_flush_pending). Zero between operations.
   */
  tlbFlushPending = 0;
  /** CPUs that have this mm loaded (mm_cpumask) */
  readonly cpumask = new Set<number>();
  /** resident pages by kind (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES) */
  rssAnon = 0;
  /** swap entries in the page tables (MM_SWAPENTS) */
  swapEnts = 0;
  rssFile = 0;
  rssShmem = 0;
  /** page-table pages below the top level (VmPTE) */
  ptPages = 0;
  /** pages of private writable mappings charged against overcommit (Committed_AS share) */
  committed = 0;
  /** start_brk (a vpn) and the break itself (bytes: brk need not be page-aligned) */
  startBrk = 0;
  brkBytes = 0;
  /** top of the main stack (exclusive), in pages */
  stackTop = 0;
  /** mmap_base: top-down allocations start below it */
  mmapBase = 0;
  /** exit_mmap has run; the PGD stays until no CPU has the mm loaded */
  dead = false;
  /** tasks sharing this mm (mm_users) */
  users = 1;
  private nextAnonVma = 1;
  /**
   * The operating-system profile's per-process state (profile=windows: the
   * VAD tree and the process's exception record, kernel/os/windows); null
   * for Linux, whose state is the fields above.
   */
  osState: unknown = null;

  constructor(
    public pgdPfn: Pfn,
    /** unique id of this mm for ASID reuse (Linux: mm->context.ctx_id, from the machine's last_mm_ctx_id) */
    readonly ctxId: number = nextCtxId++,
  ) {}

  /** A fresh anon_vma id (split pieces share theirs; merges need compatible ones). */
  newAnonVma(): number {
    return this.nextAnonVma++;
  }

  /** find_vma: the first VMA with vmEnd > vpn (it may start above vpn), or null. */
  findVma(vpn: number): Vma | null {
    let lo = 0;
    let hi = this.vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.vmas[mid].vmEnd > vpn) hi = mid;
      else lo = mid + 1;
    }
    return lo < this.vmas.length ? this.vmas[lo] : null;
  }

  /** The VMA containing vpn, or null. */
  vmaAt(vpn: number): Vma | null {
    const v = this.findVma(vpn);
    return v !== null && v.vmStart <= vpn ? v : null;
  }

  indexOf(vma: Vma): number {
    return this.vmas.indexOf(vma);
  }

  insert(vma: Vma): void {
    let i = 0;
    while (i < this.vmas.length && this.vmas[i].vmStart < vma.vmStart) i++;
    this.vmas.splice(i, 0, vma);
  }

  remove(vma: Vma): void {
    const i = this.vmas.indexOf(vma);
    if (i >= 0) this.vmas.splice(i, 1);
  }

  get rss(): number {
    return this.rssAnon + this.rssFile + this.rssShmem;
  }

  totalVm(): number {
    let n = 0;
    for (const v of this.vmas) n += v.pages;
    return n;
  }
}
