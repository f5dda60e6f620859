import type { EntryRef } from "../../hw/mmu/Mapper.ts";
import type { EntryBit } from "../core/archView.ts";
import type { Task } from "../core/task.ts";
import type { Kernel } from "../Kernel.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { permString, VmFlag } from "../mm/vma.ts";

/**
 * /proc/PID/maps (fs/proc/task_mmu.c show_map_vma): start-end, perms,
 * offset (0 for anonymous memory), device, inode, then the name padded
 * to column 73; an unnamed line ends with a space, as Linux's does.
 */
export function procMaps(k: Kernel, t: Task): string[] {
  const mm = t.mm;
  if (!mm) return [];
  return mm.vmas.map((v) => {
    const start = k.va.canonical(v.vmStart).toString(16).padStart(8, "0");
    const end = k.va.canonical(v.vmEnd).toString(16).padStart(8, "0");
    // a file mapping: its offset, the device (sda1 for disk files, a tmpfs superblock's anonymous dev) and inode
    const pfnmap = (v.vmFlags & VmFlag.PFNMAP) !== 0;
    const off = v.file || pfnmap ? (v.vmPgoff * 4096).toString(16).padStart(8, "0") : "00000000";
    const dev = v.file ? (v.file.fs === "disk" ? "08:01" : "00:1a") : pfnmap ? "00:05" : "00:00";
    const head = `${start}-${end} ${permString(v.vmFlags)} ${off} ${dev} ${v.file ? v.file.ino : 0} `;
    return v.name ? head.padEnd(73) + v.name : head;
  });
}

/** One page's state in a process, read without side effects. */
export interface PageState {
  /** the PTE exists and is present, or is a PROT_NONE entry */
  present: boolean;
  /** mapped by a huge PMD (a transparent huge page, or the huge zero page) */
  huge: boolean;
  /** the frame, or -1 */
  pfn: number;
  zeroPage: boolean;
  anon: boolean;
  dirty: boolean;
  writable: boolean;
  /** the PTE is a swap entry: its slot, else -1 */
  swapSlot: number;
}

export function pageState(k: Kernel, t: Task, vpn: number): PageState {
  const none = {
    present: false,
    huge: false,
    pfn: -1,
    zeroPage: false,
    anon: false,
    dirty: false,
    writable: false,
    swapSlot: -1,
  };
  if (!t.mm || !t.alive) return none;
  const pt = k.arch.pgtable;
  const pte = k.userMm.leafFor(t.mm, vpn);
  if (pte !== null && pte.level === 0 && pt.isSwap(pte.hi, pte.lo))
    return { ...none, swapSlot: pt.swapOffset(pte.hi, pte.lo) };
  if (pte === null || !pt.present(pte.hi, pte.lo)) return none;
  const pfn = pte.pfn;
  const zeroPage = pt.special(pte.hi, pte.lo);
  return {
    present: true,
    huge: pte.level === pt.pmdLevel,
    pfn,
    zeroPage,
    anon: !zeroPage && k.pages.kind[pfn] === PageKind.UserAnon,
    dirty: pt.dirty(pte.hi, pte.lo),
    writable: pt.write(pte.hi, pte.lo),
    swapSlot: -1,
  };
}

/** Counts pages of a range (vpn..vpn+n) matching a predicate. */
export function countPages(
  k: Kernel,
  t: Task,
  vpn: number,
  n: number,
  pred: (s: PageState, vpn: number) => boolean,
): number {
  let c = 0;
  for (let v = vpn; v < vpn + n; v++) if (pred(pageState(k, t, v), v)) c++;
  return c;
}

/** Pages of the range inside VM_LOCKED VMAs that are present. */
export function lockedPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(
    k,
    t,
    vpn,
    n,
    (s, v) => s.present && !!t.mm && ((t.mm.vmaAt(v)?.vmFlags ?? 0) & VmFlag.LOCKED) !== 0,
  );
}

