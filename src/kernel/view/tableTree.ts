/**
 * A process's page tables as a tree of tables (view/types.ts
 * PageTablesInfo): every table page reachable from its root through the
 * user half, with each entry that is not zero, decoded in the
 * architecture's words. The kernel half of the root is listed (the
 * entries every process shares with init_mm, x86 pgd_alloc's
 * clone_pgd_range) but not descended. A software read (no accessed or
 * dirty bit is set), in the order ptdump (mm/ptdump.c walk_page_range)
 * visits tables: depth first, lowest address first.
 */
import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import type { PageTableEntryInfo, PageTableInfo, PageTablesInfo } from "./types.ts";

/** The most tables one tree lists (a front end's page, not a dump). */
export const MAX_TREE_TABLES = 256;

export function tableTree(k: KernelCore, t: Task): PageTablesInfo {
  const out: PageTablesInfo = {
    rootPfn: -1,
    userRootPfn: -1,
    entryBytes: k.arch.pgtable.entryBytes,
    tables: [],
    truncated: false,
  };
  const mm = t.mm;
  if (mm === null || !t.alive || mm.pgdPfn < 0) return out;
  const pt = k.arch.pgtable;
  const cpu = k.machine.cpus[0];
  const g = cpu.geometry;
  const mapper = k.userMm.mapper(mm);
  const root = mm.pgdPfn;
  out.rootPfn = root;
  out.userRootPfn = pt.userPgd(root);
  const ceiling = pt.userPgtablesCeiling;
  const visit = (tablePfn: number, level: number, firstVpn: number): void => {
    if (out.tables.length >= MAX_TREE_TABLES) {
      out.truncated = true;
      return;
    }
    const table: PageTableInfo = {
      pfn: tablePfn,
      level,
      levelName: cpu.format.levelNames[level],
      linuxLevel: pt.levelNames[level],
      firstVpn,
      va: k.va.canonical(firstVpn),
      entries: [],
    };
    out.tables.push(table);
    const span = g.pagesPer[level];
    const n = g.indexMask[level] + 1;
    const below: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const vpn = firstVpn + i * span;
      const e = mapper.entryAt(pfnUnchecked(root), vpnUnchecked(vpn), level);
      if (e === null || (e.hi === 0 && e.lo === 0)) continue;
      const { hi, lo } = e;
      const isTable = level > 0 && pt.table(hi, lo, level);
      const leaf = pt.leaf(hi, lo, level);
      const kernelHalf = vpn >= ceiling;
      const entry: PageTableEntryInfo = {
        index: i,
        vpn,
        va: k.va.canonical(vpn),
        entryPa: e.entryPa,
        hi,
        lo,
        flags: k.arch.view.entryFlags(hi, lo, level),
        bits: leaf ? k.arch.view.entryBits(hi, lo, level) : [],
        table: isTable,
        leaf,
        present: isTable || (leaf && pt.present(hi, lo)),
        writable: leaf && pt.write(hi, lo),
        nextPfn: isTable || leaf ? pt.pfn(hi, lo, level) : -1,
        pageSize: leaf ? g.sizeName(level) : null,
        kernelHalf,
        swapSlot: level === 0 && !leaf && pt.isSwap(hi, lo) ? pt.swapOffset(hi, lo) : -1,
        zeroPage: leaf && pt.pfn(hi, lo, level) === k.zeroPfn,
      };
      table.entries.push(entry);
      if (isTable && !kernelHalf) below.push([entry.nextPfn, vpn]);
    }
    for (const [pfn, vpn] of below) visit(pfn, level - 1, vpn);
  };
  visit(root, k.levels - 1, 0);
  return out;
}
