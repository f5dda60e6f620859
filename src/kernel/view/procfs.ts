/**
 * The text of a process's /proc files and of `show P pagetable`, made from
 * the view's data (view/types.ts): /proc/PID/maps (show_map_vma),
 * /proc/PID/smaps (show_smap), the walk of one address and the runs of
 * present leaves. The functions that take the kernel itself (procMaps,
 * procSmaps, pagetableLines) read its data first, for the kernel's own
 * tests and read-outs.
 */
import { entryHex } from "../../hw/mmu/PagingFormat.ts";
import type { EntryBit } from "../core/archView.ts";
import type { KernelCore } from "../core/core.ts";
import type { Task } from "../core/task.ts";
import { smapsInfos, vmaInfos } from "./mm.ts";
import { mappingRuns, walkInfo } from "./pagetable.ts";
import type { LeafInfo, MappingRun, SmapsInfo, VmaInfo, WalkInfo } from "./types.ts";

export { countPages, type PageState, pageState, type SmapsStats, smapsStats } from "./mm.ts";

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/**
 * /proc/PID/maps lines: start-end, perms, offset (0 for anonymous memory),
 * device, inode, then the name padded to column 73; an unnamed line ends
 * with a space, as Linux's does.
 */
export function formatMaps(vmas: VmaInfo[]): string[] {
  return vmas.map((v) => {
    const start = v.start.toString(16).padStart(8, "0");
    const end = v.end.toString(16).padStart(8, "0");
    // a file mapping: its offset, the device (sda1 for disk files, a tmpfs superblock's anonymous dev) and inode
    // (a HugeTLB mapping: its file on the internal hugetlbfs mount, an anonymous dev as the host's 00:11)
    const htlb = v.hugetlbIno !== undefined;
    const off = v.file || v.pfnmap || htlb ? (v.pgoff * 4096).toString(16).padStart(8, "0") : "00000000";
    const dev = v.file
      ? v.file.fs === "disk"
        ? "08:01"
        : "00:1a"
      : v.pfnmap
        ? "00:05"
        : htlb
          ? "00:11"
          : "00:00";
    const head = `${start}-${end} ${v.perms} ${off} ${dev} ${v.file ? v.file.ino : (v.hugetlbIno ?? 0)} `;
    return v.name ? head.padEnd(73) + v.name : head;
  });
}

/** /proc/PID/smaps: each maps line followed by its fields. */
export function formatSmaps(smaps: SmapsInfo[]): string[] {
  const maps = formatMaps(smaps.map((s) => s.vma));
  const out: string[] = [];
  const kb = (name: string, bytes: number) =>
    `${`${name}:`.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB`;
  smaps.forEach((s, i) => {
    out.push(maps[i]);
    out.push(kb("Size", s.vma.pages * 4096));
    out.push(kb("KernelPageSize", s.kernelPageSize));
    out.push(kb("MMUPageSize", s.kernelPageSize));
    out.push(kb("Rss", s.rss));
    out.push(kb("Pss", s.pss));
    out.push(kb("Pss_Dirty", s.pssDirty));
    out.push(kb("Shared_Clean", s.sharedClean));
    out.push(kb("Shared_Dirty", s.sharedDirty));
    out.push(kb("Private_Clean", s.privateClean));
    out.push(kb("Private_Dirty", s.privateDirty));
    out.push(kb("Referenced", s.referenced));
    out.push(kb("Anonymous", s.anonymous));
    out.push(kb("KSM", s.ksm));
    out.push(kb("LazyFree", s.lazyFree));
    out.push(kb("AnonHugePages", s.anonHuge));
    out.push(kb("ShmemPmdMapped", s.shmemPmd));
    out.push(kb("FilePmdMapped", s.filePmd));
    out.push(kb("Shared_Hugetlb", s.sharedHugetlb));
    out.push(kb("Private_Hugetlb", s.privateHugetlb));
    out.push(kb("Swap", s.swap));
    out.push(kb("SwapPss", 0));
    out.push(kb("Locked", s.locked));
    out.push(`${"THPeligible:".padEnd(16)}${String(s.thpEligible ? 1 : 0).padStart(8)}`);
    if (s.protectionKey !== null)
      out.push(`${"ProtectionKey:".padEnd(16)}${String(s.protectionKey).padStart(8)}`);
    out.push(`VmFlags: ${s.mnemonics.join(" ")} `);
  });
  return out;
}

