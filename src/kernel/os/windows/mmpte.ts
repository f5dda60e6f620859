/**
 * Windows' page-table entries as its memory manager reads them: a valid
 * PTE is the hardware's (the architecture's Pgtable builds it); an invalid
 * one (Valid = 0) is Windows' own software format, which the hardware
 * ignores and MmAccessFault decodes.
 *
 * MMPTE_SOFTWARE (Windows Internals 7th ed., Part 1, ch. 5 "Page fault
 * handling", "Invalid PTEs"; WRK mm/i386 and amd64 mipte.h):
 *
 *     x64 and PAE (64-bit entries):
 *      63                    32 31        12 11  10  9     5 4    1 0
 *     +-----------------------+------------+---+---+-------+------+-+
 *     |     PageFileHigh      |  (unused)  | T | P | Prot. | PFLow|0|
 *     +-----------------------+------------+---+---+-------+------+-+
 *     x86 without PAE (32-bit entries): PageFileHigh is bits 31..12.
 *
 * - Valid, bit 0: 0 for every software PTE.
 * - PageFileLow, bits 1..4: which paging file holds the page.
 * - Protection, bits 5..9: an MM_* protection (below).
 * - Prototype, bit 10: the entry points to a prototype PTE (shared memory).
 * - Transition, bit 11: the page is still in memory, on the standby or
 *   modified list (MMPTE_TRANSITION: the PFN in the frame field).
 * - PageFileHigh: the page's offset in the paging file.
 *
 * The kinds that matter here: all zero is "nothing" (the VAD decides);
 * Protection only (PageFileLow = PageFileHigh = 0, no P, no T) is a
 * demand-zero page, committed, with that protection; MM_DECOMMIT is a
 * decommitted page inside a committed VAD. The transition and paging-file
 * kinds decode here for the working-set and paging-file code to come.
 */

/** MM_* protections (WRK mm/mi.h), the 5-bit Protection field. */
export const enum MmProt {
  ZERO_ACCESS = 0,
  READONLY = 1,
  EXECUTE = 2,
  EXECUTE_READ = 3,
  READWRITE = 4,
  WRITECOPY = 5,
  EXECUTE_READWRITE = 6,
  EXECUTE_WRITECOPY = 7,
  /** the caching bit: PAGE_NOCACHE */
  NOCACHE = 0x8,
  /** the guard bit: PAGE_GUARD */
  GUARD_PAGE = 0x10,
  /** ZERO_ACCESS with the guard bit: a decommitted page (MM_DECOMMIT: the same bits as MM_GUARD_PAGE, read in context) */
  // biome-ignore lint/suspicious/noDuplicateEnumValues: Windows' MM_DECOMMIT is MM_GUARD_PAGE's value with no access bits
  DECOMMIT = 0x10,
  /** ZERO_ACCESS with guard and nocache: PAGE_NOACCESS */
  NOACCESS = 0x18,
}

/** Bits of MMPTE_SOFTWARE (low word). */
export const enum SoftPte {
  VALID = 1 << 0,
  PAGEFILE_LOW_SHIFT = 1,
  PAGEFILE_LOW_MASK = 0xf << 1,
  PROTECTION_SHIFT = 5,
  PROTECTION_MASK = 0x1f << 5,
  PROTOTYPE = 1 << 10,
  TRANSITION = 1 << 11,
}

/** What an invalid PTE says. */
export const enum SoftKind {
  /** all zero: the VAD decides (reserved, or committed with the VAD's protection) */
  Zero = 0,
  /** Protection only: committed, demand-zero */
  DemandZero = 1,
  /** MM_DECOMMIT */
  Decommitted = 2,
  /** Transition set: on the standby or modified list (the PFN in bits 12 and up) */
  Transition = 3,
  /** Prototype set */
  Prototype = 4,
  /** a page in a paging file (PageFileLow, PageFileHigh) */
  PageFile = 5,
}

/** A demand-zero PTE (Protection only) as halves. */
export function mkDemandZero(protection: number): { hi: number; lo: number } {
  return { hi: 0, lo: (protection << SoftPte.PROTECTION_SHIFT) >>> 0 };
}

