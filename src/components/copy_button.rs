use leptos::prelude::*;

/// A small button that copies `text` to the clipboard, then says "Copied"; `aria_label`
/// names it when `label` alone does not say what is copied. (A plain function, not a
/// component: the props builder would cost size for nothing.)
pub fn copy_button(text: String, label: &'static str, aria_label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
    };
    view! {
        <button type="button" class="ms-button ms-small" aria-label=aria_label on:click=copy>
            {move || if copied.get() { "Copied" } else { label }}
        </button>
    }
}
