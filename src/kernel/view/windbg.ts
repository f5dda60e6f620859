/**
 * The Windows profile's state through WinDbg's kernel-debugger extensions
 * (issue #21), as the Debugging Tools for Windows reference pages show them
 * (learn.microsoft.com/windows-hardware/drivers/debuggercmds/-pte, -pfn,
 * -vad, -poolused; kdexts.dll):
 *
 * - `!pte VA`: the entries of the walk (x64: PXE, PPE, PDE, PTE; x86: PDE,
 *   PTE; PAE: PDE, PTE, its PDPTEs being in no page of the self-map), each
 *   with its address in the page-table self-map, `contains VALUE`, and
 *   `pfn N FLAGS` for a valid entry, its flags in the page's letter order
 *   (C G L D A N T U/K W/R E V); an invalid one decoded as MmAccessFault
 *   reads it (mmpte.ts): demand zero, transition, paging file, prototype.
 * - `!pfn N`: the frame's MMPFN (pfn.ts PfnDatabase): its address in the
 *   PFN database, flink, blink / share count, PteAddress, reference count,
 *   color, priority, the OriginalPte (restore pte), the containing page
 *   table's frame, the page location (MMLISTS) and the Modified flag.
 * - `!vad`: the process's VAD tree in address order: level in the AVL tree,
 *   start and end VPN, commit charge, Private or Mapped, protection.
 * - `!poolused`: the pool tagging table (PoolTrackTable): per tag, the
 *   allocations outstanding and the bytes they use, nonpaged and paged.
 *
 * The self-map addresses are Windows' fixed ones before Windows 10 1607
 * randomized PTE_BASE (WRK mm/amd64/miamd.h and mm/i386/mi386.h: PXE_BASE
 * 0xFFFFF6FB7DBED000, PPE_BASE 0xFFFFF6FB7DA00000, PDE_BASE
 * 0xFFFFF6FB40000000, PTE_BASE 0xFFFFF68000000000; x86 PDE_BASE 0xC0300000,
 * PAE 0xC0600000, PTE_BASE 0xC0000000). The model does not map its tables
 * there (its kernel keeps Linux's direct map): the addresses are where
 * Windows would read each entry. What the model has no object for (a VAD's
 * pool address) prints as `-`.
 */
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import { PageKind } from "../mm/PageDesc.ts";
import type { WindowsOs } from "../os/windows/index.ts";
import {
  MmProt,
  pageFileOffset,
  protoLookupProtection,
  SoftKind,
  SoftPte,
  softKind,
  softProtection,
  transitionPfn,
} from "../os/windows/mmpte.ts";
import { PfnList } from "../os/windows/pfn.ts";
import { winProcess } from "../os/windows/process.ts";
import type { Vad } from "../os/windows/vad.ts";
import { walkInfo } from "./pagetable.ts";
import { tableTree } from "./tableTree.ts";

/** Which of Windows' x86 page-table formats the machine runs. */
export type WinPaging = "x64" | "x86" | "pae";

export function winPaging(k: KernelCore): WinPaging {
  return k.arch.pgtable.levels === 4 ? "x64" : k.arch.pgtable.entryBytes === 8 ? "pae" : "x86";
}

const X64_BASES: [string, bigint, bigint, bigint][] = [
  // name, base, shift of va, mask of the offset (8-byte entries)
  ["PXE", 0xffff_f6fb_7dbe_d000n, 36n, 0xff8n],
  ["PPE", 0xffff_f6fb_7da0_0000n, 27n, 0x1f_fff8n],
  ["PDE", 0xffff_f6fb_4000_0000n, 18n, 0x3fff_fff8n],
  ["PTE", 0xffff_f680_0000_0000n, 9n, 0x7f_ffff_fff8n],
];

/**
 * The self-map addresses of va's entries, top first (MiGetPxeAddress,
 * MiGetPpeAddress, MiGetPdeAddress, MiGetPteAddress).
 */
