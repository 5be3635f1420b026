// Multi-Shot Studio's helper for a page that shows the app in an iframe. Put it after
// the iframe, loaded from where the app is:
//
//   <iframe src="https://owner.github.io/multishot/index.html?embed=1" title="Multi-Shot Studio"
//           style="width:100%;border:0" allow="clipboard-write"></iframe>
//   <script src="https://owner.github.io/multishot/frame.js" async></script>
//
// It does three things for every frame of the app on this page, and takes messages only
// from those frames on the app's origin (the one this script came from):
// - fits the frame's height to the app (and asks for it, should the app have spoken
//   before this script listened);
// - keeps the visitor's runs in this page's own storage when the browser gives the
//   frame none (third-party storage blocked: a cross-site frame in Chromium with
//   third-party cookies blocked, Safari in some settings), so a reload finds them;
// - passes the app's messages on as `multishot` DOM events on the iframe element
//   (`event.detail`: job-started, job-completed, job-failed, resize).
// The app sends its messages (and its runs) only to origins listed in its config.json's
// `embed_parent_origins`: list this page's origin there.
(() => {
  const script = document.currentScript;
  if (!script) return;
  const app = new URL(script.src, location.href).origin;
  const PREFIX = 'multishot-frame:';
  const frames = () =>
    [...document.querySelectorAll('iframe')].filter((frame) => {
      try {
        return new URL(frame.src, location.href).origin === app;
      } catch {
        return false;
      }
    });
  let store = null;
  try {
    store = window.localStorage;
  } catch {
    // No storage here either: the app then says to keep the page open.
  }
  const kept = () => {
    const entries = {};
    for (let i = 0; i < store.length; i += 1) {
      const name = store.key(i);
      if (name?.startsWith(PREFIX)) entries[name.slice(PREFIX.length)] = store.getItem(name);
    }
    return entries;
  };
  const tell = (frame, message) =>
    frame.contentWindow?.postMessage({ source: 'multishot-host', ...message }, app);
  const entry = (name) => typeof name === 'string' && name.startsWith('multishot.job.');

  addEventListener('message', (event) => {
    const data = event.data;
    if (event.origin !== app || data?.source !== 'multishot-studio') return;
    const frame = frames().find((f) => f.contentWindow === event.source);
    if (!frame) return;
    try {
      if (data.type === 'resize' && Number.isFinite(data.height)) {
        frame.style.height = `${Math.max(0, Math.round(data.height))}px`;
      } else if (data.type === 'storage-open') {
        tell(frame, { type: 'storage', entries: store ? kept() : null });
      } else if (data.type === 'storage-set' && entry(data.name) && typeof data.value === 'string') {
        store?.setItem(PREFIX + data.name, data.value);
      } else if (data.type === 'storage-remove' && entry(data.name)) {
        store?.removeItem(PREFIX + data.name);
      }
    } catch {
      // A full storage keeps what it had; the app's own copy goes on.
    }
    if (typeof data.type === 'string' && !data.type.startsWith('storage-')) {
      frame.dispatchEvent(new CustomEvent('multishot', { detail: data, bubbles: true }));
    }
  });

  // Another tab of this page changed a run: its frames hear of it.
  addEventListener('storage', (event) => {
    if (!event.key?.startsWith(PREFIX)) return;
    for (const frame of frames()) {
      tell(frame, { type: 'storage-changed', name: event.key.slice(PREFIX.length), value: event.newValue });
    }
  });

  // A frame that spoke before this script listened says its height again.
  for (const frame of frames()) tell(frame, { type: 'height?' });
})();
