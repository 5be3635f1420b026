// End to end: a whole generation in Chromium, on the release build, against the local
// fake WaveSpeed — direct mode with a key, proxy mode, image URLs, base64 outputs, and
// injected faults. Requests are counted at the fake.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { expectPlayingShots } from './support/shots.mjs';
import { servedShotSizes, zipEntries } from './support/zip.mjs';
import { ROOT, DIST, FIXTURES, serveApp, takeDown, cleanSlate } from './support/suite.mjs';

const KEY = 'sk-e2e-8f3b1c0d9a7e';

let direct; // fake in direct mode (checks the key)
let proxy; // fake standing for a site owner's proxy (no key)
let images; // the test images over http, with CORS
let app; // the release build, config pointing at `direct`
let browser;

before(async () => {
  direct = await startFake(['--key', KEY]);
  proxy = await startFake(['--proxy']);
  images = await serveStatic(FIXTURES, { cors: true });
  app = await serveApp({ api_base: direct.url, poll_interval_ms: 500 });
  browser = await launch();
});

after(() => takeDown(browser, direct, proxy, images, app));

beforeEach(() => cleanSlate({ browser, app, fakes: [direct, proxy], pages: false }));

async function openApp({ key = KEY, proxyUrl } = {}) {
  const page = await browser.context.newPage();
  page.errors = [];
  page.consoleText = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => page.consoleText.push(m.text()));
  page.requests = [];
  page.on('request', (r) => page.requests.push({ url: r.url(), body: r.postData() ?? '' }));
  await page.goto(app.url);
  await appMounted(page);
  if (key) {
    await page.getByLabel('API key').fill(key);
    // The price and balance look-ups a key sets off (funds.test.mjs) are over before
    // the test counts requests.
    if (!proxyUrl) await page.getByRole('status').filter({ hasText: /your balance (\$|could not)/ }).waitFor();
  }
  if (proxyUrl) await page.getByLabel('Proxy URL').fill(proxyUrl);
  return page;
}

async function chooseFile(page, name = 'valid.jpg') {
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, name));
  await page.waitForFunction(() => document.querySelector('.ms-ok'));
}

async function generate(page) {
  const button = page.getByRole('button', { name: 'Generate' });
  await assert.doesNotReject(button.isEnabled());
  assert.equal(await button.isEnabled(), true, await page.locator('#ms-generate-hint').innerText());
  await button.click();
}

const kinds = (log, kind) => log.filter((e) => e.kind === kind);

