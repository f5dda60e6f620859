/**
 * Page tables as data (view/types.ts): the walk of one address through a
 * process's tables or the kernel's, each level's entry decoded in the
 * architecture's words and Linux's, and the present leaves of a process's
 * user half as runs. Software walks: no accessed or dirty bit is set.
 */
import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import type { PageTableMapper } from "../../hw/mmu/Mapper.ts";
import { kernelPfn } from "../core/alloc.ts";
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import type { LeafInfo, MappingRun, WalkEntry, WalkInfo } from "./types.ts";

/**
 * The walk of `va` through init_mm's tables ("kernel") or a task's (from
 * its PGD: under PTI, the kernel copy of the pair, whose user half is the
 * same as the user copy's). A task without an mm, or whose tables are gone,
 * walks nothing.
 */
export function walkInfo(k: KernelCore, who: Task | "kernel", va: bigint): WalkInfo {
  const canonical = k.va.isCanonical(va);
  const vpn = k.va.vpn(va);
  const cpu = k.machine.cpus[0];
  const pt = k.arch.pgtable;
  let root = -1;
  let userRoot = -1;
  let mapper: PageTableMapper | null = null;
  if (who === "kernel") {
    root = k.rootPfn;
    userRoot = root;
    mapper = k.mapper;
  } else if (who.mm !== null && who.mm.pgdPfn >= 0) {
    root = who.mm.pgdPfn;
    userRoot = pt.userPgd(root);
    mapper = k.userMm.mapper(who.mm);
  }
  // the kernel half under its own root register (arm64 TTBR1 = swapper_pg_dir): the
  // MMU walks init_mm's tables for it in every process, never the process's PGD
  const ownKernelRoot = who !== "kernel" && pt.kernelRootVpn > 0 && canonical && vpn >= pt.kernelRootVpn;
  if (ownKernelRoot && mapper !== null) {
    root = k.rootPfn;
    userRoot = root;
    mapper = k.mapper;
  }
  const w: WalkInfo = {
    space: who === "kernel" ? "kernel" : who.pid,
    va,
    canonical,
    vpn,
    rootPfn: root,
    userRootPfn: userRoot,
    rootRegister: (ownKernelRoot ? k.arch.view.kernelRootRegister : undefined) ?? k.arch.view.rootRegister,
    entries: [],
    entryBytes: cpu.format.entryBytes,
    leaf: null,
    swapSlot: -1,
    guard: false,
  };
  if (!canonical || mapper === null) return w;
  let tablePfn = root;
  for (let level = k.levels - 1; level >= 0; level--) {
    const e = mapper.entryAt(pfnUnchecked(root), vpnUnchecked(vpn), level);
    if (e === null) break;
    const { hi, lo } = e;
    const table = level > 0 && pt.table(hi, lo, level);
    const leaf = pt.leaf(hi, lo, level);
    const entry: WalkEntry = {
      level,
      levelName: cpu.format.levelNames[level],
      linuxLevel: pt.levelNames[level],
      index: cpu.geometry.index(vpn, level),
      tablePfn,
      entryPa: e.entryPa,
      hi,
      lo,
      flags: k.arch.view.entryFlags(hi, lo, level),
      table,
      leaf,
      present: table || (leaf && pt.present(hi, lo)),
      nextPfn: table || leaf ? pt.pfn(hi, lo, level) : -1,
    };
    w.entries.push(entry);
    if (table) {
      tablePfn = entry.nextPfn;
      continue;
    }
    if (leaf) {
      const l = leafInfo(k, hi, lo, level, vpn);
      if (who !== "kernel" && l.accessible && !k.va.isKernel(va)) {
        // the kernel's own entry for the frame: every frame of RAM is in the direct map
        const kva = k.arch.directVa(l.pa);
        // (a 32-bit highmem frame has no direct-map address)
        if (kva >= 0n) {
          l.directMap = { va: kva, leaf: walkInfo(k, "kernel", kva).leaf };
          if (l.directMap.leaf !== null && !l.directMap.leaf.accessible) l.directMap.leaf = null;
        }
      }
      w.leaf = l;
    } else if (level === 0 && pt.isSwap(hi, lo)) w.swapSlot = pt.swapOffset(hi, lo);
    else if (level === 0) w.guard = pt.isGuard(hi, lo);
    break;
  }
  return w;
}

function leafInfo(k: KernelCore, hi: number, lo: number, level: number, vpn: number): LeafInfo {
  const pt = k.arch.pgtable;
  const g = k.machine.cpus[0].geometry;
  const span = g.pagesPer[level];
  const first = pt.pfn(hi, lo, level);
  const basePfn = first - (first % span);
  const pfn = basePfn + (vpn % span);
  return {
    level,
    levelName: k.machine.cpus[0].format.levelNames[level],
    pageSize: g.sizeName(level),
    pages: span,
    basePfn,
    pfn,
    pa: pfn * 4096,
    hi,
    lo,
    bits: k.arch.view.entryBits(hi, lo, level),
    accessible: pt.accessible(hi, lo),
    writable: pt.write(hi, lo),
    dirty: pt.dirty(hi, lo),
    young: pt.young(hi, lo),
    special: pt.special(hi, lo),
    protnone: pt.protnone(hi, lo),
    directMap: null,
  };
}

