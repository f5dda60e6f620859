/**
 * fallocate(2)'s modes on a disk file against this machine's ext4:
 * probe_fallocate_ext4.c makes a 64K file under /var/tmp whose page i holds
 * the byte i + 1, maps it shared (every page read) and private (a page
 * written: a COW copy), writes a page through the shared mapping, then
 * collapses [4K, 20K), inserts 8K at 4K, zeroes an unaligned range inside
 * i_size and ranges past it, and tries the errors (unaligned collapse and
 * insert, a collapse reaching i_size, an insert at i_size, COLLAPSE with
 * KEEP_SIZE, UNSHARE_RANGE, PUNCH_HOLE | ZERO_RANGE). vmlab runs the same
 * steps through its library calls and must give the same return, st_size,
 * first byte of every page (pread) and smaps Rss of both mappings at each.
 * Phase 2, a second file: the partial blocks of PUNCH_HOLE and ZERO_RANGE
 * zeroed through the page cache (smaps' dirty kB: the pages are dirty; a page
 * not cached is read in), ftruncate's ext4_block_truncate_page dirtying the
 * page holding i_size, and a punch past i_size taking the whole page that
 * holds it (Rss, mincore). mincore is left out where Linux's answer hangs on
 * a folio ext4 added but never made uptodate (vmlab has no such state).
 * Skipped when /var/tmp is not ext4.
 * Linux: fs/ext4/extents.c ext4_fallocate, ext4_collapse_range, ext4_insert_range, ext4_zero_range;
 * fs/ext4/inode.c ext4_punch_hole, ext4_zero_partial_blocks, ext4_block_truncate_page
 */
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
  mmapArgs,
} from "../../src/kernel/Kernel.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

interface Rec {
  exp: string;
  ret: number;
  size?: number;
  pages?: number[];
  rss_m?: number;
  rss_p?: number;
  why?: string;
}

const K = 1024;

/**
 * A 64 KiB disk file `name` whose page i holds bytes i + 1 (write(2) from a buffer page, as the
 * probe's: vmlab's file has contents of its own), with t's user access and a byte of the file
 * read back through read(2).
 */
function diskFile(k: Kernel, t: ReturnType<Kernel["spawn"]> & object, name: string) {
  const access = (a: bigint, w: boolean, v = 0) => k.userAccess(0, t, a, w ? Access.Write : Access.Read, v);
  const f = k.createFile(name, 64 * K, "disk", false);
  const buf = k.mmap(t, mmapArgs(4096));
  for (let i = 0; i < 16; i++) {
    for (let o = 0; o < 4096; o += 1) expect(access(buf + BigInt(o), true, i + 1).ok).toBe(true);
    expect(k.fileIo(0, f, buf, 4096, true, i * 4096)).toBe(4096);
  }
  const byteAt = (off: number) => {
    const r = k.fileIo(0, f, buf, 1, false, off);
    if (r !== 1) return -1;
    const v = access(buf, false);
    return v.ok ? v.value : -1;
  };
  return { access, f, byteAt };
}

function vmlabSteps(): (Rec | Rec2)[] {
  const out: (Rec | Rec2)[] = [];
  const k = new Kernel({ ramBytes: 256 << 20, cpus: 1 });
  const t = k.spawn("probe")!;
  k.switchTo(0, t);
  const { access, f, byteAt } = diskFile(k, t, "data");
  const m = k.mmap(t, { ...mmapArgs(64 * K, { shared: true }), file: f });
  const p = k.mmap(t, { ...mmapArgs(64 * K), file: f });
  const rss = (a: bigint) => k.view.smaps(t).find((x) => x.vma.start === a)!.rss / 1024;
  const step = (exp: string, ret: number | bigint) => {
    const size = k.fstat(t, f).size;
    const pages: number[] = [];
    for (let off = 0; off < size; off += 4096) pages.push(Math.max(0, byteAt(off)));
    out.push({ exp, ret: Number(ret), size, pages, rss_m: rss(m), rss_p: rss(p) });
  };
  const fa = (mode: number, off: number, len: number) => k.fallocate(t, f, mode, BigInt(off), BigInt(len));
  for (let i = 0; i < 16; i++) expect(access(m + BigInt(i * 4096), false).ok).toBe(true);
  expect(access(p + 10n * 4096n, true, 0x77).ok).toBe(true);
  expect(access(m + 8n * 4096n, true, 0x55).ok).toBe(true);
  step("setup", 0);
  step("collapse", fa(FALLOC_FL_COLLAPSE_RANGE, 4 * K, 16 * K));
  step("collapse-unaligned", fa(FALLOC_FL_COLLAPSE_RANGE, 4 * K, 100));
  step("collapse-to-eof", fa(FALLOC_FL_COLLAPSE_RANGE, 0, 48 * K));
  step("collapse-keep-size", fa(FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 4 * K, 4 * K));
  for (let i = 0; i < 12; i++) expect(access(m + BigInt(i * 4096), false).ok).toBe(true);
  const r = access(m + 4n * 4096n, false);
  step("reread", r.ok ? r.value : -1);
  step("insert", fa(FALLOC_FL_INSERT_RANGE, 4 * K, 8 * K));
  step("insert-at-eof", fa(FALLOC_FL_INSERT_RANGE, 56 * K, 4 * K));
  step("insert-unaligned", fa(FALLOC_FL_INSERT_RANGE, 4 * K, 2 * K));
  step("zero", fa(FALLOC_FL_ZERO_RANGE, 12 * K + 100, 8 * K));
  step("zero-byte-before", byteAt(12 * K + 99));
  step("zero-byte-first", byteAt(12 * K + 100));
  step("zero-byte-last", byteAt(20 * K + 99));
  step("zero-byte-after", byteAt(20 * K + 100));
  step("zero-past-eof", fa(FALLOC_FL_ZERO_RANGE, 50 * K, 20 * K));
  step("zero-keep-size", fa(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 80 * K, 4 * K));
  step("unshare", fa(FALLOC_FL_UNSHARE_RANGE, 0, 4 * K));
  step("punch-zero", fa(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4 * K));
  expect(checkInvariants(k)).toEqual([]);
  return out.concat(phase2(k, t));
}

