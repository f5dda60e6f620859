/**
 * The simulated state through the views kernel engineers already read
 * (issue #21): crash's `vtop` (crash-utility memory.c do_vtop, x86_64.c
 * x86_64_uvtop_level4 / x86_64_kvtop / x86_64_translate_pte, memory.c
 * vm_area_dump and dump_mem_map) and /proc/PID/pagemap
 * (Documentation/admin-guide/mm/pagemap.rst; fs/proc/task_mmu.c
 * pagemap_pmd_range, pte_to_pagemap_entry).
 *
 * crash's column widths are the architecture's (defs.h VADDR_PRLEN and
 * UVADDR_PRLEN: 16 and 10 on x86_64 and arm64, 16 and 16 on riscv64, 8 and 8
 * on 32-bit x86; MINSPACE one space; PADDR_PRLEN the width of the largest
 * physical address in hex) and its justification is mkstring's. The walks
 * of RISC-V and 32-bit x86 are crashRiscv64.ts and crashX86.ts.
 *
 * What vmlab does not model shows as `-`: vm_area_struct, anon_vma and
 * address_space objects have no kernel addresses here (VMAs are not
 * allocated from the vm_area_struct slab), so the VMA column and a page's
 * MAPPING are dashes; page->flags carries the PG_* bits and the zone
 * (at the architecture's ZONES_PGSHIFT: 52 on x86_64 and arm64 with
 * NODES_SHIFT 10, 62 on RISC-V without NUMA, 30 of 32 bits on i386), not
 * LAST_CPUPID.
 */

import type { CrashVtopStyle } from "../core/archView.ts";
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import { frameHstate } from "../mm/hugetlb_vma.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { riscv64Walk } from "./crashRiscv64.ts";
import {
  CENTER,
  hex,
  hexN,
  LJUST,
  mkstring,
  pteTable,
  RJUST,
  SWAP_DEVICE,
  swapTable,
  type VtopWalk,
} from "./crashText.ts";
import { x86Walk } from "./crashX86.ts";
import { pageInfo, softDirtyVmas, vmaInfos } from "./mm.ts";
import { walkInfo } from "./pagetable.ts";
import type { VmaInfo, WalkEntry, WalkInfo } from "./types.ts";

export { SWAP_DEVICE } from "./crashText.ts";

