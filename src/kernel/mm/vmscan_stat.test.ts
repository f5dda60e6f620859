/**
 * /proc/vmstat's reclaim events by Linux's names (vmscan_stat.ts): who
 * reclaimed (pgscan/pgsteal _kswapd, _direct), what (_anon, _file), a
 * memory cgroup's reclaim only in the latter, MADV_PAGEOUT in neither, and
 * the file's names and order as the running kernel prints them.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { KernelConfig } from "../Kernel.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { VMSTAT_ORDER } from "../view/proc.ts";
import { mmapArgs } from "./userMm.ts";

const PAGE = 4096n;

function boot(extra: Partial<KernelConfig> = {}) {
  return new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 64 << 20, overcommit: "always", ...extra });
}

/** A process with `pages` anonymous pages written (value: the page number's low byte); where they start. */
function fill(k: Kernel, pages: number) {
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const a = k.mmap(t, mmapArgs(pages * 4096));
  expect(a > 0n).toBe(true);
  for (let i = 0; i < pages; i++)
    expect(k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, i & 0xff).ok, `page ${i}`).toBe(true);
  return { t, a };
}

const delta = (a: Record<string, number>, b: Record<string, number>, n: string) => b[n] - a[n];

describe("/proc/vmstat's reclaim events", () => {
  it("counts kswapd's pages under _kswapd and the anonymous list's under _anon; pageoutrun once per balance_pgdat", () => {
    const k = boot();
    const v0 = k.view.vmstat();
    fill(k, 24000); // 94 MiB through 64 MiB: kswapd wakes at the low watermark
    const v1 = k.view.vmstat();
    expect(delta(v0, v1, "pgsteal_kswapd")).toBeGreaterThan(5000);
    expect(delta(v0, v1, "pgscan_kswapd")).toBeGreaterThanOrEqual(delta(v0, v1, "pgsteal_kswapd"));
    // every page reclaimed is counted once by reclaimer and once by list
    expect(v1.pgsteal_kswapd + v1.pgsteal_direct + v1.pgsteal_khugepaged).toBe(
      v1.pgsteal_anon + v1.pgsteal_file,
    );
    expect(v1.pgscan_kswapd + v1.pgscan_direct + v1.pgscan_khugepaged).toBe(v1.pgscan_anon + v1.pgscan_file);
    expect(v1.pgsteal_anon).toBeGreaterThan(5000);
    // the pages swapped out are the anonymous pages reclaimed
    expect(v1.pswpout).toBe(v1.pgsteal_anon);
    expect(v1.pageoutrun).toBe(k.vmscan.stats.pageoutrun);
    expect(v1.pageoutrun).toBeGreaterThan(0);
    const runs = v1.pageoutrun;
    k.kswapd();
    expect(k.view.vmstat().pageoutrun).toBe(runs + 1);
  });

  it("counts try_to_free_pages (`reclaim`) under _direct, not _kswapd", () => {
    const k = boot();
    fill(k, 8000); // 31 MiB: no pressure
    const v0 = k.view.vmstat();
    expect(v0.pgsteal_kswapd + v0.pgsteal_direct).toBe(0);
    expect(k.reclaim(1000)).toBeGreaterThanOrEqual(1000);
    const v1 = k.view.vmstat();
    expect(delta(v0, v1, "pgsteal_direct")).toBeGreaterThanOrEqual(1000);
    expect(delta(v0, v1, "pgsteal_kswapd")).toBe(0);
    expect(delta(v0, v1, "pgscan_kswapd")).toBe(0);
    expect(delta(v0, v1, "pgsteal_anon")).toBe(delta(v0, v1, "pgsteal_direct"));
  });

  it("counts a memory limit's reclaim (cgroup_reclaim) only under _anon and _file", () => {
    const k = boot({ userMemoryPages: 2000 });
    fill(k, 4000);
    const v = k.view.vmstat();
    expect(k.vmscan.reclaimCtx.cgroupReclaims).toBeGreaterThan(0);
    expect(v.pgsteal_anon).toBeGreaterThanOrEqual(2000);
    expect(v.pgsteal_kswapd + v.pgsteal_direct + v.pgsteal_khugepaged).toBe(0);
    expect(v.pgscan_kswapd + v.pgscan_direct + v.pgscan_khugepaged).toBe(0);
    // the older names a scenario may still use: every reclaimer's pages together
    expect(k.view.vmstatCompat().pgsteal).toBe(v.pgsteal_anon + v.pgsteal_file);
    expect(k.view.vmstatCompat().memcg_reclaims).toBe(k.vmscan.reclaimCtx.cgroupReclaims);
  });

  it("does not count MADV_PAGEOUT's pages (reclaim_folio_list) as stolen, though they are swapped out", () => {
    const k = boot();
    const { t, a } = fill(k, 256);
    const v0 = k.view.vmstat();
    expect(k.madvise(t, a, 256n * PAGE, "pageout")).toBe(0n);
    const v1 = k.view.vmstat();
    expect(delta(v0, v1, "pswpout")).toBe(256);
    for (const n of ["pgsteal_kswapd", "pgsteal_direct", "pgsteal_anon", "pgsteal_file", "pgscan_anon"])
      expect(delta(v0, v1, n), n).toBe(0);
  });

  it("counts a transparent huge page's pages when reclaim scans it (isolate_lru_folios' nr_scanned)", () => {
    const k = boot({ thp: "always" });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(8 << 20));
    const huge = a + (((2n << 20n) - (a % (2n << 20n))) % (2n << 20n)); // the first 2 MiB boundary in it
    for (let i = 0n; i < 4n; i++)
      expect(k.userAccess(0, t, huge + i * (2n << 20n) - (i === 3n ? 4096n : 0n), Access.Write, 1).ok).toBe(
        true,
      );
    expect(k.userMm.thpStats.thp_fault_alloc).toBeGreaterThanOrEqual(3);
    const v0 = k.view.vmstat();
    k.reclaim(4);
    const v1 = k.view.vmstat();
    // the scan reached at least one huge page: its 512 pages, not 1
    expect(delta(v0, v1, "pgscan_anon")).toBeGreaterThanOrEqual(512);
    expect(delta(v0, v1, "pgscan_direct")).toBe(delta(v0, v1, "pgscan_anon"));
  });

  it("prints Linux's names in Linux's order, and no other", () => {
    for (const arch of ["x86_64", "i386"] as const) {
      const names = Object.keys(new Kernel({ arch, ramBytes: 1 << 30, cpus: 1 }).view.vmstat());
      const at = names.map((n) => VMSTAT_ORDER.indexOf(n));
      expect(at.filter((i) => i < 0).map((_, j) => names[j])).toEqual([]);
      expect([...at].sort((x, y) => x - y)).toEqual(at);
      expect(names).toContain("pgsteal_kswapd");
      // TEXTS_FOR_ZONES: every configured zone, the empty ZONE_MOVABLE too
      const zones =
        arch === "i386" ? ["dma", "normal", "high", "movable"] : ["dma", "dma32", "normal", "movable"];
      expect(names.filter((n) => n.startsWith("allocstall_"))).toEqual(zones.map((z) => `allocstall_${z}`));
      expect(names.filter((n) => n.startsWith("pgalloc_"))).toEqual(zones.map((z) => `pgalloc_${z}`));
      expect(names).not.toContain("pgsteal");
    }
    // against the running kernel's /proc/vmstat where there is one (Linux 6.12 and later keep
    // these names in this order; pgalloc_high exists only on CONFIG_HIGHMEM kernels)
    if (!existsSync("/proc/vmstat")) return;
    const host = readFileSync("/proc/vmstat", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[0])
      .filter((n) => n !== "");
    if (!host.includes("pgsteal_anon")) return; // older than 5.19
    const ours = Object.keys(new Kernel({ arch: "x86_64", ramBytes: 1 << 30, cpus: 1 }).view.vmstat());
    const at = ours.map((n) => host.indexOf(n));
    expect(ours.filter((_, j) => at[j] < 0)).toEqual([]);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
  });
});