describe('a generation', () => {
  test('direct mode: local file → upload → submit once → polls → shots that play', async () => {
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    const taskId = page.locator('[data-task-id]');
    await taskId.waitFor();
    await expectPlayingShots(page, 3);
    assert.match(await page.getByRole('status').last().innerText(), /^Status: completed · \d+:\d\d/);

    const log = await direct.log();
    assert.equal(kinds(log, 'upload').length, 1);
    const submits = kinds(log, 'submit');
    assert.equal(submits.length, 1, 'exactly one submit');
    assert.match(submits[0].body.image, /^http:\/\/127\.0\.0\.1:\d+\/media\/0\/valid\.jpg$/);
    assert.deepEqual(Object.keys(submits[0].body).sort(), ['enable_base64_output', 'image']);
    assert.deepEqual(submits[0].unknown_fields, []);
    assert.equal(await taskId.innerText(), submits[0].task);
    const polls = kinds(log, 'poll');
    assert.equal(polls.length, 3, 'created, processing, completed — and no poll after the end');
    for (const entry of log.filter((e) => e.path.startsWith('/api/') && e.method !== 'OPTIONS')) {
      assert.equal(entry.authorization, `Bearer ${KEY}`);
    }
    // The key is never in a URL, a body, the console, the page or storage.
    for (const r of page.requests) {
      assert.ok(!r.url.includes(KEY) && !r.body.includes(KEY), `key leaked in ${r.url}`);
    }
    assert.ok(!page.consoleText.some((t) => t.includes(KEY)));
    assert.ok(!(await page.locator('body').innerText()).includes(KEY));
    // Storage holds the job's history record, and never the key.
    const stored = await page.evaluate(() => ({ ...localStorage }));
    assert.deepEqual(Object.keys(stored), [`multishot.job.${submits[0].task}`]);
    assert.ok(!Object.values(stored).some((v) => v.includes(KEY)), 'no key in storage');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('"Remember key" stores the key in the one documented entry; unticking deletes it', async () => {
    const page = await openApp();
    await page.getByLabel('Remember key on this device').check();
    assert.deepEqual(await page.evaluate(() => ({ ...localStorage })), { 'multishot.api_key': KEY });
    await page.reload();
    await appMounted(page);
    assert.equal(await page.getByLabel('API key').inputValue(), KEY);
    await page.getByLabel('Remember key on this device').uncheck();
    assert.deepEqual(await page.evaluate(() => ({ ...localStorage })), {});
    await page.close();
  });

  test('proxy mode sends no Authorization and reaches only the proxy', async () => {
    const page = await openApp({ key: '', proxyUrl: proxy.url });
    assert.match(await page.locator('.ms-mode').innerText(), /Through proxy/);
    await chooseFile(page);
    await generate(page);
    await expectPlayingShots(page, 3);
    const log = await proxy.log();
    assert.equal(kinds(log, 'submit').length, 1);
    assert.ok(log.every((e) => e.authorization === null), 'no Authorization header at the proxy');
    assert.deepEqual(await direct.log(), [], 'nothing reached the API base');
    await page.close();
  });

  test('an image URL is sent as it is, without an upload', async () => {
    const page = await openApp();
    const url = `${images.url}valid.png`;
    await page.getByLabel('Image URL').fill(url);
    await page.getByLabel('Image URL').press('Enter');
    await page.waitForFunction(() => document.querySelector('.ms-ok'));
    await generate(page);
    await expectPlayingShots(page, 3);
    const log = await direct.log();
    assert.equal(kinds(log, 'upload').length, 0);
    assert.equal(kinds(log, 'submit')[0].body.image, url);
    await page.close();
  });

  test('base64 outputs (raw and as data URIs) play from Blob URLs', async () => {
    for (const asDataUri of [false, true]) {
      await direct.reset();
      await direct.scenario({ shots: 2, base64_as_data_uri: asDataUri });
      const page = await openApp();
      await page.getByLabel('Return outputs as base64').check();
      await chooseFile(page);
      await generate(page);
      await expectPlayingShots(page, 2);
      const sources = await page.evaluate(() => [...document.querySelectorAll('.ms-shots a.ms-download')].map((a) => a.href));
      assert.ok(sources.every((s) => s.startsWith('blob:')), sources.join());
      assert.equal(kinds(await direct.log(), 'submit')[0].body.enable_base64_output, true);
      // A new job replaces the shots: their Blob URLs are revoked.
      await generate(page);
      await page.waitForFunction((old) => ![...document.querySelectorAll('.ms-shots a.ms-download, .ms-shots video')].some((e) => (e.href ?? e.src) === old), sources[0]);
      const stillThere = await page.evaluate((url) => fetch(url).then(() => true, () => false), sources[0]);
      assert.equal(stillThere, false, 'the old Blob URL was revoked');
      await page.close();
    }
  });

  test('a local file can be sent inline as a data: URI instead of uploaded', async () => {
    const page = await openApp();
    await page.getByLabel('Send local files inline').check();
    await chooseFile(page, 'valid.png');
    await generate(page);
    await expectPlayingShots(page, 3);
    const log = await direct.log();
    assert.equal(kinds(log, 'upload').length, 0);
    assert.match(kinds(log, 'submit')[0].body.image, /^data:image\/png;base64,iVBORw0KGgo/);
    await page.close();
  });
});

describe('copying', () => {
  test('Copy puts the task id on the clipboard, says "Copied", then reads "Copy" again', async () => {
    const origin = new URL(app.url).origin;
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    try {
      const page = await openApp();
      await chooseFile(page);
      await generate(page);
      const id = await page.locator('[data-task-id]').innerText();
      const copy = page.getByRole('button', { name: 'Copy the task ID' });
      await copy.click();
      await page.waitForFunction(() => document.querySelector('[aria-label="Copy the task ID"]')?.textContent === 'Copied');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), id);
      await page.waitForFunction(() => document.querySelector('[aria-label="Copy the task ID"]')?.textContent === 'Copy', null, { timeout: 5_000 });
      // A tab left open would follow the next tests' tasks through storage events.
      await page.close();
    } finally {
      await browser.context.clearPermissions();
    }
  });

  test('Share, where the browser has no share sheet, copies the shots\' links', async () => {
    const origin = new URL(app.url).origin;
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    const page = await browser.context.newPage();
    try {
      await page.addInitScript(() => { delete Navigator.prototype.share; });
      await page.goto(app.url);
      await appMounted(page);
      await page.getByLabel('API key').fill(KEY);
      await chooseFile(page);
      await generate(page);
      await expectPlayingShots(page, 3);
      const share = page.getByRole('button', { name: 'Share the shots\' links' });
      await share.click();
      await page.waitForFunction(() => document.querySelector('[aria-label="Share the shots\' links"]')?.textContent === 'Copied');
      const links = (await page.evaluate(() => navigator.clipboard.readText())).split('\n');
      assert.deepEqual(links, [1, 2, 3].map((n) => `${direct.url}/outputs/shot-${n}.mp4`));
    } finally {
      await page.close();
      await browser.context.clearPermissions();
    }
  });
});