/** Linux's enum pageflags bit of each vmlab PageFlag, and the name crash prints (pageflag_names). */
const PG_BITS: [PageFlag, number, string][] = [
  [PageFlag.Locked, 0, "locked"],
  [PageFlag.Referenced, 2, "referenced"],
  [PageFlag.Dirty, 4, "dirty"],
  [PageFlag.Lru, 5, "lru"],
  [PageFlag.Head, 6, "head"],
  [PageFlag.Active, 8, "active"],
  [PageFlag.Workingset, 9, "workingset"],
  [PageFlag.Reclaim, 16, "reclaim"],
  [PageFlag.SwapBacked, 17, "swapbacked"],
  [PageFlag.Mlocked, 19, "mlocked"],
  // PG_anon_exclusive = PG_owner_2 (include/linux/page-flags.h); crash names bits from the
  // kernel's pageflag_names (include/trace/events/mmflags.h), which calls it owner_2
  [PageFlag.AnonExclusive, 11, "owner_2"],
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
export const PG_UNEVICTABLE = 18;
export const PG_OWNER_2 = 11;

/**
 * The frame's PG_* bits as Linux would hold them, from vmlab's struct page
 * (k.pages) and LRU lists (k.vmscan): bit -> pageflag name. PG_lru and
 * PG_active from the list the page is on (a page waiting in an LRU add
 * batch has no PG_lru, and PG_active only if folio_mark_accessed set it
 * there), PG_swapbacked for an anonymous
 * page that is not lazyfree (folio_add_new_anon_rmap; MADV_FREE clears it),
 * PG_uptodate for user and page-cache pages, PG_reserved for boot's frames,
 * PG_mlocked as the page keeps it (mm/mlock_fbatch.ts) and PG_unevictable
 * on the unevictable list.
 */
export function pgBits(k: KernelCore, pfn: number): Map<number, string> {
  const p = k.pages;
  const kind = p.kind[pfn];
  const bits = new Map<number, string>();
  for (const [f, bit, name] of PG_BITS) if (p.flags[pfn] & f) bits.set(bit, name);
  const batch = k.vmscan.fbatches;
  const lru = k.vmscan.lru[pfn];
  if (lru !== 0) bits.set(PG_LRU, "lru");
  if (lru === 5) bits.set(PG_UNEVICTABLE, "unevictable");
  const to = lru === 0 && batch.has(pfn) ? batch.list[pfn] : lru;
  if (to === 2 || to === 4) bits.set(PG_ACTIVE, "active");
  if (k.vmscan.referenced[pfn]) bits.set(PG_REFERENCED, "referenced");
  if (kind === PageKind.UserAnon && !(p.flags[pfn] & PageFlag.Lazyfree))
    bits.set(PG_SWAPBACKED, "swapbacked");
  if (kind === PageKind.UserAnon || kind === PageKind.PageCache) bits.set(PG_UPTODATE, "uptodate");
  // a HugeTLB folio in use: up to date from its fault (__folio_mark_uptodate); a shared mapping's,
  // in its inode's page cache, dirty too (hugetlb_add_to_page_cache: folio_mark_dirty)
  const h = frameHstate(k.userMm.hstates, p.order, pfn);
  if (kind === PageKind.Hugetlb && h.active.has(pfn)) {
    bits.set(PG_UPTODATE, "uptodate");
    if (!h.anon.has(pfn)) bits.set(PG_DIRTY, "dirty");
  }
  if (kind === PageKind.Reserved || kind === PageKind.KernelImage) bits.set(PG_RESERVED, "reserved");
  return bits;
}

/**
 * page->flags as Linux keeps it: the PG_* bits and the zone above them at
 * the architecture's ZONES_PGSHIFT (x86_64, arm64: 52); and their names in
 * bit order.
 */
export function linuxPageFlags(k: KernelCore, pfn: number): { value: bigint; names: string[] } {
  const bits = pgBits(k, pfn);
  let value = BigInt(k.pages.zone[pfn]) << (k.arch.view.crash?.zonesPgshift ?? 52n);
  for (const bit of bits.keys()) value |= 1n << BigInt(bit);
  return { value, names: [...bits.keys()].sort((a, b) => a - b).map((b) => bits.get(b)!) };
}

/** dump_mem_map for one frame: the header and the struct page's line (vmemmap or mem_map + pfn * sizeof(struct page)). */
function memMapLines(k: KernelCore, s: CrashVtopStyle, pfn: number, index: number | null): string[] {
  const V = s.vaddrPrlen;
  const pprlen = Math.max(hexN(k.machine.phys.sizeBytes).length, "PHYSICAL".length);
  const hdr = `${mkstring("PAGE", V, CENTER)} ${mkstring("PHYSICAL", pprlen, RJUST)} ${mkstring("MAPPING", V, CENTER | RJUST)} ${mkstring("INDEX", 8, CENTER | RJUST)}CNT FLAGS`;
  const memMap = s.memMap?.() ?? k.layout.vmemmap;
  const page = hexN(memMap + BigInt(pfn) * BigInt(s.structPageSize)).padEnd(V);
  const phys = hexN(BigInt(pfn) * 4096n).padStart(pprlen);
  const { value, names } = linuxPageFlags(k, pfn);
  const cnt = String(k.pages.refcount[pfn]).padStart(2);
  // style4 with a mapping (its address is not modelled: `-`), style3 without one
  const mid =
    index !== null
      ? `${"-".padStart(V)} ${hexN(index).padStart(8)}`
      : `${mkstring("-------", V, CENTER | RJUST)} ${mkstring("-----", 8, CENTER | RJUST)}`;
  return [hdr, `${page} ${phys} ${mid} ${cnt} ${hexN(value)}${names.length ? ` ${names.join(",")}` : ""}`];
}

/** vm_area_dump of the VMA holding the address: the header and its line (PRINT_VMA_DATA). */
function vmaLines(s: CrashVtopStyle, v: VmaInfo): string[] {
  const [V, U] = [s.vaddrPrlen, s.uvaddrPrlen];
  return [
    `${mkstring("VMA", V, CENTER | LJUST)} ${mkstring("START", U, CENTER | RJUST)} ${mkstring("END", U, CENTER | RJUST)}  FLAGS FILE`,
    `${mkstring("-", V, CENTER | LJUST)} ${mkstring(hexN(v.start), U, RJUST)} ${mkstring(hexN(v.end), U, RJUST)} ${hexN(v.flags).padStart(6)} ${v.file?.path ?? ""}`,
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
  const flags = k.arch.view.crash!.pteFlags(leaf.hi, leaf.lo);
  return [page, "", ...pteTable(hex(leaf.hi, leaf.lo), hexN(leaf.basePfn * 4096), flags)];
}

/** x86_64_uvtop_level4, x86_64_kvtop and arm64_vtop_4level_4k as vmlab prints them. */
function walk64(k: KernelCore, w: WalkInfo, va: bigint, user: boolean): VtopWalk {
  const arm64 = k.arch.view.crash!.layout === "arm64";
  const lines: string[] = [];
  const leaf = w.leaf;
  if (arm64 || !user) {
    if (arm64 && w.rootPfn >= 0) lines.push(`PAGE DIRECTORY: ${hexN(pgdVa(k, w.rootPfn))}`);
    else if (!arm64) {
      // PGD DIRECTORY: swapper_pg_dir's address; PAGE DIRECTORY: the PGD entry's value
      lines.push(`PGD DIRECTORY: ${hexN(pgdVa(k, w.rootPfn))}`);
      const top = w.entries[0];
      if (top !== undefined) lines.push(`PAGE DIRECTORY: ${hex(top.hi, top.lo)}`);
    }
  }
  for (const e of !arm64 && !user ? w.entries.slice(1) : w.entries) lines.push(entryLine(k, e));
  if (leaf !== null) lines.push(...leafLines(k, w, user));
  else if (user && w.swapSlot >= 0) {
    const pte = w.entries.at(-1)!;
    lines.push("", ...swapTable(k, pte.hi, pte.lo));
  }
  return { lines, mapped: leaf !== null, pa: leaf === null ? 0n : BigInt(leaf.pa) + (va & 0xfffn) };
}

/** The architecture's verbose uvtop (`user`) or kvtop of `va`. */
function archWalk(k: KernelCore, s: CrashVtopStyle, w: WalkInfo, va: bigint, user: boolean): VtopWalk {
  switch (s.layout) {
    case "riscv64":
      return riscv64Walk(k, w, va, pgdVa(k, w.rootPfn));
    case "x86":
    case "x86-pae":
      return x86Walk(k, w, va, pgdVa(k, w.rootPfn), user);
    default:
      return walk64(k, w, va, user);
  }
}

/**
 * crash's `vtop ADDR` (memory.c do_vtop) in a process's context (uvtop)
 * or of a kernel address (kvtop through swapper_pg_dir), in the
 * architecture's layout (ArchView.crash: x86-64, arm64, RISC-V, 32-bit
 * x86). Other architectures get one line saying crash's layout for them is
 * not modelled yet.
 */
export function crashVtop(k: KernelCore, who: Task | "kernel", va: bigint): string[] {
  const style = k.arch.view.crash;
  if (style === undefined)
    return [`vtop: crash's output for ${k.arch.name} is not modelled yet (x86-64, arm64, RISC-V, i386)`];
  const V = style.vaddrPrlen;
  const isKernel = who === "kernel" || va >= k.layout.userEnd;
  const vlen = isKernel ? V : style.uvaddrPrlen;
  const out = [`${mkstring("VIRTUAL", vlen, LJUST)}  ${mkstring("PHYSICAL", V, LJUST)}`];
  const vaText = mkstring(hexN(va), vlen, LJUST);
  const nrFrames = BigInt(k.pages.nrFrames);
  if (!isKernel) {
    const t = who as Task;
    const vma = t.mm ? vmaInfos(k, t).find((v) => va >= v.start && va < v.end) : undefined;
    if (vma === undefined) return [...out, `${vaText}  (not accessible)`, ""];
    const w = walkInfo(k, t, va);
    const r = archWalk(k, style, w, va, true);
    out.push(`${vaText}  ${r.mapped ? mkstring(hexN(r.pa), V, LJUST) : "(not mapped)"}`, "", ...r.lines);
    out.push("", ...vmaLines(style, vma));
    if (!r.mapped) {
      if (w.swapSlot >= 0) out.push("", `SWAP: ${SWAP_DEVICE}  OFFSET: ${w.swapSlot}`);
      else if (vma.file !== null)
        out.push(
          "",
          `FILE: ${vma.file.path}  OFFSET: ${hexN((va - vma.start + BigInt(vma.pgoff) * 4096n) & ~0xfffn)}`,
        );
      return out;
    }
    const special = w.leaf !== null && k.arch.pgtable.special(w.leaf.hi, w.leaf.lo);
    const index = special ? null : vma.pgoff + (w.vpn - vma.startVpn);
    const pfn = r.pa >> 12n;
    out.push("", ...(pfn < nrFrames ? memMapLines(k, style, Number(pfn), index) : []));
    return out;
  }
  if (!k.va.isCanonical(va) || va < k.layout.userEnd || style.isKvaddr?.(va) === false) {
    return [...out, `${hexN(va).padEnd(8)}  (not a kernel virtual address)`, ""];
  }
  const w = walkInfo(k, "kernel", va);
  // kvtop's first, quiet call: VTOP outside the ranges it walks, else the walk's answer
  const direct = style.kvtopDirect?.(va) ?? null;
  const r = archWalk(k, style, w, va, false);
  const exists = direct !== null || r.mapped;
  out.push(
    `${vaText}  ${exists ? mkstring(hexN(direct ?? r.pa), V, LJUST) : "(not mapped)"}`,
    "",
    ...r.lines,
  );
  out.push("");
  // *paddr after the verbose call: the walk's, or where it failed VTOP's (riscv64 zeroes it before walking)
  const pa = r.mapped ? r.pa : style.layout === "riscv64" ? 0n : (direct ?? 0n);
  if (exists && pa >> 12n < nrFrames) out.push(...memMapLines(k, style, Number(pa >> 12n), null));
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

/**
 * A guard region's PTE is a swap entry of the last swap type, SWP_PTE_MARKER
 * ((1 << MAX_SWAPFILES_SHIFT) - 1 = 31), its offset the marker's bits:
 * PTE_MARKER_GUARD = BIT(2) (include/linux/swapops.h, swap.h). pagemap
 * reports it as PM_SWAP | PM_GUARD_REGION with that type and offset.
 */
export const SWP_PTE_MARKER = 31;
export const PTE_MARKER_GUARD = 4;
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
  const softDirtyArch = softDirtyVmas(k);
  const vmas = t.mm ? vmaInfos(k, t) : [];
  for (let v = vpn; v < vpn + count; v++) {
    const vma = vmas.find((m) => v >= m.startVpn && v < m.endVpn);
    const p = pageInfo(k, t, v);
    let entry = 0n;
    const e: PagemapEntry = {
      va: BigInt(v) * 4096n,
      entry: 0n,
      present: p.present,
      // a guard marker is a swap PTE too: PM_SWAP with the marker's type and offset
      swapped: p.swapSlot >= 0 || p.guard,
      fileShared: false,
      exclusive: false,
      softDirty: softDirtyArch && vma !== undefined,
      guard: p.guard,
      pfn: p.present ? p.pfn : 0,
      swapType: p.guard ? SWP_PTE_MARKER : 0,
      swapOffset: p.guard ? PTE_MARKER_GUARD : Math.max(p.swapSlot, 0),
    };
    if (p.present) {
      entry |= PM_PRESENT | BigInt(p.pfn);
      // vm_normal_page: none for the zero page and PFN maps; a page that is not PageAnon is PM_FILE
      const normal = !p.zeroPage;
      // a HugeTLB folio (pagemap_hugetlb_range): PM_FILE unless a private mapping's anonymous folio
      const h = frameHstate(k.userMm.hstates, k.pages.order, p.pfn);
      const anon = p.hugetlb === true ? h.anon.has(p.pfn - (p.pfn % h.nrPages)) : p.anon;
      e.fileShared = normal && !anon;
      e.exclusive = normal && p.mapcount === 1;
    } else if (e.swapped) {
      entry |= PM_SWAP | BigInt(e.swapType) | (BigInt(e.swapOffset) << 5n);
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
    if (e.swapped) f.push(`${e.guard ? "swap marker" : "swapped"} type ${e.swapType} offset ${e.swapOffset}`);
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
