// A photo made by the page's own browser: a diagonal gradient with a camera's grain, as
// JPEG — heavy the way real photos are (Make it fit's e2e test and `make bench`).

/**
 * The JPEG's bytes.
 * @param {import('playwright-core').Page} page any page (the canvas work runs in it)
 * @param {{ width: number, height: number, grain: number, quality: number }} photo
 *   grain: the noise's amplitude in levels (0–255); quality: 0–1
 * @returns {Promise<Buffer>}
 */
export async function photoBytes(page, photo) {
  const base64 = await page.evaluate(async ({ width, height, grain, quality }) => {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    const gradient = context.createLinearGradient(0, 0, width, height);
    gradient.addColorStop(0, '#2060f0');
    gradient.addColorStop(1, '#f0a030');
    context.fillStyle = gradient;
    context.fillRect(0, 0, width, height);
    const pixels = context.getImageData(0, 0, width, height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const n = (Math.random() - 0.5) * grain;
      pixels.data[i] += n;
      pixels.data[i + 1] += n;
      pixels.data[i + 2] += n;
    }
    context.putImageData(pixels, 0, 0);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return btoa(text);
  }, photo);
  return Buffer.from(base64, 'base64');
}
