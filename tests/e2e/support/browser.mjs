// Debian's Chromium driven by playwright-core, started as this machine needs it: no
// sandbox (root), no background networking (the network is closed), a fresh profile.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Starts Chromium with a fresh profile.
 * @param {import('playwright-core').BrowserContextOptions} options
 */
export async function launch(options = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'ms-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Empties local and session storage of `url`'s origin (a file's tests share one
 * profile, so each starts from no history).
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} url a page of that origin that is not the app (say, config.json)
 */
export async function clearStorage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.evaluate(() => {
    localStorage.clear();
    sessionStorage.clear();
  });
  await page.close();
}

/**
 * Waits until the app itself is in `scope` (a page, frame or locator): not the first
 * view that index.html and embed.js paint before the wasm, which has the same controls
 * (marked `.ms-shell` until the app replaces it).
 * @param {import('playwright-core').Page | import('playwright-core').FrameLocator | import('playwright-core').Locator} scope
 */
export async function appMounted(scope) {
  await scope.locator('.ms-app:not(.ms-shell)').first().waitFor();
  await scope.getByRole('button', { name: 'Generate' }).waitFor();
}
