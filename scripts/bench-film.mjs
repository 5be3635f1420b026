// `make bench`'s Download video part: a film of three still shots made by the page,
// beside Debian's ffmpeg making the same film, and the sizes of the modules the page
// loads on demand. `node scripts/bench-film.mjs` runs it alone (after `make dist`).
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { serveStatic } from '../tests/e2e/support/static-server.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const DIST = join(ROOT, 'dist');
const OUT = join(ROOT, 'target/bench');

/** Median, min and max of repeated runs (make bench's figures). */
export const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
};
/** A figure of `stats` in milliseconds, as make bench prints it. */
export const ms = (s) => `${s.median.toFixed(1).padStart(8)} ms  (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)})`;

/**
 * @param {{freshPage: () => Promise<import('playwright-core').Page>, fake: object, runs: number,
 *   say: (line?: string) => void, ms: (s: object) => string, stats: (v: number[]) => object}} bench
 * @returns {Promise<{film: object, modules: object}>}
 */
export async function benchFilm({ freshPage, fake, runs, say, ms, stats }) {
  const results = { film: {}, modules: {} };
  // Download video: a film of three still shots, 4 s each, at 1080 × 1920 and at
  // 1920 × 1080 (the fake's photos made to that size), from the press to the saved file
  // in a fresh page (the module's first load included), frames per second, the longest
  // main-thread task and the peak JS heap; beside Debian's ffmpeg making the same film
  // (libx264 -preset veryfast, zoompan — a push-in — over the same images, same size,
  // length and frame rate; concatenated, without the page's cross-fades).
  {
    const FILMS = Math.min(runs, 3);
    const dir = join(OUT, 'film');
    await mkdir(dir, { recursive: true });
    const shots = await serveStatic(dir, { cors: true });
    say();
    say(`Download video: a 3-shot film of stills, 12 s at 30 fps (${FILMS} runs each), beside ffmpeg`);
    for (const [name, width, height] of [['1080 × 1920', 1080, 1920], ['1920 × 1080', 1920, 1080]]) {
      const files = [1, 2, 3].map((n) => `${width}x${height}-${n}.jpg`);
      files.forEach((file, i) => execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(ROOT, `fake-wavespeed/media/shot-${i + 1}.jpg`),
        '-vf', `scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height}`, '-q:v', '2', join(dir, file)]));
      const times = [];
      const longest = [];
      const heap = [];
      for (let run = 0; run < FILMS; run += 1) {
        await fake.scenario({ outputs: files.map((f) => shots.url + f) });
        const page = await freshPage();
        await page.getByLabel('Image file').setInputFiles(join(ROOT, 'target/fixtures/valid.jpg'));
        await page.locator('.ms-ok').waitFor();
        await page.getByRole('button', { name: 'Generate' }).click();
        await page.getByRole('list', { name: 'Shots' }).waitFor({ timeout: 30_000 });
        await page.evaluate(() => {
          window.__long = [];
          window.__heap = 0;
          new PerformanceObserver((list) => window.__long.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
          setInterval(() => { window.__heap = Math.max(window.__heap, performance.memory.usedJSHeapSize); }, 50);
        });
        const start = Date.now();
        const [download] = await Promise.all([
          page.waitForEvent('download', { timeout: 300_000 }),
          page.getByRole('button', { name: /^Download video/ }).click(),
        ]);
        await download.path();
        times.push(Date.now() - start);
        const seen = await page.evaluate(() => ({ long: Math.max(0, ...window.__long), heap: window.__heap }));
        longest.push(seen.long);
        heap.push(seen.heap);
        await page.context().close();
      }
      await fake.reset();
      const ffmpeg = [];
      const out = join(dir, `ffmpeg-${width}x${height}.mp4`);
      const pan = (i) => `[${i}]zoompan=z='1+0.15*on/119':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=120:s=${width}x${height}:fps=30,setsar=1[s${i}]`;
      for (let run = 0; run < FILMS; run += 1) {
        const start = Date.now();
        execFileSync('ffmpeg', ['-v', 'error', '-y', ...files.flatMap((f) => ['-i', join(dir, f)]),
          '-filter_complex', `${pan(0)};${pan(1)};${pan(2)};[s0][s1][s2]concat=n=3:v=1:a=0,format=yuv420p[v]`,
          '-map', '[v]', '-c:v', 'libx264', '-preset', 'veryfast', '-r', '30', '-movflags', '+faststart', out]);
        ffmpeg.push(Date.now() - start);
      }
      const page = stats(times);
      const theirs = stats(ffmpeg);
      results.film[name] = {
        press_to_file: page,
        frames_per_second: 360 / (page.median / 1000),
        longest_task: stats(longest),
        peak_js_heap: stats(heap),
        ffmpeg: theirs,
        ffmpeg_bytes: (await stat(out)).size,
      };
      const f = results.film[name];
      say(`  ${name.padEnd(12)} page   ${ms(page)}   ${f.frames_per_second.toFixed(0)} fps   goal < 12,000 ms (faster than it plays)`);
      say(`  ${''.padEnd(12)} ffmpeg ${ms(theirs)}   page / ffmpeg ${(page.median / theirs.median).toFixed(2)}×   goal ≤ 2×`);
      say(`  ${''.padEnd(12)} longest main-thread task ${ms(f.longest_task)}, peak JS heap ${(f.peak_js_heap.median / 1048576).toFixed(1)} MB`);
    }
    await shots.close();
  }

  // The modules the page loads on demand, not in the first load: their files, brotli.
  {
    const names = await readdir(DIST);
    say();
    say('Modules loaded on demand (brotli -q 11)');
    for (const [label, prefix] of [['Make it fit', 'multishot-repair'], ['Download video', 'multishot-film'], ['Bot check', 'multishot-turnstile']]) {
      const sizes = {};
      for (const file of names.filter((n) => n.startsWith(prefix))) {
        const bytes = await readFile(join(DIST, file));
        sizes[file] = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
      }
      const total = Object.values(sizes).reduce((a, b) => a + b, 0);
      results.modules[label] = { files: sizes, total };
      say(`  ${label.padEnd(16)} ${(total / 1024).toFixed(1)} KB   (${Object.entries(sizes).map(([f, n]) => `${f} ${(n / 1024).toFixed(1)}`).join(', ')})`);
    }
  }

  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { chromium } = await import('playwright-core');
  const { ARGS, CHROMIUM } = await import('../tests/e2e/support/browser.mjs');
  const { startFake } = await import('../tests/e2e/support/fake.mjs');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, '--enable-precise-memory-info'] });
  const fake = await startFake(['--proxy']);
  const app = await serveStatic(DIST, { overrides: { 'config.json': JSON.stringify({ proxy_url: fake.url, poll_interval_ms: 500 }) } });
  try {
    const freshPage = async () => {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      await page.goto(app.url);
      await page.waitForFunction(() => performance.getEntriesByName('multishot:interactive').length > 0);
      return page;
    };
    const results = await benchFilm({ freshPage, fake, runs: Number(process.env.BENCH_RUNS ?? 3), say: (l = '') => console.log(l), ms, stats });
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await browser.close();
    fake.stop();
    await app.close();
  }
}
