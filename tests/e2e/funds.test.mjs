// End to end: before paying, in direct mode. Once a key is typed, the page asks the fake
// WaveSpeed for the price of a run and the account's balance (with the key, in the
// Authorization header only) and shows both beside Generate in a role="status" line; a
// balance below the price keeps Generate disabled with a link to top up; failures of
// either look-up block nothing; both are read again after each run; neither is stored.
// (A site owner's proxy's runs left: proxy.test.mjs.)
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { startFake } from './support/fake.mjs';
import { expectPlayingShots } from './support/shots.mjs';
import { FIXTURES, serveApp, takeDown, cleanSlate } from './support/suite.mjs';

const KEY = 'sk-e2e-funds-5b2e91c4';
const TOP_UP = 'https://wavespeed.ai/top-up';

let fake;
let app;
let browser;

before(async () => {
  fake = await startFake(['--key', KEY]);
  app = await serveApp({ api_base: fake.url, poll_interval_ms: 300 });
  browser = await launch();
});

after(() => takeDown(browser, fake, app));

beforeEach(() => cleanSlate({ browser, app, fakes: [fake] }));

async function openApp() {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(app.url);
  await appMounted(page);
  return page;
}

const funds = (page) => page.getByRole('status').filter({ hasText: /run costs|balance/ });
const generateButton = (page) => page.getByRole('button', { name: 'Generate', exact: true });
const kinds = (log, kind) => log.filter((e) => e.kind === kind);

async function chooseValidImage(page) {
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.locator('.ms-ok').waitFor();
}

describe('price and balance, with the user\'s key', () => {
  test('shown beside Generate once a key is typed, asked with the key, never stored, read again after a run', async () => {
    const page = await openApp();
    assert.equal(await funds(page).count(), 0, 'nothing is said before there is a key');
    await page.getByLabel('API key').fill(KEY);
    await funds(page).filter({ hasText: 'One run costs $0.07 · your balance $12.40' }).waitFor();

    const log = await fake.log();
    const [pricing] = kinds(log, 'pricing');
    assert.deepEqual(pricing.body, { model_id: 'kwaivgi/kling-v1/ai-multi-shot', inputs: {} });
    assert.equal(kinds(log, 'balance').length, 1);
    for (const e of [...kinds(log, 'pricing'), ...kinds(log, 'balance')]) {
      assert.equal(e.authorization, `Bearer ${KEY}`, 'the key, in the Authorization header');
      assert.ok(!e.path.includes(KEY), 'never in the URL');
    }

    // One run costs $0.07 at the fake: the balance is read again once it is over.
    await chooseValidImage(page);
    await generateButton(page).click();
    await expectPlayingShots(page.locator('.ms-generate'));
    await funds(page).filter({ hasText: 'your balance $12.33' }).waitFor();
    assert.equal(kinds(await fake.log(), 'balance').length, 2);
    assert.ok(await page.getByRole('button', { name: 'Generate again ($0.07)' }).isVisible());

    // Neither amount is kept anywhere the page stores things.
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
    assert.ok(!/12\.4|12\.33|unit_price|balance/.test(stored), stored);
    assert.deepEqual(page.errors, []);
  });

  test('a key typed key by key is asked about once, when it settles', async () => {
    const page = await openApp();
    await page.getByLabel('API key').pressSequentially(KEY, { delay: 40 });
    await funds(page).filter({ hasText: 'your balance $12.40' }).waitFor();
    await page.waitForTimeout(700);
    const log = await fake.log();
    assert.equal(kinds(log, 'balance').length, 1, 'one balance look-up');
    assert.equal(kinds(log, 'pricing').length, 1, 'one price look-up');
    assert.equal(kinds(log, 'unauthorized').length, 0, 'no partial key was sent');
  });

  test('a balance below the price keeps Generate disabled, says both amounts and links to top up; nothing is sent', async () => {
    await fake.scenario({ unit_price: 0.35, balance: 0.3 });
    const page = await openApp();
    await page.getByLabel('API key').fill(KEY);
    await chooseValidImage(page);
    const line = funds(page).filter({ hasText: 'Your balance ($0.30) is less than one run ($0.35)' });
    await line.waitFor();
    const link = line.getByRole('link', { name: 'Top up at WaveSpeed' });
    assert.equal(await link.getAttribute('href'), TOP_UP);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await generateButton(page).isDisabled(), true, 'Generate stays disabled');
    await generateButton(page).click({ force: true });
    await page.waitForTimeout(300);
    const log = await fake.log();
    assert.equal(kinds(log, 'upload').length + kinds(log, 'submit').length, 0, 'nothing was sent');

    // Topped up (at WaveSpeed): a new key look-up (here, the key typed again) shows it.
    await fake.scenario({ unit_price: 0.35, balance: 5 });
    await page.getByLabel('API key').fill('');
    await page.getByLabel('API key').fill(KEY);
    await funds(page).filter({ hasText: 'One run costs $0.35 · your balance $5.00' }).waitFor();
    assert.equal(await generateButton(page).isEnabled(), true);
  });

  test('failed look-ups block nothing: the listed price, and the balance "could not be read"', async () => {
    await fake.scenario({ faults: { pricing: [{ status: 500 }], balance: [{ bad_json: true }] } });
    const page = await openApp();
    await page.getByLabel('API key').fill(KEY);
    await funds(page).filter({ hasText: 'One run costs $0.07 · your balance could not be read' }).waitFor();
    await chooseValidImage(page);
    assert.equal(await generateButton(page).isEnabled(), true, 'a failed look-up never blocks Generate');
    await generateButton(page).click();
    await expectPlayingShots(page.locator('.ms-generate'));
    // The faults were one-off: after the run both are read.
    await funds(page).filter({ hasText: 'One run costs $0.07 · your balance $12.33' }).waitFor();
  });

  test('a key WaveSpeed refuses is said so on the line, and Generate still decides nothing on it', async () => {
    const page = await openApp();
    await page.getByLabel('API key').fill('sk-not-the-key');
    await funds(page).filter({ hasText: 'your balance could not be read: WaveSpeed refused this key' }).waitFor();
    await chooseValidImage(page);
    assert.equal(await generateButton(page).isEnabled(), true);
  });
});
