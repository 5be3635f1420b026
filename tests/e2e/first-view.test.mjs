// End to end: the first view painted from HTML before the wasm (issue 14). The release
// build's index.html carries the app's own first view, rendered from its components at
// build time (src/prerender.rs, scripts/finish-dist.mjs); the app replaces it with the
// same markup. Checked here: what shows without the wasm (page, frame, script mount),
// that the hand-over is pixel-identical and shifts nothing, and that what a person does
// before the wasm arrives — a file picked or dropped, a key typed, a box ticked, a
// button pressed — is carried over to the app, not lost.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { DIST, FIXTURES, takeDown, cleanSlate } from './support/suite.mjs';


let browser;
let app;
let consumer; // the same build, configured for a site owner's locked proxy
let hosts;

before(async () => {
  browser = await launch();
  // CORS: a host page loads embed.js and the app's files from here.
  app = await serveStatic(DIST, { cors: true });
  consumer = await serveStatic(DIST, {
    overrides: { 'config.json': JSON.stringify({ proxy_url: 'http://127.0.0.1:9/', lock_proxy: true }) },
  });
  hosts = await mkdtemp(join(tmpdir(), 'ms-first-view-'));
});

after(async () => {
  await takeDown(browser, app, consumer);
  await rm(hosts, { recursive: true, force: true });
});

beforeEach(() => cleanSlate({ browser }));

/**
 * A page whose wasm is held back until `release()` is called (or never), recording CSP
 * violations, page errors and layout shifts.
 */
