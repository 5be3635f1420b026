//! The pure core: plain Rust with no browser types in any signature, tested natively.

pub mod api;
pub mod assessment;
pub mod config;
pub mod embed;
pub mod history;
pub mod image_url;
pub mod job;
pub mod output;
pub mod rules;
pub mod sniff;
pub mod units;
pub mod web_address;
