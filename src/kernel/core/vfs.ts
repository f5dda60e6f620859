/**
 * Files and devices as the kernel's entry points see them: creating a file
 * on the simulated file system, read(2) and write(2) through the page cache
 * and copy_to/from_user (fs/read_write.c), and registering a character
 * device whose buffer processes map with remap_pfn_range.
 */
import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import { pfnUnchecked } from "../../base/units.ts";
import { BOGO_INODE_SIZE, type FileObject, ShmemSbInfo } from "../fs/file.ts";
import { FilesStruct, type OpenFile } from "../fs/open.ts";
import { MAX_ORDER } from "../mm/buddy.ts";
import { filemapRead } from "../mm/filemap.ts";
import { Gfp } from "../mm/gfp.ts";
import { hugetlbfsInode } from "../mm/hugetlb_vma.ts";
import { PageFlag } from "../mm/PageDesc.ts";
import { shmemSwapinIndex } from "../mm/shmem.ts";
import { shmemParseHuge } from "../mm/shmem_huge.ts";
import { Errno } from "../mm/userMm.ts";
import { allocPages } from "./alloc.ts";
import { RV32_NO_THP } from "./config.ts";
import type { KernelCore } from "./core.ts";
import { hugetlbfsIo, hugetlbfsTruncate } from "./hugetlbfs.ts";
import { memcgHandleOverHigh, memcgSyscallTask } from "./memcontrol.ts";
import { sealCheckSize, sealCheckWrite } from "./memfd.ts";
import { memfdRelease } from "./memfd_evict.ts";
import { exit, syscallEntry } from "./sched.ts";
import type { Task } from "./task.ts";
import { balanceDirtyPagesRatelimited } from "./writeback.ts";

/** fallocate(2) lives in core/fallocate.ts; the facade reaches it through vfs. */
export { fallocate } from "./fallocate.ts";

/** A tmpfs file's mount (`file fs=tmpfs mount=NAME nr_inodes=N`): shared by name, its nr_inodes=. */
export interface TmpfsOpts {
  /** the mount's name: a file naming one that exists joins it, else the mount is made now */
  mount?: string;
  /** nr_inodes= (sbinfo->max_inodes; 0: no limit); absent: shmem_default_max_inodes() */
  nrInodes?: number;
}

/**
 * Creates a file of `sizeBytes` on the simulated file system: `disk`
 * (ext4-like: pages come from disk on a miss, unless `cached` preloads them
 * into the page cache) or `tmpfs` (shmem: always in memory), on a tmpfs
 * mount of its own or the one `tmpfs.mount` names (made by its first file,
 * with that file's options): huge= `huge` (never by default), size=
 * `nrBlocks` pages (0: no limit; absent: shmem_default_max_blocks(),
 * totalram_pages() / 2) and nr_inodes= (absent: shmem_default_max_inodes(),
 * min(totalram - totalhigh, totalram / 2)). The mount's root directory takes
 * an inode (shmem_fill_super's shmem_get_inode), each file another
 * (shmem_reserve_inode: -ENOSPC when free_ispace has no BOGO_INODE_SIZE left).
 * Linux: mm/shmem.c shmem_fill_super, shmem_default_max_blocks, shmem_default_max_inodes, shmem_reserve_inode
 */
