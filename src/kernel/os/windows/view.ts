/**
 * CreateFileMapping, MapViewOfFile(Ex), UnmapViewOfFile, CloseHandle of a
 * section (NtCreateSection, NtMapViewOfSection, NtUnmapViewOfSection), as
 * the Win32 pages document them, and the faults on a view's pages: a
 * prototype PTE fault (MiResolveProtoPteFault) and a copy-on-write
 * (MiCopyOnWrite). Sections and their prototype PTEs: section.ts.
 */
import { assert } from "../../../base/assert.ts";
import type { KernelCore } from "../../core/core.ts";
import type { SigInfo } from "../../core/signal.ts";
import type { Task } from "../../core/task.ts";
import type { FileObject } from "../../fs/file.ts";
import { Gfp } from "../../mm/gfp.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { copyFrame } from "../../mm/memory.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { GRANULARITY_PAGES, X64K } from "./layout.ts";
import {
  MmProt,
  makeProtectionMask,
  mmRights,
  pageFileOffset,
  protoLookupProtection,
  SoftKind,
  softKind,
  transitionPfn,
} from "./mmpte.ts";
import { sharedFrame, validPte } from "./pages.ts";
import { releaseShared, resolveTransition } from "./paging.ts";
import type { PfnDatabase } from "./pfn.ts";
import { exactPlaceholder, newPlaceholder } from "./placeholder.ts";
import { getPte, setPte, type WinProcess, widePtes } from "./process.ts";
import {
  createSegment,
  mapShared,
  type ProtoPool,
  readProto,
  type Section,
  SectionKind,
  validProto,
  viewProtection,
  writeProto,
} from "./section.ts";
import { Vad, VadType } from "./vad.ts";
import { charge, fail, overSharedPage, releaseVad, WinError, type WinMm } from "./virtual.ts";
import { wsAdded } from "./workingset.ts";

/**
 * MiResolveProtoPteFault's first half: the frame of section page `index`,
 * made resident if it is not. A demand-zero prototype gets a zeroed frame
 * (a demand-zero fault); a subsection prototype the file's page-cache page,
 * read from the disk when it is not cached (an in-page read: a hard fault);
 * a transition prototype (a paging-file-backed page no process mapped, on
 * the standby or modified list: paging.ts releaseShared) its frame back off
 * the list (a soft fault); a paging-file prototype (that frame repurposed) a
 * new frame read from the paging file (a hard fault).
 * The prototype PTE becomes valid. `read`: the page came from the disk.
 * Null: no memory.
 */
export function sectionFrame(
  k: KernelCore,
  db: PfnDatabase,
  s: Section,
  index: number,
): { pfn: number; read: boolean } | null {
  const pt = k.arch.pgtable;
  const e = readProto(k, s, index);
  if (s.file !== null) {
    // the page cache is the file's pages: a prototype's frame is current only while the cache holds it
    let pfn = k.pageCache.find(s.file, index);
    let read = false;
    if (pfn < 0) {
      pfn = k.pageCache.readPage(s.file, index, true);
      if (pfn < 0) return null;
      db.pageReads++;
      read = true;
    }
    const v = validProto(k, pfn, s.protectionOf(index));
    writeProto(k, s, index, v.hi, v.lo);
    return { pfn, read };
  }
  if (pt.accessible(e.hi, e.lo)) return { pfn: pt.pfn(e.hi, e.lo, 0), read: false };
  const wide = pt.entryBytes === 8;
  const kind = softKind(e.hi, e.lo, wide);
  let pfn: number;
  let read = false;
  if (kind === SoftKind.Transition) {
    // the page is on the standby or modified list: a soft fault (MiResolveTransitionFault on the prototype PTE)
    pfn = transitionPfn(e.hi, e.lo);
    const onList = resolveTransition(db, pfn);
    assert(onList, "sectionFrame: a transition prototype PTE whose frame is on no list");
  } else if (kind === SoftKind.PageFile) {
    // repurposed: a new frame and an in-page read from the paging file (MiResolvePageFileFault, a hard fault)
    const off = pageFileOffset(e.hi, e.lo, wide);
    pfn = db.takeFrame(k, true, Gfp.HIGHUSER, PageKind.KernelPages);
    if (pfn < 0) return null;
    db.pagefile.read(k.machine.phys, off, pfn);
    k.pages.refcount[pfn] = 1; // the segment's own reference
    db.originalProtection[pfn] = s.protection;
    db.modified[pfn] = 0; // the copy in the paging file stays: clean
    db.pageFileOffset[pfn] = off;
    db.pageReads++;
    s.residentPages++;
    read = true;
  } else {
    assert(kind === SoftKind.DemandZero, "sectionFrame: unexpected prototype");
    pfn = db.takeFrame(k, true, Gfp.HIGHUSER, PageKind.KernelPages);
    if (pfn < 0) return null;
    k.pages.refcount[pfn] = 1; // the segment's own reference
    db.originalProtection[pfn] = s.protection;
    db.modified[pfn] = 1;
    db.pageFileOffset[pfn] = 0;
    db.demandZeroFaults++;
    s.residentPages++;
  }
  const v = validProto(k, pfn, s.protection);
  writeProto(k, s, index, v.hi, v.lo);
  return { pfn, read };
}

