/**
 * System V shared memory: shmget, shmat, shmdt, shmctl (IPC_RMID, IPC_STAT,
 * SHM_LOCK, SHM_UNLOCK, SHM_INFO) over shmem, as Linux 6.12's ipc/shm.c
 * builds it over mm/shmem.c (newseg: shmem_kernel_file_setup). A segment is
 * a ShmemObject (the shm file's shmem inode) holding one reference of its
 * own; every VMA attached to it holds another (shm_open), so nattch is the
 * object's references less the segment's: a fork's copies and a split's
 * pieces count, as shm_open counts them in Linux. The last detach of a
 * segment marked SHM_DEST destroys it (shm_close -> shm_destroy).
 *
 * Here, not in mm/: System V IPC is ipc/ in Linux, above mm (it maps
 * through do_mmap and locks through shmem_lock); kernel/ipc imports
 * kernel/mm and kernel/core, and nothing below imports it (the segment's
 * close reaches it through ShmemObject.shmClose).
 *
 * SHM_HUGETLB: the segment is a hugetlbfs file (hugetlb_file_setup with
 * HUGETLB_SHMFS_INODE) of the size rounded up to the huge page size of
 * (shmflg >> SHM_HUGE_SHIFT) & SHM_HUGE_MASK (0: the default; no pool of
 * that size: -EINVAL), its huge pages reserved now unless SHM_NORESERVE
 * (-ENOMEM when the pool cannot cover them), never charged to
 * Committed_AS; only root may make one (can_do_hugetlb_shm: CAP_IPC_LOCK
 * or sysctl_hugetlb_shm_group, 0, and vmlab's other users are in no group).
 * shmat maps the whole inode VM_HUGETLB | VM_SHARED (mm/hugetlb.ts), the
 * inode numbered by the shmid as maps shows it; SHM_LOCK and SHM_UNLOCK do
 * nothing to it (shmctl_do_lock: is_file_hugepages); shm_tot counts the
 * size asked in 4K pages; shm_rss counts pages_per_huge_page times the
 * page cache's nrpages, itself 4K pages since 6.7, so a 2M page shows
 * 512 * 512 pages (6.12 and the host's 6.18 alike).
 *
 * Left out: SHM_REMAP, SHM_EXEC's own checks, IPC_SET, SHM_STAT, IPC_INFO,
 * shm_rmid_forced and orphans, the time fields (vmlab has no wall clock:
 * they stay 0), groups in ipcperms (gid 0 for all), RLIMIT_MEMLOCK per task
 * (the 8 MiB default, MLOCK_LIMIT, for every non-root user).
 * Linux: ipc/shm.c, ipc/util.c (ipcget, ipc_addid, ipcperms)
 */
import type { KernelCore } from "../core/core.ts";
import { populate } from "../core/gup.ts";
import { syscallEntry, userOf } from "../core/sched.ts";
import type { Task } from "../core/task.ts";
import { hugetlbFilePut, hugetlbFileSetup } from "../mm/hugetlb.ts";
import type { HugetlbFile } from "../mm/hugetlb_vma.ts";
import { checkMoveUnevictableFolios } from "../mm/mlock.ts";
import { hstateSizelog } from "../mm/mmap.ts";
import { shmemAcctSize, shmemPut } from "../mm/shmem.ts";
import { Errno, mmapArgs } from "../mm/userMm.ts";
import { vmEnoughMemory } from "../mm/util.ts";
import { ShmemObject } from "../mm/vma.ts";

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const SHM_HUGETLB = 0o4000;
/** shmget: SHM_HUGE_SHIFT and SHM_HUGE_MASK (include/uapi/linux/shm.h): log2 of the huge page size */
export const SHM_HUGE_SHIFT = 26;
export const SHM_HUGE_MASK = 0x3f;
/** shmget: do not charge the segment to vm_committed_as (ignored when overcommit_memory is 2) */
export const SHM_NORESERVE = 0o10000;
export const SHM_RDONLY = 0o10000;
export const SHM_RND = 0o20000;
/** shm_perm.mode's status bits (include/uapi/linux/shm.h) */
export const SHM_DEST = 0o1000;
export const SHM_LOCKED = 0o2000;
/** include/uapi/linux/shm.h: SHMMIN, SHMMNI, SHMMAX, SHMALL (pages) */
export const SHMMIN = 1;
export const SHMMNI = 4096;
export const SHMMAX = 2 ** 64 - 1 - 2 ** 24;
export const SHMALL = 2 ** 64 - 1 - 2 ** 24;
/** ipc/util.h: IPCMNI_SHIFT, the shift of an id's sequence number (ipcmni_extend off) */
const IPCMNI_SEQ_SHIFT = 15;
/** include/linux/ipc.h: ipcid_seq_max without ipcmni_extend */
const IPC_SEQ_MAX = 65536;
/** the default RLIMIT_MEMLOCK (include/uapi/linux/resource.h MLOCK_LIMIT, 8 MiB) */
export const MLOCK_LIMIT_PAGES = 2048;