describe('runtime config', () => {
  test('config.json pre-fills the proxy; an invalid one is reported and defaults are used', async () => {
    const withProxy = await serveStatic(DIST, { overrides: { 'config.json': JSON.stringify({ proxy_url: proxy.url }) } });
    const broken = await serveStatic(DIST, { overrides: { 'config.json': '{"poll_interval_ms": -5, "api_base": "javascript:x"' } });
    const badValues = await serveStatic(DIST, { overrides: { 'config.json': '{"poll_interval_ms": -5, "colour": "red"}' } });
    try {
      let page = await browser.context.newPage();
      await page.goto(withProxy.url);
      await page.waitForFunction(() => document.querySelector('#ms-proxy-url')?.value);
      assert.equal(await page.getByLabel('Proxy URL').inputValue(), proxy.url);
      assert.match(await page.locator('.ms-mode').innerText(), /Through proxy/);
      await page.close();

      page = await browser.context.newPage();
      await page.goto(broken.url);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /config\.json: “config\.json” is not valid JSON .*defaults are used/);
      await page.close();

      page = await browser.context.newPage();
      await page.goto(badValues.url);
      await page.getByRole('alert').first().waitFor();
      const texts = (await page.getByRole('alert').allInnerTexts()).join('\n');
      assert.match(texts, /“poll_interval_ms” must be a whole number from 500 to 60000; 1500 is used/);
      assert.match(texts, /“colour” is not a known setting and is ignored/);
      await page.close();
    } finally {
      await Promise.all([withProxy.close(), broken.close(), badValues.close()]);
    }
  });
});

