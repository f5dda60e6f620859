/**
 * The Windows profile's memory through two Sysinternals tools (issue #21):
 *
 * - VMMap's summary of a process (learn.microsoft.com/sysinternals/downloads/vmmap;
 *   its help, "Memory Types"): the address space by memory type (Image,
 *   Mapped File, Shareable, Heap, Managed Heap, Stack, Private Data, Page
 *   Table, Unusable, Free) with Size, Committed, Private, the working set
 *   (Total, Private, Shareable), Blocks and the Largest block.
 * - RAMMap's Use Counts (learn.microsoft.com/sysinternals/downloads/rammap;
 *   "Introduction to the new Sysinternals tool: RAMMap", Ask the Performance
 *   Team, 2010; Windows Sysinternals Administrator's Reference ch. 14): every
 *   physical page by use (Process Private, Mapped File, Shareable, Page
 *   Table, Paged Pool, Nonpaged Pool, System PTE, ...) and by page list
 *   (Active, Standby, Modified, Modified no write, Transition, Zeroed, Free,
 *   Bad).
 *
 * A VAD's memory type comes from its VadInfo type and use (os/windows
 * index.ts): private VADs are Private Data unless a stack or a heap,
 * mapped ones Shareable (a paging-file section) or Mapped File, image ones
 * Image. Sizes print in K, as both tools do.
 *
 * The kernel under the profile is the Linux-shaped one: its own frames are
 * counted where Windows keeps the like: slab and large kmalloc pages with
 * the Nonpaged Pool (the kernel's resident heap), the kernel image, vmalloc
 * and alloc_pages frames and the page descriptors (struct page, Windows'
 * PFN database) under System PTE (system space mapped page by page);
 * firmware-reserved frames are not counted, as RAMMap counts only the pages
 * the memory manager owns.
 */
import type { Task } from "../core/task.ts";
import { PageKind } from "../mm/PageDesc.ts";
import type { VadInfo, WindowsOs } from "../os/windows/index.ts";
import { GRANULARITY_PAGES } from "../os/windows/layout.ts";
import { PfnList } from "../os/windows/pfn.ts";
import { mmInfo } from "./mm.ts";
import { walkInfo } from "./pagetable.ts";

/** VMMap's types, in its summary's order. */
export const VMMAP_TYPES = [
  "Image",
  "Mapped File",
  "Shareable",
  "Heap",
  "Managed Heap",
  "Stack",
  "Private Data",
  "Page Table",
  "Unusable",
  "Free",
] as const;

/** One row of VMMap's summary, in pages. */
export interface VmmapRow {
  type: string;
  size: number;
  committed: number;
  private: number;
  totalWs: number;
  privateWs: number;
  shareableWs: number;
  blocks: number;
  largest: number;
}

/** VMMap's memory type of a VAD. */
export function vmmapType(v: VadInfo): (typeof VMMAP_TYPES)[number] {
  if (v.type === "image") return "Image";
  if (v.type === "mapped")
    return v.detail === undefined || v.detail === "Pagefile section" ? "Shareable" : "Mapped File";
  if (v.use === "stack") return "Stack";
  if (v.use === "heap") return "Heap";
  return "Private Data";
}

