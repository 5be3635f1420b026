// End to end: the bot check. multishot-proxy with Cloudflare Turnstile on (verifying at
// the fake's siteverify, under the test secret that always passes), the consumer embed
// with a site key in its config.json — its CSP then names Cloudflare, and api.js is the
// stand-in (tests/e2e/support/turnstile-stand-in.js), served at Cloudflare's own address.
// Generate waits for the widget's token; one token runs one generation (the upload's
// pass covers its submit); an expired token is renewed without a word; a refused token
// shows the proxy's sentence and keeps the image; a batch takes a token a photo; a page
// without a site key has nothing of Turnstile.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { startProxy } from './support/proxy.mjs';
import { recordPage } from './support/leaks.mjs';
import { expectPlayingShots } from './support/shots.mjs';
import { DIST, FIXTURES, ROOT, takeDown, cleanSlate } from './support/suite.mjs';
import { applyPolicy } from '../../scripts/csp.mjs';

const KEY = 'wsk_live_E2EBOTCHECK0123456';
const SITEKEY = '1x00000000000000000000AA';
const API_JS = 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit';
const STAND_IN = await readFile(join(ROOT, 'tests/e2e/support/turnstile-stand-in.js'), 'utf8');

let fake;
let proxy;
let checked; // the build with a site key in its config.json
let plain; // the build as it is (no site key)
let site; // the folder `checked` serves
let browser;

before(async () => {
  fake = await startFake(['--key', KEY]);
  site = await mkdtemp(join(tmpdir(), 'ms-bot-check-'));
  await cp(DIST, site, { recursive: true });
  checked = await serveStatic(site);
  const plainConfig = {};
  plain = await serveStatic(DIST, { overrides: plainConfig });
  proxy = await startProxy({
    key: KEY,
    upstream: fake.url,
    origins: [new URL(checked.url).origin, new URL(plain.url).origin],
    flags: [
      '--turnstile-secret', '1x0000000000000000000000000000000AA',
      '--turnstile-verify-url', `${fake.url}/turnstile/v0/siteverify`,
      '--polls-per-ip-per-second', '20',
      '--runs-per-minute', '100',
      // A batch of three runs beside the single ones.
      '--runs-per-ip-per-hour', '20',
    ],
  });
  // The site owner's config.json, then the policy written for it (as make dist does).
  await writeFile(join(site, 'config.json'), JSON.stringify({ proxy_url: proxy.url, lock_proxy: true, poll_interval_ms: 500, turnstile_sitekey: SITEKEY }));
  await applyPolicy(site);
  plainConfig['config.json'] = JSON.stringify({ proxy_url: proxy.url, lock_proxy: true, poll_interval_ms: 500 });
  browser = await launch();
});

after(async () => {
  await takeDown(browser, proxy, fake, checked, plain);
  await rm(site, { recursive: true, force: true });
});

beforeEach(async () => {
  await cleanSlate({ browser, app: checked });
  await fake.reset();
});

/**
 * Opens `url`; Cloudflare's address answers with the stand-in (counted in `cloudflare`).
 * `hold`: the widget gives no token until the test releases it.
 */
