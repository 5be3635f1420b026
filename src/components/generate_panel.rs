use leptos::prelude::*;

use crate::core::assessment::Assessment;
use crate::core::funds::{Funds, Shortfall, TOP_UP_URL};
use crate::core::generate::{button_label, Panel};

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
    let short = move || funds.with(Funds::shortfall);
    // What the button's rules (in core) depend on, read so that a change re-runs them.
    let panel = move || Panel {
        image: assessment.get(),
        connection_problem: connection_problem.get(),
        busy: busy.get(),
        short: short().is_some(),
    };
    let enabled = move || panel().enabled();
    let hint = move || panel().hint();
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
                {move || {
                    let price = (!for_visitor.get()).then(|| funds.with(Funds::price).to_string());
                    button_label(after(), price.as_deref())
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
