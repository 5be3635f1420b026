use leptos::prelude::*;

use crate::core::rules::Rule;

/// What images WaveSpeed takes, stated from the same rules the checks use.
#[component]
pub fn Requirements() -> impl IntoView {
    let listed = [
        Rule::FileType,
        Rule::FileSize,
        Rule::Dimensions,
        Rule::AspectRatio,
    ];
    view! {
        <aside class="ms-card ms-requirements" aria-labelledby="ms-req-heading">
            <h2 id="ms-req-heading">"What images work"</h2>
            <dl>
                {listed
                    .into_iter()
                    .map(|rule| {
                        view! {
                            <div>
                                <dt>{rule.name()}</dt>
                                <dd>{rule.requirement()}</dd>
                            </div>
                        }
                    })
                    .collect_view()}
            </dl>
            <p class="ms-hint">
                "Best results: a high-resolution photo with a clear subject — a product, a portrait, "
                "a room or a scene with a focal point."
            </p>
        </aside>
    }
}