/**
 * The segment deleted (MiSegmentDelete: the handle closed and the last view
 * gone): the paging-file-backed pages' frames go back, the prototype PTEs'
 * pool block is freed. A file's pages stay in the page cache. Returns the
 * commit to give back.
 */
export function deleteSegment(k: KernelCore, db: PfnDatabase, kmem: ProtoPool, s: Section): number {
  assert(s.views === 0 && !s.open, "deleteSegment: still in use");
  if (s.file === null) {
    const pt = k.arch.pgtable;
    const wide = pt.entryBytes === 8;
    for (let i = 0; i < s.nrPages; i++) {
      const e = readProto(k, s, i);
      const kind = pt.accessible(e.hi, e.lo) ? -1 : softKind(e.hi, e.lo, wide);
      // a page in the paging file: its copy goes (MiReleasePageFileSpace)
      if (kind === SoftKind.PageFile) db.pagefile.release(pageFileOffset(e.hi, e.lo, wide));
      if (kind !== -1 && kind !== SoftKind.Transition) continue;
      // valid, or on the standby or modified list (releaseFrame takes it off, with its paging-file copy)
      const pfn = kind === -1 ? pt.pfn(e.hi, e.lo, 0) : transitionPfn(e.hi, e.lo);
      assert(k.pages.mapcount[pfn] === 0, "deleteSegment: a page is still mapped");
      db.releaseFrame(k, pfn);
    }
    s.residentPages = 0;
  }
  const err = kmem.free(s.protoVa);
  assert(err === null, `deleteSegment: ${err}`);
  return s.commitCharge;
}

/** More GetLastError codes of the section calls (winerror.h). */
export const enum SectionError {
  /** ERROR_INVALID_HANDLE: not a section handle */
  INVALID_HANDLE = 6,
  /** ERROR_ACCESS_DENIED: the view asks more than the section allows; a view past its end (STATUS_INVALID_VIEW_SIZE) */
  ACCESS_DENIED = 5,
  /** ERROR_BAD_EXE_FORMAT: SEC_IMAGE of a file that is no image (here: too short for its layout) */
  BAD_EXE_FORMAT = 193,
  /** ERROR_FILE_INVALID: a mapping of an empty file with no size */
  FILE_INVALID = 1006,
  /** ERROR_MAPPED_ALIGNMENT: a view's offset or address not on the 64 KB granularity */
  MAPPED_ALIGNMENT = 1132,
}

/** An image's layout in pages (vmlab's stand-in for the PE section headers: docs/windows.md). */
export interface ImageLayout {
  textPages: number;
  dataPages: number;
}

/**
 * CreateFileMapping: a section of `size` bytes backed by the paging file
 * (`file` null), by a file (size 0: the file's size), or SEC_IMAGE (`image`:
 * a header page PAGE_READONLY, then .text PAGE_EXECUTE_READ, then .data
 * PAGE_WRITECOPY). flProtect is one of PAGE_READONLY, PAGE_READWRITE,
 * PAGE_WRITECOPY and their EXECUTE_ forms. A paging-file-backed section
 * is committed whole at creation (SEC_COMMIT: ERROR_COMMITMENT_LIMIT if it
 * does not fit), or with `reserve` (SEC_RESERVE) reserved, charged as
 * VirtualAlloc commits its pages. Returns the section, or an error code.
 */
