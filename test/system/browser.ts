// A real browser for system tests: Debian's Chromium (/usr/bin/chromium) driven by
// playwright-core, headless, with a fresh profile (playwright's launch makes a new
// user-data-dir per browser; each context then has its own cookies), screenshots under
// one output dir per test file, and a login to a harness hub with the dummy authenticator.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, reproducible headless Chromium as root in a container. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Where a test file's screenshots go: $TEST_OUTPUT_DIR/<name>, else <repo>/.test-output/<name>. */
export function outputDir(name: string): string {
  const base = process.env.TEST_OUTPUT_DIR ?? resolve(import.meta.dirname, '../../.test-output');
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface TestBrowser {
  browser: Browser;
  /** Screenshot directory of this test file. */
  dir: string;
  /** A new context (own cookies), e.g. one per hub user; `timezoneId` makes "local time" checkable. */
  context(opts?: { timezoneId?: string; locale?: string }): Promise<BrowserContext>;
  /** Saves a full-page PNG as <dir>/<name>.png and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(name: string): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  const dir = outputDir(name);
  return {
    browser,
    dir,
    async context(opts = {}) {
      const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: opts.locale ?? 'en-GB', timezoneId: opts.timezoneId });
      ctx.setDefaultTimeout(30_000);
      return ctx;
    },
    async screenshot(page, shot) {
      const file = join(dir, `${shot}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    close: () => browser.close(),
  };
}

/** Logs `user` in to a hub that uses the dummy authenticator (any password) and returns a page on /hub/… */
export async function loginToHub(ctx: BrowserContext, hubUrl: string, user: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${hubUrl}/hub/login`);
  await page.fill('input[name="username"]', user);
  await page.fill('input[name="password"]', 'any-password');
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/hub/login')), page.click('[type="submit"]')]);
  return page;
}

/** The text a student sees in an element (hidden parts excluded), whitespace collapsed. */
export async function visibleText(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();
}
