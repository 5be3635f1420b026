//! Multi-Shot Studio: a browser front-end for WaveSpeed's Kling V1 AI Multi-Shot model.
//!
//! - [`core`]: pure Rust (rules, header sniffing, …), tested natively;
//! - `browser`: thin glue over web APIs (decode, file reads, fetch), tested in Chromium;
//! - `components`: Leptos components that wire signals to the two.

#![warn(missing_docs)]

pub mod browser;
pub mod components;
pub mod core;
#[cfg(feature = "prerender")]
pub mod prerender;

/// Mounts the app: into every `<div data-multishot>` of a host page (script mount,
/// settings from the element's data attributes), or else into the page's `<body>`
/// (compact with `?embed=1`, for an iframe).
pub fn mount() {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::browser::embed::data_attributes;
    use crate::core::config::{parse_page_params, Host};

    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window.document() else {
        return;
    };
    let targets = document
        .query_selector_all("[data-multishot]")
        .map(|found| {
            (0..found.length())
                .filter_map(|i| found.item(i))
                .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if targets.is_empty() {
        // The static shell of index.html makes way for the app.
        if let Ok(Some(shell)) = document.query_selector(".ms-shell") {
            shell.remove();
        }
        let search = window.location().search().unwrap_or_default();
        let params = parse_page_params(&search);
        let host = if params.embed {
            Host::Frame
        } else {
            Host::Page
        };
        // The host page's theme (`?theme=`), as a data attribute would give it.
        let attributes: Vec<(String, String)> = params
            .theme
            .map(|theme| ("data-theme".to_owned(), theme.name().to_owned()))
            .into_iter()
            .collect();
        leptos::mount::mount_to_body(
            move || view! { <components::App host=host attributes=attributes.clone() /> },
        );
        return;
    }
    for element in targets {
        let attributes = data_attributes(&element);
        // The host's placeholder ("Loading…") makes way for the app.
        element.replace_children_with_node_0();
        leptos::mount::mount_to(element, move || {
            view! { <components::App host=Host::Element attributes=attributes.clone() /> }
        })
        .forget();
    }
}