/** VmFlags mnemonics (show_smap_vma_flags), the ones vmlab's flags can produce. */
const VMFLAG_MNEMONICS: [number, string][] = [
  [VmFlag.READ, "rd"],
  [VmFlag.WRITE, "wr"],
  [VmFlag.EXEC, "ex"],
  [VmFlag.SHARED, "sh"],
  [VmFlag.MAYREAD, "mr"],
  [VmFlag.MAYWRITE, "mw"],
  [VmFlag.MAYEXEC, "me"],
  [VmFlag.MAYSHARE, "ms"],
  [VmFlag.GROWSDOWN, "gd"],
  [VmFlag.PFNMAP, "pf"],
  [VmFlag.LOCKED, "lo"],
  [VmFlag.IO, "io"],
  [VmFlag.SEQ_READ, "sr"],
  [VmFlag.RAND_READ, "rr"],
  [VmFlag.DONTCOPY, "dc"],
  [VmFlag.DONTEXPAND, "de"],
  [VmFlag.LOCKONFAULT, "lf"],
  [VmFlag.ACCOUNT, "ac"],
  [VmFlag.NORESERVE, "nr"],
  [VmFlag.HUGEPAGE, "hg"],
  [VmFlag.NOHUGEPAGE, "nh"],
  [VmFlag.WIPEONFORK, "wf"],
  [VmFlag.DONTDUMP, "dd"],
];

/** Per-VMA page statistics, as smaps_pte_entry gathers them. */
export interface SmapsStats {
  rss: number;
  pss: number;
  pssDirty: number;
  sharedClean: number;
  sharedDirty: number;
  privateClean: number;
  privateDirty: number;
  referenced: number;
  anonymous: number;
  lazyFree: number;
  locked: number;
  anonHuge: number;
}

export function smapsStats(k: Kernel, t: Task, start: number, end: number, locked: boolean): SmapsStats {
  const s: SmapsStats = {
    rss: 0,
    pss: 0,
    pssDirty: 0,
    sharedClean: 0,
    sharedDirty: 0,
    privateClean: 0,
    privateDirty: 0,
    referenced: 0,
    anonymous: 0,
    lazyFree: 0,
    locked: 0,
    anonHuge: 0,
  };
  if (!t.mm) return s;
  const pt = k.arch.pgtable;
  for (let vpn = start; vpn < end; vpn++) {
    const pte = k.userMm.leafFor(t.mm, vpn);
    if (pte === null || !pt.present(pte.hi, pte.lo) || pt.special(pte.hi, pte.lo)) continue; // the zero page has no struct page here
    const pfn = pte.pfn;
    if (pte.level === pt.pmdLevel) s.anonHuge += 4096;
    const mapcount = Math.max(1, k.pages.mapcount[pfn]);
    const dirty = pt.dirty(pte.hi, pte.lo);
    s.rss += 4096;
    s.pss += 4096 / mapcount;
    if (dirty) s.pssDirty += 4096 / mapcount;
    if (mapcount > 1) {
      if (dirty) s.sharedDirty += 4096;
      else s.sharedClean += 4096;
    } else if (dirty) s.privateDirty += 4096;
    else s.privateClean += 4096;
    if (pt.young(pte.hi, pte.lo)) s.referenced += 4096;
    if (k.pages.kind[pfn] === PageKind.UserAnon) {
      s.anonymous += 4096;
      if (!dirty && k.pages.flags[pfn] & PageFlag.Lazyfree) s.lazyFree += 4096;
    }
  }
  if (locked) s.locked = s.pss;
  return s;
}