describe('the player', () => {
  test('the Sequence plays the shots back to back; a flagged shot is blurred behind Show on the stage', async () => {
    await direct.scenario({ shots: 2, nsfw: [false, true] });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    const list = page.getByRole('list', { name: 'Shots' });
    await list.waitFor({ timeout: 20_000 });
    const stage = page.locator('.ms-stage');
    const marked = () => list.getByRole('button', { pressed: true }).innerText();
    // Shot 1 plays by itself, in the clear.
    assert.equal(await marked(), 'Shot 1');
    assert.doesNotMatch(await stage.getAttribute('class'), /is-hidden/);
    assert.equal(await stage.locator('.ms-shot-cover').count(), 0);
    // The 2-second shot ends and the next one takes the stage: flagged, so blurred.
    await page.waitForFunction(() => document.querySelector('.ms-shot-list [aria-pressed="true"]')?.textContent === 'Shot 2', null, { timeout: 8000 });
    assert.match(await stage.getAttribute('class'), /is-hidden/);
    assert.match(await page.locator('video[aria-label="Sequence"]').evaluate((v) => v.src), /shot-2\.mp4$/);
    await stage.getByRole('button', { name: 'Show' }).click();
    assert.doesNotMatch(await stage.getAttribute('class'), /is-hidden/);
    // And then it loops back to the first.
    await page.waitForFunction(() => document.querySelector('.ms-shot-list [aria-pressed="true"]')?.textContent === 'Shot 1', null, { timeout: 8000 });
    await page.close();
  });

  test('Download shot N saves the file and never leaves the page; a CDN without CORS opens a new tab', async () => {
    await direct.scenario({ shots: 2 });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await expectPlayingShots(page, 2);
    const url = page.url();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download shot 1' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'shot-1.mp4');
    const saved = await download.path();
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(saved));
    assert.ok(size > 1000, `the whole shot is saved (${size} bytes)`);
    assert.equal(page.url(), url, 'the page stays');
    // The CDN does not let the page read the shot: it opens in a new tab instead.
    await direct.scenario({ shots: 2, outputs_without_cors: true });
    const [tab] = await Promise.all([
      browser.context.waitForEvent('page'),
      page.getByRole('link', { name: 'Download shot 2' }).click(),
    ]);
    await tab.waitForLoadState('domcontentloaded').catch(() => {});
    assert.match(tab.url(), /\/outputs\/shot-2\.mp4$/);
    assert.equal(page.url(), url, 'the page stays');
    await tab.close();
    await page.close();
  });

  test('Download all saves one zip of every shot; where the CDN allows no CORS read it says why', async () => {
    await direct.scenario({ shots: 3 });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await expectPlayingShots(page, 3);
    const url = page.url();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download all' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'multi-shot-sequence.zip');
    const bytes = await import('node:fs/promises').then(async (fs) => fs.readFile(await download.path()));
    // Every shot, whole, under its name.
    const entries = zipEntries(bytes);
    const served = await servedShotSizes(direct.url);
    assert.deepEqual(entries, [['shot-1.mp4', served[0]], ['shot-2.mp4', served[1]], ['shot-3.mp4', served[2]]]);
    assert.equal(page.url(), url);
    // A CDN that does not let the page read the shots: no file, a reason, the links stay.
    await direct.scenario({ shots: 3, outputs_without_cors: true });
    await page.getByRole('button', { name: 'Download all' }).click();
    await page.getByText('cannot be put in one file here').waitFor();
    await page.getByRole('link', { name: 'Download shot 3' }).waitFor();
    assert.equal(page.url(), url);
    await page.close();
  });

  test('on a phone (320 and 390 px) with a finished job: no sideways scroll, nothing outside its card, controls at least 44 px tall', async () => {
    for (const width of [320, 390]) {
      const page = await openApp({ key: null, proxyUrl: proxy.url });
      await page.setViewportSize({ width, height: 800 });
      await chooseFile(page);
      await generate(page);
      await expectPlayingShots(page, 3);
      const layout = await page.evaluate(() => {
        const outside = [];
        for (const card of document.querySelectorAll('.ms-card')) {
          const edge = card.getBoundingClientRect().right;
          for (const el of card.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            if (box.width > 0 && box.right > edge + 0.5) outside.push(`${el.tagName}.${el.className}`);
          }
        }
        const small = [...document.querySelectorAll('button, a, input, summary')]
          .filter((el) => el.type !== 'checkbox' && el.type !== 'file')
          .map((el) => [el.textContent.trim() || el.getAttribute('aria-label') || el.id, el.getBoundingClientRect()])
          .filter(([, box]) => box.width > 0 && box.height < 44)
          .map(([name, box]) => `${name}: ${Math.round(box.height)} px`);
        return {
          sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          outside,
          small,
        };
      });
      assert.deepEqual(layout, { sideways: 0, outside: [], small: [] }, `at ${width} px`);
      await page.close();
    }
  });

  test('unsafe outputs are not put into the page', async () => {
    await direct.scenario({ outputs: ['javascript:alert(1)', 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', `${direct.url}/outputs/shot-1.mp4`] });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await page.getByRole('list', { name: 'Shots' }).waitFor({ timeout: 20_000 });
    const alerts = await page.getByRole('list', { name: 'Shots' }).getByRole('alert').allInnerTexts();
    assert.equal(alerts.length, 2);
    assert.match(alerts[0], /Shot 1: Not shown — the output address is not a web address/);
    assert.match(alerts[1], /Shot 2: Not shown — the output is inline data of type “text\/html”/);
    const used = await page.evaluate(() => [...document.querySelectorAll('[src],[href]')].map((e) => e.getAttribute('src') ?? e.getAttribute('href')));
    assert.ok(used.every((u) => !/^(javascript|data:text)/i.test(u)), used.join());
    await page.getByRole('link', { name: 'Download shot 3' }).waitFor();
    await page.close();
  });
});

describe('faults', () => {
  test('403 and 429 without Retry-After at the submit: refused, shown, never retried', async () => {
    for (const [fault, pattern] of [
      [{ status: 403, message: 'key lacks the role' }, /may not do that \(403\): key lacks the role/],
      [{ status: 429 }, /Too many requests \(429\)/],
    ]) {
      await direct.reset();
      await direct.scenario({ faults: { submit: [fault] } });
      const page = await openApp();
      await chooseFile(page);
      await generate(page);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), pattern);
      assert.match(await alert.innerText(), /No task was created/);
      await page.waitForTimeout(500);
      assert.equal(kinds(await direct.log(), 'submit').length, 1, 'the submit is never retried');
      await page.close();
    }
  });

  test('through a proxy, what only the site owner can fix (401, 402, 403) reads as the site being unavailable', async () => {
    // A plain proxy passes WaveSpeed's statuses on: the page words them for a visitor.
    for (const [stage, fault] of [
      ['upload', { status: 401, message: 'Invalid API key' }],
      ['submit', { status: 402, message: 'Insufficient balance' }],
      ['submit', { status: 200, body: '{"code":403,"message":"Account suspended"}' }],
    ]) {
      await proxy.reset();
      await proxy.scenario({ faults: { [stage]: [fault] } });
      const page = await openApp({ key: '', proxyUrl: proxy.url });
      await chooseFile(page);
      await generate(page);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = await alert.innerText();
      assert.match(text, /The generator on this site is unavailable right now; your image was not charged\./, stage);
      assert.ok(!/40[123]|Invalid|Insufficient|suspended/.test(text), `the owner's detail stays out of sight: ${text}`);
      await page.close();
    }
  });

  test('a wrong key: 401 at the upload, a clear message, nothing created', async () => {
    const page = await openApp({ key: 'sk-wrong' });
    await chooseFile(page);
    await generate(page);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /refused the API key \(401\)[\s\S]*Nothing was created/);
    assert.equal(kinds(await direct.log(), 'submit').length, 0);
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), true, 'the image is kept: try again');
    await page.close();
  });

  test('the 401 goes once the right key is typed, and the job then runs', async () => {
    const page = await openApp({ key: 'sk-wrong' });
    await chooseFile(page);
    await generate(page);
    await page.getByText('refused the API key (401)').waitFor();
    await page.getByLabel('API key').fill(KEY);
    await page.getByText('refused the API key (401)').waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('alert').count(), 0);
    await generate(page);
    await expectPlayingShots(page, 3);
    await page.close();
  });

  test('500 then recovery, 429 with Retry-After: polling goes on and completes', async () => {
    await direct.scenario({ faults: { poll: [{ status: 500 }, { status: 429, retry_after: '1' }, { status: 503, body: '<h1>busy</h1>' }] } });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await expectPlayingShots(page, 3);
    const polls = kinds(await direct.log(), 'poll');
    assert.equal(polls.length, 6, '3 failed + created, processing, completed');
    await page.close();
  });

  test('transient failures past the retry budget pause waiting; Resume completes the job', async () => {
    const fail = { status: 502, message: 'bad gateway' };
    await direct.scenario({ faults: { poll: [fail, fail, fail, fail, fail, fail] } });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    // Backoff 1 + 2 + 3 + 4 + 5 s, then the sixth failure pauses.
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 25_000 });
    assert.match(await alert.innerText(), /Waiting paused: WaveSpeed had a problem \(HTTP 502\): bad gateway/);
    const count = kinds(await direct.log(), 'poll').length;
    assert.equal(count, 6);
    await page.waitForTimeout(1500);
    assert.equal(kinds(await direct.log(), 'poll').length, count, 'no poll while paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expectPlayingShots(page, 3);
    await page.close();
  });

  test('a slow reply is waited for and the job completes', async () => {
    await direct.scenario({ faults: { poll: [{ delay_ms: 3000 }] } });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await expectPlayingShots(page, 3);
    await page.close();
  });

  test('a failed task shows its HTML error text literally', async () => {
    await direct.scenario({ statuses: ['processing', 'failed'], error: '<img src=x onerror=alert(1)><b>Bad input</b>' });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 10_000 });
    assert.match(await alert.innerText(), /The task ended as “failed”: <img src=x onerror=alert\(1\)><b>Bad input<\/b> WaveSpeed refunds failed tasks\./);
    assert.equal(await page.locator('.ms-job img, .ms-job b').count(), 0, 'rendered as text');
    const polls = kinds(await direct.log(), 'poll');
    assert.equal(polls.length, 2, 'no poll after a terminal status');
    await page.close();
  });

  test('malformed JSON stops polling with a message; 200 with code != 200 too', async () => {
    for (const fault of [{ bad_json: true }, { code: 402, message: 'Insufficient balance' }]) {
      await direct.reset();
      await direct.scenario({ faults: { poll: [fault] } });
      const page = await openApp();
      await chooseFile(page);
      await generate(page);
      const alert = page.getByRole('alert');
      await alert.waitFor({ timeout: 10_000 });
      const text = await alert.innerText();
      assert.match(text, fault.bad_json ? /could not be understood/ : /code 402\): Insufficient balance/);
      await page.waitForTimeout(1500);
      assert.equal(kinds(await direct.log(), 'poll').length, 1, 'polling stopped');
      assert.ok(await page.locator('[data-task-id]').isVisible(), 'the task id stays visible');
      await page.close();
    }
  });

  test('outputs as a single string and an unknown status are handled', async () => {
    await direct.scenario({ statuses: ['created', 'warming-up', 'completed'], outputs_as_string: true });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await page.getByText('Status: warming-up').waitFor({ timeout: 10_000 });
    await expectPlayingShots(page, 1);
    await page.close();
  });

  test('Cancel stops every request; Resume finishes the job', async () => {
    await direct.scenario({ statuses: ['created', 'processing', 'processing', 'processing', 'completed'] });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await page.getByText('Status: created').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('You stopped waiting').waitFor();
    const count = (await direct.log()).length;
    await page.waitForTimeout(2000);
    assert.equal((await direct.log()).length, count, 'no request after Cancel');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expectPlayingShots(page, 3);
    await page.screenshot({ path: join(ROOT, 'target/screenshots/finished.png'), fullPage: true });
    await page.close();
  });

  test('an invalid proxy URL: the connection line and Generate say the same thing', async () => {
    const page = await openApp({ proxyUrl: 'gen.example.com' });
    await chooseFile(page);
    const line = page.locator('.ms-mode');
    assert.equal(await line.getAttribute('data-mode'), 'none');
    assert.equal(await line.innerText(), 'Not connected. The proxy URL must be an http:// or https:// address.');
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), false);
    assert.match(await page.locator('#ms-generate-hint').innerText(), /The proxy URL must be an http:\/\/ or https:\/\/ address\./);
    await page.getByLabel('Proxy URL').fill(proxy.url);
    await page.waitForFunction(() => document.querySelector('.ms-mode')?.dataset.mode === 'proxy');
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), true);
    await page.close();
  });

  test('with the keyboard: focus stays on the task\'s button while its status changes, Cancel and Resume', async () => {
    await direct.scenario({ statuses: ['created', 'processing', 'processing', 'processing', 'processing', 'completed'] });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await page.getByText('Status: created').waitFor({ timeout: 10_000 });
    // From the Copy button, Tab reaches the task's button.
    await page.getByRole('button', { name: 'Copy the task ID' }).focus();
    await page.keyboard.press('Tab');
    const focused = () => page.evaluate(() => ({ text: document.activeElement?.textContent, marked: document.activeElement?.__mark === 1 }));
    assert.deepEqual(await focused(), { text: 'Cancel', marked: false });
    await page.evaluate(() => { document.activeElement.__mark = 1; });
    await page.getByText('Status: processing').waitFor({ timeout: 10_000 });
    assert.deepEqual(await focused(), { text: 'Cancel', marked: true }, 'the same button keeps the focus');
    await page.keyboard.press('Enter');
    await page.getByText('You stopped waiting').waitFor();
    assert.deepEqual(await focused(), { text: 'Resume', marked: true }, 'Cancel became Resume in place');
    await page.keyboard.press('Enter');
    await page.getByText('You stopped waiting').waitFor({ state: 'detached' });
    await expectPlayingShots(page, 3);
    await page.close();
  });

  test('the wait shows the input image and a progress bar, indeterminate until a typical run is known', async () => {
    await direct.scenario({ statuses: ['created', ...Array(8).fill('processing'), 'completed'] });
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    const bar = page.locator('.ms-generate').getByRole('progressbar', { name: 'Progress' });
    await bar.waitFor({ timeout: 10_000 });
    assert.equal(await bar.getAttribute('value'), null, 'no run seen yet: indeterminate');
    await page.getByText('You can close this page — the result is kept in History.').waitFor();
    assert.equal(await page.locator('.ms-generate').getByRole('img', { name: 'Your image' }).count(), 1);
    await expectPlayingShots(page, 3);
    assert.equal(await bar.count(), 0, 'gone with the wait');
    // One run seen: the next one's bar has a value, short of the end.
    await page.getByRole('button', { name: 'Generate' }).click();
    await bar.waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => Number(document.querySelector('.ms-generate progress')?.getAttribute('value')) > 0);
    assert.ok(Number(await bar.getAttribute('value')) <= 95);
    await page.close();
  });

  test('after a result, New image is the next step; the same image runs again only on its own button', async () => {
    const page = await openApp();
    await chooseFile(page);
    await generate(page);
    await expectPlayingShots(page, 3);
    const again = page.getByRole('button', { name: 'Generate again ($0.07)' });
    await again.waitFor();
    assert.equal(kinds(await direct.log(), 'submit').length, 1);
    await page.getByRole('button', { name: 'New image', exact: true }).click();
    // Back to the start: no image and no result here; the job stays in History.
    await page.getByText('Choose an image first').waitFor();
    assert.equal(await page.locator('.ms-generate video').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'New image', exact: true }).isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Generate', exact: true }).isEnabled(), false);
    assert.equal(await page.locator('.ms-history-item').count(), 1);
    assert.equal(kinds(await direct.log(), 'submit').length, 1, 'nothing was sent');
    // Another image and its result; then Generate again sends that image once more.
    await chooseFile(page, 'valid.png');
    await generate(page);
    await expectPlayingShots(page, 3);
    await again.click();
    for (let i = 0; i < 100 && kinds(await direct.log(), 'submit').length < 3; i++) await page.waitForTimeout(100);
    assert.equal(kinds(await direct.log(), 'submit').length, 3);
    await page.getByText('Status: completed').waitFor({ state: 'detached' });
    await expectPlayingShots(page, 3);
    await page.close();
  });

  test('Cancel aborts the poll in flight: the browser cancels the request, not only the wait', async () => {
    // The first poll hangs at the fake for 20 s.
    await direct.scenario({ faults: { poll: [{ delay_ms: 20_000 }] } });
    const page = await openApp();
    const failed = [];
    page.on('requestfailed', (r) => failed.push({ url: r.url(), error: r.failure()?.errorText ?? '' }));
    await chooseFile(page);
    await generate(page);
    await page.getByText('Status: created').waitFor({ timeout: 10_000 });
    for (let i = 0; i < 100 && kinds(await direct.log(), 'poll').length === 0; i++) await page.waitForTimeout(100);
    assert.equal(kinds(await direct.log(), 'poll').length, 1, 'the poll reached the fake');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('You stopped waiting').waitFor();
    for (let i = 0; i < 50 && failed.length === 0; i++) await page.waitForTimeout(100);
    assert.deepEqual(
      failed.map((f) => [new URL(f.url).pathname.endsWith('/result'), f.error]),
      [[true, 'net::ERR_ABORTED']],
      JSON.stringify(failed),
    );
    await page.close();
  });
});