export function selfMapAddresses(paging: WinPaging, va: bigint): { name: string; at: bigint }[] {
  if (paging === "x64") {
    const v = va & 0xffff_ffff_ffffn;
    return X64_BASES.map(([name, base, shift, mask]) => ({ name, at: base + ((v >> shift) & mask) }));
  }
  const v = va & 0xffff_ffffn;
  return paging === "x86"
    ? [
        { name: "PDE", at: 0xc030_0000n + ((v >> 22n) << 2n) },
        { name: "PTE", at: 0xc000_0000n + ((v >> 12n) << 2n) },
      ]
    : [
        { name: "PDE", at: 0xc060_0000n + ((v >> 21n) << 3n) },
        { name: "PTE", at: 0xc000_0000n + ((v >> 12n) << 3n) },
      ];
}

/** An entry's hex as WinDbg prints it: 16 digits for 64-bit entries, 8 on 32-bit paging, upper case. */
function entryHex(paging: WinPaging, v: bigint): string {
  return v
    .toString(16)
    .toUpperCase()
    .padStart(paging === "x86" ? 8 : 16, "0");
}

const big = (hi: number, lo: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/**
 * The status letters of a valid entry, in !pte's order: C copy-on-write
 * (0x200, Windows' software bit), G global (0x100), L large page (0x80, a
 * PDE or PPE only), D dirty, A accessed, N cache disabled, T write-through,
 * U or K owner, W or R, E executable (always E where the hardware has no
 * execute-disable bit: 32-bit paging), V valid.
 */
export function pteFlags(paging: WinPaging, hi: number, lo: number, level: number): string {
  const b = (bit: number, c: string) => (lo & bit ? c : "-");
  const nx = paging !== "x86" && (hi & 0x8000_0000) !== 0;
  return [
    b(0x200, "C"),
    b(0x100, "G"),
    level > 0 ? b(0x80, "L") : "-",
    b(0x40, "D"),
    b(0x20, "A"),
    b(0x10, "N"),
    b(0x8, "T"),
    lo & 0x4 ? "U" : "K",
    lo & 0x2 ? "W" : "R",
    nx ? "-" : "E",
    "V",
  ].join("");
}

/** MM_* protections as !pte names them in a software PTE's `Protect:` line. */
export function mmProtName(mm: number): string {
  if (mm === MmProt.NOACCESS) return "NoAccess";
  if (mm === MmProt.DECOMMIT) return "Decommitted";
  const base = [
    "NoAccess",
    "ReadOnly",
    "Execute",
    "ExecuteRead",
    "ReadWrite",
    "WriteCopy",
    "ExecuteReadWrite",
    "ExecuteWriteCopy",
  ][mm & 7];
  const mods = mm & (MmProt.GUARD_PAGE | MmProt.NOCACHE);
  const mod =
    mods === MmProt.GUARD_PAGE
      ? " Guard"
      : mods === MmProt.NOCACHE
        ? " NoCache"
        : mods !== 0
          ? " WriteCombine"
          : "";
  return base + mod;
}

/** One column of !pte: an entry of the walk. */
export interface PteColumn {
  /** PXE, PPE, PDE, PTE */
  name: string;
  /** its address in the self-map */
  at: bigint;
  /** what it contains, or null where the walk did not reach it */
  value: bigint | null;
  valid: boolean;
  /** a valid entry's frame and status letters */
  pfn: number;
  flags: string;
  /** a large page's PDE (or PPE): this column is the 4 KiB frame it maps */
  largePfn: number;
  /** an invalid entry decoded (SoftKind name, and the lines !pte prints under it) */
  soft: { kind: string; lines: string[] } | null;
}

/** `!pte VA`: the walk as WinDbg shows it. */
export interface PteView {
  va: bigint;
  paging: WinPaging;
  columns: PteColumn[];
}

const SOFT_NAMES = ["zero", "demand-zero", "decommitted", "transition", "prototype", "pagefile"];

/** The lines !pte prints under an invalid entry (MMPTE_SOFTWARE, _TRANSITION, _PROTOTYPE; mmpte.ts). */
function decodeSoft(paging: WinPaging, hi: number, lo: number): { kind: string; lines: string[] } {
  const kind = softKind(hi, lo, paging !== "x86");
  const prot = ` Protect: ${softProtection(lo).toString(16)} - ${mmProtName(softProtection(lo))}`;
  const lines = ["not valid"];
  switch (kind) {
    case SoftKind.Zero:
      break;
    case SoftKind.DemandZero:
    case SoftKind.Decommitted:
      lines.push(" DemandZero", prot);
      break;
    case SoftKind.Transition:
      lines.push(` Transition: ${transitionPfn(hi, lo).toString(16)}`, prot);
      break;
    case SoftKind.PageFile:
      lines.push(
        ` PageFile:  ${(lo & SoftPte.PAGEFILE_LOW_MASK) >>> SoftPte.PAGEFILE_LOW_SHIFT}`,
        ` Offset: ${pageFileOffset(hi, lo, paging !== "x86").toString(16)}`,
        prot,
      );
      break;
    case SoftKind.Prototype: {
      // MI_PTE_LOOKUP_NEEDED (a view page VirtualProtect changed): the protection is in the PTE, the
      // prototype PTE is found through the VAD
      if (protoLookupProtection(hi, lo, paging !== "x86") >= 0) {
        lines.push(" Proto: VAD", prot);
        break;
      }
      // MMPTE_PROTOTYPE.ProtoAddress: x64 bits 16..63 (sign-extended), PAE the high word; 32-bit
      // paging splits it (ProtoAddressLow bits 1..7, High 11..31: an offset from MmProtopte_Base)
      const proto =
        paging === "x64"
          ? BigInt.asUintN(64, BigInt.asIntN(48, big(hi, lo) >> 16n))
          : paging === "pae"
            ? BigInt(hi >>> 0)
            : BigInt((((lo >>> 11) << 9) | (((lo >>> 1) & 0x7f) << 2)) >>> 0);
      lines.push(` Proto: ${entryHex(paging, proto)}`);
      break;
    }
  }
  return { kind: SOFT_NAMES[kind], lines };
}

/**
 * `!pte VA` in `who`'s address space (a process, or the kernel's tables):
 * the walk's entries with their self-map addresses.
 */
export function pteView(k: KernelCore, who: Task | "kernel", va: bigint): PteView {
  const paging = winPaging(k);
  const w = walkInfo(k, who, va);
  const names = selfMapAddresses(paging, va);
  // PAE: the PDPTEs are not in the self-map and !pte does not show them
  const entries = paging === "pae" ? w.entries.slice(1) : w.entries;
  const columns: PteColumn[] = names.map(({ name, at }) => ({
    name,
    at,
    value: null,
    valid: false,
    pfn: -1,
    flags: "",
    largePfn: -1,
    soft: null,
  }));
  const top = names.length - 1;
  for (const e of entries) {
    const col = columns[top - e.level];
    if (col === undefined) continue;
    col.value = big(e.hi, e.lo);
    col.valid = e.present;
    if (e.present) {
      col.pfn = e.nextPfn;
      col.flags = pteFlags(paging, e.hi, e.lo, e.level);
      if (e.leaf && e.level > 0) {
        // a large page: the PTE column names the 4 KiB frame of va inside it
        const pages = k.arch.pgtable.ptrsPerTable ** e.level;
        columns[top].largePfn = e.nextPfn + (Number(k.va.vpn(va)) % pages);
      }
    } else col.soft = decodeSoft(paging, e.hi, e.lo);
  }
  return { va, paging, columns };
}

/** !pte's text: the VA, then the columns side by side (27 characters each). */
export function formatPte(v: PteView): string[] {
  const W = 27;
  const vaText = v.va
    .toString(16)
    .padStart(v.paging === "x64" ? 16 : 8, "0")
    .slice(v.paging === "x64" ? -16 : -8);
  const cols = v.columns;
  const row = (cells: string[]) => cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(W) : c)).join("");
  const lines = [`${" ".repeat(v.paging === "x64" ? 43 : 20)}VA ${vaText}`, ""];
  lines.push(row(cols.map((c) => `${c.name} at ${entryHex("x64", c.at).slice(v.paging === "x64" ? 0 : 8)}`)));
  const reached = cols.filter((c) => c.value !== null || c.largePfn >= 0);
  lines.push(
    row(reached.map((c) => (c.value !== null ? `contains ${entryHex(v.paging, c.value)}` : ""))).trimEnd(),
  );
  lines.push(
    row(
      reached.map((c) =>
        c.largePfn >= 0
          ? `LARGE PAGE pfn ${c.largePfn.toString(16)}`
          : c.valid
            ? `pfn ${c.pfn.toString(16).padEnd(10)}${c.flags}`
            : (c.soft?.lines[0] ?? ""),
      ),
    ).trimEnd(),
  );
  const bad = reached.find((c) => c.soft !== null);
  if (bad) {
    const indent = " ".repeat(W * cols.indexOf(bad));
    for (const l of bad.soft!.lines.slice(1)) lines.push(indent + l);
  }
  return lines;
}

