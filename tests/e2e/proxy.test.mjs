// End to end: the site owner's proxy. The release build configured with `proxy_url`
// (and `lock_proxy`, as a marketing embed is) talks to a real multishot-proxy process,
// which holds the key and talks to the fake WaveSpeed. A whole job; the key found in no
// request, response, storage, page or log the browser or the test can read; a page on an
// origin the proxy does not allow; what a script on the page can try; the runs left from
// the proxy's /quota beside Generate; and the budget running out, with the proxy's
// message on the page, Generate disabled and no submit beyond the cap.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { startProxy } from './support/proxy.mjs';
import { everywhere, recordPage } from './support/leaks.mjs';
import { expectPlayingShots } from './support/shots.mjs';
import { servedShotSizes, zipEntries } from './support/zip.mjs';
import { DIST, FIXTURES, takeDown, cleanSlate } from './support/suite.mjs';
import { readFile } from 'node:fs/promises';

const KEY = 'wsk_live_E2ECANARY7f3a9c1d0b';

let fake; // WaveSpeed, checking the owner's key
let proxy; // multishot-proxy: $0.14 a day = two runs
let config; // the page's config.json, pointed at the proxy once it runs
let app; // the release build, on an allowed origin
let other; // the same build on an origin the proxy does not allow
let browser;

before(async () => {
  fake = await startFake(['--key', KEY]);
  config = {};
  app = await serveStatic(DIST, { overrides: config });
  other = await serveStatic(DIST, { overrides: config });
  proxy = await startProxy({
    key: KEY,
    upstream: fake.url,
    origins: [new URL(app.url).origin],
    flags: ['--daily-budget-usd', '0.14', '--polls-per-ip-per-second', '20'],
  });
  config['config.json'] = JSON.stringify({ proxy_url: proxy.url, lock_proxy: true, poll_interval_ms: 500 });
  browser = await launch();
});

after(() => takeDown(browser, proxy, fake, app, other));

beforeEach(() => cleanSlate({ browser, app }));

async function openApp(url = app.url) {
  const page = await browser.context.newPage();
  recordPage(page);
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  await appMounted(page);
  return page;
}

async function chooseAndGenerate(page) {
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.locator('.ms-ok').waitFor();
  const button = page.getByRole('button', { name: 'Generate' });
  assert.equal(await button.isEnabled(), true, await page.locator('#ms-generate-hint').innerText());
  await button.click();
}

const kinds = (log, kind) => log.filter((e) => e.kind === kind);

