/**
 * The simulated state through the views kernel engineers already read
 * (issue #21): crash's `vtop` (crash-utility memory.c do_vtop, x86_64.c
 * x86_64_uvtop_level4 / x86_64_kvtop / x86_64_translate_pte, memory.c
 * vm_area_dump and dump_mem_map) and /proc/PID/pagemap
 * (Documentation/admin-guide/mm/pagemap.rst; fs/proc/task_mmu.c
 * pagemap_pmd_range, pte_to_pagemap_entry).
 *
 * crash's column widths are its own on 64-bit machines (defs.h: VADDR_PRLEN 16,
 * UVADDR_PRLEN 10, MINSPACE one space; PADDR_PRLEN the width of the
 * largest physical address in hex) and its justification is mkstring's.
 *
 * What vmlab does not model shows as `-`: vm_area_struct, anon_vma and
 * address_space objects have no kernel addresses here (VMAs are not
 * allocated from the vm_area_struct slab), so the VMA column and a page's
 * MAPPING are dashes; page->flags carries the PG_* bits and the zone
 * (NODES_SHIFT 10: ZONES_PGSHIFT 52), not LAST_CPUPID.
 */

import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { pageInfo, vmaInfos } from "./mm.ts";
import { walkInfo } from "./pagetable.ts";
import type { VmaInfo, WalkEntry, WalkInfo } from "./types.ts";

/** The swap device vtop and /proc/swaps name (vmlab has one swap area, type 0). */
export const SWAP_DEVICE = "/swapfile";

const CENTER = 1;
const LJUST = 2;
const RJUST = 4;

/** crash's mkstring: `s` justified in `size` columns (never cut). */
function mkstring(s: string, size: number, flags: number): string {
  const extra = size - s.length;
  if (extra <= 0) return s;
  if (flags & CENTER) {
    let left = extra >> 1;
    let right = extra >> 1;
    if (extra % 2) {
      if (flags & RJUST) left++;
      else right++;
    }
    return " ".repeat(left) + s + " ".repeat(right);
  }
  return flags & RJUST ? s.padStart(size) : s.padEnd(size);
}

const VADDR_PRLEN = 16;
const UVADDR_PRLEN = 10;

const hex = (hi: number, lo: number): string => ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16);
const hexN = (n: number | bigint): string => n.toString(16);

/** translate_pte (x86_64_translate_pte, arm64_translate_pte) of a present (or PROT_NONE) entry, or of a swap entry. */
function translatePte(k: KernelCore, e: { hi: number; lo: number }, pa: number | null): string[] {
  const pte = hex(e.hi, e.lo);
  const len1 = Math.max(pte.length, 3);
  if (pa === null) {
    // a swap entry: SWAP and OFFSET
    const offset = String(k.arch.pgtable.swapOffset(e.hi, e.lo));
    const len2 = Math.max(SWAP_DEVICE.length, 4);
    const len3 = Math.max(offset.length, 6);
    return [
      `${mkstring("PTE", len1, CENTER | LJUST)}  ${mkstring("SWAP", len2, CENTER | LJUST)}  ${mkstring("OFFSET", len3, CENTER | LJUST)}`,
      `${mkstring(pte, len1, CENTER | RJUST)}  ${mkstring(SWAP_DEVICE, len2, CENTER | RJUST)}  ${mkstring(offset, len3, CENTER | RJUST)}`,
    ];
  }
  const phys = hexN(pa);
  const len2 = Math.max(phys.length, 8);
  return [
    `${mkstring("PTE", len1, CENTER | LJUST)}  ${mkstring("PHYSICAL", len2, CENTER | LJUST)}  FLAGS`,
    `${mkstring(pte, len1, CENTER | RJUST)}  ${mkstring(phys, len2, CENTER | RJUST)}  ${k.arch.view.crash!.pteFlags(e.hi, e.lo)}`,
  ];
}