export function createFile(
  k: KernelCore,
  name: string,
  sizeBytes: number,
  fs: "disk" | "tmpfs",
  cached: boolean,
  folioBytes = 4096,
  huge?: "never" | "always" | "within_size" | "advise",
  nrBlocks?: number,
  tmpfs: TmpfsOpts = {},
): FileObject {
  const folioError = folioSizeError(k, fs, folioBytes);
  if (folioError !== null) throw new InputError(`file ${name}: ${folioError}`);
  if (k.pageCache.files.has(name)) throw new InputError(`file ${name} already exists`);
  if (!(Number.isInteger(sizeBytes) && sizeBytes >= 0 && sizeBytes <= 2 ** 40))
    throw new InputError(`file ${name}: size ${sizeBytes} must be an integer from 0 to 1 TiB`);
  if ((cached || fs === "tmpfs") && sizeBytes > k.machine.phys.sizeBytes)
    throw new InputError(
      `file ${name}: ${fs === "tmpfs" ? "a tmpfs file" : "a cached file"} of ${sizeBytes} bytes cannot fit in ${k.machine.phys.sizeBytes} bytes of RAM`,
    );
  if (fs === "disk" && huge !== undefined && huge !== "never")
    throw new InputError(`file ${name}: huge= is a tmpfs mount option (huge tmpfs), not a disk file's`);
  // shmem_parse_one: huge= other than never without CONFIG_TRANSPARENT_HUGEPAGE is
  // "Unsupported parameter 'huge'" (invalfc: the mount fails, -EINVAL)
  if (huge !== undefined && huge !== "never" && k.arch.noTransparentHugepage)
    throw new InputError(
      `file ${name}: tmpfs: Unsupported parameter 'huge' (shmem_parse_one, without CONFIG_TRANSPARENT_HUGEPAGE: ${RV32_NO_THP})`,
    );
  if (fs === "disk" && (nrBlocks !== undefined || tmpfs.mount !== undefined || tmpfs.nrInodes !== undefined))
    throw new InputError(
      `file ${name}: nr_blocks=, nr_inodes= and mount= are tmpfs mount options, not a disk file's`,
    );
  for (const [opt, v] of [
    ["nr_blocks", nrBlocks],
    ["nr_inodes", tmpfs.nrInodes],
  ] as const)
    if (v !== undefined && !(Number.isInteger(v) && v >= 0))
      throw new InputError(`file ${name}: ${opt}=${v} must be a whole number`);
  // shmem_parse_one: "nr_blocks > LONG_MAX" and "nr_inodes > ULONG_MAX / BOGO_INODE_SIZE" are
  // bad values (invalfc: the mount fails, -EINVAL), bounds a 32-bit kernel's longs reach
  const longBits = 8 * (k.arch.longBytes ?? 8);
  if (nrBlocks !== undefined && nrBlocks > 2 ** (longBits - 1) - 1)
    throw new InputError(`file ${name}: tmpfs: Bad value for 'nr_blocks' (above LONG_MAX: shmem_parse_one)`);
  if (tmpfs.nrInodes !== undefined && tmpfs.nrInodes > Math.floor((2 ** longBits - 1) / BOGO_INODE_SIZE))
    throw new InputError(
      `file ${name}: tmpfs: Bad value for 'nr_inodes' (above ULONG_MAX / BOGO_INODE_SIZE: shmem_parse_one)`,
    );
  // a tmpfs file's mount: its own, or the named one (shmem_fill_super made it with its first
  // file's options; a later file's options would be a second mount's); a disk file has none
  let sb: ShmemSbInfo | null = null;
  if (fs === "tmpfs") {
    sb = tmpfs.mount !== undefined ? (k.pageCache.tmpfsMounts.get(tmpfs.mount) ?? null) : null;
    if (sb !== null && (huge !== undefined || nrBlocks !== undefined || tmpfs.nrInodes !== undefined))
      throw new InputError(
        `file ${name}: mount ${tmpfs.mount} exists: its huge=, nr_blocks= and nr_inodes= were set when it was made`,
      );
    if (sb === null) {
      // shmem_fill_super: "Per default we only allow half of the physical ram per tmpfs
      // instance, limiting inodes to one per page of lowmem"
      const totalram = k.buddy.managedPages();
      const l = k.buddy.layout;
      const totalhigh = l.highmem === l.normal ? 0 : k.buddy.zones[l.highmem].managed;
      sb = new ShmemSbInfo(
        tmpfs.mount ?? null,
        nrBlocks ?? Math.floor(totalram / 2), // shmem_default_max_blocks
        tmpfs.nrInodes ?? Math.min(totalram - totalhigh, Math.floor(totalram / 2)), // shmem_default_max_inodes
        shmemParseHuge(huge ?? "never") ?? 0,
      );
      // the root directory's inode (shmem_get_inode -> shmem_reserve_inode)
      if (sb.maxInodes > 0 && sb.freeIspace < BOGO_INODE_SIZE)
        throw new InputError(`file ${name}: nr_inodes=0 leaves no inode for the mount's root`);
      if (sb.maxInodes > 0) sb.freeIspace -= BOGO_INODE_SIZE;
      if (tmpfs.mount !== undefined) k.pageCache.tmpfsMounts.set(tmpfs.mount, sb);
    }
    // shmem_reserve_inode: the file's inode
    if (sb.maxInodes > 0) {
      if (sb.freeIspace < BOGO_INODE_SIZE)
        throw new InputError(
          `file ${name}: the mount's nr_inodes=${sb.maxInodes} are all used (shmem_reserve_inode: -ENOSPC)`,
        );
      sb.freeIspace -= BOGO_INODE_SIZE;
    }
  }
  const free = sb !== null ? sb.maxBlocks - sb.usedBlocks : 0;
  const f = k.pageCache.create(name, sizeBytes, fs, cached, Math.log2(folioBytes / 4096), null, sb);
  if (f === null) {
    // the write(2) that fills the file stops at the first page shmem_inode_acct_blocks refuses
    const max = sb?.maxBlocks ?? 0;
    throw new InputError(
      !k.pageCache.takeNospc()
        ? `file ${name}: out of memory filling the page cache`
        : max > 0 && Math.ceil(sizeBytes / 4096) > free
          ? `file ${name}: ${Math.ceil(sizeBytes / 4096)} pages do not fit the mount's ${free} free blocks of nr_blocks=${max}${nrBlocks === undefined && sb!.name === null ? " (the default: half of RAM, shmem_default_max_blocks)" : ""} (shmem_inode_acct_blocks: -ENOSPC)`
          : `file ${name}: the commit limit refuses its pages (shmem_acct_blocks: -ENOSPC)`,
    );
  }
  return f;
}

