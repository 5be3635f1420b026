// End to end: static hosting and embedding. The GitHub Pages build under a sub-path
// (built by `make test-e2e` exactly as .github/workflows/pages.yml builds it), deep
// links, the Content-Security-Policy, the iframe embed with its messages to allowed
// parent origins only, and the script mount into a host page with hostile CSS.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { comesIntoView, expectPlayingShots } from './support/shots.mjs';
import { ROOT, DIST, FIXTURES, takeDown, cleanSlate } from './support/suite.mjs';

const PAGES_DIST = join(ROOT, 'target/dist-multishot');
const SCREENSHOTS = join(ROOT, 'target/screenshots');

let proxy;
let browser;
let hosts; // folder of host pages
const servers = [];

before(async () => {
  proxy = await startFake(['--proxy']);
  browser = await launch();
  hosts = await mkdtemp(join(tmpdir(), 'ms-hosts-'));
  await mkdir(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await takeDown(browser, proxy, ...servers);
  await rm(hosts, { recursive: true, force: true });
});

beforeEach(() => cleanSlate({ browser, fakes: [proxy] }));

async function serve(root, options) {
  const server = await serveStatic(root, options);
  servers.push(server);
  return server;
}

/** A page that records CSP violations and page errors. */
async function newPage() {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return page;
}

const kinds = (log, kind) => log.filter((e) => e.kind === kind);

/** Chooses the valid JPEG in `scope` (a page or a frame) and presses Generate. */
async function generateIn(scope) {
  await scope.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await scope.locator('.ms-ok').waitFor();
  await scope.getByRole('button', { name: 'Generate' }).click();
}

describe('GitHub Pages', () => {
  test('the sub-path build works end to end, and a deep link shows the app', async () => {
    const site = await serve(PAGES_DIST, {
      basePath: '/multishot/',
      notFound: '404.html',
      overrides: { 'config.json': JSON.stringify({ proxy_url: proxy.url, poll_interval_ms: 500 }) },
    });
    const page = await newPage();
    await page.goto(site.url);
    await appMounted(page);
    await page.waitForFunction(() => document.querySelector('.ms-mode')?.dataset.mode === 'proxy');
    await generateIn(page);
    await expectPlayingShots(page);
    assert.equal(kinds(await proxy.log(), 'submit').length, 1);
    const origin = new URL(site.url).origin;
    const misses = site.requests.filter((r) => !r.startsWith('GET /multishot/'));
    assert.deepEqual(misses, [], 'every file and fetch of the app is under /multishot/');
    assert.deepEqual(await page.evaluate(() => window.__violations), [], 'no CSP violation');
    assert.ok(await page.evaluate(() => !!document.querySelector('meta[http-equiv="Content-Security-Policy"]')));

    // A deep link: the server answers 404 with 404.html, which is the app.
    const deep = await newPage();
    const response = await deep.goto(`${origin}/multishot/shots/some/deep/link?from=mail`);
    assert.equal(response.status(), 404);
    await appMounted(deep);
    await deep.waitForFunction(() => document.querySelector('.ms-mode')?.dataset.mode === 'proxy');
    assert.equal(await deep.getByLabel('Proxy URL').inputValue(), proxy.url, 'config.json read from the site root');
    assert.deepEqual(await deep.evaluate(() => window.__violations), []);
    assert.deepEqual([...page.errors, ...deep.errors], []);
  });
});

describe('iframe embed', () => {
  let app;
  let allowed;
  let refused;

  before(async () => {
    await writeFile(join(hosts, 'frame.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host with a frame</title>
<style>body { margin: 0; padding: 16px; font-family: serif; background: #fafaf0 } iframe { width: 100%; border: 0; height: 400px }</style></head>
<body><h1>Our shop</h1><p>Try our camera-angle generator:</p>
<iframe id="ms" title="Multi-Shot Studio"></iframe>
<script>
  window.received = [];
  const frame = document.getElementById('ms');
  frame.src = new URLSearchParams(location.search).get('app') + 'index.html?embed=1';
  addEventListener('message', (e) => {
    window.received.push({ origin: e.origin, data: e.data });
    if (e.data && e.data.type === 'resize') frame.style.height = e.data.height + 'px';
  });
</script></body></html>`);
    allowed = await serve(hosts);
    refused = await serve(hosts);
    app = await serve(DIST, {
      overrides: {
        'config.json': JSON.stringify({
          proxy_url: proxy.url,
          poll_interval_ms: 500,
          embed_parent_origins: [new URL(allowed.url).origin],
        }),
      },
    });
  });

  async function openHost(server, width = 1280) {
    const page = await newPage();
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${server.url}frame.html?app=${encodeURIComponent(app.url)}`);
    const frame = page.frameLocator('#ms');
    await appMounted(frame);
    return { page, frame };
  }

  test('an allowed parent gets the start, completion (with outputs) and its height', async () => {
    const { page, frame } = await openHost(allowed);
    assert.equal(await frame.locator('h1').count(), 0, 'compact: no page header');
    await frame.locator('.ms-mode[data-mode="proxy"]').waitFor();
    await generateIn(frame);
    await expectPlayingShots(frame);
    await page.waitForFunction(() => window.received.some((m) => m.data.type === 'job-completed'));
    const messages = await page.evaluate(() => window.received);
    const appOrigin = new URL(app.url).origin;
    assert.ok(messages.every((m) => m.origin === appOrigin && m.data.source === 'multishot-studio'));
    const types = messages.map((m) => m.data.type).filter((t) => t !== 'resize');
    assert.deepEqual(types, ['job-started', 'job-completed']);
    const done = messages.find((m) => m.data.type === 'job-completed').data;
    const submit = kinds(await proxy.log(), 'submit')[0];
    assert.equal(done.task_id, submit.task);
    assert.equal(done.outputs.length, 3);
    assert.ok(done.outputs.every((u) => u.startsWith(proxy.url)), JSON.stringify(done.outputs));
    // The host fits the frame to the app: no scrollbar inside the frame.
    await page.waitForTimeout(500);
    const inner = await page.frames()[1].evaluate(() => ({
      scroll: document.documentElement.scrollHeight,
      view: window.innerHeight,
    }));
    assert.ok(inner.scroll <= inner.view + 1, `frame content ${inner.scroll}px in a ${inner.view}px frame`);
    await page.screenshot({ path: join(SCREENSHOTS, 'embed-iframe-desktop.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  });

  test('job-failed tells a program where and what: stage and code beside the sentence', async () => {
    const { page, frame } = await openHost(allowed);
    // The upload is refused: nothing was created.
    await proxy.scenario({ faults: { upload: [{ status: 401, message: 'no' }] } });
    await generateIn(frame);
    await frame.getByText('Upload failed:').waitFor();
    // The task itself fails.
    await proxy.scenario({ statuses: ['created', 'failed'], error: 'GPU fell over' });
    await frame.getByRole('button', { name: 'Generate' }).click();
    await frame.getByText('The task ended as “failed”').waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => window.received.filter((m) => m.data.type === 'job-failed').length === 2);
    const failed = (await page.evaluate(() => window.received))
      .map((m) => m.data)
      .filter((d) => d.type === 'job-failed')
      .map(({ task_id, stage, code, error }) => ({ task: task_id !== null, stage, code, error }));
    assert.deepEqual(failed, [
      // Through a proxy the visitor reads that the site cannot run it; the code keeps the detail.
      { task: false, stage: 'upload', code: 'unauthorized', error: 'Upload failed: The generator on this site is unavailable right now; your image was not charged.' },
      { task: true, stage: 'task', code: 'failed', error: 'The task ended as “failed”: GPU fell over' },
    ]);
  });

  test('?theme= of the host wins over the visitor\'s OS', async () => {
    for (const [os, theme] of [['dark', 'light'], ['light', 'dark']]) {
      const page = await newPage();
      await page.emulateMedia({ colorScheme: os });
      await page.goto(`${app.url}index.html?embed=1&theme=${theme}`);
      await appMounted(page);
      const seen = await page.locator('.ms-app').evaluate((root) => ({
        theme: root.dataset.theme,
        dark: getComputedStyle(document.querySelector('.ms-card')).backgroundColor.match(/\d+/g).slice(0, 3).every((c) => Number(c) < 128),
      }));
      assert.deepEqual(seen, { theme, dark: theme === 'dark' }, `${theme} on a ${os} OS`);
      await page.close();
    }
  });

  // What a frame shows before the wasm arrives: first-view.test.mjs.

  test('a parent origin not allowed receives nothing', async () => {
    const { page, frame } = await openHost(refused);
    await generateIn(frame);
    await expectPlayingShots(frame);
    await page.waitForTimeout(1000);
    assert.deepEqual(await page.evaluate(() => window.received), []);
  });

  test('at phone width the frame fits the app too', async () => {
    const { page, frame } = await openHost(allowed, 390);
    await generateIn(frame);
    await expectPlayingShots(frame);
    await page.waitForTimeout(500);
    const inner = await page.frames()[1].evaluate(() => ({
      scroll: document.documentElement.scrollHeight,
      view: window.innerHeight,
      sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    }));
    assert.ok(inner.scroll <= inner.view + 1, `frame content ${inner.scroll}px in a ${inner.view}px frame`);
    assert.ok(inner.sideways <= 0, `the frame scrolls sideways by ${inner.sideways}px`);
    await page.screenshot({ path: join(SCREENSHOTS, 'embed-iframe-phone.png'), fullPage: true });
  });
});

describe('consumer embed (lock_proxy)', () => {
  let app;

  before(async () => {
    app = await serve(DIST, {
      overrides: {
        'config.json': JSON.stringify({
          proxy_url: proxy.url,
          lock_proxy: true,
          poll_interval_ms: 500,
          example_outputs: [1, 2, 3].map((k) => `${proxy.url}/outputs/shot-${k}.mp4`),
        }),
      },
    });
  });

  /** What a visitor must never be shown: the developer console's words. */
  const DEVELOPER_WORDS = ['API key', 'Proxy URL', 'base64', 'data: URI', 'never your key', 'paste', 'Ctrl+V',
    'Sandbox', 'clear the proxy URL', 'Look up', 'Cancel only stops', 'Drop an image', 'Image URL',
    'Task ID', 'Status:', 'checking', 'processing', 'created', '$0.07'];

  async function expectConsumerFace(page, when) {
    for (const label of ['API key', 'Proxy URL', 'Image URL', 'Look up a task']) {
      assert.equal(await page.getByLabel(label, { exact: true }).count() === 0
        || !(await page.getByLabel(label, { exact: true }).isVisible()), true, `${label} is shown ${when}`);
    }
    const text = await page.locator('body').innerText();
    const shown = DEVELOPER_WORDS.filter((w) => text.includes(w));
    assert.deepEqual(shown, [], `developer words ${when}`);
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(sideways <= 0, `the page scrolls sideways by ${sideways}px ${when}`);
  }

  for (const width of [320, 390]) {
    test(`on a ${width} px phone: one upload button, the rules in a line, an example, the job, recent results — nothing else`, async () => {
      const phone = await launch({ viewport: { width, height: 780 }, hasTouch: true, isMobile: true });
      try {
        const page = await phone.context.newPage();
        page.errors = [];
        page.on('pageerror', (e) => page.errors.push(e.message));
        await page.goto(`${app.url}index.html?embed=1`);
        await page.locator('.ms-app[data-face="consumer"]').waitFor();
        assert.equal(await page.evaluate(() => matchMedia('(pointer: coarse)').matches), true, 'a touch screen');
        // Before any image: the example result plays, the rules are in one line.
        const example = page.getByRole('group', { name: 'Example result' });
        await expectPlayingShots(example, 3, { downloads: false });
        assert.match(await page.locator('.ms-input').innerText(), /JPG or PNG · up to 10 MB · at least 300 × 300 px · from 1:2\.5 \(tall\) to 2\.5:1 \(wide\)/);
        const upload = page.locator('label[for="ms-image-file"]');
        const box = await upload.boundingBox();
        assert.ok(box.height >= 56 && box.width >= width - 100, `one big upload button (${box.width}×${box.height})`);
        await expectConsumerFace(page, 'before an image');
        await page.screenshot({ path: join(SCREENSHOTS, `consumer-embed-${width}-start.png`), fullPage: true });

        // The job: the example goes, the result comes, the visitor's results are kept.
        await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
        await page.locator('.ms-ok').waitFor();
        assert.equal(await example.count(), 0, 'the example gives way to the visitor\'s image');
        await page.getByRole('button', { name: 'Generate' }).click();
        await page.getByRole('progressbar', { name: 'Progress' }).waitFor();
        await expectConsumerFace(page, 'while waiting');
        // The result comes into view by itself, in a visitor's words: no task token, no
        // raw status, no price; each shot's actions behind one menu.
        await page.getByRole('list', { name: 'Shots' }).waitFor({ timeout: 20_000 });
        await comesIntoView(page, page.locator('.ms-generate video[aria-label="Sequence"]'));
        assert.match(await page.locator('.ms-generate .ms-job-status').innerText(), /^Ready( in \d+:\d\d)?$/);
        assert.equal(await page.locator('.ms-generate [data-task-id]').count(), 0, 'no task token');
        await page.getByRole('button', { name: 'Generate again', exact: true }).waitFor();
        const controls = await page.locator('.ms-generate .ms-shot-list').evaluate((list) =>
          [...list.querySelectorAll('button, a, summary')].filter((c) => c.checkVisibility({ visibilityProperty: true })).length);
        assert.equal(controls, 6, 'per shot: its marker and one menu');
        await expectPlayingShots(page.locator('.ms-generate'));
        const recent = page.getByRole('region', { name: 'Your recent results' });
        await recent.getByRole('list', { name: 'Past jobs' }).locator('img.ms-thumb').first().waitFor();
        assert.equal(await recent.locator('code').isVisible(), false, 'no task ids among the thumbnails');
        await expectConsumerFace(page, 'with a result');
        await page.screenshot({ path: join(SCREENSHOTS, `consumer-embed-${width}-result.png`), fullPage: true });
        assert.deepEqual(page.errors, []);
      } finally {
        await phone.close();
      }
    });
  }
});

describe('script mount', () => {
  let app;
  let host;

  before(async () => {
    app = await serve(DIST, { cors: true });
    await writeFile(join(hosts, 'mount.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host with hostile CSS</title>
<style>
  * { margin: 20px; font-size: 30px; color: rgb(255, 0, 0); box-sizing: content-box; letter-spacing: 3px }
  video { display: none }
  img { opacity: 0.1 }
  button { background: rgb(0, 255, 0); width: 12px; height: 12px; padding: 0 }
  div { border: 5px solid rgb(0, 255, 0); padding: 40px }
  section, ol, li { display: inline }
  p { text-transform: uppercase }
  input { display: none }
</style></head>
<body>
<h1 id="host-title">Our shop</h1>
<p id="host-text">Words of the host</p>
<video id="host-video"></video>
<div id="host-box">A host box</div>
<div id="mount" data-multishot data-proxy-url="${proxy.url}" data-lock-proxy data-poll-interval-ms="500" data-theme="dark">Loading…</div>
<script>
  window.received = [];
  document.addEventListener('multishot', (e) => window.received.push(e.detail));
</script>
<script type="module" src="${app.url}embed.js"></script>
</body></html>`);
    // A plain marketing page for the phone check.
    await writeFile(join(hosts, 'plain.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A plain host</title><style>body { margin: 0; font-family: Georgia, serif } main { padding: 16px }</style></head>
<body><main><h1>Make your product photos move</h1>
<div data-multishot data-proxy-url="${proxy.url}" data-lock-proxy data-theme="light" style="--ms-accent: #c2410c">Loading…</div>
</main><script type="module" src="${app.url}embed.js"></script></body></html>`);
    // Data attributes a careless or hostile page might set.
    await writeFile(join(hosts, 'hostile-attrs.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hostile attributes</title></head>
<body><div data-multishot data-proxy-url="javascript:alert(1)" data-api-base="ftp://example.com"
  data-poll-interval-ms="-5" data-max-wait-s="99999999" data-colour="red" data-lock-proxy="perhaps"
  data-theme="neon" data-embed-parent-origins="javascript:x https://ok.example/path">Loading…</div>
<script type="module" src="${app.url}embed.js"></script></body></html>`);
    host = await serve(hosts);
  });

  async function openHost(width, file = 'mount.html') {
    const page = await newPage();
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${host.url}${file}`);
    // The app, not the first view embed.js shows while it loads.
    await appMounted(page.locator('[data-multishot]'));
    // The settings (data attributes over config.json) are in: the key field goes.
    await page.locator('[data-multishot] .ms-connection').waitFor({ state: 'hidden' });
    return page;
  }

  test('renders correctly inside hostile CSS, leaves the host alone, and uses the proxy with no key field', async () => {
    const page = await openHost(1280);
    const app = page.locator('#mount .ms-app');
    // The host's own elements keep the host's styles.
    const hostStyles = await page.evaluate(() => {
      const s = (id, prop) => getComputedStyle(document.getElementById(id))[prop];
      return {
        title: [s('host-title', 'fontSize'), s('host-title', 'color')],
        text: s('host-text', 'textTransform'),
        video: s('host-video', 'display'),
        box: s('host-box', 'borderTopColor'),
        bodyMargin: getComputedStyle(document.body).marginTop,
      };
    });
    assert.deepEqual(hostStyles, {
      title: ['30px', 'rgb(255, 0, 0)'],
      text: 'uppercase',
      video: 'none',
      box: 'rgb(0, 255, 0)',
      bodyMargin: '20px',
    });
    // The app keeps its own.
    const own = await app.evaluate((root) => {
      const card = root.querySelector('.ms-card');
      const button = [...root.querySelectorAll('button')].find((b) => b.textContent === 'Generate');
      return {
        font: getComputedStyle(root).fontSize,
        cardBorder: getComputedStyle(card).borderTopColor,
        cardMargin: getComputedStyle(card).marginTop,
        buttonWidth: button.getBoundingClientRect().width,
        buttonBackground: getComputedStyle(button).backgroundColor,
        theme: root.dataset.theme,
        heading: getComputedStyle(root.querySelector('h2')).textTransform,
      };
    });
    assert.equal(own.font, '16px');
    assert.notEqual(own.cardBorder, 'rgb(0, 255, 0)');
    assert.equal(own.cardMargin, '0px');
    assert.ok(own.buttonWidth > 80, `Generate is ${own.buttonWidth}px wide`);
    assert.notEqual(own.buttonBackground, 'rgb(0, 255, 0)');
    assert.equal(own.theme, 'dark');
    assert.equal(own.heading, 'none');
    // No key field at all; only the proxy is used.
    assert.equal(await page.locator('#ms-api-key').isVisible(), false);
    assert.equal(await page.getByLabel('Proxy URL').isVisible(), false);
    // data-lock-proxy: the consumer face, as in a frame with lock_proxy — once the
    // settings have arrived (until then the face is `loading`, which looks the same; on a
    // busy machine they may come after the checks above).
    await page.locator('#mount .ms-app[data-face="consumer"]').waitFor({ timeout: 10_000 });
    assert.equal(await app.getAttribute('data-face'), 'consumer');
    assert.equal(await page.getByLabel('Image URL').isVisible(), false);
    assert.equal(await page.getByLabel('Look up a task').isVisible(), false);
    await page.locator('#mount').getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
    await page.locator('#mount .ms-ok').waitFor();
    await page.locator('#mount').getByRole('button', { name: 'Generate' }).click();
    await expectPlayingShots(page.locator('#mount'));
    const shown = await page.locator('#mount .ms-stage video').first().evaluate((v) => getComputedStyle(v).display);
    assert.equal(shown, 'block', 'the host\'s video { display: none } does not reach the shots');
    const log = await proxy.log();
    assert.equal(kinds(log, 'submit').length, 1);
    assert.ok(log.every((e) => e.authorization === null));
    await page.waitForFunction(() => window.received.some((m) => m.type === 'job-completed'));
    assert.equal(await page.locator('#host-title').innerText(), 'Our shop', 'the host page is untouched');
    await page.screenshot({ path: join(SCREENSHOTS, 'embed-mount-desktop.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  });

  test('hostile data attributes are refused one by one, naming each, and defaults are used', async () => {
    const page = await newPage();
    await page.goto(`${host.url}hostile-attrs.html`);
    await page.locator('[data-multishot] .ms-config-problems').waitFor();
    const alerts = await page.locator('[data-multishot] .ms-config-problems').getByRole('alert').allInnerTexts();
    const named = alerts.map((a) => a.match(/^the data-multishot element: “([^”]+)”/)?.[1]);
    assert.deepEqual(named.sort(), [
      'data-api-base', 'data-colour', 'data-embed-parent-origins', 'data-embed-parent-origins',
      'data-lock-proxy', 'data-max-wait-s', 'data-poll-interval-ms', 'data-proxy-url', 'data-theme',
    ], alerts.join('\n'));
    // Defaults: no proxy (the key field is there), the default API base, the system theme.
    await page.locator('#ms-api-key').waitFor();
    assert.match(await page.locator('.ms-mode').innerText(), /Not connected/);
    assert.equal(await page.locator('.ms-app').getAttribute('data-theme'), null);
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(page.errors, []);
  });

  test('at phone width, themed by the host', async () => {
    const page = await openHost(390, 'plain.html');
    const accent = await page.locator('.ms-app .ms-step').first().evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(accent, 'rgb(194, 65, 12)', 'the host sets the accent colour (--ms-accent on its element)');
    await page.screenshot({ path: join(SCREENSHOTS, 'embed-mount-phone.png'), fullPage: true });
    const overflow = await page.evaluate(() => {
      const root = document.querySelector('[data-multishot] .ms-app');
      const wide = [...root.querySelectorAll('*')].filter((e) => e.getBoundingClientRect().right > root.getBoundingClientRect().right + 1);
      return { by: root.scrollWidth - root.clientWidth, wide: wide.slice(0, 5).map((e) => e.outerHTML.slice(0, 120)) };
    });
    assert.ok(overflow.by <= 1, `the app scrolls sideways by ${overflow.by}px: ${overflow.wide.join('\n')}`);
  });
});
