// End to end: the key. A whole flow in direct mode with a recognisable key, then a search
// of every request (URL, headers, body), every storage area (local, session, IndexedDB,
// Cache Storage, cookies), the console and the page's DOM and text: the key is found only
// in the Authorization header to the API base — and, when "Remember key" is ticked, in the
// one documented storage entry. Through a proxy it is never sent at all. The page runs
// under its Content-Security-Policy without a single violation.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { startFake } from './support/fake.mjs';
import { everywhere, recordPage } from './support/leaks.mjs';
import { FIXTURES, serveApp, takeDown, cleanSlate } from './support/suite.mjs';

const KEY = 'sk-CANARY-5e1f0c9b2d7a4e63';

let fake;
let proxy;
let app;
let browser;

before(async () => {
  fake = await startFake(['--key', KEY]);
  proxy = await startFake(['--proxy']);
  app = await serveApp({ api_base: fake.url, poll_interval_ms: 500 });
  browser = await launch();
});

after(() => takeDown(browser, fake, proxy, app));

beforeEach(() => cleanSlate({ browser, app, fakes: [fake, proxy], cookies: true }));

/** Opens the app recording every request, console line and CSP violation. */
async function openApp() {
  const page = await browser.context.newPage();
  recordPage(page);
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(app.url);
  await appMounted(page);
  return page;
}

async function generate(page) {
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.locator('.ms-ok').waitFor();
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.locator('.ms-generate').getByRole('list', { name: 'Shots' }).waitFor({ timeout: 20_000 });
}

const leaks = (found) => found.filter(([, text]) => text.includes(KEY)).map(([where]) => where);

describe('the key', () => {
  test('direct mode: only in the Authorization header to the API base, nowhere else', async () => {
    const page = await openApp();
    await page.getByLabel('API key').fill(KEY);
    await generate(page);
    // More of the flow: a look-up and a reload that resumes nothing.
    const id = await page.locator('.ms-generate [data-task-id]').innerText();
    await page.getByLabel('Look up a task').fill(id);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByText('Found: it is shown under Generate.').waitFor();
    const apiOrigin = new URL(fake.url).origin;
    const found = await everywhere(page, browser.context);
    const allowed = (where) => /^header authorization of (GET|POST) /.test(where)
      && where.split(' ').pop().startsWith(`${apiOrigin}/api/`);
    assert.deepEqual(leaks(found).filter((w) => !allowed(w)), [], 'the key leaked');
    const sent = leaks(found).filter(allowed);
    assert.ok(sent.length >= 4, `the key went in the Authorization header (${sent.length} requests)`);
    for (const where of sent) {
      const r = page.seen.requests.find((q) => where.endsWith(q.url()));
      assert.equal((await r.allHeaders()).authorization, `Bearer ${KEY}`);
    }
    assert.deepEqual(await page.evaluate(() => window.__violations), [], 'no CSP violation');
    assert.deepEqual(page.seen.errors, []);
  });

  test('"Remember key": then only in the one documented storage entry as well', async () => {
    const page = await openApp();
    await page.getByLabel('API key').fill(KEY);
    await page.getByLabel('Remember key on this device').check();
    await generate(page);
    const found = await everywhere(page, browser.context);
    const apiOrigin = new URL(fake.url).origin;
    const other = leaks(found).filter((w) => !(/^header authorization of /.test(w) && w.split(' ').pop().startsWith(`${apiOrigin}/api/`)));
    assert.deepEqual(other, ['localStorage multishot.api_key']);
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
  });

  test('proxy mode: a key typed in the field is never sent at all', async () => {
    const page = await openApp();
    await page.getByLabel('API key').fill(KEY);
    await page.getByLabel('Proxy URL').fill(proxy.url);
    await generate(page);
    assert.deepEqual(leaks(await everywhere(page, browser.context)), []);
    const log = await proxy.log();
    assert.ok(log.length > 0 && log.every((e) => e.authorization === null));
    assert.deepEqual(await fake.log(), [], 'nothing reached the API base');
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
  });
});