/** A decommitted page's PTE inside a VAD committed at creation (Protection = MM_DECOMMIT). */
export function mkDecommitted(): { hi: number; lo: number } {
  return mkDemandZero(MmProt.DECOMMIT);
}

/** The protection field of an invalid PTE. */
export function softProtection(lo: number): number {
  return (lo & SoftPte.PROTECTION_MASK) >>> SoftPte.PROTECTION_SHIFT;
}

/**
 * The kind of an invalid PTE (`wide`: 64-bit entries, x64 and PAE, whose
 * PageFileHigh is the high word; else bits 31..12).
 */
export function softKind(hi: number, lo: number, wide: boolean): SoftKind {
  if (hi === 0 && lo === 0) return SoftKind.Zero;
  if (lo & SoftPte.PROTOTYPE) return SoftKind.Prototype;
  if (lo & SoftPte.TRANSITION) return SoftKind.Transition;
  const pageFileHigh = wide ? hi : lo >>> 12;
  if ((lo & SoftPte.PAGEFILE_LOW_MASK) !== 0 || pageFileHigh !== 0) return SoftKind.PageFile;
  return softProtection(lo) === MmProt.DECOMMIT ? SoftKind.Decommitted : SoftKind.DemandZero;
}

/** Names of the kinds, for `show P vad` and explain. */
export const SOFT_KIND_NAMES = ["zero", "demand-zero", "decommitted", "transition", "prototype", "pagefile"];

// ---- Win32 PAGE_* protections (winnt.h) and MiMakeProtectionMask ----

export const enum PageProt {
  NOACCESS = 0x01,
  READONLY = 0x02,
  READWRITE = 0x04,
  WRITECOPY = 0x08,
  EXECUTE = 0x10,
  EXECUTE_READ = 0x20,
  EXECUTE_READWRITE = 0x40,
  EXECUTE_WRITECOPY = 0x80,
  GUARD = 0x100,
  NOCACHE = 0x200,
  WRITECOMBINE = 0x400,
}

const BASE_TO_MM: Record<number, number> = {
  [PageProt.NOACCESS]: MmProt.NOACCESS,
  [PageProt.READONLY]: MmProt.READONLY,
  [PageProt.READWRITE]: MmProt.READWRITE,
  [PageProt.WRITECOPY]: MmProt.WRITECOPY,
  [PageProt.EXECUTE]: MmProt.EXECUTE,
  [PageProt.EXECUTE_READ]: MmProt.EXECUTE_READ,
  [PageProt.EXECUTE_READWRITE]: MmProt.EXECUTE_READWRITE,
  [PageProt.EXECUTE_WRITECOPY]: MmProt.EXECUTE_WRITECOPY,
};

/**
 * MiMakeProtectionMask: a Win32 protection to the MM_* field, or -1 when
 * invalid: no base protection or two of them, or modifiers the
 * memory-protection-constants page forbids together ("PAGE_GUARD ... cannot
 * be used with PAGE_NOACCESS"; "PAGE_NOCACHE cannot be used with the
 * PAGE_GUARD, PAGE_NOACCESS, or PAGE_WRITECOMBINE flags"; PAGE_WRITECOMBINE
 * "cannot be specified with the PAGE_NOACCESS, PAGE_GUARD, and
 * PAGE_NOCACHE flags"). The two modifier bits encode four states: none,
 * MM_NOCACHE, MM_GUARD_PAGE, and both for write-combined (WRK mm/mi.h
 * MM_WRITECOMBINE); with a zero base they are MM_DECOMMIT and MM_NOACCESS.
 */
export function makeProtectionMask(win32: number): number {
  const base = win32 & 0xff;
  const mm = BASE_TO_MM[base];
  if (mm === undefined || win32 & ~0x7ff) return -1;
  const mods = win32 & (PageProt.GUARD | PageProt.NOCACHE | PageProt.WRITECOMBINE);
  if (mods !== 0 && (base === PageProt.NOACCESS || (mods & (mods - 1)) !== 0)) return -1;
  if (mods === PageProt.GUARD) return mm | MmProt.GUARD_PAGE;
  if (mods === PageProt.NOCACHE) return mm | MmProt.NOCACHE;
  if (mods === PageProt.WRITECOMBINE) return mm | MmProt.GUARD_PAGE | MmProt.NOCACHE;
  return mm;
}

