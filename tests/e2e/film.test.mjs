// End to end: Download video — the Sequence made into one video file in the page, read
// back with ffprobe and ffmpeg (Debian's): container and codec, size per Shape, length,
// the index before the media, a frame from the middle of each shot against that shot,
// playback in a <video>, Cancel, the second press, the WebM path, the site owner's mark,
// Share video on a phone, and no long main-thread task while it works.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appMounted, launch } from './support/browser.mjs';
import { expectPlayingShots } from './support/shots.mjs';
import { zipEntries } from './support/zip.mjs';
import { startFake } from './support/fake.mjs';
import { FIXTURES, ROOT, serveApp, takeDown, cleanSlate } from './support/suite.mjs';

const MEDIA = join(ROOT, 'fake-wavespeed/media');

let fake; // stands for a site owner's proxy; its tasks give three still images
let app;
let marked; // the same build with a site owner's mark
let browser;

before(async () => {
  fake = await startFake(['--proxy', '--image-shots']);
  app = await serveApp({ proxy_url: fake.url, poll_interval_ms: 300 });
  marked = await serveApp({ proxy_url: fake.url, poll_interval_ms: 300, video_mark: 'shop.example' });
  browser = await launch({ acceptDownloads: true });
});

after(() => takeDown(browser, fake, app, marked));

beforeEach(() => cleanSlate({ browser, app, fakes: [fake] }));

/** What ffprobe says of a file's video stream and container. */
function probe(path) {
  const out = execFileSync('ffprobe', [
    '-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=codec_name,width,height,pix_fmt,avg_frame_rate,nb_read_frames:format=format_name,duration',
    '-of', 'json', path,
  ]);
  const { streams: [stream], format } = JSON.parse(out);
  return { ...stream, nb_read_frames: Number(stream.nb_read_frames), format: format.format_name, duration: Number(format.duration) };
}

/** The average colour of a picture (a file, or a video's frame at `at` seconds). */
function averageColour(path, at) {
  const args = ['-v', 'error'];
  if (at !== undefined) args.push('-ss', String(at));
  args.push('-i', path, '-frames:v', '1', '-vf', 'scale=1:1:flags=area', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-');
  return [...execFileSync('ffmpeg', args)];
}

/** An average colour of a part of a video's frame: x, y, w, h as shares of the frame. */
function regionColour(path, at, [x, y, w, h]) {
  const crop = `crop=iw*${w}:ih*${h}:iw*${x}:ih*${y},scale=1:1:flags=area`;
  return [...execFileSync('ffmpeg', ['-v', 'error', '-ss', String(at), '-i', path, '-frames:v', '1', '-vf', crop, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'])];
}

const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** The top-level boxes of an MP4, in order. */
function topBoxes(bytes) {
  const kinds = [];
  for (let at = 0; at + 8 <= bytes.length;) {
    const size = bytes.readUInt32BE(at);
    kinds.push(bytes.toString('latin1', at + 4, at + 8));
    if (size < 8) break;
    at += size;
  }
  return kinds;
}

/** A page with a finished job of three image shots (or `scenario`'s). */
async function finishedJob({ url = app.url, scenario, page } = {}) {
  if (scenario) await fake.scenario(scenario);
  page ??= await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(url);
  await appMounted(page);
  await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
  await page.locator('.ms-ok').waitFor();
  await page.getByRole('button', { name: /^Generate/ }).click();
  await page.getByRole('list', { name: 'Shots' }).waitFor({ timeout: 20_000 });
  return page;
}

/** Presses Download video (with `shape`) and returns the saved file's path and name. */
async function downloadVideo(page, { shape = 'Original', name = 'Download video' } = {}) {
  await page.getByLabel('Shape').selectOption(shape);
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 120_000 }),
    page.getByRole('button', { name, exact: true }).click(),
  ]);
  return { path: await download.path(), name: download.suggestedFilename() };
}