/** A segment: struct shmid_kernel and its kern_ipc_perm. */
export interface ShmSegment {
  readonly key: number;
  readonly id: number;
  /** bytes asked for (shm_segsz) */
  readonly segsz: number;
  /** the shm file's shmem inode: its pages and swap entries (a SHM_HUGETLB segment's: empty, unused) */
  readonly obj: ShmemObject;
  /** a SHM_HUGETLB segment's hugetlbfs inode (its pages, reservations, references), else null */
  readonly htlb: HugetlbFile | null;
  /** shm_perm.mode: the low 9 bits of shmflg, SHM_DEST, SHM_LOCKED */
  mode: number;
  uid: number;
  readonly cuid: number;
  readonly cpid: number;
  lpid: number;
  /** IPC_RMID: the key went to IPC_PRIVATE (ipc_set_key_private) */
  keyPrivate: boolean;
  /** the uid SHM_LOCK charged (shp->mlock_ucounts), -1 when unlocked */
  lockUid: number;
}

/** The namespace's shm state (struct ipc_ids of init_ipc_ns, and the shm sysctls). */
export interface ShmNamespace {
  /** by index (the id's low 15 bits) */
  readonly segs: Map<number, ShmSegment>;
  seq: number;
  lastIdx: number;
  /** idr_alloc_cyclic's next slot */
  nextIdx: number;
  /** shm_tot: pages of all segments */
  tot: number;
  /** kernel.shmmax, kernel.shmall (pages), kernel.shmmni */
  ctlmax: number;
  ctlall: number;
  ctlmni: number;
  /** pages charged to each uid by SHM_LOCK (ucounts UCOUNT_RLIMIT_MEMLOCK) */
  readonly locked: Map<number, number>;
}

const namespaces = new WeakMap<KernelCore, ShmNamespace>();

/** The kernel's (init) IPC namespace's shm state, made on first use. */
export function shmNamespace(k: KernelCore): ShmNamespace {
  let ns = namespaces.get(k);
  if (ns === undefined) {
    ns = {
      segs: new Map(),
      seq: 0,
      lastIdx: -1,
      nextIdx: 0,
      tot: 0,
      ctlmax: SHMMAX,
      ctlall: SHMALL,
      ctlmni: SHMMNI,
      locked: new Map(),
    };
    namespaces.set(k, ns);
  }
  return ns;
}

/** The segments, by index (what /proc/sysvipc/shm and ipcs list). */
export function shmSegments(k: KernelCore): ShmSegment[] {
  return [...shmNamespace(k).segs.values()].sort((a, b) => (a.id & 0x7fff) - (b.id & 0x7fff));
}

/** shm_nattch: the VMAs attached (the segment's own reference left out). */
export function shmNattch(s: ShmSegment): number {
  return (s.htlb?.refs ?? s.obj.refs) - 1;
}

/** The file's size in pages (i_size_read, page-aligned): a SHM_HUGETLB segment's is a whole number of huge pages. */
function shmFilePages(s: ShmSegment): number {
  const pages = Math.ceil(s.segsz / 4096);
  const nr = s.htlb?.h.nrPages ?? 1;
  return Math.ceil(pages / nr) * nr;
}

