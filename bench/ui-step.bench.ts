/**
 * `vmlab ui` in chromium: how long a forward step and a back take on a
 * large scenario, from the key to the next frame drawn (the engine's part,
 * Preact's, the style, layout and paint of the page). Median of `RUNS`
 * keys at the end of tour/00-memory-pressure (its tables and frame grid
 * are the largest of the tour). Needs `npm run build:web` first.
 *   node --import tsx bench/ui-step.bench.ts [scenario-id [line]]
 */
import { chromium } from "playwright-core";
import { startUi } from "../src/cli/ui.ts";

const id = process.argv[2] ?? "tour/00-memory-pressure.vm";
const RUNS = 5;

const ui = await startUi({});
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
await page.goto(`${ui.url}#${id}`);
await page.reload();
await page.waitForSelector('[data-ready="yes"]');

/** Presses `key` in the page and waits for the frame after it: ms from the key to that frame. */
// the page's code as text: this file is checked without the DOM's types
const press = (key: string) =>
  page.evaluate<number>(`new Promise((done) => {
    const t0 = performance.now();
    window.dispatchEvent(new KeyboardEvent("keydown", { key: ${JSON.stringify(key)}, bubbles: true }));
    requestAnimationFrame(() => setTimeout(() => done(performance.now() - t0), 0));
  })`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// to the line given (its number clicked), else the end
const line = process.argv[3];
if (line) await page.locator(`[data-line="${line}"] button.ln`).click();
else await press("End");
const progress = page.locator('[data-testid="progress"]');
const n = Number((/step (\d+)/.exec((await progress.textContent()) ?? "") ?? [])[1]);
const fwd: number[] = [];
const back: number[] = [];
for (let i = 0; i < RUNS; i++) {
  // back once the spare has caught up (the engine's part under 1 ms), then forward again
  while ((await progress.getAttribute("data-spare")) !== String(n - 1)) await page.waitForTimeout(50);
  back.push(await press("ArrowLeft"));
  fwd.push(await press("ArrowRight"));
}
console.log(
  `${id}, step ${n}: forward ${median(fwd).toFixed(0)} ms [${fwd.map((x) => x.toFixed(0)).join(" ")}], back ${median(back).toFixed(0)} ms [${back.map((x) => x.toFixed(0)).join(" ")}]`,
);
await browser.close();
await ui.close();
