/**
 * The per-CPU pagesets' sizes against this machine's own kernel: /proc/zoneinfo
 * gives each populated zone's managed pages, low watermark and every CPU's
 * pageset (count, high, batch); vmlab's zone_batchsize must give the same batch
 * for the same managed pages, and a pageset's high must lie where zone_highsize
 * puts high_min and high_max for the host's CPUs (a pageset never used still
 * has high 0, as per_cpu_pages_init leaves it). Skipped where there is no
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
  pagesets: { count: number; high: number; batch: number }[];
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
    const m = /^\s+(low|managed|count:|high:|batch:)\s+(\d+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (m[1] === "low") z.low = v;
    else if (m[1] === "managed") z.managed = v;
    else if (m[1] === "count:") z.pagesets.push({ count: v, high: 0, batch: 0 });
    else if (m[1] === "high:") z.pagesets[z.pagesets.length - 1].high = v;
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
    it("batch is zone_batchsize of the zone's managed pages; high lies between high_min and high_max", () => {
      const zones = hostZones();
      expect(zones.length).toBeGreaterThan(0);
      const cpus = availableParallelism();
      for (const z of zones) {
        const batch = Math.max(1, zoneBatchsize(z.managed));
        const highMin = zoneHighsize(z.managed, z.low, batch, cpus, 0, 0);
        const highMax = zoneHighsize(z.managed, z.low, batch, cpus, 0, 8);
        for (const p of z.pagesets) {
          expect(p.batch, `${z.name} batch`).toBe(batch);
          if (p.high !== 0) {
            expect(p.high, `${z.name} high`).toBeGreaterThanOrEqual(highMin);
            expect(p.high, `${z.name} high`).toBeLessThanOrEqual(highMax);
          }
        }
      }
    });
  },
);