async function openApp(url, { hold = false } = {}) {
  const page = await browser.context.newPage();
  recordPage(page);
  page.cloudflare = [];
  await page.route('https://challenges.cloudflare.com/**', (route) => {
    page.cloudflare.push(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/javascript', body: STAND_IN });
  });
  if (hold) await page.addInitScript(() => { window.__standInHold = true; });
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  await appMounted(page);
  return page;
}

async function choose(page) {
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.locator('.ms-ok').waitFor();
}

const generate = (page) => page.getByRole('button', { name: 'Generate' });
const siteverified = async () => (await fake.log()).filter((e) => e.kind === 'siteverify');

describe('the bot check', () => {
  test('the widget is drawn from Cloudflare\'s address, Generate waits for its token, and one token runs one generation', async () => {
    const page = await openApp(checked.url, { hold: true });
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.match(csp, /script-src [^;]*https:\/\/challenges\.cloudflare\.com/);
    assert.match(csp, /frame-src https:\/\/challenges\.cloudflare\.com/);
    await page.locator('.ms-bot-check').waitFor({ state: 'attached' });
    await page.waitForFunction(() => window.__standIn?.renders.length === 1);
    assert.deepEqual(page.cloudflare, [API_JS], 'api.js from Cloudflare\'s own address, explicit rendering');
    const [render] = await page.evaluate(() => window.__standIn.renders);
    assert.deepEqual(render, { sitekey: SITEKEY, action: 'multishot_generate', theme: 'auto', appearance: 'interaction-only' });
    await choose(page);
    // Pressed before the widget's token came (a challenge not finished yet): nothing is
    // sent until it comes, then the run goes on by itself.
    await generate(page).click();
    await page.waitForTimeout(1000);
    assert.equal((await fake.log()).filter((e) => e.kind === 'upload' || e.kind === 'siteverify').length, 0, 'nothing sent without a token');
    await page.evaluate(() => window.__standIn.release());
    await expectPlayingShots(page.locator('.ms-generate'));
    const verified = await siteverified();
    assert.equal(verified.length, 1, 'the upload was verified; its pass covered the submit');
    assert.ok(verified[0].token.startsWith('stand-in~127.0.0.1~multishot_generate~1~'), verified[0].token);
    const log = await fake.log();
    assert.equal(log.filter((e) => e.kind === 'upload').length, 1);
    assert.equal(log.filter((e) => e.kind === 'submit').length, 1);
    // The used token was given back for a fresh one.
    await page.waitForFunction(() => window.__standIn.tokens.length === 2);
    assert.deepEqual(await page.evaluate(() => window.__violations), [], 'no CSP violation');
    assert.deepEqual(page.seen.errors, []);
  });

  test('a batch through the checked proxy: a token of the widget for each photo, its pass covering its submit', async () => {
    const page = await openApp(checked.url);
    await page.waitForFunction(() => window.__standIn?.tokens.length === 1);
    const names = ['red-sneaker.jpg', 'blue-bag.jpg', 'lamp.jpg'];
    const folder = await mkdtemp(join(tmpdir(), 'ms-bot-batch-'));
    try {
      for (const name of names) await cp(join(FIXTURES, 'valid.jpg'), join(folder, name));
      await page.getByLabel('Image file').setInputFiles(names.map((n) => join(folder, n)));
      const card = page.locator('.ms-batch');
      await page.waitForFunction(() => document.querySelectorAll('.ms-batch-row[data-state="ready"]').length === 3);
      await card.getByRole('button', { name: 'Generate all' }).click();
      await page.waitForFunction(() => document.querySelectorAll('.ms-batch-row[data-state="done"]').length === 3, null, { timeout: 60_000 });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    const log = await fake.log();
    assert.equal(log.filter((e) => e.kind === 'upload').length, 3);
    assert.equal(log.filter((e) => e.kind === 'submit').length, 3);
    const tokens = (await siteverified()).map((e) => e.token);
    assert.equal(tokens.length, 3, 'one check a photo: each upload\'s pass covered its submit');
    assert.equal(new Set(tokens).size, 3, 'a fresh token each time');
    assert.equal(await page.getByText('Please complete the check above').count(), 0);
    assert.deepEqual(page.seen.errors, []);
  });

  test('an expired token is renewed without a word, and a refused one shows the sentence and keeps the image', async () => {
    const page = await openApp(checked.url);
    await choose(page);
    await page.waitForFunction(() => window.__standIn?.tokens.length === 1);
    // It expires (300 s at Cloudflare): a new one comes by itself.
    await page.evaluate(() => window.__standIn.expire());
    await page.waitForFunction(() => window.__standIn.tokens.length === 2);
    await page.waitForFunction(() => !document.querySelector('.ms-generate button.ms-primary')?.disabled);
    assert.equal(await page.getByRole('alert').count(), 0, 'nothing said to the visitor');

    // A token Cloudflare gives for another site: the proxy refuses it, nothing is run.
    await page.evaluate(() => { window.__standIn.host = 'evil.example'; window.__standIn.expire(); });
    await page.waitForFunction(() => window.__standIn.tokens.length === 3);
    await page.waitForFunction(() => !document.querySelector('.ms-generate button.ms-primary')?.disabled);
    await generate(page).click();
    await page.getByText('Please complete the check above and press Generate again.').first().waitFor();
    assert.equal((await fake.log()).filter((e) => e.kind === 'upload' || e.kind === 'submit').length, 0);
    assert.ok(await page.locator('.ms-preview img, .ms-preview video').first().isVisible(), 'the image is kept');

    // The next token (of this site) runs it: the renewed one, never the refused one.
    await page.evaluate(() => { window.__standIn.host = location.hostname; });
    await page.waitForFunction(() => window.__standIn.tokens.length === 4);
    await page.evaluate(() => window.__standIn.expire());
    await page.waitForFunction(() => window.__standIn.tokens.length === 5);
    await page.waitForFunction(() => !document.querySelector('.ms-generate button.ms-primary')?.disabled);
    await generate(page).click();
    await expectPlayingShots(page.locator('.ms-generate'));
    const tokens = (await siteverified()).map((e) => e.token.split('~').slice(0, 4).join('~'));
    assert.deepEqual(tokens, ['stand-in~evil.example~multishot_generate~3', 'stand-in~127.0.0.1~multishot_generate~5']);
    assert.deepEqual(page.seen.errors, []);
  });

  test('in the consumer embed on a phone: the widget above Generate, asking only when Cloudflare wants it', async () => {
    const phone = await launch({ viewport: { width: 390, height: 780 }, hasTouch: true, isMobile: true });
    try {
      const page = await phone.context.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(e.message));
      await page.route('https://challenges.cloudflare.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: STAND_IN }));
      await page.addInitScript(() => { window.__standInHold = true; });
      await page.goto(`${checked.url}index.html?embed=1`);
      await page.locator('.ms-app[data-face="consumer"]').waitFor();
      await page.waitForFunction(() => window.__standIn?.renders.length === 1);
      await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
      await page.locator('.ms-ok').waitFor();
      // A challenge for the visitor: the widget shows above Generate, within the phone's width.
      const widget = page.locator('.ms-bot-check .stand-in-widget');
      assert.equal(await widget.isVisible(), true);
      const [box, button] = [await widget.boundingBox(), await generate(page).boundingBox()];
      assert.ok(box.y + box.height + 12 <= button.y, `the widget (${box.y}+${box.height}) above Generate (${button.y}), with room`);
      assert.ok(box.x >= 0 && box.x + box.width <= 390, 'within the phone');
      await page.screenshot({ path: join(ROOT, 'target/bot-check-consumer-390.png'), fullPage: true });
      await generate(page).click();
      await page.evaluate(() => window.__standIn.release());
      assert.equal(await widget.isVisible(), false, 'and no room once it is done');
      await expectPlayingShots(page.locator('.ms-generate'));
      assert.deepEqual(page.errors, []);
    } finally {
      await phone.close();
    }
  });

  test('with no site key nothing of Turnstile is on the page or in its policy', async () => {
    const page = await openApp(plain.url);
    await choose(page);
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.doesNotMatch(csp, /cloudflare/);
    assert.doesNotMatch(csp, /frame-src/);
    assert.equal(await page.locator('.ms-bot-check[data-sitekey]').count(), 0, 'no widget (its empty place takes no room)');
    assert.equal(await page.locator('.ms-bot-check').evaluate((e) => e.childElementCount + e.getBoundingClientRect().height), 0);
    assert.equal(await page.locator('script[src*="turnstile"]').count(), 0);
    assert.deepEqual(page.cloudflare, []);
    assert.equal(await generate(page).isEnabled(), true);
  });
});