export function createFileMapping(
  w: WinMm,
  handle: number,
  size: bigint,
  protect: number,
  file: FileObject | null,
  image: ImageLayout | null,
  reserve = false,
): Section | number {
  const protection = makeProtectionMask(protect);
  if (protection < 0 || protection > MmProt.EXECUTE_WRITECOPY || protection === MmProt.EXECUTE)
    return WinError.INVALID_PARAMETER;
  let kind = SectionKind.PageFile;
  let nrPages: number;
  let pageProt: Uint8Array | null = null;
  let growTo = -1;
  if (image !== null) {
    if (file === null) return WinError.INVALID_PARAMETER;
    kind = SectionKind.Image;
    nrPages = 1 + image.textPages + image.dataPages;
    if (file.nrPages < nrPages) return SectionError.BAD_EXE_FORMAT;
    pageProt = new Uint8Array(nrPages);
    for (let i = 0; i < nrPages; i++)
      pageProt[i] = i === 0 ? MmProt.READONLY : i <= image.textPages ? MmProt.EXECUTE_READ : MmProt.WRITECOPY;
  } else if (file !== null) {
    kind = SectionKind.File;
    if (size === 0n && file.sizeBytes === 0) return SectionError.FILE_INVALID;
    const bytes = size === 0n ? BigInt(file.sizeBytes) : size;
    // a mapping larger than the file: the CreateFileMapping page, "if the page protection allows write
    // access (that is, the flProtect parameter specifies PAGE_READWRITE or PAGE_EXECUTE_READWRITE), then
    // the file on disk is increased to match"; otherwise STATUS_SECTION_TOO_BIG (the ZwCreateSection page:
    // "greater than the specified file and the section is not writable"): ERROR_NOT_ENOUGH_MEMORY
    if (bytes > BigInt(file.sizeBytes)) {
      if (protection !== MmProt.READWRITE && protection !== MmProt.EXECUTE_READWRITE)
        return WinError.NOT_ENOUGH_MEMORY;
      growTo = Number(bytes);
    }
    nrPages = Number((bytes + 4095n) / 4096n);
  } else {
    if (size === 0n) return WinError.INVALID_PARAMETER;
    nrPages = Number((size + 4095n) / 4096n);
  }
  // SEC_COMMIT: the paging-file-backed pages are charged now; SEC_RESERVE (no effect on a file or an
  // image: the CreateFileMapping page) charges none until VirtualAlloc commits them (commitView)
  const reserved = reserve && kind === SectionKind.PageFile;
  const charged = kind === SectionKind.PageFile && !reserved ? nrPages : 0;
  if (w.commit.total + charged > w.commit.limit) return WinError.COMMITMENT_LIMIT;
  const sec = createSegment(w.k, w.kmem, handle, kind, nrPages, protection, file, pageProt, reserved);
  if (sec === null) return WinError.NOT_ENOUGH_MEMORY;
  // the file grown (i_size: the new pages read as zeros; the page says their contents are the file system's)
  if (growTo >= 0) file!.setSize(growTo);
  sec.commitCharge = charged;
  w.commit.total += charged;
  w.commit.peak = Math.max(w.commit.peak, w.commit.total);
  w.sections.set(handle, sec);
  return sec;
}

/**
 * MapViewOfFileEx: a view of `size` bytes (0: to the section's end) from
 * `offset` (a multiple of the 64 KB granularity, else
 * ERROR_MAPPED_ALIGNMENT), at `addr` (0: the system chooses; else a
 * multiple of 64 KB) with FILE_MAP_READ, FILE_MAP_WRITE or FILE_MAP_COPY
 * (`execute`: FILE_MAP_EXECUTE). FILE_MAP_WRITE needs a read-write section,
 * FILE_MAP_EXECUTE an executable one (ERROR_ACCESS_DENIED). An image is
 * mapped whole, each page with its own protection. A copy-on-write view
 * is charged commit for every page it may copy (the whole view; an image
 * its PAGE_WRITECOPY pages). Returns the base, or 0n with GetLastError.
 */