/**
 * shm_add_rss_swap: the segment's resident and swapped pages. A
 * SHM_HUGETLB segment's rss is pages_per_huge_page times the page cache's
 * nrpages (which counts 4K pages: hugetlb_add_to_page_cache), as Linux
 * 6.12 and 6.18 compute it.
 * Linux: ipc/shm.c shm_add_rss_swap
 */
export function shmRssSwap(s: ShmSegment): { rss: number; swp: number } {
  if (s.htlb !== null) return { rss: s.htlb.h.nrPages * s.htlb.h.nrPages * s.htlb.pages.size, swp: 0 };
  return { rss: s.obj.pages.size, swp: s.obj.swapped.size };
}

/** The segment's key as ipcs shows it: IPC_PRIVATE once removed. */
export function shmKey(s: ShmSegment): number {
  return s.keyPrivate ? IPC_PRIVATE : s.key;
}

/** The segments' shmem objects: their pages count in meminfo Shmem, attached or not. */
export function shmObjects(k: KernelCore): ShmemObject[] {
  return [...shmNamespace(k).segs.values()].map((s) => s.obj);
}

/** The segment of a shm file's inode: a shmem object, or a SHM_HUGETLB segment's hugetlbfs inode. */
const ownerOf = new WeakMap<ShmemObject | HugetlbFile, ShmSegment>();

/**
 * ipcperms: the owner's (uid or cuid), else the others' bits of the mode
 * must allow every access asked (4 read, 2 write); root (CAP_IPC_OWNER)
 * passes. Groups are not modelled.
 * Linux: ipc/util.c ipcperms
 */
function ipcperms(s: ShmSegment, uid: number, flag: number): boolean {
  const requested = (flag >> 6) | (flag >> 3) | flag;
  const granted = uid === s.uid || uid === s.cuid ? s.mode >> 6 : s.mode;
  return (requested & ~granted & 0o7) === 0 || uid === 0;
}

/** shm_obtain_object_check: the segment of an id, or -EINVAL (none, or another sequence number). */
function lookup(ns: ShmNamespace, id: number): ShmSegment | number {
  if (!Number.isInteger(id) || id < 0) return -Errno.EINVAL;
  const s = ns.segs.get(id & ((1 << IPCMNI_SEQ_SHIFT) - 1));
  return s === undefined || s.id !== id ? -Errno.EINVAL : s;
}

/**
 * shmget(KEY, SIZE, SHMFLG): the id of the segment of KEY, created if
 * IPC_PRIVATE or asked (IPC_CREAT): -ENOENT without it, -EEXIST with
 * IPC_EXCL for a key in use, -EINVAL for a size outside SHMMIN..shmmax or
 * larger than the existing segment, -ENOSPC past shmall or shmmni, -EACCES
 * when the mode denies the access the low flag bits ask.
 * Linux: ipc/shm.c ksys_shmget, newseg, shm_more_checks; ipc/util.c ipcget_public, ipc_addid
 */
export function shmget(k: KernelCore, task: Task, key: number, size: number, shmflg: number): bigint {
  syscallEntry(k, task);
  const ns = shmNamespace(k);
  if (key !== IPC_PRIVATE) {
    const found = [...ns.segs.values()].find((s) => !s.keyPrivate && s.key === key);
    if (found === undefined) {
      if (!(shmflg & IPC_CREAT)) return BigInt(-Errno.ENOENT);
    } else {
      if (shmflg & IPC_CREAT && shmflg & IPC_EXCL) return BigInt(-Errno.EEXIST);
      if (found.segsz < size) return BigInt(-Errno.EINVAL); // shm_more_checks
      if (!ipcperms(found, task.uid, shmflg)) return BigInt(-Errno.EACCES);
      return BigInt(found.id);
    }
  }
  return BigInt(newseg(k, ns, task, key, size, shmflg));
}

