use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// How long "Copied" or "Copy failed" shows before the button reads as before.
const SAYS_FOR_MS: u32 = 2_000;

/// A small button that copies `text` to the clipboard and says how that went: "Copied"
/// when the browser took it, "Copy failed" when it refused (an iframe without
/// `clipboard-write`, an insecure origin, no user gesture), then its label again after
/// a moment. `aria_label` names it when `label` alone does not say what is copied. (A
/// plain function, not a component: the props builder would cost size for nothing.)
pub fn copy_button(text: String, label: &'static str, aria_label: String) -> impl IntoView {
    button(text, label, aria_label, false)
}

/// **Share**: the browser's share sheet with `text` (the Web Share API) where the browser
/// has one, else copying `text` as [`copy_button`] does ("Copied" / "Copy failed").
pub fn share_button(text: String) -> impl IntoView {
    button(text, "Share", "Share the shots' links".into(), true)
}

/// `navigator.share`, where the browser has it.
fn share_sheet(navigator: &web_sys::Navigator) -> Option<js_sys::Function> {
    js_sys::Reflect::get(navigator, &"share".into())
        .ok()?
        .dyn_into()
        .ok()
}

fn button(text: String, label: &'static str, aria_label: String, share: bool) -> impl IntoView {
    // What the button says instead of its label, for a moment.
    let said = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let Some(window) = crate::browser::window() else {
            return;
        };
        let navigator = window.navigator();
        if let Some(sheet) = share.then(|| share_sheet(&navigator)).flatten() {
            let data = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&data, &"text".into(), &text.as_str().into());
            // Shared or dismissed, the sheet says so itself.
            let _ = sheet.call1(&navigator, &data);
            return;
        }
        let written = JsFuture::from(navigator.clipboard().write_text(&text));
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
