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
import { pfnUnchecked, vpnUnchecked } from "../../../base/units.ts";
import type { KernelCore } from "../../core/core.ts";
import { Gfp } from "../../mm/gfp.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { mkDemandZero, mkPageFile } from "./mmpte.ts";
import { PagingFile } from "./pagefile.ts";
import { setPte, widePtes, winProcess } from "./process.ts";
import { type Section, writeProto } from "./section.ts";

/** MEMORY_PRIORITY_NORMAL (processthreadsapi.h): the default page priority of every process and thread. */
export const MEMORY_PRIORITY_NORMAL = 5;
/** MmGetMinWsPagePriority(): the lowest page priority NtSetInformationProcess/Thread accept (1, MEMORY_PRIORITY_VERY_LOW). */
export const MIN_WS_PAGE_PRIORITY = 1;

/**
 * Which list a frame is on (MMPFN.u3.e1.PageLocation; Windows Internals 7th
 * ed., Part 1, ch. 5 "Page list dynamics"). Active: in a working set (a
 * valid PTE maps it) or held otherwise (a transition PTE of VirtualProtect's
 * PAGE_NOACCESS/PAGE_GUARD); the free list is the buddy allocator's free
 * memory (Linux's allocator stands for it: what Windows' free list holds,
 * pages with stale contents, is what the buddy hands out).
 */
export const enum PfnList {
  Active = 0,
  Zeroed = 1,
  Standby = 2,
  Modified = 3,
}

/**
 * Who maps a page that sits on the standby or modified list
 * (MMPFN.PteAddress): a process's PTE, the kernel's (mm null), or a
 * section's prototype PTE (`proto`; mm null, vpn -1; MMPFN.u3.e1.PrototypePte).
 */
export interface PteOwner {
  mm: MmStruct | null;
  vpn: number;
  protection: number;
  proto?: { section: Section; index: number };
}

export class PfnDatabase {
  /** OriginalPte.u.Soft.Protection of each frame a process maps (MM_* protection) */
  readonly originalProtection: Uint8Array;
  /** frames handed to processes by demand-zero faults, freed by releaseFrame */
  demandZeroFaults = 0;
  /** MMPFN.u3.e1.PageLocation (PfnList) */
  readonly list: Uint8Array;
  /** MMPFN.u3.e1.Modified: the page differs from its copy in the paging file (or has none) */
  readonly modified: Uint8Array;
  /** OriginalPte's PageFileHigh: the page's copy in the paging file (0: none) */
  readonly pageFileOffset: Int32Array;
  /** the lists, oldest first (a Set keeps insertion order: the standby list is reused oldest first) */
  readonly standby = new Set<number>();
  /**
   * MMPFN.u3.e1.Priority: each frame's page priority, 0-7 (Windows Internals
   * 7th ed., Part 1, ch. 5 "Page priority"): that of the thread whose
   * fault allocated it (process.ts pagePriority), 5 for the kernel's
   */
  readonly priority: Uint8Array;
  /**
   * The standby list as Windows Vista and later keep it: eight lists, one
   * per page priority (MmStandbyPageListByPriority), each oldest first;
   * `standby` is their union. Repurposing takes the lowest priority first.
   */
  readonly standbyByPriority: Set<number>[] = Array.from({ length: 8 }, () => new Set<number>());
  /** standby pages repurposed, by their priority (RAMMap's Priority Summary "Repurposed" column) */
  readonly repurposedByPriority = new Float64Array(8);
  /** the page priority of the thread whose fault is taking frames (fault.ts sets it); 5 otherwise */
  allocPriority = MEMORY_PRIORITY_NORMAL;
  readonly modifiedList = new Set<number>();
  readonly zeroed: number[] = [];
  /** MMPFN.PteAddress of the pages on the standby and modified lists */
  readonly owners = new Map<number, PteOwner>();
  readonly pagefile: PagingFile;
  /** frames freed to the free list since the zero page thread last ran */
  freedSinceZeroing = 0;
  // ---- counters (the Memory performance object's names: docs/windows.md) ----
  /** Transition Faults: resolved from the standby or modified list, no I/O */
  transitionFaults = 0;
  /** Page Reads: hard faults, each an in-page read from the paging file */
  pageReads = 0;
  /** Pages Output: pages the modified page writer wrote to the paging file */
  pagesOutput = 0;
  /** standby pages repurposed (their PTEs become paging-file PTEs) */
  repurposed = 0;
  /** pages the zero page thread zeroed onto the zeroed list */
  pagesZeroed = 0;
  /** Write Copies: private copies made by writes to copy-on-write pages (MiCopyOnWrite) */
  writeCopies = 0;
  /** the working-set manager (wsmanager.ts): times it trimmed, pages it took, and whether it is running */
  readonly wsManager = { runs: 0, trimmed: 0, active: false };