/**
 * Why a file cannot have folios of `bytes` here, or null. A power of two
 * from 4K up to mapping_max_folio_order: ext4's EXT4_MAX_PAGECACHE_ORDER,
 * min(MAX_PAGECACHE_ORDER, 11 + blkbits - PAGE_SHIFT), where
 * MAX_PAGECACHE_ORDER is min(MAX_XAS_ORDER = 11, HPAGE_PMD_ORDER): the PMD
 * size on every architecture vmlab has (2M; 4M on i386 without PAE). A
 * PMD-size folio is mapped by a PMD on a suitable mapping (do_set_pmd).
 * tmpfs folios follow shmem_enabled (huge=), not `folio=`.
 * Linux: include/linux/pagemap.h mapping_max_folio_order, MAX_PAGECACHE_ORDER; fs/ext4/ext4.h EXT4_MAX_PAGECACHE_ORDER
 */
export function folioSizeError(k: KernelCore, fs: "disk" | "tmpfs", bytes: number): string | null {
  if (!(Number.isInteger(bytes) && bytes >= 4096 && (bytes & (bytes - 1)) === 0))
    return `folio=${bytes}: a folio is a power of two from 4K`;
  if (bytes === 4096) return null;
  // mapping_set_folio_order_range returns at once without CONFIG_TRANSPARENT_HUGEPAGE: order 0 only
  if (k.arch.noTransparentHugepage)
    return `folio=${bytes}: the page cache has no large folios without CONFIG_TRANSPARENT_HUGEPAGE (mapping_set_folio_order_range; ${RV32_NO_THP})`;
  if (fs === "tmpfs")
    return "tmpfs folio sizes follow shmem_enabled (huge=), which vmlab does not model: folio= applies to disk files";
  const pmd = k.userMm.env.pgtable.hpagePmdNr * 4096;
  if (bytes > pmd)
    return `folio=${bytes}: above mapping_max_folio_order (the PMD size, ${pmd / 1024}K, here)`;
  return null;
}