/**
 * The present leaves (PROT_NONE entries included) of a task's VMAs, as
 * runs: pages in a row with the same flags whose frames follow each other
 * (or that all map the zero page). A run never crosses a VMA boundary.
 */
export function mappingRuns(k: KernelCore, t: Task): MappingRun[] {
  const mm = t.mm;
  if (mm === null) return [];
  const pt = k.arch.pgtable;
  const view = k.arch.view;
  const g = k.machine.cpus[0].geometry;
  const zero = k.zeroPfn;
  const out: MappingRun[] = [];
  for (const v of mm.vmas) {
    let run: MappingRun | null = null;
    let runKey = "";
    let prevPfn = -2;
    const flush = (end: number) => {
      if (run !== null) {
        run.endVpn = end;
        run.end = k.va.user(end);
        out.push(run);
      }
      run = null;
    };
    for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
      const pte = k.userMm.leafFor(mm, vpnUnchecked(vpn));
      if (pte === null || !pt.present(pte.hi, pte.lo)) {
        flush(vpn);
        prevPfn = -2;
        continue;
      }
      const pfn = pte.pfn;
      const flags = view.entryFlags(pte.hi, pte.lo, pte.level);
      const protnone = pt.protnone(pte.hi, pte.lo);
      const key = `${flags.join(" ")}/${pte.level}/${protnone}`;
      const contiguous =
        run !== null && key === runKey && (pfn === prevPfn + 1 || (pfn === zero && run.pfn === zero));
      if (!contiguous) {
        flush(vpn);
        run = {
          startVpn: vpn,
          endVpn: vpn,
          start: k.va.user(vpn),
          end: 0n,
          pfn,
          zeroPage: pfn === zero,
          level: pte.level,
          pageSize: g.sizeName(pte.level),
          flags,
          protnone,
        };
        runKey = key;
      }
      prevPfn = pfn;
    }
    flush(v.vmEnd);
  }
  return out;
}

/**
 * Every entry of [vpn, end) that a walk reaches and that is not a table
 * (a leaf, a swap entry, a marker: anything but zero), as `fn(first,
 * count, level)` over the pages of the range it covers. A sparse walk: the
 * span of an empty entry at any level is skipped whole, so a range of
 * terabytes costs what its tables hold, not a step per page.
 */
export function forEachEntry(
  k: KernelCore,
  mapper: PageTableMapper,
  root: number,
  vpn: number,
  end: number,
  fn: (first: number, count: number, level: number) => void,
): void {
  const pt = k.arch.pgtable;
  const pagesPer = k.machine.cpus[0].geometry.pagesPer;
  let v = vpn;
  while (v < end) {
    for (let level = k.levels - 1; ; level--) {
      const span = pagesPer[level];
      const stop = Math.min(end, v - (v % span) + span);
      const e = mapper.entryAt(pfnUnchecked(root), vpnUnchecked(v), level);
      if (e !== null && level > 0 && pt.table(e.hi, e.lo, level)) continue;
      if (e !== null && (e.hi !== 0 || e.lo !== 0)) fn(v, stop - v, level);
      v = stop;
      break;
    }
  }
}

/** The pages of [vpn, vpn+count) of a task's user half that hold an entry (present, swap, marker): a sparse walk. */
export function userEntryPages(k: KernelCore, t: Task, vpn: number, count: number): number[] {
  const mm = t.mm;
  if (mm === null || !t.alive || mm.pgdPfn < 0) return [];
  const userEnd = k.arch.pgtable.userPgtablesCeiling;
  const out: number[] = [];
  forEachEntry(k, k.userMm.mapper(mm), mm.pgdPfn, vpn, Math.min(vpn + count, userEnd), (first, n) => {
    for (let p = first; p < first + n; p++) out.push(p);
  });
  return out;
}

/** How many 4 KiB pages of [va, va+len) init_mm maps (both halves; the non-canonical hole maps nothing). */
export function kernelPresentPages(k: KernelCore, va: bigint, len: bigint): number {
  const top = 1n << 64n;
  const start = va - (va % 4096n);
  const end = va + len > top ? top : va + len;
  let total = 0;
  for (const [lo, hi] of k.va.ranges()) {
    const s = start > lo ? start : lo;
    const e = end < hi ? end : hi;
    if (s >= e) continue;
    const first = k.va.vpn(s);
    const count = Number((e - s + 4095n) / 4096n);
    forEachEntry(k, k.mapper, k.rootPfn, first, first + count, (p, n) => {
      if (kernelPfn(k, k.va.canonical(p)) >= 0) total += n;
    });
  }
  return total;
}
