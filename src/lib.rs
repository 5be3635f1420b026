//! Multi-Shot Studio: a browser front-end for WaveSpeed's Kling V1 AI Multi-Shot model.
//!
//! - [`core`]: pure Rust (rules, header sniffing, …), tested natively;
//! - `browser`: thin glue over web APIs (decode, file reads, fetch), tested in Chromium;
//! - `components`: Leptos components that wire signals to the two.

#![warn(missing_docs)]

pub mod browser;
pub mod components;
pub mod core;

/// Mounts the app into the page's `<body>`.
pub fn mount() {
    leptos::mount::mount_to_body(components::App);
}
