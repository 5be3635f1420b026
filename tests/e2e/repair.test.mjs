// End to end: Make it fit, on the release build against the fake WaveSpeed. A refused
// image gets a repair (its own module, loaded only then), the repaired image is checked
// by the same rules, and the file the fake receives passes every rule by its bytes.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
import { photoBytes } from './support/photo.mjs';
import { FIXTURES, serveApp, takeDown, cleanSlate } from './support/suite.mjs';

const KEY = 'sk-e2e-repair-51d0';

let fake;
let app;
let browser;

before(async () => {
  fake = await startFake(['--key', KEY]);
  app = await serveApp({ api_base: fake.url, poll_interval_ms: 500 });
  browser = await launch();
});

after(() => takeDown(browser, fake, app));

beforeEach(() => cleanSlate({ browser, app, fakes: [fake], pages: false }));

async function openApp() {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.requests = [];
  page.on('request', (r) => page.requests.push(r.url()));
  await page.goto(app.url);
  await appMounted(page);
  await page.getByLabel('API key').fill(KEY);
  await page.getByRole('status').filter({ hasText: /your balance (\$|could not)/ }).waitFor();
  return page;
}

/** A WebP made by the page's own browser (Chromium encodes WebP) from a fixture. */
async function webpOf(page, name) {
  const png = (await import('node:fs/promises')).readFile(join(FIXTURES, name));
  const base64 = (await png).toString('base64');
  const out = await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes]));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
    const blob = await canvas.convertToBlob({ type: 'image/webp', quality: 0.9 });
    const buffer = new Uint8Array(await blob.arrayBuffer());
    let text = '';
    for (const b of buffer) text += String.fromCharCode(b);
    return btoa(text);
  }, base64);
  return Buffer.from(out, 'base64');
}

/** A PNG of `width` × `height` made by the page's own browser: a gradient left to right
 * (red 0 → 255) with a bright disc in the middle. */
async function pngOf(page, width, height) {
  const out = await page.evaluate(async ([width, height]) => {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    const gradient = context.createLinearGradient(0, 0, width, 0);
    gradient.addColorStop(0, '#0040c0');
    gradient.addColorStop(1, '#ff40c0');
    context.fillStyle = gradient;
    context.fillRect(0, 0, width, height);
    context.fillStyle = '#ffd040';
    context.beginPath();
    context.arc(width / 2, height / 2, Math.min(width, height) / 3, 0, 2 * Math.PI);
    context.fill();
    const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  }, [width, height]);
  return Buffer.from(out, 'base64');
}

/** The RGBA of pixel (`x`, `y`) of the repaired image (the file the repairs module
 * answered with, kept on its slot while it is the one chosen). */
async function repairedPixel(page, x, y) {
  return page.evaluate(async ([x, y]) => {
    const bitmap = await createImageBitmap(document.querySelector('.ms-repair-slot').msAnswer);
    const canvas = new OffscreenCanvas(1, 1);
    canvas.getContext('2d').drawImage(bitmap, x, y, 1, 1, 0, 0, 1, 1);
    return [...canvas.getContext('2d').getImageData(0, 0, 1, 1).data];
  }, [x, y]);
}

/** Repairs the chosen image with the button named `repair`, then (after `inspect`, if
 * given, has looked at the page) generates; returns what the fake received. */
async function repairAndSend(page, repair, expectName, inspect) {
  const button = page.getByRole('button', { name: repair });
  await button.waitFor();
  await button.click();
  await page.getByRole('button', { name: 'Undo repair' }).waitFor();
  // The repaired image, checked by the same rules.
  await page.waitForFunction(() => document.querySelector('.ms-ok'));
  assert.deepEqual(await page.getByRole('alert').allInnerTexts(), []);
  await inspect?.();
  const generate = page.getByRole('button', { name: 'Generate' });
  assert.equal(await generate.isEnabled(), true);
  await generate.click();
  await page.getByText(/Status: completed/).waitFor({ timeout: 30_000 });
  const uploads = (await fake.log()).filter((e) => e.kind === 'upload');
  assert.equal(uploads.length, 1);
  const image = uploads[0].image;
  assert.ok(image, 'the fake read the upload');
  assert.equal(image.name, expectName);
  assert.equal(image.passes, true, JSON.stringify(image));
  return image;
}

