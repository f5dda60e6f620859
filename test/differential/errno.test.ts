/**
 * The memory system calls' argument checks and error codes against this
 * machine's kernel: probe_errno.c calls mmap, munmap, mprotect, mremap,
 * madvise, msync, mlock, munlock, mincore and brk with arguments each meant to
 * fail one check in Linux's order (the first failing check decides the
 * errno) or to pass them all at an edge, and records what a failure left
 * behind where Linux changes something first (the part of a range
 * mprotect or mlock changed before a hole, a shrink across two VMAs).
 * vmlab makes the same calls through its library, case by case, and must
 * give the same record; a failure names the case.
 *
 * The host runs a newer kernel than the 6.12 vmlab models. Where 6.12's
 * source gives another result (mremap's checks were reordered since),
 * the case is compared with 6.12's result, read from its source, and the
 * host's is only printed: LINUX_612.
 *
 * Forms vmlab's library cannot make are not probed: unknown mmap flags
 * and prot bits, MAP_SHARED_VALIDATE, MAP_GROWSDOWN,
 * PROT_GROWSDOWN, MREMAP_DONTUNMAP, mlock2's flags.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import { Ms, mmapArgs, type TaskHandle } from "../../src/kernel/Kernel.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { buildProbe, errnoName, hostRun } from "./probeKit.ts";

const P = 4096;
const A = 0x200000000000;
const B = 0x210000000000;
const TASK_SIZE = 0x7ffffffff000;
const RW = { r: true, w: true, x: false };
const RO = { r: true, w: false, x: false };
const RX = { r: true, w: false, x: true };
const NONE = { r: false, w: false, x: false };
const U64 = 1n << 64n;

/**
 * Cases where Linux 6.12 gives another result than the host's newer
 * kernel: 6.12's result (from its source) and why.
 */
const LINUX_612: Record<string, { want: string; why: string }> = {
  mremap_old_huge: {
    want: "EFAULT",
    why: "6.12: a growth's new_len past TASK_SIZE is not checked; vma_to_resize's old_len > vm_end - addr is -EFAULT (6.18: -EINVAL, new_len past TASK_SIZE)",
  },
  mremap_fixed_overlap_unmapped: {
    want: "EFAULT",
    why: "6.12 looks the old address's VMA up (vma_lookup: -EFAULT) before mremap_to checks the target (6.18 checks the overlap first)",
  },
  mremap_fixed_cross_grow_target: {
    want: "unmapped",
    why: "6.12 mremap_to unmaps the MREMAP_FIXED target before vma_to_resize fails (6.18 checks the old range first)",
  },
};

/** A ret of vmlab's: "0" or the errno's name. */
const res = errnoName;

/**
 * The host's mmap_min_addr as round_hint_to_min sees it: the sysctl's, or the
 * LSM's CONFIG_LSM_MMAP_MIN_ADDR (65536) where that is higher.
 */
function hostMmapMinAddr(): number {
  try {
    return Math.max(65536, Number(readFileSync("/proc/sys/vm/mmap_min_addr", "utf8")));
  } catch {
    return 65536;
  }
}

