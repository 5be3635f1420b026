use leptos::prelude::*;

use crate::core::assessment::{Assessment, Step};
use crate::core::funds::{Funds, Shortfall, TOP_UP_URL};

/// The **Generate** button, enabled only for an image that passed every rule, a
/// connection that can send it and the money for a run, with a line saying what is
/// missing otherwise, and a `role="status"` line with the price and the balance (or the
/// runs left on a site owner's proxy).
#[component]
pub fn GeneratePanel(
    /// The chosen image's assessment, if an image is chosen.
    #[prop(into)]
    assessment: Signal<Option<Assessment>>,
    /// Why the connection cannot send (no key and no proxy, a bad proxy URL), if so.
    #[prop(into)]
    connection_problem: Signal<Option<String>>,
    /// A job is under way.
    #[prop(into)]
    busy: Signal<bool>,
    /// Pressed Generate (or Generate again).
    #[prop(into)]
    on_generate: Callback<()>,
    /// The price of a run and what can be spent ([`Funds`]); a shortfall keeps Generate
    /// disabled.
    funds: ReadSignal<Funds>,
    /// The page is a site owner's (`lock_proxy`): its visitors are not told the price.
    #[prop(into)]
    for_visitor: Signal<bool>,
    /// The current generation's result is shown: the next step is **New image**, and
    /// running the same image again is its own button, **Generate again ($0.07)**.
    #[prop(into)]
    has_result: Signal<bool>,
    /// Pressed New image.
    #[prop(into)]
    on_new_image: Callback<()>,
) -> impl IntoView {
    let image_ready = move || assessment.with(|a| a.as_ref().is_some_and(Assessment::is_ready));
    let short = move || funds.with(Funds::shortfall);
    let enabled = move || {
        image_ready()
            && connection_problem.with(Option::is_none)
            && !busy.get()
            && short().is_none()
    };
    let hint = move || -> String {
        if busy.get() {
            return "A job is under way.".into();
        }
        let image = assessment.with(|a| match a {
            None => Some("Choose an image first: it is checked before anything is sent."),
            Some(a) if a.step != Step::Done => Some("Checking the image…"),
            Some(a) if a.is_ready() => None,
            Some(_) => Some("Fix the problems above, or choose another image."),
        });
        match (image, connection_problem.get()) {
            (Some(why), _) => why.into(),
            (None, Some(why)) => why,
            (None, None) if short().is_some() => {
                "The image is ready; see above why it cannot be sent.".into()
            }
            (None, None) => "The image is ready.".into(),
        }
    };
    let after = move || has_result.get();
    let line = move || {
        funds
            .with(|f| f.line(for_visitor.get()))
            .unwrap_or_default()
    };
    let low_balance = move || matches!(short(), Some(Shortfall::LowBalance { .. }));
    view! {
        <div class="ms-controls ms-actions">
            <button
                type="button"
                class="ms-button"
                class:ms-primary=after
                hidden=move || !after()
                on:click=move |_| on_new_image.run(())
            >
                "New image"
            </button>
            <button
                type="button"
                class="ms-button"
                class:ms-primary=move || !after()
                aria-describedby="ms-generate-hint"
                disabled=move || !enabled()
                on:click=move |_| on_generate.run(())
            >
                {move || if after() {
                    format!("Generate again ({})", funds.with(Funds::price))
                } else {
                    "Generate".to_owned()
                }}
            </button>
        </div>
        <p class="ms-funds" role="status" class:ms-short=move || short().is_some()>
            {line}
            " "
            <a href=TOP_UP_URL target="_blank" rel="noopener noreferrer" hidden=move || !low_balance()>
                "Top up at WaveSpeed"
            </a>
        </p>
        <p id="ms-generate-hint" class="ms-hint">{hint}</p>
    }
}
