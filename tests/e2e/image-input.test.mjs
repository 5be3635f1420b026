// End to end: the release build in Debian's Chromium. Every way in (picker, drop,
// paste, URL) and every rule, checked as a person sees it: alerts, preview facts and
// the Generate button. No request may leave for anywhere but the test's own servers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { ROOT, DIST, FIXTURES, takeDown } from './support/suite.mjs';

const SCREENSHOTS = join(ROOT, 'target/screenshots');

const manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8'));

let app;
/** The API the page is pointed at: with a key typed, the page asks it the price and
 * the balance (and nothing else, as no test here presses Generate). */
let fake;
let imagesWithCors;
let imagesWithoutCors;
let browser;
/** Every request any page made, for the "nothing is sent" checks. */
const seen = [];

before(async () => {
  fake = await startFake(['--key', 'sk-test']);
  app = await serveStatic(DIST, { overrides: { 'config.json': JSON.stringify({ api_base: fake.url }) } });
  imagesWithCors = await serveStatic(FIXTURES, { cors: true });
  imagesWithoutCors = await serveStatic(FIXTURES, { cors: false });
  browser = await launch();
  browser.context.on('request', (r) => seen.push(r.url()));
  await mkdir(SCREENSHOTS, { recursive: true });
});

after(() => takeDown(browser, fake, app, imagesWithCors, imagesWithoutCors));

/** A fresh page of the app, failing the test on any page error; with a key typed in
 * unless `withKey` is false. */
async function openApp(viewport, { withKey = true } = {}) {
  const page = await browser.context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.errors = errors;
  await page.goto(app.url);
  await appMounted(page);
  // A key, so that Generate depends on the image alone.
  if (withKey) await page.getByLabel('API key').fill('sk-test');
  return page;
}

/** Waits until the verdict is in (no "Checking…" status) and returns what it says. */
async function verdict(page) {
  await page.locator('.ms-report').waitFor();
  await page.waitForFunction(() => !document.querySelector('.ms-status'));
  const alerts = await page.getByRole('alert').allInnerTexts();
  const headings = await page.locator('[role=alert] strong').allInnerTexts();
  const generate = page.getByRole('button', { name: 'Generate' });
  return {
    alerts,
    headings: headings.map((h) => h.replace(/:\s*$/, '')),
    enabled: await generate.isEnabled(),
    pixels: await page.locator('[data-fact=pixels]').innerText().catch(() => null),
  };
}

/** Only the test's own servers (and the page's blob: URLs) were ever asked for anything. */
function assertNothingSentElsewhere() {
  const allowed = [app.url, fake.url, imagesWithCors.url, imagesWithoutCors.url].map((u) => new URL(u).origin);
  const stray = seen.filter((u) => !u.startsWith('blob:') && !u.startsWith('data:') && !allowed.includes(new URL(u).origin));
  assert.deepEqual(stray, [], 'requests to anywhere but the local servers');
}

/** Creates a File inside the page from a fixture's bytes. */
async function fileHandle(page, name) {
  const bytes = await readFile(join(FIXTURES, name));
  return page.evaluateHandle(
    ({ name, b64 }) => {
      const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([raw], name, { type: name.endsWith('.png') ? 'image/png' : 'image/jpeg' }));
      return transfer;
    },
    { name, b64: bytes.toString('base64') },
  );
}