async function pageWithHeldWasm() {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.addInitScript(() => {
    window.__violations = [];
    window.__shifts = [];
    window.__shiftSources = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        window.__shifts.push(entry.value);
        // What moved, for the failure's message.
        const at = (r) => `${Math.round(r.x)},${Math.round(r.y)} ${Math.round(r.width)}×${Math.round(r.height)}`;
        for (const { node, previousRect, currentRect } of entry.sources ?? []) {
          const name = node ? `${node.nodeName.toLowerCase()}${node.className ? `.${String(node.className).split(' ').join('.')}` : ''}` : '?';
          window.__shiftSources.push(`${name} at ${Math.round(entry.startTime)} ms: ${at(previousRect)} → ${at(currentRect)}`);
        }
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  return { page, release: await hold(page, '**/*.wasm') };
}

/** Holds `page`'s requests for `pattern` back until the returned function is called. */
async function hold(page, pattern) {
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  await page.route(pattern, async (route) => {
    await held;
    await route.continue();
  });
  return release;
}

/** The app has replaced the first view, and its settings are in. */
async function handedOver(page) {
  await appMounted(page);
  assert.equal(await page.locator('.ms-shell').count(), 0, 'the first view is gone');
  await page.waitForLoadState('networkidle');
}

describe('the page before the wasm', () => {
  test('shows the whole first view from HTML: heading, file picker, connection, requirements', async () => {
    const { page } = await pageWithHeldWasm();
    await page.goto(app.url);
    const shell = page.locator('.ms-shell');
    await shell.waitFor();
    assert.equal(await page.getByRole('heading', { level: 1 }).isVisible(), true);
    assert.equal(await page.getByText('Choose image file…').isVisible(), true, 'the file picker shows');
    assert.equal(await page.getByLabel('Image file').count(), 1);
    assert.equal(await page.getByLabel('API key').isVisible(), true);
    assert.equal(await page.getByRole('heading', { name: 'What images work' }).isVisible(), true);
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isDisabled(), true, 'Generate waits for an image');
    assert.deepEqual(await page.evaluate(() => window.__violations), [], 'the inline script is allowed by the CSP');
    // The markup is the app's, not a hand-written copy: 404.html carries the same.
    const index = await readFile(join(DIST, 'index.html'), 'utf8');
    const notFound = await readFile(join(DIST, '404.html'), 'utf8');
    assert.ok(index.includes('id="ms-image-file"') && notFound.includes('id="ms-image-file"'));
    assert.deepEqual(page.errors, []);
  });

  // A frame's developer controls come only when its settings say it is not a site
  // owner's consumer face, so the frame is compared where the settings lock the proxy.
  for (const { name, site, url, width, theme } of [
    { name: 'the page', site: () => app, url: '', width: 1280, theme: 'light' },
    { name: 'the page on a phone, dark', site: () => app, url: '', width: 390, theme: 'dark' },
    { name: 'a site owner\'s frame in the host\'s dark theme', site: () => consumer, url: '?embed=1&theme=dark', width: 390, theme: 'light' },
  ]) {
    test(`${name}: the app takes over pixel for pixel, with no layout shift`, async () => {
      const { page, release } = await pageWithHeldWasm();
      await page.emulateMedia({ colorScheme: theme, reducedMotion: 'reduce' });
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${site().url}${url}`);
      await page.locator('.ms-shell').waitFor();
      const before = await page.screenshot({ fullPage: true });
      release();
      await handedOver(page);
      const after = await page.screenshot({ fullPage: true });
      if (!before.equals(after) && process.env.FIRST_VIEW_SHOTS) { await writeFile(join(process.env.FIRST_VIEW_SHOTS, `${width}-before.png`), before); await writeFile(join(process.env.FIRST_VIEW_SHOTS, `${width}-after.png`), after); }
      assert.ok(before.equals(after), `the first view and the app's differ (${before.length} vs ${after.length} bytes of PNG)`);
      assert.deepEqual(await page.evaluate(() => window.__shifts), [], `no layout shift: ${await page.evaluate(() => window.__shiftSources.join('; '))}`);
      assert.deepEqual(await page.evaluate(() => window.__violations), []);
      assert.deepEqual(page.errors, []);
    });
  }

  test('a frame shows the compact first view in the host\'s theme, no page header', async () => {
    const { page } = await pageWithHeldWasm();
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 600 });
    await page.goto(`${app.url}?embed=1&theme=dark`);
    const shell = page.locator('.ms-shell');
    await shell.waitFor();
    const seen = await shell.evaluate((el) => ({
      compact: el.classList.contains('ms-compact'),
      theme: el.dataset.theme,
      dark: getComputedStyle(el).backgroundColor.match(/\d+/g).slice(0, 3).every((c) => Number(c) < 128),
    }));
    assert.deepEqual(seen, { compact: true, theme: 'dark', dark: true });
    assert.equal(await page.getByRole('heading', { level: 1 }).count(), 0, 'no page header in a frame');
    assert.equal(await page.getByText('Choose image file…').isVisible(), true);
    assert.equal(await page.getByLabel('API key').isVisible(), false, 'no developer control before the settings say so');
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
  });

  test('a frame in the host\'s dark theme stays dark from the first view through the app\'s first frame, before its settings arrive', async () => {
    const { page, release } = await pageWithHeldWasm();
    const giveSettings = await hold(page, '**/config.json');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 600 });
    await page.goto(`${app.url}?embed=1&theme=dark`);
    await page.locator('.ms-shell').waitFor();
    release();
    await appMounted(page);
    const dark = () => page.locator('.ms-app').evaluate((el) => ({
      theme: el.dataset.theme,
      dark: getComputedStyle(el).backgroundColor.match(/\d+/g).slice(0, 3).every((c) => Number(c) < 128),
    }));
    assert.deepEqual(await dark(), { theme: 'dark', dark: true }, 'the app, its settings not yet in');
    giveSettings();
    await page.waitForLoadState('networkidle');
    assert.deepEqual(await dark(), { theme: 'dark', dark: true }, 'and with them');
    assert.deepEqual(page.errors, []);
  });
});

