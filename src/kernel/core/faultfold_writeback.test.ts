/**
 * The fold's faults serve the flusher's queued background writeback as the handler's do
 * (UserMm.handleMmFault: DirtyThrottle.serve before each fault): a MADV_POPULATE_WRITE of a shared
 * disk-file mapping whose last fault balanced above bg_thresh leaves the work queued when the
 * system call returns; the next user run's first fault, a store in a private anonymous mapping
 * (the VMA of the mm's last fault, which the populate's faults do not move: GUP finds its VMA
 * itself), runs it before its own page is allocated. Folded or through the handler, in a batch or
 * by itself, the background pass must see the same free memory (its bg_thresh) and write the same
 * pages: two kernels booted alike, one with the fold (or its batches), the twin without, compared
 * on the whole view.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { twinSnapshot, withFoldOff } from "../faultfold.testkit.ts";
import type { FileObject } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/mmap.ts";
import type { KernelArchName } from "./config.ts";
import { faultFold } from "./faultfold.ts";

const MiB = 1 << 20;
const PAGE = 4096;

/** whether the throttle has background work queued (wb_start_background_writeback, not yet run) */
const queued = (k: Kernel) => k.dirtyThrottle!.pending;

function run(arch: KernelArchName, twinOff: "on" | "batch", anonPages: number) {
  const unfolded = <T>(f: () => T): T => withFoldOff(twinOff, f);
  const config = { ramBytes: 64 * MiB, cpus: 1, arch, thp: "never" as const };
  const folded0 = faultFold.folded;
  const batched0 = faultFold.batched;
  const side = (k: Kernel) => {
    const t = k.spawn("w")!;
    k.switchTo(0, t);
    // bg_thresh 40% of the dirtyable memory: each anonymous page allocated lowers it by 0.4 page,
    // so a pass run after the run's pages writes more than one run before them
    expect(k.sysctlDirty({ dirty_ratio: 45, dirty_background_ratio: 40 }).ret).toBe(0);
    const f = k.createFile("f", 32 * MiB, "disk") as FileObject;
    const shared = k.mmap(t, mmapArgs(32 * MiB, { file: f, shared: true }));
    // mapped after the file: below it, so the VMAs' order (the index of the last fault's VMA) stays
    const anon = k.mmap(t, mmapArgs(anonPages * PAGE));
    const hi = Number(anon >> 32n);
    const lo = Number(anon & 0xffffffffn);
    // a page of the anonymous VMA every 1 MiB (the mm's last fault's VMA from here on, its leaf
    // tables made: the run below makes none, so the fold's first pte_alloc serves nothing either)
    const n = Math.ceil(anonPages / 256);
    expect(k.userAccessRange(0, t, hi, lo, n, 256 * PAGE, Access.Write, 7)).toBe(n);
    // the shared file's pages dirtied one MADV_POPULATE_WRITE at a time, until one returns with
    // background work queued (its fault's balance_dirty_pages found NR_FILE_DIRTY above bg_thresh)
    let pages = 0;
    while (!queued(k)) {
      expect(pages).toBeLessThan(8192);
      expect(k.madvise(t, shared + BigInt(pages * PAGE), BigInt(PAGE), "populate_write")).toBe(0n);
      pages++;
    }
    const runs = k.dirtyThrottle!.backgroundRuns;
    const written = k.dirtyThrottle!.backgroundPages;
    // the run's faults: the first serves the queued pass, then allocates
    const done = k.userAccessRange(0, t, hi, lo, anonPages, PAGE, Access.Write, 9);
    expect(done).toBe(anonPages);
    expect(queued(k)).toBe(false);
    return {
      pages,
      runs: k.dirtyThrottle!.backgroundRuns - runs,
      written: k.dirtyThrottle!.backgroundPages - written,
      vmstat: k.view.vmstat(),
    };
  };
  const a = new Kernel(config);
  const ra = side(a);
  const folded = faultFold.folded - folded0;
  const batched = faultFold.batched - batched0;
  const b = unfolded(() => new Kernel(config));
  const rb = unfolded(() => side(b));
  expect(ra.pages).toBe(rb.pages);
  expect({ runs: ra.runs, written: ra.written }).toEqual({ runs: rb.runs, written: rb.written });
  expect(ra.vmstat).toEqual(rb.vmstat);
  expect(twinSnapshot(a)).toEqual(unfolded(() => twinSnapshot(b)));
  return { ...rb, folded, batched };
}

describe("the fold's faults serve the flusher's queued background writeback as the handler's do", () => {
  // served at the run's first fault: one chunk (MIN_WRITEBACK_PAGES) takes NR_FILE_DIRTY below
  // bg_thresh; at the run's end (the fold before this test's commit) bg_thresh was 0.4 x 3,500
  // pages lower and the pass wrote a second chunk
  it("x86-64: folded against every fault through the handler", () => {
    const r = run("x86_64", "on", 3500);
    expect({ runs: r.runs, written: r.written }).toEqual({ runs: 1, written: 1024 });
    expect(r.folded).toBeGreaterThan(3400);
  });
  it("x86-64: in batches against each fault by itself", () => {
    const r = run("x86_64", "batch", 3500);
    expect(r.written).toBe(1024);
    expect(r.batched).toBeGreaterThan(3400);
  });
  it("arm64: folded against every fault through the handler", () => {
    const r = run("arm64", "on", 3500);
    expect(r.written).toBe(1024);
    expect(r.folded).toBeGreaterThan(3400);
  });
});
