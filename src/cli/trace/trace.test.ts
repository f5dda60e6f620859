/** `vmlab trace`: both modes from files and stdin, JSON, and bad input with exit 2 and no result. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmlab } from "../testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-trace-cli-"));

describe("vmlab trace", () => {
  it("runs a page list from stdin in policy mode (Belady's string, FIFO) and prints JSON", () => {
    const r = vmlab(
      ["trace", "-", "--format", "refs", "--mode", "policy", "--policy", "fifo", "--frames", "3", "--json"],
      "1,2,3,4,1,2,5,1,2,3,4,5\n",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect([j.accesses, j.policyMisses, j.faults, j.complete]).toEqual([12, 9, 9, true]);
    const four = JSON.parse(
      vmlab(
        ["trace", "-", "--format", "refs", "--mode", "policy", "--policy", "fifo", "--frames", "4", "--json"],
        "1,2,3,4,1,2,5,1,2,3,4,5",
      ).stdout,
    );
    expect(four.faults).toBe(10); // Belady's anomaly
  });

  it("runs a lackey trace in machine mode: a first touch per page, TLB figures per level", () => {
    const lines = ["==1== Lackey"];
    for (let i = 0; i < 50; i++)
      lines.push(`I  0040${(i % 5).toString(16)}000,4`, ` S 1ffefff${(i % 3) * 2}00,8`);
    const f = join(dir, "small.lackey");
    writeFileSync(f, `${lines.join("\n")}\n`);
    const r = vmlab(["trace", f, "--frames", "64", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mode).toBe("machine");
    expect(j.accesses).toBe(100);
    expect(j.faults).toBe(6); // 5 code pages, 1 stack page
    expect(j.walks).toBe(6);
    expect(j.tlbHits + j.tlbMisses).toBe(100);
    expect(j.levels.map((l: { name: string }) => l.name)).toEqual(["L1", "L2"]);
    // the same through the kernel model: reads of untouched anonymous memory map the zero page, so only
    // the stack page, written, takes a frame
    const linux = JSON.parse(
      vmlab(["trace", f, "--frames", "64", "--pager", "linux", "--policy", "linux", "--json"]).stdout,
    );
    expect([linux.accesses, linux.kernel.regions, linux.kernel.rssPages]).toEqual([100, 2, 1]);
    expect(linux.faults).toBe(6); // 5 zero-page read faults and 1 write fault
    const text = vmlab(["trace", f, "--frames", "2", "--policy", "lru"]);
    expect(text.stdout).toMatch(/page faults\s+\d+: 6 first touch \(minor\), \d+ swap-in \(major\)/);
  });

  it("stops on a truncated trace with exit 2, the offset, and the partial figures marked as not a result", () => {
    const f = join(dir, "cut.u64");
    const b = Buffer.alloc(8 * 10 + 5);
    for (let i = 0; i < 10; i++) b.writeBigUInt64LE(BigInt(0x400000 + i * 4096) * 4n + 1n, i * 8);
    writeFileSync(f, b);
    const r = vmlab(["trace", f, "--json"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `${f} (byte offset 80): truncated: 5 bytes after the last whole 8-byte record (10 records read)`,
    );
    expect(r.stderr).toContain("not a result");
  });

  it("OPT over a truncated or corrupt trace: exit 2, the offset, no figures and no stack trace", () => {
    const cut = join(dir, "cut-opt.u64");
    const b = Buffer.alloc(8 * 10 + 5);
    for (let i = 0; i < 10; i++) b.writeBigUInt64LE(BigInt(0x400000 + i * 4096) * 4n + 1n, i * 8);
    writeFileSync(cut, b);
    const r = vmlab(["trace", cut, "--mode", "policy", "--policy", "opt", "--frames", "4", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${cut} (byte offset 80): truncated`);
    expect(r.stderr).toContain("OPT replays only a whole trace");
    expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
    const junk = join(dir, "junk.u64");
    writeFileSync(junk, Buffer.from("not a trace at all\n"));
    const j = vmlab(["trace", junk, "--mode", "policy", "--policy", "opt", "--frames", "4"]);
    expect(j.code).toBe(2);
    expect(j.stderr).toContain(`${junk} (byte offset 0)`);
    expect(j.stderr).not.toMatch(/TypeError|\n\s+at /);
  });

  it("refuses bad options and missing files with exit 2", () => {
    for (const args of [
      ["--frames", "0"],
      ["--policy", "belady"],
      ["--mode", "policy", "--policy", "nosuch"],
      ["--tlb", "64y4"],
      ["--format", "csv"],
      ["--cost", "l9=3"],
    ]) {
      const r = vmlab(["trace", join(dir, "cut.u64"), ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^vmlab: /);
    }
    // --ram is --frames as a size
    expect(
      JSON.parse(vmlab(["trace", "-", "--format", "refs", "--ram", "1M", "--json"], "1,2").stdout).frames,
    ).toBe(256);
    expect(vmlab(["trace", "-", "--format", "refs", "--ram", "1M", "--frames", "3"], "1,2").code).toBe(2);
    const missing = vmlab(["trace", join(dir, "nope.u64")]);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      2,
      `vmlab: ${join(dir, "nope.u64")}: no such file`,
    ]);
  });

  it("prints the one-pass miss-ratio curve as CSV, equal to separate LRU runs (the classic string: LRU with 3 frames 12 misses)", () => {
    const refs = "7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1";
    const r = vmlab(
      [
        "trace",
        "-",
        "--format",
        "refs",
        "--mode",
        "policy",
        "--policy",
        "lru",
        "--frames",
        "3",
        "--mrc",
        "--mrc-max",
        "6",
        "--mrc-policies",
        "fifo",
        "--csv",
      ],
      refs,
    );
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split("\n");
    expect(rows[0]).toBe("frames,lru,fifo");
    const at = (f: number) =>
      rows
        .find((l) => l.startsWith(`${f},`))!
        .split(",")
        .map(Number);
    expect(at(3)).toEqual([3, 12 / 20, 15 / 20]); // LRU 12 and FIFO 15 misses out of 20
    expect(at(6)).toEqual([6, 6 / 20, 6 / 20]); // only the 6 first references miss
  });

  it("prints TLB miss ratios against TLB size as CSV", () => {
    const refs = Array.from({ length: 400 }, (_, i) => (i % 8) * 16).join(",");
    const r = vmlab(
      ["trace", "-", "--format", "refs", "--mode", "policy", "--tlb-curve", "4", "--csv"],
      refs,
    );
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split("\n");
    expect(rows[0]).toBe("entries,reach_kib,miss_ratio_4way,miss_ratio_fully_associative");
    // 8 pages in one set of a 16-set TLB: every reference misses at 64 entries, only the first 8 when fully associative
    expect(rows.find((l) => l.startsWith("64,"))).toBe("64,256,1,0.02");
  });

  it("writes a chart whole, and none at all when the trace is bad or the name is wrong", () => {
    const svg = join(dir, "mrc.svg");
    const ok = vmlab(
      [
        "trace",
        "-",
        "--format",
        "refs",
        "--mode",
        "policy",
        "--mrc",
        "--mrc-max",
        "8",
        "--wss",
        "4",
        "--chart",
        svg,
      ],
      "1,2,3,4,1,2,5,1,2,3,4,5",
    );
    expect(ok.code).toBe(0);
    const text = readFileSync(svg, "utf8");
    expect(text.startsWith("<svg")).toBe(true);
    expect(text).toContain("Miss ratio against memory size");
    expect(text).toContain("Working set W(t, 4)");
    const bad = join(dir, "bad.svg");
    const r = vmlab(["trace", join(dir, "cut.u64"), "--mrc", "--chart", bad]);
    expect(r.code).toBe(2);
    expect(existsSync(bad)).toBe(false);
    const wrong = vmlab(["trace", "-", "--format", "refs", "--mrc", "--chart", join(dir, "x.gif")], "1,2");
    expect([wrong.code, wrong.stderr.trim()]).toEqual([
      2,
      `vmlab: --chart: the file must end in .svg, .html or .png, not '${join(dir, "x.gif")}'`,
    ]);
    expect(existsSync(join(dir, "x.gif"))).toBe(false);
  });

  it("reads a generated trace from a pipe: a scan one page larger than memory misses every time under LRU", () => {
    const gen = spawnSync(process.execPath, [
      join(import.meta.dirname, "../../../bin/vmlab.mjs"),
      "gen",
      "seq",
      "--pages",
      "10",
      "--refs",
      "1000",
    ]);
    expect(gen.status).toBe(0);
    expect(gen.stdout.length).toBe(8000);
    const r = spawnSync(
      process.execPath,
      [
        join(import.meta.dirname, "../../../bin/vmlab.mjs"),
        "trace",
        "-",
        "--mode",
        "policy",
        "--policy",
        "lru",
        "--frames",
        "9",
        "--json",
      ],
      { input: gen.stdout },
    );
    const j = JSON.parse(r.stdout.toString());
    expect([j.format, j.accesses, j.faults]).toEqual(["bin", 1000, 1000]);
    const out = join(dir, "z.u64.zst");
    const w = vmlab(["gen", "zipf", "--pages", "100", "--refs", "5000", "--out", out]);
    expect(w.stdout.trim()).toBe(`wrote 5,000 references (zipf) to ${out}`);
    expect(JSON.parse(vmlab(["trace", out, "--json"]).stdout).accesses).toBe(5000);
    expect(vmlab(["gen", "spiral"]).code).toBe(2);
    expect(vmlab(["gen", "seq", "--out", join(dir, "x.txt")]).code).toBe(2);
    expect(existsSync(join(dir, "x.txt"))).toBe(false);
  });

  it("gives the same figures from a file (folded into runs on the reading thread) as from a pipe (record by record)", () => {
    const f = join(dir, "hot.u64");
    expect(vmlab(["gen", "hotcold", "--pages", "400", "--refs", "60000", "--out", f]).code).toBe(0);
    const bin = join(import.meta.dirname, "../../../bin/vmlab.mjs");
    for (const policy of ["clock", "lru"]) {
      const args = [
        "trace",
        "--frames",
        "48",
        "--policy",
        policy,
        "--tlb",
        "skylake",
        "--json",
        "--no-progress",
      ];
      const fromFile = JSON.parse(vmlab([...args, f]).stdout);
      const piped = spawnSync(process.execPath, [bin, ...args, "-", "--format", "bin"], {
        input: readFileSync(f),
      });
      const fromPipe = JSON.parse(piped.stdout.toString());
      expect(fromFile.evictions, policy).toBeGreaterThan(1000);
      const same = (j: Record<string, unknown>) => {
        const { seconds, trace, faultsOverTime, ...rest } = j;
        return rest;
      };
      expect(same(fromFile), policy).toEqual(same(fromPipe));
    }
  });

  it("runs --pager linux with the kernel's transparent huge pages (--page thp), and refuses --page 2m there", () => {
    const f = join(dir, "w.u64");
    expect(
      vmlab(["gen", "seq", "--pages", "2048", "--refs", "6000", "--write-ratio", "1", "--out", f]).code,
    ).toBe(0);
    const base = [
      "trace",
      f,
      "--pager",
      "linux",
      "--policy",
      "linux",
      "--frames",
      "4096",
      "--json",
      "--no-progress",
      "--tlb",
      "skylake", // 2 MiB arrays: a huge page is one TLB entry
    ];
    const small = JSON.parse(vmlab(base).stdout);
    const huge = JSON.parse(vmlab([...base, "--page", "thp"]).stdout);
    expect(small.kernel.thpFaultAlloc).toBe(0);
    // 2,048 pages written in order: four aligned 2 MiB regions, a huge page each
    expect(huge.kernel.thpFaultAlloc).toBe(4);
    expect(huge.faults).toBe(4);
    expect(small.faults).toBe(2048);
    expect(huge.walks).toBeLessThan(small.walks / 100);
    const refused = vmlab([...base, "--page", "2m"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("thp");
  });
});