// ---- !pfn ----

/** MMLISTS (PageLocation) as !pfn names them. */
const LOCATION_NAMES = [
  "Zeroed",
  "Free",
  "Standby",
  "Modified",
  "ModifiedNoWrite",
  "Bad",
  "Active",
  "Transition",
];

/** `!pfn N`: one frame's MMPFN. */
export interface PfnView {
  pfn: number;
  /** its MMPFN's address: MmPfnDatabase + pfn * sizeof(MMPFN) */
  address: bigint;
  /** u1.Flink: the next frame on its list (0: none, or not on a list) */
  flink: number;
  /** u2.Blink on a list, else u2.ShareCount: the PTEs that map it */
  blinkOrShareCount: number;
  /** PteAddress: the self-map address of the PTE that maps it (0: none) */
  pteAddress: bigint;
  referenceCount: number;
  color: number;
  priority: number;
  /** OriginalPte: what the PTE becomes when the page leaves memory */
  restorePte: bigint;
  /** u4.PteFrame: the page-table page holding that PTE */
  containingPage: number;
  /** MMLISTS name */
  location: string;
  modified: boolean;
  /** what vmlab's frame holds (PageKind), for the reader */
  use: string;
}

/** MmPfnDatabase and sizeof(MMPFN): x64 0xFFFFFA8000000000 and 0x30 (Windows 7); x86 as the !pfn page's example, 0x18; PAE 0x1C. */
function pfnDatabase(paging: WinPaging): { base: bigint; size: bigint } {
  if (paging === "x64") return { base: 0xffff_fa80_0000_0000n, size: 0x30n };
  return { base: 0x8235_0000n, size: paging === "pae" ? 0x1cn : 0x18n };
}

