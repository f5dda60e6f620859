/**
 * `vmlab ui` in a real browser: Debian's chromium driven by playwright-core
 * against the server of src/cli/ui.ts. Each check compares what the page
 * shows with the same scenario run by the engine here in Node (Stepper):
 * a PTE's raw value, the entries the statement changed, a TLB entry, the
 * fault count, the frame grid's counts, going forward and back.
 * Screenshots go to test-output/ui/.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT, startUi, type UiServer } from "../cli/ui.ts";
import { pageFixture } from "./chromium.ts";
import { Stepper } from "./engine/stepper.ts";

const SHOTS = join(PACKAGE_ROOT, "test-output", "ui");
let ui: UiServer;
let page: Page;

const source = (id: string) => readFileSync(join(PACKAGE_ROOT, "examples", id), "utf8");
const hex = (n: number | bigint) => `0x${n.toString(16)}`;
const raw = (hi: number, lo: number, bytes: number) =>
  bytes === 4
    ? `0x${(lo >>> 0).toString(16).padStart(8, "0")}`
    : `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;

const fx = pageFixture(() => startUi({}), { width: 1500, height: 1100 });
beforeAll(() => {
  mkdirSync(SHOTS, { recursive: true });
  ({ ui, page } = fx);
});

/** Opens a scenario and waits for the engine in the page to boot it. */
async function open(id: string): Promise<void> {
  await page.goto(`${ui.url}#${id}`);
  await page.reload();
  await page.waitForSelector('[data-ready="yes"]');
  await expect.poll(() => page.locator('[data-testid="picker"]').inputValue()).toBe(id);
}

async function text(testid: string): Promise<string> {
  return (await page.locator(`[data-testid="${testid}"]`).first().textContent()) ?? "";
}