/** newseg: the segment's checks, accounting and id (ipc_idr_alloc's cyclic index and sequence). */
function newseg(
  k: KernelCore,
  ns: ShmNamespace,
  task: Task,
  key: number,
  size: number,
  shmflg: number,
): number {
  const numpages = Math.ceil(size / 4096);
  if (!Number.isSafeInteger(size) || size < SHMMIN || size > ns.ctlmax) return -Errno.EINVAL;
  if (ns.tot + numpages > ns.ctlall) return -Errno.ENOSPC;
  if (shmflg & SHM_HUGETLB) return newsegHugetlb(k, ns, task, key, size, shmflg);
  // shmem_kernel_file_setup(name, size, acctflag) -> shmem_acct_size: the segment is charged to
  // vm_committed_as whole, unless SHM_NORESERVE while overcommit_memory is not 2
  const charge = shmflg & SHM_NORESERVE && k.userMm.settings.overcommit !== "never" ? 0 : numpages;
  if (charge > 0 && !vmEnoughMemory(k.userMm, task.mm, charge, task.uid === 0)) return -Errno.ENOMEM;
  if (ns.segs.size >= ns.ctlmni) return -Errno.ENOSPC; // ipc_addid: in_use >= max_idx
  const obj = new ShmemObject();
  obj.refs = 1; // the segment's shm_file
  obj.sizePages = numpages; // shmem_kernel_file_setup(name, size): i_size
  obj.sysv = true; // shm_vm_ops: huge pages as shm_mnt's huge= allows (mm/shmem_anon_huge.ts)
  shmemAcctSize(k.userMm, obj, charge);
  return addSeg(k, ns, task, key, size, shmflg, obj, null);
}

/**
 * newseg with SHM_HUGETLB: hstate_sizelog of the SHM_HUGE bits (none:
 * -EINVAL), then hugetlb_file_setup of the size aligned to the huge page
 * (-EPERM for a user without CAP_IPC_LOCK, -ENOMEM when the pool cannot
 * reserve it), then ipc_addid (-ENOSPC: the file goes again).
 * Linux: ipc/shm.c newseg; fs/hugetlbfs/inode.c hugetlb_file_setup, can_do_hugetlb_shm
 */
function newsegHugetlb(
  k: KernelCore,
  ns: ShmNamespace,
  task: Task,
  key: number,
  size: number,
  shmflg: number,
): number {
  const h = hstateSizelog(k.userMm, (shmflg >> SHM_HUGE_SHIFT) & SHM_HUGE_MASK);
  if (h === undefined) return -Errno.EINVAL;
  if (task.uid !== 0) return -Errno.EPERM; // can_do_hugetlb_shm
  const nrHuge = Math.ceil(size / (h.nrPages * 4096));
  const file = hugetlbFileSetup(k.userMm, h, nrHuge, (shmflg & SHM_NORESERVE) !== 0, true);
  if (file === null) return -Errno.ENOMEM;
  if (ns.segs.size >= ns.ctlmni) {
    hugetlbFilePut(k.userMm, file); // ipc_addid failed: fput
    return -Errno.ENOSPC;
  }
  const obj = new ShmemObject();
  obj.refs = 1;
  const id = addSeg(k, ns, task, key, size, shmflg, obj, file);
  file.ino = id; // "shmid gets reported as inode# in /proc/pid/maps"
  return id;
}

/** ipc_addid's index and sequence (ipc_idr_alloc) for a new segment: its id. */
function addSeg(
  k: KernelCore,
  ns: ShmNamespace,
  task: Task,
  key: number,
  size: number,
  shmflg: number,
  obj: ShmemObject,
  htlb: HugetlbFile | null,
): number {
  // ipc_idr_alloc: idr_alloc_cyclic from the slot after the last, the sequence bumped on wrapping
  const max = Math.min(ns.ctlmni, 1 << IPCMNI_SEQ_SHIFT);
  let idx = ns.nextIdx;
  for (let i = 0; i < max && ns.segs.has(idx % max); i++) idx++;
  idx %= max;
  if (ns.segs.has(idx)) for (idx = 0; ns.segs.has(idx); idx++);
  ns.nextIdx = idx + 1;
  if (idx <= ns.lastIdx) ns.seq = (ns.seq + 1) % IPC_SEQ_MAX;
  ns.lastIdx = idx;
  const seg: ShmSegment = {
    key,
    id: (ns.seq << IPCMNI_SEQ_SHIFT) + idx,
    segsz: size,
    obj,
    htlb,
    mode: shmflg & 0o777,
    uid: task.uid,
    cuid: task.uid,
    cpid: task.pid,
    lpid: 0,
    keyPrivate: false,
    lockUid: -1,
  };
  if (htlb !== null) {
    htlb.shmClose = () => shmClose(k, seg);
    ownerOf.set(htlb, seg);
  } else {
    obj.shmClose = () => shmClose(k, seg);
    ownerOf.set(obj, seg);
  }
  ns.segs.set(idx, seg);
  ns.tot += Math.ceil(size / 4096);
  return seg.id;
}