/** Secondary page colors (MmSecondaryColors): 64 assumed. */
const COLORS = 64;

interface PteRef {
  mm: Task["mm"] | null;
  va: bigint;
}

/** The PTE that maps `pfn`: a process's (valid or transition) or a pool page's, else null. */
function findPte(os: WindowsOs, pfn: number): PteRef | null {
  const k = os.k;
  const owner = os.db.owners.get(pfn);
  // (a section page's PTE is its prototype PTE, in no process's or the pools' self-map range)
  if (owner !== undefined && owner.proto === undefined)
    return { mm: owner.mm, va: BigInt(owner.vpn) * 4096n };
  if (k.pages.kind[pfn] === PageKind.UserAnon)
    for (const t of k.tasks) {
      if (!t.alive || t.mm === null || !t.mm.osState) continue;
      for (const v of os.vads(t.mm)) {
        if (v.residentPages === 0 && v.committedPages === 0) continue;
        for (let vpn = Number(v.start / 4096n); vpn < Number(v.end / 4096n); vpn++) {
          const w = walkInfo(k, t, BigInt(vpn) * 4096n);
          const e = w.entries.at(-1);
          if (e === undefined || e.level !== 0) {
            // no table below: skip the span the missing (or leaf) entry covers
            vpn = spanEnd(k, vpn, e?.level ?? k.levels - 1);
            continue;
          }
          const hit =
            (w.leaf !== null && w.leaf.pfn === pfn) ||
            (!e.present && e.lo & SoftPte.TRANSITION && transitionPfn(e.hi, e.lo) === pfn);
          if (hit) return { mm: t.mm, va: BigInt(vpn) * 4096n };
        }
      }
    }
  for (const pool of [os.kmem.paged, os.kmem.nonpaged]) {
    if (pool.startVpn < 0) continue;
    for (let i = 0; i < pool.use.length; i++) {
      if (pool.use[i] === 0) continue;
      const w = walkInfo(k, "kernel", k.va.canonical(pool.startVpn + i));
      if (w.leaf !== null && w.leaf.pfn === pfn) return { mm: null, va: k.va.canonical(pool.startVpn + i) };
    }
  }
  return null;
}

