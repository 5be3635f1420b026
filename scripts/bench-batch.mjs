// `make bench`'s batch part (issue 29): a batch of 50 photos against the local fake
// WaveSpeed with 2 at once, its time over the fake's own minimum (photos × task time /
// 2), the longest main-thread task while it runs, the polls it sent, and the memory with
// 50 and with 200 photos in the list. `node scripts/bench-batch.mjs` runs it alone
// (after `make dist` and `make fixtures`).
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ARGS, CHROMIUM } from '../tests/e2e/support/browser.mjs';
import { serveStatic } from '../tests/e2e/support/static-server.mjs';
import { startFake } from '../tests/e2e/support/fake.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
// The release build (`make dist`); MULTISHOT_DIST names another, as for the e2e tests.
const DIST = process.env.MULTISHOT_DIST ?? join(ROOT, 'dist');
const KEY = 'sk-bench-batch-0000';
/** How long each task runs at the fake. */
const TASK_MS = 2000;
const PHOTOS = 50;
const LONG_LIST = 200;

/**
 * @param {{browser: import('playwright-core').Browser, say: (line?: string) => void}} bench
 * @returns {Promise<object>} the figures, for target/bench.json
 */
export async function benchBatch({ browser, say }) {
  const fake = await startFake(['--key', KEY, '--image-shots']);
  // The poll interval of the page's default settings.
  const app = await serveStatic(DIST, { overrides: { 'config.json': JSON.stringify({ api_base: fake.url }) } });
  const folder = await mkdtemp(join(tmpdir(), 'ms-bench-batch-'));
  const names = [];
  for (let n = 1; n <= LONG_LIST; n += 1) {
    const name = `product-${String(n).padStart(3, '0')}.jpg`;
    await copyFile(join(ROOT, 'target/fixtures/valid.jpg'), join(folder, name));
    names.push(join(folder, name));
  }
  const results = {};
  try {
    const open = async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.addInitScript(() => {
        window.__tasks = [];
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) window.__tasks.push(entry.duration);
        }).observe({ type: 'longtask', buffered: true });
      });
      await page.goto(app.url);
      await page.getByLabel('API key').fill(KEY);
      await page.getByRole('status').filter({ hasText: /your balance \$/ }).waitFor();
      const cdp = await context.newCDPSession(page);
      const memory = async () => {
        await cdp.send('HeapProfiler.collectGarbage');
        const heap = await cdp.send('Runtime.getHeapUsage');
        const dom = await cdp.send('Memory.getDOMCounters');
        return { js_heap: heap.usedSize, nodes: dom.nodes };
      };
      return { page, memory };
    };
    const choose = async (page, files) => {
      const started = Date.now();
      await page.getByLabel('Image file').setInputFiles(files);
      await page.waitForFunction((n) => document.querySelectorAll('.ms-batch-row[data-state="ready"]').length === n,
        files.length, { timeout: 600_000 });
      return Date.now() - started;
    };
    const longest = (page) => page.evaluate(() => {
      const most = Math.max(0, ...window.__tasks);
      window.__tasks = [];
      return most;
    });

    // 50 photos, two at once.
    {
      await fake.scenario({ task_ms: TASK_MS, max_running: 2 });
      const { page, memory } = await open();
      let polls = 0;
      page.on('request', (r) => { if (/\/predictions\/[0-9a-f]+\/result/.test(r.url())) polls += 1; });
      const checked = await choose(page, names.slice(0, PHOTOS));
      const checkingTask = await longest(page);
      const at50 = await memory();
      const started = Date.now();
      await page.locator('.ms-batch').getByRole('button', { name: 'Generate all' }).click();
      await page.waitForFunction((n) => document.querySelectorAll('.ms-batch-row[data-state="done"]').length === n,
        PHOTOS, { timeout: PHOTOS * TASK_MS * 3 });
      const took = Date.now() - started;
      const runningTask = await longest(page);
      const stats = await fake.stats();
      await page.context().close();
      const minimum = (PHOTOS * TASK_MS) / 2;
      results.run = {
        photos: PHOTOS, task_ms: TASK_MS, took_ms: took, minimum_ms: minimum, over_minimum_ms: took - minimum,
        checked_ms: checked, longest_task_checking_ms: checkingTask, longest_task_running_ms: runningTask,
        submits: stats.submits, peak_running: stats.peak_running, polls, polls_per_second: polls / (took / 1000),
      };
      results.memory = { [PHOTOS]: at50 };
      say();
      say(`Batch: ${PHOTOS} photos, 2 at once, each task ${TASK_MS / 1000} s at the fake`);
      say(`  checked and listed in ${(checked / 1000).toFixed(1)} s (longest main-thread task ${checkingTask.toFixed(0)} ms)`);
      say(`  all done in ${(took / 1000).toFixed(1)} s · the fake's own minimum ${(minimum / 1000).toFixed(1)} s · over it ${((took - minimum) / 1000).toFixed(1)} s (${(((took - minimum) / minimum) * 100).toFixed(1)} %)`);
      say(`  longest main-thread task while running ${runningTask.toFixed(0)} ms · ${stats.submits} submits, at most ${stats.peak_running} running · ${polls} polls (${results.run.polls_per_second.toFixed(2)} a second)`);
    }

    // 200 photos listed: memory beside 50.
    {
      await fake.reset();
      const { page, memory } = await open();
      const checked = await choose(page, names);
      const task = await longest(page);
      results.memory[LONG_LIST] = await memory();
      // How long a press takes to show with 200 rows: Remove on the last row.
      const removal = await page.evaluate(() => new Promise((resolve) => {
        const row = document.querySelector('.ms-batch-row:last-child');
        const started = performance.now();
        row.querySelector('[data-action="remove"]').click();
        requestAnimationFrame(() => resolve(row.isConnected ? null : performance.now() - started));
      }));
      await page.context().close();
      const [a, b] = [results.memory[PHOTOS], results.memory[LONG_LIST]];
      const perRow = (b.js_heap - a.js_heap) / (LONG_LIST - PHOTOS);
      results.long_list = { photos: LONG_LIST, checked_ms: checked, longest_task_ms: task, remove_to_frame_ms: removal, js_heap_per_row: perRow };
      const mb = (n) => `${(n / 1048576).toFixed(2)} MB`;
      say(`  memory after GC: ${PHOTOS} photos JS heap ${mb(a.js_heap)} (${a.nodes} DOM nodes) · ${LONG_LIST} photos ${mb(b.js_heap)} (${b.nodes} nodes) · ${(perRow / 1024).toFixed(1)} KB a row (one decoded 1024 px photo would be ~3 MB)`);
      say(`  ${LONG_LIST} photos checked in ${(checked / 1000).toFixed(1)} s, longest task ${task.toFixed(0)} ms; Remove to the next frame ${removal == null ? '—' : `${removal.toFixed(1)} ms`}`);
    }
  } finally {
    fake.stop();
    await app.close();
    await rm(folder, { recursive: true, force: true });
  }
  return results;
}

// Run alone: `node scripts/bench-batch.mjs`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    await benchBatch({ browser, say: (line = '') => console.log(line) });
  } finally {
    await browser.close();
  }
}
