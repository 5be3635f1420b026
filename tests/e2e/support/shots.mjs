// The one check that a job's shots are really there: the list labelled Shots, every
// video loaded and playing inline (its time advances), and a download link per shot.
import assert from 'node:assert/strict';

/**
 * Waits for the shots inside `scope` and checks that each one plays.
 * @param {import('playwright-core').Page | import('playwright-core').Frame | import('playwright-core').Locator} scope
 *   where to look: a page, a frame, or a part of a page (say, one history item)
 * @param {number} count how many shots there must be
 */
export async function expectPlayingShots(scope, count = 3) {
  const list = scope.getByRole('list', { name: 'Shots' });
  await list.waitFor({ timeout: 20_000 });
  assert.equal(await list.getByRole('listitem').count(), count);
  const videos = list.locator('video');
  for (let i = 0; i < count; i += 1) {
    await videos.nth(i).evaluate((v) => new Promise((ok, fail) => {
      if (v.readyState >= 2) ok();
      v.addEventListener('loadeddata', ok, { once: true });
      setTimeout(() => fail(new Error(`shot ${v.src} did not load (readyState ${v.readyState}, networkState ${v.networkState})`)), 15_000);
    }));
  }
  // Muted as a property, not only as an attribute (which leaves `muted` false).
  assert.deepEqual(await videos.evaluateAll((all) => all.map((v) => v.muted)), Array(count).fill(true), 'every shot is muted');
  const advanced = await videos.evaluateAll(async (all) => {
    const before = all.map((v) => v.currentTime);
    await Promise.all(all.map((v) => v.play()));
    await new Promise((r) => setTimeout(r, 600));
    return all.map((v, i) => v.currentTime > before[i]);
  });
  assert.deepEqual(advanced, Array(count).fill(true), 'every shot plays inline');
  for (let n = 1; n <= count; n += 1) {
    await scope.getByRole('link', { name: `Download shot ${n}` }).waitFor();
  }
}
