// End to end: no paid generation is lost. The history in storage, resuming after a
// reload, two tabs with one poller, offline and back, the wait cap with Check again,
// looking a task up by id, deleting and clearing, and damaged or full storage — on the
// release build against the local fake WaveSpeed. Requests are counted at the fake and
// per page.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { startFake } from './support/fake.mjs';
import { expectPlayingShots } from './support/shots.mjs';
import { FIXTURES, serveApp, takeDown, cleanSlate } from './support/suite.mjs';

const KEY = 'sk-e2e-history-51c2';

let fake;
let proxy;
let app; // config: direct mode at `fake`, short poll interval
let capped; // the same with a 5 s wait cap
let browser;

before(async () => {
  fake = await startFake(['--key', KEY]);
  proxy = await startFake(['--proxy']);
  app = await serveApp({ api_base: fake.url, poll_interval_ms: 500 });
  capped = await serveApp({ api_base: fake.url, poll_interval_ms: 500, max_wait_s: 5 });
  browser = await launch();
});

after(() => takeDown(browser, fake, proxy, app, capped));

beforeEach(() => cleanSlate({ browser, app, fakes: [fake, proxy] }));

const kinds = (log, kind) => log.filter((e) => e.kind === kind);
const isPoll = (url) => /\/api\/v3\/predictions\/[^/]+\/result$/.test(url);

/** Opens the app; `proxyUrl` sends through the proxy, else `key` is typed (if any). */
async function openApp({ key = KEY, proxyUrl, server = app } = {}) {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.polls = 0;
  page.on('request', (r) => {
    if (isPoll(r.url())) page.polls += 1;
  });
  await page.goto(server.url);
  await appMounted(page);
  if (proxyUrl) await page.getByLabel('Proxy URL').fill(proxyUrl);
  else if (key) await page.getByLabel('API key').fill(key);
  return page;
}

async function startJob(page) {
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.waitForFunction(() => document.querySelector('.ms-ok'));
  const button = page.getByRole('button', { name: 'Generate' });
  assert.equal(await button.isEnabled(), true, await page.locator('#ms-generate-hint').innerText());
  await button.click();
  const id = page.locator('.ms-generate [data-task-id]');
  await id.waitFor();
  return id.innerText();
}

/** The Generate section's status line. */
const statusLine = (page) => page.locator('.ms-generate .ms-job-status');

async function waitForStatus(page, pattern, timeout = 15_000) {
  await page.waitForFunction(
    (source) => new RegExp(source).test(document.querySelector('.ms-generate .ms-job-status')?.textContent ?? ''),
    pattern.source,
    { timeout },
  );
}

/** The task ids listed under History, top to bottom. */
const historyIds = (page) => page.locator('.ms-history-item').evaluateAll((items) => items.map((i) => i.dataset.task));

/** The stored record of a task, parsed. */
const stored = (page, id) => page.evaluate((id) => JSON.parse(localStorage.getItem(`multishot.job.${id}`)), id);

