/** `vmlab sweep`: every configuration on worker threads, or through a BullMQ queue served by `vmlab worker` processes. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { vmlab } from "./testkit.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "vmlab-sweep-"));
const belady = join(dir, "belady.refs");
writeFileSync(belady, "1,2,3,4,1,2,5,1,2,3,4,5\n");

interface Row {
  job: { mode: string; policy: string; frames: number };
  summary: { faults: number; accesses: number } | null;
  error: string | null;
}
const faultsOf = (rows: Row[]) =>
  Object.fromEntries(
    rows.map((r) => [`${r.job.mode} ${r.job.policy} ${r.job.frames}`, r.summary?.faults ?? r.error]),
  );

describe("vmlab sweep", () => {
  it("runs every combination on worker threads, each as vmlab trace would", () => {
    const r = vmlab([
      "sweep",
      belady,
      "--mode",
      "policy,machine",
      "--policy",
      "fifo,lru",
      "--frames",
      "3,4",
      "--jobs",
      "2",
      "--json",
      "--chart",
      join(dir, "sweep.html"),
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    // the chart: one line per mode and policy, on a linear axis (3 and 4 frames are not two octaves apart)
    const html = readFileSync(join(dir, "sweep.html"), "utf8");
    expect(html).toContain(">Page faults per access against memory size</text>");
    const series = [
      ...html.matchAll(/<path aria-label="[^"]*series: ([^"]*)"[^>]*aria-roledescription="line mark"/g),
    ];
    expect(series.map((m) => m[1]).sort()).toEqual(["fifo", "fifo (machine)", "lru", "lru (machine)"]);
    expect(doc.results).toHaveLength(8);
    const f = faultsOf(doc.results);
    expect([f["policy fifo 3"], f["policy fifo 4"]]).toEqual([9, 10]); // Belady's anomaly
    expect([f["machine fifo 3"], f["machine fifo 4"]]).toEqual([9, 10]); // the pager's FIFO agrees
    const single = JSON.parse(
      vmlab(["trace", belady, "--mode", "policy", "--policy", "lru", "--frames", "3", "--json"]).stdout,
    );
    expect(f["policy lru 3"]).toBe(single.faults);
  }, 60_000);

  it("refuses bad lists, stdin and a queue that is not a redis:// URL", () => {
    for (const args of [
      ["--frames", "3,x"],
      ["--mode", "both"],
      ["--queue", "http://localhost"],
      ["--jobs", "0"],
      ["--chart", join(dir, "c.gif")],
    ]) {
      const r = vmlab(["sweep", belady, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^vmlab: /);
    }
    expect(vmlab(["sweep", "-"], "1,2").code).toBe(2);
  });
});

const haveRedis = spawnSync("redis-server", ["--version"]).status === 0;

function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

describe.skipIf(!haveRedis)("vmlab sweep through a job queue", () => {
  it("gives the local sweep's results, computed by vmlab worker processes", async () => {
    const port = await freePort();
    const redis = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    try {
      // wait until it answers
      for (
        let i = 0;
        i < 50 &&
        spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout?.trim() !== "PONG";
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
      const url = `redis://127.0.0.1:${port}`;
      const logs: string[] = ["", ""];
      const workers = [0, 1].map((i) => {
        const w = spawn(
          process.execPath,
          [join(ROOT, "bin/vmlab.mjs"), "worker", "--queue", url, "--threads", "1", "--exit-when-idle", "3"],
          { cwd: ROOT },
        );
        w.stderr.on("data", (d) => {
          logs[i] += d;
        });
        return new Promise<number>((res) => w.on("close", (code) => res(code ?? -1)));
      });
      const args = [
        "sweep",
        belady,
        "--mode",
        "policy,machine",
        "--policy",
        "fifo,clock",
        "--frames",
        "2,3,4",
        "--json",
      ];
      const queued = await new Promise<{ code: number; out: string }>((res) => {
        const p = spawn(process.execPath, [join(ROOT, "bin/vmlab.mjs"), ...args, "--queue", url], {
          cwd: ROOT,
        });
        let out = "";
        p.stdout.on("data", (d) => {
          out += d;
        });
        p.on("close", (code) => res({ code: code ?? -1, out }));
      });
      expect(queued.code).toBe(0);
      const local = JSON.parse(vmlab(args).stdout);
      const q = JSON.parse(queued.out);
      expect(q.workers).toBe("queue");
      expect(faultsOf(q.results)).toEqual(faultsOf(local.results));
      expect(await Promise.all(workers)).toEqual([0, 0]);
      const done = logs.map((l) => (l.match(/^done: /gm) ?? []).length);
      expect(done[0] + done[1]).toBe(12);
      // each worker runs the jobs it holds as passes, each decoding the trace once: fewer passes than jobs
      const passes = logs.flatMap((l) =>
        [...l.matchAll(/^pass: (\d+) jobs? of /gm)].map((m) => Number(m[1])),
      );
      expect(passes.reduce((a, b) => a + b, 0)).toBe(12);
      expect(passes.length).toBeLessThan(12);
    } finally {
      redis.kill();
    }
  }, 120_000);
});

/** A redis-server on a free loopback port, answering; `stop` ends it. */
async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const redis = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  for (
    let i = 0;
    i < 50 &&
    spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout?.trim() !== "PONG";
    i++
  )
    await new Promise((r) => setTimeout(r, 100));
  return { url: `redis://127.0.0.1:${port}`, stop: () => redis.kill() };
}

