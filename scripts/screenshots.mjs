// Screenshots for docs/screenshots/: the full page and the consumer embed, each with a
// finished job, at 320, 390 and 1280 px wide, in the light and the dark theme. Run by
// `make screenshots` (after `make dist`); the release build talks to the fake WaveSpeed
// as a site's proxy would. Every image is written fresh; look at them before committing.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { appMounted, launch } from '../tests/e2e/support/browser.mjs';
import { serveStatic } from '../tests/e2e/support/static-server.mjs';
import { startFake } from '../tests/e2e/support/fake.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const OUT = join(ROOT, 'docs/screenshots');
const FIXTURES = join(ROOT, 'target/fixtures');
const WIDTHS = [320, 390, 1280];
const THEMES = ['light', 'dark'];

const fake = await startFake(['--proxy']);
const shots = [1, 2, 3].map((k) => `${fake.url}/outputs/shot-${k}.mp4`);
const page_ = await serveStatic(join(ROOT, 'dist'), {
  overrides: { 'config.json': JSON.stringify({ proxy_url: fake.url, poll_interval_ms: 500 }) },
});
const embed = await serveStatic(join(ROOT, 'dist'), {
  overrides: {
    'config.json': JSON.stringify({ proxy_url: fake.url, lock_proxy: true, poll_interval_ms: 500, example_outputs: shots }),
  },
});
await mkdir(OUT, { recursive: true });

try {
  for (const [face, server] of [['page', page_], ['embed', embed]]) {
    for (const theme of THEMES) {
      for (const width of WIDTHS) {
        const phone = width < 800;
        const browser = await launch({
          viewport: { width, height: phone ? 800 : 900 },
          colorScheme: theme,
          ...(phone ? { hasTouch: true, isMobile: true } : {}),
        });
        try {
          const page = await browser.context.newPage();
          await page.goto(`${server.url}index.html${face === 'embed' ? '?embed=1' : ''}`);
          await appMounted(page);
          await page.getByLabel('Image file').setInputFiles(join(FIXTURES, 'valid.jpg'));
          await page.locator('.ms-ok').waitFor();
          await page.getByRole('button', { name: 'Generate' }).click();
          await page.getByRole('list', { name: 'Shots' }).first().waitFor({ timeout: 20_000 });
          // Let the Sequence show a frame.
          await page.locator('video[aria-label="Sequence"]').first()
            .evaluate((v) => new Promise((ok) => (v.readyState >= 2 ? ok() : v.addEventListener('loadeddata', ok, { once: true }))));
          const file = join(OUT, `${face}-${width}-${theme}.png`);
          // The whole page, by making the viewport as tall as it (a full-page capture
          // resizes the emulated screen, and a phone's touch-only styles go with it).
          const height = await page.evaluate(() => document.documentElement.scrollHeight);
          await page.setViewportSize({ width, height });
          await page.waitForTimeout(300);
          await page.screenshot({ path: file });
          console.log(`wrote ${file}`);
        } finally {
          await browser.close();
        }
      }
    }
  }
} finally {
  fake.stop();
  await Promise.all([page_.close(), embed.close()]);
}
