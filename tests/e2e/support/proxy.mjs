// Starts multishot-proxy (target/debug, built by `make test-e2e`) on a free loopback
// port, as a site owner runs it: the key in WAVESPEED_API_KEY, flags for the rest. Its
// whole output (JSON logs on stdout, the start line on stderr) is kept for the tests.
//
// PROXY_HOME=worker starts the same proxy as a Cloudflare Worker in workerd instead
// (proxy-worker/run-local: the same command line and environment), so every test here
// runs against both homes.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const ROOT = new URL('../../..', import.meta.url).pathname;
/** Which home the proxy runs in: `binary` (default) or `worker`. */
export const PROXY_HOME = process.env.PROXY_HOME === 'worker' ? 'worker' : 'binary';
const COMMAND = PROXY_HOME === 'worker'
  ? join(ROOT, 'proxy-worker/run-local')
  : join(ROOT, 'target/debug/multishot-proxy');

const DAY_MS = 86_400_000;
/**
 * The least of the UTC day left when a proxy starts: a file starts one for all its tests,
 * and no file runs this long.
 */
const DAY_LEFT_AT_START_MS = 5 * 60_000;

/**
 * Waits, when the UTC day (by this machine's clock, which the proxy reads too) has less
 * than five minutes left, until the next day has begun: budgets reset at 00:00 UTC, so a
 * test that counts a day's runs must not straddle a midnight.
 */
async function withinOneUtcDay() {
  const left = DAY_MS - (Date.now() % DAY_MS);
  if (left < DAY_LEFT_AT_START_MS) await new Promise((ok) => setTimeout(ok, left + 1000));
}

/**
 * @param {{key: string, upstream: string, origins: string[], flags?: string[]}} options
 */
export async function startProxy({ key, upstream, origins, flags = [], env = {} }) {
  await withinOneUtcDay();
  const args = ['--listen', '127.0.0.1:0', '--upstream', upstream, ...origins.flatMap((o) => ['--allow-origin', o]), ...flags];
  const child = spawn(COMMAND, args, {
    env: { ...process.env, WAVESPEED_API_KEY: key, ...env },
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
    /** Stops it (SIGTERM) and waits until it has exited. */
    stop: () => new Promise((ok) => {
      if (child.exitCode !== null || child.signalCode !== null) return ok();
      child.once('exit', () => ok());
      child.kill();
    }),
  };
}
