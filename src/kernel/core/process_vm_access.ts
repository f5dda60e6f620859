/**
 * One process reading or writing another's memory: process_vm_readv(2) and
 * process_vm_writev(2) (mm/process_vm_access.c, over pin_user_pages_remote)
 * and pread/pwrite of /proc/PID/mem (fs/proc/base.c mem_rw, over
 * access_remote_vm with FOLL_FORCE). The caller's own buffer is reached
 * with copy_to_user/copy_from_user in its context (its faults resolved and
 * counted as any uaccess's); the target's pages through GUP (core/gup_remote.ts),
 * whose faults are counted against the caller too.
 *
 * Permission (mm_access, ptrace_may_access with PTRACE_MODE_ATTACH_REALCREDS):
 * vmlab allows a caller of the target's uid or uid 0 (CAP_SYS_PTRACE) and
 * refuses others; it models no dumpable flag (a task that changed its uids is
 * non-dumpable in Linux, reachable by CAP_SYS_PTRACE only), no Yama
 * ptrace_scope, no user namespaces.
 */

import { Errno } from "../mm/internal.ts";
import type { KernelCore } from "./core.ts";
import { folioMarkDirty } from "./gup.ts";
import {
  Foll,
  type GupPage,
  getUserPage,
  gupPutFolio,
  pinUserPages,
  unpinUserPagesDirtyLock,
} from "./gup_remote.ts";
import { untaggedAddr } from "./mman.ts";
import type { Task } from "./task.ts";

/** PVM_MAX_USER_PAGES: the pages process_vm_rw_single_vec pins at a time (PVM_MAX_KMALLOC_PAGES / sizeof(struct page *)) */
const PVM_MAX_USER_PAGES = 1024;

/**
 * mm_access's ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS): the
 * caller's own mm, the same uid, or CAP_SYS_PTRACE (uid 0).
 * Linux: kernel/ptrace.c __ptrace_may_access; kernel/fork.c mm_access
 */
export function ptraceMayAccess(caller: Task, target: Task): boolean {
  return caller.mm === target.mm || caller.uid === target.uid || caller.uid === 0;
}

/** What a remote access did: the return value (bytes moved or -errno). */
export interface RemoteRw {
  ret: number;
  /** pages GUP took in the target (pinned or referenced, then released) */
  pages: number;
}

/**
 * process_vm_rw_core with one local and one remote iovec: import_iovec's
 * access_ok of the local buffer (-EFAULT), the target's mm (a task without
 * one: -ESRCH; ptrace_may_access refusing: -EPERM, mm_access's -EACCES mapped),
 * then process_vm_rw_single_vec: up to PVM_MAX_USER_PAGES pages pinned at a
 * time with pin_user_pages_remote (FOLL_WRITE for writev; no FOLL_FORCE: a
 * read-only VMA refuses a write), none pinned: -EFAULT; each page copied
 * (copy_page_to_iter / copy_page_from_iter: the caller's buffer through
 * copy_to_user / copy_from_user, a short copy ends it with -EFAULT), then
 * unpinned (unpin_user_pages_dirty_lock, dirty for writev). Returns the bytes
 * copied if any, else the error.
 * Linux: mm/process_vm_access.c process_vm_rw_core, process_vm_rw_single_vec, process_vm_rw_pages
 */
export function processVmRw(
  k: KernelCore,
  cpuId: number,
  caller: Task,
  target: Task,
  local: bigint,
  remote: bigint,
  len: number,
  write: boolean,
): RemoteRw {
  const out: RemoteRw = { ret: 0, pages: 0 };
  if (!k.uaccess.accessOk(caller, local, len)) {
    out.ret = -Errno.EFAULT; // __import_iovec
    return out;
  }
  if (len === 0) return out;
  const mm = target.mm;
  if (mm === null) {
    out.ret = -Errno.ESRCH;
    return out;
  }
  if (!ptraceMayAccess(caller, target)) {
    out.ret = -Errno.EPERM;
    return out;
  }
  const phys = k.machine.phys;
  const env = k.userMm.env;
  let copied = 0;
  let rc = 0;
  let pa = remote;
  let nrPages = Number((remote + BigInt(len) - 1n) / 4096n - remote / 4096n) + 1;
  let startOffset = Number(remote % 4096n);
  let left = len;
  const foll = Foll.REMOTE | (write ? Foll.WRITE : 0);
  while (rc === 0 && nrPages > 0 && left > 0) {
    // __get_user_pages: start = untagged_addr_remote(mm, start)
    const vpn = Number(untaggedAddr(k, pa) / 4096n);
    const got = pinUserPages(k, caller, mm, vpn, Math.min(nrPages, PVM_MAX_USER_PAGES), foll);
    if (typeof got === "number") {
      rc = -Errno.EFAULT; // pinned_pages <= 0
      break;
    }
    out.pages += got.length;
    let bytes = Math.min(got.length * 4096 - startOffset, left);
    // process_vm_rw_pages: page by page, each copy through the caller's buffer
    let offset = startOffset;
    for (const p of got) {
      if (bytes === 0) break;
      const n = Math.min(4096 - offset, bytes);
      const base = p.pfn * 4096 + offset;
      if (!write && k.pages.mapcount[p.pfn] > 0) env.cache.flushDcachePage(p.pfn);
      const r = k.uaccess.copy(
        cpuId,
        local + BigInt(copied),
        n,
        !write,
        (i) => phys.read8(base + i),
        (i, b) => phys.write8(base + i, b),
        base,
      );
      if (write && k.pages.mapcount[p.pfn] > 0) env.cache.flushDcachePage(p.pfn);
      copied += n - r.notCopied;
      bytes -= n;
      offset = 0;
      if (r.notCopied > 0) {
        rc = -Errno.EFAULT;
        break;
      }
    }
    left -= Math.min(got.length * 4096 - startOffset, left);
    startOffset = 0;
    nrPages -= got.length;
    pa += BigInt(got.length * 4096);
    unpinUserPagesDirtyLock(k, got, write);
  }
  out.ret = copied > 0 ? copied : rc;
  return out;
}

