// The Content-Security-Policy <meta> of a finished dist (index.html and 404.html): only
// what the app needs, the two inline scripts allowed by their hashes, and Cloudflare
// Turnstile's script and frame only when config.json names a site key
// (`turnstile_sitekey`), for a site whose proxy checks visitors.
//
//   node scripts/csp.mjs dist     after editing dist/config.json (make dist runs it)
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where Turnstile's api.js and its frame come from (nothing else of Cloudflare's). */
export const TURNSTILE = 'https://challenges.cloudflare.com';

/** The policy for inline scripts of these `hashes` (base64 sha-256), with or without Turnstile. */
export function policy(hashes, turnstile) {
  const cloudflare = turnstile ? ` ${TURNSTILE}` : '';
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval' ${hashes.map((h) => `'sha256-${h}'`).join(' ')}${cloudflare}`,
    "style-src 'self'",
    // The API base and a proxy are set at run time (config.json): any https address, and
    // loopback for local testing. Image URLs are read over CORS too.
    "connect-src 'self' https: http://127.0.0.1:* http://localhost:*",
    "img-src 'self' data: blob: https: http://127.0.0.1:* http://localhost:*",
    "media-src 'self' data: blob: https: http://127.0.0.1:* http://localhost:*",
    ...(turnstile ? [`frame-src ${TURNSTILE}`] : []),
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
  ].join('; ');
}

/** config.json names a Turnstile site key. */
async function hasSitekey(dist) {
  try {
    const config = JSON.parse(await readFile(join(dist, 'config.json'), 'utf8'));
    return typeof config.turnstile_sitekey === 'string' && config.turnstile_sitekey.trim() !== '';
  } catch {
    return false;
  }
}

/** Writes the policy into dist's index.html (replacing one there) and 404.html. */
export async function applyPolicy(dist) {
  const page = (await readFile(join(dist, 'index.html'), 'utf8')).replace(/\s*<meta http-equiv="Content-Security-Policy"[^>]*>/, '');
  const inline = [...page.matchAll(/<script(?: type="module")?>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  if (inline.length !== 2) throw new Error(`expected two inline scripts in index.html, found ${inline.length}`);
  const hashes = inline.map((code) => createHash('sha256').update(code).digest('base64'));
  const turnstile = await hasSitekey(dist);
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policy(hashes, turnstile)}" />`;
  const withPolicy = page.replace('<meta charset="utf-8" />', `<meta charset="utf-8" />\n    ${meta}`);
  if (withPolicy === page) throw new Error('no <meta charset> to put the policy after');
  await writeFile(join(dist, 'index.html'), withPolicy);
  await writeFile(join(dist, '404.html'), withPolicy);
  return { turnstile };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dist = process.argv[2] ?? 'dist';
  const { turnstile } = await applyPolicy(dist);
  console.log(`Content-Security-Policy written in ${dist}${turnstile ? ', with Cloudflare Turnstile' : ''}`);
}
