// A plain static file server on 127.0.0.1 for the release build (or any folder), with
// optional CORS, used by the end-to-end tests. It serves nothing outside its root.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

/**
 * Serves `root` under `basePath` on a free loopback port.
 * @param {string} root folder to serve
 * @param {{basePath?: string, cors?: boolean, overrides?: Record<string, string>, notFound?: string}} options
 *   `overrides` answers the given paths (under basePath) with the given JSON text;
 *   `notFound` is a file (under root) sent with status 404 for a missing path, as
 *   GitHub Pages sends 404.html.
 * @returns {Promise<{url: string, requests: string[], close: () => Promise<void>}>}
 */
export async function serveStatic(root, { basePath = '/', cors = false, overrides = {}, notFound } = {}) {
  const rootDir = resolve(root);
  const requests = [];
  const server = createServer(async (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (cors) res.setHeader('Access-Control-Allow-Origin', '*');
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (!path.startsWith(basePath)) {
      res.writeHead(404).end('not found');
      return;
    }
    const override = overrides[path.slice(basePath.length)];
    if (override !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(override);
      return;
    }
    let file = normalize(join(rootDir, path.slice(basePath.length)));
    if (file !== rootDir && !file.startsWith(rootDir + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      if (notFound) {
        const body = await readFile(join(rootDir, notFound));
        res.writeHead(404, { 'Content-Type': TYPES[extname(notFound)], 'Content-Length': body.length });
        res.end(body);
        return;
      }
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    requests,
    // Ends open keep-alive connections too, or close() waits for the browser to drop them.
    close: () => new Promise((ok) => {
      server.close(ok);
      server.closeAllConnections();
    }),
  };
}
