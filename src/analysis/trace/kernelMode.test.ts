/** Machine mode with Linux's fault handling: the trace as a process of the kernel model, under a memory limit. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { checkInvariants, RECLAIM_POLICIES } from "../../kernel/Kernel.ts";
import { readTrace } from "../../workloads/trace/formats.ts";
import { openTrace } from "../../workloads/trace/input.ts";
import { KernelMode } from "./kernelMode.ts";

const TRACE = resolve(import.meta.dirname, "../../../../shared/traces/gzip-10M.u64.zst");

async function slice(n: number): Promise<Uint32Array> {
  const out = new Uint32Array(2 * n);
  let at = 0;
  await readTrace(openTrace(TRACE), "bin", (w, count) => {
    const take = Math.min(count, n - at);
    if (take > 0) out.set(w.subarray(0, 2 * take), 2 * at);
    at += Math.max(0, take);
  });
  return out;
}

function run(w: Uint32Array, frames: number, policy = "linux") {
  const k = new KernelMode({ frames, tlb: "vmref", policy });
  for (let at = 0; at < w.length / 2; at += 65536) {
    const n = Math.min(65536, w.length / 2 - at);
    k.feed(w.subarray(2 * at, 2 * (at + n)), n);
  }
  return k;
}

describe.skipIf(!existsSync(TRACE))("machine mode, --pager linux", () => {
  it("keeps user memory within the limit by reclaiming to swap; swapped pages come back as major faults", async () => {
    const w = await slice(2_000_000);
    const tight = run(w, 32);
    const r = tight.result();
    expect(r.rssPages).toBeLessThanOrEqual(32);
    expect(r.memcgReclaims).toBeGreaterThan(0);
    expect(r.swapOuts).toBeGreaterThan(0);
    expect(r.majorFaults).toBeGreaterThan(0);
    expect(r.faults).toBe(r.minorFaults + r.majorFaults);
    expect(r.regions).toBe(2); // the program's code and its stack, as valgrind lays them out
    expect(checkInvariants(tight.kernel)).toEqual([]);
    // with room for everything: no reclaim, no major fault
    const roomy = run(w, 4096).result();
    expect([roomy.evictions, roomy.majorFaults, roomy.memcgReclaims]).toEqual([0, 0, 0]);
    expect(roomy.faults).toBeLessThanOrEqual(r.faults);
  }, 60_000);

  it("runs under every reclaim policy of the kernel with its invariants intact", async () => {
    const w = await slice(400_000);
    for (const policy of RECLAIM_POLICIES) {
      const k = run(w, 24, policy);
      const r = k.result();
      expect(r.simulated, policy).toBe(400_000);
      expect(r.rssPages, policy).toBeLessThanOrEqual(24);
      expect(checkInvariants(k.kernel), policy).toEqual([]);
    }
  }, 60_000);
});
