use leptos::prelude::*;

use crate::browser::assess::{Chosen, Preview};
use crate::core::assessment::{Source, Step};
use crate::core::units::format_bytes;

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
            let name = match &a.source {
                Source::File { name, .. } if !name.is_empty() => name.clone(),
                Source::File { .. } => "Pasted image".to_owned(),
                Source::Url(url) => url.clone(),
            };
            let size = a.facts.dimensions.map(|d| d.to_string());
            let size = match (size, a.step) {
                (Some(size), Step::Done) => size,
                (Some(size), _) => format!("{size} (checking…)"),
                (None, Step::Done) => "size unknown".to_owned(),
                (None, _) => "measuring…".to_owned(),
            };
            let bytes = a
                .facts
                .byte_size
                .map(format_bytes)
                .unwrap_or_else(|| "file size unknown".into());
            let kind = match (a.facts.format, &a.source) {
                (Some(format), _) => format.mime().unwrap_or("unknown type").to_owned(),
                (None, Source::Url(_)) if a.step == Step::Done => "type unknown".to_owned(),
                (None, _) => "…".to_owned(),
            };
            // Only show a picture the browser could decode; a broken image icon says nothing.
            let showable =
                a.step == Step::Done && a.facts.dimensions.is_some() && !a.facts.undecodable;
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
                            <span data-fact="pixels">{size}</span>
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
