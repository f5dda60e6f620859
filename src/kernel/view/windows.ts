/**
 * profile=windows as data (kernel.view.windows()): each process's VADs,
 * exception record and last error, the commit charge, the Windows layout.
 * Copies only, like the rest of the view.
 */
import type { KernelCore } from "../core/core.ts";
import { type TaskHandle, taskOf } from "../core/task.ts";
import {
  type MemoryBasicInformation,
  type PagingInfo,
  type VadInfo,
  WindowsOs,
  type WinProcessInfo,
} from "../os/windows/index.ts";
import type { WinLayout } from "../os/windows/layout.ts";
import { type RammapCounts, rammap, type VmmapRow, vmmap } from "./sysinternals.ts";
import {
  type PfnView,
  type PoolUsedRow,
  type PteView,
  pfnView,
  poolUsedRows,
  pteView,
  type VadRow,
  vadRows,
  type WinPaging,
  winPaging,
} from "./windbg.ts";

export type {
  MemoryBasicInformation,
  PagingInfo,
  PfnView,
  PoolUsedRow,
  PteView,
  RammapCounts,
  VadInfo,
  VadRow,
  VmmapRow,
  WinLayout,
  WinPaging,
  WinProcessInfo,
};

/** The system's commit accounting, in pages. */
export interface CommitInfo {
  /** MmTotalCommittedPages */
  total: number;
  /** MmTotalCommitLimit: RAM plus the paging file */
  limit: number;
  peak: number;
}

export class WindowsView {
  constructor(private readonly os: WindowsOs) {}

  /** The user/system split of this machine. */
  layout(): WinLayout {
    return { ...this.os.layout };
  }

  /** x86 2G: the large-page region of system space at 0x80000000 (os/windows/system.ts); else null. */
  systemCode(): { start: bigint; end: bigint } | null {
    const a = this.os.systemAlias;
    return a === null ? null : { start: BigInt(a.startVpn) * 4096n, end: BigInt(a.endVpn) * 4096n };
  }

  commit(): CommitInfo {
    return { ...this.os.commit };
  }

  /** A process's exception record, last error and charges; null for a dead process. */
  process(t: TaskHandle): WinProcessInfo | null {
    const task = taskOf(t);
    return task.mm === null || !(task.alive || task.mm.osState) ? null : this.os.processInfo(task.mm);
  }

  /** The process's VADs in address order (empty once it has exited). */
  vads(t: TaskHandle): VadInfo[] {
    const task = taskOf(t);
    return task.mm === null || !task.alive ? [] : this.os.vads(task.mm);
  }

  /** Pages of [vpn, vpn + n) committed, and inside a reservation. */
  pages(t: TaskHandle, vpn: number, n: number): { committed: number; reserved: number } {
    const task = taskOf(t);
    return task.mm === null || !task.alive
      ? { committed: 0, reserved: 0 }
      : this.os.countPages(task.mm, vpn, n);
  }

  /** The page lists, the paging counters, the pools, IRQL and the last bug check. */
  paging(): PagingInfo {
    return this.os.paging();
  }

  /** A section by handle (os/windows/section.ts): pages, mapped views, handle open, paging-file-backed pages resident; null: none. */
  section(handle: number): { pages: number; views: number; open: boolean; resident: number } | null {
    return this.os.section(handle);
  }

  /** The frames demand-zero faults have handed out so far. */
  demandZeroFaults(): number {
    return this.os.db.demandZeroFaults;
  }

  // ---- the debugger's and the Sysinternals tools' views (windbg.ts, sysinternals.ts) ----

  /** x64, 32-bit paging (x86) or PAE: which of Windows' page-table formats runs. */
  pagingFormat(): WinPaging {
    return winPaging(this.os.k);
  }

  /** WinDbg's `!pte VA` in a process's address space or the kernel's tables. */
  pte(who: TaskHandle | "kernel", va: bigint): PteView {
    return pteView(this.os.k, who === "kernel" ? who : taskOf(who), va);
  }

  /** WinDbg's `!pfn N`; null for a frame beyond RAM. */
  pfn(pfn: number): PfnView | null {
    return pfn >= 0 && pfn < this.os.k.pages.nrFrames ? pfnView(this.os, pfn) : null;
  }

