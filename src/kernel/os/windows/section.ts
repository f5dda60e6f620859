/**
 * Section objects and their segments (Windows Internals 7th ed., Part 1,
 * ch. 5 "Shared memory and mapped files", "Section objects", "Prototype
 * PTEs"; the Win32 CreateFileMapping and MapViewOfFile pages).
 *
 * A section is memory that can be shared: backed by the paging file
 * (CreateFileMapping with INVALID_HANDLE_VALUE), by a file, or by an
 * executable image (SEC_IMAGE). Its segment holds one prototype PTE per
 * page: the page's state for every process that maps it. A process's own
 * PTE for a view page is valid (it maps the frame the prototype names) or
 * an MMPTE_PROTOTYPE pointing at the prototype (mmpte.ts mkProtoPointer);
 * two processes mapping one section therefore share its frames.
 *
 * The prototype PTEs are bytes in simulated RAM, in the segment's pool
 * allocation: Windows allocates them from paged pool; vmlab takes them from
 * the nonpaged pool so that reading one never faults (docs/windows.md).
 * A prototype PTE is a demand-zero PTE (a paging-file-backed page never
 * touched), an MMPTE_SUBSECTION (a file page never read: mmpte.ts
 * mkSubsection) or a valid PTE with the frame.
 *
 * Frames: a paging-file-backed section's pages are the segment's (kind
 * KernelPages: mapped by processes, never on Linux's LRU); a file-backed or
 * image section's pages are the file's page-cache pages (Windows: the same
 * physical pages serve the cache manager and every mapped view). Each
 * process PTE that maps a frame holds a mapping and a reference
 * (mapcount, refcount); the segment's own reference is the page cache's or,
 * for the paging-file-backed pages, one of its own.
 *
 * This file keeps the objects and the prototype PTEs' bytes; making a
 * prototype's page resident (sectionFrame) and deleting a segment are
 * view.ts's, which may use the PFN database.
 */
import { assert } from "../../../base/assert.ts";
import { vpnUnchecked } from "../../../base/units.ts";
import type { KernelCore } from "../../core/core.ts";
import type { FileObject } from "../../fs/file.ts";
import { MmProt, mkDemandZero, mkProtoPointer, mkSubsection, mmRights } from "./mmpte.ts";

/** What a segment needs of the pools (kmem.ts WinKernelMemory): its prototype PTEs are a nonpaged allocation. */
export interface ProtoPool {
  alloc(cpuId: number, paged: boolean, size: number): bigint | string;
  free(va: bigint): string | null;
  readonly nonpaged: { readonly startVpn: number };
}

/** What backs a section. */
export const enum SectionKind {
  PageFile = 0,
  File = 1,
  Image = 2,
}

/** A section object with its segment (SECTION, CONTROL_AREA, SEGMENT). */
export class Section {
  /** views mapped now (CONTROL_AREA.NumberOfMappedViews) */
  views = 0;
  /** the handle is open (CloseHandle ends it; the segment goes with the last view) */
  open = true;
  /** pages charged to the commit limit at creation (paging-file-backed: every page, SEC_COMMIT) */
  commitCharge = 0;
  /** the frames of the paging-file-backed pages made so far */
  residentPages = 0;
  /**
   * SEC_RESERVE (a paging-file-backed section): its pages are reserved, not
   * committed; VirtualAlloc MEM_COMMIT in a view commits them in the
   * segment (a reserved page's prototype PTE is zero).
   */
  reserve = false;

  constructor(
    /** the handle value every process sees (handles are inherited: docs/windows.md) */
    readonly handle: number,
    readonly kind: SectionKind,
    readonly nrPages: number,
    /** the section's page protection (MM_*: CreateFileMapping's flProtect) */
    readonly protection: number,
    readonly file: FileObject | null,
    /** SEC_IMAGE: each page's protection from the image's section headers; else null */
    readonly pageProt: Uint8Array | null,
    /** the prototype PTEs' pool allocation (kernel address) */
    readonly protoVa: bigint,
  ) {}

  /** The MM_* protection of page `index` (an image's per page, else the section's). */
  protectionOf(index: number): number {
    return this.pageProt === null ? this.protection : this.pageProt[index];
  }
}

/** The kernel address of page `index`'s prototype PTE. */
export function protoPteVa(k: KernelCore, s: Section, index: number): bigint {
  return s.protoVa + BigInt(index * k.arch.pgtable.entryBytes);
}

/**
 * The MMPTE_PROTOTYPE a process PTE holds for section page `index` when
 * the page is not valid in the process (mmpte.ts mkProtoPointer; 32-bit
 * paging encodes the address relative to the prototype PTEs' pool).
 */
export function protoPointer(k: KernelCore, kmem: ProtoPool, s: Section, index: number) {
  const pt = k.arch.pgtable;
  return mkProtoPointer(protoPteVa(k, s, index), protoBase(kmem), pt.entryBytes === 8, pt.levels >= 4);
}

