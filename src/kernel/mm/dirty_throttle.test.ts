/**
 * balance_dirty_pages and background writeback (Linux 6.12 mm/page-writeback.c,
 * fs/fs-writeback.c; kernel/mm/page_writeback.ts DirtyThrottle): the limits from dirtyable
 * memory and the four knobs, the per-task ratelimit, the flusher's background passes (oldest
 * inode first, MIN_WRITEBACK_PAGES chunks once the wb has completions, range cyclic), exited
 * tasks' leaks, and which dirtiers balance (write(2) and shared write faults on disk files;
 * not tmpfs, not private mappings).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures, feedSession, scenarioError } from "../../workloads/scenario/testKit.ts";
import type { FileObject } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { Wmark } from "./buddy.ts";
import { dirtyPollInterval } from "./page_writeback.ts";
import { mmapArgs } from "./userMm.ts";

function boot(ramMiB = 64, cpus = 1) {
  const k = new Kernel({ ramBytes: ramMiB << 20, cpus });
  const t = k.spawn("writer")!;
  k.switchTo(0, t);
  const buf = k.mmap(t, mmapArgs(64 << 10));
  k.userAccessRange(0, t, Number(buf >> 32n), Number(buf & 0xffffffffn), 16, 4096, Access.Write, 0x33);
  return { k, t, buf, throttle: k.dirtyThrottle! };
}

/** write(2) of `pages` pages of `f` from page `from`, one page per call (as a writer loops). */
function writePages(k: Kernel, f: FileObject, buf: bigint, from: number, pages: number): void {
  for (let i = 0; i < pages; i++) expect(k.fileIo(0, f, buf, 4096, true, (from + i) * 4096)).toBe(4096);
}

describe("the dirty limits", () => {
  it("are dirty_ratio and dirty_background_ratio of the dirtyable memory, as /proc/vmstat shows them", () => {
    const { k, throttle } = boot();
    const m = k.view.meminfo();
    let reserve = 0;
    for (const z of k.buddy.zones)
      reserve += Math.min(z.managed, Math.max(...z.lowmemReserve) + z.wmark[Wmark.High]);
    const free = m.MemFree / 4096;
    const avail = free - Math.min(free, reserve) + (m["Inactive(file)"] + m["Active(file)"]) / 4096 + 1;
    const l = throttle.limits();
    expect(l.avail).toBe(avail);
    expect(l.thresh).toBe(Math.floor((Math.floor((20 * 4096) / 100) * avail) / 4096));
    expect(l.bgThresh).toBe(Math.floor((Math.floor((10 * 4096) / 100) * avail) / 4096));
    const v = k.view.vmstat();
    expect(v.nr_dirty_threshold).toBe(l.thresh);
    expect(v.nr_dirty_background_threshold).toBe(l.bgThresh);
  });

  it("leave highmem out on 32-bit x86 (vm_highmem_is_dirtyable 0): its free pages above the high watermark and its file pages", () => {
    const k = new Kernel({ arch: "i386", ramBytes: 2 ** 31 });
    const t = k.spawn("w")!;
    k.switchTo(0, t);
    const buf = k.mmap(t, mmapArgs(4096));
    const f = k.createFile("f", 4 << 20) as FileObject;
    for (let i = 0; i < 64; i++) expect(k.fileIo(0, f, buf, 4096, true, i * 4096)).toBe(4096);
    const l = k.buddy.layout;
    expect(l.highmem).not.toBe(l.normal);
    const high = k.buddy.zones[l.highmem];
    let reserve = 0;
    for (const z of k.buddy.zones)
      reserve += Math.min(z.managed, Math.max(...z.lowmemReserve) + z.wmark[Wmark.High]);
    const free = k.buddy.freePages();
    // the page cache's pages on the file LRU in highmem (GFP_HIGHUSER_MOVABLE puts them there)
    let highFile = 0;
    for (const pfn of f.cache.values())
      if (k.buddy.zoneOf(pfn) === high && (k.vmscan.lru[pfn] === 3 || k.vmscan.lru[pfn] === 4)) highFile++;
    const fileLru = k.vmscan.size[3] + k.vmscan.size[4];
    const highmem = high.freePages - Math.min(high.freePages, high.wmark[Wmark.High]) + highFile;
    expect(highmem).toBeGreaterThan(100000);
    expect(k.dirtyThrottle!.limits().avail).toBe(free - Math.min(free, reserve) + fileLru - highmem + 1);
  });

  it("take bytes instead of ratios; writing one zeroes the other; out of range is refused", () => {
    const { k } = boot();
    let r = k.sysctlDirty({ dirty_bytes: 8 << 20, dirty_background_bytes: 2 << 20 });
    expect(r.ret).toBe(0);
    expect(r.now).toEqual({
      dirty_background_ratio: 0,
      dirty_background_bytes: 2 << 20,
      dirty_ratio: 0,
      dirty_bytes: 8 << 20,
    });
    expect(k.view.vmstat().nr_dirty_threshold).toBe(2048);
    expect(k.view.vmstat().nr_dirty_background_threshold).toBe(512);
    // bg at or above thresh: halved to thresh / 2
    r = k.sysctlDirty({ dirty_background_bytes: 16 << 20 });
    expect(k.view.vmstat().nr_dirty_background_threshold).toBe(1024);
    r = k.sysctlDirty({ dirty_ratio: 30, dirty_background_ratio: 5 });
    expect(r.now).toEqual({
      dirty_background_ratio: 5,
      dirty_background_bytes: 0,
      dirty_ratio: 30,
      dirty_bytes: 0,
    });
    expect(k.sysctlDirty({ dirty_ratio: 101 }).ret).toBe(-22);
    expect(k.sysctlDirty({ dirty_background_bytes: 0 }).ret).toBe(-22);
    expect(k.sysctlDirty({ dirty_bytes: 4096 }).ret).toBe(-22);
    expect(k.sysctlDirty({ dirty_bytes: 2 ** 50 }).ret).toBe(-34);
    // refused: nothing after the refused knob was written either
    r = k.sysctlDirty({ dirty_background_ratio: 200, dirty_ratio: 40 });
    expect(r.ret).toBe(-22);
    expect(r.now.dirty_ratio).toBe(30);
    expect(r.now.dirty_background_ratio).toBe(5);
  });

  it("the poll interval is 2^(ilog2(thresh - dirty) / 2), 1 at or above thresh", () => {
    expect(dirtyPollInterval(0, 2722)).toBe(32); // ilog2(2722) = 11 -> 2^5
    expect(dirtyPollInterval(2000, 2722)).toBe(16); // ilog2(722) = 9 -> 2^4
    expect(dirtyPollInterval(2721, 2722)).toBe(1);
    expect(dirtyPollInterval(3000, 2722)).toBe(1);
  });
});