/** What the panels draw (the text, output, figures and every panel on the right), as HTML. */
async function panels(): Promise<string[]> {
  const out: string[] = [];
  // less the time each chart took to draw
  for (const q of [
    '[data-testid="source"]',
    '[data-testid="output"]',
    '[data-testid="figures"]',
    "section.right",
  ])
    out.push((await page.locator(q).first().innerHTML()).replace(/ data-draw-ms="[^"]*"/g, ""));
  return out;
}

/** Ticks "every entry" of the page tables: every table drawn whole, folded ones too. */
async function everyEntry(): Promise<void> {
  const box = page.locator('[data-testid="pt-every"]');
  if (!(await box.isChecked())) await box.check();
}

/** Checks the page against the Node engine after `n` statements of `id`. */
async function sameAsEngine(id: string, n: number): Promise<Stepper> {
  // the scenario's own path: a replay reads its trace from beside it, as the page gets it from the server
  const s = Stepper.at(source(id), n, join(PACKAGE_ROOT, "examples", id));
  expect(await text("progress")).toContain(`step ${s.done} of ${s.statements.length}`);
  const view = s.session.kernel!.view;
  // the frame grid's counts, kind by kind
  for (const [kind, count] of Object.entries(view.frames().byKind))
    expect(await text(`count-${kind}`), kind).toBe(String(count));
  // the running figures: page faults, TLB hits and misses
  const f = s.history.at(-1)!;
  expect(await text("fig-pageFaults")).toBe(String(f.pageFaults));
  expect(await text("fig-tlbMisses")).toBe(String(f.tlbMisses));
  // and their charts over the steps (vega's, from chartSpec's stepSparkSpec): every step's value, one line each
  for (const key of ["pageFaults", "tlbHits", "tlbMisses", "swapOuts", "swapIns"] as const) {
    const spark = page.locator(`[data-testid="spark-${key}"]`);
    await expect
      .poll(() => spark.getAttribute("data-values"), { message: key })
      .toBe(s.history.map((h) => h[key]).join(","));
    expect(await spark.locator("g.mark-line.role-mark path").count()).toBe(1);
  }
  // every process's leaf PTEs, by raw value (every table opened), and the entries the statement changed
  await everyEntry();
  const pageRaw = await page.locator('[data-testid="pagetables"] [data-testid="pte-raw"]').allTextContents();
  for (const t of view.tasks().filter((t) => t.alive && t.hasMm)) {
    const tree = view.pageTables(view.taskHandle(t.pid)!);
    for (const table of tree.tables)
      for (const e of table.entries.filter((e) => e.leaf && !e.kernelHalf))
        expect(pageRaw).toContain(raw(e.hi, e.lo, tree.entryBytes));
  }
  const changed = s.changedEntries();
  const marked = await page
    .locator('[data-testid="pagetables"] tr.changed')
    .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-entry-pa"))));
  // the kernel half of a root is one folded row, so its entries are not marked one by one
  // sorted lists, not Sets: a mismatch among thousands is then diffed in linear time
  expect(marked.sort((a, b) => a - b)).toEqual(
    [...changed].filter((pa) => !isKernelHalf(s, pa)).sort((a, b) => a - b),
  );
  // CPU 0's TLB: as many entries
  const tlb = view.tlb(0);
  expect(await page.locator('[data-testid="tlb-cpu0"] [data-testid="tlb-entry"]').count()).toBe(
    tlb.entries.length,
  );
  // the first one's address, in its cell's hover (the list of every entry is built only when opened)
  if (tlb.entries.length > 0)
    expect(
      await page
        .locator(`[data-testid="tlb-cpu0"] [data-testid="tlb-entry"][data-va="${hex(tlb.entries[0].va)}"]`)
        .first()
        .getAttribute("title"),
    ).toContain(hex(tlb.entries[0].va));
  // the grid: the first and last entries in the row of their set and the column of their way
  for (const e of [tlb.entries[0], tlb.entries.at(-1)].filter((e) => e !== undefined)) {
    const cell = page
      .locator(
        `[data-testid="tlb-cpu0"] [data-testid="tlb-array-${e.level}-${e.array}"] tr[data-set="${e.set}"] td`,
      )
      .nth(e.way);
    expect(await cell.getAttribute("data-va")).toBe(hex(e.va));
    expect(await cell.textContent()).toContain(e.global ? "G" : `${tlb.asidName} ${e.asid}`);
  }
  // frames reclaim may take against the pinned ones, and the swap slots in use
  if (view.windows() === null) {
    const r = view.reclaim();
    for (const state of ["reclaimable", "kernel", "page-table", "mlocked", "pinned"] as const)
      expect(await text(`reclaim-${state}`), state).toBe(String(r.counts[state]));
  }
  const swap = view.swap();
  if (swap !== null) expect(await text("swap-used")).toBe(String(swap.used));
  return s;
}

/** An entry of a root's kernel half (folded into one row in the page). */
function isKernelHalf(s: Stepper, pa: number): boolean {
  const view = s.session.kernel!.view;
  for (const t of view.tasks().filter((t) => t.alive && t.hasMm))
    for (const table of view.pageTables(view.taskHandle(t.pid)!).tables)
      for (const e of table.entries) if (e.entryPa === pa) return e.kernelHalf;
  return false;
}

describe("vmlab ui in chromium", () => {
  it("steps the tour's first-touch scenario forward and back, showing what the engine has", async () => {
    const id = "tour/01-first-touch.vm";
    await open(id);
    await sameAsEngine(id, 0);
    // run to the write (the click on its line number), then compare
    const src = source(id).split("\n");
    const writeLine = src.findIndex((l) => l.startsWith("A: write")) + 1;
    await page.locator(`[data-line="${writeLine}"] button.ln`).click();
    const s = await sameAsEngine(
      id,
      Stepper.at(source(id), 99).statements.findIndex((t) => t.pos.line === writeLine) + 1,
    );
    expect(s.changedEntries().size).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="pagetables"] tr.changed').count()).toBeGreaterThan(0);
    expect(await text("current-output")).toContain(`line ${writeLine}`);
    await page.screenshot({ path: join(SHOTS, "first-touch-write.png"), fullPage: false });
    // back one step (the key), and the state is the one before the write
    await page.keyboard.press("ArrowLeft");
    const before = await sameAsEngine(id, s.done - 1);
    expect(before.session.kernel!.view.frames().byKind.user).toBeLessThan(
      s.session.kernel!.view.frames().byKind.user,
    );
    // forward again with the key: the same state as the click gave
    await page.keyboard.press("ArrowRight");
    await sameAsEngine(id, s.done);
    // to the end: every expectation of the tour holds
    await page.keyboard.press("End");
    await sameAsEngine(id, 99);
    expect(await page.locator(".expects .fail").count()).toBe(0);
  });

  it("steps back from the spare run kept behind (no re-run), and back-then-forward shows identical panels", async () => {
    const id = "tour/09-real-program.vm";
    await open(id);
    await page.keyboard.press("End");
    const n = Stepper.at(source(id), 0).statements.length;
    await sameAsEngine(id, n);
    const atEnd = await panels();
    const progress = page.locator('[data-testid="progress"]');
    // the page built the spare one step behind while idle: back takes it, with no engine work left
    await expect.poll(() => progress.getAttribute("data-spare"), { timeout: 20_000 }).toBe(String(n - 1));
    await page.keyboard.press("ArrowLeft");
    await sameAsEngine(id, n - 1);
    expect(await progress.getAttribute("data-goto-spare")).toBe("yes");
    expect(Number(await progress.getAttribute("data-goto-ms"))).toBeLessThan(100);
    const behind = await panels();
    expect(behind).not.toEqual(atEnd);
    // the key's state is drawn after the key returns (the page renders on its own schedule):
    // the panels must come to equal the end's, read until they do (a loaded machine draws late)
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => panels(), { timeout: 10_000 }).toEqual(atEnd);
    // back again at once (the spare only partly built, or not at all): the same panels all the same
    await page.keyboard.press("ArrowLeft");
    await expect.poll(() => panels(), { timeout: 10_000 }).toEqual(behind);
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight");
    await sameAsEngine(id, 1);
  });

  it.each([
    "tour/09-real-program.vm",
    "tour/12-arm64-ttbr.vm",
    "tour/15-riscv-sum.vm",
    "tour/24-i386-vmalloc-fault.vm",
  ])("runs %s to the end as the engine does", async (id) => {
    await open(id);
    await page.keyboard.press("End");
    await sameAsEngine(id, 999);
    expect(await page.locator('[data-testid="error"]').count()).toBe(0);
    expect(await page.locator(".expects .fail").count()).toBe(0);
    expect(await page.locator(".expects .ok").count()).toBeGreaterThan(0);
    expect(await page.locator(".expects .fail").count()).toBe(0);
    expect(await page.locator(".expects .ok").count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, `${id.replace(/\W+/g, "-")}.png`) });
  });

  it("marks a TLB entry stale once its page table entry is gone, before the checker catches its use", async () => {
    const id = "kernel/use-after-vfree.vm";
    const path = join(PACKAGE_ROOT, "examples", id);
    await open(id);
    const vfree = Stepper.at(source(id), 99, path).statements.findIndex((t) => t.verb === "vfree") + 1;
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await sameAsEngine(id, vfree - 1);
    expect(await page.locator('[data-testid="tlbs"] .stale[data-testid="tlb-entry"]').count()).toBe(0);
    await page.keyboard.press("ArrowRight");
    const s = await sameAsEngine(id, vfree);
    const v = s.session.variables.get("v")!;
    // the grid's cell of v's entry, in the warning colour, and its row in the list
    const stale = page.locator('[data-testid="tlbs"] td.tlb-cell.stale');
    expect(await stale.count()).toBeGreaterThan(0);
    expect(await stale.evaluateAll((cells) => cells.map((c) => c.getAttribute("data-va")))).toContain(hex(v));
    const background = await stale
      .first()
      .evaluate((c) => c.ownerDocument.defaultView!.getComputedStyle(c).backgroundColor);
    expect(background).toBe("rgb(255, 204, 188)");
    // the list of every entry is built only when opened: open each CPU's
    const lists = page.locator('[data-testid^="tlb-list-cpu"]');
    expect(await page.locator('[data-testid="tlb-row"]').count()).toBe(0);
    for (let i = 0; i < (await lists.count()); i++) await lists.nth(i).locator("summary").click();
    // the toggle event and the list's render come after the click: wait for the rows
    await expect
      .poll(() => page.locator('[data-testid="tlb-row"]').count(), { timeout: 10_000 })
      .toBe(
        s.session
          .kernel!.view.cpus()
          .reduce((n, c) => n + s.session.kernel!.view.tlb(c.id).entries.length, 0),
      );
    const rows = await page.locator('[data-testid="tlbs"] tr.stale').allTextContents();
    expect(rows.some((row) => row.includes(hex(v)))).toBe(true);
    // the checker agrees: the next read of v uses a stale entry
    const after = Stepper.at(source(id), 99, path);
    expect(after.session.kernel!.view.counters().staleTlbUses).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, "stale-tlb.png") });
  });

  it("names a page shared copy-on-write after fork, in both trees", async () => {
    const id = "process/cow-fork.vm";
    await open(id);
    const line =
      source(id)
        .split("\n")
        .findIndex((l) => l.startsWith("A: fork B")) + 1;
    await page.locator(`[data-line="${line}"] button.ln`).click();
    const path = join(PACKAGE_ROOT, "examples", id);
    const s0 = Stepper.at(source(id), 99, path);
    const s = await sameAsEngine(id, s0.statements.findIndex((t) => t.pos.line === line) + 1);
    const view = s.session.kernel!.view;
    const data = s.session.variables.get("data")!;
    for (const name of ["A", "B"]) {
      const w = view.walk(s.session.processes.get(name)!, data);
      const pte = w.entries.at(-1)!;
      expect(w.leaf!.writable).toBe(false);
      const row = await page
        .locator(`[data-testid="pt-${name}"] tr[data-entry-pa="${pte.entryPa}"]`)
        .textContent();
      expect(row).toContain("COW");
      expect(row).toContain(`shared ×${view.frame(w.leaf!.pfn)!.mapcount}`);
    }
    await page.screenshot({ path: join(SHOTS, "cow-fork.png") });
  });

  it("folds a large table to the entries the statement changed until it is opened", async () => {
    const id = "tour/00-memory-pressure.vm";
    await open(id);
    // after the read of a swapped page: a few changed entries in tables of hundreds
    const line =
      source(id)
        .split("\n")
        .findIndex((l) => l.startsWith("A: read a")) + 1;
    await page.locator(`[data-line="${line}"] button.ln`).click();
    const s = Stepper.at(source(id), 99, join(PACKAGE_ROOT, "examples", id));
    const at = Stepper.at(source(id), s.statements.findIndex((t) => t.pos.line === line) + 1);
    const view = at.session.kernel!.view;
    const tables = view.pageTables(at.session.processes.get("A")!).tables;
    const big = tables.filter((t) => t.entries.filter((e) => !e.kernelHalf).length > 32);
    expect(big.length).toBeGreaterThan(0);
    const changed = at.changedEntries();
    expect(changed.size).toBeGreaterThan(0);
    const root = page.locator('[data-testid="pt-A"]');
    // folded: every changed entry drawn and marked, far fewer rows than entries
    const marked = await root
      .locator("tr.changed")
      .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-entry-pa"))));
    expect(marked.sort((a, b) => a - b)).toEqual(
      [...changed].filter((pa) => !isKernelHalf(at, pa)).sort((a, b) => a - b),
    );
    const all = tables.reduce((n, t) => n + t.entries.filter((e) => !e.kernelHalf).length, 0);
    expect(await root.locator("tr[data-entry-pa]").count()).toBeLessThan(all / 4);
    expect(await root.locator('[data-testid="pt-open"]').count()).toBe(big.length);
    // "show all" on the first folded table: its every entry, by raw value
    const first = big[0];
    await root.locator('[data-testid="pt-open"]').first().click();
    const rows = root.locator(`.pt-table[data-pfn="${first.pfn}"] [data-testid="pte-raw"]`);
    expect(await rows.count()).toBe(first.entries.filter((e) => !e.kernelHalf).length);
    const shown = await rows.allTextContents();
    for (const e of first.entries.filter((e) => e.leaf && !e.kernelHalf))
      expect(shown).toContain(raw(e.hi, e.lo, 8));
    // it stays open for the next step
    await page.keyboard.press("ArrowRight");
    expect(await root.locator(`.pt-table[data-pfn="${first.pfn}"] tr.folded`).count()).toBe(0);
  });

  it("draws a few of a folded table's changed entries when a statement changed thousands", async () => {
    const id = "tour/00-memory-pressure.vm";
    await open(id);
    // the write of 80 MiB: every one of its ~20,000 PTEs changed, in tables of 512
    const line =
      source(id)
        .split("\n")
        .findIndex((l) => l.startsWith("A: write a 80M")) + 1;
    await page.locator(`[data-line="${line}"] button.ln`).click();
    const at = Stepper.at(
      source(id),
      Stepper.at(source(id), 99).statements.findIndex((t) => t.pos.line === line) + 1,
    );
    const view = at.session.kernel!.view;
    const changed = at.changedEntries();
    expect(changed.size).toBeGreaterThan(10_000);
    const root = page.locator('[data-testid="pt-A"]');
    let drawn = 0;
    for (const t of view.pageTables(at.session.processes.get("A")!).tables) {
      const user = t.entries.filter((e) => !e.kernelHalf);
      if (user.length <= 32) continue;
      const mine = user.filter((e) => changed.has(e.entryPa)).map((e) => e.entryPa);
      const table = root.locator(`.pt-table[data-pfn="${t.pfn}"]`);
      // the folded row counts every changed entry; the first 16 of them are drawn, marked
      expect(await table.locator("tr.folded").getAttribute("data-changed")).toBe(String(mine.length));
      const marked = await table
        .locator("tr.changed")
        .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-entry-pa"))));
      expect(marked).toEqual(mine.slice(0, 16));
      if (mine.length > 16)
        expect(await table.locator("tr.folded").textContent()).toContain("the first 16 shown");
      drawn += marked.length;
    }
    expect(drawn).toBeGreaterThan(0);
    expect(await root.locator("tr[data-entry-pa]").count()).toBeLessThan(changed.size / 20);
  });

  it("lists who maps a frame when the pointer is on it", async () => {
    const id = "tour/01-first-touch.vm";
    await open(id);
    await page.keyboard.press("End");
    const s = Stepper.at(source(id), 99, join(PACKAGE_ROOT, "examples", id));
    const view = s.session.kernel!.view;
    const leaf = view
      .pageTables(s.session.processes.get("A")!)
      .tables.flatMap((t) => t.entries)
      .find((e) => e.leaf && !e.kernelHalf && !e.zeroPage)!;
    const grid = page.locator('[data-testid="frame-grid"]');
    await grid.scrollIntoViewIfNeeded();
    const box = (await grid.boundingBox())!;
    const cols = Number(await grid.getAttribute("data-cols"));
    const cell = Number(await grid.getAttribute("data-cell"));
    const width = Number(await grid.getAttribute("width"));
    const scale = box.width / width;
    await page.mouse.move(
      box.x + ((leaf.nextPfn % cols) * cell + cell / 2) * scale,
      box.y + (Math.floor(leaf.nextPfn / cols) * cell + cell / 2) * scale,
    );
    const info = await text("frame-info");
    expect(info).toContain(`frame ${hex(leaf.nextPfn)}: ${view.frame(leaf.nextPfn)!.kind}`);
    expect(info).toContain(`mapped by A ${hex(leaf.va)}`);
    // the tools' views of it: kpageflags of the frame, crash's vtop of the page, as the engine prints them
    const views = await text("frame-views");
    expect(views).toContain(
      `/proc/kpageflags[${leaf.nextPfn}] = 0x${view.kpageflags(leaf.nextPfn)!.toString(16).padStart(16, "0")}`,
    );
    const A = s.session.processes.get("A")!;
    for (const l of view.vtop(A, leaf.va)) expect(views).toContain(l);
    // the page-table tree's row of that leaf: its hover adds the page's vtop
    await everyEntry();
    const row = page.locator(`tr[data-entry-pa="${leaf.entryPa}"]`).first();
    await row.scrollIntoViewIfNeeded();
    await row.hover();
    const title = (await row.getAttribute("title")) ?? "";
    expect(title).toContain(`crash> vtop -c ${view.task(A).pid} ${leaf.va.toString(16)}`);
    for (const l of view.vtop(A, leaf.va)) expect(title).toContain(l);
  });

  it("lists the swap slots with the pages that refer to them, and colours frames pinned against reclaimable", async () => {
    const id = "swap/pageout-swapin.vm";
    const path = join(PACKAGE_ROOT, "examples", id);
    await open(id);
    const line =
      source(id)
        .split("\n")
        .findIndex((l) => l.startsWith("A: fork B")) + 1;
    await page.locator(`[data-line="${line}"] button.ln`).click();
    const all = Stepper.at(source(id), 99, path);
    const s = await sameAsEngine(id, all.statements.findIndex((t) => t.pos.line === line) + 1);
    const view = s.session.kernel!.view;
    const swap = view.swap()!;
    expect(swap.used).toBeGreaterThan(0);
    const rows = page.locator('[data-testid="swap-slot"]');
    expect(await rows.count()).toBe(Math.min(64, swap.slots.length));
    // after fork each slot still swapped out is named by both processes' PTEs
    const shared = swap.slots.find((x) => x.refs === 2)!;
    expect(shared.owners.map((o) => o.split(" ")[0]).sort()).toEqual(["A", "B"]);
    const row = await page.locator(`[data-testid="swap-slot"][data-slot="${shared.slot}"]`).textContent();
    for (const o of shared.owners) expect(row).toContain(o);
    expect(row).toContain("2 references");
    // the reclaim colouring, and a page table's frame under the pointer says it is pinned
    await page.click('[data-testid="by-reclaim"]');
    expect(await page.locator('[data-testid="frames"]').getAttribute("data-colouring")).toBe("reclaim");
    const ptPfn = view
      .walk(s.session.processes.get("A")!, s.session.variables.get("a")!)
      .entries.at(-1)!.tablePfn;
    const grid = page.locator('[data-testid="frame-grid"]');
    await grid.scrollIntoViewIfNeeded();
    const box = (await grid.boundingBox())!;
    const cols = Number(await grid.getAttribute("data-cols"));
    const cell = Number(await grid.getAttribute("data-cell"));
    const scale = box.width / Number(await grid.getAttribute("width"));
    await page.mouse.move(
      box.x + ((ptPfn % cols) * cell + cell / 2) * scale,
      box.y + (Math.floor(ptPfn / cols) * cell + cell / 2) * scale,
    );
    expect(await text("frame-info")).toContain(`frame ${hex(ptPfn)}: page-table`);
    expect(await text("frame-info")).toContain("pinned: a page table");
    await page.screenshot({ path: join(SHOTS, "swap-reclaim.png") });
  });

  it("shows !vad, VMMap and RAMMap in place of /proc/PID/maps on a Windows scenario", async () => {
    const id = "windows/debugger-views.vm";
    await open(id);
    await page.keyboard.press("End");
    const s = await sameAsEngine(id, 999);
    const view = s.session.kernel!.view;
    const win = view.windows()!;
    const a = s.session.processes.get("A")!;
    expect(await page.locator('[data-testid="maps-A"]').count()).toBe(0);
    expect(await page.locator('[data-testid="reclaim-counts"]').count()).toBe(0);
    const starts = await page
      .locator('[data-testid="vad-A"] [data-testid="vad-row"]')
      .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-start"))));
    expect(starts).toEqual(win.vadTree(a).map((v) => v.startVpn));
    const kb = (n: number) => (n === 0 ? "" : `${(n * 4).toLocaleString("en-US")} K`);
    const total = win.vmmap(a)[0];
    const cells = await page.locator('[data-testid="vmmap-A"] tr[data-type="Total"] td').allTextContents();
    expect(cells.slice(0, 3)).toEqual([kb(total.size), kb(total.committed), kb(total.private)]);
    const r = win.rammap();
    expect(await text("rammap-total")).toBe(kb(r.total.reduce((x, y) => x + y, 0)));
    const modified = r.rows.find((x) => x.use === "Process Private")!;
    expect(
      await page.locator('[data-testid="rammap"] tr[data-use="Process Private"] td').allTextContents(),
    ).toEqual([...modified.pages.map(kb), kb(modified.total)]);
    await page.locator('[data-testid="vad-A"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, "windows-views.png") });
  });

  it("explains an access, and shows an edited scenario's error at its line and column", async () => {
    const id = "tour/01-first-touch.vm";
    await open(id);
    await page.keyboard.press("End");
    const s = Stepper.at(source(id), 99, id);
    const view = s.session.kernel!.view;
    const story = view.explain(s.session.processes.get("A")!, s.session.variables.get("buf")! + 0x1000n, 0);
    await page.fill('[data-testid="explain-addr"]', "buf+0x1000");
    await page.click('[data-testid="explain"] button');
    expect(await text("explain-story")).toBe(story.join("\n"));
    await page.click(".editor summary");
    await page.fill('[data-testid="editor"]', "spawn A\nA: x = mmap 4K\nA: write y\n");
    await page.click('[data-testid="run-edited"]');
    expect(await text("error")).toMatch(/^line 3:\d+: /);
    await page.screenshot({ path: join(SHOTS, "edit-error.png") });
  });
});