describe('Download video', () => {
  test('three image shots become one MP4: H.264 4:2:0, 30 fps, 12 s, index first; each shot in its place; it plays', async () => {
    const page = await finishedJob();
    // The first action under the Sequence.
    const actions = page.locator('.ms-shots .ms-actions button');
    assert.equal(await actions.first().innerText(), 'Download video');
    // Its progress while it works.
    const progress = page.getByRole('progressbar', { name: 'Making the video' });
    const pressed = downloadVideo(page);
    await progress.waitFor();
    const { path, name } = await pressed;
    assert.equal(name, 'multi-shot-sequence.mp4');
    const film = probe(path);
    assert.equal(film.codec_name, 'h264');
    // 4:2:0 (Chromium's encoder marks it full range: yuvj420p).
    assert.match(film.pix_fmt, /^yuvj?420p$/);
    assert.equal(film.avg_frame_rate, '30/1');
    // Original: the first shot's shape (3:2); the smallest shot (451 × 300) enlarged 2×.
    assert.deepEqual([film.width, film.height], [900, 600]);
    assert.equal(film.nb_read_frames, 360, 'three shots of 4 s at 30 fps');
    assert.ok(Math.abs(film.duration - 12) <= 1 / 30, `12 s (${film.duration})`);
    const bytes = await readFile(path);
    assert.deepEqual(topBoxes(bytes), ['ftyp', 'moov', 'mdat'], 'the index comes before the media');
    // A frame from the middle of each shot is that shot (closer to it than to the others).
    const shots = [1, 2, 3].map((n) => averageColour(join(MEDIA, `shot-${n}.jpg`)));
    for (const [i, at] of [2, 6, 10].entries()) {
      const frame = averageColour(path, at);
      const own = distance(frame, shots[i]);
      const others = shots.filter((_, j) => j !== i).map((s) => distance(frame, s));
      assert.ok(own < 30 && others.every((d) => d > own), `shot ${i + 1} at ${at} s: ${own} vs ${others}`);
    }
    // It plays in a <video> element in the page.
    const played = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const video = document.createElement('video');
      video.muted = true;
      video.src = URL.createObjectURL(new Blob([bytes], { type: 'video/mp4' }));
      await new Promise((ok, fail) => { video.onloadeddata = ok; video.onerror = () => fail(new Error('no play')); });
      await video.play();
      return { duration: video.duration, width: video.videoWidth };
    }, bytes.toString('base64'));
    assert.deepEqual(played, { duration: 12, width: 900 });
    // Done: what was saved, and the page carries on.
    await page.getByRole('status').filter({ hasText: 'Saved multi-shot-sequence.mp4' }).waitFor();
    assert.deepEqual(page.errors, []);
  });

  test('image shots play on the stage and Download all saves them as JPEGs', async () => {
    const page = await finishedJob();
    await expectPlayingShots(page, 3);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download all' }).click(),
    ]);
    const entries = zipEntries(await readFile(await download.path()));
    const sizes = await Promise.all([1, 2, 3].map(async (n) => (await readFile(join(MEDIA, `shot-${n}.jpg`))).length));
    assert.deepEqual(entries, [['shot-1.jpg', sizes[0]], ['shot-2.jpg', sizes[1]], ['shot-3.jpg', sizes[2]]]);
  });

  test('each Shape fills its frame: 9:16, 1:1, 16:9; a second press is instant', async () => {
    const page = await finishedJob();
    for (const [shape, size, tag] of [['9:16', [336, 600], '-9x16'], ['1:1', [600, 600], '-1x1'], ['16:9', [902, 506], '-16x9']]) {
      const { path, name } = await downloadVideo(page, { shape });
      assert.equal(name, `multi-shot-sequence${tag}.mp4`);
      const film = probe(path);
      assert.deepEqual([film.width, film.height], size, shape);
      assert.equal(film.nb_read_frames, 360);
    }
    // Kept for the session: the same film again, at once.
    const started = Date.now();
    const { name } = await downloadVideo(page, { shape: '1:1' });
    assert.equal(name, 'multi-shot-sequence-1x1.mp4');
    assert.ok(Date.now() - started < 3000, 'no second making');
    await page.getByRole('status').filter({ hasText: 'Saved again: multi-shot-sequence-1x1.mp4' }).waitFor();
  });

  test('a History item makes its film too, after a reload', async () => {
    const page = await finishedJob();
    await page.reload();
    await appMounted(page);
    const item = page.locator('.ms-history-item').first();
    await item.getByRole('button', { name: 'Open' }).click();
    await item.getByRole('list', { name: 'Shots' }).waitFor();
    await item.getByLabel('Shape').selectOption('16:9');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 120_000 }),
      item.getByRole('button', { name: 'Download video', exact: true }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'multi-shot-sequence-16x9.mp4');
    const film = probe(await download.path());
    assert.deepEqual([film.width, film.height, film.nb_read_frames], [902, 506, 360]);
  });

  test('video shots are the clips in order, whole: their summed length', async () => {
    const page = await finishedJob({ scenario: { shots_kind: 'videos' } });
    const { path } = await downloadVideo(page);
    const film = probe(path);
    assert.equal(film.codec_name, 'h264');
    // Three 2 s clips of 320 × 180, enlarged 2×.
    assert.deepEqual([film.width, film.height], [640, 360]);
    assert.ok(Math.abs(film.duration - 6) <= 1 / 30 + 1e-6, `6 s (${film.duration})`);
    assert.equal(film.nb_read_frames, 180);
  });

  test('pressed again with another Shape while a film is made, the new one is made instead', async () => {
    const page = await finishedJob();
    const downloads = [];
    page.on('download', (d) => downloads.push(d.suggestedFilename()));
    await page.getByRole('button', { name: 'Download video', exact: true }).click();
    await page.waitForFunction(() => Number(document.querySelector('.ms-film-slot progress')?.getAttribute('value')) > 10);
    // The first film's bar, marked to tell it from the second's.
    await page.evaluate(() => { document.querySelector('.ms-film-slot progress').dataset.first = ''; });
    await page.getByLabel('Shape').selectOption('1:1');
    const saved = page.waitForEvent('download', { timeout: 120_000 });
    await page.getByRole('button', { name: 'Download video', exact: true }).click();
    // The second film's progress stays in the slot while the first stops (it must not
    // say "Cancelled" over it): its own bar gets well on.
    await page.waitForFunction(() => Number(document.querySelector('.ms-film-slot progress:not([data-first])')?.getAttribute('value')) > 30, null, { timeout: 60_000 });
    assert.equal(await page.getByText('Cancelled: no file was made.').count(), 0);
    assert.equal((await saved).suggestedFilename(), 'multi-shot-sequence-1x1.mp4');
    // The first stopped quietly: no file of its own, and the slot shows the second's end.
    await page.getByRole('status').filter({ hasText: 'Saved multi-shot-sequence-1x1.mp4' }).waitFor();
    await page.waitForTimeout(500);
    assert.deepEqual(downloads, ['multi-shot-sequence-1x1.mp4']);
    assert.equal(await page.getByText('Cancelled: no file was made.').count(), 0);
  });

  test('Cancel leaves no file and the page usable', async () => {
    const page = await finishedJob();
    const downloads = [];
    page.on('download', (d) => downloads.push(d));
    await page.getByRole('button', { name: 'Download video', exact: true }).click();
    const progress = page.getByRole('progressbar', { name: 'Making the video' });
    await page.waitForFunction(() => Number(document.querySelector('progress')?.getAttribute('value')) > 10);
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Cancelled: no file was made.' }).waitFor();
    assert.equal(await progress.count(), 0);
    await page.waitForTimeout(1000);
    assert.equal(downloads.length, 0, 'no file');
    // Usable: a shot marker still works, and the film can be made after all.
    await page.getByRole('button', { name: 'Shot 2', exact: true }).click();
    const { name } = await downloadVideo(page, { shape: '1:1' });
    assert.equal(name, 'multi-shot-sequence-1x1.mp4');
  });

  test('a shot whose server allows no read, and that the proxy cannot pass on, is named with why', async () => {
    // (The fake stands for the proxy here and has no outputs route: it answers 404. Read
    // through multishot-proxy's, the film is made: proxy.test.mjs.)
    const page = await finishedJob({ scenario: { shots_kind: 'images', outputs_without_cors: true } });
    const downloads = [];
    page.on('download', (d) => downloads.push(d));
    await page.getByRole('button', { name: 'Download video', exact: true }).click();
    await page.getByRole('status').filter({
      hasText: "Shot 1 could not be read here: its server does not let this page read it (no CORS), and the site's proxy could not pass it on (it answered 404). No video was made.",
    }).waitFor({ timeout: 30_000 });
    assert.equal(downloads.length, 0);
  });

  test('where H.264 is not offered the film is VP9 in WebM, and the button says so', async () => {
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      const offered = VideoEncoder.isConfigSupported.bind(VideoEncoder);
      VideoEncoder.isConfigSupported = async (config) => (config.codec.startsWith('avc1') ? { supported: false, config } : offered(config));
    });
    await finishedJob({ page });
    const { path, name } = await downloadVideo(page, { name: 'Download video (WebM)' });
    assert.equal(name, 'multi-shot-sequence.webm');
    const film = probe(path);
    assert.equal(film.codec_name, 'vp9');
    assert.match(film.format, /webm/);
    assert.deepEqual([film.width, film.height], [900, 600]);
    assert.equal(film.nb_read_frames, 360);
  });

  test('where WebCodecs is missing the button says why, and Download all stays', async () => {
    const page = await browser.context.newPage();
    await page.addInitScript(() => { delete window.VideoEncoder; });
    await finishedJob({ page });
    const button = page.getByRole('button', { name: 'Download video: not in this browser (no WebCodecs)', exact: true });
    assert.equal(await button.isDisabled(), true);
    // The first action still, saying why.
    assert.equal(await page.locator('.ms-shots .ms-actions button').first().innerText(), 'Download video: not in this browser (no WebCodecs)');
    assert.equal(await page.getByRole('button', { name: 'Download all' }).isEnabled(), true);
  });

  test("the site owner's mark is drawn in the corner of every frame, and only there", async () => {
    const plain = await downloadVideo(await finishedJob(), { shape: '1:1' });
    await fake.reset();
    const page = await finishedJob({ url: marked.url });
    const withMark = await downloadVideo(page, { shape: '1:1' });
    const corner = [0.55, 0.88, 0.42, 0.09];
    const middle = [0.3, 0.3, 0.4, 0.4];
    for (const at of [1, 5, 11]) {
      const changed = distance(regionColour(plain.path, at, corner), regionColour(withMark.path, at, corner));
      const same = distance(regionColour(plain.path, at, middle), regionColour(withMark.path, at, middle));
      assert.ok(changed > 4 && same < 3, `at ${at} s: corner ${changed}, middle ${same}`);
    }
  });

  test('Share video hands the file itself over on a phone', async () => {
    const phone = await launch({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, acceptDownloads: true });
    try {
      const page = await phone.context.newPage();
      // Headless Chromium on Linux has no share sheet: one that takes files, as a phone's.
      await page.addInitScript(() => {
        navigator.canShare = (data) => Array.isArray(data?.files) && data.files.every((f) => f instanceof File);
        navigator.share = async (data) => { window.__shared = data.files.map((f) => ({ name: f.name, type: f.type, size: f.size })); };
      });
      await finishedJob({ page });
      await downloadVideo(page);
      await page.getByRole('button', { name: 'Share video' }).click();
      const shared = await page.waitForFunction(() => window.__shared).then((h) => h.jsonValue());
      assert.equal(shared.length, 1);
      assert.equal(shared[0].name, 'multi-shot-sequence.mp4');
      assert.equal(shared[0].type, 'video/mp4');
      assert.ok(shared[0].size > 10_000);
    } finally {
      await phone.close();
    }
  });

  test('no main-thread task over 50 ms while the film is made', async () => {
    const page = await finishedJob();
    await page.evaluate(() => {
      window.__long = [];
      new PerformanceObserver((list) => window.__long.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
    });
    // The module is loaded by the first press; the film is what is measured.
    await downloadVideo(page, { shape: '16:9' });
    const long = await page.evaluate(() => window.__long);
    assert.deepEqual(long, [], `long tasks: ${long}`);
  });
});