/**
 * shm_close after a VMA of the segment went (munmap, shmdt, exit): a
 * segment marked SHM_DEST with no attach left is destroyed.
 * Linux: ipc/shm.c shm_close, shm_may_destroy
 */
function shmClose(k: KernelCore, s: ShmSegment): void {
  if (shmNattch(s) === 0 && s.mode & SHM_DEST) shmDestroy(k, s);
}

/**
 * shm_destroy: the segment leaves the namespace (shm_rmid), its pages leave
 * shm_tot, SHM_LOCK's charge is returned (shmem_lock(file, 0)) and the
 * segment's reference to its shmem file goes: its pages and swap entries
 * are freed (fput -> shmem_evict_inode).
 * Linux: ipc/shm.c shm_destroy
 */
function shmDestroy(k: KernelCore, s: ShmSegment): void {
  const ns = shmNamespace(k);
  ns.segs.delete(s.id & ((1 << IPCMNI_SEQ_SHIFT) - 1));
  ns.tot -= Math.ceil(s.segsz / 4096);
  if (s.htlb !== null) {
    s.htlb.shmClose = null;
    hugetlbFilePut(k.userMm, s.htlb);
    return;
  }
  shmemLock(ns, s, false, 0);
  s.obj.shmClose = null;
  shmemPut(k.userMm, s.obj);
}

/**
 * shmat(ID, ADDR, SHMFLG): maps the segment shared (VM_SHARED |
 * VM_MAYSHARE) into the task, read-write or, with SHM_RDONLY, read-only
 * (the file opened O_RDONLY: VM_MAYSHARE alone, no VM_MAYWRITE, so no
 * later mprotect to writable nor MADV_REMOVE: -EACCES);
 * ADDR 0 lets get_unmapped_area choose, else ADDR (rounded down to SHMLBA
 * with SHM_RND, -EINVAL when not page-aligned without it) is used MAP_FIXED,
 * -EINVAL when a mapping is already there. Returns the address or -errno
 * (-EINVAL: no such id; -EACCES: the mode denies it; -EIDRM: being destroyed).
 * Linux: ipc/shm.c do_shmat
 */
export function shmat(k: KernelCore, task: Task, id: number, addr: bigint, shmflg: number): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  const ns = shmNamespace(k);
  const shmlba = BigInt(k.userMm.env.cache.shmlba);
  if (addr !== 0n) {
    if (addr % shmlba !== 0n) {
      if (shmflg & SHM_RND) addr -= addr % shmlba;
      else if (addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
    }
  }
  const s = lookup(ns, id);
  if (typeof s === "number") return BigInt(s);
  const rdonly = (shmflg & SHM_RDONLY) !== 0;
  if (!ipcperms(s, task.uid, rdonly ? 0o444 : 0o666)) return BigInt(-Errno.EACCES);
  const size = shmFilePages(s);
  if (addr !== 0n) {
    const start = Number(addr / 4096n);
    if (addr + BigInt(s.segsz) > k.layout.userEnd) return BigInt(-Errno.EINVAL);
    for (const v of mm.vmas) if (v.vmStart < start + size && v.vmEnd > start) return BigInt(-Errno.EINVAL);
  }
  const name = `/SYSV${(s.key >>> 0).toString(16).padStart(8, "0")} (deleted)`;
  const r = k.userMm.mmap(
    mm,
    mmapArgs(s.htlb !== null ? size * 4096 : s.segsz, {
      shared: true,
      prot: { r: true, w: !rdonly, x: false },
      // SHM_RDONLY: the shm file is opened O_RDONLY (no FMODE_WRITE): VM_MAYSHARE alone
      readOnlyFile: rdonly,
      addr: addr === 0n ? -1 : Number(addr),
      fixed: addr !== 0n,
      // shm_mmap -> hugetlbfs_file_mmap for a SHM_HUGETLB segment's file
      ...(s.htlb !== null
        ? { hugetlb: true, hugetlbFile: { file: s.htlb, name } }
        : { shmem: { obj: s.obj, name } }),
    }),
    (vpn, write) => populate(k, task, vpn, write),
  );
  if (r < 0) return BigInt(r);
  s.lpid = task.pid; // shm_open
  return BigInt(r) * 4096n;
}