/**
 * A process's page-table page in the self-map: the table that covers
 * firstVpn at `level` is itself the page of its first entry's self-map
 * address, so the PTE that maps it is MiGetPteAddress of that page (the
 * entry one level up: a page table's PDE; the top table's own
 * self-referencing entry), and its containing page is the table one level
 * up (the top one contains itself). PAE's PDPT is in no page of the
 * self-map: null.
 */
function tableOwner(os: WindowsOs, pfn: number): { pteAddress: bigint; containingPage: number } | null {
  const k = os.k;
  const paging = winPaging(k);
  for (const t of k.tasks) {
    if (!t.alive || t.mm === null || !t.mm.osState) continue;
    const table = tableTree(k, t).tables.find((x) => x.pfn === pfn);
    if (table === undefined) continue;
    const names = selfMapAddresses(paging, BigInt(table.firstVpn) * 4096n);
    const self = names[names.length - 1 - table.level];
    if (self === undefined) return null;
    const pteAddress = selfMapAddresses(paging, self.at & ~0xfffn).at(-1)!.at;
    // PAE: the four page directories are mapped through the one that covers 0xC0000000 (its PDEs at C0603000)
    const pae = paging === "pae" && table.level === 1;
    const up = walkInfo(k, t, pae ? 0xc000_0000n : BigInt(table.firstVpn) * 4096n).entries.find(
      (e) => e.level === (pae ? 1 : table.level + 1),
    );
    return { pteAddress, containingPage: up?.tablePfn ?? pfn };
  }
  return null;
}

/** The last vpn of the span an entry at `level` covers (a walk that stopped there skips it). */
function spanEnd(k: KernelCore, vpn: number, level: number): number {
  const span = k.arch.pgtable.ptrsPerTable ** level;
  return Math.floor(vpn / span) * span + span - 1;
}

/** The valid and transition entries of a page-table page (its share count: Windows Internals, "PFN data structures"). */
function tableShareCount(os: WindowsOs, pfn: number): number {
  const k = os.k;
  const pt = k.arch.pgtable;
  let n = 0;
  for (let i = 0; i < pt.ptrsPerTable; i++) {
    const pa = pfn * 4096 + i * pt.entryBytes;
    const lo = k.machine.phys.read32(pa);
    const hi = pt.entryBytes === 8 ? k.machine.phys.read32(pa + 4) : 0;
    if (pt.accessible(hi, lo) || lo & 1 || lo & SoftPte.TRANSITION) n++;
  }
  return n;
}

/** `!pfn N` of frame `pfn` (in RAM: the caller checks). */
export function pfnView(os: WindowsOs, pfn: number): PfnView {
  const k = os.k;
  const db = os.db;
  const paging = winPaging(k);
  const kind = k.pages.kind[pfn];
  const list = db.list[pfn];
  const location =
    list === PfnList.Zeroed
      ? 0
      : list === PfnList.Standby
        ? 2
        : list === PfnList.Modified
          ? 3
          : kind === PageKind.Free
            ? 1
            : 6;
  let flink = 0;
  let blink = 0;
  const neighbours = (order: number[]) => {
    const i = order.indexOf(pfn);
    flink = order[i + 1] ?? 0;
    blink = order[i - 1] ?? 0;
  };
  // a standby page's neighbours are on its priority's list (MmStandbyPageListByPriority)
  if (location === 2) neighbours([...db.standbyByPriority[db.priority[pfn]]]);
  else if (location === 3) neighbours([...db.modifiedList]);
  // the zeroed list is taken from its end (pfn.ts takeFrame pops): the head is the last pushed
  else if (location === 0) neighbours([...db.zeroed].reverse());
  const ref = location === 6 || location === 2 || location === 3 ? findPte(os, pfn) : null;
  let pteAddress = 0n;
  let containingPage = 0;
  if (ref !== null) {
    pteAddress = selfMapAddresses(paging, ref.va).at(-1)!.at;
    const task = ref.mm === null ? "kernel" : k.tasks.find((t) => t.mm === ref.mm && t.alive);
    const w = task === undefined ? null : walkInfo(k, task, ref.va);
    containingPage = w?.entries.at(-1)?.tablePfn ?? 0;
  } else if (kind === PageKind.PageTable) {
    const t = tableOwner(os, pfn);
    if (t !== null) ({ pteAddress, containingPage } = t);
  }
  // u2: Blink on a list; ShareCount when active (a page table's: its valid and transition entries;
  // any other active page here is mapped once: a process's, a pool page, or the kernel's own)
  const share = location !== 6 ? blink : kind === PageKind.PageTable ? tableShareCount(os, pfn) : 1;
  const protection = db.originalProtection[pfn];
  const off = db.pageFileOffset[pfn];
  const soft = BigInt(protection << SoftPte.PROTECTION_SHIFT);
  const restorePte =
    off > 0 ? (paging === "x86" ? soft | (BigInt(off) << 12n) : soft | (BigInt(off) << 32n)) : soft;
  const { base, size } = pfnDatabase(paging);
  return {
    pfn,
    address: base + BigInt(pfn) * size,
    flink,
    blinkOrShareCount: share,
    pteAddress,
    referenceCount: location === 6 ? 1 : 0,
    color: pfn % COLORS,
    // MMPFN.u3.e1.Priority: the page priority of the thread that allocated it (pfn.ts)
    priority: db.priority[pfn],
    restorePte,
    containingPage,
    location: LOCATION_NAMES[location],
    modified: db.modified[pfn] === 1,
    use: PAGE_USE[kind] ?? "kernel",
  };
}

