/**
 * System V shared memory as user space reads it: `ipcs -m` (util-linux
 * sys-utils/ipcs.c do_shm, its standard format) and /proc/sysvipc/shm
 * (ipc/shm.c sysvipc_shm_proc_show, 64-bit widths). vmlab has no clock:
 * the time columns print 0; gid is 0.
 * Linux: ipc/shm.c sysvipc_shm_proc_show; util-linux sys-utils/ipcs.c
 */
import type { KernelCore } from "../core/core.ts";
import { SHM_DEST, SHM_LOCKED, shmKey, shmNattch, shmRssSwap, shmSegments } from "../ipc/shm.ts";

/** One segment as the views show it. */
export interface ShmRow {
  key: number;
  shmid: number;
  uid: number;
  cuid: number;
  /** shm_perm.mode: the permission bits, SHM_DEST, SHM_LOCKED */
  mode: number;
  bytes: number;
  cpid: number;
  lpid: number;
  nattch: number;
  /** resident bytes and bytes in swap (shm_add_rss_swap) */
  rss: number;
  swap: number;
}

/** The segments, in index order. */
export function shmRows(k: KernelCore): ShmRow[] {
  return shmSegments(k).map((s) => ({
    key: shmKey(s),
    shmid: s.id,
    uid: s.uid,
    cuid: s.cuid,
    mode: s.mode,
    bytes: s.segsz,
    cpid: s.cpid,
    lpid: s.lpid,
    nattch: shmNattch(s),
    rss: shmRssSwap(s).rss * 4096,
    swap: shmRssSwap(s).swp * 4096,
  }));
}

const pad = (v: string | number, n: number) => String(v).padEnd(n);
const rpad = (v: string | number, n: number) => String(v).padStart(n);

/** `ipcs -m`'s lines (after its blank first one): key, shmid, owner, perms, bytes, nattch, status (dest, locked). */
export function formatIpcs(rows: ShmRow[]): string[] {
  const out = [
    "------ Shared Memory Segments --------",
    "key        shmid      owner      perms      bytes      nattch     status      ",
  ];
  for (const r of rows) {
    const key = `0x${(r.key >>> 0).toString(16).padStart(8, "0")}`;
    const owner = r.uid === 0 ? "root" : String(r.uid);
    out.push(
      `${key} ${pad(r.shmid, 10)} ${pad(owner, 10)} ${pad((r.mode & 0o777).toString(8), 10)} ${pad(r.bytes, 10)} ` +
        `${pad(r.nattch, 10)} ${pad(r.mode & SHM_DEST ? "dest" : " ", 6)} ${pad(r.mode & SHM_LOCKED ? "locked" : " ", 6)}`,
    );
  }
  return out;
}

/** /proc/sysvipc/shm's lines, as a 64-bit kernel prints them. */
export function formatSysvipcShm(rows: ShmRow[]): string[] {
  const out = [
    "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap",
  ];
  for (const r of rows)
    out.push(
      `${rpad(r.key | 0, 10)} ${rpad(r.shmid, 10)}  ${rpad(r.mode.toString(8), 4)} ${rpad(r.bytes, 21)} ` +
        `${rpad(r.cpid, 5)} ${rpad(r.lpid, 5)}  ${rpad(r.nattch, 5)} ${rpad(r.uid, 5)} ${rpad(0, 5)} ` +
        `${rpad(r.cuid, 5)} ${rpad(0, 5)} ${rpad(0, 10)} ${rpad(0, 10)} ${rpad(0, 10)} ${rpad(r.rss, 21)} ${rpad(r.swap, 21)}`,
    );
  return out;
}
