// Starts multishot-proxy (target/debug, built by `make test-e2e`) on a free loopback
// port, as a site owner runs it: the key in WAVESPEED_API_KEY, flags for the rest. Its
// whole output (JSON logs on stdout, the start line on stderr) is kept for the tests.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const ROOT = new URL('../../..', import.meta.url).pathname;
const BINARY = join(ROOT, 'target/debug/multishot-proxy');

/**
 * @param {{key: string, upstream: string, origins: string[], flags?: string[]}} options
 */
export async function startProxy({ key, upstream, origins, flags = [] }) {
  const args = ['--listen', '127.0.0.1:0', '--upstream', upstream, ...origins.flatMap((o) => ['--allow-origin', o]), ...flags];
  const child = spawn(BINARY, args, {
    env: { ...process.env, WAVESPEED_API_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  const url = await new Promise((ok, fail) => {
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`multishot-proxy exited (${code}): ${output}`)));
    createInterface({ input: child.stderr }).on('line', (line) => {
      output += `${line}\n`;
      if (line.startsWith('listening on ')) ok(line.slice('listening on '.length).trim());
    });
  });
  return {
    url,
    /** Everything it printed so far. */
    output: () => output,
    /** Its /metrics text. */
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    stop: () => child.kill(),
  };
}