function vmlabRecords(): Map<string, string> {
  const k = new Kernel({ ramBytes: 1 << 30, cpus: 1, mmapMinAddr: hostMmapMinAddr() });
  const t: TaskHandle = k.spawn("probe", 0)!;
  k.switchTo(0, t);
  const f = k.createFile("errno-file", 16 * P);
  const out = new Map<string, string>();
  const rec = (name: string, r: string) => {
    expect(out.has(name), name).toBe(false);
    out.set(name, r);
  };
  const B_ = (n: number) => BigInt(n);
  /** mmap or mremap's result: its errno, or where it landed */
  const rp = (name: string, v: bigint, a: number, b: number) =>
    rec(name, v < 0n ? res(v) : v === B_(a) ? "A" : v === B_(b) ? "B" : "moved");
  const map = (addr: number, n: number, prot = RW) => {
    const r = k.mmap(t, mmapArgs(n * P, { addr, fixed: true, prot }));
    expect(r, `map ${addr.toString(16)}`).toBe(B_(addr));
  };
  const mapped = (addr: number) => (k.mincore(t, B_(addr), B_(P)).ret === 0n ? "mapped" : "unmapped");
  const perms = (name: string, addr: number) =>
    rec(name, k.view.vmas(t).find((v) => v.start <= B_(addr) && B_(addr) < v.end)?.perms ?? "none");
  const resident = (name: string, addr: number) => {
    const m = k.mincore(t, B_(addr), B_(P));
    rec(name, m.ret === 0n ? String(m.vec[0] & 1) : res(m.ret));
  };
  const vmlck = (name: string) => rec(name, String(k.view.status(t).mem!.vmLck / 1024));
  const clean = () => {
    k.munlockall(t);
    k.munmap(t, B_(A), 1n << 30n);
    k.munmap(t, B_(B), 1n << 30n);
  };
  const madv = (name: string, addr: number | bigint, len: number | bigint, advice: string) =>
    rec(name, res(k.madvise(t, BigInt(addr), BigInt(len), advice)));
  const mremap = (
    addr: number,
    oldLen: number | bigint,
    newLen: number | bigint,
    mayMove: boolean,
    to = -1,
  ) => k.mremap(t, B_(addr), BigInt(oldLen), BigInt(newLen), mayMove, B_(to));
  const write = (addr: number) => expect(k.userAccess(0, t, B_(addr), Access.Write, 1).ok).toBe(true);

  // ---- mmap ----
  rp("mmap_len0", k.mmap(t, mmapArgs(0)), A, B);
  rp("mmap_anon_offset_unaligned", k.mmap(t, mmapArgs(P, { offset: 1 })), A, B);
  clean();
  rp("mmap_fixed_unaligned", k.mmap(t, mmapArgs(P, { addr: A + 1, fixed: true })), A, B);
  rp("mmap_hint_unaligned", k.mmap(t, mmapArgs(P, { addr: A + 1 })), A, A + P);
  clean();
  rp("mmap_hint_page_up", k.mmap(t, mmapArgs(P, { addr: A + P - 1 })), A, A + P);
  clean();
  rp("mmap_len_huge", k.mmap(t, mmapArgs(2 ** 48, { noreserve: true })), A, B);
  rp("mmap_len_overflow", k.mmap(t, mmapArgs(2 ** 64)), A, B);
  {
    const p = k.mmap(t, mmapArgs(P, { addr: 0x900000000000 }));
    rec("mmap_hint_above_task_size", res(p));
    if (p >= 0n) k.munmap(t, p, B_(P));
  }
  {
    const p = k.mmap(t, mmapArgs(P, { addr: P }));
    rec("mmap_hint_below_min", p < 0n ? res(p) : p < 1n << 20n ? `0x${p.toString(16)}` : "moved");
    if (p >= 0n) k.munmap(t, p, B_(P));
  }
  rp("mmap_fixed_at_task_size", k.mmap(t, mmapArgs(P, { addr: TASK_SIZE, fixed: true })), A, B);
  rp(
    "mmap_fixed_unaligned_past_task_size",
    k.mmap(t, mmapArgs(2 * P, { addr: TASK_SIZE - P + 1, fixed: true })),
    A,
    B,
  );
  rp("mmap_fixed_last_page", k.mmap(t, mmapArgs(P, { addr: TASK_SIZE - P, fixed: true })), TASK_SIZE - P, B);
  k.munmap(t, B_(TASK_SIZE - P), B_(P));
  const roFile = { file: f, readOnlyFile: true };
  rp("mmap_shared_rdonly_file_write", k.mmap(t, mmapArgs(P, { addr: A, shared: true, ...roFile })), A, B);
  rp("mmap_private_rdonly_file_write", k.mmap(t, mmapArgs(P, { addr: A, ...roFile })), A, B);
  clean();
  rp(
    "mmap_shared_rdonly_file_read",
    k.mmap(t, mmapArgs(P, { addr: A, shared: true, prot: RO, ...roFile })),
    A,
    B,
  );
  clean();
  rp(
    "mmap_file_offset_unaligned",
    k.mmap(t, mmapArgs(P, { addr: A, shared: true, file: f, offset: 1 })),
    A,
    B,
  );
  rp(
    "mmap_fixed_rdonly_file_write_past_task_size",
    k.mmap(t, mmapArgs(2 * P, { addr: TASK_SIZE - P, fixed: true, shared: true, ...roFile })),
    A,
    B,
  );
  map(A, 4);
  rp("mmap_fixed_replaces", k.mmap(t, mmapArgs(P, { addr: A + P, fixed: true, prot: RO })), A + P, B);
  perms("mmap_fixed_replaces_perms", A + P);
  clean();
  map(A, 1);
  const noreplace = (addr: number, len: number, opts: Parameters<typeof mmapArgs>[1] = {}) =>
    k.mmap(t, mmapArgs(len, { addr, noreplace: true, ...opts }));
  rp("mmap_noreplace_over", noreplace(A, P), A, B);
  rp("mmap_noreplace_partial", noreplace(A - P, 2 * P), A, B);
  rp("mmap_noreplace_free", noreplace(A + P, P), A + P, B);
  rp("mmap_noreplace_unaligned", noreplace(A + 1, P), A, B);
  rp("mmap_noreplace_past_task_size", noreplace(TASK_SIZE - P, 2 * P), A, B);
  rp("mmap_noreplace_over_rdonly_file_write", noreplace(A, P, { shared: true, ...roFile }), A, B);
  perms("mmap_noreplace_over_perms", A);
  clean();

  // ---- munmap ----
  rec("munmap_unaligned", res(k.munmap(t, B_(A + 1), B_(P))));
  rec("munmap_len0", res(k.munmap(t, B_(A), 0n)));
  rec("munmap_hole", res(k.munmap(t, B_(A), B_(P))));
  rec("munmap_past_task_size", res(k.munmap(t, B_(TASK_SIZE - P), B_(2 * P - 1))));
  rec("munmap_at_task_size", res(k.munmap(t, B_(TASK_SIZE), B_(P))));
  rec("munmap_len_huge", res(k.munmap(t, B_(A), U64 - B_(P))));
  map(A, 2);
  rec("munmap_partial", res(k.munmap(t, B_(A + P), B_(4 * P))));
  rec("munmap_partial_first", mapped(A));
  rec("munmap_partial_second", mapped(A + P));
  clean();

  // ---- mprotect ----
  const mprotect = (name: string, addr: number, len: number | bigint, prot: typeof RW) =>
    rec(name, res(k.mprotect(t, B_(addr), BigInt(len), prot)));
  map(A, 2);
  mprotect("mprotect_unaligned", A + 1, P, RO);
  mprotect("mprotect_len0_unmapped", B, 0, RO);
  mprotect("mprotect_unmapped", B, P, RO);
  mprotect("mprotect_len_unaligned", A, P + 1, RO);
  perms("mprotect_len_unaligned_second", A + P);
  map(A + 3 * P, 1);
  mprotect("mprotect_hole", A, 4 * P, NONE);
  perms("mprotect_hole_first", A);
  perms("mprotect_hole_after", A + 3 * P);
  mprotect("mprotect_hole_start", A + 2 * P, 2 * P, RO);
  perms("mprotect_hole_start_after", A + 3 * P);
  mprotect("mprotect_past_task_size", A + 3 * P, TASK_SIZE, RX);
  perms("mprotect_past_task_size_after", A + 3 * P);
  mprotect("mprotect_wrap", A, U64 - B_(P), RO);
  clean();
  k.mmap(t, mmapArgs(P, { addr: A, fixed: true, shared: true, prot: RO, ...roFile }));
  mprotect("mprotect_shared_rdonly_file_write", A, P, RW);
  mprotect("mprotect_shared_rdonly_file_exec", A, P, RX);
  k.mmap(t, mmapArgs(P, { addr: B, fixed: true, prot: RO, ...roFile }));
  mprotect("mprotect_private_rdonly_file_write", B, P, RW);
  clean();

  // ---- mremap ----
  map(A, 2);
  rp("mremap_unaligned", mremap(A + 1, P, 2 * P, true), A, B);
  rp("mremap_newlen0", mremap(A, P, 0, true), A, B);
  rp("mremap_fixed_without_maymove", mremap(A, P, P, false, B), A, B);
  rp("mremap_unmapped", mremap(B, P, 2 * P, true), A, B);
  rp("mremap_old0_private", mremap(A, 0, P, true), A, B);
  rp("mremap_fixed_unaligned_to", mremap(A, P, P, true, B + 1), A, B);
  rp("mremap_fixed_overlap", mremap(A, 2 * P, 2 * P, true, A + P), A, B);
  rp("mremap_fixed_overlap_unmapped", mremap(B, 2 * P, 2 * P, true, B + P), A, B);
  rp("mremap_fixed_to_past_task_size", mremap(A, P, 2 * P, true, TASK_SIZE - P), A, B);
  rp("mremap_old_huge", mremap(A, 1n << 47n, (1n << 47n) + B_(P), true), A, B);
  rp("mremap_grow_in_place", mremap(A, 2 * P, 4 * P, false), A, B);
  rp("mremap_shrink", mremap(A, 4 * P, 2 * P, false), A, B);
  rec("mremap_shrink_after", mapped(A + 2 * P));
  map(A + 2 * P, 1, RO);
  rp("mremap_grow_into_neighbour", mremap(A, 2 * P, 3 * P, false), A, B);
  rp("mremap_cross_grow", mremap(A, 3 * P, 4 * P, true), A, B);
  rp("mremap_cross_same", mremap(A, 3 * P, 3 * P, false), A, B);
  rp("mremap_cross_shrink", mremap(A, 3 * P, P, false), A, B);
  rec("mremap_cross_shrink_after", mapped(A + 2 * P));
  clean();
  map(A, 1);
  map(A + P, 1, RO);
  map(B, 1);
  rp("mremap_fixed_cross_grow", mremap(A, 2 * P, 3 * P, true, B), A, B);
  rec("mremap_fixed_cross_grow_target", mapped(B));
  rp("mremap_fixed_cross_shrink", mremap(A, 2 * P, P, true, B), A, B);
  rec("mremap_fixed_cross_shrink_old", mapped(A + P));
  clean();
  map(A, 2);
  map(A + 2 * P, 1, RO);
  rp("mremap_grow_maymove", mremap(A, 2 * P, 3 * P, true), A, B);
  clean();
  k.mmap(t, mmapArgs(2 * P, { addr: A, fixed: true, shared: true }));
  rp("mremap_old0_shared", mremap(A, 0, P, true), A, B);
  clean();

  // ---- madvise ----
  map(A, 1);
  map(A + 2 * P, 1);
  write(A);
  write(A + 2 * P);
  madv("madvise_unknown", A, P, "bogus");
  madv("madvise_unknown_past_task_size", 1n << 47n, P, "bogus");
  madv("madvise_unknown_unaligned", A + 1, P, "bogus");
  madv("madvise_unaligned", A + 1, P, "dontneed");
  madv("madvise_len0", B, 0, "dontneed");
  madv("madvise_len_wrap", A, U64 - 1n, "dontneed");
  madv("madvise_unmapped", B, P, "dontneed");
  madv("madvise_hole", A, 3 * P, "dontneed");
  resident("madvise_hole_last", A + 2 * P);
  madv("madvise_willneed_hole", A, 3 * P, "willneed");
  madv("madvise_hugepage", A, P, "hugepage");
  madv("madvise_nohugepage", A, P, "nohugepage");
  madv("madvise_cold", A, P, "cold");
  madv("madvise_pageout", A, P, "pageout");
  madv("madvise_remove_private", A, P, "remove");
  madv("madvise_remove_unaligned", A + 1, P, "remove");
  madv("madvise_remove_unmapped", B, P, "remove");
  madv("madvise_wipeonfork", A, P, "wipeonfork");
  madv("madvise_populate_read_hole", A, 3 * P, "populate_read");
  madv("madvise_populate_write_hole", A, 3 * P, "populate_write");
  k.mlock(t, B_(A), B_(P), false);
  madv("madvise_dontneed_locked", A, P, "dontneed");
  madv("madvise_free_locked", A, P, "free");
  madv("madvise_cold_locked", A, P, "cold");
  madv("madvise_pageout_locked", A, P, "pageout");
  madv("madvise_dontneed_locked_hole", A, 3 * P, "dontneed");
  resident("madvise_dontneed_locked_hole_last", A + 2 * P);
  clean();
  map(A, 1, RO);
  map(A + P, 1, NONE);
  madv("madvise_populate_write_readonly", A, P, "populate_write");
  madv("madvise_populate_read_none", A + P, P, "populate_read");
  clean();
  k.mmap(t, mmapArgs(P, { addr: A, fixed: true, shared: true }));
  k.mmap(t, mmapArgs(P, { addr: B, fixed: true, file: f }));
  madv("madvise_free_shared", A, P, "free");
  madv("madvise_free_file", B, P, "free");
  madv("madvise_wipeonfork_shared", A, P, "wipeonfork");
  madv("madvise_wipeonfork_file", B, P, "wipeonfork");
  madv("madvise_hugepage_file", B, P, "hugepage");
  madv("madvise_remove_private_file", B, P, "remove");
  madv("madvise_remove_shared", A, P, "remove");
  clean();

  // ---- msync ----
  const msync = (name: string, addr: number, len: number | bigint, flags: number = Ms.SYNC) =>
    rec(name, res(k.msync(t, B_(addr), BigInt(len), flags)));
  k.mmap(t, mmapArgs(P, { addr: A, fixed: true, shared: true, file: f }));
  k.mmap(t, mmapArgs(P, { addr: A + 2 * P, fixed: true, shared: true, file: f }));
  msync("msync_unaligned", A + 1, P);
  msync("msync_len0", B, 0);
  msync("msync_unmapped", B, P);
  msync("msync_hole", A, 3 * P);
  msync("msync_hole_end", A + 2 * P, 2 * P);
  msync("msync_hole_start", A + P, 2 * P);
  msync("msync_hole_before_next", A - 2 * P, P);
  msync("msync_past_task_size", A, 1n << 47n);
  msync("msync_wrap", A, U64 - B_(P));
  msync("msync_len_unaligned", A, 1);
  msync("msync_flags_unknown", A, P, 8);
  msync("msync_async_and_sync", A, P, Ms.ASYNC | Ms.SYNC);
  msync("msync_flags_unknown_unaligned", A + 1, P, 8);
  msync("msync_async", A, P, Ms.ASYNC);
  msync("msync_async_hole", A, 3 * P, Ms.ASYNC);
  msync("msync_async_invalidate_hole", A, 3 * P, Ms.ASYNC | Ms.INVALIDATE);
  msync("msync_flags0_hole", A, 3 * P, 0);
  msync("msync_invalidate", A, P, Ms.INVALIDATE);
  k.mlock(t, B_(A + 2 * P), B_(P), false);
  msync("msync_invalidate_locked", A + 2 * P, P, Ms.INVALIDATE);
  msync("msync_sync_invalidate_locked_after_hole", A, 3 * P, Ms.SYNC | Ms.INVALIDATE);
  msync("msync_sync_locked", A + 2 * P, P, Ms.SYNC);
  clean();

  // ---- mlock, munlock ----
  const mlock = (name: string, addr: number, len: number | bigint) =>
    rec(name, res(k.mlock(t, B_(addr), BigInt(len), false)));
  const munlock = (name: string, addr: number, len: number | bigint) =>
    rec(name, res(k.munlock(t, B_(addr), BigInt(len))));
  map(A, 1);
  map(A + 2 * P, 1);
  mlock("mlock_unaligned", A + 1, P - 1);
  vmlck("mlock_unaligned_vmlck");
  k.munlock(t, B_(A), B_(P));
  mlock("mlock_len0", B, 0);
  mlock("mlock_unmapped", B, P);
  mlock("mlock_hole", A, 3 * P);
  vmlck("mlock_hole_vmlck");
  munlock("munlock_hole", A, 3 * P);
  vmlck("munlock_hole_vmlck");
  mlock("mlock_past_task_size", A + 2 * P, TASK_SIZE);
  vmlck("mlock_past_task_size_vmlck");
  k.munlock(t, B_(A), B_(3 * P));
  mlock("mlock_wrap", A, U64 - B_(P));
  munlock("munlock_unmapped", B, P);
  clean();
  map(A, 1, NONE);
  mlock("mlock_prot_none", A, P);
  vmlck("mlock_prot_none_vmlck");
  clean();

  // ---- mincore ----
  const mincore = (name: string, addr: number, len: number) =>
    rec(name, res(k.mincore(t, B_(addr), B_(len)).ret));
  map(A, 1);
  mincore("mincore_unaligned", A + 1, P);
  mincore("mincore_len0", B, 0);
  mincore("mincore_unmapped", B, P);
  mincore("mincore_hole", A, 2 * P);
  mincore("mincore_past_task_size", TASK_SIZE - P, 2 * P);
  mincore("mincore_len_unaligned", A, 1);
  clean();

  // ---- which check comes first; partial work before a refusal or a hole ----
  map(A, 1);
  madv("order_madvise_unknown_len0", A, 0, "bogus");
  madv("order_madvise_unaligned_len0", A + 1, 0, "dontneed");
  mprotect("order_mprotect_unaligned_len0", A + 1, 0, RO);
  msync("order_msync_unaligned_len0", A + 1, 0);
  mlock("order_mlock_unaligned_len0", A + 1, 0);
  vmlck("order_mlock_unaligned_len0_vmlck");
  k.munlock(t, B_(A), B_(P));
  rp("order_mremap_newlen_wraps", mremap(A, P, U64 - 1n, true), A, B);
  clean();
  map(A, 1);
  map(A + 2 * P, 1);
  madv("order_madvise_random_hole", A, 3 * P, "random");
  madv("order_madvise_dontfork_hole", A, 3 * P, "dontfork");
  madv("order_madvise_keeponfork_hole", A, 3 * P, "keeponfork");
  munlock("order_munlock_past_task_size", A, TASK_SIZE);
  clean();
  map(A, 1);
  k.mmap(t, mmapArgs(P, { addr: A + P, fixed: true, shared: true, prot: RO, ...roFile }));
  mprotect("order_mprotect_eacces_second", A, 2 * P, { r: true, w: true, x: true });
  perms("order_mprotect_eacces_second_first", A);
  perms("order_mprotect_eacces_second_second", A + P);
  madv("order_madvise_free_second_file", A, 2 * P, "free");
  madv("order_madvise_wipeonfork_second_file", A, 2 * P, "wipeonfork");
  madv("order_madvise_keeponfork_file", A + P, P, "keeponfork");
  madv("order_madvise_cold_file", A + P, P, "cold");
  msync("order_msync_private_anon", A, P);
  clean();
  map(A, 1, NONE);
  madv("order_madvise_dontneed_prot_none", A, P, "dontneed");
  mincore("order_mincore_prot_none", A, P);
  msync("order_msync_prot_none", A, P);
  mprotect("order_mprotect_prot_none_rw", A, P, RW);
  clean();

  // ---- brk (vmlab's is sbrk: the old break or -ENOMEM) ----
  {
    const brk = () => k.view.mm(t)!.brk;
    const brkTo = (name: string, to: bigint) => rec(name, res(k.brk(t, to - brk())));
    const cur = brk();
    const top = Number((cur + 4095n) / 4096n) * P;
    map(top + 8 * P, 1);
    brkTo("brk_one_page_below_next", B_(top + 7 * P));
    brkTo("brk_touching_next", B_(top + 7 * P + 1));
    brkTo("brk_into_next", B_(top + 9 * P));
    brkTo("brk_shrink", cur);
    brkTo("brk_unaligned", cur + 1n);
    brkTo("brk_back", cur);
    k.munmap(t, B_(top + 8 * P), B_(P));
    brkTo("brk_past_task_size", B_(TASK_SIZE + P));
    const startBrk = k.view.mm(t)!.startBrk;
    brkTo("brk_below_start", startBrk - B_(P));
    brkTo("brk_restore", cur);
  }

  // ---- do_mmap's order for uid 1000 with RLIMIT_MEMLOCK 0 (a process of its own) ----
  {
    const u = k.spawn("user", 0)!;
    k.switchTo(0, u);
    expect(k.setrlimit(u, "memlock", 0, 0)).toBe(0);
    k.setUid(u, 1000);
    const um = (opts: Parameters<typeof mmapArgs>[1]) =>
      k.mmap(u, mmapArgs(P, { privileged: false, ...opts }));
    rp("user_mmap_locked_rdonly_file_write", um({ shared: true, locked: true, ...roFile }), A, B);
    rp("user_mmap_rdonly_file_write", um({ shared: true, ...roFile }), A, B);
    rp("user_mmap_locked", um({ locked: true }), A, B);
    rec("user_mlock", res(k.mlock(u, B_(A), B_(P), false)));
    k.exit(u, "exit");
  }

  expect(checkInvariants(k)).toEqual([]);
  return out;
}