/**
 * pread/pwrite of /proc/PID/mem at `remote` (mem_rw): mem_open's mm_access
 * (refused: -EACCES), FOLL_FORCE (proc_mem_foll_force, the default
 * PROC_MEM_ALWAYS_FORCE) and FOLL_WRITE for a write; chunks of up to a page:
 * a write first copies the caller's chunk into a kernel page (copy_from_user
 * failing at all: -EFAULT, whatever was done before), then access_remote_vm
 * moves it; nothing moved: -EIO if nothing was yet, else the bytes so far; a
 * read copies the chunk out (copy_to_user failing: -EFAULT).
 * Linux: fs/proc/base.c mem_rw, proc_mem_foll_force
 */
export function memRw(
  k: KernelCore,
  cpuId: number,
  caller: Task,
  target: Task,
  local: bigint,
  remote: bigint,
  count: number,
  write: boolean,
): RemoteRw {
  const out: RemoteRw = { ret: 0, pages: 0 };
  const mm = target.mm;
  if (mm === null) return out; // mem_rw: no mm, 0
  if (!ptraceMayAccess(caller, target)) {
    out.ret = -Errno.EACCES; // proc_mem_open
    return out;
  }
  if (!k.uaccess.accessOk(caller, local, count)) {
    out.ret = -Errno.EFAULT; // vfs_read / vfs_write: access_ok of the buffer
    return out;
  }
  const flags = Foll.FORCE | (write ? Foll.WRITE : 0);
  const page = new Uint8Array(4096); // __get_free_page
  let copied = 0;
  let addr = remote;
  let buf = local;
  while (count > 0) {
    let thisLen = Math.min(count, 4096);
    if (write) {
      const r = k.uaccess.copy(
        cpuId,
        buf,
        thisLen,
        false,
        () => 0,
        (i, b) => {
          page[i] = b;
        },
      );
      if (r.notCopied > 0) {
        copied = -Errno.EFAULT;
        break;
      }
    }
    thisLen = accessRemoteVm(k, caller, target, addr, page, thisLen, flags, out);
    if (thisLen === 0) {
      if (copied === 0) copied = -Errno.EIO;
      break;
    }
    if (!write) {
      const r = k.uaccess.copy(cpuId, buf, thisLen, true, (i) => page[i]);
      if (r.notCopied > 0) {
        copied = -Errno.EFAULT;
        break;
      }
    }
    buf += BigInt(thisLen);
    addr += BigInt(thisLen);
    copied += thisLen;
    count -= thisLen;
  }
  out.ret = copied;
  return out;
}

/**
 * __access_remote_vm: no VMA at `addr`: 0 (no stack expansion modelled);
 * then page by page, get_user_pages_remote (FOLL_GET | FOLL_TOUCH |
 * FOLL_REMOTE with the caller's flags) until one fails (a VM_IO/VM_PFNMAP
 * VMA's vm_ops->access is not modelled: it ends there too); a write copies
 * into the page (copy_to_user_page) and dirties it (set_page_dirty_lock),
 * then put_page. Returns the bytes moved.
 * Linux: mm/memory.c __access_remote_vm, access_remote_vm
 */
function accessRemoteVm(
  k: KernelCore,
  caller: Task,
  target: Task,
  addr: bigint,
  buf: Uint8Array,
  len: number,
  flags: number,
  out: RemoteRw,
): number {
  const mm = target.mm!;
  addr = untaggedAddr(k, addr); // "Untag the address before looking up the VMA"
  if (mm.vmaAt(Number(addr / 4096n)) === null) return 0; // vma_lookup, expand_stack
  const phys = k.machine.phys;
  const env = k.userMm.env;
  const write = (flags & Foll.WRITE) !== 0;
  let done = 0;
  while (len > 0) {
    const got = getUserPage(k, caller, mm, Number(addr / 4096n), flags | Foll.GET | Foll.TOUCH | Foll.REMOTE);
    if (typeof got === "number") break;
    out.pages++;
    const offset = Number(addr % 4096n);
    const bytes = Math.min(len, 4096 - offset);
    const base = got.pfn * 4096 + offset;
    const va = env.kmapLocal?.(got.pfn); // kmap_local_page
    if (write) {
      for (let i = 0; i < bytes; i++) phys.write8(base + i, buf[done + i]); // copy_to_user_page
      if (k.pages.mapcount[got.pfn] > 0) env.cache.flushDcachePage(got.pfn);
      setPageDirtyLock(k, got);
    } else {
      if (k.pages.mapcount[got.pfn] > 0) env.cache.flushDcachePage(got.pfn);
      for (let i = 0; i < bytes; i++) buf[done + i] = phys.read8(base + i); // copy_from_user_page
    }
    if (va !== undefined) env.kunmapLocal?.(va);
    gupPutFolio(k, got, Foll.GET); // unmap_and_put_page
    len -= bytes;
    done += bytes;
    addr += BigInt(bytes);
  }
  return done;
}

/** set_page_dirty_lock: an anonymous page's or a shmem folio's PG_dirty (core/gup.ts folioMarkDirty). */
function setPageDirtyLock(k: KernelCore, p: GupPage): void {
  if (p.head !== -2) folioMarkDirty(k, p.pfn);
}
