/**
 * What the data-cache model (issue #18, `cache=`) costs, and that
 * `cache=none` costs nothing: the same workloads timed on this tree and on
 * a base tree without the cache (another checkout's `src/`), as ratios.
 *
 *   load8/store8   4M byte accesses through the memory-access path
 *                  (Mmu.load8/store8, TLB hits) of a bare x86-64 machine
 *   write-heavy    a scenario: 16 MiB written and read page by page and
 *                  byte by byte through the kernel (faults, uaccess-free
 *                  user accesses), fork with COW, munmap
 *
 * Run: node --import tsx bench/cache.bench.ts [BASE_ROOT]
 *   BASE_ROOT: a checkout of the commit before the cache (e.g. made with
 *   `git archive 06f5d42 src | tar -x -C /tmp/vmlab-base`); without it only
 *   this tree is timed. Each figure is the best of 5 processes (each the
 *   best of 3 runs after a warm-up); the two trees' processes alternate.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

type Testkit = typeof import("../src/hw/arch/x86_64/testkit.ts");
type Session = typeof import("../src/workloads/scenario/session.ts");
type Units = typeof import("../src/base/units.ts");
type Caches = typeof import("../src/hw/cache/CacheSystem.ts");

const ROUNDS = 5;
const here = resolve(import.meta.dirname, "..");
const base = process.argv[2] && process.argv[2] !== "--child" ? resolve(process.argv[2]) : null;

async function load<T>(root: string, rel: string): Promise<T> {
  return (await import(pathToFileURL(resolve(root, rel)).href)) as T;
}

function time(fn: () => void): number {
  const s = performance.now();
  fn();
  return performance.now() - s;
}

/** 4M byte accesses over 64 pages, alternating store and load. */
async function accessPath(root: string, cache: string | null): Promise<() => void> {
  const tk = await load<Testkit>(root, "src/hw/arch/x86_64/testkit.ts");
  const u = await load<Units>(root, "src/base/units.ts");
  const { m, cpu, mapper, root: pgd } = tk.bareMachine();
  for (let p = 0; p < 64; p++)
    mapper.map(pgd, u.toVpn(0x400 + p), u.toPfn(0x2000 + p), 0, { writable: true, user: true });
  if (cache !== null) {
    const c = await load<Caches>(root, "src/hw/cache/CacheSystem.ts");
    const [kind, ways] = cache.split(":");
    c.CacheSystem.install(
      { kind: kind as "vivt", sizeBytes: 32 << 10, ways: Number(ways), lineBytes: 64, asidTagged: false },
      m.phys,
      m.cpus,
    );
  }
  cpu.cpl = 3;
  let sum = 0;
  return () => {
    for (let i = 0; i < 2_000_000; i++) {
      const lo = 0x400000 + ((i * 4161) & 0x3ffff);
      cpu.store8(0, lo, i & 0xff);
      cpu.load8(0, lo);
      sum += cpu.data;
    }
    if (sum < 0) throw new Error("unreachable");
  };
}

const SCENARIO = (keys: string) => `machine ram=128M ${keys}
spawn A
A: a = mmap 16M
A: write a 16M
A: read a 16M stride=64
A: fork B
B: write a 4M
A: read a 16M stride=512
A: munmap a 16M
`;

async function scenario(root: string, keys: string): Promise<() => void> {
  const s = await load<Session>(root, "src/workloads/scenario/session.ts");
  return () => {
    const r = s.runScenario(SCENARIO(keys));
    if (r.exitCode !== 0) throw new Error(`scenario failed: ${r.exitCode}`);
  };
}

/** A workload by name, on the tree at `root`. */
function workload(root: string, name: string): Promise<() => void> {
  if (name === "access") return accessPath(root, null);
  if (name.startsWith("access:")) return accessPath(root, name.slice(7));
  return scenario(root, name === "scenario" ? "" : name.slice(9));
}

/**
 * The best time of a workload in a fresh process per run (child mode: one
 * tree, one workload, best of 3 inside), the two trees' processes
 * alternating: in one process the second tree's code is measurably
 * slower (JIT state), and a busy machine slows both alike.
 */
function childTime(root: string, name: string): number {
  const r = spawnSync(process.execPath, ["--import", "tsx", import.meta.filename, "--child", root, name], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

async function pair(name: string, withBase = true): Promise<[number, number | null]> {
  let t = Number.POSITIVE_INFINITY;
  let b = Number.POSITIVE_INFINITY;
  for (let i = 0; i < ROUNDS; i++) {
    t = Math.min(t, childTime(here, name));
    if (base !== null && withBase) b = Math.min(b, childTime(base, name));
  }
  return [t, base === null || !withBase ? null : b];
}

if (process.argv[2] === "--child") {
  const fn = await workload(process.argv[3], process.argv[4]);
  fn(); // warm up
  console.log(Math.min(time(fn), time(fn), time(fn)).toFixed(2));
  process.exit(0);
}

const rows: [string, number, number | null][] = [
  ["load8/store8, no cache", ...(await pair("access"))],
  ["scenario, cache=none", ...(await pair("scenario"))],
];
const ref = rows[0][1];
const refScenario = rows[1][1];
const extra: [string, number, number][] = [
  ["load8/store8, pipt 32K 4-way", (await pair("access:pipt:4", false))[0], ref],
  ["load8/store8, vipt 32K 8-way", (await pair("access:vipt:8", false))[0], ref],
  ["load8/store8, vivt 32K 4-way", (await pair("access:vivt:4", false))[0], ref],
  ["scenario, cache=pipt", (await pair("scenario:cache=pipt", false))[0], refScenario],
  ["scenario, cache=vivt", (await pair("scenario:cache=vivt", false))[0], refScenario],
];

console.log(`Node ${process.version}; best of ${ROUNDS} processes; ms`);
console.log("workload                          this tree   base tree   this / base");
for (const [name, t, b] of rows)
  console.log(
    `${name.padEnd(32)}  ${t.toFixed(1).padStart(9)}   ${b === null ? "        -" : b.toFixed(1).padStart(9)}   ${b === null ? "-" : (t / b).toFixed(3)}`,
  );
console.log("\nwith a cache (against this tree without one)");
for (const [name, t, r] of extra)
  console.log(`${name.padEnd(32)}  ${t.toFixed(1).padStart(9)}   x${(t / r).toFixed(2)}`);