/**
 * shmdt(ADDR): unmaps the VMA of a segment that starts at ADDR (its page
 * offset counted from ADDR), then every later VMA of that same segment
 * that lies within the segment's size from ADDR (the pieces of an attach
 * split by mprotect): 0, or -EINVAL when ADDR is unaligned or no attach
 * starts there.
 * Linux: ipc/shm.c ksys_shmdt
 */
export function shmdt(k: KernelCore, task: Task, addr: bigint): bigint {
  const mm = userOf(task);
  syscallEntry(k, task);
  if (addr % 4096n !== 0n || addr < 0n) return BigInt(-Errno.EINVAL);
  const a = Number(addr / 4096n);
  const inode = (v: (typeof mm.vmas)[number]) => v.shmem ?? v.htlb?.file ?? null;
  const isShmAt = (v: (typeof mm.vmas)[number]) => {
    const f = inode(v);
    return f !== null && ownerOf.has(f) && v.vmStart - a === v.vmPgoff;
  };
  const vmas = mm.vmas.filter((v) => v.vmEnd > a).sort((x, y) => x.vmStart - y.vmStart);
  const first = vmas.findIndex(isShmAt);
  if (first < 0) return BigInt(-Errno.EINVAL);
  const obj = inode(vmas[first])!;
  const size = shmFilePages(ownerOf.get(obj)!);
  const doomed = [vmas[first]];
  for (let i = first + 1; i < vmas.length && vmas[i].vmEnd - a <= size; i++)
    if (isShmAt(vmas[i]) && inode(vmas[i]) === obj) doomed.push(vmas[i]);
  ownerOf.get(obj)!.lpid = task.pid; // shm_close: shm_lprid
  for (const v of doomed) k.userMm.munmap(mm, v.vmStart, v.vmEnd - v.vmStart);
  return 0n;
}

/** IPC_STAT's struct shmid64_ds (the time fields are not modelled). */
export interface ShmidDs {
  key: number;
  uid: number;
  cuid: number;
  mode: number;
  segsz: number;
  cpid: number;
  lpid: number;
  nattch: number;
}

/** SHM_INFO's struct shm_info. */
export interface ShmInfo {
  usedIds: number;
  /** pages of all segments (shm_tot) */
  shmTot: number;
  /** resident pages (shm_rss) and pages in swap (shm_swp) */
  shmRss: number;
  shmSwp: number;
}

/** What shmctl returns: 0, an id (SHM_INFO: the highest index in use) or -errno, and IPC_STAT's or SHM_INFO's data. */
export interface ShmctlResult {
  ret: bigint;
  stat?: ShmidDs;
  info?: ShmInfo;
}

/**
 * shmctl(ID, CMD): `rmid` (IPC_RMID: marks SHM_DEST, the key goes private;
 * destroyed at once without attaches, else at the last detach), `stat`
 * (IPC_STAT: needs read permission), `lock` / `unlock` (SHM_LOCK /
 * SHM_UNLOCK: the segment's pages become unevictable when reclaim next
 * meets them, and are rescued by SHM_UNLOCK), `info` (SHM_INFO). Only root
 * or the owner or creator may remove, lock or unlock (-EPERM).
 * Linux: ipc/shm.c ksys_shmctl, shmctl_down, shmctl_stat, shmctl_shm_info, shmctl_do_lock
 */
