use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// How long "Copied" or "Copy failed" shows before the button reads as before.
const SAYS_FOR_MS: u32 = 2_000;

/// A small button that copies `text` to the clipboard and says how that went: "Copied"
/// when the browser took it, "Copy failed" when it refused (an iframe without
/// `clipboard-write`, an insecure origin, no user gesture), then its label again after
/// a moment. `aria_label` names it when `label` alone does not say what is copied. (A
/// plain function, not a component: the props builder would cost size for nothing.)
pub fn copy_button(text: String, label: &'static str, aria_label: String) -> impl IntoView {
    // What the button says instead of its label, for a moment.
    let said = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let written = JsFuture::from(window.navigator().clipboard().write_text(&text));
        leptos::task::spawn_local(async move {
            let copied = written.await.is_ok();
            // The button may be gone by now: `try_set` does nothing then.
            said.try_set(Some(if copied { "Copied" } else { "Copy failed" }));
            TimeoutFuture::new(SAYS_FOR_MS).await;
            said.try_set(None);
        });
    };
    view! {
        <button type="button" class="ms-button ms-small" aria-label=aria_label on:click=copy>
            {move || said.get().unwrap_or(label)}
        </button>
    }
}
