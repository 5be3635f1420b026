//! The pure core: plain Rust with no browser types in any signature, tested natively.

pub mod api;
pub mod assessment;
pub mod base64;
pub mod batch;
pub mod bot_check;
pub mod config;
pub mod connection;
pub mod embed;
pub mod funds;
pub mod generate;
pub mod history;
pub mod image_url;
pub mod job;
pub mod jobs;
pub mod json;
pub mod output;
pub mod pace;
pub mod task_view;
pub mod web_address;
pub mod zip;

// The image rules and the header parser live in the `multishot-rules` crate, which the
// proxy uses too; they keep their paths here.
pub use multishot_rules::{rules, sniff, units};