interface Rec2 {
  exp: string;
  ret: number;
  size: number;
  rss: number;
  dirty: number;
  res?: string;
  rss3?: number;
  dirty3?: number;
}

/** probe_fallocate_ext4.c's phase 2: the partial blocks through the page cache, a punch past i_size. */
function phase2(k: Kernel, t: ReturnType<Kernel["spawn"]> & object): Rec2[] {
  const out: Rec2[] = [];
  const { access, f, byteAt } = diskFile(k, t, "data2");
  const m2 = k.mmap(t, { ...mmapArgs(32 * K, { shared: true }), file: f });
  const q2 = k.mmap(t, { ...mmapArgs(64 * K, { shared: true }), file: f });
  let m3 = -1n;
  const smaps = (a: bigint) => k.view.smaps(t).find((x) => x.vma.start === a);
  const step = (exp: string, ret: number | bigint, res: boolean) => {
    const s = smaps(m2)!;
    const dirty = (s.sharedDirty + s.privateDirty) / 1024;
    const r: Rec2 = { exp, ret: Number(ret), size: k.fstat(t, f).size, rss: s.rss / 1024, dirty };
    if (res)
      r.res = k
        .mincore(t, q2, BigInt(64 * K))
        .vec.map((b) => b & 1)
        .join("");
    if (m3 >= 0n) {
      const s3 = smaps(m3);
      r.rss3 = s3 === undefined ? -1 : s3.rss / 1024;
      r.dirty3 = s3 === undefined ? -1 : (s3.sharedDirty + s3.privateDirty) / 1024;
    }
    out.push(r);
  };
  const fa = (mode: number, off: number, len: number) => k.fallocate(t, f, mode, BigInt(off), BigInt(len));
  const sync = () => k.msync(t, q2, BigInt(64 * K));
  sync();
  for (let i = 0; i < 8; i++) expect(access(m2 + BigInt(i * 4096), false).ok).toBe(true);
  step("p2-setup", 0, true);
  step("p2-punch", fa(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * K + 100, 8 * K), true);
  step("p2-byte-1", byteAt(4 * K + 99), true);
  step("p2-byte-1b", byteAt(4 * K + 100), true);
  step("p2-byte-3", byteAt(12 * K + 99), true);
  step("p2-byte-3b", byteAt(12 * K + 100), true);
  step("p2-sync", sync(), true);
  step("p2-dontneed", k.fadvise(t, f, BigInt(32 * K), BigInt(32 * K), "dontneed"), true);
  step("p2-zero", fa(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 40 * K + 100, 100), false);
  step("p2-zero2", fa(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 44 * K, 4 * K + 100), false);
  step("p2-byte-10", byteAt(40 * K + 99), false);
  step("p2-byte-10b", byteAt(40 * K + 100), false);
  step("p2-byte-10c", byteAt(40 * K + 200), false);
  step("p2-byte-12", byteAt(48 * K + 99), false);
  step("p2-byte-12b", byteAt(48 * K + 100), true);
  m3 = k.mmap(t, { ...mmapArgs(12 * K, { shared: true }), file: f, offset: 40 * K });
  const r10 = access(m3, false);
  step("p2-read-10", r10.ok ? r10.value : -1, true);
  step("p2-sync2", sync(), true);
  step("p2-truncate", k.ftruncate(t, f, BigInt(6 * 4096 + 1000)), true);
  expect(access(q2 + BigInt(6 * 4096 + 2000), true, 0x66).ok).toBe(true);
  const r6 = access(q2 + BigInt(6 * 4096 + 2000), false);
  step("p2-past-eof-byte", r6.ok ? r6.value : -1, true);
  step("p2-punch-eof", fa(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5 * 4096 + 500, 1 << 20), true);
  step("p2-byte-5", byteAt(5 * 4096 + 499), true);
  step("p2-byte-5b", byteAt(5 * 4096 + 500), true);
  step("p2-sync3", sync(), true);
  step("p2-grow", k.ftruncate(t, f, BigInt(64 * K)), true);
  step("p2-byte-6", byteAt(6 * 4096 + 2000), false);
  expect(checkInvariants(k)).toEqual([]);
  return out;
}

describe("vmlab against this machine's ext4: fallocate's collapse, insert and zero ranges", () => {
  const probe = buildProbe("probe_fallocate_ext4.c", false);
  it.skipIf("skip" in probe)(
    `return values, sizes, contents and mappings after each mode${"skip" in probe ? ` (skipped: ${probe.skip})` : ""}`,
    (ctx) => {
      const run = () =>
        hostRun((probe as { path: string }).path)
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Rec | Rec2);
      let host = run();
      if (host[0]?.exp === "skip") {
        console.log(`ext4 fallocate not compared: ${(host[0] as Rec).why}`);
        ctx.skip();
        return;
      }
      const mine = vmlabSteps();
      // The host's flusher may start writeback of a probe page between two steps when other
      // processes' dirty pages pass the background threshold (a loaded machine: the whole suite
      // beside it), which clears PG_dirty and so smaps' Shared_Dirty: phase 2's dirty figures
      // then read lower. A mismatch is taken again from a fresh host run, twice at most.
      for (let i = 0; i < 2 && !isDeepStrictEqual(mine, host); i++) host = run();
      expect(mine).toEqual(host);
    },
  );
});