describe('through multishot-proxy', () => {
  test('a whole job, and the key is nowhere the browser or the test can read', async () => {
    const page = await openApp();
    // lock_proxy: no key field, no proxy field to be seen.
    assert.equal(await page.getByLabel('API key').isVisible(), false);
    assert.equal(await page.getByLabel('Proxy URL').isVisible(), false);
    await chooseAndGenerate(page);
    await expectPlayingShots(page.locator('.ms-generate'));
    const token = await page.locator('.ms-generate [data-task-id]').innerText();
    assert.match(token, /^v1\.[0-9a-f]{32}\.\d+\.[A-Za-z0-9_-]{22}$/, 'the page shows the signed token');

    const found = await everywhere(page, browser.context);
    found.push(['the proxy\'s output', proxy.output()]);
    found.push(['the proxy\'s metrics', await proxy.metrics()]);
    const leaks = found.filter(([, text]) => text.includes(KEY) || text.includes('E2ECANARY')).map(([where]) => where);
    assert.deepEqual(leaks, [], 'the key leaked');
    for (const r of page.seen.requests) {
      assert.equal((await r.allHeaders()).authorization, undefined, `Authorization sent to ${r.url()}`);
    }
    assert.ok(page.seen.requests.some((r) => r.url().startsWith(`${proxy.url}/api/v3/kwaivgi/`)), 'the submit went to the proxy');

    // At WaveSpeed: the owner's key on every call, one upload, one submit of exactly
    // the documented fields, and the WaveSpeed id polled — never the token.
    const log = await fake.log();
    const api = log.filter((e) => e.path.startsWith('/api/'));
    assert.ok(api.every((e) => e.authorization === `Bearer ${KEY}`), JSON.stringify(api.map((e) => e.authorization)));
    assert.equal(kinds(log, 'upload').length, 1);
    const [submit] = kinds(log, 'submit');
    assert.deepEqual(Object.keys(submit.body).sort(), ['enable_base64_output', 'image']);
    const id = token.split('.')[1];
    assert.ok(kinds(log, 'poll').every((e) => e.path === `/api/v3/predictions/${id}/result`));
    assert.deepEqual(await page.evaluate(() => window.__violations), [], 'no CSP violation');

    // The shots' server lets the page read nothing: the proxy passes them on from its
    // own origin, so Download all still makes one file, Download shot 1 saves and
    // Download video makes its film.
    await fake.scenario({ outputs_without_cors: true });
    try {
      const url = page.url();
      const [all] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download all' }).click()]);
      const served = await servedShotSizes(fake.url);
      assert.deepEqual(zipEntries(await readFile(await all.path())), [1, 2, 3].map((n) => [`shot-${n}.mp4`, served[n - 1]]));
      const [one] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download shot 1' }).click()]);
      assert.equal(one.suggestedFilename(), 'shot-1.mp4');
      assert.equal(page.url(), url);
      // Download video reads the shots the same way: the film of the three 2 s clips.
      const [film] = await Promise.all([
        page.waitForEvent('download', { timeout: 120_000 }),
        page.locator('.ms-generate').getByRole('button', { name: 'Download video', exact: true }).click(),
      ]);
      assert.equal(film.suggestedFilename(), 'multi-shot-sequence.mp4');
      const made = await readFile(await film.path());
      assert.equal(made.toString('latin1', 4, 8), 'ftyp');
      assert.ok(made.length > 10_000, `${made.length} bytes`);
      // Each read through the proxy (the key stays out of those reads: proxy/tests/proxy.rs).
      const relayed = page.seen.requests.filter((r) => r.url().startsWith(`${proxy.url}/api/v3/predictions/${token}/outputs/`));
      assert.deepEqual(relayed.map((r) => new URL(r.url()).pathname.split('/').pop()).sort(), ['1', '1', '1', '2', '2', '3', '3']);
    } finally {
      await fake.scenario({});
    }
    assert.deepEqual(page.seen.errors, []);
  });

  test('a page on an origin the proxy does not allow is refused before anything reaches WaveSpeed', async () => {
    const before = (await fake.log()).length;
    const page = await openApp(other.url);
    await chooseAndGenerate(page);
    // The page reads the proxy's refusal (not "could not reach the server"): the
    // sentence names the page's origin and what the owner must do.
    const origin = new URL(other.url).origin;
    const alert = page.getByRole('alert').filter({ hasText: 'is not allowed to use this site\'s generator' });
    await alert.waitFor({ timeout: 15_000 });
    assert.ok(
      (await alert.innerText()).startsWith(`Upload failed: This page (${origin}) is not allowed to use this site's generator: its owner must add the page's origin to the proxy's --allow-origin. `),
      await alert.innerText(),
    );
    assert.equal((await fake.log()).length, before, 'nothing reached WaveSpeed');
  });

  test('what a script on the page can try: other paths, forged tokens, files the rules refuse', async () => {
    const page = await openApp();
    const before = (await fake.log()).length;
    const tried = await page.evaluate(async (proxyUrl) => {
      const status = async (path, init) => {
        const r = await fetch(proxyUrl + path, init);
        return [path, r.status, (await r.json()).message];
      };
      const png = (w, h) => {
        const b = new Uint8Array(4096);
        b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
        new DataView(b.buffer).setUint32(16, w);
        new DataView(b.buffer).setUint32(20, h);
        b.set([8, 2, 0, 0, 0], 24);
        return b;
      };
      const upload = (bytes, name) => {
        const form = new FormData();
        form.append('file', new Blob([bytes]), name);
        return status('/api/v3/media/upload/binary', { method: 'POST', body: form });
      };
      return [
        await status('/api/v3/balance'),
        await status('/api/v3/predictions', { method: 'POST', body: '{}' }),
        await status('/api/v3/predictions/45a96667279e4a2f83cfe131566d4923/result'),
        await status('/api/v3/predictions/v1.45a96667279e4a2f83cfe131566d4923.9999999999.AAAAAAAAAAAAAAAAAAAAAA/result'),
        await upload(new TextEncoder().encode('<svg onload=alert(1)>'), 'photo.png'),
        await upload(png(200, 200), 'small.png'),
        await upload(png(3000, 1000), 'wide.png'),
      ];
    }, proxy.url);
    assert.deepEqual(tried.map(([path, s]) => [path.slice(0, 60), s]), [
      ['/api/v3/balance', 404],
      ['/api/v3/predictions', 404],
      ['/api/v3/predictions/45a96667279e4a2f83cfe131566d4923/result', 404],
      ['/api/v3/predictions/v1.45a96667279e4a2f83cfe131566d4923.9999', 404],
      ['/api/v3/media/upload/binary', 422],
      ['/api/v3/media/upload/binary', 422],
      ['/api/v3/media/upload/binary', 422],
    ]);
    assert.match(tried[4][2], /^File type: The file is an SVG drawing, whatever its name says/);
    assert.match(tried[5][2], /^Minimum size: The image is 200 × 200 px/);
    assert.match(tried[6][2], /^Aspect ratio: The image is 3000 × 1000 px, a shape of 3\.00:1/);
    assert.equal((await fake.log()).length, before, 'none of it reached WaveSpeed');
  });

  test('a 402 from WaveSpeed reads to the visitor as the site being unavailable, not as the owner\'s balance', async () => {
    const page = await openApp();
    await fake.scenario({ faults: { upload: [{ status: 402, body: '{"code":402,"message":"Insufficient balance"}' }] } });
    try {
      await chooseAndGenerate(page);
      const alert = page.getByRole('alert').filter({ hasText: 'The generator on this site is unavailable right now; your image was not charged.' });
      await alert.waitFor({ timeout: 15_000 });
      const text = await page.locator('.ms-generate').innerText();
      assert.ok(!/402|Insufficient|balance/i.test(text), `the owner's problem is not the visitor's: ${text}`);
    } finally {
      await fake.scenario({});
    }
    assert.equal(kinds(await fake.log(), 'submit').length, 1, 'nothing was submitted');
    await page.close();
  });

  test('the runs left beside Generate; the budget used up keeps Generate disabled with the proxy\'s message, and a submit beyond the cap is refused', async () => {
    // The first test ran one job of the two the day allows.
    const page = await openApp();
    const runsLeft = page.getByRole('status').filter({ hasText: '1 run left today' });
    await runsLeft.waitFor();
    assert.ok(!/\$/.test(await runsLeft.innerText()), 'a visitor is not told the price: the site pays');
    // Another visitor takes the last run while this page still says one is left.
    const other = await fetch(`${proxy.url}/api/v3/kwaivgi/kling-v1/ai-multi-shot`, {
      method: 'POST',
      headers: { Origin: new URL(app.url).origin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: 'https://images.example/photo.jpg' }),
    });
    assert.equal(other.status, 200, await other.text());
    assert.equal(kinds(await fake.log(), 'submit').length, 2);
    // The submit is refused with the proxy's sentence, and then the line says it too.
    await chooseAndGenerate(page);
    const used = "This site's daily budget is used up; it resets at 00:00 UTC.";
    await page.getByRole('alert').filter({ hasText: used }).waitFor({ timeout: 15_000 });
    const text = await page.locator('.ms-generate').innerText();
    assert.ok(!text.includes('429'), 'the proxy\'s sentence is shown as it is');
    await page.getByRole('status').filter({ hasText: used }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isDisabled(), true);
    assert.equal(kinds(await fake.log(), 'submit').length, 2, 'no submit beyond the cap reached WaveSpeed');
    assert.match(await proxy.metrics(), /multishot_proxy_limits_hit_total\{limit="daily_budget"\} 1/);
    // A visitor arriving now reads it before choosing anything, and Generate stays off.
    await page.reload();
    await appMounted(page);
    await page.getByRole('status').filter({ hasText: used }).waitFor();
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
    await page.locator('.ms-ok').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isDisabled(), true);
    // /quota read the counters and took nothing from them.
    assert.equal(kinds(await fake.log(), 'submit').length, 2);
    assert.doesNotMatch(await proxy.metrics(), /limit="daily_budget"\} [2-9]/);
  });
});