describe('history', () => {
  test('a job is recorded when its id arrives, before the first poll, without the key', async () => {
    await fake.scenario({ faults: { poll: [{ delay_ms: 3000 }] } });
    const page = await openApp();
    const id = await startJob(page);
    const record = await stored(page, id);
    assert.equal(record.status, 'created', 'recorded before any poll came back');
    assert.equal(record.v, 1);
    assert.equal(record.id, id);
    assert.equal(record.base, fake.url.replace(/\/$/, ''));
    assert.equal(record.proxy, false);
    assert.match(record.thumbnail, /^data:image\/jpeg;base64,/);
    assert.ok(record.thumbnail.length < 16 * 1024, `thumbnail of ${record.thumbnail.length} characters`);
    assert.ok(!JSON.stringify(record).includes(KEY));
    await expectPlayingShots(page.locator('.ms-generate'));
    const done = await stored(page, id);
    assert.equal(done.status, 'completed');
    assert.equal(done.outputs.length, 3);
    assert.equal(done.inference_ms, 41250);
    assert.deepEqual(page.errors, []);
  });

  test('the history survives a reload and lists the right jobs; deleting one leaves the others', async () => {
    const page = await openApp();
    const first = await startJob(page);
    await expectPlayingShots(page.locator('.ms-generate'));
    await page.reload();
    await appMounted(page);
    await page.getByLabel('API key').fill(KEY);
    const second = await startJob(page);
    await expectPlayingShots(page.locator('.ms-generate'));
    await page.reload();
    await page.locator('.ms-history-item').nth(1).waitFor();
    assert.deepEqual(await historyIds(page), [second, first], 'newest first');
    const item = page.locator(`.ms-history-item[data-task="${first}"]`);
    assert.match(await item.innerText(), /completed/);
    assert.equal(await item.locator('img.ms-thumb').count(), 1, 'with its thumbnail');
    // A job opens to its shots, with download and copy-link for each.
    await item.getByRole('button', { name: 'Open' }).click();
    await expectPlayingShots(page.locator(`.ms-history-item[data-task="${first}"]`));
    await item.getByRole('button', { name: 'Copy link to shot 2' }).waitFor();
    await item.getByRole('link', { name: 'Download shot 3' }).waitFor();
    // Delete the second: the first stays, also after a reload.
    await page.locator(`.ms-history-item[data-task="${second}"]`).getByRole('button', { name: 'Delete' }).click();
    assert.deepEqual(await historyIds(page), [first]);
    await page.reload();
    await page.locator('.ms-history-item').first().waitFor();
    assert.deepEqual(await historyIds(page), [first]);
    assert.equal(await stored(page, second), null);
    // Clear history asks first.
    await page.getByRole('button', { name: 'Clear history' }).click();
    await page.getByRole('button', { name: 'Keep it' }).click();
    assert.deepEqual(await historyIds(page), [first]);
    await page.getByRole('button', { name: 'Clear history' }).click();
    await page.getByRole('button', { name: 'Yes, clear history' }).click();
    assert.deepEqual(await historyIds(page), []);
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
    assert.deepEqual(page.errors, []);
  });

  test('a corrupt or foreign entry planted in storage is skipped with a notice', async () => {
    const page = await openApp();
    const good = await startJob(page);
    await expectPlayingShots(page.locator('.ms-generate'));
    await page.evaluate(() => {
      localStorage.setItem('multishot.job.broken', '{"v":1,"id":');
      localStorage.setItem('multishot.job.future', '{"v":9,"id":"future"}');
    });
    await page.reload();
    await page.locator('.ms-history-item').first().waitFor();
    assert.deepEqual(await historyIds(page), [good], 'the good entry is still listed');
    const notice = await page.locator('.ms-skipped').innerText();
    assert.match(notice, /“multishot\.job\.broken” was skipped: it is not a job record/);
    assert.match(notice, /“multishot\.job\.future” was skipped: it was saved by a newer version/);
    assert.equal(await page.evaluate(() => localStorage.getItem('multishot.job.future')), '{"v":9,"id":"future"}', 'left as it was');
    assert.deepEqual(page.errors, []);
  });

  test('storage full: the user is told, and the job goes on in memory', async () => {
    const page = await openApp();
    await page.evaluate(() => {
      const chunk = 'x'.repeat(256 * 1024);
      try {
        for (let i = 0; ; i += 1) localStorage.setItem(`filler.${i}`, chunk);
      } catch {
        /* full */
      }
      try {
        for (let i = 0; ; i += 1) localStorage.setItem(`filler.small.${i}`, 'x'.repeat(256));
      } catch {
        /* full to the last bytes */
      }
    });
    const id = await startJob(page);
    const alert = page.locator('.ms-history').getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /The history cannot be saved: the browser’s storage for this page is full\. Running jobs go on in this tab/);
    await expectPlayingShots(page.locator('.ms-generate'));
    assert.equal(await page.locator('.ms-generate [data-task-id]').innerText(), id, 'the task id stays');
    assert.deepEqual(await historyIds(page), [id], 'listed for this visit');
    await page.evaluate(() => localStorage.clear());
  });
});

