// Starts the fake WaveSpeed (fake-wavespeed, built by `make test-e2e`) on a free
// loopback port and talks to its control API.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const ROOT = new URL('../../..', import.meta.url).pathname;
const BINARY = join(ROOT, 'target/debug/fake-wavespeed');

/**
 * @param {string[]} args e.g. ['--key', 'sk-…'] or ['--proxy']
 */
export async function startFake(args) {
  const child = spawn(BINARY, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((ok, fail) => {
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`fake-wavespeed exited (${code})`)));
    createInterface({ input: child.stdout }).once('line', ok);
  });
  const url = line.replace('listening on ', '').trim();
  const call = async (path, body) => {
    const res = await fetch(url + path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    url,
    /** Sets how tasks behave and which faults come next. */
    scenario: (s) => call('/__fake/scenario', s),
    reset: () => call('/__fake/reset', {}),
    /** Every request the fake saw, oldest first. */
    log: () => call('/__fake/log'),
    /** Tasks made, running now, the most running at once, submits refused as too many. */
    stats: () => call('/__fake/stats'),
    stop: () => child.kill(),
  };
}