/** VMMap's summary of `t`: the Total row first, then one row per type. */
export function vmmap(os: WindowsOs, t: Task): VmmapRow[] {
  const rows = new Map<string, VmmapRow>(VMMAP_TYPES.map((type) => [type, emptyRow(type)]));
  const add = (type: string, pages: number, f: Partial<VmmapRow>) => {
    const r = rows.get(type)!;
    r.size += pages;
    r.blocks++;
    r.largest = Math.max(r.largest, pages);
    r.committed += f.committed ?? 0;
    r.private += f.private ?? 0;
    r.totalWs += f.totalWs ?? 0;
    r.privateWs += f.privateWs ?? 0;
    r.shareableWs += f.shareableWs ?? 0;
  };
  const vads = os.vads(t.mm!);
  // user space as VirtualQuery walks it: from 0 to MM_HIGHEST_USER_ADDRESS
  const userPages = Number((os.layout.highestUserAddress + 1n) / 4096n);
  let cursor = 0;
  const free = (to: number) => {
    if (to > cursor) add("Free", to - cursor, {});
  };
  vads.forEach((v, i) => {
    const start = Number(v.start / 4096n);
    const end = Number(v.end / 4096n);
    free(start);
    const pages = end - start;
    const type = vmmapType(v);
    const priv = v.type === undefined || v.type === "private";
    add(type, pages, {
      committed: v.committedPages,
      private: priv ? v.committedPages : 0,
      totalWs: v.residentPages,
      privateWs: priv ? v.residentPages : 0,
      shareableWs: priv ? 0 : v.residentPages,
    });
    // Unusable: the rest of the last 64 KB the reservation started (the allocation granularity)
    const next = i + 1 < vads.length ? Number(vads[i + 1].start / 4096n) : userPages;
    const granule = Math.min(Math.ceil(end / GRANULARITY_PAGES) * GRANULARITY_PAGES, next, userPages);
    if (granule > end) add("Unusable", granule - end, {});
    cursor = Math.max(end, granule);
  });
  free(userPages);
  // the process's page tables: the pages below the top level and the top-level table itself
  const info = mmInfo(os.k, t);
  const pt = info === null ? 0 : info.ptPages + 1;
  if (pt > 0) add("Page Table", pt, { committed: pt, private: pt, totalWs: pt, privateWs: pt });
  const out = [...rows.values()];
  const total = emptyRow("Total");
  // VMMap's Total is the address space in use: every row but Free
  for (const r of out) {
    if (r.type === "Free") continue;
    total.size += r.size;
    total.committed += r.committed;
    total.private += r.private;
    total.totalWs += r.totalWs;
    total.privateWs += r.privateWs;
    total.shareableWs += r.shareableWs;
    total.blocks += r.blocks;
    total.largest = Math.max(total.largest, r.largest);
  }
  return [total, ...out];
}

/** K with thousands separators, as VMMap and RAMMap print sizes. */
const kb = (pages: number) => `${(pages * 4).toLocaleString("en-US")} K`;

