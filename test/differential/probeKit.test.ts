/**
 * The probes' machine-wide lock (probeKit.ts underHostLock): a second holder
 * waits for the first, the lock is let go after the run and after a throw,
 * and a lock left by a process that died is taken over.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { underHostLock } from "./probeKit.ts";

const LOCK = join(tmpdir(), "vmlab-differential.lock");

describe("underHostLock", () => {
  it("lets go after the run and after a throw", () => {
    expect(underHostLock(() => existsSync(join(LOCK, "pid")))).toBe(true);
    expect(() =>
      underHostLock(() => {
        throw new Error("probe failed");
      }),
    ).toThrow("probe failed");
    // taken again at once: nothing was left behind
    const t0 = Date.now();
    expect(underHostLock(() => readFileSync(join(LOCK, "pid"), "utf8"))).toBe(String(process.pid));
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it("takes over a lock whose holder died", () => {
    // a pid that is not running: a process that has exited
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid as number;
    underHostLock(() => {}); // wait out anyone holding it now
    mkdirSync(LOCK);
    writeFileSync(join(LOCK, "pid"), String(dead));
    expect(underHostLock(() => readFileSync(join(LOCK, "pid"), "utf8"))).toBe(String(process.pid));
  });

  it("waits while another process holds it", async () => {
    // the child takes the lock, says so, holds it 700 ms
    const child = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs");
         for (;;) { try { fs.mkdirSync(${JSON.stringify(LOCK)}); break; } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); } }
         fs.writeFileSync(${JSON.stringify(join(LOCK, "pid"))}, String(process.pid));
         console.log("held");
         setTimeout(() => fs.rmSync(${JSON.stringify(LOCK)}, { recursive: true, force: true }), 700);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((res) => child.stdout.once("data", () => res()));
    const t0 = Date.now();
    underHostLock(() => {});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    await new Promise((res) => child.once("exit", res));
  });
});
