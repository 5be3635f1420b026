//! The film module (`crates/film`, **Download video**), asked for on the first press.
//! The page's first load does not carry it: the page's own script (index.html's, or
//! embed.js on a host page) adds Trunk's loader of it at the first
//! [`multishot_film::request::EVENT`]. The app and the module talk through the slot
//! element alone (`multishot_film::request` has the protocol).

use multishot_film::request::{Request, EVENT, REQUEST};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// `window.VideoEncoder`, where the browser has WebCodecs.
fn encoder() -> Option<JsValue> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &"VideoEncoder".into())
        .ok()
        .filter(|e| e.is_function())
}

/// Whether the browser can make a video here at all (WebCodecs' `VideoEncoder`).
pub fn offered() -> bool {
    encoder().is_some()
}

/// Whether the browser encodes H.264 (an MP4); where it does not, the film is WebM.
pub async fn h264() -> bool {
    let Some(encoder) = encoder() else {
        return false;
    };
    let config = js_sys::Object::new();
    for (key, value) in [
        ("codec", JsValue::from_str("avc1.42e028")),
        ("width", 1280.into()),
        ("height", 720.into()),
    ] {
        let _ = js_sys::Reflect::set(&config, &key.into(), &value);
    }
    let asked = js_sys::Reflect::get(&encoder, &"isConfigSupported".into())
        .ok()
        .and_then(|f| js_sys::Function::from(f).call1(&encoder, &config).ok());
    let Some(promise) = asked.map(js_sys::Promise::from) else {
        return false;
    };
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|r| js_sys::Reflect::get(&r, &"supported".into()).ok())
        .is_some_and(|s| s.is_truthy())
}

/// Asks the module for `request`'s film in `slot` (loading it the first time).
pub fn ask(slot: &web_sys::Element, request: &Request) {
    let _ = js_sys::Reflect::set(slot, &REQUEST.into(), &request.to_text().into());
    if let Ok(event) = web_sys::Event::new(EVENT) {
        let _ = slot.dispatch_event(&event);
    }
}
