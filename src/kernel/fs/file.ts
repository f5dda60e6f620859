import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import { PageStore } from "../../hw/PageStore.ts";

/**
 * A file of the simulated file system: its size, where it lives (`disk`:
 * ext4-like, pages come from the disk on a miss; `tmpfs`: shmem, always in
 * memory) and its page cache (Linux: the address_space of its inode), keyed
 * by page index. The contents are deterministic from the name: byte `off` is
 * `fileByte(name, off)`, so a page read from "disk" can be checked.
 */
/**
 * A tmpfs mount's superblock (struct shmem_sb_info): its size= (max_blocks, in pages; 0: no
 * limit) and the blocks its files' pages hold (used_blocks), its nr_inodes= (max_inodes; 0: no
 * limit) and the inode space left (free_ispace, BOGO_INODE_SIZE an inode: the root directory's
 * taken at mount), its huge= (SHMEM_HUGE_*). `name`: the mount `mount=` names, or null for a
 * file's own. `key`: its first file, which keys its shrinklist (PageCache.shmemThp.sbs).
 * Linux: mm/shmem.c shmem_fill_super, shmem_reserve_inode, shmem_statfs
 */
export class ShmemSbInfo {
  usedBlocks = 0;
  freeIspace: number;
  key: FileObject | null = null;
  constructor(
    readonly name: string | null,
    readonly maxBlocks: number,
    readonly maxInodes: number,
    readonly huge: number,
  ) {
    this.freeIspace = maxInodes * BOGO_INODE_SIZE;
  }
}

/** mm/shmem.c BOGO_INODE_SIZE: the inode space one inode takes of free_ispace */
export const BOGO_INODE_SIZE = 1024;

/** A file as the kernel facade's callers hold it (Kernel.ts): createFile returns it, mmap and fileIo take it back. */

/** The seals of fcntl(F_ADD_SEALS) (include/uapi/linux/fcntl.h): core/memfd.ts, hugetlbfs.ts, fallocate.ts. */
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
export const F_SEAL_WRITE = 0x8;
export const F_SEAL_FUTURE_WRITE = 0x10;
export const F_SEAL_EXEC = 0x20;

export interface FileHandle {
  readonly name: string;
  readonly sizeBytes: number;
  readonly fs: "disk" | "tmpfs";
}

/** The largest file vmlab makes (1 TiB), in pages. */
const MAX_FILE_PAGES = 2 ** 28;

/**
 * The node's writeback state a file's pages count in (the page cache's, once the file is in it).
 * Linux: mm/page-writeback.c (NR_DIRTIED), fs/fs-writeback.c (bdi_writeback's b_dirty list)
 */
export interface WritebackAcct {
  /** NR_DIRTIED: pages that became dirty */
  dirtied: number;
  /** NR_FILE_DIRTY: the disk files' dirty pages now (balance_dirty_pages reads it) */
  nrDirty: number;
  /**
   * the disk files with dirty pages, in the order they became dirty: the flusher's b_dirty list
   * (__mark_inode_dirty sets dirtied_when as the inode goes from clean to dirty; written clean,
   * it leaves)
   */
  readonly dirtyInodes: Set<FileObject>;
}

/**
 * A file's dirty page indices, counting each page that becomes dirty in a
 * disk file's page cache (folio_account_dirtied: NR_DIRTIED, for a mapping
 * that can write back; tmpfs cannot) in the page cache's `acct.dirtied`,
 * and keeping a disk file on the dirty inode list while it has any.
 * Linux: mm/page-writeback.c folio_account_dirtied, fs/fs-writeback.c __mark_inode_dirty
 */
export class DirtyPages extends Set<number> {
  constructor(private readonly file: FileObject) {
    super();
  }

  override add(index: number): this {
    const f = this.file;
    if (f.fs === "disk" && !this.has(index)) {
      f.acct.dirtied++;
      f.acct.nrDirty++;
      if (this.size === 0) f.acct.dirtyInodes.add(f);
    }
    return super.add(index);
  }