/**
 * `show P pagetable ADDR`: the walk of one address through P's tables (each
 * level's entry and flags) and, when it maps a frame, the frame's two
 * entries side by side.
 */
export function formatWalk(comm: string, w: WalkInfo): string[] {
  if (!w.canonical) return [`${hex(w.va)} is not canonical`];
  const out = [
    w.userRootPfn !== w.rootPfn
      ? `${comm}: walk of ${hex(w.va)} from the kernel PGD ${hex(w.rootPfn * 4096)} (PTI: user mode runs on the user PGD ${hex(w.userRootPfn * 4096)}; user-half entries are the same there${(w.entries[0]?.hi ?? 0) >>> 31 ? ", without the kernel copy's NX" : ""})`
      : `${comm}: walk of ${hex(w.va)} from ${w.rootRegister} ${hex(w.rootPfn * 4096)}`,
  ];
  for (const e of w.entries) {
    out.push(
      `  ${e.levelName.padEnd(4)}[${String(e.index).padStart(3)}] @${hex(e.entryPa)} = ${entryHex(e.hi, e.lo, w.entryBytes)}  ${e.flags.join(" ")}`,
    );
  }
  if (w.leaf?.directMap)
    out.push(...formatFrameAlias(w.leaf, w.leaf.directMap.va, w.leaf.directMap.leaf, w.entryBytes));
  return out;
}

/**
 * The two entries that map one frame: the user leaf, and the kernel's own
 * leaf for the same frame in the direct map (every frame of RAM has one; a
 * device buffer's frames too), side by side, bit by bit, with the bits that
 * differ named. This is what remap_pfn_range builds: one frame, two PTEs,
 * different rights.
 */
function formatFrameAlias(user: LeafInfo, kva: bigint, kern: LeafInfo | null, bytes: number): string[] {
  const out = [`frame ${hex(user.pfn)}: the process's entry and the kernel's direct-map entry (${hex(kva)})`];
  if (kern === null) return [...out, "  the kernel does not map this frame (not RAM)"];
  // the entry's level and value, the architecture's fields, then Linux's software bit
  const rows = (e: LeafInfo): EntryBit[] => [
    { name: "entry", value: `${e.levelName} (${e.pageSize} page)` },
    { name: "raw", value: entryHex(e.hi, e.lo, bytes) },
    ...e.bits,
    { name: "software", value: e.level === 0 && e.special ? "special (no struct page)" : "-" },
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

/** `show P pagetable`: every present leaf of P's user half, one line per run of pages. */
export function formatMappings(comm: string, runs: MappingRun[]): string[] {
  const out = [`${comm}: present user PTEs (vpn range -> frames, flags)`];
  for (const r of runs) {
    const flags =
      r.flags.join(" ") + (r.level > 0 ? ` (${r.pageSize})` : "") + (r.protnone ? " PROTNONE" : "");
    out.push(
      `  ${hex(r.start)}-${hex(r.end)} -> ${r.zeroPage ? "zero page" : hex(r.pfn)}${r.endVpn - r.startVpn > 1 && !r.zeroPage ? "..." : ""}  ${flags}`,
    );
  }
  return out;
}

// ---- from the kernel itself ----

/** /proc/PID/maps */
export function procMaps(k: KernelCore, t: Task): string[] {
  return formatMaps(vmaInfos(k, t));
}

/** /proc/PID/smaps */
export function procSmaps(k: KernelCore, t: Task): string[] {
  return formatSmaps(smapsInfos(k, t));
}

/** `show P pagetable [ADDR]`: the walk of one address, or (va null) every present user leaf. */
export function pagetableLines(k: KernelCore, t: Task, va: bigint | null): string[] {
  if (!t.mm) return [];
  return va !== null ? formatWalk(t.comm, walkInfo(k, t, va)) : formatMappings(t.comm, mappingRuns(k, t));
}