/** The Win32 protection of an MM_* field (what VirtualQuery reports; 0 for none). */
export function win32Protection(mm: number): number {
  if (mm === MmProt.NOACCESS) return PageProt.NOACCESS;
  if (mm === MmProt.DECOMMIT || mm === MmProt.ZERO_ACCESS) return 0;
  const base = [
    0,
    PageProt.READONLY,
    PageProt.EXECUTE,
    PageProt.EXECUTE_READ,
    PageProt.READWRITE,
    PageProt.WRITECOPY,
    PageProt.EXECUTE_READWRITE,
    PageProt.EXECUTE_WRITECOPY,
  ][mm & 7];
  const mods = mm & (MmProt.GUARD_PAGE | MmProt.NOCACHE);
  return (
    base |
    (mods === MmProt.GUARD_PAGE ? PageProt.GUARD : 0) |
    (mods === MmProt.NOCACHE ? PageProt.NOCACHE : 0) |
    (mods === (MmProt.GUARD_PAGE | MmProt.NOCACHE) ? PageProt.WRITECOMBINE : 0)
  );
}

/**
 * The caching bits a valid x86 PTE gets for an MM_* protection (WRK
 * amd64/i386 mi.h MmProtectToPteMask: MM_PTE_NOCACHE is PCD, bit 4, for
 * PAGE_NOCACHE; PAGE_WRITECOMBINE is MM_PTE_WRITECOMBINE, PCD too until
 * MmEnablePAT overrides it with PWT, bit 3, which selects the
 * write-combining entry Windows programs into the PAT: MI_SET_PTE_WRITE_COMBINE
 * with MiWriteCombiningPtes). Bits 3 and 4 of the low word in all three
 * x86 formats (x64, PAE, 32-bit paging). vmlab assumes the PAT enabled.
 */
export function cacheBits(mm: number): number {
  if ((mm & 7) === 0) return 0;
  const mods = mm & (MmProt.GUARD_PAGE | MmProt.NOCACHE);
  if (mods === MmProt.NOCACHE) return X86_PCD;
  if (mods === (MmProt.GUARD_PAGE | MmProt.NOCACHE)) return X86_PWT;
  return 0;
}
const X86_PWT = 1 << 3;
const X86_PCD = 1 << 4;

/** Rights of an MM_* protection as the hardware grants them (guard and nocache aside). */
export function mmRights(mm: number): { r: boolean; w: boolean; x: boolean; copy: boolean } {
  if (mm === MmProt.NOACCESS || mm === MmProt.DECOMMIT || (mm & 7) === 0)
    return { r: false, w: false, x: false, copy: false };
  const b = mm & 7;
  return {
    r: true,
    w:
      b === MmProt.READWRITE ||
      b === MmProt.EXECUTE_READWRITE ||
      b === MmProt.WRITECOPY ||
      b === MmProt.EXECUTE_WRITECOPY,
    x:
      b === MmProt.EXECUTE ||
      b === MmProt.EXECUTE_READ ||
      b === MmProt.EXECUTE_READWRITE ||
      b === MmProt.EXECUTE_WRITECOPY,
    copy: b === MmProt.WRITECOPY || b === MmProt.EXECUTE_WRITECOPY,
  };
}

/** Is this a guard page's MM_* protection (not MM_DECOMMIT, MM_NOACCESS or a write-combined one)? */
export function isGuard(mm: number): boolean {
  return (mm & (MmProt.GUARD_PAGE | MmProt.NOCACHE)) === MmProt.GUARD_PAGE && (mm & 7) !== 0;
}