/** /proc/PID/smaps: each maps line followed by its fields (show_smap). */
export function procSmaps(k: Kernel, t: Task): string[] {
  const mm = t.mm;
  if (!mm) return [];
  const maps = procMaps(k, t);
  const out: string[] = [];
  const kb = (name: string, bytes: number) =>
    `${`${name}:`.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB`;
  const hpage = k.arch.pgtable.hpagePmdNr;
  mm.vmas.forEach((v, i) => {
    const s = smapsStats(k, t, v.vmStart, v.vmEnd, (v.vmFlags & VmFlag.LOCKED) !== 0);
    out.push(maps[i]);
    out.push(kb("Size", v.pages * 4096));
    out.push(kb("KernelPageSize", 4096));
    out.push(kb("MMUPageSize", 4096));
    out.push(kb("Rss", s.rss));
    out.push(kb("Pss", s.pss));
    out.push(kb("Pss_Dirty", s.pssDirty));
    out.push(kb("Shared_Clean", s.sharedClean));
    out.push(kb("Shared_Dirty", s.sharedDirty));
    out.push(kb("Private_Clean", s.privateClean));
    out.push(kb("Private_Dirty", s.privateDirty));
    out.push(kb("Referenced", s.referenced));
    out.push(kb("Anonymous", s.anonymous));
    out.push(kb("KSM", 0));
    out.push(kb("LazyFree", s.lazyFree));
    out.push(kb("AnonHugePages", s.anonHuge));
    out.push(kb("ShmemPmdMapped", 0));
    out.push(kb("FilePmdMapped", 0));
    out.push(kb("Shared_Hugetlb", 0));
    out.push(kb("Private_Hugetlb", 0));
    out.push(kb("Swap", countPages(k, t, v.vmStart, v.pages, (st) => st.swapSlot >= 0) * 4096));
    out.push(kb("SwapPss", 0));
    out.push(kb("Locked", s.locked));
    const eligible =
      v.pages >= hpage && k.userMm.hugeEligible(v, v.vmStart + ((hpage - (v.vmStart % hpage)) % hpage));
    out.push(`${"THPeligible:".padEnd(16)}${String(eligible ? 1 : 0).padStart(8)}`);
    out.push(
      `VmFlags: ${VMFLAG_MNEMONICS.filter(([f]) => v.vmFlags & f)
        .map(([, m]) => m)
        .join(" ")} `,
    );
  });
  return out;
}

/**
 * `show P pagetable [ADDR]`: the walk of one address through P's tables
 * (each level's entry and flags), or, without ADDR, every present leaf
 * entry of the user half, one line per run of pages.
 */
export function pagetableLines(k: Kernel, t: Task, va: bigint | null): string[] {
  const mm = t.mm;
  if (!mm) return [];
  const mapper = k.userMm.mapper(mm);
  const pt = k.arch.pgtable;
  const view = k.arch.view;
  const cpu = k.machine.cpus[0];
  const hex = (n: number | bigint) => `0x${n.toString(16)}`;
  if (va !== null) {
    if (!k.va.isCanonical(va)) return [`${hex(va)} is not canonical`];
    const vpn = k.va.vpn(va);
    const out = [
      k.config.pti
        ? `${t.comm}: walk of ${hex(va)} from the kernel PGD ${hex(mm.pgdPfn * 4096)} (PTI: user mode runs on the user PGD ${hex(k.userPgdPfn(mm) * 4096)}; user-half entries are the same there, without the kernel copy's NX)`
        : `${t.comm}: walk of ${hex(va)} from ${view.rootRegister} ${hex(mm.pgdPfn * 4096)}`,
    ];
    for (let level = k.levels - 1; level >= 0; level--) {
      const e = mapper.entryAt(mm.pgdPfn, vpn, level);
      if (e === null) break;
      out.push(
        `  ${cpu.format.levelNames[level].padEnd(4)}[${String(cpu.geometry.index(vpn, level)).padStart(3)}] @${hex(e.entryPa)} = 0x${e.hi.toString(16).padStart(8, "0")}${e.lo.toString(16).padStart(8, "0")}  ${view.entryFlags(e.hi, e.lo, level).join(" ")}`,
      );
      // the walk stops at an entry that does not point to a table: not present, or a leaf
      if (!pt.table(e.hi, e.lo, level)) break;
    }
    const leaf = mapper.lookup(mm.pgdPfn, vpn);
    if (leaf !== null) out.push(...frameAliasLines(k, leaf, va));
    return out;
  }
  const out = [`${t.comm}: present user PTEs (vpn range -> frames, flags)`];
  for (const v of mm.vmas) {
    let runStart = -1;
    let runPfn = -1;
    let runFlags = "";
    let prevPfn = -2;
    const flush = (end: number) => {
      if (runStart >= 0)
        out.push(
          `  ${hex(k.va.canonical(runStart))}-${hex(k.va.canonical(end))} -> ${runPfn === k.zeroPfn ? "zero page" : hex(runPfn)}${end - runStart > 1 && runPfn !== k.zeroPfn ? "..." : ""}  ${runFlags}`,
        );
      runStart = -1;
    };
    for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
      const pte = k.userMm.leafFor(mm, vpn);
      if (pte === null || !pt.present(pte.hi, pte.lo)) {
        flush(vpn);
        prevPfn = -2;
        continue;
      }
      const pfn = pte.pfn;
      const flags =
        view.entryFlags(pte.hi, pte.lo, pte.level).join(" ") +
        (pte.level > 0 ? ` (${cpu.geometry.sizeName(pte.level)})` : "") +
        (pt.protnone(pte.hi, pte.lo) ? " PROTNONE" : "");
      const contiguous =
        runStart >= 0 &&
        flags === runFlags &&
        (pfn === prevPfn + 1 || (pfn === k.zeroPfn && runPfn === k.zeroPfn));
      if (!contiguous) {
        flush(vpn);
        runStart = vpn;
        runPfn = pfn;
        runFlags = flags;
      }
      prevPfn = pfn;
    }
    flush(v.vmEnd);
  }
  return out;
}