/** Linux's enum pageflags bit of each vmlab PageFlag, and the name crash prints (pageflag_names). */
const PG_BITS: [PageFlag, number, string][] = [
  [PageFlag.Locked, 0, "locked"],
  [PageFlag.Referenced, 2, "referenced"],
  [PageFlag.Dirty, 4, "dirty"],
  [PageFlag.Lru, 5, "lru"],
  [PageFlag.Head, 6, "head"],
  [PageFlag.Active, 8, "active"],
  [PageFlag.Reclaim, 16, "reclaim"],
  [PageFlag.SwapBacked, 17, "swapbacked"],
  [PageFlag.Mlocked, 19, "mlocked"],
  // PG_anon_exclusive = PG_owner_2 (include/linux/page-flags.h)
  [PageFlag.AnonExclusive, 11, "anon_exclusive"],
];
export const PG_LOCKED = 0;
export const PG_DIRTY = 4;
export const PG_RECLAIM = 16;
export const PG_REFERENCED = 2;
export const PG_UPTODATE = 3;
export const PG_LRU = 5;
export const PG_ACTIVE = 8;
export const PG_RESERVED = 13;
export const PG_SWAPBACKED = 17;
export const PG_MLOCKED = 19;
const ZONES_PGSHIFT = 52n;

/**
 * The frame's PG_* bits as Linux would hold them, from vmlab's struct page
 * (k.pages) and LRU lists (k.vmscan): bit -> pageflag name. PG_lru and
 * PG_active from the list the page is on, PG_swapbacked for an anonymous
 * page that is not lazyfree (folio_add_new_anon_rmap; MADV_FREE clears it),
 * PG_uptodate for user and page-cache pages, PG_reserved for boot's frames.
 */
export function pgBits(k: KernelCore, pfn: number): Map<number, string> {
  const p = k.pages;
  const kind = p.kind[pfn];
  const bits = new Map<number, string>();
  for (const [f, bit, name] of PG_BITS) if (p.flags[pfn] & f) bits.set(bit, name);
  const lru = k.vmscan.lru[pfn];
  if (lru !== 0) bits.set(PG_LRU, "lru");
  if (lru === 2 || lru === 4) bits.set(PG_ACTIVE, "active");
  if (k.vmscan.referenced[pfn]) bits.set(PG_REFERENCED, "referenced");
  if (kind === PageKind.UserAnon && !(p.flags[pfn] & PageFlag.Lazyfree))
    bits.set(PG_SWAPBACKED, "swapbacked");
  if (kind === PageKind.UserAnon || kind === PageKind.PageCache) bits.set(PG_UPTODATE, "uptodate");
  if (kind === PageKind.Reserved || kind === PageKind.KernelImage) bits.set(PG_RESERVED, "reserved");
  return bits;
}

/** page->flags as Linux keeps it: the PG_* bits and the zone above them; and their names in bit order. */
export function linuxPageFlags(k: KernelCore, pfn: number): { value: bigint; names: string[] } {
  const bits = pgBits(k, pfn);
  let value = BigInt(k.pages.zone[pfn]) << ZONES_PGSHIFT;
  for (const bit of bits.keys()) value |= 1n << BigInt(bit);
  return { value, names: [...bits.keys()].sort((a, b) => a - b).map((b) => bits.get(b)!) };
}