describe('picking a file', () => {
  for (const fixture of manifest) {
    test(`${fixture.name}: ${fixture.broken.length ? fixture.broken.join(' + ') : 'accepted'}`, async () => {
      const page = await openApp();
      await page.getByLabel('Image file').setInputFiles(join(FIXTURES, fixture.name));
      const v = await verdict(page);
      assert.deepEqual(v.headings, fixture.broken);
      assert.equal(v.enabled, fixture.broken.length === 0, 'Generate enabled only for a valid image');
      if (fixture.size) assert.equal(v.pixels, `${fixture.size[0]} × ${fixture.size[1]} px`);
      for (const alert of v.alerts) assert.ok(alert.length > 30, `a message a person understands: ${alert}`);
      assert.deepEqual(page.errors, []);
      await page.close();
    });
  }

  test('alerts give the measured value and the rule', async () => {
    const page = await openApp();
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'narrow-and-small.png'));
    const v = await verdict(page);
    assert.deepEqual(v.alerts, [
      'Minimum size: The image is 280 × 900 px; both sides must be at least 300 px.',
      'Aspect ratio: The image is 280 × 900 px, a shape of 1:3.21; it must be between 1:2.5 (tall) and 2.5:1 (wide).',
    ]);
    // Each alert names its rule for a program (the release build prints no Debug text).
    assert.deepEqual(await page.locator('.ms-report [role=alert]').evaluateAll((alerts) => alerts.map((a) => a.dataset.rule)), ['dimensions', 'aspect_ratio']);
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'too-big.jpg'));
    const big = await verdict(page);
    assert.deepEqual(big.alerts, [
      'File size: The file is 10.0 MB (10,485,761 bytes); the limit is 10.0 MB (10,485,760 bytes).',
    ]);
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'gif-named.png'));
    const gif = await verdict(page);
    assert.match(gif.alerts[0], /^File type: The file is a GIF image, whatever its name says/);
    await page.close();
  });

  test('on a phone, a refusal is brought into view, its first reason next to the preview', async () => {
    const page = await openApp({ width: 390, height: 640 });
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'too-small.png'));
    await verdict(page);
    const first = page.getByRole('alert').first();
    await page.waitForFunction(() => {
      const alert = document.querySelector('.ms-report [role=alert]');
      const box = alert?.getBoundingClientRect();
      return box && box.top >= 0 && box.bottom <= innerHeight + 1;
    }, null, { timeout: 5_000 });
    // The preview is right above it: the reason and the picture are seen together.
    const [picture, reason] = await Promise.all([page.locator('.ms-preview img').boundingBox(), first.boundingBox()]);
    assert.ok(reason.y - (picture.y + picture.height) < 160, `the first reason is next to the preview (${JSON.stringify({ picture, reason })})`);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a valid image after an invalid one clears the alerts and enables Generate', async () => {
    const page = await openApp();
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'too-small.png'));
    assert.equal((await verdict(page)).enabled, false);
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
    const v = await verdict(page);
    assert.deepEqual(v.alerts, []);
    assert.equal(v.enabled, true);
    assert.match(await page.locator('.ms-preview figcaption').innerText(), /valid\.jpg[\s\S]*800 × 600 px · 17\.\d KB · image\/jpeg/);
    await page.close();
  });
});