  constructor(nrFrames: number, pagefileBytes = 0) {
    this.originalProtection = new Uint8Array(nrFrames);
    this.list = new Uint8Array(nrFrames);
    this.modified = new Uint8Array(nrFrames);
    this.pageFileOffset = new Int32Array(nrFrames);
    this.priority = new Uint8Array(nrFrames).fill(MEMORY_PRIORITY_NORMAL);
    this.pagefile = new PagingFile(pagefileBytes);
  }

  /**
   * A frame for a fault (MiRemoveAnyPage / MiRemoveZeroPage): the zeroed
   * list first, then the free list (zeroed here when `zero`, as
   * MiResolveDemandZeroFault zeroes a free page when the zeroed list is
   * empty), then the oldest page of the lowest-priority standby list,
   * repurposed (Windows Internals "Page priority": "when the memory
   * manager wants to take a page from the standby list, it takes pages
   * from low-priority lists first"). The frame takes the page priority of
   * the thread whose fault takes it (allocPriority). -1: none at all.
   */
  takeFrame(k: KernelCore, zero: boolean, gfp: number, kind: PageKind): number {
    let pfn = this.zeroed.length > 0 ? this.zeroed.pop()! : -1;
    if (pfn >= 0) {
      this.list[pfn] = PfnList.Active;
      k.pages.kind[pfn] = kind;
      this.priority[pfn] = this.allocPriority;
      return pfn;
    }
    // the free list without waiting (no reclaim: Linux's reclaim and OOM killer are not Windows');
    // when it is short, a standby page is repurposed before anything waits
    const nowait = gfp & ~(Gfp.DIRECT_RECLAIM | Gfp.KSWAPD_RECLAIM);
    pfn = k.buddy.alloc(0, nowait, kind);
    if (pfn < 0 && this.standby.size > 0) {
      this.repurpose(k, this.lowestStandby());
      pfn = k.buddy.alloc(0, nowait, kind);
    }
    if (pfn < 0) pfn = k.buddy.alloc(0, gfp, kind);
    if (pfn < 0) return -1;
    if (zero) k.machine.phys.zeroFrame(pfnUnchecked(pfn));
    this.priority[pfn] = this.allocPriority;
    return pfn;
  }

  /** The oldest page of the lowest-priority standby list that has one (the standby list is not empty). */
  lowestStandby(): number {
    for (const l of this.standbyByPriority) if (l.size > 0) return l.values().next().value!;
    assert(false, "lowestStandby: the standby list is empty");
    return -1;
  }

  /**
   * A zeroed frame for a demand-zero fault (MiResolveDemandZeroFault), or -1
   * when memory is exhausted. It is a user page (PageKind.UserAnon) with one
   * mapping; Linux's LRU never sees it.
   */
  allocDemandZeroFrame(k: KernelCore, protection: number): number {
    // the zeroed list first; a frame from the free list is zeroed before it is mapped
    const pfn = this.takeFrame(k, true, Gfp.HIGHUSER, PageKind.UserAnon);
    if (pfn < 0) return -1;
    k.pages.refcount[pfn] = 1;
    k.pages.mapcount[pfn] = 1;
    this.originalProtection[pfn] = protection;
    // a new private page's only copy is in memory: modified (MiInitializePfn sets Modified)
    this.modified[pfn] = 1;
    this.pageFileOffset[pfn] = 0;
    this.demandZeroFaults++;
    return pfn;
  }

  /**
   * A page leaves its owner (decommit, release, exit, pool free): off its
   * list, its paging-file copy released (MiReleasePageFileSpace), the frame
   * to the free list.
   */
  releaseFrame(k: KernelCore, pfn: number): void {
    this.unlink(pfn);
    if (this.pageFileOffset[pfn] > 0) this.pagefile.release(this.pageFileOffset[pfn]);
    this.pageFileOffset[pfn] = 0;
    this.modified[pfn] = 0;
    k.pages.mapcount[pfn] = 0;
    k.pages.refcount[pfn] = 0;
    this.originalProtection[pfn] = 0;
    const err = k.buddy.free(pfn, 0);
    assert(err === null, `releaseFrame: ${err}`);
    this.freedSinceZeroing++;
  }

