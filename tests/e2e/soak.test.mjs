// Soak: many jobs in a row against the fake, with faults injected at random points
// (seeded, so a run can be repeated): 5xx and 429 while polling, slow replies, a reply
// that is not JSON, a task that fails, a reload in the middle, going offline. Every job
// must end in a state shown in the history with its task id; the fake must see exactly
// one submit per job and no request about a job after it ended; memory stays bounded.
//
// `make test` runs SOAK_JOBS=12; `make soak` runs 50. SOAK_SEED picks the faults.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch } from './support/browser.mjs';
import { startFake } from './support/fake.mjs';
import { ROOT, serveApp, takeDown } from './support/suite.mjs';

const JOBS = Number(process.env.SOAK_JOBS ?? 12);
const SEED = Number(process.env.SOAK_SEED ?? 20261125);

let proxy;
let app;
let browser;

before(async () => {
  proxy = await startFake(['--proxy']);
  app = await serveApp({ proxy_url: proxy.url, poll_interval_ms: 500 });
  browser = await launch();
});

after(() => takeDown(browser, proxy, app));

/** mulberry32: a small seeded generator. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FAULTS = ['none', 'server-error', 'rate-limited', 'slow', 'bad-json', 'failed-task', 'reload', 'offline'];

test(`soak: ${JOBS} jobs with seeded faults (seed ${SEED}), nothing lost`, async () => {
  const rand = random(SEED);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const page = await browser.context.newPage();
  const cdp = await browser.context.newCDPSession(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${app.url}config.json`);
  await page.evaluate(() => localStorage.clear());
  await page.goto(app.url);
  await page.locator('.ms-mode[data-mode="proxy"]').waitFor();
  const choose = async () => {
    await page.getByLabel('Image file').setInputFiles(join(ROOT, 'target/fixtures/valid.jpg'));
    await page.locator('.ms-ok').waitFor();
  };
  await choose();

  const figures = { jobs: 0, faults: 0, recovered: 0, failed_tasks: 0, lost: 0 };
  const drawn = {};
  const ended = []; // { id, logLength }
  const heap = [];
  for (let n = 1; n <= JOBS; n += 1) {
    const fault = pick(FAULTS);
    drawn[fault] = (drawn[fault] ?? 0) + 1;
    const processing = Array(1 + Math.floor(rand() * 3)).fill('processing');
    const scenario = { statuses: ['created', ...processing, 'completed'], faults: {} };
    if (fault === 'server-error') scenario.faults.poll = [{ status: 500, message: 'boom' }, { status: 503 }];
    if (fault === 'rate-limited') scenario.faults.poll = [{ status: 429, retry_after: '1' }];
    if (fault === 'slow') scenario.faults.poll = [{ delay_ms: 2500 }];
    if (fault === 'bad-json') scenario.faults.poll = [{ bad_json: true }];
    if (fault === 'failed-task') {
      scenario.statuses = ['processing', 'failed'];
      scenario.error = 'the model could not use this image';
    }
    await proxy.scenario(scenario);
    if (fault !== 'none') figures.faults += 1;

    await page.getByRole('button', { name: 'Generate' }).click();
    const idCell = page.locator('.ms-generate [data-task-id]');
    await idCell.waitFor();
    const id = await idCell.innerText();
    if (fault === 'reload') {
      await page.reload();
      await page.locator('.ms-generate [data-task-id]').waitFor();
      assert.equal(await page.locator('.ms-generate [data-task-id]').innerText(), id, 'the job is back after the reload');
      await choose();
    }
    if (fault === 'offline') {
      await browser.context.setOffline(true);
      await page.getByText('You are offline').waitFor();
      await page.waitForTimeout(700);
      await browser.context.setOffline(false);
    }
    if (fault === 'bad-json') {
      // A reply that is not JSON stops the wait with a message; Check again goes on.
      await page.getByText('Stopped:').waitFor({ timeout: 10_000 });
      await page.locator('.ms-generate').getByRole('button', { name: 'Check again' }).click();
    }
    const status = page.locator('.ms-generate .ms-job-status');
    await page.waitForFunction(
      () => /^Status: (completed|failed)/.test(document.querySelector('.ms-generate .ms-job-status')?.textContent ?? ''),
      null,
      { timeout: 30_000 },
    );
    const final = (await status.innerText()).match(/^Status: (\w+)/)[1];
    if (fault === 'failed-task') {
      assert.equal(final, 'failed');
      figures.failed_tasks += 1;
    } else {
      assert.equal(final, 'completed', `job ${n} (${fault})`);
      await page.locator('.ms-generate').getByRole('list', { name: 'Shots' }).waitFor();
      if (fault !== 'none') figures.recovered += 1;
    }
    // Shown in the history with its id and final status.
    const item = page.locator(`.ms-history-item[data-task="${id}"]`);
    await item.waitFor();
    assert.match(await item.innerText(), new RegExp(final));
    ended.push({ id, logLength: (await proxy.log()).length });
    figures.jobs += 1;
    if (n % 5 === 0 || n === JOBS) {
      await cdp.send('HeapProfiler.collectGarbage');
      heap.push((await cdp.send('Runtime.getHeapUsage')).usedSize);
    }
  }

  // Nothing more after the end: no timer is left running.
  await page.waitForTimeout(2000);
  const log = await proxy.log();
  for (const { id, logLength } of ended) {
    const late = log.slice(logLength).filter((e) => e.task === id || e.path?.includes(id));
    assert.deepEqual(late, [], `requests about ${id} after it ended`);
  }
  const api = (entries) => entries.filter((e) => e.path?.startsWith('/api/'));
  const settled = api(log).length;
  await page.waitForTimeout(2000);
  assert.equal(api(await proxy.log()).length, settled, 'no API request while nothing runs');
  // One submit per job, and every job in the history.
  const submits = log.filter((e) => e.kind === 'submit');
  assert.equal(submits.length, JOBS, 'exactly one submit per job');
  assert.deepEqual(new Set(submits.map((e) => e.task)), new Set(ended.map((e) => e.id)));
  const listed = await page.locator('.ms-history-item').evaluateAll((items) => items.map((i) => i.dataset.task));
  figures.lost = ended.filter((e) => !listed.includes(e.id)).length;
  assert.equal(figures.lost, 0);
  // Memory stays bounded (the history grows by a row a job, the shots do not pile up).
  const mb = heap.map((h) => (h / 1048576).toFixed(1));
  assert.ok(Math.max(...heap) < 32 * 1048576, `JS heap ${mb.join(' → ')} MB`);
  assert.deepEqual(errors, []);
  console.log(`soak (seed ${SEED}): jobs ${figures.jobs}, faults injected ${figures.faults}, recovered ${figures.recovered}, `
    + `failed tasks shown ${figures.failed_tasks}, lost ${figures.lost}; JS heap ${mb.join(' → ')} MB; `
    + `faults drawn ${JSON.stringify(drawn)}`);
});
