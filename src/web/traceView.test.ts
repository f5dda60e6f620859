/**
 * `vmlab ui --trace` in a real browser (Debian's chromium, playwright-core,
 * as ui.test.ts): the trace view runs its analysis in a Web Worker and
 * shows figures, curves and hit rates equal to what `vmlab trace --json`
 * prints for the same trace with the flags the page itself says it used:
 * the tour's binary trace (gzip) served by `--trace`, the same accesses as a
 * lackey trace (gzip) opened in the page, a zstd file opened in the page
 * (fzstd in the worker) and the same file decompressed by the server; and a scenario whose `replay`s read those two in the
 * scenario view. The charts are vega's (the specifications `vmlab trace
 * --chart` draws). Screenshots go to test-output/ui/.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TraceSummary } from "../analysis/trace/summary.ts";
import { vmlab } from "../cli/testkit.ts";
import { PACKAGE_ROOT, startUi, type UiServer } from "../cli/ui.ts";
import { pageFixture } from "./chromium.ts";
import { Stepper } from "./engine/stepper.ts";

const SHOTS = join(PACKAGE_ROOT, "test-output", "ui");
const TRACE = join(PACKAGE_ROOT, "examples", "tour", "gzip-start.u64.gz");
let dir: string;
let ui: UiServer;
let page: Page;

/** The tour's binary trace compressed with zstd. */
function zstdCopy(): string {
  const zst = join(dir, "gzip-start.u64.zst");
  if (existsSync(zst)) return zst;
  writeFileSync(join(dir, "gzip-start.u64"), gunzipSync(readFileSync(TRACE)));
  expect(spawnSync("zstd", ["-q", "-f", join(dir, "gzip-start.u64"), "-o", zst]).status).toBe(0);
  return zst;
}

/** The tour's binary trace written as valgrind's lackey prints it (with one of its messages), gzipped. */
function lackeyCopy(): string {
  const path = join(dir, "gzip-start.lackey.gz");
  if (existsSync(path)) return path;
  const words = new Uint32Array(new Uint8Array(gunzipSync(readFileSync(TRACE))).buffer);
  const lines = ["==4242== Lackey, an example Valgrind tool"];
  for (let i = 0; i < words.length; i += 2) {
    const lo = words[i];
    const va = (words[i + 1] * 2 ** 32 + lo - (lo & 3)) / 4;
    const hex = va.toString(16).padStart(8, "0");
    lines.push([`I  ${hex},4`, ` L ${hex},8`, ` S ${hex},8`, ` M ${hex},4`][lo & 3]);
  }
  writeFileSync(path, gzipSync(`${lines.join("\n")}\n`));
  return path;
}

const fx = pageFixture(() => startUi({ trace: TRACE }), { width: 1200, height: 1400 });
beforeAll(() => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "vmlab-trace-view-"));
  ({ ui, page } = fx);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Waits for the worker's `run`th run since the page loaded to end, and says how it ended. */
async function finished(run: number): Promise<string> {
  const p = `[data-testid="trace-progress"][data-run="${run}"]`;
  await page.waitForSelector(`${p}[data-status="done"], ${p}[data-status="error"]`);
  return (await page.locator('[data-testid="trace-progress"]').getAttribute("data-status")) ?? "";
}

