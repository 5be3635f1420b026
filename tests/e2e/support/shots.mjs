// The one check that a job's result is really there: the Sequence player plays by itself,
// muted, without a click; the list labelled Shots has a marker per shot, each of which
// puts its shot on the stage, where it plays; and a download link per shot.
import assert from 'node:assert/strict';

/**
 * Waits until `video` plays (its time advances), failing with what it knows after 15 s.
 * It is scrolled into view first: Chromium pauses a muted autoplaying video off screen.
 */
async function playing(video) {
  await video.scrollIntoViewIfNeeded();
  return video.evaluate((v) => new Promise((ok, fail) => {
    const start = Date.now();
    const from = v.currentTime;
    const check = () => {
      if (!v.paused && v.readyState >= 2 && v.currentTime !== from) return ok();
      if (Date.now() - start > 15_000) {
        return fail(new Error(`${v.src} does not play (paused ${v.paused}, readyState ${v.readyState}, networkState ${v.networkState})`));
      }
      return setTimeout(check, 100);
    };
    check();
  }));
}

/**
 * Waits for the result inside `scope` and checks that every shot plays in the Sequence.
 * @param {import('playwright-core').Page | import('playwright-core').FrameLocator | import('playwright-core').Locator} scope
 *   where to look: a page, a frame, or a part of a page (say, one history item)
 * @param {number} count how many shots there must be
 * @param {{downloads?: boolean}} options `downloads: false` for an example result, which
 *   has no download links to show
 */
export async function expectPlayingShots(scope, count = 3, { downloads = true } = {}) {
  const list = scope.getByRole('list', { name: 'Shots' });
  await list.waitFor({ timeout: 20_000 });
  assert.equal(await list.getByRole('listitem').count(), count);
  // Still images (what the model most likely gives): each shown, in turn.
  if (await scope.locator('img.ms-slide').count()) return expectShownStills(scope, list, count);
  const video = scope.locator('video[aria-label="Sequence"]');
  // It starts by itself, muted (as a property, not only as an attribute).
  await playing(video);
  assert.equal(await video.evaluate((v) => v.muted), true, 'the Sequence is muted');
  for (let n = 1; n <= count; n += 1) {
    const marker = list.getByRole('button', { name: `Shot ${n}`, exact: true });
    const before = await video.evaluate((v) => v.src);
    const wasOn = (await marker.getAttribute('aria-pressed')) === 'true';
    await marker.click();
    assert.equal(await marker.getAttribute('aria-pressed'), 'true', `Shot ${n} is marked as playing`);
    if (!wasOn) await video.evaluate((v, old) => new Promise((ok) => { const t = () => (v.src !== old ? ok() : setTimeout(t, 50)); t(); }), before);
    await playing(video);
    const link = scope.getByRole('link', { name: `Download shot ${n}` });
    if (downloads) {
      // On a narrow screen a shot's actions are behind its ⋯ menu.
      const menu = list.getByRole('listitem').nth(n - 1).locator('summary');
      const folded = !(await link.isVisible()) && (await menu.isVisible());
      if (folded) await menu.click();
      await link.waitFor();
      if (folded) await menu.click(); // and closed again
    }
    else assert.equal(await link.isVisible(), false, `an example has no Download shot ${n}`);
  }
}

/**
 * Waits up to 3 s (a smooth scroll) for the top of `locator` to be in `page`'s view,
 * without scrolling it there itself.
 * @param {import('playwright-core').Page} page
 * @param {import('playwright-core').Locator} locator
 */
export async function comesIntoView(page, locator) {
  const { height } = page.viewportSize();
  let top;
  for (let tries = 0; tries < 30; tries += 1) {
    top = (await locator.boundingBox())?.y;
    if (top !== undefined && top >= 0 && top < height - 120) return;
    await page.waitForTimeout(100);
  }
  assert.fail(`the result is not in view: its top at ${top}px of a ${height}px view`);
}

/** The Sequence of still shots: each marker puts its image on the stage, decoded. */
async function expectShownStills(scope, list, count) {
  for (let n = 1; n <= count; n += 1) {
    await list.getByRole('button', { name: `Shot ${n}`, exact: true }).click();
    const slide = scope.getByRole('img', { name: `Sequence: shot ${n}` });
    await slide.waitFor();
    await slide.evaluate((img) => img.decode());
    assert.ok(await slide.evaluate((img) => img.naturalWidth > 0), `shot ${n} is shown`);
  }
}
