//! The repairs module (`crates/repair`, **Make it fit**), asked for the first time an
//! image is refused. The page's first load does not carry it: the page's own script
//! (index.html's, or embed.js on a host page) adds Trunk's loader of it as a
//! `<script type="module">` at the first [`OFFER_EVENT`], and shows a message in the
//! slot if it cannot be loaded. The app and the module talk through the slot element
//! alone (`multishot_repair::offer` has the protocol).

use leptos::prelude::*;
use multishot_repair::offer::{ANSWER, FILE, OFFER_EVENT};
use wasm_bindgen::JsValue;

use super::assess::Chosen;

/// The file the slot offers repairs for, if any.
fn offered(slot: &web_sys::Element) -> JsValue {
    js_sys::Reflect::get(slot, &FILE.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Keeps `slot` in step with the chosen image: the repairs offered for a `refused` local
/// file, the module's own view of its repair left as it is, else nothing. (The module
/// chooses a repaired file, or the original again for Undo, through the page's file
/// input, as a person would.)
pub fn sync(slot: &web_sys::Element, chosen: RwSignal<Option<Chosen>>, refused: bool) {
    let answer = || js_sys::Reflect::get(slot, &ANSWER.into()).unwrap_or(JsValue::UNDEFINED);
    chosen.with(|c| match c.as_ref().and_then(|c| c.file.as_deref()) {
        // The module's repair: it shows the image before and now, with Undo.
        Some(file) if answer() == *AsRef::<JsValue>::as_ref(file) => {}
        // Unless offered already.
        Some(file) if refused => {
            if offered(slot) != *AsRef::<JsValue>::as_ref(file) {
                offer(slot, file);
            }
        }
        _ => {
            // Nothing to offer: a repair still at work is dropped.
            let _ = js_sys::Reflect::set(slot, &FILE.into(), &JsValue::UNDEFINED);
            slot.set_text_content(None);
        }
    });
}

/// Asks for the repairs of `file` in `slot`: the module, once loaded, answers
/// [`OFFER_EVENT`]; the page's own script (index.html, embed.js) loads it at the first.
fn offer(slot: &web_sys::Element, file: &web_sys::File) {
    let _ = js_sys::Reflect::set(slot, &FILE.into(), file);
    if let Ok(event) = web_sys::Event::new(OFFER_EVENT) {
        let _ = slot.dispatch_event(&event);
    }
}