/** dump_mem_map for one frame: the header and the struct page's line. */
function memMapLines(k: KernelCore, pfn: number, index: number | null): string[] {
  const pprlen = Math.max(hexN(k.machine.phys.sizeBytes).length, "PHYSICAL".length);
  const hdr = `${mkstring("PAGE", VADDR_PRLEN, CENTER)} ${mkstring("PHYSICAL", pprlen, RJUST)} ${mkstring("MAPPING", VADDR_PRLEN, CENTER | RJUST)} ${mkstring("INDEX", 8, CENTER | RJUST)}CNT FLAGS`;
  const page = hexN(k.layout.vmemmap + BigInt(pfn) * 64n).padEnd(VADDR_PRLEN);
  const phys = hexN(pfn * 4096).padStart(pprlen);
  const { value, names } = linuxPageFlags(k, pfn);
  const cnt = String(k.pages.refcount[pfn]).padStart(2);
  // style4 with a mapping (its address is not modelled: `-`), style3 without one
  const mid =
    index !== null
      ? `${"-".padStart(VADDR_PRLEN)} ${hexN(index).padStart(8)}`
      : `${mkstring("-------", VADDR_PRLEN, CENTER | RJUST)} ${mkstring("-----", 8, CENTER | RJUST)}`;
  return [hdr, `${page} ${phys} ${mid} ${cnt} ${hexN(value)}${names.length ? ` ${names.join(",")}` : ""}`];
}

/** vm_area_dump of the VMA holding the address: the header and its line. */
function vmaLines(v: VmaInfo): string[] {
  return [
    `${mkstring("VMA", VADDR_PRLEN, CENTER | LJUST)} ${mkstring("START", UVADDR_PRLEN, CENTER | RJUST)} ${mkstring("END", UVADDR_PRLEN, CENTER | RJUST)}  FLAGS FILE`,
    `${mkstring("-", VADDR_PRLEN, CENTER | LJUST)} ${mkstring(hexN(v.start), UVADDR_PRLEN, RJUST)} ${mkstring(hexN(v.end), UVADDR_PRLEN, RJUST)} ${hexN(v.flags).padStart(6)} ${v.file?.path ?? ""}`,
  ];
}

/** The walk's lines and where it ends: crash prints each entry as `NAME: ENTRY-ADDRESS => VALUE`. */
function entryLine(k: KernelCore, e: WalkEntry): string {
  const at = k.arch.view.crash!.layout === "arm64" ? k.arch.directVa(e.entryPa) : e.entryPa;
  return `   ${e.linuxLevel}: ${hexN(at)} => ${hex(e.hi, e.lo)}`;
}

/** The address crash names a walk's PGD by: swapper_pg_dir in the kernel image, or a PGD page in the direct map. */
function pgdVa(k: KernelCore, rootPfn: number): bigint {
  const img = k.arch.image;
  return rootPfn >= img.startPfn && rootPfn < img.endPfn
    ? k.layout.kernelMap + BigInt(rootPfn * 4096)
    : k.arch.directVa(rootPfn * 4096);
}

/** `PAGE:` and the translated entry of a leaf, as x86_64_uvtop_level4 / x86_64_kvtop print them. */
function leafLines(k: KernelCore, w: WalkInfo, user: boolean): string[] {
  const leaf = w.leaf!;
  const base = hexN(leaf.basePfn * 4096);
  const zero =
    leaf.basePfn === k.zeroPfn || (k.userMm.hugeZeroPfn >= 0 && leaf.basePfn === k.userMm.hugeZeroPfn);
  const page =
    leaf.pageSize === "4K"
      ? `  PAGE: ${base}  ${user && zero ? "(ZERO PAGE)" : ""}`
      : `  PAGE: ${base}  (${leaf.pageSize === "2M" ? "2MB" : "1GB"}${user && zero ? ", ZERO PAGE" : ""})`;
  return [page, "", ...translatePte(k, leaf, leaf.basePfn * 4096)];
}

/**
 * crash's `vtop ADDR` in a process's context (uvtop) or of a kernel
 * address (kvtop through swapper_pg_dir), in the architecture's layout
 * (ArchView.crash: x86-64, arm64). Other architectures get one line saying
 * crash's layout for them is not modelled yet.
 */