describe("balance_dirty_pages", () => {
  it("is entered once the task has dirtied nr_dirtied_pause pages (32 after fork), not before", () => {
    const { k, t, buf, throttle } = boot();
    const f = k.createFile("f", 1 << 20) as FileObject;
    writePages(k, f, buf, 0, 31);
    expect(throttle.balanceCalls).toBe(0);
    expect(t.nrDirtied).toBe(31);
    writePages(k, f, buf, 31, 1);
    expect(throttle.balanceCalls).toBe(1);
    // below the freerun ceiling: nr_dirtied back to 0, the next look after the poll interval
    const l = throttle.limits();
    expect(t.nrDirtied).toBe(0);
    expect(t.nrDirtiedPause).toBe(dirtyPollInterval(32, l.thresh));
    // rewriting dirty pages dirties nothing new: no balance
    writePages(k, f, buf, 0, 32);
    expect(throttle.balanceCalls).toBe(1);
  });

  it("starts background writeback above bg_thresh: a pass writes a chunk of each dirty inode", () => {
    const { k, buf, throttle } = boot();
    const bg = throttle.limits().bgThresh;
    const f = k.createFile("f", 16 << 20) as FileObject;
    writePages(k, f, buf, 0, bg);
    expect(throttle.backgroundRuns).toBe(0);
    expect(k.view.vmstat().nr_dirty).toBe(bg);
    // the next balance past bg_thresh: one pass of MIN_WRITEBACK_PAGES, then below the threshold
    writePages(k, f, buf, bg, 64);
    expect(throttle.backgroundRuns).toBe(1);
    const v = k.view.vmstat();
    expect(throttle.backgroundPages).toBe(1024);
    expect(v.nr_written).toBe(1024);
    expect(v.nr_written + v.nr_dirty).toBe(bg + 64);
    expect(v.nr_dirty).toBeLessThanOrEqual(v.nr_dirty_background_threshold);
    // the disk holds what was written: the file's first 1024 pages, from writeback_index 0
    expect(f.written.has(0) && f.written.has(1023) && !f.written.has(1024)).toBe(true);
    expect(f.writebackIndex).toBe(1024);
  });

  it("then writes MIN_WRITEBACK_PAGES a pass, the oldest inode first, range cyclic, until below bg_thresh", () => {
    const { k, buf, throttle } = boot(128);
    const { bgThresh } = throttle.limits();
    expect(throttle.chunkSize()).toBe(1024);
    const a = k.createFile("a", 32 << 20) as FileObject;
    const b = k.createFile("b", 32 << 20) as FileObject;
    const na = bgThresh - 600;
    writePages(k, a, buf, 0, na); // a became dirty first
    writePages(k, b, buf, 0, 600);
    expect(throttle.backgroundRuns).toBe(0);
    writePages(k, b, buf, 600, 40);
    expect(throttle.backgroundRuns).toBe(1);
    // one pass took a's first 1024 pages and all of b's dirty pages (fewer than a chunk)...
    for (const i of [0, 1023]) expect(a.written.has(i)).toBe(true);
    expect(a.written.has(1024)).toBe(false);
    expect(a.writebackIndex).toBe(1024);
    expect(a.dirty.size).toBe(na - 1024);
    expect(b.written.has(0)).toBe(true);
    expect(b.dirty.size).toBeLessThan(40); // only what the writer dirtied after the pass
    // ...and that was enough: at or below bg_thresh now
    expect(k.view.vmstat().nr_dirty).toBeLessThanOrEqual(bgThresh);
    // the next full pass (sync) starts at a's writeback_index
    k.sync();
    expect(a.dirty.size).toBe(0);
    expect(a.writebackIndex).toBe(0);
  });

  it("charges an exited task's unbalanced pages to the next dirtier on its CPU", () => {
    const { k, throttle } = boot();
    const f = k.createFile("f", 1 << 20) as FileObject;
    const u = k.spawn("short")!;
    k.switchTo(0, u);
    const ubuf = k.mmap(u, mmapArgs(4096));
    writePages(k, f, ubuf, 0, 20);
    expect(u.nrDirtied).toBe(20);
    k.exit(u, "exit");
    expect(throttle.leaks[0]).toBe(20);
    const t2 = k.spawn("next")!;
    k.switchTo(0, t2);
    const b2 = k.mmap(t2, mmapArgs(4096));
    writePages(k, f, b2, 100, 1);
    // up to nr_dirtied_pause: 31 of the leak fill the window with the page it dirtied... 20 here
    expect(throttle.leaks[0]).toBe(0);
    expect(t2.nrDirtied).toBe(21);
  });

  it("balances on shared write faults of a disk file, not on tmpfs or a private mapping", () => {
    const { k, t, throttle } = boot();
    const disk = k.createFile("d", 1 << 20) as FileObject;
    const tmp = k.createFile("t", 1 << 20, "tmpfs") as FileObject;
    const va = (f: FileObject, shared: boolean) => k.mmap(t, mmapArgs(1 << 20, { file: f, shared }));
    const touch = (a: bigint) =>
      k.userAccessRange(0, t, Number(a >> 32n), Number(a & 0xffffffffn), 40, 4096, Access.Write, 1);
    touch(va(tmp, true));
    touch(va(disk, false));
    expect(throttle.balanceCalls).toBe(0);
    expect(t.nrDirtied).toBe(0);
    touch(va(disk, true));
    expect(throttle.balanceCalls).toBe(1);
    expect(t.nrDirtied).toBe(8); // 32 balanced, 8 since
  });
});

