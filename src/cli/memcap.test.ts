/**
 * Every CLI command on its largest accepted inputs, under a memory cap
 * (issue #19): `ulimit -v` as the hard stop (26 GB of address space: Node's
 * WebAssembly reservations alone take about 20 GB of it, so a tighter
 * virtual limit stops Node itself, not vmlab), and the peak resident memory,
 * reported by scripts/fuzz-preload.mjs, against a budget. gen, policy
 * (--frames 67108864), trace --policy opt and `replay` have their own cap
 * tests beside their code.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT } from "./testkit.ts";

const PRELOAD = pathToFileURL(join(ROOT, "scripts", "fuzz-preload.mjs")).href;
const dir = mkdtempSync(join(tmpdir(), "vmlab-memcap-"));

/** Runs vmlab under the cap; returns the exit status, the output and the peak resident memory in MB. */
function capped(
  args: string,
  stdin?: string,
  vmKb = 26_000_000,
): { code: number | null; stdout: string; stderr: string; peakMb: number } {
  const r = spawnSync(
    "bash",
    [
      "-c",
      `${vmKb > 0 ? `ulimit -v ${vmKb}; ` : ""}exec "${process.execPath}" --import ${PRELOAD} bin/vmlab.mjs ${args}`,
    ],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000, input: stdin, maxBuffer: 64 << 20 },
  );
  let peakKb = 0;
  const stderr = r.stderr.replace(/\n@@fuzz-maxrss-kb (\d+)\n/g, (_, kb: string) => {
    peakKb = Number(kb);
    return "";
  });
  return { code: r.status, stdout: r.stdout, stderr, peakMb: peakKb / 1024 };
}

describe("every command within a memory cap on its largest accepted inputs", () => {
  it("run: the largest machine, and a statement that writes past --max-host-memory stops at its line", () => {
    const boot = join(dir, "boot.vm");
    writeFileSync(
      boot,
      "machine ram=64G swap=64G cpus=64\nspawn A\nA: m = mmap 16G\nA: read m 3900M\nexpect rss(A, m 16G) == 0\n",
    );
    const b = capped(`run ${boot}`);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.peakMb).toBeLessThan(1536);

    // one statement may make 1,000,000 touches: two bytes in each page of 1.9 GB of simulated RAM
    // (one byte a page would not do: a page of zeros but one word costs no frame of host memory)
    const big = join(dir, "big.vm");
    writeFileSync(big, "machine ram=64G\nspawn A\nA: m = mmap 1950M\nA: write m 1950M stride=2048\n");
    const r = capped(`run ${big} --max-host-memory 256M`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /big\.vm:4:1: the simulated RAM written so far fills the 256 MiB of host memory this run may use/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // the 256 MiB of frames, and what a 64 GiB machine costs whatever it holds: struct page for
    // 16 M frames (22 bytes each) and the LRU's per-frame arrays, about 0.6 GB
    expect(r.peakMb).toBeLessThan(1536);
  });

  it("repl: the same limit, and the session says why nothing more runs", () => {
    const r = capped(
      "repl --max-host-memory 64M",
      "machine ram=4G\nspawn A\nA: m = mmap 1G\nA: write m 1G stride=2048\nA: read m\n",
    );
    expect(r.stdout).toMatch(/<repl>:4:1: the simulated RAM written so far fills the 64 MiB/);
    expect(r.stdout).toMatch(/<repl>:5:\d+: the run stopped at line 4/);
    expect(r.peakMb).toBeLessThan(64 + 512);
    expect(capped("repl --max-host-memory 12X", "").stderr).toMatch(/--max-host-memory: '12X' is not a size/);
  });

  it("walk: an image of about 40 MB (5,000 frames of bytes)", () => {
    const memory = [{ pa: "0x1000", hex: "0720000000000000" }];
    const page = "00".repeat(4096);
    for (let f = 0x10; f < 0x10 + 5000; f++) memory.push({ pa: `0x${(f * 4096).toString(16)}`, hex: page });
    const file = join(dir, "big.json");
    writeFileSync(file, JSON.stringify({ arch: "x86_64", cr3: "0x1000", memory }));
    const r = capped(`walk --image ${file} --va 0x400000 --access read --json`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ fault: expect.anything() });
    expect(r.peakMb).toBeLessThan(1024);
  });

  it("trace: the most frames each mode takes (256 GiB; 48 GiB with the Linux pager), with the miss-ratio curve", () => {
    const t = join(ROOT, "examples", "traces", "hotcold.u64.gz");
    for (const extra of [
      "--frames 67108864 --mrc",
      "--frames 12582912 --pager linux",
      "--frames 67108864 --mode policy --policy arc",
    ]) {
      const r = capped(`trace ${t} ${extra}`);
      expect(r.stderr, extra).toBe("");
      expect(r.code, extra).toBe(0);
      expect(r.peakMb, extra).toBeLessThan(1024);
    }
  });

  it("sweep: 2,500 configurations at once", () => {
    const refs = join(dir, "belady.refs");
    writeFileSync(refs, "1,2,3,4,1,2,5,1,2,3,4,5\n");
    const frames = Array.from({ length: 625 }, (_, i) => i + 1).join(",");
    // no address-space limit here: each worker thread reserves WebAssembly memory of its own
    // (tens of GB of address space), so the peak resident memory is the cap
    const r = capped(
      `sweep ${refs} --mode policy --frames ${frames} --policy lru,fifo,clock,opt --no-progress --csv --jobs 2`,
      undefined,
      0,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(2501);
    expect(r.peakMb).toBeLessThan(1024);
  }, 120_000);

  it("tour", () => {
    const r = capped("tour");
    expect(r.code).toBe(0);
    expect(r.peakMb).toBeLessThan(1024);
  });
});