export function crashVtop(k: KernelCore, who: Task | "kernel", va: bigint): string[] {
  const style = k.arch.view.crash;
  if (style === undefined)
    return [`vtop: crash's output for ${k.arch.name} is not modelled yet (x86-64 and arm64)`];
  const isKernel = who === "kernel" || va >= k.layout.userEnd;
  const out: string[] = [];
  const vlen = isKernel ? VADDR_PRLEN : UVADDR_PRLEN;
  out.push(`${mkstring("VIRTUAL", vlen, LJUST)}  ${mkstring("PHYSICAL", VADDR_PRLEN, LJUST)}`);
  const vaText = mkstring(hexN(va), vlen, LJUST);
  if (!isKernel) {
    const t = who as Task;
    const vma = t.mm ? vmaInfos(k, t).find((v) => va >= v.start && va < v.end) : undefined;
    if (vma === undefined) return [...out, `${vaText}  (not accessible)`, ""];
    const w = walkInfo(k, t, va);
    const mapped = w.leaf !== null;
    out.push(`${vaText}  ${mapped ? mkstring(hexN(w.leaf!.pa), VADDR_PRLEN, LJUST) : "(not mapped)"}`, "");
    if (style.layout === "arm64" && w.rootPfn >= 0) out.push(`PAGE DIRECTORY: ${hexN(pgdVa(k, w.rootPfn))}`);
    for (const e of w.entries) out.push(entryLine(k, e));
    if (mapped) out.push(...leafLines(k, w, true));
    else if (w.swapSlot >= 0) {
      const pte = w.entries.at(-1)!;
      out.push("", ...translatePte(k, pte, null));
    }
    out.push("", ...vmaLines(vma));
    if (!mapped) {
      if (w.swapSlot >= 0) out.push("", `SWAP: ${SWAP_DEVICE}  OFFSET: ${w.swapSlot}`);
      else if (vma.file !== null)
        out.push(
          "",
          `FILE: ${vma.file.path}  OFFSET: ${hexN((va - vma.start + BigInt(vma.pgoff) * 4096n) & ~0xfffn)}`,
        );
      return out;
    }
    const pfn = w.leaf!.pfn;
    const special = k.arch.pgtable.special(w.leaf!.hi, w.leaf!.lo);
    const index = special ? null : vma.pgoff + (w.vpn - vma.startVpn);
    out.push("", ...(pfn < k.pages.nrFrames ? memMapLines(k, pfn, index) : []));
    return out;
  }
  if (!k.va.isCanonical(va) || va < k.layout.userEnd) {
    return [...out, `${hexN(va).padEnd(8)}  (not a kernel virtual address)`, ""];
  }
  const w = walkInfo(k, "kernel", va);
  const mapped = w.leaf !== null;
  out.push(`${vaText}  ${mapped ? mkstring(hexN(w.leaf!.pa), VADDR_PRLEN, LJUST) : "(not mapped)"}`, "");
  if (style.layout === "arm64") {
    out.push(`PAGE DIRECTORY: ${hexN(pgdVa(k, w.rootPfn))}`);
    for (const e of w.entries) out.push(entryLine(k, e));
  } else {
    // PGD DIRECTORY: swapper_pg_dir's address; PAGE DIRECTORY: the PGD entry's value
    out.push(`PGD DIRECTORY: ${hexN(pgdVa(k, w.rootPfn))}`);
    const [top, ...rest] = w.entries;
    if (top !== undefined) out.push(`PAGE DIRECTORY: ${hex(top.hi, top.lo)}`);
    for (const e of rest) out.push(entryLine(k, e));
  }
  if (mapped) out.push(...leafLines(k, w, false));
  out.push("");
  if (mapped && w.leaf!.pfn < k.pages.nrFrames) out.push(...memMapLines(k, w.leaf!.pfn, null));
  return out;
}