describe('other ways in', () => {
  test('drag and drop delivers an image, with a visible drop state', async () => {
    const page = await openApp();
    const dataTransfer = await fileHandle(page, 'valid.png');
    const zone = page.locator('.ms-drop');
    await zone.dispatchEvent('dragenter', { dataTransfer });
    await page.waitForSelector('.ms-drop.is-over');
    assert.equal(await page.locator('.ms-drop-title').innerText(), 'Drop to check this image');
    await zone.dispatchEvent('drop', { dataTransfer });
    const v = await verdict(page);
    assert.equal(await page.locator('.ms-drop.is-over').count(), 0);
    assert.equal(v.pixels, '640 × 480 px');
    assert.equal(v.enabled, true);
    await page.close();
  });

  test('pasting an image delivers it', async () => {
    const page = await openApp();
    const clipboardData = await fileHandle(page, 'too-wide.png');
    await page.evaluate((data) => {
      document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, clipboardData);
    const v = await verdict(page);
    assert.deepEqual(v.headings, ['Aspect ratio']);
    assert.equal(v.enabled, false);
    await page.close();
  });

  test('an image URL with CORS is fully checked (Enter loads it)', async () => {
    const page = await openApp();
    const field = page.getByLabel('Image URL');
    await field.fill(`${imagesWithCors.url}too-big.jpg`);
    await field.press('Enter');
    const v = await verdict(page);
    assert.deepEqual(v.headings, ['File size']);
    assert.equal(v.pixels, '1200 × 900 px');
    await page.close();
  });

  test('an image URL without CORS is measured, and the unchecked rules are said (leaving the field loads it)', async () => {
    const page = await openApp();
    const field = page.getByLabel('Image URL');
    await field.fill(`${imagesWithoutCors.url}valid.jpg`);
    await page.keyboard.press('Tab'); // leave the field
    const v = await verdict(page);
    assert.deepEqual(v.alerts, []);
    assert.equal(v.pixels, '800 × 600 px');
    assert.equal(v.enabled, true, 'the user may go on');
    assert.match(await page.locator('.ms-note').innerText(), /Not checked here: file type and file size/);
    await page.close();
  });

  test('an image URL that is not an image is refused, and a missing one is said to be missing', async () => {
    const page = await openApp();
    const field = page.getByLabel('Image URL');
    await field.fill(`${imagesWithoutCors.url}no-such-file.png`);
    await field.press('Enter');
    const v = await verdict(page);
    assert.deepEqual(v.headings, ['Readable image']);
    assert.equal(v.enabled, false);
    // A missing image is not blamed on the server's sharing rules (CORS).
    const report = await page.locator('.ms-report').innerText();
    assert.match(report, /Nothing at this address opens as an image: check that it is right and public/);
    assert.ok(!/does not let the browser read|Not checked here/.test(report), report);
    // Where the server lets the page read its answer, its HTTP error is named.
    await field.fill(`${imagesWithCors.url}no-such-file.png`);
    await field.press('Enter');
    await page.getByText('The image’s server answered HTTP 404: there is no image to use at this address.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), false);
    await page.close();
  });

  test('a URL that is not a web address gets an alert and loads nothing', async () => {
    const page = await openApp();
    const before = seen.length;
    const field = page.getByLabel('Image URL');
    await field.fill('file:///etc/passwd');
    await field.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /^Image URL: .*is not a web address/);
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('.ms-preview').count(), 0);
    assert.equal(seen.length, before, 'no request');
    await page.close();
  });
});

describe('the page', () => {
  test('every control is labelled and reachable by keyboard', async () => {
    const page = await openApp(undefined, { withKey: false });
    const order = [];
    for (let i = 0; i < 5; i += 1) {
      await page.keyboard.press('Tab');
      order.push(
        await page.evaluate(() => {
          const el = document.activeElement;
          return el?.getAttribute('aria-label') || el?.labels?.[0]?.innerText || el?.innerText || el?.tagName;
        }),
      );
    }
    assert.deepEqual(order, ['Image file', 'Image URL', 'Load', 'Connection', 'API key']);
    // Keyboard-only: type a key, pick a file with the focused picker, then reach Generate.
    await page.getByLabel('API key').focus();
    await page.keyboard.type('sk-test');
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.png'));
    await verdict(page);
    await page.getByLabel('Send local files inline').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.innerText), 'Generate');
    await page.close();
  });

  test('screenshots at desktop and phone widths', async () => {
    for (const [name, viewport] of [
      ['desktop', { width: 1280, height: 900 }],
      ['phone', { width: 390, height: 844 }],
    ]) {
      const page = await openApp(viewport);
      await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
      await verdict(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling at ${viewport.width} px (overflow ${overflow})`);
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
      await page.close();
    }
  });

  test('nothing was sent anywhere but the local servers, and no image to the API', async () => {
    assert.ok(seen.length > 0);
    assertNothingSentElsewhere();
    const asked = new Set((await fake.log()).map((e) => e.kind));
    assert.deepEqual([...asked].filter((k) => !['preflight', 'pricing', 'balance'].includes(k)), [], 'the API was asked only for the price and the balance');
  });
});
