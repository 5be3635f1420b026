// End to end: the README's worked example, followed word for word on local ports. Three
// origins as in real life: the app (the GitHub Pages build under /multishot/, on
// 127.0.0.1), the site owner's multishot-proxy (its own port), and the marketing page
// framing the app (on `localhost`, another *site*: this Chromium gives such a frame no
// storage, as every browser with third-party cookies blocked does). The README's shell
// line, config.json and HTML snippet are read from README.md and only their example
// addresses replaced by the local ones.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { startProxy } from './support/proxy.mjs';
import { comesIntoView, expectPlayingShots } from './support/shots.mjs';
import { ROOT, FIXTURES, takeDown } from './support/suite.mjs';

const PAGES_DIST = join(ROOT, 'target/dist-multishot');
const KEY = 'wsk_live_E2EREADME0c4e2a9b1f';

// The README's example addresses.
const README_APP = 'https://owner.github.io/multishot/';
const README_APP_ORIGIN = 'https://owner.github.io';
const README_PROXY = 'https://gen.your-site.example';
const README_HOST = 'https://www.your-site.example';

/** The README's blocks of one language, in order. */
function blocks(readme, language) {
  return [...readme.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/** What the README says to do, with its example addresses replaced. */
async function readmeSteps(local) {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const swap = (text) => text
    .replaceAll(README_APP, local.app)
    .replaceAll(README_APP_ORIGIN, new URL(local.app).origin)
    .replaceAll(README_PROXY, local.proxy)
    .replaceAll(README_HOST, local.host);
  const shell = blocks(readme, 'sh').find((b) => b.includes('multishot-proxy') && b.includes('--allow-origin'));
  const flags = shell.replace(/\\\n/g, ' ').split(/\s+/);
  const allowed = flags.flatMap((f, i) => (f === '--allow-origin' ? [swap(flags[i + 1])] : []));
  const config = JSON.parse(swap(blocks(readme, 'json').find((b) => b.includes('embed_parent_origins'))));
  const snippet = swap(blocks(readme, 'html').find((b) => b.includes('<iframe')));
  return { allowed, config, snippet };
}

let fake;
let browser;
let hosts;
const started = [];

before(async () => {
  fake = await startFake(['--key', KEY]);
  hosts = await mkdtemp(join(tmpdir(), 'ms-live-'));
  // A phone, as most visitors are.
  browser = await launch({ viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true });
});

after(async () => {
  await takeDown(browser, fake, ...started);
  await rm(hosts, { recursive: true, force: true });
});

beforeEach(async () => {
  await fake.reset();
  for (const page of browser.context.pages()) await page.close();
});

/**
 * The three parts set up as the README says: the proxy allowing the origins the README
 * names (`allow`: another origin instead, as a mistaken owner would), the app's
 * config.json, and the marketing page with the README's snippet (`page` changes it).
 */
async function siteAsTheReadmeSays({ allow, page = (snippet) => snippet } = {}) {
  const config = {};
  const app = await serveStatic(PAGES_DIST, { basePath: '/multishot/', overrides: config });
  const host = await serveStatic(hosts);
  const hostOrigin = `http://localhost:${new URL(host.url).port}`;
  // The proxy's address is known once it runs; the origins it allows come first.
  const named = await readmeSteps({ app: app.url, proxy: 'http://proxy.invalid', host: hostOrigin });
  const proxy = await startProxy({
    key: KEY,
    upstream: fake.url,
    origins: allow ? [allow(hostOrigin)] : named.allowed,
    flags: ['--polls-per-ip-per-second', '20'],
  });
  started.push(app, host, proxy);
  const steps = await readmeSteps({ app: app.url, proxy: proxy.url, host: hostOrigin });
  // Polled twice a second here, so that the test is quick (the only setting added).
  config['config.json'] = JSON.stringify({ ...steps.config, poll_interval_ms: 500 });
  const name = `shop-${started.length}.html`;
  await writeFile(join(hosts, name), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Our shop</title><style>body { margin: 0; padding: 12px; font-family: serif }</style></head>
<body><h1>Our shop</h1><p>Try our camera-angle generator:</p>
${page(steps.snippet)}
<p>Free shipping on every order.</p>
<script>
  window.events = [];
  document.addEventListener('multishot', (e) => window.events.push(e.detail));
</script>
</body></html>`);
  return { url: `${hostOrigin}/${name}`, app, proxy, steps, hostOrigin };
}

async function openShop(url) {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(url);
  const frame = page.frameLocator('iframe');
  return { page, frame };
}

/** The frame's own storage, as the app meets it. */
const frameStorage = (page) => page.frames()[1].evaluate(() => {
  try {
    return typeof window.localStorage.length === 'number' ? 'yes' : 'no';
  } catch (e) {
    return e.name;
  }
});

async function chooseAndGenerate(frame) {
  await frame.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await frame.locator('.ms-ok').waitFor();
  await frame.getByRole('button', { name: 'Generate' }).click();
}

const kinds = (log, kind) => log.filter((e) => e.kind === kind);


describe("the README's worked example", () => {
  test('the steps give a working embed: it fits from its first second, and a reload mid-run finds the run in a frame with no storage', async () => {
    const site = await siteAsTheReadmeSays();
    assert.deepEqual(site.steps.allowed, [new URL(site.app.url).origin], 'the proxy allows the app\'s origin');
    const { page, frame } = await openShop(site.url);
    // The frame fits the app before anything is done (no example outputs here).
    await appMounted(frame);
    const upload = frame.locator('label[for="ms-image-file"]');
    await upload.waitFor();
    await page.waitForFunction(() => document.querySelector('iframe').getBoundingClientRect().height > 300, null, { timeout: 4000 });
    const fit = await page.frames()[1].evaluate(() => ({ content: document.documentElement.scrollHeight, view: innerHeight }));
    assert.ok(fit.content <= fit.view + 1, `the frame fits its content (${fit.content}px in ${fit.view}px)`);
    assert.equal(await upload.isVisible(), true);
    assert.equal(await frameStorage(page), 'SecurityError', 'this browser gives the cross-site frame no storage');

    // A run, kept by the host page; the wait promises what is true.
    await chooseAndGenerate(frame);
    await frame.getByRole('progressbar', { name: 'Progress' }).waitFor();
    await frame.getByText('You can close this page — the result is kept under Your recent results.').waitFor();
    const kept = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('multishot-frame:multishot.job.')));
    assert.equal(kept.length, 1, 'the host page keeps the run');

    // A reload in the middle: the run is found again and finishes, with one submit, and
    // its result is brought into the phone's view (the page scrolls to the frame's).
    await page.reload();
    await frame.getByRole('list', { name: 'Shots' }).waitFor({ timeout: 20_000 });
    await comesIntoView(page, frame.locator('video[aria-label="Sequence"]'));
    await expectPlayingShots(frame.locator('.ms-generate'));
    assert.equal(kinds(await fake.log(), 'submit').length, 1, 'one paid run');
    const events = await page.evaluate(() => window.events.map((e) => e.type).filter((t) => t !== 'resize'));
    assert.deepEqual(events, ['job-completed'], 'the host hears how the run ended');

    // The owner's one line for the run, beside /metrics: no address, no key.
    const finished = site.proxy.output().split('\n').filter((l) => l.includes('"run finished"')).map((l) => JSON.parse(l));
    assert.equal(finished.length, 1, 'one line per finished run');
    const { message, ...line } = finished[0].fields;
    const token = (await page.evaluate(() => Object.keys(localStorage)))[0].replace('multishot-frame:multishot.job.', '');
    assert.equal(message, 'run finished');
    assert.deepEqual(
      { ...line, visitor: /^[0-9a-f]{16}$/.test(line.visitor) },
      { token, origin: new URL(site.app.url).origin, visitor: true, price: '$0.07', outcome: 'completed', refunded: false, shots: 3 },
    );
    assert.ok(!finished[0].fields.visitor.includes('127.0.0.1'));

    // The host page gives back only tasks sent through a proxy: a record naming another
    // address for a task sent with a key (it would carry the key there) is not taken.
    await page.evaluate(() => {
      const [name] = Object.keys(localStorage).filter((k) => k.startsWith('multishot-frame:multishot.job.'));
      const forged = { ...JSON.parse(localStorage.getItem(name)), id: 'forged-task-1', base: 'https://evil.example/', proxy: false, status: 'processing' };
      localStorage.setItem('multishot-frame:multishot.job.forged-task-1', JSON.stringify(forged));
    });
    await page.reload();
    await frame.locator(`.ms-history-item[data-task="${token}"]`).waitFor();
    assert.equal(await frame.locator('.ms-history-item[data-task="forged-task-1"]').count(), 0, 'a forged direct task is not taken');
    assert.deepEqual(page.errors, []);
  });

  test('a host page that loads frame.js late still gets the frame\'s height', async () => {
    const site = await siteAsTheReadmeSays({
      page: (snippet) => snippet.replace(/<script [^>]*frame\.js[^>]*><\/script>/, ''),
    });
    const { page, frame } = await openShop(site.url);
    await appMounted(frame);
    await page.waitForTimeout(1500); // the app has said its height, to nobody
    assert.ok(await page.evaluate(() => document.querySelector('iframe').getBoundingClientRect().height) < 200);
    const src = `${site.app.url}frame.js`;
    await page.evaluate((src) => {
      const script = document.createElement('script');
      script.src = src;
      document.body.append(script);
    }, src);
    await page.waitForFunction(() => document.querySelector('iframe').getBoundingClientRect().height > 300, null, { timeout: 4000 });
  });

  test('with no frame.js and no storage, the wait never promises that closing the page is safe', async () => {
    const site = await siteAsTheReadmeSays({
      page: (snippet) => snippet
        .replace(/<script [^>]*frame\.js[^>]*><\/script>/, '')
        .replace('style="width:100%;border:0"', 'style="width:100%;border:0;height:900px"'),
    });
    const { page, frame } = await openShop(site.url);
    await appMounted(frame);
    assert.equal(await frameStorage(page), 'SecurityError');
    await chooseAndGenerate(frame);
    await frame.getByRole('progressbar', { name: 'Progress' }).waitFor();
    await frame.getByText('Keep this page open until the result is in: this browser does not let the page keep it.').waitFor();
    assert.equal(await frame.getByText('You can close this page').count(), 0);
    await expectPlayingShots(frame.locator('.ms-generate'));
  });

  test('an --allow-origin naming the marketing page instead of the app: the visitor reads what is wrong, the host gets code "origin"', async () => {
    const site = await siteAsTheReadmeSays({ allow: (hostOrigin) => hostOrigin });
    const { page, frame } = await openShop(site.url);
    await appMounted(frame);
    await chooseAndGenerate(frame);
    const appOrigin = new URL(site.app.url).origin;
    const alert = frame.getByRole('alert').filter({ hasText: 'not allowed' });
    await alert.waitFor({ timeout: 15_000 });
    assert.match(await alert.innerText(), new RegExp(`This page \\(${appOrigin.replaceAll('.', '\\.')}\\) is not allowed to use this site's generator: its owner must add the page's origin to the proxy's --allow-origin\\.`));
    assert.doesNotMatch(await frame.locator('body').innerText(), /check your connection/i);
    await page.waitForFunction(() => window.events.some((e) => e.type === 'job-failed'));
    const failed = await page.evaluate(() => window.events.find((e) => e.type === 'job-failed'));
    assert.equal(failed.code, 'origin');
    assert.equal(kinds(await fake.log(), 'upload').length, 0, 'nothing reached WaveSpeed');
  });
});