/** Text columns right-aligned, each at least `min` wide and two wider than its widest cell. */
function table(head: string[], rows: string[][], min: number): string[] {
  const w = head.map((h, i) =>
    i === 0
      ? Math.max(...rows.map((r) => r[0].length), h.length) + 2
      : Math.max(min, h.length + 2, ...rows.map((r) => r[i].length + 2)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(w[0]) : c.padStart(w[i])))
      .join("")
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

/** VMMap's summary table. */
export function formatVmmap(rows: VmmapRow[]): string[] {
  const blank = (v: number) => (v === 0 ? "" : kb(v));
  return table(
    ["Type", "Size", "Committed", "Private", "Total WS", "Private WS", "Shareable WS", "Blocks", "Largest"],
    rows.map((r) => [
      r.type,
      blank(r.size),
      blank(r.committed),
      blank(r.private),
      blank(r.totalWs),
      blank(r.privateWs),
      blank(r.shareableWs),
      r.blocks === 0 ? "" : String(r.blocks),
      blank(r.largest),
    ]),
    12,
  );
}

// ---- RAMMap ----

/** RAMMap's Use Counts rows and columns, in its order. */
export const RAMMAP_USES = [
  "Process Private",
  "Mapped File",
  "Shareable",
  "Page Table",
  "Paged Pool",
  "Nonpaged Pool",
  "System PTE",
  "Session Private",
  "Metafile",
  "AWE",
  "Driver Locked",
  "Kernel Stack",
  "Unused",
  "Large Page",
] as const;
export const RAMMAP_LISTS = [
  "Active",
  "Standby",
  "Modified",
  "Modified no write",
  "Transition",
  "Zeroed",
  "Free",
  "Bad",
] as const;

/** Use Counts: pages by use (rows) and list (columns); `total` is the Total row. */
export interface RammapCounts {
  rows: { use: string; pages: number[]; total: number }[];
  total: number[];
}

/** Frames the pools map now (resident) or left on the lists (trimmed: their owner is the kernel). */
function poolFrames(os: WindowsOs): { paged: Set<number>; nonpaged: Set<number> } {
  const k = os.k;
  const out = { paged: new Set<number>(), nonpaged: new Set<number>() };
  for (const [pool, set] of [
    [os.kmem.paged, out.paged],
    [os.kmem.nonpaged, out.nonpaged],
  ] as const) {
    if (pool.startVpn < 0) continue;
    for (let i = 0; i < pool.use.length; i++) {
      if (pool.use[i] === 0) continue;
      const w = walkInfo(k, "kernel", k.va.canonical(pool.startVpn + i));
      if (w.leaf !== null) set.add(w.leaf.pfn);
    }
  }
  // only the paged pool is ever trimmed (kmem.ts)
  for (const [pfn, owner] of os.db.owners)
    if (owner.mm === null && owner.proto === undefined) out.paged.add(pfn);
  return out;
}

const KIND_USE: Partial<Record<number, string>> = {
  [PageKind.UserAnon]: "Process Private",
  [PageKind.PageCache]: "Mapped File",
  [PageKind.PageTable]: "Page Table",
  [PageKind.Slab]: "Nonpaged Pool",
  [PageKind.KmallocLarge]: "Nonpaged Pool",
  [PageKind.KernelImage]: "System PTE",
  [PageKind.Vmalloc]: "System PTE",
  [PageKind.KernelPages]: "System PTE",
  [PageKind.Memmap]: "System PTE",
};

/** RAMMap's Use Counts over every frame. */
export function rammap(os: WindowsOs): RammapCounts {
  const k = os.k;
  const db = os.db;
  const pools = poolFrames(os);
  const grid = new Map<string, number[]>(RAMMAP_USES.map((u) => [u, RAMMAP_LISTS.map(() => 0)]));
  const col = (name: (typeof RAMMAP_LISTS)[number]) => RAMMAP_LISTS.indexOf(name);
  for (let pfn = 0; pfn < k.pages.nrFrames; pfn++) {
    const kind = k.pages.kind[pfn];
    const list = db.list[pfn];
    if (kind === PageKind.Reserved) continue;
    let use: string;
    let c: number;
    if (list === PfnList.Zeroed) [use, c] = ["Unused", col("Zeroed")];
    else if (kind === PageKind.Free) [use, c] = ["Unused", col("Free")];
    else {
      use = pools.paged.has(pfn)
        ? "Paged Pool"
        : pools.nonpaged.has(pfn)
          ? "Nonpaged Pool"
          : (KIND_USE[kind] ?? "System PTE");
      c =
        list === PfnList.Standby
          ? col("Standby")
          : list === PfnList.Modified
            ? col("Modified")
            : col("Active");
    }
    grid.get(use)![c]++;
  }
  const total = RAMMAP_LISTS.map(() => 0);
  const rows = RAMMAP_USES.map((use) => {
    const pages = grid.get(use)!;
    pages.forEach((n, i) => {
      total[i] += n;
    });
    return { use, pages, total: pages.reduce((a, b) => a + b, 0) };
  });
  return { rows, total };
}

/** RAMMap's Use Counts table (K). */
export function formatRammap(r: RammapCounts): string[] {
  const cell = (n: number) => (n === 0 ? "" : kb(n));
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return table(
    ["Usage", ...RAMMAP_LISTS, "Total"],
    [
      ...r.rows.map((row) => [row.use, ...row.pages.map(cell), cell(row.total)]),
      ["Total", ...r.total.map(cell), cell(sum(r.total))],
    ],
    10,
  );
}

/** A VMMap row with nothing in it yet. */
function emptyRow(type: string): VmmapRow {
  return {
    type,
    size: 0,
    committed: 0,
    private: 0,
    totalWs: 0,
    privateWs: 0,
    shareableWs: 0,
    blocks: 0,
    largest: 0,
  };
}