/** `vmlab trace FILE` with the flags the page shows for its run: the CLI's summary. */
async function cliOf(file: string): Promise<TraceSummary> {
  const line = (await page.locator('[data-testid="trace-cli"]').textContent()) ?? "";
  const flags = line.trim().split(/\s+/).slice(3);
  const r = vmlab(["trace", file, ...flags, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as TraceSummary;
}

/** The `data-v` of each cell of a chart's numbers table, by series, in row order. */
async function numbers(chart: string): Promise<Record<string, number[]>> {
  const cells = await page
    .locator(`[data-testid="numbers-${chart}"] td[data-series]`)
    .evaluateAll((tds) => tds.map((td) => [td.getAttribute("data-series"), td.getAttribute("data-v")]));
  const out: Record<string, number[]> = {};
  for (const [name, v] of cells) {
    out[name!] ??= [];
    out[name!].push(Number(v));
  }
  return out;
}

const fig = async (k: string) =>
  Number(await page.locator(`[data-testid="trace-fig-${k}"]`).getAttribute("data-v"));

/** The page's figures and charts against the CLI's summary. */
async function sameAsCli(s: TraceSummary): Promise<void> {
  expect(await fig("accesses")).toBe(s.accesses);
  expect(await fig("faults")).toBe(s.faults);
  expect(await fig("majorFaults")).toBe(s.majorFaults);
  expect(await fig("evictions")).toBe(s.evictions);
  if (s.mode === "machine") {
    expect(await fig("tlbHits")).toBe(s.tlbHits);
    expect(await fig("tlbMisses")).toBe(s.tlbMisses);
    if (s.machine)
      expect(await page.locator('[data-testid="trace-fig-phys_sum"]').getAttribute("data-v")).toBe(
        String(s.machine.phys_sum),
      );
    if (s.kernel) {
      expect(await fig("swapOuts")).toBe(s.kernel.swapOuts);
      expect(await fig("pgscan")).toBe(s.kernel.pgscan);
    }
    const levels = await page.locator('[data-testid="tlb-level"]').evaluateAll((gs) =>
      gs.map((g) => ({
        name: g.getAttribute("data-level"),
        hits: Number(g.getAttribute("data-hits")),
        misses: Number(g.getAttribute("data-misses")),
      })),
    );
    expect(levels).toEqual(s.levels);
    // faults over time (the reference pager): the same points, at the same records, from the origin
    if (s.faultsOverTime)
      expect((await numbers("faults")).faults).toEqual([0, ...s.faultsOverTime.map(([, f]) => f)]);
  } else expect(await fig("policyHits")).toBe(s.policyHits);
  expect(await numbers("mrc")).toEqual(s.mrc!.series);
  if (s.machine?.cache) {
    expect(await fig("cacheHits")).toBe(s.machine.cache.hits);
    expect(await fig("cacheMisses")).toBe(s.machine.cache.misses);
    expect(await fig("cacheWritebacks")).toBe(s.machine.cache.writebacks);
  }
  if (s.wss) expect((await numbers("wss"))["W(t, tau)"]).toEqual(s.wss.samples.map((x) => x.wss));
  if (s.tlbCurve) {
    const t = await numbers("tlb-curve");
    expect(t[`${s.tlbCurve.ways}-way`]).toEqual(s.tlbCurve.setAssociative);
    expect(t["fully assoc."]).toEqual(s.tlbCurve.fullyAssociative);
  }
}

describe("vmlab ui --trace in chromium", () => {
  it("analyses the --trace file in a worker and shows vmlab trace's figures, curves and hit rates", async () => {
    await page.goto(`${ui.url}#trace`);
    // the server's trace is analysed at once, with the defaults
    expect(await finished(1)).toBe("done");
    expect(await page.locator('[data-testid="trace-name"]').textContent()).toContain("gzip-start.u64.gz");
    // a smaller memory, so that pages are evicted and swapped in again
    await page.locator('[data-testid="trace-frames"]').fill("48");
    await page.locator('[data-testid="trace-run"]').click();
    expect(await finished(2)).toBe("done");
    const s = await cliOf(TRACE);
    expect(s.evictions).toBeGreaterThan(0);
    await sameAsCli(s);
    // vega drew the curve: one line per series, the axes' titles
    const mrc = page.locator('[data-testid="chart-mrc"] [data-testid="plot"]');
    await mrc.and(page.locator('[data-drawn="yes"]')).waitFor();
    expect(await mrc.locator("g.mark-line.role-mark path").count()).toBe(Object.keys(s.mrc!.series).length);
    expect(await mrc.locator("g.role-axis-title text").allTextContents()).toEqual(
      expect.arrayContaining(["frames (4 KiB pages)", "miss ratio"]),
    );
    // and one bar per TLB level
    const bars = page.locator('[data-testid="chart-tlb-levels"] [data-drawn="yes"]');
    await bars.waitFor();
    expect(await bars.locator("g.mark-rect.role-mark path").count()).toBe(s.levels.length);
    // the pointer on the curve shows the numbers of the nearest size
    const box = (await mrc.locator("svg").boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
    await expect
      .poll(() => page.locator('[data-testid="chart-mrc"] [data-testid="hover"]').textContent())
      .toMatch(/lru: \d\.\d{6}/);
    await page.screenshot({ path: join(SHOTS, "trace-view.png"), fullPage: true });
    // Linux's fault handling: the zero page, the LRU lists, swap (20 pages written, 16 allowed)
    await page.locator('[data-testid="trace-mode"]').selectOption("linux");
    await page.locator('[data-testid="trace-frames"]').fill("16");
    await page.locator('[data-testid="trace-run"]').click();
    expect(await finished(3)).toBe("done");
    const k = await cliOf(TRACE);
    expect(k.kernel!.swapOuts).toBeGreaterThan(0);
    await sameAsCli(k);
  });

  it("reads a lackey trace (gzip) opened in the page, in policy mode, as vmlab trace does", async () => {
    const lackey = lackeyCopy();
    await page.locator('[data-testid="trace-mode"]').selectOption("policy");
    await page.locator('[data-testid="trace-policy"]').selectOption("lru");
    await page.locator('[data-testid="trace-frames"]').fill("32");
    await page.locator('[data-testid="trace-mrcPolicies"]').fill("fifo,clock");
    await page.locator('[data-testid="trace-file"]').setInputFiles(lackey);
    expect(await finished(4)).toBe("done");
    expect(await page.locator('[data-testid="trace-figures"]').textContent()).toContain(
      "lackey, gzip): 1 non-access lines skipped",
    );
    const s = await cliOf(lackey);
    expect(s.format).toBe("lackey");
    expect(Object.keys(s.mrc!.series)).toEqual(["lru", "fifo", "clock"]);
    await sameAsCli(s);
  });

  it("reads a zstd trace opened in the page (fzstd in the worker) and one the server decompresses; a corrupt or cut zstd file and a bad trace say where they are bad", async () => {
    const zst = zstdCopy();
    // opened in the page: decoded in the worker, streaming, the same figures as the CLI's
    await page.locator('[data-testid="trace-file"]').setInputFiles(zst);
    expect(await finished(5)).toBe("done");
    expect(await page.locator('[data-testid="trace-figures"]').textContent()).toContain("bin, zstd");
    expect(await page.locator('[data-testid="trace-progress"]').textContent()).toContain("100%");
    await sameAsCli(await cliOf(zst));
    // a long-window frame (zstd --long=27 from a pipe: a 128 MiB window): read all the same, with a note that it is slow
    const long = join(dir, "long.u64.zst");
    const raw = gunzipSync(readFileSync(TRACE));
    const z = spawnSync("zstd", ["-q", "-c", "--long=27"], { input: raw, maxBuffer: 1 << 26 });
    expect(z.status).toBe(0);
    writeFileSync(long, z.stdout);
    await page.locator('[data-testid="trace-file"]').setInputFiles(long);
    expect(await finished(6)).toBe("done");
    expect(await page.locator('[data-testid="trace-note"]').textContent()).toContain("128 MiB window");
    expect(await fig("accesses")).toBe(raw.length / 8);
    // corrupt (bytes flipped) and cut short: an error that says so, not a hang
    const bytes = readFileSync(zst);
    const flipped = Uint8Array.from(bytes);
    for (let i = 100; i < flipped.length - 100; i += 997) flipped[i] ^= 0x5a;
    const corrupt = join(dir, "corrupt.u64.zst");
    writeFileSync(corrupt, flipped);
    await page.locator('[data-testid="trace-file"]').setInputFiles(corrupt);
    expect(await finished(7)).toBe("error");
    expect(await page.locator('[data-testid="trace-error"]').textContent()).toMatch(
      /^corrupt\.u64\.zst: zstd: invalid zstd data \(not a valid zstd file, or cut short\)/,
    );
    const cut = join(dir, "cut.u64.zst");
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    await page.locator('[data-testid="trace-file"]').setInputFiles(cut);
    expect(await finished(8)).toBe("error");
    expect(await page.locator('[data-testid="trace-error"]').textContent()).toContain(
      "cut.u64.zst: zstd: unexpected EOF",
    );
    // bad input: the CLI's message, at its line and column
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, "0x1000\n0x2000 W\nzzz\n");
    await page.locator('[data-testid="trace-file"]').setInputFiles(bad);
    expect(await finished(9)).toBe("error");
    const cli = vmlab(["trace", bad, "--mode", "policy", "--frames", "4"]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("bad.txt:3:1: ");
    expect(await page.locator('[data-testid="trace-error"]').textContent()).toContain(
      cli.stderr.trim().replace(/^vmlab: .*bad\.txt/, "bad.txt"),
    );
    // through the server: decompressed there, analysed here
    const ui2 = await startUi({ trace: zst, build: false });
    try {
      await page.goto(`${ui2.url}#trace`);
      expect(await finished(1)).toBe("done");
      await sameAsCli(await cliOf(zst));
    } finally {
      await ui2.close();
    }
  });

  it("runs every flag of a run from the page: arm64, 2 MiB pages, a VIPT cache, SHARDS, the working set", async () => {
    await page.goto(`${ui.url}#trace`);
    expect(await finished(1)).toBe("done");
    await page.locator('[data-testid="trace-frames"]').fill("1024");
    await page.locator('[data-testid="trace-arch"]').selectOption("arm64");
    await page.locator('[data-testid="trace-page"]').selectOption("2m");
    await page.locator('[data-testid="trace-cache"]').fill("vipt:16K:4");
    await page.locator('[data-testid="trace-shards"]').fill("0.5");
    await page.locator('[data-testid="trace-wss"]').fill("5000");
    await page.locator('[data-testid="trace-wssEvery"]').fill("2500");
    await page.locator('[data-testid="trace-run"]').click();
    expect(await finished(2)).toBe("done");
    const cmd = (await page.locator('[data-testid="trace-cli"]').textContent()) ?? "";
    expect(cmd).toContain("--arch arm64 --page 2m --cache vipt:16K:4");
    expect(cmd).toContain("--shards 0.5 --wss 5000 --wss-every 2500");
    const s = await cliOf(TRACE);
    expect(s.machine!.cache!.hits).toBeGreaterThan(0);
    expect(s.mrc!.method).toMatch(/SHARDS/i);
    expect(s.wss!.samples.length).toBeGreaterThan(1);
    await sameAsCli(s);
    // a bad field: the CLI's refusal, before any run
    await page.locator('[data-testid="trace-cache"]').fill("vipt:33K");
    await page.locator('[data-testid="trace-run"]').click();
    expect(await finished(3)).toBe("error");
    const cli = vmlab(["trace", TRACE, "--cache", "vipt:33K"]);
    expect(cli.code).toBe(2);
    expect(await page.locator('[data-testid="trace-error"]').textContent()).toBe(
      cli.stderr.trim().replace(/^vmlab: /, ""),
    );
  });

  it("replays a lackey and a zstd trace in a scenario, as the engine does in Node", async () => {
    lackeyCopy();
    zstdCopy();
    const mmaps = (p: string) => [
      `${p}: exe = mmap 96K at=0x108000 fixed prot=rwx`,
      `${p}: libs = mmap 0xa2b000 at=0x4000000 fixed prot=rwx`,
      `${p}: stk = mmap 12K at=0x1ffeffe000 fixed`,
    ];
    const text = [
      "machine ram=256M tlb=vmref",
      "spawn A",
      ...mmaps("A"),
      'A: n = replay "gzip-start.lackey.gz"',
      "expect n == 100000",
      "spawn B",
      ...mmaps("B"),
      'B: m = replay "gzip-start.u64.zst"',
      "expect m == 100000",
      "expect B.min_flt == A.min_flt",
      "",
    ].join("\n");
    const file = join(dir, "both.vm");
    writeFileSync(file, text);
    const node = Stepper.at(text, 99, file);
    const ui3 = await startUi({ file, build: false });
    try {
      await page.goto(`${ui3.url}#@both.vm`);
      await page.waitForSelector('[data-ready="yes"]');
      await page.keyboard.press("End");
      // the page replays 200,000 references; on a loaded 2-core machine that takes seconds
      await expect.poll(() => page.locator(".expects .ok").count(), { timeout: 30_000 }).toBe(3);
      expect(await page.locator(".expects .fail").count()).toBe(0);
      expect(await page.locator('[data-testid="fig-pageFaults"]').textContent()).toBe(
        String(node.history.at(-1)!.pageFaults),
      );
    } finally {
      await ui3.close();
    }
  });
});