  /** Takes a frame off the standby or modified list (the page is back in a working set); which list it was on. */
  unlink(pfn: number): PfnList {
    const was = this.list[pfn];
    if (was === PfnList.Standby) {
      this.standby.delete(pfn);
      this.standbyByPriority[this.priority[pfn]].delete(pfn);
    } else if (was === PfnList.Modified) this.modifiedList.delete(pfn);
    if (was === PfnList.Standby || was === PfnList.Modified) this.owners.delete(pfn);
    this.list[pfn] = PfnList.Active;
    return was;
  }

  /** A trimmed page onto the standby list (clean: its paging-file copy is current) or the modified list. */
  enlist(pfn: number, owner: PteOwner): void {
    const dirty = this.modified[pfn] === 1;
    this.list[pfn] = dirty ? PfnList.Modified : PfnList.Standby;
    (dirty ? this.modifiedList : this.standby).add(pfn);
    if (!dirty) this.standbyByPriority[this.priority[pfn]].add(pfn);
    this.owners.set(pfn, owner);
  }

  /**
   * A standby page's frame reused (MiRestoreTransitionPte, then the frame is
   * free): its owner's PTE becomes the paging-file PTE of its copy, with the
   * protection it had; a page MEM_RESET left with no copy becomes
   * demand-zero (its data gone: WinProcess.resetLost).
   */
  repurpose(k: KernelCore, pfn: number): void {
    const owner = this.owners.get(pfn);
    assert(
      owner !== undefined && this.list[pfn] === PfnList.Standby,
      `repurpose: pfn ${pfn} is not on standby`,
    );
    const off = this.pageFileOffset[pfn];
    // no copy (MEM_RESET: clean with its paging-file space released): the PTE goes back to demand-zero
    // (PageFileHigh 0: "if referenced later, pages of zeroes are materialized", WRK mm/allocvm.c)
    const e = off > 0 ? mkPageFile(off, owner.protection, widePtes(k)) : mkDemandZero(owner.protection);
    if (off === 0 && owner.mm !== null) winProcess(owner.mm).resetLost.add(owner.vpn);
    if (owner.proto !== undefined) {
      // a section page: its prototype PTE holds the paging-file PTE (the segment's pages are nobody's private pages)
      writeProto(k, owner.proto.section, owner.proto.index, e.hi, e.lo);
      owner.proto.section.residentPages--;
    } else if (owner.mm !== null) {
      setPte(k, owner.mm, owner.vpn, e.hi, e.lo);
      winProcess(owner.mm).privatePages--;
    } else setKernelPte(k, owner.vpn, e.hi, e.lo);
    // the copy now belongs to the PTE, not to the frame
    this.pageFileOffset[pfn] = 0;
    this.unlink(pfn);
    this.repurposed++;
    this.repurposedByPriority[this.priority[pfn]]++;
    this.releaseFrame(k, pfn);
  }

  /**
   * MiZeroPageThread: the pages freed since it last ran are zeroed onto the
   * zeroed list (it runs at priority 0, when the CPUs are otherwise idle:
   * vmlab runs it after trims and the modified page writer). Pages from the
   * free list (the buddy allocator); those it holds are kernel-owned frames.
   */
  zeroPageThread(k: KernelCore): number {
    let n = 0;
    for (; this.freedSinceZeroing > 0; this.freedSinceZeroing--) {
      const pfn = k.buddy.alloc(0, Gfp.HIGHUSER, PageKind.KernelPages);
      if (pfn < 0) break;
      k.machine.phys.zeroFrame(pfnUnchecked(pfn));
      this.list[pfn] = PfnList.Zeroed;
      this.zeroed.push(pfn);
      n++;
    }
    this.freedSinceZeroing = 0;
    this.pagesZeroed += n;
    return n;
  }
}

/** Writes the kernel's PTE for vpn (the kernel's own tables; the page table exists: the pool's pages were mapped). */
export function setKernelPte(k: KernelCore, vpn: number, hi: number, lo: number): void {
  const e = k.mapper.entryAt(k.rootPfn, vpnUnchecked(vpn), 0);
  assert(e !== null, `setKernelPte: no page table for vpn 0x${vpn.toString(16)}`);
  k.arch.pgtable.set(k.machine.phys, e.entryPa, hi, lo);
}

/** The kernel's PTE for vpn, or zero when no table covers it. */
export function getKernelPte(k: KernelCore, vpn: number): { hi: number; lo: number } {
  const e = k.mapper.entryAt(k.rootPfn, vpnUnchecked(vpn), 0);
  return e === null ? { hi: 0, lo: 0 } : { hi: e.hi, lo: e.lo };
}
