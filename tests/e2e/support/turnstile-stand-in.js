// A stand-in for Cloudflare Turnstile's api.js (?render=explicit), served by the tests in
// place of https://challenges.cloudflare.com/turnstile/v0/api.js (no machine here reaches
// Cloudflare). The same interface: turnstile.render(element, options) → id, reset(id),
// remove(id), getResponse(id). Each widget gives a token a moment after it is drawn or
// reset: `stand-in~<hostname>~<action>~<n>~<random>` (unique, as Cloudflare's are: the
// proxy refuses a token it has seen), which the fake's siteverify reads back
// (fake-wavespeed: under the test secret that always passes, that hostname and action).
// The tests steer it through window.__standIn: `host` (the hostname put in tokens),
// `expire()` (every widget's token expires, as after 300 s), `tokens` (those given),
// `release()` (gives the tokens held while `window.__standInHold` was set before the
// page loaded, as a challenge the visitor has not finished yet).
(() => {
  const widgets = new Map();
  let next = 0;
  let counter = 0;
  const held = [];
  const standIn = (window.__standIn = { host: location.hostname, tokens: [], renders: [], expire() {
    for (const w of widgets.values()) {
      w.token = '';
      w.options['expired-callback']?.();
    }
  }, release() {
    window.__standInHold = false;
    document.querySelectorAll('.stand-in-widget').forEach((m) => { m.hidden = true; });
    for (const w of widgets.values()) w.options['after-interactive-callback']?.();
    held.splice(0).forEach(issue);
  } });
  function issue(w) {
    if (window.__standInHold) {
      held.push(w);
      return;
    }
    setTimeout(() => {
      if (!widgets.has(w.id)) return;
      w.token = `stand-in~${standIn.host}~${w.options.action ?? ''}~${++counter}~${Math.random().toString(36).slice(2)}`;
      standIn.tokens.push(w.token);
      w.options.callback?.(w.token);
    }, 150);
  }
  window.turnstile = {
    render(element, options) {
      const id = `stand-in-${++next}`;
      const mark = document.createElement('div');
      mark.className = 'stand-in-widget';
      mark.textContent = 'Turnstile stand-in';
      // interaction-only: nothing to see unless a challenge is needed (held: the visitor
      // has something to do; a box of Turnstile's size, 300 × 65, stands for it).
      mark.style.cssText = 'box-sizing:border-box;height:65px;max-width:300px;border:1px solid #888;padding:8px;font:14px sans-serif';
      if (options.appearance === 'interaction-only' && !window.__standInHold) mark.hidden = true;
      else options['before-interactive-callback']?.();
      element.append(mark);
      const w = { id, element, options, token: '' };
      widgets.set(id, w);
      standIn.renders.push({ sitekey: options.sitekey, action: options.action, theme: options.theme, appearance: options.appearance });
      issue(w);
      return id;
    },
    reset(id) {
      const w = widgets.get(id);
      if (!w) return;
      w.token = '';
      issue(w);
    },
    remove(id) {
      widgets.get(id)?.element.replaceChildren();
      widgets.delete(id);
    },
    getResponse(id) {
      return widgets.get(id)?.token;
    },
  };
})();
