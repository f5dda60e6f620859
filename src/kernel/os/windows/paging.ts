/**
 * Working sets and the page lists (Windows Internals 7th ed., Part 1, ch. 5
 * "Working sets", "Page frame number database", "Page list dynamics",
 * "Modified page writer", "Page fault handling"):
 *
 * - Trimming (MiTrimWorkingSet, as MmTrimAllWorkingSets or an
 *   EmptyWorkingSet call does it): each valid PTE of the working set
 *   becomes a transition PTE (the frame stays, Transition set); the page
 *   goes to the modified list if it differs from its paging-file copy (the
 *   hardware's dirty bit, or the PFN's Modified bit: a page with no copy at
 *   all is modified), else to the standby list.
 * - The modified page writer (MiModifiedPageWriter): each modified page
 *   gets an offset in the paging file, is written there, and moves to the
 *   standby list (clean now). With no paging file (or a full one) private
 *   pages stay on the modified list: nothing can take them.
 * - Repurposing a standby page (pfn.ts repurpose): its PTE becomes a
 *   paging-file PTE; the frame is free.
 * - A section page no process maps any more (releaseShared): its prototype
 *   PTE is a transition PTE and the frame is on a list, as above; repurposed,
 *   the prototype PTE becomes a paging-file PTE.
 * - A fault on a transition PTE is a soft fault (MiResolveTransitionFault:
 *   the frame comes off its list, no I/O); on a paging-file PTE a hard fault
 *   (MiResolvePageFileFault: a new frame, an in-page read from the paging
 *   file; the copy stays, so the page is clean).
 */
import type { KernelCore } from "../../core/core.ts";
import { Gfp } from "../../mm/gfp.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { mkTransition } from "./mmpte.ts";
import { type PfnDatabase, PfnList, type PteOwner, setKernelPte } from "./pfn.ts";
import { setPte, winProcess } from "./process.ts";
import { type Section, SectionKind, unmapShared, writeProto } from "./section.ts";

/**
 * One valid page out of its working set: a transition PTE in its place,
 * the frame to the modified or standby list. `dirty`: the valid PTE's
 * dirty bit (the hardware's record of a write since it was made valid).
 */
export function trimPage(k: KernelCore, db: PfnDatabase, pfn: number, dirty: boolean, owner: PteOwner): void {
  if (dirty && db.modified[pfn] === 0) {
    db.modified[pfn] = 1;
    // the copy in the paging file is stale now (MiReleasePageFileSpace)
    if (db.pageFileOffset[pfn] > 0) db.pagefile.release(db.pageFileOffset[pfn]);
    db.pageFileOffset[pfn] = 0;
  }
  const e = mkTransition(pfn, owner.protection);
  if (owner.mm !== null) {
    setPte(k, owner.mm, owner.vpn, e.hi, e.lo);
    winProcess(owner.mm).ws.delete(owner.vpn);
  } else setKernelPte(k, owner.vpn, e.hi, e.lo);
  db.enlist(pfn, owner);
}

/**
 * A process PTE stops mapping section page `index` (a trim, an unmap, a
 * copy-on-write): MiDecrementShareCount. A write through it (`dirty`)
 * makes the page differ from its paging-file copy, which goes. When no
 * process maps the page any more (its share count 0), a paging-file-backed
 * section's page leaves memory as a private page does: its prototype PTE
 * becomes a transition PTE and the frame goes to the modified list (to be
 * written to the paging file by the modified page writer) or, clean, to the
 * standby list (Windows Internals 7th ed., Part 1, ch. 5 "Prototype PTEs":
 * a shared page whose share count drops to zero is put on the standby or
 * modified list, its prototype PTE marked transition; WRK
 * MiDecrementShareCount). A file's pages are the page cache's (its
 * own writeback and reclaim: docs/windows.md).
 */
export function releaseShared(
  k: KernelCore,
  db: PfnDatabase,
  s: Section,
  index: number,
  pfn: number,
  dirty: boolean,
): void {
  unmapShared(k, s, index, pfn, dirty);
  if (s.kind !== SectionKind.PageFile) return;
  if (dirty && db.modified[pfn] === 0) {
    db.modified[pfn] = 1;
    if (db.pageFileOffset[pfn] > 0) db.pagefile.release(db.pageFileOffset[pfn]);
    db.pageFileOffset[pfn] = 0;
  }
  if (k.pages.mapcount[pfn] > 0) return;
  const protection = s.protectionOf(index);
  const e = mkTransition(pfn, protection);
  writeProto(k, s, index, e.hi, e.lo);
  db.enlist(pfn, { mm: null, vpn: -1, protection, proto: { section: s, index } });
}

/**
 * MiModifiedPageWriter: every page on the modified list to the paging
 * file, then to the standby list. Pages written (Pages Output).
 */
export function modifiedPageWriter(k: KernelCore, db: PfnDatabase): number {
  let n = 0;
  for (const pfn of [...db.modifiedList]) {
    const off = db.pagefile.reserve();
    if (off === 0) break; // no paging file, or a full one: the page stays modified
    db.pagefile.write(k.machine.phys, pfn, off);
    const owner = db.owners.get(pfn)!;
    db.unlink(pfn);
    db.pageFileOffset[pfn] = off;
    db.modified[pfn] = 0;
    db.enlist(pfn, owner);
    n++;
  }
  db.pagesOutput += n;
  return n;
}

/** Every standby page repurposed (the frames free, paging-file PTEs left behind): as memory pressure would. */
export function purgeStandby(k: KernelCore, db: PfnDatabase): number {
  let n = 0;
  for (const pfn of [...db.standby]) {
    db.repurpose(k, pfn);
    n++;
  }
  return n;
}

/**
 * MiResolveTransitionFault: the frame back from its list (a soft fault).
 * False when the frame was on no list (a transition PTE of VirtualProtect's
 * PAGE_NOACCESS/PAGE_GUARD: not a page-list fault).
 */
export function resolveTransition(db: PfnDatabase, pfn: number): boolean {
  const was = db.unlink(pfn);
  if (was !== PfnList.Standby && was !== PfnList.Modified) return false;
  db.transitionFaults++;
  return true;
}

/**
 * MiResolvePageFileFault: a new frame, the page read from offset `off`
 * (a hard fault: Page Reads). The copy stays in the paging file, so the
 * page is clean. -1: no frame.
 */
export function resolvePageFile(
  k: KernelCore,
  db: PfnDatabase,
  off: number,
  protection: number,
  kernel: boolean,
): number {
  const pfn = db.takeFrame(
    k,
    true,
    kernel ? Gfp.KERNEL : Gfp.HIGHUSER,
    kernel ? PageKind.KernelPages : PageKind.UserAnon,
  );
  if (pfn < 0) return -1;
  db.pagefile.read(k.machine.phys, off, pfn);
  db.pageFileOffset[pfn] = off;
  db.modified[pfn] = 0;
  db.originalProtection[pfn] = protection;
  if (!kernel) {
    k.pages.refcount[pfn] = 1;
    k.pages.mapcount[pfn] = 1;
  } else k.pages.refcount[pfn] = 1;
  db.pageReads++;
  return pfn;
}

/** Flushes one kernel page's TLB entries on every CPU. */
export function flushKernelPage(k: KernelCore, vpn: number): void {
  k.tlbMgr.flushTlbKernelRange(vpn, 1, k.runningCpu);
}
