/**
 * Core dumps (fs/coredump.c, fs/binfmt_elf.c): which VMAs an ELF core file
 * gets and which of their pages are written.
 *
 * vma_dump_size decides a VMA's size in the dump from its flags and the
 * process's coredump_filter (/proc/PID/coredump_filter, default 0x33);
 * dump_user_range then asks get_dump_page for each page: a hole (an
 * untouched anonymous page, the zero page, a special PTE) is skipped and
 * reads back as zeros, anything else is written, faulting file, shmem and
 * swapped pages in first. VM_DONTDUMP (MADV_DONTDUMP, and every
 * remap_pfn_range mapping) and VM_IO mappings are left out entirely.
 */

import { permString, type Vma, VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { getDumpPage } from "./gup.ts";
import type { Task } from "./task.ts";

/** The bits of coredump_filter (MMF_DUMP_*). */
export const MmfDump = {
  ANON_PRIVATE: 1 << 0,
  ANON_SHARED: 1 << 1,
  MAPPED_PRIVATE: 1 << 2,
  MAPPED_SHARED: 1 << 3,
  ELF_HEADERS: 1 << 4,
  HUGETLB_PRIVATE: 1 << 5,
  HUGETLB_SHARED: 1 << 6,
} as const;

/** MMF_DUMP_FILTER_DEFAULT: anonymous private and shared, ELF headers, hugetlb private. */
export const DEFAULT_COREDUMP_FILTER = 0x33;

/** One VMA's part of a core dump (one PT_LOAD program header). */
export interface CoreSegment {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  /** p_filesz: bytes the dump holds for this VMA (0: the VMA is only described) */
  dumpBytes: number;
  /** pages written with data; the rest of dumpBytes are holes (zeros) */
  pagesWritten: number;
  holes: number;
  /** why vma_dump_size chose dumpBytes */
  why: string;
}

export interface CoreDump {
  filter: number;
  segments: CoreSegment[];
  /** the sum of every segment's dumpBytes */
  bytes: number;
  pagesWritten: number;
  /** page faults the dump took (file reads, shmem, swap-ins), counted against the task */
  faults: number;
}

/** vma_dump_size: the bytes of `v` the dump holds, and why. */
export function vmaDumpSize(k: KernelCore, t: Task, v: Vma, filter: number): { pages: number; why: string } {
  const whole = v.vmEnd - v.vmStart;
  if (v.vmFlags & VmFlag.DONTDUMP) return { pages: 0, why: "VM_DONTDUMP" };
  if (v.vmFlags & VmFlag.HUGETLB) {
    // "Hugetlb memory check": by its own two bits, whole
    const shared = (v.vmFlags & VmFlag.SHARED) !== 0;
    const bit = shared ? MmfDump.HUGETLB_SHARED : MmfDump.HUGETLB_PRIVATE;
    const what = shared
      ? "HugeTLB shared (MMF_DUMP_HUGETLB_SHARED)"
      : "HugeTLB private (MMF_DUMP_HUGETLB_PRIVATE)";
    return filter & bit ? { pages: whole, why: what } : { pages: 0, why: `${what} filtered out` };
  }
  if (v.vmFlags & VmFlag.IO) return { pages: 0, why: "VM_IO: a device mapping" };
  if (v.vmFlags & VmFlag.SHARED) {
    // shared anonymous memory is a shmem file with no links: ANON_SHARED; a real file: MAPPED_SHARED
    const anonShared = v.file === null;
    const bit = anonShared ? MmfDump.ANON_SHARED : MmfDump.MAPPED_SHARED;
    const what = anonShared
      ? "shared anonymous (MMF_DUMP_ANON_SHARED)"
      : "shared file (MMF_DUMP_MAPPED_SHARED)";
    return filter & bit ? { pages: whole, why: what } : { pages: 0, why: `${what} filtered out` };
  }
  // private: dump what has been written to (an anon_vma exists) if ANON_PRIVATE
  if (v.anonVma !== 0 && filter & MmfDump.ANON_PRIVATE)
    return { pages: whole, why: "private, written to (anon_vma; MMF_DUMP_ANON_PRIVATE)" };
  if (v.file === null)
    return {
      pages: 0,
      why:
        v.anonVma === 0 ? "private anonymous, never written (no anon_vma)" : "private anonymous filtered out",
    };
  if (filter & MmfDump.MAPPED_PRIVATE) return { pages: whole, why: "private file (MMF_DUMP_MAPPED_PRIVATE)" };
  if (filter & MmfDump.ELF_HEADERS && v.vmPgoff === 0 && v.vmFlags & VmFlag.READ) {
    // the first page, if it starts an ELF file: vmlab's files are not executable, so the magic is read
    const pfn = getDumpPage(k, t, v.vmStart);
    const phys = k.machine.phys;
    const magic = pfn >= 0 ? [0, 1, 2, 3].map((i) => phys.read8(pfn * 4096 + i)) : [];
    if (magic.join() === [0x7f, 0x45, 0x4c, 0x46].join())
      return { pages: 1, why: "ELF header page (MMF_DUMP_ELF_HEADERS)" };
    return { pages: 0, why: "private file, not an ELF header" };
  }
  return { pages: 0, why: "private file, unmodified" };
}

/**
 * do_coredump for `t` (as a fatal signal with RLIMIT_CORE unlimited, or
 * gcore): every VMA becomes a segment; the pages vma_dump_size keeps are
 * read through get_dump_page. The task keeps running (vmlab does not kill
 * it: `P: exit` or a signal does that).
 */
export function coreDump(k: KernelCore, t: Task, filter = DEFAULT_COREDUMP_FILTER): CoreDump {
  const mm = t.mm;
  const dump: CoreDump = { filter, segments: [], bytes: 0, pagesWritten: 0, faults: 0 };
  if (mm === null) return dump;
  const flt0 = t.minFlt + t.majFlt;
  for (const v of mm.vmas.slice()) {
    const { pages, why } = vmaDumpSize(k, t, v, filter);
    let written = 0;
    for (let vpn = v.vmStart; vpn < v.vmStart + pages; vpn++) if (getDumpPage(k, t, vpn) >= 0) written++;
    dump.segments.push({
      start: k.va.user(v.vmStart),
      end: k.va.user(v.vmEnd),
      perms: permString(v.vmFlags),
      name: v.name,
      dumpBytes: pages * 4096,
      pagesWritten: written,
      holes: pages - written,
      why,
    });
    dump.bytes += pages * 4096;
    dump.pagesWritten += written;
  }
  dump.faults = t.minFlt + t.majFlt - flt0;
  return dump;
}
