/**
 * What the differential tests share: a C probe built with this machine's
 * gcc, or the reason the test is skipped (not Linux, no gcc, no pagemap
 * where the probe reads it, a build that fails).
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The lock every probe run holds (one directory: mkdir is atomic), machine-wide. */
const HOST_LOCK = join(tmpdir(), "vmlab-differential.lock");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` holding the machine-wide probe lock. The probes read and change
 * state the whole host shares (mincore's drop_caches empties every page
 * cache, mTHP and HugeTLB probes write sysfs knobs, THP and mTHP counters are
 * machine-wide), and vitest runs test files side by side, as may other
 * checkouts' test runs: one probe at a time keeps each one's view its own.
 * A lock whose holder died is taken over; one held for 10 minutes is an error.
 */
export function underHostLock<T>(fn: () => T): T {
  const pidFile = join(HOST_LOCK, "pid");
  const deadline = Date.now() + 600_000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(HOST_LOCK);
      writeFileSync(pidFile, String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let stale = false;
    try {
      stale = !alive(Number(readFileSync(pidFile, "utf8")));
    } catch {
      // no pid yet: a holder between its mkdir and its write, or one that died there
      try {
        stale = Date.now() - statSync(HOST_LOCK).mtimeMs > 10_000;
      } catch {}
    }
    if (stale) rmSync(HOST_LOCK, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`${HOST_LOCK} has been held for 10 minutes`);
    else Atomics.wait(nap, 0, 0, 25);
  }
  try {
    return fn();
  } finally {
    rmSync(HOST_LOCK, { recursive: true, force: true });
  }
}

const KDAMONDS = "/sys/kernel/mm/damon/admin/kdamonds";

/**
 * Runs `fn` with the host's DAMON monitors stopped, and starts again those it
 * stopped. A host may run DAMON-based proactive reclaim (this development
 * machine's hypervisor does: a `paddr` scheme that pages out regions cold for
 * 12 aggregation intervals, a few MiB every 5 s), which takes page-cache
 * pages away in the middle of a probe that reads which pages are cached.
 * Starting a kdamond again begins its monitoring afresh (every region's age
 * 0), so it pages nothing out for a while after. Not root, or no DAMON: `fn`
 * runs as it is.
 */
export function withoutDamon<T>(fn: () => T): T {
  const stopped: string[] = [];
  try {
    for (const d of readdirSync(KDAMONDS)) {
      if (!/^\d+$/.test(d)) continue;
      const state = join(KDAMONDS, d, "state");
      if (readFileSync(state, "utf8").trim() !== "on") continue;
      writeFileSync(state, "off");
      stopped.push(state);
    }
  } catch {
    // no DAMON, or not allowed to stop it
  }
  try {
    return fn();
  } finally {
    for (const state of stopped)
      try {
        writeFileSync(state, "on");
      } catch {}
  }
}

/**
 * A probe's standard output (execFileSync's, so a failing probe throws), run
 * under the host lock; `pageCache`: the probe reads which file pages are
 * cached, so DAMON is stopped while it runs (withoutDamon).
 */
export function hostRun(path: string, args: string[] = [], pageCache = false): string {
  const run = () => execFileSync(path, args, { encoding: "utf8" });
  return underHostLock(() => (pageCache ? withoutDamon(run) : run()));
}

/** Builds test/differential/`source`; `pagemap`: the probe reads /proc/self/pagemap. */
export function buildProbe(source: string, pagemap = true): { path: string } | { skip: string } {
  if (process.platform !== "linux") return { skip: "not Linux" };
  if (spawnSync("gcc", ["--version"]).status !== 0) return { skip: "gcc is not installed" };
  if (pagemap && !existsSync("/proc/self/pagemap")) return { skip: "no /proc/self/pagemap" };
  const out = join(mkdtempSync(join(tmpdir(), "vmlab-probe-")), source.replace(/\.c$/, ""));
  const r = spawnSync("gcc", ["-O1", "-Wall", "-o", out, resolve(import.meta.dirname, source)], {
    encoding: "utf8",
  });
  return r.status === 0 ? { path: out } : { skip: `gcc failed: ${r.stderr}` };
}

/**
 * The probe's JSON records by `exp`, from `runs` runs, each experiment's from
 * the run where `noise` is least (the first run on a tie): the host's noise
 * (another process's faults or THP work) only adds to what the probe counts.
 * `args` gives each run's arguments.
 */
export function leastNoise(
  path: string,
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
  noise: (o: any) => number,
  runs = 3,
  args: () => string[] = () => [],
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
): Map<string, any> {
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
  const best = new Map<string, any>();
  for (let i = 0; i < runs; i++)
    for (const line of hostRun(path, args()).trim().split("\n")) {
      const o = JSON.parse(line);
      const had = best.get(o.exp);
      if (had === undefined || noise(o) < noise(had)) best.set(o.exp, o);
    }
  return best;
}

/** leastNoise by the fewest faults (`minor` + `major`). */
// biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
export function fewestFaults(path: string, runs = 2): Map<string, any> {
  return leastNoise(path, (o) => (o.minor ?? 0) + (o.major ?? 0), runs);
}

/** The errnos the probes name (probe.h probe_errname), by vmlab's -errno. */
const ERRNO_NAMES: Record<string, string> = {
  "-1": "EPERM",
  "-11": "EAGAIN",
  "-12": "ENOMEM",
  "-22": "EINVAL",
  "-14": "EFAULT",
  "-13": "EACCES",
  "-17": "EEXIST",
  "-16": "EBUSY",
  "-95": "EOPNOTSUPP",
};

/** A ret of vmlab's as the probes print one: "0", or the errno's name ("E<n>" for one not named). */
export function errnoName(v: bigint | number): string {
  return v >= 0 ? "0" : (ERRNO_NAMES[String(v)] ?? `E${-v}`);
}
