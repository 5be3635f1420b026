// End to end: `make serve`'s sandbox, as the Makefile starts it — the fake WaveSpeed
// with its pretend key, multishot-proxy holding that key, and the page with the config
// the fake serves at /__sandbox/config.json. Through the proxy first; then, as the
// sandbox's note says, straight to the fake with the pretend key it shows.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { startProxy } from './support/proxy.mjs';
import { expectPlayingShots } from './support/shots.mjs';
import { DIST, FIXTURES, ROOT, takeDown } from './support/suite.mjs';
import { readFile } from 'node:fs/promises';

let fake;
let proxy;
let app;
let browser;
let key;

before(async () => {
  // The Makefile's pretend key, read from it.
  const makefile = await readFile(join(ROOT, 'Makefile'), 'utf8');
  key = makefile.match(/^SANDBOX_KEY := (\S+)$/m)[1];
  const config = {};
  app = await serveStatic(DIST, { overrides: config });
  // The fake first (the proxy needs it; the proxy's address is put in below), then the
  // proxy, then the page's config as the fake serves it.
  // As the Makefile starts it: still images, as the model most likely gives.
  assert.match(makefile, /fake-wavespeed --image-shots /);
  fake = await startFake(['--image-shots', '--key', key, '--sandbox-proxy', 'http://proxy.invalid']);
  proxy = await startProxy({ key, upstream: fake.url, origins: [new URL(app.url).origin] });
  const served = await (await fetch(`${fake.url}/__sandbox/config.json`)).json();
  assert.equal(served.sandbox_key, key);
  assert.equal(served.api_base, fake.url);
  config['config.json'] = JSON.stringify({ ...served, proxy_url: proxy.url, poll_interval_ms: 500 });
  browser = await launch();
});

after(() => takeDown(browser, proxy, fake, app));

const kinds = (log, kind) => log.filter((e) => e.kind === kind);

async function generate(page) {
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.locator('.ms-ok').waitFor();
  await page.getByRole('button', { name: /^Generate/ }).click();
  await expectPlayingShots(page.locator('.ms-generate'));
  // The shots are the fake's still images.
  assert.equal(await page.locator('.ms-generate img.ms-slide').count(), 1);
}

describe('the sandbox', () => {
  test('shows its pretend key, runs through the proxy, then straight to the fake with that key', async () => {
    assert.match(key, /^wsk_sandbox_/);
    const page = await browser.context.newPage();
    await page.goto(app.url);
    await appMounted(page);
    const note = page.getByRole('note').filter({ hasText: 'Sandbox' });
    assert.equal(
      await note.innerText(),
      `Sandbox: sample shots, no cost, through the local proxy. To try it with a key, clear the Proxy URL and enter the local fake's pretend key: ${key}`,
    );

    // Through the proxy: the page sends no key.
    await generate(page);
    let log = await fake.log();
    assert.equal(kinds(log, 'submit').length, 1);
    assert.equal(kinds(log, 'submit')[0].authorization, `Bearer ${key}`, 'the proxy adds the key');

    // As the note says: the proxy cleared, the pretend key typed — straight to the fake.
    await page.getByLabel('Proxy URL').fill('');
    await page.getByLabel('API key').fill(key);
    await page.locator('.ms-mode[data-mode="direct"]').waitFor();
    await page.getByRole('button', { name: 'New image' }).click();
    await fake.reset();
    await generate(page);
    log = await fake.log();
    const submit = kinds(log, 'submit')[0];
    assert.equal(submit.authorization, `Bearer ${key}`);
    assert.equal(kinds(log, 'submit').length, 1);
    assert.equal(proxy.output().match(/run submitted/g)?.length, 1, 'the second run did not go through the proxy');
  });
});
