// The first-load size of a release build: every file a visitor's browser fetches to
// show the page (index.html, what it links and preloads, the wasm module, the style
// sheet, config.json, the icon), raw, gzip -9 and brotli -q 11.
//
//   node scripts/size.mjs [dist]                       prints the table
//   node scripts/size.mjs [dist] --budget FILE         …and fails over the budget
//
// Size is deterministic, so `make test` checks it; timings are for `make bench`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** The files of the first load, from the built index.html. */
export async function firstLoad(dist) {
  const html = await readFile(join(dist, 'index.html'), 'utf8');
  const base = html.match(/<base href="([^"]*)"/)?.[1] ?? '/';
  const refs = new Set(['index.html', 'config.json']);
  for (const m of html.matchAll(/(?:href|src)="([^"]+)"|['"]([^'"]+\.(?:js|wasm))['"]/g)) {
    const ref = m[1] ?? m[2];
    if (/^(https?:|data:|#)/.test(ref)) continue;
    // The on-demand modules' loaders (Make it fit, Download video) and the bot check's
    // widget script are fetched on their first use, not with the page (their sizes: make
    // bench's module table).
    if (/_loader\.js$|^multishot-turnstile\.js$/.test(ref)) continue;
    refs.add(ref.startsWith(base) ? ref.slice(base.length) : ref.replace(/^\//, ''));
  }
  refs.delete('');
  return [...refs].sort();
}

/** Raw, gzip -9 and brotli -q 11 sizes of each first-load file, and the totals. */
export async function measure(dist) {
  const rows = [];
  for (const name of await firstLoad(dist)) {
    const bytes = await readFile(join(dist, name));
    rows.push({
      file: name,
      raw: bytes.length,
      gzip: gzipSync(bytes, { level: 9 }).length,
      brotli: brotliCompressSync(bytes, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 11,
          [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      }).length,
    });
  }
  const total = (k) => rows.reduce((sum, r) => sum + r[k], 0);
  return { rows, total: { raw: total('raw'), gzip: total('gzip'), brotli: total('brotli') } };
}

export function table({ rows, total }) {
  const kb = (n) => (n / 1024).toFixed(1).padStart(8);
  const lines = [`${'file'.padEnd(46)} ${'raw KB'.padStart(8)} ${'gzip KB'.padStart(8)} ${'br KB'.padStart(8)}`];
  for (const r of rows) lines.push(`${r.file.padEnd(46)} ${kb(r.raw)} ${kb(r.gzip)} ${kb(r.brotli)}`);
  lines.push(`${'total'.padEnd(46)} ${kb(total.raw)} ${kb(total.gzip)} ${kb(total.brotli)}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--budget');
  const dist = args.find((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1)) ?? 'dist';
  const sizes = await measure(dist);
  console.log(table(sizes));
  if (at >= 0) {
    const budget = JSON.parse(await readFile(args[at + 1], 'utf8'));
    const limit = budget.first_load_brotli_bytes;
    if (sizes.total.brotli > limit) {
      console.error(`first load is ${sizes.total.brotli} bytes brotli, over the budget of ${limit} (${args[at + 1]})`);
      process.exit(1);
    }
    console.log(`within the budget: ${sizes.total.brotli} of ${limit} bytes brotli`);
  }
}