describe('make it fit', () => {
  test('nothing of the repairs is loaded for an image that fits', async () => {
    const page = await openApp();
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
    await page.waitForFunction(() => document.querySelector('.ms-ok'));
    assert.equal(page.requests.filter((u) => u.includes('multishot-repair')).length, 0);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a WebP is converted and sent as a JPEG within every rule', async () => {
    const page = await openApp();
    const webp = await webpOf(page, 'valid.jpg');
    await page.getByLabel('Image file').setInputFiles({ name: 'holiday.webp', mimeType: 'image/webp', buffer: webp });
    const image = await repairAndSend(page, /^Convert to JPEG/, 'holiday-fit.jpg');
    assert.equal(image.mime, 'image/jpeg');
    assert.deepEqual(image.size, [800, 600]);
    assert.ok(page.requests.some((u) => u.endsWith('multishot-repair_loader.js')), 'loaded when needed');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a lone repair is made while the offer is read, and nothing is chosen or sent before the press', async () => {
    const page = await openApp();
    const webp = await webpOf(page, 'valid.jpg');
    await page.getByLabel('Image file').setInputFiles({ name: 'beach.webp', mimeType: 'image/webp', buffer: webp });
    // Made without a press: the hint says what it came to.
    const ready = page.getByText(/^Re-encoded as image\/jpeg at 800 × 600 px\. Ready: [\d.]+ (KB|MB) at \d+\s% quality\.$/);
    await ready.waitFor();
    // The name of the image chosen, as the page shows it.
    const chosen = async (name) => {
      await page.locator('.ms-preview-name', { hasText: name }).waitFor();
      return page.locator('.ms-preview-name').textContent();
    };
    assert.equal(await chosen('beach'), 'beach.webp', 'the refused file is still the one chosen');
    assert.equal(await page.locator('.ms-repair-slot').evaluate((slot) => slot.msAnswer), undefined);
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), false);
    await page.getByRole('button', { name: /^Convert to JPEG/ }).click();
    await page.getByRole('button', { name: 'Undo repair' }).waitFor();
    await page.waitForFunction(() => document.querySelector('.ms-ok'));
    assert.equal(await chosen('fit'), 'beach-fit.jpg');
    // Undone and pressed again: the same repair, ready at once.
    await page.getByRole('button', { name: 'Undo repair' }).click();
    await ready.waitFor();
    assert.equal(await chosen('webp'), 'beach.webp');
    await page.getByRole('button', { name: /^Convert to JPEG/ }).click();
    await page.getByRole('button', { name: 'Undo repair' }).waitFor();
    assert.equal(await chosen('fit'), 'beach-fit.jpg');
    assert.equal((await fake.log()).filter((e) => e.kind === 'upload').length, 0, 'nothing sent');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a 12 MB photo is shrunk and sent', async () => {
    const page = await openApp();
    // A 5000 × 3750 photo with a camera's grain, as JPEG at 97 %: over 12 MB.
    const photo = await photoBytes(page, { width: 5000, height: 3750, grain: 90, quality: 0.97 });
    assert.ok(photo.length > 12_000_000, `${photo.length} bytes`);
    await page.getByLabel('Image file').setInputFiles({ name: 'IMG_2040.jpg', mimeType: 'image/jpeg', buffer: photo });
    const image = await repairAndSend(page, /^Shrink to under 10 MB/, 'IMG_2040-fit.jpg');
    assert.ok(image.bytes <= 10 * 1024 * 1024, `${image.bytes} bytes`);
    assert.deepEqual(image.size, [5000, 3750]);
    await page.close();
  });

  test('an SVG drawing is drawn as PNG without running its scripts or fetching its links', async () => {
    const page = await openApp();
    const beacon = await serveStatic(FIXTURES);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="600" height="400">
      <rect width="600" height="400" fill="#00a000"/>
      <image href="${beacon.url}valid.png" width="10" height="10"/>
      <script>parent.document.title = 'RAN'; document.title = 'RAN'</script>
    </svg>`;
    await page.getByLabel('Image file').setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(svg) });
    // Drawn at its own shape, 1024 px on the short side: 1536 × 1024.
    await page.getByText('Re-encoded as image/png at 1536 × 1024 px.').waitFor();
    let middle;
    const image = await repairAndSend(page, 'Convert to PNG', 'logo-fit.png', async () => {
      middle = await repairedPixel(page, 768, 512);
    });
    assert.equal(image.mime, 'image/png');
    assert.deepEqual(image.size, [1536, 1024]);
    assert.deepEqual(middle, [0, 160, 0, 255]);
    assert.notEqual(await page.title(), 'RAN', "the drawing's script did not run");
    assert.deepEqual(beacon.requests, [], "the drawing's link was not fetched");
    assert.deepEqual(page.errors, []);
    await beacon.close();
    await page.close();
  });

  test('a HEIC photo gets directions to export a JPEG, and no repair', async () => {
    const page = await openApp();
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'heic-named.jpg'));
    await page.getByText(/cannot open HEIC photos.*Most Compatible/).waitFor();
    assert.equal(await page.locator('.ms-repair-slot button').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), false);
    await page.close();
  });

  test('an image under 300 px is enlarged and sent', async () => {
    const page = await openApp();
    // One side short by a pixel: enlarged to 300 on that side, the shape kept.
    await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'too-small.png'));
    await page.getByText('Enlarged to 300 × 401 px; fine detail will look soft.').waitFor();
    // A 200 px icon: 300 × 300, sent.
    const icon = await pngOf(page, 200, 200);
    await page.getByLabel('Image file').setInputFiles({ name: 'icon.png', mimeType: 'image/png', buffer: icon });
    await page.getByText('Enlarged to 300 × 300 px; fine detail will look soft.').waitFor();
    const image = await repairAndSend(page, /^Enlarge to 300 px/, 'icon-fit.png');
    assert.equal(image.mime, 'image/png');
    assert.deepEqual(image.size, [300, 300]);
    await page.close();
  });

  test('a panorama is cropped or padded, and Undo brings the original back', async () => {
    const page = await openApp();
    const file = page.getByLabel('Image file');
    await file.setInputFiles(join(FIXTURES, 'too-wide.png'));
    await page.getByRole('button', { name: 'Pad to 2.5:1 on a blurred copy' }).waitFor();
    await page.getByRole('button', { name: /^Crop to 2\.5:1/ }).click();
    await page.getByRole('button', { name: 'Undo repair' }).click();
    // The original again: refused, both repairs offered.
    await page.getByRole('button', { name: 'Pad to 2.5:1 on a blurred copy' }).waitFor();
    assert.ok((await page.getByRole('alert').allInnerTexts()).some((t) => /aspect ratio/i.test(t)));
    // Three repairs to choose from (and a box to place): none was made before a press.
    assert.equal(await page.getByText(/Ready:/).count(), 0);
    const image = await repairAndSend(page, 'Pad to 2.5:1 on a blurred copy', 'too-wide-fit.png');
    assert.deepEqual(image.size, [1000, 400]);
    await page.close();
  });

  test('the crop box moves with the mouse and the keys, and Pad takes the colour chosen', async () => {
    const page = await openApp();
    // A 3:1 panorama, 900 × 300: the box keeps 750 px, from 75 px (the middle), and
    // moves 0–150.
    const panorama = await pngOf(page, 900, 300);
    await page.getByLabel('Image file').setInputFiles({ name: 'shore.png', mimeType: 'image/png', buffer: panorama });
    const box = page.getByRole('slider', { name: 'Part kept by Crop' });
    await box.waitFor();
    assert.equal(await box.getAttribute('aria-valuenow'), '75');
    assert.equal(await box.getAttribute('aria-valuemax'), '150');
    // Dragged far to the left: stops at the edge.
    // The page scrolls smoothly (bringing the refusal into view, then the box): the
    // box's place is read once it has stopped.
    const still = () =>
      page.evaluate(async () => {
        for (let last = -1; last !== scrollY; ) {
          last = scrollY;
          await new Promise((r) => setTimeout(r, 250));
        }
      });
    // The previews loaded first (the page's and the box's own): nothing moves after.
    await page.waitForFunction(() => [...document.images].every((i) => i.complete));
    await still();
    await box.scrollIntoViewIfNeeded();
    await still();
    const at = await box.boundingBox();
    await page.mouse.move(at.x + at.width / 2, at.y + at.height / 2);
    await page.mouse.down();
    await page.mouse.move(at.x - 400, at.y + at.height / 2, { steps: 5 });
    await page.mouse.up();
    assert.equal(await box.getAttribute('aria-valuenow'), '0');
    const moved = await box.boundingBox();
    assert.ok(moved.x < at.x - 5, `the box moved on screen: ${at.x} → ${moved.x}`);
    // The keys: End, then one step back (2 % of 900 px).
    await box.focus();
    await page.keyboard.press('End');
    assert.equal(await box.getAttribute('aria-valuenow'), '150');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await box.getAttribute('aria-valuenow'), '132');
    await page.getByRole('button', { name: /^Crop to 2\.5:1/ }).click();
    await page.getByText(/Crop to 2\.5:1: before 900 × 300 px.*now 750 × 300 px/).waitFor();
    // The part kept is the one the box showed: 132 px from the left (red ≈ 132 / 900).
    const kept = await repairedPixel(page, 0, 10);
    assert.ok(Math.abs(kept[0] - Math.round((132 / 900) * 255)) <= 6, `red ${kept[0]}`);
    await page.getByRole('button', { name: 'Undo repair' }).click();
    // Pad on red: the padding is red, the image whole in the middle.
    await page.getByLabel('Pad colour').fill('#ff0000');
    let corner;
    const image = await repairAndSend(page, 'Pad to 2.5:1 on a colour', 'shore-fit.png', async () => {
      corner = await repairedPixel(page, 2, 2);
    });
    assert.deepEqual(image.size, [900, 360]);
    assert.deepEqual(corner, [255, 0, 0, 255]);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});
