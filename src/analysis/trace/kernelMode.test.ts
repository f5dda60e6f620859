/** Machine mode with Linux's fault handling: the trace as a process of the kernel model, under a memory limit. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { checkInvariants, RECLAIM_POLICIES } from "../../kernel/Kernel.ts";
import { readTrace } from "../../workloads/trace/formats.ts";
import { openTrace } from "../../workloads/trace/input.ts";
import { foldRuns, RUN_TOTALS } from "../../workloads/trace/runs.ts";
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
  }, 30_000);

  it("runs under every reclaim policy of the kernel with its invariants intact", async () => {
    const w = await slice(400_000);
    for (const policy of RECLAIM_POLICIES) {
      const k = run(w, 24, policy);
      const r = k.result();
      expect(r.simulated, policy).toBe(400_000);
      expect(r.rssPages, policy).toBeLessThanOrEqual(24);
      expect(checkInvariants(k.kernel), policy).toEqual([]);
    }
  }, 30_000);
});

/** Random records with locality over two 1 GiB regions (code low, data and stack high), record.ts's layout. */
function randomRecords(seed: number, n: number): Uint32Array {
  const rng = new Rng(seed);
  const w = new Uint32Array(2 * n);
  let page = 0;
  for (let i = 0; i < n; i++) {
    if (rng.below(8) === 0)
      page = rng.below(96); // a jump; else stay on the page or step
    else if (rng.below(4) === 0) page = (page + 1) % 96;
    const kind = rng.below(4);
    // fetches in the code region (1 GiB up), data in the stack region (2^46 up)
    const base = kind === 0 ? 2 ** 30 : 2 ** 46;
    const rec = (base + page * 4096 + rng.below(4096)) * 4 + kind;
    w[2 * i] = rec % 2 ** 32;
    w[2 * i + 1] = Math.floor(rec / 2 ** 32);
  }
  return w;
}

describe("machine mode, --pager linux: the hit path's memo", () => {
  it("gives the figures of the lookup of every access, record by record and as runs, under reclaim and with several TLB shapes", () => {
    for (const [seed, tlb, policy, frames] of [
      [1, "vmref", "linux", 24],
      [2, "64x4,1536x12", "clock", 40],
      [3, "16x4", "lru", 20],
      [4, "vmref", "mglru", 200], // no reclaim
    ] as const) {
      const w = randomRecords(seed, 30_000);
      const [fast, slow] = [false, true].map((noMemo) => {
        const k = new KernelMode({ frames, tlb, policy, noMemo });
        for (let at = 0; at < 30_000; at += 5_000) {
          const n = Math.min(5_000, 30_000 - at);
          k.feed(w.subarray(2 * at, 2 * (at + n)), n);
        }
        return k;
      });
      // the reading thread's runs (workloads/trace/runs.ts) through feedRuns
      const runs = new KernelMode({ frames, tlb, policy });
      expect(runs.takesRuns).toBe(true);
      for (let at = 0; at < 30_000; at += 5_000) {
        const n = Math.min(5_000, 30_000 - at);
        const out = new Uint32Array(2 * n);
        const totals = new Float64Array(RUN_TOTALS);
        const m = foldRuns(w.subarray(2 * at, 2 * (at + n)), n, out, totals);
        expect(m).toBeLessThan(n);
        runs.feedRuns(out, m, totals);
      }
      const a = fast.result();
      if (frames < 96) expect(a.evictions, `${seed}`).toBeGreaterThan(0);
      for (const other of [slow, runs]) {
        expect(a, `${seed}`).toEqual(other.result());
        expect(fast.kernel.view.vmstat()).toEqual(other.kernel.view.vmstat());
        expect(fast.kernel.machine.cpus[0].translations).toBe(other.kernel.machine.cpus[0].translations);
        expect(fast.kernel.machine.cpus[0].walks).toBe(other.kernel.machine.cpus[0].walks);
      }
    }
  });
});