/** `vmlab ARGS` as a child process: its exit, output, and a log of its stderr as it comes. */
function child(args: string[]) {
  const p = spawn(process.execPath, [join(ROOT, "bin/vmlab.mjs"), ...args], { cwd: ROOT });
  const r = { out: "", err: "", code: null as number | null, p, closed: null as unknown as Promise<number> };
  p.stdout.on("data", (d) => {
    r.out += d;
  });
  p.stderr.on("data", (d) => {
    r.err += d;
  });
  r.closed = new Promise<number>((res) =>
    p.on("close", (code) => {
      r.code = code ?? -1;
      res(r.code);
    }),
  );
  return r;
}

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; ) {
    if (what()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return what();
}

describe.skipIf(!haveRedis)("vmlab sweep and worker: a queue's faults (issue #19, defects 10 and 13)", () => {
  it("refuse a database Redis refuses, at once; a sweep of many jobs warns of no listener leak", async () => {
    const redis = await startRedis();
    try {
      for (const cmd of [
        ["sweep", belady, "--policy", "lru", "--frames", "3"],
        ["worker", "--threads", "1"],
      ]) {
        const c = child([...cmd, "--queue", `${redis.url}/99999`]);
        const finished = await until(() => c.code !== null, 15_000);
        c.p.kill("SIGKILL");
        expect(finished, cmd[0]).toBe(true);
        expect(c.code, cmd[0]).toBe(2);
        expect(c.err, cmd[0]).toMatch(
          /^vmlab: --queue: Redis at .* refuses database 99999: ERR DB index is out of range\n$/,
        );
      }
      const w = child(["worker", "--queue", redis.url, "--threads", "1", "--exit-when-idle", "2"]);
      const args = [
        "sweep",
        belady,
        "--mode",
        "policy",
        "--policy",
        "fifo,lru,clock,opt",
        "--frames",
        "1,2,3,4",
      ];
      const s = child([...args, "--queue", redis.url, "--json"]);
      expect(await s.closed).toBe(0);
      expect(s.err).not.toMatch(/MaxListenersExceededWarning/);
      expect(JSON.parse(s.out).results).toHaveLength(16);
      expect(await w.closed).toBe(0);
    } finally {
      redis.stop();
    }
  }, 90_000);

  it("takes a killed worker's job to another within seconds, says so, and keeps every result once", async () => {
    const redis = await startRedis();
    const slow = join(dir, "slow.u64");
    expect(
      vmlab(["gen", "random", "--pages", "100000", "--refs", "300000", "--seed", "3", "--out", slow]).code,
    ).toBe(0);
    const args = [
      "sweep",
      slow,
      "--mode",
      "policy",
      "--policy",
      "lirs,fifo",
      "--frames",
      "5000,6000",
      "--json",
    ];
    try {
      const a = child(["worker", "--queue", redis.url, "--threads", "1"]);
      const s = child([...args, "--queue", redis.url]);
      // worker A starts a job: it dies mid-job, holding the job's lock
      expect(await until(() => /^start: /m.test(a.err), 30_000)).toBe(true);
      a.p.kill("SIGKILL");
      const killed = Date.now();
      const b = child(["worker", "--queue", redis.url, "--threads", "1", "--exit-when-idle", "3"]);
      const ended = await until(() => s.code !== null, 90_000);
      expect(ended, `sweep: ${s.err}\nworker A: ${a.err}\nworker B: ${b.err}`).toBe(true);
      expect(s.code).toBe(0);
      const recovered = (Date.now() - killed) / 1000;
      // BullMQ's defaults took 57-87 s before another worker saw the job (the jobs themselves take seconds)
      expect(recovered).toBeLessThan(35);
      expect(s.err).toMatch(/job \d+ \(policy lirs \d+ frames\) lost its worker: it runs again/);
      const q = JSON.parse(s.out);
      const local = JSON.parse(vmlab(args).stdout);
      expect(q.results).toHaveLength(4);
      expect(faultsOf(q.results)).toEqual(faultsOf(local.results));
      expect(q.results.map((r: Row) => r.error)).toEqual([null, null, null, null]);
      expect(await b.closed).toBe(0);
    } finally {
      redis.stop();
    }
  }, 150_000);
});
