// End to end: a server (or proxy) that misbehaves. Replies that never end, that are not
// UTF-8, nested ten thousand deep, or several MB long; outputs with javascript:, data:text/html and
// file: addresses; task ids with ../ and ?; Set-Cookie; a redirect to another origin.
// Each is handled: nothing unsafe is rendered or followed, and the page says what went
// wrong, with the task id kept where there is one.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { FIXTURES, serveApp, takeDown, cleanSlate } from './support/suite.mjs';


let proxy;
let elsewhere; // another origin a redirect points to
let app;
let browser;

before(async () => {
  proxy = await startFake(['--proxy']);
  elsewhere = await serveStatic(FIXTURES, { cors: true });
  app = await serveApp({ proxy_url: proxy.url, poll_interval_ms: 500 });
  browser = await launch();
});

after(() => takeDown(browser, proxy, elsewhere, app));

beforeEach(() => cleanSlate({ browser, app, fakes: [proxy], cookies: true }));

async function startJob() {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(app.url);
  await page.locator('.ms-mode[data-mode="proxy"]').waitFor();
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.locator('.ms-ok').waitFor();
  await page.getByRole('button', { name: 'Generate' }).click();
  return page;
}

const alertText = (page) => page.locator('.ms-generate').getByRole('alert').first().innerText();

describe('hostile replies while polling', () => {
  for (const [name, fault, pattern] of [
    ['invalid UTF-8', { body_hex: 'fffe7b22636f6465223a3230307dc3' }, /Stopped: The server's reply could not be understood: not JSON/],
    ['JSON nested 10,000 deep', { body: '['.repeat(10_000) + ']'.repeat(10_000) }, /Stopped: The server's reply could not be understood: not JSON \(at line 1, column \d+\)/],
    ['a reply of 5 MB', { body: `{"code":200,"message":"${'x'.repeat(5_000_000)}"}` }, /Stopped: The server's reply could not be understood: no `data` object/],
  ]) {
    test(`${name}: a clear message, the task id kept, Check again goes on`, async () => {
      await proxy.scenario({ faults: { poll: [fault] } });
      const page = await startJob();
      const alert = page.locator('.ms-generate').getByRole('alert');
      await alert.waitFor({ timeout: 15_000 });
      assert.match(await alertText(page), pattern);
      const id = await page.locator('.ms-generate [data-task-id]').innerText();
      assert.ok(id.length > 0, 'the task id is still shown');
      await page.locator('.ms-generate').getByRole('button', { name: 'Check again' }).click();
      await page.locator('.ms-generate').getByRole('list', { name: 'Shots' }).waitFor({ timeout: 15_000 });
      assert.deepEqual(page.errors, []);
    });
  }

  test('outputs with javascript:, data:text/html and file: are not put into the page', async () => {
    await proxy.scenario({
      outputs: ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'file:///etc/passwd', 'JaVaScRiPt:alert(1)'],
    });
    const page = await startJob();
    const list = page.locator('.ms-generate').getByRole('list', { name: 'Shots' });
    await list.waitFor({ timeout: 15_000 });
    const alerts = await list.getByRole('alert').allInnerTexts();
    assert.equal(alerts.length, 4, alerts.join('\n'));
    assert.ok(alerts.every((a) => /Not shown/.test(a)));
    const used = await page.evaluate(() => [...document.querySelectorAll('[src],[href]')].map((e) => e.getAttribute('src') ?? e.getAttribute('href')));
    assert.ok(used.every((u) => !/^(javascript|data:text|file)/i.test(u)), used.join());
  });

  test('a reply that never ends is given up after 30 s and polling goes on', async () => {
    await proxy.scenario({ faults: { poll: [{ never_ends: true }] } });
    const page = await startJob();
    await page.getByText('The server did not answer in time. Retrying…').waitFor({ timeout: 45_000 });
    assert.equal(await page.locator('.ms-generate').getByRole('alert').count(), 0, 'a retry, not an error');
    await page.locator('.ms-generate').getByRole('list', { name: 'Shots' }).waitFor({ timeout: 15_000 });
    assert.deepEqual(page.errors, []);
  });

  test('Set-Cookie from the server is not kept', async () => {
    await proxy.scenario({ faults: { poll: [{ set_cookie: 'session=stolen; Path=/' }, { set_cookie: 'x=1; SameSite=None; Secure' }] } });
    const page = await startJob();
    await page.locator('.ms-generate').getByRole('list', { name: 'Shots' }).waitFor({ timeout: 15_000 });
    assert.deepEqual(await browser.context.cookies(), []);
    assert.equal(await page.evaluate(() => document.cookie), '');
  });

  test('a redirect to another origin is not followed: the poll fails, is retried, and completes', async () => {
    await proxy.scenario({ faults: { poll: [{ redirect: `${elsewhere.url}valid.jpg` }] } });
    const page = await startJob();
    await page.locator('.ms-generate').getByRole('list', { name: 'Shots' }).waitFor({ timeout: 15_000 });
    assert.deepEqual(elsewhere.requests, [], 'nothing reached the other origin');
    const polls = (await proxy.log()).filter((e) => e.kind === 'poll');
    assert.equal(polls[0].status, 302);
  });
});

describe('hostile task ids', () => {
  for (const id of ['../../api/v3/kwaivgi', 'abc?x=1', 'a/b', '..']) {
    test(`the id ${JSON.stringify(id)} is refused and never put in a URL`, async () => {
      await proxy.scenario({ task_id: id });
      const page = await startJob();
      const alert = page.locator('.ms-generate').getByRole('alert');
      await alert.waitFor({ timeout: 10_000 });
      assert.match(await alertText(page), /Could not start the job: The server's reply could not be understood: the task id .* is not one WaveSpeed would give/);
      assert.match(await alertText(page), /may exist at WaveSpeed/);
      await page.waitForTimeout(1200);
      const log = await proxy.log();
      assert.equal(log.filter((e) => e.kind === 'poll').length, 0, 'no poll');
      const paths = log.filter((e) => e.method !== 'OPTIONS').map((e) => e.path);
      // (/quota: the page asks a proxy for the runs left, at a fixed path.)
      const fixed = ['/api/v3/media/upload/binary', '/api/v3/kwaivgi/kling-v1/ai-multi-shot', '/quota'];
      assert.ok(paths.every((p) => fixed.includes(p) || p.startsWith('/media/')), paths.join());
      assert.deepEqual(page.errors, []);
    });
  }
});
