//! The module's start: it answers the page's offers ([`listen`]; [`crate::offer`] has
//! the protocol) and adds its style sheet.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::offer::{listen, LOADER};

/// The module's style sheet, beside the loader.
const STYLE: &str = "multishot-repair.css";

#[wasm_bindgen(start)]
fn start() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    style(&document);
    // For as long as the page lives.
    std::mem::forget(listen(&document));
}

/// The module's style sheet, beside its loader (the page's first load does not carry it).
fn style(document: &web_sys::Document) {
    let Ok(Some(loader)) = document.query_selector(&format!("script[src$='{LOADER}']")) else {
        return;
    };
    let Some(href) = loader
        .dyn_ref::<web_sys::HtmlScriptElement>()
        .and_then(|script| web_sys::Url::new_with_base(STYLE, &script.src()).ok())
    else {
        return;
    };
    let Ok(link) = document.create_element("link") else {
        return;
    };
    let _ = link.set_attribute("rel", "stylesheet");
    let _ = link.set_attribute("href", &href.href());
    if let Some(head) = document.head() {
        let _ = head.append_child(&link);
    }
}