export function mapViewOfFile(
  w: WinMm,
  p: WinProcess,
  handle: number,
  access: "read" | "write" | "copy",
  execute: boolean,
  offset: bigint,
  size: bigint,
  addr: bigint,
  replace = false,
): bigint {
  const sec = w.sections.get(handle);
  if (sec === undefined || !sec.open) return fail(p, SectionError.INVALID_HANDLE);
  const r = mmRights(sec.protection);
  const image = sec.kind === SectionKind.Image;
  // MapViewOfFile3 MEM_REPLACE_PLACEHOLDER: "Only data/pf-backed section views are supported (no images ...)"
  if (replace && (image || addr === 0n)) return fail(p, WinError.INVALID_PARAMETER);
  if (!image && ((access === "write" && (!r.w || r.copy)) || (execute && !r.x)))
    return fail(p, SectionError.ACCESS_DENIED);
  // MapViewOfFile3: "When this flag [MEM_REPLACE_PLACEHOLDER] is specified, the 64k alignment requirements
  // of Offset and BaseAddress do not apply"; the offset must still be page aligned
  const granularity = replace ? 4096n : BigInt(X64K);
  if (offset % granularity !== 0n || addr % granularity !== 0n) return fail(p, SectionError.MAPPED_ALIGNMENT);
  const bytes = BigInt(sec.nrPages) * 4096n;
  if (image && offset !== 0n) return fail(p, WinError.INVALID_PARAMETER);
  const len = image || size === 0n ? bytes - offset : size;
  if (offset >= bytes || offset + len > bytes) return fail(p, SectionError.ACCESS_DENIED);
  const n = Number((len + 4095n) / 4096n);
  const L = w.layout;
  let startVpn: number;
  // the placeholder replaced: "BaseAddress and ViewSize must exactly match those of the placeholder" (487)
  const ph = replace ? exactPlaceholder(p, addr, BigInt(n) * 4096n) : null;
  if (replace && ph === null) return fail(p, WinError.INVALID_ADDRESS);
  if (ph !== null) startVpn = ph.startVpn;
  else if (addr !== 0n) {
    startVpn = Number(addr / 4096n);
    if (addr < BigInt(X64K) || startVpn + n > L.vadEndVpn) return fail(p, WinError.INVALID_PARAMETER);
    if (p.vads.conflicting(startVpn, startVpn + n - 1) !== null || overSharedPage(startVpn, startVpn + n - 1))
      return fail(p, WinError.INVALID_ADDRESS);
  } else {
    startVpn = p.vads.findEmpty(n, GRANULARITY_PAGES, L.lowestUserVpn, L.vadEndVpn);
    if (startVpn >= 0 && overSharedPage(startVpn, startVpn + n - 1))
      startVpn = p.vads.findEmpty(n, GRANULARITY_PAGES, 0x7ffe1, L.vadEndVpn);
    if (startVpn < 0) return fail(p, WinError.NOT_ENOUGH_MEMORY);
  }
  // an image view's AllocationProtect is PAGE_EXECUTE_WRITECOPY; its pages have the image's protections
  const protection = image ? MmProt.EXECUTE_WRITECOPY : viewProtection(access, execute);
  const vad = new Vad(startVpn, startVpn + n - 1, protection, false);
  vad.type = image ? VadType.Image : VadType.Mapped;
  vad.view = { section: sec, firstPage: Number(offset / 4096n) };
  let copyPages = 0;
  if (image) for (let i = 0; i < n; i++) copyPages += mmRights(sec.protectionOf(i)).copy ? 1 : 0;
  else if (access === "copy") copyPages = n;
  if (!charge(w, p, vad, copyPages)) return fail(p, WinError.COMMITMENT_LIMIT);
  if (ph !== null) {
    p.vads.remove(ph);
    vad.fromPlaceholder = true;
  }
  p.vads.insert(vad);
  sec.views++;
  return BigInt(startVpn) * 4096n;
}

/** The segment of a section nobody holds any more is deleted, its commit returned (MiSegmentDelete). */
export function deleteSection(w: WinMm, sec: Section): void {
  // (the pool free inside deleteSegment changes the total too: read it after)
  const charged = deleteSegment(w.k, w.db, w.kmem, sec);
  w.commit.total -= charged;
  w.sections.delete(sec.handle);
}

/** A view's VAD released (MiUnmapViewOfSection): a closed section goes with its last view. */
export function releaseView(w: WinMm, p: WinProcess, mm: MmStruct, vad: Vad): void {
  const sec = vad.view!.section;
  releaseVad(w, p, mm, vad);
  if (sec.views === 0 && !sec.open) deleteSection(w, sec);
}

/** UnmapViewOfFile: any address in a view unmaps it; else ERROR_INVALID_ADDRESS (STATUS_NOT_MAPPED_VIEW). */
export function unmapViewOfFile(w: WinMm, p: WinProcess, mm: MmStruct, addr: bigint): boolean {
  const vad = p.vads.locate(Number(addr / 4096n));
  if (vad === null || vad.view === null) return !!fail(p, WinError.INVALID_ADDRESS);
  releaseView(w, p, mm, vad);
  return true;
}

/**
 * UnmapViewOfFile2 (UnmapViewOfFileEx) with MEM_PRESERVE_PLACEHOLDER: "Unmaps
 * a previously mapped view and returns the address space to a placeholder";
 * the view must have replaced one (MapViewOfFile3 MEM_REPLACE_PLACEHOLDER),
 * else ERROR_INVALID_ADDRESS (Wine's test_VirtualAlloc2 records 487 on
 * Windows), as for an address in no view.
 */
