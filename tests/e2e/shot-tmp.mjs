import { join } from 'node:path';
import { launch } from './support/browser.mjs';
import { serveStatic } from './support/static-server.mjs';
import { startFake } from './support/fake.mjs';
const ROOT = new URL('../..', import.meta.url).pathname;
const fake = await startFake(['--proxy']);
const app = await serveStatic(join(ROOT, 'dist'), { overrides: { 'config.json': JSON.stringify({ proxy_url: fake.url, poll_interval_ms: 500 }) } });
const b = await launch();
const page = await b.context.newPage();
await page.goto(app.url);
for (const f of ['valid.jpg', 'valid.png']) {
  await page.getByLabel('Image file').setInputFiles(join(ROOT, 'target/fixtures', f));
  await page.waitForFunction(() => document.querySelector('.ms-ok'));
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.getByRole('list', { name: 'Shots' }).waitFor();
  await page.waitForTimeout(1500);
}
await fake.scenario({ statuses: Array(50).fill('processing') });
await page.getByLabel('Image file').setInputFiles(join(ROOT, 'target/fixtures', 'valid.jpg'));
await page.waitForFunction(() => document.querySelector('.ms-ok'));
await page.getByRole('button', { name: 'Generate' }).click();
await page.waitForTimeout(2000);
await page.locator('.ms-history-item').nth(1).getByRole('button', { name: 'Open' }).click();
await page.waitForTimeout(1500);
await page.screenshot({ path: '/tmp/shot/desktop.png', fullPage: true });
await page.setViewportSize({ width: 390, height: 800 });
await page.waitForTimeout(500);
await page.locator('.ms-history').screenshot({ path: '/tmp/shot/phone-history.png' });
await b.close(); fake.stop(); await app.close();
