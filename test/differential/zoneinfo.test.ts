/**
 * The per-CPU pagesets' sizes against this machine's own kernel: /proc/zoneinfo
 * gives each populated zone's managed pages, low watermark and every CPU's
 * pageset (count, high, batch, and since 6.7 high_min and high_max); vmlab's
 * zone_batchsize must give the same batch for the same managed pages, and
 * zone_highsize the kernel's high_min and high_max for the host's CPUs. A
 * pageset's high is only held below high_max: the kernel clamps it into
 * [high_min, high_max] lazily (nr_pcp_high, at the pageset's next use), so
 * after zone_pcp_disable / zone_pcp_enable (alloc_contig_range, as a 1 GiB
 * HugeTLB page's allocation makes it) it may still read below high_min; a
 * pageset never used has high 0, as per_cpu_pages_init leaves it. Skipped where there is no
 * /proc/zoneinfo (not Linux), or the host set percpu_pagelist_high_fraction
 * (then high is fixed by that instead).
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { zoneBatchsize, zoneHighsize } from "../../src/kernel/mm/page_alloc_pcp.ts";

interface HostZone {
  name: string;
  low: number;
  managed: number;
  /** high_min and high_max are -1 where the kernel does not print them (before 6.7) */
  pagesets: { count: number; high: number; batch: number; highMin: number; highMax: number }[];
}

function hostZones(): HostZone[] {
  const zones: HostZone[] = [];
  let z: HostZone | null = null;
  for (const line of readFileSync("/proc/zoneinfo", "utf8").split("\n")) {
    const head = /^Node \d+, zone\s+(\S+)/.exec(line);
    if (head) {
      z = { name: head[1], low: 0, managed: 0, pagesets: [] };
      zones.push(z);
      continue;
    }
    if (z === null) continue;
    const m = /^\s+(low|managed|count:|high:|batch:|high_min:|high_max:)\s+(\d+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (m[1] === "low") z.low = v;
    else if (m[1] === "managed") z.managed = v;
    else if (m[1] === "count:") z.pagesets.push({ count: v, high: 0, batch: 0, highMin: -1, highMax: -1 });
    else if (m[1] === "high:") z.pagesets[z.pagesets.length - 1].high = v;
    else if (m[1] === "high_min:") z.pagesets[z.pagesets.length - 1].highMin = v;
    else if (m[1] === "high_max:") z.pagesets[z.pagesets.length - 1].highMax = v;
    else z.pagesets[z.pagesets.length - 1].batch = v;
  }
  return zones.filter((x) => x.managed > 0 && x.pagesets.length > 0);
}

const fraction = existsSync("/proc/sys/vm/percpu_pagelist_high_fraction")
  ? Number(readFileSync("/proc/sys/vm/percpu_pagelist_high_fraction", "utf8"))
  : 0;

describe.skipIf(!existsSync("/proc/zoneinfo") || fraction !== 0)(
  "pagesets against the host's /proc/zoneinfo",
  () => {
    it("batch is zone_batchsize of the zone's managed pages, high_min and high_max zone_highsize's; high is at most high_max", () => {
      const zones = hostZones();
      expect(zones.length).toBeGreaterThan(0);
      const cpus = availableParallelism();
      for (const z of zones) {
        const batch = Math.max(1, zoneBatchsize(z.managed));
        const highMin = zoneHighsize(z.managed, z.low, batch, cpus, 0, 0);
        const highMax = zoneHighsize(z.managed, z.low, batch, cpus, 0, 8);
        for (const p of z.pagesets) {
          expect(p.batch, `${z.name} batch`).toBe(batch);
          if (p.highMin >= 0)
            expect([p.highMin, p.highMax], `${z.name} high_min, high_max`).toEqual([highMin, highMax]);
          expect(p.high, `${z.name} high`).toBeLessThanOrEqual(highMax);
        }
      }
    });
  },
);
