import type { Kernel } from "../Kernel.ts";
import { Wmark } from "../mm/buddy.ts";
import { PAGE_KIND_NAMES, PageKind } from "../mm/PageDesc.ts";

/**
 * /proc/meminfo, in bytes, field names as Linux prints them
 * (fs/proc/meminfo.c). Fields vmlab does not model yet are 0.
 */
export function meminfo(k: Kernel): Record<string, number> {
  const pg = 4096;
  const free = k.buddy.freePages();
  const slab = k.slab.slabPages();
  // si_mem_available: free minus the reserve the kernel keeps (high watermarks and lowmem reserves)
  let totalreserve = 0;
  for (const z of k.buddy.zones) totalreserve += z.wmark[Wmark.High] + Math.max(...z.lowmemReserve);
  const available = Math.max(0, free - totalreserve);
  const vmTotal = Number(k.layout.vmallocEnd - k.layout.vmallocStart);
  const mms = k.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!);
  // page-cache pages: shared anonymous (shmem objects) and files (tmpfs files count as Shmem too)
  const shmemFrames = k.userMm.shmemFrames([...new Set(mms)]);
  let shmem = shmemFrames.length;
  let mapped = shmemFrames.filter((pfn) => k.pages.mapcount[pfn] > 0).length;
  let fileCached = 0;
  let dirty = 0;
  for (const f of k.pageCache.files.values()) {
    fileCached += f.cache.size;
    if (f.fs === "tmpfs") shmem += f.cache.size;
    else dirty += f.dirty.size;
    for (const pfn of f.cache.values()) if (k.pages.mapcount[pfn] > 0) mapped++;
  }
  const anonPages = k.pages.countByKind()[PageKind.UserAnon];
  return {
    MemTotal: k.buddy.managedPages() * pg,
    MemFree: free * pg,
    MemAvailable: available * pg,
    Buffers: 0,
    Cached: (shmemFrames.length + fileCached) * pg,
    SwapCached: (k.swap?.cache.size ?? 0) * pg,
    Active: (k.vmscan.size[2] + k.vmscan.size[4]) * pg,
    Inactive: (k.vmscan.size[1] + k.vmscan.size[3]) * pg,
    "Active(anon)": k.vmscan.size[2] * pg,
    "Inactive(anon)": k.vmscan.size[1] * pg,
    "Active(file)": k.vmscan.size[4] * pg,
    "Inactive(file)": k.vmscan.size[3] * pg,
    Unevictable: 0,
    Mlocked: 0,
    SwapTotal: (k.swap?.totalPages ?? 0) * pg,
    SwapFree: (k.swap?.freePages ?? 0) * pg,
    Dirty: dirty * pg,
    Writeback: 0,
    AnonPages: anonPages * pg,
    Mapped: mapped * pg,
    Shmem: shmem * pg,
    KReclaimable: 0,
    Slab: slab * pg,
    SReclaimable: 0,
    SUnreclaim: slab * pg,
    KernelStack: 0,
    PageTables: k.pageTablePages * pg,
    CommitLimit: k.buddy.managedPages() * pg,
    Committed_AS: mms.reduce((n, mm) => n + mm.committed, 0) * pg,
    VmallocTotal: vmTotal,
    VmallocUsed: k.vm.usedPages() * pg,
    VmallocChunk: 0,
    AnonHugePages: anonHugePages(k) * pg,
    HugePages_Total: 0,
    HugePages_Free: 0,
    Hugepagesize: k.arch.pgtable.hpagePmdNr * pg,
    // arch_report_meminfo (x86: DirectMap4k, DirectMap2M, DirectMap1G)
    ...k.arch.view.reportMeminfo(k.machine.phys.nrFrames),
  };
}

/** Fields printed as plain counts, not kB. */
const COUNT_FIELDS = new Set(["HugePages_Total", "HugePages_Free"]);

/** The text of /proc/meminfo. */
export function formatMeminfo(m: Record<string, number>): string[] {
  return Object.entries(m).map(([name, bytes]) =>
    COUNT_FIELDS.has(name)
      ? `${`${name}:`.padEnd(16)}${String(bytes).padStart(8)}`
      : `${`${name}:`.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB`,
  );
}

/** Runs of frames of the same kind: `show frames`. */
export function frameRuns(k: Kernel): { first: number; last: number; kind: string }[] {
  const runs: { first: number; last: number; kind: string }[] = [];
  const kinds = k.pages.kind;
  let start = 0;
  for (let pfn = 1; pfn <= kinds.length; pfn++) {
    if (pfn === kinds.length || kinds[pfn] !== kinds[start]) {
      runs.push({ first: start, last: pfn - 1, kind: PAGE_KIND_NAMES[kinds[start]] });
      start = pfn;
    }
  }
  return runs;
}

export function formatFrames(k: Kernel): string[] {
  const counts = k.pages.countByKind();
  const lines = ["frames by kind:"];
  PAGE_KIND_NAMES.forEach((name, i) => {
    if (counts[i] > 0)
      lines.push(
        `  ${name.padEnd(14)} ${String(counts[i]).padStart(9)}  (${((counts[i] * 4096) / 1048576).toFixed(1)} MiB)`,
      );
  });
  lines.push("runs:");
  const runs = frameRuns(k);
  for (const r of runs.slice(0, 200)) {
    lines.push(
      `  pfn 0x${r.first.toString(16).padStart(6, "0")}-0x${r.last.toString(16).padStart(6, "0")} ${String(r.last - r.first + 1).padStart(8)}  ${r.kind}`,
    );
  }
  if (runs.length > 200) lines.push(`  ... ${runs.length - 200} more runs`);
  return lines;
}

/** Frames held by kernel memory (never reclaimed): everything but free, user and page cache. */
export function kernelFrames(k: Kernel): number {
  const c = k.pages.countByKind();
  return c.reduce(
    (n, v, i) => (i === PageKind.Free || i === PageKind.UserAnon || i === PageKind.PageCache ? n : n + v),
    0,
  );
}

/** Pages mapped by transparent huge PMDs over all processes (meminfo AnonHugePages). */
function anonHugePages(k: Kernel): number {
  const pt = k.arch.pgtable;
  const nr = pt.hpagePmdNr;
  let n = 0;
  const seen = new Set<unknown>();
  for (const t of k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null || seen.has(mm)) continue;
    seen.add(mm);
    for (const v of mm.vmas) {
      for (let h = v.vmStart - (v.vmStart % nr); h < v.vmEnd; h += nr) {
        const leaf = k.userMm.leafFor(mm, h);
        // the huge zero page is special: not anonymous memory
        if (leaf !== null && leaf.level === pt.pmdLevel && !pt.special(leaf.hi, leaf.lo)) n += nr;
      }
    }
  }
  return n;
}