  override delete(index: number): boolean {
    if (!super.delete(index)) return false;
    if (this.file.fs === "disk") this.file.acct.nrDirty--;
    if (this.size === 0) this.file.acct.dirtyInodes.delete(this.file);
    return true;
  }

  override clear(): void {
    if (this.file.fs === "disk") this.file.acct.nrDirty -= this.size;
    super.clear();
    this.file.acct.dirtyInodes.delete(this.file);
  }
}

export class FileObject implements FileHandle {
  /** page index -> frame: the page cache */
  readonly cache = new Map<number, number>();
  /**
   * The order of the folios the page cache allocates for this file (`folio=SIZE`; 0: 4K pages):
   * readahead's ra->order (mm/readahead.c page_cache_ra_order), bounded by
   * mapping_max_folio_order. Linux: include/linux/pagemap.h mapping_set_large_folios
   */
  folioOrder = 0;
  /** the large folios (order >= 1) in the cache: first page index -> order (a 4K folio has no entry) */
  readonly folios = new Map<number, number>();
  /**
   * tmpfs: pages reclaim wrote to swap (shmem_writeout): page index -> swap slot, the
   * xarray's swap entries of a shmem inode (mm/shmem.ts). Always empty for a disk file.
   */
  readonly swapped = new Map<number, number>();
  /**
   * tmpfs: pages reclaim dropped clean from the page cache (never written: zeros, so not written
   * to swap) whose charge the inode still holds, info->alloced - info->swapped - nrpages: given
   * back at the inode's next shmem_recalc_inode (PageCache.shmemRecalc). Always 0 for a disk file.
   */
  unrecalced = 0;
  /**
   * tmpfs: info->fallocend, the page after the last one fallocate allocated (KEEP_SIZE may put it
   * past i_size): reclaim does not split a huge folio for i_size below it (shmem_fallocend). A
   * hole punched or a truncation from below it brings it down to the hole's start.
   */
  fallocend = 0;
  /** page indices whose cached page is dirty (written through a shared mapping, not written back) */
  readonly dirty: DirtyPages = new DirtyPages(this);
  /** the node's writeback counters this file's pages count in (the page cache's; its own until created there) */
  acct: WritebackAcct = { dirtied: 0, nrDirty: 0, dirtyInodes: new Set() };
  /**
   * mapping->writeback_index: where the next range-cyclic writeback of the file starts (the index
   * after the last page a chunked pass wrote; 0 after a pass that reached the end)
   */
  writebackIndex = 0;
  /**
   * A disk file: the shadow entries reclaim left where it evicted pages (__remove_mapping:
   * workingset_eviction), page index -> shadow (mm/workingset.ts's encoding); the xarray's
   * value entries. Truncation removes them; a page read back there takes its own.
   */
  readonly shadows = new Map<number, number>();
  /** page indices written back to disk: the disk holds them in `disk`, the others' contents are the deterministic ones */
  readonly written = new Set<number>();
  /** what the disk holds for the pages written back, kept compact where a page allows (hw/PageStore.ts) */
  private diskPages: PageStore | null = null;
  /**
   * A shmem inode's seals (info->seals, F_SEAL_*): a tmpfs file starts with
   * F_SEAL_SEAL (shmem_get_inode), memfd_create(MFD_ALLOW_SEALING) clears it
   * (kernel/core/memfd.ts). Meaningless for a disk file.
   */
  seals = 1;
  /**
   * tmpfs: the huge= option of the mount the file is on (SHMEM_HUGE_*, mm/shmem_huge.ts: `file
   * fs=tmpfs huge=`, never by default), or null for shm_mnt (a memfd), whose huge= shmem_enabled sets
   */
  shmemHuge: number | null = null;
  /**
   * tmpfs: the superblock of the mount the file is on (a mount of its own, or one `mount=` names,
   * shared with the other files on it); null for shm_mnt's files (memfds), whose kernel mount
   * has no limits.
   */
  sbinfo: ShmemSbInfo | null = null;
  /** sbinfo->max_blocks of the file's mount: its size= in pages (0: no limit, as shm_mnt's) */
  get maxBlocks(): number {
    return this.sbinfo?.maxBlocks ?? 0;
  }
  /** sbinfo->used_blocks of the file's mount: shmem_inode_acct_blocks adds, shmem_inode_unacct_blocks subtracts */
  get usedBlocks(): number {
    return this.sbinfo?.usedBlocks ?? 0;
  }
  set usedBlocks(n: number) {
    if (this.sbinfo !== null) this.sbinfo.usedBlocks = n;
  }
  /** memfd_create's name (without "memfd:"), or null for a named file */
  memfdName: string | null = null;
  /** i_mode & 0111 of a memfd (MFD_NOEXEC_SEAL clears it) */
  memfdExec = false;
  /** a memfd whose last reference went: its inode was evicted (kernel/core/memfd.ts memfdRelease) */
  evicted = false;
  /** pages read from disk (I/O) and written back */
  pagesRead = 0;
  pagesWritten = 0;