/** The address 32-bit MMPTE_PROTOTYPEs are relative to: the nonpaged pool's start. */
export function protoBase(kmem: ProtoPool): bigint {
  return kmem.nonpaged.startVpn < 0 ? 0n : BigInt(kmem.nonpaged.startVpn) * 4096n;
}

/** The physical address of a prototype PTE (its pool page is nonpaged: always resident). */
function protoPtePa(k: KernelCore, s: Section, index: number): number {
  const va = protoPteVa(k, s, index);
  const vpn = Number((va >> 12n) & 0xf_ffff_ffffn);
  const e = k.mapper.entryAt(k.rootPfn, vpnUnchecked(vpn), 0);
  assert(
    e !== null && k.arch.pgtable.accessible(e.hi, e.lo),
    "protoPtePa: the prototype PTEs' pool page is not resident",
  );
  return k.arch.pgtable.pfn(e.hi, e.lo, 0) * 4096 + Number(va & 0xfffn);
}

/** A prototype PTE as halves. */
export function readProto(k: KernelCore, s: Section, index: number): { hi: number; lo: number } {
  return k.arch.pgtable.get(k.machine.phys, protoPtePa(k, s, index));
}

export function writeProto(k: KernelCore, s: Section, index: number, hi: number, lo: number): void {
  k.arch.pgtable.set(k.machine.phys, protoPtePa(k, s, index), hi, lo);
}

/**
 * The prototype PTEs of a new segment, in nonpaged pool: demand-zero for a
 * paging-file-backed section, subsection PTEs for a file or an image
 * (MiCreatePagingFileMap, MiCreateDataFileMap, MiCreateImageFileMap).
 * Null when the pool has no room.
 */
export function createSegment(
  k: KernelCore,
  kmem: ProtoPool,
  handle: number,
  kind: SectionKind,
  nrPages: number,
  protection: number,
  file: FileObject | null,
  pageProt: Uint8Array | null,
  reserve = false,
): Section | null {
  const va = kmem.alloc(k.runningCpu, false, nrPages * k.arch.pgtable.entryBytes);
  if (typeof va === "string" || va === 0n) return null;
  const s = new Section(handle, kind, nrPages, protection, file, pageProt, va);
  s.reserve = reserve;
  for (let i = 0; i < nrPages; i++) {
    // SEC_RESERVE: a zero prototype PTE, reserved (MiCreatePagingFileMap leaves them zero)
    const e = reserve
      ? { hi: 0, lo: 0 }
      : kind === SectionKind.PageFile
        ? mkDemandZero(protection)
        : mkSubsection(s.protectionOf(i));
    writeProto(k, s, i, e.hi, e.lo);
  }
  return s;
}

/** Is section page `index` committed? Only a SEC_RESERVE section has pages that are not (a zero prototype PTE). */
export function protoCommitted(k: KernelCore, s: Section, index: number): boolean {
  if (!s.reserve) return true;
  const e = readProto(k, s, index);
  return e.hi !== 0 || e.lo !== 0;
}

/** A valid prototype PTE for `pfn` under the page's protection (the section's rights; copy-on-write as read-only). */
export function validProto(k: KernelCore, pfn: number, protection: number) {
  const r = mmRights(protection);
  const flags = (r.r ? 1 : 0) | (r.w ? 2 : 0) | (r.x ? 4 : 0); // VM_READ, VM_WRITE, VM_EXEC
  return k.arch.pgtable.mkUser(pfn, 0, flags, r.w && !r.copy, false, false);
}

/** A process PTE now maps a section frame (the PFN's ShareCount: mapcount, and a reference). */
export function mapShared(k: KernelCore, pfn: number): void {
  k.pages.mapcount[pfn]++;
  k.pages.refcount[pfn]++;
}

/**
 * A process PTE stops mapping section page `index` (unmap, trim, a
 * copy-on-write): its mapping and reference go; a write through it
 * (`dirty`) makes a file's page dirty, to be written back to the file.
 */
export function unmapShared(k: KernelCore, s: Section, index: number, pfn: number, dirty: boolean): void {
  assert(k.pages.mapcount[pfn] > 0, "unmapShared: the frame is not mapped");
  k.pages.mapcount[pfn]--;
  k.pages.refcount[pfn]--;
  if (dirty && s.file !== null) s.file.dirty.add(index);
}

/** The MM_* protection a view gets for FILE_MAP_* access (MapViewOfFile's dwDesiredAccess). */
export function viewProtection(access: "read" | "write" | "copy", execute: boolean): number {
  if (access === "copy") return execute ? MmProt.EXECUTE_WRITECOPY : MmProt.WRITECOPY;
  if (access === "write") return execute ? MmProt.EXECUTE_READWRITE : MmProt.READWRITE;
  return execute ? MmProt.EXECUTE_READ : MmProt.READONLY;
}