/**
 * read(2) / write(2) of `len` bytes between a file and the user buffer
 * `uva` of the task current on `cpuId`, at file offset `offset` (pread /
 * pwrite); without one, at the position of the task's struct file of the
 * file (f_pos, shared with the processes fork shared it with), which
 * advances by the bytes moved, when the task opened the file (openFile),
 * else at offset 0 (an implicit struct file: fs/open.ts). A read of
 * a disk file is filemap_read (mm/filemap.ts: readahead as the open
 * file's state says, stopping at EOF); a tmpfs read (shmem_file_read_iter,
 * no readahead) and a write go page by page through the page cache (pages
 * missing from it are read first: I/O, not page faults), with copy_to_user
 * / copy_from_user. Writes stay within the file's size and dirty the pages
 * they change. Returns the bytes transferred, or -EFAULT when access_ok
 * refuses the buffer or a fault stopped the copy before its first byte.
 * Linux: fs/read_write.c ksys_read, ksys_pread64, ksys_write, ksys_pwrite64; mm/filemap.c filemap_read
 */
export function fileIo(
  k: KernelCore,
  cpuId: number,
  f: FileObject,
  uva: bigint,
  len: number,
  write: boolean,
  offset?: number,
): number {
  // vfs_read / vfs_write: access_ok(buf, count) over the whole buffer first (a buffer reaching
  // past TASK_SIZE_MAX is -EFAULT with nothing moved, even where its first pages are mapped)
  if (!k.uaccess.accessOk(k.current[cpuId], uva, len)) return -Errno.EFAULT;
  const file = taskFile(k, k.current[cpuId], f); // fdget_pos
  const usePos = offset === undefined && !file.implicit;
  // the caller is current while its page-cache folios are charged (memcontrol.ts chargeFolio)
  const t = k.current[cpuId];
  memcgSyscallTask(k, t);
  let r: number;
  try {
    r = fileIoAt(k, cpuId, file, uva, len, write, usePos ? file.pos : (offset ?? 0));
  } finally {
    memcgSyscallTask(k, null);
  }
  if (usePos && r > 0) file.pos += r; // fdput_pos: the new f_pos
  // the memory cgroup's OOM killer chose the caller while it charged a page-cache folio: its
  // SIGKILL, pending, kills it on the way back to user space
  if (t?.alive && t.oomKilled) exit(k, t, "SIGKILL (out of memory)");
  // the return to user mode's resume_user_mode_work: the pages charged over memory.high reclaimed
  else if (t?.alive && t.memcgNrPagesOverHigh !== 0) memcgHandleOverHigh(k, t);
  return r;
}

/** The struct files of I/O with no task current (the kernel's context: kernel_read's own files). */
const kernelFiles = new WeakMap<KernelCore, FilesStruct>();

/**
 * The struct file `task` uses for `f` (fdget): the one in its file table,
 * or an implicit one opened at this first use (fs/open.ts). Kernel threads
 * and I/O with no task current use the kernel's own table.
 */
export function taskFile(k: KernelCore, task: Task | null, f: FileObject): OpenFile {
  let table = task?.files ?? null;
  if (table === null) {
    table = kernelFiles.get(k) ?? new FilesStruct();
    kernelFiles.set(k, table);
  }
  return table.fileFor(f);
}

