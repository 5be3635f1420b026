// Where a secret could leak to in a page, for the tests that look for the key.

/**
 * Records what `page` sends and receives from now on: requests, responses (headers and
 * body), console lines and page errors, in `page.seen`.
 * @param {import('playwright-core').Page} page
 */
export function recordPage(page) {
  page.seen = { requests: [], responses: [], console: [], errors: [] };
  page.on('request', (r) => page.seen.requests.push(r));
  page.on('console', (m) => page.seen.console.push(m.text()));
  page.on('pageerror', (e) => page.seen.errors.push(e.message));
  page.on('response', async (r) => {
    const where = `response of ${r.request().method()} ${r.url()}`;
    const headers = Object.entries(await r.allHeaders().catch(() => ({}))).map(([k, v]) => `${k}: ${v}`).join('\n');
    page.seen.responses.push({ where: `headers of ${where}`, text: headers });
    const body = await r.body().catch(() => null);
    if (body) page.seen.responses.push({ where: `body of ${where}`, text: body.toString('latin1') });
  });
}

/**
 * Every place a secret could leak to in a page, as [where, text] pairs: each request's
 * URL, headers and body (recorded in `page.seen.requests`, see `recordPage`), each
 * response's headers and body (in `page.seen.responses`, when recorded), the console,
 * every storage area, cookies, the page's text and markup, and the values of its fields
 * (but the key field's own).
 * @param {import('playwright-core').Page & {seen: {requests: any[], console: string[], responses?: any[]}}} page
 * @param {import('playwright-core').BrowserContext} context
 */
export async function everywhere(page, context) {
  const found = [];
  for (const r of page.seen.requests) {
    found.push([`URL of ${r.method()} ${r.url()}`, r.url()]);
    const body = r.postDataBuffer();
    if (body) found.push([`body of ${r.url()}`, body.toString('latin1')]);
    for (const [name, value] of Object.entries(await r.allHeaders())) {
      found.push([`header ${name} of ${r.method()} ${r.url()}`, value]);
    }
  }
  for (const { where, text } of page.seen.responses ?? []) found.push([where, text]);
  for (const line of page.seen.console) found.push(['console', line]);
  const inPage = await page.evaluate(async () => {
    const out = [];
    for (const [k, v] of Object.entries(localStorage)) out.push([`localStorage ${k}`, `${k}=${v}`]);
    for (const [k, v] of Object.entries(sessionStorage)) out.push([`sessionStorage ${k}`, `${k}=${v}`]);
    for (const { name } of await indexedDB.databases()) {
      out.push(['IndexedDB', name]);
      const db = await new Promise((ok, fail) => { const q = indexedDB.open(name); q.onsuccess = () => ok(q.result); q.onerror = fail; });
      for (const store of db.objectStoreNames) {
        const all = await new Promise((ok) => { const q = db.transaction(store).objectStore(store).getAll(); q.onsuccess = () => ok(q.result); });
        out.push([`IndexedDB ${name}/${store}`, JSON.stringify(all)]);
      }
    }
    for (const name of await caches.keys()) out.push(['Cache Storage', name]);
    out.push(['document.cookie', document.cookie]);
    out.push(['the page text', document.body.innerText]);
    // The DOM, attributes included; the key field's own value is where the user typed it.
    out.push(['the page markup', document.documentElement.outerHTML]);
    for (const input of document.querySelectorAll('input, textarea')) {
      if (input.id !== 'ms-api-key') out.push([`value of #${input.id || input.name}`, input.value]);
    }
    out.push(['window.name', window.name]);
    out.push(['location', location.href]);
    return out;
  });
  found.push(...inPage);
  for (const c of await context.cookies()) found.push([`cookie ${c.name}`, `${c.name}=${c.value}`]);
  return found;
}