/** One page's /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
export interface PagemapEntry {
  va: bigint;
  /** the 64-bit entry */
  entry: bigint;
  present: boolean;
  swapped: boolean;
  /** bit 61: a file page or shared anonymous memory */
  fileShared: boolean;
  /** bit 56: the page is mapped once (page_mapcount == 1) */
  exclusive: boolean;
  /** bit 55: the PTE is soft-dirty (x86: every page of a VMA never cleared by clear_refs) */
  softDirty: boolean;
  /** bit 58: a guard region (MADV_GUARD_INSTALL, Linux 6.15) */
  guard: boolean;
  /** bits 0-54 when present: the frame (as root reads it) */
  pfn: number;
  /** when swapped: bits 0-4 the type, 5-54 the offset */
  swapType: number;
  swapOffset: number;
}

const PM_SOFT_DIRTY = 1n << 55n;
const PM_MMAP_EXCLUSIVE = 1n << 56n;
const PM_GUARD_REGION = 1n << 58n;
const PM_FILE = 1n << 61n;
const PM_SWAP = 1n << 62n;
const PM_PRESENT = 1n << 63n;

/**
 * /proc/PID/pagemap for `count` pages from `vpn`, as pagemap_read fills it
 * for a reader with CAP_SYS_ADMIN (others read PFN 0). Soft-dirty is set
 * where the architecture has it (x86: HAVE_ARCH_SOFT_DIRTY) for every page
 * of a VMA, VM_SOFTDIRTY being set at mmap and vmlab having no clear_refs.
 */
export function pagemap(k: KernelCore, t: Task, vpn: number, count: number): PagemapEntry[] {
  const out: PagemapEntry[] = [];
  const softDirtyArch = k.arch.name.startsWith("x86_64");
  const vmas = t.mm ? vmaInfos(k, t) : [];
  for (let v = vpn; v < vpn + count; v++) {
    const vma = vmas.find((m) => v >= m.startVpn && v < m.endVpn);
    const p = pageInfo(k, t, v);
    let entry = 0n;
    const e: PagemapEntry = {
      va: BigInt(v) * 4096n,
      entry: 0n,
      present: p.present,
      swapped: p.swapSlot >= 0,
      fileShared: false,
      exclusive: false,
      softDirty: softDirtyArch && vma !== undefined,
      guard: p.guard,
      pfn: p.present ? p.pfn : 0,
      swapType: 0,
      swapOffset: Math.max(p.swapSlot, 0),
    };
    if (p.present) {
      entry |= PM_PRESENT | BigInt(p.pfn);
      // vm_normal_page: none for the zero page and PFN maps; a page that is not PageAnon is PM_FILE
      const normal = !p.zeroPage;
      e.fileShared = normal && !p.anon;
      e.exclusive = normal && p.mapcount === 1;
    } else if (e.swapped) {
      entry |= PM_SWAP | (BigInt(e.swapOffset) << 5n);
      // a swapped-out shmem page is not a PTE swap entry; a private anon one is never PM_FILE
    }
    if (e.fileShared) entry |= PM_FILE;
    if (e.exclusive) entry |= PM_MMAP_EXCLUSIVE;
    if (e.softDirty) entry |= PM_SOFT_DIRTY;
    if (e.guard) entry |= PM_GUARD_REGION;
    e.entry = entry;
    out.push(e);
  }
  return out;
}

/** `show P pagemap`: one line per page, the entry and its fields decoded. */
export function formatPagemap(entries: PagemapEntry[]): string[] {
  const lines = ["ADDRESS            ENTRY               FIELDS"];
  for (const e of entries) {
    const f: string[] = [];
    if (e.present) f.push(`present pfn 0x${hexN(e.pfn)}`);
    if (e.swapped) f.push(`swapped type ${e.swapType} offset ${e.swapOffset}`);
    if (e.fileShared) f.push("file/shared-anon");
    if (e.exclusive) f.push("exclusive");
    if (e.softDirty) f.push("soft-dirty");
    if (e.guard) f.push("guard");
    lines.push(
      `0x${hexN(e.va).padStart(16, "0")} 0x${hexN(e.entry).padStart(16, "0")}  ${f.length ? f.join(", ") : "(nothing)"}`,
    );
  }
  return lines;
}