describe('resume', () => {
  test('a reload in the middle of a job: it finishes and its shots play, with one submit', async () => {
    await fake.scenario({ statuses: ['processing', 'processing', 'processing', 'processing', 'processing', 'completed'] });
    const page = await openApp();
    const id = await startJob(page);
    await waitForStatus(page, /^Status: processing/);
    await page.reload();
    // The key is not remembered: the job says it needs it to go on.
    await page.locator('.ms-generate [data-task-id]').waitFor();
    assert.equal(await page.locator('.ms-generate [data-task-id]').innerText(), id);
    await page.getByText('This task was sent with your API key').waitFor();
    assert.match(await page.locator(`.ms-history-item[data-task="${id}"]`).innerText(), /needs your API key/);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectPlayingShots(page.locator('.ms-generate'));
    const log = await fake.log();
    assert.equal(kinds(log, 'submit').length, 1, 'exactly one submit');
    assert.equal(kinds(log, 'upload').length, 1);
    assert.deepEqual(page.errors, []);
  });

  test('through a proxy, a reload resumes by itself (no key needed)', async () => {
    await proxy.scenario({ statuses: ['processing', 'processing', 'processing', 'processing', 'completed'] });
    const page = await openApp({ proxyUrl: proxy.url });
    const id = await startJob(page);
    await waitForStatus(page, /^Status: processing/);
    await page.reload();
    await expectPlayingShots(page.locator('.ms-generate'));
    assert.equal(await page.locator('.ms-generate [data-task-id]').innerText(), id);
    const log = await proxy.log();
    assert.equal(kinds(log, 'submit').length, 1, 'exactly one submit');
    assert.ok(log.every((e) => e.authorization === null));
  });

  test('two tabs: one polls, the other follows it, and takes over when the first closes', async () => {
    const processing = Array(10).fill('processing');
    await proxy.scenario({ statuses: [...processing, 'completed'] });
    const a = await openApp({ proxyUrl: proxy.url });
    const id = await startJob(a);
    await waitForStatus(a, /^Status: processing/);
    const b = await openApp({ proxyUrl: proxy.url });
    const item = b.locator(`.ms-history-item[data-task="${id}"]`);
    await item.waitFor();
    await b.getByText('Another tab of this page is checking this task').waitFor();
    assert.match(await item.innerText(), /in another tab/);
    await a.waitForTimeout(2000);
    assert.equal(b.polls, 0, 'the second tab does not poll');
    assert.ok(a.polls >= 3, `the first tab polls (${a.polls})`);
    // Both show the progress; the first tab ends it.
    await a.bringToFront(); // Chromium defers media loading in a background tab
    await expectPlayingShots(a.locator('.ms-generate'));
    await waitForStatus(b, /^Status: completed/);
    await b.bringToFront();
    await expectPlayingShots(b.locator('.ms-generate'));
    assert.equal(b.polls, 0, 'still no poll from the second tab');
    assert.equal(kinds(await proxy.log(), 'poll').length, a.polls, 'every poll came from the first tab');

    // A second job: the first tab closes in the middle, the other one finishes it.
    await proxy.reset();
    await proxy.scenario({ statuses: [...processing, 'completed'] });
    const second = await startJob(a);
    await waitForStatus(a, /^Status: processing/);
    await b.locator(`.ms-history-item[data-task="${second}"]`).waitFor();
    assert.equal(b.polls, 0);
    await a.close();
    await b.bringToFront();
    await b.locator(`.ms-history-item[data-task="${second}"]`).getByRole('button', { name: 'Open' }).click();
    await expectPlayingShots(b.locator(`.ms-history-item[data-task="${second}"]`));
    assert.ok(b.polls > 0, 'the second tab took over');
    assert.equal(kinds(await proxy.log(), 'submit').length, 1);
  });

  test('offline pauses polling with a notice; online again, the job completes', async () => {
    await fake.scenario({ statuses: [...Array(6).fill('processing'), 'completed'] });
    const page = await openApp();
    await startJob(page);
    await waitForStatus(page, /^Status: processing/);
    await browser.context.setOffline(true);
    try {
      await page.getByText('You are offline. Checking is paused').waitFor();
      await page.waitForTimeout(600);
      const polls = kinds(await fake.log(), 'poll').length;
      await page.waitForTimeout(2000);
      assert.equal(kinds(await fake.log(), 'poll').length, polls, 'no poll while offline');
      assert.match(await statusLine(page).innerText(), /^Status: processing/, 'not an error');
    } finally {
      await browser.context.setOffline(false);
    }
    await expectPlayingShots(page.locator('.ms-generate'));
    assert.equal(await page.getByText('You are offline').count(), 0);
  });

  test('offline, no timer re-checks: the poll that came due waits for the online event', async () => {
    await fake.scenario({ statuses: [...Array(6).fill('processing'), 'completed'] });
    const page = await openApp();
    await startJob(page);
    await waitForStatus(page, /^Status: processing/);
    await browser.context.setOffline(true);
    try {
      await page.getByText('You are offline. Checking is paused').waitFor();
      // Past the next poll's time (500 ms) and a retry's (1 s), then count the timers
      // the page starts while it stays offline.
      await page.waitForTimeout(1500);
      await page.evaluate(() => {
        window.timersSet = 0;
        const set = window.setTimeout;
        window.setTimeout = (...args) => {
          window.timersSet += 1;
          return set(...args);
        };
      });
      await page.waitForTimeout(2000);
      assert.equal(await page.evaluate(() => window.timersSet), 0, 'no timer runs while offline');
    } finally {
      await browser.context.setOffline(false);
    }
    await expectPlayingShots(page.locator('.ms-generate'));
  });

  test('the wait cap: "still running at WaveSpeed", the id stays; Check again completes', async () => {
    // 500 ms polls and a 5 s cap: about ten polls, then the cap; three more finish it.
    await fake.scenario({ statuses: [...Array(12).fill('processing'), 'completed'] });
    const page = await openApp({ server: capped });
    const id = await startJob(page);
    await page.getByText('Still running at WaveSpeed').waitFor({ timeout: 15_000 });
    assert.equal(await page.getByRole('alert').count(), 0, 'not an error');
    assert.equal(await page.locator('.ms-generate [data-task-id]').innerText(), id);
    await page.locator('.ms-generate').getByRole('button', { name: 'Copy the task ID' }).waitFor();
    const polls = kinds(await fake.log(), 'poll').length;
    await page.waitForTimeout(1500);
    assert.equal(kinds(await fake.log(), 'poll').length, polls, 'no poll after the cap');
    await page.getByRole('button', { name: 'Check again' }).click();
    await expectPlayingShots(page.locator('.ms-generate'));
  });

  test('a task id can be looked up: an earlier generation started elsewhere', async () => {
    // A task created outside the page (say, with the SDK).
    const res = await fetch(`${fake.url}/api/v3/kwaivgi/kling-v1/ai-multi-shot`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: 'https://example.com/photo.jpg', enable_base64_output: false }),
    });
    const { data } = await res.json();
    const page = await openApp();
    const field = page.getByLabel('Look up a task');
    await field.fill('../etc/passwd');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByText('That is not a task ID').waitFor();
    await field.fill('no-such-task');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByText(/Could not look it up: .*task not found/).waitFor();
    assert.deepEqual(await historyIds(page), [], 'an unknown id is not added');
    await field.fill(data.id);
    await page.getByRole('button', { name: 'Look up' }).click();
    await expectPlayingShots(page.locator('.ms-generate'));
    assert.equal(await page.locator('.ms-generate [data-task-id]').innerText(), data.id);
    assert.deepEqual(await historyIds(page), [data.id]);
    assert.equal(kinds(await fake.log(), 'submit').length, 1, 'nothing sent again');
  });
});
