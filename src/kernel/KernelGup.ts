/**
 * The facade's get_user_pages services (Kernel.ts): one process reading or
 * writing another's memory (process_vm_readv/writev, /proc/PID/mem) and a
 * driver's pin_user_pages / unpin_user_pages, over core/gup_remote.ts and
 * core/process_vm_access.ts. KernelImpl extends this class (as it does
 * KernelWindowsServices, which this one extends): the methods stay on one object.
 */
import type { KernelCore } from "./core/core.ts";
import {
  Foll,
  type GupPage,
  pinUserPages,
  pinUserPagesFast,
  unpinUserPagesDirtyLock,
} from "./core/gup_remote.ts";
import { untaggedAddr } from "./core/mman.ts";
import { memRw, processVmRw, type RemoteRw } from "./core/process_vm_access.ts";
import { type TaskHandle, taskOf } from "./core/task.ts";
import { KernelWindowsServices } from "./KernelWindows.ts";

/** A remote access: process_vm_readv/writev, or pread/pwrite of /proc/PID/mem. */
export type RemoteHow = "process_vm_readv" | "process_vm_writev" | "proc_mem_read" | "proc_mem_write";

/** What pin_user_pages returned: the pages pinned (a driver's pages[]), or the error. */
export interface PinnedPages {
  /** the pages pinned, or -errno when none was */
  readonly ret: number;
  /** the frames pinned, in order */
  readonly pfns: readonly number[];
  /** FOLL_WRITE: unpinning marks them dirty (unpin_user_pages_dirty_lock) */
  readonly write: boolean;
  /** the pages, for unpinUserPages; emptied when they are unpinned */
  readonly pages: GupPage[];
  /** `fast`: how many of them gup_fast took (the rest came from the slow path) */
  readonly fast: number;
}

export abstract class KernelGupServices extends KernelWindowsServices {
  private core(): KernelCore {
    return this as unknown as KernelCore;
  }

  /**
   * The task current on `cpuId` reads or writes `target`'s memory at `remote` through its own
   * buffer at `local`: process_vm_readv/writev (pin_user_pages_remote, no FOLL_FORCE) or pread/pwrite
   * of /proc/PID/mem (access_remote_vm with FOLL_FORCE). Faults in the target count against the
   * caller. Returns the bytes moved or -errno, and the pages GUP took.
   */
  remoteRw(
    cpuId: number,
    target: TaskHandle,
    local: bigint,
    remote: bigint,
    len: number,
    how: RemoteHow,
  ): RemoteRw {
    this.linuxOnly(how);
    const k = this.core();
    const caller = k.current[cpuId]!;
    const write = how === "process_vm_writev" || how === "proc_mem_write";
    const rw = how.startsWith("proc_mem") ? memRw : processVmRw;
    return rw(k, cpuId, caller, taskOf(target), local, remote, len, write);
  }

  /**
   * pin_user_pages(addr, n, FOLL_WRITE?, FOLL_LONGTERM?) by a driver in `task`'s context (its own
   * mm: protection keys apply, no FOLL_FORCE): the pages pinned up to the first that cannot be,
   * or -errno when none could. `fast`: pin_user_pages_fast (gup_fast first, core/gup_remote.ts).
   */
  pinUserPages(
    task: TaskHandle,
    addr: bigint,
    n: number,
    write: boolean,
    longterm: boolean,
    fast = false,
  ): PinnedPages {
    this.linuxOnly("pin_user_pages");
    const k = this.core();
    const t = taskOf(task);
    const foll = (write ? Foll.WRITE : 0) | (longterm ? Foll.LONGTERM : 0);
    // __get_user_pages: start = untagged_addr_remote(mm, start); gup_fast_fallback: start =
    // untagged_addr(start) & PAGE_MASK (arm64: a top-byte tag ignored, with or without the ABI)
    const vpn = Number(untaggedAddr(k, addr) / 4096n);
    const r = (fast ? pinUserPagesFast : pinUserPages)(k, t, t.mm!, vpn, n, foll);
    if (typeof r === "number") return { ret: r, pfns: [], write, pages: [], fast: 0 };
    return {
      ret: r.length,
      pfns: r.map((p) => p.pfn),
      write,
      pages: r,
      fast: r.filter((p) => p.fast).length,
    };
  }

  /** unpin_user_pages_dirty_lock of what pinUserPages returned (dirty for a FOLL_WRITE pin); the number unpinned. */
  unpinUserPages(p: PinnedPages): number {
    const n = p.pages.length;
    unpinUserPagesDirtyLock(this.core(), p.pages.splice(0), p.write);
    return n;
  }
}
