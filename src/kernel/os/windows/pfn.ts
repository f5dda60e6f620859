/**
 * The frames behind Windows' private pages, and what the PFN database keeps
 * of each (MMPFN, Windows Internals 7th ed., Part 1, ch. 5 "Page frame
 * number database"): here only the OriginalPte's protection, which a valid
 * PTE cannot hold (its bits are the hardware's), and the owning address.
 *
 * This is the seam for the working-set and paging code: a demand-zero fault
 * takes its frame from `allocDemandZeroFrame` (Windows takes it from the
 * zero page list, else the free list and zeroes it: MiResolveDemandZeroFault),
 * and a page leaves a process through `releaseFrame` (Windows puts it on the
 * free list, or the standby/modified list when it was trimmed).
 */
import { assert } from "../../../base/assert.ts";
import { pfnUnchecked } from "../../../base/units.ts";
import type { KernelCore } from "../../core/core.ts";
import { Gfp } from "../../mm/gfp.ts";
import { PageKind } from "../../mm/PageDesc.ts";

export class PfnDatabase {
  /** OriginalPte.u.Soft.Protection of each frame a process maps (MM_* protection) */
  readonly originalProtection: Uint8Array;
  /** frames handed to processes by demand-zero faults, freed by releaseFrame */
  demandZeroFaults = 0;

  constructor(nrFrames: number) {
    this.originalProtection = new Uint8Array(nrFrames);
  }

  /**
   * A zeroed frame for a demand-zero fault (MiResolveDemandZeroFault), or -1
   * when memory is exhausted. It is a user page (PageKind.UserAnon) with one
   * mapping; Linux's LRU never sees it.
   */
  allocDemandZeroFrame(k: KernelCore, protection: number): number {
    const pfn = k.buddy.alloc(0, Gfp.HIGHUSER, PageKind.UserAnon);
    if (pfn < 0) return -1;
    // a frame from the free list is zeroed before it is mapped (the zero page list's pages already are)
    k.machine.phys.zeroFrame(pfnUnchecked(pfn));
    k.pages.refcount[pfn] = 1;
    k.pages.mapcount[pfn] = 1;
    this.originalProtection[pfn] = protection;
    this.demandZeroFaults++;
    return pfn;
  }

  /** A private page leaves its process (decommit, release, exit): back to the free list. */
  releaseFrame(k: KernelCore, pfn: number): void {
    k.pages.mapcount[pfn] = 0;
    k.pages.refcount[pfn] = 0;
    this.originalProtection[pfn] = 0;
    const err = k.buddy.free(pfn, 0);
    assert(err === null, `releaseFrame: ${err}`);
  }
}