  /** bytes from here on hold zeros unless written back: the least size the file ever had (ftruncate) */
  private zeroFrom = Number.POSITIVE_INFINITY;

  /**
   * Where the blocks never written back came from after FALLOC_FL_COLLAPSE_RANGE
   * or INSERT_RANGE moved them (ext4_ext_shift_extents): pieces in page order,
   * each from `start` to the next one's start, holding the deterministic
   * contents of the pages from `src` on, or zeros (`src` -1: an inserted
   * hole). null: nothing moved (each page holds its own).
   */
  private moved: { start: number; src: number }[] | null = null;

  constructor(
    readonly name: string,
    /** i_size; changed only by setSize */
    public sizeBytes: number,
    readonly fs: "disk" | "tmpfs",
    /** the inode number /proc/PID/maps shows */
    readonly ino: number,
  ) {}

  /** the path /proc/PID/maps shows: tmpfs files live in /dev/shm */
  get path(): string {
    if (this.memfdName !== null) return `/memfd:${this.memfdName} (deleted)`;
    return this.fs === "tmpfs" ? `/dev/shm/${this.name}` : `/${this.name}`;
  }

  get nrPages(): number {
    return Math.ceil(this.sizeBytes / 4096);
  }

  /**
   * i_size_write (truncate_setsize): a new size. The bytes past the smaller
   * of the old and new sizes read as zeros from then on (a file cut short
   * and grown again does not get its old contents back).
   */
  setSize(bytes: number): void {
    this.zeroFrom = Math.min(this.zeroFrom, this.sizeBytes, bytes);
    this.sizeBytes = bytes;
  }

  /** The first page from which every page not written back reads as zeros (past i_size, or past the least size the file had). */
  get zeroPagesFrom(): number {
    return Math.ceil(Math.min(this.zeroFrom, this.sizeBytes) / 4096);
  }

  /** ext4_block_truncate_page: the disk's copy of page `index` is zeroed from byte `from` on. */
  zeroDiskTail(index: number, from: number): void {
    const disk = this.disk;
    for (let off = from; off < 4096; off++) {
      const w = disk.readWord(index, off >>> 2);
      disk.writeWord(index, off >>> 2, (w & ~(0xff << ((off & 3) * 8))) >>> 0);
    }
  }

  /** The disk's copy of the pages written back (made at the first writeback; room for the largest file, as ftruncate may grow it). */
  get disk(): PageStore {
    this.diskPages ??= new PageStore(MAX_FILE_PAGES, `file ${this.name}'s pages written back so far`);
    return this.diskPages;
  }

