// A real browser for end-to-end tests: Debian's chromium driven by playwright-core (Playwright
// cannot download its own browsers here). Tests skip only when chromium is missing outside CI.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startApp, testConfig } from '../support/app.ts';

export const CHROMIUM = '/usr/bin/chromium';
const inCI = process.env['CI'] === 'true';
export const browserAvailable = existsSync(CHROMIUM);
if (!browserAvailable && !inCI) {
  console.warn(`[e2e] skipped: ${CHROMIUM} is missing (apt-get install chromium). In CI (CI=true) these tests run and fail instead.`);
}
/** Whether to skip the browser tests: never in CI. */
export const skipBrowser = !browserAvailable && !inCI;

const SHOTS = join(process.cwd(), 'test-results/screenshots');

export interface Browser {
  context: BrowserContext;
  /** Uncaught page errors and Content-Security-Policy refusals seen in any tab (should stay empty). */
  problems: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'cex-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context.setDefaultTimeout(15_000);
  const problems: string[] = [];
  context.on('page', (page) => {
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content.Security.Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
  });
  return {
    context,
    problems,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot as test-results/screenshots/{name}.png (a test artifact), whole page by default. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/** Opens the console in a new tab (fresh sessionStorage) and signs in with `key`. */
export async function signIn(browser: Browser, baseUrl: string, key: string): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('role').waitFor();
  return page;
}

/** Waits until the live connection indicator says connected. */
export async function waitLive(page: Page): Promise<void> {
  await page.locator('[aria-label="Live connection"][data-state="connected"]').waitFor();
}

/**
 * A server as a new user starts it: its own empty in-memory PGlite, no ADMIN_API_KEY, so it makes
 * and "prints" (hands to `bootstrapKey`) a bootstrap admin key.
 */
async function startFreshApp(): Promise<{ app: App; bootstrapKey: string }> {
  let bootstrapKey = '';
  const config = testConfig({ adminApiKey: undefined, database: { kind: 'pglite', dataDir: 'memory://' } });
  const app = createApp(config, { logger: createLogger(config.logLevel), onBootstrapKey: (secret) => (bootstrapKey = secret) });
  await app.start();
  if (!bootstrapKey) throw new Error('a fresh server printed no bootstrap key');
  return { app, bootstrapKey };
}

/**
 * A server and a browser for one test file, started before its tests and stopped after them;
 * the file fails if any page threw or the Content-Security-Policy refused anything. `fresh` gives
 * the file a server with no data of its own (see startFreshApp) instead of the worker's shared one.
 */
export function consoleSuite(options: { fresh?: boolean; config?: Partial<Config> } = {}): { app: App; browser: Browser; bootstrapKey: string } {
  const suite = {} as { app: App; browser: Browser; bootstrapKey: string };
  beforeAll(async () => {
    if (options.fresh) Object.assign(suite, await startFreshApp());
    else suite.app = await startApp(options.config);
    suite.browser = await launchBrowser();
  });
  afterAll(async () => {
    const problems = suite.browser?.problems ?? [];
    await suite.browser?.close();
    await suite.app?.stop();
    expect(problems).toEqual([]);
  });
  return suite;
}