/**
 * The two entries that map one frame: the user leaf that maps `va`, and
 * the kernel's own leaf for the same frame in the direct map (every frame
 * of RAM has one; a device buffer's frames too), side by side, bit by bit,
 * with the bits that differ named. This is what remap_pfn_range builds: one
 * frame, two PTEs, different rights.
 */
export function frameAliasLines(k: Kernel, user: EntryRef, va: bigint): string[] {
  const pt = k.arch.pgtable;
  const cpu = k.machine.cpus[0];
  const pageSpan = cpu.geometry.pagesPer[user.level];
  const base = pt.pfn(user.hi, user.lo, user.level);
  const pfn = base + (k.va.vpn(va) % pageSpan);
  const kva = k.directVa(pfn * 4096);
  const kern = k.mapper.lookup(k.rootPfn, k.va.vpn(kva));
  const hex = (n: number | bigint) => `0x${n.toString(16)}`;
  const out = [`frame ${hex(pfn)}: the process's entry and the kernel's direct-map entry (${hex(kva)})`];
  if (kern === null) return [...out, "  the kernel does not map this frame (not RAM)"];
  // the entry's level and value, the architecture's fields, then Linux's software bit
  const rows = (e: EntryRef): EntryBit[] => [
    { name: "entry", value: `${cpu.format.levelNames[e.level]} (${cpu.geometry.sizeName(e.level)} page)` },
    { name: "raw", value: `0x${e.hi.toString(16).padStart(8, "0")}${e.lo.toString(16).padStart(8, "0")}` },
    ...k.arch.view.entryBits(e.hi, e.lo, e.level),
    {
      name: "software",
      value: e.level === 0 && pt.special(e.hi, e.lo) ? "special (no struct page)" : "-",
    },
  ];
  const w = 26;
  out.push(`  ${"".padEnd(10)}${"user (this process)".padEnd(w)}kernel (init_mm)`);
  const differs: string[] = [];
  const kernRows = rows(kern);
  rows(user).forEach((a, i) => {
    const b = kernRows[i];
    out.push(`  ${a.name.padEnd(10)}${a.value.padEnd(w)}${b.value}`);
    if (a.value !== b.value && a.name !== "raw" && !a.status) differs.push(a.name);
  });
  out.push(`  differs: ${differs.length ? differs.join(", ") : "nothing"}`);
  return out;
}