function fileIoAt(
  k: KernelCore,
  cpuId: number,
  file: OpenFile,
  uva: bigint,
  len: number,
  write: boolean,
  start: number,
): number {
  const f = file.inode;
  const phys = k.machine.phys;
  const cache = k.userMm.env.cache;
  const inode = hugetlbfsInode(f);
  if (inode !== null) {
    // a MFD_HUGETLB memfd: hugetlbfs_read_iter (kernel/core/hugetlbfs.ts)
    const r = hugetlbfsIo(inode, k, start, len, write, (n, byte) => {
      const c = k.uaccess.copy(cpuId, uva, n, true, byte, () => {});
      return n - c.notCopied;
    });
    return r;
  }
  if (!write && f.fs === "disk") {
    // filemap_read: flush_dcache_folio of a folio users map before the copy (they may hold
    // their writes in lines of other colours); an unmapped page needs none (ARM defers it)
    let to = uva;
    return filemapRead(k.userMm, file, start, len, (pfn, off, bytes) => {
      if (k.pages.mapcount[pfn] > 0) cache.flushDcachePage(pfn);
      const base = pfn * 4096 + off;
      const r = k.uaccess.copy(
        cpuId,
        to,
        bytes,
        true,
        (i) => phys.read8(base + i),
        () => {},
        base, // the folio's bytes at `off`: the routine's alignment
      );
      const copied = bytes - r.notCopied;
      to += BigInt(copied);
      return copied;
    });
  }
  let n = Math.max(0, Math.min(len, f.sizeBytes - start));
  if (n === 0) return 0;
  if (write && sealCheckWrite(f) < 0) return -Errno.EPERM; // shmem_write_begin: the file's seals
  const pc = k.pageCache;
  if (write && f.fs === "tmpfs") {
    n = shmemWritable(k, f, start, n);
    if (n === 0) return -Errno.ENOSPC;
  }
  if (f.fs === "tmpfs" && f.swapped.size > 0) {
    // shmem_get_folio of a page in swap (shmem_swapin_folio): its swap-in charge refused
    // (mem_cgroup_swapin_charge_folio, -ENOMEM) ends the read or write there (shmem_file_read_iter
    // and generic_perform_write return what they copied, else the error)
    for (let p = Math.floor(start / 4096); p * 4096 < start + n; p++) {
      if (!f.swapped.has(p)) continue;
      if ((shmemSwapinIndex(k.userMm, f, p)?.pfn ?? -1) < 0) {
        n = Math.max(0, p * 4096 - start);
        break;
      }
    }
    if (n === 0) return -Errno.ENOMEM;
  }
  if (write && k.config.userMemoryPages != null) {
    // under a memory limit each page's folio is had before its copy (write_begin, shmem_get_folio):
    // one whose charge is refused (-ENOMEM) ends the I/O there (generic_perform_write returns
    // what it wrote: nothing, -ENOMEM)
    for (let p = Math.floor(start / 4096); p * 4096 < start + n; p++) {
      if (f.cache.has(p) || f.swapped.has(p)) continue;
      if (pc.readPage(f, p, true, write) < 0) {
        n = Math.max(0, p * 4096 - start);
        break;
      }
    }
    if (n === 0) return -Errno.ENOMEM;
  }
  const zeroPfn = k.userMm.env.zeroPfn;
  const at = (i: number): number => {
    const index = Math.floor((start + i) / 4096);
    // shmem_file_read_iter / shmem_write_begin: a tmpfs page in swap is read back (shmem_get_folio)
    if (f.swapped.size > 0 && f.swapped.has(index))
      assert(shmemSwapinIndex(k.userMm, f, index)!.pfn >= 0, "fileIo: no memory to swap a tmpfs page in");
    // shmem_file_read_iter: shmem_get_folio(SGP_READ) of a hole allocates (and charges) nothing,
    // the bytes are copied from ZERO_PAGE(0)
    if (!write && f.fs === "tmpfs" && !f.cache.has(index)) return zeroPfn * 4096 + ((start + i) % 4096);
    const pfn = pc.readPage(f, index, true, write);
    assert(pfn >= 0, "fileIo: no memory for the page cache");
    return pfn * 4096 + ((start + i) % 4096);
  };
  // flush_dcache_folio: a page users map may hold their writes in lines of other colours
  // (shmem_file_read_iter, before the copy) or must lose its old lines (generic_perform_write,
  // after it); an unmapped page needs none (ARM defers it)
  const flushMapped = () => {
    for (let p = Math.floor(start / 4096); p * 4096 < start + n; p++) {
      const pfn = pc.find(f, p); // a page not in the cache is mapped nowhere
      if (pfn >= 0 && k.pages.mapcount[pfn] > 0) cache.flushDcachePage(pfn);
    }
  };
  if (!write) flushMapped();
  // tmpfs marks the pages it copies accessed: shmem_file_read_iter each page read from its
  // first byte ("Mark the page accessed if we read the beginning"), shmem_write_begin's
  // shmem_get_folio(SGP_WRITE) each page written. An ext4 write does not: its write_begin
  // asks for FGP_WRITEBEGIN, without FGP_ACCESSED (6.12; 6.18's write_begin_get_folio too).
  const lru = f.fs === "tmpfs" ? k.userMm.env.lru : null;
  let marked = -1;
  const accessed = (i: number, a: number) => {
    const page = Math.floor((start + i) / 4096);
    if (lru === null || page === marked || (!write && (start + i) % 4096 !== 0)) return;
    if (Math.floor(a / 4096) === zeroPfn) return; // a hole's zeros: no folio to mark
    marked = page;
    lru.markAccessed(Math.floor(a / 4096));
  };
  // generic_perform_write: after each page's write_end, balance_dirty_pages_ratelimited (a disk
  // file's mapping can write back; tmpfs's cannot), with the pages the write dirtied
  let page = -1;
  let dirtied = f.acct.dirtied;
  const balance = () => {
    const nr = f.acct.dirtied - dirtied;
    k.dirtyThrottle?.serve(); // the flusher's work queued at the page before
    balanceDirtyPagesRatelimited(k, k.current[cpuId], nr);
    dirtied = f.acct.dirtied;
  };
  const r = k.uaccess.copy(
    cpuId,
    uva,
    n,
    !write,
    (i) => {
      const a = at(i);
      accessed(i, a);
      return phys.read8(a);
    },
    (i, b) => {
      const index = Math.floor((start + i) / 4096);
      if (index !== page && f.fs === "disk") {
        if (page >= 0) balance();
        page = index;
      }
      const a = at(i);
      accessed(i, a);
      phys.write8(a, b);
      if (f.fs === "disk") f.dirty.add(index);
      else k.pages.flags[Math.floor(a / 4096)] |= PageFlag.Dirty; // shmem_write_end: folio_mark_dirty
    },
  );
  if (page >= 0) {
    balance();
    k.dirtyThrottle?.serve();
  }
  if (write) flushMapped();
  const done = n - r.notCopied;
  return done > 0 ? done : -Errno.EFAULT;
}