  /** WinDbg's `!vad` of a live process (empty once it has exited). */
  vadTree(t: TaskHandle): VadRow[] {
    const task = taskOf(t);
    return task.mm === null || !task.alive ? [] : vadRows(this.os, task);
  }

  /** WinDbg's `!poolused`: the pool tagging table. */
  poolUsed(): PoolUsedRow[] {
    return poolUsedRows(this.os);
  }

  /** VMMap's summary of a live process. */
  vmmap(t: TaskHandle): VmmapRow[] {
    return vmmap(this.os, taskOf(t));
  }

  /** RAMMap's Use Counts. */
  /** GetLargePageMinimum: the bytes one large page (a PDE) maps. */
  largePageMinimum(): bigint {
    return this.os.largePageMinimum();
  }

  rammap(): RammapCounts {
    return rammap(this.os);
  }
}

/** The Windows view of a kernel, or null for profile=linux. */
export function windowsView(k: KernelCore): WindowsView | null {
  return k.os instanceof WindowsOs ? new WindowsView(k.os) : null;
}

/** `show layout` in the windows profile: the user/system split, before the kernel's own mappings. */
export function formatWinLayout(l: WinLayout, systemCode: { start: bigint; end: bigint } | null): string[] {
  const hex = (v: bigint) => `0x${v.toString(16)}`;
  return [
    `${l.profile}:`,
    `  0x0 - ${hex(BigInt(l.lowestUserVpn * 4096) - 1n)}  never mapped (below MM_LOWEST_USER_ADDRESS)`,
    `  ${hex(BigInt(l.lowestUserVpn * 4096))} - ${hex(BigInt(l.vadEndVpn * 4096) - 1n)}  user space VADs may cover`,
    `  ${hex(BigInt(l.vadEndVpn * 4096))} - ${hex(l.highestUserAddress)}  the system's (KUSER_SHARED_DATA; MM_HIGHEST_USER_ADDRESS ${hex(l.highestUserAddress)})`,
    `  ${hex(l.userProbeAddress)} - ${hex(l.systemRangeStart - 1n)}  no access (from MM_USER_PROBE_ADDRESS)`,
    `  ${hex(l.systemRangeStart)} -  system space (MmSystemRangeStart)`,
    ...(systemCode
      ? [
          `  ${hex(systemCode.start)} - ${hex(systemCode.end - 1n)}  system code: large pages over the first physical memory (NTOSKRNL, HAL, boot drivers)`,
        ]
      : []),
    "the kernel's own mappings:",
  ];
}

/** `show pfnlists`: the page lists' sizes, the paging file, the pools, and the fault and writer counters. */
export function formatPfnLists(p: PagingInfo): string[] {
  return [
    `page lists (pages): zeroed ${p.zeroed}, free ${p.free}, standby ${p.standby}, modified ${p.modified}`,
    `by priority 0-7: standby ${p.standbyByPriority.join(" ")}; repurposed ${p.repurposedByPriority.join(" ")}`,
    `paging file: ${p.pagefileInUse} of ${p.pagefilePages} pages in use`,
    `faults: ${p.demandZeroFaults} demand-zero, ${p.transitionFaults} transition (soft), ${p.pageReads} page read${p.pageReads === 1 ? "" : "s"} (hard)`,
    `modified page writer: ${p.pagesOutput} pages written; ${p.repurposed} standby pages repurposed; zero page thread: ${p.pagesZeroed} zeroed`,
    `available: ${p.available} pages; working-set manager: ${p.wsManagerRuns} run${p.wsManagerRuns === 1 ? "" : "s"} under pressure, ${p.wsManagerTrimmed} pages trimmed`,
    `pools: paged ${p.poolPagedBytes} bytes in ${p.poolPagedPages} page${p.poolPagedPages === 1 ? "" : "s"} (${p.poolPagedResident} resident), nonpaged ${p.poolNonpagedBytes} bytes in ${p.poolNonpagedPages} page${p.poolNonpagedPages === 1 ? "" : "s"}`,
  ];
}
