// What every end-to-end file sets up and takes down: the release build (served with a
// config.json of its own), the fakes and servers it talks to, one browser — and before
// each test a clean slate.
import { join } from 'node:path';
import { clearStorage } from './browser.mjs';
import { serveStatic } from './static-server.mjs';

/** The repository. */
export const ROOT = new URL('../../..', import.meta.url).pathname;
/** The release build the tests drive (`make dist`; MULTISHOT_DIST: another build, say a
 * debug one while working on a test). */
export const DIST = process.env.MULTISHOT_DIST ?? join(ROOT, 'dist');
/** The test images (`make fixtures`). */
export const FIXTURES = join(ROOT, 'target/fixtures');

/**
 * The release build served with `config` as its config.json.
 * @param {object} config the page's config.json
 * @param {object} options more of serveStatic's options (say, `cors`)
 */
export function serveApp(config, options = {}) {
  return serveStatic(DIST, { ...options, overrides: { 'config.json': JSON.stringify(config) } });
}

/**
 * Takes down what a file started — a browser or a server (`close`), a fake or a proxy
 * (`stop`) — skipping what never started.
 * @param {...({close?: () => Promise<void>, stop?: () => void} | undefined)} things
 */
export async function takeDown(...things) {
  await Promise.all(things.filter(Boolean).map(async (thing) => (thing.stop ? thing.stop() : thing.close())));
}

/**
 * A clean slate for the next test: the fakes reset, every page closed (unless `pages`
 * is false), the cookies cleared (if `cookies`) and the app's storage emptied (a file's
 * tests share one browser profile).
 * @param {{browser: {context: import('playwright-core').BrowserContext}, app?: {url: string},
 *   fakes?: {reset: () => Promise<unknown>}[], pages?: boolean, cookies?: boolean}} what
 */
export async function cleanSlate({ browser, app, fakes = [], pages = true, cookies = false }) {
  await Promise.all(fakes.map((fake) => fake.reset()));
  if (pages) for (const page of browser.context.pages()) await page.close();
  if (cookies) await browser.context.clearCookies();
  if (app) await clearStorage(browser.context, `${app.url}config.json`);
}
