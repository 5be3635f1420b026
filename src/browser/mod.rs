//! Thin glue over browser APIs, tested in headless Chromium with wasm-bindgen-test.
//! Each function turns a web API into plain Rust values for [`crate::core`].

pub mod api_client;
pub mod assess;
pub mod batch_check;
pub mod batch_files;
pub mod batch_link;
pub mod config_loader;
pub mod decode;
pub mod download;
pub mod embed;
pub mod file;
pub mod film_module;
pub mod folder;
pub mod funds;
pub mod listen;
pub mod object_url;
pub mod remote;
pub mod repair_module;
pub mod runner;
pub mod scroll;
pub mod storage;
pub mod tab_lock;
pub mod thumbnail;
pub mod timer;

/// A request's `AbortController` that aborts the request when dropped: a request future
/// that is dropped (Cancel, Delete, a timeout, the page going away) cancels its fetch —
/// a 10 MB upload included — instead of leaving it running. Aborting a request that is
/// over does nothing.
pub(crate) struct AbortOnDrop(Option<web_sys::AbortController>);

impl AbortOnDrop {
    /// A new controller (none where the browser has no `AbortController`).
    pub(crate) fn new() -> Self {
        Self(web_sys::AbortController::new().ok())
    }

    /// The signal to pass to the request.
    pub(crate) fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.0.as_ref().map(web_sys::AbortController::signal)
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = &self.0 {
            controller.abort();
        }
    }
}

pub(crate) use multishot_repair::decode::js_error_text;

/// A failed fetch (gloo-net) as readable text: the browser's message. Never gloo's own
/// Display, which would bring serde_json's every parser message (and the I/O error
/// texts behind it) into the wasm for a case that does not occur here.
pub(crate) fn fetch_error_text(error: &gloo_net::Error) -> String {
    match error {
        gloo_net::Error::JsError(js) => js.message.clone(),
        gloo_net::Error::GlooError(text) => text.clone(),
        gloo_net::Error::SerdeError(_) => "an unreadable reply".to_owned(),
    }
}

/// Whether there is a browser to talk to: false only in the build-time render of the
/// first view (the `prerender` feature), where the glue answers "nothing here" — no
/// window, no storage, online — instead of calling into a browser that is not there.
/// A constant, so the check costs nothing in the wasm.
pub const fn present() -> bool {
    cfg!(not(feature = "prerender"))
}

/// The browser window (none in the build-time render, see [`present`]).
pub fn window() -> Option<web_sys::Window> {
    if present() {
        web_sys::window()
    } else {
        None
    }
}

/// Sets a Performance API mark (read by `make bench`); nothing when there is none.
pub fn mark(name: &str) {
    if let Some(performance) = window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}