const PAGE_USE: Record<number, string> = {
  [PageKind.Free]: "free",
  [PageKind.Reserved]: "reserved (firmware)",
  [PageKind.KernelImage]: "kernel image",
  [PageKind.PageTable]: "page table",
  [PageKind.Slab]: "kernel heap (slab)",
  [PageKind.KmallocLarge]: "kernel heap",
  [PageKind.Vmalloc]: "kernel virtual memory",
  [PageKind.KernelPages]: "kernel pages",
  [PageKind.Memmap]: "page descriptors",
  [PageKind.UserAnon]: "process private",
  [PageKind.PageCache]: "file cache",
};

const hexU = (v: bigint | number, n: number) => v.toString(16).toUpperCase().padStart(n, "0");

/** !pfn's text (the x64 layout of current WinDbg; 8 digits for addresses on x86). */
export function formatPfn(v: PfnView, paging: WinPaging): string[] {
  const aw = paging === "x64" ? 16 : 8;
  const flags = v.modified ? "M" : "";
  return [
    `    PFN ${hexU(v.pfn, 8)}      at address ${hexU(v.address, aw)}`,
    `    flink       ${hexU(v.flink, 8)}  blink / share count ${hexU(v.blinkOrShareCount, 8)}  pteaddress ${hexU(v.pteAddress, aw)}`,
    `    reference count ${hexU(v.referenceCount, 4)}    used entry count  0000      Cached    color ${v.color}   Priority ${v.priority}`,
    `    restore pte ${hexU(v.restorePte, 8)}  containing page        ${hexU(v.containingPage, 6)}  ${v.location.padEnd(10)} ${flags}`.trimEnd(),
    ...(v.modified ? ["    Modified"] : []),
  ];
}

// ---- !vad ----

/** One line of !vad. */
export interface VadRow {
  /** depth in the AVL tree (the root is 0) */
  level: number;
  startVpn: number;
  /** inclusive, as the VAD keeps it */
  endVpn: number;
  /** VadFlags.CommitCharge */
  commit: number;
  /** Private, or Mapped for a section's view */
  type: "Private" | "Mapped";
  image: boolean;
  /** the protection as !vad prints it (READWRITE, EXECUTE_READ, ...) */
  protection: string;
  /** what !vad adds after the protection (a mapped file's name), or "" */
  detail: string;
}

/** MM_* protections as !vad names them (kdexts' protection strings). */
const VAD_PROT = [
  "NO_ACCESS",
  "READONLY",
  "EXECUTE",
  "EXECUTE_READ",
  "READWRITE",
  "WRITECOPY",
  "EXECUTE_READWRITE",
  "EXECUTE_WRITECOPY",
];

/** The two modifier bits (mmpte.ts): none, MM_NOCACHE, MM_GUARD_PAGE, both (write-combined). */
const VAD_MODS = ["", " NOCACHE", " GUARD", " WRITECOMBINE"];

function depths(root: Vad | null): Map<number, number> {
  const out = new Map<number, number>();
  const walk = (n: Vad | null, d: number) => {
    if (n === null) return;
    out.set(n.startVpn, d);
    walk(n.left, d + 1);
    walk(n.right, d + 1);
  };
  walk(root, 0);
  return out;
}

