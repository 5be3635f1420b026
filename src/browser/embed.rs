//! The app as a guest: messages to the parent page of an iframe, its height for the
//! frame to fit, events on the host element of a script mount, and where the app's own
//! files are (for `config.json`) when a host page loaded it.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::embed::EmbedEvent;

/// Posts `event` to the parent window, once per allowed origin and to the app's own
/// origin (a same-origin parent can read the frame anyway): the browser delivers it
/// only when the parent's origin is that one. Nothing when not in a frame.
pub fn post_to_parent(origins: &[String], event: &EmbedEvent) {
    let Some(window) = crate::browser::window() else {
        return;
    };
    let Ok(Some(parent)) = window.parent() else {
        return;
    };
    if js_sys::Object::is(&parent, &window) {
        return;
    }
    let Ok(message) = js_sys::JSON::parse(&event.to_json()) else {
        return;
    };
    let own = window.location().origin().ok();
    for origin in origins
        .iter()
        .chain(own.iter().filter(|o| !origins.contains(o)))
    {
        let _ = parent.post_message(&message, origin);
    }
}

/// Dispatches `event` on the host page's element as a `multishot` DOM event whose
/// `detail` is the message.
pub fn dispatch_on(element: &web_sys::Element, event: &EmbedEvent) {
    let Ok(detail) = js_sys::JSON::parse(&event.to_json()) else {
        return;
    };
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    init.set_bubbles(true);
    if let Ok(dom_event) = web_sys::CustomEvent::new_with_event_init_dict("multishot", &init) {
        let _ = element.dispatch_event(&dom_event);
    }
}

/// A `ResizeObserver` reporting the page's content height; it is disconnected (and its
/// callback freed) when this is dropped.
pub struct HeightWatch {
    observer: web_sys::ResizeObserver,
    _callback: Closure<dyn Fn()>,
}

impl Drop for HeightWatch {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// Calls `on_height` with the page's content height now and whenever `element`
/// changes size, until the returned watch is dropped. (leptos-use's
/// `use_resize_observer` does the same for 2.1 KB more of first load, measured.)
pub fn watch_height(
    element: &web_sys::Element,
    on_height: impl Fn(u32) + 'static,
) -> Option<HeightWatch> {
    on_height(content_height());
    let last = std::cell::Cell::new(0);
    let callback = Closure::<dyn Fn()>::new(move || {
        let h = content_height();
        if h != last.replace(h) {
            on_height(h);
        }
    });
    let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
    observer.observe(element);
    Some(HeightWatch {
        observer,
        _callback: callback,
    })
}

/// The page's content height (CSS pixels).
pub fn content_height() -> u32 {
    crate::browser::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .map_or(0, |e| e.scroll_height().max(0) as u32)
}

/// The text of a message from the parent window (JSON), when it comes from the parent
/// itself on an origin the host's words are taken from ([`crate::core::embed::hears`]).
pub fn from_parent(event: &web_sys::MessageEvent, origins: &[String]) -> Option<String> {
    let window = crate::browser::window()?;
    let parent = window.parent().ok()??;
    let source: JsValue = event.source()?.into();
    if !js_sys::Object::is(&source, &parent) || js_sys::Object::is(&parent, &window) {
        return None;
    }
    if !crate::core::embed::hears(&event.origin(), origins) {
        return None;
    }
    js_sys::JSON::stringify(&event.data()).ok()?.as_string()
}

/// Where the app's files are when a host page loaded it with `embed.js` (which sets
/// `globalThis.multishotBase`); `None` on the app's own page.
pub fn script_base() -> Option<String> {
    js_sys::Reflect::get(&js_sys::global(), &"multishotBase".into())
        .ok()?
        .as_string()
}

/// The `data-*` attributes of `element`, as (name, value) pairs.
pub fn data_attributes(element: &web_sys::Element) -> Vec<(String, String)> {
    let names = element.get_attribute_names();
    (0..names.length())
        .filter_map(|i| names.get(i).as_string())
        .filter(|name| name.starts_with("data-"))
        .filter_map(|name| {
            let value = element.get_attribute(&name)?;
            Some((name, value))
        })
        .collect()
}
