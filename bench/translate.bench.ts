/**
 * Translation throughput of the hardware model (issue #2), next to the C
 * reference simulator (../shared/bench/vmref.c) on the same input, as ratios.
 *
 *   hit path:  the gzip-10M trace (99.9% L1 TLB hits) through Cpu.translate
 *   miss path: a synthetic trace of random pages over a 256 MiB footprint
 *              (about 98% of accesses miss both TLB levels and walk 4 levels)
 *
 * vmlab runs the real MMU (rights checks, A/D bits, PCID tags, stats) with
 * the `vmref` TLB geometry (64x4 + 1536x12); pages are mapped before timing.
 * vmref also handles its first-touch faults inside its timing (1 per page).
 * Run: npm run bench   (needs zstd, gcc and libzstd-dev for the C side)
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Rng } from "../src/base/rng.ts";
import { toPfn, vpnUnchecked } from "../src/base/units.ts";
import { Access } from "../src/hw/access.ts";
import { Outcome } from "../src/hw/arch/x86_64/fault.ts";
import { bareMachine } from "../src/hw/arch/x86_64/testkit.ts";
import { BUILD, buildVmref, ensureDir, fmtRate, loadTrace, runVmref, SHARED } from "./common.ts";

interface Result {
  records: number;
  seconds: number;
  walks: number;
  l1Hits: number;
  physSum: number;
}

/** Maps every page the trace touches, then replays it through cpu.translate, timed. */
function replay(buf: Buffer, ramBytes: number, repeat: number): Result {
  const { cpu, mapper, root, frames } = bareMachine({ ramBytes, tlb: "vmref" });
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const n = words.length / 2;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    const vpn = hi * 262144 + (lo >>> 14);
    if (!seen.has(vpn)) {
      seen.add(vpn);
      const r = mapper.map(root, vpnUnchecked(vpn), toPfn(frames.allocFrame()), 0, {
        writable: true,
        user: true,
      });
      if (!r.ok) throw new Error(`map failed: ${r.error}`);
    }
  }
  cpu.cpl = 3;
  let physSum = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < repeat; rep++) {
    physSum = 0;
    cpu.tlb.resetStats();
    cpu.walks = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const lo = words[2 * i];
      const hi = words[2 * i + 1];
      // record = vaddr << 2 | kind: vaddr = (hi:lo) >> 2
      const vaLo = ((lo >>> 2) | (hi << 30)) >>> 0;
      const vaHi = hi >>> 2;
      const out = cpu.translate(vaHi, vaLo, (lo & 3) >= 2 ? Access.Write : Access.Read);
      if (out !== Outcome.OK) throw new Error(`fault at record ${i}`);
      physSum += cpu.pa;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.min(best, s);
  }
  return { records: n, seconds: best, walks: cpu.walks, l1Hits: cpu.tlb.hits[0], physSum };
}

function missTrace(path: string, pages: number, accesses: number): void {
  const rng = new Rng(42);
  const total = pages + accesses;
  const out = new Uint32Array(total * 2);
  const base = 0x10000000; // vpn of 1 TiB: an ordinary user address
  for (let i = 0; i < total; i++) {
    const vpn = i < pages ? base + i : base + rng.below(pages);
    const vaddr = vpn * 4096 + (rng.below(512) << 3);
    const rec = vaddr * 4 + 1; // a load
    out[2 * i] = rec % 4294967296;
    out[2 * i + 1] = Math.floor(rec / 4294967296);
  }
  ensureDir(path);
  writeFileSync(path, out);
}

function main(): void {
  const vmref = buildVmref();
  if ("error" in vmref) console.log(`C reference unavailable: ${vmref.error}`);
  console.log(`node ${process.version}; vmlab MMU vs vmref (${"path" in vmref ? "built" : "missing"})\n`);
  const cases = [
    {
      name: "hit path (gzip-10M)",
      file: resolve(SHARED, "traces", "gzip-10M.u64.zst"),
      frames: 4096,
      ram: 64 << 20,
    },
    {
      name: "miss path (random, 65536 pages)",
      file: resolve(BUILD, "miss-4M.u64"),
      frames: 65536,
      ram: 512 << 20,
    },
  ];
  missTrace(cases[1].file, 65536, 4_000_000);
  for (const c of cases) {
    const buf = loadTrace(c.file);
    const ours = replay(buf, c.ram, 3);
    const ourRate = ours.records / ours.seconds;
    console.log(`${c.name}: ${ours.records} records`);
    console.log(
      `  vmlab  ${fmtRate(ourRate).padStart(10)}  walks ${ours.walks}  L1 hits ${ours.l1Hits}  (last of 3 runs: TLB warm from the previous run)`,
    );
    if ("path" in vmref) {
      let bestC = Number.POSITIVE_INFINITY;
      let cOut: Record<string, number | string> = {};
      for (let rep = 0; rep < 3; rep++) {
        cOut = runVmref(vmref.path, ["--frames", String(c.frames), c.file]);
        bestC = Math.min(bestC, Number(cOut.seconds));
      }
      const cRate = Number(cOut.records) / bestC;
      console.log(`  vmref  ${fmtRate(cRate).padStart(10)}  walks ${cOut.walks}  L1 hits ${cOut.l1_hits}`);
      console.log(`  ratio vmlab/vmref = ${(ourRate / cRate).toFixed(2)}`);
    }
    console.log();
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main();
