/**
 * Workingset detection (mm/workingset.c): shadow entries at eviction, the
 * refault distance against the workingset, activation on refault, the
 * counters /proc/vmstat prints (workingset_refault_*, _activate_*,
 * _restore_*, workingset_nodes), and where shadows go (a write's page,
 * truncation, a freed swap slot).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { fileOf } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";
import { nodesShift, Refault, Workingset } from "./workingset.ts";

const sizes = (activeFile: number, inactiveFile: number, activeAnon: number, inactiveAnon: number) =>
  Int32Array.of(0, inactiveAnon, activeAnon, inactiveFile, activeFile, 0);

describe("the shadow's bits (workingset_init, pack_shadow)", () => {
  it("has the timestamp bits and bucket order Linux prints at boot", () => {
    // this project's host (x86-64, CONFIG_NODES_SHIFT 10, 16 GiB): "timestamp_bits=36 max_order=23 bucket_order=0"
    const host = new Workingset(64, nodesShift("x86_64"), () => 4_000_000);
    expect([host.timestampBits, host.bucketOrder]).toEqual([36, 0]);
    // i386 (no NUMA): 32 - (1 + 1 + 0 + 16) = 14 bits; 1 GiB of RAM, max_order 18: buckets of 16 pages
    const i386 = new Workingset(32, nodesShift("i386"), () => 262_144);
    expect([i386.timestampBits, i386.bucketOrder]).toEqual([14, 4]);
    expect(new Workingset(64, nodesShift("arm64"), () => 1 << 20).timestampBits).toBe(42);
    expect(new Workingset(64, nodesShift("riscv-sv48"), () => 1 << 20).timestampBits).toBe(44);
  });

  it("measures the distance in evictions and activations since, and compares it with the workingset", () => {
    const w = new Workingset(64, 10, () => 1 << 16);
    w.ageNonresident(1000);
    const shadow = w.eviction(false, 1); // read at 1000, the clock at 1001
    w.ageNonresident(99); // 1100: distance 100
    expect(w.refault(shadow, false, 1, sizes(50, 49, 0, 0), 0)).toBe(Refault.Inactive); // 99 < 100
    expect(w.refault(shadow, false, 1, sizes(50, 50, 0, 0), 0)).toBe(Refault.Activate); // 100 <= 100
    // the refault that activated aged the clock: 101 now; an anonymous page's workingset counts
    // the active anon list only with free swap
    expect(w.refault(shadow, false, 1, sizes(0, 0, 101, 500), 0)).toBe(Refault.Inactive);
    expect(w.refault(shadow, false, 1, sizes(0, 0, 101, 500), 1)).toBe(Refault.Activate);
    // a file page's: the active file list, and with free swap both anon lists (not the inactive file list)
    expect(w.refault(shadow, true, 1, sizes(0, 1000, 0, 0), 1)).toBe(Refault.Inactive);
    expect(w.refault(shadow, true, 1, sizes(0, 0, 53, 50), 1)).toBe(Refault.Activate);
    expect(w.stats).toMatchObject({
      workingset_refault_anon: 4,
      workingset_activate_anon: 2,
      workingset_refault_file: 2,
      workingset_activate_file: 1,
      workingset_restore_anon: 0,
    });
    // PG_workingset at eviction: restored
    const ws = w.eviction(true, 1);
    expect(w.refault(ws, false, 1, sizes(10, 0, 0, 0), 0)).toBe(Refault.Restore);
    expect(w.stats.workingset_restore_anon).toBe(1);
  });

  it("takes the distance modulo 2^timestamp_bits across the eviction field's wrap, in buckets on 32-bit", () => {
    const w = new Workingset(32, 0, () => 262_144); // 14 bits, buckets of 16 pages
    // evicted at 2^18 + 32: bucket 2^14 + 2, stored as 2 (EVICTION_MASK); the refault at
    // 2^18 + 132 is 100 evictions later, (2^18 + 132 - 2 * 16) & (2^14 - 1)
    w.ageNonresident(2 ** 18 + 32);
    const shadow = w.eviction(false, 1);
    w.ageNonresident(99);
    expect(w.refault(shadow, false, 1, sizes(99, 0, 0, 0), 0)).toBe(Refault.Inactive);
    expect(w.refault(shadow, false, 1, sizes(100, 0, 0, 0), 0)).toBe(Refault.Activate);
    // a bucket's pages share its reading: evicted 8 pages into a bucket, the distance is 8 more
    const w2 = new Workingset(32, 0, () => 262_144);
    w2.ageNonresident(40); // bucket 2 (32..47)
    const s2 = w2.eviction(false, 1);
    w2.ageNonresident(59); // 100 now: 68 since bucket 2 began
    expect(w2.refault(s2, false, 1, sizes(67, 0, 0, 0), 0)).toBe(Refault.Inactive);
    expect(w2.refault(s2, false, 1, sizes(68, 0, 0, 0), 0)).toBe(Refault.Activate);
  });
});

describe("refaults in a running kernel", () => {
  it("activates anonymous pages paged out and read back soon, not those read back after 4M more", () => {
    expect(
      expectationFailures(`
machine ram=256M swap=64M
file f size=1M cached
spawn A
A: a = mmap 64K
A: write a 64K value=0x33
A: madvise a 64K pageout
# 16 shadows in one leaf node of the swap cache (its first 64 slots)
expect vmstat.workingset_nodes == 1
A: read a 64K
expect vmstat.workingset_refault_anon == 16
expect vmstat.workingset_activate_anon == 16
expect vmstat.workingset_restore_anon == 0
expect vmstat.workingset_refault_file == 0
expect vmstat.workingset_nodes == 0
expect byte(A, a+60K) == 0x33
A: madvise a 64K pageout
A: b = mmap 4M
A: write b 4M value=2
A: madvise b 4M pageout
# 1040 evictions since: more than the file's 256 pages and the active anon list
A: read a 64K
expect vmstat.workingset_refault_anon == 32
expect vmstat.workingset_activate_anon == 16
expect byte(A, a) == 0x33
`),
    ).toEqual([]);
  });

  it("counts shmem pages read back from swap as anonymous refaults, the cluster's readahead too", () => {
    expect(
      expectationFailures(`
machine ram=256M swap=64M
file f size=1M cached
spawn A
A: s = mmap 64K shared
A: write s 64K value=0x21
A: madvise s 64K pageout
expect vmstat.pswpout == 16
expect vmstat.workingset_nodes == 1
A: read s 64K
expect vmstat.pswpin == 16
expect vmstat.workingset_refault_anon == 16
expect vmstat.workingset_activate_anon == 16
expect vmstat.workingset_refault_file == 0
expect byte(A, s+60K) == 0x21
`),
    ).toEqual([]);
  });

  it("counts a file page read back after reclaim; a write's page neither refaults nor keeps the shadow", () => {
    expect(
      expectationFailures(`
machine ram=256M swap=64M
file f size=256K
spawn A
A: x = mmap 1M
A: write x 1M value=1
A: buf = mmap 256K
A: r = syscall read f buf 256K offset=0
A: m = mmap 256K prot=r shared file=f
A: read m 256K
A: madvise m 256K pageout
expect vmstat.workingset_refault_file == 0
expect vmstat.workingset_nodes == 1
A: w = syscall write f buf 4K offset=0
expect vmstat.workingset_refault_file == 0
A: r2 = syscall read f buf 256K offset=0
expect vmstat.workingset_refault_file == 63
expect vmstat.workingset_activate_file == 63
expect vmstat.workingset_refault_anon == 0
expect vmstat.workingset_nodes == 0
`),
    ).toEqual([]);
  });

  it("drops a file's shadows past a truncation, and a swap slot's when the slot is freed", () => {
    const k = new Kernel({ ramBytes: 128 << 20, cpus: 1, swapBytes: 64 << 20 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const f = k.createFile("f", 64 * 4096, "disk", false);
    const m = k.mmap(
      t,
      mmapArgs(64 * 4096, { file: f, shared: true, prot: { r: true, w: false, x: false } }),
    );
    for (let i = 0; i < 64; i++) expect(k.userAccess(0, t, m + BigInt(i * 4096), Access.Read).ok).toBe(true);
    expect(k.madvise(t, m, 64n * 4096n, "pageout")).toBe(0n);
    expect(fileOf(f).shadows.size).toBe(64);
    expect(k.ftruncate(t, f, 16n * 4096n)).toBe(0n);
    expect([...fileOf(f).shadows.keys()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 16 }, (_, i) => i),
    );
    // anonymous: the slots keep the shadows while the PTEs name them; munmap frees the slots
    const a = k.mmap(t, mmapArgs(16 * 4096));
    for (let i = 0; i < 16; i++)
      expect(k.userAccess(0, t, a + BigInt(i * 4096), Access.Write, 7).ok).toBe(true);
    expect(k.madvise(t, a, 16n * 4096n, "pageout")).toBe(0n);
    const shadows = () => k.swap!.shadow.reduce((n: number, s: number) => n + (s !== 0 ? 1 : 0), 0);
    expect(shadows()).toBe(16);
    expect(k.munmap(t, a, 16n * 4096n)).toBe(0n);
    expect(shadows()).toBe(0);
  });

  it("explain says what the refault of a swapped or evicted page will do", () => {
    const k = new Kernel({ ramBytes: 128 << 20, cpus: 1, swapBytes: 64 << 20 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    k.createFile("cache", 1 << 20, "disk", true); // 256 inactive file pages: the anonymous workingset
    const a = k.mmap(t, mmapArgs(16 * 4096));
    for (let i = 0; i < 16; i++)
      expect(k.userAccess(0, t, a + BigInt(i * 4096), Access.Write, 5).ok).toBe(true);
    expect(k.madvise(t, a, 16n * 4096n, "pageout")).toBe(0n);
    const refault = () =>
      k.view.explain(t, a, Access.Read).find((l) => l.includes("workingset_refault")) ?? "";
    expect(refault()).toMatch(
      /16 pages were evicted or activated since, no more than the \d+ pages .*joins the active list/,
    );
    const b = k.mmap(t, mmapArgs(1024 * 4096));
    for (let i = 0; i < 1024; i++)
      expect(k.userAccess(0, t, b + BigInt(i * 4096), Access.Write, 6).ok).toBe(true);
    expect(k.madvise(t, b, 1024n * 4096n, "pageout")).toBe(0n);
    expect(refault()).toMatch(
      /1040 pages were evicted or activated since, more than .* joins the inactive list/,
    );
    // a page never evicted has no shadow: nothing said
    const c = k.mmap(t, mmapArgs(4096));
    const lines = k.view.explain(t, c, Access.Read);
    expect(lines.some((l) => l.includes("do_anonymous_page"))).toBe(true);
    expect(lines.some((l) => l.includes("workingset_refault"))).toBe(false);
  });

  it("frees shadow nodes above an eighth of the LRU's pages (mm-shadow), oldest first", () => {
    // one-page files, each page evicted leaves one shadow in a node of its own
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 64 << 20 });
    const files = [];
    for (let i = 0; i < 30000; i++) files.push(k.createFile(`f${i}`, 4096, "disk", true));
    const v = k.view.vmstat();
    const shadows = files.map((f) => fileOf(f).shadows.size);
    // every evicted page made a node: the shrinker freed some, the others are still listed
    expect(v.workingset_nodereclaim).toBeGreaterThan(0);
    expect(v.workingset_nodereclaim + v.workingset_nodes).toBe(v.pgsteal_kswapd + v.pgsteal_direct);
    expect(shadows.reduce((a, b) => a + b, 0)).toBe(v.workingset_nodes);
    expect(v.slabs_scanned).toBeGreaterThanOrEqual(v.workingset_nodereclaim);
    // the oldest went first: the files evicted first have no shadow left, the last evicted keep theirs
    const firstKept = shadows.indexOf(1);
    expect(firstKept).toBeGreaterThan(0);
    expect(shadows.slice(0, firstKept).every((n) => n === 0)).toBe(true);
    // about an eighth of the LRU's pages remain (count_shadow_nodes), do_shrink_slab taking half the excess a pass
    const lru = v.nr_inactive_file + v.nr_active_file + v.nr_inactive_anon + v.nr_active_anon;
    expect(v.workingset_nodes).toBeLessThan(lru / 4);
  });

  /**
   * A hot set of `hotMiB` written and read between each of `rounds` chunks of a stream of
   * `streamMiB` written once, then read once more, on 64 MiB of RAM and 512 MiB of swap.
   */
  function hotAndStream(hotMiB: number, streamMiB: number, rounds: number) {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 512 << 20, overcommit: "always" });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const hp = (hotMiB << 20) / 4096;
    const sp = (streamMiB << 20) / 4096;
    const h = k.mmap(t, mmapArgs(hp * 4096));
    const s = k.mmap(t, mmapArgs(sp * 4096));
    const touch = (b: bigint, n: number, a: Access, v: number) =>
      expect(k.userAccessRange(0, t, Number(b >> 32n), Number(b & 0xffffffffn), n, 4096, a, v)).toBe(n);
    const chunk = sp / rounds;
    for (let r = 0; r < rounds; r++) {
      if (hp > 0) touch(h, hp, Access.Write, 1);
      if (hp > 0) touch(h, hp, Access.Read, 1);
      touch(s + BigInt(r * chunk * 4096), chunk, Access.Write, 2);
      touch(s + BigInt(r * chunk * 4096), chunk, Access.Read, 2);
    }
    if (hp > 0) touch(h, hp, Access.Read, 1);
    return k.view.vmstat();
  }

  it("a hot set evicted by a stream refaults active, restored (PG_workingset); a pure stream almost never", () => {
    // (a 32 MiB hot set stays whole: the reclaims of kswapd woken for DMA alone, after a fallback
    // boosted its watermarks, pass over the DMA32 pages and move them to the inactive list's head)
    const hot = hotAndStream(40, 128, 8);
    // every swap-in read a slot reclaim had left a shadow in (no slot was freed and taken again)
    expect(hot.pswpin).toBeGreaterThan(0);
    expect(hot.workingset_refault_anon).toBe(hot.pswpin);
    // the hot set had been active (shrink_active_list deactivated it: PG_workingset) and comes back
    // within the active list's size
    expect(hot.pgdeactivate).toBeGreaterThan(0);
    expect(hot.workingset_restore_anon).toBeGreaterThan(0);
    expect(hot.workingset_restore_anon).toBeLessThanOrEqual(hot.workingset_activate_anon);
    expect(hot.workingset_activate_anon).toBeLessThanOrEqual(hot.workingset_refault_anon);
    // a stream that only thrashes: nothing is active, nothing is protected (a few readahead pages
    // evicted unused and soon refaulted at most)
    const stream = hotAndStream(0, 256, 2);
    expect(stream.workingset_refault_anon).toBe(stream.pswpin);
    expect(stream.workingset_refault_anon).toBeGreaterThan(10_000);
    expect(stream.workingset_activate_anon).toBeLessThan(stream.workingset_refault_anon / 1000);
    expect(stream.workingset_restore_anon).toBe(0);
  });
});