/**
 * How many of the `n` bytes from `start` a write may put in tmpfs file `f`:
 * shmem_write_begin asks shmem_get_folio(SGP_WRITE) for each page, which
 * charges a page the file does not hold (shmem_inode_acct_blocks); the
 * first page refused (-ENOSPC) ends the write there (generic_perform_write
 * returns what it wrote, or the error when it wrote nothing: 0 here). The
 * pages are charged as the copy reaches them; this only finds where the
 * charges would stop.
 * Linux: mm/shmem.c shmem_write_begin, shmem_get_folio_gfp; mm/filemap.c generic_perform_write
 */
function shmemWritable(k: KernelCore, f: FileObject, start: number, n: number): number {
  if (k.pageCache.shmemAcct === null && f.maxBlocks === 0) return n;
  let charged = 0;
  let end = start + n;
  for (let p = Math.floor(start / 4096); p * 4096 < end; p++) {
    if (f.cache.has(p) || f.swapped.has(p)) continue;
    // refused: shmem_alloc_and_add_folio splits folios past i_size first (shmemAcctBlocks)
    if (!k.pageCache.shmemAcctBlocks(f, 1)) end = p * 4096;
    else charged++;
  }
  if (charged > 0) k.pageCache.shmemInodeAcct(f, -charged);
  return Math.max(0, end - start);
}

/**
 * open(2) of `f` by `task`: a new struct file (f_pos 0, f_ra as
 * file_ra_state_init leaves it, no advice) in the task's file table, which
 * the task's read/write/mmap/fadvise of `f` use from now on (vmlab's table
 * holds one struct file a file: it replaces the one held, which lives on in
 * the mappings made through it and in the tables fork copied it to).
 * Linux: fs/open.c do_sys_openat2, do_dentry_open; mm/readahead.c file_ra_state_init
 */
export function openFile(k: KernelCore, task: Task, f: FileObject): void {
  syscallEntry(k, task);
  assert(task.files !== null, "open by a task without a file table");
  task.files.open(f);
}

