use leptos::prelude::*;

use crate::core::assessment::{Assessment, Step};

/// The **Generate** button, enabled only for an image that passed every rule, with a
/// line saying what is missing otherwise.
#[component]
pub fn GeneratePanel(
    /// The chosen image's assessment, if an image is chosen.
    #[prop(into)]
    assessment: Signal<Option<Assessment>>,
    /// The image passed every rule that could be checked and may be sent.
    #[prop(into)]
    ready: Signal<bool>,
) -> impl IntoView {
    let hint = move || {
        assessment.with(|a| match a {
            None => "Choose an image first: it is checked before anything is sent.",
            Some(a) if a.step != Step::Done => "Checking the image…",
            Some(a) if a.is_ready() => "The image is ready. One generation costs $0.07.",
            Some(_) => "Fix the problems above, or choose another image.",
        })
    };
    view! {
        <button
            type="button"
            class="ms-button ms-primary"
            aria-describedby="ms-generate-hint"
            disabled=move || !ready.get()
        >
            "Generate"
        </button>
        <p id="ms-generate-hint" class="ms-hint">{hint}</p>
    }
}