describe('what is done before the wasm is not lost', () => {
  test('a file picked before the wasm is checked once the app is there', async () => {
    const { page, release } = await pageWithHeldWasm();
    await page.goto(app.url);
    await page.locator('.ms-shell').waitFor();
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
    release();
    await page.locator('.ms-ok').waitFor();
    assert.equal(await page.locator('.ms-shell').count(), 0);
    assert.deepEqual(page.errors, []);
  });

  test('a file dialog opened on the first view and answered after the app took over is not lost', async () => {
    // The file dialog stays open while the wasm arrives: the file comes to the first
    // view's input, which the app has already replaced.
    const { page, release } = await pageWithHeldWasm();
    await page.goto(app.url);
    await page.locator('.ms-shell').waitFor();
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByText('Choose image file…').click()]);
    release();
    await handedOver(page);
    await chooser.setFiles(join(FIXTURES, 'valid.jpg'));
    await page.locator('.ms-ok').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('.ms-preview-name').innerText(), 'valid.jpg');
    assert.deepEqual(page.errors, []);
  });

  test('a file picked at any moment of the start-up is checked: never lost, never twice', async () => {
    // The page loads at its own pace; the dialog is answered 0–150 ms after the first
    // view's input exists, in steps of 5 ms (and the dialog was opened on whichever
    // input existed when it was clicked).
    const lost = [];
    for (let delay = 0; delay <= 150; delay += 5) {
      const page = await browser.context.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(e.message));
      await page.goto(app.url, { waitUntil: 'commit' });
      const input = page.locator('#ms-image-file');
      await input.waitFor({ state: 'attached' });
      const [chooser] = await Promise.all([page.waitForEvent('filechooser'), input.evaluate((i) => i.click())]);
      await new Promise((ok) => setTimeout(ok, delay));
      await chooser.setFiles(join(FIXTURES, 'valid.jpg'));
      const checked = await page.locator('.ms-ok').waitFor({ timeout: 5000 }).then(() => true, () => false);
      const names = await page.locator('.ms-preview-name').allInnerTexts();
      if (!checked || names.length !== 1 || page.errors.length) lost.push(`${delay} ms: ${checked ? names.join('|') : 'no verdict'} ${page.errors.join(' ')}`);
      await page.close();
    }
    assert.deepEqual(lost, [], 'every pick is checked once');
  });

  test('a field focused and a file picked before the first view\'s own script ran are carried over', async () => {
    // As the parser adds the first view's fields, before the script after them: the key
    // field is focused and a file picked (its change event heard by no one yet).
    const bytes = [...(await readFile(join(FIXTURES, 'valid.png')))];
    const { page, release } = await pageWithHeldWasm();
    await page.addInitScript((data) => {
      const done = new Set();
      new MutationObserver(() => {
        const key = document.getElementById('ms-api-key');
        const input = document.getElementById('ms-image-file');
        if (key && !done.has('key')) {
          done.add('key');
          key.focus();
        }
        if (input && !done.has('file')) {
          done.add('file');
          const t = new DataTransfer();
          t.items.add(new File([new Uint8Array(data)], 'early.png', { type: 'image/png' }));
          input.files = t.files;
          input.dispatchEvent(new Event('change', { bubbles: true }));
        }
      }).observe(document, { childList: true, subtree: true });
    }, bytes);
    await page.goto(app.url);
    await page.locator('.ms-shell').waitFor();
    release();
    await handedOver(page);
    await page.locator('.ms-ok').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('.ms-preview-name').innerText(), 'early.png');
    await page.keyboard.type('wsk_early');
    assert.equal(await page.getByLabel('API key').inputValue(), 'wsk_early', 'the focus came along');
    assert.deepEqual(page.errors, []);
  });

  test('a key typed at any moment of the start-up reaches the app whole', async () => {
    // Typed into the first view's field from 0 to 300 ms after it exists, in steps of
    // 10 ms, a key every 8 ms: a key pressed while the app replaced the field went to
    // the page's body and was lost (a character in about one start in eight).
    const lost = [];
    for (let delay = 0; delay <= 300; delay += 10) {
      const page = await browser.context.newPage();
      await page.goto(app.url, { waitUntil: 'commit' });
      const key = page.locator('#ms-api-key');
      await key.waitFor({ state: 'attached' });
      await key.focus();
      await new Promise((ok) => setTimeout(ok, delay));
      await page.keyboard.type('wsk_typed_while_starting', { delay: 8 });
      await page.locator('.ms-shell').waitFor({ state: 'detached' });
      await page.waitForFunction(() => document.querySelector('.ms-mode')?.dataset.mode === 'direct', null, { timeout: 5000 }).catch(() => {});
      const value = await key.inputValue();
      if (value !== 'wsk_typed_while_starting') lost.push(`${delay} ms: ${value}`);
      await page.close();
    }
    assert.deepEqual(lost, [], 'every key reaches the app');
  });

  test('a file dropped before the wasm does not leave the page, and is checked; a section closed stays closed', async () => {
    const { page, release } = await pageWithHeldWasm();
    await page.goto(app.url);
    await page.locator('.ms-shell').waitFor();
    const bytes = await readFile(join(FIXTURES, 'valid.png'));
    const transfer = await page.evaluateHandle((data) => {
      const t = new DataTransfer();
      t.items.add(new File([new Uint8Array(data)], 'dropped.png', { type: 'image/png' }));
      return t;
    }, [...bytes]);
    const target = page.locator('.ms-drop');
    await target.dispatchEvent('dragover', { dataTransfer: transfer });
    await target.dispatchEvent('drop', { dataTransfer: transfer });
    // And the Connection section closed.
    await page.locator('.ms-connection summary').click();
    release();
    await page.locator('.ms-ok').waitFor();
    assert.ok(page.url().startsWith(app.url), 'still on the app');
    assert.equal(await page.locator('.ms-connection').evaluate((d) => d.open), false, 'the section stays closed');
    assert.deepEqual(page.errors, []);
  });

  test('a key typed, a box ticked and a button pressed are carried over, with the focus', async () => {
    const { page, release } = await pageWithHeldWasm();
    await page.goto(app.url);
    await page.locator('.ms-shell').waitFor();
    await page.getByLabel('API key').fill('wsk_typed_early');
    await page.getByRole('button', { name: 'Show key' }).click();
    await page.getByLabel('Return outputs as base64').check();
    await page.getByLabel('Proxy URL').focus();
    release();
    await handedOver(page);
    assert.equal(await page.getByLabel('API key').inputValue(), 'wsk_typed_early');
    assert.equal(await page.getByLabel('API key').getAttribute('type'), 'text', 'Show key was pressed');
    assert.equal(await page.getByLabel('Return outputs as base64').isChecked(), true);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'ms-proxy-url');
    // And the app took the key as typed, not only the field's text: it says how it connects.
    await page.waitForFunction(() => document.querySelector('.ms-mode')?.dataset.mode === 'direct');
    assert.deepEqual(page.errors, []);
  });

  test('what the app itself fills in (a remembered key, its ticked box) is not undone by the hand-over', async () => {
    const { page, release } = await pageWithHeldWasm();
    await page.goto(`${app.url}config.json`);
    await page.evaluate(() => localStorage.setItem('multishot.api_key', 'wsk_remembered'));
    await page.goto(app.url);
    await page.locator('.ms-shell').waitFor();
    assert.equal(await page.getByLabel('API key').inputValue(), '', 'the first view knows no key');
    release();
    await handedOver(page);
    assert.equal(await page.getByLabel('API key').inputValue(), 'wsk_remembered');
    assert.equal(await page.getByLabel('Remember key on this device').isChecked(), true);
    assert.equal(await page.evaluate(() => localStorage.getItem('multishot.api_key')), 'wsk_remembered');
    await page.evaluate(() => localStorage.clear());
  });
});

describe('a host page (embed.js)', () => {
  test('shows the embed\'s first view, inert, until the app takes over', async () => {
    await writeFile(join(hosts, 'host.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host</title></head>
<body><h1>Our shop</h1><div data-multishot data-theme="dark">Loading…</div>
<script type="module" src="${app.url}embed.js"></script></body></html>`);
    const host = await serveStatic(hosts);
    try {
      const { page, release } = await pageWithHeldWasm();
      await page.goto(`${host.url}host.html`);
      const view = page.locator('[data-multishot] .ms-shell');
      await view.waitFor();
      assert.equal(await view.evaluate((el) => el.inert && el.dataset.theme), 'dark');
      assert.equal(await page.getByText('Choose image file…').isVisible(), true);
      assert.equal(await page.getByText('Loading…').count(), 0);
      release();
      await page.locator('[data-multishot] .ms-app:not(.ms-shell)').waitFor();
      assert.equal(await page.locator('[data-multishot] .ms-shell').count(), 0);
      assert.deepEqual(page.errors, []);
    } finally {
      await host.close();
    }
  });
});