export function unmapViewPreserve(w: WinMm, p: WinProcess, mm: MmStruct, addr: bigint): boolean {
  const vad = p.vads.locate(Number(addr / 4096n));
  if (vad === null || vad.view === null || !vad.fromPlaceholder) return !!fail(p, WinError.INVALID_ADDRESS);
  releaseView(w, p, mm, vad);
  p.vads.insert(newPlaceholder(vad.startVpn, vad.endVpn));
  return true;
}

/** CloseHandle of a section: the segment goes now, or with its last view. ERROR_INVALID_HANDLE when no section has it. */
export function closeSection(w: WinMm, p: WinProcess, handle: number): boolean {
  const sec = w.sections.get(handle);
  if (sec === undefined || !sec.open) return !!fail(p, SectionError.INVALID_HANDLE);
  sec.open = false;
  if (sec.views === 0) deleteSection(w, sec);
  return true;
}

/**
 * MiResolveProtoPteFault: a fault on a view page whose PTE is zero or an
 * MMPTE_PROTOTYPE. The prototype gives the frame (made resident if need
 * be: a demand-zero or an in-page read, sectionFrame above); the
 * process PTE maps it with the view's protection. A write to a
 * copy-on-write page goes on to MiCopyOnWrite at once. Null: resolved.
 */
export function protoPteFault(
  w: WinMm,
  task: Task,
  p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  vpn: number,
  write: boolean,
  prot: number,
): SigInfo | null {
  const k = w.k;
  const v = vad.view!;
  const index = v.firstPage + vpn - vad.startVpn;
  // an MI_PTE_LOOKUP_NEEDED PTE (VirtualProtect's) carries the page's protection into the WSLE
  const pte = getPte(k, mm, vpn);
  const own = protoLookupProtection(pte.hi, pte.lo, widePtes(k)) >= 0;
  const f = sectionFrame(k, w.db, v.section, index);
  if (f === null) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  const r = mmRights(prot);
  const e = validPte(k, f.pfn, prot, write && r.w && !r.copy);
  if (!setPte(k, mm, vpn, e.hi, e.lo)) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  if (own) p.wsProtection.set(vpn, prot);
  mapShared(k, f.pfn);
  // a shared page's priority is the highest of the threads sharing it (Windows Internals "Page priority")
  if (w.db.priority[f.pfn] < w.db.allocPriority) w.db.priority[f.pfn] = w.db.allocPriority;
  if (f.read) task.majFlt++;
  else task.minFlt++;
  if (write && r.copy) {
    const sig = copyOnWrite(w, p, mm, vad, vpn, f.pfn, prot);
    if (sig !== null) return sig;
  }
  wsAdded(w, mm, vpn);
  return null;
}

/**
 * MiCopyOnWrite: a write to a PAGE_WRITECOPY or PAGE_EXECUTE_WRITECOPY
 * page gets a private copy, read-write (or execute-read-write) from then
 * on (VirtualQuery reports PAGE_READWRITE: the memory-protection-constants
 * page). The section's frame keeps its other mappings; this process's
 * mapping of it goes. Counted as Write Copies (the Memory object's
 * counter). The copy is the process's own page, charged when the view was
 * mapped.
 */
export function copyOnWrite(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  vad: Vad,
  vpn: number,
  oldPfn: number,
  prot: number,
): SigInfo | null {
  const k = w.k;
  const base = (prot & 7) === MmProt.EXECUTE_WRITECOPY ? MmProt.EXECUTE_READWRITE : MmProt.READWRITE;
  const rw = (prot & ~7) | base;
  const pfn = w.db.takeFrame(k, false, Gfp.HIGHUSER, PageKind.UserAnon);
  if (pfn < 0) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  copyFrame(k.machine.phys, oldPfn, pfn);
  k.pages.refcount[pfn] = 1;
  k.pages.mapcount[pfn] = 1;
  w.db.originalProtection[pfn] = rw;
  w.db.modified[pfn] = 1;
  w.db.pageFileOffset[pfn] = 0;
  p.wsProtection.delete(vpn); // a private page: its protection is the PFN's OriginalPte
  if (sharedFrame(k, vad, oldPfn)) {
    const v = vad.view!;
    releaseShared(k, w.db, v.section, v.firstPage + vpn - vad.startVpn, oldPfn, false);
    p.privatePages++;
  } else w.db.releaseFrame(k, oldPfn);
  w.db.writeCopies++;
  const e = validPte(k, pfn, rw, true);
  setPte(k, mm, vpn, e.hi, e.lo);
  k.tlbMgr.flushTlbMmRange(mm, vpn, 1, k.runningCpu);
  return null;
}
