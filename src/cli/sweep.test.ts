/** `vmlab sweep`: every configuration on worker threads, or through a BullMQ queue served by `vmlab worker` processes. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
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
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
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
    } finally {
      redis.kill();
    }
  }, 120_000);
});
