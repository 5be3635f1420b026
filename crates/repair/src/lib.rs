//! **Make it fit** for Multi-Shot Studio: when the rules refuse a chosen image that the
//! browser can open, this crate offers the repairs that make it fit, makes the chosen
//! one on a canvas, and hands the page a new file that the same rules check again.
//!
//! - [`plan`]: which repairs apply and each one's exact geometry and encoding, in plain
//!   arithmetic (no browser; tested natively, with property tests);
//! - [`quality`]: the JPEG quality search, on the image or on a sample of its blocks;
//! - [`svg_size`]: the size an SVG drawing is made into pixels at;
//! - [`canvas`]: a plan carried out on a canvas — EXIF orientation applied, metadata
//!   dropped, JPEG quality searched to fit 10 MiB;
//! - [`offer`]: the buttons, the before/now line and **Undo repair**, in plain DOM;
//! - [`decode`]: the browser's decode of an image, shared with the page (its verdict on
//!   dimensions is measured with it);
//! - [`svg`]: an SVG drawing made into pixels without running its scripts.
//!
//! Built with the `module` feature it is a module of its own, which the page loads only
//! when an image is refused (Trunk builds it beside the page, index.html): its start
//! function adds its style sheet and answers the page's offers ([`offer::listen`]; the
//! protocol is in [`offer`]). The page's first load does not carry it.

#![warn(missing_docs)]

pub mod canvas;
pub mod decode;
pub mod offer;
pub mod plan;
pub mod quality;
pub mod svg;
pub mod svg_size;

#[cfg(feature = "module")]
mod module;
