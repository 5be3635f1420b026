//! Listening to a DOM event until the reactive owner goes: one non-generic function for
//! every listener of the app. (leptos-use's `use_event_listener` does the same, but as a
//! generic instance per event type and handler: 24 KB of wasm for the app's eight
//! listeners before wasm-opt, measured; this is one.)

use leptos::prelude::on_cleanup;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Calls `handler` with each `event` on `target` until the current reactive owner is
/// cleaned up (nothing when there is no target). A handler that needs the event's own
/// type reads it with `unchecked_into` (the browser dispatches that type for the name).
pub fn listen(
    target: Option<web_sys::EventTarget>,
    event: &'static str,
    handler: impl Fn(web_sys::Event) + 'static,
) {
    listen_boxed(target, event, Box::new(handler));
}

fn listen_boxed(
    target: Option<web_sys::EventTarget>,
    event: &'static str,
    handler: Box<dyn Fn(web_sys::Event)>,
) {
    let Some(target) = target else {
        return;
    };
    let closure = Closure::wrap(handler);
    if target
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .is_err()
    {
        return;
    }
    let held = SendWrapper::new((target, closure));
    on_cleanup(move || {
        let (target, closure) = &*held;
        let _ = target.remove_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    });
}

/// The window, as an event target.
pub fn window() -> Option<web_sys::EventTarget> {
    crate::browser::window().map(Into::into)
}

/// The document, as an event target.
pub fn document() -> Option<web_sys::EventTarget> {
    crate::browser::window()?.document().map(Into::into)
}