/** PAGE_* names, as VirtualQuery's Protect is printed. */
export function protName(win32: number): string {
  if (win32 === 0) return "0";
  const names: [number, string][] = [
    [PageProt.NOACCESS, "PAGE_NOACCESS"],
    [PageProt.READONLY, "PAGE_READONLY"],
    [PageProt.READWRITE, "PAGE_READWRITE"],
    [PageProt.WRITECOPY, "PAGE_WRITECOPY"],
    [PageProt.EXECUTE, "PAGE_EXECUTE"],
    [PageProt.EXECUTE_READ, "PAGE_EXECUTE_READ"],
    [PageProt.EXECUTE_READWRITE, "PAGE_EXECUTE_READWRITE"],
    [PageProt.EXECUTE_WRITECOPY, "PAGE_EXECUTE_WRITECOPY"],
    [PageProt.GUARD, "PAGE_GUARD"],
    [PageProt.NOCACHE, "PAGE_NOCACHE"],
    [PageProt.WRITECOMBINE, "PAGE_WRITECOMBINE"],
  ];
  return names
    .filter(([bit]) => win32 & bit)
    .map(([, n]) => n)
    .join("|");
}

/**
 * MMPTE_TRANSITION: Valid 0, Protection, Prototype 0, Transition 1, the
 * frame in PageFrameNumber (bits 12 and up, as in a valid PTE): a page
 * removed from the working set that is still in memory.
 */
export function mkTransition(pfn: number, protection: number): { hi: number; lo: number } {
  return {
    hi: Math.floor(pfn / 0x100000) >>> 0,
    lo: ((pfn % 0x100000) * 4096 + (protection << SoftPte.PROTECTION_SHIFT) + SoftPte.TRANSITION) >>> 0,
  };
}

/** The frame of a transition PTE. */
export function transitionPfn(hi: number, lo: number): number {
  return (hi & 0xfffff) * 0x100000 + (lo >>> 12);
}

/**
 * A paging-file PTE (MMPTE_SOFTWARE with PageFileLow 0, the first paging
 * file, and PageFileHigh the page's offset in it, never 0: pagefile.ts):
 * what a page leaves behind when its frame is repurposed from the standby
 * list (MiRestoreTransitionPte puts the OriginalPte back).
 */
export function mkPageFile(offset: number, protection: number, wide: boolean): { hi: number; lo: number } {
  const lo = (protection << SoftPte.PROTECTION_SHIFT) >>> 0;
  return wide ? { hi: offset >>> 0, lo } : { hi: 0, lo: (lo | (offset << 12)) >>> 0 };
}

/** PageFileHigh of a paging-file PTE: the page's offset in the paging file. */
export function pageFileOffset(hi: number, lo: number, wide: boolean): number {
  return wide ? hi >>> 0 : lo >>> 12;
}

/**
 * MMPTE_PROTOTYPE: a process PTE that points to the prototype PTE of a
 * shared page (Windows Internals 7th ed., Part 1, ch. 5 "Prototype PTEs":
 * "when a shared page is not valid in a process, its PTE points to the
 * prototype PTE"; WRK mm/amd64 and i386 mipte.h):
 *
 *     x64:   63            16 15     11 10  9  8  7       1 0
 *           +----------------+---------+---+--+--+---------+-+
 *           |  ProtoAddress  |  Prot.  | P |  |RO|         |0|   ProtoAddress: the prototype PTE's
 *           +----------------+---------+---+--+--+---------+-+   kernel address (bits 47..0, signed)
 *     PAE:   ProtoAddress is bits 63..32 (a 32-bit kernel address), Protection bits 15..11.
 *     x86:   31                  11 10  9  8  7          1 0
 *           +---------------------+---+--+--+-------------+-+
 *           |   ProtoAddressHigh  | P |WP|RO| ProtoAddrLow|0|     (address - base) >> 2 split in 7 + 21 bits
 *           +---------------------+---+--+--+-------------+-+
 *
 * Prototype (bit 10) is set; Protection there is the view's when it
 * overrides the prototype's (vmlab keeps the view's protection in the VAD
 * and writes 0 here). On 32-bit paging the address is relative to the
 * prototype PTEs' pool (`base`, MmPagedPoolStart in the WRK; vmlab's are in
 * nonpaged pool: docs/windows.md).
 */
