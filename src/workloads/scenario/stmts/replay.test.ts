import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../../../cli/testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `vmlab run FILE [args]` on a scenario written to `name` in `where`, under an address-space limit. */
function run(where: string, name: string, source: string, args: string[] = []) {
  mkdirSync(where, { recursive: true });
  const file = join(where, name);
  writeFileSync(file, source);
  const quoted = [file, ...args].map((a) => `'${a}'`).join(" ");
  // Node's own reservations (about 23 GB of address space, WebAssembly's included) plus 3 GB
  const r = spawnSync(
    "bash",
    ["-c", `ulimit -v 26000000; exec "${process.execPath}" bin/vmlab.mjs run ${quoted}`],
    { cwd: ROOT, encoding: "utf8", timeout: 40_000 },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** `copies` copies of one compressed frame of 64 MiB of loads of 0x10000000 (concatenated frames are one stream). */
function bomb(codec: "zstd" | "gzip", copies: number): Buffer {
  const w = new Uint32Array(2 * (8 << 20));
  for (let i = 0; i < w.length; i += 2) w[i] = (0x10000000 * 4 + 1) >>> 0; // (vaddr << 2) | load
  const raw = Buffer.from(w.buffer);
  const frame =
    codec === "gzip"
      ? gzipSync(raw)
      : (createRequire(import.meta.url)("zstd-napi") as { compress(b: Buffer): Buffer }).compress(raw);
  return Buffer.concat(Array.from({ length: copies }, () => frame));
}

const HEAD = "machine ram=64M\nspawn A\nA: m = mmap 64K at=0x10000000 fixed\n";

describe("replay streams its trace (issue #19, defect 6)", () => {
  it("stops at limit= in a 20 GiB zstd bomb, in bounded memory, at once", () => {
    const d = join(dir, "zbomb");
    mkdirSync(d);
    writeFileSync(join(d, "bomb.u64.zst"), bomb("zstd", 320));
    const r = run(d, "t.vm", `${HEAD}A: n = replay "bomb.u64.zst" limit=5\nexpect n == 5\n`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/1 expectations: 1 passed/);
    expect(r.code).toBe(0);
  }, 60_000);

  it("stops at limit= in a gzip bomb, and at the default limit without one", () => {
    const d = join(dir, "gbomb");
    mkdirSync(d);
    writeFileSync(join(d, "bomb.u64.gz"), bomb("gzip", 40)); // 2.5 GiB
    const r = run(
      d,
      "t.vm",
      `${HEAD}A: n = replay "bomb.u64.gz" limit=5\nexpect n == 5\nA: k = replay "bomb.u64.gz"\nexpect k == 1000000\n`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/2 expectations: 2 passed/);
  }, 60_000);

  it("refuses a device, a pipe and a directory: only regular files", () => {
    const d = join(dir, "dev");
    mkdirSync(d);
    execFileSync("mkfifo", [join(d, "fifo")]);
    symlinkSync("/dev/zero", join(d, "zero"));
    mkdirSync(join(d, "sub"));
    for (const [name, want] of [
      ["fifo", /t\.vm:4:15: .*fifo: not a regular file \(a pipe\): a replay reads files only/],
      ["zero", /t\.vm:4:15: .*zero: not a regular file \(a device\): a replay reads files only/],
      ["sub", /t\.vm:4:15: .*sub: is a directory, not a trace/],
    ] as const) {
      const r = run(d, "t.vm", `${HEAD}A: n = replay "${name}"\n`, ["--allow-read", "/dev"]);
      expect(r.stderr, name).toMatch(want);
      expect(r.code, name).toBe(2);
      expect(r.stdout, name).toBe("");
    }
  }, 60_000);
});

describe("replay reads only inside the scenario's directory (issue #19, defect 9)", () => {
  it("refuses a path outside it, through .. or a symbolic link, without echoing what is there", () => {
    const d = join(dir, "jail");
    mkdirSync(d);
    symlinkSync("/etc/passwd", join(d, "link"));
    for (const path of ["/etc/passwd", "../../../../../../etc/passwd", "link", "/proc/self/environ"]) {
      const r = run(d, "t.vm", `${HEAD}A: n = replay "${path}"\n`);
      expect(r.stderr, path).toMatch(
        /^.*t\.vm:4:15: .* is outside the directories a scenario may read \(its own: .*jail\); vmlab run --allow-read DIR adds one\n/,
      );
      expect(r.stderr, path).not.toMatch(/root:/);
      expect(r.code, path).toBe(2);
    }
  }, 60_000);

  it("reads a directory named with --allow-read, and quotes a bad token short and escaped", () => {
    const d = join(dir, "scen");
    const other = join(dir, "elsewhere");
    mkdirSync(other);
    writeFileSync(join(other, "ok.txt"), "0x10000000 R\n0x10000040 W\n");
    writeFileSync(join(other, "bad.txt"), `0x10000000 R\n\x1b[31m${"A".repeat(200)}\n`);
    const ok = run(d, "t.vm", `${HEAD}A: n = replay "${join(other, "ok.txt")}"\nexpect n == 2\n`, [
      "--allow-read",
      other,
    ]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(/1 expectations: 1 passed/);
    const bad = run(d, "t.vm", `${HEAD}A: n = replay "${join(other, "bad.txt")}" format=text\n`, [
      "--allow-read",
      other,
    ]);
    expect(bad.code).toBe(2);
    const msg = bad.stderr.split("\n")[0];
    expect(msg).toMatch(/bad\.txt:2:1: '\\u001b\[31mA+…' is not an address/);
    expect(msg).not.toContain("\x1b");
    expect(msg).not.toMatch(/A{41}/);
  }, 60_000);
});