export function shmctl(k: KernelCore, task: Task, id: number, cmd: string): ShmctlResult {
  syscallEntry(k, task);
  const ns = shmNamespace(k);
  if (cmd === "info") {
    let rss = 0;
    let swp = 0;
    let maxIdx = 0;
    for (const [idx, s] of ns.segs) {
      const r = shmRssSwap(s);
      rss += r.rss;
      swp += r.swp;
      maxIdx = Math.max(maxIdx, idx);
    }
    const info = { usedIds: ns.segs.size, shmTot: ns.tot, shmRss: rss, shmSwp: swp };
    return { ret: BigInt(ns.segs.size ? maxIdx : 0), info };
  }
  const s = lookup(ns, id);
  if (typeof s === "number") return { ret: BigInt(s) };
  const owner = task.uid === 0 || task.uid === s.uid || task.uid === s.cuid;
  switch (cmd) {
    case "stat": {
      if (!ipcperms(s, task.uid, 0o444)) return { ret: BigInt(-Errno.EACCES) };
      const stat = {
        key: shmKey(s),
        uid: s.uid,
        cuid: s.cuid,
        mode: s.mode,
        segsz: s.segsz,
        cpid: s.cpid,
        lpid: s.lpid,
        nattch: shmNattch(s),
      };
      return { ret: 0n, stat };
    }
    case "rmid":
      // shmctl_down -> do_shm_rmid
      if (!owner) return { ret: BigInt(-Errno.EPERM) };
      if (shmNattch(s) > 0) {
        s.keyPrivate = true; // ipc_set_key_private
        s.mode |= SHM_DEST;
      } else shmDestroy(k, s);
      return { ret: 0n };
    case "lock":
    case "unlock": {
      if (!owner) return { ret: BigInt(-Errno.EPERM) };
      if (s.htlb !== null) return { ret: 0n }; // shmctl_do_lock: is_file_hugepages, nothing to do
      if (cmd === "lock") {
        const r = shmemLock(ns, s, true, task.uid);
        if (r === 0) s.mode |= SHM_LOCKED;
        return { ret: BigInt(r) };
      }
      if (!(s.mode & SHM_LOCKED)) return { ret: 0n };
      shmemLock(ns, s, false, 0);
      s.mode &= ~SHM_LOCKED;
      shmemUnlockMapping(k, s.obj);
      return { ret: 0n };
    }
    default:
      return { ret: BigInt(-Errno.EINVAL) };
  }
}

/**
 * shmem_lock: locking marks the mapping unevictable (mapping_set_unevictable:
 * nothing moves now; reclaim culls each page it meets) after user_shm_lock
 * charged the segment's pages to the uid against RLIMIT_MEMLOCK (-ENOMEM
 * past it; root, CAP_IPC_LOCK, is not limited); unlocking returns the
 * charge and clears the mark. Locking twice is 0 and charges once.
 * Linux: mm/shmem.c shmem_lock, mm/mlock.c user_shm_lock, user_shm_unlock
 */
function shmemLock(ns: ShmNamespace, s: ShmSegment, lock: boolean, uid: number): number {
  const pages = Math.ceil(s.segsz / 4096);
  if (lock && !s.obj.unevictable) {
    const now = (ns.locked.get(uid) ?? 0) + pages;
    if (uid !== 0 && now > MLOCK_LIMIT_PAGES) return -Errno.ENOMEM;
    ns.locked.set(uid, now);
    s.lockUid = uid;
    s.obj.unevictable = true;
  }
  if (!lock && s.obj.unevictable) {
    ns.locked.set(s.lockUid, (ns.locked.get(s.lockUid) ?? 0) - pages);
    s.lockUid = -1;
    s.obj.unevictable = false;
  }
  return 0;
}

/**
 * shmem_unlock_mapping (SHM_UNLOCK): the object's pages in index order, a
 * folio batch (31) at a time (filemap_get_folios), go through
 * check_move_unevictable_folios; pages in swap are not looked at.
 * Linux: mm/shmem.c shmem_unlock_mapping
 */
function shmemUnlockMapping(k: KernelCore, obj: ShmemObject): void {
  const v = k.vmscan;
  const pfns = [...obj.pages.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  for (let i = 0; i < pfns.length; i += 31)
    checkMoveUnevictableFolios(v, v.fbatches.mlock.stats, pfns.slice(i, i + 31));
}