/**
 * close(2) of the task's struct file of `f`: 0, or -EBADF when the task
 * holds none (it never used the file, or closed it). Mappings made through
 * it keep it (vm_file); a later use of the file opens an implicit one. The
 * last reference to a memfd going frees it (memfd_evict.ts memfdRelease).
 * Linux: fs/open.c sys_close, fs/file.c file_close_fd, filp_flush, fput
 */
export function closeFile(k: KernelCore, task: Task, f: FileObject): number {
  syscallEntry(k, task);
  if (task.files === null || !task.files.close(f)) return -Errno.EBADF;
  memfdRelease(k, f); // fput: the last reference to a memfd frees it
  return 0;
}

/**
 * ftruncate(2) by `task`: the file's new size is `length` bytes; 0 or
 * -errno (EINVAL for a negative length, EFBIG past vmlab's 1 TiB files).
 * Mappings of the part cut off are zapped and its cached pages dropped
 * (mm/truncate.ts); an access there is then SIGBUS.
 * Linux: fs/open.c do_ftruncate (do_truncate, notify_change, inode_newsize_ok, truncate_setsize)
 */
export function ftruncate(k: KernelCore, task: Task, f: FileObject, length: bigint): bigint {
  syscallEntry(k, task);
  if (length < 0n) return BigInt(-Errno.EINVAL);
  if (length > 1n << 40n) return BigInt(-Errno.EFBIG);
  const sealed = sealCheckSize(f, Number(length)); // shmem_setattr: F_SEAL_SHRINK, F_SEAL_GROW
  if (sealed < 0) return BigInt(sealed);
  const inode = hugetlbfsInode(f);
  if (inode !== null) hugetlbfsTruncate(k, f, inode, Number(length));
  else k.userMm.truncate(f, Number(length));
  return 0n;
}

/**
 * fstat(2) by a task: i_size, and a tmpfs file's i_blocks (512-byte units:
 * its pages in memory or in swap, after shmem_getattr's shmem_recalc_inode
 * when alloced - swapped != nrpages, which gives back the charges of pages
 * reclaim dropped clean); null for a disk or hugetlbfs file, whose i_blocks
 * vmlab does not model.
 * Linux: fs/stat.c vfs_fstat, vfs_getattr; mm/shmem.c shmem_getattr
 */
export function fstat(k: KernelCore, task: Task, f: FileObject): { size: number; blocks: number | null } {
  syscallEntry(k, task);
  if (f.fs !== "tmpfs" || hugetlbfsInode(f) !== null) return { size: f.sizeBytes, blocks: null };
  k.pageCache.shmemRecalc(f);
  return { size: f.sizeBytes, blocks: (f.cache.size + f.swapped.size) * 8 };
}

/**
 * Registers a character device with a buffer of `sizeBytes` from
 * alloc_pages (physically contiguous, so one remap_pfn_range maps it).
 * Returns the buffer's kernel (direct-map) address.
 */
export function registerDevice(k: KernelCore, name: string, sizeBytes: number): bigint {
  if (k.devices.has(name)) throw new InputError(`device ${name} already exists`);
  if (!(Number.isInteger(sizeBytes) && sizeBytes > 0 && sizeBytes <= 4096 << MAX_ORDER))
    throw new InputError(
      `device ${name}: size ${sizeBytes} must be 1 .. ${4096 << MAX_ORDER} bytes (one alloc_pages block)`,
    );
  const pages = Math.ceil(sizeBytes / 4096);
  const order = Math.ceil(Math.log2(pages));
  const va = allocPages(k, order, Gfp.KERNEL);
  if (va === 0n) throw new InputError(`device ${name}: no ${4 << order} KiB block of contiguous memory`);
  const pfn = k.arch.directPa(va, k.machine.phys.sizeBytes) / 4096;
  for (let i = 0; i < 1 << order; i++) k.machine.phys.zeroFrame(pfnUnchecked(pfn + i));
  k.devices.set(name, { name, pfn, pages, order });
  return va;
}