export function mkProtoPointer(
  protoVa: bigint,
  base: bigint,
  wide: boolean,
  x64: boolean,
): { hi: number; lo: number } {
  if (x64) {
    const a = protoVa & 0xffff_ffff_ffffn;
    const v = (a << 16n) | BigInt(SoftPte.PROTOTYPE);
    return { hi: Number((v >> 32n) & 0xffff_ffffn) >>> 0, lo: Number(v & 0xffff_ffffn) >>> 0 };
  }
  if (wide) return { hi: Number(protoVa & 0xffff_ffffn) >>> 0, lo: SoftPte.PROTOTYPE };
  const off = Number((protoVa - base) >> 2n);
  return { hi: 0, lo: (((off >>> 7) << 11) | ((off & 0x7f) << 1) | SoftPte.PROTOTYPE) >>> 0 };
}

/** The prototype PTE's kernel address an MMPTE_PROTOTYPE names (MiPteToProto). */
export function protoPointerVa(hi: number, lo: number, base: bigint, wide: boolean, x64: boolean): bigint {
  if (x64) {
    const a = ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)) >> 16n;
    // sign-extend bit 47 (a kernel address)
    return a & 0x8000_0000_0000n ? a | 0xffff_0000_0000_0000n : a;
  }
  if (wide) return BigInt(hi >>> 0);
  const off = ((lo >>> 11) << 7) | ((lo >>> 1) & 0x7f);
  return base + (BigInt(off >>> 0) << 2n);
}

/**
 * MMPTE_SUBSECTION, as a prototype PTE holds it before its page was ever
 * read: Valid 0, Prototype 1 (in a prototype PTE Prototype means "the page
 * is in the mapped file": the subsection's file and the page's place in
 * it), Protection the section's. vmlab finds the file through the segment
 * and writes no subsection address.
 */
export function mkSubsection(protection: number): { hi: number; lo: number } {
  return { hi: 0, lo: ((protection << SoftPte.PROTECTION_SHIFT) | SoftPte.PROTOTYPE) >>> 0 };
}

/**
 * MI_PTE_LOOKUP_NEEDED (WRK mm/amd64 and i386 mi*.h): PageFileHigh all ones
 * in a PTE whose Prototype bit is set: "the protection field is in the PTE
 * itself" and the prototype PTE must be looked up through the VAD
 * (MiCheckVirtualAddress). x64 and PAE: 0xFFFFFFFF in the high word; 32-bit
 * paging: 0xFFFFF in bits 31..12.
 */
const LOOKUP_NEEDED_WIDE = 0xffff_ffff;
const LOOKUP_NEEDED_NARROW = 0xfffff;

/**
 * The PTE VirtualProtect leaves in a view page that is not valid in the
 * process (WRK mm/protect.c MiSetProtectionOnSection: `TempPte =
 * PrototypePte; TempPte.u.Soft.Protection = ProtectionMask`): Prototype
 * set, PageFileHigh MI_PTE_LOOKUP_NEEDED, the new MM_* protection in bits
 * 5..9 (MMPTE_SOFTWARE's Protection).
 */
export function mkProtoLookup(protection: number, wide: boolean): { hi: number; lo: number } {
  const lo = ((protection << SoftPte.PROTECTION_SHIFT) | SoftPte.PROTOTYPE) >>> 0;
  return wide ? { hi: LOOKUP_NEEDED_WIDE, lo } : { hi: 0, lo: (lo | (LOOKUP_NEEDED_NARROW << 12)) >>> 0 };
}

/** The protection an MI_PTE_LOOKUP_NEEDED prototype-format PTE holds, or -1 when the PTE is not one. */
export function protoLookupProtection(hi: number, lo: number, wide: boolean): number {
  if ((lo & (SoftPte.VALID | SoftPte.PROTOTYPE)) !== SoftPte.PROTOTYPE) return -1;
  const high = wide ? hi >>> 0 : lo >>> 12;
  return high === (wide ? LOOKUP_NEEDED_WIDE : LOOKUP_NEEDED_NARROW) ? softProtection(lo) : -1;
}