describe("vmlab against this machine's Linux kernel: the memory system calls' errors", () => {
  const probe =
    process.arch === "x64" ? buildProbe("probe_errno.c", false) : { skip: "the cases are x86-64's" };
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `mmap, munmap, mprotect, mremap, madvise, msync, mlock, munlock, mincore, brk fail as the host's do${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const host = new Map<string, string>(
        hostRun((probe as { path: string }).path)
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { exp: string; r: string })
          .map((o) => [o.exp, o.r]),
      );
      if (host.has("skip")) {
        console.log(`errno not compared: ${host.get("skip")}`);
        ctx.skip();
        return;
      }
      const got = vmlabRecords();
      expect([...got.keys()]).toEqual([...host.keys()]);
      const differ: string[] = [];
      for (const [name, r] of got) {
        const old = LINUX_612[name];
        if (old !== undefined) {
          if (host.get(name) !== old.want)
            console.log(`${name}: host ${host.get(name)}, Linux 6.12 ${old.want} (${old.why})`);
          if (r !== old.want) differ.push(`${name}: Linux 6.12 ${old.want}, vmlab ${r}`);
        } else if (r !== host.get(name)) differ.push(`${name}: host ${host.get(name)}, vmlab ${r}`);
      }
      expect(differ).toEqual([]);
    },
  );
});