describe("sysctl's dirty keys in a scenario", () => {
  it("print the knobs and thresholds; VAR holds the first key's value, or -errno", () => {
    const s = feedSession(`machine ram=64M
a = sysctl dirty_bytes=8M dirty_background_bytes=1M
b = sysctl dirty_ratio=101
c = sysctl dirty_background_ratio=5`);
    // the first key in the order they are written: dirty_background_bytes before dirty_bytes
    expect(s.variables.get("a")).toBe(1n << 20n);
    expect(s.variables.get("b")).toBe(-22n);
    expect(s.variables.get("c")).toBe(5n);
    expect(s.kernel!.view.vmstat().nr_dirty_threshold).toBe(2048);
    expect(
      expectationFailures(`machine ram=64M
r = sysctl dirty_background_bytes=2M
expect r == 2M
expect vmstat.nr_dirty_background_threshold == 512
expect vmstat.background_writebacks == 0`),
    ).toEqual([]);
  });

  it("bad values stop the scenario at the value's column", () => {
    expect(scenarioError("machine ram=64M\nsysctl dirty_ratio=")).toMatch(
      /^s\.vm:2:20: expected a value after 'dirty_ratio='/,
    );
    expect(scenarioError("machine ram=64M\nsysctl dirty_ratio=x")).toMatch(/^s\.vm:2:20: /);
    expect(scenarioError("machine ram=64M\nsysctl dirty_bytes=0x7fffffffffffffff")).toMatch(
      /^s\.vm:2:20: dirty_bytes=\d+: 0 to 2\^53/,
    );
    expect(scenarioError("machine profile=windows\nsysctl dirty_ratio=10")).toMatch(
      /Linux's \/proc\/sys\/vm/,
    );
  });
});
