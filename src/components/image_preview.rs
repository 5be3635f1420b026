use leptos::prelude::*;

use crate::browser::assess::{Chosen, Preview};
use crate::core::assessment::PreviewFacts;

/// The chosen image with its pixel size, file size and type (each as far as known).
#[component]
pub fn ImagePreview(
    /// The chosen image, if any.
    #[prop(into)]
    chosen: Signal<Option<Chosen>>,
) -> impl IntoView {
    move || {
        chosen.with(|chosen| {
            let chosen = chosen.as_ref()?;
            let a = &chosen.assessment;
            let PreviewFacts {
                name,
                pixels,
                bytes,
                kind,
                showable,
            } = a.preview();
            let src = chosen.preview.as_ref().map(Preview::src).map(str::to_owned);
            // The measured size, so the picture's box is laid out before it loads: nothing
            // below it moves (the verdict brought into view stays in view).
            // (Set through the style object: the CSP allows no style attribute.)
            let (width, ratio) = a
                .facts
                .dimensions
                .filter(|d| d.width > 0 && d.height > 0)
                .map(|d| {
                    (
                        format!("min(100%, calc(340px * {} / {}))", d.width, d.height),
                        format!("{} / {}", d.width, d.height),
                    )
                })
                .unzip();
            Some(view! {
                <figure class="ms-preview" aria-label="Chosen image">
                    {(showable && src.is_some())
                        .then(|| view! { <img src=src style:width=width style:aspect-ratio=ratio alt="Preview of the chosen image" /> })}
                    <figcaption>
                        <span class="ms-preview-name" title=name.clone()>{name.clone()}</span>
                        <span class="ms-preview-facts">
                            <span data-fact="pixels">{pixels}</span>
                            " · "
                            <span data-fact="bytes">{bytes}</span>
                            " · "
                            <span data-fact="type">{kind}</span>
                        </span>
                    </figcaption>
                </figure>
            })
        })
    }
}
