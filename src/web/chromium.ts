/** The browser tests' chromium (Debian's, installed by .ci/run), headless and kept off the network. */
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** What a browser test file works with: the server (vmlab ui's, src/cli/ui.ts), the browser and its one page. */
export interface PageFixture<S> {
  ui: S;
  browser: Browser;
  page: Page;
  /** uncaught errors in the page: none expected after any test */
  errors: string[];
}

/**
 * Registers the file's hooks: before all, `start` the server and open one
 * page of `viewport`; after each test, no uncaught error in the page; after
 * all, close the browser and the server. The fields are set once the first
 * hook has run.
 */
export function pageFixture<S extends { close(): Promise<void> }>(
  start: () => Promise<S>,
  viewport: { width: number; height: number },
): PageFixture<S> {
  const fx = { errors: [] } as unknown as PageFixture<S>;
  beforeAll(async () => {
    fx.ui = await start();
    fx.browser = await launchChromium();
    fx.page = await fx.browser.newPage({ viewport });
    fx.page.on("pageerror", (e) => fx.errors.push(e.message));
  }, 120_000);
  afterEach(() => {
    expect(fx.errors).toEqual([]);
  });
  afterAll(async () => {
    await fx.browser?.close();
    await fx.ui?.close();
  });
  return fx;
}