/** `!vad`: the process's VADs in address order with their depth in the tree. */
export function vadRows(os: WindowsOs, t: Task): VadRow[] {
  const mm = t.mm!;
  const tree = winProcess(mm).vads;
  const depth = depths(tree.root);
  return os.vads(mm).map((v) => {
    const startVpn = Number(v.start / 4096n);
    const mapped = v.type === "mapped" || v.type === "image";
    const mmProt = tree.locate(startVpn)!.protection;
    return {
      level: depth.get(startVpn) ?? 0,
      startVpn,
      endVpn: Number(v.end / 4096n) - 1,
      commit: v.commitCharge,
      type: mapped ? "Mapped" : "Private",
      image: v.type === "image",
      protection: VAD_PROT[mmProt & 7] + VAD_MODS[(mmProt >> 3) & 3],
      detail: v.detail ?? "",
    };
  });
}

/** !vad's text: the table and its summary line (Total VADs, average level, maximum depth). */
export function formatVadRows(rows: VadRow[], paging: WinPaging): string[] {
  const aw = paging === "x64" ? 16 : 8;
  const lines = [`${"VAD".padEnd(aw)}  Level     Start       End Commit`];
  for (const r of rows)
    lines.push(
      `${"-".padEnd(aw)} ${String(r.level).padStart(6)} ${r.startVpn.toString(16).padStart(9)} ${r.endVpn.toString(16).padStart(9)} ${String(r.commit).padStart(6)} ${r.type.padEnd(7)} ${r.image ? "Exe " : "    "} ${r.protection}${r.detail ? ` ${r.detail}` : ""}`,
    );
  const n = rows.length;
  const avg = n === 0 ? 0 : Math.floor(rows.reduce((s, r) => s + r.level + 1, 0) / n);
  const max = rows.reduce((m, r) => Math.max(m, r.level + 1), 0);
  lines.push("", `Total VADs: ${n}, average level: ${avg}, maximum depth: ${max}`);
  return lines;
}

// ---- !poolused ----

/** One tag of the pool tagging table, both pools. */
export interface PoolUsedRow {
  tag: string;
  nonpaged: { allocs: number; frees: number; bytes: number };
  paged: { allocs: number; frees: number; bytes: number };
}

/** `!poolused`: the tags in ASCII order (!poolused's default, "Sorting by Tag"). */
export function poolUsedRows(os: WindowsOs): PoolUsedRow[] {
  return [...os.kmem.tracker.rows.values()]
    .map((r) => ({ tag: r.tag, nonpaged: { ...r.nonpaged }, paged: { ...r.paged } }))
    .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

/** pooltag.txt's words for the tags vmlab itself uses. */
const POOLTAG_TXT: Record<string, string> = { None: "<unknown>  - call to ExAllocatePool" };

/**
 * !poolused's summary: per tag the allocations outstanding (Allocs) and the
 * bytes they use (Used), nonpaged then paged, and pooltag.txt's note.
 */
export function formatPoolUsed(rows: PoolUsedRow[]): string[] {
  const n = (v: number, w: number) => String(v).padStart(w);
  const lines = [
    "   Sorting by  Tag",
    "",
    "  Pool Used:",
    "            NonPaged            Paged",
    " Tag    Allocs     Used    Allocs     Used",
  ];
  const total = { na: 0, nb: 0, pa: 0, pb: 0 };
  for (const r of rows) {
    const na = r.nonpaged.allocs - r.nonpaged.frees;
    const pa = r.paged.allocs - r.paged.frees;
    total.na += na;
    total.nb += r.nonpaged.bytes;
    total.pa += pa;
    total.pb += r.paged.bytes;
    const note = POOLTAG_TXT[r.tag.trimEnd()] ?? `UNKNOWN pooltag '${r.tag}', please update pooltag.txt`;
    lines.push(
      ` ${r.tag.padEnd(4)} ${n(na, 8)} ${n(r.nonpaged.bytes, 8)} ${n(pa, 9)} ${n(r.paged.bytes, 8)}${note}`,
    );
  }
  lines.push(` TOTAL ${n(total.na, 7)} ${n(total.nb, 8)} ${n(total.pa, 9)} ${n(total.pb, 8)}`);
  return lines;
}
