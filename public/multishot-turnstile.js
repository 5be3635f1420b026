// Multi-Shot Studio's bot check: Cloudflare Turnstile's widget, for a site whose proxy
// checks visitors (multishot-proxy --turnstile-secret). The app loads this file only
// when it has a site key (the `multishot-turnstile` event, index.html and embed.js);
// nothing of Turnstile is on a page without one.
//
// It loads Cloudflare's api.js from Cloudflare's own address (never copied or cached),
// draws the widget with explicit rendering in each `.ms-bot-check` the app makes, and
// hands each token to the app: the element's `msToken`, then a `multishot-token` event.
// The widget asks the visitor for something only when Cloudflare wants it
// (`appearance: interaction-only`). A token is used once: when the app takes it
// (`multishot-turnstile-used`), or when it expires, a fresh one is asked for without a
// word to the visitor.
const API = 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit';
// The action the proxy requires siteverify to give back (multishot_rules::turnstile::ACTION).
const ACTION = 'multishot_generate';
const FAILED = 'The check that keeps this generator for people could not be loaded: check the connection and reload the page.';
let api;

function loadApi() {
  api ??= new Promise((ok, fail) => {
    const script = document.createElement('script');
    script.src = API;
    script.async = true;
    script.onload = () => (window.turnstile ? ok(window.turnstile) : fail(new Error('no turnstile')));
    script.onerror = () => fail(new Error('api.js could not be loaded'));
    document.head.append(script);
  });
  return api;
}

function give(element, token) {
  element.msToken = token || '';
  element.dispatchEvent(new Event('multishot-token', { bubbles: true }));
}

async function draw(element) {
  const key = element.dataset && element.dataset.sitekey;
  if (!key || !element.classList.contains('ms-bot-check') || element.msKey === key) return;
  element.msKey = key;
  let turnstile;
  try {
    turnstile = await loadApi();
  } catch {
    api = undefined; // a later ask tries again
    element.msKey = undefined;
    element.textContent = FAILED;
    element.setAttribute('role', 'alert');
    give(element, '');
    return;
  }
  // Another key than before: the old widget goes.
  if (element.msWidget !== undefined) {
    turnstile.remove(element.msWidget);
    element.removeEventListener('multishot-turnstile-used', element.msAgain);
    give(element, '');
  }
  const again = () => {
    give(element, '');
    turnstile.reset(id);
  };
  const theme = element.closest('[data-theme]')?.dataset.theme;
  const id = turnstile.render(element, {
    sitekey: key,
    action: ACTION,
    theme: theme === 'light' || theme === 'dark' ? theme : 'auto',
    appearance: 'interaction-only',
    size: 'flexible',
    'refresh-expired': 'manual',
    callback: (token) => give(element, token),
    // Room under the widget only while it asks the visitor something.
    'before-interactive-callback': () => { element.style.marginBottom = '12px'; },
    'after-interactive-callback': () => { element.style.marginBottom = ''; },
    'expired-callback': again,
    'timeout-callback': again,
    'error-callback': () => {
      give(element, '');
      setTimeout(() => turnstile.reset(id), 3000);
      return true;
    },
  });
  element.msWidget = id;
  element.msAgain = again;
  element.addEventListener('multishot-turnstile-used', again);
}

document.addEventListener('multishot-turnstile', (e) => draw(e.target), true);
document.querySelectorAll('.ms-bot-check').forEach(draw);
