/**
 * Open files: struct file (an open file description: f_pos, f_ra, f_mode's
 * advice bits) and a process's table of them (files_struct / fdtable).
 *
 * vmlab names files, not descriptors: a table holds at most one struct
 * file per file, the one `P: open FILE` made last (a later open replaces
 * it, as a program using the newest descriptor would). A process that
 * reads, writes, maps or advises a file it did not open gets an implicit
 * struct file of its own at first use (`implicit`: read/write without an
 * offset then go to offset 0, the scenario language's meaning since 1.2),
 * so no two processes share readahead state unless fork shared it.
 *
 * Linux: include/linux/fs.h struct file, include/linux/fdtable.h
 * files_struct; fs/file.c dup_fd, put_files_struct; fs/open.c do_dentry_open
 */
import type { FileObject } from "./file.ts";

/**
 * struct file: one open(2)'s description of `inode` (its f_mapping). The
 * readahead state is file_ra_state_init's at open (mm/readahead.ts
 * fileRaStateInit); posix_fadvise sets `raPages` and the mode bits; read(2)
 * and write(2) of a process that opened it move `pos`. Mappings (vm_file)
 * and fork's copy of the table share it: readahead of every user goes
 * through the one `ra`.
 * Linux: include/linux/fs.h struct file, struct file_ra_state
 */
export class OpenFile {
  /** f_pos: read(2)/write(2) without an offset by a process holding this file (not an implicit one) */
  pos = 0;
  /**
   * f_ra.ra_pages, in pages: null is the backing device's (bdi->ra_pages, `readahead=`), as
   * file_ra_state_init sets it; POSIX_FADV_SEQUENTIAL doubles it, POSIX_FADV_NORMAL restores it.
   */
  raPages: number | null = null;
  /**
   * The rest of f_ra (struct file_ra_state): the last window (`start`, `size`, `asyncSize`: its
   * PG_readahead page is at start + size - asyncSize; `order`, its folios' order, 6.16 on),
   * `mmapMiss` (do_sync_mmap_readahead's MMAP_LOTSAMISS count) and `prevPos` (the byte after
   * the last read(2); -1 after open). Kept by mm/readahead.ts.
   */
  readonly ra = { start: 0, size: 0, asyncSize: 0, order: 0, mmapMiss: 0, prevPos: -1 };
  /** FMODE_RANDOM and FMODE_NOREUSE (POSIX_FADV_RANDOM, POSIX_FADV_NOREUSE). Linux: include/linux/fs.h */
  fmodeRandom = false;
  fmodeNoreuse = false;

  constructor(
    /** the file (file_inode, f_mapping's host) */
    readonly inode: FileObject,
    /** opened by a first use, not by `open`: read/write without an offset use offset 0 */
    readonly implicit: boolean,
  ) {}
}

/**
 * files_struct: a process's open files, by file. fork copies the table
 * (dup_fd: the same struct files, get_file), a thread (CLONE_FILES) shares
 * it; the last task using it closes every file at exit (exit_files,
 * put_files_struct: fput). vmlab keeps no f_count: a struct file lives
 * while a table or a VMA (vm_file) refers to it.
 * Linux: include/linux/fdtable.h struct files_struct; fs/file.c dup_fd, put_files_struct
 */
export class FilesStruct {
  /** the file's struct file in this table (vmlab's stand-in for its descriptors) */
  readonly fds = new Map<FileObject, OpenFile>();
  /** tasks using the table (files_struct.count: CLONE_FILES threads share it) */
  users = 1;

  /** dup_fd: a new table holding the same struct files. */
  dup(): FilesStruct {
    const t = new FilesStruct();
    for (const [f, file] of this.fds) t.fds.set(f, file);
    return t;
  }

  /**
   * The struct file this table holds for `f`, or an implicit one opened now
   * (a process using a file it did not open; see the module comment).
   */
  fileFor(f: FileObject): OpenFile {
    let file = this.fds.get(f);
    if (file === undefined) {
      file = new OpenFile(f, true);
      this.fds.set(f, file);
    }
    return file;
  }

  /** open(2): a new struct file for `f`, replacing the one held (vmlab has one per file and table). */
  open(f: FileObject): OpenFile {
    const file = new OpenFile(f, false);
    this.fds.set(f, file);
    return file;
  }

  /** close(2) of `f`'s struct file: false if the table holds none (EBADF). */
  close(f: FileObject): boolean {
    return this.fds.delete(f);
  }
}