  /** The file's byte at `off` as stored (written-back pages, else the deterministic contents). */
  storedByte(off: number): number {
    const index = Math.floor(off / 4096);
    const o = off - index * 4096;
    if (!this.written.has(index)) {
      if (off >= this.zeroFrom) return 0;
      const src = this.srcPage(index);
      return src < 0 ? 0 : fileByte(this.name, src * 4096 + o);
    }
    return (this.disk.readWord(index, o >>> 2) >>> ((o & 3) * 8)) & 0xff;
  }

  /** The page whose deterministic contents page `index` holds (-1: zeros), after the shifts. */
  private srcPage(index: number): number {
    const m = this.moved;
    if (m === null) return index;
    let k = m.length - 1;
    while (k > 0 && m[k].start > index) k--;
    return m[k].src < 0 ? -1 : m[k].src + (index - m[k].start);
  }

  /** The pieces of the page map over pages [lo, hi), moved by `by` pages. */
  private movedPieces(lo: number, hi: number, by: number): { start: number; src: number }[] {
    const m = this.moved ?? [{ start: 0, src: 0 }];
    const out: { start: number; src: number }[] = [];
    for (let k = 0; k < m.length; k++) {
      const a = Math.max(m[k].start, lo);
      const b = Math.min(k + 1 < m.length ? m[k + 1].start : Number.POSITIVE_INFINITY, hi);
      if (a < b) out.push({ start: a + by, src: m[k].src < 0 ? -1 : m[k].src + (a - m[k].start) });
    }
    return out;
  }

  /**
   * ext4_collapse_range's and ext4_insert_range's move of the blocks (the
   * caller wrote back and dropped the page cache from `at` on): collapse
   * (`insert` false) removes the pages [at, at + n) and moves those after them
   * down by n, i_size - n pages; insert moves the pages from `at` on up by n,
   * leaving a hole of n pages (zeros), i_size + n pages. Written-back pages
   * move on the disk; the others keep their contents through the page map.
   * Linux: fs/ext4/extents.c ext4_collapse_range, ext4_insert_range, ext4_ext_shift_extents
   */
  shiftPages(at: number, n: number, insert: boolean): void {
    const disk = this.disk;
    const off = at * 4096;
    const len = n * 4096;
    // the bytes past the old i_size or the least size are zeros: where they are after the move
    const zf = Math.min(this.zeroFrom, this.sizeBytes);
    if (insert) {
      for (const i of [...this.written].filter((i) => i >= at).sort((x, y) => y - x)) {
        disk.copyTo(i, disk, i + n);
        this.written.delete(i);
        this.written.add(i + n);
      }
      this.moved = [
        ...this.movedPieces(0, at, 0),
        { start: at, src: -1 },
        ...this.movedPieces(at, Number.POSITIVE_INFINITY, n),
      ];
      this.zeroFrom = zf <= off ? zf : zf + len;
      this.sizeBytes += len;
    } else {
      for (const i of [...this.written].filter((i) => i >= at).sort((x, y) => x - y)) {
        this.written.delete(i);
        if (i < at + n) continue; // ext4_ext_remove_space: the collapsed blocks are freed
        disk.copyTo(i, disk, i - n);
        this.written.add(i - n);
      }
      this.moved = [...this.movedPieces(0, at, 0), ...this.movedPieces(at + n, Number.POSITIVE_INFINITY, -n)];
      this.zeroFrom = zf <= off ? zf : Math.max(off, zf - len);
      this.sizeBytes -= len;
    }
  }
}

/** The deterministic contents of a file: a simple hash of its name and the offset (0 past EOF is the caller's business). */
export function fileByte(name: string, off: number): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return ((h >>> 0) + Math.imul(off, 2654435761) + (off >>> 12)) & 0xff;
}

/** The file behind a handle the kernel handed out; a freed memfd is an error unless `closing` (close: EBADF). */
export function fileOf(h: FileHandle, closing = false): FileObject {
  assert(h instanceof FileObject, "not a file of this kernel");
  if (h.evicted && !closing)
    throw new InputError(`file ${h.name}: its last reference went, the memfd is freed`);
  return h;
}
